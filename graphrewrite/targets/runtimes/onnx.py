"""ONNX Runtime through tf2onnx: ``tf2onnx.convert.from_graph_def``, then an InferenceSession."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite.targets.runtimes import LoadError, RunError, bare, first_line, tensor

OPSET = 17


class ONNXModel:
    """An ONNX model converted by tf2onnx, in an ONNX Runtime CPU session."""

    def __init__(self, graph_def: Any, inputs: Sequence[str], outputs: Sequence[str]):
        import onnxruntime as ort

        start = time.perf_counter()
        model = _convert(graph_def, inputs, outputs)
        self.convert_seconds = time.perf_counter() - start
        self.layers = len(model.graph.node)
        start = time.perf_counter()
        try:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's Fail/InvalidGraph/NotImplemented are not exported
            raise LoadError(f"onnx: {first_line(exc)}") from None
        self.load_seconds = time.perf_counter() - start
        self._inputs = tuple(inputs)
        self._outputs = [tensor(n) for n in outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        values = {tensor(n): np.asarray(feeds[n] if n in feeds else feeds[bare(n)]) for n in self._inputs}
        try:
            return list(self._session.run(self._outputs, values))
        except Exception as exc:  # onnxruntime's own exception types
            raise RunError(f"onnx: {first_line(exc)}") from None


def _convert(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str]) -> Any:
    import logging

    import tf2onnx

    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # tf2onnx logs every conversion step at INFO; restored below
    try:
        model, _storage = tf2onnx.convert.from_graph_def(
            graph_def, input_names=[tensor(n) for n in inputs], output_names=[tensor(n) for n in outputs], opset=OPSET
        )
    except Exception as exc:  # tf2onnx raises ValueError, RuntimeError, AssertionError...
        raise LoadError(f"onnx: tf2onnx {tf2onnx.__version__}: {first_line(exc)}") from None
    finally:
        logger.setLevel(level)
    # tf2onnx keeps an op it cannot convert as a node of the same name; say so before ORT does.
    import onnx

    missing = sorted({n.op_type for n in model.graph.node if not n.domain and not onnx.defs.has(n.op_type)})
    if missing:
        raise LoadError(f"onnx: tf2onnx {tf2onnx.__version__} cannot convert {', '.join(missing)} (opset {OPSET})")
    return model


def load(graph_def: Any, *, inputs: Sequence[str], outputs: Sequence[str], input_shapes: Mapping[str, Any]) -> ONNXModel:
    """Convert *graph_def* with tf2onnx and open it in ONNX Runtime."""
    return ONNXModel(graph_def, inputs, outputs)
