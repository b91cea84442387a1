"""Syntax errors of rule files as located diagnostics: the token found, the tokens the parser
would accept there (described as a user reads them), and a did-you-mean for a misspelt keyword.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lark

from graphrewrite.engine.errors import Diagnostic, Span, suggest

_TERMINAL_NAMES = {
    "NAME": "a name",
    "OPNAME": "an op name",
    "STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "COMPARE": "a comparison",
    "$END": "end of file",
}


def syntax_diagnostic(
    exc: lark.exceptions.UnexpectedInput, source: str, terminals: Sequence[Any], keywords: Sequence[str]
) -> Diagnostic:
    """One located diagnostic for a lark parse error: what was found, what was expected
    (described from *terminals*), and a did-you-mean among *keywords* for a misspelt one."""
    line, column = max(1, exc.line), max(1, exc.column)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = exc.char if hasattr(exc, "char") else "?"
        return Diagnostic(Span(source, line, column, 1), f"unexpected character {char!r}")
    token = getattr(exc, "token", None)
    expected = sorted(_accepted(exc))
    wanted = sorted({_describe_terminal(name, terminals) for name in expected})
    if token is None or token.type == "$END":
        found, length = "end of file", 1
    else:
        found, length = repr(str(token)), max(1, len(str(token)))
    message = f"unexpected {found}"
    if wanted:
        message += "; expected " + (wanted[0] if len(wanted) == 1 else "one of " + ", ".join(wanted[:10]))
    hint = None
    if token is not None and token.type in ("NAME", "OPNAME"):
        keywords = [w.strip("'") for w in wanted if w.strip("'") in keywords]
        hint = suggest(str(token), keywords)
    return Diagnostic(Span(source, line, column, length), message, hint)


def _accepted(exc: lark.exceptions.UnexpectedInput) -> set[str]:
    """The terminals the parser would really accept here (LALR's own sets over-approximate)."""
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:
        try:
            return set(interactive.accepts())
        except Exception:  # fall back to lark's approximate set
            pass
    return set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())


def _describe_terminal(name: str, terminals: Sequence[Any]) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    for terminal in terminals:
        if terminal.name == name and terminal.pattern.type == "str":
            return repr(terminal.pattern.value)
    return name.lower()
