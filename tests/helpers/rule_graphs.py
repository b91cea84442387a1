"""Helpers for rule tests: tiny graphs built from nodes, run in TensorFlow without grappler.

Imported by the rule-language and standard-rule tests as ``tests.helpers.rule_graphs``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType, dtype_of_numpy, shape_to_proto
from graphrewrite.engine.driver import Context
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.engine.report import RuleStats
from graphrewrite.engine.validate import lint

F32 = DType(1)  # DT_FLOAT
F16 = DType(19)  # DT_HALF
I32 = DType(3)  # DT_INT32
RNG = np.random.default_rng(1234)


def placeholder(name: str, shape: Sequence[int | None] | None = None, dtype: DType = F32) -> Node:
    """A Placeholder; a None dimension is unknown, shape None leaves the attribute out."""
    attrs: dict[str, Any] = {"dtype": dtype}
    if shape is not None:
        attrs["shape"] = shape_to_proto(tuple(shape))
    return Node.make(name, "Placeholder", (), attrs)


def const(name: str, value: Any, dtype: Any = np.float32, inputs: Sequence[str] = ()) -> Node:
    """A Const holding *value* as a *dtype* array (*inputs*: control inputs, if any)."""
    array = np.asarray(value, dtype=dtype)
    return Node.make(name, "Const", inputs, {"dtype": dtype_of_numpy(array.dtype), "value": array})


def node(name: str, op: str, *inputs: str, **attrs: Any) -> Node:
    """A node; ``T`` defaults to float32 when the op has a ``T`` attribute."""
    op_def = _tf.op_def(op)
    if op_def is not None and any(a.name == "T" for a in op_def.attr):
        attrs.setdefault("T", F32)
    return Node.make(name, op, inputs, attrs)


def graph(*nodes: Node) -> Graph:
    return Graph.from_nodes(nodes)


@contextlib.contextmanager
def control_flow_v1(enabled: bool = True) -> Iterator[None]:
    """TF1 control flow (Enter, Merge, Switch, NextIteration, Exit) instead of While/If
    functions while the block runs (or functional control flow, *enabled* False); the global
    switch is restored afterwards."""
    from tensorflow.python.ops import control_flow_util

    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = not enabled
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved


def v1_graph(build: Callable[[Any], None]) -> Graph:
    """The graph *build(tf)* makes in a fresh tf.Graph, with TF1 control flow."""
    tf = _tf.tf()
    g = tf.Graph()
    with control_flow_v1(), g.as_default():
        build(tf)
    return Graph.from_graphdef(g.as_graph_def())


def normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def run(graph: Graph, feeds: Mapping[str, np.ndarray], fetches: Iterable[str]) -> list[np.ndarray]:
    """Evaluate *fetches* with grappler and TF's graph optimizer off: the graph as written."""
    from graphrewrite.runner import run_graph

    return run_graph(graph.to_graphdef(), feeds, list(fetches))


def apply(
    transform: Any, graph: Graph, inputs: Sequence[str], outputs: Sequence[str]
) -> tuple[Graph, dict[str, RuleStats]]:
    """Run *transform* alone; the graph after and its per-rule statistics by rule name."""
    after, stats = transform.apply(graph, Context(tuple(inputs), tuple(outputs)))
    return after, {s.rule: s for s in stats}


def assert_equivalent(
    before: Graph,
    after: Graph,
    feeds: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> None:
    """*after* is lint-clean and computes what *before* computes, output by output."""
    problems = lint(after, Context(tuple(feeds), tuple(outputs)))
    assert not problems, [str(p) for p in problems]
    want = run(before, feeds, outputs)
    got = run(after, feeds, outputs)
    for name, a, b in zip(outputs, want, got, strict=True):
        assert a.shape == b.shape, f"{name}: shape {b.shape}, expected {a.shape}"
        assert a.dtype == b.dtype, f"{name}: dtype {b.dtype}, expected {a.dtype}"
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=name)


def ops(graph: Any) -> list[str]:
    """The op types of *graph* (a Graph or a GraphDef), in node order: the one ``ops()`` the
    suites share."""
    return [n.op for n in (graph if isinstance(graph, Graph) else graph.node)]
