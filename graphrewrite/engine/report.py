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

    @property
    def applied(self) -> int:
        return sum(r.applied for r in self.rules)


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
