"""Shared parts of the weight transforms: reading float Consts, and one-shot passes over them.

``quantize_weights`` looks at every ``Const`` once, as GTT does, and replaces some of them with
a small subgraph under the same name. It is a pass, not a fixed-point rule: its own outputs are
Consts too (``quantize_weights(minimum_size=1)`` would quantize its own min/max scalars).
(``round_weights`` and ``cast_weights`` are rules in ``weights.rules``; round_weights runs
once, through a schedule, for the same reason.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from graphrewrite.engine.driver import Context
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.engine.rewrite import Rewrite, apply_batch

DT_FLOAT = 1  # TensorFlow's enum for float32

Namer = Callable[[str], str]
Convert = Callable[[Node, Namer], "tuple[Node, ...] | None"]


def element_count(node: Node) -> int:
    """Elements of a Const's ``value`` tensor, read from its shape without decoding it."""
    count = 1
    for dim in node.attr["value"].tensor.tensor_shape.dim:
        count *= int(dim.size)
    return count


def float32_weights(node: Node, minimum_size: int) -> np.ndarray | None:
    """The values of a float32 Const with at least *minimum_size* finite elements, else None.

    A Const without ``dtype`` or ``value``, or one TensorFlow cannot decode, is an error (as in
    GTT). Tensors holding inf or NaN are left alone: every formula here would turn them into
    garbage (GTT quantizes them anyway).
    """
    for key in ("dtype", "value"):
        if key not in node.attr:
            raise RuleError(f"Const node '{node.name}' has no '{key}' attribute")
    if node.attr["dtype"].type != DT_FLOAT or element_count(node) < minimum_size:
        return None
    try:
        values = np.asarray(node.value(), dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise RuleError(f"Const node '{node.name}': cannot decode its value tensor ({exc})") from None
    if values.size < minimum_size or not np.all(np.isfinite(values)):
        return None
    return values


def round_half_away(x: np.ndarray) -> np.ndarray:
    """C's ``round``: halves go away from zero (numpy's ``round`` goes to even)."""
    x = np.asarray(x, dtype=np.float64)
    whole = np.trunc(x)
    bump = np.abs(x - whole) >= 0.5  # exact in double
    return whole + np.where(bump, np.sign(x), 0.0)


def carried_attrs(node: Node) -> dict[str, Any]:
    """Private attributes (``_class``, ``_output_shapes``) the replacement keeps."""
    return {key: value for key, value in node.attr.items() if key.startswith("_")}


def const_node(name: str, value: np.ndarray, dtype: Any = None, *, device: str = "") -> Node:
    """A Const holding *value* (as TF dtype *dtype* when given, e.g. quint8)."""
    from graphrewrite.engine import attrvalues

    tensor = attrvalues.numpy_to_tensor(value, dtype)
    return Node.make(name, "Const", (), {"dtype": attrvalues.DType(tensor.dtype), "value": tensor}, device)


def rewrite_consts(graph: Graph, ctx: Context, rule: str, convert: Convert) -> Graph:
    """Offer every Const to *convert* once; apply the replacements it returns as one batch.

    *convert* gets the node and a namer giving fresh node names; it returns the new nodes (one
    of them named like the Const, which it replaces in place) or None to leave the Const alone.
    """
    taken: set[str] = set()

    def namer(base: str) -> str:
        name = graph.unique_name(base, taken)
        taken.add(name)
        return name

    rewrites = []
    for name in graph.nodes_of_op("Const"):
        node = graph.node(name)
        added = convert(node, namer)
        if added:
            rewrites.append(Rewrite(rule, name, add=tuple(added)))
    if not rewrites:
        return graph
    return apply_batch(graph, rewrites, ctx.protected).graph


def replacement(node: Node, op: str, inputs: Iterable[Any], attrs: dict[str, Any]) -> Node:
    """The node that takes a Const's place: same name, device, control inputs, private attrs."""
    made = Node.make(node.name, op, (*inputs, *node.control_inputs), attrs, node.device)
    private = carried_attrs(node)
    return made.evolve(attr={**made.attr, **private}) if private else made
