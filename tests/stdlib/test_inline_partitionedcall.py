"""inline_partitionedcall: function calls replaced by the bodies of the functions they call.

Beyond GTT (gtt_behaviour.md §2.2, §6.2): StatefulPartitionedCall and calls by function name,
nested calls, list arguments, ``$T`` attribute placeholders, outputs mapped through the
signature's output args (``uniq:idx:0`` is port 1 of Unique, not port 0), the call's control
edges kept, and a protected call name kept as an IdentityN.
"""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format

from graphrewrite import _tf
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules.inference import INLINE_PARTITIONEDCALL
from tests.helpers.structural import apply, assert_clean, evaluate

POLY = """
signature {
  name: "poly"
  input_arg { name: "xs" type_attr: "T" number_attr: "N" }
  input_arg { name: "y" type: DT_INT32 }
  output_arg { name: "total" type_attr: "T" }
  output_arg { name: "positions" type: DT_INT32 }
  output_arg { name: "passthrough" type: DT_INT32 }
  attr { name: "T" type: "type" }
  attr { name: "N" type: "int" has_minimum: true minimum: 1 }
}
node_def {
  name: "sum" op: "AddN" input: "xs"
  attr { key: "N" value { placeholder: "N" } }
  attr { key: "T" value { placeholder: "T" } }
}
node_def {
  name: "uniq" op: "Unique" input: "y"
  attr { key: "T" value { type: DT_INT32 } }
  attr { key: "out_idx" value { type: DT_INT32 } }
}
ret { key: "total" value: "sum:sum:0" }
ret { key: "positions" value: "uniq:idx:0" }
ret { key: "passthrough" value: "y" }
"""

GRAPH = """
node { name: "a" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "b" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "ids" op: "Placeholder" attr { key: "dtype" value { type: DT_INT32 } } }
node { name: "gate" op: "NoOp" }
node {
  name: "call" op: "PartitionedCall" input: "a" input: "b" input: "ids" input: "^gate"
  attr { key: "Tin" value { list { type: DT_FLOAT type: DT_FLOAT type: DT_INT32 } } }
  attr { key: "Tout" value { list { type: DT_FLOAT type: DT_INT32 type: DT_INT32 } } }
  attr { key: "f" value { func { name: "poly"
    attr { key: "T" value { type: DT_FLOAT } } attr { key: "N" value { i: 2 } } } } }
}
node {
  name: "direct" op: "poly" input: "a" input: "b" input: "ids"
  attr { key: "T" value { type: DT_FLOAT } } attr { key: "N" value { i: 2 } }
}
node { name: "total" op: "Identity" input: "call" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "positions" op: "Identity" input: "call:1" attr { key: "T" value { type: DT_INT32 } } }
node { name: "passthrough" op: "Identity" input: "call:2" input: "^call" attr { key: "T" value { type: DT_INT32 } } }
node { name: "direct_positions" op: "Identity" input: "direct:1" attr { key: "T" value { type: DT_INT32 } } }
"""

OUTPUTS = ["total", "positions", "passthrough", "direct_positions"]
FEEDS = {
    "a": np.array([1.0, 2.0, 3.0], np.float32),
    "b": np.array([10.0, 20.0, 30.0], np.float32),
    "ids": np.array([7, 7, 3, 9, 3], np.int32),
}


def poly_graph() -> Graph:
    graph_def = text_format.Parse(GRAPH, _tf.pb().GraphDef())
    text_format.Parse(POLY, graph_def.library.function.add())
    return Graph.from_graphdef(graph_def)


def test_inlines_both_call_kinds_with_placeholders_list_args_and_output_args():
    g = poly_graph()
    result = apply(INLINE_PARTITIONEDCALL, g, outputs=OUTPUTS)
    assert not {"PartitionedCall", "poly"} & {n.op for n in result}
    assert result.library is None  # the only function is no longer used
    assert result.node("call/sum").get("T") == g.node("a").get("dtype")
    assert result.node("call/sum").get("N") == 2
    assert [str(r) for r in result.node("call/sum").inputs] == ["a", "b", "^gate"]
    assert [str(r) for r in result.node("positions").inputs] == ["call/uniq:1"]
    assert [str(r) for r in result.node("total").inputs] == ["call/sum"]
    # passthrough returned the argument itself; ^call waits for every returned tensor.
    assert [str(r) for r in result.node("passthrough").inputs] == ["ids", "^call/sum", "^call/uniq"]
    got = evaluate(result, FEEDS, OUTPUTS)
    np.testing.assert_array_equal(got[0], [11.0, 22.0, 33.0])
    np.testing.assert_array_equal(got[1], [0, 0, 1, 2, 1])  # Unique's idx output
    np.testing.assert_array_equal(got[2], FEEDS["ids"])
    np.testing.assert_array_equal(got[3], got[1])
    # (TensorFlow's Python importer cannot load a polymorphic FunctionDef, so the original
    # graph cannot be run for comparison; the expected values are written out instead.)
    assert_clean(result, outputs=OUTPUTS)


