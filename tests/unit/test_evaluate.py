"""The constant evaluator: which nodes are constant, the one TF run, values, budgets, types."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import _tf
from graphrewrite.engine import foldable
from graphrewrite.engine.attrvalues import DType, shape_to_proto
from graphrewrite.engine.evaluate import FoldOptions, fold_plan
from graphrewrite.engine.graph import Graph, TensorRef
from graphrewrite.engine.kernels import Value
from graphrewrite.engine.opdefs import output_type_enums as output_types
from graphrewrite.engine.tfbatch import Batch
from graphrewrite.runner import run_graph
from tests.helpers.rule_graphs import const
from tests.helpers.structural import op as node

F32, I32 = DType(1), DType(3)


def plan_of(*nodes, **options):
    return fold_plan(Graph.from_nodes(nodes), FoldOptions(**options))


@pytest.fixture
def tf_runs(monkeypatch):
    """Counts session runs of the TF batch."""
    calls = []
    original = Batch.run

    def counting(self, fetches):
        calls.append(list(fetches))
        return original(self, fetches)

    monkeypatch.setattr(Batch, "run", counting)
    return calls


def test_numpy_only_graph_never_touches_a_session(tf_runs):
    plan = plan_of(const("a", [1.0, 2.0]), const("b", 3.0), node("m", "Mul", ["a", "b"], T=F32),
                   node("out", "Neg", ["m"], T=F32))  # fmt: skip
    assert tf_runs == []
    assert plan.folded == ("m", "out")
    assert list(plan.constants) == [TensorRef("out", 0)]
    np.testing.assert_array_equal(plan.constants[TensorRef("out", 0)].array, np.float32([-3.0, -6.0]))


def test_every_tf_only_node_is_evaluated_in_one_session_run(tf_runs):
    nodes = [const("a", [4.0, 9.0])]
    for k in range(5):
        nodes += [node(f"r{k}", "Rsqrt", ["a"], T=F32), node(f"e{k}", "Exp", [f"r{k}"], T=F32),
                  node(f"n{k}", "Neg", [f"e{k}"], T=F32), node(f"out{k}", "Relu", [f"n{k}"], T=F32)]  # fmt: skip
    plan = plan_of(*nodes)
    assert len(tf_runs) == 1
    assert tf_runs[0] == [TensorRef(f"out{k}", 0) for k in range(5)]  # only what is needed
    expected = run_graph(Graph.from_nodes(nodes).to_graphdef(), {}, ["out0"])[0]
    np.testing.assert_array_equal(plan.constants[TensorRef("out0", 0)].array, expected)


def test_identity_of_a_const_shares_the_const_tensor():
    a = const("a", np.arange(1000, dtype=np.float32))
    plan = plan_of(a, node("i", "Identity", ["a"], T=F32))
    assert plan.constants[TensorRef("i", 0)].attr_value() is a.attr["value"]


def test_float32_arithmetic_stays_float32_and_matches_tf():
    nodes = [const("a", [0.1, 0.7, 1e-3]), const("b", 3.3), node("m", "Mul", ["a", "b"], T=F32),
             node("d", "RealDiv", ["m", "b"], T=F32), node("out", "Sub", ["d", "a"], T=F32)]  # fmt: skip
    value = plan_of(*nodes).constants[TensorRef("out", 0)].array
    expected = run_graph(Graph.from_nodes(nodes).to_graphdef(), {}, ["out"])[0]
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, expected)


def test_ops_the_cpu_cannot_run_are_not_constant():
    # RealDiv has no integer CPU kernel; an unregistered op and a function call are unknown.
    plan = plan_of(
        const("a", [4, 2], np.int32),
        node("q", "RealDiv", ["a", "a"], T=I32),
        node("custom", "MyCustomOp", ["a"]),
        node("call", "my_function", ["a"]),
    )
    assert plan.folded == () and plan.foldable == frozenset({"a"})


def test_function_calls_and_functional_control_flow_are_not_constant():
    f = _tf.pb().AttrValue()
    f.func.name = "body"
    plan = plan_of(
        const("a", 1.0),
        node("call", "PartitionedCall", ["a"], Tin=[F32], Tout=[F32], f=f),
        node("cond", "StatelessIf", ["a", "a"], Tcond=F32, Tin=[F32], Tout=[F32], then_branch=f, else_branch=f),
    )
    assert plan.folded == ()


def test_output_types_follow_the_op_def():
    assert output_types(node("u", "Unpack", ["x"], T=F32, num=3, axis=0)) == (1, 1, 1)
    assert output_types(node("s", "ShapeN", ["x", "y"], T=F32, N=2)) == (3, 3)  # out_type default
    assert output_types(node("i", "IdentityN", ["x", "y"], T=[F32, I32])) == (1, 3)
    assert output_types(node("c", "Cast", ["x"], SrcT=F32, DstT=I32)) == (3,)
    assert output_types(node("z", "NotAnOp")) is None


def test_static_shapes_feed_shape_ops_only_as_declared():
    shapes = _tf.pb().AttrValue()
    shapes.list.shape.add().CopyFrom(shape_to_proto((4, None)))
    nodes = [
        node("p", "Placeholder", dtype=F32, shape=shape_to_proto((2, 3))),
        node("q", "Relu", ["p"], T=F32, _output_shapes=shapes),
        node("sp", "Shape", ["p"], T=F32, out_type=I32),
        node("sq", "Shape", ["q"], T=F32, out_type=I32),
        node("rq", "Rank", ["q"], T=F32),
    ]
    plain = plan_of(*nodes, inputs=("p",))
    assert plain.folded == ("sp",) and plain.control == {"sp": ("p",)}
    trusting = plan_of(*nodes, inputs=("p",), use_output_shapes=True)
    assert set(trusting.folded) == {"sp", "rq"}  # q's shape is only partly known
    assert int(trusting.constants[TensorRef("rq", 0)].array) == 2


def test_numpy_results_over_budget_are_not_computed_or_folded():
    plan = plan_of(
        const("dims", [1024, 1024], np.int32),
        const("v", 0.0),
        node("big", "Fill", ["dims", "v"], T=F32, index_type=I32),
        node("out", "Neg", ["big"], T=F32),
        max_bytes=1 << 20,
    )
    assert plan.folded == () and plan.constants == {}


def test_deep_chains_do_not_recurse():
    nodes = [const("c0", 1.0)] + [node(f"c{k}", "Neg", [f"c{k - 1}"], T=F32) for k in range(1, 5_000)]
    plan = plan_of(*nodes)
    assert len(plan.folded) == 4_999
    assert list(plan.constants) == [TensorRef("c4999", 0)]


def test_value_decoding_matches_tensorflow_for_every_kind_of_tensor():
    tf = _tf.tf()
    for array in (np.arange(6, dtype=np.int64).reshape(2, 3), np.array([True, False]), np.float32(2.5),
                  np.array([b"ab", b"c"], dtype=object), np.zeros((0, 2), np.float16)):  # fmt: skip
        attr = _tf.pb().AttrValue()
        attr.tensor.CopyFrom(tf.make_tensor_proto(array))
        value = Value.of_attr(attr)
        decoded = value.array
        assert decoded.dtype == tf.make_ndarray(attr.tensor).dtype and decoded.shape == np.shape(array)
        np.testing.assert_array_equal(decoded, array)
        again = Value.of_array(decoded, attr.tensor.dtype).attr_value()
        np.testing.assert_array_equal(tf.make_ndarray(again.tensor), array)


def test_candidate_checks_are_cached_per_op():
    foldable.op_may_fold.cache_clear()
    plan_of(const("a", 1.0), *(node(f"n{k}", "Neg", ["a"], T=F32) for k in range(50)))
    assert foldable.op_may_fold.cache_info().misses == 1
