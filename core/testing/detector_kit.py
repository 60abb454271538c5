"""The conformance kit for detectors: the checks any ``Detector`` should pass.

A detector plugin's author runs it on their detector and a few real frames::

    from core.testing.detector_kit import check_detector

    async def test_my_detector_conforms(frames):
        await check_detector(MyDetector(...), frames)   # raises AssertionError saying what broke

It checks the contract of :class:`core.analytics.detector.Detector`: one list
per frame in the order given, boxes inside each frame whatever its size,
scores in 0..1, concurrent callers each getting their own answer, and the
event loop kept free while inference runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np

from core.analytics.detector import Detection, Detector, DetectorInfo


async def check_detector(detector: Detector, frames: Sequence[np.ndarray], max_loop_stall_s: float = 1.0) -> None:
    assert isinstance(detector, Detector), f"{type(detector).__name__} does not implement Detector"
    assert frames, "give the kit at least one real frame"
    assert await detector.detect([]) == [], "detect([]) must answer []"

    # the same frames at two sizes: boxes follow each frame's own pixels
    half = [np.ascontiguousarray(f[::2, ::2]) for f in frames]
    stall = _LoopWatch()
    watcher = asyncio.create_task(stall.run())
    try:
        answers = await detector.detect([*frames, *half])
    finally:
        watcher.cancel()
    assert stall.worst < max_loop_stall_s, f"the event loop stalled {stall.worst:.2f} s during detect: inference on the loop?"
    assert len(answers) == 2 * len(frames), f"{len(answers)} answers for {2 * len(frames)} frames"
    for frame, dets in zip([*frames, *half], answers):
        h, w = frame.shape[:2]
        for d in dets:
            assert isinstance(d, Detection), f"{d!r} is not a Detection"
            assert isinstance(d.label, str) and d.label, f"{d!r}: label must be a non-empty string"
            assert 0.0 <= d.score <= 1.0, f"{d!r}: score outside 0..1"
            assert 0 <= d.x1 <= d.x2 <= w and 0 <= d.y1 <= d.y2 <= h, f"{d!r}: box outside the {w}x{h} frame"

    # several cameras at once: each caller gets the answer for its own frame
    together = await asyncio.gather(*(detector.detect([f]) for f in frames))
    for alone, (one,) in zip(answers[: len(frames)], together):
        assert [d.label for d in one] == [d.label for d in alone], "concurrent callers got another frame's answer"

    info = detector.info()
    assert isinstance(info, DetectorInfo), "info() must return a DetectorInfo"
    assert info.provider and info.model, "info() must name the model and the provider in use"
    assert info.input_size[0] > 0 and info.input_size[1] > 0, "info().input_size must be the model's input"


class _LoopWatch:
    def __init__(self) -> None:
        self.worst = 0.0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.worst = max(self.worst, now - last - 0.01)
            last = now
