"""fold_batch_norms: each rule alone on the smallest graph (applied count, ops after, numbers
in TensorFlow, lint), and a refusal with its recorded reason."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.rules.loader import load_rules_text
from graphrewrite.stdlib_rules import rule_files
from tests.helpers.rule_graphs import (
    F16,
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


def test_rule_files_compile_with_op_registry_validation() -> None:
    for name in rule_files.RULE_FILES:
        assert load_rules_text(rule_files.rule_file_text(name), source=name, validate=True)
    for transform in rule_files.BY_NAME.values():
        assert "->" in transform.doc, transform.name
    for rule in RULES["fold_batch_norms"].rules + RULES["fold_old_batch_norms"].rules:
        assert "->" in rule.doc, rule.name


def _conv(op: str, cin: int = 3, cout: int = 4) -> tuple[list, int, np.ndarray]:  # type: ignore[type-arg]
    """Nodes x, w, conv for *op*; the output channel count; an input value."""
    if op == "MatMul":
        return [placeholder("x"), const("w", normal(cin, cout)), node("conv", "MatMul", "x", "w")], cout, normal(2, cin)
    if op == "MatMul_tb":
        nodes = [placeholder("x"), const("w", normal(cout, cin)), node("conv", "MatMul", "x", "w", transpose_b=True)]
        return nodes, cout, normal(2, cin)
    if op == "Conv3D":
        w = const("w", normal(2, 2, 2, cin, cout))
        return [placeholder("x"), w, node("conv", "Conv3D", "x", "w", strides=[1] * 5, padding="SAME")], cout, normal(1, 3, 4, 4, cin)
    if op == "DepthwiseConv2dNative":
        w = const("w", normal(3, 3, cin, 2))
        return [placeholder("x"), w, node("conv", op, "x", "w", strides=S1, padding="SAME")], cin * 2, normal(1, 5, 5, cin)
    w = const("w", normal(3, 3, cin, cout))
    return [placeholder("x"), w, node("conv", op, "x", "w", strides=S1, padding="VALID")], cout, normal(1, 5, 5, cin)


CONVS = ["Conv2D", "DepthwiseConv2dNative", "Conv3D", "MatMul", "MatMul_tb"]


# ---- fold_mul_into_conv ---------------------------------------------------------------------


@pytest.mark.parametrize("conv_op", CONVS)
@pytest.mark.parametrize("scale_shape", ["vector", "broadcast", "scalar"])
def test_fold_mul_into_conv(conv_op: str, scale_shape: str) -> None:
    nodes, channels, x = _conv(conv_op)
    rank = x.ndim
    shape = {"vector": (channels,), "broadcast": (1,) * (rank - 1) + (channels,), "scalar": ()}[scale_shape]
    before = graph(*nodes, const("s", normal(*shape)), node("mul", "Mul", "s", "conv"))
    after, stats = apply(RULES["fold_mul_into_conv"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv"].applied == 1
    assert ops(after) == ["Placeholder", "Const", "MatMul" if "MatMul" in conv_op else conv_op]
    assert after.node("mul").inputs[1].node == "w"  # the scaled weights keep the weights' name
    assert_equivalent(before, after, {"x": x}, ["mul"])


def test_fold_mul_into_conv_scales_nchw_weights_along_the_channel_axis() -> None:
    nodes, channels, _ = _conv("Conv2D")
    nodes[2] = nodes[2].with_attrs(data_format="NCHW")
    scale = normal(channels, 1, 1)
    before = graph(*nodes, const("s", scale), node("mul", "Mul", "conv", "s"))
    after, stats = apply(RULES["fold_mul_into_conv"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv"].applied == 1
    np.testing.assert_allclose(after.node("w").value(), before.node("w").value() * scale.reshape(-1), rtol=1e-6)


def test_fold_mul_into_conv_refuses_a_vector_on_nchw_width() -> None:
    nodes, channels, _ = _conv("Conv2D")
    nodes[2] = nodes[2].with_attrs(data_format="NCHW")
    before = graph(*nodes, const("s", normal(channels)), node("mul", "Mul", "conv", "s"))
    after, stats = apply(RULES["fold_mul_into_conv"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv"].rejected == {"where per_output_channel(s, w) is false": 1}
    assert ops(after) == ops(before)


def test_fold_mul_into_conv_refuses_a_shared_conv() -> None:
    nodes, channels, _ = _conv("Conv2D")
    before = graph(*nodes, const("s", normal(channels)), node("mul", "Mul", "conv", "s"), node("relu", "Relu", "conv"))
    _, stats = apply(RULES["fold_mul_into_conv"], before, ["x"], ["mul", "relu"])
    assert stats["fold_mul_into_conv"].rejected == {"where single_use(conv) is false": 1}


def test_fold_mul_into_conv_keeps_float16_weights_float16() -> None:
    w = normal(1, 1, 2, 3).astype(np.float16)
    before = graph(
        placeholder("x", dtype=F16),
        const("w", w, np.float16),
        node("conv", "Conv2D", "x", "w", strides=S1, padding="SAME", T=F16),
        const("s", normal(3), np.float16),
        node("mul", "Mul", "conv", "s", T=F16),
    )
    after, _ = apply(RULES["fold_mul_into_conv"], before, ["x"], ["mul"])
    assert after.node("w").value().dtype == np.float16


# ---- Conv2DBackpropInput --------------------------------------------------------------------


def test_fold_mul_into_conv_backprop_input() -> None:
    before = graph(
        placeholder("x"),
        const("sizes", [1, 6, 6, 5], np.int32),
        const("w", normal(3, 3, 5, 4)),  # [h, w, output channels, input channels]
        node("deconv", "Conv2DBackpropInput", "sizes", "w", "x", strides=S1, padding="SAME"),
        const("s", normal(5)),
        node("mul", "Mul", "deconv", "s"),
    )
    after, stats = apply(RULES["fold_mul_into_conv_backprop_input"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv_backprop_input"].applied == 1
    assert ops(after) == ["Placeholder", "Const", "Const", "Conv2DBackpropInput"]
    assert_equivalent(before, after, {"x": normal(1, 6, 6, 4)}, ["mul"])


def test_fold_mul_into_conv_backprop_input_refuses_input_channels() -> None:
    before = graph(
        placeholder("x"),
        const("sizes", [1, 6, 6, 5], np.int32),
        const("w", normal(3, 3, 5, 4)),
        node("deconv", "Conv2DBackpropInput", "sizes", "w", "x", strides=S1, padding="SAME"),
        const("s", normal(4)),  # the filter's input channels, not the op's output channels
        node("mul", "Mul", "deconv", "s"),
    )
    _, stats = apply(RULES["fold_mul_into_conv_backprop_input"], before, ["x"], ["mul"])
    assert stats["fold_mul_into_conv_backprop_input"].rejected == {"where per_output_channel(s, w) is false": 1}


# ---- through BiasAdd and Add ----------------------------------------------------------------


@pytest.mark.parametrize("conv_op", ["Conv2D", "DepthwiseConv2dNative", "MatMul_tb"])
def test_fold_mul_through_bias_add(conv_op: str) -> None:
    nodes, channels, x = _conv(conv_op)
    before = graph(
        *nodes,
        const("b", normal(channels)),
        node("bias", "BiasAdd", "conv", "b"),
        const("s", normal(channels)),
        node("mul", "Mul", "bias", "s"),
    )
    after, stats = apply(RULES["fold_mul_through_bias_add"], before, ["x"], ["mul"])
    assert stats["fold_mul_through_bias_add"].applied == 1
    assert ops(after)[-1] == "BiasAdd" and after.node("mul").op == "BiasAdd"
    assert len(after) == len(before) - 2
    assert_equivalent(before, after, {"x": x}, ["mul"])


def test_fold_mul_through_bias_add_refuses_mismatched_layouts() -> None:
    nodes, channels, _ = _conv("Conv2D")
    before = graph(
        *nodes,
        const("b", normal(channels)),
        node("bias", "BiasAdd", "conv", "b", data_format="NCHW"),
        const("s", normal(channels)),
        node("mul", "Mul", "bias", "s"),
    )
    _, stats = apply(RULES["fold_mul_through_bias_add"], before, ["x"], ["mul"])
    assert stats["fold_mul_through_bias_add"].rejected == {"where channel_axis(bias) == channel_axis(conv) is false": 1}


@pytest.mark.parametrize("add_op", ["Add", "AddV2"])
def test_fold_mul_through_add(add_op: str) -> None:
    nodes, channels, x = _conv("Conv2D")
    before = graph(
        *nodes,
        const("b", normal(1, 1, 1, channels)),
        node("add", add_op, "b", "conv"),
        const("s", normal(channels)),
        node("mul", "Mul", "add", "s"),
    )
    after, stats = apply(RULES["fold_mul_through_add"], before, ["x"], ["mul"])
    assert stats["fold_mul_through_add"].applied == 1
    assert after.node("mul").op == add_op and len(after) == len(before) - 2
    assert_equivalent(before, after, {"x": x}, ["mul"])


def test_fold_mul_through_add_refuses_a_spatial_offset() -> None:
    nodes, channels, _ = _conv("Conv2D")
    before = graph(
        *nodes,
        const("b", normal(3, 3, channels)),
        node("add", "AddV2", "conv", "b"),
        const("s", normal(channels)),
        node("mul", "Mul", "add", "s"),
    )
    _, stats = apply(RULES["fold_mul_through_add"], before, ["x"], ["mul"])
    assert stats["fold_mul_through_add"].rejected == {"where per_output_channel(b, w) is false": 1}


# ---- Keras 3 decomposed batch norm ----------------------------------------------------------


def _keras_chain(scaled: bool, x: str = "x") -> list:  # type: ignore[type-arg]
    """What keras.layers.BatchNormalization freezes to, once Identity reads are removed."""
    nodes = [
        const("var", np.abs(normal(4)) + 0.5),
        const("eps", 1e-3),
        node("bn/add", "AddV2", "var", "eps"),
        node("bn/Rsqrt", "Rsqrt", "bn/add"),
    ]
    inv = "bn/Rsqrt"
    if scaled:
        nodes += [const("gamma", normal(4)), node("bn/mul", "Mul", "bn/Rsqrt", "gamma")]
        inv = "bn/mul"
    return [
        *nodes,
        node("bn/mul_1", "Mul", x, inv),
        const("mean", normal(4)),
        node("bn/mul_2", "Mul", "mean", inv),
        const("beta", normal(4)),
        node("bn/sub", "Sub", "beta", "bn/mul_2"),
        node("bn/add_1", "AddV2", "bn/mul_1", "bn/sub"),
    ]


@pytest.mark.parametrize("scaled", [True, False])
def test_fold_decomposed_batch_norm(scaled: bool) -> None:
    name = "fold_decomposed_batch_norm" if scaled else "fold_decomposed_batch_norm_unscaled"
    before = graph(placeholder("x"), *_keras_chain(scaled))
    after, stats = apply(RULES[name], before, ["x"], ["bn/add_1"])
    assert stats[name].applied == 1
    assert sorted(ops(after)) == ["AddV2", "Const", "Const", "Mul", "Placeholder"]
    assert_equivalent(before, after, {"x": normal(2, 3, 4)}, ["bn/add_1"])


def test_fold_decomposed_batch_norm_refuses_a_mismatched_chain() -> None:
    nodes = [
        node("bn/mul_2", "Mul", "mean", "bn/Rsqrt") if n.name == "bn/mul_2" else n  # no gamma: not a batch norm
        for n in _keras_chain(True)
    ]
    before = graph(placeholder("x"), *nodes)
    after, stats = apply(RULES["fold_decomposed_batch_norm"], before, ["x"], ["bn/add_1"])
    assert (stats["fold_decomposed_batch_norm"].matched, stats["fold_decomposed_batch_norm"].applied) == (0, 0)
    assert ops(after) == ops(before)


def test_fold_decomposed_batch_norm_unscaled_needs_the_same_rsqrt_twice() -> None:
    nodes = [
        node("bn/mul_2", "Mul", "mean", "bn/other") if n.name == "bn/mul_2" else n for n in _keras_chain(False)
    ]
    before = graph(placeholder("x"), placeholder("bn/other"), *nodes)
    _, stats = apply(RULES["fold_decomposed_batch_norm_unscaled"], before, ["x", "bn/other"], ["bn/add_1"])
    assert (stats["fold_decomposed_batch_norm_unscaled"].matched, stats["fold_decomposed_batch_norm_unscaled"].applied) == (0, 0)


def test_fold_batch_norms_group_folds_a_keras_chain_into_the_conv() -> None:
    nodes, _, x = _conv("Conv2D")
    before = graph(*nodes, *_keras_chain(True, x="conv"), node("relu", "Relu", "bn/add_1"))
    after, stats = apply(RULES["fold_batch_norms"], before, ["x"], ["relu"])
    assert sorted(ops(after)) == ["BiasAdd", "Const", "Const", "Conv2D", "Placeholder", "Relu"]
    assert stats["fold_decomposed_batch_norm"].applied == 1
    assert stats["fold_mul_into_conv"].applied == 1 and stats["add_to_bias_add"].applied == 1
    assert_equivalent(before, after, {"x": x}, ["relu"])


# ---- the offset as a BiasAdd ----------------------------------------------------------------


@pytest.mark.parametrize("offset_shape", [(4,), (1, 1, 1, 4), ()])
def test_add_to_bias_add(offset_shape: tuple[int, ...]) -> None:
    nodes, _, x = _conv("Conv2D")
    before = graph(*nodes, const("b", normal(*offset_shape)), node("add", "AddV2", "conv", "b"))
    after, stats = apply(RULES["add_to_bias_add"], before, ["x"], ["add"])
    assert stats["add_to_bias_add"].applied == 1
    assert after.node("add").op == "BiasAdd" and after.node("b").value().shape == (4,)
    assert_equivalent(before, after, {"x": x}, ["add"])


def test_add_to_bias_add_refuses_a_spatial_offset() -> None:
    nodes, _, _ = _conv("Conv2D")
    before = graph(*nodes, const("b", normal(3, 3, 4)), node("add", "AddV2", "conv", "b"))
    _, stats = apply(RULES["add_to_bias_add"], before, ["x"], ["add"])
    assert stats["add_to_bias_add"].rejected == {"where per_output_channel(b, w) is false": 1}


def test_merge_bias_adds() -> None:
    nodes, _, x = _conv("Conv2D")
    before = graph(
        *nodes,
        const("b", normal(4)),
        node("bias", "BiasAdd", "conv", "b"),
        const("c", normal(1, 1, 1, 4)),
        node("add", "AddV2", "bias", "c"),
    )
    after, stats = apply(RULES["merge_bias_adds"], before, ["x"], ["add"])
    assert stats["merge_bias_adds"].applied == 1
    assert ops(after) == ["Placeholder", "Const", "Conv2D", "Const", "BiasAdd"]
    assert_equivalent(before, after, {"x": x}, ["add"])


def test_merge_bias_adds_refuses_a_shared_bias_add() -> None:
    nodes, _, _ = _conv("Conv2D")
    before = graph(
        *nodes,
        const("b", normal(4)),
        node("bias", "BiasAdd", "conv", "b"),
        const("c", normal(4)),
        node("add", "AddV2", "bias", "c"),
        node("relu", "Relu", "bias"),
    )
    _, stats = apply(RULES["merge_bias_adds"], before, ["x"], ["add", "relu"])
    assert stats["merge_bias_adds"].rejected == {"where single_use(bias) is false": 1}


@pytest.mark.parametrize("conv_op", ["Conv2D", "MatMul"])
def test_drop_zero_bias(conv_op: str) -> None:
    nodes, channels, x = _conv(conv_op)
    before = graph(*nodes, const("b", np.zeros(channels)), node("bias", "BiasAdd", "conv", "b"), node("out", "Relu", "bias"))
    after, stats = apply(RULES["drop_zero_bias"], before, ["x"], ["out"])
    assert stats["drop_zero_bias"].applied == 1
    assert ops(after) == ["Placeholder", "Const", conv_op, "Relu"]
    assert_equivalent(before, after, {"x": x}, ["out"])


def test_drop_zero_bias_refuses_a_real_bias() -> None:
    nodes, channels, _ = _conv("Conv2D")
    before = graph(*nodes, const("b", np.ones(channels)), node("bias", "BiasAdd", "conv", "b"))
    _, stats = apply(RULES["drop_zero_bias"], before, ["x"], ["bias"])
    assert stats["drop_zero_bias"].rejected == {"where all(b == 0) is false": 1}
