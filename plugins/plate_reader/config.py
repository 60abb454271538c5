"""The ``[plugins.plate_reader]`` table; unknown keys are refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.plate_reader.tnkb import AREA_CODES, NUMBER_RANGES, Rules


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_confidence: float = Field(default=0.8, ge=0, le=1)
    fixup_penalty: float = Field(default=0.85, gt=0, le=1)
    area_codes: list[str] = Field(default_factory=lambda: list(AREA_CODES), min_length=1)
    number_ranges: dict[str, tuple[int, int]] = Field(default_factory=lambda: dict(NUMBER_RANGES), min_length=1)
    detect_text: bool = True
    max_frames: int = Field(default=8, ge=1, le=64)
    workers: int = Field(default=1, ge=1, le=8)
    max_pending: int = Field(default=16, ge=1, le=1024)
    threads: int = Field(default=1, ge=1, le=16)
    use_cuda: bool = False

    @field_validator("area_codes")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not (c.isascii() and c.isalpha() and c.isupper() and 1 <= len(c) <= 2)]
        if bad:
            raise ValueError(f"area codes are 1-2 upper-case letters: {bad}")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> Config:
        for cls, (lo, hi) in self.number_ranges.items():
            if not 1 <= lo <= hi <= 9999:
                raise ValueError(f"number_ranges.{cls}: want 1 <= low <= high <= 9999, got [{lo}, {hi}]")
        return self

    def rules(self) -> Rules:
        return Rules(frozenset(self.area_codes), dict(self.number_ranges))
