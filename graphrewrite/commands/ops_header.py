"""``graphrewrite ops-header`` (and ``print_selective_registration_header``): the ops and kernels
a set of graphs needs, as the ``ops_to_register.h`` of a selective-registration TensorFlow build."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graphs", required=True, help="comma-separated model files (GraphDef .pb/.pbtxt, or ops lists)")
    parser.add_argument(
        "--proto_fileformat", default="rawproto", choices=("rawproto", "textproto", "ops_list"),
        help="how --graphs are written (the format is detected for GraphDefs either way)",
    )  # fmt: skip
    parser.add_argument(
        "--default_ops", default="NoOp:NoOp,_Recv:RecvOp,_Send:SendOp",
        help="op:kernel pairs always included; 'all' registers every op and kernel",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from graphrewrite.engine.errors import UsageError
    from graphrewrite.opsheader import header, ops_and_kernels

    paths = [p for p in args.graphs.split(",") if p]
    if not paths:
        raise UsageError("ops-header: --graphs names no file")
    pairs = ops_and_kernels(paths, proto_fileformat=args.proto_fileformat, default_ops=args.default_ops)
    print(header(pairs, all_ops=args.default_ops == "all"))
    return 0
