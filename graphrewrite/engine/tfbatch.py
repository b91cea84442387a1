"""The one TensorFlow evaluation behind constant folding.

The constant nodes numpy could not compute are copied (without devices, colocation or control
inputs) into one small GraphDef, together with the Consts they read; values numpy already
computed enter as fed Placeholders. The graph is imported once, which also gives TensorFlow's
static shapes (so oversized results are known before anything runs), and every needed tensor is
fetched in a single ``session.run`` with grappler and the classic graph optimizer off, so the
run computes the graph as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.kernels import Value

_STRIPPED_ATTRS = ("_class", "_output_shapes")


def _copy(node: Node, inputs: Iterable[str]) -> Any:
    nd = _tf.pb().NodeDef()
    nd.CopyFrom(node.to_nodedef())
    nd.device = ""
    del nd.input[:]
    nd.input.extend(inputs)
    for key in _STRIPPED_ATTRS:
        if key in nd.attr:
            del nd.attr[key]
    return nd


def _placeholder(name: str, value: Value) -> Any:
    from graphrewrite.engine.attrvalues import DType, encode, shape_to_proto

    nd = _tf.pb().NodeDef(name=name, op="Placeholder")
    nd.attr["dtype"].CopyFrom(encode(DType(value.dtype)))
    nd.attr["shape"].CopyFrom(encode(shape_to_proto(value.shape)))
    return nd


class Batch:
    """The constant nodes left for TensorFlow, imported into one ``tf.Graph``."""

    def __init__(self, graph: Graph, names: Sequence[str], value_of: Callable[[TensorRef], Value | None]):
        self.names = tuple(names)
        self.feeds: dict[str, np.ndarray] = {}
        graph_def = _tf.pb().GraphDef()
        inside = set(self.names)
        feed_names: dict[TensorRef, str] = {}
        for name in self.names:
            node = graph.node(name)
            inputs = []
            for ref in node.inputs:
                if ref.port == CONTROL:
                    continue
                producer = graph.node(ref.node)
                if ref.node in inside:
                    inputs.append(str(ref))
                elif producer.op == "Const":
                    inside.add(ref.node)
                    graph_def.node.append(_copy(producer, ()))
                    inputs.append(str(ref))
                else:
                    inputs.append(self._feed(graph, ref, value_of, feed_names, graph_def, inside))
            graph_def.node.append(_copy(node, inputs))
        self.tf_graph = self._import(graph_def)

    def _feed(self, graph: Graph, ref: TensorRef, value_of: Callable[[TensorRef], Value | None],
              feed_names: dict[TensorRef, str], graph_def: Any, inside: set[str]) -> str:
        """A Placeholder standing for a value numpy computed."""
        if ref not in feed_names:
            value = value_of(ref)
            if value is None:
                raise RuleError(f"fold_constants: no value for constant tensor '{ref}'")
            name = graph.unique_name(f"graphrewrite_feed/{len(feed_names)}", inside)
            inside.add(name)
            feed_names[ref] = name
            graph_def.node.append(_placeholder(name, value))
            self.feeds[name + ":0"] = value.array
        return feed_names[ref]

    @staticmethod
    def _import(graph_def: Any) -> Any:
        tf = _tf.tf()
        tf_graph = tf.Graph()
        try:
            with tf_graph.as_default():
                tf.graph_util.import_graph_def(graph_def, name="")
        except (ValueError, tf.errors.OpError) as exc:
            raise RuleError(f"fold_constants: TensorFlow cannot import the constant subgraph: {_message(exc)}") from None
        return tf_graph

    def static_nbytes(self, name: str) -> list[int | None]:
        """Each output's size in bytes from TensorFlow's static shapes (None: not known)."""
        out: list[int | None] = []
        for tensor in self.tf_graph.get_operation_by_name(name).outputs:
            shape = tensor.shape
            if tensor.dtype == _tf.tf().string or not shape.is_fully_defined():
                out.append(None)
            else:
                out.append(int(shape.num_elements()) * tensor.dtype.size)
        return out

    def run(self, fetches: Sequence[TensorRef]) -> dict[TensorRef, np.ndarray]:
        """Every tensor in *fetches*, from one ``session.run``."""
        if not fetches:
            return {}

        tf = _tf.tf()
        config = _tf.session_config()  # grappler and the classic optimizer off
        names = [f"{r.node}:{r.port}" for r in fetches]
        try:
            with tf.compat.v1.Session(graph=self.tf_graph, config=config) as session:
                results = session.run(names, feed_dict=self.feeds)
        except tf.errors.OpError as exc:
            culprit = _culprit(exc)
            raise RuleError(f"fold_constants: evaluating node '{culprit}' failed: {_message(exc)}") from None
        return {ref: np.asarray(value) for ref, value in zip(fetches, results, strict=True)}


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _culprit(exc: Any) -> str:
    op = getattr(exc, "op", None)
    if op is not None and getattr(op, "name", None):
        return str(op.name)
    found = re.search(r"\{\{node ([^}]+)\}\}", str(exc))
    return found.group(1) if found else "?"
