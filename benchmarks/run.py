"""The one benchmark command: ``python -m benchmarks.run [--quick]``.

Builds (or reads from the cache) every input, runs each tool on each input in its own
subprocess, checks every result's outputs against the original graph's, and prints the
table, the CLI start-up times and the target checks. This process never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from benchmarks import inputs as inputs_mod
from benchmarks import report, targets
from benchmarks.anchors import STANDARD_PIPELINE, TOOLS
from benchmarks.worker import RESULT_MARKER, run_job

ROOT = Path(__file__).resolve().parent.parent
Job = dict[str, Any]


@attrs.frozen
class Runner:
    """Runs worker jobs: each in a fresh subprocess (the default), or in this process."""

    timeout: float = 900.0
    in_process: bool = False

    def run(self, job: Job) -> dict[str, Any]:
        if self.in_process:
            return run_job(job)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "benchmarks.worker", json.dumps(job)]
        try:
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.timeout:.0f} s"}
        for line in reversed(done.stdout.splitlines()):
            if line.startswith(RESULT_MARKER):
                return json.loads(line[len(RESULT_MARKER) :])
        tail = [ln for ln in done.stderr.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        return {"error": f"worker exited with status {done.returncode}: {tail[0][:200]}"}


def ensure_input(spec: inputs_mod.InputSpec, cache_dir: Path, runner: Runner) -> inputs_mod.BenchInput | str:
    """The cached input for *spec*, building it first when needed; a string says why not."""
    found = inputs_mod.cached(spec, cache_dir)
    if found is not None:
        return found
    result = runner.run({"kind": "build", "spec": spec.name, "cache": str(cache_dir)})
    found = inputs_mod.cached(spec, cache_dir)
    return found if found is not None else result.get("error", "build produced no file")


def benchmark(
    specs: Sequence[inputs_mod.InputSpec],
    tools: Sequence[str],
    *,
    transforms: str = STANDARD_PIPELINE,
    cache_dir: Path,
    work_dir: Path,
    runner: Runner,
    log: Callable[[str], None] = lambda text: None,
) -> list[report.Measurement]:
    """Run every tool on every input; one failing never stops the others."""
    rows = []
    for spec in specs:
        built = ensure_input(spec, cache_dir, runner)
        if isinstance(built, str):
            log(f"{spec.name}: cannot build: {built}")
            rows += [report.Measurement(spec.name, 0, 0, t, {"error": f"input: {built}"}) for t in tools]
            continue
        refs = work_dir / f"{spec.name}.refs.npz"
        base: Job = {"path": built.path, "inputs": list(built.inputs), "outputs": list(built.outputs)}
        ref = runner.run({**base, "kind": "reference", "refs": str(refs)})
        log(f"{spec.name}: {built.nodes:,} nodes, reference run " + (ref.get("error") or f"{ref['run_seconds']:.2f} s"))
        for tool in tools:
            job = {**base, "kind": "tool", "tool": tool, "transforms": transforms,
                   "refs": str(refs) if "error" not in ref else "",
                   "out": str(work_dir / f"{spec.name}.{tool}.pb")}
            result = runner.run(job)
            if "error" not in ref and "error" not in result and "max_abs_err" not in result:
                result.setdefault("check_error", "no reference outputs")
            rows.append(report.Measurement(spec.name, built.nodes, built.file_bytes, tool, result, spec.blocks))
            log(f"  {tool}: " + (result.get("error") or f"{result['nodes_after']:,} nodes, {result['seconds']:.3f} s"))
    return rows


def cli_command(*args: str) -> list[str]:
    """How a user runs the CLI: the installed ``graphrewrite`` script, else ``-m``."""
    script = shutil.which("graphrewrite")
    return [script, *args] if script else [sys.executable, "-m", "graphrewrite", *args]


def time_cli(args: Sequence[str], runs: int = 5) -> report.CliTiming:
    """Median wall time of ``graphrewrite <args>`` over *runs* runs."""
    label = " ".join(["graphrewrite", *args])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cli_command(*args), capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return report.CliTiming(label, None, f"exit status {done.returncode}: {tail[:200]}")
    return report.CliTiming(label, statistics.median(times))


def machine() -> str:
    """Date, CPU, core count, Python and TensorFlow versions, for the table's header."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        tf_version = metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        tf_version = "absent"
    today = datetime.date.today().isoformat()
    return (f"{today}, {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, TensorFlow {tf_version}")


def select_specs(graphs: str | None, quick: bool) -> list[inputs_mod.InputSpec]:
    if graphs:
        return [inputs_mod.spec_named(name.strip()) for name in graphs.split(",") if name.strip()]
    return [s for s in inputs_mod.SPECS if s.quick or not quick]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs only (a few minutes)")
    parser.add_argument("--graphs", help="comma-separated inputs, e.g. mobilenet_v2,chain_17k,chain_50b")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, from {','.join(TOOLS)}")
    parser.add_argument("--transforms", default=STANDARD_PIPELINE, help="the transform script")
    parser.add_argument("--cache", type=Path, default=None, help="where built inputs are kept")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per job")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI start-up timing")
    parser.add_argument("--in-process", action="store_true", help="run jobs here (debugging; memory is not per tool)")
    parser.add_argument("--keep", type=Path, help="keep result graphs and reference outputs in this folder")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        print(f"error: unknown tool(s) {unknown}; choose from {list(TOOLS)}", file=sys.stderr)
        return 2
    try:
        specs = select_specs(args.graphs, args.quick)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cache_dir = args.cache or inputs_mod.default_cache_dir()
    runner = Runner(timeout=args.timeout, in_process=args.in_process)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="graphrewrite-bench-") as tmp:
        work_dir = args.keep or Path(tmp)
        work_dir.mkdir(parents=True, exist_ok=True)
        rows = benchmark(specs, tools, transforms=args.transforms, cache_dir=cache_dir,
                         work_dir=work_dir, runner=runner, log=log)
    timings = [] if args.no_cli else [time_cli(["--help"]), time_cli(["rules"])]
    print(render(rows, timings, args.transforms))
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": machine(), "transforms": args.transforms,
             "rows": [attrs.asdict(m) for m in rows], "cli": [attrs.asdict(t) for t in timings]},
            indent=1) + "\n")
    return 0


def render(rows: Sequence[report.Measurement], timings: Sequence[report.CliTiming], transforms: str) -> str:
    """Everything the command prints on stdout: header, table, failures, CLI, targets."""
    parts = [f"Machine: {machine()}", f"Pipeline: `{transforms}`", "", report.table(rows)]
    failed = report.failures(rows)
    if failed:
        parts += ["", "Failures:", *failed]
    if timings:
        parts += ["", report.cli_table(timings)]
    parts += ["", "Targets:", "```", *targets.check_all(rows, timings), "```"]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
