"""Patrol tours and manual control on a fake clock.

The PTZ camera here is a RecordingCamera: a stand-in for camera firmware
(which cannot run here) that records each command; the tour runner, the PTZ
service, its lock and its timeouts are the real ones. The ONVIF and Dishub
tests drive the same service against the ONVIF device emulator.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.clock import FakeClock
from core.config import Deployment
from core.interfaces import CameraInfo, Capability, Preset, StreamSource, TourPlan, TourStop
from core.plugin_host import PluginContext, PluginHost, new_plugin_manager
from core.ptz.service import CommandFailed, Locked, PtzService, UnknownPreset
from plugins.patrol_tours.plugin import Config, PatrolTours
from plugins.patrol_tours.runner import TourRunner


class RecordingCamera:
    """Stands in for a PTZ camera's firmware: records commands, can fail or hang."""

    def __init__(self) -> None:
        self.commands: list[tuple] = []
        self.fail: str | None = None
        self.hang = False

    async def _do(self, *cmd) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail:
            raise RuntimeError(self.fail)
        self.commands.append(cmd)

    async def list_presets(self):
        return [Preset("a", "A"), Preset("b", "B")]

    async def goto_preset(self, preset_id):
        await self._do("goto", preset_id)

    async def continuous_move(self, pan, tilt, zoom):
        await self._do("move", pan, tilt, zoom)

    async def absolute_move(self, pan, tilt, zoom):
        await self._do("abs", pan, tilt, zoom)

    async def zoom(self, level):
        await self._do("zoom", level)

    async def stop(self):
        await self._do("stop")

    def gotos(self) -> list[str]:
        return [c[1] for c in self.commands if c[0] == "goto"]


def camera(cid: str = "cam-1", presets=("a", "b", "c")) -> CameraInfo:
    return CameraInfo(
        id=cid, name=cid, agency="dishub", driver="test", main=StreamSource("rtsp://127.0.0.1/x"),
        capabilities=frozenset({Capability.PTZ, Capability.PRESETS}),
        presets=tuple(Preset(p, p.upper()) for p in presets),
    )


@pytest.fixture
def setup():
    clock = FakeClock()
    ptz = PtzService(clock=clock, command_timeout_s=0.2)
    cam = RecordingCamera()
    ptz.add_camera("test", camera(), cam, manual_timeout_s=60)
    tours = TourRunner(ptz, clock)
    return clock, ptz, cam, tours


async def run_for(clock: FakeClock, tours: TourRunner, seconds: int) -> None:
    for _ in range(seconds):
        clock.advance(1)
        await tours.tick()


async def test_tour_cycles_presets_with_each_dwell(setup):
    clock, ptz, cam, tours = setup
    tours.add("test", TourPlan("cam-1", (TourStop("a", 10), TourStop("b", 5), TourStop("c", 20))))
    await tours.tick()
    assert cam.gotos() == ["a"] and ptz.active("cam-1").preset_id == "a"
    await run_for(clock, tours, 9)
    assert cam.gotos() == ["a"]  # still dwelling at a
    await run_for(clock, tours, 1)
    assert cam.gotos() == ["a", "b"] and ptz.active("cam-1").preset_id == "b"
    await run_for(clock, tours, 5)
    assert cam.gotos() == ["a", "b", "c"]
    await run_for(clock, tours, 19)
    assert cam.gotos() == ["a", "b", "c"]
    await run_for(clock, tours, 1)
    assert cam.gotos() == ["a", "b", "c", "a"]  # and round again
    status = tours.status("cam-1")
    assert status["state"] == "running" and status["current_preset"] == "a" and status["next_move_in_s"] == 10


