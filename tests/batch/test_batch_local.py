"""graphrewrite batch on the local process pool: every kind of model, a failure and a hang
isolated, results recorded and resumed, outputs identical to graphrewrite transform's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from graphrewrite.cli import main
from graphrewrite.stdlib_rules.scripts import STANDARD_SCRIPT

MANIFEST = """
[defaults]
verify = true
timeout = 120

[[model]]
path = "dense.pb"
inputs = ["x"]
outputs = ["out"]

[[model]]
path = "classifier.keras"

[[model]]
path = "exported"

[[model]]
path = "tf1/model.meta"
name = "tf1"
checkpoint = "tf1/model.ckpt"
outputs = ["y"]

[[model]]
path = "broken.pb"

[[model]]
path = "stalled.pb"
timeout = 15
"""


def _results(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def first_run(zoo, tmp_path_factory, capsys_module=None):
    out = tmp_path_factory.mktemp("batch_out")
    (zoo / "zoo.toml").write_text(MANIFEST)
    code = main(["batch", str(zoo / "zoo.toml"), f"--output_dir={out}", "--jobs=2", "--json"])
    return code, out


def test_each_model_gets_its_own_result_and_a_failure_does_not_stop_the_rest(first_run):
    code, out = first_run
    assert code == 1  # two models failed
    by_name = {r["name"]: r for r in _results(out)}
    assert {n: r["status"] for n, r in by_name.items()} == {
        "dense": "ok", "classifier": "ok", "exported": "ok", "tf1": "ok", "broken": "failed", "stalled": "timeout",
    }  # fmt: skip
    assert "broken.pb" in by_name["broken"]["error"] and "\n" not in by_name["broken"]["error"]
    assert by_name["stalled"]["error"] == "timed out after 15 s"
    for name in ("dense", "classifier", "exported", "tf1"):
        assert by_name[name]["verified"] is True and by_name[name]["nodes_after"] <= by_name[name]["nodes_before"]
        assert Path(by_name[name]["output"]).is_file()
    assert not (out / "broken.pb").exists() and not (out / "stalled.pb").exists()


def test_the_output_is_byte_identical_to_transform(first_run, zoo, tmp_path):
    _, out = first_run
    alone = tmp_path / "alone.pb"
    code = main(["transform", f"--in_graph={zoo / 'dense.pb'}", f"--out_graph={alone}", "--inputs=x", "--outputs=out",
                 f"--transforms={STANDARD_SCRIPT}", "--quiet"])  # fmt: skip
    assert code == 0
    assert (out / "dense.pb").read_bytes() == alone.read_bytes()


def _add_unused_const(path: Path) -> None:
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    extra = graph_def.node.add()
    extra.CopyFrom(next(n for n in graph_def.node if n.op == "Const"))
    extra.name = "unused_extra"
    path.write_bytes(graph_def.SerializeToString())


def test_a_second_run_skips_what_is_unchanged_and_redoes_what_changed(first_run, zoo, tmp_path, capsys):
    _, first_out = first_run
    out = tmp_path / "out"
    shutil.copytree(first_out, out)
    for line in _results(out):  # the copied results point at the first folder's outputs
        assert Path(line["output"]).parent == first_out if line.get("output") else True
    manifest = zoo / "resume.toml"
    manifest.write_text(MANIFEST.split("[[model]]\npath = \"broken.pb\"")[0])  # the four good models
    assert main(["batch", str(manifest), f"--output_dir={out}", "--json"]) == 0
    statuses = {r["name"]: r["status"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert statuses == {"dense": "skipped", "classifier": "skipped", "exported": "skipped", "tf1": "skipped"}

    changed = tmp_path / "changed"
    shutil.copytree(zoo / "exported", changed / "exported")
    shutil.copytree(zoo / "tf1", changed / "tf1")
    shutil.copy(zoo / "dense.pb", changed / "dense.pb")
    shutil.copy(zoo / "classifier.keras", changed / "classifier.keras")
    text = MANIFEST.split("[[model]]\npath = \"broken.pb\"")[0]
    (changed / "m.toml").write_text(text)
    assert main(["batch", str(changed / "m.toml"), f"--output_dir={changed / 'out'}", "--json"]) == 0
    capsys.readouterr()
    _add_unused_const(changed / "dense.pb")
    assert main(["batch", str(changed / "m.toml"), f"--output_dir={changed / 'out'}", "--json"]) == 0
    statuses = {r["name"]: r["status"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert statuses == {"dense": "ok", "classifier": "skipped", "exported": "skipped", "tf1": "skipped"}  # new bytes
    (changed / "m.toml").write_text(text.replace('outputs = ["out"]', 'outputs = ["out"]\ntransforms = "strip_unused_nodes"'))
    assert main(["batch", str(changed / "m.toml"), f"--output_dir={changed / 'out'}", "--json"]) == 0
    statuses = {r["name"]: r["status"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert statuses == {"dense": "ok", "classifier": "skipped", "exported": "skipped", "tf1": "skipped"}  # new script


def test_a_model_over_its_memory_cap_is_recorded_as_crashed(zoo, tmp_path, capsys):
    manifest = tmp_path / "small.yaml"
    manifest.write_text(f"models:\n  - path: {zoo / 'dense.pb'}\n    memory_limit: 200\n")
    assert main(["batch", str(manifest), f"--output_dir={tmp_path / 'out'}"]) == 1
    out = capsys.readouterr().out
    assert "dense  crashed" in out
    (result,) = _results(tmp_path / "out")
    assert result["status"] == "crashed" and result["error"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[model]]\npath = 'dense.pb'\nspeed = 3\n", "model 1: unknown key 'speed'"),
        ("[[model]]\nkind = 'graph'\n", "model 1: has no 'path'"),
        ("[[model]]\npath = 'nothing.xyz'\n", "unknown what kind of model 'nothing.xyz' is"),
        ("[[model]]\npath = 'dense.pb'\n[[model]]\npath = 'dense.pb'\n", "two models are named 'dense'"),
        ("[model\n", "bad.toml: "),
        ("[defaults]\nverify = 'maybe'\n[[model]]\npath = 'dense.pb'\n", "verify must be true or false"),
    ],
)
def test_bad_manifests_are_one_line_errors(zoo, tmp_path, capsys, text, message):
    manifest = zoo / "bad.toml"
    manifest.write_text(text)
    assert main(["batch", str(manifest), f"--output_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_glob_that_matches_nothing_is_a_usage_error(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "*.pb"), f"--output_dir={tmp_path}"]) == 2
    assert "no model matches" in capsys.readouterr().err


def test_the_terminal_table_shows_every_result_verbatim(capsys):
    from graphrewrite.batch.results import Result
    from graphrewrite.batch.run import BatchReport
    from graphrewrite.commands.batch import _rich_table

    report = BatchReport(
        (Result("a", "ok", nodes_before=9, nodes_after=4), Result("b", "failed", error="bad [red] input")), 1.0, "here"
    )
    _rich_table(report)
    out = capsys.readouterr().out
    assert "9 -> 4" in out and "bad [red] input" in out and "2 models in 1.0 s on here: 1 failed, 1 ok" in out


def test_a_glob_runs_the_models_it_matches_and_skips_other_files(zoo, tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(zoo / "dense.pb", folder / "dense.pb")
    (folder / "notes.txt").write_text("not a model")
    assert main(["batch", str(folder / "*"), f"--output_dir={tmp_path / 'out'}", "--verify=false", "--json"]) == 0
    (result,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert result["name"] == "dense" and result["status"] == "ok" and result["verified"] is None
    assert main(["batch", str(folder / "*.txt"), f"--output_dir={tmp_path / 'out'}"]) == 2
    assert "is a model" in capsys.readouterr().err

