"""Differential tests: the structural transforms against GTT's own C++ code.

TensorFlow's wheel still carries GTT as a private binding; each test runs the same transform
through it and through graphrewrite on the same graph and compares surviving node names, the
op multiset, the edges where both promise them, and the outputs in TensorFlow. Skipped when
the binding is absent.

Deliberate differences, and how each comparison allows for them:

- ``versions``: GTT drops it (producer 0); we keep it. Compared nodes only.
- ``strip_unused_nodes``: GTT makes non-Placeholder inputs float scalars by default; we infer
  the dtype and leave the shape unknown. Compared with ``type``/``shape`` given.
- ``remove_nodes``: GTT drops a removed node's control inputs; we forward them to its
  consumers. GTT moves the spliced node's input to the removed node's position; we keep
  graph order. Compared names (as sets), ops and outputs; edges only on graphs without
  control inputs.
- ``merge_duplicate_nodes``: GTT reorders the graph by hash, and for merges found in later
  rounds keeps whichever twin that order puts first; we keep graph order and the first twin
  in it. Compared node count, op multiset, protected names and outputs.
- ``obfuscate_names``: GTT compares --inputs/--outputs as raw strings; graphs here use plain
  names, where both agree exactly.
- ``backport_tensor_array_v3`` is not compared: GTT's output is not importable (see the
  transform's docstring).
"""

from __future__ import annotations

import collections
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrewrite import _tf
from graphrewrite.engine.graph import Graph
from tests.helpers.random_graphs import SHAPE, ours, random_graph
from tests.helpers.structural import F32, I32, assert_clean, const, evaluate, graph, op, ph

pytestmark = pytest.mark.gtt

FEEDS = {"x": np.linspace(-2.0, 2.0, 6, dtype=np.float32).reshape(SHAPE)}


def gtt(g: Graph, inputs: list[str], outputs: list[str], transforms: str) -> Graph:
    """*g* transformed by GTT's C++ code."""
    try:
        from tensorflow.python.util import _pywrap_transform_graph as binding
    except ImportError:
        pytest.skip("GTT's C++ binding is not in this TensorFlow")
    out = binding.TransformGraphWithStringInputs(
        g.to_graphdef().SerializeToString(), ",".join(inputs), ",".join(outputs), transforms
    )
    return Graph.from_graphdef(_tf.pb().GraphDef.FromString(out))


def names(g: Graph) -> list[str]:
    return [n.name for n in g]


def op_counts(g: Graph) -> collections.Counter[str]:
    return collections.Counter(n.op for n in g)


def edges(g: Graph) -> dict[str, list[str]]:
    return {n.name: [str(i) for i in n.inputs] for n in g}


def assert_same_values(a: Graph, b: Graph, outputs: list[str]) -> None:
    for name, x, y in zip(outputs, evaluate(a, FEEDS, outputs), evaluate(b, FEEDS, outputs), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, err_msg=name)


def nodedefs(g: Graph) -> list[bytes]:
    return [n.to_nodedef().SerializeToString(deterministic=True) for n in g]


SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=15, deadline=None)
@given(SEEDS)
def test_strip_unused_nodes_matches_gtt(seed):
    g = random_graph(seed)
    theirs = gtt(g, ["x"], ["y"], 'strip_unused_nodes(type=float, shape="2,3")')
    mine = ours(g, ["x"], ["y"], "strip_unused_nodes", type="float", shape="2,3")
    assert names(mine) == names(theirs) and edges(mine) == edges(theirs)
    assert_same_values(mine, theirs, ["y"])


def test_strip_unused_nodes_non_placeholder_input_with_type_and_shape_given():
    g = graph(const("k", np.ones(SHAPE, np.float32)), op("x", "Identity", ["k"], T=F32), op("y", "Relu", ["x"], T=F32))
    theirs = gtt(g, ["x"], ["y"], 'strip_unused_nodes(type=float, shape="2,3")')
    mine = ours(g, ["x"], ["y"], "strip_unused_nodes", type="float", shape="2,3")
    assert nodedefs(mine) == nodedefs(theirs)


@settings(max_examples=15, deadline=None)
@given(SEEDS, st.booleans())
def test_remove_nodes_matches_gtt(seed, controls):
    g = random_graph(seed, controls=controls)
    script = "remove_nodes(op=Identity, op=CheckNumerics, op=StopGradient)"
    theirs = gtt(g, ["x"], ["y"], script)
    mine = ours(g, ["x"], ["y"], "remove_nodes", op=["Identity", "CheckNumerics", "StopGradient"])
    assert sorted(names(mine)) == sorted(names(theirs)) and op_counts(mine) == op_counts(theirs)
    assert [n for n in names(g) if n in mine] == names(mine)  # graph order kept
    if not controls:  # with control inputs we forward them (GTT dropped them)
        assert edges(mine) == edges(theirs)
    assert_clean(mine, ["x"], ["y"])
    assert_same_values(mine, theirs, ["y"])


@settings(max_examples=15, deadline=None)
@given(SEEDS)
def test_merge_duplicate_nodes_matches_gtt(seed):
    g = random_graph(seed)
    theirs = gtt(g, ["x"], ["y"], "merge_duplicate_nodes")
    mine = ours(g, ["x"], ["y"], "merge_duplicate_nodes")
    assert len(mine) == len(theirs) and op_counts(mine) == op_counts(theirs)
    assert {"x", "y"} <= set(names(mine))
    assert [n for n in names(g) if n in mine] == names(mine)  # graph order kept
    assert_same_values(mine, theirs, ["y"])


