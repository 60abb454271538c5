"""The export's settings, with Balikpapan's defaults; every fact the case file needs that B-Connect
does not hold is either a key here or left empty and named in the case's ``missing`` list."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.config import AGENCY_ID_PATTERN

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Hearing(BaseModel):
    """When the court sits for tilang cases (verstek, Perma 12/2016). Uncertain locally: data, not code."""

    model_config = ConfigDict(extra="forbid")

    weekday: Weekday | None = None  # None: no hearing date is set, the export marks it empty
    lead_days: int = Field(default=3, ge=3, le=60)  # the file reaches the court at least 3 days before


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # whose verified violations are tilang cases for the prosecutor (the kejaksaan reads Polri's data)
    agencies: list[str] = ["polri"]
    # the prosecutor's agency: its users see the exports and record the court's results
    prosecutor_agency: str = Field(default="kejaksaan", pattern=AGENCY_ID_PATTERN)
    # where batches are written: relative to the data folder, or absolute (a mounted share)
    target: str = "exports/kejaksaan"
    schedule: str = "0 6 * * *"  # the daily batch, crontab in the deployment's time zone
    # the investigator's unit per agency of the camera; an agency not listed: the unit is empty
    investigator_units: dict[str, str] = {
        "polri": "Satlantas Polresta Balikpapan",
        "dishub": "PPNS LLAJ Dinas Perhubungan Kota Balikpapan",
    }
    # barang bukti of every case, and what a ladder step adds ({plate} is replaced)
    seized_items: list[str] = ["rekaman elektronik pelanggaran (foto dan video), Pasal 272 UU No. 22 Tahun 2009"]
    seized_items_by_step: dict[str, list[str]] = {"derek": ["kendaraan bermotor {plate} (diderek)"]}
    hearing: Hearing = Hearing()
    court: str = "Pengadilan Negeri Balikpapan"
    kejari: str = "Kejaksaan Negeri Balikpapan"
    name: str = Field(default="kejaksaan_export", pattern=r"^[a-z][a-z0-9_\-]{0,63}$")  # the sink's cursor

    @field_validator("agencies")
    @classmethod
    def _agencies(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one agency whose violations are exported")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a five-field crontab: {exc}") from None
        return value
