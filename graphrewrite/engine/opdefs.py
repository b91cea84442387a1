"""What TensorFlow's op registry (the OpDefs) says about a node: the one place that reads it.

Answers are computed from the OpDef and the node's own attributes, so custom ops registered in
the running TensorFlow are understood too.
"""

from __future__ import annotations

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.node import Node


def output_dtypes(node: Node) -> list[DType] | None:
    """The dtype of each output of *node*, from its OpDef and attributes; None when unknown."""
    op_def = _tf.op_def(node.op)
    if op_def is None:
        return None
    out: list[DType] = []
    for arg in op_def.output_arg:
        if arg.type_list_attr:
            types = node.get(arg.type_list_attr)
            if types is None:
                return None
            out.extend(types)
            continue
        dtype = node.get(arg.type_attr) if arg.type_attr else DType(arg.type)
        if not isinstance(dtype, DType) or dtype.enum == 0:
            return None
        count = node.get(arg.number_attr) if arg.number_attr else 1
        if count is None:
            return None
        out.extend([dtype] * int(count))
    return out
