"""round_weights: GTT's bucket formula value for value, its edge cases, and the error bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphrewrite import _tf
from graphrewrite.engine.errors import RuleError
from graphrewrite.rules.weight_functions import round_range, round_to_buckets
from graphrewrite.stdlib_rules.rule_files import BY_NAME
from tests.helpers.compression import apply, build, const_value, gtt, nodes, run

ROUND_WEIGHTS = BY_NAME["round_weights"]

RNG = np.random.RandomState(11)


def const_graph(w: np.ndarray, *, name: str = "w"):
    tf = _tf.tf()
    return build(lambda: tf.identity(tf.constant(w, name=name), name="y"))


def test_weights_take_at_most_num_steps_plus_one_values():
    w = RNG.randn(64, 32).astype(np.float32)
    out, report = apply(ROUND_WEIGHTS, const_graph(w), [], ["y"], num_steps=16)
    assert report.applied == 1
    got = const_value(nodes(out)["w"])
    assert got.dtype == np.float32 and got.shape == w.shape
    assert len(np.unique(got)) <= 17
    (ran,) = run(out, {}, ["y"])
    width = (w.max() - w.min()) / 16
    assert np.all(np.abs(ran - w) <= width / 2 * 1.0001)
    assert not np.array_equal(ran, w)


def test_consts_under_sixteen_elements_and_non_float_are_left_alone():
    tf = _tf.tf()

    def body():
        tf.identity(tf.constant(RNG.randn(15).astype(np.float32), name="small"), name="a")
        tf.identity(tf.constant(np.arange(100, dtype=np.int32), name="ints"), name="b")

    graph_def = build(body)
    out, report = apply(ROUND_WEIGHTS, graph_def, [], ["a", "b"])
    assert report.applied == 0
    for before, after in zip(graph_def.node, out.node, strict=True):
        assert before == after


def test_device_and_control_inputs_survive():
    tf = _tf.tf()

    def body():
        gate = tf.constant(0.0, name="gate")
        with tf.device("/device:CPU:0"), tf.control_dependencies([gate]):
            w = tf.constant(RNG.randn(32).astype(np.float32), name="w")
        tf.identity(w, name="y")

    out, _ = apply(ROUND_WEIGHTS, build(body), [], ["y"])
    w = nodes(out)["w"]
    assert w.device == "/device:CPU:0" and list(w.input) == ["^gate"]


def test_num_steps_below_one_is_an_error():
    with pytest.raises(RuleError, match="require num_steps >= 1 is false"):
        apply(ROUND_WEIGHTS, const_graph(np.zeros(20, np.float32)), [], ["y"], num_steps=0)


def test_edge_cases_of_the_range():
    assert round_range(np.full(20, 3.0, np.float32)) == (3.0, 6.0)  # equal positive: max = 2*min
    # near zero: +1, in float32 (numpy 1.x would add a Python 1 in float64)
    assert round_range(np.full(20, 1e-7, np.float32))[1] == np.float32(1e-7) + np.float32(1)
    lo, hi = round_range(np.full(20, -2.0, np.float32))  # all negative: max is FLT_MIN, not -2
    assert lo == -2.0 and hi == np.finfo(np.float32).tiny
    top = round_to_buckets(np.linspace(0, 1, 20, dtype=np.float32), 4)
    assert top.max() == np.float32(1.125)  # the max sits half a bucket above the old max


SPECIAL = [
    RNG.randn(300).astype(np.float32),
    np.full(20, 3.0, np.float32),
    np.full(20, 1e-7, np.float32),
    np.full(20, -2.0, np.float32),
    np.zeros(20, np.float32),
    np.linspace(-1, 1, 257).astype(np.float32),
]


@pytest.mark.gtt
@pytest.mark.parametrize("num_steps", [1, 7, 256])
@pytest.mark.parametrize("index", range(len(SPECIAL)))
def test_values_equal_gtt_on_special_tensors(index, num_steps):
    _assert_same_as_gtt(SPECIAL[index], num_steps)


@pytest.mark.gtt
@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(16, 200), elements=st.floats(-1e5, 1e5, width=32)),
    st.sampled_from([2, 16, 255, 256, 1000]),
)
def test_values_equal_gtt_on_random_tensors(w, num_steps):
    _assert_same_as_gtt(w, num_steps)


def _assert_same_as_gtt(w, num_steps):
    graph_def = const_graph(w)
    ours, _ = apply(ROUND_WEIGHTS, graph_def, [], ["y"], num_steps=num_steps)
    theirs = gtt(graph_def, [], ["y"], f"round_weights(num_steps={num_steps})")
    a, b = const_value(nodes(ours)["w"]), const_value(nodes(theirs)["w"])
    assert a.tobytes() == b.tobytes()


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(16, 300), elements=st.floats(-1e4, 1e4, width=32)),
    st.integers(1, 1024),
)
def test_property_rounding_moves_each_value_by_at_most_half_a_bucket(w, num_steps):
    rounded = round_to_buckets(w, num_steps)
    lo, hi = round_range(w)
    width = (float(hi) - float(lo)) / num_steps
    slack = 4 * np.finfo(np.float32).eps * max(abs(float(lo)), abs(float(hi)))
    assert np.all(np.abs(rounded.astype(np.float64) - w) <= width / 2 * (1 + 1e-5) + slack)
    assert len(np.unique(rounded)) <= num_steps + 1
