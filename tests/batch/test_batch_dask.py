"""graphrewrite batch --scheduler on a real Dask cluster (a LocalCluster with two workers,
started by the test, reached over TCP like a remote one): the same results as the local pool,
a failing and a hanging model recorded while the others finish. The workers are processes of
their own, as on a real cluster (in-process workers reset the BLAS thread settings of the test
process, after which oneDNN refused convolutions in later tests)."""

from __future__ import annotations

import json

import pytest

from graphrewrite.cli import main

distributed = pytest.importorskip("distributed")

MANIFEST = """
[defaults]
timeout = 120

[[model]]
path = "dense.pb"
inputs = ["x"]
outputs = ["out"]

[[model]]
path = "classifier.keras"

[[model]]
path = "broken.pb"

[[model]]
path = "stalled.pb"
timeout = 15
"""


@pytest.fixture(scope="module")
def scheduler():
    # Threads are enough: each model runs in a child process the worker only waits on.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                                  dashboard_address=None) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def test_a_batch_on_a_dask_cluster_records_every_model(zoo, tmp_path, scheduler, capsys):
    manifest = zoo / "dask.toml"
    manifest.write_text(MANIFEST)
    out = tmp_path / "out"
    code = main(["batch", str(manifest), f"--output_dir={out}", f"--scheduler={scheduler}", "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert "the Dask cluster at tcp://" in captured.err and "(2 workers)" in captured.err
    statuses = {r["name"]: r["status"] for r in map(json.loads, captured.out.splitlines())}
    assert statuses == {"dense": "ok", "classifier": "ok", "broken": "failed", "stalled": "timeout"}
    assert (out / "dense.pb").is_file() and (out / "classifier.pb").is_file()
    recorded = [json.loads(line)["name"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(recorded) == sorted(statuses)

    assert main(["batch", str(manifest), f"--output_dir={out}", f"--scheduler={scheduler}", "--json"]) == 1
    again = {r["name"]: r["status"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert again == {"dense": "skipped", "classifier": "skipped", "broken": "failed", "stalled": "timeout"}


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path, zoo, capsys):
    code = main(["batch", str(zoo / "dense.pb"), f"--output_dir={tmp_path}", "--scheduler=tcp://127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err


def test_each_dask_worker_keeps_one_warm_worker_process(zoo, tmp_path, scheduler, capsys):
    manifest = tmp_path / "copies.toml"
    manifest.write_text("".join(
        f'[[model]]\nname = "m{i}"\npath = "{zoo / "dense.pb"}"\ninputs = ["x"]\noutputs = ["out"]\n' for i in range(6)
    ))  # fmt: skip
    assert main(["batch", str(manifest), f"--output_dir={tmp_path / 'out'}", f"--scheduler={scheduler}", "--json"]) == 0
    results = list(map(json.loads, capsys.readouterr().out.splitlines()))
    assert [r["status"] for r in results] == ["ok"] * 6
    assert len({r["worker"] for r in results}) <= 2  # six models, TensorFlow imported at most once per Dask worker
