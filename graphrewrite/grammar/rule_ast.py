"""Frozen AST values for rule files, each carrying the :class:`Span` it was written at.

The parser (:mod:`graphrewrite.grammar.rule_parse`) builds these from lark's tree; the compiler
(:mod:`graphrewrite.rules.compile`) checks them and turns them into ``Rule`` and ``Group``
values. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

import attrs

from graphrewrite.engine.errors import Span

# ---- expressions ---------------------------------------------------------------------------


@attrs.frozen
class Literal:
    """A number, string, or ``true``/``false``."""

    value: Any
    span: Span = attrs.field(eq=False)


@attrs.frozen
class Name:
    """A bound name (``w``), a ``let`` name, or a parameter of an enclosing function."""

    id: str
    span: Span = attrs.field(eq=False)


@attrs.frozen
class ListExpr:
    """``[a, b, c]``."""

    items: tuple[Expr, ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class GetAttr:
    """``conv.padding``: an attribute of a bound node."""

    obj: Expr
    attr: str
    span: Span = attrs.field(eq=False)
    attr_span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Index:
    """``shape(w)[0]``, or a slice ``v[a:b]`` when *stop* or *is_slice* is set."""

    obj: Expr
    start: Expr | None
    stop: Expr | None = None
    is_slice: bool = False
    span: Span = attrs.field(default=None, eq=False)


@attrs.frozen
class Call:
    """``f(a, b, key=c)``: a function from the where/const library."""

    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...] = ()
    span: Span = attrs.field(default=None, eq=False)


@attrs.frozen
class Unary:
    """``-x`` or ``not x``."""

    op: str
    operand: Expr
    span: Span = attrs.field(eq=False)


@attrs.frozen
class Binary:
    """``a + b``, ``a == b``, ``a and b``, ...: *op* is the operator as written."""

    op: str
    left: Expr
    right: Expr
    span: Span = attrs.field(eq=False)


Expr = Literal | Name | ListExpr | GetAttr | Index | Call | Unary | Binary

# ---- patterns ------------------------------------------------------------------------------


@attrs.frozen
class AttrSetting:
    """``padding="SAME"`` inside ``Op[...]``: a constraint in a pattern, a setting in a rewrite."""

    name: str
    value: Expr
    span: Span = attrs.field(eq=False)


@attrs.frozen
class OpPattern:
    """``name: A|B[attr=v](inputs...):port``; ``inputs`` is None when no parentheses follow."""

    ops: tuple[str, ...]
    op_spans: tuple[Span, ...] = attrs.field(eq=False)
    bind: str | None = None
    attributes: tuple[AttrSetting, ...] = ()
    inputs: tuple[PatternExpr, ...] | None = None
    variadic: bool = False
    port: int | None = None
    span: Span = attrs.field(default=None, eq=False)


@attrs.frozen
class Wildcard:
    """A tensor: bound to *name*, or unbound for ``_``; with *rest* (``*xs``), zero or more
    consecutive inputs bound as a list. With *each* (``*fs: Relu(xs)``), every one of those
    inputs matches *each*, and each name bound inside it is a list too (one per input)."""

    name: str
    span: Span = attrs.field(eq=False)
    rest: bool = False
    each: OpPattern | None = None


PatternExpr = OpPattern | Wildcard

# ---- rewrite templates ---------------------------------------------------------------------


@attrs.frozen
class TensorTemplate:
    """A bound name in a rewrite: that tensor (a bound or let node means its output *port*,
    0 unless written ``q:1``)."""

    name: str
    span: Span = attrs.field(eq=False)
    port: int | None = None


@attrs.frozen
class SpreadTemplate:
    """``*xs`` among a new node's inputs: every tensor of list binding ``xs``, in order."""

    name: str
    span: Span = attrs.field(eq=False)


@attrs.frozen
class NodeTemplate:
    """``Op[attrs](inputs)`` (a new node) or ``conv[attrs](inputs)`` (a bound node re-made;
    ``fs[0][attrs](inputs)`` re-makes element 0 of a list of nodes).

    Exactly one of *op* and *like* is set.
    """

    op: str | None
    like: str | None
    attributes: tuple[AttrSetting, ...]
    inputs: tuple[Template | SpreadTemplate, ...]
    span: Span = attrs.field(eq=False)
    element: int | None = None  # ``fs[0](...)``: element 0 of the list of nodes ``fs``, re-made
    name: Expr | None = None  # ``... as name(fq) + "_hoisted"``: the new node's name (made unique)


