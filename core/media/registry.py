"""The camera registry: drivers' cameras, one ingest and one multiplexer each.

Built by :class:`core.media.plugin.MediaPlugin` at start-up and offered as
``services.cameras``. A driver that raises or times out is contained (reported
through the plugin host, the others still load); a camera id offered twice is
refused and reported. On shutdown, once every stream has stopped, the registry
calls each driver's optional ``close()`` once, each contained the same way.

A camera's sub stream (the smaller second stream most IP cameras offer, for
grid tiles) is opened only while somebody watches it: :meth:`CameraRegistry.open_sub`
starts it, and it is closed once it has had no subscriber for
``sub_idle_s``. A camera with 16 viewers on its sub stream still has one
connection to it.

Each camera's ingest runs in a thread of this process (``ingest_processes = 0``,
the default) or in one of ``ingest_processes`` child processes
(:mod:`core.media.ingest_pool`), which isolates a crash in FFmpeg at some CPU cost.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.interfaces import CameraDriver, CameraInfo, StreamSource
from core.media.handoff import LoopHandoff
from core.media.ingest import CameraIngest
from core.media.ingest_pool import IngestPool, RemoteIngest
from core.media.ingest_settings import IngestSettings
from core.media.mux import CameraMux
from core.media.packets import CameraStatus

log = logging.getLogger("bconnect.cameras")

DRIVER_HOOK = "bconnect_register_camera_drivers"


@dataclass(eq=False)
class CameraRuntime:
    """One camera at run time: what the driver said, its packets, its status."""

    info: CameraInfo
    mux: CameraMux
    ingest: CameraIngest | RemoteIngest
    plugin: str = "?"  # the plugin whose driver offered it
    extra: dict[str, Any] = field(default_factory=dict)
    sub: SubStream | None = None  # the sub stream, while it is open

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def stream_key(self) -> str:
        """Names this stream among the camera's streams (shared transcoders are held per stream)."""
        return self.info.id


    @property
    def status(self) -> CameraStatus:
        return self.ingest.current_status()

    def health(self, transcoding: bool = False) -> dict[str, Any]:
        """The camera's ingest and fan-out; ``transcoding`` is the viewing side's answer (the transcode hub)."""
        status = self.status
        info = self.mux.stream_info
        return {
            "state": status.state.value,
            "reason": status.reason,
            "since": status.since,
            "last_packet_at": status.last_packet_at,
            "attempts": status.attempts,
            "codec": info.codec if info else None,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "fps": info.fps if info else None,
            "transcoding": transcoding,
            "subscribers": self.mux.subscriber_count,
            "dropped": self.mux.dropped + self.ingest.dropped,
            "generation": self.mux.generation,
            "sub_stream": self.sub.health() if self.sub is not None else None,
        }


