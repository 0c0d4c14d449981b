"""The web app's modules import one another without cycles, counting imports inside functions.

A cycle is what lets a "read" module start writing or the pages' helpers leak into the API: keeping
the graph acyclic keeps the layers (tables, filters, queries, documents, commands, views/api) real.
Imports under `if TYPE_CHECKING:` do not run and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "webapp" / "callcare_web"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "callcare_web" and len(parts) > 1 and parts[1] in modules:
                found.add(parts[1])
    return found - {path.stem}


def test_no_import_cycles() -> None:
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    cycles = []

    def visit(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                cycles.append(" -> ".join([*path, start]))
            elif nxt not in path:
                visit(start, nxt, [*path, nxt])

    for module in graph:
        visit(module, module, [module])
    assert not cycles, cycles


def test_reads_do_not_write() -> None:
    """Queries and documents only read; audit rows come from audit.record alone."""
    for module in ("queries", "documents", "filters"):
        source = (PACKAGE / f"{module}.py").read_text()
        assert not any(word in source for word in (".insert()", ".update()", ".delete()")), module
    for path in PACKAGE.glob("*.py"):
        if path.stem != "audit":
            assert "audit.insert(" not in path.read_text(), path.name
