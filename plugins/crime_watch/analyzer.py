"""Crime watch as an analyzer: the core's frames, tracks and zones in; alerts with evidence out.

Feeds :meth:`CrimeRule.update <plugins.crime_watch.rule.CrimeRule.update>`
on the analytics loop (``analytics_loop = True``: live view's loop never runs
the rule). Each alert's evidence is gathered on the server's loop, where the
services live (``ctx.submit``): the snapshot
(this frame, the people's boxes drawn, in a thread), an evidence clip reaching
back to when the behaviour began (``services.clips``, capped by what the media
core keeps per camera), then ``services.events.publish``. A failing snapshot or
cut publishes the event without it; a failing publish is logged and counted.

What is kept of a person is the tracker's box: the snapshot is the whole
frame with boxes drawn, never a crop, and nothing describes a face. The mean
colour of a loiterer's upper clothes is held in memory with their stay only
(clothing.py), never stored or sent.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from core.analytics.in_flight import InFlight
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.events.types import Snapshot
from core.interfaces import AnalyzerContext, CameraInfo, Frame
from plugins.crime_watch import clothing
from plugins.crime_watch.config import Config
from plugins.crime_watch.rule import Alert, CrimeRule, FrameInfo

log = logging.getLogger("bconnect.plugin.crime_watch")

CLIP_MARGIN_S = 2.0
POST_S = 2.0


class CrimeAnalyzer:
    name = "crime_watch"
    needs_tracks = True
    analytics_loop = True  # process runs there; evidence on the server's loop (ctx.submit)

    def __init__(self, config: Config, timezone: str) -> None:
        self.config = config
        self.fps = config.fps
        self.rule = CrimeRule(config, timezone)
        self.people = frozenset(config.watched_labels)
        self.in_flight = InFlight(self.name)
        # alerts per kind, published, failures: a key is counted on one thread only (the rule's or the server's loop)
        self.counts: collections.Counter[str] = collections.Counter()

    def wants(self, camera: CameraInfo) -> bool:
        return not self.config.cameras or camera.id in self.config.cameras

    async def process(self, frame: Frame, ctx: AnalyzerContext) -> None:
        t = frame.pts_s if frame.pts_s is not None else frame.wall.timestamp()
        colours = None
        if self.config.clothing_check and frame.image is not None:  # read when the rule asks: people in watched areas
            colours = clothing.TorsoColours(frame.image, ctx.tracks, self.people)
        info = FrameInfo(frame.camera_id, frame.preset, t, frame.wall, frame.width, frame.height, colours)
        for alert in self.rule.update(info, ctx.tracks, ctx.zones):
            self.counts[alert.kind] += 1
            if ctx.services is None:
                log.info("%s on %s (no services to publish it): %s", alert.kind, frame.camera_id, alert.detail())
                continue
            self.in_flight.submit(ctx, self.evidence(alert, frame, ctx.services, not self.in_flight.full))

    async def evidence(self, alert: Alert, frame: Frame, services: Any, clip: bool) -> None:
        """Snapshot, clip, publish: each failure contained, the event published with what there is."""
        snapshot: Snapshot | None = None
        try:
            snapshot = await asyncio.to_thread(_snapshot, services.data_dir, frame.image, alert)
        except Exception as exc:
            self.counts["snapshot_failed"] += 1
            log.warning("%s on %s: snapshot failed: %s", alert.kind, alert.camera_id, exc)
        clip_id = None
        if not clip:
            self.counts["clip_skipped"] += 1  # InFlight was full
        else:
            pre_s = min(alert.since_s + CLIP_MARGIN_S, float(services.deployment.media.preroll_s))
            try:
                clip_id = (await services.clips.cut(alert.camera_id, pre_s=pre_s, post_s=POST_S)).id
            except Exception as exc:
                self.counts["clip_failed"] += 1
                log.warning("%s on %s: evidence clip failed: %s", alert.kind, alert.camera_id, exc)
        try:
            await services.events.publish(alert.event(snapshot, clip_id))
            self.counts["published"] += 1
        except Exception as exc:
            self.counts["publish_failed"] += 1
            log.error("%s on %s: publishing failed: %s", alert.kind, alert.camera_id, exc)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Let the alerts being evidenced finish (at shutdown)."""
        await self.in_flight.drain(timeout_s)


def _snapshot(data_dir, image, alert: Alert) -> Snapshot:
    from PIL import Image

    picture = Image.fromarray(image[..., ::-1])  # the hub's BGR; the whole frame, never a crop of a person
    label = alert.label
    boxes = [Box(*box, label=label if i == 0 else "") for i, box in enumerate(alert.boxes)]
    return store_snapshot(data_dir, draw_boxes(picture, boxes))
