"""What is in a graph: GTT's summarize_graph done right, and name resolution for the CLI.

:func:`summarize` finds the true inputs (Placeholders, minus the ``unused_control_flow_input``
leftovers of control-flow lowering), the likely outputs (sinks that are not constants,
initialisers or training machinery), variables of every kind (``VarHandleOp`` too), parameter
counts and bytes, control edges, ops, devices and the function library, and composes a
``graphrewrite transform`` command with ``--inputs``/``--outputs`` filled in.

:func:`resolve_names` accepts names as users write them (``x``, ``x:0``, ``^x``,
``import/x``, ``serving_default_x``) and says "did you mean" when one is missing.
"""

from __future__ import annotations

import shlex
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from graphrewrite.engine.errors import NameNotFoundError, suggest
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.freezing.cleanup import LOWERING_PLACEHOLDER
from graphrewrite.freezing.frozen import TensorInfo, show_shape, tensor_lines
from graphrewrite.stdlib_rules.op_kinds import NOT_OUTPUTS, VARIABLE_HOLDERS, is_training_op, saver_scopes


@attrs.frozen
class OutputInfo:
    """A likely output: a node nothing consumes."""

    name: str
    op: str


@attrs.frozen
class VariableInfo:
    """A variable left in the graph (any kind: VariableV2, VarHandleOp, ...)."""

    name: str
    op: str
    dtype: str
    shape: tuple[int | None, ...] | None


@attrs.frozen
class Summary:
    """Everything ``summarize`` reports about one graph."""

    node_count: int
    inputs: tuple[TensorInfo, ...]
    optional_inputs: tuple[TensorInfo, ...]  # PlaceholderWithDefault: fed only when wanted
    outputs: tuple[OutputInfo, ...]
    variables: tuple[VariableInfo, ...]
    const_parameters: int
    const_bytes: int
    variable_parameters: int
    control_edges: int
    op_counts: Mapping[str, int]
    function_op_counts: Mapping[str, int]
    devices: Mapping[str, int]
    functions: Mapping[str, int]  # name -> node count
    training_nodes: tuple[str, ...]  # savers, initialisers, summaries, optimizer updates
    problems: tuple[str, ...]

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)


def summarize(graph: Any) -> Summary:
    """The :class:`Summary` of a GraphDef or Graph."""
    graph = as_graph(graph)
    from graphrewrite.engine.validate import dangling_inputs

    const_count, const_bytes = _const_sizes(graph)
    saver = saver_scopes(graph) or ("\0",)
    variables = tuple(_variable(n) for n in graph if n.op in VARIABLE_HOLDERS)
    functions = {f.signature.name: f for f in graph.library.function} if graph.library is not None else {}
    return Summary(
        node_count=len(graph),
        inputs=tuple(_placeholder(n) for n in graph if n.op == "Placeholder" and not n.name.startswith(LOWERING_PLACEHOLDER)),
        optional_inputs=tuple(
            _placeholder(n) for n in graph if n.op == "PlaceholderWithDefault" and not n.name.startswith(saver)
        ),
        outputs=tuple(OutputInfo(n.name, n.op) for n in likely_outputs(graph)),
        variables=variables,
        const_parameters=const_count,
        const_bytes=const_bytes,
        variable_parameters=sum(_elements(v.shape) for v in variables),
        control_edges=sum(1 for n in graph for r in n.inputs if r.port == CONTROL),
        op_counts=_sorted_counts(n.op for n in graph),
        function_op_counts=_sorted_counts(nd.op for f in functions.values() for nd in f.node_def),
        devices=dict(sorted(Counter(n.device for n in graph if n.device).items())),
        functions={name: len(f.node_def) for name, f in functions.items()},
        training_nodes=tuple(n.name for n in graph if is_training_op(n.op) or n.name.startswith(saver)),
        problems=tuple(str(p) for p in dangling_inputs(graph)),
    )


def as_graph(graph: Any) -> Graph:
    return graph if isinstance(graph, Graph) else Graph.from_graphdef(graph)


def likely_outputs(graph: Graph) -> list[Node]:
    """Nodes nothing consumes, except constants, placeholders, NoOps, training machinery and
    the pivots of TF1 conds (an Identity of a Switch output)."""
    saver = saver_scopes(graph) or ("\0",)
    return [
        n for n in graph
        if not graph.has_consumers(n.name) and n.op not in NOT_OUTPUTS and not is_training_op(n.op)
        and not n.name.startswith((LOWERING_PLACEHOLDER, *saver)) and not _is_pivot(graph, n)
    ]  # fmt: skip


def _is_pivot(graph: Graph, node: Node) -> bool:
    source = graph.get(node.data_inputs[0].node) if node.op == "Identity" and node.data_inputs else None
    return source is not None and source.op == "Switch"


def _placeholder(node: Node) -> TensorInfo:
    dtype = node.get("dtype")
    shape = node.get("shape") if "shape" in node.attr else None
    return TensorInfo(node.name, str(dtype) if dtype is not None else "invalid", shape)


