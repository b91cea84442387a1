"""``summarize --ops``: the (op, dtype) pairs a graph uses with the CPU kernel TensorFlow runs for
each (the mobile guide's op list, from the same lookup as ``ops-header``), and with a target,
which of them that runtime lacks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from graphrewrite import _tf
from graphrewrite.opsheader import kernel_of


@attrs.frozen
class OpUse:
    """One (op, dtype) pair of a graph: its kernel class (None: no CPU kernel), node count, and
    whether the checked target lacks it (None: no target asked)."""

    op: str
    dtype: str
    kernel: str | None
    count: int
    missing: bool | None = None


def op_uses(graph_def: Any) -> list[OpUse]:
    """Every (op, dtype) pair of *graph_def* (functions included), sorted, with kernel and count."""
    nodes: Iterable[Any] = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    counts: Counter[tuple[str, str]] = Counter()
    kernels: dict[tuple[str, str], str | None] = {}
    for node in nodes:
        key = (node.op, _dtype(node))
        counts[key] += 1
        if key not in kernels:
            found = kernel_of(node)
            kernels[key] = found[1] if found else None
    return [OpUse(op, dtype, kernels[(op, dtype)], counts[(op, dtype)]) for op, dtype in sorted(counts)]


def with_target(uses: Sequence[OpUse], graph_def: Any, target: Any) -> list[OpUse]:
    """*uses* with ``missing`` set: whether *target* (a checks.Target) rejects that op."""
    from graphrewrite.targets.checks import check

    rejected = {finding.op for finding in check(graph_def, target).findings}
    return [attrs.evolve(use, missing=use.op in rejected) for use in uses]


def _dtype(node: Any) -> str:
    names = _tf.pb().types.DataType
    types = sorted({names.Name(value.type)[3:].lower() for value in node.attr.values() if value.WhichOneof("value") == "type"})
    return ",".join(types) or "-"


def render(uses: Sequence[OpUse], target: str | None = None) -> str:
    """The pairs as an aligned text table; a last column marks what *target* lacks."""
    rows = [("op", "dtype", "kernel", "nodes", *((f"{target} lacks",) if target else ()))]
    for use in uses:
        mark = ("yes" if use.missing else "",) if target else ()
        rows.append((use.op, use.dtype, use.kernel or "(no CPU kernel)", str(use.count), *mark))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    if target:
        lacking = sorted({use.op for use in uses if use.missing})
        lines.append(f"{target} lacks {len(lacking)} op(s)" + (f": {', '.join(lacking)}" if lacking else ""))
    return "\n".join(lines)


def as_json(uses: Sequence[OpUse]) -> list[dict[str, Any]]:
    """The pairs as JSON-ready dicts."""
    return [attrs.asdict(use) for use in uses]
