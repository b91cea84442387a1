"""Numpy kernels for constant folding: cheap ops whose results match TensorFlow bit for bit.

A kernel takes the node and its input :class:`Value` objects and returns one array (or Value)
per output. It raises :class:`Defer` whenever it cannot promise TensorFlow's exact result: an
integer division by zero, a dtype numpy would compute differently (bfloat16, complex, half
arithmetic), ``Maximum`` of zeros with different signs, an invalid shape. The evaluator then
sends the node to its one batched TensorFlow run, which computes it, or reports TensorFlow's own
error. ``Rsqrt`` and float ``Range`` have no kernel here on purpose: TensorFlow's results are not
reproducible in numpy (Eigen's vectorised rsqrt and pow are not libm's), so float ``Pow`` is
left to TensorFlow as well. TensorFlow runs with flush-to-zero, so arithmetic on subnormal
floats defers too.

Kernels that can produce a large result from small inputs (``Fill``, ``Tile``, ``BroadcastTo``,
``Range``, broadcasting arithmetic) estimate the size first and raise :class:`OverBudget`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphrewrite import _tf


class Defer(Exception):
    """The numpy kernel cannot match TensorFlow here; evaluate the node in TensorFlow."""


class OverBudget(Exception):
    """The result would be larger than the size budget; do not fold the node."""


@functools.cache
def numpy_dtype(enum: int) -> np.dtype:
    """The numpy dtype TensorFlow uses for dtype *enum* (object for strings)."""
    return np.dtype(_tf.tf().as_dtype(enum).as_numpy_dtype)


class Value:
    """A constant tensor: a numpy array, or a Const's ``value`` decoded only when read.

    ``dtype`` is the TensorFlow dtype enum. A Value read from a Const keeps that Const's
    AttrValue, so ``Identity(Const)`` folds without decoding, re-encoding or copying the tensor.
    """

    __slots__ = ("_array", "_attr", "dtype", "shape")

    def __init__(self, dtype: int, shape: tuple[int, ...], array: Any = None, attr: Any = None):
        self.dtype = dtype
        self.shape = shape
        self._array = array
        self._attr = attr

    @classmethod
    def of_attr(cls, attr: Any) -> Value:
        """The value of a Const's ``value`` AttrValue (kept, never copied)."""
        tensor = attr.tensor
        return cls(tensor.dtype, tuple(int(d.size) for d in tensor.tensor_shape.dim), attr=attr)

    @classmethod
    def of_array(cls, array: np.ndarray, dtype: int) -> Value:
        return cls(dtype, tuple(array.shape), array=array)

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = _decode(self._attr.tensor, self.dtype, self.shape)
        return self._array

    @property
    def decoded(self) -> np.ndarray | None:
        """The array if it has been computed or decoded already, else None."""
        return self._array

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor's data (strings: their total length), for the size budget."""
        np_dtype = numpy_dtype(self.dtype)
        if np_dtype != np.dtype(object):
            return self.size * np_dtype.itemsize
        if self._attr is not None:
            return int(self._attr.tensor.ByteSize())
        return sum(len(s) for s in self.array.flat)

    def attr_value(self) -> Any:
        """The AttrValue for a Const's ``value`` holding this tensor (shared; do not mutate)."""
        if self._attr is None:
            self._attr = _encode(self.array, self.dtype)
        return self._attr


def _plain(dtype: np.dtype) -> bool:
    """Numeric dtypes whose TensorProto ``tensor_content`` is the array's raw bytes."""
    return dtype.kind in "biuf" and dtype.isnative


def _decode(proto: Any, dtype: int, shape: tuple[int, ...]) -> np.ndarray:
    # Fast path for the common case (weights are stored as tensor_content); everything else
    # goes through TensorFlow's own decoder.
    np_dtype = numpy_dtype(dtype)
    if proto.tensor_content and _plain(np_dtype):
        return np.frombuffer(proto.tensor_content, dtype=np_dtype).reshape(shape)
    return _tf.tf().make_ndarray(proto)


def _encode(array: np.ndarray, dtype: int) -> Any:
    """An AttrValue holding *array* as a TensorProto of TF dtype *dtype*."""
    np_dtype = numpy_dtype(dtype)
    attr = _tf.pb().AttrValue()
    tensor = attr.tensor
    if not _plain(np_dtype) or array.dtype != np_dtype:
        from graphrewrite.engine.attrvalues import DType, numpy_to_tensor

        tensor.CopyFrom(numpy_to_tensor(array, DType(dtype)))
        return attr
    tensor.dtype = dtype
    for dim in array.shape:
        tensor.tensor_shape.dim.add(size=dim)
    tensor.tensor_content = np.ascontiguousarray(array).tobytes()
    return attr


