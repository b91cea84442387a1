"""graphrewrite.verification (graphrewrite.verify): output comparison, defaults, tolerances, make_checker, verify()."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.attrvalues import dtype_of_numpy
from graphrewrite.engine.errors import GraphError, NameNotFoundError
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.verification import (
    TOLERANCES,
    compare,
    default_inputs,
    default_outputs,
    default_tolerance,
    make_checker,
    verify,
)
from tests.helpers.rule_graphs import const, placeholder
from tests.helpers.verify_graphs import folded, matmul_mul

F32 = np.float32


# -- compare ---------------------------------------------------------------------------------


def test_compare_identical_and_close_values_pass() -> None:
    a = np.array([1.0, -2.0, 0.0], F32)
    assert compare("y", a, a.copy(), rtol=1e-4, atol=1e-5).max_abs == 0.0
    close = compare("y", a, a + np.array([1e-5, -1e-5, 0], F32), rtol=1e-4, atol=1e-5)
    assert close.ok and 0 < close.max_abs < 2e-5


def test_compare_reports_max_abs_and_rel_and_fails_beyond_tolerance() -> None:
    check = compare("y", np.array([1.0, 4.0]), np.array([1.5, 4.0]), rtol=1e-4, atol=1e-5)
    assert not check.ok
    assert check.max_abs == pytest.approx(0.5)
    assert check.max_rel == pytest.approx(0.5)


def test_compare_rel_error_ignores_elements_below_atol() -> None:
    check = compare("y", np.array([0.0, 2.0]), np.array([1e-6, 2.0]), rtol=1e-4, atol=1e-5)
    assert check.ok and check.max_rel == 0.0 and check.max_abs == pytest.approx(1e-6)


def test_compare_shape_and_dtype_changes_fail_with_a_note() -> None:
    shape = compare("y", np.zeros((1, 3)), np.zeros((1, 2)), rtol=1, atol=1)
    assert not shape.ok and shape.max_abs == np.inf and "shape [1, 2], expected [1, 3]" in shape.note
    dtype = compare("y", np.zeros(2, np.float32), np.zeros(2, np.float64), rtol=1, atol=1)
    assert not dtype.ok and "dtype float64, expected float32" in dtype.note


def test_compare_nan_and_inf_match_themselves_only() -> None:
    want = np.array([np.nan, np.inf, -np.inf, 1.0])
    assert compare("y", want, want.copy(), rtol=1e-4, atol=1e-5).ok
    assert not compare("y", want, np.array([1.0, np.inf, -np.inf, 1.0]), rtol=1e-4, atol=1e-5).ok
    assert not compare("y", want, np.array([np.nan, -np.inf, -np.inf, 1.0]), rtol=1e-4, atol=1e-5).ok


def test_compare_ints_bools_and_strings() -> None:
    assert compare("i", np.array([1, 2]), np.array([1, 2]), rtol=1e-4, atol=1e-5).ok
    assert not compare("i", np.array([1, 2]), np.array([1, 3]), rtol=1e-4, atol=1e-5).ok
    assert not compare("b", np.array([True]), np.array([False]), rtol=1e-4, atol=1e-5).ok
    assert compare("s", np.array([b"a"], object), np.array([b"a"], object), rtol=0, atol=0).ok
    assert not compare("s", np.array([b"a"], object), np.array([b"b"], object), rtol=0, atol=0).ok
    # Integers are exact, whatever the tolerance: an id off by one is a different word.
    assert not compare("i", np.array([1000]), np.array([1001]), rtol=1e-2, atol=1.0).ok
    assert not compare("i", np.array([2**62], np.int64), np.array([2**62 + 1], np.int64), rtol=0, atol=0).ok


# -- defaults --------------------------------------------------------------------------------


def test_default_inputs_and_outputs() -> None:
    graph = Graph.from_nodes([
        placeholder("x", (1,)),
        placeholder("unused_control_flow_input_3", (1,)),
        const("c", [1.0]),
        const("dead_const", [1.0]),
        Node.make("y", "AddV2", ["x", "c"], {"T": dtype_of_numpy(F32)}),
        Node.make("z", "Neg", ["x"], {"T": dtype_of_numpy(F32)}),
        Node.make("init", "NoOp", ["^y"]),
    ])  # fmt: skip
    assert default_inputs(graph) == ("x",)
    assert default_outputs(graph) == ("z",)  # y feeds the NoOp; NoOp and Consts are not outputs


def test_default_tolerance_by_graph_types() -> None:
    plain = Graph.from_graphdef(matmul_mul())
    assert default_tolerance(plain) == (*TOLERANCES["float32"], "float32 default")
    half = plain.replace([const("h", [1.0], np.float16), Node.make("hc", "Cast", ["h"], {"SrcT": dtype_of_numpy(np.float16), "DstT": dtype_of_numpy(F32)})])
    assert default_tolerance(half)[:2] == TOLERANCES["float16"]
    quant = half.replace([Node.make("dq", "Dequantize", ["h", "h", "h"], {"T": dtype_of_numpy(np.float16)})])
    assert default_tolerance(quant)[2] == "quantized default"
    assert TOLERANCES["quantized"][0] > TOLERANCES["float16"][0] > TOLERANCES["float32"][0]


# -- verify ----------------------------------------------------------------------------------


def test_verify_equal_functions_pass_and_report_each_output() -> None:
    report = verify(matmul_mul(), folded(), ["x"], ["y"])
    assert report.ok
    assert [c.name for c in report.outputs] == ["y"]
    assert report.outputs[0].max_abs < 1e-5
    table = report.table()
    assert "y" in table and "yes" in table and "rtol=0.0001 atol=1e-05 (float32 default)" in table


def test_verify_detects_a_changed_function() -> None:
    report = verify(matmul_mul(), folded((2.0, 3.1)))  # inputs and outputs by default
    assert not report.ok
    assert report.failed[0].name == "y" and report.failed[0].max_abs > 1e-3
    assert "NO" in report.table()


def test_verify_given_tolerance_and_feeds() -> None:
    feeds = {"x:0": np.ones((2, 3), F32)}
    loose = verify(matmul_mul(), folded((2.0, 3.1)), ["x"], ["y"], rtol=0.1, atol=0.0, feeds=feeds)
    assert loose.ok and loose.tolerance == "given"
    exact = verify(matmul_mul(), folded((2.0, 3.1)), ["x"], ["y"], rtol=0.0, atol=0.0, feeds=feeds)
    assert not exact.ok


def test_verify_feed_with_wrong_shape_is_a_one_line_error() -> None:
    with pytest.raises(GraphError, match=r"input 'x': the given value has shape \[2, 4\], the graph says \[\?,3\]"):
        verify(matmul_mul(), folded(), ["x"], ["y"], feeds={"x": np.ones((2, 4), F32)})


def test_verify_unknown_names_suggest_the_right_one() -> None:
    with pytest.raises(NameNotFoundError, match="output 'yy' is not a node of the original graph; did you mean 'y'"):
        verify(matmul_mul(), folded(), ["x"], ["yy"])
    with pytest.raises(NameNotFoundError, match="output 'mm' is not a node of the transformed graph"):
        verify(matmul_mul(), folded(), ["x"], ["y", "mm"])


def test_input_shapes_fill_unknown_dims() -> None:
    # Reshape to 12 elements only works when x is fed as [4, 3].
    graph = Graph.from_graphdef(matmul_mul()).replace([
        const("shape", [12], np.int32),
        Node.make("flat", "Reshape", ["x", "shape"], {"T": dtype_of_numpy(F32), "Tshape": dtype_of_numpy(np.int32)}),
    ]).to_graphdef()  # fmt: skip
    with pytest.raises(GraphError):
        verify(graph, graph, ["x"], ["flat"])
    assert verify(graph, graph, ["x"], ["flat"], input_shapes="x:4,3").ok
    assert verify(graph, graph, ["x"], ["flat"], input_shapes={"x": (4, 3)}).ok


def test_make_checker_runs_the_original_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import graphrewrite.runner as runner

    built = []
    original_init = runner.GraphRunner.__init__

    def counting_init(self: object, graph_def: object) -> None:
        built.append(len(graph_def.node))
        original_init(self, graph_def)

    monkeypatch.setattr(runner.GraphRunner, "__init__", counting_init)
    check = make_checker(matmul_mul(), "x", "y")
    assert built == [5]
    assert check(folded()).ok
    assert not check(folded((1.0, 1.0))).ok
    assert check(Graph.from_graphdef(folded())).ok  # a Graph is accepted too
    assert built == [5, 3, 3, 3]


def test_seed_changes_the_random_inputs() -> None:
    a = verify(matmul_mul(), folded((2.0, 3.1)), ["x"], ["y"], seed=0).outputs[0].max_abs
    b = verify(matmul_mul(), folded((2.0, 3.1)), ["x"], ["y"], seed=0).outputs[0].max_abs
    c = verify(matmul_mul(), folded((2.0, 3.1)), ["x"], ["y"], seed=1).outputs[0].max_abs
    assert a == b != c


def test_the_package_verify_is_a_plain_function() -> None:
    import types

    import graphrewrite

    assert isinstance(graphrewrite.verify, types.FunctionType)
    assert graphrewrite.verify(matmul_mul(), folded(), ["x"], ["y"]).ok


def test_output_scale_judges_small_elements_by_the_outputs_magnitude():
    from graphrewrite.verification import compare

    want = np.array([100.0, 0.001], np.float32)
    have = np.array([100.0, 0.5], np.float32)
    assert not compare("y", want, have, rtol=1e-2, atol=1e-3).ok
    assert compare("y", want, have, rtol=1e-2, atol=1e-3, scale="output").ok
    assert not compare("y", want, want + 2, rtol=1e-2, atol=1e-3, scale="output").ok
