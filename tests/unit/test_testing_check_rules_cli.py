"""``graphrewrite check-rules``: rule files written in the rule language, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrewrite.cli import main

GOOD = 'rule drop_double_neg "Neg(Neg(x)) -> x" { match Neg(Neg(x)) rewrite x }\n'

# Two subtly wrong rules: SAME padding changes the output size of a 3x3 convolution, and the
# transposes make the scale act on the filter's input channels instead of its output channels.
WRONG = GOOD + """
rule valid_to_same "Conv2D[VALID](x, 3x3 w) -> Conv2D[SAME](x, w) (wrong)" {
    match   conv: Conv2D[padding="VALID"](x, w: Const)
    where   shape(w)[0] == 3 and shape(w)[1] == 3
    rewrite conv[padding="SAME"](x, w)
}
rule fold_mul_wrong_axis "Mul(Conv2D(x, w), s) -> Conv2D(x, w*s on the input channels) (wrong)" {
    match   Mul(conv: Conv2D(x, w: Const), s: Const)
    where   rank(s) == 1 and shape(s)[0] == shape(w)[2]
    rewrite conv(x, const(transpose(transpose(w, [0, 1, 3, 2]) * s, [0, 1, 3, 2])))
}
rule never_fires "AddV2(x, c) -> x when c is 42 everywhere" {
    match   AddV2(x, c: Const)
    where   all(c == 42)
    rewrite x
}
"""


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.rules").write_text(GOOD)
    (tmp_path / "wrong.rules").write_text(WRONG)
    return tmp_path


def test_a_correct_rule_passes(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-rules", str(files / "good.rules"), "--examples=10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["rule", "tried", "fired", "max", "abs", "err", "result"]
    # Not all 10: where an interior feed lands inside the pattern, the rule rightly stays put.
    name, tried, fired, err, result = out[1].split()
    assert (name, tried, err, result) == ("drop_double_neg", "10", "0", "passed") and 5 <= int(fired) <= 10


def test_wrong_rules_fail_with_shrunk_counterexamples(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check-rules", str(files / "wrong.rules"), "--examples=30", "--rule=fold_mul_wrong_axis", "--rule=valid_to_same"])
    captured = capsys.readouterr()
    assert status == 1
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()[1:3]}
    assert rows["valid_to_same"][-1] == rows["fold_mul_wrong_axis"][-1] == "failed"
    same = captured.out.split("\nvalid_to_same: failed\n")[1]
    assert "NO (shape [1, 3, 3, 1], expected [1, 1, 1, 1])" in same
    axis = captured.out.split("\nfold_mul_wrong_axis: failed\n")[1].split("\nvalid_to_same: failed\n")[0]
    assert "fold_mul_wrong_axis changed the outputs" in axis and "value=float32[1, 1, 2, 2]" in axis
    assert "2 of 2 rules did not pass: fold_mul_wrong_axis, valid_to_same" in captured.err


def test_a_rule_that_never_fires_is_reported_as_such(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check-rules", str(files / "wrong.rules"), "--examples=5", "--rule=never_fires", "--rule=drop_double_neg"])
    out = capsys.readouterr().out
    assert status == 1
    assert "never_fires" in out and "never fired" in out and "changed none of the 5 generated graphs" in out


def test_usage_and_name_errors(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-rules", str(files / "good.rules"), "--rule=drop_double_ne"]) == 1
    assert "did you mean 'drop_double_neg'?" in capsys.readouterr().err
    assert main(["check-rules", str(files / "good.rules"), "--examples=0"]) == 2
    assert main(["check-rules", str(files / "missing.rules")]) == 1
    assert "missing.rules" in capsys.readouterr().err
