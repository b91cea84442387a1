"""``graphrewrite check --target=T GRAPH``: will this graph load in runtime T, and what fixes it.

Exit 0 when the graph is expected to load, 1 otherwise. ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="a frozen GraphDef (.pb or .pbtxt)")
    parser.add_argument("--target", required=True, help="opencv, tflite, openvino, onnx, tfserving or tf")
    parser.add_argument("--tf_version", help="with --target=tf: the TensorFlow version whose op registry decides")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.targets import checks

    target = checks.load_target(args.target, version=args.tf_version)
    report = checks.check(io.load_graph(args.graph), target)
    if args.json:
        print(json.dumps(checks.as_json(report, args.graph), indent=2))
    else:
        print(checks.render(report, args.graph))
    return 0 if report.loads else 1
