"""Rewrites as data, and the one function that applies a batch of them.

A rule never edits a graph: it returns a :class:`Rewrite` (nodes added or replaced, uses
redirected, matched nodes it no longer needs). :func:`apply_batch` applies a batch of
non-overlapping rewrites to one graph version and enforces the engine's safety rules:

- a matched node is removed only when nothing outside the removed set still uses it, and never
  when its name is protected (a graph input or output);
- uses of a redirected tensor are rewired everywhere, including in the batch's new nodes;
- control inputs of removed nodes are forwarded to the nodes that consumed them, and ``^r``
  edges to a removed node ``r`` are re-pointed at its replacement (or at its inputs);
- ``_class`` colocation entries naming a removed node follow its replacement or are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from graphrewrite.engine.edit import colocation, with_colocation
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef, dedupe_inputs


@attrs.frozen
class Rewrite:
    """What one rule application changes; applied by :func:`apply_batch`."""

    rule: str
    root: str
    matched: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    add: tuple[Node, ...] = ()
    redirect: tuple[tuple[TensorRef, TensorRef], ...] = ()

    def with_matched(self, names: Iterable[str]) -> Rewrite:
        """This rewrite with *names* added to ``matched`` (attrs.evolve, without its
        per-call introspection: the driver calls this for every rewrite)."""
        return Rewrite(self.rule, self.root, self.matched.union(names), self.remove, self.add, self.redirect)

    @property
    def touched(self) -> frozenset[str]:
        """Nodes this rewrite replaces or may delete: two rewrites touching one conflict."""
        return self.remove | frozenset(n.name for n in self.add) | {self.root}


@attrs.frozen
class BatchResult:
    graph: Graph
    changed: frozenset[str]  # nodes added, replaced or rewired: where to look for new matches
    removed: frozenset[str]


def apply_batch(graph: Graph, rewrites: Sequence[Rewrite], protected: frozenset[str] = frozenset()) -> BatchResult:
    """Apply non-overlapping *rewrites* to *graph* at once, enforcing the safety rules."""
    upserts: dict[str, Node] = {n.name: n for rw in rewrites for n in rw.add}
    redirect = _resolve(dict(pair for rw in rewrites for pair in rw.redirect))
    candidates = {name for rw in rewrites for name in rw.remove} - upserts.keys()
    rewired = _rewire(graph, upserts, redirect)

    def current(name: str) -> Node | None:
        return rewired.get(name) or upserts.get(name) or graph.get(name)

    removed = _removable(graph, candidates - protected, current, {**upserts, **rewired}.values())
    edits = _forward_controls(graph, removed, redirect, current)
    final = {**rewired, **edits}
    for name, node in upserts.items():
        final.setdefault(name, node)
    final = _fix_colocation(graph, final, removed, redirect, current)
    changed = frozenset(final) - removed
    new_graph = graph.replace((final[n] for n in _ordered(graph, final) if n not in removed), removed)
    return BatchResult(new_graph, changed, frozenset(removed))


def _rewire(graph: Graph, upserts: dict[str, Node], redirect: Mapping[TensorRef, TensorRef]) -> dict[str, Node]:
    """The batch's new nodes, then every other user of a redirected tensor, with uses rewired.

    Batch order first: it is the order new nodes are appended to the graph in.
    """
    if not redirect:
        return dict(upserts)
    users = dict.fromkeys(upserts)
    for source in dict.fromkeys(ref.node for ref in redirect):
        users.update(dict.fromkeys(graph.consumers(source)))
    rewired: dict[str, Node] = {}
    for name in users:
        node = upserts.get(name) or graph.get(name)
        if node is None:
            continue
        inputs = tuple(redirect.get(i, i) for i in node.inputs)
        rewired[name] = node if inputs == node.inputs else node.with_inputs(inputs)
    return rewired


def _resolve(redirect: dict[TensorRef, TensorRef]) -> dict[TensorRef, TensorRef]:
    """Follow chains a->b->c so every source maps to its final target."""
    out = {}
    for src, dst in redirect.items():
        seen = {src}
        while dst in redirect and dst not in seen:
            seen.add(dst)
            dst = redirect[dst]
        out[src] = dst
    return out


def _removable(graph: Graph, candidates: set[str], current, new_nodes) -> set[str]:  # type: ignore[no-untyped-def]
    """The candidates no surviving node uses (a fixed point: keeping one keeps its inputs)."""
    # Only data uses keep a node alive: a control edge ``^r`` is re-pointed by
    # _forward_controls at r's replacement or at r's own inputs.
    read_by_new = {
        ref.node for node in new_nodes if node.name not in candidates for ref in node.inputs if ref.port != CONTROL
    }
    kept = [c for c in candidates if c in read_by_new or _read_outside(graph, c, candidates, current)]
    seen = set(kept)
    while kept:  # a kept node keeps the candidates it uses
        node = current(kept.pop())
        for ref in node.inputs if node is not None else ():
            if ref.node in candidates and ref.node not in seen:
                seen.add(ref.node)
                kept.append(ref.node)
    return candidates - seen


def _read_outside(graph: Graph, name: str, candidates: set[str], current) -> bool:  # type: ignore[no-untyped-def]
    """Whether a node of the graph outside *candidates* still reads data from *name*."""
    for user in graph.consumers(name):
        if user in candidates:
            continue
        node = current(user)
        if node is not None and any(i.node == name and i.port != CONTROL for i in node.inputs):
            return True
    return False


def _forward_controls(graph: Graph, removed: set[str], redirect: Mapping[TensorRef, TensorRef], current) -> dict[str, Node]:  # type: ignore[no-untyped-def]
    """Give the users of removed nodes the control inputs those nodes carried."""
    if not removed:
        return {}

    memo: dict[str, list[TensorRef]] = {}

    def carried(name: str) -> list[TensorRef]:
        """Control inputs of *name* and of the removed nodes it reads, that survive."""
        if name not in memo:
            memo[name] = []
            node = graph.get(name)
            out: list[TensorRef] = []
            for ref in node.inputs if node else ():
                if ref.node in removed:
                    if ref.port == CONTROL:  # a wait on a removed node becomes a wait on its stand-in
                        out += stand_in(ref.node)
                    out += carried(ref.node)
                elif ref.port == CONTROL:
                    out.append(ref)
            memo[name] = out
        return memo[name]

    def stand_in(name: str) -> list[TensorRef]:
        """What ``^name`` becomes: its replacement's node, else its own inputs' nodes."""
        target = redirect.get(TensorRef(name, 0))
        if target is not None and target.node not in removed:
            return [TensorRef(target.node, CONTROL)]
        node = graph.get(name)
        out = []
        for ref in node.inputs if node else ():
            if ref.node in removed:
                out += stand_in(ref.node)
            else:
                out.append(TensorRef(ref.node, CONTROL))
        return out

    edits: dict[str, Node] = {}
    for name in sorted(removed):
        extra = carried(name)
        for user in graph.consumers(name):
            if user in removed:
                continue
            node = edits.get(user) or current(user)
            if node is None:
                continue
            inputs = list(node.inputs)
            wait = TensorRef(name, CONTROL)
            if wait in inputs:
                inputs = [i for i in inputs if i != wait]  # every copy: a graph may repeat a control edge
                inputs += stand_in(name)
            elif not extra and node.nodedef is None and all(i.port != CONTROL for i in inputs):
                continue  # nothing to forward or tidy: the copy would equal the node in every field
            inputs += extra
            edits[user] = node.with_inputs(dedupe_inputs(inputs, user))
    return edits


def _fix_colocation(graph: Graph, final: dict[str, Node], removed: set[str], redirect, current) -> dict[str, Node]:  # type: ignore[no-untyped-def]
    """Colocation entries naming a removed node follow its replacement, or are dropped."""
    if not removed:
        return final
    for name in sorted(graph.colocated() - removed):
        located = colocation(graph.node(name))
        if not located or not any(n in removed for n in located):
            continue
        moved: list[str] = []
        for entry in located:
            if entry in removed:
                target = redirect.get(TensorRef(entry, 0))
                if target is None or target.node in removed:
                    continue
                entry = target.node
            if entry not in moved:
                moved.append(entry)
        final[name] = with_colocation(final.get(name) or current(name), moved)
    return final


def _ordered(graph: Graph, final: Mapping[str, Node]) -> list[str]:
    """Existing names first in graph order (stable positions), then new names in batch order."""
    existing = [n for n in final if n in graph]
    return existing + [n for n in final if n not in graph]
