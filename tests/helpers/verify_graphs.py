"""Two graphs computing the same function, for the verify tests: y = (x @ w) * s, and the same
with s folded into w (x is [?, 3] float32)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.graph import Graph, Node
from tests.helpers.rule_graphs import F32, const, placeholder


def _weights(scale: tuple[float, ...] = (1.0, 1.0)) -> Node:
    return const("w", np.arange(6, dtype=np.float32).reshape(3, 2) / 5 * np.asarray(scale, np.float32))


def matmul_mul(scale: tuple[float, ...] = (2.0, 3.0), shape: tuple[int | None, ...] = (None, 3)) -> Any:
    """The GraphDef of y = (x @ w) * s, with x of *shape*."""
    return Graph.from_nodes([
        placeholder("x", shape),
        _weights(),
        Node.make("mm", "MatMul", ["x", "w"], {"T": F32}),
        const("s", scale),
        Node.make("y", "Mul", ["mm", "s"], {"T": F32}),
    ]).to_graphdef()  # fmt: skip


def folded(scale: tuple[float, ...] = (2.0, 3.0)) -> Any:
    """The GraphDef of matmul_mul's function with the scale folded into the weights."""
    return Graph.from_nodes([
        placeholder("x", (None, 3)),
        _weights(scale),
        Node.make("y", "MatMul", ["x", "w"], {"T": F32}),
    ]).to_graphdef()  # fmt: skip
