"""Subgraphs cut at tensors: the candidates ``reduce`` tries.

A candidate keeps a set of a graph's nodes. Every tensor that enters the set from a node left
out becomes a Placeholder fed with the value that tensor had when the whole graph ran, so the
kept nodes compute exactly what they computed inside the whole graph. Every tensor that leaves
the set (read by a node left out, or an output of the whole graph) is an output of the
candidate. Constants are never cut: a kept node's Const inputs come along with it.

:func:`record_tensors` runs the whole graph once and keeps every tensor a cut may need.
Tensors TensorFlow cannot fetch (inside a while loop, on a dead ``Switch`` branch) are not
recorded, and a candidate never cuts at one: the node producing it is kept instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.errors import GraphError
from graphrewrite.engine.node import CONTROL, TensorRef
from graphrewrite.freezing.tables import INITIALIZER_OPS
from graphrewrite.runner import INIT_ALL_TABLES, tensor_name

FREE_OPS = frozenset({"Const", "HostConst"})  # come along with their readers; never cut
INPUT_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
# Ops whose outputs a session may not fetch: loop frames, and values that may be dead.
_FRAME_OPENERS = frozenset({"Enter", "RefEnter"})
_FRAME_CLOSERS = frozenset({"Exit", "RefExit"})
_BRANCH_OPENERS = frozenset({"Switch", "RefSwitch"})
_BRANCH_CLOSERS = frozenset({"Merge", "RefMerge"})
_UNFEEDABLE = frozenset({"resource", "variant"})


@attrs.frozen
class Candidate:
    """One subgraph, ready to run: its GraphDef, its inputs with their values, its outputs."""

    graph_def: Any
    kept: frozenset[str]  # the original graph's nodes it keeps (Consts included)
    inputs: tuple[str, ...]  # Placeholder node names, in graph order
    outputs: tuple[str, ...]  # tensor names
    feeds: Mapping[str, np.ndarray] = attrs.field(eq=False)

    @property
    def size(self) -> int:
        return len(self.graph_def.node)


class GraphIndex:
    """A GraphDef's nodes by name, their parsed inputs, and who reads each tensor."""

    def __init__(self, graph_def: Any):
        self.graph_def = graph_def
        self.nodes = {n.name: n for n in graph_def.node}
        self.inputs = {n.name: tuple(TensorRef.parse(i) for i in n.input) for n in graph_def.node}
        self.readers: dict[str, set[str]] = {name: set() for name in self.nodes}
        for name, refs in self.inputs.items():
            for ref in refs:
                if ref.port != CONTROL and ref.node in self.readers:
                    self.readers[ref.node].add(name)

    def op(self, name: str) -> str:
        return str(self.nodes[name].op)

    def data_inputs(self, name: str) -> Iterable[TensorRef]:
        return (ref for ref in self.inputs[name] if ref.port != CONTROL and ref.node in self.nodes)

    def tensors_read(self) -> list[str]:
        """Every tensor some node reads, in graph order, without repeats."""
        seen: dict[str, None] = {}
        for name in self.nodes:
            for ref in self.data_inputs(name):
                seen.setdefault(f"{ref.node}:{ref.port}", None)
        return list(seen)


def unfetchable_nodes(index: GraphIndex) -> set[str]:
    """Nodes whose outputs a session may refuse to fetch: inside a loop frame (after an
    ``Enter``, before its ``Exit``) or on a ``Switch`` branch before its ``Merge``."""
    found: set[str] = set()
    for openers, closers in ((_FRAME_OPENERS, _FRAME_CLOSERS), (_BRANCH_OPENERS, _BRANCH_CLOSERS)):
        stack = [name for name in index.nodes if index.op(name) in openers]
        while stack:
            name = stack.pop()
            if name in found:
                continue
            found.add(name)
            stack.extend(r for r in index.readers[name] if index.op(r) not in closers)
    return found


@attrs.frozen
class Recording:
    """Tensor values from one run of the whole graph, with their TensorFlow dtypes (enums)."""

    values: Mapping[str, np.ndarray]
    dtypes: Mapping[str, int]

    def __contains__(self, tensor: str) -> bool:
        return tensor in self.values


