"""ETLE end to end: a simulated car parks in a no-parking zone -> the parking rule's violation -> an officer's
review and the ladder -> the confirmation letter, opened and read.

The detection side runs offline and fast: the simulator's scenario (rendered once, small, cached under
tests/_generated/) replayed as detections through the real tracker and the real parking rule
(``support.parking_pipeline``; tests/test_parking_pipeline.py runs the same over RTSP). Its violation is
published, with a snapshot cut from the rendered video, on Polri's ETLE camera of a running app; from
there everything is the product's: the violation workflow, the officer's plate entry, verification and
ladder step over HTTP, the ETLE sink, the registry lookup and the letter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from pathlib import Path

import av
import pytest
from PIL import Image
from pypdf import PdfReader
from support import parking_pipeline as pipeline
from support.etle import ETLE_DEPLOYMENT, eventually, plugin_of, ticket_in
from support.violations import headers

from core.clock import FakeClock
from core.config import load_file
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.testing.app import running_app
from core.violations.models import Violation
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec

GENERATED = Path(__file__).resolve().parent / "_generated" / "sim"
SPEC = RenderSpec("no_parking_stop", 101, width=320, height=180, fps=5, loop_seconds=30)


@pytest.fixture(scope="module")
def scene():
    return cache.render(SPEC, GENERATED)  # cached by the spec's hash: rendered once per checkout


def frame_at(video: Path, index: int) -> Image.Image:
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_image()
    raise AssertionError(f"{video} has no frame {index}")


async def test_a_simulated_parked_car_becomes_a_confirmation_letter(scene, make_deployment, tmp_path):
    found = pipeline.run(scene.truth, 10.0, loops=1)
    assert len(found.violations) == 1
    truth = json.loads(Path(scene.truth).read_text())
    parker = next(o for o in truth["objects"] if o["id"] in truth["events"][0]["objects"])
    registry = tmp_path / "registry.toml"  # the demo registry, with the simulated car's (fictional) owner
    registry.write_text(f'demo = true\n[[vehicles]]\nplate = "{parker["plate_text"]}"\nowner_name = "Sim Pemilik (DEMO)"\n'
                        'owner_address = "Jl. Simulasi 1 (DEMO)"\nmake = "Daihatsu"\nvehicle_type = "Xenia"\ncolour = "Abu-abu"\n')
    cfg = load_file(make_deployment(ETLE_DEPLOYMENT + f'registry_file = "{registry.as_posix()}"\n').path)
    violation = dataclasses.replace(found.violations[0], camera_id="etle-bm-1")  # the rule ran on the simulator's feed
    async with running_app(cfg) as (app, client):
        plugin_of(app).desk.clock = FakeClock(wall=violation.wall_time.timestamp() + 600)
        picture = await asyncio.to_thread(frame_at, scene.video, round(violation.best.stream_time * SPEC.fps))
        jpeg = draw_boxes(picture, [Box(*violation.best.box, label=f"{violation.label} {violation.dwell_s:.0f}s")])
        snapshot = await asyncio.to_thread(store_snapshot, app.state.services.data_dir, jpeg)
        event = await app.state.services.events.publish(violation.event(snapshot))
        v = await eventually(lambda: Violation.get_or_none(event_id=event.id), what="violation")
        h = await headers("pol", "officer", "polri")
        # no plate reader here: the officer reads the plate off the picture and enters it
        r = await client.patch(f"/api/violations/{v.id}/plate", json={"plate": parker["plate_text"], "note": "dari foto"},
                               headers=h)
        assert r.status_code == 200, r.text
        r = await client.post(f"/api/violations/{v.id}/verify", json={"officer_name": "Bripka Contoh"}, headers=h)
        assert r.status_code == 200 and r.json()["ladder_step"] == "teguran", r.text
        assert (await client.post(f"/api/violations/{v.id}/action", json={}, headers=h)).status_code == 200
        t = await ticket_in(v.id, "issued")
        r = await client.get(f"/api/polri_etle/tickets/{t.id}/letter", headers=h)
        assert r.status_code == 200
        reader = PdfReader(io.BytesIO(r.content))
        text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
        when = violation.wall_time.astimezone(pipeline.WITA)
        for expected in (t.reference, parker["plate_text"], "Daihatsu", "Xenia", "Abu-abu", "Sim Pemilik (DEMO)",
                         f"Senin, 5 Januari 2026 pukul {when:%H:%M:%S} WITA", "Pasal 287 ayat (3)", "Rp250.000",
                         "Selasa, 13 Januari 2026", snapshot.sha256):
            assert expected in text, expected
        assert sum(len(p.images) for p in reader.pages) == 1
