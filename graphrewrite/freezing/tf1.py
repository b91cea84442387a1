"""Freeze a TF1 graph (GraphDef or MetaGraphDef) with a checkpoint: GTT-era ``freeze_graph``.

The graph is cut to what the outputs need, variable values come from the checkpoint
(``checkpoint.CheckpointValues``: no Session, no restore ops), and TensorFlow's own converter
replaces the variables: ``VariableV2`` and resource variables (``VarHandleOp`` read through
``Identity``, ``Enter``, ``Switch``, ``Merge``, or inside functional ``While``/``If``),
``ResourceGather`` on partitioned variables included. Reference-typed control-flow ops left
reading a frozen variable (``RefEnter``, ``RefSwitch``, ...) become their value twins.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, suggest
from graphrewrite.engine.graph import Graph, Node, node_name
from graphrewrite.freezing import cleanup
from graphrewrite.freezing.checkpoint import CheckpointValues, checkpoint_prefix
from graphrewrite.freezing.frozen import FreezeError, FrozenGraph, TensorInfo, first_line
from graphrewrite.freezing.tables import INIT_ALL_TABLES, group_initializers, table_initializers
from graphrewrite.stdlib_rules.op_kinds import VARIABLE_HOLDERS

REF_TWINS = {
    "RefEnter": "Enter", "RefSwitch": "Switch", "RefIdentity": "Identity", "RefMerge": "Merge",
    "RefExit": "Exit", "RefNextIteration": "NextIteration", "RefSelect": "Select",
}  # fmt: skip


def freeze_checkpoint(
    graph_def_or_meta: Any,
    checkpoint: str | os.PathLike[str],
    output_node_names: str | Sequence[str],
    *,
    whitelist: str | Iterable[str] | None = None,
    blacklist: str | Iterable[str] | None = None,
    initializer_nodes: str | Sequence[str] = (),
    reader: Any = None,
) -> FrozenGraph:
    """Freeze a TF1 graph: *graph_def_or_meta* is a GraphDef, a MetaGraphDef or a file path.

    Table initializers of the tables the outputs use, and *initializer_nodes*, are kept and
    grouped under ``init_all_tables``, which every command runs before the first fetch.
    *reader* (anything with ``value(node)``) replaces reading the checkpoint (a loader's session)."""
    from graphrewrite.inspect import resolve_names
    from graphrewrite.pipeline import split_names

    graph_def = load_graph_or_meta(graph_def_or_meta)
    graph = Graph.from_graphdef(graph_def)
    outputs = resolve_names(graph, split_names(output_node_names))
    if not outputs:
        raise FreezeError("no output node names given; freezing keeps only what the outputs need")
    reader = reader if reader is not None else CheckpointValues(checkpoint_prefix(checkpoint), graph)
    needed = needed_by(graph, [node_name(o) for o in outputs])
    # Lookup tables the outputs read keep their initializers, grouped as init_all_tables
    # (freeze_graph's --initializer_nodes adds more).
    initializers = [*table_initializers(graph, needed.names), *resolve_names(graph, split_names(initializer_nodes))]
    if initializers:
        needed = group_initializers(needed_by(graph, [*map(node_name, outputs), *initializers]), initializers)
    variables = _selected(needed, split_names(whitelist), split_names(blacklist))
    converted = _convert(needed.to_graphdef(), {v.name: reader.value(v) for v in variables})
    frozen = dereference(drop_stale_shapes(needed, Graph.from_graphdef(converted)))
    inputs = [n.name for n in frozen if n.op == "Placeholder" and not n.name.startswith(cleanup.LOWERING_PLACEHOLDER)]
    leaves_variables = bool(whitelist or blacklist)
    roots = [*inputs, *map(node_name, outputs), *([INIT_ALL_TABLES] if initializers else [])]
    frozen = cleanup.finish(frozen, roots, check=not leaves_variables)
    infos = tensor_infos(frozen, [*inputs, *outputs])
    return FrozenGraph(frozen.to_graphdef(), infos[: len(inputs)], infos[len(inputs) :])


def load_graph_or_meta(source: Any) -> Any:
    """A GraphDef from a GraphDef, a MetaGraphDef, or a ``.pb``/``.pbtxt``/``.meta`` path."""
    from graphrewrite import io

    pb = _tf.pb()
    if isinstance(source, pb.GraphDef):
        return source
    if hasattr(source, "graph_def") and hasattr(source, "meta_info_def"):
        return source.graph_def
    path = Path(source).expanduser()
    if path.suffix != ".meta":
        return io.load_graph(path)
    return _load_meta(path).graph_def


def _load_meta(path: Path) -> Any:
    from google.protobuf import message, text_format
    from tensorflow.core.protobuf import meta_graph_pb2

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphFileError(f"cannot read '{path}': {exc.strerror or exc}") from None
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except message.DecodeError:
        try:
            text_format.Parse(data.decode("utf-8"), meta)
        except (text_format.ParseError, UnicodeDecodeError) as exc:
            raise GraphFileError(f"'{path}' is not a MetaGraphDef: {first_line(exc)}") from None
    if not meta.graph_def.node:
        raise GraphFileError(f"'{path}' is not a MetaGraphDef with a graph (no nodes)")
    return meta


def needed_by(graph: Graph, outputs: Iterable[str]) -> Graph:
    """The part of *graph* the *outputs* reach through data and control inputs."""
    needed: set[str] = set()
    pending = list(outputs)
    while pending:
        name = pending.pop()
        if name in needed or name not in graph:
            continue
        needed.add(name)
        pending.extend(ref.node for ref in graph.node(name).inputs)
    return graph.replace((), [n for n in graph.names if n not in needed])


def _selected(graph: Graph, whitelist: Sequence[str], blacklist: Sequence[str]) -> list[Node]:
    """The variable nodes to freeze; unknown names in either list are an error."""
    variables = [n for n in graph if n.op in VARIABLE_HOLDERS]
    names = {v.name for v in variables}
    for flag, listed in (("variable_names_whitelist", whitelist), ("variable_names_blacklist", blacklist)):
        for name in listed:
            if name not in names:
                hint = suggest(name, names)
                raise NameNotFoundError(
                    f"--{flag}: no variable '{name}' among those the outputs need" + (f"; {hint}" if hint else "")
                )
    return [v for v in variables if (not whitelist or v.name in whitelist) and v.name not in blacklist]


def _convert(graph_def: Any, values: dict[str, Any]) -> Any:
    """TensorFlow's converter, fed with checkpoint values instead of a Session's."""
    converter_data, tensor_data = _tf.private("ConverterData"), _tf.private("TensorData")
    replace = _tf.private("replace_variables_by_constants")

    class CheckpointData(converter_data):  # type: ignore[misc,valid-type]  (the Session-free twin of _SessionConverterData)
        def __init__(self) -> None:
            super().__init__(graph_def)
            for node in self.graph_def.node:
                if node.name in values:
                    self._tensor_data[node.name] = tensor_data(numpy=values[node.name], dtype=node.attr["dtype"].type, index=None)

    try:
        converted, _ = replace(CheckpointData())
    except (ValueError, KeyError, TypeError) as exc:
        raise FreezeError(f"TensorFlow could not replace the variables: {first_line(exc)}") from None
    return converted


def drop_stale_shapes(before: Graph, after: Graph) -> Graph:
    """Drop ``_output_shapes`` where conversion retyped a node (a resource became a tensor):
    TensorFlow refuses to import a node whose recorded shapes contradict its outputs."""
    stale = []
    for node in after:
        old = before.get(node.name)
        if "_output_shapes" not in node.attr or old is None or node.op == "Const":
            continue
        if any(key != "_output_shapes" and old.attr.get(key) != value for key, value in node.attr.items()):
            stale.append(node.without_attrs("_output_shapes"))
    return after.replace(stale) if stale else after


def dereference(graph: Graph) -> Graph:
    """Ref-typed ops that now read a constant become their value twins (RefEnter -> Enter)."""
    memo: dict[str, bool] = {}

    def reads_ref(node: Node) -> bool:
        if node.name not in memo:
            memo[node.name] = False  # loops through NextIteration end here
            source = graph.get(node.data_inputs[0].node) if node.data_inputs else None
            memo[node.name] = source is not None and (
                source.op in ("Variable", "VariableV2") or (source.op in REF_TWINS and reads_ref(source))
            )
        return memo[node.name]

    fixed = [n.evolve(op=REF_TWINS[n.op]) for n in graph if n.op in REF_TWINS and not reads_ref(n)]
    return graph.replace(fixed) if fixed else graph


def tensor_infos(graph: Graph, names: Iterable[str]) -> tuple[TensorInfo, ...]:
    """Dtype and static shape of each named tensor, by TensorFlow's shape inference."""
    from graphrewrite.engine.graph import TensorRef
    from graphrewrite.runner import tensor_name

    tf = _tf.tf()
    imported = tf.Graph()
    with imported.as_default():
        try:
            tf.compat.v1.import_graph_def(graph.to_graphdef(), name="")
        except (ValueError, tf.errors.OpError) as exc:
            raise FreezeError(f"the frozen graph does not import into TensorFlow: {first_line(exc)}") from None
    infos = []
    for name in names:
        tensor = imported.get_tensor_by_name(tensor_name(name))
        dims = None if tensor.shape.rank is None else tuple(tensor.shape.as_list())
        infos.append(TensorInfo(str(TensorRef.parse(name)), tensor.dtype.name, dims))
    return tuple(infos)
