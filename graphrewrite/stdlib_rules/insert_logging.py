"""insert_logging: a ``Print`` after chosen nodes, so a run writes their values to stderr.

GTT's ``insert_logging.cc``: a node is logged when something consumes it (a graph's sinks are
never logged), its op is one of ``op`` (any when none given) and its name starts with one of
``prefix`` (any when none given). ``<n>__print__`` = ``Print(n:0, [n:i for each used output
i], message=(;Op;)(;n__print__;)message)`` takes the place of ``n:0`` in every consumer;
control edges and other ports are left alone.

The calibration flow uses it: ``insert_logging(op=RequantizationRange, show_name=true,
message="__requant_min_max:")`` prints the lines ``freeze_requantization_ranges`` reads.

One fix: GTT sets the Print's ``U`` to *all* output types of the node even when only some
outputs are used, which TensorFlow rejects; here ``U`` lists the types of the printed outputs.
Nodes without outputs (``NoOp``) are skipped instead of getting a Print that cannot import.
"""

from __future__ import annotations

from typing import Any

from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.opdefs import in_out_types
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass

PRINT_SUFFIX = "__print__"


def used_ports(graph: Graph) -> dict[str, set[int]]:
    """For each node, the output ports something reads; a control edge counts as port 0."""
    used: dict[str, set[int]] = {}
    for node in graph:
        for ref in node.inputs:
            used.setdefault(ref.node, set()).add(0 if ref.port == CONTROL else ref.port)
    return used


def _selected(node: Node, ops: set[str], prefixes: tuple[str, ...]) -> bool:
    return (not ops or node.op in ops) and (not prefixes or node.name.startswith(prefixes))


def _print_node(node: Node, name: str, ports: list[int], types: tuple[Any, ...], args: Any) -> Node:
    message = ""
    if args.get("show_op"):
        message += f";{node.op};"
    if args.get("show_name"):
        message += f";{name};"
    message += str(args.get("message") or "")
    attrs = {
        "T": types[0],
        "U": [types[p] for p in ports],
        "message": message,
        "first_n": int(args.get("first_n", -1)),
        "summarize": int(args.get("summarize", 1024)),
    }
    data = [TensorRef(node.name, p) for p in ports]
    return Node.make(name, "Print", [TensorRef(node.name, 0), *data], attrs, node.device)


def insert_logging(graph: Graph, ctx: Any) -> Graph:
    """Add a Print after every selected node that something consumes (one pass)."""
    ops = set(ctx.args.get("op") or ())
    prefixes = tuple(ctx.args.get("prefix") or ())
    used = used_ports(graph)
    prints: dict[str, Node] = {}
    taken: set[str] = set()
    for node in graph:
        if node.name not in used or not _selected(node, ops, prefixes):
            continue
        types = in_out_types(node)[1]
        if not types:
            continue
        ports = sorted(p for p in used[node.name] if p < len(types))
        name = graph.unique_name(node.name + PRINT_SUFFIX, taken)
        taken.add(name)
        prints[node.name] = _print_node(node, name, ports, types, ctx.args)
    return graph.replace([*_rewired(graph, prints), *prints.values()])


def _rewired(graph: Graph, prints: dict[str, Node]) -> list[Node]:
    """Consumers of ``n:0`` read ``n__print__:0`` instead."""
    users = {c for name in prints for c in graph.consumers(name)}
    out = []
    for name in users:
        node = graph.node(name)
        inputs = [
            TensorRef(prints[ref.node].name, 0) if ref.port == 0 and ref.node in prints else ref
            for ref in node.inputs
        ]
        if tuple(inputs) != node.inputs:
            out.append(node.with_inputs(inputs))
    return out


INSERT_LOGGING = Pass(
    "insert_logging",
    "n -> Print(n, [n:i...], message) in front of n's consumers; values go to stderr",
    insert_logging,
    (
        Param("op", Kind.STRING, repeated=True, doc="op types to log (all when none given)"),
        Param("prefix", Kind.STRING, repeated=True, doc="node-name prefixes to log (all when none given)"),
        Param("show_op", Kind.BOOL, False, doc="start the message with ;Op;"),
        Param("show_name", Kind.BOOL, False, doc="start the message with ;<node>__print__;"),
        Param("message", Kind.STRING, "", doc="text printed before the values"),
        Param("first_n", Kind.INT, -1, doc="print only the first n runs (-1: always)"),
        Param("summarize", Kind.INT, 1024, doc="print at most this many entries per tensor"),
    ),
    facts=Facts(checked=Checked(cases="chains", args={"op": ["Relu", "AddV2", "MatMul"]})),
)
