"""Reading a Variable's value from a checkpoint, for ``sparsify_gather(input_checkpoint=...)``.

GTT finds the checkpoint key and slice through the graph's Saver nodes: the ``save/Assign*``
node writing the variable names a ``RestoreV2`` output, whose ``tensor_names`` and
``shape_and_slices`` Consts give the key and the slice. A ``/part_<k>`` suffix (partitioned
variables) is dropped from the key. Without Saver nodes the variable's own name is the key.
"""

from __future__ import annotations

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, RuleError, UsageError
from graphrewrite.engine.graph import Graph, Node


def checkpoint_key(name: str) -> str:
    """The variable's key: its name without a trailing ``/part_<k>``."""
    head, _, last = name.rpartition("/")
    return head if head and last.startswith("part_") else name


def saver_slice(graph: Graph, variable: str) -> str:
    """The ``shape_and_slices`` entry the graph's Saver uses for *variable* ("" when none)."""
    for node in graph:
        parts = node.name.split("/")
        if len(parts) == 2 and parts[0].startswith("save") and parts[1].startswith("Assign"):
            data = node.data_inputs
            if data and data[0].node == variable and len(data) > 1:
                return _restore_slice(graph, graph.get(data[1].node), checkpoint_key(variable))
    return ""


def _restore_slice(graph: Graph, restore: Node | None, key: str) -> str:
    if restore is None or restore.op != "RestoreV2" or len(restore.data_inputs) < 3:
        return ""
    names_node, slices_node = (graph.get(r.node) for r in restore.data_inputs[1:3])
    if names_node is None or slices_node is None or names_node.op != "Const" or slices_node.op != "Const":
        return ""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names_node.value()).reshape(-1)]
    slices = [s.decode() if isinstance(s, bytes) else str(s) for s in np.asarray(slices_node.value()).reshape(-1)]
    return slices[names.index(key)] if key in names else ""


def take_slice(full: np.ndarray, spec: str) -> np.ndarray:
    """Apply a ``shape_and_slices`` spec like ``"10 1 0,5:-"`` (full shape, then per-dim
    ``start,length`` or ``-``) to the full tensor."""
    if not spec.strip():
        return full
    dims = spec.split(" ")[-1].split(":")
    index = tuple(
        slice(None) if d == "-" else slice(int(d.split(",")[0]), int(d.split(",")[0]) + int(d.split(",")[1]))
        for d in dims
    )
    return full[index]


def variable_value(graph: Graph, variable: Node, checkpoint: str | None) -> np.ndarray:
    """The value of *variable* stored in *checkpoint* (a checkpoint prefix)."""
    if not checkpoint:
        raise UsageError(f"sparsify_gather: '{variable.name}' is a {variable.op}; pass input_checkpoint=<prefix>")
    tf = _tf.tf()
    try:
        reader = tf.train.load_checkpoint(checkpoint)
    except (ValueError, tf.errors.OpError) as exc:
        raise GraphFileError(f"cannot read input_checkpoint '{checkpoint}': {str(exc).splitlines()[0]}") from None
    key = checkpoint_key(variable.name)
    if not reader.has_tensor(key):
        raise RuleError(f"sparsify_gather: checkpoint '{checkpoint}' has no tensor '{key}' for '{variable.name}'")
    return take_slice(np.asarray(reader.get_tensor(key)), saver_slice(graph, variable.name))
