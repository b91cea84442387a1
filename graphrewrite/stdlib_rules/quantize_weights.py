"""quantize_weights: large float Consts stored as eight-bit integers, expanded by a Dequantize.

``w`` (float, >= ``minimum_size`` elements) becomes::

    w_quantized_const (quint8) --+
    w_quantized_min   (float)  --+--> w = Dequantize(mode=MIN_FIRST, T=quint8)
    w_quantized_max   (float)  --+

with GTT's exact range rules and rounding (``quantize_weights.cc`` and ``FloatToQuantized`` in
``quantization_utils.h``), so the stored bytes equal GTT's value for value. Unlike GTT, the
replacement keeps the Const's device, control inputs and private attributes.

Two documented extensions: ``mode=SCALED`` stores symmetric qint8 (``narrow_range``, zero is
exact), and ``per_channel=true`` (SCALED only: TF's Dequantize accepts an ``axis`` only in that
mode) gives each output channel its own range. See docs/compression.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.errors import UsageError, suggest
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules.weight_tensors import (
    const_node,
    float32_weights,
    replacement,
    rewrite_consts,
    round_half_away,
)

MODES = ("MIN_FIRST", "SCALED")
FLT_MIN = np.float32(np.finfo(np.float32).tiny)  # C's FLT_MIN: GTT starts max here, not at 0

# -- GTT's arithmetic (MIN_FIRST, quint8) ------------------------------------------------------


def gtt_range(values: np.ndarray) -> tuple[np.float32, np.float32]:
    """GTT's range: min starts at FLT_MAX and max at FLT_MIN, then the range must hold 0.

    So max >= FLT_MIN > 0 >= min, GTT's ``min == max`` widening never fires, and an
    all-negative tensor gets max = FLT_MIN (about 1.2e-38), not 0. One deliberate difference:
    when the step (max-min)/255 would be subnormal (an all-zero tensor gives [0, FLT_MIN]),
    TensorFlow's Dequantize flushes it to zero and returns NaN; we widen to [min, min+1] as
    GTT's dead branch meant to, so zeros come back as zeros. The stored bytes are the same.
    """
    lo = np.float32(min(np.float32(np.min(values)), 0) if values.size else 0)
    if lo == 0 and values.size:
        # C++'s std::min keeps the first of equal values, so the sign of a zero minimum is
        # that of the first zero in the tensor; numpy's min does not promise which it returns.
        flat = np.asarray(values, np.float32).ravel()
        zeros = flat[flat == 0]
        lo = np.float32(zeros[0]) if zeros.size else np.float32(0)
    hi = np.float32(max(FLT_MIN, np.float32(np.max(values))) if values.size else FLT_MIN)
    if np.float32(float(np.float32(hi - lo)) / 255.0) < FLT_MIN:
        hi = np.float32(lo + np.float32(1))
    return lo, hi


def quantize_min_first(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``FloatToQuantized<quint8>``: q = round(x*s) - round(lo*s), s = 256/((hi-lo)*256/255)."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if lo32 == hi32:
        return np.zeros(np.shape(values), np.uint8)
    span = float(np.float32(hi32 - lo32))  # float subtraction, then double, as in the C++
    scale = 256.0 / (span * (256.0 / 255.0))
    x = np.asarray(values, np.float32).astype(np.float64)
    q = round_half_away(x * scale) - round_half_away(float(lo32) * scale)
    return np.clip(q, 0, 255).astype(np.uint8)


def dequantize_min_first(q: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """What TF's ``Dequantize(mode=MIN_FIRST, T=quint8)`` gives back on CPU (the Eigen path of
    ``QuantizedTensorToFloatInPlaceUsingEigen``): q*step + round(lo/step)*step, in float."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if lo32 == hi32:
        return np.full(np.shape(q), lo32, np.float32)
    step = np.float32(float(np.float32(hi32 - lo32)) / 255.0)
    base = np.float32(round_half_away(np.float32(lo32 / step))) * step
    return np.asarray(q).astype(np.float32) * step + np.float32(base)


# -- SCALED mode (qint8, symmetric, optionally per channel) ------------------------------------


def scaled_ranges(values: np.ndarray, axis: int | None) -> np.ndarray:
    """m = max|x| per slice along *axis* (whole tensor when None); 1 where a slice is all zero."""
    if axis is None:
        m = np.asarray(np.max(np.abs(values)) if values.size else 0, np.float32)
    else:
        others = tuple(i for i in range(values.ndim) if i != axis)
        m = np.max(np.abs(values), axis=others).astype(np.float32)
    return np.where(m > 0, m, np.float32(1)).astype(np.float32)


def quantize_scaled(values: np.ndarray, m: np.ndarray, axis: int | None) -> np.ndarray:
    """q = round(x / (m/127)) in [-127, 127], the scale computed in float as Dequantize does."""
    scale = (m / np.float32(127)).astype(np.float32)
    if axis is not None:
        shape = [1] * values.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    q = round_half_away(values.astype(np.float64) / scale.astype(np.float64))
    return np.clip(q, -127, 127).astype(np.int8)


