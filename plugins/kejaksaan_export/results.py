"""The court's results back: the decision (fine, court fee, or days of confinement) and its payment.

Recorded one case at a time by a prosecutor (``POST .../cases/{id}/result``)
or imported as a CSV (``POST .../results``; columns in docs/kejaksaan-export.md).
An import checks every row first: any bad row is named by its line with the
reason and nothing is stored. A case closes (``services.violations.close``)
once it has its decision and either the payment of fine plus fee or the
confinement served; a close that fails is kept with its reason and retried.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from plugins.kejaksaan_export.models import ExportBatch, ExportCase

log = logging.getLogger("bconnect.plugin.kejaksaan_export")
MAX_ROWS = 5000
MAX_AMOUNT = 100_000_000  # Rp: far above any tilang fine; catches a typo


class BadResult(ValueError):
    """One result that cannot be recorded; ``status`` 400 (malformed), 404 (no such case) or 409 (not now)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Result:
    violation_id: int
    fine: int
    court_fee: int
    subsidiary_days: int
    decided_on: str
    verdict: str = ""
    paid_amount: int | None = None
    paid_on: str | None = None
    ntpn: str = ""
    channel: str = ""
    confinement_served: bool = False


REQUIRED = ("violation_id", "fine", "court_fee", "subsidiary_days", "decided_on")
COLUMNS = tuple(f.name for f in fields(Result))


