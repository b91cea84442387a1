"""``reduce``: shrink a graph to a small subgraph that still fails the same way.

The whole graph runs once in TensorFlow and every tensor a cut may need is recorded
(:mod:`graphrewrite.targets.cut`). Candidates keep a set of nodes; the tensors entering the set
become Placeholders fed with their recorded values. The search, over the graph's non-constant
nodes in execution order:

1. **Bisect the end**: the shortest prefix of the order that still fails.
2. **Bisect the start**: the shortest suffix of that prefix that still fails.
3. **Delta-debug** what is left (Zeller's ddmin): drop chunks of nodes, then single nodes,
   while the candidate still fails, until no single node can go.

A candidate *still fails* when the check reports a failure of the same kind as on the whole
graph (a mismatch stays a mismatch, a load failure a load failure) and, with ``match``, a
message matching that regular expression. The search is deterministic and makes at most
``max_checks`` checks; results are cached by the set of nodes kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.errors import GraphRewriteError, UsageError
from graphrewrite.engine.graph import Graph
from graphrewrite.targets.cut import (
    FREE_OPS,
    Candidate,
    Recording,
    close,
    cut,
    record_tensors,
    tensors_read,
    unfetchable_nodes,
)
from graphrewrite.targets.failures import INVALID, Check, Failure

Progress = Callable[[str, Candidate, bool], None]  # (phase, candidate, still fails)


class ReduceError(GraphRewriteError):
    """The reduction cannot start: the check does not fail on the whole graph."""


@attrs.frozen
class Reduction:
    """The smallest failing candidate found, and how the search got there."""

    original_nodes: int
    candidate: Candidate
    failure: Failure
    checks: int
    seconds: float
    exhausted: bool  # the check budget ran out before no single node could be dropped


class _OutOfChecks(Exception):
    pass


class _Search:
    """Runs candidates through the check, with the cache, the budget and the best so far."""

    def __init__(
        self,
        graph: Graph,
        recording: Recording,
        outputs: Sequence[str],
        check: Check,
        *,
        kind: str,
        match: re.Pattern[str] | None,
        max_checks: int,
        progress: Progress | None,
    ):
        self.graph, self.recording, self.outputs, self.check = graph, recording, outputs, check
        self.kind, self.match, self.max_checks, self.progress = kind, match, max_checks, progress
        self.checks = 0
        self.seen: dict[frozenset[str], bool] = {}
        self.best: tuple[Candidate, Failure] | None = None

    def fails(self, keep: Sequence[str], phase: str) -> bool:
        kept = close(self.graph, keep, self.recording)  # the cache key: a repeat builds nothing
        if kept in self.seen:
            return self.seen[kept]
        if self.checks >= self.max_checks:
            raise _OutOfChecks
        self.checks += 1
        candidate = cut(self.graph, kept, self.recording, self.outputs)
        failure = self.check(candidate)
        same = failure is not None and self.same(failure)
        self.seen[kept] = same
        if same and failure is not None and (self.best is None or candidate.size < self.best[0].size):
            self.best = (candidate, failure)
        if self.progress is not None:
            self.progress(phase, candidate, same)
        return same

    def same(self, failure: Failure) -> bool:
        return failure.kind == self.kind and (self.match is None or _matches(self.match, failure))


def reduce_graph(
    graph_def: Any,
    check: Check,
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    feeds: Mapping[str, np.ndarray],
    match: str | None = None,
    max_checks: int = 300,
    progress: Progress | None = None,
) -> Reduction:
    """Shrink *graph_def* (run on *feeds* at *inputs*) to a small subgraph that fails *check*
    as the whole graph does; ReduceError when the whole graph does not fail it."""
    start = time.perf_counter()
    pattern = _compile(match)
    graph = Graph.from_graphdef(graph_def)
    fed = {name.split(":")[0] for name in inputs}
    order = _order(graph, outputs, fed)
    recording = record_tensors(graph_def, feeds, _tensors(graph))
    whole = cut(graph, order, recording, outputs)
    failure = _check_whole(check(whole), pattern)
    search = _Search(
        graph,
        recording,
        outputs,
        check,
        kind=failure.kind,
        match=pattern,
        max_checks=max_checks,
        progress=progress,
    )
    search.seen[whole.kept], search.best, search.checks = True, (whole, failure), 1
    exhausted = False
    try:
        end = _bisect_end(search, order)
        begin = _bisect_start(search, order, end)
        _ddmin(search, order[begin:end])
    except _OutOfChecks:
        exhausted = True
    best, why = search.best
    return Reduction(len(graph_def.node), best, why, search.checks, time.perf_counter() - start, exhausted)


def _compile(match: str | None) -> re.Pattern[str] | None:
    try:
        return re.compile(match) if match else None
    except re.error as exc:
        raise UsageError(f"--match={match!r} is not a regular expression: {exc}") from None


def _matches(pattern: re.Pattern[str], failure: Failure) -> bool:
    """--match looks at the failure's message and, for a command, at everything it printed."""
    return bool(pattern.search(failure.message) or pattern.search(failure.output))


