"""Rule-language AST -> the same ``Rule`` and ``Group`` values the Python stdlib uses.

``compile_rules(rule_file, validate=...)`` checks every rule (:mod:`graphrewrite.rules.checks`),
reports all problems of the file together as one :class:`LanguageError`, and returns the file's
transforms in the order written. A compiled rule's guard evaluates its ``where`` conditions in
order and refuses with ``where <condition> is false`` (or the evaluation error) naming the
first that fails; its builder turns the ``rewrite`` template into a Rewrite
(:mod:`graphrewrite.rules.template`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import attrs

from graphrewrite.engine.errors import Diagnostic, LanguageError, RuleError, suggest
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.pattern import Match, Op, Pattern, Tensor
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules.checks import BindingInfo, Checker, literal_value
from graphrewrite.rules.closures import Closure, Compiled
from graphrewrite.rules.declarations import compile_facts, script_text
from graphrewrite.rules.expr import Bound, BoundList, Env, EvalError
from graphrewrite.rules.functions import FUNCTIONS
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Group, Rule, Transform
from graphrewrite.rules.schedules import compile_schedules
from graphrewrite.rules.template import CompiledTemplate

_new_ref = tuple.__new__  # a TensorRef without NamedTuple's argument handling: one per binding per match
INTERNAL = "%"  # prefix of the bindings the compiler gives unnamed pattern nodes


@attrs.define(eq=False)
class Program:
    """A compiled rule's parts that run per match: bindings, lets, conditions, template.

    Every expression is compiled to a closure once, here (see :mod:`graphrewrite.rules.closures`).
    """

    name: str
    bindings: Mapping[str, BindingInfo]
    lets: Mapping[str, A.Expr]
    wheres: tuple[A.Where, ...]
    rewrite: A.Template | A.OutputsTemplate
    nodes: Mapping[str, A.NodeTemplate] = attrs.field(factory=dict)  # node-valued lets
    _last: tuple[Any, ...] = ()  # (match, graph, env): guard and builder share one Env
    _compiled: Compiled = attrs.field(init=False)
    _conditions: tuple[tuple[str, bool, Closure], ...] = attrs.field(init=False)
    # (name, port, is_node, parent, index) of each named binding: read for every match
    _slots: tuple[tuple[str, int, bool, str | None, int], ...] = attrs.field(init=False)
    _template: CompiledTemplate = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._compiled = Compiled(self.lets, FUNCTIONS)
        for expr in self.lets.values():
            self._compiled.closure(expr)
        self._template = CompiledTemplate(self.name, self.rewrite, self.nodes, self._compiled, self.lets)
        self._conditions = tuple((w.text, w.required, self._compiled.closure(w.expr)) for w in self.wheres)
        self._slots = tuple(
            (n, info.port, info.is_node, info.parent, info.index)
            for n, info in self.bindings.items()
            if not n.startswith(INTERNAL)
        )

    def env(self, match: Match, graph: Graph, ctx: Any) -> Env:
        if self._last and self._last[0] is match and self._last[1] is graph:
            return self._last[2]  # type: ignore[no-any-return]
        bound: dict[str, Bound | BoundList] = {}
        bindings = match.bindings
        for name, port, is_node, parent, index in self._slots:
            value: Any = bindings.get(name)  # a Node, a TensorRef or a list (checked by class below)
            if value is None:
                continue
            node: Node | None
            kind = value.__class__
            if kind is Node:
                ref, node = _new_ref(TensorRef, (value.name, port)), value
            elif kind is TensorRef:
                ref, node = value, graph.get(value.node)
            else:  # a *list, or a name inside a *list's element pattern
                bound[name] = BoundList(Bound(name, r, graph.get(r.node), is_node) for r in value)
                continue
            consumer = bindings.get(parent) if parent else None
            bound[name] = Bound(name, ref, node, is_node, consumer if consumer.__class__ is Node else None, index)
        env = Env(bound, self.lets, FUNCTIONS, graph, ctx, self._compiled)
        self._last = (match, graph, env)
        return env

    def guard(self, match: Match, graph: Graph, ctx: Any) -> str | None:
        """None when every condition holds, else the first failure as a reason; a failed
        ``require`` is a RuleError naming the rule and the node instead."""
        env = self.env(match, graph, ctx)
        for text, required, condition in self._conditions:
            keyword = "require" if required else "where"
            try:
                holds = env.truth(condition(env))
            except EvalError as exc:
                reason = f"{keyword} {text}: {exc}"
            else:
                if holds:
                    continue
                reason = f"{keyword} {text} is false"
            if required:
                raise RuleError(f"{self.name}: at '{match.root}': {reason}")
            return reason
        return None

    def build(self, match: Match, graph: Graph, ctx: Any) -> Rewrite | str:
        env = self.env(match, graph, ctx)
        try:
            return self._template.build(env, match, graph)
        finally:
            self._last = ()


class _PatternCompiler:
    """AST pattern -> engine pattern, collecting what each name is bound to."""

    def __init__(self) -> None:
        self.bindings: dict[str, BindingInfo] = {}
        self.count = 0
        self.in_list = False  # compiling a ``*fs: ...`` element pattern: its names are lists

    def compile(self, pattern: A.PatternExpr, parent: str | None = None, index: int = 0) -> Pattern:
        if isinstance(pattern, A.Wildcard):
            each = self._each(pattern.each) if pattern.each is not None else None
            if pattern.name != "_" and pattern.name not in self.bindings:
                self.bindings[pattern.name] = BindingInfo(
                    pattern.name, each is not None, pattern.each.ops if pattern.each else None, parent, index, 0,
                    pattern.span, is_list=pattern.rest or self.in_list,
                )  # fmt: skip
            return Tensor(None if pattern.name == "_" else pattern.name, pattern.span, rest=pattern.rest, each=each)
        bind = pattern.bind
        if bind is None:
            self.count += 1
            bind = f"{INTERNAL}{self.count}"
        if bind not in self.bindings:
            port = pattern.port or 0
            self.bindings[bind] = BindingInfo(
                bind, True, pattern.ops, parent, index, port, pattern.span, is_list=self.in_list
            )
        inputs = None
        if pattern.inputs is not None:
            inputs = tuple(self.compile(p, bind, i) for i, p in enumerate(pattern.inputs))
        attributes = []
        for setting in pattern.attributes:
            with contextlib.suppress(ValueError):  # a non-literal is reported by the checker
                attributes.append((setting.name, literal_value(setting.value)))
        return Op(
            frozenset(pattern.ops), inputs, bind, tuple(attributes), pattern.variadic,
            0 if pattern.port is None else pattern.port, None, pattern.span,
        )  # fmt: skip

    def _each(self, pattern: A.OpPattern) -> Op:
        outer, self.in_list = self.in_list, True
        try:
            compiled = self.compile(pattern)
        finally:
            self.in_list = outer
        assert isinstance(compiled, Op)
        return compiled


def compile_rule(rule_def: A.RuleDef, *, validate: bool = True) -> tuple[Rule | None, list[Diagnostic]]:
    """One rule, or None and the diagnostics that stop it from compiling."""
    patterns = _PatternCompiler()
    pattern = patterns.compile(rule_def.match)
    checker = Checker(patterns.bindings, validate=validate)
    if isinstance(rule_def.match, A.Wildcard):
        checker.error(rule_def.match.span, f"a rule must match an op at its root, not the tensor '{rule_def.match.name}'")
    checker.pattern(rule_def.match)
    checker.element_scopes(rule_def.match)
    params = [p for p in (compile_param(d, checker) for d in rule_def.params) if p is not None]
    # A parameter is a let whose value comes from the step's arguments.
    lets: dict[str, A.Expr] = {p.name: _param_expr(d) for p, d in zip(params, rule_def.params, strict=False)}
    facts = compile_facts(rule_def.declarations, tuple(params), dict(lets), checker)
    for let in rule_def.lets:
        checker.expr(let.expr, lets)
        if let.name in patterns.bindings or let.name in lets:
            checker.error(let.span, f"'{let.name}' is already bound; a let needs a new name")
        lets[let.name] = let.expr
    nodes = {}
    for let_node in rule_def.nodes:
        checker.template(let_node.template, lets)
        if let_node.name in patterns.bindings or let_node.name in lets:
            checker.error(let_node.span, f"'{let_node.name}' is already bound; a let needs a new name")
        patterns.bindings[let_node.name] = BindingInfo(
            let_node.name, True, (str(let_node.template.op),), None, 0, 0, let_node.span
        )
        nodes[let_node.name] = let_node.template
    for where in rule_def.wheres:
        checker.expr(where.expr, lets)
    checker.template(rule_def.rewrite, lets)
    if isinstance(rule_def.rewrite, A.NodeTemplate) and rule_def.rewrite.name is not None:
        checker.error(rule_def.rewrite.span, "the rewrite's root takes the matched root's name; 'as' names other new nodes")
    if checker.diagnostics:
        return None, checker.diagnostics
    program = Program(rule_def.name, patterns.bindings, lets, rule_def.wheres, rule_def.rewrite, nodes)
    rule = Rule(
        rule_def.name,
        rule_def.doc or rule_def.summary,
        pattern,
        program.build,
        program.guard if rule_def.wheres else None,
        tuple(params),
        source=rule_def.span,
        facts=facts,
    )
    return rule, []


def compile_param(param: A.ParamDef, checker: Checker) -> Param | None:
    """``name: kind [in [...]] [= default]`` as a Param, or None after reporting a problem."""
    kinds = {k.value: k for k in Kind}
    kind = kinds.get(param.kind)
    if kind is None:
        checker.error(param.kind_span, f"unknown parameter type '{param.kind}'", suggest(param.kind, kinds))
        return None
    declared = Param(param.name, kind, doc=param.doc)
    try:
        choices = tuple(declared.convert(script_text(literal_value(c))) for c in param.choices)
        declared = attrs.evolve(declared, choices=choices)
        default = None if param.default is None else declared.convert(script_text(literal_value(param.default)))
    except ValueError as exc:
        checker.error(param.span, f"parameter '{param.name}': {exc}")
        return None
    return attrs.evolve(declared, default=default, required=param.default is None)


def _param_expr(param: A.ParamDef) -> A.Expr:
    default = param.default if param.default is not None else A.Literal(None, param.span)
    return A.Call("param", (A.Literal(param.name, param.span), default), (), param.span)


def compile_rules(rule_file: A.RuleFile, *, validate: bool = True) -> tuple[Transform, ...]:
    """Every rule and group of *rule_file*, in file order; LanguageError lists all problems."""
    diagnostics: list[Diagnostic] = []
    rules: dict[str, Rule] = {}
    defined: dict[str, Any] = {}
    for rule_def in rule_file.rules:
        if rule_def.name in defined:
            diagnostics.append(Diagnostic(rule_def.span, f"'{rule_def.name}' is defined twice"))
            continue
        defined[rule_def.name] = rule_def
        rule, problems = compile_rule(rule_def, validate=validate)
        diagnostics += problems
        if rule is not None:
            rules[rule_def.name] = rule
    for group in rule_file.groups:
        if group.name in defined:
            diagnostics.append(Diagnostic(group.span, f"'{group.name}' is defined twice"))
        defined.setdefault(group.name, group)
    groups = _compile_groups(rule_file.groups, rules, defined, diagnostics)
    for schedule in rule_file.schedules:
        if schedule.name in defined:
            diagnostics.append(Diagnostic(schedule.span, f"'{schedule.name}' is defined twice"))
        defined.setdefault(schedule.name, schedule)
    schedules = compile_schedules(rule_file.schedules, {**rules, **groups}, defined, diagnostics)
    if diagnostics:
        unique = list({(d.span, d.message): d for d in diagnostics}.values())
        raise LanguageError(unique, rule_file.text)
    by_name: dict[str, Transform] = {**rules, **groups, **schedules}
    return tuple(by_name[name] for name in dict.fromkeys(rule_file.order) if name in by_name)


def _compile_groups(
    groups: tuple[A.GroupDef, ...], rules: Mapping[str, Rule], defined: Mapping[str, Any], diagnostics: list[Diagnostic]
) -> dict[str, Group]:
    by_name = {g.name: g for g in groups}
    out: dict[str, Group] = {}

    def members(group: A.GroupDef, path: tuple[str, ...]) -> list[Rule]:
        found: list[Rule] = []
        for ref in group.members:
            if ref.name in path:
                diagnostics.append(Diagnostic(ref.span, f"group '{group.name}' includes itself through '{ref.name}'"))
            elif ref.name in by_name:
                found += members(by_name[ref.name], (*path, ref.name))
            elif ref.name in rules:
                found.append(rules[ref.name])
            elif ref.name not in defined:  # a rule that failed to compile is reported already
                hint = suggest(ref.name, defined)
                diagnostics.append(Diagnostic(ref.span, f"group '{group.name}' names unknown rule '{ref.name}'", hint))
        return found

    for group in groups:
        if group.name in out:
            continue
        unique = list({r.name: r for r in members(group, (group.name,))}.values())
        out[group.name] = Group(group.name, group.doc or f"rules {', '.join(r.name for r in unique)}", tuple(unique))
    return out
