"""Whole-graph removals behind the inference clean-up rules: training machinery, dead branches.

Both are passes rather than pattern rules because what they remove is decided by graph-wide
reachability: a saver's subgraph, the producers only an initialiser used, or everything that
a constant-predicate ``Switch`` makes dead (deadness flows through data and control edges,
and a ``Merge`` is dead only when all its inputs are, as in TensorFlow's executor).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.edit import remove
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.graph import dedupe_inputs as dedupe
from graphrewrite.stdlib_rules.op_kinds import is_training_op, saver_scopes

# -- strip_training_nodes ---------------------------------------------------------------------


def strip_training(graph: Graph, protected: frozenset[str], *, cascade_freely: bool) -> Graph:
    """*graph* without training machinery and what only it used.

    Producers whose every consumer went are removed too: anywhere outside what the protected
    names need when *cascade_freely* (outputs were given), else only inside the scope of a
    removed consumer (``w/Initializer/...`` for ``w/Assign``), so a model whose outputs were
    not named is never eaten from its loss backwards.
    """
    removed = _seeds(graph, protected)
    keep = _data_ancestors(graph, protected) if cascade_freely else set()
    pending = deque(_neighbours(graph, removed))
    while pending:
        name = pending.popleft()
        node = graph.get(name)
        if node is None or name in removed or name in protected or name in keep:
            continue
        if _dead_after(graph, node, removed, cascade_freely):
            removed.add(name)
            pending.extend(_neighbours(graph, [name]))
    return _without(graph, removed)


def _neighbours(graph: Graph, names: Iterable[str]) -> list[str]:
    """Producers of *names* (they may have lost their last user) and consuming NoOps."""
    out = []
    for name in names:
        out += [ref.node for ref in graph.node(name).inputs]
        out += [user for user in graph.consumers(name) if graph.node(user).op == "NoOp"]
    return out


def _seeds(graph: Graph, protected: frozenset[str]) -> set[str]:
    """Training ops and saver scopes, minus any whose value a surviving node reads."""
    seeds = {n.name for n in graph if is_training_op(n.op)}
    scopes = saver_scopes(graph)
    seeds |= {n.name for n in graph if n.name.startswith(scopes)} if scopes else set()
    seeds -= protected
    changed = True
    while changed:  # a seed read as data by a survivor must stay, and so must what it reads
        changed = False
        for name in list(seeds):
            if any(u not in seeds and _reads_data(graph.node(u), name) for u in graph.consumers(name)):
                seeds.discard(name)
                changed = True
    return seeds


def _reads_data(node: Node, name: str) -> bool:
    return any(ref.node == name and ref.port != CONTROL for ref in node.inputs)


def _data_ancestors(graph: Graph, names: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        node = graph.get(name)
        if node is None or name in seen:
            continue
        seen.add(name)
        pending.extend(ref.node for ref in node.data_inputs)
    return seen


def _dead_after(graph: Graph, node: Node, removed: set[str], cascade_freely: bool) -> bool:
    if node.op == "NoOp" and node.inputs and all(ref.node in removed for ref in node.inputs):
        return True  # a grouping NoOp (init, restore_all) of removed nodes
    users = graph.consumers(node.name)
    if not users or any(u not in removed for u in users) or node.op in ("Placeholder", "PlaceholderWithDefault"):
        return False
    scope = node.name.rpartition("/")[0]
    return cascade_freely or (bool(scope) and any(u == scope or u.startswith(scope + "/") for u in users))


def _without(graph: Graph, removed: set[str]) -> Graph:
    """*graph* minus *removed*, with survivors' control edges to removed nodes dropped."""
    upserts = []
    for node in graph:
        if node.name not in removed and any(ref.node in removed for ref in node.inputs):
            upserts.append(node.with_inputs(ref for ref in node.inputs if ref.node not in removed))
    return remove(graph, removed, upserts)


# -- fold_constant_switch ---------------------------------------------------------------------


def constant_predicate(graph: Graph, switch: Node) -> bool | None:
    """The value of a Switch's predicate when it is a (Identity chain over a) scalar Const."""
    node = graph.get(switch.data_inputs[1].node) if len(switch.data_inputs) == 2 else None
    while node is not None and node.op == "Identity" and node.data_inputs:
        node = graph.get(node.data_inputs[0].node)
    if node is None or node.op != "Const":
        return None
    value = node.value()
    return bool(value) if value.shape == () and value.dtype == np.bool_ else None


