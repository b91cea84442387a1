"""Rule parameters, node-valued lets with output ports, and schedules in the rule language."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import transform_graph
from graphrewrite.engine.errors import LanguageError
from graphrewrite.rules.loader import load_rules_text
from graphrewrite.rules.params import Kind
from graphrewrite.rules.rule import Rule, Schedule
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules import standard_rules

RULES = """
rule cast_big(dtype: dtype in ["float16", "bfloat16"] = "float16", minimum_size: int = 4)
    "Const(float32 w) -> Cast(Const(float16 w))" {
    match   w: Const
    where   dtype(w) == "float32" and size(w) >= minimum_size
    rewrite Cast[DstT="float32", Truncate=false](const(cast(w, dtype)))
}

rule split_relu "Relu(x) -> ConcatV2(Relu6(Split(x):0), Relu6(Split(x):1))" {
    match   r: Relu(x)
    let     q = Split[num_split=2](const(cast(0, "int32")), x)
    rewrite ConcatV2(Relu6(q:0), Relu6(q:1), const(cast(0, "int32")))
}

rule neg_to_mul "Neg(x) -> Mul(x, -1)" { match Neg(x) rewrite Mul(x, const(cast(-1, "float32"))) }
rule double "Mul(x, c) -> Mul(Mul(x, 1), c)" {
    match m: Mul(x, c: Const) where all(c != 1) rewrite m(Mul(x, const(cast(1, "float32"))), c)
}

