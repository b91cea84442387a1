"""Conversions between Python values and TensorFlow AttrValue / TensorProto messages.

Rules read and write attributes as plain Python: ``str`` for strings, ``int``, ``float``,
``bool``, :class:`DType` for types, ``Shape`` tuples (``None`` for an unknown dim), numpy arrays
for tensors, lists of these. Decoding goes through TensorFlow's own ``make_ndarray`` so every
dtype (bfloat16, quint8, strings) is handled the way TensorFlow handles it.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np

from graphrewrite import _tf


@attrs.frozen
class DType:
    """A TensorFlow dtype by enum number; ``str()`` gives TF's name (``float32``)."""

    enum: int

    @classmethod
    def named(cls, name: str) -> DType:
        """``float``/``float32``/``DT_FLOAT``/``int32``... -> DType; ValueError when unknown."""
        key = name.strip()
        if key.upper().startswith("DT_"):
            key = key[3:].lower()
        aliases = {"float": "float32", "double": "float64", "half": "float16"}
        key = aliases.get(key, key)
        if key in _ENUMS:  # the common dtypes, without importing TensorFlow
            return cls(_ENUMS[key])
        try:
            return cls(_tf.tf().as_dtype(key).as_datatype_enum)
        except TypeError as exc:
            raise ValueError(f"unknown dtype '{name}'") from exc

    @property
    def numpy(self) -> np.dtype:
        return numpy_dtype(self.enum)

    @property
    def name(self) -> str:
        return _dtype_name(self.enum)

    def __str__(self) -> str:
        return self.name


class Shape(tuple):  # type: ignore[type-arg]
    """A tensor shape attribute value: a tuple of dims, None for an unknown dim.

    A distinct type so that ``encode`` can tell a shape from a list of ints.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Shape({list(self)})"


# TensorFlow's dtype objects are slow to look up (``tf.as_dtype`` per call); rewrites ask for
# the same few dtypes thousands of times, so the answers are kept by enum.
@functools.cache
def numpy_dtype(enum: int) -> np.dtype:
    """The numpy dtype of TF dtype number *enum* (TF's own ``as_numpy_dtype``)."""
    return np.dtype(_tf.tf().as_dtype(enum).as_numpy_dtype)


@functools.cache
def dtype_of_enum(enum: int) -> DType:
    """The DType of a DataType number; one shared instance per dtype (on every hot path)."""
    return DType(enum)



# TensorFlow's DataType numbers (types.proto; fixed, as they are stored in every GraphDef) and
# names, for the dtypes rules and scripts name: parsing a rule file or a script needs no
# TensorFlow. A test checks the table against tf.as_dtype; other dtypes ask TensorFlow.
_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128", 19: "float16",
    20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}  # fmt: skip
_ENUMS = {name: enum for enum, name in _NAMES.items()}


@functools.cache
def _dtype_name(enum: int) -> str:
    return _NAMES.get(enum) or str(_tf.tf().as_dtype(enum).name)


@functools.cache
def _dtype_of_numpy(dtype: np.dtype) -> DType:
    return DType(_tf.tf().as_dtype(dtype).as_datatype_enum)


def dtype_of_numpy(dtype: Any) -> DType:
    return _dtype_of_numpy(np.dtype(dtype))


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """*tensor*'s value, exactly as ``tf.make_ndarray`` gives it (a fresh, writable array)."""
    content = tensor.tensor_content
    if content:  # make_ndarray's own first case, without its per-call dtype lookups
        shape = [d.size for d in tensor.tensor_shape.dim]
        return np.frombuffer(content, dtype=numpy_dtype(tensor.dtype)).copy().reshape(shape)
    return _tf.tf().make_ndarray(tensor)


_TENSOR_HEADER = frozenset({"dtype", "tensor_shape", "version_number"})


def stores_no_data(tensor: Any) -> bool:
    """Whether TensorProto *tensor* is TensorFlow's compact form of an all-zeros tensor: a
    shape with elements, but no ``tensor_content`` and no ``*_val`` (grappler writes it)."""
    if any(field.name not in _TENSOR_HEADER for field, _ in tensor.ListFields()):
        return False
    return not tensor.tensor_shape.unknown_rank and all(d.size > 0 for d in tensor.tensor_shape.dim)


_PACKED_KINDS = "fiuc"  # dtypes whose TensorProto is the raw little-endian bytes
# dtypes make_tensor_proto packs into tensor_content when a tensor has more than one element
_CONTENT_DTYPES = frozenset(
    np.dtype(t) for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint32", "uint64")
)


def numpy_to_tensor(value: Any, dtype: DType | None = None) -> Any:
    """A TensorProto holding *value*; numeric arrays are packed directly into
    ``tensor_content`` (rewrites create thousands of constants; ``make_tensor_proto`` is slow)."""
    tf = _tf.tf()
    array = np.asarray(value)
    if dtype is not None and stores_raw(array, dtype):
        proto = _tf.pb().TensorProto()
        _fill_content(proto, array, dtype)
        return proto
    if dtype is None and array.dtype.kind in _PACKED_KINDS and array.dtype.byteorder in "=<|":
        try:
            enum = tf.as_dtype(array.dtype).as_datatype_enum
        except TypeError:
            enum = None
        if enum is not None:
            proto = _tf.pb().TensorProto(dtype=enum, tensor_shape=shape_to_proto(tuple(array.shape)))
            proto.tensor_content = np.ascontiguousarray(array).tobytes()
            return proto
    kwargs = {"dtype": tf.as_dtype(dtype.enum)} if dtype is not None else {}
    return tf.make_tensor_proto(array, shape=array.shape, **kwargs)