@dataclass(eq=False)
class SubStream:
    """A camera's sub stream while it is open: its own ingest and multiplexer."""

    camera: CameraRuntime
    mux: CameraMux
    ingest: CameraIngest | RemoteIngest
    idle_since: float = field(default_factory=time.monotonic)

    @property
    def info(self) -> CameraInfo:
        return self.camera.info

    @property
    def stream_key(self) -> str:
        return f"{self.camera.info.id}/sub"

    @property
    def status(self) -> CameraStatus:
        return self.ingest.current_status()

    async def ready(self, timeout: float) -> bool:
        """Wait until the stream has described itself (its first keyframe); ``False`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.mux.stream_info is None:
            if time.monotonic() >= deadline or self.mux.closed:
                return False
            self.idle_since = time.monotonic()  # somebody is waiting for it: not idle
            await asyncio.sleep(0.05)
        self.idle_since = time.monotonic()
        return True

    def health(self) -> dict[str, Any]:
        status = self.status
        info = self.mux.stream_info
        return {
            "state": status.state.value,
            "reason": status.reason,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "subscribers": self.mux.subscriber_count,
        }


class CameraRegistry:
    """Every camera of the deployment, keyed by id."""

    def __init__(
        self,
        plugins: Any = None,
        *,
        settings: IngestSettings | None = None,
        driver_timeout_s: float = 30.0,
        ingest_processes: int = 0,
        sub_idle_s: float = 30.0,
    ) -> None:
        self.plugins = plugins  # core.plugin_host.PluginHost, or None when cameras are added by hand
        self.settings = settings or IngestSettings()
        self.driver_timeout_s = driver_timeout_s
        self.handoff: LoopHandoff | None = None
        self.pool = IngestPool(ingest_processes) if ingest_processes > 0 else None
        self.sub_idle_s = sub_idle_s
        self._cameras: dict[str, CameraRuntime] = {}
        self._drivers: list[tuple[str, CameraDriver]] = []  # closed on stop
        self._reaper: asyncio.Task[None] | None = None
        self.closing = False

    def __repr__(self) -> str:
        return f"<CameraRegistry {len(self._cameras)} cameras>"

    # --- queries -------------------------------------------------------------

    def get(self, camera_id: str) -> CameraRuntime | None:
        return self._cameras.get(camera_id)

    def all(self) -> list[CameraRuntime]:
        return list(self._cameras.values())

    def __len__(self) -> int:
        return len(self._cameras)

    def health(self) -> dict[str, dict[str, Any]]:
        return {cid: rt.health() for cid, rt in self._cameras.items()}

    def ingest_health(self) -> dict[str, Any]:
        """Where the cameras are ingested: threads of this process, or ingest processes and their restarts."""
        if self.pool is None:
            return {"mode": "threads"}
        return {"mode": "processes", "processes": self.pool.describe()}

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Ask every driver for its cameras, then start one ingest per camera."""
        if self.pool is not None:
            await self.pool.start()
        else:
            self._handoff()
        if self.plugins is None:
            return
        drivers = []
        for plugin, driver in self.plugins.collect(DRIVER_HOOK):
            if not isinstance(driver, CameraDriver):
                self.plugins.report_failure(plugin, DRIVER_HOOK, TypeError(f"not a camera driver: {driver!r}"))
                continue
            drivers.append((plugin, driver))
        self._drivers = drivers
        listings = await asyncio.gather(*(self._list(plugin, driver) for plugin, driver in drivers))
        for (plugin, _driver), cameras in zip(drivers, listings):
            for info in cameras:
                try:
                    self.add(info, plugin=plugin)
                except ValueError as exc:
                    self.plugins.report_failure(plugin, "cameras", exc)
        log.info("%d cameras from %d drivers", len(self._cameras), len(drivers))

    async def _list(self, plugin: str, driver: CameraDriver) -> list[CameraInfo]:
        try:
            cameras = await asyncio.wait_for(driver.cameras(), self.driver_timeout_s)
        except asyncio.TimeoutError:
            self.plugins.report_failure(
                plugin, "cameras", TimeoutError(f"driver {driver.name!r} gave no cameras within {self.driver_timeout_s:g} s")
            )
            return []
        except Exception as exc:
            self.plugins.report_failure(plugin, "cameras", exc)
            return []
        good = []
        for info in cameras if isinstance(cameras, Iterable) else ():
            if isinstance(info, CameraInfo):
                good.append(info)
            else:
                self.plugins.report_failure(plugin, "cameras", TypeError(f"not a CameraInfo: {type(info).__name__}"))
        return good

    def _handoff(self) -> LoopHandoff:
        if self.handoff is None:
            self.handoff = LoopHandoff(asyncio.get_running_loop(), self.settings.max_pending)
        return self.handoff

    def add(self, info: CameraInfo, *, plugin: str = "?") -> CameraRuntime:
        """Register one camera and start its ingest (call on the event loop)."""
        if self.closing:
            raise ValueError(f"camera {info.id!r}: the registry is stopping")
        if info.id in self._cameras:
            raise ValueError(f"camera id {info.id!r} already offered by {self._cameras[info.id].plugin}")
        mux, ingest = self._open(info.id, info.main, self.settings.ring_seconds)
        runtime = CameraRuntime(info, mux, ingest, plugin)
        self._cameras[info.id] = runtime
        return runtime

    def _open(self, name: str, source: StreamSource, ring_seconds: float) -> tuple[CameraMux, CameraIngest | RemoteIngest]:
        mux = CameraMux(name, ring_seconds=ring_seconds)
        ingest: CameraIngest | RemoteIngest
        if self.pool is not None:
            ingest = self.pool.add(name, source, self.settings, mux.publish, mux.set_stream_info)
        else:
            ingest = CameraIngest(
                name,
                source,
                handoff=self._handoff(),
                publish=mux.publish,
                set_stream_info=mux.set_stream_info,
                settings=self.settings,
            )
            ingest.start()
        return mux, ingest

    async def _close_stream(self, mux: CameraMux, ingest: CameraIngest | RemoteIngest) -> None:
        if isinstance(ingest, RemoteIngest):
            assert self.pool is not None
            self.pool.remove(ingest)
        else:
            await asyncio.to_thread(ingest.stop)
        mux.close()

    # --- sub streams -----------------------------------------------------------

    def open_sub(self, camera_id: str) -> SubStream:
        """The camera's sub stream, connected now if it is not open yet.

        :raises LookupError: no such camera, or it has no sub stream.
        """
        runtime = self._cameras.get(camera_id)
        if runtime is None or self.closing:
            raise LookupError(f"no camera {camera_id!r}")
        if runtime.info.sub is None:
            raise LookupError(f"camera {camera_id!r} has no sub stream")
        if runtime.sub is None:
            # no pre-roll: clips are cut from the main stream
            mux, ingest = self._open(f"{camera_id}/sub", runtime.info.sub, 0.0)
            runtime.sub = SubStream(runtime, mux, ingest)
            log.info("camera %s: sub stream opened", camera_id)
            self._start_reaper()
        runtime.sub.idle_since = time.monotonic()
        return runtime.sub

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_subs())

    async def _reap_subs(self) -> None:
        """Close sub streams nobody has watched for ``sub_idle_s``."""
        while any(rt.sub is not None for rt in self._cameras.values()):
            await asyncio.sleep(min(1.0, self.sub_idle_s / 4))
            now = time.monotonic()
            for rt in list(self._cameras.values()):
                sub = rt.sub
                if sub is None:
                    continue
                if sub.mux.subscriber_count:
                    sub.idle_since = now
                elif now - sub.idle_since >= self.sub_idle_s:
                    rt.sub = None
                    log.info("camera %s: sub stream closed after %g s without viewers", rt.id, self.sub_idle_s)
                    await self._close_stream(sub.mux, sub.ingest)

    async def remove(self, camera_id: str) -> None:
        runtime = self._cameras.pop(camera_id, None)
        if runtime is None:
            return
        sub, runtime.sub = runtime.sub, None  # before any await: the reaper must not close it too
        if sub is not None:
            await self._close_stream(sub.mux, sub.ingest)
        await self._close_stream(runtime.mux, runtime.ingest)

    async def stop(self) -> None:
        """Stop every ingest (in parallel) and end every subscription."""
        self.closing = True  # no camera or sub stream opens from now on
        runtimes = list(self._cameras.values())
        if self._reaper is not None:
            self._reaper.cancel()
        streams: list[tuple[CameraMux, CameraIngest | RemoteIngest]] = []
        for rt in runtimes:
            streams.append((rt.mux, rt.ingest))
            if rt.sub is not None:
                streams.append((rt.sub.mux, rt.sub.ingest))
        if self.pool is not None:
            await self.pool.close()
        local = [ingest for _mux, ingest in streams if isinstance(ingest, CameraIngest)]
        for ingest in local:
            ingest.request_stop()
        await asyncio.to_thread(_join_all, local, 3.0)
        if self.handoff is not None:
            self.handoff.close()
        for mux, _ingest in streams:
            mux.close()
        await self._close_drivers()

    async def _close_drivers(self) -> None:
        """Each driver's ``close()``, once, in parallel; one that raises or hangs is reported, not fatal."""
        drivers, self._drivers = self._drivers, []
        unique = {id(driver): (plugin, driver) for plugin, driver in drivers}
        await asyncio.gather(*(self._close_driver(plugin, driver) for plugin, driver in unique.values()))

    async def _close_driver(self, plugin: str, driver: CameraDriver) -> None:
        close = getattr(driver, "close", None)  # optional (CameraDriver's docstring)
        if close is None:
            return
        try:
            result = close()
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, self.driver_timeout_s)
        except asyncio.TimeoutError:
            why = TimeoutError(f"driver {driver.name!r} did not close within {self.driver_timeout_s:g} s")
            self.plugins.report_failure(plugin, "close", why)
        except Exception as exc:
            self.plugins.report_failure(plugin, "close", exc)


def _join_all(ingests: list[CameraIngest], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for ingest in ingests:
        if not ingest.stop(max(0.0, deadline - time.monotonic())):
            log.warning("camera %s: ingest thread still blocked in a read; left to end by itself", ingest.camera_id)
