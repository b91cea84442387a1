"""Run reports: per rule (tried, matched, applied, rejected with reasons, time) and per step."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs


@attrs.frozen
class RuleStats:
    """What one rule did during one step."""

    rule: str
    tried: int = 0
    matched: int = 0
    applied: int = 0
    rejected: Mapping[str, int] = attrs.field(factory=dict)
    seconds: float = 0.0


@attrs.define
class RuleCounter:
    """Mutable tally used while a step runs; frozen into :class:`RuleStats` at the end."""

    rule: str
    tried: int = 0
    matched: int = 0
    applied: int = 0
    rejected: Counter[str] = attrs.field(factory=Counter)
    seconds: float = 0.0

    def freeze(self) -> RuleStats:
        return RuleStats(
            self.rule, self.tried, self.matched, self.applied, dict(sorted(self.rejected.items())), self.seconds
        )


@attrs.frozen
class StepReport:
    """One pipeline step: node counts before and after, time, rules, an ignored error."""

    step: str
    nodes_before: int
    nodes_after: int
    seconds: float
    rules: tuple[RuleStats, ...] = ()
    ignored_error: str | None = None
    # (nodes after, rewrites) per round of the step's fixed points; a last round with no
    # rewrites is the one that found the fixed point. Empty for a whole-graph pass.
    rounds: tuple[tuple[int, int], ...] = ()

    @property
    def applied(self) -> int:
        return sum(r.applied for r in self.rules)

    @property
    def stopped(self) -> str:
        """Why the step ended: ``fixed point after 3 rounds``, ``one pass``, ``error ignored: ...``."""
        if self.ignored_error is not None:
            return f"error ignored: {self.ignored_error}"
        if not self.rounds:
            return "one pass"
        changing = sum(1 for _, rewrites in self.rounds if rewrites)
        return f"fixed point after {changing} round{'s' if changing != 1 else ''}"

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.step, "nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
            "seconds": round(self.seconds, 6), "stopped": self.stopped,
            "rounds": [{"nodes": n, "rewrites": r} for n, r in self.rounds],
            "rules": [attrs.asdict(r) for r in self.rules],
        }  # fmt: skip


@attrs.frozen
class Report:
    """A whole pipeline run."""

    steps: tuple[StepReport, ...] = ()

    @property
    def nodes_before(self) -> int:
        return self.steps[0].nodes_before if self.steps else 0

    @property
    def nodes_after(self) -> int:
        return self.steps[-1].nodes_after if self.steps else 0

    def table(self) -> str:
        """A plain-text summary: one row per step."""
        rows = [("step", "nodes before", "nodes after", "applied", "seconds")]
        for s in self.steps:
            name = s.step + (" (error ignored)" if s.ignored_error else "")
            rows.append((name, str(s.nodes_before), str(s.nodes_after), str(s.applied), f"{s.seconds:.3f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = []
        for row in rows:
            lines.append(
                "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False)))
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """The whole report as JSON-ready data (``transform --profile=FILE.json``)."""
        return {"nodes_before": self.nodes_before, "nodes_after": self.nodes_after, "steps": [s.to_dict() for s in self.steps]}

    def profile(self) -> str:
        """Per step: nodes, why it stopped, a plot of nodes per round; per rule that ran: tried,
        matched, rewrites, rejected, time. What ``transform --profile`` prints."""
        width = max((len(r.rule) for s in self.steps for r in s.rules if r.tried), default=0)
        lines = []
        for s in self.steps:
            counts = [s.nodes_before, *(n for n, _ in s.rounds)]
            plot = f"  {sparkline(counts)}" if any(r for _, r in s.rounds) else ""
            lines.append(f"{s.step}: {s.nodes_before:,} -> {s.nodes_after:,} nodes in {s.seconds:.3f}s, {s.stopped}{plot}")
            ran = [r for r in s.rules if r.tried]
            for r in sorted(ran, key=lambda r: (-r.seconds, r.rule)):
                lines.append(
                    f"  {r.rule:<{width}}  tried {r.tried:>8,}  matched {r.matched:>7,}  rewrites {r.applied:>7,}"
                    f"  rejected {sum(r.rejected.values()):>6,}  {r.seconds * 1000:8.1f} ms"
                )
            if len(ran) < len(s.rules):
                lines.append(f"  ({len(s.rules) - len(ran)} rules had no candidate node)")
        return "\n".join(lines)


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """Node counts as one line of bars, lowest to highest (a plot that fits a terminal)."""
    low, high = min(values), max(values)
    span = high - low or 1
    return "".join(BARS[(v - low) * (len(BARS) - 1) // span] for v in values)
