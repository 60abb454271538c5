"""The simulator's people as real people: walkers cut out of Debian's ``vtest.avi``.

The drawn figures of ``people.py`` were found less often by the default detector than real people
pasted at the same places (bench/README.md, "Photographed people in the same places"). So the
simulator's people are real walkers: every moving person in ``vtest.avi`` (768x576, an elevated
camera over a walkway, people about 100 px tall) is cut out of the frame against a median background
and followed from frame to frame, so that each walker is a short sequence of real steps. A person on
foot takes one walker (by its id; mirrored to go the other way), steps through its cuts at its own pace, and is pasted at its place, scaled to its height, lit by the scene (the
night's lamps) and hazed by its distance (``walk``). A rider is a walker's head and body on the seat
(``seat``).

The cut-outs are made once (about 13 s; set-up does it) and kept under the data folder
(``bank_path``); without ``vtest.avi`` (Debian's ``opencv-doc``) there is no bank and the renderer
draws its figures.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import logging
import math
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.analytics.assignment import iou
from plugins.traffic_sim.geometry import View
from plugins.traffic_sim.people import figure_box

log = logging.getLogger("bconnect.plugin.traffic_sim")

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DATA = Path(__file__).resolve().parents[2] / "data"
ENV = "BCONNECT_SIM_PEOPLE"  # "drawn": the drawn figures, to compare (bench/sim_recall.py)
CUT_VERSION = "1"  # bump when the cutting changes: the bank is made again
MIN_STEPS = 8  # a walker followed over fewer frames is dropped


@dataclass(frozen=True)
class Walker:
    """One real person's steps: RGB cuts and their alpha (0-255), and how they move across the picture."""

    rgb: tuple[np.ndarray, ...]
    alpha: tuple[np.ndarray, ...]
    dx: float  # pixels a frame, + to the right
    dy: float  # + down the picture: towards the camera

    @functools.cached_property
    def trousers(self) -> tuple[int, int, int]:
        """The colour of its legs (the median of its lower third, first step): a rider's drawn legs wear it."""
        rgb, alpha = self.rgb[0], self.alpha[0]
        low = slice(rgb.shape[0] * 2 // 3, rgb.shape[0])
        pixels = rgb[low][alpha[low] > 127]
        return tuple(int(v) for v in np.median(pixels, axis=0)) if len(pixels) else (40, 40, 45)  # type: ignore[return-value]


class Bank:
    def __init__(self, walkers: list[Walker]):
        self.walkers = walkers

    def pick(self, key: str, du: float, dv: float) -> tuple[Walker, bool]:
        """The walker of person ``key``, moving (du, dv) pixels across the picture, and whether to mirror it.

        One walker a person whichever way they go (mirrored to go the other way across): a person who turns
        keeps their clothes, as crime watch's clothing check expects of one person (a walker chosen by the way
        they went changed clothes as a loiterer paced, and the loitering was not seen)."""
        walker = self.walkers[zlib.crc32(key.encode()) % len(self.walkers)]
        across = abs(du) >= abs(dv) and abs(walker.dx) >= 0.5
        return walker, across and walker.dx * du < 0


def source() -> Path | None:
    if VTEST.is_file():
        return VTEST
    packed = VTEST.with_name(VTEST.name + ".gz")
    return packed if packed.is_file() else None


def bank_path(video: Path, data: Path = DATA) -> Path:
    st = video.stat()
    tag = hashlib.sha256(f"{CUT_VERSION}:{video.name}:{st.st_size}".encode()).hexdigest()[:12]
    return data / "sim" / f"people-{tag}.npz"


def _frames(video: Path):
    import av

    if video.suffix == ".gz":  # Debian may ship it compressed: decode from an unpacked copy
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".avi") as tmp:
            with gzip.open(video) as src:
                while chunk := src.read(1 << 20):
                    tmp.write(chunk)
            tmp.flush()
            yield from _frames(Path(tmp.name))
        return
    with av.open(str(video)) as container:
        for f in container.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def _people_in(frame: np.ndarray, background: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]]:
    """The single people moving in ``frame``: (box, RGB cut, alpha 0-255), each cropped to the person."""
    import cv2

    moving = (np.abs(frame.astype(np.int16) - background).sum(axis=2) > 60).astype(np.uint8)
    moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((7, 5), np.uint8))
    moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(moving)
    out = []
    for j in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[j])
        one_person = 75 <= h <= 150 and 1.9 <= h / w <= 3.6 and area > 0.45 * w * h
        inside = x >= 2 and y >= 2 and x + w <= frame.shape[1] - 2 and y + h <= frame.shape[0] - 2
        if not (one_person and inside):
            continue
        blob = labels[y : y + h, x : x + w] == j
        # the shadow at the feet: the floor darkened, its colour kept (the bottom fifth only)
        crop, floor = frame[y : y + h, x : x + w].astype(np.float32), background[y : y + h, x : x + w].astype(np.float32)
        ratio = crop.sum(axis=2) / np.maximum(floor.sum(axis=2), 1.0)
        tint = np.abs(crop / np.maximum(crop.sum(axis=2, keepdims=True), 1.0) - floor / np.maximum(floor.sum(axis=2, keepdims=True), 1.0)).sum(axis=2)
        shadow = (ratio > 0.4) & (ratio < 0.95) & (tint < 0.06)
        shadow[: int(h * 0.8)] = False
        blob &= ~shadow
        rows, cols = np.nonzero(blob)
        if rows.size < 0.4 * w * h:
            continue
        r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        alpha = cv2.GaussianBlur(blob[r0:r1, c0:c1].astype(np.float32), (3, 3), 0)
        box = (x + c0, y + r0, x + c1, y + r1)
        out.append((box, frame[box[1] : box[3], box[0] : box[2]].copy(), (alpha * 255).astype(np.uint8)))
    return out


