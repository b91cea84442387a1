"""Lazy access to TensorFlow and its protobuf classes.

Parsing scripts, listing rules and ``--help`` must not pay TensorFlow's import time, so every
module reaches TensorFlow through these functions, never through a top-level import.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def _quiet() -> None:
    # TensorFlow's C++ logging prints banners on import; users asked for a quiet tool.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@contextlib.contextmanager
def _silenced_stderr() -> Iterator[None]:
    # The C++ runtime writes "could not find cuda drivers" and absl banners straight to fd 2
    # before any log level applies; a user's terminal should show only our own messages.
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.cache
def tf() -> ModuleType:
    """The ``tensorflow`` module, imported on first use."""
    _quiet()
    with _silenced_stderr():
        import tensorflow
        from tensorflow.core.framework import graph_pb2  # noqa: F401  (loads the runtime)
    return tensorflow


@functools.cache
def pb() -> Any:
    """A namespace with the protobuf classes: GraphDef, NodeDef, AttrValue, TensorProto, ..."""
    tf()
    from types import SimpleNamespace

    from tensorflow.core.framework import (
        attr_value_pb2,
        function_pb2,
        graph_pb2,
        node_def_pb2,
        tensor_pb2,
        tensor_shape_pb2,
        types_pb2,
        versions_pb2,
    )

    return SimpleNamespace(
        GraphDef=graph_pb2.GraphDef,
        NodeDef=node_def_pb2.NodeDef,
        AttrValue=attr_value_pb2.AttrValue,
        NameAttrList=attr_value_pb2.NameAttrList,
        TensorProto=tensor_pb2.TensorProto,
        TensorShapeProto=tensor_shape_pb2.TensorShapeProto,
        FunctionDefLibrary=function_pb2.FunctionDefLibrary,
        VersionDef=versions_pb2.VersionDef,
        types=types_pb2,
    )


@functools.cache
def op_def(op: str) -> Any | None:
    """TensorFlow's OpDef for *op*, or None when the op is not registered."""
    tf()
    from tensorflow.python.framework import op_def_registry

    return op_def_registry.get(op)


@functools.cache
def registered_ops() -> tuple[str, ...]:
    """Every op name TensorFlow registers, sorted (for did-you-mean hints)."""
    return tuple(sorted(n for n in dir(tf().raw_ops) if not n.startswith("_")))
