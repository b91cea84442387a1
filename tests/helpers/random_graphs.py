"""Small random float graphs for differential and determinism tests, and the standard
transforms run on them by name (``ours``, as against GTT's C++ code)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from graphrewrite.engine.graph import Graph, TensorRef
from graphrewrite.stdlib_rules import standard_rules
from tests.helpers.structural import F32, apply, binary, const, graph, op, ph

SHAPE = (2, 3)
UNARY = ("Relu", "Neg", "Identity", "CheckNumerics", "StopGradient", "Tanh")
BINARY = ("AddV2", "Mul", "Sub")


def ours(g: Graph, inputs: list[str], outputs: list[str], name: str, **args: Any) -> Graph:
    """*g* after the standard transform *name* alone, run through the driver."""
    return apply(standard_rules().lookup(name), g, inputs=inputs, outputs=outputs, **args)


def random_graph(seed: int, *, controls: bool = True) -> Graph:
    """A small valid float graph: input x, constants (often equal), unary and binary ops,
    dead branches, and (sorted) control edges; its sink is 'y'."""
    rng = random.Random(seed)
    nodes = [ph("x", shape=SHAPE)]
    values = ["x"]
    for i in range(rng.randint(3, 18)):
        name = f"n{i}"
        kind = rng.random()
        if kind < 0.25:
            nodes.append(const(name, np.full(SHAPE, rng.choice([0.5, 2.0]), np.float32)))
        elif kind < 0.65:
            op_type = rng.choice(UNARY)
            extra = {"message": "bad"} if op_type == "CheckNumerics" else {}
            nodes.append(op(name, op_type, [rng.choice(values)], T=F32, **extra))
        else:
            nodes.append(binary(name, rng.choice(BINARY), rng.choice(values), rng.choice(values)))
        if controls and rng.random() < 0.2 and len(values) > 1:
            deps = sorted(set(rng.sample(values[1:], min(2, len(values) - 1))))
            last = nodes[-1]
            nodes[-1] = last.with_inputs((*last.inputs, *(_ctl(d) for d in deps)))
        values.append(name)
    nodes.append(binary("y", "AddV2", values[-1], rng.choice(values)))
    return graph(*nodes)


def _ctl(name: str) -> TensorRef:
    return TensorRef(name, -1)
