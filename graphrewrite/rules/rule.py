"""What a rule is: pattern rules, whole-graph passes, groups, and the RuleSet that names them.

Three kinds of transform can be named in a script:

- :class:`Rule`: a pattern, a guard returning a reason (or None), and a builder returning a
  :class:`~graphrewrite.engine.rewrite.Rewrite`; run alone to a fixed point.
- :class:`Group`: several rules run together to one fixed point (``fold_batch_norms``).
- :class:`Pass`: a function over the whole graph, for transforms that are not pattern-shaped
  (``strip_unused_nodes``, ``sort_by_execution_order``).

All are frozen values; users build them (or write them in the rule language), never subclass.
Each carries its :class:`~graphrewrite.rules.facts.Facts` (lossy tolerance, property-test hints).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from graphrewrite.engine.driver import MAX_ITERATIONS, Context, FireEvent, saturate
from graphrewrite.engine.errors import NameNotFoundError, SaturationError, Span, UsageError, suggest
from graphrewrite.engine.feeds import FEED_MODES, OPAQUE
from graphrewrite.engine.graph import Graph
from graphrewrite.engine.pattern import Match, Pattern
from graphrewrite.engine.report import RuleStats
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.rules.facts import LOSSLESS, Facts
from graphrewrite.rules.params import Param

Guard = Callable[[Match, Graph, Context], str | None]
Builder = Callable[[Match, Graph, Context], Rewrite | str]


@attrs.frozen
class Rule:
    """A pattern rule: ``pattern``, a ``guard`` giving a reason to refuse, a ``builder``."""

    name: str
    doc: str
    pattern: Pattern
    builder: Builder = attrs.field(eq=False)
    guard: Guard | None = attrs.field(default=None, eq=False)
    params: tuple[Param, ...] = ()
    source: Span | None = attrs.field(default=None, eq=False)
    facts: Facts = LOSSLESS

    def check(self, match: Match, graph: Graph, ctx: Context) -> str | None:
        return self.guard(match, graph, ctx) if self.guard is not None else None

    def build(self, match: Match, graph: Graph, ctx: Context) -> Rewrite | str:
        return self.builder(match, graph, ctx)

    feeds = OPAQUE  # a pattern rule sees fed nodes as Placeholders (engine.feeds)

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        return saturate(graph, [self], ctx)


@attrs.frozen
class Group:
    """Rules that run together to one fixed point under one name."""

    name: str
    doc: str
    rules: tuple[Rule, ...]
    params: tuple[Param, ...] = ()
    facts: Facts = LOSSLESS

    feeds = OPAQUE

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        return saturate(graph, self.rules, ctx)


@attrs.frozen
class Pass:
    """A whole-graph transform: ``run(graph, ctx) -> graph``.

    ``feeds`` says how it treats fed nodes (engine.feeds): ``opaque`` unless the pass changes
    no node's value (``visible``) or cuts the graph at its feeds itself (``cut``).
    """

    name: str
    doc: str
    run: Callable[[Graph, Context], Graph] = attrs.field(eq=False)
    params: tuple[Param, ...] = ()
    feeds: str = attrs.field(default=OPAQUE, validator=attrs.validators.in_(FEED_MODES))
    facts: Facts = LOSSLESS

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        """Run the pass; its report counts the nodes it changed, added or removed (from the
        graph's replace() log), and ``--trace`` gets one event per such node."""
        start = time.perf_counter()
        result = self.run(graph, ctx)
        seconds = time.perf_counter() - start
        touched = result.changes_since(graph)  # derived by replace(): the log says what changed
        if touched is None:  # built afresh: compare node by node
            touched = {n.name for n in result if graph.get(n.name) is not n} | {n.name for n in graph if n.name not in result}
        if ctx.trace is not None:
            for name in sorted(touched):
                ctx.trace(_pass_event(self.name, name, graph, result))
        return result, (RuleStats(self.name, tried=1, matched=1, applied=len(touched), seconds=seconds),)


def _pass_event(step: str, name: str, before: Graph, after: Graph) -> FireEvent:
    """What a pass did to node *name*, as a trace event (iteration 0: a pass has no rounds)."""
    added = (name,) if name in after else ()
    removed = (name,) if name in before and name not in after else ()
    return FireEvent(0, step, name, (name,) if name in before else (), added, removed)


@attrs.frozen
class Run:
    """One step of a :class:`Schedule`: a rule or group run to its fixed point, or *once*."""

    transform: Rule | Group | Schedule
    once: bool = False

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        if isinstance(self.transform, Schedule):
            return self.transform.apply(graph, ctx)
        rules = [self.transform] if isinstance(self.transform, Rule) else list(self.transform.rules)
        return saturate(graph, rules, ctx, once=self.once)


@attrs.frozen
class Repeat:
    """Steps run in order, again and again, until a whole pass changes nothing."""

    steps: tuple[Run | Repeat, ...]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for step in self.steps for r in (step.rules if isinstance(step, Repeat) else _step_rules(step.transform)))

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        stats: list[RuleStats] = []
        for _ in range(MAX_ITERATIONS):
            applied = 0
            for step in self.steps:
                graph, found = step.apply(graph, ctx)
                stats += found
                applied += sum(s.applied for s in found)
            if not applied:
                return graph, tuple(stats)
        names = ", ".join(sorted({s.rule for s in stats if s.applied}))
        raise SaturationError(f"repeat did not settle after {MAX_ITERATIONS} passes: {names} still firing")


