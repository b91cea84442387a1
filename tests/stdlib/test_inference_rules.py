"""The training-to-inference clean-up rules: strip_training_nodes, set_inference_mode,
freeze_placeholder and fold_constant_switch (inline_partitionedcall has its own module).

Graphs are built with ``tf.compat.v1`` and TF1 control flow (Switch/Merge), the shapes these
rules exist for; each rule runs alone through the driver, and numbers are checked in TF.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphrewrite.engine.driver import Context, run_steps
from graphrewrite.engine.errors import NameNotFoundError, RuleError
from graphrewrite.engine.graph import Graph
from graphrewrite.rules.rule import Step, Transform
from graphrewrite.stdlib_rules import standard_rules
from graphrewrite.stdlib_rules.inference import (
    FOLD_CONSTANT_SWITCH,
    FREEZE_PLACEHOLDER,
    SET_INFERENCE_MODE,
    STRIP_TRAINING_NODES,
)
from tests.helpers.rule_graphs import ops, v1_graph
from tests.helpers.structural import assert_clean, convert_args, evaluate


def run(transform: Transform, g: Graph, *, outputs: tuple[str, ...] = (), **args: Any):
    """Run *transform* alone through the driver: the graph and the rule's statistics."""
    step = Step(transform, convert_args(transform, args))
    result, report = run_steps(g, [step], Context(outputs=outputs))
    return result, report.steps[0].rules[0]


def test_every_transform_has_a_before_after_doc_line():
    names = ["strip_training_nodes", "freeze_placeholder", "fold_constant_switch", "set_inference_mode", "inline_partitionedcall"]
    for transform in (standard_rules().lookup(n) for n in names):
        assert "->" in transform.doc and "\n" not in transform.doc


# -- strip_training_nodes --------------------------------------------------------------------


def training_graph(tf):
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [None, 3], name="x")
    w = v1.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w", use_resource=False)
    logits = tf.matmul(x, w, name="logits")
    out = tf.nn.softmax(logits, name="out")
    labels = v1.placeholder(tf.float32, [None, 2], name="labels")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
    v1.summary.scalar("loss", loss)
    v1.summary.merge_all()
    step = v1.train.get_or_create_global_step()
    v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step, name="train")
    v1.global_variables_initializer()
    v1.train.Saver()
    del out


def test_strip_training_nodes_leaves_the_model_and_nothing_else():
    g = v1_graph(training_graph)
    assert {"SaveV2", "RestoreV2", "Assign", "ScalarSummary", "MergeSummary", "ApplyGradientDescent"} <= set(ops(g))
    result, stats = run(STRIP_TRAINING_NODES, g, outputs=("out",))
    left = set(ops(result))
    for op in ("SaveV2", "RestoreV2", "Assign", "AssignAdd", "ScalarSummary", "MergeSummary", "ApplyGradientDescent"):
        assert op not in left
    assert not [n.name for n in result if n.name.startswith(("save/", "train"))]
    assert "init" not in result and "w/Assign" not in result and "w/Initializer/initial_value" not in result
    assert {"x", "w", "w/read", "logits", "out"} <= set(result.names)
    assert stats.applied > 0
    assert_clean(result, outputs=("out",))
    # What is left of the gradient graph nobody consumes: strip_unused_nodes removes it.
    from graphrewrite.stdlib_rules.strip import STRIP_UNUSED_NODES

    stripped, _ = run(STRIP_UNUSED_NODES, result, outputs=("out",))
    assert set(stripped.names) == {"x", "w", "w/read", "logits", "out"}


def test_strip_training_nodes_without_outputs_does_not_eat_the_model():
    g = v1_graph(training_graph)
    result, _ = run(STRIP_TRAINING_NODES, g)
    assert {"x", "w", "logits", "out", "loss", "labels"} <= set(result.names)
    assert not {"SaveV2", "RestoreV2", "Assign", "ScalarSummary", "ApplyGradientDescent"} & set(ops(result))
    assert not [n for n in result.names if n.startswith("save/")]
    assert "w/Initializer/initial_value" not in result  # only w/Assign used it, in w's scope
    assert_clean(result)


def test_strip_training_nodes_keeps_an_assignment_whose_value_is_used():
    from graphrewrite.engine.attrvalues import DType
    from tests.helpers.structural import const, graph, op

    f32 = DType(1)
    g = graph(
        op("counter", "VariableV2", dtype=f32, shape=()),
        const("one", 1.0),
        op("bump", "AssignAdd", ["counter", "one"], T=f32),
        op("seen", "Identity", ["bump"], T=f32),
        op("noop_user", "Identity", ["one", "^bump"], T=f32),
    )
    result, _ = run(STRIP_TRAINING_NODES, g, outputs=("seen", "noop_user"))
    assert "bump" in result  # its value feeds 'seen'
    assert [str(r) for r in result.node("noop_user").inputs] == ["one", "^bump"]


