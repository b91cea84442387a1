"""round_weights and cast_weights: float Consts made more compressible, or smaller, in place.

- ``round_weights(num_steps=256)`` (GTT's ``round_weights.cc``): every float32 Const with at
  least 16 elements is bucket-rounded to at most ``num_steps + 1`` distinct values, still
  float32. The file is no smaller, but it zips far better. GTT's float arithmetic is
  reproduced exactly, including its edge cases (see :func:`round_to_buckets`).
- ``cast_weights(dtype=float16, minimum_size=1024)`` (ours): large float32 Consts are stored
  as float16 (or bfloat16) with a ``Cast`` back to float32 under the original name, halving
  their size. Tensors whose values would overflow float16 are left alone, with a reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.engine.pattern import Op
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass, Rule
from graphrewrite.stdlib_rules.weight_tensors import (
    DT_FLOAT,
    const_node,
    element_count,
    float32_weights,
    replacement,
    rewrite_consts,
)

ROUND_MINIMUM_SIZE = 16  # hard-coded in GTT, not a parameter
FLT_MIN = np.float32(np.finfo(np.float32).tiny)
CAST_DTYPES = ("float16", "bfloat16")

# -- round_weights ----------------------------------------------------------------------------


def round_range(values: np.ndarray) -> tuple[np.float32, np.float32]:
    """GTT's range for rounding: max starts at FLT_MIN; no widening to 0; equal ends split."""
    lo = np.float32(np.min(values))
    hi = np.float32(max(FLT_MIN, np.float32(np.max(values))))
    if lo == hi:
        if abs(lo) < np.float32(1e-6):
            hi = np.float32(lo + np.float32(1))
        elif lo > 0:
            hi = np.float32(np.float32(2) * lo)
        else:  # unreachable while max starts at FLT_MIN; kept as GTT wrote it
            lo = np.float32(np.float32(2) * hi)
    return lo, hi


def round_to_buckets(values: np.ndarray, num_steps: int) -> np.ndarray:
    """v -> lo + w*(floor((v-lo)/w) + 0.5), w = (hi-lo)/num_steps, all in float32 as GTT.

    The largest value lands in bucket ``num_steps`` and so moves half a bucket *above* max.
    """
    lo, hi = round_range(values)
    width = np.float32(np.float32(hi - lo) / np.float32(num_steps))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bucket = np.floor((values.astype(np.float32) - lo) / width).astype(np.int32)
        return (lo + width * (bucket.astype(np.float32) + np.float32(0.5))).astype(np.float32)


def round_weights(graph: Graph, ctx: Any) -> Graph:
    """Bucket-round every float32 Const with at least 16 elements (one pass)."""
    num_steps = int(ctx.args.get("num_steps", 256))
    if num_steps < 1:
        raise UsageError(f"round_weights: num_steps={num_steps} must be at least 1")

    def convert(node: Node, namer: Any) -> tuple[Node, ...] | None:
        values = float32_weights(node, ROUND_MINIMUM_SIZE)
        if values is None:
            return None
        rounded = const_node(node.name, round_to_buckets(values, num_steps), device=node.device)
        private = {k: v for k, v in node.attr.items() if k.startswith("_")}
        return (rounded.evolve(inputs=node.control_inputs, attr={**rounded.attr, **private}),)

    return rewrite_consts(graph, ctx, "round_weights", convert)


def _fewer_steps(args: Any, lossy: tuple[float, float]) -> tuple[float, float]:
    """Fewer buckets, wider buckets: the error grows as 256 / num_steps."""
    factor = 256 / max(int(args.get("num_steps") or 256), 1)
    return lossy[0] * factor, lossy[1] * factor


# The documented atol (1e-2, from MobileNetV2 logits) is exceeded on small random graphs: a
# 3x3x4 convolution sums 36 products of values near 1, each weight off by up to half a bucket
# ((max - min) / 512), so outputs near zero move by ~1e-2 in absolute terms.
ROUNDING = (5e-2, 5e-2)

ROUND_WEIGHTS = Pass(
    "round_weights",
    "Const(float w) -> Const(w rounded to num_steps buckets); compresses better, same size",
    round_weights,
    (Param("num_steps", Kind.INT, 256, doc="number of buckets between min and max"),),
    facts=Facts(lossy=(5e-2, 1e-2), scaled=_fewer_steps, checked=Checked(cases="big_weights", tolerance=ROUNDING)),  # each weight within half a bucket
)

# -- cast_weights -----------------------------------------------------------------------------


def _cast_dtype(ctx: Any) -> str:
    dtype = ctx.args.get("dtype")
    name = "float16" if dtype is None else str(dtype)
    if name not in CAST_DTYPES:
        raise UsageError(f"cast_weights: dtype={name} is not one of {', '.join(CAST_DTYPES)}")
    return name


def _cast_guard(match: Any, graph: Graph, ctx: Any) -> str | None:
    node = match.node("w")
    dtype = _cast_dtype(ctx)
    minimum_size = int(ctx.args.get("minimum_size", 1024))
    if "dtype" in node.attr and node.attr["dtype"].type != DT_FLOAT:
        return "not a float32 Const"
    if "value" in node.attr and element_count(node) < minimum_size:
        return f"fewer than minimum_size={minimum_size} elements"
    values = float32_weights(node, minimum_size)
    if values is None:
        return "holds inf or NaN"
    if dtype == "float16" and values.size and np.max(np.abs(values)) > np.finfo(np.float16).max:
        return f"values up to {np.max(np.abs(values)):g} overflow float16"
    return None


def _cast_build(match: Any, graph: Graph, ctx: Any) -> Rewrite:
    from graphrewrite.engine.attrvalues import DType

    node = match.node("w")
    dtype = DType.named(_cast_dtype(ctx))
    values = node.value().astype(np.float32).astype(dtype.numpy)
    stored = const_node(graph.unique_name(f"{node.name}_{dtype.name}_const"), values, dtype, device=node.device)
    cast = replacement(node, "Cast", (stored.name,), {"SrcT": dtype, "DstT": DType(DT_FLOAT), "Truncate": False})
    return Rewrite("cast_weights", node.name, add=(stored, cast))


def _bfloat16(args: Any, lossy: tuple[float, float]) -> tuple[float, float]:
    """bfloat16 keeps 8 bits of mantissa: 2**-8 relative per weight."""
    return (5e-2, 1e-2) if str(args.get("dtype") or "float16") == "bfloat16" else lossy


CAST_WEIGHTS = Rule(
    "cast_weights",
    "Const(float32 w) -> Cast(Const(float16 w), DstT=float32); half the size",
    Op(frozenset({"Const"}), None, "w"),
    _cast_build,
    _cast_guard,
    (
        Param("dtype", Kind.DTYPE, "float16", doc="float16 or bfloat16"),
        Param("minimum_size", Kind.INT, 1024, doc="only Consts with at least this many elements"),
    ),
    facts=Facts(lossy=(1e-2, 1e-3), scaled=_bfloat16, checked=Checked(args={"minimum_size": 1})),  # float16: each weight within 2**-11 relative
)
