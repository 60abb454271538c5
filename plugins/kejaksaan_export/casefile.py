"""The case file of one batch (schema version 1, docs/kejaksaan-export.md): records, JSON and CSV.

Pure functions over the facts the sink kept; no I/O here.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from plugins.kejaksaan_export.config import Config

SCHEMA_VERSION = 1
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# B-Connect holds no registration data: the owner is found from the plate (Regident), not by us
ALWAYS_MISSING = ("violator.name", "violator.address")

CSV_COLUMNS = (
    "case_no", "violation_id", "plate", "vehicle_class", "violator_name", "violator_address", "violation", "law",
    "pasal", "ayat", "max_fine", "max_jail", "ladder_step", "seized_items", "camera_id", "place", "area", "lat",
    "lon", "time_utc", "time_local", "investigator_name", "investigator_unit", "hearing_date", "court",
    "snapshot_file", "snapshot_sha256", "clip_file", "clip_sha256", "missing",
)


def case_no(violation_id: int) -> str:
    return f"BC-{violation_id:06d}"


def hearing_date(config: Config, today: date) -> str | None:
    """The first court day at least ``lead_days`` after ``today``; ``None`` when none is configured."""
    if config.hearing.weekday is None:
        return None
    first = today + timedelta(days=config.hearing.lead_days)
    wanted = WEEKDAYS.index(config.hearing.weekday)
    return (first + timedelta(days=(wanted - first.weekday()) % 7)).isoformat()


def seized_items(config: Config, facts: dict[str, Any]) -> list[str]:
    extra = config.seized_items_by_step.get(facts.get("ladder_step") or "", [])
    return [item.replace("{plate}", facts.get("plate") or "?") for item in [*config.seized_items, *extra]]


def record(facts: dict[str, Any], config: Config, timezone: str, hearing: str | None,
           evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """One case as the court receives it; every empty fact named in ``missing``."""
    legal = facts.get("legal") or {}
    wall = datetime.fromisoformat(facts["wall_time"].replace("Z", "+00:00"))
    unit = config.investigator_units.get(facts.get("agency") or "")
    out = {
        "case_no": case_no(facts["violation_id"]),
        "violation_id": facts["violation_id"],
        "event_id": facts.get("event_id"),
        "violator": {"plate": facts.get("plate"), "vehicle_class": facts.get("vehicle_class"),
                     "name": None, "address": None},
        "violation": {
            "kind": facts.get("kind"), "description": legal.get("text"), "law": legal.get("law"),
            "pasal": legal.get("pasal"), "ayat": legal.get("ayat"), "max_fine": legal.get("max_fine"),
            "max_jail": legal.get("max_jail"), "ladder_step": facts.get("ladder_step"),
            "offence_count": facts.get("offence_count"),
        },
        "seized_items": seized_items(config, facts),
        "place": {"camera_id": facts.get("camera_id"), "camera_name": facts.get("camera_name"),
                  "area": facts.get("area"), "area_name": facts.get("area_name"),
                  "lat": facts.get("lat"), "lon": facts.get("lon")},
        "time": {"utc": facts["wall_time"], "local": wall.astimezone(ZoneInfo(timezone)).isoformat(),
                 "timezone": timezone},
        "investigator": {"name": facts.get("officer_name"), "unit": unit, "user": facts.get("decided_by"),
                         "verified_at": facts.get("decided_at")},
        "hearing": {"date": hearing, "court": config.court, "kejari": config.kejari},
        "evidence": evidence,
    }
    missing = list(ALWAYS_MISSING)
    for key, value in (("violator.plate", facts.get("plate")), ("violation.pasal", legal.get("pasal")),
                       ("place.lat", facts.get("lat")), ("place.lon", facts.get("lon")),
                       ("investigator.name", facts.get("officer_name")), ("investigator.unit", unit),
                       ("hearing.date", hearing)):
        if value in (None, ""):
            missing.append(key)
    missing += [f"evidence.{e['kind']}" for e in evidence if e["file"] is None]
    out["missing"] = missing
    return out


def _evidence(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((e for e in rec["evidence"] if e["kind"] == kind), {})


def csv_row(rec: dict[str, Any]) -> dict[str, Any]:
    v, p = rec["violation"], rec["place"]
    snap, clip = _evidence(rec, "snapshot"), _evidence(rec, "clip")
    return {
        "case_no": rec["case_no"], "violation_id": rec["violation_id"], "plate": rec["violator"]["plate"],
        "vehicle_class": rec["violator"]["vehicle_class"], "violator_name": rec["violator"]["name"],
        "violator_address": rec["violator"]["address"], "violation": v["description"], "law": v["law"],
        "pasal": v["pasal"], "ayat": v["ayat"], "max_fine": v["max_fine"], "max_jail": v["max_jail"],
        "ladder_step": v["ladder_step"], "seized_items": "; ".join(rec["seized_items"]),
        "camera_id": p["camera_id"], "place": p["camera_name"], "area": p["area_name"] or p["area"],
        "lat": p["lat"], "lon": p["lon"], "time_utc": rec["time"]["utc"], "time_local": rec["time"]["local"],
        "investigator_name": rec["investigator"]["name"], "investigator_unit": rec["investigator"]["unit"],
        "hearing_date": rec["hearing"]["date"], "court": rec["hearing"]["court"],
        "snapshot_file": snap.get("file"), "snapshot_sha256": snap.get("sha256"),
        "clip_file": clip.get("file"), "clip_sha256": clip.get("sha256"), "missing": "; ".join(rec["missing"]),
    }


def cases_json(batch: str, created_at: str, deployment: str, records: list[dict[str, Any]]) -> bytes:
    doc = {"schema_version": SCHEMA_VERSION, "batch": batch, "created_at": created_at, "deployment": deployment,
           "cases": records}
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def cases_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: "" if v is None else v for k, v in csv_row(rec).items()})
    return out.getvalue().encode("utf-8")
