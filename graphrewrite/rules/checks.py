"""Semantic checks of one rule: names, functions, and (with validation) TF's op registry.

Every problem becomes a located :class:`Diagnostic`; the compiler reports all of a file's
problems together. Checks that need TensorFlow (op names, attribute names, arity, attribute
value types) run only when ``validate`` is true; name and function checks always run.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from graphrewrite.engine.errors import Diagnostic, Span, suggest
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules.functions import FUNCTIONS


@attrs.frozen
class BindingInfo:
    """What the pattern binds to a name: a node (with its op alternatives) or a tensor.

    *parent* is the (possibly internal) binding of the pattern node that reads it, and *index*
    the input position there; *port* is the output of a bound node the parent reads.
    """

    name: str
    is_node: bool
    ops: tuple[str, ...] | None
    parent: str | None
    index: int
    port: int
    span: Span = attrs.field(eq=False)
    is_list: bool = False  # ``*xs``: a list of tensors, only spread in a rewrite


def literal_value(expr: A.Expr) -> Any:
    """The value of a literal expression (numbers, strings, booleans, lists); ValueError if not."""
    if isinstance(expr, A.Literal):
        return expr.value
    if isinstance(expr, A.ListExpr):
        return [literal_value(i) for i in expr.items]
    if isinstance(expr, A.Unary) and expr.op == "-":
        value = literal_value(expr.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    raise ValueError("not a literal")


class Checker:
    """Collects diagnostics for one rule. *bindings* come from the pattern compiler."""

    def __init__(self, bindings: Mapping[str, BindingInfo], *, validate: bool):
        self.bindings = bindings
        self.validate = validate
        self.diagnostics: list[Diagnostic] = []

    def error(self, span: Span, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(span, message, hint))

    # -- ops and attributes (registry) --

    def op_def(self, op: str, span: Span, *, report: bool = True) -> Any:
        """The OpDef of *op*, reporting an unknown op; None when not validating or unknown."""
        if not self.validate:
            return None
        from graphrewrite import _tf

        found = _tf.op_def(op)
        if found is None and report:
            self.error(span, f"unknown op '{op}'", suggest(op, _tf.registered_ops()))
        return found

    def attribute(self, op_def: Any, name: str, span: Span) -> Any:
        """The attr spec *name* of *op_def*, reporting it when missing (``_``-names are free)."""
        if op_def is None or name.startswith("_"):
            return None
        spec = next((a for a in op_def.attr if a.name == name), None)
        if spec is None:
            self.error(
                span, f"op '{op_def.name}' has no attribute '{name}'", suggest(name, [a.name for a in op_def.attr])
            )
        return spec

    def arity(self, op: str, count: int, span: Span, *, variadic: bool = False) -> None:
        if not self.validate:
            return
        from graphrewrite.rules.typeinfer import arity

        bounds = arity(op)
        if bounds is None:
            return
        low, high = bounds
        if (count < low and not variadic) or (high is not None and count > high):
            wanted = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            self.error(span, f"{op} takes {wanted} input{'' if wanted == '1' else 's'}, not {count}")

    def attr_value(self, op: str, setting: A.AttrSetting, value: Any) -> None:
        if not self.validate or setting.name.startswith("_"):
            return
        from graphrewrite.rules.typeinfer import coerce

        try:
            coerce(op, setting.name, value)
        except ValueError as exc:
            self.error(setting.value.span, str(exc))

    # -- patterns --

    def pattern(self, pattern: A.PatternExpr) -> None:
        if isinstance(pattern, A.Wildcard):
            if pattern.each is not None:
                self.pattern(pattern.each)
            return
        inputs = pattern.inputs or ()
        rests = [p for p in inputs if isinstance(p, A.Wildcard) and p.rest]
        for before, after in itertools.pairwise(inputs):
            if all(isinstance(p, A.Wildcard) and p.rest for p in (before, after)):
                self.error(after.span, "two *lists side by side: where one ends and the next begins is arbitrary")
        if rests and pattern.variadic:
            self.error(rests[0].span, "a *list and a trailing ... cannot share an input list")
        for op, span in zip(pattern.ops, pattern.op_spans, strict=True):
            op_def = self.op_def(op, span)
            if pattern.inputs is not None and op_def is not None:
                variadic = pattern.variadic or bool(rests)
                self.arity(op, len(pattern.inputs) - len(rests), pattern.span, variadic=variadic)
            for setting in pattern.attributes:
                if self.attribute(op_def, setting.name, setting.span) is not None:
                    self._pattern_attr(op, setting)
        if all(op == "Const" for op in pattern.ops) and pattern.inputs:
            self.error(pattern.span, "a Const has no inputs; write it without parentheses")
        for child in pattern.inputs or ():
            self.pattern(child)

    def element_scopes(self, root: A.PatternExpr) -> None:
        """A name bound inside a ``*fs: ...`` element pattern is one value per listed input,
        so it may not also be bound outside it (nor inside another list's element pattern)."""
        outside: list[str] = []
        inside: list[tuple[str, A.Wildcard]] = []
        _scan_names(root, outside, inside, None)
        seen: dict[str, A.Wildcard] = {}
        for name, rest in inside:
            if name in outside or (name in seen and seen[name] is not rest):
                self.error(rest.span, f"'{name}' is bound inside the element pattern of *{rest.name} and elsewhere; "
                           "inside, it names one value per listed input")  # fmt: skip
            seen.setdefault(name, rest)

    def _pattern_attr(self, op: str, setting: A.AttrSetting) -> None:
        try:
            value = literal_value(setting.value)
        except ValueError:
            self.error(setting.value.span, f"the value of '{setting.name}' in a pattern must be a literal")
            return
        self.attr_value(op, setting, value)

    def _template_attr(self, op: str, setting: A.AttrSetting) -> None:
        try:
            value = literal_value(setting.value)
        except ValueError:
            return  # computed per match; checked when the rule runs
        self.attr_value(op, setting, value)

    # -- expressions --

    def expr(self, expr: A.Expr, names: Collection[str]) -> None:
        """Check *expr*, where *names* are the let names visible to it."""
        if isinstance(expr, A.Name):
            if expr.id not in self.bindings and expr.id not in names:
                known = [*self.bindings, *names]
                self.error(expr.span, f"'{expr.id}' is not bound by the pattern or a let", suggest(expr.id, known))
        elif isinstance(expr, A.Call):
            self._call(expr, names)
        elif isinstance(expr, A.GetAttr):
            self._getattr(expr, names)
        elif isinstance(expr, A.Binary):
            self.expr(expr.left, names)
            self.expr(expr.right, names)
        elif isinstance(expr, A.Unary):
            self.expr(expr.operand, names)
        elif isinstance(expr, A.Index):
            for part in (expr.obj, expr.start, expr.stop):
                if part is not None:
                    self.expr(part, names)
        elif isinstance(expr, A.ListExpr):
            for item in expr.items:
                self.expr(item, names)

    def _call(self, call: A.Call, names: Collection[str]) -> None:
        function = FUNCTIONS.get(call.func)
        if function is None:
            self.error(call.span, f"unknown function '{call.func}'", suggest(call.func, FUNCTIONS))
        else:
            count = len(call.args) + len(call.kwargs)
            if not function.min_args <= count <= function.max_args:
                wanted = (
                    str(function.min_args) if function.min_args == function.max_args
                    else f"{function.min_args} to {function.max_args}"
                )  # fmt: skip
                self.error(call.span, f"{call.func}() takes {wanted} argument{'' if wanted == '1' else 's'}, not {count}")
            for key, value in call.kwargs:
                if key not in function.keywords:
                    known = ", ".join(function.keywords) or "none"
                    self.error(value.span, f"{call.func}() has no argument '{key}' (keywords: {known})")
        for arg in (*call.args, *(v for _, v in call.kwargs)):
            self.expr(arg, names)

    def _getattr(self, expr: A.GetAttr, names: Collection[str]) -> None:
        if not isinstance(expr.obj, A.Name):
            self.error(expr.span, f"'.{expr.attr}' reads an attribute of a bound node; put a node name before it")
            return
        info = self.bindings.get(expr.obj.id)
        if info is None:
            self.expr(expr.obj, names)
            return
        if not info.is_node:
            self.error(
                expr.obj.span,
                f"'{info.name}' is bound to a tensor, not a node; bind a node (name: Op) to read '.{expr.attr}'",
            )
            return
        for op in info.ops or ():
            self.attribute(self.op_def(op, info.span, report=False), expr.attr, expr.attr_span or expr.span)

    # -- templates --

    def template(self, template: A.Template | A.SpreadTemplate | A.OutputsTemplate, names: Collection[str]) -> None:
        if isinstance(template, A.OutputsTemplate):
            for item in template.items:
                self.template(item, names)
        elif isinstance(template, A.SpreadTemplate):
            info = self.bindings.get(template.name)
            if info is None or not info.is_list:
                what = "a single value" if info is not None else "not bound by the pattern"
                self.error(template.span, f"'*{template.name}' spreads a list binding (*{template.name} in the pattern); "
                           f"'{template.name}' is {what}")  # fmt: skip
        elif isinstance(template, A.TensorTemplate):
            if self.bindings.get(template.name) is not None and self.bindings[template.name].is_list:
                self.error(template.span, f"'{template.name}' is a list of tensors; write *{template.name} to spread it")
            elif template.name not in self.bindings:
                hint = (
                    f"'{template.name}' is a let value; write const({template.name}) to make it a tensor"
                    if template.name in names else suggest(template.name, self.bindings)
                )  # fmt: skip
                self.error(template.span, f"'{template.name}' is not bound by the pattern", hint)
        elif isinstance(template, A.ConstTemplate):
            self.expr(template.expr, names)
        else:
            self._node_template(template, names)

    def _node_template(self, template: A.NodeTemplate, names: Collection[str]) -> None:
        if template.like is not None:
            info = self.bindings.get(template.like)
            ops: tuple[str, ...] = ()
            if info is None or not info.is_node:
                what = "is bound to a tensor" if info is not None else "is not bound by the pattern"
                self.error(template.span, f"'{template.like}' {what}; only a bound node can be re-made as name(...)")
            elif info.is_list != (template.element is not None):
                message = (
                    f"'{template.like}' is a list of nodes; re-make one of them as {template.like}[0](...)"
                    if info.is_list else f"'{template.like}' is one node, not a list; write {template.like}(...)"
                )  # fmt: skip
                self.error(template.span, message)
            else:
                ops = info.ops or ()
        else:
            ops = (str(template.op),)
        for op in ops:
            op_def = self.op_def(op, template.span, report=template.like is None)
            if op_def is not None:
                spreads = any(isinstance(t, A.SpreadTemplate) for t in template.inputs)
                self.arity(op, len(template.inputs), template.span, variadic=spreads)
            for setting in template.attributes:
                if self.attribute(op_def, setting.name, setting.span) is not None:
                    self._template_attr(op, setting)
        for setting in template.attributes:
            self.expr(setting.value, names)
        if template.name is not None:
            self.expr(template.name, names)
        for child in template.inputs:
            self.template(child, names)


def _scan_names(
    pattern: A.PatternExpr, outside: list[str], inside: list[tuple[str, A.Wildcard]], rest: A.Wildcard | None
) -> None:
    """The names *pattern* binds: outside element patterns, and inside them with their list."""
    name = pattern.name if isinstance(pattern, A.Wildcard) else pattern.bind
    if name is not None and name != "_":
        if rest is None:
            outside.append(name)
        else:
            inside.append((name, rest))
    if isinstance(pattern, A.Wildcard):
        if pattern.each is not None:
            _scan_names(pattern.each, outside, inside, pattern)
        return
    for child in pattern.inputs or ():
        _scan_names(child, outside, inside, rest)
