"""The checks of the driver conformance kit: one async function per check.

Each check builds the driver afresh from the case's factory, runs the core's
own code against it (the camera registry and ingest for streams, the snapshot
cache, the PTZ service for commands), closes the driver, and raises
:class:`ConformanceError` saying what was expected and what happened, or
:class:`NotApplicable` saying why the check does not concern this camera.
:mod:`core.testing.conformance` holds the case and the ways to run them.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import io
import json
import logging
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.config import AGENCY_ID_PATTERN
from core.interfaces import CameraDriver, CameraInfo, Capability, PtzControl, StreamSource
from core.media.bitstream import parameter_sets_in
from core.media.ingest_settings import IngestSettings
from core.media.source_url import scheme_of
from core.media.packets import CameraState
from core.media.registry import CameraRegistry, CameraRuntime
from core.media.snapshot import Snapshots, SnapshotUnavailable
from core.ptz.service import PtzError, PtzService
from core.testing.conformance_case import DriverCase


T = TypeVar("T")
OPERATOR = "conformance"  # the operator name the PTZ checks steer as
PLUGIN = "conformance"


class ConformanceError(AssertionError):
    """The driver does not conform; the message names the check and says why."""


class NotApplicable(Exception):
    """The check does not concern this camera (e.g. PTZ on a fixed camera); the message says why."""


# --- helpers -------------------------------------------------------------------------


async def bounded(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        raise ConformanceError(f"{what}: no answer within {seconds:g} s") from None


@asynccontextmanager
async def built(factory: Callable[[], Any], what: str) -> AsyncIterator[Any]:
    """The driver the factory makes, closed (``close()``, if it has one) afterwards."""
    driver = factory()
    if inspect.isawaitable(driver):
        driver = await bounded(driver, 30, f"the {what} driver factory")
    try:
        yield driver
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await bounded(result, 10, f"{getattr(driver, 'name', 'driver')}.close()")


async def camera_of(driver: Any, case: DriverCase, within_s: float) -> CameraInfo:
    """The case's camera from ``driver.cameras()``, asked once and bounded."""
    name = getattr(driver, "name", type(driver).__name__)
    try:
        cameras = await bounded(driver.cameras(), within_s, f"{name}.cameras()")
    except ConformanceError:
        raise
    except Exception as exc:
        raise ConformanceError(
            f"{name}.cameras() raised {type(exc).__name__}: {exc}; a driver lists a camera it cannot reach"
            " (it then shows offline with the reason) instead of failing"
        ) from None
    if not isinstance(cameras, list) or not all(isinstance(c, CameraInfo) for c in cameras):
        raise ConformanceError(f"{name}.cameras() must return a list of CameraInfo, got {cameras!r:.200}")
    if not cameras:
        raise ConformanceError(f"{name}.cameras() listed no camera")
    if case.camera_id is None:
        return cameras[0]
    for cam in cameras:
        if cam.id == case.camera_id:
            return cam
    ids = ", ".join(c.id for c in cameras[:10])
    raise ConformanceError(f"{name}.cameras() has no camera {case.camera_id!r} (first ids: {ids})")


def ingest_settings(case: DriverCase) -> IngestSettings:
    e = case.expect
    return IngestSettings(
        open_timeout_s=e.stream_within_s,
        stall_timeout_s=min(10.0, e.stream_within_s),
        backoff_base_s=0.5,
        backoff_cap_s=2.0,
        offline_after_s=e.failure_within_s,
    )


@asynccontextmanager
async def ingesting(info: CameraInfo, case: DriverCase) -> AsyncIterator[CameraRuntime]:
    """The camera opened through the core's camera registry, as ``bconnect serve`` opens it."""
    registry = CameraRegistry(settings=ingest_settings(case))
    runtime = registry.add(info, plugin=PLUGIN)
    try:
        yield runtime
    finally:
        await registry.stop()


def status_text(rt: CameraRuntime) -> str:
    status = rt.status
    return status.state.value + (f" ({status.reason})" if status.reason else "")


