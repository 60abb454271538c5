"""``bconnect analyze VIDEO --config F [--json]``: the deployment's analytics over a video file.

For an integrator evaluating on their own footage. Builds the deployment's
plugins (no server, no camera, no database), takes the detector a plugin
registers, and runs detector -> tracker (-> zones of a zone file) over the
file's frames at the rate a camera would be analysed. ``--json`` prints one
JSON object a line: ``detection``, ``track``, ``zone`` (a track entering or
leaving a zone), ``event`` (from analyzers, see :func:`analyzer_step`) and a
final ``summary``; without it, a summary for people. Bad input (a missing or
undecodable video, no detector, a bad zone file) is one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from core.analytics import closeups
from core.analytics.closeups import CloseUps
from core.analytics.detector import Detection, Detector, FramesDropped
from core.analytics.tracker import Track, ViewTrackers
from core.analytics.video_file import FileFrame, FrameReader, VideoError, VideoInfo, probe
from core.analytics.zones import CameraZones

DEFAULT_CONFIG = "plugins.toml"  # as for ``bconnect serve``
DEFAULT_CAMERA = "file"

# an analyzer step: (frame, its detections, the view's tracks) -> the events analyzers emitted, JSON-ready
EventStep = Callable[[FileFrame, list[Detection], list[Track]], Awaitable[list[dict]]]  # AnalyzerStep is one


class AnalyzeError(Exception):
    """Bad input: printed as one ``error:`` line, exit status 2."""


def add_parser(sub, load: Callable[..., Any]) -> None:
    p = sub.add_parser(
        "analyze", help="run the deployment's detector and tracker over a video file (JSON lines with --json)"
    )
    p.add_argument("video", help="a video file PyAV reads (mp4, avi, mkv, ts ...)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="deployment file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON object a line: detections, tracks, zones, events")
    p.add_argument("--zones", metavar="ZONEFILE", help="a zone file (as exported): report tracks entering and leaving")
    p.add_argument("--camera", help="camera id the frames belong to (default: the zone file's, else 'file')")
    p.add_argument("--preset", help="the PTZ preset the footage shows (zones of that preset apply; default: none)")
    p.add_argument("--fps", type=float, default=5.0, help="frames a second analysed, by stream time (default: %(default)s)")
    p.add_argument("--every", type=int, metavar="N", help="analyse every N-th frame instead of --fps")
    p.add_argument("--duration", type=float, metavar="S", help="analyse only the first S seconds")
    p.add_argument("--detector", help="which detector, when plugins register several (default: the first)")
    p.set_defaults(func=lambda args: cmd_analyze(args, load))


def cmd_analyze(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.logs import setup_logging

    setup_logging("CRITICAL", json_logs=False)  # problems are printed once, below; stdout stays data
    try:
        run = prepare(args, load)
        return asyncio.run(analyze(run, sys.stdout))
    except (AnalyzeError, VideoError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (head, a pager): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


@dataclass
class Run:
    """One analysis: its input, its parts, and what it counted."""

    video: VideoInfo
    detector_name: str
    detector: Detector
    reader: FrameReader
    camera: str
    preset: str | None
    zones: CameraZones | None
    as_json: bool
    events: AnalyzerStep | None = None
    closeups: CloseUps = field(default_factory=CloseUps)  # the deployment's [analytics] closeup_* (as the server)
    analyzers: int = 0  # registered by the deployment's plugins
    detections: Counter = field(default_factory=Counter)
    track_labels: dict[int, str] = field(default_factory=dict)
    zone_entries: Counter = field(default_factory=Counter)
    event_count: int = 0
    dropped: int = 0
    frames: int = 0
    detect_s: float = 0.0
    track_s: float = 0.0
    wall_s: float = 0.0


def prepare(args: argparse.Namespace, load: Callable[..., Any]) -> Run:
    """Check every input before anything runs; :class:`AnalyzeError` naming the first problem."""
    from core.analytics.zone_file import ZoneFileError, import_zones
    from core.plugin_host import load_plugins

    if args.fps is not None and args.fps <= 0:
        raise AnalyzeError(f"--fps must be above 0, got {args.fps:g}")
    if args.every is not None and args.every < 1:
        raise AnalyzeError(f"--every must be 1 or more, got {args.every}")
    if args.duration is not None and args.duration <= 0:
        raise AnalyzeError(f"--duration must be above 0, got {args.duration:g}")
    video = probe(Path(args.video))
    zones = None
    if args.zones:
        path = Path(args.zones)
        try:
            zones = import_zones(path.read_bytes(), source=str(path))
        except OSError as exc:
            raise AnalyzeError(f"{path}: {exc.strerror or exc}") from None
        except ZoneFileError as exc:
            first = exc.problems[0]
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            raise AnalyzeError(f"{path}: {first}{more}") from None
        if args.camera and args.camera != zones.camera:
            raise AnalyzeError(f"{path}: the zone file is for camera {zones.camera!r}, not {args.camera!r}")
    camera = args.camera or (zones.camera if zones else DEFAULT_CAMERA)

    cfg = load(args.config)
    host = load_plugins(cfg)
    detectors = host.detectors()
    if not detectors:
        from core.analytics.detector import no_detector_reason

        raise AnalyzeError(f"{args.config}: {no_detector_reason()}")
    if args.detector:
        chosen = [(p, d) for p, d in detectors if args.detector in (p, d.name)]
        if not chosen:
            known = ", ".join(d.name for _, d in detectors)
            raise AnalyzeError(f"--detector {args.detector!r}: no such detector (registered: {known})")
        detectors = chosen
    plugin, detector = detectors[0]
    fps = None if args.every else args.fps
    return Run(
        video=video,
        detector_name=detector.name or plugin,
        detector=detector,
        reader=FrameReader(video.path, fps=fps, every=args.every, duration_s=args.duration),
        camera=camera,
        preset=args.preset,
        zones=zones,
        as_json=args.json,
        events=analyzer_step(host, cfg.deployment, camera, args.preset, zones, detector),
        closeups=CloseUps.of(cfg.deployment.analytics),
        analyzers=len(host.analyzers),
    )


def analyzer_step(
    host, deployment, camera: str, preset: str | None, zones: CameraZones | None = None, detector=None
) -> AnalyzerStep | None:
    """The deployment's analyzers over each analysed frame: their events, as JSON-ready dicts.

    The one place ``bconnect analyze`` meets analyzers (``host.analyzers``).
    ``None`` when no analyzer wants the file's camera; else an
    :class:`AnalyzerStep`.
    """
    from core.interfaces import Analyzer, CameraInfo, StreamSource

    info = CameraInfo(id=camera, name=camera, agency="", driver="file", main=StreamSource(url="file"))
    chosen = []
    for plugin, analyzer in host.analyzers:
        try:
            if isinstance(analyzer, Analyzer) and analyzer.wants(info):
                chosen.append((plugin, analyzer))
        except Exception:
            continue  # a plugin's failure is its own: the others still run
    if not chosen:
        return None
    from core.analytics.plates import PLATE_READER_HOOK, PlateService

    plates = PlateService.from_registered(host.registered.get(PLATE_READER_HOOK, []), host.report_failure)
    return AnalyzerStep(deployment, info, preset, zones, chosen, plates, detector)


class _Collected:
    """The event channel of ``bconnect analyze``: events are collected to be printed, never stored."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def publish(self, event):
        self.events.append(event)
        return event

    async def get(self, event_id: str):
        return next((e for e in self.events if e.id == event_id), None)

    def subscribe(self):
        raise RuntimeError("analyze: no live events")


