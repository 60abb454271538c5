"""Plate crops with known truth, for the plate reader's tests and ``bench/plates.py``.

Two sources, both the traffic simulator's own drawing:

- :func:`art_track`: the simulator's flat plate art (``plate_art.plate_image``), tilted in
  perspective, shrunk to a width, blurred and given sensor noise and JPEG loss, a few frames
  per track with the size and tilt drifting as a passing vehicle's would;
- :func:`scene_tracks`: frames of a simulated street (``renderer.Renderer``, no encoding), the
  plate cut out where the ground truth's ``plate_bbox`` says, grouped by vehicle.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from plugins.traffic_sim.plate_art import paste_warped, plate_image
from plugins.traffic_sim.plates import NUMBER_RANGES, Plate, generate
from plugins.traffic_sim.renderer import Renderer, RenderSpec

CLASSES = tuple(NUMBER_RANGES)  # car, motorcycle, bus, truck


@dataclass(frozen=True)
class Track:
    truth: str  # normalised, KT1234AB
    vehicle_class: str
    style: str  # white or black
    crops: list[np.ndarray]  # RGB uint8
    note: str = ""


def art_crop(plate: Plate, style: str, width: int, blur: float, tilt: float, rng: np.random.Generator) -> np.ndarray:
    """The plate ``width`` pixels wide, turned ``tilt`` (-1..1: how far one side recedes), blurred."""
    art = plate_image(plate, style).convert("RGBA")
    w, h = art.size
    canvas = Image.new("RGB", (int(w * 1.3), int(h * 1.6)), tuple(int(c) for c in rng.integers(60, 200, 3)))
    x0, y0 = (canvas.width - w) / 2, (canvas.height - h) / 2
    k = 0.18 * tilt * h
    quad = [(x0, y0 + max(k, 0)), (x0 + w, y0 + max(-k, 0)), (x0 + w, y0 + h - max(-k, 0)), (x0, y0 + h - max(k, 0))]
    skew = 0.08 * tilt * w
    quad = [(quad[0][0] + skew, quad[0][1]), (quad[1][0] + skew, quad[1][1]), quad[2], quad[3]]
    paste_warped(canvas, art, quad)
    scale = width / w
    img = canvas.resize((max(4, round(canvas.width * scale)), max(3, round(canvas.height * scale))), Image.Resampling.BILINEAR)
    if blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img).astype(np.float32) + rng.normal(0, 4.0, (img.height, img.width, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(55, 90)))
    return np.asarray(Image.open(buf).convert("RGB"))


def art_track(
    rng: np.random.Generator, width: int, blur: float, tilt: float, frames: int = 5, area: str = "KT"
) -> Track:
    vehicle_class = CLASSES[int(rng.integers(len(CLASSES)))]
    plate = generate(rng, vehicle_class, area)
    style = "white" if rng.random() < 0.7 else "black"
    crops = []
    for f in range(frames):
        grow = 1 + 0.08 * f  # the vehicle comes nearer
        crops.append(
            art_crop(
                plate,
                style,
                max(8, round(width * grow * rng.uniform(0.95, 1.05))),
                max(0.0, blur * rng.uniform(0.6, 1.4)),
                float(np.clip(tilt + rng.normal(0, 0.1), -1, 1)),
                rng,
            )
        )
    return Track(plate.normalised, vehicle_class, style, crops, f"w{width} blur{blur} tilt{tilt}")


def scene_tracks(
    seed: int, width: int = 1280, height: int = 720, step: int = 3, min_plate_px: int = 24, scenario: str = "free_flow"
) -> list[Track]:
    """Plates of one simulated loop (15 fps, 30 s, every ``step``-th frame), cut where the truth says,
    one :class:`Track` per vehicle whose plate is at least ``min_plate_px`` wide in some frame."""
    r = Renderer(RenderSpec(scenario, seed, width, height))
    header = r.truth_header()
    objects = {o["id"]: o for o in header["objects"] if "plate" in o}
    crops: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for i in range(0, r.spec.frames, step):
        pixels, seen = r.frame(i)
        for obj in seen:
            box = obj.get("plate_bbox")
            if not box or obj["id"] not in objects:
                continue
            x0, y0, x1, y1 = box
            if x1 - x0 < min_plate_px:
                continue
            mx, my = max(2, (x1 - x0) // 8), max(2, (y1 - y0) // 3)
            crop = pixels[max(0, y0 - my) : y1 + my + 1, max(0, x0 - mx) : x1 + mx + 1]
            if not usable(crop):
                continue
            crops[obj["id"]].append((x1 - x0, crop.copy()))
    tracks = []
    for oid, items in crops.items():
        items.sort(key=lambda it: -it[0])  # the largest (nearest) views first
        o = objects[oid]
        tracks.append(Track(o["plate"], o["class"], o["plate_style"], [c for _, c in items], f"seed{seed} {oid}"))
    return tracks


def usable(crop: np.ndarray) -> bool:
    """Not a sliver cut by the frame's edge."""
    h, w = crop.shape[:2]
    return h >= 6 and w >= 12 and w / h <= 6