async def first_packets(rt: CameraRuntime, case: DriverCase) -> list:
    """Wait for the first keyframe, then for ``expect.packets`` packets, each within its bound."""
    e = case.expect
    sub = rt.mux.subscribe("conformance", maxsize=max(64, e.packets * 2), start="gop")
    loop = asyncio.get_running_loop()
    started = loop.time()
    packets = []
    try:
        while len(packets) < e.packets:
            limit = e.stream_within_s if not packets else e.packets_within_s
            left = started + limit - loop.time()
            try:
                packets.append(await asyncio.wait_for(sub.get(), max(0.01, left)))
            except asyncio.TimeoutError:
                got = f"{len(packets)} packets" if packets else "no packet"
                raise ConformanceError(
                    f"camera {rt.id}: {got} within {limit:g} s (wanted {e.packets}); camera {status_text(rt)}"
                ) from None
    finally:
        sub.close()
    return packets


class SecretWatch(logging.Handler):
    """Every log record written during a check, to look for a credential in them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # a broken record is not ours to judge
            pass

    def __enter__(self) -> SecretWatch:
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


def no_secret(case: DriverCase, where: str, *texts: str) -> None:
    if not case.secret:
        return
    for text in texts:
        if case.secret in text:
            raise ConformanceError(f"the camera's password shows in {where}")


def _observed(case: DriverCase) -> int | None:
    return None if case.observed is None else len(case.observed())


@dataclass
class Steering:
    """The core's PTZ service around one camera's control, and the device's record of commands."""

    case: DriverCase
    info: CameraInfo
    service: PtzService = field(init=False)

    def __post_init__(self) -> None:
        self.service = PtzService(command_timeout_s=self.case.expect.command_within_s)

    def add(self, control: PtzControl) -> None:
        self.service.add_camera(PLUGIN, self.info, control, manual_timeout_s=60)

    async def run(self, op: str, *args: Any) -> None:
        """Send one command through the PTZ service; it must succeed and reach the device."""
        before = _observed(self.case)
        method = getattr(self.service, op)
        kwargs = {} if op == "refresh_presets" else {"by": OPERATOR}
        started = time.monotonic()
        try:
            await method(self.info.id, *args, **kwargs)
        except PtzError as exc:
            raise ConformanceError(f"{op}{args}: {exc.reason}") from None
        took = time.monotonic() - started
        if took > self.case.expect.command_within_s:
            raise ConformanceError(f"{op}{args} took {took:.1f} s (bound {self.case.expect.command_within_s:g} s)")
        if before is not None and len(self.case.observed()) <= before:
            raise ConformanceError(f"{op}{args} succeeded but the device saw no command")


@asynccontextmanager
async def steer(case: DriverCase, capability: Capability) -> AsyncIterator[Steering]:
    """The driver's camera under the core's PTZ service, if it declares ``capability``."""
    async with built(case.driver, "reachable") as driver:
        info = await camera_of(driver, case, case.expect.list_within_s)
        if capability not in info.capabilities:
            raise NotApplicable(f"camera {info.id} does not declare {capability.value}")
        control = _control(driver, info)
        if control is None:
            raise ConformanceError(f"camera {info.id} declares {capability.value} but {driver.name}.ptz() gave None")
        s = Steering(case, info)
        s.add(control)
        yield s


def _control(driver: Any, info: CameraInfo) -> Any:
    ptz = getattr(driver, "ptz", None)
    if ptz is None:
        return None
    control = ptz(info.id)
    if control is not None and not isinstance(control, PtzControl):
        missing = [m for m in ("list_presets", "goto_preset", "continuous_move", "absolute_move", "zoom", "stop")
                   if not callable(getattr(control, m, None))]
        raise ConformanceError(f"ptz({info.id!r}) is not a PtzControl (missing: {', '.join(missing)})")
    return control


# --- the checks ---------------------------------------------------------------------------


