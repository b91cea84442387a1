"""Numpy kernels for shapes, layout, generators and StridedSlice.

These move or copy data and never round, so they match TensorFlow exactly; they defer only when
TensorFlow would reject the node (a bad axis, a shape that does not fit), so that the error comes
from TensorFlow. ``Fill``, ``Tile`` and ``BroadcastTo`` check the size budget before allocating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphrewrite.engine.kernels import (
    INDEX,
    Defer,
    Result,
    Value,
    check_budget,
    index_scalar,
    index_vector,
    kernel,
    numpy_dtype,
)

# -- identity and shapes ---------------------------------------------------------------------


@kernel("Identity", "Snapshot", "StopGradient", "PreventGradient", "IdentityN")
def _identity(node: Any, args: Sequence[Value], budget: int) -> Result:
    return list(args)


def _out_type(node: Any, default: int = 3) -> np.dtype:
    dtype = numpy_dtype(node.attr["out_type"].type if "out_type" in node.attr else default)
    if dtype not in INDEX:
        raise Defer("out_type")
    return dtype


def shape_value(op: str, node: Any, shape: tuple[int, ...] | tuple[int | None, ...]) -> np.ndarray:
    """What Shape, Size or Rank returns for a tensor of static *shape* (Defer when unknown)."""
    if op == "Rank":
        return np.array(len(shape), np.int32)
    if any(d is None for d in shape):
        raise Defer("shape not fully known")
    dtype = _out_type(node)
    dims = [int(d) for d in shape if d is not None]
    values = np.array(dims if op == "Shape" else math.prod(dims), np.int64)
    if np.any(values > np.iinfo(dtype).max):
        raise Defer("does not fit out_type")
    return values.astype(dtype)


@kernel("Shape", "Size", "Rank")
def _shape(node: Any, args: Sequence[Value], budget: int) -> Result:
    return [shape_value(node.op, node, args[0].shape)]


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
