"""``fold_constants``: replace constant subgraphs by Const nodes (GTT's ``fold_constants_lib``).

The evaluation itself lives in :mod:`graphrewrite.engine.evaluate`; this module turns its plan
into a graph:

- a folded node's output 0 becomes a Const with the node's own name (so names and outputs stay
  put); another needed output ``k`` becomes a Const named ``<node>/output_<k>`` and its readers
  are rewired to it;
- each new Const waits, through control inputs, for the non-constant nodes the folded node (or
  the constants it read) waited for, as in TensorFlow's folder;
- constant nodes that only fed folded results are removed; nothing else is;
- with ``--outputs`` given, nodes neither the outputs nor the inputs need are pruned first (GTT
  prunes too; unlike GTT, with no ``--outputs`` nothing is pruned, and input nodes stay as they
  are rather than being rewritten as Placeholders);
- ``_output_shapes`` attributes are removed unless ``clear_output_shapes=false``;
- control edges from input-less Consts (and NoOps left empty by that) are dropped first, as
  grappler's dependency optimizer does: they order nothing, and TF2 freezing leaves hundreds.

Differences from GTT, on purpose: GTT names folded constants ``<node>/_<k>__cf__<id>`` and
loses the original name; GTT leaves a folded node in place while ``^control`` edges still point
at it (the variable reads a frozen function's NoOp waits on), here it becomes a Const of the
same name; GTT lets ``exclude_op`` skip Shape ops of static shapes (TF checks shapes first),
here exclusions always win.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from graphrewrite.engine.attrvalues import DType, encode
from graphrewrite.engine.collector import collector_paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.edit import remove
from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.evaluate import DEFAULT_MAX_BYTES, FoldOptions, FoldPlan, fold_plan
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param, defaults
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules.control_deps import drop_inert_control_edges

PARAMS = (
    Param("clear_output_shapes", Kind.BOOL, True, doc="remove _output_shapes attributes (false: trust them for Shape ops)"),
    Param("exclude_op", Kind.STRING, repeated=True, doc="an op type never to fold"),
    Param("exclude_node", Kind.STRING, repeated=True, doc="a node name never to fold"),
    Param(
        "max_constant_size_in_bytes",
        Kind.INT,
        DEFAULT_MAX_BYTES,
        doc="never materialise a constant larger than this",
    ),
)


def fold_constants(graph: Graph, ctx: Context) -> Graph:
    """Evaluate every constant subgraph and replace it by Const nodes."""
    args = {**defaults(PARAMS), **ctx.args}
    budget = args["max_constant_size_in_bytes"]
    if budget < 0:
        raise UsageError(f"fold_constants: max_constant_size_in_bytes must be 0 or more, got {budget}")
    with collector_paused():
        return _fold(graph, ctx, args, budget)


def _fold(graph: Graph, ctx: Context, args: Mapping[str, Any], budget: int) -> Graph:
    # Waits on input-less Consts order nothing; dropping them first lets pruning remove the
    # Consts that TF2 freezing left alive only through such waits.
    graph = drop_inert_control_edges(graph, ctx.protected)
    if ctx.outputs:
        graph = prune(graph, (*ctx.outputs, *ctx.inputs))
    options = FoldOptions(
        inputs=tuple(ctx.inputs),
        protected=ctx.protected,
        exclude_ops=frozenset(args["exclude_op"]),
        exclude_nodes=frozenset(args["exclude_node"]),
        max_bytes=budget,
        use_output_shapes=not args["clear_output_shapes"],
    )
    graph = apply_plan(graph, fold_plan(graph, options), ctx.protected)
    if args["clear_output_shapes"]:
        stale = [n.without_attrs("_output_shapes") for n in graph if "_output_shapes" in n.attr]
        graph = graph.replace(stale) if stale else graph
    return graph


def prune(graph: Graph, keep: Iterable[str]) -> Graph:
    """*graph* without the nodes that the nodes named in *keep* do not reach, backwards."""
    seen: set[str] = set()
    get = graph.get
    stack = [graph.node(name).name for name in keep if name]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        node = get(name)
        if node is not None:
            for source, _port in node.inputs:
                if source not in seen:
                    stack.append(source)
    if len(seen) == len(graph):
        return graph
    # Rebuilding is cheaper than patching the indexes when much of the graph goes.
    return Graph.from_nodes((n for n in graph if n.name in seen), library=graph.library, versions=graph.versions)


def apply_plan(graph: Graph, plan: FoldPlan, protected: frozenset[str]) -> Graph:
    """Materialise *plan*'s constants, rewire readers of other ports, drop what died."""
    consts: list[Node] = []
    renamed: dict[TensorRef, TensorRef] = {}
    taken: set[str] = set()
    for ref, value in plan.constants.items():
        name = ref.node if ref.port == 0 else graph.unique_name(f"{ref.node}/output_{ref.port}", taken)
        taken.add(name)
        control = [TensorRef(c, CONTROL) for c in plan.control.get(ref.node, ())]
        attrs = {"dtype": _dtype_attr(value.dtype), "value": value.attr_value()}
        consts.append(Node(name, "Const", tuple(control), graph.node(ref.node).device, attrs))
        if ref.port:
            renamed[ref] = TensorRef(name, 0)
    folded = set(plan.folded)
    users = {u for ref in renamed for u in graph.consumers(ref.node) if u not in folded}
    rewired = [graph.node(u).with_inputs(renamed.get(r, r) for r in graph.node(u).inputs) for u in sorted(users)]
    gone = folded - {c.name for c in consts}
    dead = _dead(graph, plan, folded, protected)
    return remove(graph, gone | dead, [*consts, *rewired])


@functools.cache
def _dtype_attr(dtype: int) -> Any:
    return encode(DType(dtype))  # shared between nodes: node attrs are never mutated


def _dead(graph: Graph, plan: FoldPlan, folded: set[str], protected: frozenset[str]) -> set[str]:
    """Constant nodes that lose their last reader to the folding: every node reading them is
    folded (a folded node's Const reads nothing) or dead itself."""
    dead: set[str] = set()
    work = [r.node for n in plan.folded for r in graph.node(n).inputs]
    while work:
        name = work.pop()
        if name in dead or name in folded or name in protected or name not in plan.foldable:
            continue
        if all(u in folded or u in dead for u in graph.consumers(name)):
            dead.add(name)
            work.extend(r.node for r in graph.node(name).inputs)
    return dead


FOLD_CONSTANTS = Pass(
    "fold_constants",
    "Op(Const, Const) -> Const: evaluate constant subgraphs (numpy kernels, one batched TensorFlow run)",
    fold_constants,
    PARAMS,
    facts=Facts(checked=Checked(cases="one_input_with_control_edges")),
)

__all__ = ["FOLD_CONSTANTS", "PARAMS", "apply_plan", "fold_constants", "prune"]
