"""The rule language end to end: the five reference rules parse, compile, fire on the smallest
graphs, keep the numbers, and refuse with a reason naming the failed condition."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from graphrewrite.rules.loader import load_rules_text
from graphrewrite.rules.rule import Group, Rule
from tests.helpers.rule_graphs import (
    F32,
    apply,
    assert_equivalent,
    const,
    graph,
    node,
    normal,
    ops,
    placeholder,
)

EXAMPLES = """
# comments
rule fold_mul_into_conv "Mul(Conv2D(x, w), s) -> Conv2D(x, w*s)" {
    match   Mul(conv: Conv2D|DepthwiseConv2dNative(x, w: Const), s: Const)
    where   per_output_channel(s, w)
    rewrite conv(x, const(w * s))
}
rule drop_double_neg { match Neg(Neg(x)) rewrite x }
rule add_zero { match AddV2(x, c: Const) where all(c == 0) rewrite x }
rule min_relu_is_relu6 { match Minimum(Relu(x), c: Const) where all(c == 6) rewrite Relu6(x) }
rule valid_1x1 {
    match   conv: Conv2D[padding="SAME"](x, w: Const)
    where   shape(w)[0] == 1 and shape(w)[1] == 1
    rewrite conv[padding="VALID"](x, w)
}
group cleanups "double negations and zero additions" { drop_double_neg add_zero }
"""


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule | Group]:
    return {t.name: t for t in load_rules_text(EXAMPLES, source="examples.rules", validate=True)}


def test_file_compiles_to_rules_and_a_group(rules) -> None:
    assert list(rules) == [
        "fold_mul_into_conv", "drop_double_neg", "add_zero", "min_relu_is_relu6", "valid_1x1", "cleanups",
    ]  # fmt: skip
    assert rules["fold_mul_into_conv"].doc == "Mul(Conv2D(x, w), s) -> Conv2D(x, w*s)"
    assert rules["drop_double_neg"].doc == "Neg(Neg(x)) -> x"  # the written form when no doc is given
    assert [r.name for r in rules["cleanups"].rules] == ["drop_double_neg", "add_zero"]


def test_compiling_without_validation_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from graphrewrite.rules.loader import load_rules_text\n"
        f"load_rules_text({EXAMPLES!r}, validate=False)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- fold_mul_into_conv ---------------------------------------------------------------------


@pytest.mark.parametrize("conv_op, channels", [("Conv2D", 5), ("DepthwiseConv2dNative", 8)])
@pytest.mark.parametrize("scale_first", [False, True])
def test_fold_mul_into_conv(rules, conv_op: str, channels: int, scale_first: bool) -> None:
    weights = normal(3, 3, 4, 5 if conv_op == "Conv2D" else 2)
    mul_inputs = ("s", "conv") if scale_first else ("conv", "s")
    before = graph(
        placeholder("x"),
        const("w", weights),
        node("conv", conv_op, "x", "w", strides=[1, 1, 1, 1], padding="SAME"),
        const("s", normal(channels)),
        node("mul", "Mul", *mul_inputs),
    )
    after, stats = apply(rules["fold_mul_into_conv"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv"].applied == 1
    assert ops(after) == ["Placeholder", "Const", conv_op]
    assert after.node("mul").op == conv_op  # the root's name survives: consumers stay valid
    assert after.node("w").value().dtype == np.float32
    assert_equivalent(before, after, {"x": normal(1, 6, 6, 4)}, ["mul"])


def test_fold_mul_into_conv_refuses_a_spatial_multiplier(rules) -> None:
    before = graph(
        placeholder("x"),
        const("w", normal(1, 1, 2, 3)),
        node("conv", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME"),
        const("s", normal(4, 4, 3)),
        node("mul", "Mul", "conv", "s"),
    )
    after, stats = apply(rules["fold_mul_into_conv"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv"].applied == 0
    assert stats["fold_mul_into_conv"].rejected == {"where per_output_channel(s, w) is false": 1}
    assert ops(after) == ops(before)


def test_a_shared_conv_is_kept_for_its_other_consumer(rules) -> None:
    before = graph(
        placeholder("x"),
        const("w", normal(1, 1, 2, 3)),
        node("conv", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME"),
        const("s", normal(3)),
        node("mul", "Mul", "conv", "s"),
        node("other", "Relu", "conv"),
    )
    after, stats = apply(rules["fold_mul_into_conv"], before, ["x"], ["mul", "other"])
    assert stats["fold_mul_into_conv"].applied == 1
    assert after.node("conv").op == "Conv2D" and after.node("w").op == "Const"
    assert after.node("mul").inputs[1].node != "w"  # the scaled weights are a new constant
    assert_equivalent(before, after, {"x": normal(1, 4, 4, 2)}, ["mul", "other"])


# ---- drop_double_neg ------------------------------------------------------------------------


def test_drop_double_neg_redirects_consumers(rules) -> None:
    before = graph(placeholder("x"), node("n1", "Neg", "x"), node("n2", "Neg", "n1"), node("out", "Relu", "n2"))
    after, stats = apply(rules["drop_double_neg"], before, ["x"], ["out"])
    assert stats["drop_double_neg"].applied == 1
    assert ops(after) == ["Placeholder", "Relu"]
    assert [str(i) for i in after.node("out").inputs] == ["x"]
    assert_equivalent(before, after, {"x": normal(3)}, ["out"])


def test_drop_double_neg_keeps_a_protected_output_as_identity(rules) -> None:
    before = graph(placeholder("x"), node("n1", "Neg", "x"), node("n2", "Neg", "n1"))
    after, _ = apply(rules["drop_double_neg"], before, ["x"], ["n2"])
    assert ops(after) == ["Placeholder", "Identity"]
    assert after.node("n2").get("T") == F32
    assert_equivalent(before, after, {"x": normal(3)}, ["n2"])


# ---- add_zero -------------------------------------------------------------------------------


def test_add_zero(rules) -> None:
    before = graph(placeholder("x"), const("c", 0.0), node("add", "AddV2", "c", "x"), node("out", "Relu", "add"))
    after, stats = apply(rules["add_zero"], before, ["x"], ["out"])
    assert stats["add_zero"].applied == 1
    assert ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["out"])


def test_add_zero_names_the_failed_condition(rules) -> None:
    before = graph(placeholder("x"), const("c", [0.0, 1.0]), node("add", "AddV2", "x", "c"))
    after, stats = apply(rules["add_zero"], before, ["x"], ["add"])
    assert stats["add_zero"].rejected == {"where all(c == 0) is false": 1}
    assert ops(after) == ops(before)


# ---- min_relu_is_relu6 ----------------------------------------------------------------------


def test_min_relu_is_relu6(rules) -> None:
    before = graph(placeholder("x"), node("relu", "Relu", "x"), const("six", 6.0), node("min", "Minimum", "relu", "six"))
    after, stats = apply(rules["min_relu_is_relu6"], before, ["x"], ["min"])
    assert stats["min_relu_is_relu6"].applied == 1
    assert ops(after) == ["Placeholder", "Relu6"]
    assert after.node("min").get("T") == F32  # inferred from the input's dtype
    assert_equivalent(before, after, {"x": normal(4, 4) * 8}, ["min"])


def test_min_relu_is_relu6_refuses_another_bound(rules) -> None:
    before = graph(placeholder("x"), node("relu", "Relu", "x"), const("five", 5.0), node("min", "Minimum", "relu", "five"))
    _, stats = apply(rules["min_relu_is_relu6"], before, ["x"], ["min"])
    assert stats["min_relu_is_relu6"].rejected == {"where all(c == 6) is false": 1}


# ---- valid_1x1 ------------------------------------------------------------------------------


def test_valid_1x1(rules) -> None:
    before = graph(
        placeholder("x"),
        const("w", normal(1, 1, 3, 2)),
        node("conv", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME"),
    )
    after, stats = apply(rules["valid_1x1"], before, ["x"], ["conv"])
    assert stats["valid_1x1"].applied == 1
    assert after.node("conv").get("padding") == "VALID"
    assert after.node("conv").get("strides") == [1, 1, 1, 1]  # other attributes kept
    assert_equivalent(before, after, {"x": normal(1, 5, 5, 3)}, ["conv"])


def test_valid_1x1_refuses_a_3x3_kernel(rules) -> None:
    before = graph(
        placeholder("x"),
        const("w", normal(3, 3, 3, 2)),
        node("conv", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME"),
    )
    _, stats = apply(rules["valid_1x1"], before, ["x"], ["conv"])
    assert stats["valid_1x1"].rejected == {"where shape(w)[0] == 1 is false": 1}


# ---- groups ---------------------------------------------------------------------------------


def test_group_runs_its_rules_to_one_fixed_point(rules) -> None:
    before = graph(
        placeholder("x"),
        node("n1", "Neg", "x"),
        node("n2", "Neg", "n1"),
        const("zero", 0.0),
        node("add", "AddV2", "n2", "zero"),
        node("out", "Relu", "add"),
    )
    after, stats = apply(rules["cleanups"], before, ["x"], ["out"])
    assert (stats["drop_double_neg"].applied, stats["add_zero"].applied) == (1, 1)
    assert ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(3)}, ["out"])
