"""What TensorFlow's op registry says about a node: output dtypes, statefulness, defaults.

The structural transforms ask the registry (``_tf.op_def``) instead of keeping their own op
tables, so custom ops registered in the running TensorFlow are understood too. Every answer
is cached per op type: a 170,000-node graph holds a few hundred op types at most.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.opdefs import output_dtypes

__all__ = ["PLACEHOLDER_OPS", "attr_defaults", "attr_names", "is_stateful", "output_dtypes"]

# Feeds: two nodes of these ops are different inputs even when their attributes are equal.
PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})


@functools.cache
def is_stateful(op: str) -> bool | None:
    """Whether TensorFlow marks *op* stateful; None when the op is not registered."""
    op_def = _tf.op_def(op)
    return None if op_def is None else bool(op_def.is_stateful)


@functools.cache
def attr_defaults(op: str) -> Mapping[str, Any] | None:
    """The OpDef's attributes that have a default, as AttrValue protos; None for unknown ops."""
    op_def = _tf.op_def(op)
    if op_def is None:
        return None
    return {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}


@functools.cache
def attr_names(op: str) -> frozenset[str] | None:
    """Every attribute name the OpDef declares; None for unknown ops."""
    op_def = _tf.op_def(op)
    return None if op_def is None else frozenset(a.name for a in op_def.attr)
