"""Bind a parsed script to transforms: names resolved, arguments typed, defaults filled.

GTT looked transforms up only when the pipeline reached them and let each transform ignore
keys it did not know. Here the whole script is checked before anything runs: an unknown
transform or parameter, a parameter given twice, a missing required one, or a value of the
wrong type is a located error, and every such error in the script is reported at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphrewrite.engine.errors import Diagnostic, GraphRewriteError, LanguageError, Span, suggest
from graphrewrite.grammar.ast import Arg, Call, Script, Use
from graphrewrite.grammar.script import parse_script
from graphrewrite.rules.params import Kind, Param, defaults
from graphrewrite.rules.rule import RuleSet, Step, Transform

LoadRules = Callable[[str, Span], Iterable[Transform]]

IGNORE_ERRORS = "ignore_errors"
# The one parameter every step takes, declared by no transform (``graphrewrite rules`` lists it).
IGNORE_ERRORS_PARAM = Param(
    IGNORE_ERRORS, Kind.BOOL, False, doc="when the step fails, report the error and go on with the step's input"
)

# For `did you mean` on a misspelt dtype; TensorFlow itself decides what is valid.
_DTYPE_NAMES = (
    "float", "double", "half", "float16", "float32", "float64", "bfloat16",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "bool", "string", "complex64", "complex128", "qint8", "quint8", "qint16", "quint16", "qint32",
)  # fmt: skip


def parse_and_bind(
    text: str, rules: RuleSet, *, source: str = "<transforms>", load_rules: LoadRules | None = None
) -> tuple[Step, ...]:
    """Parse *text*, load its ``use`` files with *load_rules*, and bind it against *rules*.

    ``use`` paths are relative to the script's directory when *source* names a file (the
    loader then gets an absolute path), and are passed as written when *source* is a
    ``<placeholder>``. A rule file's transform whose name is already taken (by a builtin or
    an earlier file) is an error.
    """
    script = parse_script(text, source)
    loaded, problems = _load_uses(script, rules, load_rules)
    steps, bind_problems = _bind_calls(script, rules.plus(loaded))
    if problems or bind_problems:
        raise LanguageError(problems + bind_problems, text)
    return steps


def bind(script: Script, rules: RuleSet, *, text: str) -> tuple[Step, ...]:
    """The steps of *script*, each a transform from *rules* with typed arguments.

    Raises LanguageError (located in *text*) listing every problem in the script.
    """
    steps, problems = _bind_calls(script, rules)
    if problems:
        raise LanguageError(problems, text)
    return steps


def _bind_calls(script: Script, rules: RuleSet) -> tuple[tuple[Step, ...], list[Diagnostic]]:
    problems: list[Diagnostic] = []
    steps = []
    for call in script.calls:
        step = _bind_call(call, rules, problems)
        if step is not None:
            steps.append(step)
    return tuple(steps), problems


def _bind_call(call: Call, rules: RuleSet, problems: list[Diagnostic]) -> Step | None:
    transform = rules.get(call.name)
    if transform is None:
        hint = suggest(call.name, rules.names) or "run 'graphrewrite rules' to list the transforms"
        problems.append(Diagnostic(call.name_span, f"unknown transform '{call.name}'", hint))
        return None
    before = len(problems)
    ignore_errors = _ignore_errors(call, problems)
    args = _arguments(call, transform, problems)
    if len(problems) > before:
        return None
    return Step(transform, args, ignore_errors=ignore_errors, span=call.span)


def _ignore_errors(call: Call, problems: list[Diagnostic]) -> bool:
    # GTT's driver reads this key itself: true/false in any case, and (unlike other booleans)
    # not 1/0.
    given = [a for a in call.args if a.name == IGNORE_ERRORS]
    for extra in given[1:]:
        problems.append(_twice(extra, given[0]))
    if not given:
        return False
    arg = given[0]
    value = arg.value.strip().lower()
    if value not in ("true", "false"):
        message = f"bad value for parameter '{IGNORE_ERRORS}': expected true or false, got '{arg.value}'"
        problems.append(Diagnostic(arg.value_span, message))
    return value == "true"


def _arguments(call: Call, transform: Transform, problems: list[Diagnostic]) -> dict[str, Any]:
    params = {p.name: p for p in transform.params}
    args = defaults(transform.params)
    seen: dict[str, Arg] = {}
    for arg in call.args:
        if arg.name == IGNORE_ERRORS:
            continue
        param = params.get(arg.name)
        if param is None:
            problems.append(_unknown_param(arg, transform))
            continue
        if arg.name in seen and not param.repeated:
            problems.append(_twice(arg, seen[arg.name]))
            continue
        seen.setdefault(arg.name, arg)
        try:
            value = param.convert(arg.value)
        except ValueError as exc:
            problems.append(_bad_value(arg, param, exc))
            continue
        if param.repeated:
            args[param.name].append(value)
        else:
            args[param.name] = value
    for param in transform.params:
        if param.required and param.name not in seen:
            problems.append(_missing(call, param))
    return args


def _unknown_param(arg: Arg, transform: Transform) -> Diagnostic:
    names = [p.name for p in transform.params]
    hint = suggest(arg.name, [*names, IGNORE_ERRORS])
    if hint is None and names:
        hint = f"'{transform.name}' takes {', '.join(names)} (and {IGNORE_ERRORS})"
    elif hint is None:
        hint = f"'{transform.name}' takes no parameters except {IGNORE_ERRORS}"
    message = f"unknown parameter '{arg.name}' for transform '{transform.name}'"
    return Diagnostic(arg.name_span, message, hint)


def _twice(arg: Arg, first: Arg) -> Diagnostic:
    where = f"{first.name_span.line}:{first.name_span.column}"
    message = f"parameter '{arg.name}' given twice (first {arg.name}={first.value} at {where})"
    return Diagnostic(arg.name_span, message, f"'{arg.name}' takes one value; remove one of them")


def _bad_value(arg: Arg, param: Param, exc: ValueError) -> Diagnostic:
    hint = None
    if param.choices:
        hint = suggest(arg.value.strip(), [str(c) for c in param.choices])
    elif param.kind is Kind.DTYPE:
        hint = suggest(arg.value.strip(), _DTYPE_NAMES) or "dtypes are named like float, int32, uint8"
    return Diagnostic(arg.value_span, f"bad value for parameter '{arg.name}': {exc}", hint)


def _missing(call: Call, param: Param) -> Diagnostic:
    message = f"transform '{call.name}' needs parameter '{param.name}'"
    example = f"{call.name}({param.name}=...)"
    hint = f"{param.doc}: {example}" if param.doc else f"write {example}"
    return Diagnostic(call.name_span, message, hint)


# --- use "file.rules" ---------------------------------------------------------------------


def _load_uses(
    script: Script, rules: RuleSet, load_rules: LoadRules | None
) -> tuple[list[Transform], list[Diagnostic]]:
    loaded: list[Transform] = []
    problems: list[Diagnostic] = []
    owner: dict[str, str] = {}
    done: set[str] = set()
    for use in script.uses:
        if load_rules is None:
            message = f"cannot load '{use.path}': rule files are not available here"
            problems.append(Diagnostic(use.path_span, message, "pass load_rules= to parse_and_bind"))
            continue
        path = _resolve(use.path, script.source)
        if path in done:
            continue  # using a file twice is harmless; its rules are loaded once
        done.add(path)
        for transform in _load_one(use, path, load_rules, problems):
            clash = _clash(transform, use, rules, owner)
            if clash is not None:
                problems.append(clash)
                continue
            owner[transform.name] = use.path
            loaded.append(transform)
    return loaded, problems


def _load_one(use: Use, path: str, load_rules: LoadRules, problems: list[Diagnostic]) -> Sequence[Transform]:
    try:
        return tuple(load_rules(path, use.path_span))
    except LanguageError:
        raise  # located in the rule file, with that file's own text
    except (GraphRewriteError, OSError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problems.append(Diagnostic(use.path_span, f"cannot load rule file '{use.path}': {detail}"))
        return ()


def _clash(transform: Transform, use: Use, rules: RuleSet, owner: dict[str, str]) -> Diagnostic | None:
    if transform.name in rules:
        message = f"rule '{transform.name}' in '{use.path}' has the name of a builtin transform"
        return Diagnostic(use.path_span, message, f"rename the rule in '{use.path}'")
    if transform.name in owner:
        message = f"rule '{transform.name}' in '{use.path}' is also defined in '{owner[transform.name]}'"
        return Diagnostic(use.path_span, message, "rename one of them")
    return None


def _resolve(path: str, source: str) -> str:
    # Absolute when resolved against the script's folder, so a loader that joins the path to a
    # folder of its own (pathlib's `folder / path`) still reaches the same file.
    if os.path.isabs(path) or source.startswith("<"):
        return path
    return os.path.abspath(os.path.join(os.path.dirname(source), path))
