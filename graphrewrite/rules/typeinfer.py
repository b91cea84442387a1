"""Types from TensorFlow's OpDefs: the dtype of a tensor, the type attributes of a new node.

A rewrite writes ``Relu6(x)``; the new node needs ``T``. :func:`infer_attrs` reads the OpDef,
matches the template's inputs to its input args, and sets each type attribute from the dtype of
the inputs that use it (``N`` from the count of a repeated arg). A tensor's dtype comes from its
producer: a Const's ``dtype``, or the producer's output arg and attributes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine import opdefs
from graphrewrite.engine.attrvalues import DType, dtype_of_enum, encode
from graphrewrite.engine.graph import Graph, Node, TensorRef


def output_dtype(node: Node, port: int) -> DType | None:
    """The dtype of output *port* of *node*, from its attributes and OpDef; None if unknown
    (an op TensorFlow does not know is taken to output its ``T``)."""
    if node.op == "Const":
        return node.get("dtype")  # type: ignore[no-any-return]
    found = opdefs.output_type_enums(node)
    if found is None:
        guess = node.get("T") if opdefs.attr_names(node.op) is None else None
        return guess if isinstance(guess, DType) else None
    return dtype_of_enum(found[port]) if port < len(found) else None


def tensor_dtype(graph: Graph, ref: TensorRef, pending: Mapping[str, Node] | None = None) -> DType | None:
    """The dtype of tensor *ref*; *pending* holds nodes built but not yet in *graph*."""
    node = (pending or {}).get(ref.node) or graph.get(ref.node)
    return None if node is None else output_dtype(node, max(ref.port, 0))


def arity(op: str) -> tuple[int, int | None] | None:
    """The fewest and most data inputs *op* takes (most None when unbounded); None if unknown."""
    op_def = _tf.op_def(op)
    if op_def is None:
        return None
    fixed = sum(1 for a in op_def.input_arg if not (a.number_attr or a.type_list_attr))
    repeated = [a for a in op_def.input_arg if a.number_attr or a.type_list_attr]
    if not repeated:
        return fixed, fixed
    minimum = fixed
    for arg in repeated:
        spec = next((a for a in op_def.attr if a.name == (arg.number_attr or arg.type_list_attr)), None)
        minimum += int(spec.minimum) if spec is not None and spec.has_minimum else 0
    return minimum, None


def spread_inputs(op_def: Any, count: int) -> list[tuple[Any, int]] | str:
    """How *count* inputs fill *op_def*'s input args: ``[(arg, how many), ...]``, or a reason."""
    repeated = [a for a in op_def.input_arg if a.number_attr or a.type_list_attr]
    fixed = len(op_def.input_arg) - len(repeated)
    if len(repeated) > 1:
        return f"{op_def.name} has {len(repeated)} repeated inputs; cannot tell how to split {count}"
    if count < fixed or (not repeated and count != fixed):
        return f"{op_def.name} takes {fixed}{' or more' if repeated else ''} inputs, not {count}"
    return [(a, count - fixed if (a.number_attr or a.type_list_attr) else 1) for a in op_def.input_arg]


def infer_attrs(
    op: str, dtypes: Sequence[DType | None], given: Mapping[str, Any], base: Mapping[str, Any] | None = None
) -> dict[str, Any] | str:
    """Attributes for an *op* node whose inputs have *dtypes*, or a reason it cannot have any.

    Precedence: *given* (AttrValues set by the rule), then type and count attributes inferred
    from the inputs, then *base* (the attributes of the node being re-made), then OpDef defaults.
    """
    base = base or {}
    if _tf.op_def(op) is None:
        return {**base, **given}
    inferred = _inferred(op, tuple(dtypes))
    if isinstance(inferred, str):
        return inferred
    out = dict(base)
    out.update(inferred)
    out.update(given)
    for name, default in _attr_defaults(op):
        if name not in out:
            if default is None:
                return f"cannot infer attribute '{name}' of {op}; set it: {op}[{name}=...](...)"
            out[name] = default
    return out


# Per-op facts from the OpDef, read once: rewrites build the same few ops thousands of times.


