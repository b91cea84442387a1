"""Node and TensorRef: immutable values for one operation and one input edge.

Inputs are canonicalised once, when a NodeDef is read, into :class:`TensorRef` values; an
untouched node keeps its original NodeDef so it can be written back as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import attrs

from graphrewrite import _tf
from graphrewrite.engine import attrvalues

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

# Decoded Const values are kept on the node (nodes are immutable, so a value never goes
# stale). Only small values are kept: guards ask for scales and shifts again and again, while
# caching every weight would double a model's memory (measured: ResNet50 peak 221 -> 390 MiB).
_CACHED_BYTES = 64 * 1024


def _parse_ref(text: str) -> TensorRef:
    # On the load path for every edge of every graph: plain tuple construction, no regex.
    if text[:1] == "^":
        return _new_ref(TensorRef, (text[1:], CONTROL))  # type: ignore[no-any-return]
    cut = text.rfind(":")
    if cut >= 0 and text[cut + 1 :].isdigit():
        return _new_ref(TensorRef, (text[:cut], int(text[cut + 1 :])))  # type: ignore[no-any-return]
    return _new_ref(TensorRef, (text, 0))  # type: ignore[no-any-return]


def _shared_ref(text: str, refs: dict[str, TensorRef]) -> TensorRef:
    """``_parse_ref(text)``, holding the name string (or, for port 0, the very TensorRef) that
    *refs* has for the node it names."""
    ref = _parse_ref(text)
    known = refs.get(ref.node)
    if known is None:
        return ref
    return known if ref.port == 0 else _new_ref(TensorRef, (known.node, ref.port))  # type: ignore[no-any-return]


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
_OPS: dict[str, str] = {}  # one str object per op type, shared by every node of that type


@attrs.frozen(slots=True, eq=False, repr=False)
class Node:
    """One operation: name, op type, input edges (data first, then control), device, attrs.

    ``attr`` maps attribute names to AttrValue protos and is never mutated. ``nodedef`` is the
    NodeDef the node was read from while it is unchanged, so it can be written back as is.

    A node read from a GraphDef keeps no protobuf wrapper of its own: it holds the GraphDef's
    node list and its position there (*source*, *index*), and ``nodedef`` / ``attr`` read the
    message when asked. A held wrapper costs ~300 bytes per node (a third of a loaded graph's
    memory); the attribute map is fetched on first read and kept.
    """

    name: str
    op: str
    inputs: tuple[TensorRef, ...] = ()
    device: str = ""
    _attr: Mapping[str, Any] | None = attrs.field(factory=dict, alias="attr")
    _source: Any = attrs.field(default=None, alias="nodedef")
    _index: int = attrs.field(default=-1, alias="index")
    _value: Any = attrs.field(init=False, default=None)  # the decoded Const value, once read

    @classmethod
    def from_nodedef(cls, nodedef: Any) -> Node:
        return cls(nodedef.name, nodedef.op, tuple(map(_parse_ref, nodedef.input)), nodedef.device, nodedef.attr, nodedef)

    @classmethod
    def at(cls, source: Any, index: int, nodedef: Any, refs: dict[str, TensorRef]) -> Node:
        """The node of ``source[index]`` (a GraphDef's node list; *nodedef* is that element).

        *refs* maps each input spelling met so far, and each node name read so far, to its
        TensorRef: an edge spelled as before shares that TensorRef (one parse per spelling,
        not per edge), and every edge to a node read earlier holds that node's own name
        string instead of a copy (~60 bytes per edge). This node's name is added.
        """
        name = nodedef.name
        refs[name] = _new_ref(TensorRef, (name, 0))
        get = refs.get
        inputs = []
        for text in nodedef.input:
            ref = get(text)
            if ref is None:
                ref = refs[text] = _shared_ref(text, refs)
            inputs.append(ref)
        op = nodedef.op
        return _node(name, _OPS.setdefault(op, op), tuple(inputs), nodedef.device, None, source, index)

    @property
    def attr(self) -> Mapping[str, Any]:
        attr = self._attr
        if attr is None:  # first read: keep the map (~50 bytes; the NodeDef wrapper is not kept)
            source = self._source
            attr = (source if self._index < 0 else source[self._index]).attr
            object.__setattr__(self, "_attr", attr)
        return attr

    @property
    def nodedef(self) -> Any:
        source = self._source
        return source if self._index < 0 or source is None else source[self._index]

    def __repr__(self) -> str:
        return (
            f"Node(name={self.name!r}, op={self.op!r}, inputs={self.inputs!r}, device={self.device!r}, "
            f"attr={self.attr!r}, nodedef={self.nodedef!r})"
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
        inputs = tuple(inputs)  # read twice below: a generator would be spent by the first read
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
        cached = self._value
        if cached is None:
            cached = attrvalues.tensor_to_numpy(self.attr["value"].tensor)
            cached.flags.writeable = False
            if cached.nbytes <= _CACHED_BYTES:
                _set_value(self, cached)
        return cached

    def remember_value(self, value: Any) -> None:
        """Record *value* as what ``value()`` of this Const gives, sparing a decode.

        The caller guarantees that decoding the node's tensor gives exactly *value* (see
        ``attrvalues.stores_raw``): rewrites create constants that the next iteration reads.
        """
        if value.nbytes <= _CACHED_BYTES:
            private = value.copy()
            private.flags.writeable = False
            _set_value(self, private)

    def to_nodedef(self) -> Any:
        nodedef = self.nodedef
        if nodedef is not None:
            return nodedef
        nodedef = _tf.pb().NodeDef()
        self.write_into(nodedef)
        return nodedef

    def write_into(self, nodedef: Any) -> None:
        """Fill the empty NodeDef *nodedef* (e.g. ``graph_def.node.add()``) with this node.

        Writing into the list's own element spares the copy that ``extend`` makes of a
        NodeDef built apart (chain_170k: 50k new nodes written, 0.33 -> 0.25 s).
        """
        source = self.nodedef
        if source is not None:
            nodedef.CopyFrom(source)
            return
        nodedef.name = self.name
        nodedef.op = self.op
        if self.device:
            nodedef.device = self.device
        nodedef.input.extend([str(i) for i in self.inputs])
        attr, target = self.attr, nodedef.attr
        for key in sorted(attr):
            target[key].CopyFrom(attr[key])

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


def _set_value(node: Node, value: Any) -> None:
    """The one write to a frozen Node: its value cache (see :meth:`Node.value`)."""
    object.__setattr__(node, "_value", value)


_SLOTS = tuple(Node.__dict__[f].__set__ for f in ("name", "op", "inputs", "device", "_attr", "_source", "_index", "_value"))


def _node(name: str, op: str, inputs: tuple[TensorRef, ...], device: str, attr: Any, source: Any, index: int) -> Node:
    """``Node(name, op, inputs, device, attr, source, index)`` without attrs' generated
    ``__init__`` (a frozen class sets each field through ``object.__setattr__``): every
    field is stored straight into its slot. The load path builds one per node."""
    node = _new_node(Node)
    set_name, set_op, set_inputs, set_device, set_attr, set_source, set_index, set_value = _SLOTS
    set_name(node, name)
    set_op(node, op)
    set_inputs(node, inputs)
    set_device(node, device)
    set_attr(node, attr)
    set_source(node, source)
    set_index(node, index)
    set_value(node, None)
    return node


_new_node = object.__new__
