"""Walk the audit chain and name every entry that was edited, inserted, moved or deleted.

Reads the chain in pages by sequence number, recomputing each hash and
checking each link. What each finding means:

* ``entry N: edited``: its fields do not hash to its stored hash.
* ``entry N: moved, it was entry M``: its fields hash correctly only under
  another number: entries were swapped, or renumbered around an insert or a
  delete (runs of these are reported as one range).
* ``entries A..B: missing``: numbers absent from the chain: deleted.
* ``entry N: does not follow entry N-1``: its own hash holds but its link does
  not: entry N-1 was replaced (edited and rehashed), or N inserted after it.
* ``row id X: not in the chain``: a row without a number, written behind B-Connect's back.
* anchors: a head that the chain no longer reaches (the tail was cut off), or
  an anchored entry whose hash changed since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from core.audit import chain
from core.audit.anchors import Anchor
from core.models import AuditEntry

PAGE = 2000
SEARCH = 16  # how far from its number a moved entry is looked for
MAX_ROWS_LISTED = 20
COLUMNS = ("seq", "at", "actor", "action", "target", "detail", "address", "prev_hash", "entry_hash")


@dataclass
class ChainReport:
    entries: int = 0  # chained entries read
    last_seq: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Moved:
    """A run of consecutive entries moved by the same offset, reported as one line."""

    first: int
    last: int
    offset: int  # now - was

    def text(self) -> str:
        if self.first == self.last:
            return f"entry {self.first}: moved, it was entry {self.first - self.offset} (reordered or renumbered)"
        return (
            f"entries {self.first}..{self.last}: moved, they were {self.first - self.offset}..{self.last - self.offset}"
            f" (renumbered: an entry was {'inserted' if self.offset > 0 else 'deleted'} before entry {self.first})"
        )


def _original_seq(row: Any) -> int | None:
    """The number under which ``row``'s fields hash to its stored hash, near its own."""
    for distance in range(1, SEARCH + 1):
        for seq in (row.seq - distance, row.seq + distance):
            if seq >= 1 and chain.row_hash(row, seq) == row.entry_hash:
                return seq
    return None


async def verify_chain(anchors: list[Anchor] | None = None) -> ChainReport:
    report = ChainReport()
    problems = report.problems
    anchored = {a.seq: a for a in anchors or ()}
    seen_at_anchor: dict[int, str] = {}
    expected, link, previous_bad = 1, chain.GENESIS, False
    moved: _Moved | None = None
    after = -(2**62)  # a forged entry numbered below 1 is read too
    while True:
        page = await AuditEntry.filter(seq__gt=after).order_by("seq").limit(PAGE).values(*COLUMNS)
        rows = [SimpleNamespace(**values) for values in page]  # plain rows: no model instances to build
        if not rows:
            break
        for row in rows:
            report.entries += 1
            if row.seq in anchored:
                seen_at_anchor[row.seq] = row.entry_hash
            if row.seq > expected:
                if moved is not None:
                    problems.append(moved.text())
                    moved = None
                first, last = expected, row.seq - 1
                problems.append(f"entry {first}: missing (deleted)" if first == last
                                else f"entries {first}..{last}: missing (deleted)")
            gap = row.seq > expected
            bad = False
            if chain.row_hash(row) != row.entry_hash:
                bad = True
                was = _original_seq(row)
                if was is None:
                    if moved is not None:
                        problems.append(moved.text())
                        moved = None
                    problems.append(f"entry {row.seq}: edited: its fields do not match its hash")
                elif moved is not None and moved.last == row.seq - 1 and moved.offset == row.seq - was:
                    moved.last = row.seq
                else:
                    if moved is not None:
                        problems.append(moved.text())
                    moved = _Moved(row.seq, row.seq, row.seq - was)
            elif row.prev_hash != link and not gap and not previous_bad:
                problems.append(
                    f"entry {row.seq}: does not follow entry {row.seq - 1}: its link names another entry"
                    f" (entry {row.seq - 1} was replaced, or entry {row.seq} inserted)"
                )
            if moved is not None and moved.last != row.seq:
                problems.append(moved.text())
                moved = None
            link, expected, previous_bad = row.entry_hash, row.seq + 1, bad
            report.last_seq = row.seq
        after = rows[-1].seq
    if moved is not None:
        problems.append(moved.text())
    await _unchained(problems)
    for anchor in anchors or ():
        _check_anchor(anchor, report, seen_at_anchor, problems)
    return report


async def _unchained(problems: list[str]) -> None:
    query = AuditEntry.filter(seq__isnull=True)
    ids = await query.order_by("id").limit(MAX_ROWS_LISTED).values_list("id", flat=True)
    if not ids:
        return
    count = await query.count()
    listed = ", ".join(str(i) for i in ids) + (f" and {count - len(ids)} more" if count > len(ids) else "")
    problems.append(f"row id {listed}: not in the chain (no sequence number): inserted behind B-Connect's back")


def _check_anchor(anchor: Anchor, report: ChainReport, seen: dict[int, str], problems: list[str]) -> None:
    where = f"anchor of entry {anchor.seq} ({anchor.at})"
    if anchor.seq > report.last_seq:
        first = report.last_seq + 1
        span = f"entry {first} was" if first == anchor.seq else f"entries {first}..{anchor.seq} were"
        problems.append(f"{where}: the chain ends at entry {report.last_seq}: {span} deleted (tail truncated)")
    elif anchor.seq not in seen:
        problems.append(f"{where}: entry {anchor.seq} is missing from the chain")
    elif seen[anchor.seq] != anchor.hash:
        problems.append(
            f"{where}: entry {anchor.seq} has another hash than when anchored: the chain was rewritten from it on"
        )
