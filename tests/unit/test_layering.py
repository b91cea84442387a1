"""The import rule of docs/architecture.md: layers only point down, and there are no import cycles.

Layers, lowest first: engine (with ``_tf``) <- rules (what a rule is) <- the two languages
(grammar, and the rest of rules/) <- stdlib_rules <- model tools (freezing, pipeline, verify,
serve, testing, ...) <- cli and commands. Every import counts for layering, the lazy ones inside
functions too (they run as soon as the function does). Cycles are checked among module-level
imports: a lazy import cannot make a module half-initialised. The package root is lazy (PEP 562
``__getattr__``), so ``from graphrewrite import _tf`` imports nothing else.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "graphrewrite"

ROOT = "graphrewrite"  # the lazy package root: layer 0, importing nothing until asked
LAYERS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("graphrewrite._tf", "graphrewrite.engine")),
    (2, ("graphrewrite.rules.rule", "graphrewrite.rules.params", "graphrewrite.rules.facts")),
    (3, ("graphrewrite.grammar", "graphrewrite.rules")),
    (4, ("graphrewrite.stdlib_rules",)),
    (6, ("graphrewrite.cli", "graphrewrite.commands", "graphrewrite.__main__")),
)
MODEL_TOOLS = 5  # everything not listed: freezing, pipeline, verification, serve, testing, ...


def layer(module: str) -> int:
    """The layer of *module*: its longest listed prefix decides."""
    if module == ROOT:
        return 0
    found, length = MODEL_TOOLS, -1
    for number, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                found, length = number, len(prefix)
    return found


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path, known: Iterable[str], *, lazy: bool) -> set[str]:
    """The package's modules *path* imports (``from a import b`` counts as ``a.b`` when that is a module)."""
    known = set(known)
    found: set[str] = set()

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue  # for type checkers only: never executed
            if (lazy or not nested) and isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif (lazy or not nested) and isinstance(child, ast.ImportFrom) and child.module and not child.level:
                subs = {f"{child.module}.{a.name}" for a in child.names} & known
                found.update(subs or {child.module})
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return {m for m in found if m in known}


def upward(found: Mapping[str, Path]) -> list[str]:
    return [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, path in found.items()
        for target in sorted(imports(path, found, lazy=True))
        if layer(target) > layer(module)
    ]


def cycles(found: Mapping[str, Path]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph = {m: sorted(imports(p, found, lazy=False)) for m, p in found.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def test_imports_point_down() -> None:
    problems = upward(modules(PACKAGE))
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    found = cycles(modules(PACKAGE))
    assert not found, f"import cycles: {found}"


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    root = tmp_path / "graphrewrite"
    (root / "engine").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "engine" / "__init__.py").write_text("")
    (root / "engine" / "a.py").write_text("def f():\n    from graphrewrite.pipeline import run\n")  # lazy, upward
    (root / "engine" / "b.py").write_text("from graphrewrite.engine import c\n")
    (root / "engine" / "c.py").write_text("import graphrewrite.engine.b\n")
    (root / "pipeline.py").write_text("from graphrewrite.engine import a\n")
    found = modules(root)
    assert upward(found) == ["graphrewrite.engine.a (layer 1) imports graphrewrite.pipeline (layer 5)"]
    assert cycles(found) == [["graphrewrite.engine.b", "graphrewrite.engine.c"]]
