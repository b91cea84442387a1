"""Graph, Node and TensorRef: immutable values over a TensorFlow GraphDef.

``Graph.from_graphdef`` and ``Graph.to_graphdef`` are the only places that touch protobuf
structure. Inputs are canonicalised once, at that boundary, into :class:`TensorRef` values.
Untouched nodes keep their original NodeDef, so writing a graph back costs what protobuf costs.
Derived indexes (consumers, op types) are built once and patched by :meth:`Graph.replace`,
which returns a new graph and leaves the old one intact.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import attrs

from graphrewrite import _tf
from graphrewrite.engine import attrvalues
from graphrewrite.engine.collector import collector_paused
from graphrewrite.engine.errors import NameNotFoundError, suggest

CONTROL = -1


class TensorRef(NamedTuple):
    """One input edge: output *port* of node *node*, or a control edge when port is -1.

    A NamedTuple rather than an attrs class: graphs hold hundreds of thousands of these and
    creating them is on the load path.
    """

    node: str
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> TensorRef:
        """Read GTT/TF spellings: ``x``, ``x:0``, ``x:2``, ``^x``."""
        return _parse_ref(text)

    @property
    def is_control(self) -> bool:
        return self.port == CONTROL

    def __str__(self) -> str:
        if self.port == CONTROL:
            return "^" + self.node
        return self.node if self.port == 0 else f"{self.node}:{self.port}"


_new_ref = tuple.__new__

# Decoded Const values by node (nodes are immutable, so a value never goes stale). Only small
# values are kept: guards ask for scales and shifts again and again, while caching every
# weight would double a model's memory (measured: ResNet50 peak 221 -> 390 MiB).
_VALUES: weakref.WeakKeyDictionary[Node, Any] = weakref.WeakKeyDictionary()
_CACHED_BYTES = 64 * 1024


def _parse_ref(text: str) -> TensorRef:
    # On the load path for every edge of every graph: plain tuple construction, no regex.
    if text[:1] == "^":
        return _new_ref(TensorRef, (text[1:], CONTROL))  # type: ignore[no-any-return]
    cut = text.rfind(":")
    if cut >= 0 and text[cut + 1 :].isdigit():
        return _new_ref(TensorRef, (text[:cut], int(text[cut + 1 :])))  # type: ignore[no-any-return]
    return _new_ref(TensorRef, (text, 0))  # type: ignore[no-any-return]


def dedupe_inputs(inputs: Iterable[TensorRef], owner: str) -> tuple[TensorRef, ...]:
    """Data inputs in order, then control inputs without repeats, self-edges, or edges from
    a node the owner already reads data from (that edge already orders the two)."""
    inputs = list(inputs)
    data = [i for i in inputs if i.port != CONTROL]
    has_data = {i.node for i in data}
    seen: set[str] = set()
    control = []
    for ref in inputs:
        if ref.port == CONTROL and ref.node != owner and ref.node not in has_data and ref.node not in seen:
            seen.add(ref.node)
            control.append(ref)
    return (*data, *control)


def node_name(text: str) -> str:
    """The node part of any spelling: ``x``, ``x:0``, ``^x`` all give ``x``."""
    return TensorRef.parse(text).node


_FIELDS = frozenset({"name", "op", "inputs", "device", "attr"})


def _own(index: dict[str, dict[str, None]], owned: set[str], key: str) -> dict[str, None]:
    """``index[key]`` as a fresh copy that *index* alone holds (an empty one when missing)."""
    inner = index[key] = dict(index.get(key) or ())
    owned.add(key)
    return inner


class _Log(NamedTuple):
    """One :meth:`Graph.replace`: the names it upserted or removed, and the log before it."""

    names: tuple[str, ...]
    previous: _Log | None


def _patch_colocated(colocated: frozenset[str], touched: Iterable[str], nodes: Mapping[str, Node]) -> frozenset[str]:
    found = set(colocated)
    for name in touched:
        node = nodes.get(name)
        if node is not None and "_class" in node.attr:
            found.add(name)
        else:
            found.discard(name)
    return frozenset(found)


@attrs.frozen(slots=True, eq=False)
class Node:
    """One operation: name, op type, input edges (data first, then control), device, attrs.

    ``attr`` maps attribute names to AttrValue protos and is never mutated. ``nodedef`` is the
    NodeDef the node was read from while it is unchanged, so it can be written back as is.
    """

    name: str
    op: str
    inputs: tuple[TensorRef, ...] = ()
    device: str = ""
    attr: Mapping[str, Any] = attrs.field(factory=dict)
    nodedef: Any = None

    @classmethod
    def from_nodedef(cls, nodedef: Any) -> Node:
        return cls(
            nodedef.name,
            nodedef.op,
            tuple(map(_parse_ref, nodedef.input)),
            nodedef.device,
            nodedef.attr,
            nodedef,
        )

    @property
    def data_inputs(self) -> tuple[TensorRef, ...]:
        return tuple(i for i in self.inputs if i.port != CONTROL)

    @property
    def control_inputs(self) -> tuple[TensorRef, ...]:
        return tuple(i for i in self.inputs if i.port == CONTROL)

    def evolve(self, **changes: Any) -> Node:
        """A copy with *changes*; the copy no longer claims the original NodeDef."""
        # Rewrites copy nodes by the hundred thousand: a direct constructor call, not
        # attrs.evolve (which introspects the class on every call).
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"Node has no field(s) {sorted(unknown)}")
        return Node(
            changes.get("name", self.name),
            changes.get("op", self.op),
            changes.get("inputs", self.inputs),
            changes.get("device", self.device),
            changes.get("attr", self.attr),
        )

    def with_inputs(self, inputs: Iterable[TensorRef]) -> Node:
        data = [i for i in inputs if i.port != CONTROL]
        control = [i for i in inputs if i.port == CONTROL]
        return Node(self.name, self.op, tuple(data + control), self.device, self.attr)

    def with_attrs(self, **values: Any) -> Node:
        """A copy with attributes set from Python values (see ``attrvalues.encode``)."""
        attr = dict(self.attr)
        for key, value in values.items():
            attr[key] = attrvalues.encode(value)
        return self.evolve(attr=attr)

    def without_attrs(self, *keys: str) -> Node:
        return self.evolve(attr={k: v for k, v in self.attr.items() if k not in keys})

    def get(self, key: str, default: Any = None) -> Any:
        """The Python value of attribute *key* (see ``attrvalues.decode``), or *default*."""
        if key not in self.attr:
            return default
        return attrvalues.decode(self.attr[key])

    def value(self) -> Any:
        """The numpy value of a Const node (read-only: decoded once, shared by every rule)."""
        cached = _VALUES.get(self)
        if cached is None:
            cached = attrvalues.tensor_to_numpy(self.attr["value"].tensor)
            cached.flags.writeable = False
            if cached.nbytes <= _CACHED_BYTES:
                _VALUES[self] = cached
        return cached

    def remember_value(self, value: Any) -> None:
        """Record *value* as what ``value()`` of this Const gives, sparing a decode.

        The caller guarantees that decoding the node's tensor gives exactly *value* (see
        ``attrvalues.stores_raw``): rewrites create constants that the next iteration reads.
        """
        if value.nbytes <= _CACHED_BYTES:
            private = value.copy()
            private.flags.writeable = False
            _VALUES[self] = private

    def to_nodedef(self) -> Any:
        if self.nodedef is not None:
            return self.nodedef
        nd = _tf.pb().NodeDef(name=self.name, op=self.op, device=self.device)
        nd.input.extend(str(i) for i in self.inputs)
        for key in sorted(self.attr):
            nd.attr[key].CopyFrom(self.attr[key])
        return nd

    @staticmethod
    def make(
        name: str,
        op: str,
        inputs: Iterable[TensorRef | str] = (),
        attrs_: Mapping[str, Any] | None = None,
        device: str = "",
    ) -> Node:
        """A new node; *attrs_* values may be Python values or AttrValue protos."""
        refs = [i if isinstance(i, TensorRef) else TensorRef.parse(i) for i in inputs]
        attr = {k: attrvalues.encode(v) for k, v in (attrs_ or {}).items()}
        return Node(name, op, (), device, attr).with_inputs(refs)


class Graph:
    """An immutable graph: nodes in order, plus consumer and op-type indexes.

    Build one with :meth:`from_graphdef` or :meth:`from_nodes`; derive new versions with
    :meth:`replace`. The function library and ``versions`` pass through untouched.
    """

    __slots__ = ("_by_op", "_colocated", "_consumers", "_log", "_nodes", "edits", "library", "lineage", "versions")

    def __init__(
        self,
        nodes: dict[str, Node],
        consumers: dict[str, dict[str, None]],
        by_op: dict[str, dict[str, None]],
        library: Any = None,
        versions: Any = None,
        edits: int = 0,
        lineage: object | None = None,
        log: _Log | None = None,
        colocated: frozenset[str] | None = None,
    ):
        self._nodes = nodes
        self._consumers = consumers
        self._by_op = by_op
        self.library = library
        self.versions = versions
        # Nodes upserted or removed since this lineage was built: lets a pass report how much
        # it changed without rescanning the graph. replace() keeps the lineage token.
        self.edits = edits
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
        consumers: dict[str, dict[str, None]] = {}
        by_op: dict[str, dict[str, None]] = {}
        for node in by_name.values():
            by_op.setdefault(node.op, {})[node.name] = None
            for ref in node.inputs:
                consumers.setdefault(ref.node, {})[node.name] = None
        return cls(by_name, consumers, by_op, library, versions)

    @classmethod
    def from_graphdef(cls, graph_def: Any) -> Graph:
        from_nodedef = Node.from_nodedef
        library = graph_def.library if graph_def.HasField("library") else None
        versions = graph_def.versions if graph_def.HasField("versions") else None
        return cls.from_nodes(
            (from_nodedef(nd) for nd in graph_def.node), library=library, versions=versions
        )

    def to_graphdef(self) -> Any:
        graph_def = _tf.pb().GraphDef()
        graph_def.node.extend(node.to_nodedef() for node in self._nodes.values())
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
        return tuple(self._consumers.get(name, ()))

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
        # its first write (the key then joins *own_consumers* / *own_ops*). Inlined, not a
        # helper call per edge: a batch of rewrites patches hundreds of thousands of entries.
        own_consumers: set[str] = set()
        own_ops: set[str] = set()
        touched: list[str] = []

        def unlink(old: Node) -> None:
            name = old.name
            (by_op[old.op] if old.op in own_ops else _own(by_op, own_ops, old.op)).pop(name, None)
            for ref in old.inputs:
                key = ref.node
                (consumers[key] if key in own_consumers else _own(consumers, own_consumers, key)).pop(name, None)

        for name in removals:
            old = nodes.pop(name, None)
            if old is not None:
                unlink(old)
                touched.append(name)
        for node in upserts:
            name = node.name
            touched.append(name)
            old = nodes.get(name)
            if old is not None:
                unlink(old)
            nodes[name] = node
            (by_op[node.op] if node.op in own_ops else _own(by_op, own_ops, node.op))[name] = None
            for ref in node.inputs:
                key = ref.node
                (consumers[key] if key in own_consumers else _own(consumers, own_consumers, key))[name] = None
        log = _Log(tuple(touched), self._log)
        colocated = None if self._colocated is None else _patch_colocated(self._colocated, touched, nodes)
        return Graph(
            nodes, consumers, by_op, self.library, self.versions, self.edits + len(touched), self.lineage, log, colocated
        )

    def unique_name(self, base: str, taken: Iterable[str] = ()) -> str:
        """*base*, or *base*_1, *base*_2, ... whichever is free in the graph and *taken*."""
        taken = set(taken)
        if base not in self._nodes and base not in taken:
            return base
        k = 1
        while f"{base}_{k}" in self._nodes or f"{base}_{k}" in taken:
            k += 1
        return f"{base}_{k}"
