"""``graphrewrite freeze`` (and ``freeze_graph``): one frozen GraphDef from any model source.

TensorFlow's old ``freeze_graph`` command lines run unchanged (``--input_graph``,
``--input_checkpoint``, ``--output_node_names``, ``--input_binary``, ``--input_meta_graph``,
``--input_saved_model_dir``, ``--saved_model_tags``, ``--clear_devices``, the white- and
blacklists); flags that only drove TF1's Session restore are accepted and ignored. New:
``--input_keras_model``, ``--signature_name``, ``--control_flow=keep|lower`` and ``--json``.
After writing, it prints the inputs and outputs with dtypes and shapes, the signature keys,
and a ``graphrewrite transform`` command to run next.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from graphrewrite.engine.errors import UsageError

# Flags of TF's freeze_graph that only steered its Session-based restore: accepted, unused.
IGNORED = ("input_saver", "restore_op_name", "filename_tensor_name", "checkpoint_version")


def parse_bool(text: str) -> bool:
    """freeze_graph's boolean flags: true/false/1/0, as transform scripts read them."""
    from graphrewrite.rules.params import CONVERTERS, Kind

    try:
        return bool(CONVERTERS[Kind.BOOL](text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("model source (give exactly one)")
    src.add_argument("--input_saved_model_dir", help="a SavedModel folder (TF2, Keras model.export, or TF1)")
    src.add_argument("--input_keras_model", help="a Keras .keras or .h5 file")
    src.add_argument("--input_graph", help="a TF1 GraphDef (.pb or .pbtxt, detected by content)")
    src.add_argument("--input_meta_graph", help="a TF1 MetaGraphDef (.meta)")
    parser.add_argument("--input_checkpoint", help="checkpoint prefix (or folder) for --input_graph/--input_meta_graph")
    parser.add_argument("--output_node_names", default="", help="comma-separated outputs of a TF1 graph")
    parser.add_argument("--output_graph", required=True, help="where to write the frozen GraphDef (.pbtxt: text)")
    parser.add_argument("--signature_name", default="serving_default", help="SavedModel signature to freeze")
    parser.add_argument("--saved_model_tags", default="serve", help="comma-separated MetaGraph tags")
    parser.add_argument("--control_flow", choices=("keep", "lower"), default="keep",
                        help="keep functional While/If (default) or lower them to Switch/Merge")  # fmt: skip
    parser.add_argument("--variable_names_whitelist", default="", help="freeze only these variables")
    parser.add_argument("--variable_names_blacklist", default="", help="leave these variables unfrozen")
    parser.add_argument("--clear_devices", type=parse_bool, nargs="?", const=True, default=True,
                        help="remove device placements (default true, as freeze_graph)")  # fmt: skip
    parser.add_argument("--input_binary", type=parse_bool, nargs="?", const=True, default=None,
                        help="accepted for old command lines; the format is detected from the content")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print inputs, outputs and signature as JSON")
    parser.add_argument(
        "--input_shape", help="Keras model never built on keras.Input: its input shape, e.g. ?,32 "
        "(';' between several inputs)",
    )  # fmt: skip
    parser.add_argument("--input_dtype", default="float32", help="dtype of --input_shape's inputs")
    parser.add_argument(
        "--initializer_nodes", default="", help="TF1: extra initializer nodes to keep, grouped under init_all_tables "
        "(table initializers of the tables the outputs use are kept anyway)",
    )  # fmt: skip
    for name in IGNORED:
        parser.add_argument(f"--{name}", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io

    frozen = freeze_from_args(args)
    graph_def = frozen.graph_def
    if args.clear_devices:
        graph_def = clear_devices(graph_def)
    io.save_graph(graph_def, args.output_graph)
    for name in IGNORED:
        if getattr(args, name):
            print(f"note: --{name} is not needed here and was ignored", file=sys.stderr)
    for note in frozen.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"output_graph": args.output_graph, **frozen.as_json()}, indent=2))
    else:
        print(frozen.describe(args.output_graph))
    return 0


def freeze_from_args(args: argparse.Namespace) -> Any:
    """Dispatch on the one model source given."""
    from graphrewrite import freeze

    sources = [s for s in ("input_saved_model_dir", "input_keras_model", "input_graph", "input_meta_graph") if getattr(args, s)]
    if len(sources) != 1:
        given = ", ".join(f"--{s}" for s in sources) or "none"
        raise UsageError(f"freeze: give exactly one model source (--input_saved_model_dir, --input_keras_model, "
                         f"--input_graph or --input_meta_graph); given: {given}")  # fmt: skip
    lists = {"whitelist": args.variable_names_whitelist or None, "blacklist": args.variable_names_blacklist or None}
    if args.input_keras_model:
        signature = None
        if args.input_shape:
            from graphrewrite.freezing.keras import signature_from_shapes

            signature = signature_from_shapes(args.input_shape, args.input_dtype)
        return freeze.freeze_keras_model(args.input_keras_model, control_flow=args.control_flow, input_signature=signature)
    if args.input_saved_model_dir and not args.output_node_names:
        return freeze.freeze_saved_model(
            args.input_saved_model_dir, signature_name=args.signature_name,
            tags=args.saved_model_tags, control_flow=args.control_flow,
        )  # fmt: skip
    if not args.output_node_names:
        raise UsageError("freeze: --output_node_names is required with --input_graph or --input_meta_graph")
    if args.input_saved_model_dir:  # a TF1 SavedModel frozen by node names, as freeze_graph did
        graph, checkpoint = freeze.saved_model_graph(args.input_saved_model_dir, tags=args.saved_model_tags)
    else:
        if not args.input_checkpoint:
            raise UsageError("freeze: --input_checkpoint is required with --input_graph or --input_meta_graph")
        graph, checkpoint = args.input_graph or args.input_meta_graph, args.input_checkpoint
    return freeze.freeze_checkpoint(
        graph, checkpoint, args.output_node_names, initializer_nodes=args.initializer_nodes, **lists
    )


def clear_devices(graph_def: Any) -> Any:
    """A copy of *graph_def* with every node's device placement removed."""
    out = type(graph_def)()
    out.CopyFrom(graph_def)
    for node in out.node:
        node.device = ""
    return out