@attrs.frozen
class ConstTemplate:
    """``const(expr)``: a new Const holding the value of *expr*."""

    expr: Expr
    span: Span = attrs.field(eq=False)


Template = TensorTemplate | NodeTemplate | ConstTemplate


@attrs.frozen
class OutputsTemplate:
    """``rewrite (a, b, *xs)``: output k of the root is replaced by the k-th tensor listed."""

    items: tuple[Template | SpreadTemplate, ...]
    span: Span = attrs.field(eq=False)

# ---- rules and files -----------------------------------------------------------------------


@attrs.frozen
class Where:
    """One condition: a ``where`` clause, or one operand of its top-level ``and`` chain.

    *text* is the condition as written (whitespace collapsed), used in refusal reasons.
    """

    expr: Expr
    text: str
    span: Span = attrs.field(eq=False)
    required: bool = False  # ``require``: a failure stops the transform with an error


@attrs.frozen
class Declaration:
    """``lossy(rtol=..., atol=...)`` or ``tested(arg=value)`` after a rule's doc string."""

    name: str
    args: tuple[Expr, ...]
    keywords: tuple[tuple[str, Expr], ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class Let:
    """``let name = expr``: a named value usable by later clauses."""

    name: str
    expr: Expr
    span: Span = attrs.field(eq=False)


@attrs.frozen
class LetNode:
    """``let q = QuantizeV2[...](x, lo, hi)``: a new node the rewrite may use, by name and port."""

    name: str
    template: NodeTemplate
    span: Span = attrs.field(eq=False)


@attrs.frozen
class ParamDef:
    """``name: kind [in [choices]] [= default] ["doc"]`` in ``rule name(...)``: a rule parameter."""

    name: str
    kind: str
    choices: tuple[Expr, ...] = ()
    default: Expr | None = None
    span: Span = attrs.field(default=None, eq=False)
    kind_span: Span = attrs.field(default=None, eq=False)
    doc: str = ""


@attrs.frozen
class RuleDef:
    """One ``rule name(params) "doc" { match ... let ... where ... rewrite ... }``."""

    name: str
    doc: str | None
    match: PatternExpr
    lets: tuple[Let, ...]
    wheres: tuple[Where, ...]
    rewrite: Template | OutputsTemplate
    span: Span = attrs.field(eq=False)
    summary: str = ""  # "match-text -> rewrite-text", the doc when none is written
    params: tuple[ParamDef, ...] = ()
    nodes: tuple[LetNode, ...] = ()  # node-valued lets, in the order written
    declarations: tuple[Declaration, ...] = ()  # lossy(...), tested(...)


@attrs.frozen
class MemberRef:
    """A rule or group named inside a group."""

    name: str
    span: Span = attrs.field(eq=False)


@attrs.frozen
class GroupDef:
    """``group name "doc" { members }``; members are names or rules defined inline."""

    name: str
    doc: str | None
    members: tuple[MemberRef, ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class StepRef:
    """A schedule step: run rule or group *name* to its fixed point, or in one round (*once*)."""

    name: str
    once: bool
    span: Span = attrs.field(eq=False)


@attrs.frozen
class RepeatStep:
    """``repeat { ... }``: run *steps* in order until a whole pass changes nothing."""

    steps: tuple[ScheduleStep, ...]
    span: Span = attrs.field(eq=False)


ScheduleStep = StepRef | RepeatStep


@attrs.frozen
class ScheduleDef:
    """``schedule name "doc" { steps }``."""

    name: str
    doc: str | None
    steps: tuple[ScheduleStep, ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class RuleFile:
    """A parsed file: its rules and groups in the order written, and the text for errors."""

    source: str
    text: str = attrs.field(repr=False)
    rules: tuple[RuleDef, ...] = ()
    groups: tuple[GroupDef, ...] = ()
    order: tuple[str, ...] = ()  # every rule, group and schedule name, in file order
    schedules: tuple[ScheduleDef, ...] = ()
