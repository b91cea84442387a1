"""Control edges that order nothing: ``^c`` from a Const with no inputs, and empty NoOps.

A Const with no inputs of its own has no effect to wait for, so a control edge from it orders
nothing. TF2 freezing leaves many: Keras graphs end in ``Identity(out, ^NoOp)`` where the NoOp
waits on every variable read, and once variables are constants those waits keep hundreds of
Consts (and the NoOp) alive. Grappler's dependency optimizer removes them; ``fold_constants``
does the same through :func:`drop_inert_control_edges`.
"""

from __future__ import annotations

from operator import attrgetter

from graphrewrite.engine.graph import CONTROL, Graph, Node


def _inert(node: Node | None) -> bool:
    """Waiting on this node orders nothing: a Const or NoOp with no inputs at all."""
    return node is not None and node.op in ("Const", "NoOp") and not node.inputs


def drop_inert_control_edges(graph: Graph, protected: frozenset[str] = frozenset()) -> Graph:
    """*graph* without control edges from inert nodes, and without NoOps that thereby lost
    every input and every use (repeated, since dropping a NoOp can make its waiter inert)."""
    while True:
        edits = _without_inert_waits(graph)
        if edits:
            graph = graph.replace(edits)
        dead = [
            n for n in graph.nodes_of_op("NoOp")
            if _inert(graph.get(n)) and not graph.has_consumers(n) and n not in protected
        ]  # fmt: skip
        if not edits and not dead:
            return graph
        graph = graph.replace((), dead)


def _without_inert_waits(graph: Graph) -> list[Node]:
    """The nodes with a control edge from an inert node, without those edges, by name.

    One scan of the edges, looking a producer up only for control edges: most graphs have
    few, while asking every Const for its consumers cost a lookup per Const and per reader.
    """
    get = graph.lookup
    waiters = []
    for node in graph:
        for source, port in node.inputs:
            if port == CONTROL and _inert(get(source)):
                waiters.append(node)
                break
    edits = []
    for node in sorted(waiters, key=attrgetter("name")):  # the order replace() appends consumers in
        kept = tuple(r for r in node.inputs if not (r.port == CONTROL and _inert(get(r.node))))
        edits.append(node.with_inputs(kept))
    return edits