async def test_active_preset_is_known_and_listeners_hear_changes(setup):
    clock, ptz, cam, tours = setup
    heard = []
    ptz.subscribe(heard.append)
    assert ptz.active("cam-1").preset_id is None and ptz.active("cam-1").source == "start"
    tours.add("test", TourPlan("cam-1", (TourStop("a", 3), TourStop("b", 3))))
    await run_for(clock, tours, 7)
    assert [(e.preset_id, e.previous, e.source) for e in heard] == [("a", None, "tour"), ("b", "a", "tour"), ("a", "b", "tour")]
    assert ptz.preset_of("cam-1") == "a" and ptz.preset_of("fixed-camera") is None
    await ptz.continuous_move("cam-1", 0.5, 0, 0, by="ani")  # off preset
    assert ptz.active("cam-1").preset_id is None and heard[-1].source == "manual"
    assert ptz.preset_of("cam-1") is None


async def test_manual_control_pauses_the_tour_and_it_resumes_after_the_timeout(setup):
    clock, ptz, cam, tours = setup
    tours.add("test", TourPlan("cam-1", (TourStop("a", 10), TourStop("b", 10))))
    await run_for(clock, tours, 3)
    assert cam.gotos() == ["a"]
    await ptz.goto_preset("cam-1", "b", by="ani")  # operator takes over
    await ptz.continuous_move("cam-1", 0.2, 0, 0, by="ani")
    lock = ptz.lock("cam-1")
    assert lock is not None and lock.owner == "ani"
    await run_for(clock, tours, 30)
    assert cam.gotos() == ["a", "b"]  # the tour did not move the camera
    assert tours.status("cam-1")["state"] == "paused" and tours.status("cam-1")["paused_by"] == "ani"
    with pytest.raises(Locked, match="under manual control by ani for 30 s more"):
        await ptz.stop("cam-1", by="budi")  # another operator is refused
    await run_for(clock, tours, 29)
    assert cam.gotos() == ["a", "b"]
    await run_for(clock, tours, 1)  # 60 s after the last command: the lock expires
    assert ptz.lock("cam-1") is None
    assert cam.gotos() == ["a", "b", "a"]  # back to the stop it was on
    assert tours.status("cam-1")["state"] == "running"
    await run_for(clock, tours, 10)
    assert cam.gotos() == ["a", "b", "a", "b"]


async def test_released_control_resumes_at_once_and_renewal_extends(setup):
    clock, ptz, cam, tours = setup
    tours.add("test", TourPlan("cam-1", (TourStop("a", 10), TourStop("b", 10))))
    await tours.tick()
    ptz.take_control("cam-1", "ani")
    await run_for(clock, tours, 50)
    ptz.take_control("cam-1", "ani")  # renewed: 60 s from now
    await run_for(clock, tours, 50)
    assert ptz.lock("cam-1") is not None and cam.gotos() == ["a"]
    with pytest.raises(Locked):
        ptz.release("cam-1", "budi")
    assert ptz.release("cam-1", "ani") is True
    await run_for(clock, tours, 1)
    assert cam.gotos() == ["a", "a"]


async def test_tour_switched_off_stays_put(setup):
    clock, ptz, cam, tours = setup
    tours.add("test", TourPlan("cam-1", (TourStop("a", 5), TourStop("b", 5))))
    await tours.tick()
    tours.set_enabled("cam-1", False)
    await run_for(clock, tours, 30)
    assert cam.gotos() == ["a"] and tours.status("cam-1")["state"] == "off"
    tours.set_enabled("cam-1", True)
    await run_for(clock, tours, 1)
    assert cam.gotos() == ["a", "a"]