async def check_describe(case: DriverCase) -> None:
    """The driver and its camera description keep the interface's promises."""
    async with built(case.driver, "reachable") as driver:
        named = isinstance(getattr(driver, "name", None), str) and driver.name
        if not isinstance(driver, CameraDriver) or not named:
            raise ConformanceError(
                "the driver needs a non-empty `name` and `async cameras()` (core.interfaces.CameraDriver)"
            )
        started = time.monotonic()
        info = await camera_of(driver, case, case.expect.list_within_s)
        cameras = await bounded(driver.cameras(), case.expect.list_within_s, f"{driver.name}.cameras(), asked again")
        ids = [c.id for c in cameras]
        if len(ids) != len(set(ids)):
            raise ConformanceError(f"{driver.name}.cameras() repeats a camera id")
        if info.driver != driver.name:
            raise ConformanceError(f"camera {info.id}: driver is {info.driver!r}, not the driver's {driver.name!r}")
        if not re.fullmatch(AGENCY_ID_PATTERN, info.agency or ""):
            raise ConformanceError(f"camera {info.id}: agency {info.agency!r} is not an agency id ([agencies.<id>])")
        for label, source in (("main", info.main), ("sub", info.sub), ("snapshot", info.snapshot)):
            if source is None:
                continue
            if not isinstance(source, StreamSource):
                raise ConformanceError(f"camera {info.id}: {label} is not a StreamSource")
            try:
                scheme_of(source.url)
            except ValueError as exc:
                raise ConformanceError(f"camera {info.id}: {label} url: {exc}") from None
            if "@" in source.url.partition("://")[2].partition("/")[0]:
                raise ConformanceError(f"camera {info.id}: {label} url carries credentials; give them to StreamSource")
        unknown = [c for c in info.capabilities if not isinstance(c, Capability)]
        if unknown:
            raise ConformanceError(f"camera {info.id}: capabilities must be core.interfaces.Capability, not {unknown}")
        if case.expect.capabilities is not None and set(info.capabilities) != set(case.expect.capabilities):
            have = sorted(c.value for c in info.capabilities)
            want = sorted(c.value for c in case.expect.capabilities)
            raise ConformanceError(f"camera {info.id}: capabilities {have}, expected {want}")
        control = _control(driver, info)
        if (Capability.PTZ in info.capabilities) != (control is not None):
            raise ConformanceError(
                f"camera {info.id}: declares ptz={Capability.PTZ in info.capabilities} but ptz() gave {control!r:.80}"
            )
        if Capability.PRESETS in info.capabilities and not info.presets:
            raise ConformanceError(f"camera {info.id}: declares presets but lists none")
        if len({p.id for p in info.presets}) != len(info.presets):
            raise ConformanceError(f"camera {info.id}: a preset id is repeated")
        problems = getattr(driver, "problems", {})
        no_secret(case, "the camera's repr", repr(info), repr(info.main), repr(info.sub), repr(info.snapshot))
        no_secret(case, "the camera's public description", json.dumps(info.public()))
        no_secret(case, "the driver's repr", repr(driver), repr(getattr(driver, "config", None)))
        no_secret(case, "the driver's problems", json.dumps(dict(problems), default=str))
        took = time.monotonic() - started
        if took > case.expect.list_within_s:
            raise ConformanceError(f"cameras() took {took:.1f} s (bound {case.expect.list_within_s:g} s)")


async def check_stream(case: DriverCase) -> None:
    """The main stream opens through the core's ingest and delivers packets, keyframe first."""
    async with built(case.driver, "reachable") as driver:
        info = await camera_of(driver, case, case.expect.list_within_s)
        async with ingesting(info, case) as rt:
            packets = await first_packets(rt, case)
            stream = rt.mux.stream_info
            first = packets[0]
            if stream is None:
                raise ConformanceError(f"camera {info.id}: packets came but no stream description")
            if not first.keyframe:
                raise ConformanceError(f"camera {info.id}: the first packet is not a keyframe")
            if parameter_sets_in(first.data, stream.codec) is None:
                raise ConformanceError(f"camera {info.id}: the first keyframe lacks its parameter sets")
            if case.expect.codec is not None and stream.codec != case.expect.codec:
                raise ConformanceError(f"camera {info.id}: codec {stream.codec}, expected {case.expect.codec}")
            if case.expect.size is not None and (stream.width, stream.height) != tuple(case.expect.size):
                want = "x".join(str(n) for n in case.expect.size)
                raise ConformanceError(f"camera {info.id}: {stream.width}x{stream.height}, expected {want}")
            dts = [p.dts for p in packets if p.dts is not None]
            if any(b < a for a, b in zip(dts, dts[1:])):
                raise ConformanceError(f"camera {info.id}: decoding timestamps go backwards")
            if rt.status.state != CameraState.ONLINE:
                raise ConformanceError(f"camera {info.id}: delivers packets but shows {status_text(rt)}")