Result = Sequence["np.ndarray | Value"]
Kernel = Callable[[Any, Sequence[Value], int], Result]

KERNELS: dict[str, Kernel] = {}


def kernel(*ops: str) -> Callable[[Kernel], Kernel]:
    """Register a kernel for *ops*."""

    def register(fn: Kernel) -> Kernel:
        for op in ops:
            KERNELS[op] = fn
        return fn

    return register


_FLOATS = frozenset(np.dtype(t) for t in (np.float32, np.float64))
_INTS = frozenset(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64))
_NUMERIC = _FLOATS | _INTS
_INDEX = frozenset(np.dtype(t) for t in (np.int32, np.int64))


def check_budget(shape: Sequence[int], itemsize: int, budget: int) -> None:
    """Raise OverBudget when a tensor of *shape* would exceed *budget* bytes."""
    count = 1
    for dim in shape:
        count *= int(dim)
    if count * itemsize > budget:
        raise OverBudget(f"{count * itemsize} bytes")


def numeric(args: Sequence[Value], allowed: frozenset[np.dtype] = _NUMERIC) -> list[np.ndarray]:
    """The arrays of *args*, all of one dtype in *allowed*; Defer otherwise."""
    arrays = [a.array for a in args]
    if any(a.dtype not in allowed or a.dtype != arrays[0].dtype for a in arrays):
        raise Defer("dtype")
    return arrays


_TINY = {np.dtype(t): np.finfo(t).tiny for t in (np.float16, np.float32, np.float64)}


def no_subnormals(*arrays: np.ndarray) -> None:
    """Defer on subnormal floats: TensorFlow runs kernels with flush-to-zero and
    denormals-are-zero set, numpy does not, so arithmetic on them differs."""
    for a in arrays:
        tiny = _TINY.get(a.dtype)
        if tiny is not None and a.size:
            magnitude = np.abs(a)
            small = magnitude < tiny
            if small.any() and (small & (magnitude > 0)).any():
                raise Defer("subnormal floats")


def index_vector(value: Value) -> list[int]:
    """A 1-D int32/int64 tensor as a list of Python ints (shape vectors, perms, multiples)."""
    array = value.array
    if array.dtype not in _INDEX or array.ndim != 1:
        raise Defer("index vector")
    return [int(v) for v in array]


def index_scalar(value: Value) -> int:
    """An int32/int64 scalar (or one-element vector) as a Python int."""
    array = value.array
    if array.dtype not in _INDEX or array.size != 1 or array.ndim > 1:
        raise Defer("index scalar")
    return int(array.reshape(()))


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
    if a.dtype in _INTS:
        if np.any(b == 0):
            raise Defer("integer division by zero")
        if a.dtype.kind == "i" and np.any((a == np.iinfo(a.dtype).min) & (b == -1)):
            raise Defer("integer overflow")


def _truncate_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _no_int_traps(a, b)
    if a.dtype in _FLOATS:
        return np.trunc(a / b)
    q = a // b
    inexact = (a - q * b != 0) & ((a < 0) != (b < 0))
    return q + inexact.astype(q.dtype)


def _floor_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _no_int_traps(a, b)
    # TensorFlow's float FloorDiv is floor(x / y), not numpy's fmod-based floor_divide.
    return np.floor(a / b) if a.dtype in _FLOATS else a // b


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a / b if a.dtype in _FLOATS else _truncate_div(a, b)


