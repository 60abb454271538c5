"""Indonesian number plates (TNKB) for the simulator: valid ones, generated per vehicle class.

The format itself (``KT 1234 AB``: area code, number 1-9999 without a leading
zero, series of up to three letters; the number ranges per vehicle class of
Perpol 7/2021) is the plate reader's, :mod:`plugins.plate_reader.tnkb`: the
simulator paints exactly what the reader must read. Here a plate is valid only
with an area code in use.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from plugins.plate_reader.tnkb import AREA_CODES, NUMBER_RANGES, Plate, class_for_number, normalise
from plugins.plate_reader.tnkb import parse as parse_shape

__all__ = ["AREA_CODES", "NUMBER_RANGES", "Plate", "PlateStyle", "class_for_number", "generate", "is_valid", "normalise", "parse"]

PlateStyle = Literal["white", "black"]  # white: black text (since 2022); black: white text (older)


def parse(text: str) -> Plate | None:
    """The plate ``text`` spells, or ``None`` when it is no valid TNKB (shape, or an area code not in use)."""
    plate = parse_shape(text)
    return plate if plate is not None and plate.area in AREA_CODES else None


def is_valid(text: str) -> bool:
    return parse(text) is not None


def generate(rng: np.random.Generator, vehicle_class: str, area: str = "KT") -> Plate:
    """A random valid plate for ``vehicle_class`` (a key of :data:`NUMBER_RANGES`)."""
    if area not in AREA_CODES:
        raise ValueError(f"unknown area code {area!r}")
    lo, hi = NUMBER_RANGES[vehicle_class]
    number = int(rng.integers(lo, hi + 1))
    # most plates carry a two-letter series; some one, three or none
    n_letters = int(rng.choice(4, p=[0.05, 0.25, 0.55, 0.15]))
    # I, O and Q are left out of series, as on real plates (they read as 1 and 0)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    series = "".join(letters[int(i)] for i in rng.integers(0, len(letters), n_letters))
    return Plate(area, number, series)
