"""The test suites share helpers through the ``tests.helpers`` package, not through ``sys.path``:
no test module edits ``sys.path`` or imports a sibling test module by its bare name, and the
shared graph builders are defined once, in tests/helpers."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HELPERS = TESTS / "helpers"
SHARED = {"ops", "_ops", "const", "v1_graph", "control_flow_v1", "random_graph", "build_tf1_model"}


def _is_sys_path(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute) and node.attr == "path"
        and isinstance(node.value, ast.Name) and node.value.id == "sys"
    )  # fmt: skip


def _edits(node: ast.AST) -> bool:
    """Whether *node* calls a method of ``sys.path`` or ``site.addsitedir``, or assigns to
    ``sys.path`` or a slice of it."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _is_sys_path(node.func.value) or node.func.attr == "addsitedir"
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    else:
        return False
    return any(_is_sys_path(t) or (isinstance(t, ast.Subscript) and _is_sys_path(t.value)) for t in targets)


def _edits_sys_path(tree: ast.AST) -> bool:
    return any(_edits(node) for node in ast.walk(tree))


def _sibling_imports(tree: ast.AST) -> list[str]:
    """Test modules imported by bare name (``from test_x import ...``), which only resolve
    through the importing file's folder on ``sys.path``."""
    found = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    found += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level]
    return [name for name in found if name.split(".")[0].startswith(("test_", "conftest", "helpers"))]


def _modules() -> list[tuple[str, ast.AST]]:
    return [
        (str(path.relative_to(TESTS)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(TESTS.rglob("*.py"))
    ]  # fmt: skip


def _string_trees(tree: ast.AST) -> list[ast.AST]:
    """Python source held in string constants (scripts a test hands to a child process)."""
    trees = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "import" in node.value:
            try:
                trees.append(ast.parse(node.value))
            except SyntaxError:
                continue
    return trees


def test_no_test_module_edits_sys_path() -> None:
    offenders = [name for name, tree in _modules() if _edits_sys_path(tree)]
    assert not offenders, f"import helpers from tests.helpers instead of editing sys.path: {offenders}"


def test_no_test_module_imports_a_sibling_by_bare_name() -> None:
    this = str(Path(__file__).resolve().relative_to(TESTS))  # its strings are the check's samples
    offenders = {
        name: found for name, tree in _modules()
        if (found := [m for t in (tree, *(_string_trees(tree) if name != this else ())) for m in _sibling_imports(t)])
    }  # fmt: skip
    assert not offenders, f"move shared code to tests.helpers and import it from there: {offenders}"


def test_shared_graph_builders_are_defined_once_in_tests_helpers() -> None:
    defined = [
        (name, node.name) for name, tree in _modules() if not name.startswith("helpers")
        for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name in SHARED
    ]  # fmt: skip
    assert not defined, f"import these from tests.helpers instead of defining them again: {defined}"


@pytest.mark.parametrize(
    ("source", "edits"),
    [
        ("import sys\nsys.path.insert(0, 'x')", True),
        ("import sys\nsys.path.append('x')", True),
        ("import sys\nsys.path[:0] = ['x']", True),
        ("import sys\nsys.path = ['x']", True),
        ("import sys\nsys.path += ['x']", True),
        ("import site\nsite.addsitedir('x')", True),
        ("import sys\nprint(sys.path[0], list(sys.path))", False),
        ("import os\nos.path.join('a', 'b')", False),
    ],
)
def test_the_sys_path_check_sees_each_way_of_editing_it(source: str, edits: bool) -> None:
    assert _edits_sys_path(ast.parse(source)) is edits


def test_the_sibling_check_sees_bare_test_imports_only() -> None:
    tree = ast.parse("import test_a\nfrom test_b import f\nfrom tests.helpers.structural import op\nimport numpy")
    assert _sibling_imports(tree) == ["test_a", "test_b"]


def test_every_helper_module_imports_as_part_of_the_package() -> None:
    names = sorted(p.stem for p in HELPERS.glob("*.py") if p.stem != "__init__")
    assert {"rule_graphs", "structural", "random_graphs", "tf1_models"} <= set(names)
    for name in names:
        module = importlib.import_module(f"tests.helpers.{name}")
        assert Path(module.__file__).parent == HELPERS, name


def test_test_modules_outside_packages_have_distinct_basenames() -> None:
    """pytest imports a module of a folder without ``__init__.py`` by its basename: two such
    modules of one name would collide (give the folder an ``__init__.py`` instead)."""
    seen: dict[str, list[str]] = {}
    for path in TESTS.rglob("*.py"):
        if not (path.parent / "__init__.py").exists():
            seen.setdefault(path.stem, []).append(str(path.relative_to(TESTS)))
    assert not {stem: paths for stem, paths in seen.items() if len(paths) > 1}
