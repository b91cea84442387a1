"""Subgraphs a runtime's importer fuses before it looks at ops one by one.

OpenCV's TensorFlow importer, for one, rewrites the batch norm Keras lowers to
``x * (rsqrt(var + eps) * gamma) + (beta - mean * ...)`` into one layer, so an ``Rsqrt`` inside
that shape loads although ``Rsqrt`` alone does not. A target's data file lists such shapes as
rule-language patterns (``[[fused]]``, each binding the fused layer's input as ``x``); the
nodes a match covers are exempt from the op check. Matching runs on the graph as the importer
sees it: without the ops it drops first (``drops``, e.g. ``Identity``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from graphrewrite.engine.errors import LanguageError, UsageError


@attrs.frozen
class Fused:
    """One subgraph shape a runtime fuses: its name and its rule-language pattern."""

    name: str
    pattern: str


def covered_nodes(graph_def: Any, fused: Sequence[Fused], drops: Iterable[str] = ()) -> frozenset[str]:
    """The nodes of *graph_def* inside a match of one of the *fused* shapes."""
    if not fused:
        return frozenset()
    from graphrewrite.engine.graph import Graph
    from graphrewrite.engine.matcher import match_at

    graph = _without(Graph.from_graphdef(graph_def), frozenset(drops))
    patterns = [_pattern(f.name, f.pattern) for f in fused]
    covered: set[str] = set()
    for node in graph:
        for pattern in patterns:
            match = match_at(graph, pattern, node.name)
            if match is not None:
                covered.update(match.nodes)
    return frozenset(covered)


def _without(graph: Any, ops: frozenset[str]) -> Any:
    """*graph* with every node of *ops* bypassed (its consumers read its first input)."""
    if not ops:
        return graph
    from graphrewrite.engine.bypass import Bypass, bypass

    plans = {
        n.name: Bypass({0: n.data_inputs[0]}, (n.data_inputs[0],))
        for n in graph if n.op in ops and len(n.data_inputs) == 1
    }  # fmt: skip
    return bypass(graph, plans)


@functools.cache
def _pattern(name: str, text: str) -> Any:
    from graphrewrite.rules.loader import load_rules_text

    try:
        (rule,) = load_rules_text(f'rule fused "{name}" {{ match {text} rewrite x }}', source=f"fused {name}", validate=False)
    except LanguageError as exc:
        raise UsageError(f"target data: fused pattern {name!r} does not compile: {exc}") from None
    return rule.pattern
