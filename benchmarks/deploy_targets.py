"""The target benchmark: five Keras applications x four graph preparations x four runtimes.

    python -m benchmarks.deploy_targets           # 5 models (CPU heavy: ~15-30 min on 2 cores)
    python -m benchmarks.deploy_targets --quick   # MobileNetV2 only

For each frozen Keras application (``benchmarks.inputs.freeze_keras``: weights=None, random BN
statistics, logits) and each preparation -- the raw frozen graph, GTT's C++ binding with the
standard script, grappler, and ``graphrewrite transform --target=T`` (the target's standard
script) -- each runtime (OpenCV 4.x dnn, TFLite, OpenVINO, ONNX Runtime via tf2onnx) loads the
graph and runs it on the same random input. A cell records whether it loads (the runtime's
message when not), the largest error against TensorFlow on the *raw* graph (relative to the
output's largest magnitude), the graph's node count and the runtime's layer count, and whether
``graphrewrite check --target`` predicted the load verdict.

Each (model, preparation) runs in a child process (a runtime crash loses only its cells); rows
are appended to a JSONL file as they finish, and the Markdown table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODELS = ("MobileNetV2", "ResNet50", "DenseNet121", "InceptionV3", "EfficientNetB0")
PREPARATIONS = ("raw", "gtt", "grappler", "graphrewrite")
RUNTIMES = ("opencv", "tflite", "openvino", "onnx")
TOLERANCE = 1e-3  # relative to the output's largest magnitude
WORKER_TIMEOUT = 1800


def spec_for(keras_class: str) -> Any:
    from benchmarks.inputs import InputSpec

    known = {"MobileNetV2": "mobilenet_v2", "ResNet50": "resnet50", "DenseNet121": "densenet121"}
    name = known.get(keras_class, keras_class.lower())
    return InputSpec(name, "keras", keras_class=keras_class)


def prepare(preparation: str, graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], target: str) -> Any:
    """*graph_def* as *preparation* leaves it for *target* (only graphrewrite depends on it)."""
    from benchmarks import anchors

    if preparation == "raw":
        return graph_def
    if preparation == "gtt":
        return anchors.gtt_tool(graph_def, inputs, outputs, anchors.STANDARD_PIPELINE)
    if preparation == "grappler":
        return anchors.grappler_tool(graph_def, inputs, outputs, "")
    try:
        from graphrewrite.stdlib_rules.target_scripts import target_script

        script = target_script(target)
    except ImportError:  # before transform --target existed: the standard pipeline + arithmetic
        script = anchors.STANDARD_PIPELINE.replace("merge_duplicate_nodes", "simplify_arithmetic merge_duplicate_nodes")
    return anchors.graphrewrite_tool(graph_def, inputs, outputs, script)


def measure(job: dict[str, Any]) -> list[dict[str, Any]]:
    """One (model, preparation): every runtime's cell, compared with TF on the raw graph."""
    import numpy as np

    from benchmarks.inputs import cached
    from graphrewrite import io
    from graphrewrite.inputs import random_feeds
    from graphrewrite.targets import checks, compare

    bench = cached(spec_for(job["model"]), Path(job["cache"]))
    raw = io.load_graph(bench.path)
    inputs, outputs = list(bench.inputs), list(bench.outputs)
    feeds = random_feeds(raw, inputs, seed=0)
    reference = compare.runtimes.get_runtime("tf").load(raw, inputs=inputs, outputs=outputs, input_shapes={})
    expected = reference.run(feeds)
    cells, prepared = [], {}
    for target in job["runtimes"]:
        key = target if job["preparation"] == "graphrewrite" else ""
        cell = {"model": job["model"], "preparation": job["preparation"], "runtime": target}
        try:
            if key not in prepared:
                start = time.perf_counter()
                prepared[key] = prepare(job["preparation"], raw, inputs, outputs, target)
                cell["prepare_seconds"] = time.perf_counter() - start
        except Exception as exc:  # the tool failed: every runtime's cell says why
            prepared[key] = exc
        if isinstance(prepared[key], Exception):
            cells.append({**cell, "loads": False, "error": f"preparation failed: {prepared[key]}"})
            continue
        graph_def = prepared[key]
        cell["check_loads"] = checks.check(graph_def, target).loads  # what `check` predicts
        result = compare.run_target(
            compare.runtimes.get_runtime(target), graph_def, inputs=inputs, outputs=outputs,
            feeds=feeds, expected=expected, rtol=TOLERANCE, atol=0.0,
        )  # fmt: skip
        errors = [c.max_rel for c in result.outputs]
        cells.append({
            **cell, "loads": result.loaded and not result.error, "error": result.error, "ok": result.ok,
            "max_rel": float(np.max(errors)) if errors else None, "nodes": len(graph_def.node),
            "layers": result.layers, "convert_seconds": result.convert_seconds, "load_seconds": result.load_seconds,
        })  # fmt: skip
    return cells


