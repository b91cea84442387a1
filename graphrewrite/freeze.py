"""Freeze a model into one GraphDef with no variables: the front door of ``graphrewrite freeze``.

Three sources, one result (:class:`FrozenGraph`: the GraphDef, its inputs and outputs with
dtypes and shapes, and the signature keys mapped to graph tensor names)::

    freeze_saved_model("exported/", signature_name="serving_default")
    freeze_keras_model("model.keras")            # or a keras.Model object
    freeze_checkpoint("graph.pb", "ckpt/model-100", ["logits"])   # TF1, or a .meta file

Control flow is kept functional (``While``/``If``) unless ``control_flow="lower"``.
"""

from __future__ import annotations

from graphrewrite.freezing.frozen import FreezeError, FrozenGraph, TensorInfo
from graphrewrite.freezing.keras import freeze_keras_model, load_keras_model
from graphrewrite.freezing.saved_model import freeze_concrete_function, freeze_saved_model, saved_model_graph
from graphrewrite.freezing.tf1 import freeze_checkpoint, load_graph_or_meta

__all__ = [
    "FreezeError",
    "FrozenGraph",
    "TensorInfo",
    "freeze_checkpoint",
    "freeze_concrete_function",
    "freeze_keras_model",
    "freeze_saved_model",
    "load_graph_or_meta",
    "load_keras_model",
    "saved_model_graph",
]
