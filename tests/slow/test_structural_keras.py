"""The structural transforms on a real model: frozen Keras InceptionV3 (weights=None).

GTT's README recipe for deployment, ``strip_unused_nodes(type=float, shape="1,299,299,3")
remove_nodes(op=Identity, op=CheckNumerics) merge_duplicate_nodes sort_by_execution_order``,
must run through graphrewrite's public API and leave the outputs unchanged.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

import graphrewrite
from graphrewrite import _tf
from graphrewrite.engine.driver import Context
from graphrewrite.engine.graph import Graph
from graphrewrite.engine.validate import lint
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.merge import is_topological

pytestmark = pytest.mark.slow

SHAPE = (1, 299, 299, 3)
SCRIPT = (
    'strip_unused_nodes(type=float, shape="1,299,299,3") remove_nodes(op=Identity, op=CheckNumerics) '
    "merge_duplicate_nodes sort_by_execution_order"
)


@pytest.fixture(scope="module")
def inception():
    """InceptionV3 frozen with tf.function + convert_variables_to_constants_v2."""
    tf = _tf.tf()
    import keras
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(weights=None, input_shape=SHAPE[1:])
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec(SHAPE, tf.float32, name="x")
    )
    return convert_variables_to_constants_v2(concrete).graph.as_graph_def()


def test_gtt_deployment_recipe_keeps_outputs(inception):
    out = graphrewrite.transform_graph(inception, ["x"], ["Identity"], SCRIPT)
    graph = Graph.from_graphdef(out)
    ops = collections.Counter(n.op for n in graph)
    assert len(graph) < len(inception.node)
    assert ops["CheckNumerics"] == 0 and ops["Identity"] <= 1  # only the protected output
    assert "Identity" in graph and graph.node("x").op == "Placeholder"
    assert graph.node("x").get("shape") == SHAPE
    assert is_topological(graph)
    assert not lint(graph, Context(inputs=("x",), outputs=("Identity",)))
    feeds = {"x": np.random.default_rng(0).uniform(-1, 1, SHAPE).astype(np.float32)}
    expected = run_graph(inception, feeds, ["Identity"])[0]
    np.testing.assert_allclose(run_graph(out, feeds, ["Identity"])[0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.gtt
def test_gtt_deployment_recipe_agrees_with_gtt(inception):
    try:
        from tensorflow.python.util import _pywrap_transform_graph as binding
    except ImportError:
        pytest.skip("GTT's C++ binding is not in this TensorFlow")
    theirs = _tf.pb().GraphDef.FromString(
        binding.TransformGraphWithStringInputs(inception.SerializeToString(), "x", "Identity", SCRIPT)
    )
    mine = graphrewrite.transform_graph(inception, ["x"], ["Identity"], SCRIPT)
    # Same survivors in number and kind; names of merged twins and the order may differ
    # (GTT reorders by hash before sorting).
    assert len(mine.node) == len(theirs.node)
    assert collections.Counter(n.op for n in mine.node) == collections.Counter(n.op for n in theirs.node)
    feeds = {"x": np.random.default_rng(1).uniform(-1, 1, SHAPE).astype(np.float32)}
    np.testing.assert_allclose(
        run_graph(mine, feeds, ["Identity"])[0], run_graph(theirs, feeds, ["Identity"])[0], rtol=1e-5, atol=1e-6
    )
