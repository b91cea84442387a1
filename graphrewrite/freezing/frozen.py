"""The result of freezing: a GraphDef plus what a user needs to work with it next.

A frozen TF2 graph has two naming layers: signature keys (``image``, ``output_0``) and graph
tensor names (``image``, ``Identity``). :class:`FrozenGraph` carries both, and
:meth:`FrozenGraph.describe` prints them with a ``graphrewrite transform`` command line whose
``--inputs``/``--outputs`` are filled in, ready to paste.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphRewriteError


class FreezeError(GraphRewriteError):
    """A model could not be frozen: TensorFlow's conversion failed, or variables are left."""


Shape = tuple[int | None, ...] | None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (TensorFlow's run to many lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """TensorFlow's Python logger at ERROR for the duration: TF1 loaders and builders log
    deprecations and "unable to create a python object" warnings a user cannot act on."""
    logger = _tf.tf().get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def show_shape(shape: Shape) -> str:
    """``[?,224,224,3]``; ``<unknown rank>`` when the rank is unknown."""
    if shape is None:
        return "<unknown rank>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


@attrs.frozen
class TensorInfo:
    """One graph input or output: tensor name (``x``, or ``x:1`` past port 0), dtype, shape."""

    name: str
    dtype: str
    shape: Shape = None

    def as_json(self) -> dict[str, Any]:
        dims = None if self.shape is None else [-1 if d is None else d for d in self.shape]
        return {"name": self.name, "dtype": self.dtype, "shape": dims}


@attrs.frozen
class FrozenGraph:
    """A frozen GraphDef (no variable ops), its inputs and outputs, and the signature's keys."""

    graph_def: Any = attrs.field(eq=False, repr=False)
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    signature_inputs: Mapping[str, str] = attrs.field(factory=dict)  # key -> tensor name
    signature_outputs: Mapping[str, str] = attrs.field(factory=dict)
    notes: tuple[str, ...] = ()  # what the user should know about how it was frozen (a fallback taken)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    def describe(self, graph_path: str = "frozen.pb") -> str:
        """Inputs and outputs with dtypes and shapes, signature keys, and a transform command."""
        from graphrewrite.inspect import transform_command

        lines = [f"frozen graph: {len(self.graph_def.node)} nodes, {len(self.inputs)} inputs, {len(self.outputs)} outputs"]
        lines += _section("inputs", self.inputs, self.signature_inputs)
        lines += _section("outputs", self.outputs, self.signature_outputs)
        lines += ["", "next:", "  " + transform_command(graph_path, self.input_names, self.output_names)]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "inputs": [t.as_json() for t in self.inputs],
            "outputs": [t.as_json() for t in self.outputs],
            "signature": {"inputs": dict(self.signature_inputs), "outputs": dict(self.signature_outputs)},
        }


def _section(title: str, tensors: tuple[TensorInfo, ...], keys: Mapping[str, str]) -> list[str]:
    return ["", f"{title}:", *(tensor_lines(tensors, keys) or ["  (none)"])]


def tensor_lines(tensors: tuple[TensorInfo, ...], keys: Mapping[str, str] | None = None) -> list[str]:
    """``  name  dtype  [shape]`` per tensor, names aligned, with its signature key if any."""
    key_of = {name: key for key, name in (keys or {}).items()}
    width = max((len(t.name) for t in tensors), default=0)
    return [
        f"  {t.name.ljust(width)}  {t.dtype:<8} {show_shape(t.shape)}"
        + (f"  (signature key '{key_of[t.name]}')" if t.name in key_of else "")
        for t in tensors
    ]
