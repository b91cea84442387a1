"""Probe graphs for ``check --target`` against the real runtimes: one small graph per case,
checked by ``check`` and loaded by the runtime, whose verdicts must agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphrewrite import _tf
from graphrewrite.targets import checks


def probe_graph(body: Callable[[Any], Any], shape: Sequence[int] = (1, 8, 8, 4), *, output: str | None = None) -> Any:
    """The GraphDef of *body* over a float Placeholder ``x`` of *shape*; *output* names an
    Identity of its result (None: the graph ends at *body*'s own nodes)."""
    tf = _tf.tf()
    graph = tf.Graph()
    with graph.as_default():
        out = body(tf.compat.v1.placeholder(tf.float32, list(shape), name="x"))
        if output is not None:
            tf.identity(out, name=output)
    return graph.as_graph_def()


def assert_check_agrees(target: str, graph_def: Any, loads: bool, label: str) -> None:
    """``check --target`` predicts the runtime's verdict *loads* for *graph_def*."""
    report = checks.check(graph_def, target)
    assert report.loads == loads, checks.render(report, label)


def verdicts(target: str, graph_defs: Iterable[Any]) -> set[bool]:
    """The set of ``check`` verdicts over *graph_defs*: a probe set must hold both."""
    return {checks.check(g, target).loads for g in graph_defs}
