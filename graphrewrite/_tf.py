"""Lazy access to TensorFlow, its protobuf classes, and the few private TensorFlow APIs we use.

Parsing scripts, listing rules and ``--help`` must not pay TensorFlow's import time, so every
module reaches TensorFlow through these functions, never through a top-level import. The first
call checks that a TensorFlow of the supported range is installed (any distribution:
``tensorflow``, ``tensorflow-cpu``, ``tensorflow[and-cuda]``, ``tensorflow-macos``) and says
what to install when it is not. Every private TensorFlow module graphrewrite touches is reached
through :func:`private` below, so a release that moves one fails with a message naming it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def set_environment_defaults() -> None:
    """The environment graphrewrite runs TensorFlow in, unless the user set it otherwise: quiet
    C++ logging (users asked for a quiet tool), and TensorFlow's own kernels rather than oneDNN's
    (oneDNN reorders float arithmetic, and some of its convolution primitives fail on tiny shapes
    on some CPUs). Takes effect only before TensorFlow is imported; test suites call it first."""
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


OLDEST = (2, 16)  # the oldest TensorFlow the test suite runs against (.ci/run, both ends)
NEWEST_TESTED = (2, 21)
INSTALL = "pip install 'graphrewrite[tensorflow]' (or 'graphrewrite[tensorflow-cpu]', or any TensorFlow distribution)"


@functools.cache
def tf() -> ModuleType:
    """The ``tensorflow`` module, imported on first use; DependencyError when it is missing or
    older than :data:`OLDEST`."""
    from graphrewrite.engine.errors import DependencyError

    set_environment_defaults()
    with _silenced_stderr():
        try:
            import tensorflow
            from tensorflow.core.framework import graph_pb2  # noqa: F401  (loads the runtime)
        except ImportError as exc:
            raise DependencyError(f"TensorFlow is not installed ({exc}); {INSTALL}") from None
    found = version_tuple(tensorflow.__version__)
    if found < OLDEST:
        raise DependencyError(
            f"TensorFlow {tensorflow.__version__} is too old: graphrewrite needs {OLDEST[0]}.{OLDEST[1]} or newer; "
            f"{INSTALL}"
        )
    return tensorflow


def version_tuple(text: str) -> tuple[int, int]:
    """``"2.16.2"`` -> ``(2, 16)``; ``"2.21.0rc1"`` -> ``(2, 21)``."""
    parts = [int("".join(c for c in part if c.isdigit()) or 0) for part in text.split(".")[:2]]
    major, minor = [*parts, 0, 0][:2]
    return major, minor


# Every private TensorFlow API graphrewrite uses, and what for (checked in the tests at both
# ends of the supported range).
PRIVATE = {
    "op_def": ("tensorflow.python.framework.op_def_registry", "get", "reading op definitions"),
    "kernels_for_op": ("tensorflow.python.framework.kernels", "get_registered_kernels_for_op", "finding CPU kernels"),
    "parse_saved_model": ("tensorflow.python.saved_model.loader_impl", "parse_saved_model", "reading SavedModels"),
    "convert_variables_to_constants_v2": (
        "tensorflow.python.framework.convert_to_constants", "convert_variables_to_constants_v2", "freezing functions",
    ),
    "find_kernel_class": (
        "tensorflow.python.util._pywrap_kernel_registry", "TryFindKernelClass", "naming the kernel a node runs",
    ),
    "ConverterData": ("tensorflow.python.framework.convert_to_constants", "_ConverterData", "freezing TF1 checkpoints"),
    "TensorData": ("tensorflow.python.framework.convert_to_constants", "_TensorData", "freezing TF1 checkpoints"),
    "replace_variables_by_constants": (
        "tensorflow.python.framework.convert_to_constants", "_replace_variables_by_constants", "freezing TF1 checkpoints",
    ),
}  # fmt: skip


@functools.cache
def private(key: str) -> Any:
    """The private TensorFlow API *key* of :data:`PRIVATE`; DependencyError naming it when a
    release moved it."""
    module, name, purpose = PRIVATE[key]
    return _private(module, name, purpose=purpose)


def _private(module: str, name: str, *, purpose: str) -> Any:
    import importlib

    from graphrewrite.engine.errors import DependencyError

    tf()
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise DependencyError(
            f"TensorFlow {tf().__version__} no longer has {module}.{name}, which graphrewrite uses for {purpose}; "
            f"graphrewrite is tested with TensorFlow {OLDEST[0]}.{OLDEST[1]} to {NEWEST_TESTED[0]}.{NEWEST_TESTED[1]}"
        ) from None


def keras() -> ModuleType:
    """The ``keras`` module (Keras 3); DependencyError when missing or Keras 2."""
    from graphrewrite.engine.errors import DependencyError

    tf()
    try:
        import keras as module
    except ImportError as exc:
        raise DependencyError(f"Keras is not installed ({exc}); pip install 'keras>=3'") from None
    if version_tuple(module.__version__) < (3, 0):
        raise DependencyError(f"Keras {module.__version__} is Keras 2; freezing Keras files needs Keras 3: pip install 'keras>=3'")
    return module


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
    return private("op_def")(op)


@functools.cache
def registered_ops() -> tuple[str, ...]:
    """Every op name TensorFlow registers, sorted (for did-you-mean hints)."""
    return tuple(sorted(n for n in dir(tf().raw_ops) if not n.startswith("_")))


def session_config() -> Any:
    """A session config with the meta-optimizer (all of grappler) disabled: graphs run as written."""
    v1 = tf().compat.v1
    config = v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    config.graph_options.optimizer_options.opt_level = v1.OptimizerOptions.L0
    config.graph_options.optimizer_options.do_constant_folding = False
    config.graph_options.optimizer_options.do_function_inlining = False
    config.intra_op_parallelism_threads = 1
    config.inter_op_parallelism_threads = 1
    return config
