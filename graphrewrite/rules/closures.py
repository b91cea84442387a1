"""Expressions compiled once into Python closures, so a match evaluates no AST.

A rule's ``where``, ``let``, ``const(...)`` and attribute expressions run for every match (tens
of thousands of times on a large graph). :func:`compile_expr` turns each expression into a
closure ``fn(env)`` when the rule is compiled: the node type is dispatched, the function looked
up, the operator chosen and a name's kind (let or pattern binding) decided once, not per match.
The closures compute exactly what an interpreter would, in the same order: constants are read
(and their dtypes noted for ``const()``) in the order the expression names them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules.expr import (
    COMPARE_OPS,
    Bound,
    BoundList,
    Channelled,
    Env,
    EvalError,
    combine,
    compare,
    plain,
    shape_text,
)

Closure = Callable[[Env], Any]


class Compiled:
    """The closures of one rule's expressions, each kept by the expression it was compiled from.

    Keyed by ``id``: expressions are frozen values whose hash would walk the whole tree (and a
    list literal makes them unhashable); the AST is kept alive here, so ids stay valid.
    """

    def __init__(self, lets: Collection[str], functions: Mapping[str, Any]):
        self.lets = frozenset(lets)
        self.functions = functions
        self._closures: dict[int, tuple[A.Expr, Closure]] = {}

    def closure(self, expr: A.Expr) -> Closure:
        """The closure for *expr*, compiled on first request."""
        found = self._closures.get(id(expr))
        if found is None or found[0] is not expr:
            found = self._closures[id(expr)] = (expr, compile_expr(expr, self.lets, self.functions))
        return found[1]


def compile_expr(expr: A.Expr, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    """A closure computing *expr* for one match's Env; *lets* are the rule's let names."""
    compiler = _COMPILERS.get(type(expr))
    if compiler is None:
        raise TypeError(f"cannot compile expression {expr!r}")
    return compiler(expr, lets, functions)


def _literal(expr: A.Literal, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    value = expr.value
    return lambda env: value


def _name(expr: A.Name, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    name = expr.id
    if name in lets:
        return lambda env: env.let(name)

    def bound(env: Env) -> Any:
        found = env.bound.get(name)
        if found is None:
            raise EvalError(f"'{name}' is not bound")
        return found

    return bound


def _list(expr: A.ListExpr, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    items = [compile_expr(item, lets, functions) for item in expr.items]

    def evaluate(env: Env) -> Any:
        out = []
        for item in items:
            value = item(env)
            out.append(plain(env.numeric(value)) if isinstance(value, Bound) else value)
        return out

    return evaluate


def _getattr(expr: A.GetAttr, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    from graphrewrite.rules.predicates import node_attr

    obj, attr = compile_expr(expr.obj, lets, functions), expr.attr

    def evaluate(env: Env) -> Any:
        target = obj(env)
        if not isinstance(target, Bound) or not target.is_node or target.node is None:
            raise EvalError(f"'.{attr}' needs a bound node")
        return node_attr(target.node, attr)

    return evaluate


def _index(expr: A.Index, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    obj = compile_expr(expr.obj, lets, functions)
    start = None if expr.start is None else compile_expr(expr.start, lets, functions)
    stop = None if expr.stop is None else compile_expr(expr.stop, lets, functions)
    is_slice = expr.is_slice

    def evaluate(env: Env) -> Any:
        value = obj(env)
        target = value if isinstance(value, (list, tuple, str)) else plain(env.numeric(value))
        try:
            if is_slice:
                low = None if start is None else env.index(start(env))
                high = None if stop is None else env.index(stop(env))
                return target[low:high]
            return target[env.index(start(env))]  # type: ignore[misc]
        except (IndexError, TypeError) as exc:
            raise EvalError(f"cannot index a value of shape {shape_text(target)}: {exc}") from None

    return evaluate


def _call(expr: A.Call, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    function = functions[expr.func]
    impl, raw = function.impl, function.raw
    args = [compile_expr(a, lets, functions) for a in expr.args]
    kwargs = [(k, compile_expr(v, lets, functions)) for k, v in expr.kwargs]
    # Only a pattern binding's name gives a list binding, which the function is applied to
    # element by element: which arguments can, is known now.
    listed = () if function.lists or not raw else tuple(
        i for i, a in enumerate(expr.args) if isinstance(a, A.Name) and a.id not in lets
    )  # fmt: skip
    if not kwargs:

        def positional(env: Env) -> Any:
            values = [a(env) for a in args]
            if not raw:
                values = [env.numeric(v) for v in values]
            else:
                for i in listed:
                    if values[i].__class__ is BoundList:
                        return _each(function.name, impl, env, values)
            return impl(env, *values)

        return positional

    def evaluate(env: Env) -> Any:
        values = [a(env) for a in args]
        named = {k: v(env) for k, v in kwargs}
        if not raw:
            values = [env.numeric(v) for v in values]
            named = {k: env.numeric(v) for k, v in named.items()}
        return impl(env, *values, **named)

    return evaluate


def _each(name: str, impl: Callable[..., Any], env: Env, values: list[Any]) -> Any:
    """A graph function applied to each element of its list-binding arguments (equal lengths)."""
    lengths = {len(v) for v in values if isinstance(v, BoundList)}
    if len(lengths) != 1:
        raise EvalError(f"{name}() was given lists of different lengths {sorted(lengths)}")
    count = lengths.pop()
    results = [impl(env, *(v[i] if isinstance(v, BoundList) else v for v in values)) for i in range(count)]
    return np.asarray(results) if all(np.isscalar(r) for r in results) else results


def _unary(expr: A.Unary, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    operand = compile_expr(expr.operand, lets, functions)
    if expr.op == "not":
        return lambda env: not env.truth(operand(env))

    def negate(env: Env) -> Any:
        value = env.numeric(operand(env))
        return value.with_array(-value.array) if isinstance(value, Channelled) else -value

    return negate


def _binary(expr: A.Binary, lets: Collection[str], functions: Mapping[str, Any]) -> Closure:
    left, right, op = compile_expr(expr.left, lets, functions), compile_expr(expr.right, lets, functions), expr.op
    if op == "and":
        return lambda env: env.truth(left(env)) and env.truth(right(env))
    if op == "or":
        return lambda env: env.truth(left(env)) or env.truth(right(env))
    if op in COMPARE_OPS:

        def comparison(env: Env) -> Any:
            a, b = left(env), right(env)
            return compare(op, env.comparable(a), env.comparable(b))

        return comparison

    def arithmetic(env: Env) -> Any:
        a, b = left(env), right(env)
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b  # names: name(fq) + "_hoisted"
        return combine(op, env.numeric(a), env.numeric(b))

    return arithmetic


_COMPILERS: dict[type, Callable[[Any, Collection[str], Mapping[str, Any]], Closure]] = {
    A.Literal: _literal,
    A.Name: _name,
    A.ListExpr: _list,
    A.GetAttr: _getattr,
    A.Index: _index,
    A.Call: _call,
    A.Unary: _unary,
    A.Binary: _binary,
}
