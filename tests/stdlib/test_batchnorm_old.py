"""fold_old_batch_norms: FusedBatchNorm V1/V2/V3 and BatchNormWithGlobalNormalization in
inference mode, folded into convolutions (directly, through BatchToSpaceND and ConcatV2) or
turned into Mul + AddV2 of constants; each rule alone, then refusals with their reasons."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.stdlib_rules import rule_files
from tests.helpers.rule_graphs import (
    F32,
    I32,
    apply,
    assert_equivalent,
    const,
    graph,
    node,
    normal,
    ops,
    placeholder,
)

RULES = rule_files.BY_NAME
S1 = [1, 1, 1, 1]
FUSED = ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"]


def _stats(prefix: str = "", channels: int = 4) -> list:  # type: ignore[type-arg]
    """gamma, beta, mean and var Consts (var > 0)."""
    return [
        const(prefix + "gamma", normal(channels)),
        const(prefix + "beta", normal(channels)),
        const(prefix + "mean", normal(channels)),
        const(prefix + "var", np.abs(normal(channels)) + 0.5),
    ]


def _fused(op: str, x: str, **attrs) -> object:  # type: ignore[no-untyped-def]
    if op != "FusedBatchNorm":
        attrs.setdefault("U", F32)
    return node("bn", op, x, "gamma", "beta", "mean", "var", is_training=False, epsilon=0.001, **attrs)


def _conv(op: str = "Conv2D", name: str = "conv", x: str = "x", w: str = "w", cin: int = 3, cout: int = 4) -> list:  # type: ignore[type-arg]
    shape = (3, 3, cin, cout) if op == "Conv2D" else (3, 3, cin, cout // cin)
    return [const(w, normal(*shape)), node(name, op, x, w, strides=S1, padding="SAME")]


# ---- fold_fused_batch_norm ------------------------------------------------------------------


@pytest.mark.parametrize("bn_op", FUSED)
@pytest.mark.parametrize("conv_op", ["Conv2D", "DepthwiseConv2dNative"])
def test_fold_fused_batch_norm(bn_op: str, conv_op: str) -> None:
    before = graph(placeholder("x"), *_conv(conv_op, cin=2), *_stats(), _fused(bn_op, "conv"), node("out", "Relu", "bn"))
    after, stats = apply(RULES["fold_fused_batch_norm"], before, ["x"], ["out"])
    assert stats["fold_fused_batch_norm"].applied == 1
    assert sorted(ops(after)) == ["BiasAdd", "Const", "Const", conv_op, "Placeholder", "Relu"]
    assert after.node("bn").op == "BiasAdd"  # named after the batch norm, as GTT does
    assert after.node("conv").op == conv_op  # the convolution keeps its name
    assert_equivalent(before, after, {"x": normal(1, 5, 5, 2)}, ["out"], rtol=1e-4)


def test_fold_fused_batch_norm_refuses_training_mode() -> None:
    bn = _fused("FusedBatchNormV3", "conv").with_attrs(is_training=True)
    before = graph(placeholder("x"), *_conv(), *_stats(), bn)
    after, stats = apply(RULES["fold_fused_batch_norm"], before, ["x"], ["bn"])
    assert stats["fold_fused_batch_norm"].rejected == {"where not bn.is_training is false": 1}
    assert ops(after) == ops(before)


def test_fold_fused_batch_norm_refuses_when_another_output_is_read() -> None:
    before = graph(
        placeholder("x"), *_conv(), *_stats(), _fused("FusedBatchNormV3", "conv"), node("m", "Identity", "bn:1")
    )
    _, stats = apply(RULES["fold_fused_batch_norm"], before, ["x"], ["bn", "m"])
    assert stats["fold_fused_batch_norm"].rejected == {"where outputs_unused(bn) is false": 1}


# ---- through BatchToSpaceND and ConcatV2 ----------------------------------------------------


def test_fold_fused_batch_norm_through_batch_to_space() -> None:
    before = graph(
        placeholder("x"),
        *_conv(),
        const("block", [2, 2], np.int32),
        const("crops", [[0, 0], [0, 0]], np.int32),
        node("b2s", "BatchToSpaceND", "conv", "block", "crops", Tblock_shape=I32, Tcrops=I32),
        *_stats(),
        _fused("FusedBatchNormV3", "b2s"),
    )
    rule = "fold_fused_batch_norm_through_batch_to_space"
    after, stats = apply(RULES[rule], before, ["x"], ["bn"])
    assert stats[rule].applied == 1
    assert after.node("bn").op == "BatchToSpaceND" and "BiasAdd" in ops(after)
    assert "FusedBatchNormV3" not in ops(after)
    assert_equivalent(before, after, {"x": normal(4, 3, 3, 3)}, ["bn"], rtol=1e-4)


def test_fold_fused_batch_norm_through_batch_to_space_refuses_a_shared_batch_to_space() -> None:
    before = graph(
        placeholder("x"),
        *_conv(),
        const("block", [2, 2], np.int32),
        const("crops", [[0, 0], [0, 0]], np.int32),
        node("b2s", "BatchToSpaceND", "conv", "block", "crops", Tblock_shape=I32, Tcrops=I32),
        *_stats(),
        _fused("FusedBatchNormV3", "b2s"),
        node("other", "Relu", "b2s"),
    )
    rule = "fold_fused_batch_norm_through_batch_to_space"
    _, stats = apply(RULES[rule], before, ["x"], ["bn", "other"])
    assert stats[rule].rejected == {"where single_use(b2s) is false": 1}


def _concat_graph(axis: int, c1: int, c2: int) -> object:
    return graph(
        placeholder("x"),
        *_conv(name="c1", w="w1", cout=c1),
        *_conv(name="c2", w="w2", cout=c2),
        const("axis", axis, np.int32),
        node("cat", "ConcatV2", "c1", "c2", "axis", N=2, Tidx=I32),
        *_stats(channels=c1 + c2 if axis in (3, -1) else c1),
        _fused("FusedBatchNormV3", "cat"),
    )


@pytest.mark.parametrize("axis", [3, -1])
def test_fold_fused_batch_norm_through_channel_concat(axis: int) -> None:
    before = _concat_graph(axis, 4, 2)
    rule = "fold_fused_batch_norm_through_channel_concat"
    after, stats = apply(RULES[rule], before, ["x"], ["bn"])
    assert stats[rule].applied == 1
    assert after.node("bn").op == "ConcatV2" and ops(after).count("BiasAdd") == 2
    assert after.node("w1").value().shape == (3, 3, 3, 4) and after.node("w2").value().shape == (3, 3, 3, 2)
    assert_equivalent(before, after, {"x": normal(1, 4, 4, 3)}, ["bn"], rtol=1e-4)


@pytest.mark.parametrize("axis", [0, 1, -3])
def test_fold_fused_batch_norm_through_concat_on_another_axis(axis: int) -> None:
    before = _concat_graph(axis, 4, 4)
    rule = "fold_fused_batch_norm_through_concat"
    after, stats = apply(RULES[rule], before, ["x"], ["bn"])
    assert stats[rule].applied == 1
    assert after.node("bn").op == "ConcatV2" and ops(after).count("BiasAdd") == 2
    assert_equivalent(before, after, {"x": normal(1, 4, 4, 3)}, ["bn"], rtol=1e-4)


def test_fold_fused_batch_norm_through_channel_concat_refuses_other_axes() -> None:
    before = _concat_graph(0, 4, 4)
    rule = "fold_fused_batch_norm_through_channel_concat"
    _, stats = apply(RULES[rule], before, ["x"], ["bn"])
    assert stats[rule].rejected == {"where all(axis == 3) or all(axis == -1) is false": 1}


def test_fold_fused_batch_norm_through_concat_leaves_channel_concats_to_the_channel_rule() -> None:
    before = _concat_graph(3, 4, 2)
    rule = "fold_fused_batch_norm_through_concat"
    _, stats = apply(RULES[rule], before, ["x"], ["bn"])
    reason = "where all(axis >= 0) and all(axis <= 2) or all(axis >= -4) and all(axis <= -2) is false"
    assert stats[rule].rejected == {reason: 1}


# ---- batch norms with nothing to fold into --------------------------------------------------


@pytest.mark.parametrize("bn_op", FUSED)
def test_fused_batch_norm_to_mul_add(bn_op: str) -> None:
    before = graph(placeholder("x"), *_stats(), _fused(bn_op, "x"))
    after, stats = apply(RULES["fused_batch_norm_to_mul_add"], before, ["x"], ["bn"])
    assert stats["fused_batch_norm_to_mul_add"].applied == 1
    assert sorted(ops(after)) == ["AddV2", "Const", "Const", "Mul", "Placeholder"]
    assert_equivalent(before, after, {"x": normal(2, 3, 3, 4)}, ["bn"], rtol=1e-4)


def test_fused_batch_norm_to_mul_add_shapes_nchw_constants() -> None:
    before = graph(placeholder("x"), *_stats(), _fused("FusedBatchNormV3", "x", data_format="NCHW"))
    after, _ = apply(RULES["fused_batch_norm_to_mul_add"], before, ["x"], ["bn"])
    mul = next(n for n in after if n.op == "Mul")
    assert after.node(mul.inputs[1].node).value().shape == (4, 1, 1)
    assert_equivalent(before, after, {"x": normal(2, 4, 3, 3)}, ["bn"], rtol=1e-4)


def test_fused_batch_norm_to_mul_add_refuses_training_mode() -> None:
    before = graph(placeholder("x"), *_stats(), _fused("FusedBatchNormV3", "x").with_attrs(is_training=True))
    _, stats = apply(RULES["fused_batch_norm_to_mul_add"], before, ["x"], ["bn"])
    assert stats["fused_batch_norm_to_mul_add"].rejected == {"where not bn.is_training is false": 1}


# ---- BatchNormWithGlobalNormalization -------------------------------------------------------


def _global(x: str, scaled: bool) -> object:
    return node(
        "bn", "BatchNormWithGlobalNormalization", x, "mean", "var", "beta", "gamma",
        variance_epsilon=0.001, scale_after_normalization=scaled,
    )  # fmt: skip


@pytest.mark.parametrize("scaled", [True, False])
def test_fold_batch_norm_with_global_normalization(scaled: bool) -> None:
    before = graph(placeholder("x"), *_conv(), *_stats(), _global("conv", scaled))
    rule = "fold_batch_norm_with_global_normalization"
    after, stats = apply(RULES[rule], before, ["x"], ["bn"])
    assert stats[rule].applied == 1
    assert sorted(ops(after)) == ["BiasAdd", "Const", "Const", "Conv2D", "Placeholder"]
    assert_equivalent(before, after, {"x": normal(1, 4, 4, 3)}, ["bn"], rtol=1e-4)


@pytest.mark.parametrize("scaled", [True, False])
def test_batch_norm_with_global_normalization_to_mul_add(scaled: bool) -> None:
    before = graph(placeholder("x"), *_stats(), _global("x", scaled))
    rule = "batch_norm_with_global_normalization_to_mul_add"
    after, stats = apply(RULES[rule], before, ["x"], ["bn"])
    assert stats[rule].applied == 1
    assert sorted(ops(after)) == ["AddV2", "Const", "Const", "Mul", "Placeholder"]
    assert_equivalent(before, after, {"x": normal(1, 2, 2, 4)}, ["bn"], rtol=1e-4)


def test_batch_norm_with_global_normalization_to_mul_add_needs_constant_statistics() -> None:
    before = graph(placeholder("x"), placeholder("mean"), *_stats()[:2], *_stats()[3:], _global("x", True))
    rule = "batch_norm_with_global_normalization_to_mul_add"
    after, stats = apply(RULES[rule], before, ["x", "mean"], ["bn"])
    assert (stats[rule].matched, stats[rule].applied) == (0, 0)
    assert ops(after) == ops(before)


def test_fold_batch_norm_with_global_normalization_refuses_a_shared_conv() -> None:
    before = graph(placeholder("x"), *_conv(), *_stats(), _global("conv", True), node("r", "Relu", "conv"))
    rule = "fold_batch_norm_with_global_normalization"
    _, stats = apply(RULES[rule], before, ["x"], ["bn", "r"])
    assert stats[rule].rejected == {"where single_use(conv) is false": 1}


# ---- the group ------------------------------------------------------------------------------


def test_fold_old_batch_norms_leaves_no_batch_norm() -> None:
    """A foldable batch norm is folded; one after a shared conv becomes Mul + AddV2."""
    before = graph(
        placeholder("x"),
        *_conv(name="c1", w="w1"),
        *_stats("a/"),
        node("bn1", "FusedBatchNormV3", "c1", "a/gamma", "a/beta", "a/mean", "a/var", U=F32, is_training=False),
        *_conv(name="c2", x="bn1", w="w2", cin=4),
        *_stats("b/"),
        node("bn2", "FusedBatchNormV3", "c2", "b/gamma", "b/beta", "b/mean", "b/var", U=F32, is_training=False),
        node("side", "Relu", "c2"),
    )
    after, stats = apply(RULES["fold_old_batch_norms"], before, ["x"], ["bn2", "side"])
    assert stats["fold_fused_batch_norm"].applied == 1
    assert stats["fold_fused_batch_norm"].rejected == {"where single_use(conv) is false": 1}
    assert stats["fused_batch_norm_to_mul_add"].applied == 1
    assert not any(op.startswith("FusedBatchNorm") for op in ops(after))
    assert_equivalent(before, after, {"x": normal(1, 4, 4, 3)}, ["bn2", "side"], rtol=1e-4)
