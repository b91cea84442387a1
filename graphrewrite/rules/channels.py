"""Where the output channels are: in a weight tensor, and in an op's output.

Folding a per-channel multiplier into a convolution needs two facts about the op: which axes
of its weights index output channels (``Conv2D`` HWIO: axis 3; ``DepthwiseConv2dNative``
H,W,in,multiplier: axes 2 and 3 flattened; ``MatMul``: axis 1, or 0 with ``transpose_b``), and
which axis of its *output* is the channel axis (``data_format``). One table here, used by the
rule language's ``per_output_channel``, ``channels``, ``channel_axis`` and by ``const(w * s)``.
"""

from __future__ import annotations

from typing import Any

from graphrewrite.engine.graph import Node

# op -> (weight input index, output rank, layouts: data_format -> channel axis of the output)
_FORMATS_2D = {"NHWC": 3, "NCHW": 1}
_FORMATS_3D = {"NDHWC": 4, "NCDHW": 1}
CONVOLUTIONS: dict[str, tuple[int, int, dict[str, int]]] = {
    "Conv2D": (1, 4, _FORMATS_2D),
    "DepthwiseConv2dNative": (1, 4, _FORMATS_2D),
    "Conv2DBackpropInput": (1, 4, _FORMATS_2D),
    "Conv3D": (1, 5, _FORMATS_3D),
    "MatMul": (1, 2, {}),
}
_DEFAULT_FORMAT = {4: "NHWC", 5: "NDHWC"}

# ops whose inputs at these indices are 1-D per-channel vectors
_VECTOR_INPUTS = {
    "BiasAdd": (1,),
    "BiasAddV1": (1,),
    "FusedBatchNorm": (1, 2, 3, 4),
    "FusedBatchNormV2": (1, 2, 3, 4),
    "FusedBatchNormV3": (1, 2, 3, 4),
    "BatchNormWithGlobalNormalization": (1, 2, 3, 4),
}


def weight_axes(consumer: Node, index: int) -> tuple[int, ...] | None:
    """Axes of input *index* of *consumer* that index its output channels, or None."""
    op = consumer.op
    if index in _VECTOR_INPUTS.get(op, ()):
        return (0,)
    if op not in CONVOLUTIONS or index != CONVOLUTIONS[op][0]:
        return None
    if op == "Conv2D":
        return (3,)
    if op == "DepthwiseConv2dNative":
        return (2, 3)
    if op == "Conv2DBackpropInput":
        return (2,)  # filter [h, w, out_channels_of_this_op, in_channels_of_out_backprop]
    if op == "Conv3D":
        return (4,)
    return (0,) if consumer.get("transpose_b", False) else (1,)


def output_layout(node: Node) -> tuple[int | None, int] | None:
    """``(rank, channel axis)`` of *node*'s output 0; rank None when it is not fixed by the op.

    The channel axis is ``-1`` when channels are the last axis, else a non-negative index.
    None when the op has no channel axis this module knows.
    """
    op = node.op
    if op in CONVOLUTIONS:
        _, rank, formats = CONVOLUTIONS[op]
        if not formats:
            return rank, -1
        data_format = _str(node.get("data_format", _DEFAULT_FORMAT[rank]))
        if data_format not in formats:
            return None
        axis = formats[data_format]
        return rank, (-1 if axis == rank - 1 else axis)
    if op in ("BiasAdd", "BiasAddV1"):
        return None, (1 if _str(node.get("data_format", "NHWC")) == "NCHW" else -1)
    if op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
        data_format = _str(node.get("data_format", "NHWC"))
        rank = 5 if data_format in _FORMATS_3D else 4
        return rank, (1 if data_format in ("NCHW", "NCDHW") else -1)
    if op == "BatchNormWithGlobalNormalization":
        return 4, -1
    return None


def fits_channels(shape: tuple[int, ...], layout: tuple[int | None, int], channels: int) -> bool:
    """Whether a value of *shape*, broadcast against an output of *layout* with *channels*
    channels, varies at most along the channel axis and leaves the output's shape unchanged."""
    rank, axis = layout
    if rank is None:
        # Unknown rank: a single value, or a [C] vector on the last axis, cannot add axes.
        return len(shape) <= 1 and (all(d == 1 for d in shape) or (axis == -1 and shape[0] == channels))
    if len(shape) > rank:
        return False
    padded = (1,) * (rank - len(shape)) + tuple(shape)
    channel_axis = rank - 1 if axis == -1 else axis
    return all(d == 1 for i, d in enumerate(padded) if i != channel_axis) and padded[channel_axis] in (1, channels)


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
