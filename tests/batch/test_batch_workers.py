"""Warm workers: models share a worker process that imports TensorFlow once; a hang, a crash
(a worker killed by its memory cap) or an error replaces it, and the models after it still run
on one warm worker."""

from __future__ import annotations

import json
import os
from pathlib import Path

from graphrewrite.cli import main


def _model(name: str, path: Path, **extra: object) -> str:
    lines = [f'[[model]]\nname = "{name}"\npath = "{path}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def _run(manifest: Path, out: Path, *flags: str) -> tuple[int, list[dict]]:
    code = main(["batch", str(manifest), f"--output_dir={out}", "--jobs=1", *flags])
    return code, [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_models_share_one_warm_worker_until_it_is_recycled(zoo, tmp_path):
    manifest = tmp_path / "same.toml"
    manifest.write_text("".join(_model(f"m{i}", zoo / "dense.pb", inputs=["x"], outputs=["out"]) for i in range(5)))
    code, results = _run(manifest, tmp_path / "out")
    assert code == 0 and [r["status"] for r in results] == ["ok"] * 5
    assert len({r["worker"] for r in results}) == 1 and results[0]["worker"] != os.getpid()
    code, results = _run(manifest, tmp_path / "again", "--max_jobs_per_worker=2")
    pids = [r["worker"] for r in results]
    assert code == 0 and pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_a_hang_and_an_error_replace_the_worker_and_later_models_run_warm(zoo, tmp_path):
    manifest = tmp_path / "mixed.toml"
    dense = {"inputs": ["x"], "outputs": ["out"]}
    manifest.write_text(
        _model("a", zoo / "dense.pb", **dense) + _model("hang", zoo / "stalled.pb", timeout=10)
        + _model("b", zoo / "dense.pb", **dense) + _model("broken", zoo / "broken.pb")
        + _model("capped", zoo / "dense.pb", memory_limit=200, **dense)
        + _model("c", zoo / "dense.pb", **dense) + _model("d", zoo / "dense.pb", **dense)
    )  # fmt: skip
    code, results = _run(manifest, tmp_path / "out")
    by_name = {r["name"]: r for r in results}
    assert code == 1
    assert {n: r["status"] for n, r in by_name.items()} == {
        "a": "ok", "hang": "timeout", "b": "ok", "broken": "failed", "capped": "crashed", "c": "ok", "d": "ok",
    }  # fmt: skip
    assert "ran out of memory (limit 200 MiB)" in by_name["capped"]["error"]
    pid = {n: r["worker"] for n, r in by_name.items()}
    assert pid["a"] == pid["hang"] and _gone(pid["hang"])  # the hung worker was killed...
    assert pid["b"] == pid["broken"] != pid["a"]  # ...and replaced; the error replaced it again
    assert _gone(pid["capped"]) and len({pid["a"], pid["b"], pid["capped"], pid["c"]}) == 4  # the crash, too
    assert pid["c"] == pid["d"]
    assert (tmp_path / "out" / "d.pb").read_bytes() == (tmp_path / "out" / "a.pb").read_bytes()


def test_max_jobs_per_worker_must_be_positive(zoo, tmp_path, capsys):
    assert main(["batch", str(zoo / "dense.pb"), f"--output_dir={tmp_path}", "--max_jobs_per_worker=0"]) == 2
    assert "--max_jobs_per_worker=0: give at least 1" in capsys.readouterr().err