def test_strip_training_nodes_numbers_unchanged():
    from graphrewrite.engine.attrvalues import DType
    from tests.helpers.structural import const, graph, op, ph

    f32 = DType(1)
    g = graph(
        ph("x", shape=(2,)),
        const("k", [2.0, 3.0]),
        op("y", "Mul", ["x", "k"], T=f32),
        const("tag", "y", dtype=object),
        op("y_summary", "ScalarSummary", ["tag", "y"], T=f32),
        op("v", "VariableV2", dtype=f32, shape=(2,)),
        op("v/Assign", "Assign", ["v", "k"], T=f32),
        op("init", "NoOp", ["^v/Assign"]),
        op("out", "Identity", ["y", "^init"], T=f32),
    )
    result, _ = run(STRIP_TRAINING_NODES, g, outputs=("out",))
    assert not {"ScalarSummary", "Assign", "NoOp"} & set(ops(result))
    assert [str(r) for r in result.node("out").inputs] == ["y"]
    feeds = {"x": np.array([1.0, -2.0], np.float32)}
    np.testing.assert_array_equal(evaluate(result, feeds, ["out"])[0], [2.0, -6.0])


# -- set_inference_mode --------------------------------------------------------------------


def batch_norm_graph(tf, *, training: bool, empty_stats: bool = False, use_batch_mean: bool = False):
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [2, 2, 2, 3], name="x")
    rng = np.random.default_rng(0)
    scale, offset = (tf.constant(rng.uniform(0.5, 1.5, 3).astype(np.float32), name=n) for n in ("scale", "offset"))
    with v1.name_scope("bn"):
        mean = tf.constant(rng.normal(0, 0.1, 3).astype(np.float32), name="moving_mean")
        var = tf.constant(rng.uniform(0.5, 1.5, 3).astype(np.float32), name="moving_variance")
        stats = (tf.constant([], tf.float32), tf.constant([], tf.float32)) if empty_stats else (mean, var)
        y, batch_mean, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=stats[0], variance=stats[1], epsilon=0.001,
            is_training=training, name="FusedBatchNormV3",
        )  # fmt: skip
    tf.identity(y, name="out")
    if use_batch_mean:
        tf.identity(batch_mean, name="batch_mean_user")


@pytest.mark.parametrize("empty_stats", [False, True])
def test_set_inference_mode_matches_a_graph_built_for_inference(empty_stats):
    g = v1_graph(lambda tf: batch_norm_graph(tf, training=True, empty_stats=empty_stats))
    result, stats = run(SET_INFERENCE_MODE, g, outputs=("out",))
    assert stats.applied == 1
    bn = result.node("bn/FusedBatchNormV3")
    assert bn.get("is_training") is False
    if empty_stats:
        assert [r.node for r in bn.data_inputs[3:]] == ["bn/moving_mean", "bn/moving_variance"]
    reference = v1_graph(lambda tf: batch_norm_graph(tf, training=False))
    feeds = {"x": np.random.default_rng(1).normal(size=(2, 2, 2, 3)).astype(np.float32)}
    np.testing.assert_allclose(evaluate(result, feeds, ["out"])[0], evaluate(reference, feeds, ["out"])[0], rtol=1e-6)
    assert not np.allclose(evaluate(g, feeds, ["out"])[0], evaluate(reference, feeds, ["out"])[0])
    assert_clean(result, outputs=("out",))


def test_set_inference_mode_refuses_when_batch_statistics_are_used():
    g = v1_graph(lambda tf: batch_norm_graph(tf, training=True, use_batch_mean=True))
    result, stats = run(SET_INFERENCE_MODE, g, outputs=("out",))
    assert stats.applied == 0
    assert result.node("bn/FusedBatchNormV3").get("is_training") is True
    assert list(stats.rejected) == [
        "output 1 (batch statistics) is used by 'batch_mean_user'; run strip_training_nodes first"
    ]


def test_set_inference_mode_refuses_empty_statistics_with_nothing_beside():
    def build(tf):
        batch_norm_graph(tf, training=True, empty_stats=True)

    g = v1_graph(build)
    g = g.replace((), ())
    renamed = [n.evolve(name=n.name.replace("moving_", "other_")) for n in g if "moving_" in n.name]
    g = g.replace(renamed, [n for n in g.names if "moving_" in n])
    _, stats = run(SET_INFERENCE_MODE, g, outputs=("out",))
    assert stats.applied == 0
    assert "no moving_mean/moving_variance" in next(iter(stats.rejected))


