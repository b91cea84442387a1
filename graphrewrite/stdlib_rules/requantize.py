"""The pattern-shaped steps of ``quantize_nodes``: FakeQuant handling and redundant quantizations.

- ``hoist_fake_quants``: ``FakeQuant(relu(bias))`` -> ``relu(FakeQuant(bias))`` so the trained
  range sits right after the op with a 32-bit result. GTT hoists through any single-input op;
  here only through ops that commute with a monotone quantizer (:data:`HOISTABLE`).
- ``CONVERT_FAKE_QUANT``: ``FakeQuantWithMinMaxVars(x, lo, hi)`` ->
  ``Dequantize(Requantize(QuantizeV2<qint32>(x, lo, hi), lo, hi))``.
- ``MERGE_ADJACENT_REQUANTIZES``: a dynamic Requantize followed by one with trained Const ranges
  becomes one Requantize with the trained range.
- ``REMOVE_REDUNDANT``: ``QuantizeV2(Dequantize(q, lo, hi), Min, Max)`` -> ``(q, lo, hi)``, so
  adjacent eight-bit ops pass eight-bit data. The Dequantize stays while something else reads it.

GTT applies each of the first three once over the whole graph (``ReplaceMatchingOpTypes``);
:func:`apply_once` does the same. Only ``REMOVE_REDUNDANT`` runs to a fixed point.
"""

from __future__ import annotations

from typing import Any

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.pattern import Op, Pattern, Tensor, match_at
from graphrewrite.engine.rewrite import Rewrite, apply_batch
from graphrewrite.rules.rule import Rule

HOISTABLE = frozenset({"Relu", "Relu6", "MaxPool", "Identity"})


def apply_once(graph: Graph, rule: Rule, ctx: Any) -> Graph:
    """Every non-overlapping match of *rule* in graph order, rewritten in one batch."""
    claimed: set[str] = set()
    batch = []
    for name in list(graph.names):
        if name in claimed:
            continue
        match = match_at(graph, rule.pattern, name)
        if match is None or claimed.intersection(match.nodes) or rule.check(match, graph, ctx):
            continue
        built = rule.build(match, graph, ctx)
        if isinstance(built, Rewrite):
            batch.append(built)
            claimed |= set(match.nodes) | built.touched
    return apply_batch(graph, batch, ctx.protected).graph if batch else graph


def _op(ops: str, *inputs: Pattern, bind: str | None = None, port: int | None = 0) -> Op:
    return Op(frozenset(ops.split("|")), tuple(inputs) if inputs else None, bind, port=port)


def _dtype(name: str) -> DType:
    return DType.named(name)


def _refs(name: str, count: int = 3) -> list[TensorRef]:
    return [TensorRef(name, p) for p in range(count)]


# -- FakeQuant ---------------------------------------------------------------------------------


def _fake_quant_guard(match: Any, graph: Graph, ctx: Any) -> str | None:
    node = match.node("fq")
    if node.get("num_bits", 8) != 8 or node.get("narrow_range", False):
        return "FakeQuant is not plain 8-bit (num_bits=8, narrow_range=false)"
    return None


def _hoist_pattern(depth: int) -> Op:
    chain: Pattern = Tensor("src")
    for i in range(depth, 0, -1):
        chain = _op("|".join(sorted(HOISTABLE)), chain, bind=f"n{i}")
    return _op("FakeQuantWithMinMaxVars", chain, _op("Const", bind="lo"), _op("Const", bind="hi"), bind="fq")


def _hoist_guard(depth: int) -> Any:
    def guard(match: Any, graph: Graph, ctx: Any) -> str | None:
        names = [match.node(f"n{i}").name for i in range(1, depth + 1)]
        following = [match.node("fq").name, *names]
        for name, user in zip(names, following, strict=False):
            if graph.consumers(name) != (user,) or name in ctx.protected:
                return f"'{name}' is used outside the chain"
        return _fake_quant_guard(match, graph, ctx)

    return guard


def _hoist_builder(depth: int) -> Any:
    def build(match: Any, graph: Graph, ctx: Any) -> Rewrite:
        fq = match.node("fq")
        chain = [match.node(f"n{i}") for i in range(1, depth + 1)]
        hoisted_name = graph.unique_name(fq.name + "_hoisted")
        hoisted = fq.evolve(name=hoisted_name, inputs=(match.tensor("src"), *fq.inputs[1:]))
        last = chain[-1]
        chain[-1] = last.with_inputs([TensorRef(hoisted_name, 0), *last.inputs[1:]])
        top = chain[0].evolve(name=fq.name)  # the chain's head takes the FakeQuant's name
        return Rewrite("hoist_fake_quants", fq.name, remove=frozenset({chain[0].name}),
                       add=(hoisted, *chain[1:], top))

    return build


def hoist_fake_quants(graph: Graph, ctx: Any) -> Graph:
    """GTT's three rounds, deepest chains first."""
    for depth in (3, 2, 1):
        rule = Rule(f"hoist_fake_quants_{depth}", "FakeQuant(f(g(x))) -> f(g(FakeQuant(x)))",
                    _hoist_pattern(depth), _hoist_builder(depth), _hoist_guard(depth))
        graph = apply_once(graph, rule, ctx)
    return graph