@settings(max_examples=15, deadline=None)
@given(SEEDS)
def test_sort_by_execution_order_is_byte_identical_to_gtt(seed):
    g = random_graph(seed)
    shuffled = Graph.from_nodes(random.Random(seed).sample(list(g), len(g)))
    theirs = gtt(shuffled, [], [], "sort_by_execution_order")
    mine = ours(shuffled, [], [], "sort_by_execution_order")
    assert nodedefs(mine) == nodedefs(theirs)


@settings(max_examples=10, deadline=None)
@given(SEEDS)
def test_obfuscate_names_is_byte_identical_to_gtt(seed):
    g = random_graph(seed)
    theirs = gtt(g, ["x"], ["y"], "obfuscate_names")
    mine = ours(g, ["x"], ["y"], "obfuscate_names")
    assert nodedefs(mine) == nodedefs(theirs)
    assert_same_values(mine, theirs, ["y"])


SIMPLE = [
    ("rename_op(old_op_name=Relu, new_op_name=Relu6)", "rename_op", {"old_op_name": "Relu", "new_op_name": "Relu6"}),
    (
        "rename_attribute(old_attribute_name=message, new_attribute_name=_msg, op_name=CheckNumerics)",
        "rename_attribute",
        {"old_attribute_name": "message", "new_attribute_name": "_msg", "op_name": "CheckNumerics"},
    ),
    ("remove_attribute(attribute_name=T, op_name=Relu)", "remove_attribute", {"attribute_name": "T", "op_name": "Relu"}),
    ("remove_device", "remove_device", {}),
    ('set_device(device="/device:CPU:0", if_default=true)', "set_device", {"device": "/device:CPU:0", "if_default": "true"}),
    ("remove_control_dependencies", "remove_control_dependencies", {}),
    ("add_default_attributes", "add_default_attributes", {}),
    ("rename_node(old_node_name=n1, new_node_name=renamed)", "rename_node", {"old_node_name": "n1", "new_node_name": "renamed"}),
]


@pytest.mark.parametrize(("script", "name", "args"), SIMPLE, ids=[s[1] for s in SIMPLE])
@pytest.mark.parametrize("seed", [3, 17, 41])
def test_per_node_transforms_are_byte_identical_to_gtt(script, name, args, seed):
    g = random_graph(seed)
    if name == "rename_node" and "n1" not in g:
        pytest.skip("no node n1")
    if name == "set_device":
        g = Graph.from_nodes(n.evolve(device="/job:a") if i % 2 else n for i, n in enumerate(g))
    theirs = gtt(g, ["x"], ["y"], script)
    mine = ours(g, ["x"], ["y"], name, **args)
    assert nodedefs(mine) == nodedefs(theirs)


def test_backport_concatv2_matches_gtt_without_control_inputs():
    g = graph(
        ph("a", shape=(1, 2)),
        ph("b", shape=(1, 2)),
        const("axis", 1, np.int32),
        op("cat", "ConcatV2", ["a", "b", "axis"], N=2, T=F32, Tidx=I32),
    )
    theirs = gtt(g, ["a", "b"], ["cat"], "backport_concatv2")
    mine = ours(g, ["a", "b"], ["cat"], "backport_concatv2")
    assert nodedefs(mine) == nodedefs(theirs)


# -- a frozen Keras model ----------------------------------------------------------------------

KERAS_SHAPE = (1, 96, 96, 3)


@pytest.fixture(scope="module")
def mobilenet() -> Graph:
    """MobileNetV2 (weights=None) frozen with tf.function + convert_variables_to_constants_v2;
    input 'x', output 'Identity'."""
    tf = _tf.tf()
    import keras
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=KERAS_SHAPE[1:])
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec(KERAS_SHAPE, tf.float32, name="x")
    )
    return Graph.from_graphdef(convert_variables_to_constants_v2(concrete).graph.as_graph_def())


def _keras_values(a: Graph, b: Graph) -> None:
    feeds = {"x": np.random.default_rng(0).standard_normal(KERAS_SHAPE).astype(np.float32)}
    np.testing.assert_allclose(evaluate(a, feeds, ["Identity"])[0], evaluate(b, feeds, ["Identity"])[0], rtol=1e-5, atol=1e-6)


KERAS_CASES = [
    ('strip_unused_nodes(type=float, shape="1,96,96,3")', "strip_unused_nodes", {"type": "float", "shape": "1,96,96,3"}, "exact"),
    ("remove_nodes(op=Identity)", "remove_nodes", {"op": ["Identity"]}, "names"),
    ("merge_duplicate_nodes", "merge_duplicate_nodes", {}, "counts"),
    ("sort_by_execution_order", "sort_by_execution_order", {}, "exact"),
    ("obfuscate_names", "obfuscate_names", {}, "exact"),
    ("add_default_attributes", "add_default_attributes", {}, "exact"),
    ("remove_device", "remove_device", {}, "exact"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("script", "name", "args", "compare"), KERAS_CASES, ids=[c[1] for c in KERAS_CASES])
def test_frozen_mobilenet_matches_gtt(mobilenet, script, name, args, compare):
    theirs = gtt(mobilenet, ["x"], ["Identity"], script)
    mine = ours(mobilenet, ["x"], ["Identity"], name, **args)
    if compare == "exact":
        assert nodedefs(mine) == nodedefs(theirs)
    elif compare == "names":  # remove_nodes: GTT reorders; same survivors
        assert sorted(names(mine)) == sorted(names(theirs)) and op_counts(mine) == op_counts(theirs)
    else:  # merge_duplicate_nodes: GTT reorders by hash; same number and kinds of survivors
        assert len(mine) == len(theirs) and op_counts(mine) == op_counts(theirs)
    assert_clean(mine, ["x"], ["Identity"])
    _keras_values(mobilenet, mine)
    if name != "obfuscate_names":
        _keras_values(theirs, mine)
