"""tolerance_for: documented (rtol, atol) per lossy transform, added up over a pipeline."""

from __future__ import annotations

import pytest

from graphrewrite.rules.rule import Step
from graphrewrite.stdlib_rules.quantize_weights import QUANTIZE_WEIGHTS
from graphrewrite.stdlib_rules.quantize_weights import tolerance_for as reexported
from graphrewrite.stdlib_rules.tolerances import BASE, lossy_transforms, tolerance_for

LOSSY = lossy_transforms()


def test_lossless_pipelines_get_the_float32_base():
    assert tolerance_for([]) == BASE
    assert tolerance_for(["fold_constants", "strip_unused_nodes"]) == BASE


def test_lossy_steps_add_up():
    rtol, atol = tolerance_for(["quantize_weights", "fold_constants", "quantize_nodes"])
    assert rtol == pytest.approx(BASE[0] + LOSSY["quantize_weights"][0] + LOSSY["quantize_nodes"][0])
    assert atol == pytest.approx(BASE[1] + LOSSY["quantize_weights"][1] + LOSSY["quantize_nodes"][1])


def test_arguments_and_steps_are_understood():
    coarse = tolerance_for([("round_weights", {"num_steps": 16})])
    assert coarse[0] == pytest.approx(BASE[0] + LOSSY["round_weights"][0] * 16)
    assert tolerance_for([("cast_weights", {"dtype": "bfloat16"})]) > tolerance_for(["cast_weights"])
    assert tolerance_for([Step(QUANTIZE_WEIGHTS, {})]) == tolerance_for(["quantize_weights"])
    assert reexported(["quantize_weights"]) == tolerance_for(["quantize_weights"])
