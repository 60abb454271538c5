"""The import rules of docs/architecture.md, checked on the source (ast, nothing is imported).

Every import counts: at module level, inside a function (where a cycle likes to
hide) and under ``if TYPE_CHECKING:``. The rules:

* the core (``core/``, ``web/``) never imports a plugin;
* a plugin never imports another plugin (shared code is a library in ``core/``,
  e.g. ``core/drivers/``);
* no import cycle anywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "plugins", "web")

# Cycles known when the import rules were written down, each to be broken on its own branch
# (issue 8, s8-agencies). The lead empties this list once those branches are merged; an entry
# that no longer occurs fails test_known_cycles_still_exist so that the list never goes stale.


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(root: Path = ROOT) -> dict[str, tuple[Path, str]]:
    """Module name -> (path, source) of every module under the checked packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            out[module_name(path, root)] = (path, path.read_text(encoding="utf-8"))
    return out


def _resolve(name: str, modules: Iterable[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (``core.ptz.service.X`` -> ``core.ptz.service``)."""
    known = set(modules)
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, source: str, modules: set[str], is_package: bool = False) -> set[str]:
    """The known modules that ``module`` imports anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                base_parts = here[: len(here) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` imports mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    src = sources(root)
    modules = set(src)
    return {m: imports_of(m, text, modules, path.name == "__init__.py") for m, (path, text) in src.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that ends where it starts) per strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        # iterative, so a long chain of imports cannot hit the recursion limit
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.add(w)
                        if w == node:
                            break
                    if len(component) > 1:
                        components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_through(graph, c) for c in components]


def _path_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A cycle inside ``component``: breadth-first from its first module back to it."""
    start = min(component)
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for w in sorted(graph[node] & component):
            if w == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if w not in parent:
                parent[w] = node
                queue.append(w)
    return sorted(component)


def owner(module: str) -> str:
    """``core``, ``web`` or ``plugins.<name>`` (``plugins`` for the package itself)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "plugins" and len(parts) > 1 else parts[0]


GRAPH = import_graph()


def test_the_checked_tree_is_what_we_think():
    assert "core.ptz.service" in GRAPH and "plugins.patrol_tours.plugin" in GRAPH
    assert "plugins.patrol_tours.runner" in GRAPH["plugins.patrol_tours.plugin"]


def test_core_never_imports_a_plugin():
    bad = sorted(
        f"{m} imports {t}" for m, targets in GRAPH.items() if owner(m) in ("core", "web")
        for t in targets if t.split(".")[0] == "plugins"
    )
    assert bad == [], "the core must not import plugins:\n" + "\n".join(bad)


def test_no_plugin_imports_another_plugin():
    bad = sorted(
        f"{m} imports {t}" for m, targets in GRAPH.items() if owner(m).startswith("plugins.")
        for t in targets if owner(t).startswith("plugins") and owner(t) != owner(m)
    )
    assert bad == [], "a plugin imports another plugin (move shared code to a core library):\n" + "\n".join(bad)


def test_no_import_cycle():
    found = cycles(GRAPH)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


# --- the checker itself, on made-up modules ------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path):
    def make(files: dict[str, str]) -> dict[str, set[str]]:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        src = {module_name(p, tmp_path): (p, p.read_text()) for p in tmp_path.rglob("*.py")}
        return {m: imports_of(m, t, set(src), p.name == "__init__.py") for m, (p, t) in src.items()}

    return make


def test_checker_sees_imports_in_functions_type_checking_and_relative(tree):
    graph = tree({
        "core/__init__.py": "",
        "core/a.py": "def f():\n    from core.b import x\n",
        "core/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n",
        "core/c.py": "import core.a\n",
        "core/pkg/__init__.py": "from .d import y\n",
        "core/pkg/d.py": "from core import pkg\n",
    })
    assert graph["core.a"] == {"core.b"} and graph["core.b"] == {"core.c"} and graph["core.c"] == {"core.a"}
    assert graph["core.pkg"] == {"core.pkg.d"} and graph["core.pkg.d"] == {"core.pkg"}
    found = sorted(cycles(graph))
    assert found == [["core.a", "core.b", "core.c", "core.a"], ["core.pkg", "core.pkg.d", "core.pkg"]]


def test_checker_finds_no_cycle_in_a_chain(tree):
    graph = tree({"core/__init__.py": "", "core/a.py": "import core.b\n", "core/b.py": "import os\n"})
    assert cycles(graph) == []
