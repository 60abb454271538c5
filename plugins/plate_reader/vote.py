"""One plate read from several frames of a track: vote, then decide whether a person must type it.

Each frame's read is put into TNKB shape (``tnkb.fix``); its confidence is its
weakest character's probability, times ``fixup_penalty`` for every swapped
character. Reads vote for their text with their confidence (half of it for a
read that is no valid TNKB). The track's
confidence is the winners' mean confidence times the winners' share of all
votes, so frames that disagree lower it. A read below ``min_confidence``, or
one that fails validation, needs manual entry: it is never ticket-ready.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from plugins.plate_reader.ocr import RawRead
from plugins.plate_reader.tnkb import Rules, fix, parse, problems


# An invalid frame read (half a plate, a sliver of the border) still argues against the winner,
# at half weight: measured on the simulator's plates, it keeps precision at 1.0 and sends fewer
# right reads to manual entry than full weight.
INVALID_WEIGHT = 0.5


@dataclass(frozen=True)
class FrameRead:
    raw: str
    text: str  # TNKB-shaped and normalised, or the letters and digits read when no shape fits
    confidence: float
    fixups: int
    valid: bool = False  # a TNKB that passes the rules


@dataclass(frozen=True)
class PlateRead:
    text: str  # normalised (``KT1234AB``); "" when nothing was read
    display: str  # as painted (``KT 1234 AB``), else the text
    raw: str  # the winning frames' first full-alphabet read, e.g. ``127-RFS``
    confidence: float
    votes: int  # frames that read ``text``
    frames: int  # frames read
    agreement: tuple[float, ...]  # per character of ``text``: share of same-length reads agreeing
    colour: str
    valid: bool
    fixups: int  # swaps in the winning frames' best read
    reasons: tuple[str, ...]  # why it needs manual entry (empty when ticket-ready)

    @property
    def needs_manual_entry(self) -> bool:
        return bool(self.reasons)

    @property
    def ticket_ready(self) -> bool:
        return not self.reasons


def frame_read(read: RawRead, rules: Rules, penalty: float, vehicle_class: str | None = None) -> FrameRead:
    if not read.chars:
        return FrameRead(read.raw, "", 0.0, 0)
    conf = min(c.prob for c in read.chars)
    fixed = fix(read.chars, rules, vehicle_class)
    if fixed is None or problems(fixed.plate, rules, vehicle_class):
        return FrameRead(read.raw, read.text, conf, 0)  # swaps that still give no valid plate: keep the read
    return FrameRead(read.raw, fixed.plate.normalised, conf * penalty**fixed.fixups, fixed.fixups, True)


def vote(
    reads: list[FrameRead],
    colour: str,
    rules: Rules,
    min_confidence: float,
    vehicle_class: str | None = None,
) -> PlateRead:
    score: dict[str, float] = defaultdict(float)
    for r in reads:
        if r.text:
            score[r.text] += r.confidence * (1.0 if r.valid else INVALID_WEIGHT)
    if not score:
        raw = next((r.raw for r in reads if r.raw), "")
        return PlateRead("", raw, raw, 0.0, 0, len(reads), (), colour, False, 0, ("no text read",))
    text = max(score, key=lambda t: (score[t], sum(r.text == t for r in reads)))
    winners = [r for r in reads if r.text == text]
    total = sum(score.values())
    confidence = (sum(r.confidence for r in winners) / len(winners)) * (score[text] / total)
    same_len = [r.text for r in reads if len(r.text) == len(text)]
    agreement = tuple(round(sum(t[i] == ch for t in same_len) / len(same_len), 3) for i, ch in enumerate(text))
    plate = parse(text)
    why = problems(plate, rules, vehicle_class)
    reasons = list(why)
    if confidence < min_confidence:
        reasons.append(f"confidence {confidence:.2f} below {min_confidence:.2f}")
    return PlateRead(
        text=text,
        display=plate.text if plate else text,
        raw=winners[0].raw,
        confidence=round(confidence, 4),
        votes=len(winners),
        frames=len(reads),
        agreement=agreement,
        colour=colour,
        valid=not why,
        fixups=min(r.fixups for r in winners),
        reasons=tuple(reasons),
    )