def cut(video: Path) -> list[Walker]:
    """Every walker of the footage: moving single-person blobs, followed while they stay one blob."""
    background = np.median(np.stack(list(itertools.islice(_frames(video), 0, None, 8))), axis=0).astype(np.int16)
    tracks: list[dict] = []
    open_: list[dict] = []
    for i, frame in enumerate(_frames(video)):
        now = []
        for box, rgb, alpha in _people_in(frame, background):
            best = max(open_, key=lambda t: iou(t["box"], box), default=None)
            if best is not None and iou(best["box"], box) >= 0.4 and best["last"] == i - 1:
                open_ = [t for t in open_ if t is not best]
                track = best
            else:
                track = {"cuts": [], "centres": []}
                tracks.append(track)
            track["cuts"].append((rgb, alpha))
            track["centres"].append(((box[0] + box[2]) / 2, box[3]))
            track["box"], track["last"] = box, i
            now.append(track)
        open_ = now
    # one person's height follows the row of the feet (the footage's perspective): a cut much taller
    # or shorter than its row's is two people in one blob, or a person half cut
    feet = np.array([c[1] for t in tracks for c in t["centres"]])
    heights = np.array([cut[0].shape[0] for t in tracks for cut in t["cuts"]], np.float64)
    fit = np.polyfit(feet, heights, 1)
    for _ in range(2):
        good = np.abs(heights / np.polyval(fit, feet) - 1.0) < 0.15
        fit = np.polyfit(feet[good], heights[good], 1)
    for t in tracks:
        keep = [k for k, c in enumerate(t["centres"]) if abs(t["cuts"][k][0].shape[0] / np.polyval(fit, c[1]) - 1.0) < 0.15]
        t["cuts"], t["centres"] = [t["cuts"][k] for k in keep], [t["centres"][k] for k in keep]
    walkers = []
    for t in tracks:
        if len(t["cuts"]) < MIN_STEPS:
            continue
        (x0, y0), (x1, y1) = t["centres"][0], t["centres"][-1]
        n = len(t["cuts"]) - 1
        walkers.append(Walker(tuple(c[0] for c in t["cuts"]), tuple(c[1] for c in t["cuts"]), (x1 - x0) / n, (y1 - y0) / n))
    return walkers


