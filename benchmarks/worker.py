"""One measured job, run in its own process: ``python -m benchmarks.worker '<job json>'``.

Job kinds:

- ``build``: build one input into the cache (``benchmarks.inputs.build``).
- ``reference``: run the original graph once on seeded random feeds; save feeds and outputs.
- ``tool``: parse the input, run one tool on it (timed, peak RSS measured), save the result,
  then run the result on the same feeds and compare with the reference outputs.

A fresh process per tool run keeps peak memory honest (nothing left over from another tool)
and confines a crash to one table cell. The result is one JSON line on stdout, after
``RESULT_MARKER``; whatever TensorFlow prints around it is ignored.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.memory import PeakMeter

RESULT_MARKER = "BENCH-RESULT "
SEED = 0
MIN_RUNS = 3
LONG_RUN = 5.0  # seconds; a first run this long is not repeated


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run *job* in this process; failures come back as ``{"error": reason}``."""
    try:
        kind = job["kind"]
        if kind == "build":
            return _build(job)
        if kind == "reference":
            return _reference(job)
        if kind == "tool":
            return _tool(job)
        return {"error": f"unknown job kind '{kind}'"}
    except Exception as exc:
        return {"error": describe(exc), "traceback": traceback.format_exc(limit=8)}


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, short enough for a table cell's footnote."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


def _build(job: dict[str, Any]) -> dict[str, Any]:
    from benchmarks import inputs

    built = inputs.build(inputs.spec_named(job["spec"]), Path(job["cache"]))
    return {"nodes": built.nodes, "path": built.path}


def _load(path: str) -> Any:
    from graphrewrite import _tf

    graph_def = _tf.pb().GraphDef()
    graph_def.ParseFromString(Path(path).read_bytes())
    return graph_def


def random_feeds(graph_def: Any, inputs: list[str], seed: int = SEED) -> dict[str, np.ndarray]:
    """Seeded random values for each input Placeholder; unknown dimensions become 1."""
    from graphrewrite import _tf

    tf = _tf.tf()
    rng = np.random.default_rng(seed)
    by_name = {n.name: n for n in graph_def.node}
    feeds = {}
    for name in inputs:
        node = by_name[name]
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
        shape = tuple(max(d.size, 1) for d in node.attr["shape"].shape.dim)
        if np.issubdtype(dtype, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[name] = rng.integers(0, 4, shape).astype(dtype)
    return feeds


def _reference(job: dict[str, Any]) -> dict[str, Any]:
    from graphrewrite.runner import run_graph

    graph_def = _load(job["path"])
    feeds = random_feeds(graph_def, job["inputs"])
    start = time.perf_counter()
    values = run_graph(graph_def, feeds, job["outputs"])
    seconds = time.perf_counter() - start
    arrays = {f"feed/{k}": v for k, v in feeds.items()}
    arrays.update({f"out/{k}": v for k, v in zip(job["outputs"], values, strict=True)})
    np.savez(job["refs"], **arrays)
    return {"nodes": len(graph_def.node), "run_seconds": seconds}


def _tool(job: dict[str, Any]) -> dict[str, Any]:
    from benchmarks import anchors

    anchors.import_for(job["tool"])
    tool = anchors.TOOLS[job["tool"]]
    graph_def = _load(job["path"])
    args = (graph_def, job["inputs"], job["outputs"], job["transforms"])
    try:
        result, times, cpu_times, peak = _measure(tool, args, job.get("min_seconds", 1.0), job.get("max_runs", 5))
    except anchors.ToolUnavailable as exc:
        return {"error": f"unavailable: {exc}"}
    except Exception as exc:
        return {"error": describe(exc), "traceback": traceback.format_exc(limit=8)}
    out = {
        "nodes_after": len(result.node),
        "seconds": statistics.median(times),
        "cpu_seconds": statistics.median(cpu_times),  # all threads; > seconds when parallel
        "first_seconds": times[0],  # includes one-time costs (rule files parsed, caches filled)
        "runs": len(times),
        "peak_bytes": peak,
    }
    if job.get("out"):
        Path(job["out"]).write_bytes(result.SerializeToString(deterministic=True))
    if job.get("refs"):
        out.update(check_outputs(result, job["refs"], job["outputs"]))
    return out


def _measure(
    tool: Any, args: tuple[Any, ...], min_seconds: float, max_runs: int
) -> tuple[Any, list[float], list[float], int]:
    """Run *tool* once under the peak meter, then again while the total is under
    *min_seconds* or fewer than MIN_RUNS ran (at most *max_runs*), so short runs get a
    median, not one sample. Wall and CPU times are kept: on a shared machine a wall time
    far above the CPU time of a single-threaded tool means it waited for a core."""
    gc.collect()
    with PeakMeter() as meter:
        start, cpu = time.perf_counter(), time.process_time()
        result = tool(*args)
        times = [time.perf_counter() - start]
        cpu_times = [time.process_time() - cpu]
    # The machine may be shared: short runs are repeated (at least MIN_RUNS times) so one
    # unlucky sample does not decide the cell; long runs are measured once.
    while len(times) < max_runs and times[0] < LONG_RUN and (sum(times) < min_seconds or len(times) < MIN_RUNS):
        del result
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        result = tool(*args)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    return result, times, cpu_times, meter.peak


def check_outputs(result: Any, refs_path: str, outputs: list[str]) -> dict[str, Any]:
    """Run *result* on the reference feeds; the largest absolute error over all outputs,
    and that error relative to the largest reference magnitude."""
    from graphrewrite.runner import run_graph

    refs = np.load(refs_path)
    feeds = {k[5:]: refs[k] for k in refs.files if k.startswith("feed/")}
    try:
        values = run_graph(result, feeds, outputs)
    except Exception as exc:
        return {"check_error": describe(exc)}
    worst, scale = 0.0, 0.0
    for name, value in zip(outputs, values, strict=True):
        expected = refs[f"out/{name}"]
        if np.shape(value) != expected.shape:
            return {"check_error": f"output '{name}' has shape {np.shape(value)}, expected {expected.shape}"}
        diff = np.abs(np.asarray(value, dtype=np.float64) - expected)
        worst = max(worst, float(np.max(diff, initial=0.0)) if np.all(np.isfinite(diff)) else float("inf"))
        scale = max(scale, float(np.max(np.abs(expected), initial=0.0)))
    return {"max_abs_err": worst, "max_rel_err": worst / scale if scale else worst}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.worker '<job json>'", file=sys.stderr)
        return 2
    from graphrewrite.engine.collector import allow_pausing

    allow_pausing()  # the benchmark measures what the command line does
    result = run_job(json.loads(argv[0]))
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
