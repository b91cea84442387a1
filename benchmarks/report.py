"""The results table (Markdown, so it pastes into README.md) and the target checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from benchmarks.anchors import ANCHORS

# A result whose outputs differ by more than this, relative to the largest output magnitude,
# is flagged as a mismatch. Folding in float32 reorders rounding, so exact equality is not
# expected; 1e-3 is loose enough for 10,000 folded blocks and tight enough to catch a bug.
MISMATCH_REL = 1e-3
CELL_WIDTH = 48


@attrs.frozen
class Measurement:
    """One tool run on one input, as the worker reported it."""

    graph: str
    nodes_before: int
    file_bytes: int
    tool: str
    result: dict[str, Any]
    blocks: int = 0  # chain inputs only

    @property
    def ok(self) -> bool:
        """Ran, and its outputs match the original within MISMATCH_REL."""
        r = self.result
        return "error" not in r and "check_error" not in r and r.get("max_rel_err", 1.0) <= MISMATCH_REL

    @property
    def seconds(self) -> float | None:
        return self.result.get("seconds") if "error" not in self.result else None

    @property
    def nodes_after(self) -> int | None:
        return self.result.get("nodes_after") if "error" not in self.result else None


@attrs.frozen
class CliTiming:
    """Median wall time of one CLI command over several runs, or why it failed."""

    command: str
    seconds: float | None
    error: str = ""


def _short(text: str, width: int = CELL_WIDTH) -> str:
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _ratio(m: Measurement, anchor: str, rows: Sequence[Measurement]) -> str:
    if m.tool == anchor:
        return "—"
    other = next((r for r in rows if r.graph == m.graph and r.tool == anchor), None)
    if m.seconds is None or other is None or not other.seconds:
        return ""
    return f"{m.seconds / other.seconds:.2f}×"


def _error_cell(m: Measurement) -> str:
    r = m.result
    if "check_error" in r:
        return _short("failed: " + r["check_error"])
    if "max_abs_err" not in r:
        return ""
    text = f"{r['max_abs_err']:.1e}"
    return text if m.ok else f"MISMATCH {text} (rel {r['max_rel_err']:.1e})"


def table(rows: Sequence[Measurement], anchors: Iterable[str] = ANCHORS) -> str:
    """A Markdown table: one line per (graph, tool)."""
    anchors = [a for a in anchors if any(r.tool == a for r in rows)]
    head = ["graph", "nodes", "tool", "nodes after", "seconds", "cpu s", "1st run s", *(f"×{a}" for a in anchors), "peak MiB", "max abs err"]
    lines = [_row(head), _row(["---"] * len(head))]
    for m in rows:
        if "error" in m.result:
            cells = [m.graph, f"{m.nodes_before:,}", m.tool, _short("failed: " + m.result["error"])]
            cells += [""] * (len(head) - len(cells))
        else:
            peak = m.result.get("peak_bytes", -1)
            cells = [
                m.graph,
                f"{m.nodes_before:,}",
                m.tool,
                f"{m.nodes_after:,}",
                f"{m.seconds:.3f}",
                f"{m.result['cpu_seconds']:.3f}" if "cpu_seconds" in m.result else "",
                f"{m.result['first_seconds']:.3f}" if "first_seconds" in m.result else "",
                *(_ratio(m, a, rows) for a in anchors),
                f"{peak / 2**20:.1f}" if peak >= 0 else "n/a",
                _error_cell(m),
            ]
        lines.append(_row(cells))
    return "\n".join(lines)


def cli_table(timings: Sequence[CliTiming]) -> str:
    lines = [_row(["command", "median seconds (5 runs)"]), _row(["---", "---"])]
    for t in timings:
        cell = f"{t.seconds:.3f}" if t.seconds is not None else _short("failed: " + t.error, 80)
        lines.append(_row([f"`{t.command}`", cell]))
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def failures(rows: Sequence[Measurement]) -> list[str]:
    """Full failure reasons, for the lines under the table (cells are truncated)."""
    out = []
    for m in rows:
        reason = m.result.get("error") or m.result.get("check_error")
        if reason:
            out.append(f"- {m.graph} / {m.tool}: {reason}")
    return out