LICENSEPLATE_MOTION = "/usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg"
LICENSEPLATE_BOX = (210, 215, 370, 305)  # x0, y0, x1, y1 of the plate in that picture


def wiener_motion_deblur(rgb: np.ndarray, angle_deg: float = 135, length: int = 22, snr_db: float = 25) -> np.ndarray:
    """OpenCV's ``samples/python/deconvolution.py`` with the parameters its docstring gives for
    ``licenseplate_motion.jpg`` (``--angle 135 --d 22``, SNR 25 dB): the photo's motion blur is
    known, so undoing it is part of the test picture, not of the reader."""
    import cv2

    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    d = 31
    h, w = img.shape
    pad = cv2.copyMakeBorder(img, d, d, d, d, cv2.BORDER_WRAP)
    blurred = cv2.GaussianBlur(pad, (2 * d + 1, 2 * d + 1), -1)[d:-d, d:-d]
    y, x = np.indices((h, w))
    weight = np.minimum(np.dstack([x, w - x - 1, y, h - y - 1]).min(-1).astype(np.float32) / d, 1.0)
    img = img * weight + blurred * (1 - weight)
    sz, a = 65, np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    A = np.float32([[c, -s, 0], [s, c, 0]])
    A[:, 2] = (sz // 2, sz // 2) - np.dot(A[:, :2], ((length - 1) * 0.5, 0))
    psf = cv2.warpAffine(np.ones((1, length), np.float32), A, (sz, sz), flags=cv2.INTER_CUBIC)
    psf /= psf.sum()
    psf_pad = np.zeros_like(img)
    psf_pad[:sz, :sz] = psf
    PSF = cv2.dft(psf_pad, flags=cv2.DFT_COMPLEX_OUTPUT, nonzeroRows=sz)
    iPSF = PSF / ((PSF**2).sum(-1) + 10 ** (-0.1 * snr_db))[..., np.newaxis]
    res = cv2.idft(cv2.mulSpectrums(cv2.dft(img, flags=cv2.DFT_COMPLEX_OUTPUT), iPSF, 0), flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
    res = np.roll(np.roll(res, -sz // 2, 0), -sz // 2, 1)
    gray = np.clip(res * 255, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., np.newaxis], 3, axis=2)


def licenseplate_motion(deblur: bool = True) -> np.ndarray:
    """The plate of ``licenseplate_motion.jpg`` (Debian's opencv-doc), RGB, deblurred or as shot."""
    rgb = np.asarray(Image.open(LICENSEPLATE_MOTION).convert("RGB"))
    if deblur:
        rgb = wiener_motion_deblur(rgb)
    x0, y0, x1, y1 = LICENSEPLATE_BOX
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


@dataclass(frozen=True)
class VehicleTrack:
    truth: str
    vehicle_class: str
    vehicles: list[np.ndarray]  # the vehicle's box grown by the margin, RGB: what the parking rule hands over
    plates: list[np.ndarray]  # the plate where the truth says, in the same frames: a perfect plate finder's crops


def vehicle_tracks(rendered, frames: int = 4, margin: float = 0.1, min_box_px: int = 24) -> list[VehicleTrack]:
    """Each plated vehicle of a rendered loop (``cache.render``: H.264 decoded as the live path decodes
    it), its ``frames`` largest sightings as the parking rule picks them (largest box; the truth's score
    is 1), cut with ``margin`` as the rule grows its boxes."""
    import json

    import av

    doc = json.loads(rendered.truth.read_text())
    objects = {o["id"]: o for o in doc["objects"] if "plate" in o}
    seen: dict[str, list[tuple[float, int, list, list | None]]] = defaultdict(list)
    for fr in doc["frames"]:
        for o in fr["objects"]:
            if o["id"] in objects and o.get("bbox") and o["bbox"][2] - o["bbox"][0] >= min_box_px:
                x0, y0, x1, y1 = o["bbox"]
                seen[o["id"]].append(((x1 - x0) * (y1 - y0), fr["i"], o["bbox"], o.get("plate_bbox")))
    best = {oid: sorted(s, key=lambda it: -it[0])[:frames] for oid, s in seen.items()}
    wanted = {i for s in best.values() for _, i, _, _ in s}
    pictures = {}
    with av.open(str(rendered.video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                pictures[i] = frame.to_ndarray(format="rgb24")
    tracks = []
    for oid, sightings in best.items():
        vehicles, plates = [], []
        for _, i, (x0, y0, x1, y1), pb in sightings:
            img = pictures.get(i)
            if img is None:
                continue
            h, w = img.shape[:2]
            dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
            vehicles.append(img[int(max(0, y0 - dy)) : int(min(h, y1 + dy)), int(max(0, x0 - dx)) : int(min(w, x1 + dx))].copy())
            if pb:
                px0, py0, px1, py1 = pb
                mx, my = max(2, (px1 - px0) // 8), max(2, (py1 - py0) // 3)
                crop = img[max(0, py0 - my) : py1 + my + 1, max(0, px0 - mx) : px1 + mx + 1]
                if usable(crop):
                    plates.append(crop.copy())
        if vehicles:
            o = objects[oid]
            tracks.append(VehicleTrack(o["plate"], o["class"], vehicles, plates))
    return tracks
