"""Where rules come from: rule files, rule text, Python modules and entry points.

- ``load_rules_file(path)`` / ``load_rules_text(text)``: parse and compile rule-language text;
  errors are :class:`LanguageError` with carets. With ``validate=False`` nothing imports
  TensorFlow until a rule runs.
- ``load_rules(path, span)``: the callback ``rules.bind.parse_and_bind`` calls for ``use``.
- ``load_rules_module("pkg.mod")``: a module's ``TRANSFORMS`` (or ``RULES``).
- ``load_entry_points()``: every entry point in group ``graphrewrite.rules``; each resolves to
  a ``.rules`` path, a RuleSet, an iterable of transforms, or a callable returning one of these.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, Span, UsageError
from graphrewrite.grammar.rule_parse import parse_rules
from graphrewrite.rules.compile import compile_rules
from graphrewrite.rules.rule import Group, Pass, Rule, RuleSet, Transform

ENTRY_POINT_GROUP = "graphrewrite.rules"


def load_rules_text(text: str, *, source: str = "<rules>", validate: bool = True) -> tuple[Transform, ...]:
    """The rules and groups defined by rule-language *text*, in the order written."""
    return compile_rules(parse_rules(text, source=source), validate=validate)


def load_rules_file(path: str | os.PathLike[str], *, validate: bool = True) -> tuple[Transform, ...]:
    """The rules and groups of the rule file at *path*; GraphFileError when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphFileError(f"rules file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphFileError(f"cannot read rules file '{path}': {exc}") from None
    return load_rules_text(text, source=str(path), validate=validate)


def load_rules(path: str | os.PathLike[str], span: Span | None = None, *, validate: bool = True) -> tuple[Transform, ...]:
    """The ``load_rules`` callback of :func:`graphrewrite.rules.bind.parse_and_bind`, for a
    script's ``use "path"``; *span* is the ``use`` statement, where bind reports a read error."""
    return load_rules_file(path, validate=validate)


def load_rules_module(name: str) -> tuple[Transform, ...]:
    """The transforms a Python module exports as ``TRANSFORMS`` (or ``RULES``)."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise NameNotFoundError(f"cannot import rules module '{name}': {exc}") from None
    for attribute in ("TRANSFORMS", "RULES"):
        if hasattr(module, attribute):
            return as_transforms(getattr(module, attribute), origin=f"{name}.{attribute}")
    raise UsageError(f"module '{name}' defines neither TRANSFORMS nor RULES")


def as_transforms(value: Any, *, origin: str) -> tuple[Transform, ...]:
    """*value* (a RuleSet, a transform, an iterable of transforms, a ``.rules`` path, or a
    callable returning one of these) as a tuple of transforms."""
    if isinstance(value, (str, os.PathLike)):
        return load_rules_file(value, validate=False)
    if isinstance(value, (Rule, Group, Pass)):
        return (value,)
    if isinstance(value, RuleSet):
        return tuple(value)
    if callable(value):
        return as_transforms(value(), origin=origin)
    if isinstance(value, Iterable):
        items = tuple(value)
        bad = [i for i in items if not isinstance(i, (Rule, Group, Pass))]
        if not bad:
            return items
        raise UsageError(f"{origin} holds {bad[0]!r}, which is not a Rule, Group or Pass")
    raise UsageError(f"{origin} is {value!r}: expected a .rules path, a RuleSet or transforms")


def load_entry_points() -> tuple[Transform, ...]:
    """The transforms every installed package registers under ``graphrewrite.rules``."""
    found: list[Transform] = []
    for entry in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            value = entry.load()
        except Exception as exc:  # a broken plug-in names itself instead of crashing the tool
            raise UsageError(f"rules entry point '{entry.name}' ({entry.value}) failed to load: {exc}") from None
        found += as_transforms(value, origin=f"entry point '{entry.name}'")
    return tuple(found)