async def test_failing_and_hanging_commands_are_reported_and_the_tour_goes_on(setup):
    clock, ptz, cam, tours = setup
    tours.add("test", TourPlan("cam-1", (TourStop("a", 5), TourStop("b", 5), TourStop("c", 5))))
    await tours.tick()
    cam.fail = "motor jammed"
    await run_for(clock, tours, 5)  # goto b fails
    assert ptz.last_error("cam-1").reason == "motor jammed"
    assert ptz.active("cam-1").preset_id is None  # position unknown after a failed move
    assert tours.status("cam-1")["failures_in_a_row"] == 1
    cam.fail = None
    cam.hang = True
    await run_for(clock, tours, 9)
    assert ptz.state("cam-1")["commands"] == 2  # backing off: twice the dwell
    await run_for(clock, tours, 1)  # goto c hangs: cut by the command timeout
    assert "no answer within 0.2 s" in ptz.last_error("cam-1").reason
    cam.hang = False
    await run_for(clock, tours, 19)
    assert ptz.state("cam-1")["commands"] == 3  # four times the dwell
    await run_for(clock, tours, 1)
    assert cam.gotos() == ["a", "a"] and ptz.active("cam-1").preset_id == "a"
    assert ptz.last_error("cam-1") is None and ptz.state("cam-1")["failures"] == 2
    assert tours.status("cam-1")["failures_in_a_row"] == 0
    await run_for(clock, tours, 5)
    assert cam.gotos() == ["a", "a", "b"]  # plain dwell again
    with pytest.raises(CommandFailed):
        cam.fail = "offline"
        await ptz.zoom("cam-1", 0.5, by="ani")


async def test_tour_stops_with_unknown_presets_are_dropped(setup):
    clock, ptz, cam, tours = setup
    tours.add("test", TourPlan("cam-1", (TourStop("a", 5), TourStop("zz", 5))))
    assert [s["preset"] for s in tours.status("cam-1")["stops"]] == ["a"]
    with pytest.raises(UnknownPreset):
        await ptz.goto_preset("cam-1", "zz", by="ani")


async def test_tours_of_many_cameras_move_in_parallel():
    clock = FakeClock()
    ptz = PtzService(clock=clock, command_timeout_s=0.5)
    tours = TourRunner(ptz, clock)
    cams = []
    for i in range(5):
        cam = RecordingCamera()
        cams.append(cam)
        ptz.add_camera("test", camera(f"cam-{i}"), cam)
        tours.add("test", TourPlan(f"cam-{i}", (TourStop("a", 5), TourStop("b", 5))))
    cams[0].hang = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tours.tick()  # one hung camera costs one timeout, not one per camera
    assert loop.time() - started < 1.5
    assert [c.gotos() for c in cams[1:]] == [["a"]] * 4


async def test_the_plugin_runs_the_tours_drivers_propose_and_shows_them_in_the_ptz_state():
    clock = FakeClock()
    host = PluginHost(new_plugin_manager())
    ptz = PtzService(host, clock, command_timeout_s=0.2)
    cam = RecordingCamera()

    class Driver:  # a PtzDriver and TourDriver whose camera is the RecordingCamera
        name = "vendor"

        async def cameras(self):
            return [camera()]

        def ptz(self, camera_id):
            return cam

        def tours(self):
            return [TourPlan("cam-1", (TourStop("a", 5), TourStop("zz", 5))), TourPlan("ghost", (TourStop("a", 5),))]

    await ptz.load_drivers([("vendor", Driver())])
    # the core checks proposals against the presets and reports the driver's mistakes
    assert [(t.plugin, [s.preset_id for s in t.plan.stops]) for t in ptz.proposed_tours()] == [("vendor", ["a"])]
    assert host.states["vendor"].errors == 2 and "no PTZ camera 'ghost'" in host.states["vendor"].last_error

    deployment = Deployment.model_validate({"deployment": {"name": "t"}})
    plugin = PatrolTours(Config(), PluginContext("patrol_tours", deployment, Path("."), logging.getLogger("t")), clock)
    plugin.bconnect_startup(SimpleNamespace(ptz=ptz))  # stands in for PluginServices: only ptz is used
    assert ptz.state("cam-1")["tour"] is not None and ptz.state("cam-1")["tour"]["state"] == "running"
    await plugin._tick()
    assert cam.gotos() == ["a"] and ptz.state("cam-1")["tour"]["current_preset"] == "a"
    assert plugin.bconnect_health(None) == {"status": "ok", "tours": 1, "running": 1, "paused": 0, "off": 0}
    with pytest.raises(ValueError, match="exists already"):
        ptz.add_state_field("tour", lambda camera_id: None)