async def check_snapshot(case: DriverCase) -> None:
    """The core makes a JPEG of the camera's picture; a still-image URL the driver gives answers one too."""
    async with built(case.driver, "reachable") as driver:
        info = await camera_of(driver, case, case.expect.list_within_s)
        async with ingesting(info, case) as rt:
            await first_packets(rt, case)
            try:
                jpeg = await bounded(Snapshots().jpeg(info.id, rt.mux), case.expect.command_within_s, "snapshot")
            except SnapshotUnavailable as exc:
                raise ConformanceError(f"camera {info.id}: no snapshot: {exc}") from None
            size = await asyncio.to_thread(_jpeg_size, jpeg)
            stream = rt.mux.stream_info
            if size != (stream.width, stream.height):
                raise ConformanceError(
                    f"camera {info.id}: snapshot is {size[0]}x{size[1]}, the stream {stream.width}x{stream.height}"
                )
        if info.snapshot is not None:
            data = await bounded(
                asyncio.to_thread(_fetch, info.snapshot, case.expect.command_within_s),
                case.expect.command_within_s + 1,
                f"camera {info.id}: still image",
            )
            await asyncio.to_thread(_jpeg_size, data)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    if data[:2] != b"\xff\xd8":
        raise ConformanceError(f"not a JPEG (starts {data[:8]!r})")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.size
    except Exception as exc:
        raise ConformanceError(f"the JPEG does not decode: {exc}") from None


