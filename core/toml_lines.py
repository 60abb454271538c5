"""Find the line of a key path in TOML text, for error messages.

``tomllib`` gives values but no positions. This scanner walks the text once and
records the line where each key path starts: table headers (``[a.b]``), arrays
of tables (``[[a.b]]``, indexed per parent element), dotted keys, inline tables
and array elements (so ``plugins.x.cameras.1.url`` points at the second
camera's ``url``). It runs only on text ``tomllib`` has already accepted, so it
may be lenient; it only points at a line, it never decides what a file means.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

Path = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.arrays: dict[Path, int] = {}  # array-of-tables path -> elements so far
        self.implicit: set[Path] = set()

    # --- characters ----------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.s[self.i : self.i + n]

    def advance(self, n: int = 1) -> None:
        self.line += self.s.count("\n", self.i, self.i + n)
        self.i += n

    def skip_blank(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.advance((len(self.s) if end < 0 else end) - self.i)
            else:
                return

    def skip_to_line_end(self) -> None:
        end = self.s.find("\n", self.i)
        self.advance((len(self.s) if end < 0 else end + 1) - self.i)

    # --- keys and strings ----------------------------------------------------

    def string(self) -> str:
        quote = self.s[self.i]
        if self.peek(3) == quote * 3:
            end = self.s.find(quote * 3, self.i + 3)
            end = len(self.s) if end < 0 else end + 3
            while end < len(self.s) and self.s[end] == quote:  # up to two quotes may end it
                end += 1
            raw = self.s[self.i + 3 : end - 3]
            self.advance(end - self.i)
            return raw
        j = self.i + 1
        while j < len(self.s) and self.s[j] != quote and self.s[j] != "\n":
            j += 2 if quote == '"' and self.s[j] == "\\" else 1
        raw = self.s[self.i + 1 : j]
        self.advance(j + 1 - self.i)
        if quote == '"' and "\\" in raw:
            try:
                return json.loads(f'"{raw}"')
            except ValueError:
                return raw
        return raw

    def key(self) -> list[str]:
        parts: list[str] = []
        while self.i < len(self.s):
            self.skip_blank(newlines=False)
            c = self.peek()
            if c in "\"'":
                parts.append(self.string())
            else:
                j = self.i
                while j < len(self.s) and self.s[j] in _BARE:
                    j += 1
                parts.append(self.s[self.i : j])
                self.advance(j - self.i)
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()
        return parts

    # --- values --------------------------------------------------------------

    def note(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def value(self, path: Path) -> None:
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while self.i < len(self.s):
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                start = self.i
                self.note((*path, index), self.line)
                self.value((*path, index))
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
                    index += 1
                elif self.peek() != "]" and self.i == start:
                    return  # not valid TOML; stop pointing inside it
        elif c == "{":
            self.advance()
            while self.i < len(self.s):
                self.skip_blank(newlines=False)
                if self.peek() == "}":
                    self.advance()
                    return
                line = self.line
                sub = (*path, *self.key())
                self.note(sub, line)
                self.skip_blank(newlines=False)
                self.advance()  # "="
                self.skip_blank(newlines=False)
                self.value(sub)
                self.skip_blank(newlines=False)
                if self.peek() == ",":
                    self.advance()
                elif self.peek() != "}":
                    return  # not valid TOML; stop pointing inside it
        else:
            j = self.i
            while j < len(self.s) and self.s[j] not in ",]}\n#":
                j += 1
            self.advance(j - self.i)

    # --- document ------------------------------------------------------------

    def resolve(self, keys: list[str]) -> Path:
        """A header's path, with the current element index of each array of tables in it."""
        path: Path = ()
        for k in keys:
            path = (*path, k)
            if path in self.arrays:
                path = (*path, self.arrays[path] - 1)
        return path

    def note_prefixes(self, keys: list[str], line: int) -> None:
        # [a.b.c] defines a and a.b too, unless an explicit [a.b] header does
        for n in range(1, len(keys)):
            path = self.resolve(keys[:n])
            if path not in self.lines:
                self.lines[path] = line
                self.implicit.add(path)

    def note_header(self, path: Path, line: int) -> None:
        if path in self.implicit:
            self.implicit.discard(path)
            self.lines[path] = line
        self.note(path, line)

    def document(self) -> dict[Path, int]:
        table: Path = ()
        while self.i < len(self.s):
            self.skip_blank(newlines=True)
            if self.i >= len(self.s):
                break
            line = self.line
            if self.peek(2) == "[[":
                self.advance(2)
                keys = self.key()
                self.note_prefixes(keys, line)
                parent = self.resolve(keys[:-1])
                array = (*parent, keys[-1])
                self.note_header(array, line)
                self.arrays[array] = self.arrays.get(array, 0) + 1
                table = (*array, self.arrays[array] - 1)
                self.note(table, line)
                self.skip_to_line_end()
            elif self.peek() == "[":
                self.advance()
                keys = self.key()
                self.note_prefixes(keys, line)
                table = self.resolve(keys)
                self.note_header(table, line)
                self.skip_to_line_end()
            else:
                parts = self.key()
                for n in range(1, len(parts) + 1):
                    self.note((*table, *parts[:n]), line)
                self.skip_blank(newlines=False)
                if self.peek() != "=":
                    self.skip_to_line_end()
                    continue
                self.advance()
                self.skip_blank(newlines=False)
                self.value((*table, *parts))
        return self.lines


def key_lines(text: str) -> dict[Path, int]:
    """Every key path of the document mapped to the 1-based line that defines it."""
    try:
        return _Scanner(text).document()
    except (IndexError, ValueError):  # the scanner is a pointer, never a reason to fail
        return {}


def locate(text: str, path: Sequence[str | int]) -> tuple[int | None, int]:
    """``(line, depth)``: the line of the longest prefix of ``path`` in the text.

    ``depth`` is how many elements of ``path`` that prefix holds; 0 (and line
    ``None``) when not even the first key is in the file.
    """
    lines = key_lines(text)
    for depth in range(len(path), 0, -1):
        line = lines.get(tuple(path[:depth]))
        if line is not None:
            return line, depth
    return None, 0


def key_at_line(text: str, line: int) -> str:
    """Best guess of the key being written at ``line`` of a file that does not parse.

    The last table header above it, plus the bare key that starts the line:
    enough to name the culprit of a TOML syntax error.
    """
    table = ""
    lines = text.splitlines()
    for raw in lines[: max(line - 1, 0)]:
        stripped = raw.strip()
        if stripped.startswith("[") and "]" in stripped:
            table = stripped.strip("[").split("]", 1)[0].strip()
    here = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    key = here.split("=", 1)[0].strip() if "=" in here and not here.startswith(("[", "#")) else ""
    if here.startswith("[") and "]" in here:
        return here.strip("[").split("]", 1)[0].strip()
    return ".".join(p for p in (table, key) if p)
