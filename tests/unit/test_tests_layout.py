"""The test suites share helpers through the ``tests.helpers`` package, not through ``sys.path``."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _edits_sys_path(tree: ast.AST) -> bool:
    """Whether the module calls a method of ``sys.path`` (insert, append, extend, ...)."""
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(target := node.func.value, ast.Attribute) and target.attr == "path"
        and isinstance(target.value, ast.Name) and target.value.id == "sys"
        for node in ast.walk(tree)
    )  # fmt: skip


def test_no_test_module_edits_sys_path() -> None:
    offenders = [
        str(path.relative_to(TESTS)) for path in sorted(TESTS.rglob("*.py"))
        if _edits_sys_path(ast.parse(path.read_text(encoding="utf-8")))
    ]  # fmt: skip
    assert not offenders, f"import helpers from tests.helpers instead of editing sys.path: {offenders}"


def test_the_helpers_are_a_package() -> None:
    import tests.helpers.compression
    import tests.helpers.rule_graphs
    import tests.helpers.structural

    assert tests.helpers.rule_graphs.ops is not None
    assert tests.helpers.structural.apply is not None
    assert tests.helpers.compression.apply is not None
