"""The plate reader with the real OCR (rapidocr-onnxruntime's PP-OCR models, CPU) on plates with known truth.

Truth comes from the traffic simulator's own plate art and rendered street frames
(``tests/support/plate_crops.py``), and from Debian opencv-doc's ``licenseplate_motion.jpg``.
Floors sit below what ``bench/plates.py`` measured, so that they catch a regression, not noise.
"""

from __future__ import annotations

import asyncio
import os
import threading

import numpy as np
import pytest

from core.media.frame_decode import FRAME_NICE
from plugins.plate_reader.config import Config
from plugins.plate_reader.plugin import PlateReaderPlugin
from plugins.plate_reader.reader import PlateReader, ReaderBusy
from plugins.traffic_sim.plates import Plate
from tests.support.plate_crops import LICENSEPLATE_MOTION, art_crop, art_track, licenseplate_motion, scene_tracks

pytest.importorskip("rapidocr_onnxruntime")


@pytest.fixture(scope="module")
def reader():
    r = PlateReader(Config())
    r.warm()
    yield r
    r.close()


def _score(reader, tracks):
    reads = [reader.read_track_blocking(t.crops, t.vehicle_class) for t in tracks]
    right = [r.text == t.truth for r, t in zip(reads, tracks)]
    ready = [ok for ok, r in zip(right, reads) if r.ticket_ready]
    return sum(right) / len(tracks), ready, reads


def test_rendered_plate_art_is_read_and_ticket_ready_reads_are_right(reader):
    rng = np.random.default_rng(2024)
    grid = [(w, b, t) for w in (48, 72, 120) for b in (0.0, 0.8) for t in (0.0, 0.5)]
    tracks = [art_track(rng, *grid[i % len(grid)], frames=3) for i in range(12)]
    accuracy, ready, _ = _score(reader, tracks)
    assert accuracy >= 0.75
    assert len(ready) >= 4 and all(ready)  # every ticket-ready read is exactly right


def test_plates_cut_from_simulated_street_frames(reader):
    tracks = scene_tracks(101, step=6, scenario="no_parking_stop")
    assert len(tracks) >= 10
    accuracy, ready, reads = _score(reader, tracks)
    assert accuracy >= 0.4  # the truth ignores occlusion: some plates are half hidden behind other cars
    assert ready and all(ready)
    parker = next(r for r, t in zip(reads, tracks) if t.truth == "KT1362")  # the parked MPV, near the camera
    assert parker.text == "KT1362" and parker.colour == "black" and parker.ticket_ready


def test_a_clean_plate_is_ticket_ready_with_its_colour_and_agreement(reader):
    rng = np.random.default_rng(5)
    crops = [art_crop(Plate("KT", 1234, "AB"), "white", 110, 0.0, 0.0, rng) for _ in range(3)]
    read = reader.read_track_blocking(crops, "car")
    assert (read.text, read.display, read.colour, read.valid) == ("KT1234AB", "KT 1234 AB", "white", True)
    assert read.votes == read.frames == 3 and read.agreement == (1.0,) * 8
    assert read.confidence >= 0.8 and read.ticket_ready and read.reasons == ()


def test_a_plate_that_breaks_the_rules_goes_to_manual_entry_however_clear(reader):
    rng = np.random.default_rng(6)
    crops = [art_crop(Plate("KT", 2345, "AB"), "black", 110, 0.0, 0.0, rng) for _ in range(3)]
    read = reader.read_track_blocking(crops, "car")  # a motorcycle number on a car
    assert read.text == "KT2345AB" and read.colour == "black"
    assert not read.valid and read.needs_manual_entry and not read.ticket_ready
    assert "outside the car range 1-1999" in read.reasons[0]


def test_an_illegible_plate_goes_to_manual_entry(reader):
    rng = np.random.default_rng(7)
    crops = [art_crop(Plate("KT", 1234, "AB"), "white", 14, 2.5, 0.8, rng) for _ in range(3)]
    read = reader.read_track_blocking(crops, "car")
    assert read.needs_manual_entry and read.reasons


@pytest.mark.skipif(not __import__("os").path.exists(LICENSEPLATE_MOTION), reason="needs Debian's opencv-doc")
def test_licenseplate_motion_jpg_reads_right_but_is_no_tnkb(reader):
    as_shot = reader.read_track_blocking([licenseplate_motion(deblur=False)])
    assert as_shot.text == "" and as_shot.needs_manual_entry and as_shot.reasons == ("no text read",)
    read = reader.read_track_blocking([licenseplate_motion(deblur=True)])
    assert read.raw == "127-RFS" and read.text == "127RFS"  # the US plate as printed
    assert not read.valid and read.needs_manual_entry
    assert read.reasons[0].startswith("not in TNKB shape")


async def test_reads_run_off_the_event_loop_and_the_queue_is_bounded():
    reader = PlateReader(Config(max_pending=1))
    seen: list[str] = []
    nice: list[int] = []
    original = reader.read_track_blocking

    def spy(crops, vehicle_class=None):
        seen.append(threading.current_thread().name)
        nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return original(crops, vehicle_class)

    reader.read_track_blocking = spy
    rng = np.random.default_rng(8)
    crops = [art_crop(Plate("KT", 191, ""), "white", 90, 0.0, 0.0, rng)]
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    try:
        first = asyncio.create_task(reader.read_track(crops, "car"))
        await asyncio.sleep(0)
        with pytest.raises(ReaderBusy, match="max_pending 1"):
            await reader.read_track(crops, "car")
        read = await first
    finally:
        beat.cancel()
        reader.close()
    assert read.text == "KT191"
    assert seen and all(name.startswith("plate-reader") for name in seen)
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    # reads run behind live view, like the other analytics (nice +10, at most 19)
    assert nice and all(n == min(loop_nice + FRAME_NICE, 19) for n in nice)
    assert ticks >= 5  # the loop kept running while the sessions were built and the plate read
    health = reader.health()
    assert health["busy"] == 1 and health["tracks"] == 1 and health["pending"] == 0


async def test_plugin_warms_at_startup_and_reports_health():
    plugin = PlateReaderPlugin(Config(), context=None)
    assert plugin.bconnect_health(None)["status"] == "degraded"  # sessions not built yet
    await plugin.bconnect_startup(None)
    read = await plugin.reader.read_track([art_crop(Plate("KT", 8675, "E"), "white", 100, 0.0, 0.0, np.random.default_rng(1))], "truck")
    assert read.text == "KT8675E"
    health = plugin.bconnect_health(None)
    assert health["status"] == "ok" and health["tracks"] == 1 and health["ticket_ready"] + health["manual"] == 1
    await plugin.bconnect_shutdown(None)


def test_bench_runs_and_reports_ours_and_the_baseline():
    """A tiny ``bench/plates.py`` run: its final JSON line has every figure (not the timings' values)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "bench/plates.py", "--art", "2", "--frames", "1", "--seeds"],
        cwd=repo, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    art = result["sets"]["art"]
    assert art["tracks"] == 2
    for who in ("ours", "baseline"):
        assert {"accuracy", "ticket_ready", "precision", "manual", "ms_per_track", "ms_per_frame"} <= art[who].keys()
    assert set(art["ours"]["by_min_confidence"]) == {"0.5", "0.6", "0.7", "0.8", "0.9"}
    assert result["licenseplate_motion"]["deblurred"]["raw"] == "127-RFS"
