"""The exception hierarchy and the one formatter for language errors.

Every error a user can cause is a subclass of :class:`GraphRewriteError`. Its ``str()`` is the
message the CLI prints: one line for graph and file problems, a caret block (lark style) for
errors located in a script or rule file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import attrs


class GraphRewriteError(Exception):
    """Base class of every error graphrewrite raises for bad input or a failed rewrite."""

    exit_code = 1


class UsageError(GraphRewriteError):
    """A command line or API call was malformed: missing flag, conflicting options."""

    exit_code = 2


class DependencyError(GraphRewriteError):
    """A package graphrewrite needs is missing or too old (TensorFlow, Keras, numpy, an extra);
    the message names what to install."""


class GraphFileError(GraphRewriteError):
    """A graph or model file could not be read or written (missing, corrupt, wrong format)."""


class GraphError(GraphRewriteError):
    """A graph is invalid: dangling inputs, cycles, duplicate names, missing protected nodes."""


class NameNotFoundError(GraphRewriteError):
    """A node, tensor, rule or parameter name that the user gave does not exist."""


class RuleError(GraphRewriteError):
    """A transform failed while it ran over a graph (GTT's transform errors)."""


class SaturationError(RuleError):
    """A rule set kept firing past the iteration guard; the message names the rules."""


@attrs.frozen
class Span:
    """A region of source text: 1-based line and column of its start, and its length."""

    source: str  # the file name, or "<transforms>" for a command-line script
    line: int
    column: int
    length: int = 1

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@attrs.frozen
class Diagnostic:
    """One located error in a script or rule file, with an optional fix hint."""

    span: Span
    message: str
    hint: str | None = None


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """A ``did you mean`` hint for *name* among *choices*, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def format_diagnostic(diagnostic: Diagnostic, text: str) -> str:
    """``file:line:col: error: message``, the source line, a caret, then the hint."""
    span = diagnostic.span
    # Lines as lark counts them: only "\n" ends one (splitlines also splits on \v, \f, \x1c...).
    lines = text.split("\n")
    source_line = lines[span.line - 1].rstrip("\r") if 0 < span.line <= len(lines) else ""
    gutter = f"{span.line} | "
    # Tabs before the culprit are copied so the caret lines up under it in a terminal.
    pad = "".join("\t" if c == "\t" else " " for c in source_line[: span.column - 1])
    pad += " " * max(0, span.column - 1 - len(source_line))
    caret = " " * len(gutter) + pad + "^" * max(1, span.length)
    out = [f"{span}: error: {diagnostic.message}", f"{gutter}{source_line}", caret]
    if diagnostic.hint:
        out.append(f"hint: {diagnostic.hint}")
    return "\n".join(out)


class LanguageError(GraphRewriteError):
    """A transform script or rule file has syntax or semantic errors; all are reported."""

    def __init__(self, diagnostics: Sequence[Diagnostic], text: str):
        self.diagnostics = tuple(
            sorted(diagnostics, key=lambda d: (d.span.line, d.span.column))
        )
        self.text = text
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(format_diagnostic(d, self.text) for d in self.diagnostics)

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]
