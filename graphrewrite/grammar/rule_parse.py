"""Parse rule files: lark tree -> frozen AST values (:mod:`graphrewrite.grammar.rule_ast`).

``parse_rules(text, source=...)`` returns a :class:`RuleFile` or raises
:class:`~graphrewrite.engine.errors.LanguageError` with a caret under the offending token and,
for a misspelt keyword, a did-you-mean hint. Parsing never imports TensorFlow.
"""

from __future__ import annotations

import ast as py_ast
import functools
import importlib.resources
from typing import Any

import lark
from lark import Token, Transformer, v_args

from graphrewrite.engine.errors import LanguageError, Span
from graphrewrite.grammar import rule_ast as A
from graphrewrite.grammar.rule_errors import syntax_diagnostic

KEYWORDS = (
    "rule", "group", "schedule", "once", "repeat", "match", "where", "require", "let", "rewrite", "const",
    "and", "or", "not", "in", "true", "false",
)  # fmt: skip



@functools.cache
def _parser() -> lark.Lark:
    text = importlib.resources.files("graphrewrite.grammar").joinpath("rules.lark").read_text()
    # cache=True: lark keeps the analysed LALR tables in a temp file keyed by the grammar's
    # hash, so `graphrewrite rules` does not rebuild them on every start.
    return lark.Lark(
        text, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=True, cache=True
    )


