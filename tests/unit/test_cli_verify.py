"""``graphrewrite verify``: table, exit statuses, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main
from tests.helpers.verify_graphs import folded, matmul_mul


@pytest.fixture()
def graphs(tmp_path: Path) -> Path:
    io.save_graph(matmul_mul(), tmp_path / "original.pb")
    io.save_graph(folded(), tmp_path / "same.pbtxt")
    io.save_graph(folded((2.0, 3.1)), tmp_path / "wrong.pb")
    np.savez(tmp_path / "inputs.npz", x=np.ones((2, 3), np.float32))
    np.savez(tmp_path / "bad.npz", x=np.ones((2, 4), np.float32))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main(["verify", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_equal_graphs_exit_0_with_a_table(graphs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, graphs / "original.pb", graphs / "same.pbtxt", "--inputs=x", "--outputs=y")
    assert status == 0
    assert out.splitlines()[0].split() == ["output", "max", "abs", "err", "max", "rel", "err", "within", "tolerance"]
    assert out.splitlines()[1].startswith("y ") and out.splitlines()[1].endswith("yes")
    assert "(float32 default)" in out


def test_different_graphs_exit_1(graphs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, graphs / "original.pb", graphs / "wrong.pb")
    assert status == 1
    assert "NO" in out and "1 of 1 outputs differ beyond tolerance" in out


def test_tolerance_flags_and_input_file(graphs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, graphs / "original.pb", graphs / "wrong.pb", "--rtol=0.1", "--atol=0", f"--input_file={graphs / 'inputs.npz'}")
    assert status == 0 and "rtol=0.1 atol=0 (given)" in out


def test_input_shapes_flag(graphs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, _ = run(capsys, graphs / "original.pb", graphs / "same.pbtxt", "--input_shapes=x:5,3", "--seed=3")
    assert status == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["missing.pb"], "cannot read"),
        (["same.pbtxt", "--outputs=yy"], "did you mean 'y'?"),
        (["same.pbtxt", "--input_file=bad.npz"], "the given value has shape [2, 4], the graph says [?,3]"),
        (["same.pbtxt", "--input_file=nothing.npz"], "cannot read"),
    ],
)
def test_errors_are_one_line_with_exit_1(graphs: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str) -> None:
    argv = [graphs / "original.pb", graphs / extra[0], *[e.replace("=", f"={graphs}/", 1) if e.startswith("--input_file") else e for e in extra[1:]]]
    status, _out, err = run(capsys, *argv)
    assert status == 1
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_usage_exits_2(graphs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, graphs / "original.pb")[0] == 2
    assert run(capsys, graphs / "original.pb", graphs / "same.pbtxt", "--rtol=-1")[0] == 2
    assert run(capsys, graphs / "original.pb", graphs / "same.pbtxt", "--rtol=abc")[0] == 2


def test_help_states_the_default_tolerances(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "rtol=1e-4 atol=1e-5 for float32" in text
    assert "float16/bfloat16" in text and "quantized" in text
