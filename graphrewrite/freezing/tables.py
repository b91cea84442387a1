"""Lookup tables frozen into the graph: a captured table becomes constant data and its initializer.

TensorFlow's converter freezes variables but leaves a captured lookup table (a Keras
``StringLookup``/``TextVectorization`` vocabulary, a ``tf.lookup.StaticHashTable``) as a
``resource`` Placeholder that nobody can feed. Here each such table is read out once (its keys
and values, through ``LookupTableExportV2`` on the live handle) and rebuilt inside the graph:

    <name>          HashTableV2           (the Placeholder's name, so its readers are unchanged)
    <name>/keys     Const                 the keys
    <name>/values   Const                 the values
    <name>/init     InitializeTableV2     fills the table
    init_all_tables NoOp                  waits on every table initializer

``init_all_tables`` is TensorFlow 1's own name for ``tf.compat.v1.tables_initializer()``: every
command that runs a graph (``run``, ``verify``, ``serve``, the property checks) runs it once
before the first fetch when the graph has it, and ``export`` makes it the SavedModel's init op.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.runner import INIT_ALL_TABLES

# Ops that read a table handle and say its key and value types.
TYPED_READERS = {"LookupTableFindV2": ("Tin", "Tout"), "LookupTableExportV2": ("Tkeys", "Tvalues")}
PASS_THROUGH = frozenset({"Identity", "IdentityN"})


def captured_handles(function: Any) -> dict[str, Any]:
    """Placeholder node name -> the live resource handle a concrete function captured there."""
    captured = list(function.captured_inputs)
    if not captured:
        return {}
    placeholders = function.graph.inputs[-len(captured) :]
    return {
        TensorRef.parse(p.name).node: handle
        for p, handle in zip(placeholders, captured, strict=True)
        if handle.dtype.name == "resource"
    }


def freeze_tables(graph: Graph, handles: Mapping[str, Any]) -> tuple[Graph, frozenset[str]]:
    """*graph* with every resource Placeholder that feeds a table lookup rebuilt as a table; also
    the names of the Placeholders replaced (they are no longer inputs)."""
    nodes: list[Node] = []
    inits: list[str] = []
    for name, handle in sorted(handles.items()):
        node = graph.get(name)
        types = _table_types(graph, name) if node is not None and node.op == "Placeholder" else None
        if types is None:
            continue
        keys, values = _contents(handle, *types)
        nodes += _table_nodes(name, node.device, types, keys, values)
        inits.append(f"{name}/init")
    if not nodes:
        return graph, frozenset()
    existing = graph.get(INIT_ALL_TABLES)
    waits = [*(existing.inputs if existing is not None else ()), *(TensorRef(i, CONTROL) for i in inits)]
    nodes.append(Node(INIT_ALL_TABLES, "NoOp", ()).with_inputs(dict.fromkeys(waits)))
    return graph.replace(nodes), frozenset(i.rsplit("/", 1)[0] for i in inits)


def _table_types(graph: Graph, name: str) -> tuple[DType, DType] | None:
    """The key and value dtypes the readers of handle *name* use (through Identity nodes)."""
    stack, seen = [name], {name}
    while stack:
        for user in graph.consumers(stack.pop()):
            node = graph.node(user)
            if node.op in TYPED_READERS:
                key_attr, value_attr = TYPED_READERS[node.op]
                return node.get(key_attr), node.get(value_attr)
            if node.op in PASS_THROUGH and user not in seen:
                seen.add(user)
                stack.append(user)
    return None


def _contents(handle: Any, key_dtype: DType, value_dtype: DType) -> tuple[np.ndarray, np.ndarray]:
    tf = _tf.tf()
    keys, values = tf.raw_ops.LookupTableExportV2(
        table_handle=handle, Tkeys=tf.as_dtype(key_dtype.enum), Tvalues=tf.as_dtype(value_dtype.enum)
    )
    order = np.argsort(keys.numpy(), kind="stable")  # export order is the hash map's: sort for determinism
    return keys.numpy()[order], values.numpy()[order]


def _table_nodes(name: str, device: str, types: tuple[DType, DType], keys: np.ndarray, values: np.ndarray) -> list[Node]:
    key_dtype, value_dtype = types
    table = Node.make(
        name, "HashTableV2", (),
        {"key_dtype": key_dtype, "value_dtype": value_dtype, "shared_name": "", "use_node_name_sharing": True},
        device,
    )  # fmt: skip
    key_const = Node.make(f"{name}/keys", "Const", (), {"dtype": key_dtype, "value": keys}, device)
    value_const = Node.make(f"{name}/values", "Const", (), {"dtype": value_dtype, "value": values}, device)
    init = Node.make(
        f"{name}/init", "InitializeTableV2", (name, key_const.name, value_const.name),
        {"Tkey": key_dtype, "Tval": value_dtype}, device,
    )  # fmt: skip
    return [table, key_const, value_const, init]


TABLE_OPS = frozenset({"HashTableV2", "HashTable", "MutableHashTableV2", "MutableHashTableOfTensorsV2", "MutableDenseHashTableV2"})
INITIALIZER_OPS = frozenset({"InitializeTableV2", "InitializeTable", "InitializeTableFromTextFileV2", "LookupTableImportV2"})


def table_initializers(graph: Graph, needed: Iterable[str]) -> list[str]:
    """The initializers of the tables among *needed* nodes (what TF1's tables_initializer ran)."""
    tables = [n for n in needed if graph.node(n).op in TABLE_OPS]
    return sorted({user for t in tables for user in graph.consumers(t) if graph.node(user).op in INITIALIZER_OPS})


def group_initializers(graph: Graph, initializers: Iterable[str]) -> Graph:
    """*graph* with ``init_all_tables`` waiting on exactly *initializers* (made when missing)."""
    names = list(dict.fromkeys(initializers))
    if not names:
        return graph
    group = Node(INIT_ALL_TABLES, "NoOp", ()).with_inputs(TensorRef(n, CONTROL) for n in names)
    return graph.replace([group])
