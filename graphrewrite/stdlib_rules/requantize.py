"""The FakeQuant steps of ``quantize_nodes``, which name their nodes as GTT does (the clean-ups
after them are rules in ``quantize.rules``).

- ``hoist_fake_quants``: ``FakeQuant(relu(bias))`` -> ``relu(FakeQuant(bias))`` so the trained
  range sits right after the op with a 32-bit result. GTT hoists through any single-input op;
  here only through ops that commute with a monotone quantizer (:data:`HOISTABLE`).
- ``CONVERT_FAKE_QUANT``: ``FakeQuantWithMinMaxVars(x, lo, hi)`` ->
  ``Dequantize(Requantize(QuantizeV2<qint32>(x, lo, hi), lo, hi))``.

GTT applies each of these (and ``merge_adjacent_requantizes``) once over the whole graph
(``ReplaceMatchingOpTypes``); :func:`apply_once` does the same.
"""

from __future__ import annotations

from typing import Any

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.matcher import match_at
from graphrewrite.engine.pattern import Op, Pattern, Tensor
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
