"""graphrewrite.testing.graphs_from_pattern: graphs built so a rule's pattern matches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from graphrewrite.engine.matcher import match_at
from graphrewrite.engine.pattern import Op, Tensor, const, op
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.engine.validate import lint
from graphrewrite.rules.rule import Group, Pass, Rule
from graphrewrite.runner import run_graph
from graphrewrite.testing import GraphCase, graphs_from_pattern

FEW = settings(max_examples=6, deadline=None)


def noop_rule(pattern: Op, guard: object = None, name: str = "r") -> Rule:
    """A rule whose builder accepts every match (so ``fires`` follows the pattern and guard)."""
    return Rule(name, "test rule", pattern, lambda m, g, c: Rewrite(name, m.root), guard)


def leaves(count: int) -> tuple[Tensor, ...]:
    return tuple(Tensor(f"x{i}") for i in range(count))


# The ops the standard rules' patterns use, with their data-input counts.
STDLIB_OPS = {
    "Conv2D": 2, "DepthwiseConv2dNative": 2, "MatMul": 2, "BiasAdd": 2, "Mul": 2, "Add": 2, "AddV2": 2,
    "Sub": 2, "Neg": 1, "Relu": 1, "Relu6": 1, "Minimum": 2, "Maximum": 2, "Identity": 1,
    "FusedBatchNormV3": 5, "Rsqrt": 1, "Pad": 2, "MirrorPad": 2, "ResizeBilinear": 2, "Reshape": 2,
    "Transpose": 2, "Conv2DBackpropInput": 3, "FusedBatchNorm": 5, "BatchNormWithGlobalNormalization": 5,
    "SpaceToBatchND": 3, "BatchToSpaceND": 3, "Conv3D": 2, "AddN": 3,
}  # fmt: skip


def check_case(case: GraphCase, root_op: str) -> None:
    graph = case.graph()
    assert graph.node(case.root).op == root_op
    assert case.fires, case.describe()
    assert lint(graph) == []
    run_graph(case.graph_def, case.feeds, case.outputs)


@pytest.mark.parametrize("op_name", sorted(STDLIB_OPS))
def test_each_catalogue_op_builds_a_matching_runnable_graph(op_name: str) -> None:
    rule = noop_rule(op(op_name, *leaves(STDLIB_OPS[op_name])))

    @FEW
    @given(graphs_from_pattern(rule))
    def run(case: GraphCase) -> None:
        check_case(case, op_name)

    run()


def test_concat_with_variadic_inputs() -> None:
    pattern = Op(frozenset({"ConcatV2"}), (Tensor("a"), Tensor()), variadic=True)
    case = find(graphs_from_pattern(noop_rule(pattern)), lambda c: len(c.graph().node(c.root).inputs) >= 4, settings=settings(database=None, derandomize=True))
    check_case(case, "ConcatV2")


def test_const_root_and_const_leaves() -> None:
    @FEW
    @given(graphs_from_pattern(noop_rule(const("c"))))
    def run(case: GraphCase) -> None:
        assert case.graph().node(case.root).op == "Const" and case.fires

    run()


def test_nested_pattern_with_attributes_and_op_alternatives() -> None:
    pattern = op(
        "Conv2D",
        op("MirrorPad", op("ResizeBilinear", Tensor("x"), const("size")), const("pads"), mode="REFLECT"),
        const("w"),
        padding="VALID",
    )

    @FEW
    @given(graphs_from_pattern(noop_rule(pattern)))
    def run(case: GraphCase) -> None:
        check_case(case, "Conv2D")
        conv = case.graph().node(case.root)
        assert conv.get("padding") == "VALID"
        pad = case.graph().node(conv.inputs[0].node)
        assert pad.op == "MirrorPad" and pad.get("mode") == "REFLECT"

    run()
    alternatives = noop_rule(op("Mul", op("Conv2D|MatMul|DepthwiseConv2dNative", Tensor("x"), const("w")), const("s")))
    seen = set()

    @settings(max_examples=30, deadline=None, derandomize=True)
    @given(graphs_from_pattern(alternatives))
    def collect(case: GraphCase) -> None:
        check_case(case, "Mul")
        seen.add(case.graph().node(case.graph().node(case.root).inputs[0].node).op)

    collect()
    assert seen == {"Conv2D", "MatMul", "DepthwiseConv2dNative"}


def test_reused_binding_is_the_same_tensor() -> None:
    @FEW
    @given(graphs_from_pattern(noop_rule(op("Sub", Tensor("x"), Tensor("x")))))
    def run(case: GraphCase) -> None:
        node = case.graph().node(case.root)
        assert node.inputs[0] == node.inputs[1]

    run()


def test_guard_is_satisfied_by_rejection_sampling() -> None:
    def per_channel(m: object, g: object, c: object) -> str | None:
        s, w = m.node("s").value(), m.node("w").value()
        return None if s.shape == (w.shape[3],) and w.shape[2] == w.shape[3] > 1 else "not per channel, or Cin != Cout"

    rule = noop_rule(op("Mul", op("Conv2D", Tensor("x"), const("w")), const("s")), per_channel)
    fired = []

    @settings(max_examples=20, deadline=None, derandomize=True)  # a rate: keep it reproducible
    @given(graphs_from_pattern(rule))
    def run(case: GraphCase) -> None:
        fired.append(case.fires)
        if case.fires:
            match = match_at(case.graph(), rule.pattern, case.root)
            assert match is not None and per_channel(match, None, None) is None

    run()
    assert sum(fired) >= 0.5 * len(fired), fired


def test_never_accepting_guard_gives_cases_that_do_not_fire() -> None:
    rule = noop_rule(op("Relu", Tensor("x")), lambda m, g, c: "never")

    @FEW
    @given(graphs_from_pattern(rule, attempts=2))
    def run(case: GraphCase) -> None:
        assert case.fires is False

    run()


def test_interior_nodes_get_extra_consumers_and_leaves_get_surroundings() -> None:
    rule = noop_rule(op("Mul", op("Conv2D", Tensor("x"), const("w")), const("s")))
    strategy = graphs_from_pattern(rule)
    extra = find(strategy, lambda c: any(o.startswith("extra") for o in c.outputs), settings=settings(database=None, derandomize=True))
    conv = extra.graph().node(extra.root).inputs[0].node
    assert any(extra.graph().node(o).inputs[0].node == conv for o in extra.outputs if o.startswith("extra"))
    surrounded = find(strategy, lambda c: c.graph().node(c.graph().node(c.graph().node(c.root).inputs[0].node).inputs[0].node).op != "Placeholder", settings=settings(database=None, derandomize=True))
    run_graph(surrounded.graph_def, surrounded.feeds, surrounded.outputs)


def test_groups_pick_any_member_rule() -> None:
    group = Group("g", "two rules", (noop_rule(op("Relu", Tensor("x")), name="a"), noop_rule(op("Neg", Tensor("x")), name="b")))
    rules = set()

    @settings(max_examples=20, deadline=None, derandomize=True)
    @given(graphs_from_pattern(group))
    def run(case: GraphCase) -> None:
        rules.add(case.rule)

    run()
    assert rules == {"a", "b"}


def test_unbuildable_patterns_are_refused_up_front() -> None:
    with pytest.raises(InvalidArgument, match="rule 'r': no catalogue entry for Bogus"):
        graphs_from_pattern(noop_rule(op("Relu", op("Bogus", Tensor("x")))))
    with pytest.raises(InvalidArgument, match="has no pattern"):
        graphs_from_pattern(Pass("p", "a pass", lambda g, c: g))


def test_dtypes_option() -> None:
    @FEW
    @given(graphs_from_pattern(noop_rule(op("AddV2", Tensor("x"), const("c"))), dtypes=[np.float64]))
    def run(case: GraphCase) -> None:
        assert all(v.dtype == np.float64 for v in case.feeds.values())
        run_graph(case.graph_def, case.feeds, case.outputs)

    run()


def test_pattern_dtype_constraint_sets_the_dtype() -> None:
    from graphrewrite.engine.attrvalues import DType

    rule = noop_rule(Op(frozenset({"Neg"}), (Tensor("x"),), attributes=(("T", DType.named("float64")),)))
    case = find(graphs_from_pattern(rule), lambda c: True, settings=settings(database=None, derandomize=True))
    assert case.fires and case.graph().node(case.root).get("T") == DType.named("float64")


def test_feeds_respect_value_domains() -> None:
    @FEW
    @given(graphs_from_pattern(noop_rule(op("Rsqrt", Tensor("x")))), st.data())
    def run(case: GraphCase, data: object) -> None:
        values = run_graph(case.graph_def, case.feeds, case.outputs)
        assert all(np.all(np.isfinite(v)) for v in values)

    run()
