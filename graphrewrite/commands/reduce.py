"""``graphrewrite reduce GRAPH``: shrink a failing graph to a small subgraph that still fails.

The failure is one of: a transform script (``--transforms``, with ``--rules`` files) that
changes the numbers or breaks the graph; a runtime (``--target``) that refuses the graph or
disagrees with TensorFlow; or any shell command (``--command``) that exits non-zero. Writes the
subgraph (``--out_graph``), the values of its inputs (an .npz beside it) and prints a report
with the command that reproduces the failure. Exit 0 when a reduced graph was written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from graphrewrite.engine.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="a frozen GraphDef (.pb or .pbtxt) that fails")
    parser.add_argument(
        "--out_graph", required=True, help="where the reduced graph goes (its inputs: the same name, .npz)"
    )
    parser.add_argument("--inputs", help="comma-separated input names (default: the graph's Placeholders)")
    parser.add_argument("--outputs", help="comma-separated output names (default: the graph's sink nodes)")
    parser.add_argument("--input_file", help="an .npz of input values (default: random values)")
    parser.add_argument("--input_shapes", help='shapes for unknown dims, e.g. "x:1,224,224,3" (default 1)')
    failing = parser.add_argument_group("the failure (give exactly one)")
    failing.add_argument(
        "--transforms", help="a transform script whose result differs from the graph (or @FILE)"
    )
    failing.add_argument("--target", help="a runtime that refuses the graph or disagrees with TensorFlow")
    failing.add_argument(  # dest: "command" is the CLI's own (which subcommand runs)
        "--command", dest="shell_command", metavar="CMD", help="a shell command that exits non-zero; it names the candidate as {graph}, and may use "
        "{inputs} (an .npz of its input values), {input_names} and {output_names}",
    )  # fmt: skip
    parser.add_argument(
        "--rules", action="append", default=[], metavar="FILE", help="rule files for --transforms"
    )
    parser.add_argument(
        "--rtol", type=float, help="relative tolerance (default: as verify, or 1e-3 with --target)"
    )
    parser.add_argument(
        "--atol", type=float, help="absolute tolerance (default: as verify, or 1e-4 with --target)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds before --command counts as hung (300)"
    )
    parser.add_argument(
        "--match",
        help="also require the failure's message (or anything --command printed) to match this regular expression",
    )
    parser.add_argument(
        "--max_checks", type=int, default=300, help="stop after this many checks (default 300)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--quiet", action="store_true", help="no line per check on stderr")


def _check(args: argparse.Namespace) -> Any:
    from graphrewrite.targets import failures

    given = [flag for flag in ("transforms", "target", "shell_command") if getattr(args, flag) is not None]
    if len(given) != 1:
        raise UsageError("reduce: give exactly one of --transforms, --target and --command")
    if args.rules and not args.transforms:
        raise UsageError("reduce: --rules goes with --transforms")
    if args.transforms is not None:
        from graphrewrite.commands.transform import read_script

        text, _source, _folder = read_script(args.transforms)
        return failures.TransformCheck.compile(text, args.rules, rtol=args.rtol, atol=args.atol)
    if args.target is not None:
        from graphrewrite.targets import runtimes

        runtimes.require(runtimes.get_runtime(args.target))
        return failures.TargetCheck(args.target, rtol=1e-3 if args.rtol is None else args.rtol,
                                    atol=1e-4 if args.atol is None else args.atol)  # fmt: skip
    return failures.CommandCheck(args.shell_command, timeout=args.timeout)


def _progress(phase: str, candidate: Any, fails: bool) -> None:
    verdict = "still fails" if fails else "passes"
    print(f"  {phase:<12} {candidate.size:>6,} nodes  {verdict}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.targets import compare, reduce, reduce_report

    if args.max_checks < 1:
        raise UsageError(f"reduce: --max_checks={args.max_checks} must be at least 1")
    if args.timeout <= 0:
        raise UsageError(f"reduce: --timeout={args.timeout:g} must be positive")
    if io.same_file(args.graph, args.out_graph):
        raise UsageError(
            f"reduce: --out_graph '{args.out_graph}' is the input file; refusing to overwrite it"
        )
    check = _check(args)
    graph_def = io.load_graph(args.graph)
    inputs, outputs = compare.resolve_io(graph_def, inputs=args.inputs, outputs=args.outputs)
    feeds = compare.make_feeds(graph_def, inputs, input_file=args.input_file, input_shapes=args.input_shapes)
    result = reduce.reduce_graph(
        graph_def, check, inputs=inputs, outputs=outputs, feeds=feeds, match=args.match, max_checks=args.max_checks,
        progress=None if args.quiet or args.json else _progress,
    )  # fmt: skip
    files = reduce_report.write(result, Path(args.out_graph))
    if args.json:
        print(json.dumps(reduce_report.as_json(result, check, args.graph, files), indent=2))
    else:
        print(reduce_report.render(result, check, args.graph, files))
    return 0
