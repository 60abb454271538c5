"""Traffic simulator: synthetic street cameras for demos, tests and newcomers.

Each camera is a seeded loop of H.264 rendered once into
``<data_dir>/sim/`` and handed to the core as a local file to replay in real
time (``StreamSource(realtime_loop=True)``), the same ingest path a real
camera's stream takes. Ground truth lies beside each video.

Rendering starts in the background at ``bconnect_startup``, one child process
per uncached camera (drawing holds a GIL; the server's should stay free): the
server answers at once and each camera comes online when its file appears
(immediately when it is cached); until then the ingest reports "file not
found" and retries. With ``sub_resolution`` set (for all, or per camera), each
camera (but those that say ``sub_stream = false``) also offers a sub stream, its loop scaled down
(:mod:`plugins.traffic_sim.sub_stream`), written by the same child process
after the loop; analytics read it, as they read a real camera's.
``wait_for_render = true`` makes ``cameras()`` wait instead; only for short
loops, since the camera registry gives a driver 30 s to list its cameras.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from pathlib import Path

from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, StreamSource
from plugins.traffic_sim import cache
from plugins.traffic_sim.config import Config, SimCamera
from plugins.traffic_sim.renderer import RenderSpec
from plugins.traffic_sim.sub_stream import sub_path

log = logging.getLogger("bconnect.plugin.traffic_sim")
REPO_ROOT = Path(__file__).resolve().parent.parent.parent  # so the render process finds this package


class TrafficSim:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.name = "traffic_sim"
        self.config = config
        self.log = getattr(context, "log", log)
        self.sim_dir = (Path(context.data_dir) / "sim").absolute()
        self.specs = {cam.id: self._spec(cam) for cam in config.cameras}
        self.sub_sizes = {cam.id: size for cam in config.cameras if (size := config.sub_size(cam)) is not None}
        self._stop = threading.Event()
        self._task: asyncio.Task | None = None
        self._children: set[asyncio.subprocess.Process] = set()
        self.rendered: dict[str, cache.Rendered] = {}
        self.failed: dict[str, str] = {}

    def _spec(self, cam: SimCamera) -> RenderSpec:
        width, height = self.config.size
        return RenderSpec(
            scenario=cam.scenario,
            seed=cam.seed,
            width=width,
            height=height,
            fps=self.config.fps,
            loop_seconds=self.config.loop_seconds,
            keyframe_seconds=self.config.keyframe_seconds,
            night=cam.night,
            label=cam.name if self.config.label else "",
        )

    # --- the camera driver ---------------------------------------------------

    def video_path(self, camera_id: str) -> Path:
        return cache.paths(self.specs[camera_id], self.sim_dir)[0]

    def sub_video_path(self, camera_id: str) -> Path | None:
        """The camera's sub stream file, or ``None`` when it offers none."""
        size = self.sub_sizes.get(camera_id)
        return sub_path(self.video_path(camera_id), *size) if size else None

    def ready(self, camera_id: str) -> bool:
        """Its loop (and sub stream, if it offers one) are on disk. Blocking: file lookups."""
        sub = self.sub_video_path(camera_id)
        return cache.is_cached(self.specs[camera_id], self.sim_dir) and (sub is None or sub.is_file())

    def truth_path(self, camera_id: str) -> Path:
        """The ground truth JSON beside camera ``camera_id``'s video."""
        return cache.paths(self.specs[camera_id], self.sim_dir)[1]

    async def cameras(self) -> list[CameraInfo]:
        if self.config.wait_for_render:
            await self.start_rendering()
        # a path names the font in use (a file lookup) and a hash: off the event loop
        videos = await asyncio.to_thread(lambda: {cam.id: self.video_path(cam.id) for cam in self.config.cameras})
        subs = await asyncio.to_thread(lambda: {cam.id: self.sub_video_path(cam.id) for cam in self.config.cameras})
        return [
            CameraInfo(
                id=cam.id,
                name=cam.name,
                agency=cam.agency,
                driver=self.name,
                main=StreamSource(url=str(videos[cam.id]), realtime_loop=True),
                sub=StreamSource(url=str(subs[cam.id]), realtime_loop=True) if subs[cam.id] is not None else None,
                area=cam.area,
                lat=cam.lat,
                lon=cam.lon,
            )
            for cam in self.config.cameras
        ]

    # --- rendering -----------------------------------------------------------

    def start_rendering(self) -> asyncio.Task:
        """Start (once) rendering every camera's loop that is not cached; the task is returned."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._render_all(), name="traffic_sim.render")
        return self._task

    async def _render_all(self) -> None:
        # one camera at a time: the machine may have two cores, and x264 uses both
        for cam_id, spec in self.specs.items():
            if self._stop.is_set():
                return
            video, truth = await asyncio.to_thread(cache.paths, spec, self.sim_dir)
            if await asyncio.to_thread(self.ready, cam_id):
                self.rendered[cam_id] = cache.Rendered(spec, video, truth, cached=True, seconds=0.0)
                continue
            try:
                result = await self._render_in_child(spec, self.sub_sizes.get(cam_id))
            except Exception as exc:
                self.failed[cam_id] = f"{type(exc).__name__}: {exc}"
                self.log.error("camera %s: render failed: %s", cam_id, self.failed[cam_id])
                continue
            if result is None:  # stopped
                return
            self.rendered[cam_id] = result
            self.log.info("camera %s: rendered %s in %.1fs", cam_id, result.video.name, result.seconds)

    async def _render_in_child(self, spec: RenderSpec, sub: tuple[int, int] | None = None) -> cache.Rendered | None:
        """Render (and scale down to ``sub``) in a child process (its own GIL, lower priority); ``None`` if stopped."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plugins.traffic_sim.render_job", str(self.sim_dir), json.dumps(spec.as_dict()),
            *([f"{sub[0]}x{sub[1]}"] if sub else []),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
        self._children.add(proc)
        try:
            out, err = await proc.communicate()
        except asyncio.CancelledError:
            proc.terminate()
            raise
        finally:
            self._children.discard(proc)
        if self._stop.is_set():
            return None
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            raise RuntimeError(tail[0][:300])
        done = json.loads(out.decode().strip().splitlines()[-1])
        return cache.Rendered(spec, Path(done["video"]), Path(done["truth"]), done["cached"], done["seconds"])

    # --- hooks ---------------------------------------------------------------

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)

    @hookimpl
    def bconnect_register_commands(self, register):
        from plugins.traffic_sim.prerender import command

        register(command(self))

    @hookimpl
    def bconnect_startup(self, services):
        self.start_rendering()  # in the background: the server answers meanwhile

    @hookimpl
    def bconnect_shutdown(self, services):
        self._stop.set()
        for proc in list(self._children):
            if proc.returncode is None:
                proc.terminate()  # the child stops within a frame and removes its partial file
        task = self._task
        if task is None:
            return None

        async def finish() -> None:
            await asyncio.wait({task}, timeout=10)

        return finish()

    @hookimpl
    def bconnect_health(self, services):
        pending = [c for c in self.specs if c not in self.rendered and c not in self.failed]
        reason = "; ".join(f"{cam}: {why}" for cam, why in self.failed.items())
        return {
            "status": "degraded" if self.failed else "ok",
            **({"reason": f"render failed: {reason}"} if reason else {}),
            "cameras": len(self.specs),
            "ready": len(self.rendered),
            "rendering": pending,
            "failed": self.failed,
            "render_s": round(sum(r.seconds for r in self.rendered.values()), 1),
        }