def _minmax(pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.dtype in _FLOATS and np.any((a == 0) & (b == 0) & (np.signbit(a) != np.signbit(b))):
            raise Defer("signed zeros")  # Eigen's packet and scalar paths disagree on which zero
        return pick(a, b)

    return run


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.any(b < 0):
        raise Defer("integer to a negative power")
    return np.power(a, b)


kernel("Add", "AddV2")(_binary(np.add, _NUMERIC))
kernel("Sub")(_binary(np.subtract, _NUMERIC))
kernel("Mul")(_binary(np.multiply, _NUMERIC))
kernel("RealDiv")(_binary(np.true_divide, _FLOATS))
kernel("Div")(_binary(_div, _NUMERIC))
kernel("FloorDiv")(_binary(_floor_div, _NUMERIC))
kernel("TruncateDiv")(_binary(_truncate_div, _NUMERIC))
kernel("Maximum")(_binary(_minmax(np.maximum), _NUMERIC))
kernel("Minimum")(_binary(_minmax(np.minimum), _NUMERIC))
kernel("Pow")(_binary(_pow, _INTS))  # float pow: Eigen's vectorised pow is not libm's


def _unary(compute: Callable[[np.ndarray], np.ndarray], allowed: frozenset[np.dtype]) -> Kernel:
    def run(node: Any, args: Sequence[Value], budget: int) -> Result:
        (a,) = numeric(args, allowed)
        no_subnormals(a)
        out = np.asarray(compute(a))
        no_subnormals(out)
        return [out]

    return run


kernel("Neg")(_unary(np.negative, _NUMERIC))
kernel("Square")(_unary(lambda a: a * a, _NUMERIC))
kernel("Sqrt")(_unary(np.sqrt, _FLOATS))


# -- identity and shapes ---------------------------------------------------------------------


@kernel("Identity", "Snapshot", "StopGradient", "PreventGradient", "IdentityN")
def _identity(node: Any, args: Sequence[Value], budget: int) -> Result:
    return list(args)


def _out_type(node: Any, default: int = 3) -> np.dtype:
    dtype = numpy_dtype(node.attr["out_type"].type if "out_type" in node.attr else default)
    if dtype not in _INDEX:
        raise Defer("out_type")
    return dtype


def shape_value(op: str, node: Any, shape: tuple[int, ...] | tuple[int | None, ...]) -> np.ndarray:
    """What Shape, Size or Rank returns for a tensor of static *shape* (Defer when unknown)."""
    if op == "Rank":
        return np.array(len(shape), np.int32)
    if any(d is None for d in shape):
        raise Defer("shape not fully known")
    dtype = _out_type(node)
    values = np.array(shape if op == "Shape" else np.prod(shape, dtype=np.int64), np.int64)
    if np.any(values > np.iinfo(dtype).max):
        raise Defer("does not fit out_type")
    return values.astype(dtype)


@kernel("Shape", "Size", "Rank")
def _shape(node: Any, args: Sequence[Value], budget: int) -> Result:
    return [shape_value(node.op, node, args[0].shape)]


# -- casts -----------------------------------------------------------------------------------

_BOOL = np.dtype(bool)
_HALF = np.dtype(np.float16)


def _cast_ok(src: np.dtype, dst: np.dtype) -> bool:
    """Pairs whose numpy conversion is TensorFlow's static_cast, bit for bit."""
    plain = _NUMERIC | {_BOOL}
    if src in plain and dst in plain:
        return True
    # half only through float32 (round-to-nearest-even in both) or exact widenings.
    if src == _HALF:
        return dst in _NUMERIC | {_BOOL, _HALF}
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


# -- layout ----------------------------------------------------------------------------------


@kernel("Reshape")
def _reshape(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    shape = index_vector(args[1])
    if shape.count(-1) > 1 or any(d < -1 for d in shape) or (-1 in shape and a.size == 0):
        raise Defer("reshape")
    try:
        return [a.reshape(shape)]
    except ValueError:
        raise Defer("reshape") from None


@kernel("Transpose")
def _transpose(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    perm = index_vector(args[1])
    if sorted(perm) != list(range(a.ndim)):
        raise Defer("perm")
    return [a.transpose(perm).copy()]


def _axis(axis: int, rank: int) -> int:
    """*axis* in [-rank, rank) as a non-negative axis; Defer when out of range."""
    if not -rank <= axis < rank:
        raise Defer("axis")
    return axis % rank


@kernel("ExpandDims")
def _expand_dims(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    return [np.expand_dims(a, _axis(index_scalar(args[1]), a.ndim + 1))]


@kernel("Squeeze")
def _squeeze(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    dims = list(node.attr["squeeze_dims"].list.i) if "squeeze_dims" in node.attr else []
    axes = sorted({_axis(d, a.ndim) for d in dims}) if dims else [i for i, d in enumerate(a.shape) if d == 1]
    if any(a.shape[i] != 1 for i in axes):
        raise Defer("squeeze of a dimension that is not 1")
    return [a.reshape([d for i, d in enumerate(a.shape) if i not in axes])]


@kernel("ConcatV2")
def _concat(node: Any, args: Sequence[Value], budget: int) -> Result:
    arrays = [v.array for v in args[:-1]]
    first = arrays[0]
    if len(arrays) < 2 or first.ndim == 0 or any(a.dtype != first.dtype or a.ndim != first.ndim for a in arrays):
        raise Defer("concat")
    axis = _axis(index_scalar(args[-1]), first.ndim)
    try:
        return [np.concatenate(arrays, axis=axis)]
    except ValueError:
        raise Defer("concat shapes") from None


@kernel("Pack")
def _pack(node: Any, args: Sequence[Value], budget: int) -> Result:
    arrays = [v.array for v in args]
    first = arrays[0]
    if any(a.dtype != first.dtype or a.shape != first.shape for a in arrays):
        raise Defer("pack")
    axis = _axis(node.attr["axis"].i if "axis" in node.attr else 0, first.ndim + 1)
    return [np.stack(arrays, axis=axis)]


@kernel("Unpack")
def _unpack(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    if a.ndim == 0:
        raise Defer("unpack of a scalar")
    axis = _axis(node.attr["axis"].i if "axis" in node.attr else 0, a.ndim)
    if a.shape[axis] != node.attr["num"].i:
        raise Defer("num")
    return [np.take(a, i, axis=axis) for i in range(a.shape[axis])]


# -- generators (size checked before anything is allocated) ----------------------------------


@kernel("Fill")
def _fill(node: Any, args: Sequence[Value], budget: int) -> Result:
    dims = index_vector(args[0])
    value = args[1].array
    if value.ndim != 0 or any(d < 0 for d in dims):
        raise Defer("fill")
    check_budget(dims, value.dtype.itemsize, budget)
    return [np.full(dims, value, dtype=value.dtype)]


@kernel("Range")
def _range(node: Any, args: Sequence[Value], budget: int) -> Result:
    start, limit, delta = numeric(args, _INTS)
    if start.ndim or limit.ndim or delta.ndim:
        raise Defer("range of non-scalars")
    s, lim, d = int(start), int(limit), int(delta)
    if d == 0 or (d > 0 and s > lim) or (d < 0 and s < lim):
        raise Defer("range")
    count = (abs(lim - s) + abs(d) - 1) // abs(d)
    check_budget([count], start.dtype.itemsize, budget)
    return [np.arange(count, dtype=start.dtype) * start.dtype.type(d) + start.dtype.type(s)]


@kernel("Tile")
def _tile(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    multiples = index_vector(args[1])
    if len(multiples) != a.ndim or any(m < 0 for m in multiples):
        raise Defer("multiples")
    check_budget([d * m for d, m in zip(a.shape, multiples, strict=True)], a.dtype.itemsize, budget)
    return [np.tile(a, multiples) if a.ndim else a.copy()]


@kernel("BroadcastTo")
def _broadcast_to(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    shape = index_vector(args[1])
    try:
        out = np.broadcast_shapes(a.shape, tuple(shape))
    except ValueError:
        raise Defer("broadcast") from None
    if list(out) != shape:
        raise Defer("broadcast to a smaller shape")
    check_budget(shape, a.dtype.itemsize, budget)
    return [np.array(np.broadcast_to(a, shape))]


# -- StridedSlice ----------------------------------------------------------------------------


def _bits(node: Any, name: str) -> int:
    return int(node.attr[name].i) if name in node.attr else 0


def strided_index(node: Any, begin: list[int], end: list[int], strides: list[int]) -> tuple[Any, ...]:
    """The numpy index for StridedSlice's masks, which follow Python slicing by design."""
    masks = {m: _bits(node, m) for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    if bin(masks["ellipsis_mask"]).count("1") > 1 or 0 in strides:
        raise Defer("strided slice")
    index: list[Any] = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides, strict=True)):
        bit = 1 << i
        if masks["ellipsis_mask"] & bit:
            index.append(Ellipsis)
        elif masks["new_axis_mask"] & bit:
            index.append(np.newaxis)
        elif masks["shrink_axis_mask"] & bit:
            if s != 1:
                raise Defer("shrink with a stride other than 1")
            index.append(b)
        else:
            index.append(slice(None if masks["begin_mask"] & bit else b, None if masks["end_mask"] & bit else e, s))
    return tuple(index)


@kernel("StridedSlice")
def _strided_slice(node: Any, args: Sequence[Value], budget: int) -> Result:
    a = args[0].array
    begin, end, strides = (index_vector(v) for v in args[1:4])
    if not len(begin) == len(end) == len(strides):
        raise Defer("strided slice lengths")
    index = strided_index(node, begin, end, strides)
    try:
        return [np.array(a[index])]
    except IndexError:
        raise Defer("strided slice index") from None
