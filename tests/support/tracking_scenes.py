"""Synthetic scenes with known truth for the tracker: what a detector would report, frame by frame.

Each object follows straight segments between key points at a constant size.
A nearer object (larger ``depth``) hides what is behind it: visibility is
sampled on an 8 x 8 grid of the object's box, and the detector's box is the
visible part's bounding box. What the detector reports is modelled on a real
one: a well-visible object scores high, a half-hidden one low, a hidden one
not at all; boxes jitter; some detections are missed, some labels flicker
(car <-> truck) and false positives appear.

Also here: the CLEAR-MOT counts (misses, false positives, id switches, MOTA)
and a naive IoU-only frame-to-frame tracker as the baseline that the tests and
``bench/tracker.py`` compare against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.analytics.assignment import iou_matrix, match

from core.analytics.detector import Detection


CONFUSABLE = {"car": "truck", "truck": "car", "bus": "truck", "person": "person", "motorcycle": "bicycle"}


@dataclass
class Thing:
    """One real object: key points ``(t, cx, cy)`` joined by straight segments; present from first to last."""

    oid: int
    label: str
    size: tuple[float, float]
    path: list[tuple[float, float, float]]
    depth: float = 0.0  # larger: nearer the camera, hides what is behind

    def box(self, t: float) -> tuple[float, float, float, float] | None:
        path = self.path
        if t < path[0][0] or t > path[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(path, path[1:]):
            if t0 <= t <= t1:
                a = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                cx, cy = x0 + a * (x1 - x0), y0 + a * (y1 - y0)
                break
        else:
            cx, cy = path[0][1], path[0][2]
        w, h = self.size
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


@dataclass
class Noise:
    jitter: float = 0.02  # box coordinates' standard deviation, as a fraction of the box's size
    miss: float = 0.05  # chance a visible object is not detected
    flicker: float = 0.1  # chance of a confusable label
    false_positives: float = 0.3  # expected false detections per frame
    width: int = 1280
    height: int = 720


@dataclass
class Frame:
    t: float
    detections: list[Detection]
    truth: dict[int, tuple[float, float, float, float]]  # oid -> true box, objects at least half visible
    visibility: dict[int, float]  # oid -> visible fraction, every object present


@dataclass
class Scene:
    name: str
    things: list[Thing]
    seconds: float
    fps: float = 5.0
    noise: Noise = field(default_factory=Noise)

    def frames(self, seed: int = 0) -> list[Frame]:
        rng = np.random.default_rng(seed)
        grid = (np.arange(8) + 0.5) / 8
        gx, gy = np.meshgrid(grid, grid)
        out = []
        for k in range(int(self.seconds * self.fps) + 1):
            t = k / self.fps
            present = [(th, th.box(t)) for th in self.things]
            present = [(th, b) for th, b in present if b is not None]
            dets: list[Detection] = []
            truth: dict[int, tuple[float, float, float, float]] = {}
            visibility: dict[int, float] = {}
            for th, b in present:
                xs = b[0] + gx * (b[2] - b[0])
                ys = b[1] + gy * (b[3] - b[1])
                hidden = np.zeros_like(xs, dtype=bool)
                for other, ob in present:
                    if other.depth > th.depth:
                        hidden |= (xs >= ob[0]) & (xs <= ob[2]) & (ys >= ob[1]) & (ys <= ob[3])
                vis = 1.0 - hidden.mean()
                visibility[th.oid] = vis
                if vis >= 0.5:
                    truth[th.oid] = b
                if vis < 0.3 or rng.random() < self.noise.miss:
                    continue
                seen_x, seen_y = xs[~hidden], ys[~hidden]
                cell_w, cell_h = (b[2] - b[0]) / 16, (b[3] - b[1]) / 16
                box = np.array([seen_x.min() - cell_w, seen_y.min() - cell_h, seen_x.max() + cell_w, seen_y.max() + cell_h])
                w, h = box[2] - box[0], box[3] - box[1]
                box += rng.normal(0, self.noise.jitter, 4) * np.array([w, h, w, h])
                score = rng.uniform(0.6, 0.95) if vis >= 0.7 else rng.uniform(0.15, 0.45)
                label = CONFUSABLE.get(th.label, th.label) if rng.random() < self.noise.flicker else th.label
                dets.append(Detection(label, float(score), *(float(v) for v in box)))
            for _ in range(rng.poisson(self.noise.false_positives)):
                w, h = rng.uniform(30, 150), rng.uniform(30, 120)
                x, y = rng.uniform(0, self.noise.width - w), rng.uniform(0, self.noise.height - h)
                score = rng.uniform(0.5, 0.65) if rng.random() < 0.2 else rng.uniform(0.1, 0.45)
                dets.append(Detection("car", float(score), x, y, x + w, y + h))
            rng.shuffle(dets)  # a detector's order means nothing
            out.append(Frame(t, dets, truth, visibility))
        return out


# --- scenes ------------------------------------------------------------------


def bus_passes_parked_car(fps: float = 5.0, hidden_s: float = 2.0) -> Scene:
    """A car parked for 20 s; from t=6 s a bus drives past in front of it, hiding it fully for ``hidden_s``."""
    car = Thing(1, "car", (120, 70), [(0.0, 600, 420), (20.0, 600, 420)], depth=0)
    bus_w = 360.0
    speed = (bus_w - 120) / hidden_s  # fully in front of the car for hidden_s seconds
    x_start = 600 - 60 - bus_w / 2 - 2 * speed  # its front reaches the car 2 s after it appears
    t_end = 6.0 + (1280 + bus_w - x_start) / speed
    bus = Thing(2, "bus", (bus_w, 150), [(6.0, x_start, 440), (t_end, x_start + speed * (t_end - 6.0), 440)], depth=1)
    return Scene("bus_passes_parked_car", [car, bus], seconds=20.0, fps=fps)


def bus_stops_in_front_of_parked_car(stop_s: float = 20.0) -> Scene:
    """A car parked for 60 s; a bus pulls up in front of it at t=10 s, hides it for ``stop_s``, then leaves."""
    car = Thing(1, "car", (120, 70), [(0.0, 600, 420), (60.0, 600, 420)], depth=0)
    arrive, leave = 10.0, 10.0 + stop_s
    bus = Thing(2, "bus", (360, 150), [(2.0, -200, 440), (arrive, 620, 440), (leave, 620, 440), (leave + 8.0, 1500, 440)], depth=1)
    return Scene("bus_stops_in_front_of_parked_car", [car, bus], seconds=60.0)


def car_passes_behind_bus() -> Scene:
    """A car driving left at 60 px/s passes behind a bus driving right: out of sight about 2.5 s, in part for longer."""
    car = Thing(1, "car", (120, 70), [(0.0, 1200, 420), (20.0, 0, 420)], depth=0)
    bus = Thing(2, "bus", (360, 150), [(0.0, 0, 440), (20.0, 1280, 440)], depth=1)
    return Scene("car_passes_behind_bus", [car, bus], seconds=20.0)


def crossing_people(fps: float = 5.0) -> Scene:
    """Two people walking towards each other along the pavement; the nearer one hides the other as they pass."""
    a = Thing(1, "person", (40, 100), [(0.0, 200, 400), (12.0, 1000, 410)], depth=1)
    b = Thing(2, "person", (40, 100), [(0.0, 1000, 395), (12.0, 200, 400)], depth=0)
    c = Thing(3, "person", (38, 96), [(2.0, 300, 300), (12.0, 900, 290)], depth=0)
    d = Thing(4, "person", (38, 96), [(2.0, 900, 305), (12.0, 300, 300)], depth=0.5)
    return Scene("crossing_people", [a, b, c, d], seconds=12.0, fps=fps)


def parked_and_creeping(fps: float = 5.0) -> Scene:
    """One car parked with jittery boxes; another creeping forward at 12 px/s, then stopping at t=10 s."""
    parked = Thing(1, "car", (140, 80), [(0.0, 300, 500), (20.0, 300, 500)])
    creeping = Thing(2, "car", (140, 80), [(0.0, 800, 300), (10.0, 920, 300), (20.0, 920, 300)])
    return Scene("parked_and_creeping", [parked, creeping], seconds=20.0, fps=fps, noise=Noise(jitter=0.03, false_positives=0.0))


def traffic(objects: int, seed: int = 0, seconds: float = 20.0, fps: float = 5.0) -> Scene:
    """``objects`` vehicles and people at once: lanes both ways, parked cars, people crossing; they overlap."""
    rng = np.random.default_rng(seed)
    things = []
    for oid in range(1, objects + 1):
        kind = rng.choice(["lane", "lane", "lane", "parked", "walker"])
        if kind == "walker":
            w, h = 36.0, 90.0
            x = rng.uniform(100, 1180)
            y0, y1 = (150.0, 650.0) if rng.random() < 0.5 else (650.0, 150.0)
            t0 = rng.uniform(0, seconds / 2)
            things.append(Thing(oid, "person", (w, h), [(t0, x, y0), (t0 + abs(y1 - y0) / 60.0, x, y1)], depth=2 + rng.random()))
            continue
        label = rng.choice(["car", "car", "car", "truck", "motorcycle", "bus"])
        w, h = {"car": (130, 75), "truck": (200, 110), "motorcycle": (50, 60), "bus": (320, 140)}[label]
        y = rng.uniform(120, 650)
        depth = y / 720  # lower in the picture: nearer
        if kind == "parked":
            x = rng.uniform(100, 1180)
            things.append(Thing(oid, label, (w, h), [(0.0, x, y), (seconds, x, y)], depth=depth))
            continue
        speed = rng.uniform(80, 250) * (1 if rng.random() < 0.5 else -1)
        t0 = rng.uniform(-seconds / 2, seconds / 2)
        x0 = -w if speed > 0 else 1280 + w
        t1 = t0 + (1280 + 2 * w) / abs(speed)
        path = [(t0, x0, y), (t1, x0 + speed * (t1 - t0), y)]
        if t0 < 0:  # already in the picture at the start
            path = [(0.0, x0 - speed * t0, y), (t1, path[1][1], y)]
        things.append(Thing(oid, label, (w, h), path, depth=depth))
    return Scene(f"traffic_{objects}", things, seconds=seconds, fps=fps)


# --- scoring -----------------------------------------------------------------


@dataclass
class MotCounts:
    truth: int = 0  # object-frames to find
    misses: int = 0
    false_positives: int = 0
    id_switches: int = 0
    ids_per_object: dict[int, set[int]] = field(default_factory=dict)

    @property
    def mota(self) -> float:
        return 1.0 - (self.misses + self.false_positives + self.id_switches) / max(self.truth, 1)

    def as_dict(self) -> dict:
        return {
            "truth": self.truth, "misses": self.misses, "false_positives": self.false_positives,
            "id_switches": self.id_switches, "mota": round(self.mota, 4),
        }


def score(frames: list[Frame], outputs: list[list], iou: float = 0.5) -> MotCounts:
    """CLEAR-MOT counts of a tracker's visible tracks against the truth, frame by frame.

    Truth is every object at least half visible; hypotheses are the tracks in
    state ``tracked``. Pairs need IoU >= ``iou``; an object matched to another
    id than at its last match is one id switch. (Simplified: every frame is
    matched afresh by the Hungarian method, without CLEAR-MOT's preference for
    last frame's pairs.)
    """
    counts = MotCounts()
    last: dict[int, int] = {}
    for frame, tracks in zip(frames, outputs):
        shown = [tr for tr in tracks if tr.state == "tracked"]
        oids = list(frame.truth)
        counts.truth += len(oids)
        ious = iou_matrix(np.array([frame.truth[o] for o in oids]).reshape(-1, 4), np.array([tr.box for tr in shown]).reshape(-1, 4))
        pairs, missed, extra = match(ious, iou)
        counts.misses += len(missed)
        counts.false_positives += len(extra)
        for r, c in pairs:
            oid, tid = oids[r], shown[c].id
            if oid in last and last[oid] != tid:
                counts.id_switches += 1
            last[oid] = tid
            counts.ids_per_object.setdefault(oid, set()).add(tid)
    return counts


def run(tracker, frames: list[Frame]) -> list[list]:
    return [tracker.update(frame.detections, frame.t) for frame in frames]


# --- the baseline ------------------------------------------------------------


@dataclass(frozen=True)
class NaiveTrack:
    id: int
    label: str
    box: tuple[float, float, float, float]
    state: str = "tracked"


class NaiveIouTracker:
    """The baseline: each confident detection takes the id of last frame's box it overlaps most (IoU >= 0.3),
    greedily, best pair first; else a new id. No motion model, no memory of lost objects, no low-score stage."""

    def __init__(self, min_score: float = 0.5, threshold: float = 0.3) -> None:
        self.min_score = min_score
        self.threshold = threshold
        self._prev: list[NaiveTrack] = []
        self._next = 1

    def update(self, detections, t: float) -> list[NaiveTrack]:
        dets = [d for d in detections if d.score >= self.min_score]
        ious = iou_matrix(np.array([p.box for p in self._prev]).reshape(-1, 4), np.array([d.box for d in dets]).reshape(-1, 4))
        order = np.dstack(np.unravel_index(np.argsort(-ious, axis=None), ious.shape))[0] if ious.size else []
        used_prev, ids = set(), {}
        for r, c in order:
            if ious[r, c] < self.threshold:
                break
            if r in used_prev or c in ids:
                continue
            used_prev.add(r)
            ids[c] = self._prev[r].id
        out = []
        for c, d in enumerate(dets):
            if c not in ids:
                ids[c] = self._next
                self._next += 1
            out.append(NaiveTrack(ids[c], d.label, tuple(d.box)))
        self._prev = out
        return out


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])
