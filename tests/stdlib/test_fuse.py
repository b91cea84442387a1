"""fuse_pad_and_conv, fuse_resize_and_conv, fuse_resize_pad_and_conv and flatten_atrous_conv:
each alone on the smallest graph, numbers checked in TensorFlow, and refusals with reasons."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import _tf
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules import rule_files
from tests.helpers.rule_graphs import (
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


def _pad(name: str, x: str, mode: str = "REFLECT") -> list:  # type: ignore[type-arg]
    return [
        const(name + "/paddings", [[0, 0], [1, 2], [2, 1], [0, 0]], np.int32),
        node(name, "MirrorPad", x, name + "/paddings", mode=mode, Tpaddings=I32),
    ]


def _resize(name: str, x: str, align_corners: bool = False, **attrs) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [
        const(name + "/size", [7, 9], np.int32),
        node(name, "ResizeBilinear", x, name + "/size", align_corners=align_corners, **attrs),
    ]


def _conv(x: str, padding: str = "SAME", strides: list[int] = S1, **attrs) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [const("w", normal(3, 3, 2, 4)), node("conv", "Conv2D", x, "w", strides=strides, padding=padding, **attrs)]


# ---- fuse_pad_and_conv ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
@pytest.mark.parametrize("padding, strides", [("VALID", S1), ("SAME", [1, 2, 2, 1])])
def test_fuse_pad_and_conv(mode: str, padding: str, strides: list[int]) -> None:
    before = graph(placeholder("x", [1, 6, 6, 2]), *_pad("pad", "x", mode), *_conv("pad", padding, strides))
    after, stats = apply(RULES["fuse_pad_and_conv"], before, ["x"], ["conv"])
    assert stats["fuse_pad_and_conv"].applied == 1
    assert ops(after) == ["Placeholder", "Const", "Const", "FusedPadConv2D"]
    fused = after.node("conv")
    assert (fused.get("mode"), fused.get("padding"), fused.get("strides")) == (mode, padding, strides)
    assert_equivalent(before, after, {"x": normal(1, 6, 6, 2)}, ["conv"], rtol=1e-4)


def test_fuse_pad_and_conv_refuses_a_dilated_conv() -> None:
    before = graph(placeholder("x", [1, 6, 6, 2]), *_pad("pad", "x"), *_conv("pad", dilations=[1, 2, 2, 1]))
    after, stats = apply(RULES["fuse_pad_and_conv"], before, ["x"], ["conv"])
    assert stats["fuse_pad_and_conv"].rejected == {"where conv.dilations == [1, 1, 1, 1] is false": 1}
    assert ops(after) == ops(before)


def test_fuse_pad_and_conv_refuses_a_shared_pad() -> None:
    before = graph(placeholder("x", [1, 6, 6, 2]), *_pad("pad", "x"), *_conv("pad"), node("other", "Relu", "pad"))
    _, stats = apply(RULES["fuse_pad_and_conv"], before, ["x"], ["conv", "other"])
    assert stats["fuse_pad_and_conv"].rejected == {"where single_use(pad) is false": 1}


@pytest.mark.parametrize("rule", ["fuse_pad_and_conv", "fuse_resize_pad_and_conv"])
def test_fusions_refuse_channel_padding(rule: str) -> None:
    """The fused kernels pad the spatial axes only."""
    source = "resize" if rule == "fuse_resize_pad_and_conv" else "x"
    before = graph(
        placeholder("x", [1, 4, 5, 2]),
        *(_resize("resize", "x") if source == "resize" else []),
        const("pad/paddings", [[0, 0], [1, 1], [1, 1], [0, 1]], np.int32),
        node("pad", "MirrorPad", source, "pad/paddings", mode="REFLECT", Tpaddings=I32),
        const("w", normal(3, 3, 3, 4)),
        node("conv", "Conv2D", "pad", "w", strides=S1, padding="SAME"),
    )
    after, stats = apply(RULES[rule], before, ["x"], ["conv"])
    assert stats[rule].rejected == {"where all(paddings[3] == 0) is false": 1}
    assert ops(after) == ops(before)


@pytest.mark.parametrize("rule", ["fuse_pad_and_conv", "fuse_resize_and_conv", "fuse_resize_pad_and_conv"])
@pytest.mark.parametrize("shape, reason", [
    ([2, 6, 6, 2], "where dim(x, 0) == 1 is false"),
    ([None, 6, 6, 2], "where dim(x, 0) == 1: dim(): dimension 0 of 'x' is not known (shape [None, 6, 6, 2])"),
    (None, "where dim(x, 0) == 1: dim(): dimension 0 of 'x' is not known"),
])  # fmt: skip
def test_fusions_refuse_batches_tensorflows_kernels_get_wrong(rule: str, shape, reason: str) -> None:  # type: ignore[no-untyped-def]
    """FusedPadConv2D and FusedResizeAndPadConv2D repeat batch item 0 on CPU (TF 2.21)."""
    x = placeholder("x", [d if d is not None else -1 for d in shape] if shape else None)
    if rule == "fuse_pad_and_conv":
        before = graph(x, *_pad("pad", "x"), *_conv("pad"))
    elif rule == "fuse_resize_and_conv":
        before = graph(x, *_resize("resize", "x"), *_conv("resize"))
    else:
        before = graph(x, *_resize("resize", "x"), *_pad("pad", "resize"), *_conv("pad"))
    after, stats = apply(RULES[rule], before, ["x"], ["conv"])
    assert stats[rule].rejected == {reason: 1}
    assert ops(after) == ops(before)


# ---- fuse_resize_and_conv / fuse_resize_pad_and_conv ----------------------------------------


@pytest.mark.parametrize("align_corners", [False, True])
def test_fuse_resize_and_conv(align_corners: bool) -> None:
    before = graph(placeholder("x", [1, 4, 5, 2]), *_resize("resize", "x", align_corners), *_conv("resize"))
    after, stats = apply(RULES["fuse_resize_and_conv"], before, ["x"], ["conv"])
    assert stats["fuse_resize_and_conv"].applied == 1
    fused = after.node("conv")
    assert fused.op == "FusedResizeAndPadConv2D" and fused.get("resize_align_corners") is align_corners
    paddings = after.node(fused.inputs[2].node)
    assert paddings.name == "conv/dummy_paddings" and paddings.value().tolist() == [[0, 0]] * 4
    assert_equivalent(before, after, {"x": normal(1, 4, 5, 2)}, ["conv"], rtol=1e-4)


def test_fuse_resize_and_conv_refuses_half_pixel_centers() -> None:
    before = graph(placeholder("x", [1, 4, 5, 2]), *_resize("resize", "x", half_pixel_centers=True), *_conv("resize"))
    _, stats = apply(RULES["fuse_resize_and_conv"], before, ["x"], ["conv"])
    assert stats["fuse_resize_and_conv"].rejected == {"where not resize.half_pixel_centers is false": 1}


def test_fuse_resize_pad_and_conv() -> None:
    before = graph(placeholder("x", [1, 4, 5, 2]), *_resize("resize", "x"), *_pad("pad", "resize"), *_conv("pad", "VALID"))
    after, stats = apply(RULES["fuse_resize_pad_and_conv"], before, ["x"], ["conv"])
    assert stats["fuse_resize_pad_and_conv"].applied == 1
    assert sorted(ops(after)) == ["Const", "Const", "Const", "FusedResizeAndPadConv2D", "Placeholder"]
    assert_equivalent(before, after, {"x": normal(1, 4, 5, 2)}, ["conv"], rtol=1e-4)


def test_fuse_resize_pad_and_conv_refuses_a_shared_resize() -> None:
    before = graph(
        placeholder("x", [1, 4, 5, 2]), *_resize("resize", "x"), *_pad("pad", "resize"), *_conv("pad"), node("r", "Relu", "resize")
    )
    _, stats = apply(RULES["fuse_resize_pad_and_conv"], before, ["x"], ["conv", "r"])
    assert stats["fuse_resize_pad_and_conv"].rejected == {"where single_use(resize) is false": 1}


# ---- flatten_atrous_conv --------------------------------------------------------------------


def _atrous_graph(conv_op: str, padding: str, rate: int, height: int) -> Graph:
    """TF's own SpaceToBatchND -> conv -> BatchToSpaceND chain (tf.nn.with_space_to_batch)."""
    tf = _tf.tf()
    filters = normal(3, 3, 2, 4 if conv_op == "Conv2D" else 1)
    with tf.Graph().as_default() as tf_graph:
        x = tf.compat.v1.placeholder(tf.float32, [1, height, height + 1, 2], name="x")

        def conv(inputs, num_spatial_dims, padding):  # type: ignore[no-untyped-def]
            if conv_op == "Conv2D":
                return tf.nn.conv2d(inputs, filters, strides=1, padding=padding)
            return tf.nn.depthwise_conv2d(inputs, filters, strides=[1, 1, 1, 1], padding=padding)

        out = tf.nn.with_space_to_batch(
            x, dilation_rate=[rate, rate], padding=padding, op=conv, filter_shape=filters.shape[:2]
        )
        tf.identity(out, name="out")
    return Graph.from_graphdef(tf_graph.as_graph_def())


