"""Schedules compiled: their steps resolved against a rule file's rules and groups, their
parameters gathered from their members, and their facts combined (a schedule is as lossy as
its loosest member; its members' tested arguments are its own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphrewrite.engine.errors import Diagnostic, suggest
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules.facts import Checked, Facts, Tolerance
from graphrewrite.rules.rule import Group, Repeat, Rule, Run, Schedule


def compile_schedules(
    schedules: tuple[A.ScheduleDef, ...], runnable: Mapping[str, Rule | Group], defined: Mapping[str, Any],
    diagnostics: list[Diagnostic],
) -> dict[str, Schedule]:
    """Schedules in file order; a step names a rule, group or earlier schedule of the file."""
    out: dict[str, Schedule] = {}

    def steps(items: tuple[A.ScheduleStep, ...], owner: str) -> tuple[Run | Repeat, ...]:
        found: list[Run | Repeat] = []
        for item in items:
            if isinstance(item, A.RepeatStep):
                found.append(Repeat(steps(item.steps, owner)))
                continue
            target = runnable.get(item.name) or out.get(item.name)
            if target is None:
                what = "itself" if item.name == owner else f"'{item.name}', which is not a rule, group or earlier schedule"
                hint = None if item.name == owner else suggest(item.name, [*runnable, *out])
                diagnostics.append(Diagnostic(item.span, f"schedule '{owner}' names {what}", hint))
            elif item.once and isinstance(target, Schedule):
                diagnostics.append(Diagnostic(item.span, f"'once' runs a rule or group; '{item.name}' is a schedule"))
            else:
                found.append(Run(target, item.once))
        return tuple(found)

    for schedule in schedules:
        made = steps(schedule.steps, schedule.name)
        members = [s.transform for s in _runs(made)]
        params = tuple({p.name: p for m in members for p in getattr(m, "params", ())}.values())
        doc = schedule.doc or "schedule: " + " ".join(m.name for m in members)
        out[schedule.name] = Schedule(schedule.name, doc, made, params, _combined_facts(members))
    return out


def _combined_facts(members: list[Any]) -> Facts:
    """A schedule drifts as far as its loosest member: lossy when any member is, with each
    tolerance the largest the members allow for the step's arguments."""
    args = {k: v for m in members for k, v in m.facts.checked.args.items()}
    checked = Checked(args=args)  # the property tests run the members' tested arguments
    lossy = [m.facts for m in members if m.facts.lossy is not None]
    if not lossy:
        return Facts(checked=checked)

    def scaled(args: Mapping[str, Any], _: Tolerance) -> Tolerance:
        found = [f.tolerance(args) for f in lossy]
        return max(t[0] for t in found if t), max(t[1] for t in found if t)

    base = (max(f.lossy[0] for f in lossy if f.lossy), max(f.lossy[1] for f in lossy if f.lossy))
    return Facts(lossy=base, scaled=scaled, checked=checked)


def _runs(steps: tuple[Run | Repeat, ...]) -> list[Run]:
    found: list[Run] = []
    for step in steps:
        found += _runs(step.steps) if isinstance(step, Repeat) else [step]
    return found
