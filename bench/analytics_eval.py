"""The rules against the simulator's ground truth: precision, recall and time to alert, per rule and per scenario.

    .venv/bin/python bench/analytics_eval.py                     # every scenario, both detectors, then vtest.avi
    .venv/bin/python bench/analytics_eval.py --quick             # one scenario, 320x180, 8 s of vtest.avi
    .venv/bin/python bench/analytics_eval.py --scenarios no_parking_stop queue --detectors truth

Every simulator scenario (``plugins/traffic_sim/scenarios.py``, seeded) is
rendered (cached under ``--sim-dir``), its loop played ``--loops`` times in a
row (remuxed; ``speeding`` at 10 fps, the rest at ``--fps``) and run through
the offline harness of ``bconnect analyze`` (``core/cli_analyze.py``: the
deployment's detector, the tracker, the scenario's zones from its truth file,
a lane's direction as it is there, plus accident_watch's projected lanes and
queue/stop-line zones where the truth has no lanes, every enabled analyzer
plugin; etle_rules gets the truth camera's signal head and speed lines,
crime_watch thresholds for 30 s loops) twice: with the ground-truth detector (``plugins/truth_detector``: the
rules apart from the detector's misses) and with the default detector
(``vision_onnx``, CPU, its defaults). The deployment enables every rule plugin
of :data:`RULES` that is installed (its manifest provides an analyzer); a rule
whose plugin is not installed shows as "not installed".

The emitted events are matched to the truth's events through :data:`RULES`
(truth event type -> rule plugin, event kind, window), once per loop: a
truth event is due at its start plus the rule's wait (parking: the dwell
threshold; crime_watch: loiter_s, crowd_s), if the event lasts that long; an
emitted event of the rule's kind inside the window (from ``before_s`` before
the due time to ``after_s`` after it, or after the truth event's end) is a
hit (the nearest to the due time, each used once), the rest are false
alerts, but for a loitering alert on a person who, by the truth, stood in the
alert's zone for ``loiter_s`` up to it (:func:`loiterer_in_truth`: the rule's
definition met by someone the scenario did not cast as a loiterer, at the
short threshold of 30 s loops): counted apart as ``justified``. A missed
event whose alert came after its window but while the event went on is
counted ``late`` too (it stays a miss and a false alert). Scenarios
without truth events are hard negatives: every other event there is a false
alert. Time to alert is the event's stream time minus the due time
(negative: early).

Then real footage: ``vtest.avi`` (``data/footage/vtest.mp4``, else Debian's
avi) with the default detector and ``deploy/demo-zones/vtest.json`` (a
no-parking zone over its parked van and car): the events found, by kind (no
truth: counts only).

One table, then one JSON line: ``{"rules": [{"detector", "rule", "plugin",
"status", "due", "alerts", "tp", "fp", "fn", "precision", "recall",
"tta_mean_s", "tta_max_s", "justified", "late"}], "scenarios": [per detector, scenario and rule,
the same keys plus "scenario", "negative"], "false_alerts_on_negatives": {detector: n},
"unobservable": [{"scenario", "type", "objects"}: speeders hidden where they crossed a line, not due],
"vtest": {"video", "events", "frames", "seconds"}, "settings": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.analytics.assignment import iou  # noqa: E402
from core.analytics.zone_file import export_zones  # noqa: E402
from core.analytics.zones import CameraZones, Zone  # noqa: E402
from core.cli import _load  # noqa: E402
from core.cli_analyze import analyze, prepare  # noqa: E402
from core.manifest import discover  # noqa: E402
from plugins.traffic_sim import cache  # noqa: E402
from plugins.traffic_sim.renderer import RenderSpec  # noqa: E402
from plugins.traffic_sim.scenarios import SCENARIOS  # noqa: E402
from plugins.truth_detector.replay import TruthReplay  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from support.accident_pipeline import zones_of as accident_zones  # noqa: E402


@dataclass(frozen=True)
class Expect:
    """What a truth event of one type must give: an event of ``kind`` from ``plugin``, inside a window.

    The event is due at its start plus ``wait`` (a config value of the rule: :func:`waits`), and only if the
    truth event lasts that long within the file. A hit lies from ``before_s`` before the due time to ``after_s``
    after it, or, with ``until_end``, to ``after_s`` after the truth event's end (a window can be asymmetric).
    """

    plugin: str
    kind: str
    before_s: float
    after_s: float
    wait: str | None = None  # "dwell" (parking), "loiter_s", "crowd_s" (crime_watch): due that long after the start
    until_end: bool = False  # the window runs to the truth event's end plus after_s


# truth event type -> the rule that must fire, as each rule's engineer reported it (docs/rules.md, each rule's
# "For the evaluation"). Hard negatives (no truth events): bus_stop, stop_line_stop, queue, red_light_wait,
# crossing_wait, delivery_stop, free_flow.
RULES: dict[str, Expect] = {
    "no_parking_stop": Expect("parking_rule", "parking.violation", 3.0, 3.0, wait="dwell"),
    "red_light": Expect("etle_rules", "red_light.violation", 1.0, 1.5, until_end=True),
    "wrong_way": Expect("etle_rules", "sign.violation", 0.0, 0.0, until_end=True),
    "speeding": Expect("etle_rules", "speed.violation", 1.0, 1.5, until_end=True),
    "collision": Expect("accident_watch", "accident.suspected", 0.0, 5.0),  # within 5 s after the impact
    "person_down": Expect("accident_watch", "accident.suspected", 0.0, 5.0),
    "loiter": Expect("crime_watch", "crime.loitering", 3.0, 3.0, wait="loiter_s"),
    "crowd": Expect("crime_watch", "crime.crowd", 8.0, 8.0, wait="crowd_s"),
    "running": Expect("crime_watch", "crime.running", 3.0, 3.0),
}
# crime_watch's thresholds for the simulator's 30 s loops (tests/support/crime_pipeline.py's test_config)
CRIME = {"loiter_s": 20.0, "loiter_windows": [], "crowd_s": 3.0, "crowd_clear_s": 3.0}
SCENARIO_FPS = {"speeding": 10}  # speed needs 10 frames a second (etle_rules' fps)


def waits(dwell_s: float) -> dict[str, float]:
    return {"dwell": dwell_s, "loiter_s": CRIME["loiter_s"], "crowd_s": CRIME["crowd_s"]}


def _toml(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items() if x is not None) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(float(v)) if isinstance(v, float) else str(v)


def plugin_tables(dwell_s: float, doc: dict | None = None) -> dict[str, str]:
    """Each rule plugin's config for the evaluation (TOML body of its table); absent: its defaults.

    ``doc``: the scenario's truth; etle_rules gets the truth camera's signal head and, where calibrated, its
    speed lines (tests/support/etle_pipeline.py's fixtures_of).
    """
    tables = {
        "parking_rule": f'dwell_s = {dwell_s}\nwindows = [{{ start = "00:00", end = "24:00" }}]',
        "crime_watch": "\n".join(f"{k} = {_toml(v)}" for k, v in CRIME.items()),
    }
    if doc is not None:
        fixtures = etle_fixtures(doc)
        body = [f"{key} = {_toml(fixtures[key])}" for key in ("signals", "speed_lines") if fixtures[key]]
        if body:
            tables["etle_rules"] = "\n".join(body)
    return tables


def _fraction(v: float, size: int) -> float:
    return min(max(v / size, 0.0), 1.0)


def etle_fixtures(doc: dict) -> dict:
    """The etle_rules ``signals`` and ``speed_lines`` of the truth's camera (fractions), as its tests build them."""
    w, h = doc["width"], doc["height"]
    out: dict = {"signals": [], "speed_lines": []}
    head = doc.get("signal_head")
    if head:
        x1, y1, x2, y2 = head["box"]
        out["signals"].append({"camera": SIM_CAMERA, "box": [_fraction(x1, w), _fraction(y1, h), _fraction(x2, w), _fraction(y2, h)]})
    cal = doc.get("calibration")
    if cal:
        first, second = ([{"x": _fraction(x, w), "y": _fraction(y, h)} for x, y in line] for line in cal["lines"])
        out["speed_lines"].append({"camera": SIM_CAMERA, "first": first, "second": second, "distance_m": cal["distance_m"],
                                   "limit_kmh": cal.get("limit_kmh")})
    return out


VTEST_CANDIDATES = (REPO / "data" / "footage" / "vtest.mp4", Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"))
VTEST_ZONES = REPO / "deploy" / "demo-zones" / "vtest.json"
SIM_CAMERA = "sim"


def installed_rules() -> dict[str, bool]:
    """Rule plugin -> installed (a manifest that provides an analyzer)."""
    found = discover()
    out = {}
    for expect in RULES.values():
        a = found.get(expect.plugin)
        out[expect.plugin] = a is not None and a.manifest is not None and "analyzer" in a.manifest.provides
    return out


def deployment(data_dir: Path, detector: str, truth: Path | None, rules: dict[str, bool], dwell_s: float,
               doc: dict | None = None) -> str:
    tables = plugin_tables(dwell_s, doc)
    lines = [
        "[deployment]", 'name = "analytics-eval"', 'timezone = "Asia/Makassar"', "",
        "[server]", f'data_dir = "{data_dir.as_posix()}"', "",
    ]
    if detector == "truth":
        lines += ["[plugins.truth_detector]", f'truth_files = ["{truth.as_posix()}"]', ""]
    else:
        lines += ["[plugins.vision_onnx]", 'providers = ["cpu"]', ""]
    for plugin in sorted(p for p, ok in rules.items() if ok):
        lines += [f"[plugins.{plugin}]", tables.get(plugin, ""), ""]
    return "\n".join(lines)


def sim_zones(truth: Path) -> CameraZones:
    """The truth file's zones (pixels) as the camera's zones (fractions of the picture, a lane's direction as is).

    A truth without lanes (the street scenarios) also gets accident_watch's: both carriageways projected through
    the truth's camera, and the scenario's queue_area / stop_line (tests/support/accident_pipeline.py's zones_of).
    """
    replay = TruthReplay.load(truth)
    doc, w, h = replay.doc, replay.width, replay.height
    zones = [
        Zone.model_validate({
            "id": z["id"], "name": z["id"], "kind": z["kind"], "direction": z.get("direction"),
            "points": [(_fraction(x, w), _fraction(y, h)) for x, y in z["polygon"]],
        })
        for z in doc["zones"]
    ]
    if not any(z.kind.value == "traffic_lane" for z in zones):
        ids = {z.id for z in zones}
        zones += [z for z in accident_zones(replay) if z.id not in ids]
    return CameraZones(camera=SIM_CAMERA, zones=tuple(zones))


def looped(video: Path, loops: int, out: Path) -> Path:
    """The rendered loop ``loops`` times in a row, remuxed (no re-encoding) into ``out``."""
    if loops <= 1:
        return video
    import av

    with av.open(str(video)) as src, av.open(str(out), "w") as dst:
        ins = src.streams.video[0]
        outs = dst.add_stream_from_template(ins)
        packets = [p for p in src.demux(ins) if p.dts is not None]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        for loop in range(loops):
            for p in packets:
                p.pts += span if loop else 0
                p.dts += span if loop else 0
                p.stream = outs
                dst.mux(p)
    return out


class CachedDetector:
    """The deployment's detector, its answers kept in a JSON file, frame by frame in call order, and replayed.

    For tuning the tracker and the rules: the default detector costs seconds a frame on two cores, the
    rules milliseconds. A cache belongs to one rendered loop (its file name carries the render's hash) and fps;
    a video that plays the loop several times replays it in turn (the loops are the same packets). A changed
    renderer is a new file; a changed model is not: delete the folder. The model's input size is kept with the
    answers, so that the close-ups (core/analytics/closeups.py) plan the same squares when replayed.
    """

    def __init__(self, inner, path: Path) -> None:
        self.inner, self.path, self.name = inner, path, inner.name
        saved = json.loads(path.read_text()) if path.is_file() else {}
        if isinstance(saved, list):  # written before the input size was kept: close-ups cannot replay from it
            saved = {"frames": saved}
        self.frames: list[list] = saved.get("frames", [])
        self.input_size = tuple(saved.get("input_size") or (0, 0))  # the model's, for the close-ups' squares
        self.replaying, self.calls = bool(self.frames), 0

    async def detect(self, frames):
        from core.analytics.detector import Detection

        out = []
        for frame in frames:
            if self.replaying:
                out.append([Detection(*d) for d in self.frames[self.calls % len(self.frames)]])
            else:
                found = (await self.inner.detect([frame]))[0]
                self.input_size = tuple(self.inner.info().input_size)
                self.frames.append([[d.label, d.score, d.x1, d.y1, d.x2, d.y2] for d in found])
                self.replaying = False
                out.append(found)
            self.calls += 1
        return out

    def info(self):
        import dataclasses

        info = self.inner.info()
        return dataclasses.replace(info, input_size=self.input_size) if min(self.input_size) > 0 else info

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def save(self) -> None:
        if not self.replaying:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"input_size": list(self.input_size), "frames": self.frames}))


