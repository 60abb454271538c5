"""The parking rule as an analyzer: the core's frames, tracks and zones in; events with evidence out.

Feeds :meth:`ParkingRule.update <plugins.parking_rule.rule.ParkingRule.update>`
on the analytics loop (``analytics_loop = True``: live view's loop never runs
the rule). Each violation's evidence is gathered on the server's loop, where
the services live (``ctx.submit``, kept in :class:`~core.analytics.in_flight.InFlight`): the
snapshot (the best sighting's picture, its box drawn, in a thread), an
evidence clip from arrival to now (``services.clips``), then
``services.events.publish``. The clip's pre-roll is the stay's elapsed time
plus a margin, capped by what the media core keeps per camera
(``[media] preroll_s``, 10 s by default): a longer stay's clip starts late,
and its event says so (``detail.clip.covered_s``). A failing cut publishes
the event without a clip; a failing publish is logged and counted: the rule
goes on either way. At most ``InFlight``'s limit (32) violations are evidenced at
once; beyond that a violation is published without a clip (counted:
``clip_skipped`` in health).

The pictures the rule may still take a snapshot from (``refs_in_use``) are
kept, at most ``KEEP_FRAMES`` per camera (the oldest go first).

**The plate.** Where the core offers a plate reader (``services.plates``), the
vehicle's best few sightings (``plate_frames``; their boxes grown by
``crop_margin``) are cut from the frames at full resolution as they arrive (at
most ``MAX_CROPS`` per camera) and, once the vehicle violates, handed to the
reader while the clip is cut; the reading goes into the event's ``detail``
(``plate``, ``plate_confidence``, ``plate_read``). The reader works in its own
threads and the core bounds its time: no reading (none offered, busy, failed)
publishes the event without a plate, for an officer to type.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import numpy as np

from core.analytics.in_flight import InFlight
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.events.types import Snapshot
from core.interfaces import AnalyzerContext, CameraInfo, Frame
from plugins.parking_rule.config import Config
from plugins.parking_rule.rule import FrameInfo, ParkingRule, Violation, grown

log = logging.getLogger("bconnect.plugin.parking_rule")

KEEP_FRAMES = 8  # pictures kept per camera for snapshots (a 1280x720 one is 2.7 MB)
MAX_CROPS = 64  # vehicle crops kept per camera for plate reading (a 200x200 one is 120 kB)
CLIP_MARGIN_S = 2.0  # the clip starts this much before the vehicle arrived
POST_S = 2.0


class ParkingAnalyzer:
    name = "parking_rule"
    needs_tracks = True
    analytics_loop = True  # process runs there; evidence on the server's loop (ctx.submit)

    def __init__(self, config: Config, timezone: str) -> None:
        self.config = config
        self.fps = config.fps
        self.rule = ParkingRule(config, timezone)
        self.kept: dict[str, collections.OrderedDict[int, Frame]] = {}
        self.crops: dict[str, collections.OrderedDict[tuple, np.ndarray]] = {}  # (ref, box) -> RGB crop
        self.in_flight = InFlight(self.name)
        # violations, published, failures: a key is counted on one thread only (the rule's or the server's loop)
        self.counts: collections.Counter[str] = collections.Counter()

    def wants(self, camera: CameraInfo) -> bool:
        return not self.config.cameras or camera.id in self.config.cameras

    async def process(self, frame: Frame, ctx: AnalyzerContext) -> None:
        t = frame.pts_s if frame.pts_s is not None else frame.wall.timestamp()
        info = FrameInfo(frame.camera_id, frame.preset, t, frame.wall, frame.width, frame.height, ref=frame.seq)
        violations = self.rule.update(info, ctx.tracks, ctx.zones)
        kept = self.kept.setdefault(frame.camera_id, collections.OrderedDict())
        kept[frame.seq] = frame
        in_use = self.rule.refs_in_use()
        for seq in [s for s in kept if s not in in_use and s != frame.seq]:
            del kept[seq]
        while len(kept) > KEEP_FRAMES:
            kept.popitem(last=False)
        reading = ctx.services is not None and ctx.services.plates.available
        plates = self._plate_crops(frame, violations) if reading else {}
        for violation in violations:
            self.counts["violations"] += 1
            picture = kept.get(violation.best.ref) or frame
            box = violation.best.box if picture is not frame or violation.best.ref == frame.seq else _box_now(violation, ctx)
            if ctx.services is None:
                log.info("violation on %s (no services to publish it): %s", frame.camera_id, violation.detail())
                continue
            clip = not self.in_flight.full
            self.in_flight.submit(ctx, self.evidence(violation, picture, box, ctx.services, clip,
                                                 plates.get(id(violation), [])))

    def _plate_crops(self, frame: Frame, violations: list[Violation]) -> dict[int, list[np.ndarray]]:
        """Cut this frame's sightings the rule keeps for plate reading; the crops of each violation (by id)."""
        crops = self.crops.setdefault(frame.camera_id, collections.OrderedDict())
        wanted = self.rule.views_in_use(frame.camera_id)
        margin = self.config.crop_margin
        for ref, box in wanted:
            if ref == frame.seq and (ref, box) not in crops:
                crops[(ref, box)] = _cut(frame, box, margin)
        out = {}
        for violation in violations:
            out[id(violation)] = [
                crops.get((v.ref, v.box)) if v.ref != frame.seq else _cut(frame, v.box, margin)
                for v in violation.views
            ]
            out[id(violation)] = [c for c in out[id(violation)] if c is not None]
        for key in [k for k in crops if k not in wanted]:
            del crops[key]
        while len(crops) > MAX_CROPS:
            crops.popitem(last=False)
        return out

    async def evidence(
        self, violation: Violation, picture: Frame, box: tuple, services: Any, clip: bool, plates: list | None = None
    ) -> None:
        """Snapshot, clip and plate reading, publish: each failure contained, the event published with what
        there is."""
        label = f"{violation.label} {violation.dwell_s:.0f}s"
        read = asyncio.ensure_future(services.plates.read(plates, violation.label)) if plates else None
        snapshot: Snapshot | None = None
        try:
            snapshot = await asyncio.to_thread(_snapshot, services.data_dir, picture.image, box, label)
        except Exception as exc:
            self.counts["snapshot_failed"] += 1
            log.warning("parking violation on %s: snapshot failed: %s", violation.camera_id, exc)
        clip_id, covered = None, None
        if not clip:
            self.counts["clip_skipped"] += 1  # InFlight was full
        else:
            keep = float(services.deployment.media.preroll_s)
            pre_s = min(violation.elapsed_s + CLIP_MARGIN_S, keep)
            try:
                cut = await services.clips.cut(violation.camera_id, pre_s=pre_s, post_s=POST_S)
                clip_id, covered = cut.id, pre_s
            except Exception as exc:
                self.counts["clip_failed"] += 1
                log.warning("parking violation on %s: evidence clip failed: %s", violation.camera_id, exc)
        event = violation.event(snapshot, clip_id)
        detail = dict(event.detail)
        if covered is not None:
            detail["clip"] = {**detail["clip"], "covered_s": round(covered, 2)}
        if read is not None:
            try:
                reading = await read
            except Exception as exc:  # the core's service contains a reader's failures; this is a bug's net
                reading = None
                log.warning("parking violation on %s: plate reading failed: %s", violation.camera_id, exc)
            self.counts["plate_read" if reading is not None and reading.text else "plate_unread"] += 1
            if reading is not None:
                detail.update(reading.detail())
        if detail != event.detail:
            event = _with_detail(event, detail)
        try:
            await services.events.publish(event)
            self.counts["published"] += 1
        except Exception as exc:
            self.counts["publish_failed"] += 1
            log.error("parking violation on %s: publishing failed: %s", violation.camera_id, exc)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Let the violations being evidenced finish (at shutdown)."""
        await self.in_flight.drain(timeout_s)


def _box_now(violation: Violation, ctx: AnalyzerContext) -> tuple:
    for track in ctx.tracks:
        if track.id == violation.track_id:
            return track.box
    return violation.best.box


def _cut(frame: Frame, box: tuple, margin: float) -> np.ndarray:
    """The vehicle's box grown by ``margin``, cut from the frame at its full resolution, as RGB (a copy)."""
    x0, y0, x1, y1 = (int(round(v)) for v in grown(box, margin, frame.width, frame.height))
    return np.ascontiguousarray(frame.image[y0:y1, x0:x1, ::-1])


def _snapshot(data_dir, image, box, label: str) -> Snapshot:
    from PIL import Image

    picture = Image.fromarray(image[..., ::-1])  # the hub's BGR
    return store_snapshot(data_dir, draw_boxes(picture, [Box(*box, label=label)]))


def _with_detail(event, detail: dict):
    import dataclasses

    return dataclasses.replace(event, detail=detail)
