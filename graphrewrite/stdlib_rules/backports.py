"""``backport_tensor_array_v3``: the backport that is not pattern-shaped (``backport_concatv2``
is a rule in ``backports.rules``).

- ``backport_tensor_array_v3``: ``TensorArray*V3`` -> ``*V2``. The flow output of
  ``TensorArrayV3``/``TensorArrayGradV3`` (``:1``) is read from a new float Const 1.0
  ``<node>/replacement_flow_node`` (as GTT), which here keeps a control edge on the array so
  its users still run after it. Attributes the V2 op does not declare
  (``identical_element_shapes``) are dropped, and the handle's path through pass-through
  nodes (``Enter``, ``Identity``, ``Switch``, ...) is retyped from resource to string; GTT
  left both, so TensorFlow refused its output.
"""

from __future__ import annotations

import numpy as np

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.edit import with_nodes
from graphrewrite.engine.feeds import VISIBLE
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.opdefs import attr_names
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.rule import Pass

INT32, RESOURCE, STRING = DType(3), DType(20), DType(7)

# -- backport_tensor_array_v3 ----------------------------------------------------------------

WITH_FLOW = ("TensorArrayV3", "TensorArrayGradV3")
RENAMED = (
    *WITH_FLOW,
    *(
        f"TensorArray{k}V3"
        for k in ("Write", "Read", "Gather", "Scatter", "Concat", "Split", "Size", "Close")
    ),
)
PASS_THROUGH = frozenset({"Enter", "RefEnter", "Exit", "Identity", "Switch", "Merge", "NextIteration"})


def as_v2(node: Node) -> Node:
    """*node* with its V2 op type and only the attributes the V2 OpDef declares."""
    op = node.op[:-2] + "V2"
    known = attr_names(op) or frozenset()
    attr = {k: v for k, v in node.attr.items() if k in known or k.startswith("_")}
    return Node(node.name, op, node.inputs, node.device, attr)


def _retype_handles(graph: Graph, sources: list[str], changed: dict[str, Node]) -> None:
    """Walk forward from the arrays' handles through pass-through nodes; resource -> string."""
    stack, seen = list(sources), set(sources)
    while stack:
        name = stack.pop()
        for user in graph.consumers(name):
            node = changed.get(user) or graph.node(user)
            reads = any(r.node == name and r.port != CONTROL for r in node.inputs)
            if user in seen or not reads or node.op not in PASS_THROUGH or node.get("T") != RESOURCE:
                continue
            seen.add(user)
            changed[user] = node.with_attrs(T=STRING)
            stack.append(user)


@paused
def backport_tensor_array_v3(graph: Graph, ctx: Context) -> Graph:
    """TensorArray*V3 -> TensorArray*V2, flow outputs read from a Const 1.0."""
    changed = {n: as_v2(graph.node(n)) for op in RENAMED for n in graph.nodes_of_op(op)}
    if not changed:
        return graph
    flows = {}
    for op in WITH_FLOW:
        for name in graph.nodes_of_op(op):
            flow = graph.unique_name(f"{name}/replacement_flow_node", flows.values())
            flows[name] = flow
    redirect = {TensorRef(n, 1): TensorRef(f, 0) for n, f in flows.items()}
    for name in {c for n in flows for c in graph.consumers(n)}:
        node = changed.get(name) or graph.node(name)
        inputs = tuple(redirect.get(r, r) for r in node.inputs)
        if inputs != node.inputs:
            changed[name] = Node(node.name, node.op, inputs, node.device, node.attr)
    _retype_handles(graph, sorted(flows), changed)
    graph = with_nodes(graph, changed)
    one = np.asarray(1.0, np.float32)
    consts = [
        Node.make(f, "Const", [f"^{n}"], {"dtype": DType(1), "value": one}, graph.node(n).device)
        for n, f in flows.items()
    ]
    return graph.replace(consts)


BACKPORT_TENSOR_ARRAY_V3 = Pass(
    "backport_tensor_array_v3",
    "TensorArray*V3 -> TensorArray*V2, flow -> Const 1.0 (unlike GTT: V3-only attributes dropped, handles retyped)",
    backport_tensor_array_v3,
    feeds=VISIBLE,
    facts=Facts(checked=Checked(cases="tensor_arrays")),
)
