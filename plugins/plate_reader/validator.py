"""TNKB as the enforcement workflow's plate validator (``bconnect_register_plate_validators``).

The core holds no country's plate rules: it normalises and checks an officer's or the reader's plate text
through this object, built from the plugin's own area codes and number ranges.
"""

from __future__ import annotations

from plugins.plate_reader import tnkb


class TnkbValidator:
    """Indonesian plates: ``KT1234AB`` shape, a known area code, the number in the vehicle class's range."""

    name = "tnkb"

    def __init__(self, rules: tnkb.Rules) -> None:
        self.rules = rules

    def normalise(self, text: str) -> str:
        return tnkb.normalise(text)

    def problem(self, plate: str, vehicle_class: str | None) -> str | None:
        found = tnkb.problems(tnkb.parse(plate), self.rules, vehicle_class)
        return "; ".join(found) or None
