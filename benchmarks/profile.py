"""Profile graphrewrite's transform on one benchmark input:
``python -m benchmarks.profile chain_17k [--transforms ...] [--html out.html]``.

Uses pyinstrument when installed (``pip install pyinstrument``; not a package dependency),
else cProfile. Only the in-process transform is profiled, after TensorFlow is imported and
the input is parsed, exactly the span ``benchmarks.run`` times: a warm run (after one unprofiled
run; ``--cold`` profiles the first), with the collector pausing allowed as in the benchmark's
worker. Also prints the per-step
report, so a slow step can be told from a slow engine.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import inputs
from benchmarks.anchors import STANDARD_PIPELINE


def _prepare(name: str, cache_dir: Path) -> tuple[Any, inputs.BenchInput]:
    from graphrewrite import _tf

    spec = inputs.spec_named(name)
    built = inputs.cached(spec, cache_dir) or inputs.build(spec, cache_dir)
    graph_def = _tf.pb().GraphDef()
    graph_def.ParseFromString(Path(built.path).read_bytes())
    return graph_def, built


def step_report(graph_def: Any, built: inputs.BenchInput, transforms: str) -> str:
    """graphrewrite's own per-step report (steps, nodes before/after, seconds)."""
    import graphrewrite
    from graphrewrite.engine.graph import Graph

    start = time.perf_counter()
    steps = graphrewrite.compile_pipeline(transforms)
    compiled = time.perf_counter()
    graph = Graph.from_graphdef(graph_def)
    loaded = time.perf_counter()
    graph.to_graphdef()
    saved = time.perf_counter()
    result = graphrewrite.run_pipeline(graph_def, steps, inputs=list(built.inputs), outputs=list(built.outputs))
    table = result.report.table() if hasattr(result.report, "table") else str(result.report)
    return (
        f"compile script {compiled - start:.3f} s, Graph.from_graphdef {loaded - compiled:.3f} s, "
        f"Graph.to_graphdef (unchanged graph) {saved - loaded:.3f} s\n{table}"
    )


def profile(call: Callable[[], Any], html: Path | None) -> str:
    """Run *call* under pyinstrument (or cProfile) and return the text report."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        profiler = cProfile.Profile()
        profiler.runcall(call)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        return "(pyinstrument not installed; cProfile, cumulative)\n" + out.getvalue()
    sampler = Profiler(interval=0.0005)
    sampler.start()
    call()
    sampler.stop()
    if html is not None:
        html.write_text(sampler.output_html())
    return sampler.output_text(unicode=True, color=False, show_all=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n")[0])
    parser.add_argument("graph", help="a benchmark input, e.g. chain_17k or mobilenet_v2")
    parser.add_argument("--transforms", default=STANDARD_PIPELINE)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    parser.add_argument("--no-steps", action="store_true", help="skip the per-step report run")
    parser.add_argument("--cold", action="store_true", help="profile the first run (rule files parsed, caches empty)")
    args = parser.parse_args(argv)
    graph_def, built = _prepare(args.graph, args.cache or inputs.default_cache_dir())
    import graphrewrite
    from graphrewrite.engine.collector import allow_pausing

    allow_pausing()  # as benchmarks.worker and the command line do

    def call() -> Any:
        return graphrewrite.transform_graph(graph_def, list(built.inputs), list(built.outputs), args.transforms)

    if not args.cold:
        call()  # the benchmark's median is a warm run: one-time costs are its "1st run s"

    start = time.perf_counter()
    text = profile(call, args.html)
    print(f"{built.name}: {built.nodes:,} nodes, profiled run {time.perf_counter() - start:.2f} s\n")
    print(text)
    if not args.no_steps:
        print(step_report(graph_def, built, args.transforms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
