"""TensorFlow itself as the reference runtime, grappler off (graphrewrite/runner.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite.engine.errors import GraphError
from graphrewrite.targets.runtimes import LoadError, RunError


class TFModel:
    """A GraphDef imported once into a TF session."""

    convert_seconds = 0.0

    def __init__(self, graph_def: Any, outputs: Sequence[str]):
        from graphrewrite.runner import GraphRunner

        start = time.perf_counter()
        try:
            self._runner = GraphRunner(graph_def)
        except GraphError as exc:
            raise LoadError(f"tf: {exc}") from None
        self.load_seconds = time.perf_counter() - start
        self.layers = len(graph_def.node)
        self._outputs = tuple(outputs)

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self._runner.run(feeds, self._outputs)
        except GraphError as exc:
            raise RunError(f"tf: {exc}") from None


def load(graph_def: Any, *, inputs: Sequence[str], outputs: Sequence[str], input_shapes: Mapping[str, Any]) -> TFModel:
    """Import *graph_def* into a session (grappler off)."""
    return TFModel(graph_def, outputs)
