"""quantize_nodes: each eight-bit kernel, the redundant-pair removal, the options, FakeQuants.

GTT's C++ binding is the oracle: on every graph GTT handles, our output computes bit-identical
values (GTT names shared quantizers by hash order and keeps dead float subgraphs, so names and
node counts are compared only where they are meant to agree).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphrewrite import _tf
from graphrewrite.engine.driver import Context, run_steps
from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.graph import Graph
from graphrewrite.rules.params import defaults
from graphrewrite.rules.rule import Step
from graphrewrite.stdlib_rules.quantize_nodes import QUANTIZE_NODES
from graphrewrite.stdlib_rules.quantize_ops import QUANTIZED_OPS
from graphrewrite.stdlib_rules.quantize_weights import QUANTIZE_WEIGHTS
from tests.helpers.compression import apply, build, gtt, nodes, run

RNG = np.random.RandomState(3)
SHAPE = (1, 8, 8, 3)


def weights(*shape):
    return np.asarray(RNG.randn(*shape), np.float32)


def single_op_graph(kind: str):
    """x (1x8x8x3) -> one op of *kind* -> y (Identity)."""
    tf = _tf.tf()
    raw = tf.raw_ops

    def body():
        x = tf.compat.v1.placeholder(tf.float32, SHAPE, name="x")
        make = {
            "Conv2D": lambda: tf.nn.conv2d(x, tf.constant(weights(3, 3, 3, 4)), [1, 1, 1, 1], "SAME"),
            "BiasAdd": lambda: tf.nn.bias_add(x, tf.constant(weights(3))),
            "Relu": lambda: tf.nn.relu(x),
            "Relu6": lambda: tf.nn.relu6(x),
            "MaxPool": lambda: tf.nn.max_pool2d(x, 2, 2, "VALID"),
            "AvgPool": lambda: tf.nn.avg_pool2d(x, 2, 2, "VALID"),
            "Reshape": lambda: tf.reshape(x, [1, -1]),
            "MatMul": lambda: tf.matmul(tf.reshape(x, [8, 24]), tf.constant(weights(24, 5))),
            "Add": lambda: raw.Add(x=x, y=tf.constant(weights(3))),
            "Mul": lambda: raw.Mul(x=x, y=tf.constant(weights(3))),
            "Concat": lambda: raw.Concat(concat_dim=tf.constant(3), values=[x, tf.nn.relu(x)]),
            "ResizeBilinear": lambda: raw.ResizeBilinear(images=x, size=tf.constant([16, 16])),
            "AddV2": lambda: raw.AddV2(x=x, y=tf.nn.relu(x)),
            "ConcatV2": lambda: tf.concat([x, tf.nn.relu(x)], 3),
        }
        tf.identity(make[kind](), name="y")

    return build(body)


def chain_graph(fake_quant: bool = False, *, bias=None):
    """x -> Conv2D(w) -> BiasAdd(b) -> Relu [-> FakeQuant(0, 6)] -> MaxPool -> y."""
    tf = _tf.tf()
    rng = np.random.RandomState(17)
    w = rng.randn(3, 3, 3, 4).astype(np.float32)
    b = rng.randn(4).astype(np.float32) if bias is None else np.asarray(bias, np.float32)

    def body():
        x = tf.compat.v1.placeholder(tf.float32, SHAPE, name="x")
        y = tf.nn.conv2d(x, tf.constant(w, name="w"), [1, 1, 1, 1], "SAME", name="conv")
        y = tf.nn.relu(tf.nn.bias_add(y, tf.constant(b, name="b"), name="bias"), name="relu")
        if fake_quant:
            lo, hi = tf.constant(0.0, name="fmin"), tf.constant(6.0, name="fmax")
            y = tf.quantization.fake_quant_with_min_max_vars(y, lo, hi, name="fq")
        tf.identity(tf.nn.max_pool2d(y, 2, 2, "VALID", name="pool"), name="y")

    return build(body)


def pipeline(graph_def, *steps):
    ctx = Context(inputs=("x",), outputs=("y",))
    full = [Step(t, {**defaults(t.params), **args}) for t, args in steps]
    graph, _ = run_steps(Graph.from_graphdef(graph_def), full, ctx)
    return graph.to_graphdef()


def sample(low=-0.5, high=1.5):
    return RNG.uniform(low, high, SHAPE).astype(np.float32)


def live(graph_def, outputs=("y",)):
    """Nodes the outputs depend on (GTT leaves dead float subgraphs behind)."""
    by_name = nodes(graph_def)
    seen, stack = set(), list(outputs)
    while stack:
        name = stack.pop().lstrip("^").split(":")[0]
        if name not in seen:
            seen.add(name)
            stack.extend(by_name[name].input)
    return [by_name[n] for n in seen]


def test_every_kernel_in_the_table_is_registered_in_tensorflow():
    missing = sorted({i.quantized for i in QUANTIZED_OPS.values() if _tf.op_def(i.quantized) is None})
    assert not missing
    assert _tf.op_def("QuantizedConv2DTranspose") is None  # why GTT's Conv2DBackpropInput entry is gone


GTT_OPS = ["Conv2D", "BiasAdd", "Relu", "Relu6", "MaxPool", "AvgPool", "Reshape", "MatMul", "Add", "Mul",
           "Concat", "ResizeBilinear"]


@pytest.mark.gtt
@pytest.mark.parametrize("kind", GTT_OPS)
def test_each_kernel_converts_runs_and_equals_gtt_bit_for_bit(kind):
    graph_def = single_op_graph(kind)
    out, report = apply(QUANTIZE_NODES, graph_def, ["x"], ["y"])
    assert QUANTIZED_OPS[kind].quantized in {n.op for n in out.node}
    assert report.applied > 0
    x = sample()
    (want,) = run(graph_def, {"x": x}, ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    (theirs,) = run(gtt(graph_def, ["x"], ["y"], "quantize_nodes"), {"x": x}, ["y"])
    np.testing.assert_array_equal(got, theirs)
    _assert_quantization_error(got, want, layers=2)


def _assert_quantization_error(got, want, *, layers):
    """Each eight-bit stage is off by about half a step of its range; allow 2 steps a stage."""
    scale = max(float(np.abs(want).max()), 1.0)
    assert np.abs(got - want).max() <= layers * 2 * scale / 255 * 2 + 1e-6
    assert not np.array_equal(got, want)


@pytest.mark.parametrize("kind", ["AddV2", "ConcatV2"])
def test_modern_ops_gtt_leaves_in_float_are_converted(kind):
    graph_def = single_op_graph(kind)
    out, _ = apply(QUANTIZE_NODES, graph_def, ["x"], ["y"])
    assert QUANTIZED_OPS[kind].quantized in {n.op for n in out.node}
    assert kind not in {n.op for n in out.node}
    x = sample()
    (want,) = run(graph_def, {"x": x}, ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    _assert_quantization_error(got, want, layers=2)


@pytest.mark.gtt
def test_adjacent_eight_bit_ops_pass_eight_bit_data_and_nothing_dead_is_left():
    graph_def = chain_graph()
    out = pipeline(graph_def, (QUANTIZE_WEIGHTS, {"minimum_size": 1}), (QUANTIZE_NODES, {}))
    by_name = nodes(out)
    assert list(by_name["bias/eightbit"].input[:2]) == ["conv/eightbit/requantize", "b_quantized_const"]
    assert by_name["relu/eightbit"].input[0] == "bias/eightbit/requantize"
    assert by_name["pool/eightbit"].input[0] == "relu/eightbit"
    assert by_name["conv/eightbit"].input[1] == "w_quantized_const"
    assert {n.name for n in live(out)} | {"x"} == set(by_name)  # GTT keeps 35 dead nodes here
    theirs = gtt(graph_def, ["x"], ["y"], "quantize_weights(minimum_size=1) quantize_nodes")
    assert sorted(n.op for n in live(out)) == sorted(n.op for n in live(theirs))
    x = sample()
    (got,) = run(out, {"x": x}, ["y"])
    np.testing.assert_array_equal(got, run(theirs, {"x": x}, ["y"])[0])


@pytest.mark.gtt
@pytest.mark.parametrize(
    ("args", "script"),
    [
        ({"fallback_min": -10.0, "fallback_max": 10.0}, "quantize_nodes(fallback_min=-10, fallback_max=10)"),
        ({"ignore_op": ["Relu", "MaxPool"]}, "quantize_nodes(ignore_op=Relu, ignore_op=MaxPool)"),
    ],
)
def test_options_match_gtt(args, script):
    graph_def = chain_graph()
    out = pipeline(graph_def, (QUANTIZE_NODES, args))
    theirs = gtt(graph_def, ["x"], ["y"], script)
    assert sorted(n.op for n in live(out)) == sorted(n.op for n in live(theirs))
    x = sample()
    np.testing.assert_array_equal(run(out, {"x": x}, ["y"])[0], run(theirs, {"x": x}, ["y"])[0])
    ops = {n.op for n in out.node}
    if "fallback_min" in args:
        assert "RequantizationRange" not in ops
    else:
        assert {"Relu", "MaxPool"} <= ops and "QuantizedRelu" not in ops


@pytest.mark.gtt
def test_quantized_placeholders_take_eight_bit_feeds():
    graph_def = chain_graph()
    out = pipeline(graph_def, (QUANTIZE_NODES, {"input_min": 0.0, "input_max": 1.0}))
    by_name = nodes(out)
    assert _tf.tf().as_dtype(by_name["x"].attr["dtype"].type).name == "quint8"
    assert by_name["conv/eightbit"].input[0] == "x"  # the input Dequantize was cancelled
    feed = RNG.randint(0, 256, SHAPE).astype(np.uint8)
    (got,) = run(out, {"x": feed}, ["y"])
    theirs = gtt(graph_def, ["x"], ["y"], "quantize_nodes(input_min=0, input_max=1)")
    np.testing.assert_array_equal(got, run(theirs, {"x": feed}, ["y"])[0])
    (want,) = run(graph_def, {"x": feed.astype(np.float32) / 255}, ["y"])
    _assert_quantization_error(got, want, layers=4)


@pytest.mark.gtt
def test_fake_quant_ranges_replace_dynamic_ones_as_in_gtt():
    graph_def = chain_graph(fake_quant=True)
    out = pipeline(graph_def, (QUANTIZE_NODES, {}))
    by_name = nodes(out)
    # hoisted above the Relu, converted, and merged into the BiasAdd's Requantize
    assert list(by_name["fq_hoisted_eightbit/requantize"].input) == [
        "bias/eightbit", "bias/eightbit:1", "bias/eightbit:2", "fmin", "fmax"]
    assert by_name["fq/eightbit"].op == "QuantizedRelu"  # the Relu took the FakeQuant's name
    assert by_name["pool/eightbit"].input[0] == "fq/eightbit"
    x = sample()
    theirs = gtt(graph_def, ["x"], ["y"], "quantize_nodes")
    np.testing.assert_array_equal(run(out, {"x": x}, ["y"])[0], run(theirs, {"x": x}, ["y"])[0])


def test_ops_the_kernels_cannot_run_stay_float():
    tf = _tf.tf()

    def body():
        x = tf.compat.v1.placeholder(tf.float32, [1, 3, 8, 8], name="x")
        nchw = tf.nn.conv2d(x, tf.constant(weights(3, 3, 3, 4)), [1, 1, 1, 1], "SAME", data_format="NCHW")
        tf.identity(nchw, name="a")
        ints = tf.compat.v1.placeholder(tf.int32, [4], name="i")
        tf.identity(tf.raw_ops.Add(x=ints, y=ints), name="b")

    out, report = apply(QUANTIZE_NODES, build(body), ["x", "i"], ["a", "b"])
    assert report.applied == 0
    assert not any(n.op.startswith("Quantized") for n in out.node)


@pytest.mark.gtt
def test_adds_the_eight_bit_kernel_would_broadcast_wrongly_stay_float():
    """QuantizedAdd takes [1,8,8,3] + [1,8,8,1] but ignores the second operand's layout: GTT's
    conversion computes wrong values. Such Adds (and unknown shapes) are refused here."""
    tf = _tf.tf()

    def body():
        x = tf.compat.v1.placeholder(tf.float32, SHAPE, name="x")
        tf.raw_ops.Add(x=x, y=tf.constant(weights(1, 8, 8, 1)), name="y")
        tf.raw_ops.Mul(x=x, y=tf.compat.v1.placeholder(tf.float32, None, name="free"), name="z")

    graph_def = build(body)
    out, _ = apply(QUANTIZE_NODES, graph_def, ["x", "free"], ["y", "z"])
    assert nodes(out)["y"].op == "Add" and nodes(out)["z"].op == "Mul"
    x = sample()
    (want,) = run(graph_def, {"x": x}, ["y"])
    (theirs,) = run(gtt(graph_def, ["x"], ["y"], "quantize_nodes"), {"x": x}, ["y"])
    assert np.abs(theirs - want).max() > 0.1


def test_broadcast_refusal_rules():
    from graphrewrite.stdlib_rules.quantize_ops import broadcast_refusal

    assert broadcast_refusal((1, 8, 8, 3), (1, 8, 8, 3)) is None
    assert broadcast_refusal((None, 8, 3), (None, 8, 3)) is None
    assert broadcast_refusal((1, 8, 8, 3), (3,)) is None
    assert broadcast_refusal((1, 1, 1, 3), (1, 8, 8, 3)) is None
    assert broadcast_refusal((), (1, 8, 8, 3)) is None
    assert "[1, 8, 8, 3] and [8, 1, 3]" in broadcast_refusal((1, 8, 8, 3), (8, 1, 3))
    assert "unknown shape" in broadcast_refusal(None, (3,))
    assert broadcast_refusal((2, 3), (1, 1, 1, 3)) is not None  # would grow the result's rank


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"input_min": 0.0}, "pass both input_min and input_max"),
        ({"fallback_max": 1.0}, "pass both fallback_min and fallback_max"),
        ({"input_min": 1.0, "input_max": 1.0}, "input_min=1.0 must be below input_max=1.0"),
    ],
)
def test_half_given_or_empty_ranges_are_usage_errors(args, message):
    with pytest.raises(UsageError, match=message):
        apply(QUANTIZE_NODES, chain_graph(), ["x"], ["y"], **args)


@settings(max_examples=12, deadline=None)
@given(hnp.arrays(np.float32, SHAPE, elements=st.floats(-4, 4, width=32)))
def test_property_quantized_chain_stays_within_the_step_bound(x):
    graph_def = chain_graph()
    want, conv, bias = run(graph_def, {"x": x}, ["y", "conv", "bias"])
    # The eight-bit Relu can only give 0 when its input range holds 0 (see the next test).
    assume(bias.min() < 0 < bias.max() and conv.min() <= 0 <= conv.max())
    out, _ = apply(QUANTIZE_NODES, graph_def, ["x"], ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    scale = max(float(np.abs(want).max()), 1.0)
    assert np.abs(got - want).max() <= 4 * 2 * scale / 255 * 2 + 1e-6


@pytest.mark.gtt
def test_a_relu_whose_input_range_excludes_zero_cannot_output_zero_as_in_gtt():
    """RequantizationRange does not widen to 0: an all-negative BiasAdd output gives a quint8
    range [lo, hi] < 0 that the Relu keeps, so it dequantizes to lo instead of 0. GTT's flaw,
    reproduced (documented in docs/compression.md)."""
    graph_def = chain_graph(bias=[-1.0, -2.0, -3.0, -4.0])
    out, _ = apply(QUANTIZE_NODES, graph_def, ["x"], ["y"])
    x = np.zeros(SHAPE, np.float32)
    (want,) = run(graph_def, {"x": x}, ["y"])
    (got,) = run(out, {"x": x}, ["y"])
    np.testing.assert_array_equal(got, run(gtt(graph_def, ["x"], ["y"], "quantize_nodes"), {"x": x}, ["y"])[0])
    assert np.all(want == 0) and np.all(got < 0)


def test_conv_with_unequal_strides_stays_float():
    """QuantizedConv2D supports only equal row and column strides: such a conv is left alone."""
    from graphrewrite.engine.attrvalues import DType, Shape
    from graphrewrite.engine.driver import Context
    from graphrewrite.engine.graph import Graph, Node
    from graphrewrite.stdlib_rules.quantize_nodes import QUANTIZE_NODES

    f32 = DType(1)
    w = np.random.default_rng(0).normal(size=(3, 3, 2, 4)).astype(np.float32)
    graph = Graph.from_nodes([
        Node.make("x", "Placeholder", [], {"dtype": f32, "shape": Shape((1, 8, 8, 2))}),
        Node.make("w", "Const", [], {"dtype": f32, "value": w}),
        Node.make("y", "Conv2D", ["x", "w"], {"T": f32, "strides": [1, 1, 2, 1], "padding": "SAME"}),
    ])  # fmt: skip
    step = QUANTIZE_NODES
    after, _ = step.apply(graph, Context(inputs=("x",), outputs=("y",)))
    assert after.node("y").op == "Conv2D" and not [n for n in after if n.op.startswith("Quantized")]
