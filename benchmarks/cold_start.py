"""What a command-line user pays: one fresh process, start-up and file I/O included.

    python -m benchmarks.cold_start [--graph mobilenet_v2] [--runs 5]

Times, as fresh processes on the same cached input and the standard pipeline:

- ``graphrewrite transform --in_graph=G --out_graph=OUT ... --quiet`` (the installed CLI);
- the same pipeline through GTT's C++ binding in the TF wheel, in a fresh ``python -c``: read
  the file, ``TransformGraphWithStringInputs``, write the result;
- ``python -c "import tensorflow"``: the floor both share, since both need TensorFlow (GTT for
  its binding, graphrewrite for TensorFlow's op registry and protobuf classes).

Prints the median wall time of each and the ratio graphrewrite / GTT (issue 13's target: < 1).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.anchors import STANDARD_PIPELINE
from benchmarks.inputs import build, cached, default_cache_dir, spec_named

GTT_SCRIPT = """
import sys
from pathlib import Path
from tensorflow.python.util import _pywrap_transform_graph
graph, out, inputs, outputs, script = sys.argv[1:]
data = _pywrap_transform_graph.TransformGraphWithStringInputs(Path(graph).read_bytes(), inputs, outputs, script)
Path(out).write_bytes(data)
"""


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:3])} ... failed: {done.stderr.strip().splitlines()[-1:]}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="mobilenet_v2", help="a benchmark input (benchmarks.inputs)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    spec = spec_named(args.graph)
    found = cached(spec, default_cache_dir()) or build(spec, default_cache_dir())
    inputs, outputs = ",".join(found.inputs), ",".join(found.outputs)
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder, "out.pb"))
        graphrewrite = [
            sys.executable, "-m", "graphrewrite", "transform", f"--in_graph={found.path}", f"--out_graph={out}",
            f"--inputs={inputs}", f"--outputs={outputs}", f"--transforms={STANDARD_PIPELINE}", "--quiet",
        ]  # fmt: skip
        gtt = [sys.executable, "-c", GTT_SCRIPT, found.path, out, inputs, outputs, STANDARD_PIPELINE]
        rows = [
            (
                "python -c 'import tensorflow'",
                median_seconds([sys.executable, "-c", "import tensorflow"], args.runs),
            ),
            ("GTT's C++ binding, fresh process", median_seconds(gtt, args.runs)),
            ("graphrewrite transform, fresh process", median_seconds(graphrewrite, args.runs)),
        ]
    print(f"{found.name} ({found.nodes:,} nodes), median of {args.runs} fresh processes\n")
    print("| command | seconds |\n| --- | --- |")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    ratio = rows[2][1] / rows[1][1]
    print(f"\ngraphrewrite / GTT: {ratio:.2f}x (target < 1: {'PASS' if ratio < 1 else 'FAIL'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