def test_a_protected_call_keeps_its_name_as_identity_n():
    g = poly_graph()
    result = apply(INLINE_PARTITIONEDCALL, g, outputs=[*OUTPUTS, "call"])
    assert result.node("call").op == "IdentityN"
    assert [str(r) for r in result.node("call").inputs] == ["call/sum", "call/uniq:1", "ids"]
    assert [str(r) for r in result.node("positions").inputs] == ["call:1"]
    np.testing.assert_array_equal(evaluate(result, FEEDS, ["call:1"])[0], [0, 0, 1, 2, 1])


def test_nested_stateful_calls_from_tf_function():
    import tensorflow as tf

    @tf.function
    def inner(x):
        return tf.nn.relu(x) * 2.0, tf.reduce_sum(x)

    @tf.function
    def middle(x):
        a, s = inner(x + 1.0)
        return a - s

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def outer(x):
        return middle(x) + tf.random.stateless_uniform([3], seed=[1, 2])

    graph_def = outer.get_concrete_function().graph.as_graph_def()
    g = Graph.from_graphdef(graph_def)
    calls = [n for n in g if n.op in ("PartitionedCall", "StatefulPartitionedCall")]
    assert calls and len(g.library.function) == 2
    out = next(n.name for n in g if n.op == "Identity" and not g.has_consumers(n.name))
    x_name = next(n.name for n in g if n.op == "Placeholder")
    result = apply(INLINE_PARTITIONEDCALL, g, outputs=[out])
    assert not {"PartitionedCall", "StatefulPartitionedCall"} & {n.op for n in result}
    assert result.library is None
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    np.testing.assert_allclose(evaluate(result, {x_name: x}, [out])[0], outer(x).numpy(), rtol=1e-6)
    assert_clean(result, outputs=[out])


def test_errors_name_the_call():
    g = poly_graph()
    broken = g.replace([g.node("call").with_inputs(g.node("call").inputs[:2])])
    with pytest.raises(RuleError, match="node 'call' passes 2 inputs to 'poly', whose signature takes 3"):
        apply(INLINE_PARTITIONEDCALL, broken)
    missing = g.node("call").with_attrs(f=_func_attr("nope"))
    with pytest.raises(RuleError, match="node 'call' calls function 'nope', which is not in the library"):
        apply(INLINE_PARTITIONEDCALL, g.replace([missing]))


def _func_attr(name: str):
    value = _tf.pb().AttrValue()
    value.func.name = name
    return value


def test_same_body_names_as_gtt_for_the_case_gtt_handles():
    try:
        from tensorflow.python.util import _pywrap_transform_graph as gtt
    except ImportError:
        pytest.skip("GTT's C++ binding is not available")
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def f(x):
        return tf.nn.relu(x) + 1.0

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        tf.identity(tf.raw_ops.PartitionedCall(args=[x], Tout=[tf.float32], f=f.get_concrete_function())[0], name="y")
    graph_def = graph.as_graph_def()
    theirs = _tf.pb().GraphDef.FromString(gtt.TransformGraphWithStringInputs(graph_def.SerializeToString(), "x", "y", "inline_partitionedcall"))
    ours = apply(INLINE_PARTITIONEDCALL, Graph.from_graphdef(graph_def), outputs=["y"])
    assert {n.name for n in ours} == {n.name for n in theirs.node}
    feeds = {"x": np.array([-1.0, 2.0], np.float32)}
    np.testing.assert_array_equal(evaluate(ours, feeds, ["y"])[0], [1.0, 3.0])


def test_colocation_inside_a_body_follows_the_copies():
    graph_def = poly_graph().to_graphdef()
    body = graph_def.library.function[0]
    body.node_def[1].attr["_class"].list.s.extend([b"loc:@sum", b"loc:@elsewhere"])
    result = apply(INLINE_PARTITIONEDCALL, Graph.from_graphdef(graph_def), outputs=OUTPUTS)
    assert result.node("call/uniq").get("_class") == ["loc:@call/sum"]
    assert result.node("direct/uniq").get("_class") == ["loc:@direct/sum"]


def test_a_function_that_calls_itself_is_refused():
    graph_def = text_format.Parse(
        'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }'
        ' node { name: "c" op: "loop" input: "x" }',
        _tf.pb().GraphDef(),
    )
    text_format.Parse(
        'signature { name: "loop" input_arg { name: "a" type: DT_FLOAT } output_arg { name: "b" type: DT_FLOAT } }'
        ' node_def { name: "again" op: "loop" input: "a" } ret { key: "b" value: "again:b:0" }',
        graph_def.library.function.add(),
    )
    with pytest.raises(RuleError, match="nested 64 levels deep: does 'loop' call itself"):
        apply(INLINE_PARTITIONEDCALL, Graph.from_graphdef(graph_def))
