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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine import edit
from graphrewrite.engine.attrvalues import DType, shape_to_proto
from graphrewrite.engine.errors import GraphError
from graphrewrite.engine.graph import Graph, Node
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


def data_inputs(graph: Graph, name: str) -> Iterator[TensorRef]:
    """The data edges into node *name* from nodes of *graph*."""
    return (ref for ref in graph.node(name).inputs if ref.port != CONTROL and ref.node in graph)


def data_readers(graph: Graph, name: str) -> list[str]:
    """The nodes that read a tensor of node *name* (control consumers left out)."""
    return [c for c in graph.consumers(name) if any(r.node == name for r in data_inputs(graph, c))]


def tensors_read(graph: Graph) -> list[str]:
    """Every tensor some node reads, in graph order, without repeats."""
    seen: dict[str, None] = {}
    for node in graph:
        for ref in data_inputs(graph, node.name):
            seen.setdefault(f"{ref.node}:{ref.port}", None)
    return list(seen)


def unfetchable_nodes(graph: Graph) -> set[str]:
    """Nodes whose outputs a session may refuse to fetch: inside a loop frame (after an
    ``Enter``, before its ``Exit``) or on a ``Switch`` branch before its ``Merge``."""
    found: set[str] = set()
    for openers, closers in ((_FRAME_OPENERS, _FRAME_CLOSERS), (_BRANCH_OPENERS, _BRANCH_CLOSERS)):
        stack = [node.name for node in graph if node.op in openers]
        while stack:
            name = stack.pop()
            if name in found:
                continue
            found.add(name)
            stack.extend(r for r in data_readers(graph, name) if graph.node(r).op not in closers)
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


def close(graph: Graph, keep: Iterable[str], recorded: Recording) -> frozenset[str]:
    """*keep* plus what it cannot do without: the Consts its nodes read, the producer of every
    tensor it reads that was not recorded (transitively), and the initializers of the lookup
    tables it keeps, with the graph's ``init_all_tables`` that runs them."""
    kept = set(keep)
    stack = list(kept)
    while stack:
        name = stack.pop()
        needed = [ref.node for ref in data_inputs(graph, name)
                  if graph.node(ref.node).op in FREE_OPS or f"{ref.node}:{ref.port}" not in recorded]  # fmt: skip
        needed += [r for r in data_readers(graph, name) if graph.node(r).op in INITIALIZER_OPS]
        if graph.node(name).op in INITIALIZER_OPS and INIT_ALL_TABLES in graph:
            needed.append(INIT_ALL_TABLES)
        for node in needed:
            if node not in kept:
                kept.add(node)
                stack.append(node)
    return frozenset(kept)


def cut(graph: Graph, keep: Iterable[str], recorded: Recording, outputs: Sequence[str]) -> Candidate:
    """The candidate keeping *keep* (closed with :func:`close`); *outputs* are the whole
    graph's outputs, which stay outputs when their node is kept. The nodes left out go through
    the engine's removal, which also drops colocation entries that named them."""
    kept = close(graph, keep, recorded)
    fed: dict[str, str] = {}  # cut tensor -> its Placeholder's name
    rewired = []
    for node in graph:
        if node.name not in kept:
            continue
        # Control edges from nodes left out are dropped; data edges from them are cut.
        inputs = [
            _source(graph, ref, kept, fed)
            for ref in node.inputs
            if ref.node in kept or (ref.port != CONTROL and ref.node in graph)
        ]
        if inputs != list(node.inputs):
            rewired.append(edit.replace_inputs(node, tuple(inputs)))
    feeds = {name: recorded.values[tensor] for tensor, name in fed.items()}
    originals = [
        n.name for n in graph if n.name in kept and n.op in INPUT_OPS and tensor_name(n.name) in recorded
    ]
    feeds.update((name, recorded.values[tensor_name(name)]) for name in originals)
    placeholders = [_placeholder(name, recorded.dtypes[tensor], feeds[name]) for tensor, name in fed.items()]
    gone = frozenset(graph.names) - kept
    sub = edit.remove(graph, gone, [*rewired, *placeholders])
    return Candidate(
        sub.to_graphdef(), kept, (*fed.values(), *originals), _leaving(graph, kept, outputs), feeds
    )


def _source(graph: Graph, ref: TensorRef, kept: frozenset[str], fed: dict[str, str]) -> TensorRef:
    """Where a kept node reads *ref* in the candidate: the same edge, or the Placeholder of a
    cut tensor (the producer's own name for port 0: it is not in the candidate)."""
    if ref.node in kept:
        return ref
    tensor = f"{ref.node}:{ref.port}"
    if tensor not in fed:
        fed[tensor] = (
            ref.node if ref.port == 0 else graph.unique_name(f"{ref.node}/output_{ref.port}", fed.values())
        )
    return TensorRef(fed[tensor], 0)


def _leaving(graph: Graph, kept: frozenset[str], outputs: Sequence[str]) -> tuple[str, ...]:
    """Tensors of kept nodes read by a node left out, or outputs of the whole graph."""
    wanted = {tensor_name(o) for o in outputs}
    leaving: dict[str, None] = {}
    for node in graph:
        if node.name in kept:
            continue
        for ref in data_inputs(graph, node.name):
            if ref.node in kept and graph.node(ref.node).op not in FREE_OPS:
                leaving.setdefault(f"{ref.node}:{ref.port}", None)
    for tensor in sorted(wanted):
        if TensorRef.parse(tensor).node in kept:
            leaving.setdefault(tensor, None)
    return tuple(leaving)


def _placeholder(name: str, dtype: int, value: np.ndarray) -> Node:
    return Node.make(
        name, "Placeholder", (), {"dtype": DType(dtype), "shape": shape_to_proto(tuple(np.shape(value)))}
    )
