"""The registry meta-test: every standard transform has a one-line doc, a positive test under
tests/stdlib/ and a property test.

A *positive test* is a module under tests/stdlib/ that mentions the transform's name. A
*property test* is either generated from the transform's pattern (Rules and Groups, checked by
tests/property/test_stdlib_properties.py; their patterns must be buildable by
graphrewrite.testing) or, for a Pass, an entry naming it in a tests/property/ module (a Pass
needs graphs and arguments chosen for what it rewrites).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]


def _transforms() -> list[Any]:
    try:
        from graphrewrite.stdlib_rules import standard_rules

        return list(standard_rules())
    except Exception:  # reported by test_registry_is_not_empty, the rest still collects
        return []


TRANSFORMS = _transforms()
IDS = [t.name for t in TRANSFORMS]


def _texts(folder: str) -> dict[str, str]:
    return {str(p.relative_to(TESTS)): p.read_text(encoding="utf-8") for p in sorted((TESTS / folder).glob("**/*.py"))}


STDLIB_TESTS = _texts("stdlib")
PROPERTY_TESTS = _texts("property")


def _is_pass(transform: Any) -> bool:
    return not hasattr(transform, "pattern") and not hasattr(transform, "rules")


def test_registry_is_not_empty() -> None:
    from graphrewrite.stdlib_rules import standard_rules

    assert len(standard_rules()) > 0


def doc_problem(transform: Any) -> str | None:
    docs = [(transform.name, transform.doc)] + [(r.name, r.doc) for r in getattr(transform, "rules", ())]
    for name, doc in docs:
        if not isinstance(doc, str) or not doc.strip():
            return f"'{name}' has no doc line"
        if "\n" in doc.strip():
            return f"'{name}' has a doc of several lines: {doc!r}"
    return None


def positive_tests(name: str) -> list[str]:
    word = re.compile(rf"\b{re.escape(name)}\b")
    return [path for path, text in STDLIB_TESTS.items() if Path(path).name.startswith("test_") and word.search(text)]


def property_problem(transform: Any) -> str | None:
    if _is_pass(transform):
        quoted = re.compile(rf"[\"']{re.escape(transform.name)}[\"']")
        if not any(quoted.search(text) for text in PROPERTY_TESTS.values()):
            return (
                f"pass '{transform.name}' has no property test: add an entry for it to PROPERTIES in "
                "tests/property/test_stdlib_properties.py (graphs and arguments it rewrites)"
            )
        return None
    from hypothesis.errors import InvalidArgument

    from graphrewrite.testing import graphs_from_pattern

    try:
        graphs_from_pattern(transform)
    except InvalidArgument as exc:  # an op the generators cannot build
        return f"'{transform.name}' gets no generated graphs: {exc}"
    return None


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_has_a_one_line_doc(transform: Any) -> None:
    problem = doc_problem(transform)
    assert problem is None, problem


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_has_a_positive_test(transform: Any) -> None:
    assert positive_tests(transform.name), f"no test module under tests/stdlib/ mentions '{transform.name}'"


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_has_a_property_test(transform: Any) -> None:
    problem = property_problem(transform)
    assert problem is None, problem


def test_the_checks_catch_a_transform_that_lacks_them() -> None:
    from graphrewrite.engine.pattern import Tensor, op
    from graphrewrite.rules.rule import Group, Pass, Rule

    orphan = Pass("orphan_pass_without_tests", "graph -> graph", lambda graph, ctx: graph)
    assert positive_tests(orphan.name) == []
    assert "has no property test" in (property_problem(orphan) or "")
    assert doc_problem(Pass("p", "", lambda graph, ctx: graph)) == "'p' has no doc line"
    two_lines = Rule("r", "first line\nsecond line", op("Relu", Tensor("x")), lambda m, g, c: "no")
    assert "several lines" in (doc_problem(Group("g", "ok", (two_lines,))) or "")
    unbuildable = Rule("u", "Bogus(x) -> x", op("Bogus", Tensor("x")), lambda m, g, c: "no")
    assert "no catalogue entry for Bogus" in (property_problem(unbuildable) or "")
    assert positive_tests("strip_unused_nodes")  # and a real one is found
