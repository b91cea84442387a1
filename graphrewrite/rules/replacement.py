"""One match's replacement while it is built: the nodes added so far and the names they took.

A rule's compiled template (:mod:`graphrewrite.rules.template`) calls into a
:class:`Replacement` for everything that depends on the match rather than on the template:
which matched nodes die with the rewrite (their names can be reused), fresh names, the root's
control inputs and recorded shapes, and the bound nodes a template re-makes.
"""

from __future__ import annotations

from typing import Any

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.pattern import Match
from graphrewrite.rules import typeinfer
from graphrewrite.rules.expr import Bound, BoundList, Env


class Refusal(Exception):
    """The replacement cannot be built for this match; the message is the reason."""


def dying_nodes(graph: Graph, match: Match, protected: frozenset[str]) -> frozenset[str]:
    """Matched nodes (other than the root) that nothing outside the rewrite will still read."""
    root = match.root
    candidates = set(match.nodes) - {root}
    frontier = []
    for name in candidates:
        if name in protected:
            frontier.append(name)
            continue
        for consumer in graph.consumers(name):
            if consumer not in candidates and consumer != root:
                frontier.append(name)
                break
    kept: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name in kept:
            continue
        kept.add(name)
        node = graph.get(name)
        frontier += [r.node for r in (node.inputs if node else ()) if r.node in candidates]
    return frozenset(candidates - kept)


class Replacement:
    """The state of one rewrite under construction (a plain slotted class: one per match)."""

    __slots__ = ("_dying", "added", "built", "claimed", "env", "graph", "made_dtypes", "match", "root")

    def __init__(self, env: Env, match: Match, graph: Graph):
        self.env = env
        self.match = match
        self.graph = graph
        self.root = graph.node(match.root)
        self.added: dict[str, Node] = {}
        self.claimed: set[str] = set()
        self.built: dict[str, str] = {}  # node-valued let -> the name of the node built for it
        self.made_dtypes: dict[str, DType] = {}  # the Consts made here, by name
        self._dying: frozenset[str] | None = None

    @property
    def dying(self) -> frozenset[str]:
        """Matched nodes whose names the replacement may take (computed on first use)."""
        if self._dying is None:
            self._dying = dying_nodes(self.graph, self.match, self.env.ctx.protected)
        return self._dying

    def removable(self) -> frozenset[str]:
        """The matched nodes, and the Consts they read as data through wildcards
        (``Reshape(x, _)``; a control input is an ordering the graph asked for, and stays);
        the engine keeps whichever is still used after the rewrite."""
        get = self.graph.lookup
        consts = set()
        for name in self.match.nodes:
            node = get(name)
            for ref in node.inputs if node is not None else ():
                if ref.port >= 0:
                    producer = get(ref.node)
                    if producer is not None and producer.op == "Const":
                        consts.add(ref.node)
        return frozenset(self.match.nodes) | consts

    def dtype(self, ref: TensorRef) -> DType | None:
        """The dtype of tensor *ref*, which may be made by this replacement."""
        found = self.made_dtypes.get(ref.node) if ref.port == 0 else None
        return found if found is not None else typeinfer.tensor_dtype(self.graph, ref, self.added)

    def check_other_outputs(self) -> None:
        """Refuse when anything reads an output of the root other than output 0."""
        past = self.output_read_past(1)
        if past is not None:
            raise Refusal(f"output {past[0]} of '{self.root.name}' is read by '{past[1]}'")

    def output_read_past(self, count: int) -> tuple[int, str] | None:
        """The first output of the root at or past *count* that something reads, and its reader."""
        root = self.root.name
        for consumer in self.graph.consumers(root):
            for ref in self.graph.node(consumer).inputs:
                if ref.node == root and ref.port >= count:
                    return ref.port, consumer
        return None

    def add(self, node: Node, root: bool) -> TensorRef:
        """Record *node*; the node in the root's place also keeps the root's control inputs."""
        if root:
            extra = [r for r in self.root.control_inputs if r not in node.inputs]
            if extra:  # (nodes built here already list data inputs before control inputs)
                node = node.with_inputs([*node.inputs, *extra])
        self.added[node.name] = node
        return TensorRef(node.name, 0)

    def root_shapes(self, attr: dict[str, Any]) -> dict[str, Any]:
        """A node re-made in the root's place computes the root's tensor: the root's recorded
        shape replaces the one the node had (``fs[0](ConcatV2(*xs, axis))`` is concat-shaped)."""
        attr = {k: v for k, v in attr.items() if k != "_output_shapes"}
        shapes = self.root.attr.get("_output_shapes")
        if shapes is not None and len(shapes.list.shape) == 1:
            attr["_output_shapes"] = shapes
        return attr

    def like(self, name: str, element: int | None) -> Node | None:
        """The bound node a ``name(...)`` or ``name[i](...)`` template re-makes, if any."""
        bound = self.env.bound.get(name)
        if element is None:
            return bound.node if isinstance(bound, Bound) else None
        if not isinstance(bound, BoundList) or element >= len(bound):
            raise Refusal(f"'{name}' has no element {element}")
        return bound[element].node  # type: ignore[no-any-return]

    # -- names --

    def node_name(self, like: Node | None, label: str) -> str:
        """A re-made node keeps its own name when the original dies with this rewrite."""
        if like is not None and like.name not in self.claimed and like.name in self.dying:
            self.claimed.add(like.name)
            return like.name
        return self.fresh(label)

    def given_name(self, wanted: Any) -> str:
        """The name ``as EXPR`` asked for, made unique."""
        if not isinstance(wanted, str) or not wanted:
            raise Refusal(f"a node name must be a non-empty string, not {wanted!r}")
        name = self.graph.unique_name(wanted, taken=self.added.keys() | self.claimed)
        self.claimed.add(name)
        return name

    def const_name(self, first: str | None) -> str:
        """A new Const takes the name of the bound Const *first* when that one dies here."""
        bound = self.env.bound.get(first) if first else None
        node = bound.node if isinstance(bound, Bound) else None
        if node is not None and node.op == "Const" and node.name not in self.claimed and node.name in self.dying:
            self.claimed.add(node.name)
            return node.name
        return self.fresh(first or "const")

    def fresh(self, label: str) -> str:
        """``<root>/<label>``, made unique among the graph and this replacement."""
        name = self.graph.unique_name(f"{self.root.name}/{label}", taken=self.added.keys() | self.claimed)
        self.claimed.add(name)
        return name
