"""Helpers shared by the compression tests: run one transform, run graphs, call GTT's binding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from graphrewrite import _tf
from graphrewrite.engine.driver import Context, run_steps
from graphrewrite.engine.graph import Graph
from graphrewrite.engine.report import StepReport
from graphrewrite.engine.validate import lint
from graphrewrite.rules.params import defaults
from graphrewrite.rules.rule import Step, Transform
from graphrewrite.runner import run_graph


def apply(
    transform: Transform, graph_def: Any, inputs: Sequence[str] = (), outputs: Sequence[str] = (), **args: Any
) -> tuple[Any, StepReport]:
    """Run *transform* alone with *args* over *graph_def*; returns the GraphDef and its report.

    The result must pass ``lint``.
    """
    values = {**defaults(transform.params), **args}
    ctx = Context(inputs=tuple(inputs), outputs=tuple(outputs))
    graph, report = run_steps(Graph.from_graphdef(graph_def), [Step(transform, values)], ctx)
    problems = lint(graph, ctx)
    assert not problems, [str(p) for p in problems]
    return graph.to_graphdef(), report.steps[0]


def run(graph_def: Any, feeds: dict[str, np.ndarray], fetches: Sequence[str]) -> list[np.ndarray]:
    return run_graph(graph_def, feeds, fetches)


def gtt(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: str) -> Any:
    """GTT's C++ result for the same graph (the test is skipped when the binding is absent)."""
    try:
        from tensorflow.python.util import _pywrap_transform_graph as binding
    except ImportError:
        pytest.skip("GTT's C++ binding is not in this TensorFlow")
    data = binding.TransformGraphWithStringInputs(
        graph_def.SerializeToString(), ",".join(inputs), ",".join(outputs), transforms
    )
    out = _tf.pb().GraphDef()
    out.ParseFromString(data)
    return out


def nodes(graph_def: Any) -> dict[str, Any]:
    return {n.name: n for n in graph_def.node}


def const_value(node: Any) -> np.ndarray:
    """A Const's value as a plain numpy array (quint8/qint8 come back as uint8/int8)."""
    value = _tf.tf().make_ndarray(node.attr["value"].tensor)
    if value.dtype.names:
        value = value[value.dtype.names[0]]
    return np.asarray(value)


def build(fn: Callable[[], Any]) -> Any:
    """The GraphDef of a TF1-style graph built by *fn* inside a fresh ``tf.Graph``."""
    tf = _tf.tf()
    graph = tf.Graph()
    with graph.as_default():
        fn()
    return graph.as_graph_def()


def run_logged(graph_def: Any, feeds: dict[str, np.ndarray], fetches: Sequence[str]) -> tuple[list[np.ndarray], str]:
    """Run a graph and return its outputs and what its ``Print`` ops wrote to stderr (fd 2)."""
    import os
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            values = run(graph_def, feeds, fetches)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return values, log.read().decode(errors="replace")
