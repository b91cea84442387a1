"""Pattern values and the matcher.

A pattern is a tree rooted at the node a rule rewrites. :class:`Op` matches a node by op type
(alternatives allowed), attribute constraints and input patterns; :class:`Tensor` matches any
tensor and may bind it. Reusing a binding name means "the same tensor" (or the same node).
Commutative ops (one table, :data:`COMMUTATIVE`) match their two operands in either order; the
alternative order is tried lazily, only when the first fails.

The matcher (:mod:`graphrewrite.engine.matcher`) finds them in a graph; :class:`Trace`
collects why a pattern failed at a node, for ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from graphrewrite.engine.errors import Span
from graphrewrite.engine.graph import Node, TensorRef

COMMUTATIVE = frozenset(
    {
        "Add", "AddV2", "Mul", "Maximum", "Minimum", "LogicalAnd", "LogicalOr",
        "Equal", "NotEqual", "BitwiseAnd", "BitwiseOr",
    }
)  # fmt: skip


@attrs.frozen
class Tensor:
    """Any tensor; bound to *bind* when given (``x``), unbound for ``_``.

    With *rest* (``*xs`` in the rule language), zero or more consecutive inputs, bound as a
    tuple of tensors, anywhere in an input list (``ConcatV2(*xs, axis)``). An input list may
    hold several (``ConcatV2(*before, inner, *after, axis)``): the matcher then tries every way
    of splitting the inputs among them, the first list shortest first (see :func:`matches_at`).
    With *each* as well, every captured input must match that pattern, on its own: the names
    bound inside it are local to one input, and each is bound as a tuple over the inputs
    (``*fs: Relu(xs)`` binds ``xs`` to the tuple of the Relus' inputs).
    """

    bind: str | None = None
    span: Span | None = attrs.field(default=None, eq=False)
    rest: bool = False
    each: Op | None = None  # with rest: every captured input matches it (``*fs: Relu(xs)``)
    binds: str | None = attrs.field(init=False, eq=False, repr=False)  # bind, None for ``_``

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "binds", None if self.bind == "_" else self.bind)


@attrs.frozen
class Op:
    """A node whose op is one of *ops* (any op when None).

    ``inputs=None`` leaves the node's inputs unconstrained; otherwise the node must have exactly
    that many data inputs, unless *variadic*, where the last pattern matches every remaining
    input. ``attributes`` are equality constraints on attribute values (Python values); ``check`` is
    an optional predicate on the node returning a failure reason or None. ``port`` is the output
    of this node the parent consumes (None: any).
    """

    ops: frozenset[str] | None = None
    inputs: tuple[Pattern, ...] | None = None
    bind: str | None = None
    attributes: tuple[tuple[str, Any], ...] = ()
    variadic: bool = False
    port: int | None = 0
    check: Callable[[Node], str | None] | None = attrs.field(default=None, eq=False)
    span: Span | None = attrs.field(default=None, eq=False)
    # Computed when built, for the matcher: the names bound here and below (outside element
    # patterns; a variadic last input counts twice, as it may bind many times), whether one
    # is bound twice, whether an input list below splits among several *lists (a search),
    # and whether some *list has an element pattern (only the general matcher handles it).
    names: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    reuses: bool = attrs.field(init=False, eq=False, repr=False)
    splits: bool = attrs.field(init=False, eq=False, repr=False)
    lists_each: bool = attrs.field(init=False, eq=False, repr=False)
    # Also for the matcher's fast path: the name a match binds here (None for ``_`` too), and
    # the position of the one ``*list`` among the inputs (None: no list).
    binds: str | None = attrs.field(init=False, eq=False, repr=False)
    rest_at: int | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        inputs = self.inputs or ()
        object.__setattr__(self, "binds", None if self.bind == "_" else self.bind)
        rest_at = [i for i, p in enumerate(inputs) if isinstance(p, Tensor) and p.rest]
        object.__setattr__(self, "rest_at", rest_at[0] if rest_at else None)
        rests = sum(1 for p in inputs if isinstance(p, Tensor) and p.rest)
        eaches = [p.each for p in inputs if isinstance(p, Tensor) and p.each is not None]
        ops = [p for p in inputs if isinstance(p, Op)] + eaches
        names = [self.bind] if self.bind not in (None, "_") else []
        for child in (*inputs, *inputs[-1:]) if self.variadic else inputs:
            names += child.names if isinstance(child, Op) else [child.bind] if child.bind not in (None, "_") else []
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "reuses", len(names) != len(set(names)))
        object.__setattr__(self, "splits", rests > 1 or any(p.splits for p in ops))
        object.__setattr__(self, "lists_each", bool(eaches) or any(p.lists_each for p in ops))

    def describe(self) -> str:
        return "|".join(sorted(self.ops)) if self.ops else "*"


Pattern = Tensor | Op


def op(ops: str, *inputs: Pattern, bind: str | None = None, **attr_values: Any) -> Op:
    """Shorthand for Python-built patterns: ``op("Mul", op("Conv2D|MatMul", x, w), s)``."""
    return Op(
        frozenset(ops.split("|")) if ops != "*" else None,
        tuple(inputs),
        bind,
        tuple(sorted(attr_values.items())),
    )


def const(bind: str | None = None) -> Op:
    return Op(frozenset({"Const"}), None, bind)


def depth(pattern: Pattern) -> int:
    if isinstance(pattern, Tensor) or not pattern.inputs:
        return 1
    return 1 + max(depth(p) for p in pattern.inputs)


def root_ops(pattern: Pattern) -> frozenset[str] | None:
    return pattern.ops if isinstance(pattern, Op) else None


@attrs.frozen
class Match:
    """A successful match: the root node, the bindings, and every node the pattern covered."""

    root: str
    bindings: Mapping[str, Node | TensorRef | tuple[TensorRef, ...]]
    nodes: tuple[str, ...]

    def node(self, name: str) -> Node:
        value = self.bindings[name]
        if not isinstance(value, Node):
            raise KeyError(f"'{name}' is bound to a tensor, not a node")
        return value

    def tensor(self, name: str) -> TensorRef:
        value = self.bindings[name]
        if isinstance(value, Node):
            return TensorRef(value.name, 0)
        if isinstance(value, TensorRef):
            return value
        raise KeyError(f"'{name}' is a list binding; use tensors()")

    def tensors(self, name: str) -> tuple[TensorRef, ...]:
        """The inputs a ``*name`` list binding captured."""
        value: Any = self.bindings[name]
        if not isinstance(value, tuple) or isinstance(value, TensorRef):
            raise KeyError(f"'{name}' is not a list binding")
        return value


@attrs.define
class Trace:
    """Collects the deepest failure met while matching, for ``explain``."""

    depth: int = -1
    node: str = ""
    reason: str = ""
    span: Span | None = None

    def fail(self, level: int, node: str, reason: str, span: Span | None) -> None:
        if level > self.depth:
            self.depth, self.node, self.reason, self.span = level, node, reason, span
