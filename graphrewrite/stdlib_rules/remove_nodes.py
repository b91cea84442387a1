"""remove_nodes: splice out pass-through nodes (Identity, CheckNumerics, StopGradient, ...).

GTT's version, and where this one differs (gtt_behaviour.md §2.2, §6.14):

- A node of a named op with 1..``max_inputs`` data inputs (control inputs not counted) is
  replaced by its data input 0: uses of its output 0 read that input instead. Its other
  data inputs are removed too when nothing else uses them (GTT removed them even when used
  elsewhere, leaving dangling edges). Protected names (graph inputs and outputs, in any
  spelling) are never removed. Chains go in one pass.
- ``IdentityN`` is port-aware: output k is its input k, so any number of inputs is fine.
- A node whose consumers read an output that does not map to an input (``x:1`` of a
  single-input op) is kept (GTT left those consumers dangling).
- The removed node's control inputs move to its consumers, and ``^node`` edges become
  edges from what replaced it (GTT dropped the control inputs).
- A node that anchors a ``tf.cond``/``tf.while_loop`` branch (it reads a ``Switch`` and
  other nodes hold a control edge on it) is kept: an edge on the Switch itself would lose
  the branch and run both sides (GTT broke such graphs).
"""

from __future__ import annotations

import attrs

from graphrewrite.engine.bypass import Bypass, bypass
from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.graph import CONTROL, Graph, Node
from graphrewrite.engine.opdefs import PLACEHOLDER_OPS, is_stateful
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param, args_of
from graphrewrite.rules.rule import Pass

PARAMS = (
    Param("op", Kind.STRING, repeated=True, required=True, doc="op type to splice out (repeat for several)"),
    Param("max_inputs", Kind.INT, 1, doc="splice nodes with up to this many data inputs, keeping input 0"),
)

PORT_AWARE = frozenset({"IdentityN"})
# Ops whose outputs may be dead (the branch not taken): a control edge on the op itself
# would not carry that, so a node reading one must stay when it has control consumers.
SWITCH_OPS = frozenset({"Switch", "RefSwitch", "_SwitchN"})


def used_ports(graph: Graph, name: str) -> tuple[set[int], bool]:
    """The output ports of *name* that consumers read, and whether any holds ``^name``."""
    ports: set[int] = set()
    control = False
    for user in graph.consumers(name):
        for ref in graph.node(user).inputs:
            if ref.node == name:
                if ref.port == CONTROL:
                    control = True
                else:
                    ports.add(ref.port)
    return ports, control


def reads_switch(graph: Graph, node: Node, passing: frozenset[str], memo: dict[str, bool]) -> bool:
    """Whether *node*'s data comes from a Switch, directly or through ops in *passing*
    (which may be spliced out in the same pass). Memoised in *memo*."""
    stack = [(node.name, False)]
    while stack:  # an iterative post-order walk: chains of Identity can be very long
        name, expanded = stack.pop()
        current = graph.get(name)
        if current is None or (expanded is False and name in memo):
            continue
        producers = [p for p in (graph.get(r.node) for r in current.data_inputs) if p is not None]
        if not expanded:
            memo[name] = False  # a cycle through pass-through ops reads as "no Switch"
            stack.append((name, True))
            stack.extend((p.name, False) for p in producers if p.op in passing and p.name not in memo)
            continue
        memo[name] = any(p.op in SWITCH_OPS or (p.op in passing and memo[p.name]) for p in producers)
    return memo[node.name]


def _disposable(graph: Graph, name: str, protected: frozenset[str]) -> bool:
    """Whether an extra input's producer may go when nothing else uses it."""
    node = graph.get(name)
    if node is None or node.name in protected or node.op in PLACEHOLDER_OPS:
        return False
    return is_stateful(node.op) is False


@attrs.frozen
class Splicer:
    """Decides, node by node, whether and how a node of one of *passing* is spliced out."""

    graph: Graph
    max_inputs: int
    protected: frozenset[str]
    passing: frozenset[str]
    memo: dict[str, bool] = attrs.field(factory=dict)

    def plan(self, node: Node) -> Bypass | None:
        """How *node* is bypassed, or None when it must stay."""
        data = node.data_inputs
        if not data or node.name in self.protected:
            return None
        port_aware = node.op in PORT_AWARE
        if not port_aware and len(data) > self.max_inputs:
            return None
        outputs = dict(enumerate(data)) if port_aware else {0: data[0]}
        ports, has_control_users = used_ports(self.graph, node.name)
        if not ports <= outputs.keys():
            return None
        if has_control_users and reads_switch(self.graph, node, self.passing, self.memo):
            return None
        return Bypass(outputs, tuple(outputs.values()))


@paused
def remove_nodes(graph: Graph, ctx: Context) -> Graph:
    """Splice out every node of the given ops (see the module docstring)."""
    args = args_of(ctx, PARAMS)
    op_types = list(dict.fromkeys(args["op"]))
    if not op_types:
        raise UsageError("remove_nodes needs at least one 'op', e.g. remove_nodes(op=Identity)")
    max_inputs = args["max_inputs"]
    if max_inputs < 1:
        raise UsageError(f"remove_nodes: max_inputs={max_inputs}; it must be at least 1")
    splicer = Splicer(graph, max_inputs, ctx.protected, frozenset(op_types))
    plans: dict[str, Bypass] = {}
    for op_type in op_types:
        for name in graph.nodes_of_op(op_type):
            plan = splicer.plan(graph.node(name))
            if plan is not None:
                plans[name] = plan
    return bypass(graph, plans, _orphans(graph, plans, ctx.protected))


def _orphans(graph: Graph, plans: dict[str, Bypass], protected: frozenset[str]) -> list[str]:
    """Producers of the dropped inputs (1 and up) that only removed nodes use."""
    out = []
    for name in plans:
        node = graph.node(name)
        if node.op in PORT_AWARE:
            continue
        for ref in node.data_inputs[1:]:
            if ref.node in plans or ref.node in out or not _disposable(graph, ref.node, protected):
                continue
            if all(user in plans for user in graph.consumers(ref.node)):
                out.append(ref.node)
    return out


REMOVE_NODES = Pass(
    "remove_nodes",
    "Identity(x) -> x for each op given (unlike GTT: ports, control inputs and tf.cond kept intact)",
    remove_nodes,
    PARAMS,
    facts=Facts(checked=Checked(cases="identity_like", args={"op": ["Identity", "CheckNumerics", "StopGradient", "Snapshot"]})),
)
