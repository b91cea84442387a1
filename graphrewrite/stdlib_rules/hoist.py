"""The ``simplify_arithmetic`` rule the rule language cannot express yet, as a Python ``Rule``.

- ``hoist_unary_over_concat``: ``ConcatV2(Relu(a), Relu(b), axis) -> Relu(ConcatV2(a, b, axis))``
  for any number of inputs, and any elementwise op that keeps its input's dtype (grappler's
  arithmetic optimizer does the same). Inner concatenations on the same constant axis that fed
  only the hoisted ops are flattened into the new concatenation while it is built.
  (``merge_nested_concat``, in arithmetic.rules, flattens the others.)

Why Python: ``ConcatV2(*xs, axis)`` captures the inputs, but "every captured input is the same
unary op with equal attributes, read only by this concatenation" is a condition over a list,
which the rule language cannot state yet, and flattening splices inner concatenations while
the new node is built. The patterns
below are what the generators in :mod:`graphrewrite.testing` build graphs from (two unary
inputs; a concatenation as the first input); the guards check the rest. Every rewrite here is
exact: the same elementwise function of the same elements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphrewrite.engine.driver import Context
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.pattern import Match, Op, Tensor
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.rules.rule import Rule

# Elementwise ops of one input whose output has the input's dtype: f(concat(a, b)) is
# concat(f(a), f(b)) element for element.
HOISTABLE = frozenset(
    {
        "Abs", "Ceil", "Cos", "Elu", "Erf", "Exp", "Expm1", "Floor", "LeakyRelu", "Log",
        "Log1p", "Neg", "Reciprocal", "Relu", "Relu6", "Rint", "Round", "Rsqrt", "Selu",
        "Sigmoid", "Sign", "Sin", "Softplus", "Softsign", "Sqrt", "Square", "Tanh",
    }
)  # fmt: skip
CONCAT = frozenset({"ConcatV2"})


# -- shared helpers ------------------------------------------------------------------------------


def _public_attrs(node: Node) -> dict[str, Any]:
    """Attributes that define what the op computes (``_output_shapes``, ``_class`` ... excluded)."""
    return {k: v for k, v in node.attr.items() if not k.startswith("_")}


def _only_read_by(graph: Graph, name: str, readers: Iterable[str], ctx: Context) -> bool:
    """Every node that reads *name* is in *readers*, and *name* is not a graph input or output."""
    allowed = set(readers)
    return name not in ctx.protected and all(c in allowed for c in graph.consumers(name))


def _axis_value(graph: Graph, concat: Node) -> int | None:
    """The constant axis of a ConcatV2 (its last data input), or None when not a Const."""
    data = concat.data_inputs
    producer = graph.get(data[-1].node) if data else None
    if producer is None or producer.op != "Const":
        return None
    value = producer.value()
    return int(value.reshape(-1)[0]) if value.size == 1 else None


def _spliceable(graph: Graph, ref: TensorRef, axis: int | None, readers: Iterable[str], ctx: Context) -> Node | None:
    """The ConcatV2 producing *ref*, when it joins along *axis* and only *readers* use it."""
    producer = graph.get(ref.node)
    if axis is None or ref.port != 0 or producer is None or producer.op not in CONCAT:
        return None
    if _axis_value(graph, producer) != axis or not _only_read_by(graph, producer.name, readers, ctx):
        return None
    return producer


def _flatten(
    graph: Graph, refs: Iterable[TensorRef], axis: int | None, readers: Iterable[str], ctx: Context
) -> tuple[list[TensorRef], list[Node]]:
    """*refs* with every spliceable concatenation replaced by its own data inputs."""
    readers = tuple(readers)
    out: list[TensorRef] = []
    spliced: list[Node] = []
    for ref in refs:
        inner = _spliceable(graph, ref, axis, readers, ctx)
        if inner is None:
            out.append(ref)
        else:
            out.extend(inner.data_inputs[:-1])
            spliced.append(inner)
    return out, spliced


def _concat_node(name: str, like: Node, inputs: list[TensorRef], axis: TensorRef, controls: Iterable[TensorRef]) -> Node:
    """A ConcatV2 like *like* (its attributes and device) over *inputs*."""
    node = Node(name, like.op, (), like.device, like.attr).with_attrs(N=len(inputs))
    return node.with_inputs([*inputs, axis, *controls])


def _consts_read(graph: Graph, nodes: Iterable[Node]) -> set[str]:
    """The Const nodes that *nodes* read: offered for removal (the engine keeps used ones)."""
    found = set()
    for node in nodes:
        for ref in node.data_inputs:
            producer = graph.get(ref.node)
            if producer is not None and producer.op == "Const":
                found.add(producer.name)
    return found


# -- hoist_unary_over_concat ---------------------------------------------------------------------


def _hoist_reason(match: Match, graph: Graph, ctx: Context) -> str | None:
    concat = graph.node(match.root)
    items = concat.data_inputs[:-1]
    first = graph.node(items[0].node)
    for ref in items:
        unary = graph.get(ref.node)
        if unary is None or unary.op != first.op or ref.port != 0:
            return f"input '{ref}' is not {first.op} like input 0"
        if len(unary.data_inputs) != 1:
            return f"'{unary.name}' has {len(unary.data_inputs)} data inputs"
        if _public_attrs(unary) != _public_attrs(first) or unary.device != first.device:
            return f"'{unary.name}' has other attributes or another device than '{first.name}'"
        if not _only_read_by(graph, unary.name, (concat.name,), ctx):
            return f"'{unary.name}' is also read outside '{concat.name}' (or is a graph output)"
    return None


def _hoist(match: Match, graph: Graph, ctx: Context) -> Rewrite | str:
    concat = graph.node(match.root)
    data = concat.data_inputs
    unaries = list({ref.node: graph.node(ref.node) for ref in data[:-1]}.values())
    sources = [graph.node(ref.node).data_inputs[0] for ref in data[:-1]]
    inputs, spliced = _flatten(graph, sources, _axis_value(graph, concat), [u.name for u in unaries], ctx)
    first = unaries[0]
    inner_name = graph.unique_name(f"{concat.name}/{first.op.lower()}_input")
    inner = _concat_node(inner_name, concat, inputs, data[-1], concat.control_inputs)
    attr = _public_attrs(first)
    if "_output_shapes" in concat.attr:
        attr["_output_shapes"] = concat.attr["_output_shapes"]
    hoisted = Node(concat.name, first.op, (TensorRef(inner_name, 0),), first.device, attr)
    remove = {u.name for u in unaries} | {s.name for s in spliced} | _consts_read(graph, spliced)
    return Rewrite("hoist_unary_over_concat", concat.name, remove=frozenset(remove), add=(hoisted, inner))


def _unary(bind: str | None = None) -> Op:
    return Op(HOISTABLE, (Tensor(),), bind)


hoist_unary_over_concat = Rule(
    "hoist_unary_over_concat",
    "ConcatV2(Relu(a), Relu(b), ..., axis) -> Relu(ConcatV2(a, b, ..., axis)) for any elementwise unary op",
    Op(CONCAT, (_unary(), _unary(), Tensor()), "concat", variadic=True),
    _hoist,
    _hoist_reason,
)


RULES: tuple[Rule, ...] = (hoist_unary_over_concat,)
