"""Per-node edits: op types, attributes, devices, control dependencies, OpDef defaults.

GTT's ``rename_op``, ``rename_attribute``, ``remove_attribute``, ``remove_device``,
``set_device``, ``remove_control_dependencies`` and ``add_default_attributes``
(gtt_behaviour.md §2.2). Differences from GTT are in each transform's doc line; all keep
node order, ``versions`` and untouched NodeDefs. ``op_name`` is compared with the op type,
as in GTT (its README said node name), and ``*`` means every op.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphrewrite import _tf
from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.edit import with_nodes
from graphrewrite.engine.errors import RuleError, UsageError
from graphrewrite.engine.feeds import VISIBLE
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.engine.opdefs import attr_defaults
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param, args_of
from graphrewrite.rules.rule import Pass

OP_NAME = Param("op_name", Kind.STRING, "*", doc="op type whose nodes change; * for every op")


def _scope(graph: Graph, op_name: str) -> Iterable[Node]:
    """The nodes an ``op_name`` argument selects, in graph order."""
    if op_name == "*":
        return iter(graph)
    return (graph.node(n) for n in graph.nodes_of_op(op_name))


def _nonempty(args: dict, transform: str, *keys: str) -> None:  # type: ignore[type-arg]
    for key in keys:
        if not args.get(key):
            raise UsageError(f"{transform} needs a non-empty '{key}' argument, got {args.get(key)!r}")


def _rebuild(node: Node, *, op: str | None = None, device: str | None = None, attr=None, inputs=None) -> Node:  # type: ignore[no-untyped-def]
    """A changed copy of *node* (faster than ``evolve`` for whole-graph passes)."""
    return Node(
        node.name,
        node.op if op is None else op,
        node.inputs if inputs is None else inputs,
        node.device if device is None else device,
        node.attr if attr is None else attr,
    )


# -- rename_op ---------------------------------------------------------------------------

RENAME_OP_PARAMS = (
    Param("old_op_name", Kind.STRING, required=True, doc="the op type to change"),
    Param("new_op_name", Kind.STRING, required=True, doc="the op type it becomes"),
)


@paused
def rename_op(graph: Graph, ctx: Context) -> Graph:
    """Give every node of op ``old_op_name`` the op ``new_op_name``."""
    args = args_of(ctx, RENAME_OP_PARAMS)
    _nonempty(args, "rename_op", "old_op_name", "new_op_name")
    old, new = args["old_op_name"], args["new_op_name"]
    if old == new:
        return graph
    return with_nodes(graph, {n: _rebuild(graph.node(n), op=new) for n in graph.nodes_of_op(old)})


# -- rename_attribute / remove_attribute ---------------------------------------------------

RENAME_ATTRIBUTE_PARAMS = (
    Param("old_attribute_name", Kind.STRING, required=True, doc="the attribute to rename"),
    Param("new_attribute_name", Kind.STRING, required=True, doc="its new name"),
    OP_NAME,
)


@paused
def rename_attribute(graph: Graph, ctx: Context) -> Graph:
    """Move attribute ``old_attribute_name`` to ``new_attribute_name`` on the selected nodes."""
    args = args_of(ctx, RENAME_ATTRIBUTE_PARAMS)
    _nonempty(args, "rename_attribute", "old_attribute_name", "new_attribute_name", "op_name")
    old, new = args["old_attribute_name"], args["new_attribute_name"]
    if old == new:
        return graph
    changed = {}
    for node in _scope(graph, args["op_name"]):
        if old not in node.attr:
            continue
        if new in node.attr:
            raise RuleError(
                f"rename_attribute: node '{node.name}' ({node.op}) has both '{old}' and '{new}'; "
                f"renaming would overwrite '{new}'"
            )
        attr = {(new if k == old else k): v for k, v in node.attr.items()}
        changed[node.name] = _rebuild(node, attr=attr)
    return with_nodes(graph, changed)


REMOVE_ATTRIBUTE_PARAMS = (Param("attribute_name", Kind.STRING, required=True, doc="the attribute to delete"), OP_NAME)


@paused
def remove_attribute(graph: Graph, ctx: Context) -> Graph:
    """Delete attribute ``attribute_name`` from the selected nodes."""
    args = args_of(ctx, REMOVE_ATTRIBUTE_PARAMS)
    _nonempty(args, "remove_attribute", "attribute_name", "op_name")
    key = args["attribute_name"]
    changed = {}
    for node in _scope(graph, args["op_name"]):
        if key in node.attr:
            changed[node.name] = _rebuild(node, attr={k: v for k, v in node.attr.items() if k != key})
    return with_nodes(graph, changed)


# -- devices -------------------------------------------------------------------------------

SET_DEVICE_PARAMS = (
    Param("device", Kind.STRING, "", doc='the device, e.g. "/device:CPU:0"; empty clears it'),
    Param("if_default", Kind.BOOL, False, doc="only set it on nodes that have no device"),
)


def _check_device(device: str) -> None:
    if not device:
        return
    try:
        _tf.tf().DeviceSpec.from_string(device)
    except ValueError as exc:
        raise UsageError(f"set_device: device={device!r} is not a device name: {exc}") from None


@paused
def set_device(graph: Graph, ctx: Context) -> Graph:
    """Set ``device`` on every node (or, with ``if_default``, on nodes that have none)."""
    args = args_of(ctx, SET_DEVICE_PARAMS)
    device, if_default = args["device"], args["if_default"]
    _check_device(device)
    changed = {
        node.name: _rebuild(node, device=device)
        for node in graph
        if node.device != device and not (if_default and node.device)
    }
    return with_nodes(graph, changed)


@paused
def remove_device(graph: Graph, ctx: Context) -> Graph:
    """Clear every node's ``device``."""
    return with_nodes(graph, {node.name: _rebuild(node, device="") for node in graph if node.device})


