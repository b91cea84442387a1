"""OpenVINO: the TF frontend reads the frozen GraphDef (``convert_model``), compiled on CPU."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite.targets.runtimes import LoadError, RunError, bare, first_line, tensor


class OpenVINOModel:
    """An ``ov.Model`` converted from a frozen GraphDef and compiled for the CPU."""

    def __init__(self, graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], shapes: Mapping[str, Any]):
        import openvino as ov

        start = time.perf_counter()
        graph_def, outputs = _outputs_as_sinks(graph_def, outputs)
        model = _convert(graph_def, inputs, outputs, shapes)
        self.convert_seconds = time.perf_counter() - start
        self.layers = len(model.get_ops())
        start = time.perf_counter()
        try:
            # CPUs with AMX/AVX512-BF16 default to bf16 inference; f32 is what TF computes.
            self._compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        except RuntimeError as exc:
            raise LoadError(f"openvino: {first_line(exc)}") from None
        self.load_seconds = time.perf_counter() - start
        self._inputs = tuple(inputs)
        self._ports = [_port(self._compiled.outputs, name) for name in outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        values = [np.asarray(feeds[n] if n in feeds else feeds[bare(n)]) for n in self._inputs]
        try:
            result = self._compiled(values)
        except RuntimeError as exc:
            raise RunError(f"openvino: {first_line(exc)}") from None
        return [np.asarray(result[port]) for port in self._ports]


def _convert(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], shapes: Mapping[str, Any]) -> Any:
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="graphrewrite-openvino-") as tmp:
        path = os.path.join(tmp, "graph.pb")
        with open(path, "wb") as f:
            f.write(graph_def.SerializeToString())
        given = [(tensor(n), list(shapes[n])) if n in shapes else tensor(n) for n in inputs]
        try:
            return ov.convert_model(path, input=given, output=[tensor(n) for n in outputs])
        except Exception as exc:  # OpConversionFailure, RuntimeError, ...: all refusals of the graph
            raise LoadError(f"openvino: {_conversion_message(exc)}") from None


SINK_SUFFIX = "/graphrewrite_output"


def _outputs_as_sinks(graph_def: Any, outputs: Sequence[str]) -> tuple[Any, list[str]]:
    """The graph cut at *outputs*, with an Identity after each one other nodes consume.

    OpenVINO's TF frontend offers only the graph's sinks as outputs (cuts must happen before
    conversion), so an interior tensor gets an Identity sink of its own.
    """
    from graphrewrite import _tf

    tf = _tf.tf()
    consumed = {bare(i.lstrip("^")) for node in graph_def.node for i in node.input}
    kept = tf.compat.v1.graph_util.extract_sub_graph(graph_def, sorted({bare(n).split(":")[0] for n in outputs}))
    interior = [name for name in outputs if bare(name) in consumed]
    if not interior:
        return kept, list(outputs)
    from graphrewrite.runner import import_graph, tensor_name

    graph = import_graph(kept)  # only TF knows each output's dtype
    sinks = {}
    for name in interior:
        sink = kept.node.add(name=bare(name).replace(":", "_") + SINK_SUFFIX, op="Identity", input=[bare(name)])
        sink.attr["T"].type = graph.get_tensor_by_name(tensor_name(name)).dtype.as_datatype_enum
        sinks[name] = sink.name
    return kept, [sinks.get(name, name) for name in outputs]


def _conversion_message(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for marker in ("No conversion rule found", "No translator found", "Cannot", "is not supported", "unsupported"):
        hits = [line for line in lines if marker in line]
        if hits:
            return hits[0].lstrip("- ")
    return first_line(exc)


def _port(ports: Sequence[Any], name: str) -> Any:
    wanted = {bare(name), f"{bare(name)}:0"}
    for port in ports:
        if wanted & set(port.get_names()):
            return port
    if len(ports) == 1:
        return ports[0]
    raise LoadError(f"openvino: no output named '{name}' (outputs: {[sorted(p.get_names()) for p in ports]})")


def load(graph_def: Any, *, inputs: Sequence[str], outputs: Sequence[str], input_shapes: Mapping[str, Any]) -> OpenVINOModel:
    """Convert *graph_def* with OpenVINO's TF frontend and compile it for the CPU."""
    return OpenVINOModel(graph_def, inputs, outputs, input_shapes)
