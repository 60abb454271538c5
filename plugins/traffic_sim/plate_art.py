"""Number plates as pictures, pasted onto vehicles in perspective.

Each plate is drawn once, flat, with a real TrueType font (DejaVu, from
Debian's fonts-dejavu-core), then warped onto the four corners of the plate
as the camera sees them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from plugins.traffic_sim.plates import Plate

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf")
TEXTURE = (240, 76)  # pixels; the plate is 43 x 13.5 cm


def load_font(size: int, font_dir: Path = FONT_DIR) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in FONT_FILES:
        path = font_dir / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)  # Pillow's own font when DejaVu is absent


def plate_image(plate: Plate, style: str, font_dir: Path = FONT_DIR) -> Image.Image:
    """The flat plate: white with black text, or the older black with white text.

    The text is stretched to fill the plate, as the narrow TNKB lettering does,
    so that it stays legible when the plate is small on screen.
    """
    w, h = TEXTURE
    bg, fg = ((245, 245, 242), (15, 15, 15)) if style == "white" else ((18, 18, 20), (240, 240, 240))
    img = Image.new("RGB", (w, h), bg)
    ImageDraw.Draw(img).rectangle((2, 2, w - 3, h - 3), outline=fg, width=3)
    font = load_font(64, font_dir)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = probe.textbbox((0, 0), plate.text, font=font)
    text = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
    ImageDraw.Draw(text).text((-box[0], -box[1]), plate.text, font=font, fill=255)
    tw = min(w - 16, text.width)
    th = int(h * 0.66)
    text = text.resize((tw, th), Image.Resampling.LANCZOS)
    img.paste(Image.new("RGB", text.size, fg), ((w - tw) // 2, (h - th) // 2), text)
    return img


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Pillow's 8 coefficients mapping output pixels ``dst`` to input pixels ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float)).tolist()


def paste_warped(
    frame: Image.Image,
    img: Image.Image,
    quad: list[tuple[float, float]],
    tint: tuple[tuple[int, int, int], float] | None = None,
) -> None:
    """Warp ``img`` (RGBA) onto ``quad``: top-left, top-right, bottom-right, bottom-left."""
    us, vs = [p[0] for p in quad], [p[1] for p in quad]
    x0, y0 = int(np.floor(min(us))), int(np.floor(min(vs)))
    x1, y1 = int(np.ceil(max(us))), int(np.ceil(max(vs)))
    if x1 <= x0 or y1 <= y0:
        return
    w, h = img.size
    local = [(u - x0, v - y0) for u, v in quad]
    try:
        coeffs = _perspective_coeffs(local, [(0, 0), (w, 0), (w, h), (0, h)])
    except np.linalg.LinAlgError:
        return
    patch = img.transform((x1 - x0, y1 - y0), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    if tint and tint[1] > 0:
        rgb = Image.blend(patch.convert("RGB"), Image.new("RGB", patch.size, tint[0]), min(tint[1], 0.95))
        patch = Image.merge("RGBA", (*rgb.split(), patch.getchannel("A")))
    frame.paste(patch, (x0, y0), patch)


class PlateArt:
    """Plate pictures for one render, keyed by the vehicle."""

    def __init__(self, font_dir: Path = FONT_DIR):
        self.font_dir = font_dir
        self.images: dict[object, Image.Image] = {}
        self._scaled: dict[tuple[object, int], Image.Image] = {}

    def add(self, key: object, plate: Plate, style: str) -> None:
        self.images[key] = plate_image(plate, style, self.font_dir).convert("RGBA")

    def _at_width(self, key: object, width: float) -> Image.Image:
        """The plate pre-shrunk near ``width`` so that warping it does not alias the text."""
        img = self.images[key]
        bucket = max(8, min(TEXTURE[0], int(2 ** (np.ceil(np.log2(max(width, 1.0)) * 4) / 4) * 1.5)))
        if bucket >= TEXTURE[0]:
            return img
        cached = self._scaled.get((key, bucket))
        if cached is None:
            cached = img.resize((bucket, max(3, round(bucket * TEXTURE[1] / TEXTURE[0]))), Image.Resampling.LANCZOS)
            self._scaled[(key, bucket)] = cached
        return cached

    def paste(
        self,
        frame: Image.Image,
        draw: ImageDraw.ImageDraw,
        key: object,
        quad: list[tuple[float, float]],
        tint: tuple[tuple[int, int, int], float] | None = None,
    ) -> None:
        """Warp plate ``key`` onto ``quad`` (top-left, top-right, bottom-right, bottom-left).

        ``tint`` is a colour and how much of it covers the plate (haze, night).
        """
        us, vs = [p[0] for p in quad], [p[1] for p in quad]
        x0, y0 = int(np.floor(min(us))), int(np.floor(min(vs)))
        x1, y1 = int(np.ceil(max(us))), int(np.ceil(max(vs)))
        if x1 - x0 < 6 or y1 - y0 < 3:
            # too small to read: a patch of the plate's colour
            color = self.images[key].getpixel((6, TEXTURE[1] // 2))[:3]  # inside the border, left of the text
            if tint:
                color = tuple(int(c + (t - c) * tint[1]) for c, t in zip(color, tint[0]))
            draw.polygon(quad, fill=color)
            return
        paste_warped(frame, self._at_width(key, x1 - x0), quad, tint)
