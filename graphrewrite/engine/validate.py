"""lint(graph): dangling inputs, output ports past an op's arity, cycles, missing protected names.

``check_graph`` is the cheap check the driver runs after every step (GTT's ``IsGraphValid``
plus protected names); ``lint`` is the full check that tests and ``--verify`` use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from graphrewrite.engine.errors import GraphError
from graphrewrite.engine.graph import CONTROL, Graph, node_name
from graphrewrite.engine.opdefs import output_count

if TYPE_CHECKING:
    from graphrewrite.engine.driver import Context


@attrs.frozen
class Problem:
    """One thing wrong with a graph, naming the node."""

    node: str
    message: str

    def __str__(self) -> str:
        return f"node '{self.node}': {self.message}"


def dangling_inputs(graph: Graph) -> list[Problem]:
    names = graph.names  # the nodes dict's keys: a C-level membership test per edge
    return [
        Problem(node.name, f"input '{ref}' names a node that does not exist")
        for node in graph
        for ref in node.inputs
        if ref.node not in names
    ]


def missing_names(graph: Graph, names: Iterable[str]) -> list[Problem]:
    return [Problem(node_name(n), "is a graph input or output but is gone") for n in names if n and node_name(n) not in graph]


def cycles(graph: Graph) -> list[Problem]:
    """Nodes on or behind a cycle; Merge-style ops may close loops through one input."""
    pending = {}
    for node in graph:
        count = sum(1 for r in node.inputs if r.node in graph)
        if node.op in ("Merge", "RefMerge", "_XlaMerge"):
            count = min(count, 1 + len(node.control_inputs))
        pending[node.name] = count
    ready = [n for n, c in pending.items() if c == 0]
    done = 0
    while ready:
        name = ready.pop()
        done += 1
        for consumer in graph.consumers(name):
            if consumer not in pending:
                continue
            uses = sum(1 for r in graph.node(consumer).inputs if r.node == name)
            pending[consumer] -= uses
            if pending[consumer] == 0:
                ready.append(consumer)
    if done == len(graph):
        return []
    stuck = sorted(n for n, c in pending.items() if c > 0)
    return [Problem(stuck[0], f"is on a cycle ({len(stuck)} nodes cannot be ordered)")]


def bad_ports(graph: Graph) -> list[Problem]:
    """Data inputs that read an output index the producer's op does not have."""
    problems = []
    for node in graph:
        for ref in node.inputs:
            if ref.port in (CONTROL, 0):
                continue
            producer = graph.get(ref.node)
            if producer is None:
                continue
            count = output_count(producer)
            if count is not None and ref.port >= count:
                problems.append(Problem(node.name, f"input '{ref}' reads output {ref.port}, but {producer.op} has {count}"))
    return problems


def lint(graph: Graph, ctx: Context | None = None) -> list[Problem]:
    """Every problem found, dangling inputs first."""
    names = (*ctx.inputs, *ctx.outputs) if ctx is not None else ()
    return dangling_inputs(graph) + missing_names(graph, names) + bad_ports(graph) + cycles(graph)


def check_graph(graph: Graph, ctx: Context, *, step: str, before: Graph | None = None) -> None:
    """Raise GraphError when *step* left dangling inputs or lost a protected name.

    *before* is the step's input, when it passed this check: if the step derived *graph* from
    it by ``replace``, only the nodes it changed can have gone wrong, and only they are looked
    at (O(changes), not O(edges)); anything suspicious falls back to the full check, which
    gives the message.
    """
    changed = graph.changes_since(before) if before is not None else None
    names = (*ctx.inputs, *ctx.outputs)
    if changed is not None and not _changes_dangle(graph, changed) and not missing_names(graph, names):
        return
    problems = dangling_inputs(graph) + missing_names(graph, names)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GraphError(f"after {step}: {problems[0]}{more}")


def _changes_dangle(graph: Graph, changed: Iterable[str]) -> bool:
    """Whether a changed node reads a missing node, or a removed node is still read."""
    # Plain loops over the nodes dict's own methods: the changes after a large rule step
    # number in the hundreds of thousands.
    get, names, has_consumers = graph.lookup, graph.names, graph.has_consumers
    for name in changed:
        node = get(name)
        if node is None:
            if has_consumers(name):
                return True
            continue
        for source, _port in node.inputs:
            if source not in names:
                return True
    return False