def _check_whole(failure: Failure | None, pattern: re.Pattern[str] | None) -> Failure:
    """The whole graph's failure, which the search keeps; ReduceError when there is none to keep."""
    if failure is None:
        raise ReduceError("the check passes on the whole graph: there is no failure to reduce")
    if failure.kind == INVALID:
        raise ReduceError(f"TensorFlow cannot run the whole graph: {failure.message}")
    if pattern is not None and not _matches(pattern, failure):
        raise ReduceError(f"the whole graph fails, but not as --match={pattern.pattern!r} asks: {failure}")
    return failure


def _order(graph: Graph, outputs: Sequence[str], fed: set[str]) -> list[str]:
    """The nodes a candidate chooses among, inputs before their readers and each node as
    close after its inputs as can be (depth-first from the outputs, then whatever the outputs
    do not need). Consts are left out (they come with their readers), and so are the fed
    inputs (always cut, so always Placeholders). Unlike ``inspect.execution_order``, which is
    breadth-first, this keeps a batch norm's constant half beside it: the bisection then cuts
    through few tensors (on MobileNetV2, 32 checks instead of 267)."""
    order: dict[str, None] = {}
    entered: set[str] = set()  # on a loop's back edge, a node being expanded is not entered again
    roots = [o.split(":")[0] for o in outputs if o.split(":")[0] in graph]
    for root in [*roots, *graph.names]:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            name, done = stack.pop()
            if done:
                order[name] = None
            elif name not in entered and name not in fed:
                entered.add(name)
                stack.append((name, True))
                stack.extend(
                    (ref.node, False) for ref in reversed(graph.node(name).inputs) if ref.node in graph
                )
    return [name for name in order if graph.node(name).op not in FREE_OPS and name not in fed]


def _tensors(graph: Graph) -> list[str]:
    """Tensors worth recording: read by some node, made by a node whose outputs can be fetched."""
    skip = unfetchable_nodes(graph)
    producers = ((t, t.rsplit(":", 1)[0]) for t in tensors_read(graph))
    return [t for t, node in producers if node not in skip and graph.node(node).op not in FREE_OPS]


def _bisect_end(search: _Search, order: list[str]) -> int:
    """The shortest prefix ``order[:k]`` that fails (the whole order fails)."""
    low, high = 0, len(order)
    while high - low > 1:
        middle = (low + high) // 2
        if search.fails(order[:middle], "bisect end"):
            high = middle
        else:
            low = middle
    return high


def _bisect_start(search: _Search, order: list[str], end: int) -> int:
    """The latest start ``j`` with ``order[j:end]`` failing (``order[:end]`` fails)."""
    low, high = 0, end
    while high - low > 1:
        middle = (low + high) // 2
        if search.fails(order[middle:end], "bisect start"):
            low = middle
        else:
            high = middle
    return low


def _ddmin(search: _Search, nodes: list[str]) -> list[str]:
    """Zeller's ddmin: try each chunk alone, then without each chunk; refine to single nodes."""
    chunks = 2
    while len(nodes) >= 2:
        parts = [nodes[i * len(nodes) // chunks : (i + 1) * len(nodes) // chunks] for i in range(chunks)]
        smaller = next((p for p in parts if search.fails(p, "narrow")), None)
        if smaller is not None:
            nodes, chunks = smaller, 2
            continue
        rest = next(
            (r for p in parts if (r := [n for n in nodes if n not in p]) and search.fails(r, "narrow")), None
        )
        if rest is not None:
            nodes, chunks = rest, max(chunks - 1, 2)
            continue
        if chunks >= len(nodes):
            break
        chunks = min(len(nodes), chunks * 2)
    return nodes
