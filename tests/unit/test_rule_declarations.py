"""A rule's declarations (lossy, tested) and its require clauses: compiled, checked, used."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import LanguageError, RuleError
from graphrewrite.rules.loader import load_rules_text
from graphrewrite.stdlib_rules.tolerances import tolerance_for

HALVE = """
rule halve(factor: float = 0.5) "Mul(x, c) -> Mul(x, c*factor)"
    lossy(rtol=factor, atol=factor / 10)
    tested(factor=0.25)
{
    match   Mul(x, c: Const)
    rewrite Mul(x, const(c * factor))
}
"""


def test_lossy_and_tested_become_the_rules_facts():
    (rule,) = load_rules_text(HALVE, validate=False)
    assert rule.facts.lossy == (0.5, 0.05)
    assert rule.facts.tolerance({"factor": 0.1}) == (0.1, pytest.approx(0.01))
    assert rule.facts.checked.args == {"factor": 0.25}
    base = tolerance_for([])
    rtol, atol = tolerance_for([(rule, {"factor": 0.1})])  # --verify adds what the step declares
    assert (rtol - base[0], atol - base[1]) == pytest.approx((0.1, 0.01))


def test_a_rule_without_declarations_is_lossless():
    (rule,) = load_rules_text('rule r { match Neg(Neg(x)) rewrite x }', validate=False)
    assert rule.facts.lossy is None and rule.facts.tolerance({}) is None


@pytest.mark.parametrize(
    ("declarations", "message"),
    [
        ("lossless()", "unknown declaration 'lossless'; a rule declares lossy(...) or tested(...)"),
        ("lossy(rtol=1e-2)", "lossy() takes rtol and atol"),
        ("lossy(rtol=1e-2, atol=scale)", "'scale' is not bound by the pattern or a let"),
        ("lossy(1e-2, 1e-3) tested(size=3)", "tested(): 'size' is not a parameter of this rule"),
        ("tested(factor=\"big\")", "tested(): factor:"),
    ],
)
def test_bad_declarations_are_located_errors(declarations, message):
    text = f'rule r(factor: float = 0.5) "doc" {declarations} {{ match Neg(x) rewrite Neg(x) }}'
    with pytest.raises(LanguageError) as info:
        load_rules_text(text, source="bad.rules", validate=False)
    assert message in str(info.value)
    assert str(info.value).startswith("bad.rules:1:")


def test_require_stops_the_step_with_the_rule_node_and_condition():
    import tensorflow as tf

    from graphrewrite import transform_graph
    from graphrewrite.stdlib_rules import standard_rules

    rules = load_rules_text(
        'rule no_big_negs { match n: Neg(x) require size(x) < 4 rewrite Neg(x) }', source="r.rules"
    )
    with tf.Graph().as_default() as graph:
        x = tf.constant(np.arange(6, dtype=np.float32), name="x")
        tf.negative(x, name="neg")
    with pytest.raises(RuleError, match=r"^no_big_negs: at 'neg': require size\(x\) < 4 is false$"):
        transform_graph(graph.as_graph_def(), [], ["neg"], "no_big_negs", rules=standard_rules().plus(rules))
