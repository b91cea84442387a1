"""freeze_requantization_ranges: RequantizationRange ops replaced by ranges read from a log.

The calibration flow (GTT's README): ``quantize_nodes``, then ``insert_logging(
op=RequantizationRange, show_name=true, message="__requant_min_max:")``, run the logged graph
over representative inputs with stderr saved to a file, then run this transform on the
``quantize_nodes`` output with ``min_max_log_file=<that file>``. Each RequantizationRange ``r``
becomes Consts ``r/frozen_min`` and ``r/frozen_max`` holding a percentile of the logged mins
and maxes, so the graph no longer measures every activation at run time.

Log lines are parsed as GTT parses them (``freeze_requantization_ranges.cc``): a line counts
only when it contains ``__print__;__requant_min_max:``; malformed lines are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, RuleError, UsageError, suggest
from graphrewrite.engine.graph import Graph, TensorRef
from graphrewrite.engine.rewrite import Rewrite, apply_batch
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules.weight_tensors import const_node, round_half_away

PRINT_SUFFIX = "__print__"
PREFIX = "__requant_min_max:"


@attrs.frozen
class RangeRecord:
    """One logged range: the RequantizationRange node and the min and max it printed."""

    name: str
    min: float
    max: float


def _number(text: str) -> float | None:
    if "_" in text:  # Python's float() takes 1_000; TensorFlow's safe_strtof does not
        return None
    try:
        return float(np.float32(float(text)))
    except ValueError:
        return None


def parse_line(line: str) -> RangeRecord | None:
    """The record in one log line, or None when the line is not a well-formed range log."""
    if PRINT_SUFFIX + ";" + PREFIX not in line:
        return None
    parts = line.split(";")
    found = [i for i in range(1, len(parts)) if parts[i].startswith(PREFIX)]
    if not found:
        return None
    index = found[-1]
    pieces = parts[index].split("[")
    if len(pieces) != 3 or pieces[0] != PREFIX:
        return None
    values = []
    for piece in pieces[1:]:
        halves = piece.split("]")
        number = _number(halves[0]) if len(halves) == 2 else None
        if number is None:
            return None
        values.append(number)
    name = parts[index - 1]
    if not name.endswith(PRINT_SUFFIX):
        return None
    return RangeRecord(name[: -len(PRINT_SUFFIX)], values[0], values[1])


def read_records(text: str) -> list[RangeRecord]:
    return [r for r in (parse_line(line) for line in text.split("\n")) if r is not None]


def percentile_range(mins: Iterable[float], maxs: Iterable[float], min_pct: float, max_pct: float) -> tuple[float, float]:
    """GTT's pick: sorted mins at round(n*min_pct/100), sorted maxes at round(n*(1-max_pct/100)),
    in float arithmetic; indices clamped into the list (GTT clamps one side each)."""
    lows, highs = sorted(mins), sorted(maxs)
    n = np.float32(len(lows))
    low = int(round_half_away(n * (np.float32(min_pct) / np.float32(100))))
    high = int(round_half_away(n * (np.float32(1) - np.float32(max_pct) / np.float32(100))))
    clamp = lambda i: min(max(i, 0), len(lows) - 1)  # noqa: E731
    return lows[clamp(low)], highs[clamp(high)]


def _load(path: str) -> list[RangeRecord]:
    if not path:
        raise UsageError("freeze_requantization_ranges: pass the log file as min_max_log_file=<path>")
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        raise GraphFileError(f"cannot read min_max_log_file '{path}': {exc.strerror or exc}") from None
    records = read_records(text)
    if not records:
        raise RuleError(f"no min/max range logs were found in '{path}' (lines with '{PRINT_SUFFIX};{PREFIX}')")
    return records


def _ranges(graph: Graph, records: list[RangeRecord], min_pct: float, max_pct: float) -> dict[str, tuple[float, float]]:
    by_node: dict[str, list[RangeRecord]] = {}
    for record in records:
        by_node.setdefault(record.name, []).append(record)
    missing = sorted(name for name in by_node if name not in graph)
    if missing:
        hint = suggest(missing[0], graph.nodes_of_op("RequantizationRange"))
        raise NameNotFoundError(
            f"the log names nodes that are not in the graph: {', '.join(missing[:5])}" + (f"; {hint}" if hint else "")
        )
    for name in by_node:
        if graph.node(name).op != "RequantizationRange":
            raise RuleError(f"node '{name}' in the log is a {graph.node(name).op}, expected RequantizationRange")
    return {
        name: percentile_range((r.min for r in rs), (r.max for r in rs), min_pct, max_pct)
        for name, rs in by_node.items()
    }


def freeze_requantization_ranges(graph: Graph, ctx: Any) -> Graph:
    """Replace each logged RequantizationRange by two Consts."""
    records = _load(str(ctx.args.get("min_max_log_file") or ""))
    ranges = _ranges(graph, records, float(ctx.args.get("min_percentile", 5.0)),
                     float(ctx.args.get("max_percentile", 5.0)))
    batch = []
    for name, (low, high) in ranges.items():
        device = graph.node(name).device
        lo = const_node(graph.unique_name(f"{name}/frozen_min"), np.float32(low), device=device)
        hi = const_node(graph.unique_name(f"{name}/frozen_max"), np.float32(high), device=device)
        redirect = ((TensorRef(name, 0), TensorRef(lo.name, 0)), (TensorRef(name, 1), TensorRef(hi.name, 0)))
        batch.append(Rewrite("freeze_requantization_ranges", name, remove=frozenset({name}), add=(lo, hi),
                             redirect=redirect))
    return apply_batch(graph, batch, ctx.protected).graph


FREEZE_REQUANTIZATION_RANGES = Pass(
    "freeze_requantization_ranges",
    "RequantizationRange(q) -> Const(logged min), Const(logged max); needs a calibration log",
    freeze_requantization_ranges,
    (
        Param("min_max_log_file", Kind.STRING, required=True, doc="stderr of a run with insert_logging's Prints"),
        Param("min_percentile", Kind.FLOAT, 5.0, doc="percentile of the logged mins to keep"),
        Param("max_percentile", Kind.FLOAT, 5.0, doc="percentile (from the top) of the logged maxes to keep"),
    ),
    facts=Facts(lossy=(2e-1, 1e-1), checked=Checked(cases="requantized", promise=("no_op", "RequantizationRange"))),  # percentile ranges clip outliers
)
