"""What one rule application costs, against the Python a person would write for it:
``python -m benchmarks.rule_floor [chain_17k]``.

The 170k-node chain needs 20,000 rewrites by ``fold_batch_norms``; this measures one of its
two, ``fold_mul_through_bias_add`` (``Mul(BiasAdd(MatMul(x, w), b), s) -> BiasAdd(MatMul(x,
w*s), b*s)``), on the chain after the standard pipeline's first three steps:

- the engine's matcher alone;
- the rule as the driver runs it: match, ``where`` conditions, the rewrite template built;
- a hand-written function for this one rule on this one graph: the same three constants read
  and multiplied, the same four nodes made, none of the language's generality (no dtype
  inference, no channel-layout alignment, no name or output checks, no refusal reasons).

The gap between the last two is the price of the language's generality per rewrite; the hand
version is a floor no interpreter of the language reaches, not a target. Each figure is the
best of five passes over every match (microseconds per match), on a warm process.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.profile import _prepare

PREFIX = "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true)"
RULE = "fold_mul_through_bias_add"


def _best_per_item(call: Callable[[Any], Any], items: Sequence[Any], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            call(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def _hand_written(graph: Any) -> Callable[[Any], Any]:
    """The rewrite of one match, written for this rule and this graph only."""
    from graphrewrite.engine.attrvalues import dtype_of_numpy, tensor_attr, type_attr
    from graphrewrite.engine.graph import Node, TensorRef
    from graphrewrite.engine.rewrite import Rewrite

    def const(node: Any) -> Any:
        return node if isinstance(node, Node) else graph.node(node.node)

    def rewrite(match: Any) -> Any:
        found = match.bindings
        mul, bias, conv = graph.node(match.root), found["bias"], found["conv"]
        if len(graph.consumers(bias.name)) != 1 or len(graph.consumers(conv.name)) != 1:
            return None
        w, b, s = const(found["w"]), const(found["b"]), const(found["s"])
        scale = s.value()
        weights, offset = w.value() * scale.reshape(1, -1), b.value() * scale
        dtype = dtype_of_numpy(weights.dtype)
        new_w = Node(w.name, "Const", (), w.device, {"dtype": type_attr(dtype), "value": tensor_attr(weights, dtype)})
        new_b = Node(b.name, "Const", (), b.device, {"dtype": type_attr(dtype), "value": tensor_attr(offset, dtype)})
        new_conv = Node(conv.name, conv.op, (conv.inputs[0], TensorRef(w.name, 0)), conv.device, conv.attr)
        new_bias = Node(mul.name, "BiasAdd", (TensorRef(conv.name, 0), TensorRef(b.name, 0)), mul.device, bias.attr)
        return Rewrite(RULE, mul.name, remove=frozenset(match.nodes), add=(new_w, new_b, new_conv, new_bias))

    return rewrite


def measure(name: str, cache_dir: Path) -> str:
    import graphrewrite
    from graphrewrite.engine.driver import Context
    from graphrewrite.engine.graph import Graph
    from graphrewrite.engine.matcher import match_at
    from graphrewrite.stdlib_rules import standard_rules

    graph_def, built = _prepare(name, cache_dir)
    inputs, outputs = list(built.inputs), list(built.outputs)
    prefix = graphrewrite.run_pipeline(graph_def, graphrewrite.compile_pipeline(PREFIX), inputs=inputs, outputs=outputs)
    graph = Graph.from_graphdef(prefix.graph_def)
    rule = next(r for r in standard_rules().lookup("fold_batch_norms").rules if r.name == RULE)
    ctx = Context(inputs=tuple(inputs), outputs=tuple(outputs))
    roots = [n.name for n in graph if n.op == "Mul"]
    matches = [m for m in (match_at(graph, rule.pattern, r) for r in roots) if m is not None]

    def interpreted(match: Any) -> Any:
        found = match_at(graph, rule.pattern, match.root)
        return rule.build(found, graph, ctx) if rule.check(found, graph, ctx) is None else None

    hand = _hand_written(graph)
    first = interpreted(matches[0])
    theirs = {n.name: n for n in hand(matches[0]).add}
    same = [np.array_equal(n.value(), theirs[n.name].value()) for n in first.add if n.op == "Const"]
    assert sorted(n.name for n in first.add) == sorted(theirs) and len(same) == 2 and all(same), (
        "the hand-written rewrite makes other nodes than the rule"
    )
    with_gc = gc.isenabled()
    gc.disable()
    try:
        matcher = _best_per_item(lambda m: match_at(graph, rule.pattern, m.root), matches)
        rule_us = _best_per_item(interpreted, matches)
        hand_us = _best_per_item(hand, matches)
    finally:
        if with_gc:
            gc.enable()
    return (
        f"{RULE} on {name} after `{PREFIX}`: {len(matches)} matches, microseconds per match\n"
        f"  matcher alone                       {matcher:7.1f}\n"
        f"  the rule (match, where, rewrite)    {rule_us:7.1f}\n"
        f"  hand-written for this rule          {hand_us:7.1f}   ({rule_us / hand_us:.1f}x)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rule_floor", description=__doc__.splitlines()[0])
    parser.add_argument("graph", nargs="?", default="chain_17k", help="a chain benchmark input")
    parser.add_argument("--cache", type=Path, default=Path(__file__).parent / ".cache")
    args = parser.parse_args(argv)
    print(measure(args.graph, args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
