"""Numpy kernels for arithmetic, Cast and integer Range, bit for bit TensorFlow's.

Not here on purpose, so TensorFlow computes them: ``Rsqrt`` and float ``Pow`` (Eigen's
vectorised versions are not libm's and disagree in the last bit), float ``Range`` (TensorFlow
accumulates), half and bfloat16 arithmetic. TensorFlow runs kernels with flush-to-zero, so
arithmetic on subnormal floats defers too, and so do integer division by zero (TensorFlow
raises), ``MIN / -1``, negative integer powers and ``Maximum`` of zeros of opposite signs
(Eigen's scalar and vector paths disagree on which zero).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphrewrite.engine.kernels import (
    FLOATS,
    INTS,
    NUMERIC,
    Defer,
    Kernel,
    Result,
    Value,
    check_budget,
    kernel,
    no_subnormals,
    numeric,
    numpy_dtype,
)

# -- elementwise arithmetic ------------------------------------------------------------------


def _broadcast(a: np.ndarray, b: np.ndarray, budget: int) -> None:
    if a.shape == b.shape or not b.shape:
        check_budget(a.shape, a.dtype.itemsize, budget)
        return
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise Defer("shapes do not broadcast") from None
    check_budget(shape, a.dtype.itemsize, budget)


def _binary(compute: Callable[[np.ndarray, np.ndarray], np.ndarray], allowed: frozenset[np.dtype]) -> Kernel:
    def run(node: Any, args: Sequence[Value], budget: int) -> Result:
        a, b = numeric(args, allowed)
        _broadcast(a, b, budget)
        no_subnormals(a, b)
        out = np.asarray(compute(a, b))
        no_subnormals(out)
        return [out]

    return run


def _no_int_traps(a: np.ndarray, b: np.ndarray) -> None:
    # TensorFlow fails on integer division by zero; MIN / -1 overflows in C++.
    if a.dtype in INTS:
        if np.any(b == 0):
            raise Defer("integer division by zero")
        if a.dtype.kind == "i" and np.any((a == np.iinfo(a.dtype).min) & (b == -1)):
            raise Defer("integer overflow")


def _truncate_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _no_int_traps(a, b)
    if a.dtype in FLOATS:
        return np.trunc(_quotient(a, b))
    q = a // b
    inexact = (a - q * b != 0) & ((a < 0) != (b < 0))
    return q + inexact.astype(q.dtype)


def _floor_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _no_int_traps(a, b)
    # TensorFlow's float FloorDiv is floor(x / y), not numpy's fmod-based floor_divide.
    return np.floor(_quotient(a, b)) if a.dtype in FLOATS else a // b


def _quotient(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` for the rounding divisions, deferring when it is subnormal: TensorFlow's CPU
    kernels flush it to a signed zero first (floor(-1e-310) is -1 in numpy, -0.0 in TF)."""
    quotient = a / b
    no_subnormals(quotient)
    return quotient


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a / b if a.dtype in FLOATS else _truncate_div(a, b)


def _minmax(pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.dtype in FLOATS and np.any((a == 0) & (b == 0) & (np.signbit(a) != np.signbit(b))):
            raise Defer("signed zeros")  # Eigen's packet and scalar paths disagree on which zero
        return pick(a, b)

    return run


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.any(b < 0):
        raise Defer("integer to a negative power")
    return np.power(a, b)


kernel("Add", "AddV2")(_binary(np.add, NUMERIC))
kernel("Sub")(_binary(np.subtract, NUMERIC))
kernel("Mul")(_binary(np.multiply, NUMERIC))
kernel("RealDiv")(_binary(np.true_divide, FLOATS))
kernel("Div")(_binary(_div, NUMERIC))
kernel("FloorDiv")(_binary(_floor_div, NUMERIC))
kernel("TruncateDiv")(_binary(_truncate_div, NUMERIC))
kernel("Maximum")(_binary(_minmax(np.maximum), NUMERIC))
kernel("Minimum")(_binary(_minmax(np.minimum), NUMERIC))
kernel("Pow")(_binary(_pow, INTS))  # float pow: Eigen's vectorised pow is not libm's


def _unary(compute: Callable[[np.ndarray], np.ndarray], allowed: frozenset[np.dtype]) -> Kernel:
    def run(node: Any, args: Sequence[Value], budget: int) -> Result:
        (a,) = numeric(args, allowed)
        no_subnormals(a)
        out = np.asarray(compute(a))
        no_subnormals(out)
        return [out]

    return run


kernel("Neg")(_unary(np.negative, NUMERIC))
kernel("Square")(_unary(lambda a: a * a, NUMERIC))
kernel("Sqrt")(_unary(np.sqrt, FLOATS))


# -- casts -----------------------------------------------------------------------------------

_BOOL = np.dtype(bool)
_HALF = np.dtype(np.float16)


def _cast_ok(src: np.dtype, dst: np.dtype) -> bool:
    """Pairs whose numpy conversion is TensorFlow's static_cast, bit for bit."""
    plain = NUMERIC | {_BOOL}
    if src in plain and dst in plain:
        return True
    # half only through float32 (round-to-nearest-even in both) or exact widenings.
    if src == _HALF:
        return dst in NUMERIC | {_BOOL, _HALF}
    return dst == _HALF and src in (np.dtype(np.float32), _HALF)


def _int_range_ok(a: np.ndarray, dst: np.dtype) -> bool:
    """Float -> int is exact in both only for finite values that fit after truncation."""
    if not np.all(np.isfinite(a)):
        return False
    bits = dst.itemsize * 8
    low, high = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1)) if dst.kind == "i" else (0.0, 2.0**bits)
    t = np.trunc(a.astype(np.float64))
    return bool(np.all((t >= low) & (t < high)))


@kernel("Cast")
def _cast(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    dst = numpy_dtype(node.attr["DstT"].type)
    truncate = "Truncate" in node.attr and node.attr["Truncate"].b
    if a.dtype == dst:
        return [a]
    if truncate or not _cast_ok(a.dtype, dst):
        raise Defer("cast")
    if a.dtype.kind == "f" and dst.kind in "iu" and not _int_range_ok(a, dst):
        raise Defer("float out of the integer range")
    if dst == _BOOL:
        return [a != 0]
    no_subnormals(a)
    out = a.astype(dst)
    no_subnormals(out)
    return [out]


# -- integer ranges (size checked before anything is allocated) -------------------


@kernel("Range")
def _range(node: Any, args: Sequence[Value], budget: int) -> Result:
    start, limit, delta = numeric(args, INTS)
    if start.ndim or limit.ndim or delta.ndim:
        raise Defer("range of non-scalars")
    s, lim, d = int(start), int(limit), int(delta)
    if d == 0 or (d > 0 and s > lim) or (d < 0 and s < lim):
        raise Defer("range")
    count = (abs(lim - s) + abs(d) - 1) // abs(d)
    check_budget([count], start.dtype.itemsize, budget)
    return [np.arange(count, dtype=start.dtype) * start.dtype.type(d) + start.dtype.type(s)]