def run_analyze(config: Path, video: Path, zones: Path, camera: str, fps: float, duration: float | None,
                cache_file: Path | None = None) -> tuple[list[dict], dict]:
    """``bconnect analyze VIDEO --config F --json --zones Z``, in this process: (event lines, summary).

    ``cache_file``: the detector's answers are read from it when it exists, else written to it.
    """
    args = argparse.Namespace(video=str(video), config=str(config), json=True, zones=str(zones), camera=camera, preset=None,
                              fps=fps, every=None, duration=duration, detector=None)
    run = prepare(args, _load)
    cached = None
    if cache_file is not None:
        cached = run.detector = CachedDetector(run.detector, cache_file)
    out = io.StringIO()
    asyncio.run(analyze(run, out))
    if cached is not None:
        cached.save()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    return [r for r in records if r["type"] == "event"], records[-1]


Due = tuple[float, float, float, float]  # due stream time, earliest and latest hit, the truth event's end


def unobservable(doc: dict, ev: dict) -> bool:
    """Was a speeder hidden from the camera where it crossed one of the calibration's two lines?

    The simulator writes a speeding event from the world, whether or not the camera saw it: on seeds 808 and
    909 a truck drove alongside the speeder, under half visible (the truth's ``visible``) as it crossed the
    second line, and the ground-truth detector (a perfect one, which hides what is covered) missed it too.
    Such an event is not due. A crossing is the frame where the bottom centre of the speeder's box passes
    the line; it is seen if the speeder is at least half visible in that frame or the one before.
    """
    if ev["type"] != "speeding" or not doc.get("calibration"):
        return False
    (oid,) = ev["objects"][:1]
    track = [(k, o) for k, f in enumerate(doc["frames"]) for o in f["objects"] if o["id"] == oid]
    for (ax, ay), (bx, by) in doc["calibration"]["lines"]:
        def side(o: dict) -> float:
            x1, _, x2, y2 = o["bbox"]
            return (bx - ax) * (y2 - ay) - (by - ay) * ((x1 + x2) / 2 - ax)
        crossed = next((i for i in range(1, len(track)) if track[i][0] == track[i - 1][0] + 1
                        and side(track[i - 1][1]) * side(track[i][1]) <= 0), None)
        if crossed is not None and max(track[i][1].get("visible", 1.0) for i in (crossed - 1, crossed)) < 0.5:
            return True
    return False


