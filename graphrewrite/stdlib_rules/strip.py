"""strip_unused_nodes: keep what the outputs need, and turn the inputs into Placeholders.

GTT's version, and where this one differs (gtt_behaviour.md §2.2, §6.13):

- The walk goes backwards from the outputs over data and control edges and stops at input
  nodes; inputs are kept even when no output reaches them. Node order is kept.
- An input that is already a ``Placeholder`` is kept as it is. Any other input becomes a
  ``Placeholder`` whose dtype comes from ``type_for_name``, else ``type``, else **the node's
  own output type** (GTT: float), and whose shape comes from ``shape_for_name``, else
  ``shape``, else the node's own declared shape (``PlaceholderWithDefault``'s ``shape``, or
  ``_output_shapes``), else **unknown** (GTT: a scalar). The new Placeholder keeps the
  node's device.
- With no outputs, the graph's sinks (nodes nothing consumes) serve as outputs: nothing is
  pruned except nodes that only fed a replaced input (GTT kept only the inputs).
- ``_class`` colocation entries naming a removed node are dropped.
- Parameter mistakes are errors: a ``name`` that is not an input, lists of different lengths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.collector import paused
from graphrewrite.engine.driver import Context
from graphrewrite.engine.edit import remove
from graphrewrite.engine.errors import GraphError, NameNotFoundError, RuleError, UsageError, suggest
from graphrewrite.engine.feeds import CUT
from graphrewrite.engine.graph import CONTROL, Graph, Node, node_name
from graphrewrite.engine.opdefs import output_dtypes
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param, args_of
from graphrewrite.rules.rule import Pass

PARAMS = (
    Param("type", Kind.DTYPE, None, doc="dtype of new Placeholders (default: the input's own output type, else float)"),
    Param("shape", Kind.SHAPE, None, doc='shape of new Placeholders, e.g. "1,224,224,3", -1 for unknown (default: unknown)'),
    Param("name", Kind.STRING, repeated=True, doc="an input that gets its own type_for_name / shape_for_name"),
    Param("type_for_name", Kind.DTYPE, repeated=True, doc="dtype for the input at the same position in name"),
    Param("shape_for_name", Kind.SHAPE, repeated=True, doc="shape for the input at the same position in name"),
)

FLOAT = DType(1)
_UNSET = object()


@attrs.frozen
class Spec:
    """What the caller asked for one input: a dtype and a shape, each possibly unset."""

    dtype: Any = _UNSET
    shape: Any = _UNSET


def input_specs(args: Mapping[str, Any], inputs: Sequence[str]) -> tuple[Spec, dict[str, Spec]]:
    """The default spec and the per-name specs, checked against the parameter rules."""
    names = [node_name(n) for n in args["name"]]
    types, shapes = list(args["type_for_name"]), list(args["shape_for_name"])
    for key, values in (("type_for_name", types), ("shape_for_name", shapes)):
        if values and len(values) != len(names):
            raise UsageError(
                f"strip_unused_nodes: {len(values)} '{key}' values for {len(names)} 'name' values; "
                f"give one {key} per name"
            )
    if names and not types and not shapes:
        raise UsageError(f"strip_unused_nodes: name='{names[0]}' needs a type_for_name or shape_for_name")
    known = {node_name(n) for n in inputs}
    for name in names:
        if name not in known:
            hint = suggest(name, known)
            raise UsageError(
                f"strip_unused_nodes: name='{name}' is not one of the graph inputs "
                f"({', '.join(sorted(known)) or 'none given'})" + (f"; {hint}" if hint else "")
            )
    default = Spec(
        _UNSET if args["type"] is None else args["type"], _UNSET if args["shape"] is None else args["shape"]
    )
    per_name = {}
    for i, name in enumerate(names):
        per_name[name] = Spec(types[i] if types else _UNSET, shapes[i] if shapes else _UNSET)
    return default, per_name


def make_placeholder(node: Node, spec: Spec, default: Spec) -> Node:
    """The Placeholder that replaces input *node* (see the module docstring for the order)."""
    dtype = spec.dtype if spec.dtype is not _UNSET else default.dtype
    if dtype is _UNSET:
        dtypes = output_dtypes(node)
        dtype = dtypes[0] if dtypes else (node.get("dtype") or FLOAT)
    shape = spec.shape if spec.shape is not _UNSET else default.shape
    if shape is _UNSET:
        shape = own_shape(node)
    return Node.make(node.name, "Placeholder", (), {"dtype": dtype, "shape": _shape_attr(shape)}, node.device)


def own_shape(node: Node) -> tuple[int | None, ...] | None:
    """The shape *node* declares for its output 0, or None (unknown)."""
    if node.op == "PlaceholderWithDefault":
        return node.get("shape")  # type: ignore[no-any-return]
    shapes = node.get("_output_shapes")
    return shapes[0] if shapes else None


def _shape_attr(shape: tuple[int | None, ...] | None) -> Any:
    from graphrewrite.engine.attrvalues import shape_to_proto

    return shape_to_proto(shape)


def reachable(graph: Graph, roots: Sequence[str], stops: set[str]) -> set[str]:
    """Names reached walking data and control edges back from *roots*, not past *stops*;
    *stops* themselves are always included."""
    keep: set[str] = set()
    get, seen, keep_name = graph.lookup, keep.__contains__, keep.add
    stack = list(roots)
    push, pop = stack.append, stack.pop
    while stack:  # one plain loop per edge: it runs for every edge the outputs reach
        name = pop()
        if seen(name):
            continue
        keep_name(name)
        if name in stops:
            continue
        node = get(name)
        if node is None:
            raise GraphError(_dangling(graph, roots, stops))
        for source, _port in node.inputs:
            if not seen(source):
                push(source)
    return keep | stops


def _dangling(graph: Graph, roots: Sequence[str], stops: set[str]) -> str:
    """The message for the first missing node ``reachable`` meets: the same walk, again,
    remembering who pushed each name (only when it fails, so the walk itself stays lean)."""
    seen: set[str] = set()
    stack: list[tuple[str, str | None]] = [(r, None) for r in roots]
    while stack:
        name, user = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in stops:
            continue
        node = graph.get(name)
        if node is None:
            return f"node '{user}': input '{name}' names a node that does not exist"
        stack.extend((ref.node, name) for ref in node.inputs if ref.node not in seen)
    raise AssertionError("no missing node on the walk")  # only called after reachable met one


def _check_ports(graph: Graph, replaced: set[str], keep: set[str]) -> None:
    """A Placeholder has one output: no kept node may read output 1+ of a replaced input."""
    for name in sorted(replaced):
        for user in graph.consumers(name):
            if user not in keep or user in replaced:
                continue
            for ref in graph.node(user).inputs:
                if ref.node == name and ref.port not in (0, CONTROL):
                    raise RuleError(
                        f"strip_unused_nodes: input '{name}' ({graph.node(name).op}) would become a "
                        f"Placeholder, which has one output, but node '{user}' reads '{ref}'"
                    )


def _existing(graph: Graph, names: Sequence[str], what: str) -> list[str]:
    out = []
    for name in dict.fromkeys(node_name(n) for n in names if n):
        if name not in graph:
            hint = suggest(name, graph.names)
            raise NameNotFoundError(f"strip_unused_nodes: {what} '{name}' is not a node of the graph" + (f"; {hint}" if hint else ""))
        out.append(name)
    return out


@paused
def strip_unused_nodes(graph: Graph, ctx: Context) -> Graph:
    """Keep what the outputs need; replace non-Placeholder inputs by Placeholders."""
    args = args_of(ctx, PARAMS)
    default, per_name = input_specs(args, ctx.inputs)
    inputs = _existing(graph, ctx.inputs, "input")
    outputs = _existing(graph, ctx.outputs, "output")
    roots = outputs or [n.name for n in graph if not graph.has_consumers(n.name)]
    keep = reachable(graph, roots, set(inputs))
    replaced = {n for n in inputs if graph.node(n).op != "Placeholder"}
    _check_ports(graph, replaced, keep)
    placeholders = [make_placeholder(graph.node(n), per_name.get(n, Spec()), default) for n in inputs if n in replaced]
    gone = [n for n in graph.names if n not in keep]
    if not gone and not placeholders:
        return graph
    return remove(graph, gone, placeholders)


STRIP_UNUSED_NODES = Pass(
    "strip_unused_nodes",
    "graph -> the part --outputs need, inputs as Placeholders "
    "(unlike GTT: dtype inferred, shape unknown by default; without outputs the sinks count as outputs)",
    strip_unused_nodes,
    PARAMS,
    feeds=CUT,
    facts=Facts(checked=Checked(cases="dead_branches", promise=("only_needed_nodes",))),
)