def _variable(node: Node) -> VariableInfo:
    dtype = node.get("dtype")
    shape = node.get("shape") if "shape" in node.attr else None
    return VariableInfo(node.name, node.op, str(dtype) if dtype is not None else "?", shape)


def _elements(shape: tuple[int | None, ...] | None) -> int:
    if shape is None or any(d is None for d in shape):
        return 0
    count = 1
    for d in shape:
        count *= int(d or 0)
    return count


def _const_sizes(graph: Graph) -> tuple[int, int]:
    """Elements and bytes over every Const, read from the tensor protos without decoding."""
    from graphrewrite.engine.attrvalues import DType

    count = size = 0
    for name in graph.nodes_of_op("Const"):
        node = graph.node(name)
        if "value" not in node.attr:
            continue
        tensor = node.attr["value"].tensor
        elements = _elements(tuple(d.size for d in tensor.tensor_shape.dim))
        count += elements
        if tensor.string_val:
            size += sum(len(s) for s in tensor.string_val)
        elif tensor.dtype:
            size += elements * DType(tensor.dtype).numpy.itemsize
    return count, size


def _sorted_counts(ops: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(ops).items(), key=lambda kv: (-kv[1], kv[0])))


def human_number(value: int) -> str:
    """GTT's HumanReadableNum: ``999``, ``4.00k``, ``1.23M``, ``2.50B``."""
    if value < 1000:
        return str(value)
    scaled, units = float(value), "kMBT"
    for unit in units:
        scaled /= 1000
        if scaled < 1000 or unit == units[-1]:
            return f"{scaled:.2f}{unit}"
    return str(value)


def transform_command(
    graph_path: str, inputs: Iterable[str], outputs: Iterable[str], script: str | None = None
) -> str:
    """A ``graphrewrite transform`` command line for *graph_path*, ready to paste."""
    from pathlib import PurePath

    from graphrewrite.stdlib_rules.scripts import STANDARD_SCRIPT

    path = PurePath(graph_path)
    optimized = str(path.with_name(f"{path.stem}_optimized{path.suffix or '.pb'}"))
    parts = [
        "graphrewrite transform",
        f"--in_graph={shlex.quote(graph_path)}",
        f"--out_graph={shlex.quote(optimized)}",
        f"--inputs={shlex.quote(','.join(inputs))}",
        f"--outputs={shlex.quote(','.join(outputs))}",
        f"--transforms={shlex.quote(script or STANDARD_SCRIPT)}",
        "--verify",
    ]
    return " ".join(parts)


def freeze_command(graph_path: str, outputs: Iterable[str]) -> str:
    """A ``graphrewrite freeze`` command line for a TF1 graph with variables."""
    return (
        f"graphrewrite freeze --input_graph={shlex.quote(graph_path)} --input_checkpoint=CHECKPOINT_PREFIX "
        f"--output_node_names={shlex.quote(','.join(outputs))} --output_graph=frozen.pb"
    )


# -- name resolution -------------------------------------------------------------------

PREFIXES = ("import/", "serving_default_")


def resolve_names(graph: Any, names: Iterable[str], *, aliases: Mapping[str, str] | None = None) -> list[str]:
    """Each name as the graph knows it: ``x`` for ``x``/``x:0``/``^x``, ``x:1`` for port 1.

    ``import/x`` finds ``x`` and ``x`` finds ``import/x``; *aliases* (signature keys -> tensor
    names) are tried too. Raises NameNotFoundError naming every missing name, with hints.
    """
    graph = as_graph(graph)
    resolved, missing = [], []
    for text in names:
        text = text.strip()
        if not text:
            continue
        if aliases and text in aliases:
            text = aliases[text]
        ref = TensorRef.parse(text)
        node = _find(graph, ref.node)
        if node is None:
            hint = suggest(ref.node, graph.names)
            missing.append(f"'{text}'" + (f" ({hint})" if hint else ""))
            continue
        port = max(ref.port, 0)
        _check_port(node, port, text)
        resolved.append(str(TensorRef(node.name, port)))
    if missing:
        raise NameNotFoundError(f"no node named {', '.join(missing)} in the graph")
    return resolved


def _find(graph: Graph, name: str) -> Node | None:
    found = graph.get(name)
    for prefix in PREFIXES:
        if found is None and name.startswith(prefix):
            found = graph.get(name[len(prefix) :])
    return found if found is not None else graph.get("import/" + name)


def _check_port(node: Node, port: int, text: str) -> None:
    if port == 0:
        return
    from graphrewrite.engine.opdefs import output_count

    count = output_count(node)
    if count is not None and port >= count:
        plural = "output" if count == 1 else "outputs"
        raise NameNotFoundError(f"'{text}': node '{node.name}' ({node.op}) has {count} {plural}")


# -- rendering ----------------------------------------------------------------------------


