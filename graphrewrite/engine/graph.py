"""Graph: an immutable graph of Nodes with incrementally patched indexes.

``Graph.from_graphdef`` and ``Graph.to_graphdef`` are the only places that touch protobuf
structure. Untouched nodes keep their original NodeDef, so writing a graph back costs what
protobuf costs. Derived indexes (consumers, op types, colocation) are built once and patched by
:meth:`Graph.replace`, which returns a new graph and leaves the old one intact. The node-level
values live in :mod:`graphrewrite.engine.node` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from graphrewrite import _tf
from graphrewrite.engine.collector import collector_paused
from graphrewrite.engine.errors import NameNotFoundError, suggest
from graphrewrite.engine.node import CONTROL, Node, TensorRef, dedupe_inputs, node_name

__all__ = ["CONTROL", "Graph", "Node", "TensorRef", "dedupe_inputs", "node_name"]


def _own(index: dict[str, dict[str, None]], owned: set[str], key: str) -> dict[str, None]:
    """``index[key]`` as a fresh copy that *index* alone holds (an empty one when missing)."""
    inner = index[key] = dict(index.get(key) or ())
    owned.add(key)
    return inner


# The consumers of a node: a tuple of names while there are few (most nodes have one or two;
# a tuple costs 64 bytes, a dict 200), a dict (insertion-ordered, copied on first write by
# replace()) beyond SMALL, so that patching a producer with thousands of consumers stays
# O(1) per edge. Both keep the same order: first added first, a removed name forgotten.
Users = tuple[str, ...] | dict[str, None]
SMALL = 16


def _compact(consumers: dict[str, list[str]]) -> dict[str, Users]:
    """Lists of consumers (built by appending) as the index keeps them."""
    compact: dict[str, Any] = consumers
    for key, users in consumers.items():
        compact[key] = tuple(users) if len(users) <= SMALL else dict.fromkeys(users)
    return compact


def _add_user(consumers: dict[str, Users], owned: set[str], key: str, name: str) -> None:
    users = consumers.get(key)
    if users is None:
        consumers[key] = (name,)
    elif users.__class__ is tuple:
        if name not in users:
            if len(users) < SMALL:
                consumers[key] = (*users, name)
            else:  # grown past SMALL: a dict of its own from now on
                inner = consumers[key] = dict.fromkeys(users)
                owned.add(key)
                inner[name] = None
    elif key in owned:
        users[name] = None  # type: ignore[index]
    else:
        _own(consumers, owned, key)[name] = None  # type: ignore[arg-type]


def _drop_user(consumers: dict[str, Users], owned: set[str], key: str, name: str) -> None:
    users = consumers.get(key)
    if users is None:
        consumers[key] = ()
    elif users.__class__ is tuple:
        if name in users:  # a tuple holds a name once: cut it out (no generator per edge)
            cut = users.index(name)  # type: ignore[union-attr]
            consumers[key] = users[:cut] + users[cut + 1 :]  # type: ignore[index]
    elif key in owned:
        users.pop(name, None)  # type: ignore[union-attr]
    else:
        _own(consumers, owned, key).pop(name, None)  # type: ignore[arg-type]


def _last_user(users: Users | None, name: str) -> bool:
    """Whether *name* is the last of *users*: dropping and adding it back changes nothing."""
    if not users:
        return False
    return (users[-1] if users.__class__ is tuple else next(reversed(users))) == name  # type: ignore[index, call-overload]


class _Log(NamedTuple):
    """One :meth:`Graph.replace`: the names it upserted or removed, and the log before it."""

    names: tuple[str, ...]
    previous: _Log | None


class Graph:
    """An immutable graph: nodes in order, plus consumer and op-type indexes.

    Build one with :meth:`from_graphdef` or :meth:`from_nodes`; derive new versions with
    :meth:`replace`. The function library and ``versions`` pass through untouched.
    """

    __slots__ = ("_by_op", "_colocated", "_consumers", "_log", "_nodes", "library", "lineage", "versions")

    def __init__(
        self,
        nodes: dict[str, Node],
        consumers: dict[str, Users],
        by_op: dict[str, dict[str, None]],
        library: Any = None,
        versions: Any = None,
        lineage: object | None = None,
        log: _Log | None = None,
        colocated: frozenset[str] | None = None,
    ):
        self._nodes = nodes
        self._consumers = consumers
        self._by_op = by_op
        self.library = library
        self.versions = versions
        # replace() keeps the lineage token and logs the names it touched, so a pass can
        # report what it changed without rescanning the graph (changes_since).
        self.lineage = lineage if lineage is not None else object()
        self._log = log  # which names each replace() in this lineage touched (changes_since)
        self._colocated = colocated  # names of nodes with a _class attribute, once asked for

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_nodes(cls, nodes: Iterable[Node], *, library: Any = None, versions: Any = None) -> Graph:
        with collector_paused():
            return cls._from_nodes(nodes, library, versions)

    @classmethod
    def _from_nodes(cls, nodes: Iterable[Node], library: Any, versions: Any) -> Graph:
        by_name: dict[str, Node] = {}
        for node in nodes:
            if node.name in by_name:
                from graphrewrite.engine.errors import GraphError

                raise GraphError(f"graph has two nodes named '{node.name}'")
            by_name[node.name] = node
        consumers: dict[str, list[str]] = {}
        by_op: dict[str, dict[str, None]] = {}
        for node in by_name.values():
            name = node.name
            by_op.setdefault(node.op, {})[name] = None
            for ref in node.inputs:
                users = consumers.setdefault(ref.node, [])
                if not users or users[-1] is not name:  # a node reading one producer twice: once
                    users.append(name)
        return cls(by_name, _compact(consumers), by_op, library, versions)

    @classmethod
    def from_graphdef(cls, graph_def: Any, *, copy: bool = True) -> Graph:
        """A Graph of *graph_def*. Nodes keep their NodeDefs (so unchanged nodes are written back
        as they were); they are a private copy's unless *copy* is false, so a caller that edits
        its message afterwards cannot change this immutable graph (the copy costs ~5% of a load)."""
        if copy:
            own = type(graph_def)()
            own.CopyFrom(graph_def)
            graph_def = own
        at = Node.at
        source = graph_def.node
        refs: dict[str, TensorRef] = {}
        library = graph_def.library if graph_def.HasField("library") else None
        versions = graph_def.versions if graph_def.HasField("versions") else None
        return cls.from_nodes(
            (at(source, i, nd, refs) for i, nd in enumerate(source)), library=library, versions=versions
        )

    def to_graphdef(self) -> Any:
        graph_def = _tf.pb().GraphDef()
        add = graph_def.node.add
        for node in self._nodes.values():
            node.write_into(add())
        if self.library is not None:
            graph_def.library.CopyFrom(self.library)
        if self.versions is not None:
            graph_def.versions.CopyFrom(self.versions)
        return graph_def

    # -- queries -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    @property
    def names(self) -> Iterable[str]:
        return self._nodes.keys()

    def get(self, name: str) -> Node | None:
        return self._nodes.get(name)

    @property
    def lookup(self) -> Callable[[str], Node | None]:
        """``get`` as the nodes dict's own bound method: for loops that look up many names."""
        return self._nodes.get

    def node(self, name: str) -> Node:
        """The node called *name* (any spelling); raises with a did-you-mean when missing."""
        found = self._nodes.get(name) or self._nodes.get(node_name(name))
        if found is None:
            hint = suggest(node_name(name), self._nodes)
            raise NameNotFoundError(
                f"no node named '{name}' in the graph" + (f"; {hint}" if hint else "")
            )
        return found

    def consumers(self, name: str) -> tuple[str, ...]:
        """Names of nodes with any input (data or control) from node *name*, in graph order."""
        users = self._consumers.get(name, ())
        return users if users.__class__ is tuple else tuple(users)  # type: ignore[return-value]

    def has_consumers(self, name: str) -> bool:
        return bool(self._consumers.get(name))

    def consumer_count(self, name: str) -> int:
        """``len(consumers(name))``, without building the tuple."""
        return len(self._consumers.get(name, ()))

    def nodes_of_op(self, op: str) -> tuple[str, ...]:
        return tuple(self._by_op.get(op, ()))

    @property
    def op_types(self) -> Iterable[str]:
        return (op for op, names in self._by_op.items() if names)

    def producer(self, ref: TensorRef) -> Node | None:
        return self._nodes.get(ref.node)

    def colocated(self) -> frozenset[str]:
        """Names of the nodes carrying a ``_class`` colocation attribute.

        Found by one scan per lineage, then patched by :meth:`replace`: rewrites that remove
        nodes must fix colocation entries naming them, without scanning the graph each time.
        """
        if self._colocated is None:
            self._colocated = frozenset(n.name for n in self._nodes.values() if "_class" in n.attr)
        return self._colocated

    def changes_since(self, earlier: Graph) -> set[str] | None:
        """Names upserted or removed on the way from *earlier* to this graph, when this graph
        was derived from *earlier* by :meth:`replace` calls; None when it was not."""
        if earlier.lineage is not self.lineage:
            return None
        found: set[str] = set()
        log = self._log
        while log is not earlier._log:
            if log is None:
                return None
            found.update(log.names)
            log = log.previous
        return found

    # -- derivation ----------------------------------------------------------------------

    def replace(self, upserts: Iterable[Node] = (), removals: Iterable[str] = ()) -> Graph:
        """A new graph with *upserts* added or replacing same-named nodes, *removals* gone.

        A replaced node keeps its position; new nodes go at the end. Indexes are patched for
        the touched nodes only, never rebuilt.
        """
        nodes = dict(self._nodes)
        consumers = dict(self._consumers)
        by_op = dict(self._by_op)
        # The inner dicts are shared with this graph until written: each is copied once, on
        # its first write (the key then joins *own_consumers* / *own_ops*); consumer tuples
        # are replaced, never changed.
        own_consumers: set[str] = set()
        own_ops: set[str] = set()
        touched: list[str] = []
        colocated = None if self._colocated is None else set(self._colocated)

        def unlink(old: Node, keep: frozenset[str] | set[str] = frozenset()) -> None:
            """Forget *old* in the indexes, except as the last consumer of a producer in *keep*
            (a replacement reading it again would only put it back there)."""
            name = old.name
            (by_op[old.op] if old.op in own_ops else _own(by_op, own_ops, old.op)).pop(name, None)
            for source, _port in old.inputs:
                if source not in keep or not _last_user(consumers.get(source), name):
                    _drop_user(consumers, own_consumers, source, name)

        for name in removals:
            old = nodes.pop(name, None)
            if old is not None:
                unlink(old)
                touched.append(name)
                if colocated:
                    colocated.discard(name)
        for node in upserts:
            name = node.name
            touched.append(name)
            old = nodes.get(name)
            if old is not None:
                unlink(old, {source for source, _port in node.inputs})
            nodes[name] = node
            (by_op[node.op] if node.op in own_ops else _own(by_op, own_ops, node.op))[name] = None
            for source, _port in node.inputs:
                _add_user(consumers, own_consumers, source, name)
            if colocated is not None:
                if "_class" in node.attr:
                    colocated.add(name)
                elif colocated:
                    colocated.discard(name)
        log = _Log(tuple(touched), self._log)
        return Graph(
            nodes, consumers, by_op, self.library, self.versions, self.lineage, log,
            None if colocated is None else frozenset(colocated),
        )  # fmt: skip

    def unique_name(self, base: str, taken: Iterable[str] = ()) -> str:
        """*base*, or *base*_1, *base*_2, ... whichever is free in the graph and *taken*."""
        taken = set(taken)
        if base not in self._nodes and base not in taken:
            return base
        k = 1
        while f"{base}_{k}" in self._nodes or f"{base}_{k}" in taken:
            k += 1
        return f"{base}_{k}"
