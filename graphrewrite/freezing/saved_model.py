"""Freeze TF2 SavedModels and concrete functions with TensorFlow's own conversion, finished.

``convert_variables_to_constants_v2`` does the hard part (variables captured anywhere,
including inside While/If bodies). What it lacks is added here: control flow is kept
functional by default (lowering it is what creates the ``unused_control_flow_input``
placeholders), calls it leaves (``_noinline`` functions) are inlined, and the signature's keys
are mapped to the frozen graph's tensor names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, UsageError, suggest
from graphrewrite.engine.graph import Graph, TensorRef
from graphrewrite.freezing import cleanup
from graphrewrite.freezing.frozen import FreezeError, FrozenGraph, TensorInfo, first_line, quiet_tensorflow
from graphrewrite.freezing.tables import captured_handles, freeze_tables

CONTROL_FLOW = ("keep", "lower")


def freeze_saved_model(
    saved_model_dir: str | os.PathLike[str],
    *,
    signature_name: str = "serving_default",
    tags: Sequence[str] | str | None = None,
    control_flow: str = "keep",
) -> FrozenGraph:
    """Freeze one signature of a SavedModel (TF2, Keras ``model.export``, or TF1) to a GraphDef."""
    check_control_flow(control_flow)
    path = Path(saved_model_dir).expanduser()
    if not path.is_dir():
        raise GraphFileError(f"SavedModel folder '{path}' does not exist")
    if not (path / "saved_model.pb").exists() and not (path / "saved_model.pbtxt").exists():
        raise GraphFileError(f"'{path}' is not a SavedModel: it has no saved_model.pb")
    tf = _tf.tf()
    tag_list = [t for t in tags.split(",") if t] if isinstance(tags, str) else tags
    try:
        with quiet_tensorflow():
            loaded = tf.saved_model.load(str(path), tags=tag_list or None)
    except tf.errors.NotFoundError as exc:  # missing files: nothing to fall back on
        raise GraphFileError(f"cannot load SavedModel '{path}': {first_line(exc)}") from None
    except Exception as exc:  # the object graph cannot be revived (AttributeError, ValueError, ...)
        from graphrewrite.freezing.legacy import freeze_legacy_saved_model

        return freeze_legacy_saved_model(
            path, signature_name=signature_name, tags=",".join(tag_list or ["serve"]), reason=first_line(exc)
        )
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if signature_name not in signatures:
        raise missing_signature(signature_name, signatures, path)
    # `loaded` must stay alive while converting: the signature only holds weak variable refs.
    frozen = freeze_concrete_function(signatures[signature_name], control_flow=control_flow)
    del loaded
    return frozen


def saved_model_graph(saved_model_dir: str | os.PathLike[str], *, tags: Sequence[str] | str = "serve") -> tuple[Any, str]:
    """The MetaGraphDef tagged *tags* and the variables checkpoint prefix of a SavedModel.

    This is how TF1's ``freeze_graph --input_saved_model_dir --output_node_names`` froze one.
    """
    parse = _tf.private("parse_saved_model")
    path = Path(saved_model_dir).expanduser()
    try:
        saved = parse(str(path))
    except OSError as exc:
        raise GraphFileError(f"'{path}' is not a SavedModel: {first_line(exc)}") from None
    wanted = set(tags.split(",") if isinstance(tags, str) else tags) - {""}
    for meta in saved.meta_graphs:
        if set(meta.meta_info_def.tags) == wanted:
            return meta, str(path / "variables" / "variables")
    have = "; ".join(",".join(m.meta_info_def.tags) for m in saved.meta_graphs)
    raise NameNotFoundError(f"SavedModel '{path}' has no MetaGraph tagged '{','.join(sorted(wanted))}' (it has: {have})")


def missing_signature(name: str, signatures: dict[str, Any], path: Path) -> NameNotFoundError:
    if not signatures:
        return NameNotFoundError(f"SavedModel '{path}' has no signatures; save it with a serving signature")
    hint = suggest(name, signatures)
    have = ", ".join(sorted(signatures))
    return NameNotFoundError(
        f"SavedModel '{path}' has no signature '{name}' (it has: {have})" + (f"; {hint}" if hint else "")
    )


def check_control_flow(control_flow: str) -> None:
    if control_flow not in CONTROL_FLOW:
        raise UsageError(f"control_flow must be 'keep' or 'lower', got '{control_flow}'")


def freeze_concrete_function(
    function: Any, *, control_flow: str = "keep", output_keys: Sequence[str] | None = None
) -> FrozenGraph:
    """Freeze a ``tf.function`` ConcreteFunction (a signature, or a traced Keras call)."""
    check_control_flow(control_flow)
    convert_variables_to_constants_v2 = _tf.private("convert_variables_to_constants_v2")
    tf = _tf.tf()
    try:
        with quiet_tensorflow():
            converted = convert_variables_to_constants_v2(function, lower_control_flow=control_flow == "lower")
    except (ValueError, TypeError, KeyError, AssertionError, tf.errors.OpError) as exc:
        raise FreezeError(f"TensorFlow could not freeze the function: {first_line(exc)}") from None
    inputs = [_info(t) for t in converted.inputs]
    outputs = [_info(t) for t in converted.outputs]
    graph = Graph.from_graphdef(converted.graph.as_graph_def())
    graph = cleanup.finish(graph, [TensorRef.parse(t.name).node for t in (*inputs, *outputs)])
    graph, tables = freeze_tables(graph, captured_handles(function))
    inputs = [t for t in inputs if TensorRef.parse(t.name).node not in tables]
    return FrozenGraph(
        graph.to_graphdef(),
        tuple(inputs),
        tuple(outputs),
        dict(zip(input_keys(function), (t.name for t in inputs), strict=False)),
        dict(zip(output_keys or structured_output_keys(function), (t.name for t in outputs), strict=False)),
    )


def _info(tensor: Any) -> TensorInfo:
    shape = tensor.shape
    dims = None if shape.rank is None else tuple(shape.as_list())
    return TensorInfo(str(TensorRef.parse(tensor.name)), tensor.dtype.name, dims)


def input_keys(function: Any) -> list[str]:
    """Signature keys of the function's inputs, in the order of its placeholders."""
    tf = _tf.tf()
    args, kwargs = function.structured_input_signature
    keys = [getattr(spec, "name", None) or f"input_{i}" for i, spec in enumerate(tf.nest.flatten(args))]
    return keys + flat_paths(kwargs)


def structured_output_keys(function: Any) -> list[str]:
    """Keys of the function's outputs in flat order: dict keys, else ``output_<i>``."""
    outputs = function.structured_outputs
    paths = flat_paths(outputs)
    return paths if isinstance(outputs, dict) else [f"output_{i}" for i in range(len(paths))]


def flat_paths(structure: Any, prefix: str = "") -> list[str]:
    """``/``-joined paths of the leaves of *structure*, in ``tf.nest.flatten`` order."""
    if isinstance(structure, dict):
        return [p for key in sorted(structure) for p in flat_paths(structure[key], f"{prefix}{key}/")]
    if isinstance(structure, (list, tuple)):
        return [p for i, item in enumerate(structure) for p in flat_paths(item, f"{prefix}{i}/")]
    if structure is None:
        return []
    return [prefix[:-1]]
