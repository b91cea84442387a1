"""merge_duplicate_nodes: nodes that compute the same value become one.

Two nodes are duplicates when they have the same op, device, data inputs (``x`` and ``x:0``
alike, order significant, after earlier merges), control inputs (as a set) and attributes,
compared exactly (protobuf equality), not only by hash as GTT did. Stateful ops, ops the
registry does not know (GTT failed on them), Placeholders and protected names are never
removed; a protected name may absorb an unprotected twin. Within a set of duplicates the
first in graph order is kept (a protected one first), uses of the others move to it, and
every surviving node keeps its position (GTT reordered the graph by hash).

Nodes are visited in topological order and classified by value numbering, so one pass finds
every merge in a DAG, however deep the chains of duplicates; graphs with loops (``Merge``
back edges) repeat the pass until no new merge appears.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphrewrite.engine.bypass import Bypass, bypass
from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.opdefs import PLACEHOLDER_OPS, is_stateful
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules.ordering import execution_order


def mergeable(node: Node) -> bool:
    """Whether *node* may be merged with a twin: a registered, stateless, non-feed op."""
    return node.op not in PLACEHOLDER_OPS and is_stateful(node.op) is False


def fingerprint(node: Node) -> int:
    """A hash of *node*'s attributes (serialised deterministically, keys sorted)."""
    attr = node.attr
    return hash(tuple((key, attr[key].SerializeToString(deterministic=True)) for key in sorted(attr)))


def sketch(node: Node) -> int:
    """A cheap stand-in for :func:`fingerprint`: equal attributes give equal sketches, but a
    long serialised value is sampled (its length, ends, and 64 evenly spaced bytes) rather
    than hashed whole. Every Const of a graph shares one bucket key (no inputs), and hashing
    each weight tensor cost more than serialising it."""
    attr = node.attr
    return hash(tuple((key, _sample(attr[key].SerializeToString(deterministic=True))) for key in sorted(attr)))


def _sample(data: bytes) -> bytes | tuple[int, bytes, bytes, bytes]:
    if len(data) <= 256:
        return data
    return len(data), data[:64], data[-64:], data[:: len(data) // 64]


def same_attrs(a: Node, b: Node) -> bool:
    """Exact equality of two nodes' attributes (protobuf field-by-field equality)."""
    if len(a.attr) != len(b.attr):
        return False
    return all(key in b.attr and a.attr[key] == b.attr[key] for key in a.attr)


class _Classes:
    """One value-numbering pass: maps each node name to its class's first member."""

    def __init__(self, graph: Graph, order: list[str], previous: Mapping[str, str]):
        self.graph, self.previous = graph, previous
        self.cls: dict[str, str] = {}
        self.back_edges = False
        self._buckets: dict[tuple[Any, ...], Any] = {}
        for name in order:
            node = graph.node(name)
            self.cls[name] = self._classify(node) if mergeable(node) else name

    def of(self, name: str) -> str:
        found = self.cls.get(name)
        if found is None:  # a back edge of a loop: use what the previous pass proved
            self.back_edges = True
            earlier = self.previous.get(name, name)
            found = self.cls.get(earlier, earlier)
        return found

    def _classify(self, node: Node) -> str:
        cls = self.cls
        data: list[tuple[str, int]] = []
        control: set[str] = set()
        for ref in node.inputs:  # one plain loop: this runs for every node of the graph
            found = cls.get(ref.node) or self.of(ref.node)
            if ref.port == CONTROL:
                control.add(found)
            else:
                data.append((found, ref.port))
        key = (node.op, node.device, tuple(data), frozenset(control) if control else None)
        members = self._candidates(key, node)
        if members is None:
            return node.name
        for member in members:
            if same_attrs(member, node):
                return member.name  # a bucket holds only the first member of each class
        members.append(node)
        return node.name

    def _candidates(self, key: tuple[Any, ...], node: Node) -> list[Node] | None:
        """The first members of earlier classes that *node* may equal, split by key, then
        sketch, then fingerprint, each computed only once two nodes share the level above.
        None when no earlier node can equal it (it is then kept as a class's first member)."""
        entry = self._buckets.get(key)
        if entry is None:  # the common case: no twin candidate, so no attribute hashing
            self._buckets[key] = node
            return None
        if isinstance(entry, Node):
            entry = self._buckets[key] = {sketch(entry): entry}
        near = sketch(node)
        found = entry.get(near)
        if found is None:
            entry[near] = node
            return None
        if isinstance(found, Node):
            found = entry[near] = {fingerprint(found): [found]}
        return found.setdefault(fingerprint(node), [])  # type: ignore[no-any-return]


def duplicate_classes(graph: Graph) -> dict[str, str]:
    """Node name -> name of its class's first member, iterated to a fixed point."""
    order = list(graph.names) if is_topological(graph) else execution_order(graph)
    classes: dict[str, str] = {}
    count = len(graph)
    while True:
        found = _Classes(graph, order, classes)
        classes = found.cls
        distinct = len(set(classes.values()))
        # Without back edges one pass in topological order is exact; with them, a pass
        # can only find more merges while the previous one found some.
        if not found.back_edges or distinct == count:
            return classes
        count = distinct


def is_topological(graph: Graph) -> bool:
    """Whether every input of every node comes earlier in graph order (frozen graphs
    usually are: then the sort can be skipped)."""
    seen: set[str] = set()
    for node in graph:
        for ref in node.inputs:
            if ref.node not in seen:
                return False
        seen.add(node.name)
    return True


class _SamePort(Mapping[int, TensorRef]):
    """Every output port of a removed twin maps to the same port of the kept node."""

    def __init__(self, keeper: str):
        self.keeper = keeper

    def __getitem__(self, port: int) -> TensorRef:
        return TensorRef(self.keeper, port)

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and port >= 0

    def __iter__(self) -> Iterator[int]:
        return iter((0,))

    def __len__(self) -> int:
        return 1


@paused
def merge_duplicate_nodes(graph: Graph, ctx: Context) -> Graph:
    """Merge duplicate nodes (see the module docstring)."""
    classes = duplicate_classes(graph)
    members: dict[str, list[str]] = {}
    for name in graph.names:  # graph order: the first member is the first in the graph
        members.setdefault(classes[name], []).append(name)
    protected = ctx.protected
    plans: dict[str, Bypass] = {}
    for group in members.values():
        if len(group) < 2:
            continue
        keeper = next((n for n in group if n in protected), group[0])
        plan = Bypass(_SamePort(keeper), (TensorRef(keeper, 0),), carry=False)
        for name in group:
            if name != keeper and name not in protected:
                plans[name] = plan
    return bypass(graph, plans)


MERGE_DUPLICATE_NODES = Pass(
    "merge_duplicate_nodes",
    "f(x), f(x) -> one f(x) (unlike GTT: exact equality, graph order kept, Placeholders and unknown ops left alone)",
    merge_duplicate_nodes,
    facts=Facts(checked=Checked(cases="with_duplicates")),
)
