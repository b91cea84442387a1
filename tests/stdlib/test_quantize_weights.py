"""quantize_weights: structure, GTT's exact bytes, numerical bounds, SCALED and per-channel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphrewrite import _tf
from graphrewrite.engine.errors import UsageError
from graphrewrite.stdlib_rules.quantize_weights import (
    QUANTIZE_WEIGHTS,
    dequantize_min_first,
    gtt_range,
    quantize_min_first,
)
from graphrewrite.stdlib_rules.weight_tensors import round_half_away
from tests.helpers.compression import apply, build, const_value, gtt, nodes, run

RNG = np.random.RandomState(7)


def matmul_graph(w: np.ndarray, *, device: str = "", control: bool = False):
    tf = _tf.tf()

    def body():
        x = tf.compat.v1.placeholder(tf.float32, [None, w.shape[0]], name="x")
        with tf.device(device or None):
            if control:
                gate = tf.constant(0.0, name="gate")
                with tf.control_dependencies([gate]):
                    weights = tf.constant(w, name="w")
            else:
                weights = tf.constant(w, name="w")
        tf.matmul(x, weights, name="y")

    return build(body)


def const_graph(w: np.ndarray):
    tf = _tf.tf()
    return build(lambda: tf.identity(tf.constant(w, name="w"), name="y"))


def test_large_const_becomes_quint8_storage_and_dequantize():
    w = RNG.randn(40, 30).astype(np.float32)
    out, report = apply(QUANTIZE_WEIGHTS, matmul_graph(w), ["x"], ["y"], minimum_size=1000)
    by_name = nodes(out)
    assert report.applied == 4  # w replaced, three Consts added
    deq = by_name["w"]
    assert deq.op == "Dequantize"
    assert list(deq.input) == ["w_quantized_const", "w_quantized_min", "w_quantized_max"]
    assert deq.attr["mode"].s == b"MIN_FIRST"
    assert deq.attr["T"].type == _tf.tf().quint8.as_datatype_enum
    q = const_value(by_name["w_quantized_const"])
    assert q.dtype == np.uint8 and q.shape == w.shape
    lo, hi = const_value(by_name["w_quantized_min"]), const_value(by_name["w_quantized_max"])
    assert lo == w.min() and hi == w.max()

    x = RNG.randn(5, 40).astype(np.float32)
    (want,) = run(matmul_graph(w), {"x": x}, ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    step = (hi - lo) / 255
    bound = np.abs(x).sum(axis=1, keepdims=True) * step / 2  # each weight is off by <= step/2
    assert np.all(np.abs(got - want) <= bound * 1.001 + 1e-5)
    assert not np.array_equal(got, want)


def test_small_and_non_float_consts_are_left_alone():
    tf = _tf.tf()

    def body():
        tf.identity(tf.constant(RNG.randn(8, 8).astype(np.float32), name="small"), name="a")
        tf.identity(tf.constant(np.arange(2000, dtype=np.int32), name="ints"), name="b")

    graph_def = build(body)
    out, report = apply(QUANTIZE_WEIGHTS, graph_def, [], ["a", "b"])
    assert report.applied == 0
    assert {n.name: n.op for n in out.node} == {n.name: n.op for n in graph_def.node}


def test_device_control_inputs_and_private_attrs_are_kept():
    w = RNG.randn(40, 30).astype(np.float32)
    graph_def = matmul_graph(w, device="/device:CPU:0", control=True)
    graph_def = _with_class(graph_def, "w", b"loc:@gate")
    out, _ = apply(QUANTIZE_WEIGHTS, graph_def, ["x"], ["y"], minimum_size=10)
    by_name = nodes(out)
    assert by_name["w"].device == "/device:CPU:0"
    assert "^gate" in list(by_name["w"].input)
    assert list(by_name["w"].attr["_class"].list.s) == [b"loc:@gate"]
    for suffix in ("_quantized_const", "_quantized_min", "_quantized_max"):
        assert by_name["w" + suffix].device == "/device:CPU:0"


def _with_class(graph_def, name, entry):
    for node in graph_def.node:
        if node.name == name:
            node.attr["_class"].list.s.append(entry)
    return graph_def


def test_taken_names_get_a_suffix_instead_of_a_duplicate():
    tf = _tf.tf()
    w = RNG.randn(50).astype(np.float32)

    def body():
        tf.identity(tf.constant(w, name="w"), name="y")
        tf.constant(1.0, name="w_quantized_min")

    out, _ = apply(QUANTIZE_WEIGHTS, build(body), [], ["y"], minimum_size=10)
    assert list(nodes(out)["w"].input) == ["w_quantized_const", "w_quantized_min_1", "w_quantized_max"]


def test_bad_options_are_usage_errors_naming_the_option():
    graph_def = const_graph(np.zeros(4, np.float32))
    with pytest.raises(UsageError, match=r"mode='SCALD'.*did you mean 'SCALED'"):
        apply(QUANTIZE_WEIGHTS, graph_def, [], ["y"], mode="SCALD")
    with pytest.raises(UsageError, match="per_channel=true needs mode=SCALED"):
        apply(QUANTIZE_WEIGHTS, graph_def, [], ["y"], per_channel=True)


# -- GTT's exact arithmetic -----------------------------------------------------------------------

SPECIAL = [
    np.linspace(-1, 1, 1100).astype(np.float32),
    -np.abs(RNG.randn(1100)).astype(np.float32) - 0.5,  # all negative: max stays FLT_MIN
    np.abs(RNG.randn(1100)).astype(np.float32) + 2.0,  # all positive: min widened to 0
    np.zeros(1100, np.float32),  # min == max == 0
    (np.arange(1100, dtype=np.float32) - 550) / 2.0,  # many exact halves after scaling
]


@pytest.mark.gtt
@pytest.mark.parametrize("w", SPECIAL, ids=["linspace", "negative", "positive", "zeros", "halves"])
def test_bytes_equal_gtt_on_special_tensors(w):
    _assert_same_as_gtt(w, minimum_size=1024)


@pytest.mark.gtt
@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12),
        elements=st.floats(-1e6, 1e6, width=32) | st.sampled_from([0.0, 0.5, -0.5, 1.0]),
    )
)
def test_bytes_equal_gtt_on_random_tensors(w):
    _assert_same_as_gtt(w, minimum_size=1)


def _assert_same_as_gtt(w, *, minimum_size):
    graph_def = const_graph(w)
    ours, _ = apply(QUANTIZE_WEIGHTS, graph_def, [], ["y"], minimum_size=minimum_size)
    theirs = gtt(graph_def, [], ["y"], f"quantize_weights(minimum_size={minimum_size})")
    mine, gold = nodes(ours), nodes(theirs)
    for suffix in ("_quantized_const", "_quantized_min", "_quantized_max"):
        a, b = const_value(mine["w" + suffix]), const_value(gold["w" + suffix])
        assert a.dtype == b.dtype and a.shape == b.shape
        if suffix == "_quantized_max" and _subnormal_step(w):
            assert a == b + 1  # deliberate: GTT's [0, FLT_MIN] dequantizes to NaN in TF
            continue
        assert a.tobytes() == b.tobytes(), suffix
    assert mine["w"].op == gold["w"].op == "Dequantize"


def _subnormal_step(w):
    return float(np.float32(max(w.max(), np.finfo(np.float32).tiny) - min(w.min(), 0))) / 255 < np.finfo(
        np.float32
    ).tiny


@pytest.mark.gtt
def test_gtt_all_zero_tensor_gives_nan_in_tensorflow_and_ours_gives_zeros():
    w = np.zeros(1100, np.float32)
    (theirs,) = run(gtt(const_graph(w), [], ["y"], "quantize_weights"), {}, ["y"])
    ours, _ = apply(QUANTIZE_WEIGHTS, const_graph(w), [], ["y"])
    (mine,) = run(ours, {}, ["y"])
    assert np.isnan(theirs).all()
    assert np.array_equal(mine, w)


# -- numerical properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 300), elements=st.floats(-1e4, 1e4, width=32)))
def test_property_dequantized_weights_are_within_half_a_step(w):
    """Within step/2, except when a zero point is rounded: GTT's quantizer rounds x*s and lo*s
    separately (so q can be one off when lo*s is not whole), and it and TF's Dequantize (float)
    may round lo/step differently; then one step more (w=[-1e4, 1e4] gives 1.5 steps)."""
    lo, hi = gtt_range(w)
    back = dequantize_min_first(quantize_min_first(w, lo, hi), lo, hi)
    step = (float(hi) - float(lo)) / 255
    scale = 256.0 / (float(np.float32(hi - lo)) * (256.0 / 255.0))
    zero_q = round_half_away(float(lo) * 255 / float(np.float32(hi - lo)))
    zero_d = round_half_away(np.float32(lo / np.float32(step)))
    exact_zero = zero_q == zero_d and float(lo) * scale == round_half_away(float(lo) * scale)
    bound = step / 2 if exact_zero else 1.5 * step
    assert np.all(np.abs(back.astype(np.float64) - w) <= bound * (1 + 1e-4) + 1e-30)


@settings(max_examples=15, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 64), elements=st.floats(-100, 100, width=32)))
def test_property_tensorflow_dequantize_matches_the_model(w):
    """TF's own Dequantize kernel gives back what ``dequantize_min_first`` predicts."""
    out, _ = apply(QUANTIZE_WEIGHTS, const_graph(w), [], ["y"], minimum_size=1)
    (got,) = run(out, {}, ["y"])
    lo, hi = gtt_range(w)
    want = dequantize_min_first(quantize_min_first(w, lo, hi), lo, hi)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * float(hi - lo))
    assert np.all(np.abs(got.astype(np.float64) - w) <= (float(hi) - float(lo)) / 255 * 1.5 * 1.001 + 1e-6)