def _save(path: Path, walkers: list[Walker]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for k, w in enumerate(walkers):
        arrays[f"m{k}"] = np.array([w.dx, w.dy, len(w.rgb)])
        for s, (rgb, alpha) in enumerate(zip(w.rgb, w.alpha)):
            arrays[f"c{k}_{s}"] = rgb
            arrays[f"a{k}_{s}"] = alpha
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _load(path: Path) -> list[Walker]:
    with np.load(path) as z:
        walkers = []
        k = 0
        while f"m{k}" in z:
            dx, dy, n = z[f"m{k}"]
            walkers.append(Walker(tuple(z[f"c{k}_{s}"] for s in range(int(n))), tuple(z[f"a{k}_{s}"] for s in range(int(n))), float(dx), float(dy)))
            k += 1
    return walkers


_lock = threading.Lock()
_banks: dict[Path, Bank | None] = {}


def tag(data: Path = DATA) -> str:
    """What the people are made of, for the render cache's key: the bank's name, or ``drawn``. Cheap (a stat)."""
    video = None if os.environ.get(ENV) == "drawn" else source()
    return bank_path(video, data).stem if video else "drawn"


def in_use(data: Path = DATA) -> Bank | None:
    """The walkers the renderer pastes: none with ``BCONNECT_SIM_PEOPLE=drawn``, or without the footage."""
    return None if os.environ.get(ENV) == "drawn" else bank(data)


def bank(data: Path = DATA) -> Bank | None:
    """The walkers, cut once and kept on disk (loaded once a process); ``None`` without the footage."""
    with _lock:
        if data not in _banks:
            _banks[data] = _open(data)
        return _banks[data]


def _open(data: Path) -> Bank | None:
    video = source()
    if video is None:
        log.warning("no %s (Debian's opencv-doc): the simulated people are drawn figures", VTEST)
        return None
    path = bank_path(video, data)
    if path.is_file():
        walkers = _load(path)
    else:
        walkers = cut(video)
        _save(path, walkers)
        log.info("cut %d walkers out of %s into %s", len(walkers), video.name, path)
    if not walkers:
        log.warning("no walker cut out of %s: the simulated people are drawn figures", video)
        return None
    return Bank(walkers)


def walk(img: Image.Image, view: View, walkers: Bank, key: str, x: float, z: float, height: float, heading: float,
         speed: float, t_s: float, phase: float, light: float, haze_color: tuple[int, int, int], hz: float):
    """A person of ``height`` metres at (x, z) walking towards ``heading`` at ``speed``: a walker pasted; its box."""
    fig = figure_box(view, x, z, height)
    if fig is None:
        return None
    u, v_foot, _, height_px, _ = fig
    if height_px < 3:
        return None
    h = math.radians(heading)
    ahead = view.to_pixels(view.to_camera(np.array([[x + 0.5 * math.sin(h), 0.0, z + 0.5 * math.cos(h)]])))[0]
    walker, flip = walkers.pick(key, ahead[0] - u, ahead[1] - v_foot)
    return paste_person(img, walker, step_of(t_s, speed, phase, len(walker.rgb)), u, v_foot, height_px, flip, light, haze_color, hz)


def paste_person(
    img: Image.Image,
    walker: Walker,
    step: int,
    u: float,
    v_foot: float,
    height_px: float,
    flip: bool,
    light: float,
    haze_color: tuple[int, int, int],
    hz: float,
) -> tuple[float, float, float, float] | None:
    """Paste step ``step`` of ``walker`` standing at (u, v_foot), ``height_px`` tall; its pixel box."""
    rgb, alpha = walker.rgb[step % len(walker.rgb)], walker.alpha[step % len(walker.alpha)]
    h = max(3, round(height_px))
    w = max(2, round(h * rgb.shape[1] / rgb.shape[0]))
    x0, y0 = round(u - w / 2), round(v_foot - h)
    if x0 >= img.width or y0 >= img.height or x0 + w <= 0 or y0 + h <= 0:
        return None
    colour = rgb.astype(np.float32) * min(1.0, light)
    colour += (np.asarray(haze_color, np.float32) - colour) * hz
    patch = Image.fromarray(np.clip(colour, 0, 255).astype(np.uint8)).resize((w, h), Image.LANCZOS)
    mask = Image.fromarray(alpha).resize((w, h), Image.LANCZOS)
    if flip:
        patch, mask = patch.transpose(Image.FLIP_LEFT_RIGHT), mask.transpose(Image.FLIP_LEFT_RIGHT)
    img.paste(patch, (x0, y0), mask)
    return (float(x0), float(y0), float(x0 + w), float(y0 + h))


TORSO = 0.53  # a walker's head and body down to the hips: the seated rider's height above the seat


def seat(img: Image.Image, walker: Walker, step: int, u: float, v_seat: float, height_px: float, flip: bool,
         light: float, haze_color: tuple[int, int, int], hz: float) -> None:
    """A walker's head and torso sat at (u, v_seat), ``height_px`` from the seat to the top of the head."""
    k = step % len(walker.rgb)
    rows = max(2, round(walker.rgb[k].shape[0] * TORSO))
    top = Walker((walker.rgb[k][:rows],), (walker.alpha[k][:rows],), walker.dx, walker.dy)
    paste_person(img, top, 0, u, v_seat, height_px, flip, light, haze_color, hz)


def step_of(t_s: float, speed: float, phase: float, steps: int) -> int:
    """Which cut a walker shows at ``t_s``: the footage's 10 frames a second at a walking pace of 1.4 m/s."""
    if speed < 0.1:
        return int(phase * 100) % steps
    return int(t_s * 10.0 * speed / 1.4 + phase * 100) % steps


def main() -> int:
    """``python -m plugins.traffic_sim.photo_people``: cut the walkers now (set-up does), or say why not."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    video = source()
    if video is None:
        print(f"no {VTEST} (Debian's opencv-doc): the simulator will draw its people")
        return 0
    path = bank_path(video)
    walkers = bank()
    if walkers is None:
        print(f"no walker found in {video}: the simulator will draw its people")
        return 1
    steps = sum(len(w.rgb) for w in walkers.walkers)
    print(f"simulator people: {len(walkers.walkers)} walkers, {steps} steps, in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