def channel_axis(graph: Graph, node: Node, rank: int) -> int:
    """The output-channel axis of a weight: input channels x multiplier for depthwise filters
    (axis 2), the rows of a ``transpose_b`` MatMul (axis 0), else the last axis."""
    uses = [graph.get(c) for c in graph.consumers(node.name)]
    uses = [u for u in uses if u is not None]
    if rank == 4 and uses and all(u.op == "DepthwiseConv2dNative" for u in uses):
        return 2
    if rank == 2 and uses and all(u.op == "MatMul" and u.get("transpose_b") for u in uses):
        return 0
    return rank - 1


# -- the pass -----------------------------------------------------------------------------------


def _settings(args: Any) -> tuple[int, str, bool]:
    minimum_size = int(args.get("minimum_size", 1024))
    mode = str(args.get("mode", "MIN_FIRST")).upper()
    per_channel = bool(args.get("per_channel", False))
    if mode not in MODES:
        hint = suggest(mode, MODES)
        raise UsageError(f"quantize_weights: mode='{args.get('mode')}' is not one of {', '.join(MODES)}" + (f"; {hint}" if hint else ""))
    if per_channel and mode != "SCALED":
        raise UsageError(
            f"quantize_weights: per_channel=true needs mode=SCALED (got mode={mode}); "
            "TensorFlow's Dequantize has no per-channel MIN_FIRST kernel"
        )
    return minimum_size, mode, per_channel


def _min_first(node: Node, values: np.ndarray, namer: Any) -> tuple[Node, ...]:
    lo, hi = gtt_range(values)
    device = node.device
    q = const_node(namer(f"{node.name}_quantized_const"), quantize_min_first(values, lo, hi), _quint8(), device=device)
    mn = const_node(namer(f"{node.name}_quantized_min"), np.float32(lo), device=device)
    mx = const_node(namer(f"{node.name}_quantized_max"), np.float32(hi), device=device)
    deq = replacement(node, "Dequantize", (q.name, mn.name, mx.name), {"T": _quint8(), "mode": "MIN_FIRST"})
    return (q, mn, mx, deq)


def _scaled(graph: Graph, node: Node, values: np.ndarray, per_channel: bool, namer: Any) -> tuple[Node, ...]:
    from graphrewrite.engine.attrvalues import DType

    axis = channel_axis(graph, node, values.ndim) if per_channel and values.ndim else None
    m = scaled_ranges(values, axis)
    qint8 = DType.named("qint8")
    device = node.device
    q = const_node(namer(f"{node.name}_quantized_const"), quantize_scaled(values, m, axis), qint8, device=device)
    mn = const_node(namer(f"{node.name}_quantized_min"), -m, device=device)
    mx = const_node(namer(f"{node.name}_quantized_max"), m, device=device)
    attrs = {"T": qint8, "mode": "SCALED", "narrow_range": True, "axis": -1 if axis is None else axis}
    return (q, mn, mx, replacement(node, "Dequantize", (q.name, mn.name, mx.name), attrs))


def _quint8() -> Any:
    from graphrewrite.engine.attrvalues import DType

    return DType.named("quint8")


def quantize_weights(graph: Graph, ctx: Any) -> Graph:
    """Replace each large float Const by quantized storage plus a Dequantize (one pass)."""
    minimum_size, mode, per_channel = _settings(ctx.args)

    def convert(node: Node, namer: Any) -> tuple[Node, ...] | None:
        values = float32_weights(node, minimum_size)
        if values is None:
            return None
        if mode == "MIN_FIRST":
            return _min_first(node, values, namer)
        return _scaled(graph, node, values, per_channel, namer)

    return rewrite_consts(graph, ctx, "quantize_weights", convert)


QUANTIZE_WEIGHTS = Pass(
    "quantize_weights",
    "Const(float w) -> Dequantize(Const(quint8 q), Const(min), Const(max)); ~4x smaller weights",
    quantize_weights,
    (
        Param("minimum_size", Kind.INT, 1024, doc="only Consts with at least this many elements"),
        Param("mode", Kind.STRING, "MIN_FIRST", doc="MIN_FIRST (GTT's, quint8) or SCALED (symmetric qint8)"),
        Param("per_channel", Kind.BOOL, False, doc="one range per output channel (needs mode=SCALED)"),
    ),
    facts=Facts(lossy=(5e-2, 1e-2), checked=Checked(cases="shallow_linear", args={"minimum_size": 1})),  # each weight within 1.5 steps of (max-min)/255
)


def tolerance_for(transforms: Any, **kwargs: Any) -> tuple[float, float]:
    """``(rtol, atol)`` for checking a graph after *transforms*; see ``tolerances.tolerance_for``."""
    from graphrewrite.stdlib_rules.tolerances import tolerance_for as _tolerance_for

    return _tolerance_for(transforms, **kwargs)
