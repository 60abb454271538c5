"""``[enforcement]`` of the deployment file: review threshold, rejection reasons, ladder, legal mapping.

Every fact here is deployment data (a city's ladder, a country's law); the
core only knows their shape. There is deliberately no field that names plates
or vehicles: no setting can exempt a vehicle from a violation, and unknown
keys are refused (``tests/test_violations_exemptions.py`` walks this model).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

STEP_ID = r"^[a-z][a-z0-9_]{0,31}$"
REASON_ID = r"^[a-z][a-z0-9_]{0,31}$"
KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LadderStep(_Strict):
    """One rung: chosen when the plate has at least ``after`` earlier verified offences in the window."""

    name: Annotated[str, Field(pattern=STEP_ID)]
    after: int = Field(ge=0, le=1000)


class Ladder(_Strict):
    """``[enforcement.ladder]`` (the deployment's) or ``[enforcement.area_ladders.<area>]`` (one area's)."""

    window_days: int = Field(default=365, ge=1, le=3650)
    steps: list[LadderStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[LadderStep]) -> list[LadderStep]:
        if steps[0].after != 0:
            raise ValueError(f"the first step ({steps[0].name}) must have after = 0: every offence gets a step")
        for before, step in zip(steps, steps[1:]):
            if step.after <= before.after:
                raise ValueError(
                    f"step {step.name}: after = {step.after} must be greater than {before.name}'s {before.after}"
                )
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError("step names repeated")
        return steps

    def step_for(self, earlier_offences: int) -> LadderStep:
        """The highest step whose ``after`` the count reaches."""
        chosen = self.steps[0]
        for step in self.steps:
            if earlier_offences >= step.after:
                chosen = step
        return chosen


class LegalBasis(_Strict):
    """``[enforcement.laws."<kind>"]``: the article a violation kind breaks, shown on every violation."""

    law: str = Field(min_length=1, max_length=120)
    pasal: str = Field(min_length=1, max_length=16)
    ayat: str | None = Field(default=None, max_length=16)
    max_fine: int = Field(ge=0)
    max_jail: str | None = Field(default=None, max_length=40)
    currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$")
    text: str = Field(default="", max_length=500)

    def public(self) -> dict[str, object]:
        return self.model_dump()


DEFAULT_LADDER = Ladder(steps=[LadderStep(name="warning", after=0)])
DEFAULT_REASONS = ["not_a_violation", "plate_unreadable", "wrong_vehicle", "duplicate", "camera_fault"]


class EnforcementSettings(_Strict):
    """``[enforcement]``: the violation workflow of this deployment."""

    plate_confidence: float = Field(default=0.8, ge=0, le=1)  # below: an officer must confirm the plate
    rejection_reasons: list[Annotated[str, Field(pattern=REASON_ID)]] = Field(
        default_factory=lambda: list(DEFAULT_REASONS), min_length=1
    )
    flag_rejections: int = Field(default=3, ge=1, le=1000)  # a plate rejected this often is flagged
    ladder: Ladder = DEFAULT_LADDER
    area_ladders: dict[str, Ladder] = {}
    laws: dict[str, LegalBasis] = {}

    @field_validator("rejection_reasons")
    @classmethod
    def _unique(cls, reasons: list[str]) -> list[str]:
        if len(set(reasons)) != len(reasons):
            raise ValueError("rejection reasons repeated")
        return reasons

    @field_validator("laws")
    @classmethod
    def _kinds(cls, laws: dict[str, LegalBasis]) -> dict[str, LegalBasis]:
        for kind in laws:
            if not KIND_RE.match(kind) or len(kind) > 98:
                raise ValueError(f"{kind!r} is not an event kind (lower-case words joined by dots: parking.violation)")
        return laws

    def ladder_for(self, area: str | None) -> Ladder:
        return self.area_ladders.get(area, self.ladder) if area is not None else self.ladder
