"""Graph generators for the passes that rewrite calls and lookups: function calls to inline
(``inline_partitionedcall``) and gathers over mostly-zero tables (``sparsify_gather``).

Like :mod:`graphrewrite.testing.cases`, each is a function of no arguments returning a
hypothesis strategy of :class:`GraphCase`; :func:`graphrewrite.testing.cases.named` finds them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from graphrewrite.testing.build import GraphCase

UNARY = ("Relu", "Tanh", "Neg", "Square")


def partitioned_calls() -> Any:
    """Graphs that compute through ``tf.function`` calls (PartitionedCall or
    StatefulPartitionedCall, possibly nested, with several arguments and results)."""
    return st.builds(
        _call_case,
        first=st.sampled_from(UNARY),
        second=st.sampled_from(UNARY),
        nested=st.booleans(),
        stateful=st.booleans(),
        rows=st.integers(1, 3),
    )


def _call_case(*, first: str, second: str, nested: bool, stateful: bool, rows: int) -> GraphCase:
    from graphrewrite import _tf

    tf = _tf.tf()
    ops = {"Relu": tf.nn.relu, "Tanh": tf.tanh, "Neg": tf.negative, "Square": tf.square}

    @tf.function(autograph=False)
    def inner(a: Any) -> Any:
        return ops[second](a) + 1.0

    @tf.function(autograph=False)
    def outer(a: Any, b: Any) -> Any:
        if stateful:  # an op with side effects makes TensorFlow call the function statefully
            tf.debugging.assert_all_finite(a, "finite")
        c = ops[first](a) * b
        return (inner(c) if nested else c * 2.0), a - b

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [rows, 3], name="input")
        y = tf.compat.v1.placeholder(tf.float32, [rows, 3], name="input_1")
        left, right = outer(x, y)
        tf.identity(left, name="output")
        tf.identity(right * 3.0, name="output_1")
    rng = np.random.default_rng(rows)
    feeds = {name: rng.normal(size=(rows, 3)).astype(np.float32) for name in ("input", "input_1")}
    return GraphCase(graph.as_graph_def(), ("input", "input_1"), ("output", "output_1"), feeds)


@st.composite
def sparse_gathers(draw: Any) -> GraphCase:
    """A ``Gather``/``GatherV2`` over a mostly-zero ``[N, 1]`` float Const (read through an
    ``Identity`` or directly), by int32 or int64 ids, feeding an elementwise op: the table
    sparsify_gather turns into a HashTable initialised by ``init_all_tables``."""
    from graphrewrite.engine.attrvalues import DType
    from graphrewrite.engine.graph import Graph, Node

    size = draw(st.integers(2, 12))
    nonzero = draw(st.lists(st.integers(0, size - 1), max_size=size, unique=True))
    table = np.zeros((size, 1), np.float32)
    table[nonzero, 0] = draw(st.lists(st.floats(-4, 4, width=32).filter(lambda v: abs(v) >= 1e-3),
                                      min_size=len(nonzero), max_size=len(nonzero)))  # fmt: skip
    ids_dtype = draw(st.sampled_from(("int32", "int64")))
    count = draw(st.integers(1, 6))
    f32, index = DType.named("float32"), DType.named(ids_dtype)
    nodes = [
        Node.make("ids", "Placeholder", (), {"dtype": index, "shape": _shape([count])}),
        Node.make("table", "Const", (), {"dtype": f32, "value": table}),
    ]
    source = "table"
    if draw(st.booleans()):
        nodes.append(Node.make("table/read", "Identity", ("table",), {"T": f32}))
        source = "table/read"
    if draw(st.booleans()):
        gather = Node.make("gather", "Gather", (source, "ids"), {"Tparams": f32, "Tindices": index})
    else:
        nodes.append(Node.make("gather/axis", "Const", (), {"dtype": DType.named("int32"), "value": np.array(0, np.int32)}))
        gather = Node.make("gather", "GatherV2", (source, "ids", "gather/axis"),
                           {"Tparams": f32, "Tindices": index, "Taxis": DType.named("int32")})  # fmt: skip
    unary = draw(st.sampled_from(UNARY))
    nodes += [gather, Node.make("output", unary, ("gather",), {"T": f32})]
    ids = np.asarray(draw(st.lists(st.integers(0, size - 1), min_size=count, max_size=count)), index.numpy)
    graph = Graph.from_nodes(nodes)
    return GraphCase(graph.to_graphdef(), ("ids",), ("output",), {"ids": ids}, args={"group_init_node": "init_all_tables"})


def _shape(dims: list[int]) -> Any:
    from graphrewrite.engine.attrvalues import Shape

    return Shape(dims)
