"""Run one graph in TensorFlow and in deployment runtimes on the same inputs; compare outputs.

``compare_targets`` is the library behind ``graphrewrite compare``: TF (grappler off) is the
reference, each runtime is loaded through :mod:`graphrewrite.targets.runtimes`, and each output
is judged by :func:`graphrewrite.verification.compare` relative to the output's magnitude.
A runtime that refuses the graph is a result (``loaded=False`` with its message), not an error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.errors import UsageError
from graphrewrite.targets import runtimes
from graphrewrite.verification import OutputCheck, compare

RTOL = 1e-3
ATOL = 1e-4


@attrs.frozen
class TargetResult:
    """One runtime's verdict: did it load, how long each stage took, and each output's error."""

    target: str
    loaded: bool
    error: str = ""  # the runtime's own message when it refused or failed
    convert_seconds: float = 0.0
    load_seconds: float = 0.0
    run_seconds: float = 0.0
    layers: int | None = None
    outputs: tuple[OutputCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return self.loaded and not self.error and all(c.ok for c in self.outputs)


@attrs.frozen
class CompareReport:
    """Every runtime compared with TensorFlow on the same feeds, with the tolerance used."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    results: tuple[TargetResult, ...]
    rtol: float
    atol: float
    reference_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def resolve_io(graph_def: Any, *, inputs: str | Sequence[str] | None, outputs: str | Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Input and output names as the graph knows them; the graph's Placeholders and sinks by default."""
    from graphrewrite.engine.graph import Graph
    from graphrewrite.inspect import resolve_names
    from graphrewrite.verification import default_inputs, default_outputs

    graph = Graph.from_graphdef(graph_def)
    chosen_inputs = _split(inputs) or list(default_inputs(graph))
    chosen_outputs = _split(outputs) or list(default_outputs(graph))
    if not chosen_outputs:
        raise UsageError("the graph has no output to compare; give --outputs")
    return resolve_names(graph, chosen_inputs), resolve_names(graph, chosen_outputs)


def make_feeds(
    graph_def: Any, inputs: Sequence[str], *, input_file: str | None = None, input_shapes: str | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """Input values from an .npz file, or random ones shaped by the graph and *input_shapes*."""
    from graphrewrite import inputs as feeding

    if input_file:
        return feeding.check_feeds(feeding.load_npz(input_file), inputs)
    return feeding.random_feeds(graph_def, inputs, input_shapes, seed=seed)


def _split(names: str | Sequence[str] | None) -> list[str]:
    items = names.split(",") if isinstance(names, str) else list(names or ())
    return [item.strip() for item in items if item.strip()]


def compare_targets(
    graph_def: Any,
    targets: Sequence[str],
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    feeds: Mapping[str, np.ndarray],
    rtol: float = RTOL,
    atol: float = ATOL,
) -> CompareReport:
    """Run *graph_def* in TF and in each of *targets* on *feeds*; a report per target."""
    chosen = [runtimes.get_runtime(name) for name in targets]  # unknown names fail before any work
    for runtime in chosen:
        runtimes.require(runtime)
    shapes = {name: tuple(np.shape(value)) for name, value in feeds.items()}
    reference = runtimes.get_runtime("tf").load(graph_def, inputs=inputs, outputs=outputs, input_shapes=shapes)
    start = time.perf_counter()
    expected = reference.run(feeds)
    reference_seconds = time.perf_counter() - start
    results = tuple(
        run_target(runtime, graph_def, inputs=inputs, outputs=outputs, feeds=feeds, expected=expected, rtol=rtol, atol=atol)
        for runtime in chosen
    )
    return CompareReport(tuple(inputs), tuple(outputs), results, rtol, atol, reference_seconds)


def run_target(
    runtime: runtimes.Runtime,
    graph_def: Any,
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    feeds: Mapping[str, np.ndarray],
    expected: Sequence[np.ndarray],
    rtol: float,
    atol: float,
) -> TargetResult:
    """Load, run and judge one runtime; refusals and run failures become a failed result."""
    shapes = {name: tuple(np.shape(value)) for name, value in feeds.items()}
    try:
        model = runtime.load(graph_def, inputs=inputs, outputs=outputs, input_shapes=shapes)
    except runtimes.LoadError as exc:
        return TargetResult(runtime.name, loaded=False, error=str(exc))
    timing = {"convert_seconds": model.convert_seconds, "load_seconds": model.load_seconds, "layers": model.layers}
    start = time.perf_counter()
    try:
        actual = model.run(feeds)
    except runtimes.RunError as exc:
        return TargetResult(runtime.name, loaded=True, error=str(exc), **timing)
    run_seconds = time.perf_counter() - start
    checks = tuple(
        compare(name, want, have, rtol=rtol, atol=atol, scale="output")
        for name, want, have in zip(outputs, expected, actual, strict=True)
    )
    return TargetResult(runtime.name, loaded=True, run_seconds=run_seconds, outputs=checks, **timing)


def render(report: CompareReport) -> str:
    """A plain-text table: one row per (target, output), then load failures and the tolerance."""
    rows = [("target", "output", "max abs err", "max rel err", "ok", "convert s", "load s", "run s", "layers")]
    for r in report.results:
        times = (f"{r.convert_seconds:.3f}", f"{r.load_seconds:.3f}", f"{r.run_seconds:.3f}", str(r.layers or "-"))
        if not r.loaded or r.error:
            rows.append((r.target, "-", "-", "-", "FAILED" if r.loaded else "NO LOAD", *(times if r.loaded else ("-",) * 4)))
            continue
        for c in r.outputs:
            verdict = "yes" if c.ok else "NO" + (f" ({c.note})" if c.note else "")
            rows.append((r.target, c.name, _number(c.max_abs), _number(c.max_rel), verdict, *times))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += [r.error for r in report.results if r.error]  # each starts with its runtime's name
    lines.append(f"tolerance: rtol={report.rtol:g} atol={report.atol:g}, relative to each output's largest magnitude")
    lines.append("all targets match TensorFlow" if report.ok else "FAILED: " + "; ".join(_failures(report)))
    return "\n".join(lines)


def _failures(report: CompareReport) -> list[str]:
    verdicts = []
    for r in report.results:
        if not r.loaded:
            verdicts.append(f"{r.target} does not load")
        elif r.error:
            verdicts.append(f"{r.target} fails to run")
        elif not r.ok:
            verdicts.append(f"{r.target} differs from TensorFlow on {', '.join(c.name for c in r.outputs if not c.ok)}")
    return verdicts


def as_json(report: CompareReport, graph_path: str) -> dict[str, Any]:
    """The report as JSON-ready data (inf errors as null)."""
    return {
        "graph": graph_path,
        "ok": report.ok,
        "inputs": list(report.inputs),
        "outputs": list(report.outputs),
        "rtol": report.rtol,
        "atol": report.atol,
        "reference_run_seconds": report.reference_seconds,
        "targets": [_result_json(r) for r in report.results],
    }


def _result_json(result: TargetResult) -> dict[str, Any]:
    data = attrs.asdict(result, recurse=False, filter=lambda a, _v: a.name != "outputs")
    data["ok"] = result.ok
    data["outputs"] = [
        {"name": c.name, "max_abs": _finite(c.max_abs), "max_rel": _finite(c.max_rel), "ok": c.ok, "note": c.note}
        for c in result.outputs
    ]
    return data


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _number(value: float) -> str:
    return "inf" if np.isinf(value) else f"{value:.3g}"
