"""sort_by_execution_order: a topological order, exactly GTT's (gtt_behaviour.md §2.2).

GTT runs Kahn's algorithm with a LIFO stack: nodes without inputs are pushed in graph order
and the last pushed is popped first; a node's consumers are found edge by edge (for each node
in graph order, for each of its inputs, duplicates counted); a node is ready when all its
inputs are done, except ``Merge`` (and ``RefMerge``, ``_XlaMerge``), which waits only for its
control inputs plus one data input so loops resolve. Reproducing that discipline gives
byte-identical output. Where we differ: a cycle is an error that names the nodes on it.
"""

from __future__ import annotations

from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.errors import GraphError
from graphrewrite.engine.feeds import VISIBLE
from graphrewrite.engine.graph import CONTROL, Graph
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.rule import Pass

MERGE_OPS = frozenset({"Merge", "RefMerge", "_XlaMerge"})


def execution_order(graph: Graph) -> list[str]:
    """Node names in GTT's execution order; GraphError on a dangling input or a cycle."""
    nodes = list(graph)
    index = {node.name: i for i, node in enumerate(nodes)}
    pending = [0] * len(nodes)
    consumers: list[list[int]] = [[] for _ in nodes]
    ready = []
    for n, node in enumerate(nodes):
        inputs = node.inputs
        if node.op in MERGE_OPS:
            pending[n] = 1 + sum(1 for ref in inputs if ref.port == CONTROL)
        else:
            pending[n] = len(inputs)
        if not inputs:
            ready.append(n)
            continue
        for ref in inputs:
            producer = index.get(ref.node)
            if producer is None:
                raise GraphError(f"node '{node.name}': input '{ref}' names a node that does not exist")
            consumers[producer].append(n)
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for c in consumers[n]:
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
    if len(order) < len(nodes):
        raise GraphError(_cycle_message(graph, nodes, pending, len(nodes) - len(order)))
    return [nodes[n].name for n in order]


def _cycle_message(graph: Graph, nodes: list, pending: list[int], stuck: int) -> str:  # type: ignore[type-arg]
    """Name the nodes of one cycle: walk back from a stuck node through stuck inputs."""
    waiting = {node.name for node, count in zip(nodes, pending, strict=True) if count > 0}
    start = next(node.name for node in nodes if node.name in waiting)
    path: list[str] = []
    position: dict[str, int] = {}
    name = start
    while name not in position:
        position[name] = len(path)
        path.append(name)
        before = next((ref.node for ref in graph.node(name).inputs if ref.node in waiting), None)
        if before is None:  # a Merge with no data input waits for an input it does not have
            return f"sort_by_execution_order: node '{name}' ({graph.node(name).op}) has no data input and can never run"
        name = before
    cycle = [*path[position[name] :], name]
    cycle.reverse()  # show it in data-flow direction
    shown = " -> ".join(f"'{n}'" for n in cycle[:12]) + (" -> ..." if len(cycle) > 12 else "")
    return f"sort_by_execution_order: the graph has a cycle: {shown} ({stuck} nodes cannot be ordered)"


@paused
def sort_by_execution_order(graph: Graph, ctx: Context) -> Graph:
    """The same nodes, in GTT's topological execution order."""
    order = execution_order(graph)
    if all(a == b for a, b in zip(order, graph.names, strict=True)):
        return graph
    return Graph.from_nodes((graph.node(n) for n in order), library=graph.library, versions=graph.versions)


SORT_BY_EXECUTION_ORDER = Pass(
    "sort_by_execution_order",
    "nodes in any order -> nodes in GTT's exact topological order (unlike GTT: a cycle names its nodes)",
    sort_by_execution_order,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="shuffled", promise=("topologically_sorted",))),
)
