"""``graphrewrite summarize`` (and ``summarize_graph``): what is in a graph, GTT's report done right.

True inputs and their shapes, likely outputs, variables of every kind, parameter counts and
bytes, control edges, ops (graph and function library apart), devices, training machinery
left over, and a ``graphrewrite transform`` command with ``--inputs``/``--outputs`` filled
in. ``--json`` prints the same as one JSON object; ``--print_structure`` lists every node.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in_graph", required=True, help="a GraphDef (.pb or .pbtxt, detected by content)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--print_structure", action="store_true", help="also list every node with its inputs")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import inspect, io

    graph = inspect.as_graph(io.load_graph(args.in_graph))
    summary = inspect.summarize(graph)
    if args.json:
        report = inspect.as_json(summary, args.in_graph)
        if args.print_structure:
            report["structure"] = inspect.structure(graph)
        print(json.dumps(report, indent=2))
        return 0
    print(inspect.render(summary, args.in_graph))
    if args.print_structure:
        print()
        print("\n".join(inspect.structure(graph)))
    return 0