class _NoClips:
    async def cut(self, camera_id: str, *, pre_s: float = 5.0, post_s: float = 5.0, name: str | None = None):
        raise RuntimeError("analyze: a file has no live video to cut evidence clips from")


class _NoViolations:
    """``bconnect analyze`` stores nothing: there is no violation to read or close."""

    async def get(self, violation_id: int):
        return None

    async def close(self, violation_id: int, by: str, note: str):
        raise RuntimeError("analyze: events are printed, not stored: there are no violations")


class _FileZones:
    def __init__(self, zones: CameraZones | None, tz: str) -> None:
        self._zones, self._tz = zones, tz

    def zones(self, camera_id: str, preset: str | None):
        return self._zones.for_preset(preset) if self._zones is not None else ()

    def active(self, camera_id: str, preset: str | None, when=None):
        when = when or datetime.now(UTC)
        return tuple(z for z in self.zones(camera_id, preset) if z.active_at(when, self._tz))

    def version(self, camera_id: str) -> int:
        return 1 if self._zones is not None else 0


class AnalyzerStep:
    """Feeds every chosen analyzer the contract's frame built from a file frame, with its tracks and zones.

    The frame's wall time is the run's start plus its stream time. Analyzers
    get a :class:`~core.services.PluginServices` whose event channel collects
    what they publish (printed as ``event`` lines, not stored), whose clips
    fail (a file has no live video: events come without a clip), whose plate
    reader is the deployment's (a ``plate_reader`` plugin, if enabled), whose second-look
    detector is the run's (``detector``), and whose
    data folder is a temporary one, removed at the end (snapshots are drawn,
    not kept).
    """

    def __init__(
        self, deployment, camera, preset: str | None, zones: CameraZones | None, analyzers, plates=None, detector=None
    ) -> None:
        import tempfile

        from core.services import DetectorLook, PluginServices

        self.camera, self.preset, self.analyzers = camera, preset, analyzers
        self.started = datetime.now(UTC)
        self._tmp = tempfile.TemporaryDirectory(prefix="bconnect-analyze-")
        self.zones = _FileZones(zones, deployment.deployment.timezone)
        self.channel = _Collected()
        self.services = PluginServices(
            deployment=deployment, data_dir=Path(self._tmp.name), cameras=None, ptz=None,
            clips=_NoClips(), events=self.channel, zones=self.zones, violations=_NoViolations(),
            **({"plates": plates} if plates is not None else {}), detector=DetectorLook(lambda: detector),
        )
        self.errors: Counter = Counter()

    async def __call__(self, frame: FileFrame, detections: list[Detection], tracks: list[Track]) -> list[dict]:
        from core.interfaces import AnalyzerContext
        from core.interfaces import Frame as CoreFrame

        wall = self.started + timedelta(seconds=frame.t)
        core_frame = CoreFrame(
            camera_id=self.camera.id, preset=self.preset, ptz=False, view=0, pts_s=frame.t, wall=wall,
            width=frame.width, height=frame.height, image=frame.image[..., ::-1],  # the contract's BGR
            seq=frame.index,
        )
        zones = self.zones.active(self.camera.id, self.preset, wall)
        before = asyncio.all_tasks()
        for plugin, analyzer in self.analyzers:
            ctx = AnalyzerContext(camera=self.camera, analyzer=analyzer.name, plugin=plugin, tracks=tuple(tracks),
                                  zones=zones, services=self.services)
            try:
                result = analyzer.process(core_frame, ctx)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                self.errors[analyzer.name] += 1
        spawned = asyncio.all_tasks() - before  # evidence an analyzer gathers in a task of its own
        if spawned:
            await asyncio.wait(spawned, timeout=30)
        return self.drain()

    def drain(self) -> list[dict]:
        events, self.channel.events = self.channel.events, []
        return [e.public() for e in events]

    def close(self) -> None:
        self._tmp.cleanup()


