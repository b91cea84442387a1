"""Library functions for storing weights: GTT's bucket rounding, reproduced bit for bit.

Registered in :data:`graphrewrite.rules.predicates.FUNCTIONS`; ``round_weights`` in
``stdlib_rules/weights.rules`` is the rule that uses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.rules.expr import Env, EvalError, plain
from graphrewrite.rules.predicates import register

FLT_MIN = np.float32(np.finfo(np.float32).tiny)


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


@register("round_buckets", 2)
def _round_buckets(env: Env, x: Any, num_steps: Any) -> np.ndarray:
    """round_buckets(w, n): w (float32) rounded to the middles of n equal buckets between its min and max, as GTT's round_weights."""
    values = np.asarray(plain(x), dtype=np.float32)
    steps = int(np.asarray(num_steps))
    if values.size == 0 or steps < 1:
        raise EvalError(f"round_buckets() needs values and at least one bucket, not {steps}")
    return round_to_buckets(values, steps)
