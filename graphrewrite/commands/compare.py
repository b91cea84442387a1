"""``graphrewrite compare GRAPH --target=T [--target=T2 ...]``: run a graph in TF and in runtimes.

Prints per-output max absolute/relative error and each runtime's convert/load/run time.
Exit 0 when every target loads and matches TensorFlow, 1 on a mismatch or a load failure.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="a frozen GraphDef (.pb or .pbtxt)")
    parser.add_argument("--target", action="append", required=True, help="opencv, tflite, openvino or onnx (repeatable)")
    parser.add_argument("--inputs", help="comma-separated input names (default: the graph's Placeholders)")
    parser.add_argument("--outputs", help="comma-separated output names (default: the graph's sink nodes)")
    parser.add_argument("--input_file", help="an .npz of input values (default: random values)")
    parser.add_argument("--input_shapes", help='shapes for unknown dims, e.g. "x:1,224,224,3" (default 1)')
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default 1e-3)")
    parser.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance (default 1e-4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.targets import compare

    graph_def = io.load_graph(args.graph)
    inputs, outputs = compare.resolve_io(graph_def, inputs=args.inputs, outputs=args.outputs)
    feeds = compare.make_feeds(graph_def, inputs, input_file=args.input_file, input_shapes=args.input_shapes)
    report = compare.compare_targets(
        graph_def, args.target, inputs=inputs, outputs=outputs, feeds=feeds, rtol=args.rtol, atol=args.atol
    )
    print(json.dumps(compare.as_json(report, args.graph), indent=2) if args.json else compare.render(report))
    return 0 if report.ok else 1
