"""fold_constants: what folds, what must not, names, control edges, budget, pruning, vs GTT."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import RuleError, UsageError
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules.fold_constants import FOLD_CONSTANTS as FOLD
from tests.helpers.structural import (
    F32,
    I32,
    apply,
    assert_clean,
    assert_same_outputs,
    binary,
    const,
    graph,
    inputs_of,
    names,
    op,
    op_by_name,
    ph,
    unary,
)

X = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5


def _model():
    """x -> y = x * rsqrt(a * b) + c, with an int shape computation feeding a Reshape."""
    return graph(
        ph("x", shape=(2, 3)),
        const("a", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        const("b", 2.0),
        binary("m", "Mul", "a", "b"),
        unary("r", "Rsqrt", "m"),  # no numpy kernel: the one TF run
        const("c", [0.5, 0.25, 0.125]),
        binary("rc", "AddV2", "r", "c"),
        binary("y0", "Mul", "x", "rc"),
        const("dims", [3, 2], np.int32),
        const("one", 1, np.int32),
        op("dims1", "Sub", ["dims", "one"], T=I32),
        op("dims2", "AddV2", ["dims1", "one"], T=I32),
        op("y", "Reshape", ["y0", "dims2"], T=F32, Tshape=I32),
    )


def test_folds_constant_subgraphs_keeping_names():
    before = _model()
    after = apply(FOLD, before, inputs=["x"], outputs=["y"])
    assert op_by_name(after) == {"x": "Placeholder", "rc": "Const", "y0": "Mul", "dims2": "Const", "y": "Reshape"}
    np.testing.assert_array_equal(after.node("dims2").value(), np.array([3, 2], np.int32))
    assert after.node("rc").value().dtype == np.float32
    assert_clean(after, ["x"], ["y"])
    assert_same_outputs(before, after, {"x": X}, ["y"])


def test_folded_values_are_exactly_tensorflows():
    before = _model()
    after = apply(FOLD, before, inputs=["x"], outputs=["y"])
    from tests.helpers.structural import evaluate

    (expected,) = evaluate(before, {}, ["rc"])
    np.testing.assert_array_equal(after.node("rc").value(), expected)


def test_without_outputs_nothing_is_pruned():
    g = graph(ph("x"), const("a", 1.0), unary("n", "Neg", "a"), unary("dead", "Relu", "x"), const("lonely", 2.0))
    after = apply(FOLD, g, inputs=["x"])
    assert op_by_name(after) == {"x": "Placeholder", "n": "Const", "dead": "Relu", "lonely": "Const"}


def test_with_outputs_unneeded_nodes_go_but_inputs_stay():
    g = graph(ph("x"), ph("unused"), const("a", 1.0), unary("n", "Neg", "a"), unary("dead", "Relu", "x"),
              binary("y", "Mul", "x", "n"))  # fmt: skip
    after = apply(FOLD, g, inputs=["x", "unused"], outputs=["y"])
    assert names(after) == ["x", "unused", "n", "y"]


def test_stateful_and_random_ops_are_not_folded():
    g = graph(
        const("shape", [2], np.int32),
        op("rnd", "RandomUniform", ["shape"], T=I32, dtype=F32),
        unary("neg_rnd", "Neg", "rnd"),
        op("srnd", "StatelessRandomUniformV2", ["shape", "key", "counter", "alg"], dtype=F32, Tshape=I32),
        const("key", [1], np.uint64),
        const("counter", [1, 2], np.uint64),
        const("alg", 1, np.int32),
        unary("out", "Identity", "neg_rnd"),
    )
    after = apply(FOLD, g)
    assert op_by_name(after)["rnd"] == "RandomUniform" and op_by_name(after)["neg_rnd"] == "Neg"
    assert op_by_name(after)["srnd"] == "StatelessRandomUniformV2"


def test_nothing_reachable_from_a_placeholder_or_a_fed_input_folds():
    g = graph(
        ph("x"),
        unary("nx", "Neg", "x"),
        const("fed", 3.0),
        unary("nfed", "Neg", "fed"),
        const("k", 1.0),
        unary("nk", "Neg", "k"),
        binary("y", "AddV2", "nx", "nfed"),
        binary("z", "AddV2", "y", "nk"),
    )
    after = apply(FOLD, g, inputs=["x", "fed:0"], outputs=["z"])
    assert op_by_name(after) == {"x": "Placeholder", "nx": "Neg", "fed": "Const", "nfed": "Neg", "nk": "Const",
                          "y": "AddV2", "z": "AddV2"}  # fmt: skip


def test_exclude_op_and_exclude_node():
    g = graph(const("a", 2.0), unary("n1", "Neg", "a"), unary("n2", "Neg", "a"), unary("s", "Square", "a"))
    after = apply(FOLD, g, exclude_op=["Square"], exclude_node=["n2"])
    assert op_by_name(after) == {"a": "Const", "n1": "Const", "n2": "Neg", "s": "Square"}


def test_results_over_the_budget_stay_as_they_were():
    g = graph(
        const("dims", [64, 64], np.int32),
        const("v", 1.0),
        op("big", "Fill", ["dims", "v"], T=F32, index_type=I32),  # 16 KiB
        const("axes", [0, 1], np.int32),
        op("total", "Sum", ["big", "axes"], T=F32, Tidx=I32, keep_dims=False),
        const("small_dims", [2], np.int32),
        op("small", "Fill", ["small_dims", "v"], T=F32, index_type=I32),
    )
    after = apply(FOLD, g, max_constant_size_in_bytes="4096")
    assert op_by_name(after) == {"dims": "Const", "v": "Const", "big": "Fill", "axes": "Const", "total": "Sum",
                          "small": "Const"}  # fmt: skip
    assert_same_outputs(g, after, {}, ["total", "small"])
    unlimited = apply(FOLD, g)
    assert unlimited.node("total").op == "Const" and "big" not in unlimited


def test_tensorflow_results_over_the_budget_are_not_materialised():
    # Pad has no numpy kernel; TF's static shapes say 'big' is 64 KiB before anything runs, and
    # 'late' (paddings computed by numpy, so unknown to TF statically) is measured after.
    g = graph(
        const("v", [[1.0]]),
        const("pads", [[0, 127], [0, 127]], np.int32),
        op("big", "Pad", ["v", "pads"], T=F32, Tpaddings=I32),
        const("two", 2, np.int32),
        op("pads2", "Mul", ["pads", "two"], T=I32),
        op("late", "Pad", ["v", "pads2"], T=F32, Tpaddings=I32),
        unary("out1", "Relu", "big"),
        unary("out2", "Relu", "late"),
    )
    after = apply(FOLD, g, max_constant_size_in_bytes="1024")
    assert op_by_name(after)["big"] == "Pad" and op_by_name(after)["late"] == "Pad"
    assert op_by_name(after)["out1"] == "Relu" and op_by_name(after)["pads2"] == "Const"
    assert_same_outputs(g, after, {}, ["out1", "out2"])


def test_negative_budget_is_a_usage_error():
    with pytest.raises(UsageError, match="max_constant_size_in_bytes must be 0 or more, got -1"):
        apply(FOLD, graph(const("a", 1.0)), max_constant_size_in_bytes="-1")


def test_control_dependencies_move_to_the_new_constant():
    g = graph(
        ph("x"),
        op("init", "NoOp"),
        unary("x_read", "Relu", "x"),
        const("a", 1.0, inputs=["^init"]),  # a Const waiting for a non-constant
        unary("n", "Neg", "a", "^x_read"),
        const("b", 2.0),
        binary("s", "AddV2", "n", "b"),
        binary("y", "Mul", "x", "s"),
    )
    after = apply(FOLD, g, inputs=["x"], outputs=["y"])
    assert op_by_name(after)["s"] == "Const"
    # ^init is dropped: an input-less NoOp has nothing to wait for (drop_inert_control_edges).
    assert inputs_of(after, "s") == ["^x_read"]
    assert "n" not in after and "a" not in after and "b" not in after
    assert_clean(after, ["x"], ["y"])


def test_shape_of_a_fully_known_placeholder_folds_with_a_control_edge():
    g = graph(
        ph("x", shape=(2, 3)),
        ph("p", shape=(None, 3)),
        op("sx", "Shape", ["x"], T=F32, out_type=I32),
        op("sp", "Shape", ["p"], T=F32, out_type=I32),
        op("rp", "Rank", ["p"], T=F32),
        op("y", "Reshape", ["p", "sx"], T=F32, Tshape=I32),
    )
    after = apply(FOLD, g, inputs=["x", "p"])
    assert op_by_name(after)["sx"] == "Const" and inputs_of(after, "sx") == ["^x"]
    np.testing.assert_array_equal(after.node("sx").value(), [2, 3])
    assert op_by_name(after)["sp"] == "Shape"  # a dimension is unknown
    assert op_by_name(after)["rp"] == "Const" and after.node("rp").value() == 2


def test_output_shapes_are_trusted_only_when_kept():
    from graphrewrite import _tf
    from graphrewrite.engine.attrvalues import shape_to_proto

    shapes = _tf.pb().AttrValue()
    shapes.list.shape.add().CopyFrom(shape_to_proto((4, 5)))
    g = graph(ph("p"), op("x", "Relu", ["p"], T=F32, _output_shapes=shapes), op("s", "Shape", ["x"], T=F32, out_type=I32))
    cleared = apply(FOLD, g, inputs=["p"])
    assert op_by_name(cleared)["s"] == "Shape" and "_output_shapes" not in cleared.node("x").attr
    kept = apply(FOLD, g, inputs=["p"], clear_output_shapes="false")
    assert op_by_name(kept)["s"] == "Const" and list(kept.node("s").value()) == [4, 5]
    assert inputs_of(kept, "s") == ["^x"] and "_output_shapes" in kept.node("x").attr


def test_each_used_output_of_a_multi_output_op_becomes_a_constant():
    g = graph(
        ph("x", shape=(3,)),
        const("m", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
        op("rows", "Unpack", ["m"], T=F32, num=3, axis=0),
        const("dim", 0, np.int32),
        op("halves", "Split", ["dim", "m"], T=F32, num_split=3),  # TF-evaluated
        binary("y0", "Mul", "x", "rows"),
        binary("y2", "Mul", "x", "rows:2"),
        binary("z1", "Mul", "x", "halves:1"),
    )
    after = apply(FOLD, g, inputs=["x"], outputs=["y0", "y2", "z1"])
    assert op_by_name(after) == {"x": "Placeholder", "rows": "Const", "y0": "Mul", "y2": "Mul", "z1": "Mul",
                          "rows/output_2": "Const", "halves/output_1": "Const"}  # fmt: skip
    assert inputs_of(after, "y2") == ["x", "rows/output_2"] and inputs_of(after, "z1") == ["x", "halves/output_1"]
    feeds = {"x": np.array([1.0, -1.0, 2.0], np.float32)}
    assert_same_outputs(g, after, feeds, ["y0", "y2", "z1"])
    assert_clean(after, ["x"], ["y0", "y2", "z1"])


def test_a_protected_multi_output_node_keeps_its_ports():
    g = graph(const("m", [[1.0, 2.0], [3.0, 4.0]]), op("rows", "Unpack", ["m"], T=F32, num=2, axis=0),
              unary("y", "Neg", "rows:1"))  # fmt: skip
    after = apply(FOLD, g, outputs=["rows:1", "y"])
    assert op_by_name(after) == {"m": "Const", "rows": "Unpack", "y": "Const"}


def test_colocation_entries_of_removed_nodes_are_dropped():
    g = graph(ph("x"), const("w", 2.0), unary("w_read", "Identity", "w"), binary("y", "Mul", "x", "w_read"))
    y = g.node("y").with_attrs(_class=["loc:@w", "loc:@x"])
    g = g.replace([y])
    after = apply(FOLD, g, inputs=["x"], outputs=["y"])
    assert "w" not in after and after.node("y").get("_class") == ["loc:@x"]


def test_tensorflow_errors_name_the_node():
    g = graph(const("a", [1, 2], np.int32), const("z", [0, 0], np.int32), op("q", "FloorDiv", ["a", "z"], T=I32))
    with pytest.raises(RuleError, match="node 'q'"):
        apply(FOLD, g)


def test_cycles_and_control_flow_are_left_alone():
    g = graph(
        const("zero", 0.0),
        op("enter", "Enter", ["zero"], T=F32, frame_name="loop"),
        op("merge", "Merge", ["enter", "next"], T=F32, N=2),
        unary("inc", "Neg", "merge"),
        op("next", "NextIteration", ["inc"], T=F32),
    )
    after = apply(FOLD, g)
    assert op_by_name(after) == op_by_name(g)


def test_output_is_deterministic():
    first = apply(FOLD, _model(), inputs=["x"], outputs=["y"]).to_graphdef().SerializeToString(deterministic=True)
    second = apply(FOLD, _model(), inputs=["x"], outputs=["y"]).to_graphdef().SerializeToString(deterministic=True)
    assert first == second


def test_parameters_through_a_pipeline_script():
    from graphrewrite.pipeline import compile_pipeline, run_pipeline

    steps = compile_pipeline("fold_constants(exclude_op=Rsqrt, exclude_node=dims1, clear_output_shapes=false)")
    result = run_pipeline(_model().to_graphdef(), steps, inputs="x", outputs="y")
    after = Graph.from_graphdef(result.graph_def)
    assert op_by_name(after)["r"] == "Rsqrt" and op_by_name(after)["m"] == "Const"
    assert op_by_name(after)["dims1"] == "Sub" and op_by_name(after)["dims2"] == "AddV2"


# -- against GTT -------------------------------------------------------------------------------


def _gtt(g: Graph, inputs: str, outputs: str, transforms: str) -> Graph:
    binding = pytest.importorskip("tensorflow.python.util._pywrap_transform_graph")
    out = binding.TransformGraphWithStringInputs(g.to_graphdef().SerializeToString(), inputs, outputs, transforms)
    from graphrewrite import _tf

    graph_def = _tf.pb().GraphDef()
    graph_def.ParseFromString(out)
    return Graph.from_graphdef(graph_def)


@pytest.mark.gtt
def test_same_folding_as_gtt_up_to_names():
    before = _model()
    ours = apply(FOLD, before, inputs=["x"], outputs=["y"])
    gtt = _gtt(before, "x", "y", "fold_constants")
    # GTT names folded constants '<node>/__cf__<k>'; we keep '<node>'. The op multisets match.
    assert sorted(n.op for n in ours) == sorted(n.op for n in gtt)
    gtt_consts = sorted(n.value().tobytes() for n in gtt if n.op == "Const")
    our_consts = sorted(n.value().tobytes() for n in ours if n.op == "Const")
    assert our_consts == gtt_consts


@pytest.mark.gtt
def test_gtt_also_folds_shape_of_a_known_placeholder():
    g = graph(ph("x", shape=(2, 3)), op("s", "Shape", ["x"], T=F32, out_type=I32), op("y", "Reshape", ["x", "s"], T=F32, Tshape=I32))
    gtt = _gtt(g, "x", "y", "fold_constants")
    ours = apply(FOLD, g, inputs=["x"], outputs=["y"])
    assert sorted(n.op for n in ours) == sorted(n.op for n in gtt) == ["Const", "Placeholder", "Reshape"]
