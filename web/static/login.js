// Log in with /api/login so errors show in place; the plain form still works without JavaScript.
(function () {
  "use strict";
  const MESSAGES = {
    invalid: "Invalid username or password.",
    disabled: "This account is disabled.",
    missing: "Enter a username and a password.",
    refused: "Login refused.",
  };
  // Only a path of this site: "/\t/host" or "/\\host" are other sites once the browser has cleaned them, so the
  // value is resolved as the browser would and kept only if it stays on this origin.
  function sameOriginPath(value) {
    if (!value || !value.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(value)) return "/";
    let url;
    try {
      url = new URL(value, location.origin);
    } catch (e) {
      return "/";
    }
    return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
  }

  const params = new URLSearchParams(location.search);
  const next = params.get("next");
  const safeNext = sameOriginPath(next);
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  document.getElementById("next").value = safeNext;

  function show(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  if (params.get("error")) show(MESSAGES[params.get("error")] || MESSAGES.refused);

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    show("");
    try {
      const response = await fetch("/api/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ username: form.username.value.trim(), password: form.password.value }),
      });
      if (response.ok) {
        location.assign(safeNext);
        return;
      }
      const body = await response.json().catch(() => ({}));
      show(body.error ? body.error.charAt(0).toUpperCase() + body.error.slice(1) + "." : "Login failed.");
    } catch (e) {
      show("The server cannot be reached.");
    } finally {
      button.disabled = false;
    }
  });
})();
