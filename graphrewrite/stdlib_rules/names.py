"""Node names: ``rename_node`` (one node) and ``obfuscate_names`` (all but inputs/outputs).

Both rename every reference too: input edges keep ``^`` and ``:port``, and ``_class``
colocation entries (``loc:@name``) follow the node, which GTT forgot (TensorFlow then
refuses the graph). Node order is kept.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping

from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.edit import relocate
from graphrewrite.engine.errors import GraphError, NameNotFoundError, RuleError, UsageError
from graphrewrite.engine.feeds import VISIBLE
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param, args_of
from graphrewrite.rules.rule import Pass

# TensorFlow's rule for node names (tensorflow/core/framework/node_def_util.cc).
VALID_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*")
BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def renamed(graph: Graph, mapping: Mapping[str, str]) -> Graph:
    """*graph* with nodes renamed by *mapping* and every reference to them, order kept.

    *mapping* must be one-to-one onto names not otherwise used, so no two edges can become
    one and no deduplication is needed.
    """
    nodes = []
    get = mapping.get
    new_ref = tuple.__new__  # TensorRef without NamedTuple's Python-level __new__
    for node in graph:
        inputs = node.inputs
        if inputs:
            inputs = tuple([new_ref(TensorRef, (get(r[0], r[0]), r[1])) for r in inputs])
        name = get(node.name, node.name)
        if name != node.name or inputs != node.inputs:
            node = Node(name, node.op, inputs, node.device, node.attr)
        if "_class" in node.attr:
            node = relocate(node, mapping)
        nodes.append(node)
    return Graph.from_nodes(nodes, library=graph.library, versions=graph.versions)


# -- rename_node -------------------------------------------------------------------------

RENAME_NODE_PARAMS = (
    Param("old_node_name", Kind.STRING, required=True, doc="the node to rename"),
    Param("new_node_name", Kind.STRING, required=True, doc="its new name"),
)


@paused
def rename_node(graph: Graph, ctx: Context) -> Graph:
    """Rename node ``old_node_name`` to ``new_node_name`` and every reference to it."""
    args = args_of(ctx, RENAME_NODE_PARAMS)
    old, new = args["old_node_name"], args["new_node_name"]
    if not old:
        raise UsageError("rename_node needs a non-empty 'old_node_name' argument")
    if old not in graph:
        try:
            graph.node(old)
        except NameNotFoundError as exc:
            raise NameNotFoundError(f"rename_node: old_node_name: {exc}") from None
    if not new or VALID_NAME.fullmatch(new) is None:
        raise UsageError(f"rename_node: new_node_name={new!r} is not a valid TensorFlow node name")
    if new == old:
        raise UsageError(f"rename_node: old_node_name and new_node_name are both '{old}'")
    if new in graph:
        raise RuleError(f"rename_node: new_node_name='{new}' is taken by another node ({graph.node(new).op})")
    if old in ctx.protected:
        raise RuleError(f"rename_node: '{old}' is a graph input or output; renamed, it would be lost")
    return renamed(graph, {old: new})


# -- obfuscate_names -----------------------------------------------------------------------


def base62_names(skip: frozenset[str] | set[str]) -> Iterator[str]:
    """GTT's ids: 0..9, a..z, A..Z, 10, 11, ... leaving out any name in *skip*.

    The counter's digits in base 62 over ``BASE62``, with no leading zeros: the one-digit
    ids, then for each longer length, a non-zero first digit followed by any digits.
    """
    for length in itertools.count(1):
        firsts = BASE62 if length == 1 else BASE62[1:]
        for first in firsts:
            for rest in itertools.product(BASE62, repeat=length - 1):
                name = first + "".join(rest)
                if name not in skip:
                    yield name


@paused
def obfuscate_names(graph: Graph, ctx: Context) -> Graph:
    """Rename every node except the graph inputs and outputs to a short base-62 id."""
    kept, known = ctx.protected, graph.names
    for node in graph:
        for ref in node.inputs:
            if ref.node not in known:
                raise GraphError(f"obfuscate_names: node '{node.name}': input '{ref}' names a node that does not exist")
    ids = base62_names(kept)
    mapping = {node.name: next(ids) for node in graph if node.name not in kept}
    return renamed(graph, mapping)


RENAME_NODE = Pass(
    "rename_node",
    "old_node_name -> new_node_name, with every reference (unlike GTT: colocation follows, inputs/outputs refused)",
    rename_node,
    RENAME_NODE_PARAMS,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="with_target", args={"old_node_name": "target", "new_node_name": "renamed"}, promise=("renamed",))),
)
OBFUSCATE_NAMES = Pass(
    "obfuscate_names",
    "every name -> GTT's base-62 id, inputs/outputs kept (unlike GTT: in any spelling; colocation follows)",
    obfuscate_names,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="graphs")),
)
