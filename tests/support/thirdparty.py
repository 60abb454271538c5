"""A fabricated third-party distribution of B-Connect plugins, for tests.

``thirdparty`` (a fixture) copies the modules of ``thirdparty_plugins/`` into a
temporary folder next to a ``*.dist-info`` folder whose ``entry_points.txt``
declares them in the ``bconnect.plugins`` group: exactly what ``pip install``
of a plugin distribution leaves in site-packages. The folder is put on
``sys.path`` for the test (and ``env`` gives subprocesses the same
``PYTHONPATH``); afterwards the plugins are forgotten again.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parent / "thirdparty_plugins"
DIST = "bconnect_test_plugins-0.1.0"
ENTRY_POINTS = {
    "tp_hello": "tp_hello:Hello",
    "tp_faulty": "tp_faulty:Faulty",
    "tp_broken": "tp_broken:Broken",
    "tp_misspelt": "tp_misspelt:Misspelt",
    "tp_needs": "tp_needs:Needs",
    "tp_lazy": "tp_lazy:Lazy",
    "tp_wrongargs": "tp_misspelt:WrongArgs",
    "tp_wrapper": "tp_misspelt:Wrapper",
    "tp_notes": "tp_notes.plugin:Notes",
    "tp_claims": "tp_claims:Claims",
}
MODULES = ("tp_hello", "tp_faulty", "tp_broken", "tp_misspelt", "tp_needs", "tp_lazy", "tp_notes", "tp_claims")


@dataclass(frozen=True)
class ThirdParty:
    path: Path

    @property
    def env(self) -> dict[str, str]:
        parts = [str(self.path), os.environ.get("PYTHONPATH", "")]
        return {"PYTHONPATH": os.pathsep.join(p for p in parts if p)}

    def imported(self, module: str) -> bool:
        """Whether a marker-writing module (tp_lazy) was ever imported from here."""
        return (self.path / f"{module}.imported").exists()


def build_distribution(dest: Path) -> ThirdParty:
    dest.mkdir(parents=True, exist_ok=True)
    for source in SOURCES.glob("tp_*"):
        if source.is_dir():
            shutil.copytree(source, dest / source.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, dest / source.name)
    info = dest / f"{DIST}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bconnect-test-plugins\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in ENTRY_POINTS.items())
    (info / "entry_points.txt").write_text(f"[bconnect.plugins]\n{lines}")
    return ThirdParty(dest)


def _forget_modules() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in MODULES]:
        del sys.modules[name]


@pytest.fixture
def thirdparty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThirdParty]:
    dist = build_distribution(tmp_path / "site")
    _forget_modules()
    monkeypatch.syspath_prepend(str(dist.path))
    yield dist
    _forget_modules()
