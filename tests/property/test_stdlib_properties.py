"""Property tests for every standard transform, driven by the registry and each transform's facts.

Pattern rules and groups are checked on graphs built from their own patterns (so they fire);
passes on graphs shaped for what each rewrites, named in their facts
(``Checked(cases="dead_branches")``, generators in :mod:`graphrewrite.testing.cases`), with the
arguments and extra promises (:mod:`graphrewrite.testing.promises`) the facts give. Every check
runs both graphs in TensorFlow and compares outputs (within the documented tolerance for lossy
transforms), lints the result, and checks what else the transform promises. A transform whose
facts say ``fires=False`` cannot be triggered by generated graphs; its property is that it
leaves every other graph computing the same outputs.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphrewrite.testing import cases as named_cases
from graphrewrite.testing import check_rule, graphs, promises


def _registry() -> tuple[list[Any], str | None]:
    try:
        from graphrewrite.stdlib_rules import standard_rules

        return list(standard_rules()), None
    except Exception as exc:  # keep the other tests collectable while the registry is broken
        return [], f"{type(exc).__name__}: {exc}"


TRANSFORMS, REGISTRY_ERROR = _registry()


def test_registry_loads() -> None:
    assert REGISTRY_ERROR is None, f"standard_rules() failed: {REGISTRY_ERROR}"
    assert TRANSFORMS


def _params() -> list[Any]:
    """One case per transform; a group gets one per member rule (the whole group runs on graphs
    built from that member's pattern, so every member must fire)."""
    out = []
    for transform in TRANSFORMS:
        checked = transform.facts.checked
        members = getattr(transform, "rules", None) if checked.cases is None else None
        for member in members or (None,):
            name = transform.name if member is None else f"{transform.name}/{member.name}"
            out.append(pytest.param(transform, member, id=name))
    return out


def _tolerance(transform: Any) -> tuple[float, float]:
    from graphrewrite.stdlib_rules.tolerances import tolerance_for

    checked = transform.facts.checked
    return checked.tolerance or tolerance_for([(transform.name, checked.args)])


@pytest.mark.parametrize(("transform", "member"), _params())
def test_transform_property(transform: Any, member: Any) -> None:
    from graphrewrite.testing import graphs_from_pattern

    checked = transform.facts.checked
    is_pass = not hasattr(transform, "pattern") and not hasattr(transform, "rules")
    cases = named_cases.named(checked.cases)() if checked.cases is not None else (graphs() if is_pass else None)
    if member is not None:
        cases = graphs_from_pattern(member, args=checked.args)
    rtol, atol = _tolerance(transform)
    found = check_rule(
        transform, examples=checked.examples, rtol=rtol, atol=atol, cases=cases, args=dict(checked.args),
        require_fire=checked.fires, numeric=checked.numeric, extra=promises.named(checked.promise),
        scale="output" if transform.facts.lossy is not None else "element",
    )  # fmt: skip
    assert found.ok, found.report()
