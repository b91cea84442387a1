"""round_weights: float Consts made more compressible, in place (``cast_weights``, which stores
them smaller, is a rule in ``weights.rules``).

- ``round_weights(num_steps=256)`` (GTT's ``round_weights.cc``): every float32 Const with at
  least 16 elements is bucket-rounded to at most ``num_steps + 1`` distinct values, still
  float32. The file is no smaller, but it zips far better. GTT's float arithmetic is
  reproduced exactly, including its edge cases (see :func:`round_to_buckets`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules.weight_tensors import (
    const_node,
    float32_weights,
    rewrite_consts,
)

ROUND_MINIMUM_SIZE = 16  # hard-coded in GTT, not a parameter
FLT_MIN = np.float32(np.finfo(np.float32).tiny)

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
    facts=Facts(
        lossy=(5e-2, 1e-2), scaled=_fewer_steps, checked=Checked(cases="big_weights", tolerance=ROUNDING)
    ),  # each weight within half a bucket
)
