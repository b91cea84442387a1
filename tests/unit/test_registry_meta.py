"""The registry meta-test: every standard transform has a one-line doc, a positive test under
tests/stdlib/ and a property test.

A *positive test* is a module under tests/stdlib/ that mentions the transform's name. A
*property test* comes from the transform itself (tests/property/test_stdlib_properties.py runs
one per registry entry): Rules and Groups on graphs built from their patterns, which the
generators must be able to build; a Pass on the graphs its facts name
(``Checked(cases=...)``), which must exist in graphrewrite.testing.cases, as must the promise
its facts name in graphrewrite.testing.promises. These are checked by importing, not by
reading test files.
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
    from graphrewrite.testing import cases, promises

    checked = transform.facts.checked
    if _is_pass(transform) and checked.cases is None:
        return (
            f"pass '{transform.name}' has no property test: declare the graphs it rewrites in its facts, "
            "facts=Facts(checked=Checked(cases=...)) with a generator from graphrewrite.testing.cases"
        )
    try:
        if checked.cases is not None:
            cases.named(checked.cases)
        promises.named(checked.promise)
    except KeyError as exc:
        return f"'{transform.name}': {exc.args[0]}"
    if _is_pass(transform) or checked.cases is not None:
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
    from graphrewrite.rules.facts import Checked, Facts

    misnamed = Pass("p", "graph -> graph", lambda graph, ctx: graph, facts=Facts(checked=Checked(cases="no_such_cases")))
    assert "no case generator 'no_such_cases'" in (property_problem(misnamed) or "")
    assert doc_problem(Pass("p", "", lambda graph, ctx: graph)) == "'p' has no doc line"
    two_lines = Rule("r", "first line\nsecond line", op("Relu", Tensor("x")), lambda m, g, c: "no")
    assert "several lines" in (doc_problem(Group("g", "ok", (two_lines,))) or "")
    unbuildable = Rule("u", "Bogus(x) -> x", op("Bogus", Tensor("x")), lambda m, g, c: "no")
    assert "no catalogue entry for Bogus" in (property_problem(unbuildable) or "")
    assert positive_tests("strip_unused_nodes")  # and a real one is found
