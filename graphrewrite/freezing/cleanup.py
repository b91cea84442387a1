"""What every frozen graph goes through last, whatever it was frozen from.

Function calls TensorFlow's conversion left in place (``_noinline`` functions, stateful calls)
are inlined; placeholders that only lowering created (``unused_control_flow_input*``) and that
nothing reads are dropped; unused library functions and colocation entries naming nodes that
are gone are removed; and a graph that still holds variable ops is refused, naming them.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphrewrite.engine.graph import Graph
from graphrewrite.freezing.frozen import FreezeError
from graphrewrite.stdlib_rules.functions import inline_calls, library_functions, prune_library
from graphrewrite.stdlib_rules.op_kinds import VARIABLE_OPS

LOWERING_PLACEHOLDER = "unused_control_flow_input"


def finish(graph: Graph, protected: Iterable[str], *, check: bool = True) -> Graph:
    """Inline calls, drop lowering leftovers and unused functions, fix colocation, check.

    *check* is off only when the user chose to leave some variables unfrozen.
    """
    keep = frozenset(protected)
    graph, _ = inline_calls(graph, protected=keep)
    graph = drop_lowering_placeholders(graph, keep)
    graph = prune_library(graph)
    graph = drop_dangling_colocation(graph)
    if check:
        check_no_variables(graph)
    return graph


def drop_lowering_placeholders(graph: Graph, protected: frozenset[str] = frozenset()) -> Graph:
    """Remove ``unused_control_flow_input*`` Placeholders that nothing consumes."""
    dead = [
        n.name
        for n in graph
        if n.op == "Placeholder"
        and n.name.startswith(LOWERING_PLACEHOLDER)
        and not graph.has_consumers(n.name)
        and n.name not in protected
    ]
    return graph.replace((), dead) if dead else graph


def drop_dangling_colocation(graph: Graph) -> Graph:
    """Drop ``_class`` entries (``loc:@x``) naming nodes the graph no longer has.

    TensorFlow refuses to import a graph whose colocation names a missing node.
    """
    from graphrewrite.engine.edit import colocation, drop_colocation

    gone = {name for node in graph for name in colocation(node) or () if name not in graph}
    fixed = drop_colocation(graph, gone) if gone else []
    return graph.replace(fixed) if fixed else graph


def check_no_variables(graph: Graph) -> None:
    """Raise FreezeError when a variable op is left in the graph or a function it uses."""
    left = [f"'{n.name}' ({n.op})" for n in graph if n.op in VARIABLE_OPS]
    for name, fdef in library_functions(graph).items():
        left += [f"'{nd.name}' ({nd.op}) in function '{name}'" for nd in fdef.node_def if nd.op in VARIABLE_OPS]
    if left:
        more = f" and {len(left) - 3} more" if len(left) > 3 else ""
        raise FreezeError(f"variables are left after freezing: {', '.join(left[:3])}{more}")
