"""The zone file: one camera's zones as versioned JSON, for export and import.

    {
      "format": "bconnect.zones",
      "version": 1,
      "camera": "cam-12",
      "zones": [{"id": "np-west", "name": "...", "kind": "no_parking", "preset": "p3",
                 "points": [[0.1, 0.6], [0.4, 0.6], [0.4, 0.9]], "windows": ["16:00-19:00"]}]
    }

:func:`import_zones` reads such a text and either returns the camera's
:class:`~core.analytics.zones.CameraZones` or raises :class:`ZoneFileError`
with every problem found, each naming its line, its key (``zones[1].kind``)
and a one-line reason; unknown keys are refused. :func:`export_zones` writes
the same format back, so an export imports to equal zones.

A newer version than this code knows is refused with a reason, never guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from core.analytics.zones import CameraZones, Zone

FORMAT = "bconnect.zones"
VERSION = 1

Path = tuple[str | int, ...]


class ZoneFile(BaseModel):
    """The file's top level (version 1)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["bconnect.zones"]
    version: Literal[1]
    camera: str
    zones: list[Zone] = []


@dataclass(frozen=True)
class Problem:
    line: int | None
    key: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: [{self.key}] {self.reason}" if self.key else f"{where}: {self.reason}"


class ZoneFileError(ValueError):
    """A zone file that cannot be imported; ``problems`` lists each reason. Nothing is imported."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def export_zones(zones: CameraZones) -> str:
    """The camera's zones as a zone file (pretty JSON, keys in a fixed order, defaults left out)."""
    body = {
        "format": FORMAT,
        "version": VERSION,
        "camera": zones.camera,
        "zones": [z.model_dump(mode="json", exclude_defaults=True) for z in zones.zones],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def import_zones(text: str | bytes, source: str = "zones.json") -> CameraZones:
    """Read a zone file; :class:`ZoneFileError` (every problem, with line and key) if it is not valid."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ZoneFileError(source, [Problem(None, "", f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneFileError(source, [Problem(exc.lineno, "", f"invalid JSON: {exc.msg} (column {exc.colno})")]) from None
    except RecursionError:
        raise ZoneFileError(source, [Problem(None, "", "invalid JSON: nested too deeply for a zone file")]) from None
    except ValueError:  # an integer of more than 4300 digits: Python's own bound, not a JSONDecodeError
        raise ZoneFileError(source, [Problem(None, "", "invalid JSON: an integer too large for a zone file")]) from None
    if not isinstance(data, dict):
        raise ZoneFileError(source, [Problem(1, "", "a zone file holds one JSON object")])
    lines = key_lines(text)
    if data.get("format") != FORMAT:
        reason = f"not a B-Connect zone file: format must be {FORMAT!r}, got {data.get('format')!r}"
        raise ZoneFileError(source, [Problem(lines.get(("format",), 1), "format", reason)])
    version = data.get("version")
    if version != VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            reason = f"version {version} is newer than this B-Connect reads ({VERSION}): upgrade B-Connect to import it"
        else:
            reason = f"version must be {VERSION}, got {version!r}"
        raise ZoneFileError(source, [Problem(lines.get(("version",), 1), "version", reason)])
    try:
        parsed = ZoneFile.model_validate(data)
        return CameraZones(camera=parsed.camera, zones=tuple(parsed.zones))
    except ValidationError as exc:
        raise ZoneFileError(source, _problems(exc, lines)) from None


def _problems(exc: ValidationError, lines: dict[Path, int]) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        reason = err["msg"]
        if kind == "extra_forbidden":
            reason = "unknown key"
        elif kind == "missing":
            reason = "missing value"
        elif kind == "value_error":
            reason = reason.removeprefix("Value error, ")
        line, depth = _locate(lines, loc)
        if depth and kind != "missing":
            loc = loc[:depth]  # pydantic may add type tags that are not keys of the file
        out.append(Problem(line, key_path(loc), reason))
    return sorted(out, key=lambda p: p.line or 0)


def key_path(loc: Sequence[str | int]) -> str:
    """``zones[1].points[2]``: indices in brackets, keys dotted."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _locate(lines: dict[Path, int], loc: Path) -> tuple[int | None, int]:
    for depth in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:depth]))
        if line is not None:
            return line, depth
    return None, 0


def key_lines(text: str) -> dict[Path, int]:
    """Every key path of a JSON document (already accepted by ``json.loads``) mapped to its 1-based line.

    Object members are found by key, array elements by index:
    ``("zones", 1, "points", 2)``. Used only to point at a line; it never
    decides what the file means.
    """
    scanner = _JsonLines(text)
    try:
        scanner.skip()
        scanner.lines[()] = scanner.line
        scanner.value(())
    except (IndexError, ValueError, RecursionError):
        pass  # lines found so far still point somewhere; the rest say "file"
    return scanner.lines


class _JsonLines:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}

    def skip(self) -> None:
        s = self.s
        while self.i < len(s) and s[self.i] in " \t\r\n":
            if s[self.i] == "\n":
                self.line += 1
            self.i += 1

    def string(self) -> str:
        s, j = self.s, self.i + 1
        while s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        raw = s[self.i : j + 1]
        self.i = j + 1
        return json.loads(raw)

    def value(self, path: Path) -> None:
        c = self.s[self.i]
        if c == "{":
            self.i += 1
            self.skip()
            while self.s[self.i] != "}":
                line = self.line
                key = self.string()
                self.lines.setdefault((*path, key), line)
                self.skip()
                self.i += 1  # ":"
                self.skip()
                self.value((*path, key))
                self.skip()
                if self.s[self.i] == ",":
                    self.i += 1
                    self.skip()
            self.i += 1
        elif c == "[":
            self.i += 1
            self.skip()
            index = 0
            while self.s[self.i] != "]":
                self.lines.setdefault((*path, index), self.line)
                self.value((*path, index))
                self.skip()
                if self.s[self.i] == ",":
                    self.i += 1
                    self.skip()
                index += 1
            self.i += 1
        elif c == '"':
            self.string()
        else:
            j = self.i
            while j < len(self.s) and self.s[j] not in ",]} \t\r\n":
                j += 1
            self.i = j
