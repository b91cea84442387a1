"""Numpy kernels for constant folding: the registry, constant values, shared helpers.

A kernel takes the node and its input :class:`Value` objects and returns one array (or Value)
per output. It raises :class:`Defer` whenever it cannot promise TensorFlow's exact result (a
dtype numpy computes differently, an integer division by zero, an invalid shape); the evaluator
then sends the node to its one batched TensorFlow run, which computes it or reports TensorFlow's
own error. Kernels that can make a large result from small inputs estimate its size first and
raise :class:`OverBudget`.

The kernels themselves live in :mod:`~graphrewrite.engine.math_kernels` (arithmetic, Cast,
Range) and :mod:`~graphrewrite.engine.array_kernels` (shapes, layout, generators, slicing);
importing this module registers them all.
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


_OBJECT = np.dtype(object)


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
        return cls(tensor.dtype, tuple([d.size for d in tensor.tensor_shape.dim]), attr=attr)

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
        if np_dtype != _OBJECT:
            return math.prod(self.shape) * np_dtype.itemsize
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
    content = proto.tensor_content  # read once: each read copies the bytes out of the message
    if content and _plain(np_dtype):
        return np.frombuffer(content, dtype=np_dtype).reshape(shape)
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


FLOATS = frozenset(np.dtype(t) for t in (np.float32, np.float64))
INTS = frozenset(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64))
NUMERIC = FLOATS | INTS
INDEX = frozenset(np.dtype(t) for t in (np.int32, np.int64))


def check_budget(shape: Sequence[int], itemsize: int, budget: int) -> None:
    """Raise OverBudget when a tensor of *shape* would exceed *budget* bytes."""
    count = 1
    for dim in shape:
        count *= int(dim)
    if count * itemsize > budget:
        raise OverBudget(f"{count * itemsize} bytes")


def numeric(args: Sequence[Value], allowed: frozenset[np.dtype] = NUMERIC) -> list[np.ndarray]:
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
            # count_nonzero is one C call; ndarray.any() goes through Python-level wrappers
            if np.count_nonzero(small) and np.count_nonzero(small & (magnitude > 0)):
                raise Defer("subnormal floats")


def index_vector(value: Value) -> list[int]:
    """A 1-D int32/int64 tensor as a list of Python ints (shape vectors, perms, multiples)."""
    array = value.array
    if array.dtype not in INDEX or array.ndim != 1:
        raise Defer("index vector")
    return [int(v) for v in array]


def index_scalar(value: Value) -> int:
    """An int32/int64 scalar (or one-element vector) as a Python int."""
    array = value.array
    if array.dtype not in INDEX or array.size != 1 or array.ndim > 1:
        raise Defer("index scalar")
    return int(array.reshape(()))


# Registers every kernel (the modules import the names above, so this comes last).
