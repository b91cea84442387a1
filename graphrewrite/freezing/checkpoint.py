"""Variable values from a TF1 checkpoint, read without a Session.

Which checkpoint key (and which slice of it) holds a variable is read from the graph's own
saver subgraph when there is one (``RestoreV2`` names and slice specs, followed to the
``Assign``/``AssignVariableOp`` of each variable), so savers built with custom names and
partitioned variables come out right. Without a saver the key is the variable's name, and a
partition ``x/part_<k>`` is cut from the full tensor ``x`` along the axis its parts split.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, suggest
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.freezing.frozen import FreezeError, first_line

Slice = tuple[slice, ...] | None
PART = re.compile(r"^(?P<base>.+)/part_(?P<index>\d+)$")


def checkpoint_prefix(checkpoint: str | os.PathLike[str]) -> str:
    """The checkpoint prefix for a prefix or a folder (its latest checkpoint)."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        latest = _tf.tf().train.latest_checkpoint(str(path))
        if latest is None:
            raise GraphFileError(f"no checkpoint in folder '{path}' (it has no 'checkpoint' index file)")
        return str(latest)
    if not Path(f"{path}.index").exists() and not path.exists():
        raise GraphFileError(f"no checkpoint at '{path}' (expected '{path}.index' and '{path}.data-*')")
    return str(path)


class CheckpointValues:
    """Reads variable values for the variable nodes of one graph from one checkpoint."""

    def __init__(self, prefix: str, graph: Graph):
        tf = _tf.tf()
        try:
            self._reader = tf.train.load_checkpoint(prefix)
        except (ValueError, tf.errors.OpError) as exc:
            raise GraphFileError(f"cannot read checkpoint '{prefix}': {first_line(exc)}") from None
        self._prefix = prefix
        self._keys = set(self._reader.get_variable_to_shape_map())
        self._saved = saver_keys(graph)
        self._graph = graph
        self._full: dict[str, np.ndarray] = {}

    def value(self, node: Node) -> np.ndarray:
        """The value of variable *node*, checked against its declared dtype and shape."""
        key, where = self._locate(node)
        if key not in self._full:
            self._full[key] = self._reader.get_tensor(key)
        value = self._full[key] if where is None else self._full[key][where]
        return _checked(node, np.asarray(value), key)

    def _locate(self, node: Node) -> tuple[str, Slice]:
        if node.name in self._saved and self._saved[node.name][0] in self._keys:
            return self._saved[node.name]
        if node.name in self._keys:
            return node.name, None
        part = PART.match(node.name)
        if part and part["base"] in self._keys:
            return part["base"], self._partition(part["base"])[node.name]
        key = self._saved.get(node.name, (node.name,))[0]
        hint = suggest(key, self._keys)
        raise NameNotFoundError(
            f"variable '{node.name}' is not in checkpoint '{self._prefix}' (no key '{key}')" + (f"; {hint}" if hint else "")
        )

    def _partition(self, base: str) -> dict[str, Slice]:
        """Slices of ``base`` for its parts, from the parts' declared shapes."""
        full = tuple(self._reader.get_variable_to_shape_map()[base])
        parts = sorted(
            (int(m["index"]), n.name, n.get("shape")) for n in self._graph
            if (m := PART.match(n.name)) and m["base"] == base and n.get("shape") is not None
        )  # fmt: skip
        axis = next((a for a in range(len(full)) if any(shape[a] != full[a] for _, _, shape in parts)), 0)
        out, start = {}, 0
        for _, name, shape in parts:
            out[name] = tuple(slice(start, start + shape[axis]) if a == axis else slice(None) for a in range(len(full)))
            start += shape[axis]
        return out


def saver_keys(graph: Graph) -> dict[str, tuple[str, Slice]]:
    """Variable name -> (checkpoint key, slice) from the graph's RestoreV2 ops and assigns."""
    found: dict[str, tuple[str, Slice]] = {}
    for name in graph.nodes_of_op("RestoreV2"):
        restore = graph.node(name)
        if len(restore.data_inputs) < 3:
            continue
        names = _strings(graph, restore.data_inputs[1].node)
        specs = _strings(graph, restore.data_inputs[2].node)
        if names is None or specs is None or len(names) != len(specs):
            continue
        for port, (key, spec) in enumerate(zip(names, specs, strict=True)):
            for variable in _assigned_variables(graph, restore.name, port):
                found[variable] = (key, parse_slice_spec(spec))
    return found


def _strings(graph: Graph, name: str) -> list[str] | None:
    node = graph.get(name)
    if node is None or node.op != "Const":
        return None
    return [s.decode() for s in node.attr["value"].tensor.string_val]


def _assigned_variables(graph: Graph, restore: str, port: int) -> list[str]:
    """Variables an output of RestoreV2 is assigned to, through any Identity chain."""
    out, pending, seen = [], [(restore, port)], set()
    while pending:
        source, source_port = pending.pop()
        for user_name in graph.consumers(source):
            user = graph.node(user_name)
            if not any(r.node == source and r.port == source_port for r in user.data_inputs) or user_name in seen:
                continue
            seen.add(user_name)
            if user.op == "Identity":
                pending.append((user_name, 0))
            elif user.op in ("Assign", "AssignVariableOp") and user.data_inputs[1].node == source:
                out.append(user.data_inputs[0].node)
    return out


def parse_slice_spec(spec: str) -> Slice:
    """``"6 3 0,3:0,3"`` (full shape, then start,length or ``-`` per dim) -> slices; "" -> None."""
    if not spec.strip():
        return None
    *_, slices = spec.split(" ")
    out = []
    for part in slices.split(":"):
        if part == "-":
            out.append(slice(None))
        else:
            start, length = (int(v) for v in part.split(","))
            out.append(slice(start, start + length))
    return tuple(out)


def _checked(node: Node, value: np.ndarray, key: str) -> np.ndarray:
    dtype = node.get("dtype")
    shape = node.get("shape")
    if dtype is not None and value.dtype != dtype.numpy:
        raise FreezeError(f"variable '{node.name}' is {dtype}, but checkpoint key '{key}' holds {value.dtype}")
    if shape and all(d is not None for d in shape) and tuple(shape) != value.shape:
        raise FreezeError(
            f"variable '{node.name}' has shape {list(shape)}, but checkpoint key '{key}' gives {list(value.shape)}"
        )
    return value