async def analyze(run: Run, out: TextIO) -> int:
    """Run the analysis, printing records as they come (``--json``) or a summary at the end."""
    trackers = ViewTrackers()
    tracker = trackers.get(run.camera, run.preset)
    zones = run.zones.for_preset(run.preset) if run.zones else ()
    inside: dict[int, set[str]] = {}  # track id -> the zones its ground point is in
    shown: dict[int, str] = {}  # track id -> the state last printed
    emit = (lambda rec: out.write(json.dumps(rec, separators=(",", ":")) + "\n")) if run.as_json else (lambda rec: None)
    started = time.perf_counter()
    try:
        async for frame in run.reader:
            t0 = time.perf_counter()
            try:
                detections = await closeups.detect(run.detector, frame.image, zones, run.closeups)
            except FramesDropped:
                run.dropped += 1
                continue
            except Exception as exc:
                if run.frames == 0:  # never ran: the detector cannot load (model file, provider)
                    raise AnalyzeError(f"detector {run.detector_name}: {_one_line(exc)}") from None
                raise
            t1 = time.perf_counter()
            tracks = tracker.update(detections, frame.t, frame.image.shape[1::-1])
            records = _records(frame, detections, tracks, zones, inside, shown, run)
            run.track_s += time.perf_counter() - t1
            run.detect_s += t1 - t0
            run.frames += 1
            for rec in records:
                emit(rec)
            if run.events is not None:
                for event in await run.events(frame, detections, tracks):
                    run.event_count += 1
                    emit({"type": "event", "frame": frame.index, "t": round(frame.t, 3), **event})
    finally:
        run.reader.close()
        if run.events is not None:
            run.events.close()
        close = getattr(run.detector, "close", None)
        if close is not None:  # this run loaded it: its threads, or a detector process, end with the run
            await asyncio.to_thread(close)
        run.wall_s = time.perf_counter() - started
    summary = summarize(run)
    if run.as_json:
        emit(summary)
    else:
        out.write(human(summary) + "\n")
    out.flush()
    return 0


