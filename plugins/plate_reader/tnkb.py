"""Indonesian number plates (TNKB, Perpol 7/2021) as the plate reader checks them.

``KT 1234 AB``: an area code of one or two letters, a number from 1 to 9999
without a leading zero, a series of zero to three letters. Which area codes
exist and which number range belongs to which vehicle class are data
(:class:`Rules`, filled from the plugin's config), never code.

OCR confuses letters and digits that look alike (``O``/``0``, ``B``/``8``...).
The plate's shape says where a letter and where a digit must stand, so
:func:`fix` tries every split of a read into area, number and series, swaps
each character of the wrong kind for its look-alike (or the recogniser's own
best alternative of the right kind), and keeps the split that needs the
fewest swaps. Every swap is counted: the reader lowers its confidence for each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plugins.plate_reader.ocr import Char

# Regional codes in use (Korlantas), the default of ``area_codes``.
AREA_CODES = (
    "A", "B", "D", "E", "F", "G", "H", "K", "L", "M", "N", "P", "R", "S", "T", "W", "Z",
    "AA", "AB", "AD", "AE", "AG",
    "BA", "BB", "BD", "BE", "BG", "BH", "BK", "BL", "BM", "BN", "BP",
    "DA", "KB", "KH", "KT", "KU",
    "DH", "DK", "DR", "EA", "EB", "ED",
    "DB", "DC", "DD", "DL", "DM", "DN", "DT", "DW",
    "DE", "DG", "PA", "PB",
)  # fmt: skip

# Outside Jakarta (Perpol 7/2021), keyed by the detector's (COCO) class names; the default of
# ``number_ranges``.
NUMBER_RANGES: dict[str, tuple[int, int]] = {
    "car": (1, 1999),
    "motorcycle": (2000, 6999),
    "bus": (7000, 7999),
    "truck": (8000, 8999),
    "special": (9000, 9999),
}

# Look-alikes: a digit read where a letter must stand, and the reverse.
AS_LETTER = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}
AS_DIGIT = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "J": "1", "T": "7", "Z": "2",
            "A": "4", "S": "5", "G": "6", "B": "8", "E": "8"}  # fmt: skip

_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
_SHAPE = re.compile(r"^([A-Z]{1,2})([1-9][0-9]{0,3})([A-Z]{0,3})$")


@dataclass(frozen=True)
class Rules:
    area_codes: frozenset[str] = frozenset(AREA_CODES)
    number_ranges: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(NUMBER_RANGES))


@dataclass(frozen=True)
class Plate:
    area: str
    number: int
    series: str = ""

    @property
    def text(self) -> str:
        """As painted: ``KT 1234 AB``."""
        return " ".join(p for p in (self.area, str(self.number), self.series) if p)

    @property
    def normalised(self) -> str:
        """As stored and compared: ``KT1234AB``."""
        return f"{self.area}{self.number}{self.series}"


@dataclass(frozen=True)
class Fixed:
    """A read put into TNKB shape: the plate, how many characters were swapped, and where."""

    plate: Plate
    fixups: int
    swaps: tuple[tuple[int, str, str], ...] = ()  # (position, read, written)


def normalise(text: str) -> str:
    """Upper case, letters and digits only: ``kt 1234-ab`` -> ``KT1234AB``."""
    return _SEPARATORS.sub("", text).upper()


def parse(text: str) -> Plate | None:
    """The plate ``text`` spells in TNKB shape (any area code), else ``None``."""
    m = _SHAPE.match(normalise(text))
    return Plate(m.group(1), int(m.group(2)), m.group(3)) if m else None


def class_for_number(number: int, rules: Rules = Rules()) -> str | None:
    for cls, (lo, hi) in rules.number_ranges.items():
        if lo <= number <= hi:
            return cls
    return None


def problems(plate: Plate | None, rules: Rules = Rules(), vehicle_class: str | None = None) -> list[str]:
    """Why ``plate`` is no valid TNKB (empty when it is), for a vehicle of ``vehicle_class`` if known."""
    if plate is None:
        return ["not in TNKB shape (1-2 letters, a number 1-9999, 0-3 letters)"]
    out = []
    if plate.area not in rules.area_codes:
        out.append(f"unknown area code {plate.area!r}")
    if not 1 <= plate.number <= 9999:
        out.append(f"number {plate.number} outside 1-9999")
    cls = class_for_number(plate.number, rules)
    if cls is None:
        out.append(f"number {plate.number} in no configured vehicle-class range")
    elif vehicle_class is not None and vehicle_class in rules.number_ranges and cls != vehicle_class:
        lo, hi = rules.number_ranges[vehicle_class]
        out.append(f"number {plate.number} is a {cls} number, outside the {vehicle_class} range {lo}-{hi}")
    return out


def _chars(read: str | tuple[Char, ...]) -> tuple[Char, ...]:
    if isinstance(read, str):
        return tuple(Char(c, 1.0, c, 0.0, c, 0.0) for c in normalise(read))
    return read


def _as(kind: str, c: Char) -> str | None:
    """``c`` as a letter or a digit: itself, its look-alike, or the recogniser's best of that kind."""
    if kind == "letter":
        if c.char.isalpha():
            return c.char
        return AS_LETTER.get(c.char) or (c.letter if c.letter.isalpha() and c.letter_prob > 0.01 else None)
    if c.char.isdigit():
        return c.char
    return AS_DIGIT.get(c.char) or (c.digit if c.digit.isdigit() and c.digit_prob > 0.01 else None)


def fix(read: str | tuple[Char, ...], rules: Rules = Rules(), vehicle_class: str | None = None) -> Fixed | None:
    """The likeliest TNKB the read spells, with the fewest letter/digit swaps; ``None`` when none fits.

    Among splits needing equally few swaps, one that passes :func:`problems` wins.
    """
    chars = _chars(read)
    n = len(chars)
    best: tuple[tuple[int, int], Fixed] | None = None
    for a in (1, 2):
        for d in range(1, 5):
            s = n - a - d
            if not 0 <= s <= 3:
                continue
            kinds = ["letter"] * a + ["digit"] * d + ["letter"] * s
            out, swaps = [], []
            for i, (kind, c) in enumerate(zip(kinds, chars)):
                ch = _as(kind, c)
                if ch is None:
                    break
                if ch != c.char:
                    swaps.append((i, c.char, ch))
                out.append(ch)
            else:
                text = "".join(out)
                if text[a] == "0":
                    continue  # no leading zero
                plate = Plate(text[:a], int(text[a : a + d]), text[a + d :])
                key = (len(swaps), len(problems(plate, rules, vehicle_class)))
                if best is None or key < best[0]:
                    best = (key, Fixed(plate, len(swaps), tuple(swaps)))
    return best[1] if best else None