@functools.lru_cache(maxsize=4096)
def _inferred(op: str, dtypes: tuple[DType | None, ...]) -> tuple[tuple[str, Any], ...] | str:
    """The type and count attributes (as AttrValues, shared: node attributes are never
    mutated) of an *op* node whose inputs have *dtypes*, or a reason there are none."""
    spread = _spread(op, len(dtypes))
    if isinstance(spread, str):
        return spread
    inferred: dict[str, Any] = {}
    position = 0
    for arg, count in spread:
        types = list(dtypes[position : position + count])
        position += count
        if arg.number_attr:
            inferred[arg.number_attr] = count
        if arg.type_list_attr:
            if any(t is None for t in types):
                return f"cannot infer {arg.type_list_attr} of {op}: an input of '{arg.name}' has no known dtype"
            inferred[arg.type_list_attr] = types
        elif arg.type_attr:
            reason = _unify(op, arg, types, inferred)
            if reason:
                return reason
    return tuple((k, _type_value(v) if isinstance(v, DType) else encode(v)) for k, v in inferred.items())


@functools.cache
def _spread(op: str, count: int) -> tuple[tuple[Any, int], ...] | str:
    spread = spread_inputs(_tf.op_def(op), count)
    return spread if isinstance(spread, str) else tuple(spread)


@functools.cache
def _attr_defaults(op: str) -> tuple[tuple[str, Any], ...]:
    """``(name, default AttrValue or None)`` for each attribute of *op*'s OpDef, in order."""
    op_def = _tf.op_def(op)
    attrs = op_def.attr if op_def is not None else ()
    return tuple((a.name, a.default_value if a.HasField("default_value") else None) for a in attrs)


@functools.cache
def _type_value(dtype: DType) -> Any:
    return encode(dtype)  # shared between nodes: node attrs are never mutated


def _unify(op: str, arg: Any, types: list[DType | None], inferred: dict[str, Any]) -> str | None:
    for dtype in types:
        if dtype is None:
            continue
        have = inferred.get(arg.type_attr)
        if have is None:
            inferred[arg.type_attr] = dtype
        elif have != dtype:
            return f"{op} needs one type for {arg.type_attr}, but its inputs are {have} and {dtype}"
    return None


_SCALARS: dict[str, tuple[type, ...]] = {
    "int": (int, np.integer),
    "float": (int, float, np.integer, np.floating),
    "bool": (bool, np.bool_),
    "string": (str, bytes),
}


def _scalar(kind: str, value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, _SCALARS[kind]) or (kind in ("int", "float") and isinstance(value, (bool, np.bool_))):
        raise ValueError
    converters: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "bool": bool, "string": str}
    return value if kind == "string" else converters[kind](value)


def coerce(op: str, name: str, value: Any) -> Any:
    """*value* as the AttrValue the OpDef of *op* declares for attribute *name*.

    Strings become dtypes for ``type`` attributes; numbers become ints or floats as declared.
    Raises ValueError naming the attribute when the value does not fit.
    """
    op_def = _tf.op_def(op)
    spec = next((a for a in op_def.attr if a.name == name), None) if op_def is not None else None
    kind = spec.type if spec is not None else None
    try:
        if kind == "type":
            return encode(value if isinstance(value, DType) else DType.named(str(value)))
        if kind == "list(type)":
            return encode([v if isinstance(v, DType) else DType.named(str(v)) for v in value])
        if kind in _SCALARS:
            return encode(_scalar(kind, value))
        if kind is not None and kind.startswith("list(") and kind[5:-1] in _SCALARS:
            if isinstance(value, (str, bytes)):
                raise ValueError
            return encode([_scalar(kind[5:-1], v) for v in list(value)])
        if kind == "shape":
            from graphrewrite.engine.attrvalues import shape_to_proto

            return encode(shape_to_proto(tuple(None if d is None or d < 0 else int(d) for d in value)))
        return encode(value)
    except (ValueError, TypeError):
        raise ValueError(f"attribute '{name}' of {op} takes a {kind or 'value'}, not {value!r}") from None
