"""Why a rule does (or does not) fire at a node: what ``graphrewrite explain`` prints.

For a pattern rule: the deepest partial match and the first failing constraint, or, when the
pattern matches, whether the guard accepts it and what the rewrite would be.
"""

from __future__ import annotations

from typing import Any


def explain_rule(rule: Any, graph: Any, node: str, ctx: Any) -> str:
    """One paragraph about *rule* at *node*."""
    from graphrewrite.engine.matcher import match_at
    from graphrewrite.engine.pattern import Trace

    trace = Trace()
    match = match_at(graph, rule.pattern, node, trace)
    if match is None:
        where = f" (pattern at {trace.span})" if trace.span else ""
        return (f"{rule.name}: does not match at '{node}': at node '{trace.node}' "
                f"(depth {trace.depth}): {trace.reason}{where}")  # fmt: skip
    reason = rule.check(match, graph, ctx)
    if reason:
        return f"{rule.name}: pattern matches at '{node}' but the guard refuses: {reason}"
    built = rule.build(match, graph, ctx)
    if isinstance(built, str):
        return f"{rule.name}: pattern matches at '{node}' but the rewrite refuses: {built}"
    added = ", ".join(f"{n.name} ({n.op})" for n in built.add) or "nothing"
    return (f"{rule.name}: fires at '{node}': matched {', '.join(match.nodes)}; "
            f"adds {added}; may remove {', '.join(sorted(built.remove)) or 'nothing'}")  # fmt: skip
