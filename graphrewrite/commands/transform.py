"""``graphrewrite transform`` (and ``transform_graph``): GTT's command line, plus checks.

Old GTT command lines run unchanged. Beyond GTT: ``--transforms=@script.gt``, ``--rules``,
``--verify`` / ``--verify=each``, ``--trace``, ``--dry-run``, a progress display and a closing
summary. The output is written atomically, and only when every step succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from graphrewrite.commands import progress
from graphrewrite.engine.errors import GraphFileError, GraphRewriteError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in_graph", required=True, help="input GraphDef (.pb or .pbtxt, detected by content)")
    parser.add_argument("--out_graph", help="output path; text format with --output_as_text or a .pbtxt name")
    parser.add_argument("--inputs", default="", help="comma-separated input names (x, x:0 or ^x)")
    parser.add_argument("--outputs", default="", help="comma-separated output names")
    parser.add_argument("--transforms", help="the transform script, or @FILE to read it from a file")
    parser.add_argument("--target", help="run the standard script for a runtime: opencv, tflite, openvino, onnx, tfserving, tf")
    parser.add_argument("--output_as_text", action="store_true", help="write a text-format GraphDef")
    parser.add_argument(
        "--rules", action="append", default=[], metavar="FILE", help="load rules from a .rules file (repeatable)"
    )
    parser.add_argument(
        "--verify", nargs="?", const="final", choices=("final", "each"),
        help="check the result computes the same outputs (each: after every step)",
    )  # fmt: skip
    parser.add_argument("--rtol", type=float, help="relative tolerance for --verify")
    parser.add_argument("--atol", type=float, help="absolute tolerance for --verify")
    parser.add_argument("--input_shapes", default="", help='shapes for unknown dims, e.g. "x:1,224,224,3"')
    parser.add_argument("--trace", action="store_true", help="print which rule fired at which node")
    parser.add_argument("--trace-format", dest="trace_format", choices=("text", "json"), default="text")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true", help="print what would change; write nothing")
    parser.add_argument(
        "--profile", nargs="?", const="-", metavar="FILE.json",
        help="per step: rounds, why it stopped, nodes per round; per rule: tried, matched, rewrites, time "
             "(printed, or written as JSON to FILE.json)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress display and no summary")


def read_script(value: str) -> tuple[str, str, Path | None]:
    """The script text, its source name, and its folder (for ``use`` directives)."""
    if not value.startswith("@"):
        return value, "<transforms>", None
    path = Path(value[1:]).expanduser()
    try:
        return path.read_text(), str(path), path.parent
    except OSError as exc:
        raise GraphFileError(f"cannot read transform script '{path}': {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise GraphFileError(f"transform script '{path}' is not UTF-8 text") from None


def _script(args: argparse.Namespace) -> tuple[str, str, Path | None]:
    """The script from --transforms, or the standard one for --target (exactly one is given)."""
    if (args.transforms is None) == (args.target is None):
        raise UsageError("transform: give exactly one of --transforms and --target")
    if args.target is None:
        return read_script(args.transforms)
    from graphrewrite.stdlib_rules.target_scripts import target_script

    return target_script(args.target), f"<target {args.target}>", None


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io, pipeline

    if not args.out_graph and not args.dry_run:
        raise UsageError("transform: --out_graph is required (or use --dry-run)")
    if args.out_graph and io.same_file(args.in_graph, args.out_graph):
        raise UsageError(f"transform: --out_graph '{args.out_graph}' is the input file; refusing to overwrite it")
    text, source, folder = _script(args)
    steps = pipeline.compile_pipeline(text, rule_files=args.rules, source=source, base_dir=folder)
    graph_def = io.load_graph(args.in_graph)
    checker = _checker(args, graph_def, steps) if args.verify else None
    result = _run(args, graph_def, steps, checker)
    if checker is not None and args.verify == "final":
        _check(checker, result.graph_def, "the transformed graph")
    if args.profile:
        _profile(result.report, args.profile)
    if args.dry_run:
        _print_diff(graph_def, result.graph_def)
        return 0
    as_text = True if args.output_as_text else None
    io.save_graph(result.graph_def, args.out_graph, as_text=as_text)
    if not args.quiet:
        _summary(result, args.in_graph, args.out_graph)
    return 0


def _run(args: argparse.Namespace, graph_def: Any, steps: Any, checker: Any) -> Any:
    from graphrewrite import pipeline

    trace = _tracer(args.trace_format) if args.trace else None
    show = progress.StepProgress(len(steps), enabled=not args.quiet)

    def after_step(index: int, step: Any, graph: Any) -> None:
        show.advance(step.name, len(graph))
        if checker is not None and args.verify == "each":
            _check(checker, graph.to_graphdef(), f"step {index + 1} ({step.name})")

    with show:
        return pipeline.run_pipeline(
            graph_def, steps, inputs=args.inputs, outputs=args.outputs, trace=trace, after_step=after_step
        )


def _checker(args: argparse.Namespace, graph_def: Any, steps: Any) -> Any:
    from graphrewrite.pipeline import checker_for

    return checker_for(
        graph_def, steps, inputs=args.inputs or None, outputs=args.outputs or None,
        rtol=args.rtol, atol=args.atol, input_shapes=args.input_shapes or None,
    )  # fmt: skip


class VerificationFailed(GraphRewriteError):
    """--verify found outputs that differ beyond tolerance."""


def _check(checker: Any, graph_def: Any, what: str) -> None:
    report = checker(graph_def)
    print(report.table(), file=sys.stderr)
    if not report.ok:
        raise VerificationFailed(f"{what} does not compute the same outputs; nothing was written")


def _profile(report: Any, target: str) -> None:
    from graphrewrite import io

    if target == "-":
        print(report.profile(), file=sys.stderr)
    else:
        io.write_atomic(Path(target), (json.dumps(report.to_dict(), indent=1, sort_keys=True) + "\n").encode())


def _tracer(fmt: str) -> Any:
    def emit(event: Any) -> None:
        if fmt == "json":
            record = {
                "iteration": event.iteration, "rule": event.rule, "root": event.root,
                "matched": list(event.matched), "added": list(event.added), "removed": list(event.removed),
            }  # fmt: skip
            print(json.dumps(record, sort_keys=True), file=sys.stderr)
        else:
            print(f"[{event.iteration}] {event.rule} fired at {event.root}"
                  f" (removed {len(event.removed)}, added {len(event.added)})", file=sys.stderr)  # fmt: skip

    return emit


def _print_diff(before: Any, after: Any) -> None:
    from graphrewrite.diff import diff_graphs
    from graphrewrite.engine.graph import Graph

    print(diff_graphs(Graph.from_graphdef(before), Graph.from_graphdef(after)).render())
    print("dry run: nothing was written")


def _summary(result: Any, in_path: str, out_path: str) -> None:
    print(result.report.table())
    before, after = Path(in_path).stat().st_size, Path(out_path).stat().st_size
    print(f"nodes {result.report.nodes_before} -> {result.report.nodes_after}; "
          f"size {before:,} -> {after:,} bytes; wrote {out_path}")  # fmt: skip
