"""A node's input and output dtypes, from TensorFlow's op registry (GTT's ``GetInOutTypes``).

``quantize_nodes`` converts an op only when its inputs and outputs are float; ``insert_logging``
needs a node's output types for the ``Print`` it adds. Attributes the node leaves out take the
OpDef's default, as TensorFlow does when it imports the graph.
"""

from __future__ import annotations

from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType, decode
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import Node


def in_out_types(node: Node) -> tuple[tuple[DType, ...], tuple[DType, ...]]:
    """The dtype of each data input and each output of *node*.

    Raises RuleError when TensorFlow does not know the op, or a type attribute is missing.
    """
    op_def = _tf.op_def(node.op)
    if op_def is None:
        raise RuleError(f"node '{node.name}': op {node.op} is not registered in this TensorFlow")
    defaults = {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
    return _arg_types(node, op_def.input_arg, defaults), _arg_types(node, op_def.output_arg, defaults)


def output_types(node: Node) -> tuple[DType, ...]:
    return in_out_types(node)[1]


def _arg_types(node: Node, args: Any, defaults: dict[str, Any]) -> tuple[DType, ...]:
    out: list[DType] = []
    for arg in args:
        if arg.type_list_attr:
            out.extend(_attr(node, arg.type_list_attr, defaults))
            continue
        dtype = DType(arg.type) if arg.type else _attr(node, arg.type_attr, defaults)
        count = int(_attr(node, arg.number_attr, defaults)) if arg.number_attr else 1
        out.extend([dtype] * count)
    return tuple(out)


def _attr(node: Node, key: str, defaults: dict[str, Any]) -> Any:
    value = node.get(key)
    if value is None and key in defaults:
        value = decode(defaults[key])
    if value is None:
        raise RuleError(f"node '{node.name}' ({node.op}) has no '{key}' attribute and its op has no default")
    return value