# -- freeze_placeholder --------------------------------------------------------------------


def dropout_graph(tf):
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [None, 4], name="x")
    keep = v1.placeholder(tf.float32, [], name="keep_prob")
    mask = v1.placeholder_with_default(tf.ones([4]), [4], name="mask")
    tf.identity(x * keep * mask, name="out")


def test_freeze_placeholder_makes_a_constant_of_its_dtype_and_shape():
    g = v1_graph(dropout_graph)
    result, _ = run(FREEZE_PLACEHOLDER, g, outputs=("out",), name="keep_prob", value="1.0")
    node = result.node("keep_prob")
    assert node.op == "Const" and str(node.get("dtype")) == "float32"
    assert node.value().shape == () and node.value() == 1.0
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(evaluate(result, {"x": x}, ["out"])[0], x)
    assert_clean(result, outputs=("out",))


def test_freeze_placeholder_with_default_and_broadcast_value():
    g = v1_graph(dropout_graph)
    result, _ = run(FREEZE_PLACEHOLDER, g, name="mask")
    assert result.node("mask").op == "Const"
    np.testing.assert_array_equal(result.node("mask").value(), np.ones(4, np.float32))
    result, _ = run(FREEZE_PLACEHOLDER, g, name="mask", value="2")
    np.testing.assert_array_equal(result.node("mask").value(), np.full(4, 2, np.float32))
    result, _ = run(FREEZE_PLACEHOLDER, g, name="x", value="0.5", shape="2,4")
    assert result.node("x").value().shape == (2, 4)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"name": "keep_prb", "value": "1"}, NameNotFoundError, "did you mean 'keep_prob'"),
        ({"name": "out", "value": "1"}, RuleError, "'out' is a Identity, not a Placeholder"),
        ({"name": "keep_prob", "value": "yes"}, RuleError, "value 'yes' is not a float32 value"),
        ({"name": "keep_prob"}, RuleError, "has no default; give value="),
        ({"name": "x", "value": "1"}, RuleError, r"'x' has shape \[\?,4\]; give shape="),
        ({"name": "mask", "value": "1,2,3"}, RuleError, r"does not fit shape \[4\]"),
    ],
)
def test_freeze_placeholder_errors_name_the_culprit(args, error, message):
    g = v1_graph(dropout_graph)
    with pytest.raises(error, match=message):
        run(FREEZE_PLACEHOLDER, g, **args)


# -- fold_constant_switch ------------------------------------------------------------------


def cond_graph(tf):
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [3], name="x")
    flag = v1.placeholder_with_default(True, [], name="is_training")
    y = v1.cond(flag, lambda: tf.nn.dropout(x, rate=0.5, seed=1) * 3.0, lambda: x * 2.0 + 1.0, name="cond")
    z = v1.cond(flag, lambda: y - 1.0, lambda: y + 1.0, name="cond_1")
    tf.identity(z, name="out")


@pytest.mark.parametrize("value", ["false", "true"])
def test_fold_constant_switch_keeps_the_taken_branch(value):
    g = v1_graph(cond_graph)
    assert {"Switch", "Merge"} <= set(ops(g))
    frozen, _ = run(FREEZE_PLACEHOLDER, g, name="is_training", value=value)
    result, stats = run(FOLD_CONSTANT_SWITCH, frozen, outputs=("out",))
    assert not {"Switch", "Merge"} & set(ops(result))
    assert stats.applied > 0
    assert ("RandomUniform" in set(ops(result))) == (value == "true")
    assert_clean(result, outputs=("out",))
    if value == "false":
        x = np.array([1.0, -2.0, 0.5], np.float32)
        np.testing.assert_allclose(evaluate(result, {"x": x}, ["out"])[0], x * 2 + 2)
        np.testing.assert_allclose(evaluate(g, {"x": x, "is_training": np.array(False)}, ["out"])[0], x * 2 + 2)


def test_fold_constant_switch_leaves_a_fed_predicate_alone():
    g = v1_graph(cond_graph)
    result, stats = run(FOLD_CONSTANT_SWITCH, g, outputs=("out",))
    assert stats.applied == 0
    assert [n.name for n in result] == [n.name for n in g]


def test_fold_constant_switch_refuses_to_lose_a_protected_node():
    g = v1_graph(cond_graph)
    frozen, _ = run(FREEZE_PLACEHOLDER, g, name="is_training", value="false")
    branch = next(n.name for n in g if n.op == "RandomUniform")
    with pytest.raises(RuleError, match=f"'{branch}' is protected"):
        run(FOLD_CONSTANT_SWITCH, frozen, outputs=("out", branch))
