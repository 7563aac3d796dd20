"""No import cycles inside the package: every module's imports, read from its source.

A cycle works in Python only as long as nothing uses the other module's names while it is
half imported, and it ties two modules that should be layered (DESIGN: each layer imports
only those below it). The graph is built with ``ast`` from every module of ``drawdigit``:
imports at module level and inside functions (a lazy import is still a dependency), but
not those under ``if TYPE_CHECKING:`` (never executed; type hints only). An import of a
package's name (``from drawdigit.training import fit``) is an edge to the package's
``__init__``; ``from drawdigit import preprocess`` is an edge to the module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "drawdigit"


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package under ``root``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere but the body of ``if TYPE_CHECKING``
    (its ``else:`` does run)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` (at ``path``) imports when it runs."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:  # relative: from the module's package, up level - 1 more
            package = name.split(".") if is_package else name.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            targets.add(submodule if submodule in modules else base)
    return {target for target in targets if target in modules and target != name}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that returns to its start) per strongly connected group of
    modules, found with Tarjan's algorithm; sorted, so the message is stable."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(_a_cycle_within(group, graph) for group in groups)


def _a_cycle_within(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{group} is not strongly connected")  # cannot happen


def test_the_package_has_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


# --------------------------------------------------------------------------- the checker


def write(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for relative, source in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


def test_the_checker_finds_cycles_through_lazy_and_relative_imports(tmp_path: Path) -> None:
    package = write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from pkg import b\n",
            "b.py": "from .sub.c import x\n",
            "sub/__init__.py": "",
            "sub/c.py": "import pkg.a\nx = 1\n",
            "d.py": "import os\nfrom pkg.sub import c\n",  # into the cycle, not part of it
        },
    )
    graph = import_graph(package)
    assert graph["pkg.b"] == {"pkg.sub.c"} and graph["pkg.d"] == {"pkg.sub.c"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]


def test_the_checker_leaves_out_type_checking_imports_but_not_their_else(tmp_path: Path) -> None:
    package = write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.b import B\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\n"
            "else:\n    from pkg import c\n",
            "c.py": "from pkg.b import *\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.a"] == set()
    assert cycles(graph) == [["pkg.b", "pkg.c", "pkg.b"]]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from . import b", {"pkg.b"}),
        ("from .b import thing", {"pkg.b"}),
        ("from pkg import thing", {"pkg"}),  # a name of the package: its __init__
        ("import pkg.b as other", {"pkg.b"}),
        ("from .. import outside", set()),  # beyond the package: not ours
    ],
)
def test_the_checker_resolves_each_form_of_import(
    tmp_path: Path, source: str, expected: set[str]
) -> None:
    package = write(tmp_path, {"__init__.py": "", "a.py": source + "\n", "b.py": ""})
    assert import_graph(package)["pkg.a"] == expected
