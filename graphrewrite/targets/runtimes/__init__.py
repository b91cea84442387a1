"""Deployment runtimes behind one small protocol: load a frozen GraphDef, run it, time it.

Each runtime lives in its own module (``opencv``, ``tflite``, ``openvino``, ``onnx``, ``tf``)
and is imported only when asked for: a missing package is a one-line DependencyError naming
the ``graphrewrite[targets]`` extra. A graph the runtime refuses is a :class:`LoadError`
carrying the runtime's own message.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs
import numpy as np

from graphrewrite.engine.errors import DependencyError, GraphRewriteError, NameNotFoundError, suggest

EXTRA = "targets"


class LoadError(GraphRewriteError):
    """A runtime refused a graph (conversion or load); the message is the runtime's own."""


class RunError(GraphRewriteError):
    """A runtime loaded a graph but failed while running it; the message is the runtime's own."""


class Loaded(Protocol):
    """A graph loaded into a runtime, ready to run."""

    convert_seconds: float  # GraphDef -> the runtime's format (0 when it reads the pb itself)
    load_seconds: float  # the runtime's format -> a runnable model
    layers: int | None  # layers/ops/nodes the runtime reports, when it reports them

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs in the order of the ``outputs`` given to load, with TF's layouts."""


@attrs.frozen
class Runtime:
    """One deployment runtime: its name, the package it needs, and its module here."""

    name: str
    package: str  # what pip installs (named in the missing-package message)
    module: str  # the Python module that must import
    doc: str

    def load(
        self,
        graph_def: Any,
        *,
        inputs: Sequence[str],
        outputs: Sequence[str],
        input_shapes: Mapping[str, tuple[int, ...]],
    ) -> Loaded:
        """Convert and load *graph_def*; LoadError with the runtime's message when it refuses."""
        impl = importlib.import_module(f"{__name__}.{self.name}")
        require(self)
        return impl.load(graph_def, inputs=tuple(inputs), outputs=tuple(outputs), input_shapes=dict(input_shapes))


RUNTIMES = {
    r.name: r
    for r in (
        Runtime("tf", "tensorflow", "tensorflow", "TensorFlow itself, grappler off (the reference)"),
        Runtime("opencv", "opencv-python-headless<5", "cv2", "OpenCV 4.x dnn, readNetFromTensorflow"),
        Runtime("tflite", "tensorflow", "tensorflow", "TFLite converter (from_frozen_graph) + interpreter"),
        Runtime("openvino", "openvino", "openvino", "OpenVINO's TF frontend, compiled on CPU"),
        Runtime("onnx", "tf2onnx + onnxruntime", "tf2onnx", "tf2onnx's from_graph_def, then ONNX Runtime"),
    )
}


def get_runtime(name: str) -> Runtime:
    """The runtime called *name*; NameNotFoundError with a suggestion otherwise."""
    try:
        return RUNTIMES[name]
    except KeyError:
        hint = suggest(name, RUNTIMES)
        extra = f" ({hint})" if hint else ""
        raise NameNotFoundError(f"unknown runtime '{name}'{extra}; choose from {', '.join(RUNTIMES)}") from None


def require(runtime: Runtime) -> None:
    """DependencyError naming the extra when the runtime's packages do not import."""
    modules = [runtime.module] + (["onnxruntime"] if runtime.name == "onnx" else [])
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise DependencyError(
                f"the {runtime.name} runtime needs {runtime.package} ({exc}): pip install 'graphrewrite[{EXTRA}]'"
            ) from None


def first_line(exc: BaseException) -> str:
    """The most telling line of a runtime's exception (skipping empty and banner lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Traceback", "File ", "Check '", "Exception from"))]
    text = (useful or lines or [type(exc).__name__])[0]
    return text if len(text) <= 300 else text[:297] + "..."


def bare(name: str) -> str:
    """``x:0`` -> ``x``; other ports are kept (``x:1``)."""
    head, sep, port = name.rpartition(":")
    return head if sep and port == "0" else name


def tensor(name: str) -> str:
    """``x`` -> ``x:0``."""
    _head, sep, port = name.rpartition(":")
    return name if sep and port.isdigit() else f"{name}:0"