# -- control dependencies and defaults -----------------------------------------------------


@paused
def remove_control_dependencies(graph: Graph, ctx: Context) -> Graph:
    """Drop every control input (``^x``)."""
    changed = {
        node.name: _rebuild(node, inputs=node.data_inputs) for node in graph if len(node.data_inputs) != len(node.inputs)
    }
    return with_nodes(graph, changed)


@paused
def add_default_attributes(graph: Graph, ctx: Context) -> Graph:
    """Add every attribute the node's OpDef gives a default and the node lacks."""
    changed = {}
    for op in list(graph.op_types):
        defaults = attr_defaults(op)
        if not defaults:  # unknown ops (custom ops, library functions) are left alone
            continue
        for name in graph.nodes_of_op(op):
            node = graph.node(name)
            missing = [k for k in defaults if k not in node.attr]
            if missing:
                attr = dict(node.attr)
                attr.update((k, defaults[k]) for k in missing)
                changed[name] = _rebuild(node, attr=attr)
    return with_nodes(graph, changed)


RENAME_OP = Pass(
    "rename_op",
    "old_op_name(...) -> new_op_name(...), attributes unchanged (as GTT)",
    rename_op,
    RENAME_OP_PARAMS,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="add_mul_relu", args={"old_op_name": "Add", "new_op_name": "AddV2"}, promise=("no_op", "Add"))),
)
RENAME_ATTRIBUTE = Pass(
    "rename_attribute",
    "node[old_attribute_name=v] -> node[new_attribute_name=v] (unlike GTT: refuses to clobber an existing attribute)",
    rename_attribute,
    RENAME_ATTRIBUTE_PARAMS,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="marked", args={"old_attribute_name": "_marker", "new_attribute_name": "_renamed"}, promise=("attribute", "_marker", {"present": False, "key_after": "_renamed"}))),
)
REMOVE_ATTRIBUTE = Pass(
    "remove_attribute",
    "node[attribute_name=v] -> node (as GTT; op_name is an op type, * for all)",
    remove_attribute,
    REMOVE_ATTRIBUTE_PARAMS,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="marked", args={"attribute_name": "_marker"}, promise=("attribute", "_marker", {"present": False}))),
)
REMOVE_DEVICE = Pass("remove_device", "node@device -> node (as GTT)", remove_device, feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="on_devices", promise=("devices", ""))),
)
SET_DEVICE = Pass(
    "set_device",
    "node -> node@device (unlike GTT: a malformed device name is an error)",
    set_device,
    SET_DEVICE_PARAMS,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="graphs", args={"device": "/device:CPU:0"}, promise=("devices", "/device:CPU:0"))),
)
REMOVE_CONTROL_DEPENDENCIES = Pass(
    "remove_control_dependencies",
    "f(x, ^c) -> f(x) (as GTT)",
    remove_control_dependencies,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="with_control_edges", promise=("no_control_inputs",))),
)
ADD_DEFAULT_ATTRIBUTES = Pass(
    "add_default_attributes",
    "node -> node with its OpDef's default attributes (unlike GTT: unknown ops are left alone, not an error)",
    add_default_attributes,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="without_defaults", promise=("all_defaults_present",))),
)
