"""graphrewrite.testing.check_rule / assert_rule_preserves_outputs on Python-built rules."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.graph import Node, TensorRef
from graphrewrite.engine.pattern import Tensor, const, op
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.rules.rule import Group, Pass, Rule
from graphrewrite.testing import RuleCheck, assert_rule_preserves_outputs, check_rule, graphs
from graphrewrite.testing.checks import ERROR, FAILED, NEVER_FIRED, PASSED


def _drop_double_neg(m, g, ctx):  # type: ignore[no-untyped-def]
    return Rewrite("drop_double_neg", m.root, remove=frozenset(m.nodes), redirect=((TensorRef(m.root, 0), m.tensor("x")),))


DROP_DOUBLE_NEG = Rule("drop_double_neg", "Neg(Neg(x)) -> x", op("Neg", op("Neg", Tensor("x"))), _drop_double_neg)


def _valid_to_same(m, g, ctx):  # type: ignore[no-untyped-def]
    conv = m.node("conv")
    if g.node(conv.inputs[1].node).value().shape[:2] != (3, 3):
        return "filter is not 3x3"
    return Rewrite("valid_to_same", m.root, add=(conv.with_attrs(padding="SAME"),))


VALID_TO_SAME = Rule(
    "valid_to_same", "Conv2D[VALID](x, 3x3 w) -> Conv2D[SAME] (wrong)",
    op("Conv2D", Tensor("x"), const("w"), bind="conv", padding="VALID"), _valid_to_same,
)  # fmt: skip


def _per_channel(m, g, ctx):  # type: ignore[no-untyped-def]
    s, w = m.node("s").value(), m.node("w").value()
    return None if s.shape in ((), (w.shape[3],)) else f"s has shape {s.shape}"


def _fold(axis: int):  # type: ignore[no-untyped-def]
    def build(m, g, ctx):  # type: ignore[no-untyped-def]
        conv, s, w = m.node("conv"), m.node("s").value(), m.node("w").value()
        if s.ndim == 1 and w.shape[axis] != s.shape[0]:
            return "channel counts differ"
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        weights = Node.make(g.unique_name(conv.name + "/w"), "Const", [], {"dtype": conv.get("T"), "value": (w * np.reshape(s, shape if s.ndim else ())).astype(w.dtype)})
        folded = conv.evolve(name=g.unique_name(conv.name + "/folded")).with_inputs([conv.inputs[0], TensorRef(weights.name, 0)])
        return Rewrite("fold", m.root, remove=frozenset({m.root, conv.name}), add=(weights, folded), redirect=((TensorRef(m.root, 0), TensorRef(folded.name, 0)),))

    return build


FOLD_PATTERN = op("Mul", op("Conv2D", Tensor("x"), const("w"), bind="conv"), const("s"))
FOLD_MUL = Rule("fold_mul", "Mul(Conv2D(x, w), s) -> Conv2D(x, w*s)", FOLD_PATTERN, _fold(3), _per_channel)
FOLD_MUL_WRONG_AXIS = Rule("fold_mul_wrong_axis", "Mul(Conv2D(x, w), s) -> Conv2D(x, w*s on Cin) (wrong)", FOLD_PATTERN, _fold(2), _per_channel)


def test_a_correct_rule_passes() -> None:
    found = check_rule(DROP_DOUBLE_NEG, examples=15)
    assert found.status == PASSED and found.ok
    # Graphs built from the pattern fire unless an interior feed lands inside the pattern.
    assert found.tried == 15 and found.fired > found.tried // 2
    assert found.max_abs == 0.0 and found.counterexample is None
    assert found.summary().startswith(f"drop_double_neg: passed (15 tried, {found.fired} fired")


def test_a_correct_fold_passes_with_rounding_error_only() -> None:
    found = check_rule(FOLD_MUL, examples=20)
    assert found.ok and found.fired >= 10
    assert found.max_abs < 1e-4


def test_valid_to_same_fails_with_a_shrunk_counterexample() -> None:
    found = check_rule(VALID_TO_SAME, examples=30)
    assert found.status == FAILED and not found.ok
    text = found.counterexample
    assert "valid_to_same changed the outputs" in text
    assert "NO (shape [1, 3, 3, 1], expected [1, 1, 1, 1])" in text  # shrunk: batch 1, 1x1 output, 1 channel
    assert "padding='VALID'" in text.split("transformed graph:")[0] and "padding='SAME'" in text.split("transformed graph:")[1]
    assert "input values:" in text and 'op: "Conv2D"' in text  # values and the GraphDef text


def test_folding_along_the_wrong_axis_fails_shrunk_to_two_channels() -> None:
    found = check_rule(FOLD_MUL_WRONG_AXIS, examples=30)
    assert found.status == FAILED
    original = found.counterexample.split("transformed graph:")[0]
    assert "value=float32[1, 1, 2, 2]" in original  # the smallest filter that shows the bug
    assert original.count("\n  ") <= 8  # input, filter, conv, scale, mul, output (+ header)


def test_a_rule_that_never_fires_is_not_reported_as_passing() -> None:
    never = Rule("never", "Relu(x) -> x, never", op("Relu", Tensor("x")), _drop_double_neg, lambda m, g, c: "refuses everything")
    found = check_rule(never, examples=5)
    assert found.status == NEVER_FIRED and not found.ok
    assert "changed none of the 5 generated graphs" in found.counterexample
    with pytest.raises(AssertionError, match="never: never fired"):
        assert_rule_preserves_outputs(never, examples=5)


def test_a_rule_that_raises_or_breaks_the_graph_fails() -> None:
    def crash(m, g, c):  # type: ignore[no-untyped-def]
        raise KeyError("oops")

    raising = Rule("raising", "Relu(x) -> crash", op("Relu", Tensor("x")), crash)
    found = check_rule(raising, examples=5)
    assert found.status == FAILED and "raising raised KeyError: 'oops'" in found.counterexample

    def dangling(m, g, c):  # type: ignore[no-untyped-def]
        return Rewrite("dangling", m.root, remove=frozenset(m.nodes), redirect=((TensorRef(m.root, 0), TensorRef("nowhere", 0)),))

    broken = Rule("dangling", "Neg(Neg(x)) -> nowhere", DROP_DOUBLE_NEG.pattern, dangling)
    found = check_rule(broken, examples=5)
    assert found.status == FAILED and "names a node that does not exist" in found.counterexample


def test_unbuildable_pattern_is_an_error_not_a_crash() -> None:
    found = check_rule(Rule("odd", "Bogus(x) -> x", op("Bogus", Tensor("x")), _drop_double_neg), examples=3)
    assert found.status == ERROR and "no catalogue entry for Bogus" in found.counterexample


def test_groups_and_passes() -> None:
    group = Group("g", "both folds", (DROP_DOUBLE_NEG, FOLD_MUL))
    assert check_rule(group, examples=10).ok
    identity_pass = Pass("noop_pass", "graph -> graph", lambda graph, ctx: graph)
    assert check_rule(identity_pass, cases=graphs(), examples=5).status == NEVER_FIRED
    assert check_rule(identity_pass, cases=graphs(), examples=5, require_fire=False).ok


def test_pass_arguments_and_extra_properties() -> None:
    from hypothesis import strategies as st

    from graphrewrite.rules.params import Kind, Param

    seen = []

    def negate_outputs(graph, ctx):  # type: ignore[no-untyped-def]
        seen.append(ctx.args["scale"])
        return graph.replace([graph.node(o).with_attrs(_marker=True) for o in ctx.outputs])

    marker = Pass("marker", "outputs -> outputs marked", negate_outputs, (Param("scale", Kind.FLOAT, 1.0),))
    found = check_rule(marker, cases=graphs(), args=st.fixed_dictionaries({"scale": st.floats(2, 3)}), examples=5)
    assert found.ok and found.fired == 5 and all(2 <= s <= 3 for s in seen)

    def unmarked(case, result):  # type: ignore[no-untyped-def]
        return "an output lost its marker" if not all(result.node(o).get("_marker") for o in case.outputs) else None

    assert check_rule(marker, cases=graphs(), examples=5, extra=unmarked).ok
    failing = check_rule(marker, cases=graphs(), examples=5, extra=lambda case, result: "always wrong")
    assert failing.status == FAILED and "always wrong" in failing.counterexample


def test_numeric_false_only_requires_the_result_to_run() -> None:
    found = check_rule(VALID_TO_SAME, examples=10, numeric=False)
    assert found.ok and found.fired > 0 and found.max_abs == 0.0


def test_assert_rule_preserves_outputs_raises_with_the_report() -> None:
    assert isinstance(assert_rule_preserves_outputs(DROP_DOUBLE_NEG, examples=5), RuleCheck)
    with pytest.raises(AssertionError) as info:
        assert_rule_preserves_outputs(FOLD_MUL_WRONG_AXIS, examples=30)
    assert str(info.value).startswith("fold_mul_wrong_axis: failed (") and "changed the outputs" in str(info.value)


def test_seed_gives_another_reproducible_run() -> None:
    a = check_rule(FOLD_MUL, examples=8, seed=1)
    b = check_rule(FOLD_MUL, examples=8, seed=1)
    assert (a.fired, a.max_abs) == (b.fired, b.max_abs)
