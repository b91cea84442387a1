"""cast_weights: float32 Consts stored as float16/bfloat16 behind a Cast."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphrewrite import _tf, transform_graph
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.errors import LanguageError
from graphrewrite.stdlib_rules.rule_files import BY_NAME
from tests.helpers.compression import apply, build, const_value, nodes, run

RNG = np.random.RandomState(5)
CAST_WEIGHTS = BY_NAME["cast_weights"]  # written in weights.rules


def matmul_graph(w: np.ndarray):
    tf = _tf.tf()

    def body():
        x = tf.compat.v1.placeholder(tf.float32, [None, w.shape[0]], name="x")
        tf.matmul(x, tf.constant(w, name="w"), name="y")

    return build(body)


@pytest.mark.parametrize(("dtype", "eps"), [("float16", 2.0**-11), ("bfloat16", 2.0**-8)])
def test_weights_are_stored_narrow_and_cast_back(dtype, eps):
    w = RNG.randn(64, 32).astype(np.float32)
    graph_def = matmul_graph(w)
    out, report = apply(CAST_WEIGHTS, graph_def, ["x"], ["y"], dtype=DType.named(dtype), minimum_size=100)
    assert report.applied == 1
    by_name = nodes(out)
    cast, stored = by_name["w"], by_name["w/stored"]
    assert cast.op == "Cast" and list(cast.input) == [stored.name]
    assert DType(cast.attr["SrcT"].type).name == dtype and DType(cast.attr["DstT"].type).name == "float32"
    assert const_value(stored).dtype.itemsize == 2
    x = RNG.randn(3, 64).astype(np.float32)
    (want,) = run(graph_def, {"x": x}, ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    bound = np.abs(x) @ np.abs(w) * eps  # each weight is off by at most eps relative
    assert np.all(np.abs(got - want) <= bound * 1.01 + 1e-5)


def test_small_consts_and_overflowing_values_are_refused_with_reasons():
    tf = _tf.tf()

    def body():
        tf.identity(tf.constant(RNG.randn(10).astype(np.float32), name="small"), name="a")
        tf.identity(tf.constant(np.full(2000, 1e5, np.float32), name="huge"), name="b")
        tf.identity(tf.constant(np.arange(2000, dtype=np.int32), name="ints"), name="c")

    out, report = apply(CAST_WEIGHTS, build(body), [], ["a", "b", "c"])
    assert report.applied == 0
    (stats,) = report.rules
    assert stats.rejected == {
        "where size(w) >= minimum_size is false": 1,
        'where dtype(w) == "float32" is false': 1,
        'where dtype == "bfloat16" or max(abs(w)) <= 65504 is false': 1,  # 1e5 overflows float16
    }
    out, report = apply(CAST_WEIGHTS, build(body), [], ["a", "b", "c"], dtype=DType.named("bfloat16"))
    assert report.applied == 1 and nodes(out)["huge"].op == "Cast"


def test_other_dtypes_are_located_errors_before_anything_runs():
    graph_def = matmul_graph(RNG.randn(64, 32).astype(np.float32))
    with pytest.raises(LanguageError, match="expected one of float16, bfloat16, got 'int8'"):
        transform_graph(graph_def, ["x"], ["y"], "cast_weights(dtype=int8)")


def test_the_tolerance_follows_the_dtype():
    assert CAST_WEIGHTS.facts.tolerance({}) == (1e-2, 1e-3)
    assert CAST_WEIGHTS.facts.tolerance({"dtype": DType.named("bfloat16")}) == (5e-2, 1e-2)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 200), elements=st.floats(-60000, 60000, width=32)))
def test_property_float16_storage_is_within_half_an_ulp(w):
    tf = _tf.tf()
    graph_def = build(lambda: tf.identity(tf.constant(w, name="w"), name="y"))
    out, _ = apply(CAST_WEIGHTS, graph_def, [], ["y"], minimum_size=1)
    (got,) = run(out, {}, ["y"])
    bound = np.maximum(np.abs(w) * 2.0**-11, 2.0**-25)  # half an ulp; subnormals below 2**-14
    assert np.all(np.abs(got.astype(np.float64) - w) <= bound)
