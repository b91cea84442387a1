"""What TensorFlow's op registry (the OpDefs) says about a node: the one place that reads it.

Answers are computed from the OpDef and the node's own attributes, so custom ops registered in
the running TensorFlow are understood too. An attribute the node leaves out takes the OpDef's
default, as TensorFlow does when it imports a graph. Per-op facts are cached: a 170,000-node
graph holds a few hundred op types at most.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType, decode, dtype_of_enum
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.node import Node

# Feeds: the ops that stand for a value given at run time. Two of them are different inputs
# even when their attributes are equal; a PlaceholderWithDefault also computes its default.
PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
FEED_ONLY_OPS = PLACEHOLDER_OPS - {"PlaceholderWithDefault"}  # no value of their own

# (type enum, type_attr, number_attr, type_list_attr) of each input or output arg
_Arg = tuple[int, str, str, str]


@functools.cache
def _spec(op: str) -> tuple[tuple[_Arg, ...], tuple[_Arg, ...], Mapping[str, Any]] | None:
    """An op's input args, output args and attribute defaults (AttrValue protos); None when
    the op is not registered."""
    op_def = _tf.op_def(op)
    if op_def is None:
        return None
    args = lambda found: tuple((a.type, a.type_attr, a.number_attr, a.type_list_attr) for a in found)  # noqa: E731
    defaults = {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
    return args(op_def.input_arg), args(op_def.output_arg), defaults


def _raw(node: Node, name: str, defaults: Mapping[str, Any]) -> Any:
    """The AttrValue proto of attribute *name*, or its OpDef default, or None."""
    found = node.attr.get(name)
    return found if found is not None else defaults.get(name)


def output_type_enums(node: Node) -> tuple[int, ...] | None:
    """The dtype enum of each output of *node*; None when the op or a type is unknown.

    Reads the attribute protos directly (no decoding): constant folding asks this of every node.
    """
    spec = _spec(node.op)
    if spec is None:
        return None
    _, outputs, defaults = spec
    out: list[int] = []
    for fixed, type_attr, number_attr, list_attr in outputs:
        if list_attr:
            value = _raw(node, list_attr, defaults)
            if value is None:
                return None
            out += list(value.list.type)
            continue
        typed = fixed or (_raw(node, type_attr, defaults) or _NONE).type
        count = (_raw(node, number_attr, defaults) or _NONE).i if number_attr else 1
        if not typed or count is None:
            return None
        out += [typed] * int(count)
    return tuple(out)


class _Missing:
    type = 0
    i = None


_NONE = _Missing()


def output_dtypes(node: Node) -> list[DType] | None:
    """The dtype of each output of *node*; None when the op or a type is unknown."""
    found = output_type_enums(node)
    return None if found is None else [dtype_of_enum(e) for e in found]


def output_count(node: Node) -> int | None:
    """How many outputs *node* has (types need not be known); None when unknown."""
    spec = _spec(node.op)
    if spec is None:
        return None
    _, outputs, defaults = spec
    total = 0
    for _, _, number_attr, list_attr in outputs:
        if number_attr or list_attr:
            value = _raw(node, number_attr or list_attr, defaults)
            if value is None:
                return None
            total += int(value.i) if number_attr else len(value.list.type)
        else:
            total += 1
    return total


def in_out_types(node: Node) -> tuple[tuple[DType, ...], tuple[DType, ...]]:
    """The dtype of each data input and each output of *node* (GTT's ``GetInOutTypes``).

    Raises RuleError when TensorFlow does not know the op, or a type attribute is missing.
    """
    spec = _spec(node.op)
    if spec is None:
        raise RuleError(f"node '{node.name}': op {node.op} is not registered in this TensorFlow")
    inputs, outputs, defaults = spec
    return _arg_types(node, inputs, defaults), _arg_types(node, outputs, defaults)


def _arg_types(node: Node, args: tuple[_Arg, ...], defaults: Mapping[str, Any]) -> tuple[DType, ...]:
    out: list[DType] = []
    for fixed, type_attr, number_attr, list_attr in args:
        if list_attr:
            out.extend(_decoded(node, list_attr, defaults))
            continue
        dtype = dtype_of_enum(fixed) if fixed else _decoded(node, type_attr, defaults)
        count = int(_decoded(node, number_attr, defaults)) if number_attr else 1
        out.extend([dtype] * count)
    return tuple(out)


def _decoded(node: Node, key: str, defaults: Mapping[str, Any]) -> Any:
    value = node.get(key)
    if value is None and key in defaults:
        value = decode(defaults[key])
    if value is None:
        raise RuleError(f"node '{node.name}' ({node.op}) has no '{key}' attribute and its op has no default")
    return value


@functools.cache
def is_stateful(op: str) -> bool | None:
    """Whether TensorFlow marks *op* stateful; None when the op is not registered."""
    op_def = _tf.op_def(op)
    return None if op_def is None else bool(op_def.is_stateful)


def attr_defaults(op: str) -> Mapping[str, Any] | None:
    """The OpDef's attributes that have a default, as AttrValue protos; None for unknown ops."""
    spec = _spec(op)
    return None if spec is None else spec[2]


@functools.cache
def attr_names(op: str) -> frozenset[str] | None:
    """Every attribute name the OpDef declares; None for unknown ops."""
    op_def = _tf.op_def(op)
    return None if op_def is None else frozenset(a.name for a in op_def.attr)
