"""Bounded rewriting: how far one fixed point may go before the driver calls it a runaway."""

from __future__ import annotations

import attrs

from graphrewrite.engine.errors import SaturationError
from graphrewrite.engine.graph import Graph


@attrs.frozen
class Bound:
    """How far one fixed point may go before the driver calls it a runaway.

    Bounds scale with the graph: a rule set that does not converge is stopped within a few
    iterations of outgrowing its graph (``Neg(x) -> Neg(Neg(x))`` doubles it every round), and
    the standard rules, which shrink graphs or grow them by a constant per rewrite, never come
    near. Every bound counts, none is a clock: the same input stops at the same place.
    """

    start_nodes: int
    max_iterations: int
    max_nodes: int
    max_rewrites: int

    GROWTH = 8  # a fixed point may grow its graph up to 8x (+ MIN_SLACK nodes)
    REWRITES_PER_NODE = 16
    MIN_SLACK = 1000

    @classmethod
    def for_graph(cls, graph: Graph, max_iterations: int) -> Bound:
        n = len(graph)
        return cls(n, max_iterations, cls.GROWTH * n + cls.MIN_SLACK, cls.REWRITES_PER_NODE * n + 10 * cls.MIN_SLACK)

    def check(self, iterations: int, rewrites: int, nodes: int, firing: set[str]) -> None:
        if nodes > self.max_nodes or rewrites > self.max_rewrites:
            raise self.error(iterations, rewrites, nodes, firing)

    def error(self, iterations: int, rewrites: int, nodes: int, firing: set[str]) -> SaturationError:
        limit = (
            f"the graph outgrew its bound of {self.max_nodes:,} nodes" if nodes > self.max_nodes
            else f"over the bound of {self.max_rewrites:,} rewrites" if rewrites > self.max_rewrites
            else f"at the bound of {self.max_iterations} iterations"
        )  # fmt: skip
        return SaturationError(
            f"rules do not converge ({limit}): {', '.join(sorted(firing))} still firing "
            f"after {iterations} iterations and {rewrites:,} rewrites (nodes {self.start_nodes:,} -> {nodes:,})"
        )