def tensor_attr(value: Any, dtype: DType) -> Any:
    """``encode(numpy_to_tensor(value, dtype))``, built in place (no copy of the tensor)."""
    out = _tf.pb().AttrValue()
    array = np.asarray(value)
    if stores_raw(array, dtype):
        _fill_content(out.tensor, array, dtype)
    else:
        out.tensor.CopyFrom(numpy_to_tensor(array, dtype))
    return out


@functools.cache
def type_attr(dtype: DType) -> Any:
    """``encode(dtype)``, one shared AttrValue per dtype (node attributes are never mutated)."""
    return encode(dtype)


def stores_raw(array: np.ndarray, dtype: DType) -> bool:
    """Whether make_tensor_proto(array, dtype=dtype) stores *array* as raw ``tensor_content``
    (native byte order is implied: the dtypes compare equal); decoding then gives *array* back
    exactly."""
    return array.size > 1 and array.dtype in _CONTENT_DTYPES and array.dtype == numpy_dtype(dtype.enum)


def _fill_content(proto: Any, array: np.ndarray, dtype: DType) -> None:
    """Fill TensorProto *proto* exactly as make_tensor_proto does when ``_packs_as_content``."""
    proto.dtype = dtype.enum
    shape = proto.tensor_shape
    shape.SetInParent()
    for dim in array.shape:
        shape.dim.add().size = dim
    proto.tensor_content = array.tobytes()


def shape_to_proto(shape: tuple[int | None, ...] | None) -> Any:
    proto = _tf.pb().TensorShapeProto()
    if shape is None:
        proto.unknown_rank = True
        return proto
    for dim in shape:
        proto.dim.add().size = -1 if dim is None else int(dim)
    return proto


def shape_from_proto(proto: Any) -> tuple[int | None, ...] | None:
    if proto.unknown_rank:
        return None
    return Shape(None if d.size < 0 else int(d.size) for d in proto.dim)


def encode(value: Any) -> Any:
    """An AttrValue for a Python value (an AttrValue is returned unchanged)."""
    pb = _tf.pb()
    if isinstance(value, pb.AttrValue):
        return value
    out = pb.AttrValue()
    if isinstance(value, bool):
        out.b = value
    elif isinstance(value, DType):
        out.type = value.enum
    elif isinstance(value, (int, np.integer)):
        out.i = int(value)
    elif isinstance(value, (float, np.floating)):
        out.f = float(value)
    elif isinstance(value, str):
        out.s = value.encode()
    elif isinstance(value, bytes):
        out.s = value
    elif isinstance(value, np.ndarray):
        out.tensor.CopyFrom(numpy_to_tensor(value))
    elif isinstance(value, pb.TensorProto):
        out.tensor.CopyFrom(value)
    elif isinstance(value, pb.TensorShapeProto):
        out.shape.CopyFrom(value)
    elif isinstance(value, Shape):
        out.shape.CopyFrom(shape_to_proto(value))
    elif isinstance(value, (list, tuple)):
        _encode_list(out, list(value))
    else:
        raise TypeError(f"cannot store {value!r} as a TensorFlow attribute")
    return out


def _encode_list(out: Any, values: list[Any]) -> None:
    out.list.SetInParent()
    for item in values:
        if isinstance(item, bool):
            out.list.b.append(item)
        elif isinstance(item, DType):
            out.list.type.append(item.enum)
        elif isinstance(item, (int, np.integer)):
            out.list.i.append(int(item))
        elif isinstance(item, (float, np.floating)):
            out.list.f.append(float(item))
        elif isinstance(item, str):
            out.list.s.append(item.encode())
        elif isinstance(item, bytes):
            out.list.s.append(item)
        else:
            raise TypeError(f"cannot store list item {item!r} as a TensorFlow attribute")


def decode(attr: Any) -> Any:
    """The Python value of an AttrValue."""
    kind = attr.WhichOneof("value")
    if kind == "s":
        try:
            return attr.s.decode()
        except UnicodeDecodeError:
            return attr.s
    if kind == "type":
        return dtype_of_enum(attr.type)
    if kind == "shape":
        return shape_from_proto(attr.shape)
    if kind == "tensor":
        return tensor_to_numpy(attr.tensor)
    if kind == "func":
        return attr.func.name
    if kind == "list":
        lst = attr.list
        for field in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(lst, field)
            if len(items):
                if field == "s":
                    return [s.decode(errors="replace") for s in items]
                if field == "type":
                    return [DType(t) for t in items]
                if field == "shape":
                    return [shape_from_proto(s) for s in items]
                if field == "tensor":
                    return [tensor_to_numpy(t) for t in items]
                if field == "func":
                    return [f.name for f in items]
                return list(items)
        return []
    if kind is None:
        return None
    return getattr(attr, kind)
