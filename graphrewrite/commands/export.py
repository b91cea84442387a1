"""``graphrewrite export``: a frozen GraphDef as a SavedModel with a serving signature.

Writes ``--saved_model_dir/<version>/`` (TF Serving layout), atomically; an existing
non-empty version folder is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
from typing import Any

from graphrewrite.engine.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in_graph", required=True, help="a frozen GraphDef (.pb or .pbtxt)")
    parser.add_argument("--inputs", required=True, help="comma-separated input tensors (x, x:0)")
    parser.add_argument("--outputs", required=True, help="comma-separated output tensors")
    parser.add_argument("--saved_model_dir", required=True, help="the model folder; the version goes below it")
    parser.add_argument("--version", type=int, default=1, help="version folder name (default 1)")
    parser.add_argument(
        "--signature_keys", action="append", default=[], metavar="TENSOR=KEY[,...]",
        help="signature key for a tensor (default: its name made an identifier); repeatable",
    )  # fmt: skip
    parser.add_argument("--saved_model_tags", default="serve", help="comma-separated MetaGraph tags")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version folder")


def parse_key_overrides(items: list[str]) -> dict[str, str]:
    """``["x=images,Identity=probabilities"]`` -> ``{"x": "images", "Identity": "probabilities"}``."""
    out = {}
    for item in ",".join(items).split(","):
        if not item.strip():
            continue
        tensor, sep, key = item.partition("=")
        if not sep or not tensor.strip() or not key.strip():
            raise UsageError(f"export: --signature_keys wants TENSOR=KEY, got '{item}'")
        out[tensor.strip()] = key.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from graphrewrite import export, io
    from graphrewrite.inspect import resolve_names
    from graphrewrite.pipeline import split_names

    graph_def = io.load_graph(args.in_graph)
    overrides = parse_key_overrides(args.signature_keys)
    inputs = resolve_names(graph_def, split_names(args.inputs))
    outputs = resolve_names(graph_def, split_names(args.outputs))
    target = export.export_saved_model(
        graph_def, inputs, outputs, args.saved_model_dir, version=args.version, signature_keys=overrides,
        overwrite=args.overwrite, tags=split_names(args.saved_model_tags),
    )  # fmt: skip
    print(f"wrote SavedModel {target} (signature '{export.SERVING}', tags {args.saved_model_tags})")
    _print_keys("inputs", inputs, export.make_keys(inputs, overrides))
    _print_keys("outputs", outputs, export.make_keys(outputs, overrides))
    return 0


def _print_keys(title: str, names: list[str], keys: list[Any]) -> None:
    print(f"{title}:")
    for key, name in zip(keys, names, strict=True):
        print(f"  {key} -> {name}")
