"""The accident watch as an analyzer: the core's frames, tracks and zones in; high-priority alerts out.

Feeds :meth:`AccidentRule.update <plugins.accident_watch.rule.AccidentRule.update>`
on the analytics loop (``analytics_loop = True``: live view's loop never runs
the rule; the second look awaits the detector there). Each accident's evidence
is gathered on the server's loop, where the services live (``ctx.submit``): the snapshot
(this frame, every party's box drawn, in a thread), a clip from before the
impact to a little after (``services.clips``), the PTZ offer
(:mod:`plugins.accident_watch.offer`), then ``services.events.publish`` with
the config's ``priority``. Speed is the point, so the event is published as
soon as the clip is cut; a failing snapshot or clip publishes it without.
At most ``InFlight``'s limit (32) alerts are evidenced at once; beyond that one is
published without a clip (counted:
``clip_skipped`` in health).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from core.analytics.detector import FramesDropped
from core.analytics.in_flight import InFlight
from core.analytics.tracker import Track
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.events.types import Event, Snapshot, new_event_id
from core.interfaces import AnalyzerContext, CameraInfo, Frame
from plugins.accident_watch import second_look
from plugins.accident_watch.config import Config
from plugins.accident_watch.offer import offer
from plugins.accident_watch.rule import EVENT_KIND, Accident, AccidentRule, FrameInfo

log = logging.getLogger("bconnect.plugin.accident_watch")

CLIP_MARGIN_S = 3.0  # the clip starts this much before the impact
POST_S = 5.0


def event_of(accident: Accident, config: Config, ptz_offer: list[dict[str, Any]], snapshot: Snapshot | None,
             clip_id: str | None) -> Event:
    """The ``accident.suspected`` event; the core sets agency, area and mode (education or enforcement).

    ``ptz_accept`` is where an operator accepts one offered preset (``POST {"camera": id}``); the alerts
    panel shows the offer with a button per camera.
    """
    event_id = new_event_id()
    detail = {
        **accident.detail(),
        "live_view": {"camera": accident.camera_id, "page": f"/?camera={accident.camera_id}",
                      "whep": f"/api/cameras/{accident.camera_id}/whep"},
        "ptz_offer": ptz_offer,
        "ptz_accept": f"/api/accident_watch/alerts/{event_id}/ptz",
    }
    return Event(
        kind=EVENT_KIND,
        camera_id=accident.camera_id,
        preset_id=accident.preset,
        wall_time=accident.wall_time,
        stream_time=max(accident.stream_time, 0.0),
        zone_id=accident.zone_id,
        track_id=accident.track_id,
        detail=detail,
        snapshot=snapshot,
        clip_id=clip_id,
        priority=config.priority,
        id=event_id,
    )


class AccidentAnalyzer:
    name = "accident_watch"
    needs_tracks = True
    analytics_loop = True  # process runs there; evidence on the server's loop (ctx.submit)

    def __init__(self, config: Config) -> None:
        self.config = config
        self.fps = config.fps
        self.rule = AccidentRule(config)
        self.in_flight = InFlight(self.name)
        # alerts, second looks, published, failures: a key is counted on one thread only (the rule's or the server's loop)
        self.counts: collections.Counter[str] = collections.Counter()
        # (camera, preset) -> track id -> when a second look last found them lying (second_look.candidates)
        self.lying: dict[tuple[str, str | None], dict[int, float]] = {}

    def wants(self, camera: CameraInfo) -> bool:
        return not self.config.cameras or camera.id in self.config.cameras

    async def process(self, frame: Frame, ctx: AnalyzerContext) -> None:
        t = frame.pts_s if frame.pts_s is not None else frame.wall.timestamp()
        info = FrameInfo(frame.camera_id, frame.preset, t, frame.wall, frame.width, frame.height, ref=frame.seq)
        tracks = ctx.tracks
        if self.config.second_look and ctx.services is not None:
            tracks = await self.look_again(frame, ctx, t)
        for accident in self.rule.update(info, tracks, ctx.zones):
            self.counts["alerts"] += 1
            if ctx.services is None:
                log.warning("suspected accident on %s (no services to publish it): %s", frame.camera_id, accident.detail())
                continue
            self.in_flight.submit(ctx, self.alert(accident, frame, ctx.services, not self.in_flight.full))

    async def look_again(self, frame: Frame, ctx: AnalyzerContext, now: float) -> tuple[Track, ...]:
        """The frame's tracks, with the people lost in a lane whom a second look finds lying seen again
        (:mod:`plugins.accident_watch.second_look`); as they were when there is nobody to look for, no
        detector, or the detector is saturated or fails (counted, never raised)."""
        cfg = self.config
        lanes = [z for z in ctx.zones if z.kind.value in cfg.lane_kinds]
        detector = getattr(ctx.services, "detector", None)
        if not lanes or detector is None or not any(t.state == "lost" for t in ctx.tracks):
            return ctx.tracks

        def in_lane(box) -> bool:
            return any(z.contains_box(box, frame.width, frame.height) for z in lanes)

        people = set(cfg.person_labels)
        view = (frame.camera_id, frame.preset)
        present = {t.id for t in ctx.tracks}  # a track the tracker dropped (or a reset) is no one's any more
        was_lying = {i: at for i, at in self.lying.pop(view, {}).items() if i in present and now - at <= cfg.look_s}
        if was_lying:
            self.lying[view] = was_lying
        looks = second_look.candidates(ctx.tracks, people, now, cfg.look_s, frame.width, frame.height, in_lane,
                                       cfg.look_people, was_lying)
        if not looks:
            return ctx.tracks
        try:
            found = await detector.detect(second_look.views(frame.image[..., ::-1], looks))  # the hub's BGR: RGB
        except FramesDropped:
            self.counts["second_look_dropped"] += 1
            return ctx.tracks
        except Exception as exc:
            self.counts["second_look_failed"] += 1
            log.warning("second look on %s failed: %s", frame.camera_id, exc)
            return ctx.tracks
        self.counts["second_looks"] += len(looks)
        if not found:
            return ctx.tracks
        lying = {t.id: t for t in second_look.found_lying(looks, found, people, cfg.look_score, cfg.down_aspect, now)}
        self.counts["seen_lying"] += len(lying)
        if lying:
            self.lying.setdefault(view, {}).update(dict.fromkeys(lying, now))
        return tuple(lying.get(t.id, t) for t in ctx.tracks)

    async def alert(self, accident: Accident, frame: Frame, services: Any, clip: bool) -> None:
        """Snapshot, clip, offer, publish: each failure contained, the alert published with what there is."""
        boxes = [Box(*p.box, label=f"{p.label} {p.sign.replace('_', ' ')}") for p in accident.parties]
        snapshot: Snapshot | None = None
        try:
            snapshot = await asyncio.to_thread(_snapshot, services.data_dir, frame.image, boxes)
        except Exception as exc:
            self.counts["snapshot_failed"] += 1
            log.warning("accident on %s: snapshot failed: %s", accident.camera_id, exc)
        clip_id = None
        if not clip:
            self.counts["clip_skipped"] += 1  # InFlight was full
        else:
            keep = float(services.deployment.media.preroll_s)
            pre_s = min(max(accident.stream_time - accident.impact_stream, 0.0) + CLIP_MARGIN_S, keep)
            try:
                clip_id = (await services.clips.cut(accident.camera_id, pre_s=pre_s, post_s=POST_S)).id
            except Exception as exc:
                self.counts["clip_failed"] += 1
                log.warning("accident on %s: clip failed: %s", accident.camera_id, exc)
        try:
            ptz_offer = offer(self.config, accident.camera_id, accident.zone_id, services)
        except Exception as exc:
            self.counts["offer_failed"] += 1
            log.warning("accident on %s: PTZ offer failed: %s", accident.camera_id, exc)
            ptz_offer = []
        try:
            await services.events.publish(event_of(accident, self.config, ptz_offer, snapshot, clip_id))
            self.counts["published"] += 1
        except Exception as exc:
            self.counts["publish_failed"] += 1
            log.error("accident on %s: publishing failed: %s", accident.camera_id, exc)

    async def drain(self, timeout_s: float = 10.0) -> None:
        await self.in_flight.drain(timeout_s)


def _snapshot(data_dir, image, boxes: list[Box]) -> Snapshot:
    from PIL import Image

    picture = Image.fromarray(image[..., ::-1])  # the hub's BGR
    return store_snapshot(data_dir, draw_boxes(picture, boxes))