def due_times(doc: dict, dwell_s: float, loop_s: float, loops: int) -> dict[str, list[Due]]:
    """Event kind -> (due, earliest, latest, end) of each truth event, once per loop, that falls within the run and
    that the camera could see (:func:`unobservable`)."""
    out: dict[str, list[Due]] = {}
    wait_s = waits(dwell_s)
    for loop in range(loops):
        base = loop * loop_s
        for ev in doc["events"]:
            expect = RULES.get(ev["type"])
            if expect is None or unobservable(doc, ev):
                continue
            wait = wait_s[expect.wait] if expect.wait else 0.0
            due = base + ev["start_s"] + wait
            if expect.wait and ev["start_s"] + wait > ev["end_s"]:
                continue  # the stay is shorter than the rule's wait: nothing is due
            latest = (base + ev["end_s"] if expect.until_end else due) + expect.after_s
            if due - expect.before_s < loops * loop_s and due < loops * loop_s:
                out.setdefault(expect.kind, []).append((due, due - expect.before_s, latest, base + ev["end_s"]))
    return out


def _inside(point: tuple[float, float], polygon: list[list[float]]) -> bool:
    """Ray casting: is the point inside the polygon (pixels)?"""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def loiterer_in_truth(doc: dict, event: dict, loiter_s: float) -> bool:
    """Is a loitering alert on a person who, by the truth, stood in its zone ``loiter_s`` or longer?

    The truth's events name the loiterers a scenario is built around, but the rule's definition (in a watched
    area longer than ``loiter_s``) also fits others at the evaluation's short threshold for 30 s loops: a member of
    the crowd who stands 25 s, a walker pacing to and fro on a watched sidewalk. Such an alert is true, not
    false, and it is neither: it is counted apart ("justified"). A person is the truth object of class person
    whose box overlaps the alert's (IoU >= 0.3) at its frame; in the zone, their box's bottom centre in the
    zone's polygon in every frame of the ``loiter_s`` before.
    """
    boxes = event.get("detail", {}).get("boxes") or []
    zone = next((z for z in doc.get("zones", []) if z["id"] == event.get("zone")), None)
    if not boxes or zone is None:
        return False
    people = {o["id"] for o in doc["objects"] if o["class"] == "person"}
    fps, frames = float(doc["fps"]), doc["frames"]
    end = int(round(event["t"] * fps))
    start = end - int(round(loiter_s * fps))
    if start < 0 or end >= len(frames):
        return False  # a stay across the loop's seam is the loop's, not a person's
    for obj in frames[end]["objects"]:
        if obj["id"] not in people or iou(obj["bbox"], boxes[0]) < 0.3:
            continue
        stayed = True
        for k in range(start, end + 1):
            box = next((o["bbox"] for o in frames[k]["objects"] if o["id"] == obj["id"]), None)
            if box is None or not _inside(((box[0] + box[2]) / 2, box[3]), zone["polygon"]):
                stayed = False
                break
        if stayed:
            return True
    return False


