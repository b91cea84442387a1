"""graphrewrite batch over a zoo of small models: one after another in one process, on the local
pool, and on a local two-worker Dask cluster, in one run (README "Many models").

    python -m benchmarks.batch            # 20 models (~1 min on 2 shared cores)
    python -m benchmarks.batch --quick    # 8 models
    python -m benchmarks.batch --copies 3 # the zoo three times (60 models)

The zoo is synthetic chains (``benchmarks.inputs.chain_graph_def``) of 20 to 400 blocks (340 to
6,800 nodes), written once per run into a temporary folder; every model runs the standard
script with --verify. "sequential" runs :func:`graphrewrite.batch.job.run_job` for each model in
this process (no isolation, TensorFlow already imported); the batch rows run the models as
``graphrewrite batch`` does, on warm isolated worker processes (each imports TensorFlow once,
inside the timed run): one worker, the local pool (one worker per core), and the Dask cluster
(one worker per Dask worker).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ZOO_BLOCKS = (20, 40, 60, 80, 100, 120, 150, 180, 200, 220, 240, 260, 280, 300, 320, 340, 360, 380, 390, 400)


def build_zoo(folder: Path, *, size: int, copies: int) -> list:
    """*copies* x *size* chain graphs in *folder*, as batch ModelSpecs."""
    from benchmarks.inputs import chain_graph_def
    from graphrewrite.batch.manifest import load_models

    for copy in range(copies):
        for index, blocks in enumerate(ZOO_BLOCKS[:size]):
            graph_def = chain_graph_def(blocks, seed=index)
            (folder / f"chain{blocks}_{copy}.pb").write_bytes(graph_def.SerializeToString())
    return load_models(str(folder / "*.pb"), verify=True)


def sequential(models: Sequence, output_dir: Path) -> tuple[float, int]:
    from graphrewrite.batch.job import run_job

    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ok = sum(run_job(m, str(output_dir)).status == "ok" for m in models)
    return time.perf_counter() - start, ok


def batched(models: Sequence, output_dir: Path, executor) -> tuple[float, int]:
    from graphrewrite.batch.run import run_batch

    try:
        report = run_batch(models, output_dir, executor, force=True)
    finally:
        executor.close()
    return report.seconds, sum(r.status == "ok" for r in report.results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 models instead of 20")
    parser.add_argument("--copies", type=int, default=1, help="how many copies of the zoo")
    args = parser.parse_args(argv)
    from distributed import LocalCluster

    from graphrewrite.batch.executors import DaskExecutor, LocalExecutor

    size = 8 if args.quick else len(ZOO_BLOCKS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "zoo").mkdir()
        models = build_zoo(root / "zoo", size=size, copies=args.copies)
        rows = [("sequential, one process", *sequential(models, root / "seq"))]
        rows.append(("batch --jobs 1 (one warm worker)", *batched(models, root / "one", LocalExecutor(1))))
        local = LocalExecutor()
        rows.append((f"batch, {local.description} (warm workers)", *batched(models, root / "local", local)))
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None) as cluster:
            dask = DaskExecutor(cluster.scheduler_address)
            rows.append(("batch, Dask LocalCluster (2 workers)", *batched(models, root / "dask", dask)))
    print(f"{len(models)} models ({size} chains x {args.copies}), {os.cpu_count()} cores, standard script + verify\n")
    print("| run | wall s | s/model | ok |\n|---|---:|---:|---:|")
    for name, seconds, ok in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / len(models):.2f} | {ok}/{len(models)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
