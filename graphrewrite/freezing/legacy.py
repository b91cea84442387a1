"""SavedModels whose object graph the installed TensorFlow cannot restore: frozen from the MetaGraph.

A Keras model saved after ``fit`` by an older TensorFlow (2.4, say) records optimizer slot
variables in its object graph that today's object loader cannot revive
(``'_UserObject' object has no attribute 'add_slot'``). The MetaGraph, its signature and its
variables are still there, and TensorFlow's own TF1 loader reads them, functions and all. So
does this: the variables are restored by that loader into a session, read once, and the
MetaGraph is frozen like a TF1 graph (the calls the signature makes are inlined by the usual
clean-up). The result says so in its notes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.graph import Node, TensorRef
from graphrewrite.freezing.frozen import FreezeError, FrozenGraph, first_line, quiet_tensorflow


def freeze_legacy_saved_model(
    saved_model_dir: str | os.PathLike[str], *, signature_name: str, tags: str, reason: str
) -> FrozenGraph:
    """Freeze signature *signature_name* from the MetaGraph and variables, without the object graph."""
    from graphrewrite.freezing.saved_model import missing_signature, saved_model_graph
    from graphrewrite.freezing.tf1 import freeze_checkpoint

    path = Path(saved_model_dir).expanduser()
    meta, prefix = saved_model_graph(path, tags=tags or "serve")
    signatures = dict(meta.signature_def)
    if signature_name not in signatures:
        raise missing_signature(signature_name, signatures, path)
    signature = signatures[signature_name]
    inputs = {key: str(TensorRef.parse(info.name)) for key, info in sorted(signature.inputs.items())}
    outputs = {key: str(TensorRef.parse(info.name)) for key, info in sorted(signature.outputs.items())}
    tf = _tf.tf()
    v1 = tf.compat.v1
    try:
        with quiet_tensorflow(), v1.Session(graph=tf.Graph()) as session:
            v1.saved_model.loader.load(session, list(meta.meta_info_def.tags), str(path))
            frozen = freeze_checkpoint(meta, prefix, list(outputs.values()), reader=SessionValues(session))
    except (RuntimeError, ValueError, OSError, tf.errors.OpError) as exc:
        raise FreezeError(f"TensorFlow's TF1 loader cannot read SavedModel '{path}' either: {first_line(exc)}") from None
    note = (
        f"TensorFlow {_tf.tf().__version__} cannot restore this SavedModel's object graph ({reason}); "
        "froze its MetaGraph and variables with TensorFlow's TF1 loader instead"
    )
    return attrs.evolve(frozen, signature_inputs=inputs, signature_outputs=outputs, notes=(*frozen.notes, note))


@attrs.frozen
class SessionValues:
    """Variable values read from a session TensorFlow's loader restored (the interface of
    ``CheckpointValues``): only the variables the outputs need are read."""

    session: Any

    def value(self, node: Node) -> np.ndarray:
        return _read(self.session, node)


def _read(session: Any, node: Node) -> np.ndarray:
    """The value of variable *node* in *session* (a resource variable through ReadVariableOp)."""
    tf = _tf.tf()
    graph = session.graph
    tensor = graph.get_tensor_by_name(f"{node.name}:0")
    with graph.as_default():
        if tensor.dtype == tf.resource:
            read = tf.raw_ops.ReadVariableOp(resource=tensor, dtype=tf.as_dtype(node.get("dtype").enum))
        else:
            read = tf.identity(tensor)
    return np.asarray(session.run(read))