def match(due: list[Due], alerts: list[float]) -> tuple[int, list[float], int, list[float], int]:
    """(tp, the alerts no due event took, fn, alert minus due per hit, late): each due event takes the nearest
    unused alert inside its window; ``late`` counts the missed ones that an alert left over came for after the
    window but while the truth event went on (still a false alert and a miss: the count only says why)."""
    left = sorted(alerts)
    delays, missed = [], []
    for d, lo, hi, end in sorted(due):
        near = [t for t in left if lo <= t <= hi]
        if near:
            hit = min(near, key=lambda t: abs(t - d))
            left.remove(hit)
            delays.append(hit - d)
        else:
            missed.append((hi, end))
    spare, late = list(left), 0
    for hi, end in missed:
        after = next((t for t in spare if hi < t <= end), None)
        if after is not None:
            spare.remove(after)
            late += 1
    return len(delays), left, len(due) - len(delays), delays, late


def figures(tp: int, fp: int, fn: int, delays: list[float]) -> dict:
    return {
        "due": tp + fn, "alerts": tp + fp, "tp": tp, "fp": fp, "fn": fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "tta_mean_s": round(sum(delays) / len(delays), 2) if delays else None,
        "tta_max_s": round(max(delays), 2) if delays else None,
    }


def evaluate(args) -> dict:
    rules = installed_rules()
    kinds = {e.kind: (name, e) for name, e in RULES.items()}
    width, height = (int(v) for v in args.size.split("x"))
    scen_rows, totals = [], {}
    negatives = {d: 0 for d in args.detectors}
    hidden: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="analytics-eval-") as tmp:
        tmp_dir = Path(tmp)
        for name in args.scenarios:
            fps = SCENARIO_FPS.get(name, args.fps) if not args.quick else args.fps
            spec = RenderSpec(name, args.seed, width=width, height=height, fps=fps, loop_seconds=args.loop_seconds)
            rendered = cache.render(spec, Path(args.sim_dir))
            doc = json.loads(rendered.truth.read_text())
            zone_file = tmp_dir / f"{name}.zones.json"
            zone_file.write_text(export_zones(sim_zones(rendered.truth)))
            video = looped(rendered.video, args.loops, tmp_dir / f"{name}-x{args.loops}.mp4")
            due = due_times(doc, args.dwell, args.loop_seconds, args.loops)
            hidden += [{"scenario": name, "type": ev["type"], "objects": ev["objects"]}
                       for ev in doc["events"] if unobservable(doc, ev)]
            negative = not doc["events"]
            for detector in args.detectors:
                config = tmp_dir / f"{name}-{detector}.toml"
                config.write_text(deployment(tmp_dir / "data", detector, rendered.truth, rules, args.dwell, doc))
                started = time.perf_counter()
                cache_file = None
                if args.detections_cache and detector == "default":
                    cache_file = Path(args.detections_cache) / f"{rendered.video.stem}-{fps}fps.json"
                events, summary = run_analyze(config, video, zone_file, SIM_CAMERA, fps, None, cache_file)
                seconds = round(time.perf_counter() - started, 1)
                by_kind: dict[str, list[float]] = {}
                for e in events:
                    by_kind.setdefault(e["kind"], []).append(e["t"])
                for kind in sorted(set(by_kind) | set(due)):
                    rule, expect = kinds.get(kind, (None, None))
                    label = expect.plugin if expect else f"other: {kind}"
                    status = "ok" if expect is None or rules[expect.plugin] else "not installed"
                    tp, left, fn, delays, late = match(due.get(kind, []), by_kind.get(kind, []))
                    justified = 0
                    if kind == RULES["loiter"].kind:
                        for e in events:
                            if e["kind"] == kind and e["t"] in left and loiterer_in_truth(doc, e, CRIME["loiter_s"]):
                                left.remove(e["t"])
                                justified += 1
                    fp = len(left)
                    if negative:
                        negatives[detector] += fp
                    row = {"detector": detector, "scenario": name, "negative": negative, "rule": label, "kind": kind, "status": status,
                           **figures(tp, fp, fn, delays), "justified": justified, "late": late, "seconds": seconds,
                           "frames": summary["frames_analysed"]}
                    scen_rows.append(row)
                    if status == "ok":
                        t = totals.setdefault((detector, label), [0, 0, 0, [], 0, 0])
                        t[0] += tp
                        t[1] += fp
                        t[2] += fn
                        t[3] += delays
                        t[4] += justified
                        t[5] += late
                for kind in sorted({ev["type"] for ev in doc["events"] if ev["type"] not in RULES}):
                    scen_rows.append({"detector": detector, "scenario": name, "negative": negative, "rule": f"truth {kind}",
                                      "status": "no rule line", **figures(0, 0, 0, []), "seconds": seconds,
                                      "frames": summary["frames_analysed"]})
                if not by_kind and not due and not doc["events"]:  # a quiet scenario: say so, as a row
                    scen_rows.append({"detector": detector, "scenario": name, "negative": negative, "rule": "-", "status": "ok",
                                      **figures(0, 0, 0, []), "seconds": seconds, "frames": summary["frames_analysed"]})
        rule_rows = []
        for detector in args.detectors:
            for plugin in sorted({e.plugin for e in RULES.values()}):
                if not rules[plugin]:
                    rule_rows.append({"detector": detector, "rule": plugin, "plugin": plugin, "status": "not installed",
                                      **figures(0, 0, 0, [])})
                    continue
                tp, fp, fn, delays, justified, late = totals.get((detector, plugin), [0, 0, 0, [], 0, 0])
                rule_rows.append({"detector": detector, "rule": plugin, "plugin": plugin, "status": "ok",
                                  **figures(tp, fp, fn, delays), "justified": justified, "late": late})
            for (d, label), (tp, fp, fn, delays, justified, late) in sorted(totals.items()):
                if d == detector and label.startswith("other: "):
                    rule_rows.append({"detector": d, "rule": label, "plugin": None, "status": "ok",
                                      **figures(tp, fp, fn, delays), "justified": justified, "late": late})
        vtest = run_vtest(tmp_dir, rules, args) if not args.skip_vtest else None
    return {"rules": rule_rows, "scenarios": scen_rows, "false_alerts_on_negatives": negatives, "unobservable": hidden,
            "vtest": vtest}


