"""End to end through every sink: a simulated car parks in a no-parking zone -> the parking rule's violation
-> an officer's review and the ladder -> the ETLE confirmation letter (opened and read), the Kejaksaan
export (``verify-export`` accepts it) and the MQTT messages a real subscriber receives from a real Mosquitto.

The detection side runs offline and fast: the simulator's scenario (rendered once, small, cached under
tests/_generated/) replayed as detections through the real tracker and the real parking rule
(``support.parking_pipeline``; tests/test_parking_pipeline.py runs the same over RTSP). Its violation is
published, with a snapshot cut from the rendered video, on Polri's ETLE camera of a running app; from
there everything is the product's: the violation workflow, the officer's plate entry, verification and
ladder step over HTTP, the ETLE sink, the registry lookup and the letter, the prosecutor's export and its
offline check, and the MQTT sink (personal data left out).
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
from support.mosquitto import mosquitto, sink, subscriber  # noqa: F401  (fixture)
from support.violations import headers

from core.clock import FakeClock
from core.config import load_file
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.testing.app import running_app
from core.violations.models import Violation
from plugins.kejaksaan_export import signing
from plugins.kejaksaan_export.verify import verify
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec

GENERATED = Path(__file__).resolve().parent / "_generated" / "sim"
EXPORT = """
[access.kejaksaan]
cameras = []
data = ["polri"]

[plugins.kejaksaan_export]
agencies = ["polri"]
target = "exports/kejaksaan"
"""
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


async def test_a_simulated_parked_car_becomes_a_letter_an_export_and_mqtt_messages(scene, make_deployment, tmp_path,
                                                                                    mosquitto):  # noqa: F811
    found = pipeline.run(scene.truth, 10.0, loops=1)
    assert len(found.violations) == 1
    truth = json.loads(Path(scene.truth).read_text())
    parker = next(o for o in truth["objects"] if o["id"] in truth["events"][0]["objects"])
    registry = tmp_path / "registry.toml"  # the demo registry, with the simulated car's (fictional) owner
    registry.write_text(f'demo = true\n[[vehicles]]\nplate = "{parker["plate_text"]}"\nowner_name = "Sim Pemilik (DEMO)"\n'
                        'owner_address = "Jl. Simulasi 1 (DEMO)"\nmake = "Daihatsu"\nvehicle_type = "Xenia"\ncolour = "Abu-abu"\n')
    deployment = make_deployment(ETLE_DEPLOYMENT + f'registry_file = "{registry.as_posix()}"\n' + EXPORT
                                 + sink(mosquitto.port))
    cfg = load_file(deployment.path)
    violation = dataclasses.replace(found.violations[0], camera_id="etle-bm-1")  # the rule ran on the simulator's feed
    async with running_app(cfg) as (app, client), subscriber(mosquitto.port, "bconnect/violations") as mqtt:
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

        # the prosecutor's export of the same case, checked offline as the prosecutor would
        jaksa = await headers("jaksa", "prosecutor", "kejaksaan")
        r = await client.post("/api/kejaksaan_export/exports", headers=jaksa)
        assert r.status_code == 202 and r.json()["batch"]["cases"] == 1, r.text
        name = r.json()["batch"]["name"]

        async def complete():
            batch = (await client.get(f"/api/kejaksaan_export/exports/{name}", headers=jaksa)).json()
            return batch if batch["state"] == "complete" else None

        await eventually(complete, what="the export")
        folder = deployment.data_dir / "exports" / "kejaksaan" / name
        pub = tmp_path / "kejaksaan.pub"
        pub.write_text((await client.get("/api/kejaksaan_export/public-key", headers=jaksa)).text)
        assert verify(folder, signing.load_public(pub)) == []
        case = json.loads((folder / "cases.json").read_text())["cases"][0]
        assert case["violation_id"] == v.id and case["violator"]["plate"] == parker["plate_text"].replace(" ", "")
        assert case["investigator"]["name"] == "Bripka Contoh"

        # the MQTT subscriber got the verified violation, without the plate or the officer
        got = await eventually(lambda: _mqtt(mqtt), what="the MQTT message")
        assert got["type"] == "verified" and got["after"]["camera"] == "etle-bm-1", got
        flat = json.dumps(got)
        assert parker["plate_text"].replace(" ", "") not in flat and "Bripka Contoh" not in flat


async def _mqtt(mqtt):
    return next(iter(mqtt.json("bconnect/violations")), None)
