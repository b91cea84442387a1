"""The graph edits whole-graph passes share: swapping nodes, removing them, colocation.

Pattern rules edit graphs through ``apply_batch`` (engine/rewrite.py); passes that bypass many
nodes at once through ``bypass`` (engine/bypass.py); everything else through the functions
here. Together they are the one place that keeps what GTT often forgot consistent: input edges
(``^`` and ``:port`` kept), duplicated control edges, and ``_class`` colocation entries
(``loc:@name``), which TensorFlow refuses to import when they name a missing node. No pass
edits ``_class`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from graphrewrite.engine.graph import Graph, Node, TensorRef

_LOC = "loc:@"


def replace_inputs(node: Node, inputs: tuple[TensorRef, ...]) -> Node:
    """*node* with *inputs* (data first, then control), dropping its original NodeDef.

    The same as ``node.evolve(inputs=...)``, without attrs' generic evolve: the structural
    passes call this for tens of thousands of nodes.
    """
    return Node(node.name, node.op, inputs, node.device, node.attr)


def with_nodes(graph: Graph, changed: Mapping[str, Node]) -> Graph:
    """*graph* with the nodes in *changed* (same names) swapped in, positions kept.

    Patches the indexes for a few changes; builds afresh when a large share changes.
    """
    if not changed:
        return graph
    if 4 * len(changed) < len(graph):
        return graph.replace(changed.values())
    nodes = (changed.get(node.name, node) for node in graph)
    return Graph.from_nodes(nodes, library=graph.library, versions=graph.versions)


def colocation(node: Node) -> list[str] | None:
    """The node names in *node*'s ``_class`` attribute, or None when it has none."""
    if "_class" not in node.attr:
        return None
    entries = [e.decode(errors="replace") for e in node.attr["_class"].list.s]
    return [e[len(_LOC) :] for e in entries if e.startswith(_LOC)]


def with_colocation(node: Node, names: Sequence[str]) -> Node:
    """*node* with ``_class`` set to *names* (removed when empty)."""
    if not names:
        return node.without_attrs("_class")
    return node.with_attrs(_class=[_LOC + n for n in names])


def colocated_nodes(graph: Graph) -> list[Node]:
    """The nodes of *graph* with a ``_class`` attribute, in graph order (usually none: the
    graph's index answers without a scan)."""
    names = graph.colocated()
    return [graph.node(n) for n in graph.names if n in names] if names else []


def drop_colocation(graph: Graph, gone: set[str] | frozenset[str]) -> list[Node]:
    """Nodes of *graph* (not in *gone*) whose ``_class`` named a node in *gone*, fixed."""
    fixed = []
    for node in colocated_nodes(graph):
        located = colocation(node)
        if located and node.name not in gone and any(n in gone for n in located):
            fixed.append(with_colocation(node, [n for n in located if n not in gone]))
    return fixed


def remove(graph: Graph, gone: Iterable[str], upserts: Iterable[Node] = ()) -> Graph:
    """*graph* without the nodes in *gone* (with *upserts* swapped in or added), and without
    the colocation entries that named a removed node."""
    gone = frozenset(gone)
    changed = {n.name: n for n in upserts}
    result = graph.replace(changed.values(), gone)
    fixed = drop_colocation(result, gone)
    return result.replace(fixed) if fixed else result


def relocate(node: Node, renamed: Mapping[str, str]) -> Node:
    """*node* with its colocation entries following renamed nodes (``renamed``: old -> new)."""
    located = colocation(node)
    if not located or not any(n in renamed for n in located):
        return node
    return with_colocation(node, [renamed.get(n, n) for n in located])