def run_vtest(tmp_dir: Path, rules: dict[str, bool], args) -> dict | None:
    video = next((p for p in VTEST_CANDIDATES if p.is_file()), None)
    if video is None:
        return None
    config = tmp_dir / "vtest.toml"
    config.write_text(deployment(tmp_dir / "data", "default", None, rules, args.dwell))
    started = time.perf_counter()
    events, summary = run_analyze(config, video, VTEST_ZONES, "vtest", args.fps, args.vtest_seconds)
    found: dict[str, int] = {}
    for e in events:
        found[e["kind"]] = found.get(e["kind"], 0) + 1
    return {"video": str(video.relative_to(REPO) if video.is_relative_to(REPO) else video), "events": found,
            "first_s": {k: min(e["t"] for e in events if e["kind"] == k) for k in found},
            "frames": summary["frames_analysed"], "detections": summary["detections"],
            "seconds": round(time.perf_counter() - started, 1)}


def fmt(v) -> str:
    return "-" if v is None else (f"{v:+.2f}" if isinstance(v, float) and not isinstance(v, bool) else str(v))


def table(result: dict) -> None:
    rows = [(r["detector"], r["rule"], r) for r in result["rules"]]
    rows += [(r["detector"], f"  {r['scenario']}{' (negative)' if r['negative'] else ''}: {r.get('kind', r['rule'])}", r)
             for r in result["scenarios"]]
    width = max(34, *(len(label) for _, label, _ in rows))
    head = (f"{'detector':<8} {'rule / scenario: event kind':<{width}} {'due':>4} {'alerts':>6} {'tp':>3} {'fp':>3} {'fn':>3}"
            f" {'prec':>6} {'recall':>6} {'tta mean':>8} {'tta max':>8} {'justified':>9} {'late':>4}")
    print(head)
    for detector, label, r in sorted(rows, key=lambda x: (x[0], x[1].startswith("  "))):
        if r["status"] != "ok":
            print(f"{detector:<8} {label:<{width}} {r['status']}")
            continue
        p = "-" if r["precision"] is None else f"{r['precision']:.3f}"
        rc = "-" if r["recall"] is None else f"{r['recall']:.3f}"
        print(f"{detector:<8} {label:<{width}} {r['due']:>4} {r['alerts']:>6} {r['tp']:>3} {r['fp']:>3} {r['fn']:>3} {p:>6} {rc:>6}"
              f" {fmt(r['tta_mean_s']):>8} {fmt(r['tta_max_s']):>8} {r.get('justified', 0):>9} {r.get('late', 0):>4}")
    print(f"false alerts on hard negatives: {result['false_alerts_on_negatives']}")
    for ev in result["unobservable"]:
        print(f"not due, hidden from the camera: {ev['scenario']} {ev['type']} ({', '.join(ev['objects'])})")
    v = result["vtest"]
    if v is not None:
        print(f"vtest ({v['video']}, default detector, no-parking zone over the parked vehicles, {v['frames']} frames): "
              f"events {v['events'] or 'none'}, first at {v['first_s']} s; detections {v['detections']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--detectors", nargs="*", default=["truth", "default"], choices=["truth", "default"])
    ap.add_argument("--size", default="1280x720", help="the simulator's picture (1280x720: the detector tiles it)")
    ap.add_argument("--fps", type=int, default=5, help="rendered and analysed frames a second")
    ap.add_argument("--loop-seconds", type=int, default=30)
    ap.add_argument("--loops", type=int, default=2, help="each rendered loop played this many times in a row")
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--dwell", type=float, default=10.0, help="parking threshold, s (the sim's car stands ~19 s)")
    ap.add_argument("--sim-dir", default=str(REPO / "bench" / "out" / "sim"))
    ap.add_argument("--vtest-seconds", type=float, default=None, help="analyse only the start of vtest.avi")
    ap.add_argument("--skip-vtest", action="store_true")
    ap.add_argument("--detections-cache", metavar="DIR",
                    help="keep the default detector's boxes per rendered video here and replay them on the next run "
                         "(for tuning the tracker and rules; delete it when the detector changes)")
    ap.add_argument("--quick", action="store_true",
                    help="no_parking_stop only, 320x180, a 12 s loop, a 5 s dwell, the first 8 s of vtest.avi")
    args = ap.parse_args(argv)
    if args.quick:
        args.scenarios, args.size, args.loop_seconds, args.dwell, args.loops = ["no_parking_stop"], "320x180", 12, 5.0, 1
        args.vtest_seconds = args.vtest_seconds or 8.0
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario {unknown[0]!r} (scenarios: {', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    logging.getLogger("bconnect").setLevel(logging.ERROR)
    started = time.perf_counter()
    result = evaluate(args)
    table(result)
    result["settings"] = {"size": args.size, "fps": args.fps, "loop_seconds": args.loop_seconds, "seed": args.seed,
                          "loops": args.loops, "dwell_s": args.dwell, "crime": CRIME, "scenario_fps": SCENARIO_FPS, "quick": args.quick, "seconds": round(time.perf_counter() - started, 1),
                          "table": {t: {"plugin": e.plugin, "kind": e.kind, "before_s": e.before_s, "after_s": e.after_s,
                                                    "wait": e.wait, "until_end": e.until_end} for t, e in RULES.items()}}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
