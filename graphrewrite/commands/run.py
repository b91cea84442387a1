"""``graphrewrite run``: run a frozen graph on given or random inputs, optionally timing it.

Inputs come from ``--input_file=in.npz`` or are random by dtype and shape (unknown dims from
``--input_shapes``, else 1); ``--inputs``/``--outputs`` default to what ``summarize`` finds.
It prints each output's dtype, shape and summary statistics, can save them to an ``.npz``,
and with ``--benchmark`` reports latency percentiles over ``--runs`` after ``--warmup`` runs.
Grappler is off, as everywhere in graphrewrite: the graph runs as written.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphrewrite.engine.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in_graph", required=True, help="a frozen GraphDef (.pb or .pbtxt)")
    parser.add_argument("--inputs", default="", help="comma-separated inputs (default: the graph's Placeholders)")
    parser.add_argument("--outputs", default="", help="comma-separated outputs (default: the likely outputs)")
    parser.add_argument("--input_file", help="an .npz with one array per input (keys x or x:0)")
    parser.add_argument("--output_file", help="write the outputs to this .npz")
    parser.add_argument("--input_shapes", default="", help='shapes for unknown dims, e.g. "x:1,224,224,3;y:1"')
    parser.add_argument("--seed", type=int, default=0, help="seed for random inputs")
    parser.add_argument("--benchmark", action="store_true", help="time the graph over --runs runs")
    parser.add_argument("--runs", type=int, default=50, help="timed runs for --benchmark (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")


def run(args: argparse.Namespace) -> int:
    from graphrewrite import inputs as feeds_lib
    from graphrewrite import io
    from graphrewrite.runner import GraphRunner

    if args.runs < 1 or args.warmup < 0:
        raise UsageError(f"run: --runs must be 1 or more and --warmup 0 or more (got {args.runs}, {args.warmup})")
    graph_def = io.load_graph(args.in_graph)
    inputs, outputs = _names(graph_def, args.inputs, args.outputs)
    with GraphRunner(graph_def) as runner:
        if args.input_file:
            feeds = feeds_lib.check_feeds(feeds_lib.load_npz(args.input_file), inputs)
        else:
            feeds = feeds_lib.random_feeds(runner, inputs, args.input_shapes or None, seed=args.seed)
        values = runner.run(feeds, outputs)
        print(describe("input", feeds))
        print(describe("output", dict(zip(outputs, values, strict=True))))
        if args.output_file:
            feeds_lib.save_npz(args.output_file, dict(zip(outputs, values, strict=True)))
            print(f"wrote {args.output_file}")
        if args.benchmark:
            print(latency_report(benchmark(runner, feeds, outputs, runs=args.runs, warmup=args.warmup)))
    return 0


def _names(graph_def: Any, inputs: str, outputs: str) -> tuple[list[str], list[str]]:
    from graphrewrite.inspect import resolve_names, summarize
    from graphrewrite.pipeline import split_names

    summary = summarize(graph_def) if not inputs or not outputs else None
    found_in = resolve_names(graph_def, split_names(inputs)) if inputs else list(summary.input_names)
    found_out = resolve_names(graph_def, split_names(outputs)) if outputs else list(summary.output_names)
    if not found_out:
        raise UsageError("run: the graph has no obvious outputs; name them with --outputs")
    return found_in, found_out


def describe(kind: str, arrays: dict[str, np.ndarray]) -> str:
    """One line per array: name, dtype, shape, and min/max/mean/std for numbers."""
    lines = []
    for name, value in arrays.items():
        value = np.asarray(value)
        line = f"{kind} {name}: {value.dtype} {list(value.shape)}"
        if value.size and (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            v = value.astype(np.float64)
            line += f"  min {v.min():.6g}  max {v.max():.6g}  mean {v.mean():.6g}  std {v.std():.6g}"
        lines.append(line)
    return "\n".join(lines) if lines else f"no {kind}s"


def benchmark(runner: Any, feeds: dict[str, np.ndarray], outputs: Sequence[str], *, runs: int, warmup: int) -> np.ndarray:
    """Seconds per run over *runs* timed runs, after *warmup* untimed ones."""
    for _ in range(warmup):
        runner.run(feeds, outputs)
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        runner.run(feeds, outputs)
        times[i] = time.perf_counter() - start
    return times


def latency_report(times: np.ndarray) -> str:
    p50, p90, p99 = np.percentile(times, [50, 90, 99]) * 1000
    return (
        f"latency over {len(times)} runs: mean {times.mean() * 1000:.3f} ms, "
        f"p50 {p50:.3f} ms, p90 {p90:.3f} ms, p99 {p99:.3f} ms"
    )
