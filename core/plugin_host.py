"""The plugin host: one pluggy manager per app, failures contained per plugin.

A plugin is a class. The host reads its manifest, imports it only when the
deployment enables it, validates its table of the deployment file against the
class's ``Config`` model (extra keys forbidden) and constructs it with
``(config, context)``. Constructors must not do I/O: ``bconnect check-config``
builds every enabled plugin to validate a deployment without starting it.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from pydantic import BaseModel, ConfigDict, ValidationError

from core import hookspecs
from core.analytics.detector import DETECTOR_HOOK, Detector
from core.config import ConfigError, ConfigErrors, Deployment, LoadedConfig, pydantic_errors, unknown_agency
from core.interfaces import Page
from core.manifest import Available, Manifest, ManifestError, discover

log = logging.getLogger("bconnect.plugins")

# Core features are plugins too (datasette's pattern); these are always on.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "core.routes_core:CorePlugin",
    "core.auth.plugin:AccountsPlugin",
    "core.audit.plugin:AuditPlugin",
    "core.media.plugin:MediaPlugin",
    "core.areas:AreasPlugin",  # after the media core, whose registry lists the cameras
    "core.events.plugin:EventsPlugin",  # after the media core too: events name its cameras
    "core.violations.plugin:ViolationsPlugin",  # after the events core: violations come from events
    "core.ptz.plugin:PtzPlugin",
    "core.media.webrtc_plugin:WebRtcPlugin",
    "core.analytics.plugin:AnalyticsPlugin",
)


PAGES_HOOK = "bconnect_register_pages"

# What a manifest's ``provides`` names, and the registration hook that hands it over
PROVIDES_HOOKS: dict[str, str] = {
    "camera_driver": "bconnect_register_camera_drivers",
    "analyzer": "bconnect_register_analyzers",
    "sink": "bconnect_register_sinks",
    "routes": "bconnect_register_routes",
    "jobs": "bconnect_register_jobs",
    "models": "bconnect_register_models",
    "detector": DETECTOR_HOOK,
    "plate_validator": "bconnect_register_plate_validators",
    "commands": "bconnect_register_commands",
    "plate_reader": "bconnect_register_plate_readers",
    "pages": PAGES_HOOK,
}


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class PluginContext:
    """What a plugin gets at construction: no services yet, no I/O allowed."""

    name: str
    deployment: Deployment
    data_dir: Path
    log: logging.Logger


@dataclass
class PluginState:
    name: str
    manifest: Manifest | None
    builtin_core: bool = False
    errors: int = 0
    last_error: str | None = None
    last_where: str | None = None
    last_error_at: float | None = None

    @property
    def status(self) -> str:
        return "degraded" if self.errors else "ok"


@dataclass
class PluginHost:
    pm: pluggy.PluginManager
    states: dict[str, PluginState] = field(default_factory=dict)
    # what each registration hook handed over while the host was built: hook -> [(plugin, object)]
    registered: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    failure_listeners: list[Callable[[str, str, BaseException], None]] = field(default_factory=list)
    # hook argument -> what deployment plugins get instead of the core's object (the app
    # factory maps "services" to Services.public); the core's own plugins get the object
    views: dict[str, Callable[[], Any]] = field(default_factory=dict)

    # --- containment ---------------------------------------------------------

    def report_failure(self, plugin: str, where: str, exc: BaseException) -> None:
        """Log, count and mark degraded; the caller carries on."""
        state = self.states.setdefault(plugin, PluginState(plugin, None))
        state.errors += 1
        state.last_error = f"{type(exc).__name__}: {exc}"
        state.last_where = where
        state.last_error_at = time.time()
        log.error(
            "plugin %s failed in %s: %s",
            plugin,
            where,
            state.last_error,
            extra={"plugin": plugin, "where": where, "trace": "".join(traceback.format_exception(exc))[-2000:]},
        )
        for listener in self.failure_listeners:
            listener(plugin, where, exc)

    def _impls(self, hook_name: str) -> Iterator[tuple[str, Callable[..., Any], list[str]]]:
        hook = getattr(self.pm.hook, hook_name)
        # pluggy calls the last registered first; keep registration order instead
        for impl in hook.get_hookimpls():
            yield self.pm.get_name(impl.plugin) or "?", impl.function, list(impl.argnames)

    def _args(self, name: str, argnames: list[str], kwargs: dict[str, Any]) -> list[Any]:
        state = self.states.get(name)
        if state is not None and state.builtin_core:
            return [kwargs[a] for a in argnames]
        return [self.views[a]() if a in self.views else kwargs[a] for a in argnames]

    def call(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call each implementation on its own; a raising one is contained."""
        results = []
        for name, func, argnames in self._impls(hook_name):
            try:
                result = func(*self._args(name, argnames, kwargs))
            except Exception as exc:
                self.report_failure(name, hook_name, exc)
                continue
            results.append((name, result))
        return results

    async def acall(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Like :meth:`call`, awaiting each result that is awaitable before calling the next.

        So every implementation, sync or async, sees what the ones registered
        before it did: a plugin's ``bconnect_startup`` finds the media core's
        cameras listed (``services.cameras``).
        """
        out = []
        for name, func, argnames in self._impls(hook_name):
            try:
                result = func(*self._args(name, argnames, kwargs))
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                self.report_failure(name, hook_name, exc)
                continue
            out.append((name, result))
        return out

    def collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Run a registration hook; return ``(plugin name, object)`` pairs.

        A plugin that raises part-way contributes nothing from that hook, so
        the core never runs with half of a plugin's registrations.
        """
        collected: list[tuple[str, Any]] = []
        for name, func, argnames in self._impls(hook_name):
            mine: list[tuple[str, Any]] = []
            try:
                register = lambda obj, _n=name, _m=mine: _m.append((_n, obj))  # noqa: E731
                func(**({"register": register} if "register" in argnames else {}))
            except Exception as exc:
                self.report_failure(name, hook_name, exc)
                continue
            collected.extend(mine)
        return collected

    def detectors(self) -> list[tuple[str, Detector]]:
        """The detectors plugins registered; a wrong object is reported against its plugin."""
        found = []
        for name, obj in self.registered.get(DETECTOR_HOOK, []):
            if isinstance(obj, Detector):
                found.append((name, obj))
            else:
                self.report_failure(name, DETECTOR_HOOK, TypeError(f"{type(obj).__name__} is not a Detector"))
        return found

    def pages_for(self, principal: Any) -> list[dict[str, str]]:
        """The plugins' pages ``principal`` gets a link to; a wrong object or a failing ``visible`` is
        reported against its plugin and left out."""
        out = []
        for name, page in self.registered.get(PAGES_HOOK, []):
            if not isinstance(page, Page):
                self.report_failure(name, PAGES_HOOK, TypeError(f"{type(page).__name__} is not a Page"))
                continue
            try:
                shown = bool(page.visible(principal))
            except Exception as exc:
                self.report_failure(name, f"{PAGES_HOOK} (visible)", exc)
                continue
            if shown:
                out.append({"path": page.path, "title": page.title, "plugin": name})
        return out

    def enabled(self) -> list[str]:
        return [n for n, s in self.states.items() if not s.builtin_core]

    @property
    def analyzers(self) -> list[tuple[str, Any]]:
        """``(plugin, analyzer)`` pairs from ``bconnect_register_analyzers``."""
        return self.registered.get("bconnect_register_analyzers", [])

    @property
    def sinks(self) -> list[tuple[str, Any]]:
        """``(plugin, sink)`` pairs from ``bconnect_register_sinks``."""
        return self.registered.get("bconnect_register_sinks", [])


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _import_entry(entry: str) -> Any:
    """``module:Class`` (an entry point's value, extras ignored) to the object."""
    module_name, _, attr = entry.split("[", 1)[0].strip().partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def load_plugins(cfg: LoadedConfig, available: dict[str, Available] | None = None) -> PluginHost:
    """Build the plugin host for a deployment; raise :class:`ConfigErrors`.

    Every problem found is reported at once: unknown plugin, plugin that fails
    to import, bad plugin config, plugin that needs one that is not enabled,
    hook implementation that matches no hook.
    """
    deployment = cfg.deployment
    if available is None:
        try:
            available = discover()
        except ManifestError as exc:
            raise ConfigErrors([ConfigError(str(exc.path), None, "", exc.reason)]) from None
    pm = new_plugin_manager()
    host = PluginHost(pm)
    errors: list[ConfigError] = []
    data_dir = deployment.data_path()

    for entry in DEFAULT_PLUGINS:
        cls = _import_entry(entry)
        name = f"core.{cls.__name__}"
        pm.register(cls(NoConfig(), PluginContext(name, deployment, data_dir, logging.getLogger(f"bconnect.{name}"))), name=name)
        host.states[name] = PluginState(name, None, builtin_core=True)

    for name, table in deployment.plugins.items():
        if not isinstance(table.get("enabled", True), bool):
            errors.append(cfg.error(("plugins", name, "enabled"), "wrong type: enabled must be true or false"))
    enabled = deployment.enabled_plugins()
    for name in enabled:
        plugin = _build_plugin(cfg, name, available, enabled, errors)
        if plugin is None:
            continue
        instance, manifest = plugin
        try:
            pm.register(instance, name=name)
        except pluggy.PluginValidationError as exc:
            errors.append(cfg.error(("plugins", name), f"plugin {name!r}: {_hook_problem(exc)}"))
            continue
        host.states[name] = PluginState(name, manifest)

    errors.extend(_unknown_hooks(cfg, pm))
    if errors:
        raise ConfigErrors(errors)
    try:
        pm.check_pending()  # _unknown_hooks already reports each case with its plugin
    except pluggy.PluginValidationError as exc:
        raise ConfigErrors([ConfigError(str(cfg.path), None, "plugins", _hook_problem(exc))]) from None
    errors = _untrue_manifests(cfg, host)
    if errors:
        raise ConfigErrors(errors)
    return host


def _untrue_manifests(cfg: LoadedConfig, host: PluginHost) -> list[ConfigError]:
    """Run the registration hooks once, and compare what each plugin handed over with its ``provides``.

    A hook that raises is contained (reported against the plugin, as ever); its
    kind is then not judged for that plugin.
    """
    failed: set[tuple[str, str]] = set()

    def note(plugin: str, where: str, exc: BaseException) -> None:
        failed.add((plugin, where))

    host.failure_listeners.append(note)
    try:
        host.registered = {hook: host.collect(hook) for hook in PROVIDES_HOOKS.values()}
    finally:
        host.failure_listeners.remove(note)
    errors = []
    for name, state in host.states.items():
        if state.manifest is None:
            continue  # a core plugin
        claimed = set(state.manifest.provides)
        for kind, hook in PROVIDES_HOOKS.items():
            if (name, hook) in failed:
                continue
            count = sum(1 for plugin, _ in host.registered[hook] if plugin == name)
            if kind in claimed and not count:
                reason = f"its manifest says it provides {kind!r}, but it registered none ({hook})"
            elif count and kind not in claimed:
                reason = f"it registered {count} through {hook}, but its manifest's provides lacks {kind!r}"
            else:
                continue
            errors.append(cfg.error(("plugins", name), f"plugin {name!r}: {reason}"))
    return errors


def _build_plugin(
    cfg: LoadedConfig, name: str, available: dict[str, Available], enabled: list[str], errors: list[ConfigError]
) -> tuple[Any, Manifest] | None:
    """Import, check and construct one enabled plugin; record each mistake."""
    deployment = cfg.deployment
    loc = ("plugins", name)
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        errors.append(cfg.error(loc, f"unknown plugin {name!r} (known: {known})"))
        return None
    item = available[name]
    try:
        cls = _import_entry(item.entry)
    except (Exception, SystemExit) as exc:
        origin = "" if item.origin == "builtin" else f" (from {item.origin})"
        errors.append(cfg.error(loc, f"plugin {name!r}{origin} failed to import: {_one_line(exc)}"))
        return None
    manifest = item.manifest or _manifest_from_class(name, cls, cfg, errors)
    if manifest is None:
        return None
    for needed in manifest.requires:
        if needed not in enabled:
            errors.append(cfg.error(loc, f"plugin {name!r} needs plugin {needed!r}, which is not enabled"))
    if manifest.agency is not None and manifest.agency not in deployment.agencies:
        reason = unknown_agency(manifest.agency, deployment.agencies)
        errors.append(cfg.error(loc, f"plugin {name!r} serves an agency this deployment lacks: {reason}"))
        return None
    config_model = getattr(cls, "Config", NoConfig)
    try:
        config = config_model.model_validate(
            deployment.plugin_config(name),
            context={"areas": set(deployment.areas), "agencies": set(deployment.agencies)},
        )
    except ValidationError as exc:
        errors.extend(pydantic_errors(cfg.path, cfg.text, exc, prefix=loc))
        return None
    context = PluginContext(name, deployment, deployment.data_path(), logging.getLogger(f"bconnect.plugin.{name}"))
    try:
        instance = cls(config, context)
    except Exception as exc:
        errors.append(cfg.error(loc, f"plugin {name!r} rejected its config: {_one_line(exc)}"))
        return None
    return instance, manifest


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _hook_problem(exc: pluggy.PluginValidationError) -> str:
    # pluggy writes its reason over several lines; one line it is
    return "; ".join(" ".join(line.split()) for line in str(exc).splitlines() if line.strip())


def _unknown_hooks(cfg: LoadedConfig, pm: pluggy.PluginManager) -> list[ConfigError]:
    """A hook implementation whose name matches no hook (a misspelling) fails loudly."""
    known = [n for n in vars(pm.hook) if not n.startswith("_") and getattr(pm.hook, n).has_spec()]
    errors = []
    for hook_name in sorted(vars(pm.hook)):
        caller = getattr(pm.hook, hook_name)
        if hook_name.startswith("_"):
            continue
        if caller.has_spec():
            errors.extend(_wrappers(cfg, pm, hook_name))
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            plugin = pm.get_name(impl.plugin) or "?"
            close = difflib.get_close_matches(hook_name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            loc = ("plugins", plugin) if not plugin.startswith("core.") else ()
            errors.append(cfg.error(loc, f"plugin {plugin!r} implements unknown hook {hook_name!r}{hint}"))
    return errors


def _wrappers(cfg: LoadedConfig, pm: pluggy.PluginManager, hook_name: str) -> list[ConfigError]:
    # the host calls each implementation on its own to contain failures: no wrappers
    errors = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if impl.wrapper or impl.hookwrapper:
            plugin = pm.get_name(impl.plugin) or "?"
            loc = ("plugins", plugin) if not plugin.startswith("core.") else ()
            errors.append(cfg.error(loc, f"plugin {plugin!r}: {hook_name} is a hook wrapper, which B-Connect does not call"))
    return errors


def _manifest_from_class(name: str, cls: Any, cfg: LoadedConfig, errors: list[ConfigError]) -> Manifest | None:
    raw = getattr(cls, "manifest", None)
    loc = ("plugins", name)
    if not isinstance(raw, dict):
        errors.append(cfg.error(loc, f"plugin {name!r} has no manifest (a class attribute dict)"))
        return None
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        errors.append(cfg.error(loc, f"plugin {name!r} has a bad manifest: {where}: {first['msg']}"))
        return None
    if manifest.name != name:
        errors.append(cfg.error(loc, f"plugin {name!r} has a manifest named {manifest.name!r}"))
        return None
    return manifest
