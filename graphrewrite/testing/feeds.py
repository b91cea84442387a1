"""Feeding generated graphs where users feed: constants and interior nodes, not only Placeholders.

A rewrite that is right only while a graph's inputs are its Placeholders is wrong for the user
who feeds Inception at its ``Mul`` (the mobile guide does). :func:`draw_interior_feeds` draws, for
a generated case, up to two more feed points among its Consts and interior nodes (floating-point
tensors of single-output nodes) and feeds them values other than their current ones; the checks
then transform with those names as inputs and run both graphs with the same feeds.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from hypothesis import strategies as st

from graphrewrite.engine.errors import GraphRewriteError
from graphrewrite.engine.opdefs import PLACEHOLDER_OPS, output_dtypes
from graphrewrite.testing.build import GraphCase

# Scaling by a positive factor keeps every value in its op's domain (signs are kept, so Sqrt,
# Log and Rsqrt inputs stay valid) while changing every non-zero value.
FACTORS = (0.5, 1.5, 3.0)


def feed_candidates(case: GraphCase, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Nodes a user could feed besides the Placeholders: float Consts and interior nodes."""
    graph = case.graph()
    outputs = {*case.outputs, *exclude}
    found = []
    for node in graph:
        if node.op in PLACEHOLDER_OPS or node.name in outputs:
            continue
        dtypes = [node.get("dtype")] if node.op == "Const" else output_dtypes(node)
        if dtypes and len(dtypes) == 1 and dtypes[0] is not None and np.issubdtype(dtypes[0].numpy, np.floating):
            found.append(node.name)
    return found


def draw_interior_feeds(data: Any, case: GraphCase, *, exclude: frozenset[str] = frozenset()) -> GraphCase:
    """*case* with up to two Consts or interior nodes (not in *exclude*) added to its inputs
    and feeds."""
    from graphrewrite.runner import run_graph

    candidates = feed_candidates(case, exclude)
    if not candidates:
        return case
    chosen = data.draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True), label="interior feeds")
    if not chosen:
        return case
    factor = data.draw(st.sampled_from(FACTORS), label="feed scale")
    try:
        current = run_graph(case.graph_def, case.feeds, chosen)
    except GraphRewriteError:  # a node on a branch not taken has no value to start from
        return case
    fed = {name: (np.asarray(value) * factor).astype(value.dtype) for name, value in zip(chosen, current, strict=True)}
    return attrs.evolve(case, inputs=(*case.inputs, *chosen), feeds={**case.feeds, **fed}, fed=tuple(chosen))