def _records(frame: FileFrame, detections, tracks: list[Track], zones, inside, shown, run: Run) -> list[dict]:
    head = {"frame": frame.index, "t": round(frame.t, 3)}
    out: list[dict] = []
    for d in detections:
        run.detections[d.label] += 1
        out.append({"type": "detection", **head, "label": d.label, "score": round(d.score, 3), "box": _box(d.box)})
    alive = set()
    for tr in tracks:
        alive.add(tr.id)
        run.track_labels[tr.id] = tr.label
        if tr.state == "lost" and shown.get(tr.id) == "lost":
            continue  # a lost track is printed once, when it is lost
        shown[tr.id] = tr.state
        out.append({
            "type": "track", **head, "id": tr.id, "label": tr.label, "state": tr.state, "score": round(tr.score, 3),
            "box": _box(tr.box), "stationary_s": round(tr.stationary_s, 2), "speed": round(tr.speed, 1),
        })
        if tr.state != "tracked" or not zones:
            continue  # a lost track stays where it was last seen
        now = {z.id for z in zones if z.contains_box(tr.box, frame.width, frame.height)}
        before = inside.get(tr.id, set())
        for zone in zones:
            if zone.id in now and zone.id not in before:
                run.zone_entries[zone.id] += 1
                out.append(_zone(head, tr, zone, "enter"))
            elif zone.id in before and zone.id not in now:
                out.append(_zone(head, tr, zone, "leave"))
        inside[tr.id] = now
    for gone in [i for i in shown if i not in alive]:  # dropped by the tracker: it left every zone
        del shown[gone]
        for zone in zones:
            if zone.id in inside.get(gone, ()):
                out.append({"type": "zone", **head, "track": gone, "label": run.track_labels[gone], "zone": zone.id,
                            "kind": zone.kind.value, "action": "leave", "ended": True})
        inside.pop(gone, None)
    return out


def _zone(head: dict, tr: Track, zone, action: str) -> dict:
    return {"type": "zone", **head, "track": tr.id, "label": tr.label, "zone": zone.id, "kind": zone.kind.value,
            "action": action}


def _box(box) -> list[float]:
    return [round(float(v), 1) for v in box]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def summarize(run: Run) -> dict:
    info = run.detector.info()
    stats = run.reader.stats
    n = max(run.frames, 1)
    return {
        "type": "summary",
        "video": str(run.video.path),
        "codec": run.video.codec,
        "size": [run.video.width, run.video.height],
        "camera": run.camera,
        "preset": run.preset,
        "detector": {"name": run.detector_name, "model": info.model, "provider": info.provider,
                     "fallback": info.fallback_reason},
        "frames_decoded": stats.decoded,
        "frames_analysed": run.frames,
        "frames_dropped": run.dropped,
        "packets_undecodable": stats.undecodable,
        "detections": dict(run.detections.most_common()),
        "tracks": dict(Counter(run.track_labels.values()).most_common()),
        "zone_entries": dict(run.zone_entries),
        "events": run.event_count,
        "analyzers": run.analyzers,  # registered by the deployment's plugins
        "analyzers_run": run.events is not None,
        "ms_per_frame": {
            "detector": round(1000 * run.detect_s / n, 1),
            "tracker": round(1000 * run.track_s / n, 2),
            "decode": round(1000 * stats.decode_s / max(stats.picked, 1), 1),
            "wall": round(1000 * run.wall_s / n, 1),
        },
        "wall_s": round(run.wall_s, 1),
    }


def human(s: dict) -> str:
    def counts(c: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in c.items()) or "none"

    d, ms = s["detector"], s["ms_per_frame"]
    lines = [
        f"{s['video']}: {s['frames_analysed']} frames analysed of {s['frames_decoded']} decoded "
        f"({s['codec']} {s['size'][0]}x{s['size'][1]})",
        f"detector: {d['name']} ({d['model']} on {d['provider']})" + (f"; {d['fallback']}" if d["fallback"] else ""),
        f"detections: {counts(s['detections'])}",
        f"tracks: {counts(s['tracks'])}",
    ]
    if s["zone_entries"]:
        lines.append(f"zone entries: {counts(s['zone_entries'])}")
    if s["analyzers_run"]:
        lines.append(f"events: {s['events']}")
    elif s["analyzers"]:
        lines.append(f"analyzers: {s['analyzers']} registered, none wants camera {s['camera']!r}")
    if s["frames_dropped"] or s["packets_undecodable"]:
        lines.append(f"skipped: {s['frames_dropped']} frames dropped, {s['packets_undecodable']} packets undecodable")
    lines.append(
        f"time per frame: detector {ms['detector']} ms, tracker and zones {ms['tracker']} ms, "
        f"decode {ms['decode']} ms; {ms['wall']} ms in all ({s['wall_s']} s)"
    )
    return "\n".join(lines)
