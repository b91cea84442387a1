"""The engine's bypass fast path gives the graph its general path (apply_batch) gives.

``bypass`` removes many nodes in one linear pass (remove_nodes, merge_duplicate_nodes); the
same removals written as Rewrites (remove the node, redirect its output to its input) go
through ``apply_batch``. Both must leave the same nodes with the same data inputs (in order),
the same control inputs (as a set: their order means nothing) and the same colocation.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from graphrewrite.engine.bypass import Bypass, bypass
from graphrewrite.engine.edit import colocation, with_colocation
from graphrewrite.engine.graph import CONTROL, Graph, TensorRef
from graphrewrite.engine.rewrite import Rewrite, apply_batch
from graphrewrite.testing import PALETTE, graphs


@st.composite
def graphs_with_identities(draw: Any) -> tuple[Graph, frozenset[str]]:
    """Palette graphs with Identity nodes, control edges and some colocation entries."""
    case = draw(graphs(ops=(*PALETTE, "Identity", "Identity", "Identity"), control_edges=True, max_nodes=10))
    graph = case.graph()
    names = list(graph.names)
    # Control edges from earlier to later nodes (the builder lists nodes in topological order),
    # so that removed Identity nodes both carry control inputs and are waited on.
    pairs = st.tuples(st.integers(0, len(names) - 1), st.integers(0, len(names) - 1))
    edges: dict[str, list[str]] = {}
    for i, j in draw(st.lists(pairs, max_size=6)):
        if i < j:
            edges.setdefault(names[j], []).append(names[i])
    for j, name in enumerate(names):  # most Identity nodes wait on an earlier node
        if j and graph.node(name).op == "Identity" and draw(st.booleans()):
            edges.setdefault(name, []).append(names[draw(st.integers(0, j - 1))])
    graph = graph.replace(
        graph.node(n).with_inputs([*graph.node(n).inputs, *(TensorRef(c, CONTROL) for c in cs)])
        for n, cs in edges.items()
    )
    located = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=4))
    marked = [with_colocation(graph.node(a), [b]) for a, b in dict(located).items() if a != b]
    return graph.replace(marked), frozenset((*case.inputs, *case.outputs))


def _shape(graph: Graph) -> dict[str, tuple[Any, ...]]:
    return {
        n.name: (
            n.op,
            tuple(r for r in n.inputs if r.port != CONTROL),
            frozenset(r.node for r in n.inputs if r.port == CONTROL),
            tuple(colocation(n) or ()),
        )
        for n in graph
    }


@settings(max_examples=150, deadline=None)
@given(graphs_with_identities())
def test_bypass_equals_apply_batch(found: tuple[Graph, frozenset[str]]) -> None:
    graph, protected = found
    note(f"protected: {sorted(protected)}")
    note("\n".join(f"{n.name} = {n.op}({', '.join(map(str, n.inputs))}) loc={colocation(n)}" for n in graph))
    doomed = [n for n in graph.nodes_of_op("Identity") if n not in protected and graph.node(n).data_inputs]
    plans = {n: Bypass({0: graph.node(n).data_inputs[0]}, (graph.node(n).data_inputs[0],)) for n in doomed}
    rewrites = [
        Rewrite("bypass", n, remove=frozenset({n}), redirect=((TensorRef(n, 0), graph.node(n).data_inputs[0]),))
        for n in doomed
    ]
    fast = bypass(graph, plans)
    general = apply_batch(graph, rewrites, protected).graph
    assert _shape(fast) == _shape(general)
    assert list(fast.names) == list(general.names)
