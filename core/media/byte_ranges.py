"""Which bytes of a file a GET answers with: the whole file, one range, or none (RFC 9110, section 14).

The download handler decides the span here, once, then audits and serves
exactly that span; so no spelling of ``Range`` or ``If-Range`` can serve bytes
the audit did not see. What this server does with each kind of header:

- no ``Range``, a unit other than ``bytes`` (compared without case), a
  malformed range set, more than one range, or an ``If-Range`` that is not this
  file's strong ETag: the whole file, ``200`` (a server may ignore ``Range``);
- one satisfiable range (``bytes=0-99``, ``bytes=-500``, ``bytes=100-``,
  ``bytes=,7-`` with its empty list element): that range, ``206``;
- one range that starts at or past the end (or ``bytes=-0``): ``416``.
"""

from __future__ import annotations

import re

# first-pos "-" [last-pos], or "-" suffix-length; OWS around list commas
_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
MAX_LIST = 100  # range-set elements read at all (empty ones included); more: the header is ignored


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"the requested range is outside the file ({size} bytes)")
        self.size = size


def _number(digits: str) -> int:
    """A decimal of any length; ``int()`` refuses more than 4300 digits, and no file is that long anyway."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10**18


def choose_span(range_header: str | None, if_range: str | None, etag: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) to answer with ``206``; ``None`` for the whole file.

    Raises :class:`RangeNotSatisfiable` (``416``) for a single range past the end.
    ``etag`` is the file's strong ETag, quotes included.
    """
    if range_header is None:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None  # a date, a weak or another ETag: the file changed as far as we know, send all of it
    unit, sep, range_set = range_header.strip().partition("=")
    if not sep or unit.lower() != "bytes" or range_set.count(",") >= MAX_LIST:
        return None
    specs = [part.strip(" \t") for part in range_set.split(",")]
    specs = [spec for spec in specs if spec]
    if len(specs) != 1:
        return None
    match = _SPEC.fullmatch(specs[0])
    if match is None or not (match[1] or match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # a suffix: the last N bytes
        length = _number(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size
    start = _number(first)
    if last and _number(last) < start:
        return None  # invalid: ignored, not refused
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = min(size, _number(last) + 1) if last else size
    return start, end
