"""One model of a batch, end to end, in the current process: freeze when needed, transform,
verify, write the output atomically. Any GraphRewriteError becomes a failed :class:`Result`
with its one-line message; other exceptions are left to the isolating process to report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from graphrewrite.batch.manifest import ModelSpec
from graphrewrite.batch.results import FAILED, OK, Result
from graphrewrite.engine.errors import GraphRewriteError


def run_job(spec: ModelSpec, output_dir: str, key: str = "") -> Result:
    """Freeze (when *spec* is not a frozen graph), transform and verify one model; the output
    goes to ``<output_dir>/<name>.pb``, only when everything succeeded."""
    start = time.perf_counter()
    try:
        return _run(spec, Path(output_dir), key, start)
    except GraphRewriteError as exc:
        return Result(spec.name, FAILED, key, time.perf_counter() - start, error=str(exc).splitlines()[0])


def _run(spec: ModelSpec, output_dir: Path, key: str, start: float) -> Result:
    from graphrewrite import pipeline
    from graphrewrite.io import save_graph

    graph_def, inputs, outputs = _frozen(spec)
    steps = pipeline.compile_pipeline(spec.transforms)
    done = pipeline.run_pipeline(graph_def, steps, inputs=inputs, outputs=outputs)
    verified, max_abs, error = None, None, ""
    if spec.verify:
        checker = pipeline.checker_for(graph_def, steps, inputs=inputs or None, outputs=outputs or None)
        report = checker(done.graph_def)
        verified = report.ok
        max_abs = max((c.max_abs for c in report.outputs), default=0.0)
        if not report.ok:
            worst = report.failed[0]
            error = f"verification failed: output {worst.name} differs by {worst.max_abs:.3g}" + (f" ({worst.note})" if worst.note else "")
    seconds = time.perf_counter() - start
    counts = {"nodes_before": len(graph_def.node), "nodes_after": len(done.graph_def.node)}
    if error:
        return Result(spec.name, FAILED, key, seconds, verified=verified, max_abs_err=max_abs, error=error, **counts)
    output = output_dir / f"{spec.name}.pb"
    save_graph(done.graph_def, output, as_text=False)
    return Result(spec.name, OK, key, seconds, output=str(output), verified=verified, max_abs_err=max_abs, **counts)


def _frozen(spec: ModelSpec) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    """The model as a frozen GraphDef, with the inputs and outputs to transform it for."""
    from graphrewrite import freeze
    from graphrewrite.io import load_graph

    if spec.kind == "graph":
        from graphrewrite.engine.graph import Graph
        from graphrewrite.verification import default_inputs, default_outputs

        graph_def = load_graph(spec.path)
        graph = Graph.from_graphdef(graph_def, copy=False)
        return graph_def, spec.inputs or default_inputs(graph), spec.outputs or default_outputs(graph)
    if spec.kind == "saved_model":
        frozen = freeze.freeze_saved_model(spec.path)
    elif spec.kind == "keras":
        frozen = freeze.freeze_keras_model(spec.path)
    else:
        frozen = freeze.freeze_checkpoint(spec.path, spec.checkpoint, list(spec.outputs))
    return frozen.graph_def, spec.inputs or frozen.input_names, spec.outputs or frozen.output_names