def parse_rules(text: str, *, source: str = "<rules>") -> A.RuleFile:
    """The AST of rule file *text*; *source* names the file in error messages."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise LanguageError([syntax_diagnostic(exc, source, _parser().terminals, KEYWORDS)], text) from None
    items: list[Any] = _ToAst(source, text).transform(tree)
    rules: list[A.RuleDef] = []
    groups: list[A.GroupDef] = []
    schedules: list[A.ScheduleDef] = []
    order: list[str] = []
    for item in items:
        if isinstance(item, A.RuleDef):
            rules.append(item)
            order.append(item.name)
        elif isinstance(item, A.ScheduleDef):
            schedules.append(item)
            order.append(item.name)
        else:
            group, inline = item
            rules.extend(inline)
            order.extend(r.name for r in inline)
            groups.append(group)
            order.append(group.name)
    return A.RuleFile(source, text, tuple(rules), tuple(groups), tuple(order), tuple(schedules))


# ---- tree -> AST ---------------------------------------------------------------------------


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _binary_method(op: str) -> Any:
    """A transformer method building ``Binary(op, left, right)``."""

    def method(self: _ToAst, meta: Any, c: list[Any]) -> A.Binary:
        return self._expr(A.Binary(op, c[0], c[1], self._span(meta)), meta)

    return method


@v_args(meta=True)
class _ToAst(Transformer):  # type: ignore[type-arg]
    """Bottom-up conversion; remembers each expression's source offsets for clause texts."""

    def __init__(self, source: str, text: str):
        super().__init__()
        self.source = source
        self.text = text
        self.offsets: dict[int, tuple[int, int]] = {}

    # -- spans --

    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", False):
            return Span(self.source, 1, 1)
        return self._make_span(meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, token: Token) -> Span:
        return self._make_span(token.line or 1, token.column or 1, token.end_line, token.end_column)

    def _make_span(self, line: int, column: int, end_line: int | None, end_column: int | None) -> Span:
        if end_line == line and end_column is not None:
            length = end_column - column
        else:
            lines = self.text.splitlines()
            length = len(lines[line - 1]) - column + 1 if line <= len(lines) else 1
        return Span(self.source, line, column, max(1, length))

    def _expr(self, node: Any, meta: Any) -> Any:
        if not getattr(meta, "empty", False):
            self.offsets[id(node)] = (meta.start_pos, meta.end_pos)
        return node

    def _source_text(self, node: Any) -> str:
        start, end = self.offsets.get(id(node), (0, 0))
        return _collapse(self.text[start:end])

    def _template_text(self, template: Any) -> str:
        if isinstance(template, A.OutputsTemplate):
            return "(" + ", ".join(self._template_text(i) for i in template.items) + ")"
        if isinstance(template, A.SpreadTemplate):
            return f"*{template.name}"
        return self._source_text(template)

    # -- file structure --

    def start(self, meta: Any, items: list[Any]) -> list[Any]:
        return items

    def rule(self, meta: Any, children: list[Any]) -> A.RuleDef:
        name, params, doc, *rest, rewrite = children
        declarations = tuple(c for c in rest if isinstance(c, A.Declaration))
        match, *clauses = rest[len(declarations) :]
        lets = tuple(c for c in clauses if isinstance(c, A.Let))
        nodes = tuple(c for c in clauses if isinstance(c, A.LetNode))
        wheres = tuple(w for c in clauses if isinstance(c, list) for w in c)
        summary = f"{self._source_text(match)} -> {self._template_text(rewrite)}"
        return A.RuleDef(
            str(name), doc, match, lets, wheres, rewrite, self._tspan(name), summary, tuple(params or ()), nodes,
            declarations,
        )  # fmt: skip

    def declaration(self, meta: Any, children: list[Any]) -> A.Declaration:
        name, *rest = children
        args = _present(rest)
        positional = tuple(a for a in args if not isinstance(a, tuple))
        keywords = tuple(a for a in args if isinstance(a, tuple))
        return A.Declaration(str(name), positional, keywords, self._tspan(name))

    def params(self, meta: Any, children: list[Any]) -> tuple[A.ParamDef, ...]:
        return _present(children)

    def param(self, meta: Any, children: list[Any]) -> A.ParamDef:
        name, kind, choices, default, doc = children
        return A.ParamDef(
            str(name), str(kind), tuple(choices or ()), default, self._tspan(name), self._tspan(kind), doc or ""
        )

    def choices(self, meta: Any, children: list[Any]) -> tuple[Any, ...]:
        return tuple(children)

    def schedule(self, meta: Any, children: list[Any]) -> A.ScheduleDef:
        name, doc, *steps = children
        return A.ScheduleDef(str(name), doc, tuple(steps), self._tspan(name))

    def fixpoint_step(self, meta: Any, children: list[Token]) -> A.StepRef:
        return A.StepRef(str(children[0]), False, self._tspan(children[0]))

    def once_step(self, meta: Any, children: list[Token]) -> A.StepRef:
        return A.StepRef(str(children[0]), True, self._tspan(children[0]))

    def repeat_step(self, meta: Any, children: list[Any]) -> A.RepeatStep:
        return A.RepeatStep(tuple(children), self._span(meta))

    def let_node(self, meta: Any, children: list[Any]) -> A.LetNode:
        name, template = children
        return A.LetNode(str(name), template, self._tspan(name))

    def group(self, meta: Any, children: list[Any]) -> tuple[A.GroupDef, list[A.RuleDef]]:
        name, doc, *members = children
        inline = [m for m in members if isinstance(m, A.RuleDef)]
        refs = tuple(m if isinstance(m, A.MemberRef) else A.MemberRef(m.name, m.span) for m in members)
        return A.GroupDef(str(name), doc, refs, self._tspan(name)), inline

    def member_ref(self, meta: Any, children: list[Any]) -> A.MemberRef:
        return A.MemberRef(str(children[0]), self._tspan(children[0]))

    def doc(self, meta: Any, children: list[Any]) -> str:
        return _string(children[0])

    def match_clause(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def rewrite_clause(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def rewrite_outputs(self, meta: Any, children: list[Any]) -> A.OutputsTemplate:
        return A.OutputsTemplate(tuple(children), self._span(meta))

    def let_clause(self, meta: Any, children: list[Any]) -> A.Let:
        name, value = children
        return A.Let(str(name), value, self._tspan(name))

    def require_clause(self, meta: Any, children: list[Any]) -> list[A.Where]:
        """A condition whose failure is an error, not a refusal: one Where, never split."""
        return [A.Where(children[0], self._source_text(children[0]), children[0].span, required=True)]

    def where_clause(self, meta: Any, children: list[Any]) -> list[A.Where]:
        """One Where per operand of the top-level ``and`` chain, so a refusal names it."""
        parts: list[Any] = []
        stack = [children[0]]
        while stack:
            node = stack.pop()
            if isinstance(node, A.Binary) and node.op == "and":
                stack += [node.right, node.left]
            else:
                parts.append(node)
        return [A.Where(p, self._source_text(p), p.span) for p in parts]

    # -- patterns --

    def binding(self, meta: Any, children: list[Any]) -> A.OpPattern:
        name, pattern = children
        return self._expr(
            A.OpPattern(
                pattern.ops, pattern.op_spans, str(name), pattern.attributes, pattern.inputs,
                pattern.variadic, pattern.port, self._span(meta),
            ),
            meta,
        )

    def wildcard(self, meta: Any, children: list[Any]) -> A.Wildcard:
        return self._expr(A.Wildcard(str(children[0]), self._tspan(children[0])), meta)

    def op_pattern(self, meta: Any, children: list[Any]) -> A.OpPattern:
        ops, attributes, args, port = children
        inputs, variadic = args if args is not None else (None, False)
        return self._expr(
            A.OpPattern(
                tuple(str(t) for t in ops), tuple(self._tspan(t) for t in ops), None,
                tuple(attributes or ()), inputs, variadic, port, self._span(meta),
            ),
            meta,
        )

    def ops(self, meta: Any, children: list[Token]) -> list[Token]:
        return children

    def pattern_args(self, meta: Any, children: list[Any]) -> tuple[tuple[Any, ...], bool]:
        variadic = bool(children) and isinstance(children[-1], Token) and children[-1].type == "ELLIPSIS"
        return tuple(c for c in children if c is not None and not isinstance(c, Token)), variadic

    def rest_pattern(self, meta: Any, children: list[Token]) -> A.Wildcard:
        return self._expr(A.Wildcard(str(children[0]), self._tspan(children[0]), rest=True), meta)

    def rest_each_pattern(self, meta: Any, children: list[Any]) -> A.Wildcard:
        name, each = children
        return self._expr(A.Wildcard(str(name), self._tspan(name), rest=True, each=each), meta)

    def spread_template(self, meta: Any, children: list[Token]) -> A.SpreadTemplate:
        return self._expr(A.SpreadTemplate(str(children[0]), self._tspan(children[0])), meta)

    def port(self, meta: Any, children: list[Token]) -> int:
        return int(children[0])

    def attr_list(self, meta: Any, children: list[A.AttrSetting]) -> tuple[A.AttrSetting, ...]:
        return tuple(children)

    def attr_set(self, meta: Any, children: list[Any]) -> A.AttrSetting:
        name, value = children
        return A.AttrSetting(str(name), value, self._tspan(name))

    # -- templates --

    def tensor_template(self, meta: Any, children: list[Any]) -> A.TensorTemplate:
        name, port = children
        return self._expr(A.TensorTemplate(str(name), self._tspan(name), port), meta)

    def new_node(self, meta: Any, children: list[Any]) -> A.NodeTemplate:
        op, attributes, *inputs, named = children
        node = A.NodeTemplate(
            str(op), None, tuple(attributes or ()), _present(inputs), self._tspan(op), name=_named(named)
        )
        return self._expr(node, meta)

    def recreate(self, meta: Any, children: list[Any]) -> A.NodeTemplate:
        name, element, attributes, *inputs, named = children
        node = A.NodeTemplate(
            None, str(name), tuple(attributes or ()), _present(inputs), self._tspan(name), element, _named(named)
        )
        return self._expr(node, meta)

    def node_name(self, meta: Any, children: list[Any]) -> _NodeName:
        return _NodeName(children[0])

    def element(self, meta: Any, children: list[Token]) -> int:
        return int(children[0])

    def const_template(self, meta: Any, children: list[Any]) -> A.ConstTemplate:
        return self._expr(A.ConstTemplate(children[0], self._span(meta)), meta)

    # -- expressions --

    def or_(self, meta: Any, c: list[Any]) -> A.Binary:
        return self._expr(A.Binary("or", c[0], c[1], self._span(meta)), meta)

    def and_(self, meta: Any, c: list[Any]) -> A.Binary:
        return self._expr(A.Binary("and", c[0], c[1], self._span(meta)), meta)

    def not_(self, meta: Any, c: list[Any]) -> A.Unary:
        return self._expr(A.Unary("not", c[0], self._span(meta)), meta)

    def neg(self, meta: Any, c: list[Any]) -> A.Unary:
        return self._expr(A.Unary("-", c[0], self._span(meta)), meta)

    def compare(self, meta: Any, c: list[Any]) -> A.Binary:
        return self._expr(A.Binary(str(c[1]), c[0], c[2], self._span(meta)), meta)

    add = _binary_method("+")
    sub = _binary_method("-")
    mul = _binary_method("*")
    div = _binary_method("/")
    mod = _binary_method("%")
    pow = _binary_method("**")

    def getattr(self, meta: Any, c: list[Any]) -> A.GetAttr:
        return self._expr(A.GetAttr(c[0], str(c[1]), self._span(meta), self._tspan(c[1])), meta)

    def index(self, meta: Any, c: list[Any]) -> A.Index:
        obj, sub = c
        if isinstance(sub, tuple):
            return self._expr(A.Index(obj, sub[0], sub[1], True, self._span(meta)), meta)
        return self._expr(A.Index(obj, sub, None, False, self._span(meta)), meta)

    def slice(self, meta: Any, c: list[Any]) -> tuple[Any, Any]:
        return c[0], c[1]

    def call(self, meta: Any, c: list[Any]) -> A.Call:
        name, *rest = c
        args = _present(rest)
        positional = tuple(a for a in args if not isinstance(a, tuple))
        keywords = tuple(a for a in args if isinstance(a, tuple))
        return self._expr(A.Call(str(name), positional, keywords, self._tspan(name)), meta)

    def kwarg(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return str(c[0]), c[1]

    def int_(self, meta: Any, c: list[Token]) -> A.Literal:
        return self._expr(A.Literal(int(c[0]), self._tspan(c[0])), meta)

    def float_(self, meta: Any, c: list[Token]) -> A.Literal:
        return self._expr(A.Literal(float(c[0]), self._tspan(c[0])), meta)

    def string(self, meta: Any, c: list[Token]) -> A.Literal:
        return self._expr(A.Literal(_string(c[0]), self._tspan(c[0])), meta)

    def name(self, meta: Any, c: list[Token]) -> A.Name:
        return self._expr(A.Name(str(c[0]), self._tspan(c[0])), meta)

    def true(self, meta: Any, c: list[Any]) -> A.Literal:
        return self._expr(A.Literal(True, self._span(meta)), meta)

    def false(self, meta: Any, c: list[Any]) -> A.Literal:
        return self._expr(A.Literal(False, self._span(meta)), meta)

    def list_(self, meta: Any, c: list[Any]) -> A.ListExpr:
        return self._expr(A.ListExpr(_present(c), self._span(meta)), meta)


class _NodeName:
    """``as EXPR`` after a node template, told apart from the template's inputs."""

    def __init__(self, expr: A.Expr):
        self.expr = expr


def _named(found: Any) -> A.Expr | None:
    return found.expr if isinstance(found, _NodeName) else None


def _present(items: list[Any]) -> tuple[Any, ...]:
    """Children without the None placeholders lark adds for an empty ``[...]``."""
    return tuple(i for i in items if i is not None)


def _string(token: Token) -> str:
    value = py_ast.literal_eval(str(token))
    return str(value)
