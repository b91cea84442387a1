"""What compiled rules do beyond the reference examples: lets and const dtypes, names of new
nodes, control inputs, refusals for extra outputs and type clashes, evaluation errors as
reasons, ports and variadic inputs, protected interior nodes."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.graph import TensorRef
from graphrewrite.rules.loader import load_rules_text
from tests.helpers.rule_graphs import (
    F16,
    F32,
    apply,
    assert_equivalent,
    const,
    graph,
    node,
    normal,
    ops,
    placeholder,
)


def rule(text: str):  # type: ignore[no-untyped-def]
    (compiled,) = load_rules_text(text, validate=True)
    return compiled


FOLD = rule(
    """
    rule fold { match Mul(conv: Conv2D(x, w: Const), s: Const)
                where per_output_channel(s, w)
                rewrite conv(x, const(w * s)) }
    """
)


def _conv_mul(**conv_attrs) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [
        placeholder("x"),
        const("w", normal(1, 1, 2, 3)),
        node("conv", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME", **conv_attrs),
        const("s", normal(3)),
        node("mul", "Mul", "conv", "s"),
    ]


def test_lets_are_computed_once_and_usable_in_where_and_rewrite() -> None:
    scale = rule(
        """
        rule scale { match Mul(x, c: Const)
                     let k = c * 2
                     where all(k > 1) and all(c < 2)
                     rewrite Mul(x, const(k)) }
        """
    )
    before = graph(placeholder("x"), const("c", [1.0, 1.5]), node("mul", "Mul", "x", "c"))
    after, stats = apply(scale, before, ["x"], ["mul"])
    assert stats["scale"].applied == 1
    assert stats["scale"].rejected == {"where all(c < 2) is false": 1}  # tried again on its own output
    new = after.node(after.node("mul").inputs[1].node)
    assert new.name == "mul/k" and new.value().tolist() == [2.0, 3.0] and new.value().dtype == np.float32


def test_const_keeps_the_dtype_of_the_first_constant_read() -> None:
    before = graph(placeholder("x", dtype=F16), const("c", [1.5, 2.0], np.float16), node("mul", "Mul", "x", "c", T=F16))
    halve = rule("rule halve { match Mul(x, c: Const) where all(c > 1) rewrite Mul(x, const(c * 0.5)) }")
    after, _ = apply(halve, before, ["x"], ["mul"])
    assert after.node("c").value().dtype == np.float16  # the dying constant's name is reused


def test_cast_chooses_the_dtype_of_a_const() -> None:
    widen = rule('rule widen { match Mul(x, c: Const) rewrite Mul(x, const(cast(c, "float32"))) }')
    before = graph(placeholder("x", dtype=F16), const("c", [1.5], np.float16), node("mul", "Mul", "x", "c", T=F16))
    _, stats = apply(widen, before, ["x"], ["mul"])
    assert stats["widen"].rejected == {"rewrite: Mul needs one type for T, but its inputs are float16 and float32": 1}


def test_a_let_counts_as_a_constant_of_its_own_dtype() -> None:
    narrow = rule(
        'rule narrow { match Mul(x, c: Const) where all(c > 1) let h = cast(c, "float16") '
        'rewrite Mul(x, Cast[DstT="float32"](const(h[0:2]))) }'
    )
    before = graph(placeholder("x"), const("c", [3.0, 4.0]), node("mul", "Mul", "x", "c"))
    after, stats = apply(narrow, before, ["x"], ["mul"])
    assert stats["narrow"].applied == 1
    cast = after.node(after.node("mul").inputs[1].node)
    assert cast.get("SrcT") == F16 and after.node(cast.inputs[0].node).value().dtype == np.float16
    assert_equivalent(before, after, {"x": normal(2)}, ["mul"], rtol=1e-3)


def test_a_shared_weight_gets_a_fresh_name_and_the_original_stays() -> None:
    before = graph(*_conv_mul(), node("other", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME"))
    after, _ = apply(FOLD, before, ["x"], ["mul", "other"])
    assert after.node("mul").inputs[1] == TensorRef("mul/w")
    assert after.node("other").inputs[1] == TensorRef("w")
    assert_equivalent(before, after, {"x": normal(1, 3, 3, 2)}, ["mul", "other"])


def test_a_protected_interior_node_keeps_its_value() -> None:
    before = graph(*_conv_mul())
    after, stats = apply(FOLD, before, ["x"], ["mul", "conv"])
    assert stats["fold"].applied == 1
    assert after.node("conv").inputs[1] == TensorRef("w") and after.node("mul").inputs[1] != TensorRef("w")
    assert_equivalent(before, after, {"x": normal(1, 3, 3, 2)}, ["mul", "conv"])


def test_the_roots_control_inputs_survive() -> None:
    nodes = _conv_mul()
    nodes[-1] = nodes[-1].with_inputs([*nodes[-1].inputs, TensorRef("gate", -1)])
    before = graph(placeholder("gate"), *nodes)
    after, _ = apply(FOLD, before, ["x", "gate"], ["mul"])
    assert TensorRef("gate", -1) in after.node("mul").inputs


def test_a_remade_node_keeps_its_device_and_control_inputs() -> None:
    relax = rule('rule relax { match conv: Conv2D[padding="SAME"](x, w) rewrite conv[padding="VALID"](x, w) }')
    conv = node("conv", "Conv2D", "x", "w", "^gate", strides=[1, 1, 1, 1], padding="SAME").evolve(device="/cpu:0")
    before = graph(placeholder("x"), placeholder("gate"), const("w", normal(1, 1, 2, 2)), conv)
    after, _ = apply(relax, before, ["x", "gate"], ["conv"])
    new = after.node("conv")
    assert new.device == "/cpu:0" and TensorRef("gate", -1) in new.inputs and new.get("padding") == "VALID"


def test_other_outputs_of_the_root_must_be_unused() -> None:
    first = rule("rule first { match s: Split(axis: Const, x) rewrite Identity(x) }")
    before = graph(
        placeholder("x"),
        const("axis", 0, np.int32),
        node("s", "Split", "axis", "x", num_split=2),
        node("tail", "Relu", "s:1"),
    )
    _, stats = apply(first, before, ["x"], ["s", "tail"])
    assert stats["first"].rejected == {"rewrite: output 1 of 's' is read by 'tail'": 1}


def test_ports_and_variadic_inputs() -> None:
    second = rule("rule second { match Identity(s: Split:1) rewrite s }")
    thrice = rule("rule thrice { match sum: AddN(x...) where sum.N == 3 rewrite Mul(x, const(3.0)) }")
    before = graph(
        placeholder("x", (4,)),
        const("axis", 0, np.int32),
        node("s", "Split", "axis", "x", num_split=2),
        node("a", "Identity", "s:0"),
        node("b", "Identity", "s:1"),
        node("out_a", "Relu", "a"),
        node("out_b", "Relu", "b"),
        placeholder("y", ()),
        placeholder("z", ()),
        node("sum", "AddN", "y", "y", "y", N=3),
        node("mixed", "AddN", "y", "z", "y", N=3),
    )
    after, stats = apply(second, before, ["x", "y"], ["out_a", "out_b"])
    assert (stats["second"].matched, stats["second"].applied) == (1, 1)  # only the Identity of output 1
    assert "a" in after and "b" not in after and after.node("out_b").inputs == (TensorRef("s", 1),)
    assert_equivalent(before, after, {"x": normal(4)}, ["out_a", "out_b"])
    after, stats = apply(thrice, before, ["x", "y", "z"], ["sum", "mixed"])
    assert (stats["thrice"].matched, stats["thrice"].applied) == (1, 1)  # AddN(y, z, y) is not x + x + x
    assert after.node("sum").op == "Mul" and after.node("mixed").op == "AddN"
    assert_equivalent(before, after, {"y": normal(), "z": normal()}, ["sum", "mixed"])


def test_evaluation_errors_become_reasons() -> None:
    not_const = rule("rule zero { match AddV2(x, y) where all(y == 0) rewrite x }")
    many = rule("rule many { match AddV2(x, c: Const) where c == 0 rewrite x }")
    before = graph(placeholder("x"), placeholder("y"), node("add", "AddV2", "x", "y"))
    _, stats = apply(not_const, before, ["x", "y"], ["add"])
    assert stats["zero"].rejected == {"where all(y == 0): 'y' is not a constant (it is Placeholder 'y')": 1}
    before = graph(placeholder("x"), const("c", np.zeros(4)), node("add", "AddV2", "x", "c"))
    _, stats = apply(many, before, ["x"], ["add"])
    assert stats["many"].rejected == {"where c == 0: a condition gives 4 values; wrap it in all(...) or any(...)": 1}


def test_attributes_fall_back_to_their_opdef_default() -> None:
    nhwc = rule(
        'rule nhwc { match conv: Conv2D[padding="SAME"](x, w) where conv.data_format == "NHWC" '
        'rewrite conv[padding="VALID"](x, w) }'
    )
    before = graph(*_conv_mul())
    assert "data_format" not in before.node("conv").attr
    _, stats = apply(nhwc, before, ["x"], ["mul"])
    assert stats["nhwc"].applied == 1


def test_a_rewrite_that_changes_nothing_is_refused() -> None:
    same = rule("rule same { match conv: Conv2D(x, w) rewrite conv(x, w) }")
    before = graph(*_conv_mul())
    _, stats = apply(same, before, ["x"], ["mul"])
    assert stats["same"].rejected == {"rewrite: the replacement of 'conv' is the node itself": 1}


def test_an_outputs_rewrite_is_refused_when_an_output_past_its_list_is_read() -> None:
    first_only = rule("rule first_only { match s: Split(axis: Const, x) rewrite (x) }")
    before = graph(
        placeholder("x"),
        const("axis", 0, np.int32),
        node("s", "Split", "axis", "x", num_split=2),
        node("head", "Relu", "s:0"),
        node("tail", "Relu", "s:1"),
    )
    _, stats = apply(first_only, before, ["x"], ["head", "tail"])
    assert stats["first_only"].rejected == {"rewrite: output 1 of 's' is read by 'tail', but the rewrite gives 1": 1}


def test_a_chosen_name_must_be_a_non_empty_string() -> None:
    unnamed = rule('rule unnamed { match r: Relu(x) rewrite Relu6(Neg(x) as "") }')
    before = graph(placeholder("x"), node("r", "Relu", "x"))
    _, stats = apply(unnamed, before, ["x"], ["r"])
    assert stats["unnamed"].rejected == {"rewrite: a node name must be a non-empty string, not ''": 1}


def test_an_element_past_the_end_of_a_list_of_nodes_is_refused() -> None:
    third = rule("rule third { match ConcatV2(*fs: Relu(xs), axis) rewrite fs[2](ConcatV2(*xs, axis)) }")
    before = graph(
        placeholder("a"),
        placeholder("b"),
        node("ra", "Relu", "a"),
        node("rb", "Relu", "b"),
        const("axis", 0, np.int32),
        node("cat", "ConcatV2", "ra", "rb", "axis", N=2),
    )
    _, stats = apply(third, before, ["a", "b"], ["cat"])
    assert stats["third"].rejected == {"rewrite: 'fs' has no element 2": 1}


def test_without_validation_an_unknown_op_compiles_and_never_matches() -> None:
    (lazy,) = load_rules_text("rule lazy { match Conv2d(x) rewrite x }", validate=False)
    before = graph(*_conv_mul())
    after, stats = apply(lazy, before, ["x"], ["mul"])
    assert stats["lazy"].applied == 0 and ops(after) == ops(before)


def test_groups_include_groups() -> None:
    transforms = load_rules_text(
        """
        rule a { match Neg(Neg(x)) rewrite x }
        rule b { match Relu(Relu(x)) rewrite Relu(x) }
        group inner { a }
        group outer "both" { inner b a }
        """
    )
    outer = {t.name: t for t in transforms}["outer"]
    assert [r.name for r in outer.rules] == ["a", "b"]
    before = graph(placeholder("x"), node("r1", "Relu", "x"), node("r2", "Relu", "r1"), node("n", "Neg", "r2"),
                   node("n2", "Neg", "n"), node("out", "Relu", "n2"))  # fmt: skip
    after, _ = apply(outer, before, ["x"], ["out"])
    assert ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(5)}, ["out"])


@pytest.mark.parametrize("value", [1, 2])
def test_new_node_types_come_from_inputs(value: int) -> None:
    clip = rule(f"rule clip {{ match Minimum(Relu(x), c: Const) where all(c == {value}) rewrite Relu6(x) }}")
    before = graph(placeholder("x"), node("r", "Relu", "x"), const("c", float(value)), node("m", "Minimum", "r", "c"))
    after, stats = apply(clip, before, ["x"], ["m"])
    assert stats["clip"].applied == 1 and after.node("m").get("T") == F32