@pytest.mark.parametrize("conv_op", ["Conv2D", "DepthwiseConv2dNative"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("rate, height", [(2, 8), (3, 7)])
def test_flatten_atrous_conv(conv_op: str, padding: str, rate: int, height: int) -> None:
    before = _atrous_graph(conv_op, padding, rate, height)
    assert "SpaceToBatchND" in ops(before)
    after, stats = apply(RULES["flatten_atrous_conv"], before, ["x"], ["out"])
    assert stats["flatten_atrous_conv"].applied == 1
    assert "SpaceToBatchND" not in ops(after) and "BatchToSpaceND" not in ops(after)
    conv = next(n for n in after if n.op == conv_op)
    assert conv.get("padding") == padding
    assert after.node(conv.inputs[1].node).value().shape[:2] == (2 * rate + 1, 2 * rate + 1)
    assert_equivalent(before, after, {"x": normal(1, height, height + 1, 2)}, ["out"], rtol=1e-4)


def test_flatten_atrous_conv_refuses_unusual_paddings() -> None:
    before = _atrous_graph("Conv2D", "SAME", 2, 8)
    s2b = next(n for n in before if n.op == "SpaceToBatchND")
    odd = const(s2b.inputs[2].node, [[3, 3], [3, 3]], np.int32)
    before = before.replace([odd])
    _, stats = apply(RULES["flatten_atrous_conv"], before, ["x"], ["out"])
    (reason,) = stats["flatten_atrous_conv"].rejected
    assert reason.startswith('where padding == "SAME" or padding == "VALID": atrous_padding(): paddings [[3, 3], [3, 3]]')
    assert reason.endswith("are neither SAME nor VALID")