def _int(name: str, value: Any, low: int = 0, high: int = MAX_AMOUNT) -> int:
    if isinstance(value, str):
        value = value.strip().replace(".", "").replace(",", "") if name != "violation_id" else value.strip()
        if not (value.isascii() and value.isdigit()) or len(value) > 12:
            raise BadResult(f"{name}: expected a whole number, got {value[:40]!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadResult(f"{name}: expected a whole number from {low} to {high}")
    return value


def _date(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadResult(f"{name}: expected a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise BadResult(f"{name}: expected a date YYYY-MM-DD, got {value[:40]!r}") from None
    if day > datetime.now(UTC).date():
        raise BadResult(f"{name}: {day} is in the future")
    return day.isoformat()


def _text(name: str, value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadResult(f"{name}: expected text of at most {limit} characters")
    return value.strip()


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("", "0", "false", "no", "tidak"):
        return False
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "ya"):
        return True
    raise BadResult(f"{name}: expected true or false")


def parse(values: dict[str, Any]) -> Result:
    """A result from a JSON body or a CSV row (strings); raises :class:`BadResult` with the reason."""
    if not isinstance(values, dict):
        raise BadResult("expected an object")
    unknown = sorted(set(values) - set(COLUMNS))
    if unknown:
        raise BadResult(f"unknown field(s): {', '.join(u[:40] for u in unknown)}")
    absent = [k for k in REQUIRED if values.get(k) in (None, "")]
    if absent:
        raise BadResult(f"missing: {', '.join(absent)}")
    paid = values.get("paid_amount")
    result = Result(
        violation_id=_int("violation_id", values["violation_id"], 1, 2**31 - 1),
        fine=_int("fine", values["fine"]),
        court_fee=_int("court_fee", values["court_fee"]),
        subsidiary_days=_int("subsidiary_days", values["subsidiary_days"], 0, 366),
        decided_on=_date("decided_on", values["decided_on"]),
        verdict=_text("verdict", values.get("verdict"), 64),
        paid_amount=None if paid in (None, "") else _int("paid_amount", paid),
        paid_on=None if values.get("paid_on") in (None, "") else _date("paid_on", values["paid_on"]),
        ntpn=_text("ntpn", values.get("ntpn"), 32),
        channel=_text("channel", values.get("channel"), 32),
        confinement_served=_flag("confinement_served", values.get("confinement_served", False)),
    )
    if (result.paid_amount is None) != (result.paid_on is None):
        raise BadResult("paid_amount and paid_on go together")
    if result.paid_amount is not None and result.paid_amount != result.fine + result.court_fee:
        raise BadResult(f"paid_amount {result.paid_amount} is not the fine plus the court fee "
                        f"({result.fine + result.court_fee})")
    if result.paid_on is not None and result.paid_on < result.decided_on:
        raise BadResult("paid_on is before decided_on")
    if result.confinement_served and result.subsidiary_days == 0:
        raise BadResult("confinement_served, but the decision has no days of confinement")
    if result.confinement_served and result.paid_amount is not None:
        raise BadResult("a case is either paid or served, not both")
    return result


def parse_csv(text: str) -> list[Result]:
    """Every row, or :class:`BadResult` naming each bad line (line 1 is the header)."""
    try:
        return _parse_csv(text)
    except csv.Error as exc:  # a NUL byte, an unclosed quote at the end ...
        raise BadResult(f"not a readable CSV: {exc}") from None


def _parse_csv(text: str) -> list[Result]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    absent = [c for c in REQUIRED if c not in header]
    if absent:
        raise BadResult(f"line 1: the header lacks {', '.join(absent)} (columns: {', '.join(COLUMNS)})")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise BadResult(f"line 1: unknown column(s) {', '.join(u[:40] for u in unknown)} (columns: {', '.join(COLUMNS)})")
    out, problems, seen = [], [], {}
    for row in reader:
        line = reader.line_num
        if len(out) + len(problems) >= MAX_ROWS:
            raise BadResult(f"more than {MAX_ROWS} rows: split the file")
        if None in row:
            problems.append(f"line {line}: more cells than columns")
            continue
        try:
            result = parse({k: v for k, v in row.items() if v not in (None, "")})
        except BadResult as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if result.violation_id in seen:
            problems.append(f"line {line}: violation {result.violation_id} again (first on line {seen[result.violation_id]})")
            continue
        seen[result.violation_id] = line
        out.append(result)
    if problems:
        raise BadResult("; ".join(problems[:50]) + (f"; and {len(problems) - 50} more" if len(problems) > 50 else ""))
    if not out:
        raise BadResult("no rows")
    return out


async def check(result: Result, prefix: str = "") -> ExportCase:
    """The case the result is for, if it may be recorded now."""
    case = await ExportCase.get_or_none(violation_id=result.violation_id)
    if case is None:
        raise BadResult(f"{prefix}violation {result.violation_id} is not a case of this export", 404)
    batch = await ExportBatch.get_or_none(id=case.batch_id) if case.batch_id else None
    if batch is None or batch.state != "complete":
        raise BadResult(f"{prefix}violation {result.violation_id} has not been sent to the court yet", 409)
    if case.closed_at is not None:
        raise BadResult(f"{prefix}violation {result.violation_id} is closed: its result cannot change", 409)
    return case


def complete(case: ExportCase) -> bool:
    return case.decided_on is not None and (case.paid_amount is not None or case.confinement_served)


async def record(results: list[Result], by: str) -> list[ExportCase]:
    """Check every result, then store them all in one transaction (all or none)."""
    problems = []
    for i, r in enumerate(results):
        try:
            await check(r, f"line {i + 2}: " if len(results) > 1 else "")
        except BadResult as exc:
            problems.append(exc)
    if problems:
        status = 409 if all(p.status == 409 for p in problems) else problems[0].status
        raise BadResult("; ".join(str(p) for p in problems[:50]), status if len(results) == 1 else 400)
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        for r in results:
            await ExportCase.filter(violation_id=r.violation_id, closed_at=None).using_db(conn).update(
                fine=r.fine, court_fee=r.court_fee, subsidiary_days=r.subsidiary_days, decided_on=r.decided_on,
                verdict=r.verdict, paid_amount=r.paid_amount, paid_on=r.paid_on, ntpn=r.ntpn, channel=r.channel,
                confinement_served=r.confinement_served, result_by=by, result_at=now)
    return [await ExportCase.get(violation_id=r.violation_id) for r in results]


def describe(r: Result) -> str:
    """One line for the audit trail."""
    paid = f"; paid {r.paid_amount} on {r.paid_on}" if r.paid_amount is not None else ""
    served = "; confinement served" if r.confinement_served else ""
    return (f"fine {r.fine}, court fee {r.court_fee}, {r.subsidiary_days} day(s), decided {r.decided_on}"
            f"{paid}{served}")


def closing_note(case: ExportCase) -> str:
    fine = f"denda Rp{case.fine:,}".replace(",", ".")
    fee = f"biaya perkara Rp{case.court_fee:,}".replace(",", ".")
    decision = f"putusan {case.decided_on}{' ' + case.verdict if case.verdict else ''}: {fine}, {fee}, " \
               f"subsider {case.subsidiary_days} hari"
    if case.paid_amount is not None:
        done = f"dibayar {case.paid_on} Rp{case.paid_amount:,}".replace(",", ".") + \
               (f" NTPN {case.ntpn}" if case.ntpn else "") + (f" via {case.channel}" if case.channel else "")
    else:
        done = "kurungan pengganti dijalani"
    return f"{decision}; {done}"


async def close_ready(desk: Any, by: str | None = None) -> int:
    """Close every case that has its decision and payment (or confinement); returns how many closed."""
    from core.errors import Refused

    closed = 0
    for case in await ExportCase.filter(closed_at=None, decided_on__isnull=False).order_by("id"):
        if not complete(case):
            continue
        try:
            await desk.close(case.violation_id, by or case.result_by or "kejaksaan_export", closing_note(case))
        except Refused as exc:
            current = await desk.get(case.violation_id)
            if current is None or current["state"] != "closed":
                await ExportCase.filter(id=case.id).update(close_error=str(exc)[:200])
                log.warning("case of violation %d not closed: %s", case.violation_id, exc)
                continue
        await ExportCase.filter(id=case.id).update(closed_at=datetime.now(UTC), close_error="")
        closed += 1
    return closed