# -- SCALED and per-channel --------------------------------------------------------------------------


def test_scaled_mode_is_symmetric_qint8_with_exact_zero():
    w = RNG.randn(40, 30).astype(np.float32)
    w[0, 0] = 0.0
    out, _ = apply(QUANTIZE_WEIGHTS, const_graph(w), [], ["y"], minimum_size=1, mode="SCALED")
    by_name = nodes(out)
    assert by_name["w"].attr["mode"].s == b"SCALED" and by_name["w"].attr["axis"].i == -1
    q = const_value(by_name["w_quantized_const"])
    assert q.dtype == np.int8 and q.min() >= -127
    (got,) = run(out, {}, ["y"])
    m = np.abs(w).max()
    assert got[0, 0] == 0.0
    assert np.all(np.abs(got - w) <= m / 254 * 1.001)


def test_per_channel_ranges_follow_each_output_channel():
    scales = np.array([1e-3, 1.0, 100.0], np.float32)
    w = (RNG.randn(3, 3, 8, 3) * scales).astype(np.float32)
    per_tensor, _ = apply(QUANTIZE_WEIGHTS, const_graph(w), [], ["y"], minimum_size=1, mode="SCALED")
    per_channel, _ = apply(
        QUANTIZE_WEIGHTS, const_graph(w), [], ["y"], minimum_size=1, mode="SCALED", per_channel=True
    )
    assert nodes(per_channel)["w"].attr["axis"].i == 3
    assert const_value(nodes(per_channel)["w_quantized_max"]).shape == (3,)
    (coarse,) = run(per_tensor, {}, ["y"])
    (fine,) = run(per_channel, {}, ["y"])
    m = np.abs(w).reshape(-1, 3).max(axis=0)
    assert np.all(np.abs(fine - w) <= m / 254 * 1.001)
    small = np.abs(coarse - w)[..., 0].max(), np.abs(fine - w)[..., 0].max()
    assert small[1] < small[0] / 100


def test_per_channel_axis_of_depthwise_filters_is_the_input_channel():
    tf = _tf.tf()
    w = RNG.randn(3, 3, 4, 1).astype(np.float32)

    def body():
        x = tf.compat.v1.placeholder(tf.float32, [1, 5, 5, 4], name="x")
        tf.nn.depthwise_conv2d(x, tf.constant(w, name="w"), [1, 1, 1, 1], "SAME", name="y")

    graph_def = build(body)
    out, _ = apply(QUANTIZE_WEIGHTS, graph_def, ["x"], ["y"], minimum_size=1, mode="SCALED", per_channel=True)
    assert nodes(out)["w"].attr["axis"].i == 2
    x = RNG.randn(1, 5, 5, 4).astype(np.float32)
    (want,) = run(graph_def, {"x": x}, ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    np.testing.assert_allclose(got, want, atol=9 * np.abs(x).max() * np.abs(w).max() / 254 * 1.01)
