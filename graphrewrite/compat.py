"""Drop-in replacements for TensorFlow's removed ``tensorflow.tools.graph_transforms``.

Old code ports by changing only the import::

    # from tensorflow.tools.graph_transforms import TransformGraph
    from graphrewrite.compat import TransformGraph
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphrewrite.pipeline import transform_graph


def TransformGraph(
    input_graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: Sequence[str]
) -> Any:
    """GTT's Python entry point: each item of *transforms* is one transform specification."""
    return transform_graph(input_graph_def, inputs, outputs, transforms)
