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
    parser.add_argument("--ops", action="store_true", help="list the (op, dtype) pairs with their CPU kernels instead")
    parser.add_argument("--target", help="with --ops: mark the ops this runtime lacks (opencv, tflite, ...)")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import inspect, io

    if args.ops or args.target:
        return _ops(args)
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


def _ops(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.engine.errors import UsageError
    from graphrewrite.targets import checks, checks_ops

    if not args.ops:
        raise UsageError("summarize: --target needs --ops")
    graph_def = io.load_graph(args.in_graph)
    uses = checks_ops.op_uses(graph_def)
    if args.target:
        uses = checks_ops.with_target(uses, graph_def, checks.load_target(args.target))
    if args.json:
        print(json.dumps({"graph": args.in_graph, "target": args.target, "ops": checks_ops.as_json(uses)}, indent=2))
    else:
        print(checks_ops.render(uses, args.target))
    return 0
