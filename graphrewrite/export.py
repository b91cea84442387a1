"""Frozen GraphDef -> SavedModel with a ``serving_default`` signature, in TF Serving layout.

The model is written to ``DIR/<version>/`` (``DIR/1/`` by default) so TF Serving picks it up,
and loads with ``tf.saved_model.load`` and ``saved_model_cli``. Signature keys default to the
tensor names (``input``, ``Identity``) made into identifiers, and can be overridden. The
version folder is built in a temporary folder beside it and renamed into place, so a failed
export leaves nothing behind; an existing non-empty version is replaced only when asked.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, GraphRewriteError, UsageError
from graphrewrite.freezing.frozen import quiet_tensorflow

SERVING = "serving_default"


def signature_key(name: str) -> str:
    """A signature key for tensor *name*: ``x`` for ``x``/``x:0``, ``x_1`` for ``x:1``."""
    from graphrewrite.engine.graph import TensorRef

    ref = TensorRef.parse(name)
    text = ref.node if ref.port <= 0 else f"{ref.node}_{ref.port}"
    key = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return key if key[:1].isalpha() else f"t_{key}"


def make_keys(names: Sequence[str], overrides: Mapping[str, str] | None = None) -> list[str]:
    """One key per name: overridden where *overrides* says, else derived; all distinct."""
    from graphrewrite.inputs import lookup

    keys: list[str] = []
    for name in names:
        key = lookup(overrides or {}, name) or signature_key(name)
        base, k = key, 1
        while key in keys:
            key, k = f"{base}_{k}", k + 1
        keys.append(key)
    return keys


def export_saved_model(
    graph_def: Any,
    inputs: Sequence[str],
    outputs: Sequence[str],
    saved_model_dir: str | os.PathLike[str],
    *,
    version: int = 1,
    signature_keys: Mapping[str, str] | None = None,
    overwrite: bool = False,
    tags: Sequence[str] = ("serve",),
) -> Path:
    """Write *graph_def* as ``saved_model_dir/<version>``; returns that folder.

    *signature_keys* maps tensor names (either spelling) to the keys to use for them.
    """
    from graphrewrite.inspect import resolve_names

    if not inputs or not outputs:
        raise UsageError("export: give the graph's inputs and outputs (--inputs, --outputs)")
    if version < 0:
        raise UsageError(f"export: --version must be 0 or more, got {version}")
    inputs, outputs = resolve_names(graph_def, inputs), resolve_names(graph_def, outputs)
    _check_overrides(signature_keys or {}, [*inputs, *outputs])
    target = Path(saved_model_dir).expanduser() / str(version)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise GraphFileError(f"'{target}' already exists and is not empty; use --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=target.parent))
    try:
        with quiet_tensorflow():
            _build(graph_def, inputs, outputs, signature_keys or {}, staging / "model", tags)
        _swap_in(staging / "model", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_overrides(overrides: Mapping[str, str], names: Sequence[str]) -> None:
    from graphrewrite.inputs import lookup

    for name in overrides:
        if not any(lookup({name: 1}, n) for n in names):
            raise UsageError(f"export: --signature_keys names '{name}', which is not one of the inputs or outputs")


def _build(graph_def: Any, inputs: list[str], outputs: list[str], overrides: Mapping[str, str], where: Path,
           tags: Sequence[str]) -> None:  # fmt: skip
    from graphrewrite.runner import INIT_ALL_TABLES, session_config, tensor_name

    tf = _tf.tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        try:
            v1.import_graph_def(graph_def, name="")
        except (ValueError, TypeError, tf.errors.OpError) as exc:
            raise GraphRewriteError(f"TensorFlow cannot import the graph: {str(exc).splitlines()[0]}") from None
        feeds = {k: graph.get_tensor_by_name(tensor_name(n)) for k, n in zip(make_keys(inputs, overrides), inputs, strict=True)}
        fetches = {k: graph.get_tensor_by_name(tensor_name(n)) for k, n in zip(make_keys(outputs, overrides), outputs, strict=True)}
        signature = v1.saved_model.signature_def_utils.predict_signature_def(feeds, fetches)
        builder = v1.saved_model.Builder(str(where))
        # A graph with frozen lookup tables initialises them when the SavedModel is loaded.
        names = {op.name for op in graph.get_operations()}
        init = graph.get_operation_by_name(INIT_ALL_TABLES) if INIT_ALL_TABLES in names else None
        with v1.Session(graph=graph, config=session_config()) as session:
            builder.add_meta_graph_and_variables(
                session, list(tags), signature_def_map={SERVING: signature}, main_op=init
            )
        builder.save()


def _swap_in(built: Path, target: Path) -> None:
    """Rename *built* to *target*, replacing an old *target* only after the new one is ready."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    try:
        os.replace(built, target)
    except OSError as exc:
        if old is not None:
            os.replace(old, target)
        raise GraphFileError(f"cannot write '{target}': {exc.strerror or exc}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
