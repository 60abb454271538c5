"""Find the line of a key path in TOML text, for error messages.

``tomllib`` gives values but no positions. This scanner follows table headers
(``[a.b]``, ``[[a.b]]``) and ``key = value`` lines, including dotted keys and
one level of inline tables, which covers how deployment files are written.
It is only used to point at a line; it never decides what a file means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")
_INLINE_KEY = re.compile(r"([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


def _split_key(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in text.split(".")]


def find_line(text: str, path: Sequence[str | int]) -> int | None:
    """1-based line where ``path`` is defined, or the nearest enclosing table."""
    keys = [str(p) for p in path if not isinstance(p, int)]
    if not keys:
        return None
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: list[str] = []
    array_counts: dict[tuple[str, ...], int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            if line.lstrip().startswith("[["):
                array_counts[tuple(table)] = array_counts.get(tuple(table), 0) + 1
            depth = _prefix_len(table, keys)
            if depth == len(table) and (best is None or depth > best[0]):
                best = (depth, lineno)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        full = table + _split_key(key.group(1))
        depth = _prefix_len(full, keys)
        if depth == len(full) and (best is None or depth > best[0]):
            best = (depth, lineno)
        if depth == len(full) and depth < len(keys) and "{" in line:
            for inner in _INLINE_KEY.finditer(line[line.index("{"):]):
                name = inner.group(1).strip('"')
                if len(full) < len(keys) and name == keys[len(full)]:
                    best = (len(full) + 1, lineno)
        if best and best[0] == len(keys):
            return best[1]
    return best[1] if best else None


def _prefix_len(have: list[str], want: list[str]) -> int:
    n = 0
    for a, b in zip(have, want):
        if a != b:
            break
        n += 1
    return n
