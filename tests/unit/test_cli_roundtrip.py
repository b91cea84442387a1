"""The model-level commands end to end, in process: freeze -> transform (the printed command,
unchanged) -> summarize -> convert -> run -> export, and their one-line errors and exit codes.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from graphrewrite.cli import main
from tests.helpers.tf1_models import build_tf1_model


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """A TF1 model frozen with the freeze command; the folder, expected values, stdout."""
    folder = tmp_path_factory.mktemp("roundtrip")
    io = build_tf1_model(folder)
    np.savez(folder / "in.npz", x=io["x"], **{"ids:0": io["ids"]})
    return folder, io


def call(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_freeze_prints_a_transform_command_that_works_unchanged(frozen, capsys):
    folder, _ = frozen
    code, out, _ = call(
        capsys, "freeze", f"--input_graph={folder / 'graph.pbtxt'}", f"--input_checkpoint={folder / 'model'}",
        "--output_node_names=out", f"--output_graph={folder / 'f.pb'}", "--input_binary=false",
    )  # fmt: skip
    assert code == 0
    assert "x    float32  [?,4]" in out and "out  float32" in out
    command = next(line.strip() for line in out.splitlines() if line.strip().startswith("graphrewrite transform"))
    assert "--inputs=x,ids --outputs=out" in command
    code, _, err = call(capsys, *shlex.split(command)[1:], "--quiet")
    assert code == 0, err
    assert (folder / "f_optimized.pb").exists()


def test_summarize_json(frozen, capsys):
    folder, _ = frozen
    main(["freeze", f"--input_meta_graph={folder / 'model.meta'}", f"--input_checkpoint={folder}",
          "--output_node_names=out", f"--output_graph={folder / 'meta.pb'}"])  # fmt: skip
    capsys.readouterr()
    code, out, _ = call(capsys, "summarize", f"--in_graph={folder / 'meta.pb'}", "--json")
    report = json.loads(out)
    assert code == 0
    assert [i["name"] for i in report["inputs"]] == ["x", "ids"]
    assert report["inputs"][0] == {"name": "x", "dtype": "float32", "shape": [-1, 4]}
    assert report["outputs"] == [{"name": "out", "op": "Identity"}]
    assert report["variables"] == [] and report["const_parameters"] > 0
    code, text, _ = call(capsys, "summarize", f"--in_graph={folder / 'meta.pb'}", "--print_structure")
    assert code == 0 and "out (Identity): [" in text


def test_convert_run_and_export(frozen, capsys):
    folder, io = frozen
    main(["freeze", f"--input_graph={folder / 'graph.pb'}", f"--input_checkpoint={folder / 'model'}",
          "--output_node_names=out", f"--output_graph={folder / 'g.pb'}"])  # fmt: skip
    assert call(capsys, "convert", str(folder / "g.pb"), str(folder / "g.pbtxt"))[0] == 0
    assert (folder / "g.pbtxt").read_text().startswith("node")
    assert call(capsys, "convert", str(folder / "g.pbtxt"), str(folder / "g2.pb"))[0] == 0
    assert (folder / "g2.pb").read_bytes() == (folder / "g.pb").read_bytes()

    code, out, _ = call(
        capsys, "run", f"--in_graph={folder / 'g.pbtxt'}", f"--input_file={folder / 'in.npz'}",
        f"--output_file={folder / 'out.npz'}", "--benchmark", "--runs=3", "--warmup=1",
    )  # fmt: skip
    assert code == 0
    assert "output out: float32 [2, 3]" in out and "latency over 3 runs: mean" in out and "p99" in out
    np.testing.assert_allclose(np.load(folder / "out.npz")["out"], io["out"], rtol=1e-6)
    code, out, _ = call(capsys, "run", f"--in_graph={folder / 'g.pb'}", "--input_shapes=x:5,4;ids:0")  # no ids: random ones may pass the 6 rows
    assert code == 0 and "input ids: int32 [0]" in out and "output out: float32 [5, 3]" in out

    code, out, _ = call(
        capsys, "export", f"--in_graph={folder / 'g.pb'}", "--inputs=x,ids", "--outputs=out",
        f"--saved_model_dir={folder / 'served'}", "--signature_keys=out=scores",
    )  # fmt: skip
    assert code == 0 and "scores -> out" in out
    import tensorflow as tf

    signature = tf.saved_model.load(str(folder / "served" / "1")).signatures["serving_default"]
    # Tensors, not arrays: TensorFlow 2.16's signatures accept only tensors.
    got = signature(x=tf.constant(io["x"]), ids=tf.constant(io["ids"]))["scores"].numpy()
    # The signature runs under grappler, which may reorder float additions: an element that
    # cancels to ~1e-4 then differs in its last bits, so the bound follows the output's scale.
    np.testing.assert_allclose(got, io["out"], rtol=1e-6, atol=1e-6 * np.abs(io["out"]).max())
    code, _, err = call(capsys, "export", f"--in_graph={folder / 'g.pb'}", "--inputs=x,ids", "--outputs=out",
                        f"--saved_model_dir={folder / 'served'}")  # fmt: skip
    assert code == 1 and "use --overwrite" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["summarize", "--in_graph=missing.pb"], 1, "cannot read 'missing.pb'"),
        (["summarize"], 2, "the following arguments are required: --in_graph"),
        (["convert", "{folder}/g.pb", "{folder}/no/such/dir/g.pbtxt"], 1, "does not exist"),
        (["run", "--in_graph={folder}/g.pb", "--outputs=outt"], 1, "did you mean 'out'"),
        (["run", "--in_graph={folder}/g.pb", "--input_file={folder}/graph.pbtxt"], 1, "is not an .npz file"),
        (["run", "--in_graph={folder}/g.pb", "--runs=0", "--benchmark"], 2, "--runs must be 1 or more"),
        (["freeze", "--input_graph=a.pb", "--input_keras_model=b.keras", "--output_graph=o.pb"], 2, "exactly one model source"),
        (["freeze", "--input_graph={folder}/graph.pb", "--output_graph=o.pb", "--output_node_names=out"], 2, "--input_checkpoint is required"),
        (["freeze", "--input_graph={folder}/graph.pb", "--input_checkpoint={folder}/nope", "--output_node_names=out", "--output_graph=o.pb"], 1, "no checkpoint at"),
        (["freeze", "--input_keras_model={folder}/graph.pb", "--output_graph=o.pb"], 1, "not a Keras model file"),
        (["freeze", "--input_saved_model_dir={folder}", "--output_graph=o.pb"], 1, "has no saved_model.pb"),
        (["export", "--in_graph={folder}/g.pb", "--inputs=x", "--outputs=out", "--saved_model_dir=s", "--signature_keys=out"], 2, "wants TENSOR=KEY"),
    ],
)
def test_errors_are_one_line_with_the_right_exit_code(frozen, capsys, argv, code, message):
    folder, _ = frozen
    if not (folder / "g.pb").exists():
        main(["freeze", f"--input_graph={folder / 'graph.pb'}", f"--input_checkpoint={folder / 'model'}",
              "--output_node_names=out", f"--output_graph={folder / 'g.pb'}"])  # fmt: skip
        capsys.readouterr()
    got, _, err = call(capsys, *(a.replace("{folder}", str(folder)) for a in argv))
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
