"""The command line: ``graphrewrite COMMAND ...`` and GTT's old program names.

Thin by design: each command module parses its flags, calls library functions, prints, and
returns an exit status. Errors a user can cause are ``GraphRewriteError``s: they are printed
as one line (or a caret block for script errors) with exit status 1 (2 for usage errors),
never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command name -> module under graphrewrite.commands; each has add_arguments(parser) and run(args).
COMMANDS = {
    "transform": ("transform", "rewrite a GraphDef with a transform script (GTT's transform_graph)"),
    "rules": ("rules_cmd", "list every transform with its parameters and one-line doc"),
    "explain": ("explain", "say why a rule does not match at a node"),
    "demo": ("demo", "freeze a small Keras model, transform it, verify it, print a table"),
    "verify": ("verify", "check that two graphs compute the same outputs"),
    "check-rules": ("check_rules", "property-test the rules in a rule file"),
    "freeze": ("freeze", "SavedModel, Keras file or TF1 checkpoint -> one frozen GraphDef"),
    "summarize": ("summarize", "inputs, outputs, ops and sizes of a graph (GTT's summarize_graph)"),
    "export": ("export", "frozen GraphDef -> SavedModel with a serving signature"),
    "convert": ("convert", "GraphDef .pb <-> .pbtxt"),
    "run": ("run", "run a frozen graph on given or random inputs, optionally timing it"),
    "ops-header": ("ops_header", "the ops and kernels graphs need, as a selective-registration header"),
    "check": ("check", "will a graph load in a deployment runtime (opencv, tflite, ...), and what fixes it"),
    "compare": ("compare", "run a graph in TensorFlow and in deployment runtimes; compare outputs and times"),
    "reduce": ("reduce", "shrink a graph that fails a transform, a runtime or a command to a small subgraph"),
    "serve": ("serve", "serve frozen graphs over TF Serving's REST API and OIP v2, with batching and a page"),
    "batch": ("batch", "freeze, transform and verify many models, isolated and resumable, locally or on Dask"),
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with usage errors as our UsageError so main() reports them uniformly."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from graphrewrite.engine.errors import UsageError

        raise UsageError(f"{self.prog}: {message}")


def build_parser(only: str | None = None) -> ArgumentParser:
    parser = ArgumentParser(
        prog="graphrewrite",
        description="Freeze, rewrite and verify TensorFlow GraphDefs (a successor to GTT).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name, (module, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"graphrewrite.commands.{module}").add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``graphrewrite`` script; returns the exit status."""
    from graphrewrite.engine.collector import allow_pausing
    from graphrewrite.engine.errors import GraphRewriteError

    allow_pausing()  # this process is ours: graph-sized work may pause the cyclic collector
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    try:
        parser = build_parser(command if command in COMMANDS else None)
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help()
            return 2
        module = importlib.import_module(f"graphrewrite.commands.{COMMANDS[args.command][0]}")
        return int(module.run(args) or 0)
    except GraphRewriteError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _alias(command: str) -> int:
    return main([command, *sys.argv[1:]])


def transform_graph_main() -> int:
    """``transform_graph``: GTT's program name for ``graphrewrite transform``."""
    return _alias("transform")


def summarize_graph_main() -> int:
    return _alias("summarize")


def print_selective_registration_header_main() -> int:
    """``print_selective_registration_header``: TensorFlow's program name for ``ops-header``."""
    return _alias("ops-header")


def freeze_graph_main() -> int:
    return _alias("freeze")


if __name__ == "__main__":
    sys.exit(main())