schedule cast_once "cast every big weight in one round" { once cast_big }
schedule negs "Neg -> Mul, then scale twice" { neg_to_mul  once double }
"""


def _catalog():
    return standard_rules().plus(load_rules_text(RULES, source="growth.rules", validate=True))


def _graph():
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [4, 3], name="x")
        w = tf.constant(np.random.RandomState(0).randn(3, 6).astype(np.float32), name="w")
        tf.negative(tf.nn.relu(tf.matmul(x, w)), name="y")
    return g.as_graph_def()


FEED = {"x": np.random.RandomState(1).uniform(-1, 1, (4, 3)).astype(np.float32)}


def _run(script):
    graph_def = _graph()
    out = transform_graph(graph_def, ["x"], ["y"], script, rules=_catalog())
    expected, actual = run_graph(graph_def, FEED, ["y"])[0], run_graph(out, FEED, ["y"])[0]
    return out, expected, actual


def test_parameters_are_declared_once_with_types_choices_and_defaults():
    rule = next(t for t in _catalog() if t.name == "cast_big")
    assert isinstance(rule, Rule)
    dtype, size = rule.params
    assert (dtype.kind, str(dtype.default), [str(c) for c in dtype.choices]) == (Kind.DTYPE, "float16", ["float16", "bfloat16"])
    assert (size.kind, size.default) == (Kind.INT, 4)
    assert "in [float16, bfloat16]" in dtype.describe()


@pytest.mark.parametrize(("script", "stored"), [("cast_big", "float16"), ("cast_big(dtype=bfloat16)", "bfloat16")])
def test_a_parameter_reaches_the_rule(script, stored):
    out, expected, actual = _run(script)
    consts = {n.name: n for n in out.node if n.op == "Const"}
    from tensorflow import as_dtype

    assert [as_dtype(n.attr["dtype"].type).name for n in consts.values()] == [stored]
    np.testing.assert_allclose(actual, expected, rtol=5e-2, atol=5e-2)


def test_a_parameter_below_its_threshold_leaves_the_graph_alone():
    out, _, _ = _run("cast_big(minimum_size=100)")
    assert "Cast" not in {n.op for n in out.node}


def test_a_value_outside_the_choices_is_a_located_error():
    with pytest.raises(LanguageError, match=r"1:16: error: bad value for parameter 'dtype': expected one of float16, bfloat16"):
        _run("cast_big(dtype=int32)")


def test_an_unknown_parameter_type_is_reported_with_a_hint():
    with pytest.raises(LanguageError, match=r"unknown parameter type 'integer'") as err:
        load_rules_text('rule r(n: integer = 3) { match Relu(x) rewrite x }', source="bad.rules")
    assert "did you mean 'int'" in str(err.value)


DOCUMENTED = """
rule scale(
    factor: float = 2.0 "what x is multiplied by",
    minimum_size: int = 4,
)
    "Relu(x) -> Mul(Relu(x), factor)" {
    match   r: Relu(x)
    rewrite Mul(r(x), const(cast(factor, "float32")))
}
"""


def test_a_parameter_may_carry_a_doc_and_the_list_a_trailing_comma():
    (rule,) = load_rules_text(DOCUMENTED, source="doc.rules")
    assert [(p.name, p.doc) for p in rule.params] == [("factor", "what x is multiplied by"), ("minimum_size", "")]


def test_a_doc_before_the_default_is_a_located_error():
    with pytest.raises(LanguageError) as err:
        load_rules_text('rule r(n: int "count" = 3) { match Relu(x) rewrite x }', source="bad.rules")
    assert str(err.value).startswith("bad.rules:1:")


def test_rules_by_name_prints_each_parameter_with_its_doc(tmp_path, capsys):
    from graphrewrite.cli import main

    path = tmp_path / "doc.rules"
    path.write_text(DOCUMENTED)
    assert main(["rules", "--rules", str(path), "scale", "cast_weights"]) == 0
    out = capsys.readouterr().out
    assert "      factor: float = 2.0\n          what x is multiplied by\n      minimum_size: int = 4\n      ignore_errors" in out
    assert "      minimum_size: int = 1024\n          leave constants with fewer elements as they are\n" in out
    assert main(["rules"]) == 0  # the whole list stays one line of parameters per transform
    assert "    params: dtype: dtype in [float16, bfloat16] = float16, minimum_size: int = 1024, ignore_errors" in capsys.readouterr().out


def test_every_standard_parameter_says_what_it_does():
    undocumented = [f"{t.name}({p.name})" for t in standard_rules() for p in t.params if not p.doc]
    assert undocumented == []


def test_a_node_let_and_its_ports():
    out, expected, actual = _run("split_relu")
    ops = {n.name: n.op for n in out.node}
    assert ops["Relu/q"] == "Split" and list(ops.values()).count("Relu6") == 2
    split_users = [i for n in out.node for i in n.input if i.startswith("Relu/q")]
    assert sorted(split_users) == ["Relu/q", "Relu/q:1"]
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_a_port_of_an_unbound_name_is_an_error():
    with pytest.raises(LanguageError, match="'q' is not bound by the pattern"):
        load_rules_text("rule r { match Relu(x) rewrite Relu6(q:1) }", source="bad.rules")


def test_a_schedule_runs_once_in_one_round():
    schedule = next(t for t in _catalog() if t.name == "negs")
    assert isinstance(schedule, Schedule)
    out, expected, actual = _run("negs")
    muls = [n for n in out.node if n.op == "Mul"]
    assert len(muls) == 2  # Neg -> Mul(x, -1); then `once double` adds exactly one more Mul
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_a_fixed_point_step_in_a_schedule_is_bounded():
    rules = RULES + "\nschedule runaway { double }\n"
    catalog = standard_rules().plus(load_rules_text(rules, source="growth.rules", validate=True))
    from graphrewrite.engine.errors import SaturationError

    with pytest.raises(SaturationError, match="double still firing"):
        transform_graph(_graph(), ["x"], ["y"], "neg_to_mul runaway", rules=catalog)


def test_schedule_steps_must_name_rules_of_the_file():
    with pytest.raises(LanguageError) as err:
        load_rules_text(RULES + "\nschedule s { cast_bigg once cast_once }\n", source="growth.rules")
    text = str(err.value)
    assert "names 'cast_bigg', which is not a rule, group or earlier schedule" in text and "did you mean 'cast_big'" in text
    assert "'once' runs a rule or group; 'cast_once' is a schedule" in text


LIST_RULES = """
rule concat_v1 "ConcatV2(*xs, axis) -> Concat(axis, *xs)" {
    match   ConcatV2[Tidx="int32"](*xs, axis)
    rewrite Concat(axis, *xs)
}
"""


def test_a_list_binding_captures_inputs_before_a_fixed_last_one():
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        tf.concat([x, tf.nn.relu(x), x * 2.0], axis=1, name="y")
    graph_def = g.as_graph_def()
    catalog = standard_rules().plus(load_rules_text(LIST_RULES, source="list.rules", validate=True))
    out = transform_graph(graph_def, ["x"], ["y"], "concat_v1", rules=catalog)
    y = next(n for n in out.node if n.name == "y")
    assert y.op == "Concat" and list(y.input) == ["y/axis", "x", "Relu", "mul"] and y.attr["N"].i == 3
    feed = {"x": np.arange(6, dtype=np.float32).reshape(2, 3) - 2}
    np.testing.assert_array_equal(run_graph(out, feed, ["y"])[0], run_graph(graph_def, feed, ["y"])[0])


LIST_CONDITIONS = """
rule three_relus "Relu(a) ++ Relu(b) ++ Relu(c) -> Relu(a ++ b ++ c), only for three" {
    match   cat: ConcatV2(*fs: Relu|Elu(xs), axis)
    where   count(fs) == 3
    where   all(op(fs) == "Relu")
    where   all(single_use(fs))
    where   dtype(xs[0]) == "float32"
    rewrite fs[0](ConcatV2(*xs, axis))
}
"""


@pytest.mark.parametrize(("parts", "fires"), [(3, True), (2, False)])
def test_conditions_over_a_list_binding(parts, fires):
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        tf.concat([tf.nn.relu(x * float(k)) for k in range(1, parts + 1)], axis=1, name="y")
    graph_def = g.as_graph_def()
    (rule,) = load_rules_text(LIST_CONDITIONS, source="lists.rules", validate=True)
    out = transform_graph(graph_def, ["x"], ["y"], "three_relus", rules=standard_rules().plus([rule]))
    y = next(n for n in out.node if n.name == "y")
    assert y.op == ("Relu" if fires else "ConcatV2")
    feed = {"x": np.arange(6, dtype=np.float32).reshape(2, 3) - 2}
    np.testing.assert_array_equal(run_graph(out, feed, ["y"])[0], run_graph(graph_def, feed, ["y"])[0])


def test_a_list_binding_rule_passes_its_property_check():
    from graphrewrite.testing import check_rule

    (rule,) = load_rules_text(LIST_RULES, source="list.rules", validate=True)
    found = check_rule(rule, examples=10)
    assert found.ok and found.fired > 0, found.report()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rule r { match c: ConcatV2(*fs: Relu(x), a) rewrite fs(x) }", "'fs' is a list of nodes; re-make one of them"),
        ("rule r { match c: ConcatV2(*fs: Relu(x), a) rewrite c[0](a) }", "'c' is one node, not a list"),
        ("rule r { match ConcatV2(*fs: Relu(x), x) rewrite x }", "'x' is bound inside the element pattern of *fs and elsewhere"),
        ("rule r { match ConcatV2(*xs, a) rewrite Identity(xs) }", "'xs' is a list of tensors; write *xs"),
        ("rule r { match ConcatV2(*xs, *ys) rewrite Concat(a, *xs) }", "two *lists side by side"),
        ("rule r { match Relu(x) rewrite AddN(*x) }", "'*x' spreads a list binding"),
    ],
)
def test_list_bindings_are_checked(text, message):
    with pytest.raises(LanguageError, match=message.replace("*", r"\*")):
        load_rules_text(text, source="bad.rules")


NAMED = """
rule split_relu "Relu(x) -> Relu(Identity(x)), the Identity named <relu>_in" {
    match   r: Relu(x)
    where   op(r) == "Relu" and not has_attr(r, "_done")
    rewrite r[_done=true](Identity(x) as name(r) + "_in")
}
"""


def test_as_names_a_new_node_and_makes_it_unique():
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        tf.identity(x, name="y_in")  # the name the rule asks for is taken
        tf.nn.relu(x, name="y")
    graph_def = g.as_graph_def()
    (rule,) = load_rules_text(NAMED, source="named.rules", validate=True)
    out = transform_graph(graph_def, ["x"], ["y", "y_in"], "split_relu", rules=standard_rules().plus([rule]))
    by_name = {n.name: n for n in out.node}
    assert by_name["y"].input == ["y_in_1"] and by_name["y_in_1"].op == "Identity"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rule r { match Relu(x) rewrite Relu(x) as \"z\" }", "the rewrite's root takes the matched root's name"),
        ("rule r { match Relu(x) rewrite Neg(Relu(x) as nme(x)) }", "unknown function 'nme'"),
    ],
)
def test_node_names_are_checked(text, message):
    with pytest.raises(LanguageError, match=message):
        load_rules_text(text, source="bad.rules")


def test_a_schedule_is_as_lossy_as_its_loosest_member():
    text = """
    rule exact "Neg(Neg(x)) -> x" { match Neg(Neg(x)) rewrite x }
    rule rough(bits: int = 8) "Relu(x) -> x, roughly" lossy(rtol=1e-3 * 8 / bits, atol=1e-4) { match Relu(x) rewrite x }
    schedule both "exact, then rough once" { exact  once rough }
    schedule strict "only exact" { exact }
    """
    found = {t.name: t for t in load_rules_text(text, source="s.rules")}
    assert found["strict"].facts.lossy is None
    assert found["both"].facts.tolerance({"bits": 8}) == pytest.approx((1e-3, 1e-4))
    assert found["both"].facts.tolerance({"bits": 4}) == pytest.approx((2e-3, 1e-4))