def run_worker(job: dict[str, Any]) -> list[dict[str, Any]]:
    """*job* in a child process; a crash or timeout becomes an error cell per runtime."""
    cmd = [sys.executable, "-m", "benchmarks.deploy_targets", "--worker", json.dumps(job)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        reason = f"timed out after {WORKER_TIMEOUT} s"
    else:
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode == 0 and lines:
            return [json.loads(line) for line in lines]
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        reason = f"worker exited {done.returncode}: {tail[:200]}"
    base = {"model": job["model"], "preparation": job["preparation"], "loads": False, "error": reason}
    return [{**base, "runtime": r} for r in job["runtimes"]]


def ensure_models(models: Sequence[str], cache: Path) -> None:
    from benchmarks.inputs import build, cached

    for model in models:
        if cached(spec_for(model), cache) is None:
            print(f"freezing {model} ...", file=sys.stderr, flush=True)
            build(spec_for(model), cache)


def cell_text(cell: dict[str, Any]) -> str:
    if not cell.get("loads"):
        return "no load"
    error = cell.get("max_rel")
    verdict = "matches" if cell.get("ok") else "WRONG"
    layers = cell.get("layers")
    return f"{verdict} {error:.0e}, {cell['nodes']}/{layers if layers is not None else '-'}"


def render(cells: Sequence[dict[str, Any]]) -> str:
    """The Markdown table (model x preparation rows, runtime columns) and the refusal notes."""
    by_key = {(c["model"], c["preparation"], c["runtime"]): c for c in cells}
    rows = sorted({(c["model"], c["preparation"]) for c in cells}, key=lambda k: (MODELS.index(k[0]), PREPARATIONS.index(k[1])))
    lines = ["| model | graph | " + " | ".join(RUNTIMES) + " |", "|---|---|" + "---|" * len(RUNTIMES)]
    notes = []
    for model, prep in rows:
        texts = []
        for runtime in RUNTIMES:
            cell = by_key.get((model, prep, runtime))
            texts.append("" if cell is None else cell_text(cell))
            if cell is not None and not cell.get("loads"):
                notes.append(f"- {model} / {prep} / {runtime}: {cell.get('error', '')}")
        lines.append(f"| {model} | {prep} | " + " | ".join(texts) + " |")
    return "\n".join([*lines, "", check_agreement(cells), "", *notes])


def check_agreement(cells: Sequence[dict[str, Any]]) -> str:
    """How often ``graphrewrite check --target`` predicted the runtime's load verdict."""
    judged = [c for c in cells if "check_loads" in c]
    wrong = [c for c in judged if c["check_loads"] != bool(c.get("loads"))]
    lines = [f"`check --target` predicted the load verdict in {len(judged) - len(wrong)} of {len(judged)} cells."]
    lines += [
        f"- check disagrees: {c['model']} / {c['preparation']} / {c['runtime']} "
        f"(check: {'loads' if c['check_loads'] else 'no load'}, runtime: {'loads' if c.get('loads') else 'no load'})"
        for c in wrong
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MobileNetV2 only")
    parser.add_argument("--models", help="comma-separated Keras application classes")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    parser.add_argument("--out", default="deploy_targets.jsonl", help="cells as JSON lines (appended)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        for cell in measure(json.loads(args.worker)):
            print(json.dumps(cell), flush=True)
        return 0
    from benchmarks.inputs import default_cache_dir

    models = args.models.split(",") if args.models else (MODELS[:1] if args.quick else MODELS)
    cache = default_cache_dir()
    ensure_models(models, cache)
    cells = []
    with open(args.out, "a") as out:
        for model in models:
            for prep in PREPARATIONS:
                job = {"model": model, "preparation": prep, "runtimes": args.runtimes.split(","), "cache": str(cache)}
                for cell in run_worker(job):
                    out.write(json.dumps(cell) + "\n")
                    out.flush()
                    cells.append(cell)
                print(f"{model} / {prep}: done", file=sys.stderr, flush=True)
    print(render(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
