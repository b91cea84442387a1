"""Small builders and checks shared by the structural-transform tests (tests/stdlib/test_*.py).

Graphs are built node by node with ``Node.make`` so each test states exactly what it feeds a
transform; ``apply`` runs one transform through the real driver (``run_steps``), so argument
conversion and the driver's after-step check are exercised too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.driver import Context, run_steps
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.engine.validate import lint
from graphrewrite.rules.params import defaults
from graphrewrite.rules.rule import Step, Transform
from graphrewrite.runner import run_graph
from tests.helpers.rule_graphs import F32 as F32
from tests.helpers.rule_graphs import I32 as I32
from tests.helpers.rule_graphs import const as const
from tests.helpers.rule_graphs import graph as graph


def ph(name: str, dtype: DType = F32, shape: Sequence[int | None] | None = None, device: str = "") -> Node:
    """A Placeholder; shape None leaves the attribute out."""
    attrs: dict[str, Any] = {"dtype": dtype}
    if shape is not None:
        from graphrewrite.engine.attrvalues import shape_to_proto

        attrs["shape"] = shape_to_proto(tuple(shape))
    return Node.make(name, "Placeholder", (), attrs, device)


def op(name: str, op_type: str, inputs: Sequence[str] = (), device: str = "", **attrs: Any) -> Node:
    """A node; pass ``T=F32`` etc. as keyword attributes."""
    return Node.make(name, op_type, inputs, attrs, device)


def unary(name: str, op_type: str, x: str, *extra: str, dtype: DType = F32) -> Node:
    return Node.make(name, op_type, [x, *extra], {"T": dtype})


def binary(name: str, op_type: str, x: str, y: str, *extra: str, dtype: DType = F32) -> Node:
    return Node.make(name, op_type, [x, y, *extra], {"T": dtype})


def convert_args(transform: Transform, args: Mapping[str, Any]) -> dict[str, Any]:
    """Script-style string arguments (lists for repeated parameters) to typed values."""
    params = {p.name: p for p in transform.params}
    out = defaults(transform.params)
    for key, value in args.items():
        param = params[key]
        if param.repeated:
            out[key] = [param.convert(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = param.convert(value) if isinstance(value, str) else value
    return out


def apply(
    transform: Transform, g: Graph, *, inputs: Sequence[str] = (), outputs: Sequence[str] = (), **args: Any
) -> Graph:
    """Run *transform* alone on *g* through the driver; returns the new graph."""
    step = Step(transform, convert_args(transform, args))
    result, _report = run_steps(g, [step], Context(inputs=tuple(inputs), outputs=tuple(outputs)))
    return result


def names(g: Graph) -> list[str]:
    return [n.name for n in g]


def op_by_name(g: Graph) -> dict[str, str]:
    """Each node's op, by node name."""
    return {n.name: n.op for n in g}


def inputs_of(g: Graph, name: str) -> list[str]:
    return [str(i) for i in g.node(name).inputs]


def assert_clean(g: Graph, inputs: Sequence[str] = (), outputs: Sequence[str] = ()) -> None:
    problems = lint(g, Context(inputs=tuple(inputs), outputs=tuple(outputs)))
    assert not problems, [str(p) for p in problems]


def evaluate(g: Graph, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]) -> list[np.ndarray]:
    return run_graph(g.to_graphdef(), feeds, fetches)


def assert_same_outputs(
    before: Graph, after: Graph, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]
) -> None:
    """Both graphs give equal values for *fetches* (grappler off)."""
    expected = evaluate(before, feeds, fetches)
    got = evaluate(after, feeds, fetches)
    for name, e, a in zip(fetches, expected, got, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6, err_msg=name)