def record_tensors(graph_def: Any, feeds: Mapping[str, np.ndarray], tensors: Sequence[str]) -> Recording:
    """The value of each of *tensors* when *graph_def* runs on *feeds* (the feeds included);
    tensors a session cannot fetch are left out, found by splitting the fetch list where a
    run fails. Raises GraphError when the graph does not run at all."""
    from graphrewrite.runner import GraphRunner

    values: dict[str, np.ndarray] = {}
    with GraphRunner(graph_def) as runner:
        for name, value in feeds.items():
            values[tensor_name(name)] = np.asarray(value)
        specs = {t: runner.placeholder_spec(t)[0] for t in [*values, *tensors]}
        dtypes = {t: dtype.as_datatype_enum for t, dtype in specs.items()}
        wanted = [t for t in tensors if t not in values and specs[t].name not in _UNFEEDABLE]

        def fetch(chunk: Sequence[str]) -> None:
            try:
                values.update(zip(chunk, runner.run(feeds, chunk), strict=True))
            except GraphError:
                if len(chunk) > 1:
                    fetch(chunk[: len(chunk) // 2])
                    fetch(chunk[len(chunk) // 2 :])

        fetch(wanted)
    return Recording(values, dtypes)


def close(index: GraphIndex, keep: Iterable[str], recorded: Recording) -> frozenset[str]:
    """*keep* plus what it cannot do without: the Consts its nodes read, the producer of every
    tensor it reads that was not recorded (transitively), and the initializers of the lookup
    tables it keeps, with the graph's ``init_all_tables`` that runs them."""
    kept = set(keep)
    stack = list(kept)
    while stack:
        name = stack.pop()
        needed = [ref.node for ref in index.data_inputs(name)
                  if index.op(ref.node) in FREE_OPS or f"{ref.node}:{ref.port}" not in recorded]  # fmt: skip
        needed += [r for r in index.readers[name] if index.op(r) in INITIALIZER_OPS]
        if index.op(name) in INITIALIZER_OPS and INIT_ALL_TABLES in index.nodes:
            needed.append(INIT_ALL_TABLES)
        for node in needed:
            if node not in kept:
                kept.add(node)
                stack.append(node)
    return frozenset(kept)


def cut(index: GraphIndex, keep: Iterable[str], recorded: Recording, outputs: Sequence[str]) -> Candidate:
    """The candidate keeping *keep* (closed with :func:`close`); *outputs* are the whole
    graph's outputs, which stay outputs when their node is kept."""
    from graphrewrite import _tf

    kept = close(index, keep, recorded)
    pb = _tf.pb()
    out = pb.GraphDef()
    out.versions.CopyFrom(index.graph_def.versions)
    out.library.CopyFrom(index.graph_def.library)
    fed: dict[str, str] = {}  # cut tensor -> its Placeholder's name
    feeds: dict[str, np.ndarray] = {}
    taken = set(kept)
    body = []
    for name in index.nodes:
        if name not in kept:
            continue
        node = pb.NodeDef()
        node.CopyFrom(index.nodes[name])
        del node.input[:]
        for ref in index.inputs[name]:
            if ref.node in kept:
                node.input.append(str(ref))
            elif ref.port != CONTROL and ref.node in index.nodes:
                tensor = f"{ref.node}:{ref.port}"
                if tensor not in fed:
                    fed[tensor] = _free_name(ref, taken)
                    feeds[fed[tensor]] = recorded.values[tensor]
                node.input.append(fed[tensor])
        _drop_colocation(node, kept)
        body.append(node)
    inputs = [n for n in index.nodes if n in kept and index.op(n) in INPUT_OPS and tensor_name(n) in recorded]
    for name in inputs:
        feeds[name] = recorded.values[tensor_name(name)]
    out.node.extend(
        _placeholder(pb, name, recorded.dtypes[tensor], feeds[name]) for tensor, name in fed.items()
    )
    out.node.extend(body)
    return Candidate(out, kept, (*fed.values(), *inputs), _leaving(index, kept, outputs), feeds)


def _leaving(index: GraphIndex, kept: frozenset[str], outputs: Sequence[str]) -> tuple[str, ...]:
    """Tensors of kept nodes read by a node left out, or outputs of the whole graph."""
    wanted = {tensor_name(o) for o in outputs}
    leaving: dict[str, None] = {}
    for name in index.nodes:
        if name in kept:
            continue
        for ref in index.data_inputs(name):
            if ref.node in kept and index.op(ref.node) not in FREE_OPS:
                leaving.setdefault(f"{ref.node}:{ref.port}", None)
    for tensor in sorted(wanted):
        if TensorRef.parse(tensor).node in kept:
            leaving.setdefault(tensor, None)
    return tuple(leaving)


def _free_name(ref: TensorRef, taken: set[str]) -> str:
    """The producer's own name for port 0 (it is not in the candidate); a fresh name otherwise."""
    name = ref.node if ref.port == 0 else f"{ref.node}/output_{ref.port}"
    base, n = name, 1
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _placeholder(pb: Any, name: str, dtype: int, value: np.ndarray) -> Any:
    node = pb.NodeDef(name=name, op="Placeholder")
    node.attr["dtype"].type = dtype
    node.attr["shape"].shape.dim.extend(pb.TensorShapeProto.Dim(size=size) for size in np.shape(value))
    return node


def _drop_colocation(node: Any, kept: frozenset[str]) -> None:
    """Colocation with a node the candidate does not keep would stop TensorFlow importing it."""
    if "_class" not in node.attr:
        return
    groups = [
        g for g in node.attr["_class"].list.s if g.decode(errors="replace").removeprefix("loc:@") in kept
    ]
    if groups:
        node.attr["_class"].list.ClearField("s")
        node.attr["_class"].list.s.extend(groups)
    else:
        del node.attr["_class"]
