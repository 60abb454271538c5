"""Rendered loops on disk, keyed by everything that decides their content.

The key hashes the scenario script, the render spec (seed, resolution, fps,
loop length, lighting, label), the renderer version and the font in use, so a
second start with the same settings finds its files and renders nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from plugins.traffic_sim import photo_people
from plugins.traffic_sim.encoder import encode_h264
from plugins.traffic_sim.plate_art import FONT_DIR, FONT_FILES
from plugins.traffic_sim.renderer import RENDERER_VERSION, Renderer, RenderSpec
from plugins.traffic_sim.scenarios import SCENARIOS

log = logging.getLogger("bconnect.plugin.traffic_sim")


@dataclass(frozen=True)
class Rendered:
    spec: RenderSpec
    video: Path
    truth: Path
    cached: bool
    seconds: float  # time spent rendering; 0 on a cache hit


def _font_in_use(font_dir: Path) -> str:
    return next((name for name in FONT_FILES if (font_dir / name).is_file()), "pillow-default")


def cache_key(spec: RenderSpec, font_dir: Path = FONT_DIR) -> str:
    material = {
        "renderer": RENDERER_VERSION,
        "scenario": dataclasses.asdict(SCENARIOS[spec.scenario]),
        "spec": spec.as_dict(),
        "font": _font_in_use(font_dir),
        "people": photo_people.tag(),
    }
    blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def paths(spec: RenderSpec, sim_dir: Path, font_dir: Path = FONT_DIR) -> tuple[Path, Path]:
    stem = f"{spec.scenario}-{spec.seed}-{spec.width}x{spec.height}-{cache_key(spec, font_dir)}"
    return sim_dir / f"{stem}.mp4", sim_dir / f"{stem}.truth.json"


def is_cached(spec: RenderSpec, sim_dir: Path, font_dir: Path = FONT_DIR) -> bool:
    video, truth = paths(spec, sim_dir, font_dir)
    return video.is_file() and truth.is_file()


def render(spec: RenderSpec, sim_dir: Path, stop: threading.Event | None = None, font_dir: Path = FONT_DIR) -> Rendered:
    """Render ``spec`` into ``sim_dir`` unless it is there already. Blocking: run it in a thread."""
    video, truth = paths(spec, sim_dir, font_dir)
    if video.is_file() and truth.is_file():
        return Rendered(spec, video, truth, cached=True, seconds=0.0)
    sim_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    renderer = Renderer(spec, font_dir)
    frames_truth: list[dict] = []

    def frames():
        for i in range(spec.frames):
            pixels, objects = renderer.frame(i)
            frames_truth.append({"i": i, "t": round(i / spec.fps, 4), "objects": objects, **renderer.frame_facts(i)})
            yield pixels

    encode_h264(frames(), video, spec.width, spec.height, spec.fps, spec.keyframe_seconds, stop)
    doc = {**renderer.truth_header(), "video": video.name, "frames": frames_truth}
    tmp = truth.with_name(f".{truth.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        tmp.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
        os.replace(tmp, truth)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    log.info("rendered %s (%d frames) in %.1fs", video.name, spec.frames, seconds)
    return Rendered(spec, video, truth, cached=False, seconds=seconds)
