"""Frozen values for a parsed transform script; each remembers where it was written.

A :class:`Script` is what :func:`graphrewrite.grammar.script.parse_script` returns: the
transform calls in order, and the ``use "file.rules"`` directives. Values are strings exactly
as GTT would hand them to a transform (quotes removed, backslashes kept); typing them is the
job of :mod:`graphrewrite.rules.bind`.
"""

from __future__ import annotations

import attrs

from graphrewrite.engine.errors import Span


def _same_span(self: Arg) -> Span:
    return self.span


@attrs.frozen
class Arg:
    """One ``name=value`` of a call: the value as a string, with the spans of both halves."""

    name: str
    value: str
    span: Span  # the whole ``name=value``
    name_span: Span = attrs.field(default=attrs.Factory(_same_span, takes_self=True))
    value_span: Span = attrs.field(default=attrs.Factory(_same_span, takes_self=True))
    quoted: bool = False


@attrs.frozen
class Call:
    """One transform in a script: ``name`` or ``name(arg=value, ...)``."""

    name: str
    args: tuple[Arg, ...]
    span: Span  # from the name to the closing ``)``
    name_span: Span

    def values(self, name: str) -> tuple[str, ...]:
        """Every value given for parameter *name*, in order (GTT's repeated keys)."""
        return tuple(a.value for a in self.args if a.name == name)

    @property
    def params(self) -> dict[str, tuple[str, ...]]:
        """GTT's view of the arguments: name -> values in order, keys sorted."""
        return {name: self.values(name) for name in sorted({a.name for a in self.args})}


@attrs.frozen
class Use:
    """A ``use "path"`` directive: load the transforms of a rule file by name."""

    path: str
    span: Span  # from ``use`` to the closing quote
    path_span: Span


@attrs.frozen
class Script:
    """A parsed script: its calls in order, its ``use`` directives, and where it came from."""

    calls: tuple[Call, ...] = ()
    uses: tuple[Use, ...] = ()
    source: str = "<transforms>"

    def dump(self) -> str:
        """A canonical, line-per-item text form (golden files compare against it)."""
        items: list[tuple[int, int, str]] = []
        for use in self.uses:
            items.append((use.span.line, use.span.column, f"{_at(use.span)} use {use.path!r}"))
        for call in self.calls:
            lines = [f"{_at(call.name_span)} call {call.name}"]
            for arg in call.args:
                quoted = " quoted" if arg.quoted else ""
                lines.append(f"{_at(arg.name_span)}   {arg.name} = {arg.value!r}{quoted} @{_at(arg.value_span)}")
            items.append((call.span.line, call.span.column, "\n".join(lines)))
        return "\n".join(text for _, _, text in sorted(items, key=lambda i: (i[0], i[1])))


def _at(span: Span) -> str:
    return f"{span.line}:{span.column}"
