"""The float ops ``quantize_nodes`` can rewrite, and how each maps onto its eight-bit kernel.

GTT's table (``GetQuantizedOpList`` in ``quantize_nodes.cc``) plus ``AddV2`` and ``ConcatV2``,
which modern graphs use instead of ``Add`` and ``Concat``. Every ``Quantized*`` op named here
is registered in TensorFlow 2.21 and has a CPU kernel for these types (tests run each one).
Left out on purpose: ``DepthwiseConv2dNative`` (TF 2.21's CPU ``QuantizedDepthwiseConv2D``
wants a qint8 filter, which the quint8 MIN_FIRST scheme cannot feed) and GTT's
``Conv2DBackpropInput`` (``QuantizedConv2DTranspose`` is not a TensorFlow op).

Each entry also says when a node cannot be converted although its op is listed: the
quantized kernels know only NHWC, SAME/VALID padding and 8-bit activations.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from graphrewrite.engine.graph import Node

Check = Callable[[Node], "str | None"]


@attrs.frozen
class QuantizedOp:
    """How one float op becomes ``Quantized<Op>``."""

    quantized: str
    copy: tuple[str, ...] = ()  # attributes copied from the float node when present
    types: tuple[tuple[str, str], ...] = ()  # dtype attributes to set
    wide_output: bool = False  # qint32 result that needs a Requantize down to quint8
    unquantized: frozenset[int] = frozenset()  # inputs passed through as they are (shapes, axes)
    separate_min_max: bool = False  # [x..., mins..., maxes...] instead of [x..., min0, max0, ...]
    axis_first: bool = False  # ConcatV2: the axis moves from last to first (QuantizedConcat)
    check: Check | None = attrs.field(default=None, eq=False)


def _nhwc(node: Node) -> str | None:
    fmt = node.get("data_format")
    if fmt not in (None, "NHWC"):
        return f"data_format={fmt}; quantized kernels are NHWC only"
    return None


def _windowed(node: Node) -> str | None:
    padding = node.get("padding")
    if padding not in ("SAME", "VALID"):
        return f"padding={padding}; quantized kernels take SAME or VALID"
    return _nhwc(node)


def _conv(node: Node) -> str | None:
    strides = list(node.get("strides") or [1, 1, 1, 1])
    if len(strides) == 4 and strides[1] != strides[2]:
        return f"strides={strides}; QuantizedConv2D supports only equal row and column strides"
    dilations = list(node.get("dilations") or [1, 1, 1, 1])
    if any(d != 1 for d in dilations):
        return f"dilations={dilations}; QuantizedConv2D has no dilated kernel"
    return _windowed(node)


def _int32_axis(node: Node) -> str | None:
    tidx = node.get("Tidx")
    if tidx is not None and str(tidx) != "int32":
        return f"Tidx={tidx}; QuantizedConcat takes an int32 axis"
    return None


_BINARY = (("T1", "quint8"), ("T2", "quint8"), ("Toutput", "qint32"))
_ADD = QuantizedOp("QuantizedAdd", types=_BINARY, wide_output=True)
_CONCAT_TYPES = (("T", "quint8"),)

QUANTIZED_OPS: dict[str, QuantizedOp] = {
    "Add": _ADD,
    "AddV2": _ADD,
    "AvgPool": QuantizedOp("QuantizedAvgPool", ("ksize", "strides", "padding"), (("T", "quint8"),), check=_windowed),
    "BiasAdd": QuantizedOp(
        "QuantizedBiasAdd", (), (("T1", "quint8"), ("T2", "quint8"), ("out_type", "qint32")), True, check=_nhwc
    ),
    "Concat": QuantizedOp("QuantizedConcat", ("N",), _CONCAT_TYPES, False, frozenset({0}), True),
    "ConcatV2": QuantizedOp("QuantizedConcat", ("N",), _CONCAT_TYPES, False, frozenset({-1}), True, True, _int32_axis),
    "Conv2D": QuantizedOp(
        "QuantizedConv2D",
        ("strides", "padding", "dilations"),
        (("Tinput", "quint8"), ("Tfilter", "quint8"), ("out_type", "qint32")),
        True,
        check=_conv,
    ),
    "MatMul": QuantizedOp("QuantizedMatMul", ("transpose_a", "transpose_b"), _BINARY, True),
    "MaxPool": QuantizedOp("QuantizedMaxPool", ("ksize", "strides", "padding"), (("T", "quint8"),), check=_windowed),
    "Mul": QuantizedOp("QuantizedMul", (), _BINARY, True),
    "Relu": QuantizedOp("QuantizedRelu", (), (("Tinput", "quint8"),)),
    "Relu6": QuantizedOp("QuantizedRelu6", (), (("Tinput", "quint8"),)),
    "ResizeBilinear": QuantizedOp(
        "QuantizedResizeBilinear", ("align_corners", "half_pixel_centers"), (("T", "quint8"),), False, frozenset({1})
    ),
    "Reshape": QuantizedOp("QuantizedReshape", ("Tshape",), (("T", "quint8"),), False, frozenset({1})),
}


BROADCASTING = frozenset({"Add", "AddV2", "Mul"})

def broadcast_refusal(x: tuple[int | None, ...] | None, y: tuple[int | None, ...] | None) -> str | None:
    """Why ``QuantizedAdd``/``QuantizedMul`` cannot combine operands of shapes *x* and *y*.

    The kernels handle equal shapes, a one-element operand, and an operand that varies only
    along its last axis, matching the other's last dim; anything else fails or, worse, computes
    wrong values (a [1,8,8,3] + [1,8,8,1] sum is off by the whole second operand). Unknown
    shapes are refused; equal shapes with the same unknown dims are trusted.
    """
    if x is None or y is None:
        return "an operand has an unknown shape; the eight-bit kernel broadcasts only simple cases"
    if tuple(x) == tuple(y):
        return None
    for a, b in ((x, y), (y, x)):
        if None not in b and _size(b) == 1:
            return None
        if b and len(b) <= len(a) and all(d == 1 for d in b[:-1]) and a[-1] is not None and a[-1] == b[-1]:
            return None
    return f"operands of shapes {list(x)} and {list(y)} need broadcasting the eight-bit kernel does not do"


def _size(shape: tuple[int | None, ...]) -> int:
    count = 1
    for dim in shape:
        count *= int(dim or 0)
    return count


def unquantized_inputs(info: QuantizedOp, count: int) -> frozenset[int]:
    """Indices of inputs that stay as they are; -1 means the last one."""
    return frozenset(i % count for i in info.unquantized) if count else frozenset()
