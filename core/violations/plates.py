"""Plate validation as an interface: the core normalises and asks; a plugin knows a country's plates.

A plugin (the plate reader) registers a :class:`PlateValidator` through
``bconnect_register_plate_validators``. Without one the core uses
:class:`PermissiveValidator`, which only normalises: the core itself holds no
plate format.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

MAX_PLATE = 16
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


@runtime_checkable
class PlateValidator(Protocol):
    """Normalises and validates plate text. No I/O: called on the event loop."""

    name: str

    def normalise(self, text: str) -> str:
        """The plate as stored and compared: e.g. upper case, no spaces (``AB1234CD``)."""
        ...

    def problem(self, plate: str, vehicle_class: str | None) -> str | None:
        """``None`` if ``plate`` (normalised) is a valid plate for a vehicle of ``vehicle_class``;
        else a one-line reason an officer reads (``number 2500 is a motorcycle's, not a car's``)."""
        ...


class PermissiveValidator:
    """The default: upper case, letters and digits only; any such text of 1-16 characters is valid."""

    name = "permissive"

    def normalise(self, text: str) -> str:
        return _NOT_ALNUM.sub("", text.upper())

    def problem(self, plate: str, vehicle_class: str | None) -> str | None:
        if not plate:
            return "no letters or digits"
        if len(plate) > MAX_PLATE:
            return f"{len(plate)} characters, at most {MAX_PLATE}"
        return None


def normalised(validator: PlateValidator, text: str) -> str:
    """The validator's normal form, bounded to what the table stores and never anything but letters and digits."""
    plate = validator.normalise(text)
    if not isinstance(plate, str):
        raise TypeError(f"plate validator {validator.name}: normalise returned {type(plate).__name__}")
    return _NOT_ALNUM.sub("", plate.upper())[:MAX_PLATE]
