"""OpenCV 4.x dnn: ``cv2.dnn.readNetFromTensorflow`` on the serialized GraphDef.

OpenCV computes in NCHW: 4-D inputs are transposed NHWC -> NCHW before ``setInput`` and 4-D
outputs back to NHWC, so results line up with TensorFlow's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite.targets.runtimes import LoadError, RunError, bare, first_line


class OpenCVModel:
    """A ``cv2.dnn.Net`` read from a frozen GraphDef, forwarded once per run."""

    convert_seconds = 0.0

    def __init__(self, graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], shapes: Mapping[str, Any]):
        import cv2

        start = time.perf_counter()
        try:
            with _quiet(cv2):
                self._net = cv2.dnn.readNetFromTensorflow(np.frombuffer(graph_def.SerializeToString(), np.uint8))
        except cv2.error as exc:
            raise LoadError(f"opencv: {_message(exc)}") from None
        self._inputs = tuple(inputs)
        self._outputs = _layer_names(self._net, graph_def, outputs)
        # OpenCV creates layers lazily: an unknown op fails only at the first forward().
        try:
            self.run({name: np.zeros(_lookup(shapes, name), np.float32) for name in self._inputs})
        except RunError as exc:
            raise LoadError(str(exc)) from None
        self.load_seconds = time.perf_counter() - start
        self.layers = len(self._net.getLayerNames())

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        import cv2

        for name in self._inputs:
            value = np.asarray(_lookup(feeds, name))
            self._net.setInput(value.transpose(0, 3, 1, 2).copy() if value.ndim == 4 else value, bare(name))
        try:
            with _quiet(cv2):
                results = self._net.forward(list(self._outputs)) if self._outputs else [self._net.forward()]
        except cv2.error as exc:
            raise RunError(f"opencv: {_message(exc)}") from None
        return [r.transpose(0, 2, 3, 1) if r.ndim == 4 else r for r in results]


@contextlib.contextmanager
def _quiet(cv2: Any) -> Iterator[None]:
    """No OpenCV log lines while it loads or runs: its failures come back as exceptions, which
    become one-line errors. The caller's log level is restored afterwards."""
    logging = cv2.utils.logging
    saved = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(saved)


# Ops OpenCV's importer drops: the layer of an output behind them has its input's name.
_SKIPPED = ("Identity", "IdentityN", "StopGradient", "Snapshot")


def _layer_names(net: Any, graph_def: Any, outputs: Sequence[str]) -> tuple[str, ...]:
    """OpenCV's layer for each output; () means "the net's last layer" (one output only)."""
    nodes = {node.name: node for node in graph_def.node}
    names = []
    for output in outputs:
        name = bare(output)
        while net.getLayerId(name) < 0 and name in nodes and nodes[name].op in _SKIPPED and nodes[name].input:
            name = bare(nodes[name].input[0].split(":")[0])
        names.append(name)
    if all(net.getLayerId(name) >= 0 for name in names):
        return tuple(names)
    if len(outputs) == 1:
        return ()
    raise LoadError(f"opencv: no layer computes {', '.join(n for n in names if net.getLayerId(n) < 0)}")


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    return values[name] if name in values else values[bare(name)]


def _message(exc: BaseException) -> str:
    # cv2.error reads "OpenCV(4.14.0) /path/file.cpp:123: error: (-2:Unspecified error) <reason> in function 'f'"
    text = first_line(exc)
    _head, sep, reason = text.partition(" error: ")
    return reason.strip() if sep else text


def load(graph_def: Any, *, inputs: Sequence[str], outputs: Sequence[str], input_shapes: Mapping[str, Any]) -> OpenCVModel:
    """Read *graph_def* with OpenCV's TensorFlow importer."""
    return OpenCVModel(graph_def, inputs, outputs, input_shapes)
