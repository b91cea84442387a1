"""Parse transform scripts (GTT's ``--transforms`` syntax, plus our extensions) into an AST.

``parse_script(text)`` accepts every string GTT's ``ParseTransformParameters`` accepts, with
the same meaning (see ``transforms.lark``), and also ``#`` comments, free whitespace and
``use "file.rules"``. Where GTT silently drops a transform (``fold_constants(``) or stops with
``Looking for ...``, we raise :class:`LanguageError` with a caret under the culprit. Lark's own
error text never reaches the user: its exceptions are translated here.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import collections
import functools
import re

import attrs
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from graphrewrite.engine.errors import Diagnostic, LanguageError, Span
from graphrewrite.grammar.ast import Arg, Call, Script, Use

_STRING = re.compile(r'"((?:\\[\s\S]|[^"\\])*)"("?\'?)\Z')
_VALUE = re.compile(r"([A-Za-z0-9_./-]+)(\"?'?)\Z")
_WORD_END = re.compile(r"[\s()#]")
_COMMENTED_PAREN = re.compile(r"#[^\n]*\)")


@functools.cache
def _parser() -> Lark:
    return Lark.open("transforms.lark", rel_to=__file__, parser="lalr", propagate_positions=True, cache=True)


def parse_script(text: str, source: str = "<transforms>") -> Script:
    """The calls and ``use`` directives of *text*; LanguageError for any syntax error."""
    tree = _parse_tree(text, source)
    return _Builder(text, source).script(tree)


# --- lark tree -> AST ---------------------------------------------------------------------


class _Builder:
    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.problems: list[Diagnostic] = []

    def script(self, tree: Tree) -> Script:
        calls, uses = [], []
        for item in tree.children:
            if item.data == "call":
                calls.append(self.call(item))
            else:
                uses.append(self.use(item))
        if self.problems:
            raise LanguageError(self.problems, self.text)
        return Script(tuple(calls), tuple(uses), self.source)

    def call(self, tree: Tree) -> Call:
        name = tree.children[0].children[0]
        params = tree.children[1] if len(tree.children) > 1 else None
        end = params.children[-1] if params is not None else name
        args = tuple(self.arg(p) for p in params.children if isinstance(p, Tree)) if params else ()
        return Call(str(name), args, self.span(name, end), self.span(name))

    def arg(self, tree: Tree) -> Arg:
        name, _, value_tree = tree.children
        token = value_tree.children[0]
        pattern = _STRING if token.type == "STRING" else _VALUE
        value = pattern.match(token).group(1)
        return Arg(
            str(name),
            value,
            self.span(name, token),
            name_span=self.span(name),
            value_span=self.span(token),
            quoted=token.type == "STRING",
        )

    def use(self, tree: Tree) -> Use:
        keyword, token = tree.children
        body, stray = _STRING.match(token).groups()
        if stray:
            where = self.span_at(token.end_pos - len(stray), len(stray))
            self.problems.append(Diagnostic(where, f"unexpected {_show(stray[0])} after the path", "remove it"))
        elif not body:
            self.problems.append(Diagnostic(self.span(token), "empty path in 'use'", 'write use "file.rules"'))
        return Use(body, self.span(keyword, token), self.span(token))

    def span(self, first: Token, last: Token | None = None) -> Span:
        """From *first* to the end of *last*, cut at the end of the first line."""
        last = first if last is None else last
        newline = self.text.find("\n", first.start_pos, last.end_pos)
        end = last.end_pos if newline < 0 else newline
        return Span(self.source, first.line, first.column, max(1, end - first.start_pos))

    def span_at(self, pos: int, length: int = 1) -> Span:
        """The span of *length* characters at *pos*, cut at the end of its line."""
        return _span_at(self.text, self.source, pos, length)


def _span_at(text: str, source: str, pos: int, length: int = 1) -> Span:
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    length = max(1, min(length, line_end - pos))
    return Span(source, text.count("\n", 0, pos) + 1, pos - line_start + 1, length)


# --- syntax errors ------------------------------------------------------------------------


class _Tracker:
    """What the parser has read so far: the last few tokens and the open ``(``, if any."""

    def __init__(self) -> None:
        self.recent: collections.deque[Token] = collections.deque(maxlen=6)
        self.open_paren: Token | None = None
        self.call_name: Token | None = None

    def see(self, token: Token) -> None:
        if token.type == "LPAR":
            self.open_paren = token
        elif token.type == "RPAR":
            self.open_paren = None
        elif token.type in ("NAME", "USE") and self.open_paren is None:
            self.call_name = token
        self.recent.append(token)


def _parse_tree(text: str, source: str) -> Tree:
    tracker = _Tracker()
    interactive = _parser().parse_interactive(text)
    pending: Token | None = None
    try:
        # iter_parse yields each token before feeding it: commit a token once the next arrives.
        for token in interactive.iter_parse():
            if pending is not None:
                tracker.see(pending)
            pending = token
        if pending is not None:
            tracker.see(pending)
            pending = None
        return interactive.feed_eof()
    except UnexpectedInput as exc:
        diagnostic = _Syntax(text, source).diagnose(exc, tracker, pending)
    raise LanguageError([diagnostic], text)


@attrs.frozen
class _Culprit:
    """The offending token or character: its type (``CHAR`` for a stray char), text, offset."""

    kind: str
    text: str
    pos: int

    @property
    def shown(self) -> str:
        return "the end of the script" if self.kind == "$END" else _show(self.text)


class _Syntax:
    """Turns a lark exception into one Diagnostic, using what the tracker saw before it."""

    def __init__(self, text: str, source: str):
        self.text, self.source = text, source

    def diagnose(self, exc: UnexpectedInput, tracker: _Tracker, pending: Token | None) -> Diagnostic:
        culprit = self.culprit(exc)
        # The last token lark yielded was fed without error unless it is the culprit itself.
        if pending is not None and pending.start_pos < culprit.pos:
            tracker.see(pending)
        self.tracker = tracker
        self.recent = list(tracker.recent)
        if culprit.kind == "CHAR" and culprit.text == '"':
            return self.at(culprit, "unterminated string", "add the closing '\"'")
        if culprit.kind == "CHAR" and culprit.text == "\\":
            hint = "transforms may continue on the next line without a '\\'"
            return self.at(culprit, "unexpected '\\'", hint if self.text[culprit.pos + 1 : culprit.pos + 2] in ("\n", "\r") else None)
        if self.tracker.open_paren is None:
            return self.between_calls(culprit)
        prev = self.recent[-1]
        if culprit.kind == "$END":
            return self.unclosed(prev)
        if prev.type == "EQUALS":
            return self.after_equals(culprit)
        if prev.type == "NAME":
            return self.after_param_name(culprit, prev)
        return self.in_params(culprit, prev)

    def culprit(self, exc: UnexpectedInput) -> _Culprit:
        if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
            return _Culprit(exc.token.type, str(exc.token), exc.token.start_pos)
        if isinstance(exc, UnexpectedCharacters):
            return _Culprit("CHAR", self.text[exc.pos_in_stream], exc.pos_in_stream)
        assert isinstance(exc, (UnexpectedToken, UnexpectedEOF))
        return _Culprit("$END", "", len(self.text))

    def between_calls(self, culprit: _Culprit) -> Diagnostic:
        prev = self.recent[-1] if self.recent else None
        if culprit.kind == "_COMMA":
            return self.at(culprit, "unexpected ',' between transforms", "separate transforms with spaces or newlines")
        if culprit.kind == "RPAR":
            return self.at(culprit, "unexpected ')' with no '(' open")
        if culprit.kind == "EQUALS" and prev is not None and prev.type == "NAME":
            before = self.recent[-2] if len(self.recent) > 1 else None
            call = str(before) if before is not None and before.type in ("NAME", "USE") else "name"
            hint = f"parameters go in parentheses: {call}({prev}=...)"
            return self.at(culprit, "unexpected '=' between transforms", hint)
        if culprit.kind == "STRING":
            return self.at(culprit, "unexpected string between transforms", "quoted values go inside parentheses: name(param=\"...\")")
        before = self.recent[-2] if len(self.recent) > 1 else None
        if prev is not None and before is not None and before.type == "USE" and prev.end_pos == culprit.pos:
            path = self.word(prev.start_pos)
            return self.at(culprit, f"expected a transform name, found {culprit.shown}", f'double-quote the path: use "{path}"')
        hint = "transform names contain only letters, digits and '_'"
        return self.at(culprit, f"expected a transform name, found {culprit.shown}", hint)

    def after_equals(self, culprit: _Culprit) -> Diagnostic:
        equals, name = self.recent[-1], self.recent[-2]
        if culprit.kind in ("_COMMA", "RPAR", "EQUALS", "LPAR"):
            hint = 'write a value after \'=\', or "" for an empty string'
            return self.at_token(equals, f"missing value for parameter '{name}'", hint)
        word = self.word(culprit.pos)
        hint = f"double-quote values that contain {culprit.shown}: {name}=\"{word}\""
        printable = culprit.text.isprintable()
        return self.at(culprit, f"expected a value for parameter '{name}', found {culprit.shown}", hint if printable else None)

    def after_param_name(self, culprit: _Culprit, name: Token) -> Diagnostic:
        message = f"expected '=' after parameter name '{name}', found {culprit.shown}"
        r = self.recent
        # `shape=1,2,3` reads as shape=1 then a parameter named 2: suggest quoting the list.
        split_list = len(r) >= 5 and r[-2].type == "_COMMA" and r[-3].type == "VALUE" and r[-4].type == "EQUALS"
        if split_list and r[-3].end_pos == r[-2].start_pos and r[-2].end_pos == name.start_pos:
            word = self.word(r[-3].start_pos)
            hint = f"to pass '{word}' as one value, double-quote it: {r[-5]}=\"{word}\""
            return self.at(culprit, message, hint)
        return self.at(culprit, message, f"every parameter needs a value: {name}=...")

    def in_params(self, culprit: _Culprit, prev: Token) -> Diagnostic:
        paren = self.tracker.open_paren
        assert paren is not None
        opened = f"'{self.call_text()}('"
        if culprit.kind == "_COMMA":
            return self.at(culprit, "unexpected ',': two commas in a row", "remove one ','")
        if culprit.kind == "LPAR":
            return self.at(culprit, f"unexpected '(' inside {opened}", "parentheses do not nest; close the first with ')'")
        if prev.type in ("VALUE", "STRING") and prev.end_pos == culprit.pos and culprit.kind != "STRING":
            name = self.recent[-3]
            word = self.word(prev.start_pos)
            hint = f"double-quote values that contain {culprit.shown}: {name}=\"{word}\""
            return self.at(culprit, f"unexpected {culprit.shown} in the value of parameter '{name}'", hint)
        if culprit.kind == "STRING":
            return self.at(culprit, "expected a parameter name, found a string", 'give the value a name: param="..."')
        hint = "parameter names contain only letters, digits and '_'"
        return self.at(culprit, f"expected a parameter name or ')', found {culprit.shown}", hint)

    def unclosed(self, prev: Token) -> Diagnostic:
        """The script ended inside parentheses (GTT silently drops such a transform)."""
        paren = self.tracker.open_paren
        assert paren is not None
        message = f"expected ')' to close '{self.call_text()}(' opened here"
        if _COMMENTED_PAREN.search(self.text, paren.end_pos):
            hint = "the ')' after '#' is part of a comment"
        elif prev.type == "NAME":
            hint = f"'{prev}' is read as a parameter name; add ')' before it, or give it a value"
        elif prev.type == "EQUALS":
            hint = f"'{self.recent[-2]}' also needs a value"
        else:
            hint = "add ')' after the last parameter"
        return self.at_token(paren, message, hint)

    def call_text(self) -> str:
        return str(self.tracker.call_name) if self.tracker.call_name is not None else ""

    def word(self, pos: int) -> str:
        """The text from *pos* to the next space, parenthesis or comment: an intended value."""
        found = _WORD_END.search(self.text, pos)
        return self.text[pos : found.start() if found else len(self.text)].strip("'\"")

    def at(self, culprit: _Culprit, message: str, hint: str | None = None) -> Diagnostic:
        if culprit.kind == "$END":
            pos = max(0, len(self.text.rstrip()) - 1)
            return Diagnostic(_span_at(self.text, self.source, pos), message, hint)
        length = 1 if culprit.kind == "CHAR" else len(culprit.text)
        return Diagnostic(_span_at(self.text, self.source, culprit.pos, length), message, hint)

    def at_token(self, token: Token, message: str, hint: str | None = None) -> Diagnostic:
        span = _span_at(self.text, self.source, token.start_pos, token.end_pos - token.start_pos)
        return Diagnostic(span, message, hint)


def _show(char: str) -> str:
    if char == "'":
        return "\"'\""
    if len(char) == 1 and not char.isprintable():
        return f"'{char.encode('unicode_escape').decode()}'"
    return f"'{char}'"
