"""Indonesian number plates (TNKB): parse, normalise, validate, generate.

A TNKB reads ``KT 1234 AB``: a one- or two-letter area code (``KT`` is East
Kalimantan, Balikpapan's), a number from 1 to 9999 without a leading zero, and
a series of zero to three letters. The number says what kind of vehicle
carries it (Perpol 7/2021): 1-1999 passenger cars, 2000-6999 motorcycles,
7000-7999 buses, 8000-8999 goods vehicles.

Analytics reuse :func:`normalise` and :func:`parse` to check what an OCR read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

# Regional codes in use (Korlantas); extend when new provinces get theirs.
AREA_CODES = frozenset(
    {
        # Java
        "A", "B", "D", "E", "F", "G", "H", "K", "L", "M", "N", "P", "R", "S", "T", "W", "Z",
        "AA", "AB", "AD", "AE", "AG",
        # Sumatra
        "BA", "BB", "BD", "BE", "BG", "BH", "BK", "BL", "BM", "BN", "BP",
        # Kalimantan
        "DA", "KB", "KH", "KT", "KU",
        # Bali and Nusa Tenggara
        "DH", "DK", "DR", "EA", "EB", "ED",
        # Sulawesi
        "DB", "DC", "DD", "DL", "DM", "DN", "DT", "DW",
        # Maluku and Papua
        "DE", "DG", "PA", "PB",
    }
)

VehicleClass = Literal["car", "motorcycle", "bus", "truck"]

# The number ranges of Perpol 7/2021, by the COCO class a detector reports.
NUMBER_RANGES: dict[str, tuple[int, int]] = {
    "car": (1, 1999),
    "motorcycle": (2000, 6999),
    "bus": (7000, 7999),
    "truck": (8000, 8999),
}

PlateStyle = Literal["white", "black"]  # white: black text (since 2022); black: white text (older)

_PLATE = re.compile(r"^([A-Z]{1,2})([1-9][0-9]{0,3})([A-Z]{0,3})$")
_SEPARATORS = re.compile(r"[\s\-.·]+")


@dataclass(frozen=True)
class Plate:
    area: str
    number: int
    series: str = ""

    @property
    def text(self) -> str:
        """As painted on the plate: ``KT 1234 AB``."""
        return " ".join(p for p in (self.area, str(self.number), self.series) if p)

    @property
    def normalised(self) -> str:
        """As stored and compared: ``KT1234AB``."""
        return f"{self.area}{self.number}{self.series}"

    @property
    def vehicle_class(self) -> str | None:
        return class_for_number(self.number)


def normalise(text: str) -> str:
    """Upper case, without spaces, dots or dashes: ``kt 1234-ab`` -> ``KT1234AB``."""
    return _SEPARATORS.sub("", text).upper()


def parse(text: str) -> Plate | None:
    """The plate ``text`` spells, or ``None`` when it is no valid TNKB."""
    m = _PLATE.match(normalise(text))
    if not m or m.group(1) not in AREA_CODES:
        return None
    return Plate(m.group(1), int(m.group(2)), m.group(3))


def is_valid(text: str) -> bool:
    return parse(text) is not None


def class_for_number(number: int) -> str | None:
    """The vehicle class a plate number belongs to, ``None`` outside the ranges."""
    for cls, (lo, hi) in NUMBER_RANGES.items():
        if lo <= number <= hi:
            return cls
    return None


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
