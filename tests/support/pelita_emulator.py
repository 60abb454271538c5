"""EMULATOR of a PelitaCam, the fictitious vendor of docs/camera-drivers.md (no firmware can run here).

A standard-library HTTP server answering the vendor's JSON API with HTTP basic
auth (``GET /api/v1/presets``, ``POST /api/v1/ptz``) and its still image
(``GET /snapshot.jpg``). Its RTSP streams, when a test needs them, come from a
real GStreamer RTSP server.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import threading
from collections.abc import Sequence

from PIL import Image

PRESETS = ((1, "Utara"), (2, "Selatan"))


class PelitaEmulator:
    def __init__(self, username: str, password: str, presets: Sequence[tuple[int, str]] = PRESETS) -> None:
        self.requests: list[tuple[str, str, dict | None]] = []  # (method, path, JSON body)
        self.jpeg = _jpeg(64, 36)
        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        listing = json.dumps({"presets": [{"id": i, "name": name} for i, name in presets]}).encode()
        emulator = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _allowed(self) -> bool:
                if self.headers.get("Authorization") == expected:
                    return True
                self._send(401, b'{"error": "unauthorised"}')
                return False

            def do_GET(self):  # noqa: N802 (stdlib's name)
                if not self._allowed():
                    return
                emulator.requests.append(("GET", self.path, None))
                if self.path == "/snapshot.jpg":
                    self._send(200, emulator.jpeg, "image/jpeg")
                elif self.path == "/api/v1/presets":
                    self._send(200, listing)
                else:
                    self._send(404, b'{"error": "no such path"}')

            def do_POST(self):  # noqa: N802
                if not self._allowed():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                emulator.requests.append(("POST", self.path, body))
                self._send(200, b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def commands(self) -> list[dict | None]:
        """The bodies of the PTZ commands it received, in order."""
        return [body for method, _, body in self.requests if method == "POST"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 110, 130)).save(out, "JPEG")
    return out.getvalue()