def _convert_fake_quant(match: Any, graph: Graph, ctx: Any) -> Rewrite:
    fq, lo, hi = match.node("fq"), match.node("lo").name, match.node("hi").name
    prefix, device = f"{fq.name}_eightbit", fq.device
    quantize = Node.make(graph.unique_name(f"{prefix}/quantize"), "QuantizeV2", [match.tensor("x"), lo, hi],
                         {"T": _dtype("qint32"), "mode": "MIN_FIRST"}, device)
    requantize = Node.make(graph.unique_name(f"{prefix}/requantize"), "Requantize",
                           [*_refs(quantize.name), TensorRef(lo, 0), TensorRef(hi, 0)],
                           {"Tinput": _dtype("qint32"), "out_type": _dtype("quint8")}, device)
    deq = Node.make(fq.name, "Dequantize", [*_refs(requantize.name), *fq.control_inputs],
                    {"T": _dtype("quint8"), "mode": "MIN_FIRST"}, device)
    return Rewrite("convert_fake_quants", fq.name, add=(quantize, requantize, deq))


CONVERT_FAKE_QUANT = Rule(
    "convert_fake_quants",
    "FakeQuantWithMinMaxVars(x, lo, hi) -> Dequantize(Requantize(QuantizeV2(x, lo, hi), lo, hi))",
    _op("FakeQuantWithMinMaxVars", Tensor("x"), _op("Const", bind="lo"), _op("Const", bind="hi"), bind="fq"),
    _convert_fake_quant,
    _fake_quant_guard,
)

# -- adjacent Requantizes ------------------------------------------------------------------------


def _merge_pattern() -> Op:
    inner = _op("Requantize", Tensor("a"), Tensor(), Tensor(), _op("RequantizationRange", bind="r0", port=None),
                _op("RequantizationRange", bind="r1", port=None), bind="inner")
    deq = _op("Dequantize", inner, _op("Requantize", bind="inner", port=1), _op("Requantize", bind="inner", port=2),
              bind="deq")
    quantize = _op("QuantizeV2", deq, _op("Const"), _op("Const"), bind="q")
    return _op("Requantize", quantize, _op("QuantizeV2", bind="q", port=1), _op("QuantizeV2", bind="q", port=2),
               _op("Const", bind="lo"), _op("Const", bind="hi"), bind="outer")


def _merge_requantizes(match: Any, graph: Graph, ctx: Any) -> Rewrite:
    outer, source = match.node("outer"), match.tensor("a").node
    lo, hi = TensorRef(match.node("lo").name, 0), TensorRef(match.node("hi").name, 0)
    merged = outer.with_inputs([*_refs(source), lo, hi, *outer.control_inputs])
    doomed = frozenset(match.node(k).name for k in ("q", "deq", "inner", "r0", "r1"))
    return Rewrite("merge_adjacent_requantizes", outer.name, remove=doomed, add=(merged,))


MERGE_ADJACENT_REQUANTIZES = Rule(
    "merge_adjacent_requantizes",
    "Requantize(QuantizeV2(Dequantize(Requantize(q, RequantizationRange)), lo, hi)) -> Requantize(q, lo, hi)",
    _merge_pattern(),
    _merge_requantizes,
)

# -- redundant Dequantize -> QuantizeV2 pairs ------------------------------------------------------


def _redundant_guard(match: Any, graph: Graph, ctx: Any) -> str | None:
    deq, quantize = match.node("deq"), match.node("q")
    for node in (deq, quantize):
        if str(node.get("T")) != "quint8" or node.get("mode") != "MIN_FIRST":
            return f"'{node.name}' is not quint8 MIN_FIRST"
    if deq.get("axis", -1) != -1 or len(deq.data_inputs) != 3:
        return f"'{deq.name}' is per-channel"
    return None


def _cancel(match: Any, graph: Graph, ctx: Any) -> Rewrite:
    deq, quantize = match.node("deq"), match.node("q")
    redirect = tuple(zip(_refs(quantize.name), deq.data_inputs, strict=True))
    doomed = {quantize.name, deq.name, match.node("min").name, match.node("max").name}
    for name in (match.node("min").name, match.node("max").name):
        for ref in graph.node(name).data_inputs:  # the Reshape and the dims Consts GTT leaves behind
            doomed.add(ref.node)
            producer = graph.get(ref.node)
            if producer is not None and producer.op == "Reshape":
                doomed.update(r.node for r in producer.data_inputs[1:])
    return Rewrite("remove_redundant_quantizations", quantize.name, remove=frozenset(doomed), redirect=redirect)


REMOVE_REDUNDANT = Rule(
    "remove_redundant_quantizations",
    "QuantizeV2(Dequantize(q, lo, hi), Min, Max) -> (q, lo, hi)",
    _op("QuantizeV2", _op("Dequantize", bind="deq"), _op("Min", bind="min"), _op("Max", bind="max"), bind="q"),
    _cancel,
    _redundant_guard,
)
