"""``graphrewrite explain``: why a rule does (or does not) fire at a node.

For a pattern rule: the deepest partial match and the first failing constraint, or, when the
pattern matches, whether the guard accepts it and what the rewrite would be.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in_graph", required=True, help="the graph (.pb or .pbtxt)")
    parser.add_argument("--rule", required=True, help="a rule or group name")
    parser.add_argument("--node", required=True, help="the node the rule should fire at")
    parser.add_argument("--rules", action="append", default=[], metavar="FILE", help="load rules from FILE")
    parser.add_argument("--inputs", default="", help="graph inputs (protected names)")
    parser.add_argument("--outputs", default="", help="graph outputs (protected names)")


def explain_rule(rule: Any, graph: Any, node: str, ctx: Any) -> str:
    """One paragraph about *rule* at *node*."""
    from graphrewrite.engine.pattern import Trace, match_at

    trace = Trace()
    match = match_at(graph, rule.pattern, node, trace)
    if match is None:
        where = f" (pattern at {trace.span})" if trace.span else ""
        return (f"{rule.name}: does not match at '{node}': at node '{trace.node}' "
                f"(depth {trace.depth}): {trace.reason}{where}")  # fmt: skip
    reason = rule.check(match, graph, ctx)
    if reason:
        return f"{rule.name}: pattern matches at '{node}' but the guard refuses: {reason}"
    built = rule.build(match, graph, ctx)
    if isinstance(built, str):
        return f"{rule.name}: pattern matches at '{node}' but the rewrite refuses: {built}"
    added = ", ".join(f"{n.name} ({n.op})" for n in built.add) or "nothing"
    return (f"{rule.name}: fires at '{node}': matched {', '.join(match.nodes)}; "
            f"adds {added}; may remove {', '.join(sorted(built.remove)) or 'nothing'}")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.engine.driver import Context
    from graphrewrite.engine.errors import UsageError
    from graphrewrite.engine.graph import Graph
    from graphrewrite.pipeline import split_names
    from graphrewrite.rules.loader import load_rules_file
    from graphrewrite.rules.rule import Group, Pass
    from graphrewrite.stdlib_rules import standard_rules

    catalog = standard_rules()
    for path in args.rules:
        catalog = catalog.plus(load_rules_file(path))
    transform = catalog.lookup(args.rule)
    if isinstance(transform, Pass):
        raise UsageError(f"explain: '{transform.name}' is a whole-graph pass, not a pattern rule")
    graph = Graph.from_graphdef(io.load_graph(args.in_graph), copy=False)  # freshly parsed: ours
    node = graph.node(args.node).name
    ctx = Context(split_names(args.inputs), split_names(args.outputs))
    rules = transform.rules if isinstance(transform, Group) else (transform,)
    for rule in rules:
        print(explain_rule(rule, graph, node, ctx))
    return 0
