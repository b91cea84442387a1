"""The matcher: where a pattern (:mod:`graphrewrite.engine.pattern`) matches in a graph.

:func:`match_at` gives the first match rooted at a node, :func:`matches_at` every match in a
fixed order (for patterns whose ``*lists`` split an input list several ways, see
:func:`searches`). Two implementations find the same first match: a fast path with plain calls
into mutable accumulators for patterns that bind no name twice, and a backtracking generator
over immutable binding maps for the rest, which can also report *why* a pattern failed at a
node (the deepest failure it met, in a :class:`~graphrewrite.engine.pattern.Trace`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.pattern import COMMUTATIVE, Match, Op, Pattern, Tensor, Trace

Env = tuple[dict[str, Any], tuple[str, ...]]
NodeGetter = Callable[[str], "Node | None"]


def match_at(graph: Graph, pattern: Pattern, root: str, trace: Trace | None = None) -> Match | None:
    """The first match of *pattern* rooted at node *root*, or None."""
    node = graph.get(root)
    if node is None or not isinstance(pattern, Op):
        return None
    if trace is None and not _general(pattern):
        bindings: dict[str, Any] = {}
        nodes: list[str] = []
        if not _first_node(graph.lookup, pattern, node, bindings, nodes):
            return None  # no match even with every reused name left unconstrained
        if not pattern.reuses:
            return Match(root, bindings, tuple(nodes))
    for bindings, names in _match_node(graph, pattern, node, ({}, ()), 0, trace):
        return Match(root, bindings, names)
    return None


def matches_at(graph: Graph, pattern: Pattern, root: str) -> Iterator[Match]:
    """Every match of *pattern* rooted at *root*, in a fixed order: the first is
    :func:`match_at`'s. More than one exists where an input list splits several ways among
    ``*lists`` (see :func:`searches`) or a reused name, a commutative node or a repeated
    input can be satisfied more than one way."""
    node = graph.get(root)
    if node is None or not isinstance(pattern, Op):
        return
    for bindings, names in _match_node(graph, pattern, node, ({}, ()), 0, None):
        yield Match(root, bindings, names)


def searches(pattern: Pattern) -> bool:
    """Whether *pattern* has an input list with several ``*lists``, whose split among them is
    a search: a rule with such a pattern tries each match until one passes its conditions."""
    return isinstance(pattern, Op) and pattern.splits


def _general(pattern: Op) -> bool:
    """Whether only the generator matches *pattern* (split searches, element patterns)."""
    return pattern.splits or pattern.lists_each


# -- the fast path: patterns that bind no name twice ---------------------------------------
#
# When no name is bound twice, binding never fails, so whether one input matches never depends
# on how an earlier input matched: the first match of each input is the one the backtracking
# matcher would keep, and only a commutative node's second operand order needs retrying. This
# path finds exactly the match the generator finds, with plain calls into mutable
# accumulators, and is what the driver uses. A pattern that does reuse a name is first run
# through it as if every name were distinct: when even that fails (most tries do, at an op
# type), no match exists and the generator is not needed. ``explain`` (a trace) always takes
# the generator, whose failure reports come from its full search.

def _first_node(get: NodeGetter, pat: Op, node: Node, bindings: dict[str, Any], nodes: list[str]) -> bool:
    """Match *pat* at *node*, adding to *bindings* and *nodes* (a reused name is overwritten,
    not compared); on False they hold leftovers the caller discards (or overwrites, at a
    commutative node). *get* looks a node up by name."""
    ops = pat.ops
    if ops is not None and node.op not in ops:
        return False
    for key, want in pat.attributes:
        if not _attr_equal(node.get(key), want):
            return False
    if pat.check is not None and pat.check(node):
        return False
    if pat.binds is not None:
        bindings[pat.binds] = node
    nodes.append(node.name)
    pats = pat.inputs
    if pats is None:
        return True
    data: Sequence[TensorRef] = node.inputs
    if data and data[-1].port == CONTROL:  # data inputs come first (TensorFlow requires it)
        data = [i for i in data if i.port != CONTROL]
    if pat.rest_at is not None:  # one *list (patterns with more take the generator)
        for fixed, refs, captured in _splits(pats, list(data)):
            for rest, tensors in captured:
                if rest.binds is not None:
                    bindings[rest.binds] = tensors
            return _first_inputs(get, fixed, refs, bindings, nodes)
        return False
    if pat.variadic:
        if len(data) < len(pats):
            return False
        pats = pats[:-1] + (pats[-1],) * (len(data) - len(pats) + 1)
    elif len(data) != len(pats):
        return False
    if len(data) == 2 and node.op in COMMUTATIVE:
        mark = len(nodes)
        if _first_inputs(get, pats, data, bindings, nodes):
            return True
        # Names the failed order bound are bound again, in the same pattern order, by an order
        # that succeeds (and are discarded when none does): only the node list needs undoing.
        del nodes[mark:]
        data = (data[1], data[0])
    return _first_inputs(get, pats, data, bindings, nodes)


def _first_inputs(
    get: NodeGetter, pats: tuple[Pattern, ...], refs: Sequence[TensorRef], bindings: dict[str, Any], nodes: list[str]
) -> bool:
    for pat, ref in zip(pats, refs):  # noqa: B905  (same length: checked by the caller)
        if pat.__class__ is Tensor:
            if pat.binds is not None:
                bindings[pat.binds] = ref
            continue
        if pat.port is not None and ref.port != pat.port:  # type: ignore[union-attr]
            return False
        node = get(ref.node)
        if node is None or not _first_node(get, pat, node, bindings, nodes):  # type: ignore[arg-type]
            return False
    return True


def _rest_index(pats: tuple[Pattern, ...]) -> int | None:
    """The position of the ``*xs`` capture among *pats*, or None."""
    for index, pat in enumerate(pats):
        if isinstance(pat, Tensor) and pat.rest:
            return index
    return None


Split = tuple[tuple[Pattern, ...], list[TensorRef], tuple[tuple[Tensor, tuple[TensorRef, ...]], ...]]


def _splits(pats: tuple[Pattern, ...], data: list[TensorRef]) -> Iterator[Split]:
    """Every way the ``*lists`` among *pats* can share *data*: the fixed patterns, the inputs
    they match, and each list with what it captures (zero or more inputs). The first list
    takes as few as it can first, then the next, so the order is fixed."""
    rests = [i for i, p in enumerate(pats) if isinstance(p, Tensor) and p.rest]
    spare = len(data) - (len(pats) - len(rests))
    if spare < 0:
        return
    fixed = tuple(p for p in pats if not (isinstance(p, Tensor) and p.rest))
    for lengths in _compositions(spare, len(rests)):
        refs: list[TensorRef] = []
        captured: list[tuple[Tensor, tuple[TensorRef, ...]]] = []
        at = 0
        for index, pat in enumerate(pats):
            if isinstance(pat, Tensor) and pat.rest:
                take = lengths[rests.index(index)]
                captured.append((pat, tuple(data[at : at + take])))
                at += take
            else:
                refs.append(data[at])
                at += 1
        yield fixed, refs, tuple(captured)


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every tuple of *parts* non-negative ints summing to *total*, the first smallest first."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for tail in _compositions(total - first, parts - 1):
            yield (first, *tail)


# -- the general matcher: backtracking generators -------------------------------------------


def _bind(env: Env, name: str | None, value: Any) -> Env | None:
    bindings, nodes = env
    if name is None or name == "_":
        return env
    if name in bindings:
        return env if _same(bindings[name], value) else None
    new = dict(bindings)
    new[name] = value
    return new, nodes


def _same(a: Any, b: Any) -> bool:
    as_ref = lambda v: TensorRef(v.name, 0) if isinstance(v, Node) else v  # noqa: E731
    return bool(as_ref(a) == as_ref(b))


def _match_node(
    graph: Graph, pat: Op, node: Node, env: Env, level: int, trace: Trace | None
) -> Iterator[Env]:
    def fail(reason: str) -> Iterator[Env]:
        if trace is not None:
            trace.fail(level, node.name, reason, pat.span)
        return iter(())

    if pat.ops is not None and node.op not in pat.ops:
        return fail(f"op is {node.op}, pattern wants {pat.describe()}")
    for key, want in pat.attributes:
        have = node.get(key)
        if not _attr_equal(have, want):
            return fail(f"attribute {key}={have!r}, pattern wants {want!r}")
    if pat.check is not None:
        reason = pat.check(node)
        if reason:
            return fail(reason)
    bound = _bind(env, pat.bind, node)
    if bound is None:
        return fail(f"'{pat.bind}' is already bound to another node")
    env = bound[0], bound[1] + (node.name,)
    if pat.inputs is None:
        return iter((env,))
    data = [i for i in node.inputs if i.port != CONTROL]
    if _rest_index(pat.inputs) is not None:
        wanted = sum(1 for p in pat.inputs if not (isinstance(p, Tensor) and p.rest))
        if len(data) < wanted:
            return fail(f"has {len(data)} inputs, pattern wants at least {wanted}")
        return _match_splits(graph, _splits(pat.inputs, data), env, level, trace)
    if pat.variadic:
        if len(data) < len(pat.inputs):
            return fail(f"has {len(data)} inputs, pattern wants at least {len(pat.inputs)}")
        pats = list(pat.inputs[:-1]) + [pat.inputs[-1]] * (len(data) - len(pat.inputs) + 1)
    else:
        if len(data) != len(pat.inputs):
            return fail(f"has {len(data)} inputs, pattern wants {len(pat.inputs)}")
        pats = list(pat.inputs)
    orders = [data]
    if node.op in COMMUTATIVE and len(data) == 2:
        orders.append([data[1], data[0]])
    return _match_orders(graph, pats, orders, env, level, trace)


def _match_splits(graph: Graph, splits: Iterator[Split], env: Env, level: int, trace: Trace | None) -> Iterator[Env]:
    for fixed, refs, captured in splits:
        bound: Env | None = env
        for rest, tensors in captured:
            if bound is not None and rest.each is not None:
                bound = _match_each(graph, rest.each, tensors, bound, level, trace)
            bound = _bind(bound, rest.bind, tensors) if bound is not None else None
        if bound is None:
            if trace is not None:
                trace.fail(level, refs[0].node if refs else "", "a *list does not match", None)
            continue
        yield from _match_inputs(graph, list(fixed), refs, bound, level, trace)


def _match_each(graph: Graph, each: Op, refs: tuple[TensorRef, ...], env: Env, level: int, trace: Trace | None) -> Env | None:
    """*env* with every name *each* binds bound to a tuple over *refs* (each ref matched on its
    own, first match only), and the nodes covered added; None when some ref does not match."""
    found: list[dict[str, Any]] = []
    nodes = env[1]
    for ref in refs:
        first = next(_match_input(graph, each, ref, ({}, ()), level + 1, trace), None)
        if first is None:
            return None
        found.append(first[0])
        nodes += first[1]
    for name in dict.fromkeys(each.names):
        values = tuple(TensorRef(v.name, 0) if isinstance(v, Node) else v for v in (f[name] for f in found))
        bound = _bind((env[0], nodes), name, values)
        if bound is None:
            return None
        env = bound
    return env[0], nodes


def _match_orders(graph, pats, orders, env, level, trace) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    for refs in orders:
        yield from _match_inputs(graph, pats, refs, env, level, trace)


def _match_inputs(
    graph: Graph, pats: list[Pattern], refs: list[TensorRef], env: Env, level: int, trace: Trace | None
) -> Iterator[Env]:
    if not pats:
        yield env
        return
    for env2 in _match_input(graph, pats[0], refs[0], env, level + 1, trace):
        yield from _match_inputs(graph, pats[1:], refs[1:], env2, level, trace)


def _match_input(
    graph: Graph, pat: Pattern, ref: TensorRef, env: Env, level: int, trace: Trace | None
) -> Iterator[Env]:
    if isinstance(pat, Tensor):
        bound = _bind(env, pat.bind, ref)
        if bound is None:
            if trace is not None:
                trace.fail(level, ref.node, f"'{pat.bind}' is already bound to another tensor", pat.span)
            return
        yield bound
        return
    if pat.port is not None and ref.port != pat.port:
        if trace is not None:
            trace.fail(level, ref.node, f"uses output {ref.port}, pattern wants {pat.port}", pat.span)
        return
    node = graph.get(ref.node)
    if node is None:
        if trace is not None:
            trace.fail(level, ref.node, "input names a node that does not exist", pat.span)
        return
    yield from _match_node(graph, pat, node, env, level, trace)


def _attr_equal(have: Any, want: Any) -> bool:
    if have is None:
        return False
    if isinstance(want, (list, tuple)):
        return list(have) == list(want) if isinstance(have, (list, tuple)) else False
    return bool(have == want) or str(have) == str(want)