def fold_constant_switches(graph: Graph, protected: frozenset[str]) -> Graph:
    """Keep only the taken side of every Switch whose predicate is constant."""
    live_port = {}
    for name in graph.nodes_of_op("Switch"):
        taken = constant_predicate(graph, graph.node(name))
        if taken is not None and name not in protected:
            live_port[name] = int(taken)
    if not live_port:
        return graph
    dead = _dead_nodes(graph, live_port)
    lost = sorted(dead & protected)
    if lost:
        raise RuleError(f"fold_constant_switch: '{lost[0]}' is protected, but only the branch never taken computes it")
    return _rewire(graph, live_port, dead)


def _is_dead(ref: TensorRef, dead: set[str], live_port: dict[str, int]) -> bool:
    if ref.node in dead:
        return True
    return ref.port != CONTROL and ref.node in live_port and ref.port != live_port[ref.node]


def _dead_nodes(graph: Graph, live_port: dict[str, int]) -> set[str]:
    dead: set[str] = set()
    pending = deque(c for s in live_port for c in graph.consumers(s))
    while pending:
        name = pending.popleft()
        node = graph.get(name)
        if node is None or name in dead:
            continue
        if node.op == "Merge":
            now_dead = all(_is_dead(r, dead, live_port) for r in node.data_inputs)
        else:
            now_dead = any(_is_dead(r, dead, live_port) for r in node.inputs)
        if now_dead:
            dead.add(name)
            pending.extend(graph.consumers(name))
    return dead


def _rewire(graph: Graph, live_port: dict[str, int], dead: set[str]) -> Graph:
    """Merges lose dead inputs, users of a live Switch output read its data directly."""
    redirect = {TensorRef(s, port): graph.node(s).data_inputs[0] for s, port in live_port.items()}
    upserts: list[Node] = []
    for name in graph.nodes_of_op("Merge"):
        merge = graph.node(name)
        if name in dead or not any(_is_dead(r, dead, live_port) for r in merge.data_inputs):
            continue
        live = [(i, r) for i, r in enumerate(merge.data_inputs) if not _is_dead(r, dead, live_port)]
        if len(live) == 1:
            index, ref = live[0]
            redirect[TensorRef(name, 0)] = ref
            if any(r == TensorRef(name, 1) for u in graph.consumers(name) for r in graph.node(u).inputs):
                upserts.append(_index_const(graph, merge, index))
                redirect[TensorRef(name, 1)] = TensorRef(upserts[-1].name, 0)
        else:
            upserts.append(merge.with_attrs(N=len(live)).with_inputs([r for _, r in live] + list(merge.control_inputs)))
    removed = dead | set(live_port) | {r.node for r in redirect if r.port == 0 and graph.node(r.node).op == "Merge"}
    return _apply(graph, redirect, removed, upserts, dead, live_port)


def _index_const(graph: Graph, merge: Node, index: int) -> Node:
    name = graph.unique_name(f"{merge.name}/value_index")
    return Node.make(name, "Const", [], {"dtype": DType(3), "value": np.asarray(index, np.int32)}, merge.device)


def _apply(
    graph: Graph, redirect: dict[TensorRef, TensorRef], removed: set[str], upserts: list[Node], dead: set[str], live_port: dict[str, int]
) -> Graph:
    def follow(ref: TensorRef, seen: frozenset[TensorRef] = frozenset()) -> list[TensorRef]:
        while ref in redirect and ref not in seen:
            seen |= {ref}
            ref = redirect[ref]
        if ref.port != CONTROL or ref.node not in removed or ref in seen:
            return [ref]
        # ^switch or ^merge: wait for the live tensors it read instead.
        stand_ins = [follow(r, seen | {ref}) for r in graph.node(ref.node).data_inputs if not _is_dead(r, dead, live_port)]
        return [TensorRef(r.node, CONTROL) for refs in stand_ins for r in refs]

    fixed = {n.name: n for n in upserts}
    for node in graph:
        if node.name in removed:
            continue
        base = fixed.get(node.name, node)
        if any(r in redirect or r.node in removed for r in base.inputs):
            refs = [new for ref in base.inputs for new in follow(ref)]
            fixed[node.name] = base.with_inputs(dedupe(refs, node.name))
    return remove(graph, removed, fixed.values())
