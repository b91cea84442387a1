"""Run a GraphDef in TensorFlow, as written: grappler is switched off.

A ``tf.compat.v1.Session`` normally runs grappler over every graph first (constant folding,
arithmetic simplification, fusions), which would hide what a rewrite did and costs ~30 s on
large graphs. Every numerical check in graphrewrite evaluates graphs through this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphrewrite import _tf
from graphrewrite._tf import session_config  # re-exported: graphs run as written
from graphrewrite.engine.errors import GraphError


def tensor_name(name: str) -> str:
    """``x`` -> ``x:0``; ``x:1`` unchanged."""
    _head, sep, port = name.rpartition(":")
    return name if sep and port.isdigit() else f"{name}:0"


INIT_ALL_TABLES = "init_all_tables"  # TF1's tables_initializer(); freezing/tables.py writes it


def initialize_tables(session: Any) -> None:
    """Run the graph's table initializer, when it has one, before anything is fetched."""
    tf = _tf.tf()
    try:
        init = session.graph.get_operation_by_name(INIT_ALL_TABLES)
    except KeyError:
        return
    try:
        session.run(init)
    except tf.errors.OpError as exc:
        raise GraphError(f"initialising the graph's lookup tables failed: {_first_line(exc)}") from None


def import_graph(graph_def: Any) -> Any:
    """*graph_def* imported into a new ``tf.Graph`` under its own names; GraphError when
    TensorFlow refuses it."""
    tf = _tf.tf()
    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.compat.v1.import_graph_def(graph_def, name="")
        except (ValueError, tf.errors.OpError) as exc:
            raise GraphError(f"TensorFlow cannot import the graph: {_first_line(exc)}") from None
    return graph


class GraphRunner:
    """A graph imported once into a session, run many times (``run --benchmark``)."""

    def __init__(self, graph_def: Any):
        tf = _tf.tf()
        self._graph = import_graph(graph_def)
        self._session = tf.compat.v1.Session(graph=self._graph, config=session_config())
        initialize_tables(self._session)

    def placeholder_spec(self, name: str) -> tuple[Any, tuple[int | None, ...] | None]:
        tensor = self._graph.get_tensor_by_name(tensor_name(name))
        shape = tensor.shape
        dims = None if shape.rank is None else tuple(shape.as_list())
        return tensor.dtype, dims

    def run(self, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]) -> list[np.ndarray]:
        tf = _tf.tf()
        feed_dict = {tensor_name(k): v for k, v in feeds.items()}
        try:
            return list(self._session.run([tensor_name(f) for f in fetches], feed_dict=feed_dict))
        except (KeyError, ValueError, tf.errors.OpError) as exc:
            raise GraphError(f"running the graph failed: {_first_line(exc)}") from None

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> GraphRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_graph(graph_def: Any, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]) -> list[np.ndarray]:
    """Evaluate *fetches* of *graph_def* once with *feeds* (keys: ``x`` or ``x:0``)."""
    with GraphRunner(graph_def) as runner:
        return runner.run(feeds, fetches)


# Header lines TensorFlow puts before the real reason of a failed run.
_HEADERS = ("Graph execution error", "Detected at node", "Node: ")


def _first_line(exc: BaseException) -> str:
    text = [line.strip() for line in str(exc).strip().splitlines()]
    reasons = [line for line in text if line and not line.startswith(_HEADERS)]
    return reasons[0] if reasons else (text[0] if text else type(exc).__name__)
