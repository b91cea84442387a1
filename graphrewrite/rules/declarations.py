"""A rule's declarations about itself, written after its doc string, compiled to its Facts.

- ``lossy(rtol=R, atol=A)``: the rule changes values on purpose (weights stored narrower,
  rounded); ``--verify``, ``verify`` and the property tests allow outputs to drift by ``R``
  and ``A`` (numpy's ``allclose`` rule per element). ``R`` and ``A`` are expressions over the
  rule's parameters, so the tolerance follows the step's arguments:
  ``lossy(rtol=choose(dtype == "bfloat16", 5e-2, 1e-2), atol=1e-3)``.
- ``tested(name=value, ...)``: the arguments the property tests run the rule with (a rule that
  only fires on big constants is tested with ``tested(minimum_size=1)``).

Both are checked when the file compiles: unknown declarations, unknown names and parameters,
values that are not numbers, each a located error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from graphrewrite.engine.errors import suggest
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules.checks import Checker, literal_value
from graphrewrite.rules.expr import Env, EvalError
from graphrewrite.rules.facts import LOSSLESS, Checked, Facts, Tolerance
from graphrewrite.rules.functions import FUNCTIONS
from graphrewrite.rules.params import Param

KNOWN = ("lossy", "tested")


@attrs.frozen
class _Args:
    """The stand-in step context a tolerance is evaluated in: only the arguments."""

    args: Mapping[str, Any]


@attrs.frozen(eq=False)
class _Tolerance:
    """``lossy(...)``'s two expressions, evaluated with a step's arguments."""

    rtol: A.Expr
    atol: A.Expr
    lets: Mapping[str, A.Expr]

    def __call__(self, args: Mapping[str, Any], default: Tolerance | None = None) -> Tolerance:
        env = Env({}, self.lets, FUNCTIONS, None, _Args(args))
        try:
            return float(env.eval(self.rtol)), float(env.eval(self.atol))
        except (EvalError, TypeError, ValueError) as exc:
            raise ValueError(f"lossy(): {exc}") from None


def compile_facts(
    declarations: tuple[A.Declaration, ...],
    params: tuple[Param, ...],
    lets: Mapping[str, A.Expr],
    checker: Checker,
) -> Facts:
    """The Facts *declarations* state; problems go to *checker*."""
    facts = LOSSLESS
    for declaration in declarations:
        if declaration.name == "lossy":
            tolerance = _lossy(declaration, lets, checker)
            if tolerance is not None:
                facts = attrs.evolve(facts, lossy=tolerance({}), scaled=tolerance)
        elif declaration.name == "tested":
            checked = _tested(declaration, params, checker)
            if checked is not None:
                facts = attrs.evolve(facts, checked=checked)
        else:
            hint = suggest(declaration.name, KNOWN)
            checker.error(
                declaration.span,
                f"unknown declaration '{declaration.name}'; a rule declares lossy(...) or tested(...)",
                hint,
            )
    return facts


def _lossy(declaration: A.Declaration, lets: Mapping[str, A.Expr], checker: Checker) -> _Tolerance | None:
    given = dict(zip(("rtol", "atol"), declaration.args, strict=False)) | dict(declaration.keywords)
    unknown = sorted(set(given) - {"rtol", "atol"})
    if unknown or len(declaration.args) > 2 or len(given) != 2:
        checker.error(declaration.span, "lossy() takes rtol and atol: lossy(rtol=1e-2, atol=1e-3)")
        return None
    for expr in given.values():
        checker.expr(expr, lets)
    if checker.diagnostics:
        return None
    tolerance = _Tolerance(given["rtol"], given["atol"], lets)
    try:
        tolerance({})
    except ValueError as exc:
        checker.error(declaration.span, str(exc))
        return None
    return tolerance


def _tested(declaration: A.Declaration, params: tuple[Param, ...], checker: Checker) -> Checked | None:
    if declaration.args:
        checker.error(declaration.span, "tested() takes the rule's arguments by name: tested(minimum_size=1)")
        return None
    names = {p.name: p for p in params}
    args: dict[str, Any] = {}
    for key, expr in declaration.keywords:
        if key not in names:
            checker.error(
                expr.span, f"tested(): '{key}' is not a parameter of this rule", suggest(key, names)
            )
            continue
        try:
            args[key] = names[key].convert(script_text(literal_value(expr)))
        except ValueError as exc:
            checker.error(expr.span, f"tested(): {key}: {exc}")
    return Checked(args=args)


def script_text(value: Any) -> str:
    """A literal as a transform script would write it (``true``, ``1.5``, ``float16``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
