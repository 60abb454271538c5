"""The ticketing side's settings: ``[plugins.polri_etle.ticketing]``, with Balikpapan's defaults."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import AgencyRef
from plugins.polri_etle.letter import missing_fonts


class Ticketing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # whose cameras' verified violations get letters: the agencies ETLE works for
    agencies: list[AgencyRef] = Field(default=["polri"], min_length=1, validate_default=True)
    reference_prefix: str = Field(default="ETLE-BPN", pattern=r"^[A-Z0-9][A-Z0-9\-]{0,15}$")
    timezone: str = "Asia/Makassar"  # letters print local time
    timezone_label: str = "WITA"
    confirm_days: int = Field(default=8, ge=1, le=60)  # H+8: confirm owner or driver, or dispute
    pay_days: int = Field(default=15, ge=1, le=90)  # H+15: pay
    registry: str = "demo"  # only the demo registry ships; a real connector replaces it (docs/etle.md)
    registry_file: Path | None = None  # the demo registry's file; default: the one shipped
    lookup_timeout_s: float = Field(default=5.0, gt=0, le=20)  # a sink call must stay well under sink_timeout_s
    retry_s: float = Field(default=300.0, ge=1)  # a waiting case is looked up again after this
    check_s: float = Field(default=300.0, ge=1)  # how often the deadline job runs
    track_days: int = Field(default=90, ge=1)  # GPS track retention
    # personal data (UU 27/2022): owner, driver, dispute text and the letter are erased this long after
    # the case ended (paid or dismissed); an open case keeps them
    personal_data_days: int = Field(default=365, ge=1)
    letters_dir: str = Field(default="etle/letters", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")
    font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")
    issuer: str = "Kepolisian Resor Kota Balikpapan"
    office: str = "Posko ETLE Satlantas Polresta Balikpapan"  # where to confirm in person
    confirm_at: str = "https://etle.example.invalid/konfirmasi"  # placeholder: the deployment's confirmation site

    @model_validator(mode="after")
    def _fonts_exist(self) -> Ticketing:
        # checked with the config: a missing font stops check-config and serve, not the first letter
        missing = missing_fonts(self.font_dir) if self.enabled else []
        if missing:
            raise ValueError(f"font_dir: font {missing[0]} not found (install Debian's fonts-dejavu-core)")
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Makassar)") from None
        return value

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        if value != "demo":
            raise ValueError(f"unknown registry {value!r}: this build ships only 'demo'")
        return value
