"""TFLite: ``tf.compat.v1.lite.TFLiteConverter.from_frozen_graph``, then the interpreter.

The converter needs the frozen graph as a file, explicit input/output arrays and static input
shapes. The interpreter is ``tf.lite.Interpreter``, or LiteRT's (``ai-edge-litert``) when the
TF wheel no longer has ``tf.lite``.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite.engine.errors import DependencyError
from graphrewrite.targets.runtimes import LoadError, RunError, bare, first_line


class TFLiteModel:
    """A flatbuffer converted from a frozen GraphDef, in an allocated interpreter."""

    def __init__(self, graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], shapes: Mapping[str, Any]):
        start = time.perf_counter()
        flatbuffer = _convert(graph_def, inputs, outputs, shapes)
        self.convert_seconds = time.perf_counter() - start
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice, once per load
                warnings.simplefilter("ignore", UserWarning)
                self._interpreter = _interpreter_class()(model_content=flatbuffer)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise LoadError(f"tflite: {first_line(exc)}") from None
        self.load_seconds = time.perf_counter() - start
        ops = getattr(self._interpreter, "_get_ops_details", None)
        self.layers = len(ops()) if ops else None
        self._inputs = _by_name(self._interpreter.get_input_details(), inputs)
        self._outputs = _by_name(self._interpreter.get_output_details(), outputs)

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        for name, detail in self._inputs.items():
            value = feeds[name] if name in feeds else feeds[bare(name)]
            self._interpreter.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        try:
            self._interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise RunError(f"tflite: {first_line(exc)}") from None
        return [self._interpreter.get_tensor(d["index"]).copy() for d in self._outputs.values()]


def _convert(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], shapes: Mapping[str, Any]) -> bytes:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="graphrewrite-tflite-") as tmp:
        path = os.path.join(tmp, "graph.pb")
        with open(path, "wb") as f:
            f.write(graph_def.SerializeToString())
        names = [bare(n) for n in inputs]
        try:
            converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
                path, names, [bare(n) for n in outputs], input_shapes={bare(k): list(v) for k, v in shapes.items()}
            )
            return converter.convert()
        except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError...
            raise LoadError(f"tflite: {_converter_message(exc)}") from None


def _converter_message(exc: BaseException) -> str:
    # ConverterError text is MLIR diagnostics: "<unknown>:0: error: 'tf.Foo' op is neither ..."
    lines = [line.strip() for line in str(exc).splitlines()]
    errors = [line.split("error: ", 1)[1] for line in lines if "error: " in line]
    text = errors[0] if errors else first_line(exc)
    # Drop MLIR's location prefix: loc(fused["Digamma:", "Digamma"]): 'tf.Digamma' op is ...
    return re.sub(r"^loc\(.*?\)\)?:\s*", "", text)


def _interpreter_class() -> Any:
    try:
        import tensorflow as tf

        return tf.lite.Interpreter
    except AttributeError:  # tf.lite is leaving the TF wheel (tensorflow/tensorflow#102071)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise DependencyError("this TensorFlow has no tf.lite: pip install ai-edge-litert") from None
        return Interpreter


def _by_name(details: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The interpreter's tensors for *names*, matched by name, else by position."""
    found = {d["name"]: d for d in details}
    if all(bare(n) in found for n in names):
        return {n: found[bare(n)] for n in names}
    if len(details) != len(names):
        raise LoadError(f"tflite: the model has tensors {sorted(found)}, expected {list(names)}")
    return dict(zip(names, details, strict=True))


def load(graph_def: Any, *, inputs: Sequence[str], outputs: Sequence[str], input_shapes: Mapping[str, Any]) -> TFLiteModel:
    """Convert *graph_def* to a flatbuffer and load it in the interpreter."""
    return TFLiteModel(graph_def, inputs, outputs, input_shapes)
