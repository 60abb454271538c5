"""The ETLE rules as an analyzer: the core's frames, tracks and zones in; events with evidence out.

Each frame: the signal head's colour is read from the picture where the config
places one for the view (a few hundred pixels: cheap enough for the event
loop), or the phase taken from a signal input where one is given; then
:meth:`EtleRule.update <plugins.etle_rules.rule.EtleRule.update>`. Both run on
the analytics loop (``analytics_loop = True``: live view's loop never runs
them). Each offence's evidence is gathered on the server's loop, where the
services live (``ctx.submit``): the snapshot of this frame with the
vehicle's box drawn (in a thread), an evidence clip ``clip_pre_s`` before to
``clip_post_s`` after (``services.clips``), then ``services.events.publish``.
Failures are contained: a failed snapshot or clip still publishes the event.
At most ``InFlight``'s limit (32) offences are evidenced at once; beyond that one is
published without a clip (counted:
``clip_skipped`` in health).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence
from typing import Any

from core.analytics.in_flight import InFlight
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.events.types import Snapshot
from core.interfaces import AnalyzerContext, CameraInfo, Frame
from plugins.etle_rules.config import Config
from plugins.etle_rules.offence import FrameInfo, Offence
from plugins.etle_rules.rule import EtleRule
from plugins.etle_rules.signal import SignalInput, read_lamp

log = logging.getLogger("bconnect.plugin.etle_rules")

LABELS = {"red_light": "RED LIGHT", "wrong_way": "WRONG WAY", "speed": "SPEED"}


class EtleAnalyzer:
    name = "etle_rules"
    needs_tracks = True
    analytics_loop = True  # process runs there; evidence on the server's loop (ctx.submit)

    def __init__(self, config: Config, inputs: Sequence[SignalInput] = ()) -> None:
        self.config = config
        self.fps = config.fps
        self.rule = EtleRule(config)
        self.inputs = tuple(inputs)  # a camera's signal input, where a driver offers one (none does yet)
        self.in_flight = InFlight(self.name)
        # offences, published, failures: a key is counted on one thread only (the rule's or the server's loop)
        self.counts: collections.Counter[str] = collections.Counter()

    def wants(self, camera: CameraInfo) -> bool:
        return not self.config.cameras or camera.id in self.config.cameras

    def fps_for(self, camera: CameraInfo) -> float:
        return self.config.fps_for(camera.id)

    def reading(self, frame: Frame) -> tuple[str | None, bool]:
        """The light on this frame: a signal input's phase (sure), else the signal head's colour, else nothing."""
        for source in self.inputs:
            phase = source.signal_phase(frame.camera_id)
            if phase is not None:
                return phase, True
        head = self.config.signal_head(frame.camera_id, frame.preset)
        if head is None or frame.image is None:
            return None, False
        return read_lamp(frame.image, head.box, self.config.red_light.min_lit), False

    async def process(self, frame: Frame, ctx: AnalyzerContext) -> None:
        t = frame.pts_s if frame.pts_s is not None else frame.wall.timestamp()
        info = FrameInfo(frame.camera_id, frame.preset, t, frame.wall, frame.width, frame.height, ref=frame.seq)
        light, sure = self.reading(frame)
        offences = self.rule.update(info, ctx.tracks, ctx.zones, light, sure)
        for offence in offences:
            self.counts[offence.offence] += 1
            if ctx.services is None:
                log.info("%s on %s (no services to publish it): %s", offence.offence, frame.camera_id, offence.facts)
                continue
            self.in_flight.submit(ctx, self.evidence(offence, frame, ctx.services, not self.in_flight.full))

    async def evidence(self, offence: Offence, picture: Frame, services: Any, clip: bool) -> None:
        """Snapshot, clip, publish: each failure contained, the event published with what there is."""
        label = LABELS.get(offence.offence, offence.offence)
        if "speed_kmh" in offence.facts:
            label = f"{label} {offence.facts['speed_kmh']:.0f} km/h"
        snapshot: Snapshot | None = None
        try:
            snapshot = await asyncio.to_thread(_snapshot, services.data_dir, picture.image, offence.box, label)
        except Exception as exc:
            self.counts["snapshot_failed"] += 1
            log.warning("%s on %s: snapshot failed: %s", offence.offence, offence.camera_id, exc)
        pre_s = min(self.config.clip_pre_s, float(services.deployment.media.preroll_s))
        clip_id = None
        if not clip:
            self.counts["clip_skipped"] += 1  # InFlight was full
        else:
            try:
                cut = await services.clips.cut(offence.camera_id, pre_s=pre_s, post_s=self.config.clip_post_s)
                clip_id = cut.id
            except Exception as exc:
                self.counts["clip_failed"] += 1
                log.warning("%s on %s: evidence clip failed: %s", offence.offence, offence.camera_id, exc)
        event = offence.event(pre_s, snapshot, clip_id)
        try:
            await services.events.publish(event)
            self.counts["published"] += 1
        except Exception as exc:
            self.counts["publish_failed"] += 1
            log.error("%s on %s: publishing failed: %s", offence.offence, offence.camera_id, exc)

    async def drain(self, timeout_s: float = 10.0) -> None:
        await self.in_flight.drain(timeout_s)


def _snapshot(data_dir, image, box, label: str) -> Snapshot:
    from PIL import Image

    picture = Image.fromarray(image[..., ::-1])  # the hub's BGR
    return store_snapshot(data_dir, draw_boxes(picture, [Box(*box, label=label)]))

