"""backport_concatv2: ConcatV2(values..., axis) -> Concat(axis, values...)."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.errors import RuleError
from graphrewrite.stdlib_rules.rule_files import BY_NAME
from tests.helpers.structural import (
    F32,
    apply,
    assert_clean,
    assert_same_outputs,
    const,
    graph,
    inputs_of,
    op,
    ph,
)

BACKPORT_CONCATV2 = BY_NAME["backport_concatv2"]  # written in backports.rules


def _g(axis_dtype=np.int32, tidx=None):
    return graph(
        ph("a", shape=(1, 2)),
        ph("b", shape=(1, 2)),
        const("axis", 1, axis_dtype),
        op("c", "NoOp"),
        op("cat", "ConcatV2", ["a", "b", "axis", "^c"], N=2, T=F32, Tidx=tidx or DType(3)),
    )


def test_axis_moves_first_tidx_dropped_control_inputs_kept():
    before = _g()
    after = apply(BACKPORT_CONCATV2, before, inputs=["a", "b"], outputs=["cat"])
    cat = after.node("cat")
    assert cat.op == "Concat" and inputs_of(after, "cat") == ["axis", "a", "b", "^c"]  # GTT: '^c' as axis
    assert "Tidx" not in cat.attr and cat.get("N") == 2
    assert_clean(after, ["a", "b"], ["cat"])
    feeds = {"a": np.array([[1.0, 2.0]], np.float32), "b": np.array([[3.0, 4.0]], np.float32)}
    assert_same_outputs(before, after, feeds, ["cat"])


def test_int64_axis_is_refused():
    with pytest.raises(RuleError, match=r"^backport_concatv2: at 'cat': require concat.Tidx == \"int32\" is false$"):
        apply(BACKPORT_CONCATV2, _g(np.int64, DType(9)), inputs=["a", "b"], outputs=["cat"])


def test_graph_without_concatv2_is_returned_as_is():
    g = graph(ph("x"))
    assert apply(BACKPORT_CONCATV2, g, inputs=["x"]) is g