def render(summary: Summary, graph_path: str) -> str:
    """The human-readable report ``graphrewrite summarize`` prints."""
    lines = [f"{graph_path}: {summary.node_count} nodes, {len(summary.functions)} library functions"]
    lines += _tensors("inputs", summary.inputs, "none: no Placeholder (give --inputs to transform)")
    if summary.optional_inputs:
        lines += _tensors("optional inputs (PlaceholderWithDefault)", summary.optional_inputs, "")
    lines.append(f"outputs ({len(summary.outputs)}):" if summary.outputs else "outputs: none spotted")
    lines += [f"  {o.name}  ({o.op})" for o in summary.outputs]
    if summary.variables:
        lines.append(f"variables ({len(summary.variables)}, not frozen):")
        lines += [f"  {v.name}  {v.op} {v.dtype} {show_shape(v.shape)}" for v in summary.variables]
    else:
        lines.append("variables: none (the graph is frozen)")
    lines.append(
        f"parameters: {human_number(summary.const_parameters)} in constants ({_bytes(summary.const_bytes)}), "
        f"{human_number(summary.variable_parameters)} in variables"
    )
    lines.append(f"control edges: {summary.control_edges}")
    lines += _devices(summary.devices)
    if summary.functions:
        lines.append(f"functions ({len(summary.functions)}): " + ", ".join(f"{k} ({v} nodes)" for k, v in summary.functions.items()))
    lines.append("ops: " + ", ".join(f"{c} {op}" for op, c in summary.op_counts.items()))
    if summary.function_op_counts:
        lines.append("ops in functions: " + ", ".join(f"{c} {op}" for op, c in summary.function_op_counts.items()))
    if summary.training_nodes:
        lines.append(f"training nodes ({len(summary.training_nodes)}): not an inference graph yet; try strip_training_nodes")
    lines += [f"problem: {p}" for p in summary.problems]
    if summary.variables:
        lines += ["", "freeze it first:", "  " + freeze_command(graph_path, summary.output_names)]
    lines += ["", "try:", "  " + transform_command(graph_path, summary.input_names, summary.output_names)]
    return "\n".join(lines)


def _tensors(title: str, tensors: tuple[TensorInfo, ...], empty: str) -> list[str]:
    if not tensors:
        return [f"{title}: {empty}"]
    return [f"{title} ({len(tensors)}):", *tensor_lines(tensors)]


def _devices(devices: Mapping[str, int]) -> list[str]:
    if not devices:
        return ["devices: none assigned"]
    return ["devices: " + ", ".join(f"{count} nodes on '{dev}'" for dev, count in devices.items())]


def _bytes(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def as_json(summary: Summary, graph_path: str) -> dict[str, Any]:
    """The ``--json`` object: plain lists and numbers, -1 for unknown dims."""
    return {
        "graph": graph_path,
        "node_count": summary.node_count,
        "inputs": [t.as_json() for t in summary.inputs],
        "optional_inputs": [t.as_json() for t in summary.optional_inputs],
        "outputs": [{"name": o.name, "op": o.op} for o in summary.outputs],
        "variables": [
            {"name": v.name, "op": v.op, "dtype": v.dtype, "shape": TensorInfo(v.name, v.dtype, v.shape).as_json()["shape"]}
            for v in summary.variables
        ],
        "const_parameters": summary.const_parameters,
        "const_bytes": summary.const_bytes,
        "variable_parameters": summary.variable_parameters,
        "control_edges": summary.control_edges,
        "op_counts": dict(summary.op_counts),
        "function_op_counts": dict(summary.function_op_counts),
        "devices": dict(summary.devices),
        "functions": dict(summary.functions),
        "training_nodes": list(summary.training_nodes),
        "problems": list(summary.problems),
        "transform_command": transform_command(graph_path, summary.input_names, summary.output_names),
    }


def structure(graph: Any) -> list[str]:
    """GTT's ``--print_structure``: ``name (op): [inputs]`` per node, inputs before users."""
    graph = as_graph(graph)
    lines = []
    for node in execution_order(graph):
        line = f"{node.name} ({node.op}): [{', '.join(str(r) for r in node.inputs)}]"
        if node.op == "Const" and "value" in node.attr:
            tensor = node.attr["value"].tensor
            line += f", value=<{len(tensor.tensor_shape.dim)}-d {show_shape(tuple(d.size for d in tensor.tensor_shape.dim))}>"
        lines.append(line)
    return lines


def execution_order(graph: Graph) -> list[Node]:
    """Nodes with every input before its users (graph order among ready nodes; loops last)."""
    pending = {n.name: sum(1 for r in n.inputs if r.node in graph) for n in graph}
    ready = deque(name for name, count in pending.items() if count == 0)
    order: list[Node] = []
    while ready:
        name = ready.popleft()
        order.append(graph.node(name))
        for user in graph.consumers(name):
            pending[user] -= sum(1 for r in graph.node(user).inputs if r.node == name)
            if pending[user] == 0:
                ready.append(user)
    placed = {n.name for n in order}
    return order + [n for n in graph if n.name not in placed]