def _fetch(source: StreamSource, timeout: float) -> bytes:
    scheme = source.url.partition("://")[0].lower()
    if scheme not in ("http", "https"):
        raise ConformanceError(f"snapshot url must be http(s), not {scheme!r}")
    headers = {}
    if source.username is not None:
        token = base64.b64encode(f"{source.username}:{source.password or ''}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    try:
        with urllib.request.urlopen(urllib.request.Request(source.url, headers=headers), timeout=timeout) as answer:
            return answer.read()
    except OSError as exc:
        raise ConformanceError(f"still image {source.redacted_url()}: {exc}") from None


async def check_ptz(case: DriverCase) -> None:
    """Continuous moves start and stop, an absolute move lands, each through the core's PTZ service."""
    async with steer(case, Capability.PTZ) as s:
        await s.run("continuous_move", 0.5, 0.0, 0.0)
        await s.run("stop")
        await s.run("continuous_move", 0.0, -0.5, 0.0)
        await s.run("stop")
        await s.run("absolute_move", 0.1, -0.1, 0.2)
        if s.service.preset_of(s.info.id) is not None:
            raise ConformanceError("after a manual move the core still believes the camera is on a preset")


async def check_presets(case: DriverCase) -> None:
    """The camera lists its presets and goes to them; the core then knows the active preset."""
    async with steer(case, Capability.PRESETS) as s:
        before = _observed(case)
        try:
            presets = await s.service.refresh_presets(s.info.id)
        except PtzError as exc:
            raise ConformanceError(f"list_presets: {exc.reason}") from None
        if before is not None and len(case.observed()) <= before:
            raise ConformanceError("list_presets answered without asking the device")
        if not presets:
            raise ConformanceError("list_presets gave no preset")
        if any(not isinstance(p.id, str) or not p.id for p in presets) or len({p.id for p in presets}) != len(presets):
            raise ConformanceError(f"preset ids must be unique non-empty strings: {[p.id for p in presets]}")
        for preset in (presets[-1], presets[0]):
            await s.run("goto_preset", preset.id)
            active = s.service.preset_of(s.info.id)
            if active != preset.id:
                raise ConformanceError(f"after goto_preset({preset.id!r}) the active preset is {active!r}")


async def check_zoom(case: DriverCase) -> None:
    """Zoom to a level and back, and a continuous zoom stops."""
    async with steer(case, Capability.ZOOM) as s:
        await s.run("zoom", 0.8)
        await s.run("zoom", 0.0)
        await s.run("continuous_move", 0.0, 0.0, 0.5)
        await s.run("stop")


async def _failing(case: DriverCase, check: str, factory: Callable[[], Any] | None, reason_re: str, what: str) -> None:
    if factory is None:
        why = case.skip.get(check)
        if why:
            raise NotApplicable(why)
        raise ConformanceError(f"the case gives no `{check}` factory; give one, or say why not in `skip`")
    e = case.expect
    started = time.monotonic()
    async with built(factory, check) as driver:
        info = await camera_of(driver, case, e.failure_within_s)
        async with ingesting(info, case) as rt:
            while rt.status.state not in (CameraState.OFFLINE, CameraState.ERROR) or not rt.status.reason:
                if rt.status.state == CameraState.ONLINE:
                    raise ConformanceError(f"camera {info.id}: the stream opened with {what}")
                if time.monotonic() - started > e.failure_within_s:
                    raise ConformanceError(
                        f"camera {info.id} with {what}: still {status_text(rt)} after {e.failure_within_s:g} s"
                        " (expected offline or error, with a reason)"
                    )
                await asyncio.sleep(0.05)
            status = rt.status
        problem = str(getattr(driver, "problems", {}).get(info.id, ""))
        reasons = [r for r in (status.reason, problem) if r]
        if not any(re.search(reason_re, r) for r in reasons):
            raise ConformanceError(f"camera {info.id} with {what}: the reason {' / '.join(reasons)!r} does not say so")
        no_secret(case, "the camera's offline reason", *reasons)
        control = _control(driver, info)
        if control is not None:
            s = Steering(case, info)
            s.add(control)
            cmd_started = time.monotonic()
            try:
                await bounded(s.service.stop(info.id, by=OPERATOR), e.command_within_s + 1, "stop")
            except PtzError as exc:
                no_secret(case, "the PTZ error", exc.reason)
            else:
                raise ConformanceError(f"camera {info.id}: a PTZ command was accepted with {what}")
            if time.monotonic() - cmd_started > e.command_within_s:
                raise ConformanceError(f"camera {info.id}: a PTZ command with {what} took over {e.command_within_s:g} s")
    took = time.monotonic() - started
    if took > e.failure_within_s + e.command_within_s:
        raise ConformanceError(f"{what}: the camera took {took:.1f} s to show it")


async def check_wrong_credentials(case: DriverCase) -> None:
    """With a wrong password the camera is still listed, and shows offline with a reason that says so."""
    await _failing(case, "wrong_credentials", case.wrong_credentials, case.expect.auth_reason, "wrong credentials")


async def check_unreachable(case: DriverCase) -> None:
    """A camera whose host cannot be reached is still listed, and shows offline with the reason, quickly."""
    await _failing(case, "unreachable", case.unreachable, case.expect.unreachable_reason, "an unreachable host")


async def run_check(name: str, case: DriverCase) -> None:
    """Run one check; no log record written meanwhile may hold the camera's password."""
    with SecretWatch() as logs:
        await CHECKS[name](case)
    no_secret(case, "the log", *logs.lines)


CHECKS: dict[str, Callable[[DriverCase], Awaitable[None]]] = {
    "describe": check_describe,
    "stream": check_stream,
    "snapshot": check_snapshot,
    "ptz": check_ptz,
    "presets": check_presets,
    "zoom": check_zoom,
    "wrong_credentials": check_wrong_credentials,
    "unreachable": check_unreachable,
}
