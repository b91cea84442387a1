"""Library functions that take a list binding whole (``*xs``, or a name inside ``*fs: Relu(xs)``).

Other graph functions, given a list, answer for each element (``single_use(fs)``); these two
ask about the list itself. Registered in :data:`graphrewrite.rules.predicates.FUNCTIONS`.
"""

from __future__ import annotations

from typing import Any

from graphrewrite.rules.expr import BoundList, Env, EvalError
from graphrewrite.rules.predicates import register


def _list_arg(value: Any, function: str) -> BoundList:
    if not isinstance(value, BoundList):
        raise EvalError(f"{function}() needs a list binding (*xs in the pattern)")
    return value


@register("count", 1, raw=True, lists=True)
def _count(env: Env, xs: Any) -> int:
    """count(xs): how many inputs the list binding xs captured."""
    return len(_list_arg(xs, "count"))


@register("alike", 1, raw=True, lists=True)
def _alike(env: Env, ns: Any) -> bool:
    """alike(fs): every node of fs has the op, attributes (other than _-prefixed ones) and device of the first."""
    nodes = [b.node for b in _list_arg(ns, "alike")]
    if any(n is None for n in nodes):
        raise EvalError("alike(): a listed node does not exist")
    if not nodes:
        return True
    return all(_key(n) == _key(nodes[0]) for n in nodes[1:])


def _key(node: Any) -> tuple[Any, ...]:
    return node.op, node.device, {k: v for k, v in node.attr.items() if not k.startswith("_")}
