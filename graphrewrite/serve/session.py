"""One TensorFlow session per served model version, grappler off, TensorFlow's own thread pools.

The graph is imported once; the signature (dtypes, shapes) is read from the imported graph;
requests are checked against it before the session runs, so a bad request is a 400 with the
input named, not a TensorFlow stack trace. ``Session.run`` is thread-safe and releases the GIL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphError
from graphrewrite.freezing.frozen import first_line
from graphrewrite.runner import import_graph, initialize_tables, session_config, tensor_name
from graphrewrite.serve.models import FrozenModel
from graphrewrite.serve.signature import DTYPES, Signature, TensorSpec
from graphrewrite.serve.status import ModelLoadError, ServeError, invalid


class ModelSession:
    """A frozen model imported into its own graph and session, run many times."""

    def __init__(self, model: FrozenModel):
        tf = _tf.tf()
        try:
            self._graph = import_graph(model.graph_def)
        except GraphError as exc:
            raise ModelLoadError(str(exc)) from None
        self.signature = Signature(
            inputs={k: self._spec(k, n) for k, n in model.inputs.items()},
            outputs={k: self._spec(k, n) for k, n in model.outputs.items()},
        )
        config = session_config()
        # Serving wants all cores: TensorFlow's own pools, not the one-thread check config.
        config.intra_op_parallelism_threads = 0
        config.inter_op_parallelism_threads = 0
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        initialize_tables(self._session)
        self._input_keys = list(self.signature.inputs)
        self._output_keys = list(self.signature.outputs)
        self._callable = self._session.make_callable(
            [self.signature.outputs[k].tensor for k in self._output_keys],
            feed_list=[self.signature.inputs[k].tensor for k in self._input_keys],
        )

    def _spec(self, key: str, name: str) -> TensorSpec:
        tensor = self._graph.get_tensor_by_name(tensor_name(name))
        dtype = tensor.dtype.base_dtype.name
        if dtype not in DTYPES:
            raise ModelLoadError(f"tensor '{name}' has dtype {dtype}, which the REST API cannot carry")
        shape = tensor.shape
        dims = None if shape.rank is None else tuple(shape.as_list())
        return TensorSpec(key=key, tensor=tensor_name(name), dtype=dtype, shape=dims)

    def check(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Raise TF Serving's 400 when a feed's rank or dims contradict the signature."""
        for key, spec in self.signature.inputs.items():
            value = feeds[key]
            if spec.shape is None:
                continue
            if value.ndim != len(spec.shape) or any(d is not None and d != v for d, v in zip(spec.shape, value.shape, strict=True)):
                raise invalid(
                    f"input '{key}' has shape {_show(value.shape)}, but the signature expects {_show(spec.shape)}"
                )

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph once; *feeds* are keyed like the signature's inputs."""
        tf = _tf.tf()
        try:
            values = self._callable(*[feeds[k] for k in self._input_keys])
        except (ValueError, TypeError, tf.errors.OpError) as exc:
            raise ServeError(_reason(exc), _code(exc)) from None
        return dict(zip(self._output_keys, values, strict=True))

    def close(self) -> None:
        self._session.close()


def _code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None)  # tf.errors.OpError carries the canonical code
    if code is None:
        return "INVALID_ARGUMENT"
    from tensorflow.core.protobuf import error_codes_pb2

    return str(error_codes_pb2.Code.Name(code))


# Header lines TensorFlow puts before the real reason of a failed run.
_HEADERS = ("Graph execution error", "Detected at node", "Node: ")


def _reason(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    reasons = [line for line in lines if line and not line.startswith(_HEADERS)]
    return reasons[0] if reasons else first_line(exc)


def _show(shape: Any) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
