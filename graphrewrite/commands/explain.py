"""``graphrewrite explain``: why a rule does (or does not) fire at a node.

For a pattern rule: the deepest partial match and the first failing constraint, or, when the
pattern matches, whether the guard accepts it and what the rewrite would be.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in_graph", required=True, help="the graph (.pb or .pbtxt)")
    parser.add_argument("--rule", required=True, help="a rule or group name")
    parser.add_argument("--node", required=True, help="the node the rule should fire at")
    parser.add_argument("--rules", action="append", default=[], metavar="FILE", help="load rules from FILE")
    parser.add_argument("--inputs", default="", help="graph inputs (protected names)")
    parser.add_argument("--outputs", default="", help="graph outputs (protected names)")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.engine.driver import Context
    from graphrewrite.engine.errors import UsageError
    from graphrewrite.engine.graph import Graph
    from graphrewrite.explain import explain_rule
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
