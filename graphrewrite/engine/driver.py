"""The driver: runs pattern rules to a fixed point, and pipelines of steps in order.

``saturate`` works over a worklist seeded from the op index. Each iteration matches against
one graph version, drops overlapping matches (the first in graph order wins; the rest are
revisited), applies the batch, and revisits only the neighbourhood that changed. An iteration
guard stops rule sets that never settle and names the rules still firing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from graphrewrite.engine.bounds import Bound
from graphrewrite.engine.collector import collector_paused
from graphrewrite.engine.errors import GraphRewriteError
from graphrewrite.engine.feeds import OPAQUE, cut_feeds, restore_feeds
from graphrewrite.engine.graph import Graph, node_name
from graphrewrite.engine.matcher import match_at, matches_at, searches
from graphrewrite.engine.pattern import Match, Pattern, depth, root_ops
from graphrewrite.engine.report import Report, RuleCounter, RuleStats, StepReport
from graphrewrite.engine.rewrite import Rewrite, apply_batch

MAX_ITERATIONS = 100


@attrs.frozen
class FireEvent:
    """One rule application, for ``--trace``."""

    iteration: int
    rule: str
    root: str
    matched: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]


@attrs.frozen
class Context:
    """What every rule sees besides the graph: the graph's inputs and outputs, its arguments."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    args: Mapping[str, Any] = attrs.field(factory=dict)
    trace: Callable[[FireEvent], None] | None = attrs.field(default=None, eq=False)
    # Called after every round of a fixed point with (nodes after it, rewrites in it); a last
    # call with 0 rewrites says the fixed point was reached. The step reports collect it.
    on_round: Callable[[int, int], None] | None = attrs.field(default=None, eq=False)
    # Computed once: rules ask for it on every match.
    _protected: frozenset[str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        names = frozenset(node_name(n) for n in (*self.inputs, *self.outputs) if n)
        object.__setattr__(self, "_protected", names)

    @property
    def protected(self) -> frozenset[str]:
        """Node names of inputs and outputs, in any spelling (``x``, ``x:0``, ``^x``)."""
        return self._protected

    def with_args(self, args: Mapping[str, Any]) -> Context:
        return attrs.evolve(self, args=dict(args))


class PatternRule(Protocol):
    """What the driver needs of a pattern rule (``rules.Rule`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def pattern(self) -> Pattern: ...

    def check(self, match: Match, graph: Graph, ctx: Context) -> str | None: ...

    def build(self, match: Match, graph: Graph, ctx: Context) -> Rewrite | str: ...


def saturate(
    graph: Graph, rules: Sequence[PatternRule], ctx: Context, *, max_iterations: int = MAX_ITERATIONS, once: bool = False
) -> tuple[Graph, tuple[RuleStats, ...]]:
    """Apply *rules* until none matches (or for one round, *once*); returns the graph and
    per-rule statistics."""
    counters = {r.name: RuleCounter(r.name) for r in rules}
    by_op: dict[str | None, list[PatternRule]] = {}
    for rule in rules:
        for op in root_ops(rule.pattern) or (None,):
            by_op.setdefault(op, []).append(rule)
    reach = max((depth(r.pattern) for r in rules), default=1)
    wild = by_op.get(None, [])
    rules_by_op = {op: [*found, *wild] for op, found in by_op.items() if op is not None}
    candidates: set[str] | None = None
    bound = Bound.for_graph(graph, max_iterations)
    rewrites = 0
    for iteration in range(max_iterations):
        roots = _roots(graph, by_op, candidates)
        batch, deferred, fired = _collect(graph, roots, (rules_by_op, wild), counters, ctx)
        if not batch:
            if ctx.on_round is not None:
                ctx.on_round(len(graph), 0)
            return graph, tuple(c.freeze() for c in counters.values())
        result = apply_batch(graph, batch, ctx.protected)
        if ctx.trace is not None:
            for rw in batch:
                ctx.trace(_event(iteration, rw, result.removed))
        candidates = _neighbourhood(result.graph, graph, result.changed | deferred, result.removed, reach)
        graph = result.graph
        rewrites += len(batch)
        if ctx.on_round is not None:
            ctx.on_round(len(graph), len(batch))
        if once:
            return graph, tuple(c.freeze() for c in counters.values())
        bound.check(iteration + 1, rewrites, len(graph), fired)
    raise bound.error(max_iterations, rewrites, len(graph), fired)


def _roots(graph: Graph, by_op: Mapping[str | None, list[PatternRule]], candidates: set[str] | None) -> list[str]:
    if candidates is None:
        if None in by_op:
            return list(graph.names)
        found = {n for op in by_op for n in graph.nodes_of_op(op or "")}
    else:
        found = {n for n in candidates if n in graph}
    if len(found) == len(graph):
        return list(graph.names)
    # Graph order decides which of two overlapping matches wins. One pass of set lookups over
    # the names is cheaper than building a position map to sort by.
    return [n for n in graph.names if n in found]


def _collect(graph, roots, rules, counters, ctx):  # type: ignore[no-untyped-def]
    """The batch of one iteration: the first rule that fires at each root, in *roots* order,
    unless it overlaps the batch so far (then the root is deferred to the next iteration).
    *rules* is (rules by root op, rules for any op)."""
    rules_by_op, wild = rules
    batch: list[Rewrite] = []
    touched: set[str] = set()
    read: set[str] = set()
    deferred: set[str] = set()
    fired: set[str] = set()
    for root in roots:
        node = graph.get(root)
        if node is None:
            continue
        for rule in rules_by_op.get(node.op, wild):
            counter = counters[rule.name]
            start = time.perf_counter()
            try:
                rewrite = _try(rule, graph, root, counter, ctx)
            finally:
                counter.seconds += time.perf_counter() - start
            if rewrite is None:
                continue
            # Overlap checks: isdisjoint iterates over the smaller set, the rewrite's, never the batch's.
            changes = rewrite.touched
            disjoint = touched.isdisjoint(rewrite.matched) and touched.isdisjoint(changes) and read.isdisjoint(changes)
            if root in touched or not disjoint:
                deferred.add(root)
                break
            batch.append(rewrite)
            counter.applied += 1
            fired.add(rule.name)
            touched.update(changes)
            read.update(rewrite.matched)
            read.add(root)
            break
    return batch, deferred, fired


def _try(rule: PatternRule, graph: Graph, root: str, counter: RuleCounter, ctx: Context) -> Rewrite | None:
    """The rewrite of the first match at *root* that passes the rule's conditions. A pattern
    whose ``*lists`` split an input list several ways tries each split in turn; the reason
    recorded for a root where none passes is the first split's."""
    counter.tried += 1
    if searches(rule.pattern):
        candidates: Iterable[Match] = matches_at(graph, rule.pattern, root)
    else:
        match = match_at(graph, rule.pattern, root)
        candidates = () if match is None else (match,)
    first_reason = None
    for match in candidates:
        if first_reason is None:
            counter.matched += 1
        reason = rule.check(match, graph, ctx)
        built = reason if reason else rule.build(match, graph, ctx)
        if not isinstance(built, str):
            return built.with_matched(match.nodes)
        first_reason = first_reason or built
    if first_reason is not None:
        counter.rejected[first_reason] += 1
    return None


def _neighbourhood(graph: Graph, old: Graph, changed: frozenset[str] | set[str], removed: frozenset[str], reach: int) -> set[str]:
    """Nodes whose match could have changed: changed nodes, producers of removed nodes, and
    consumers up to the deepest pattern's reach above them."""
    frontier = set(changed)
    for name in removed:
        node = old.get(name)
        if node is not None:
            frontier.update(ref.node for ref in node.inputs)
    result = set(frontier)
    for _ in range(reach - 1):
        frontier = {c for n in frontier for c in graph.consumers(n)} - result
        if not frontier:
            break
        result |= frontier
    return result


def _event(iteration: int, rw: Rewrite, removed: frozenset[str]) -> FireEvent:
    return FireEvent(
        iteration,
        rw.rule,
        rw.root,
        tuple(sorted(rw.matched)),
        tuple(n.name for n in rw.add),
        tuple(sorted(removed & rw.remove)),
    )


class Step(Protocol):
    """One pipeline step, as the driver sees it."""

    @property
    def name(self) -> str: ...

    @property
    def ignore_errors(self) -> bool: ...

    @property
    def feeds(self) -> str:
        """How the step treats fed nodes: ``opaque``, ``visible`` or ``cut`` (engine.feeds)."""
        ...

    def apply(self, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]: ...


def run_steps(
    graph: Graph,
    steps: Sequence[Step],
    ctx: Context,
    *,
    after_step: Callable[[int, Step, Graph], None] | None = None,
) -> tuple[Graph, Report]:
    """Run *steps* in order. A step that fails stops the run unless it has ``ignore_errors``
    (GTT's meaning: the step then leaves the graph as it was). The result of every step must
    pass ``lint``, whatever ``ignore_errors`` says."""
    with collector_paused():
        return _run_steps(graph, steps, ctx, after_step)


def apply_step(step: Step, graph: Graph, ctx: Context) -> tuple[Graph, tuple[RuleStats, ...]]:
    """Apply one step with the graph's feed points opaque to it (see ``engine.feeds``).

    Every way of running a step (pipelines, ``check-rules``, the property tests) comes here.
    """
    mode = getattr(step, "feeds", OPAQUE)
    if mode != OPAQUE or not ctx.inputs:
        return step.apply(graph, ctx)
    cut_graph, cut = cut_feeds(graph, ctx.inputs)
    if not cut.originals:
        return step.apply(graph, ctx)
    step_ctx = attrs.evolve(ctx, outputs=(*ctx.outputs, *cut.keep))
    result, stats = step.apply(cut_graph, step_ctx)
    return restore_feeds(result, cut), stats


def _collector(rounds: list[tuple[int, int]]) -> Callable[[int, int], None]:
    return lambda nodes, rewrites: rounds.append((nodes, rewrites))


def _run_steps(graph: Graph, steps: Sequence[Step], ctx: Context, after_step: Any) -> tuple[Graph, Report]:
    from graphrewrite.engine.validate import check_graph

    reports = []
    checked: Graph | None = None  # the last graph check_graph passed
    for index, step in enumerate(steps):
        before = len(graph)
        start = time.perf_counter()
        ignored = None
        rounds: list[tuple[int, int]] = []
        try:
            new_graph, stats = apply_step(step, graph, attrs.evolve(ctx, on_round=_collector(rounds)))
        except GraphRewriteError as exc:
            if not step.ignore_errors:
                raise
            new_graph, stats, ignored = graph, (), str(exc)
        check_graph(new_graph, ctx, step=step.name, before=checked)
        checked = new_graph
        seconds = time.perf_counter() - start
        reports.append(StepReport(step.name, before, len(new_graph), seconds, stats, ignored, tuple(rounds)))
        graph = new_graph
        if after_step is not None:
            after_step(index, step, graph)
    return graph, Report(tuple(reports))
