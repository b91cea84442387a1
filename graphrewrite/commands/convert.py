"""``graphrewrite convert IN OUT``: GraphDef binary <-> text, chosen by OUT's extension.

The input format is detected from its content; ``.pbtxt``, ``.txt`` and ``.prototxt`` outputs
are written as text, anything else as binary. The write is atomic.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="a GraphDef, binary or text")
    parser.add_argument("output", metavar="OUT", help="where to write it: .pbtxt for text, else binary")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io

    graph_def = io.load_graph(args.input)
    io.save_graph(graph_def, args.output)
    kind = "text" if args.output.lower().endswith(io.TEXT_SUFFIXES) else "binary"
    print(f"wrote {args.output} ({kind}, {len(graph_def.node)} nodes)")
    return 0