@attrs.frozen
class Schedule:
    """Rules run in a declared order (a rule file's ``schedule``): each step to its fixed
    point, in one round, or repeated until nothing changes."""

    name: str
    doc: str
    steps: tuple[Run | Repeat, ...]
    params: tuple[Param, ...] = ()
    facts: Facts = LOSSLESS
    feeds = OPAQUE

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        stats: list[RuleStats] = []
        for step in self.steps:
            graph, found = step.apply(graph, ctx)
            stats += found
        return graph, _merged(stats)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The pattern rules its steps run, each once, in order (as a group's ``rules``)."""
        found: dict[str, Rule] = {}
        for step in self.steps:
            members = step.rules if isinstance(step, Repeat) else _step_rules(step.transform)
            found.update((r.name, r) for r in members)
        return tuple(found.values())


def _step_rules(transform: Rule | Group | Schedule) -> tuple[Rule, ...]:
    return (transform,) if isinstance(transform, Rule) else tuple(transform.rules)


def _merged(stats: list[RuleStats]) -> tuple[RuleStats, ...]:
    """One RuleStats per rule: a rule run by several steps adds up."""
    by_rule: dict[str, RuleStats] = {}
    for s in stats:
        old = by_rule.get(s.rule)
        by_rule[s.rule] = s if old is None else RuleStats(
            s.rule, old.tried + s.tried, old.matched + s.matched, old.applied + s.applied,
            dict(Counter(old.rejected) + Counter(s.rejected)), old.seconds + s.seconds,
        )  # fmt: skip
    return tuple(by_rule.values())


Transform = Rule | Group | Pass | Schedule


@attrs.frozen
class Step:
    """A transform with its arguments, as one step of a pipeline."""

    transform: Transform
    args: Mapping[str, Any] = attrs.field(factory=dict)
    ignore_errors: bool = False
    span: Span | None = attrs.field(default=None, eq=False)

    @property
    def name(self) -> str:
        return self.transform.name

    @property
    def feeds(self) -> str:
        return self.transform.feeds

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
        return self.transform.apply(graph, ctx.with_args(self.args))


@attrs.frozen
class RuleSet:
    """An ordered collection of transforms by name; adding a name twice is an error."""

    entries: tuple[Transform, ...] = ()
    # The name index; a declared field because frozen attrs classes have slots.
    _by_name: dict[str, Transform] = attrs.field(init=False, repr=False, eq=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        seen: dict[str, Transform] = {}
        for entry in self.entries:
            if entry.name in seen:
                raise UsageError(f"two rules are named '{entry.name}'")
            seen[entry.name] = entry
        object.__setattr__(self, "_by_name", seen)

    @classmethod
    def of(cls, *entries: Transform) -> RuleSet:
        return cls(tuple(entries))

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)

    def get(self, name: str) -> Transform | None:
        return self._by_name.get(name)  # type: ignore[attr-defined,no-any-return]

    def lookup(self, name: str) -> Transform:
        found = self.get(name)
        if found is None:
            hint = suggest(name, self.names)
            raise NameNotFoundError(f"unknown transform '{name}'" + (f"; {hint}" if hint else ""))
        return found

    def plus(self, entries: Iterable[Transform]) -> RuleSet:
        return RuleSet(self.entries + tuple(entries))
