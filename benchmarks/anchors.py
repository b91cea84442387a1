"""The tools under test, each as ``tool(graph_def, inputs, outputs, transforms) -> GraphDef``.

graphrewrite is measured through its public API; the anchors are GTT's C++ binding (the same
transform string), grappler (constant folding, arithmetic, dependency, remapper and pruning,
which is what a TF user gets instead of GTT) and ``optimize_for_inference``. Every tool takes
and returns a parsed GraphDef, so a tool's time includes any (de)serialisation its API forces
(GTT's binding takes bytes; grappler needs a MetaGraphDef) and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

Tool = Callable[[Any, Sequence[str], Sequence[str], str], Any]

STANDARD_PIPELINE = (
    "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) "
    "fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms "
    "merge_duplicate_nodes sort_by_execution_order"
)

GRAPPLER_OPTIMIZERS = ("constfold", "arithmetic", "dependency", "remap", "pruning")


class ToolUnavailable(Exception):
    """The tool cannot run in this environment (e.g. the GTT binding is absent)."""


def graphrewrite_tool(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: str) -> Any:
    """``graphrewrite.transform_graph``: the product, in process."""
    try:
        from graphrewrite import transform_graph
    except ImportError as exc:
        raise ToolUnavailable(f"graphrewrite.transform_graph is missing ({exc})") from None
    return transform_graph(graph_def, list(inputs), list(outputs), transforms)


def gtt_tool(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: str) -> Any:
    """GTT's C++ ``TransformGraph`` through TensorFlow's private binding."""
    try:
        from tensorflow.python.util import _pywrap_transform_graph
    except ImportError:
        raise ToolUnavailable("GTT's C++ binding (_pywrap_transform_graph) is not in this TF build") from None
    data = _pywrap_transform_graph.TransformGraphWithStringInputs(
        graph_def.SerializeToString(), ",".join(inputs), ",".join(outputs), transforms
    )
    result = type(graph_def)()
    result.ParseFromString(data)
    return result


def grappler_tool(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: str) -> Any:
    """grappler's meta-optimizer with only the inference-relevant optimizers switched on.

    The outputs go into a ``train_op`` collection, which is how grappler learns what to keep.
    *transforms* is ignored: grappler has its own fixed pipeline.
    """
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, rewriter_config_pb2
    from tensorflow.python.grappler import tf_optimizer

    meta = meta_graph_pb2.MetaGraphDef()
    meta.graph_def.CopyFrom(graph_def)
    meta.collection_def["train_op"].node_list.value.extend(outputs)
    config = config_pb2.ConfigProto()
    rewriter = config.graph_options.rewrite_options
    rewriter.CopyFrom(rewriter_config_pb2.RewriterConfig())
    rewriter.optimizers.extend(GRAPPLER_OPTIMIZERS)
    rewriter.min_graph_nodes = -1  # optimise small graphs too
    return tf_optimizer.OptimizeGraph(config, meta, verbose=False)


def optimize_for_inference_tool(graph_def: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: str) -> Any:
    """``tensorflow.python.tools.optimize_for_inference_lib.optimize_for_inference``.

    Placeholders are float32 in every benchmark input. *transforms* is ignored.
    """
    from tensorflow.python.framework import dtypes
    from tensorflow.python.tools import optimize_for_inference_lib

    return optimize_for_inference_lib.optimize_for_inference(
        graph_def, list(inputs), list(outputs), dtypes.float32.as_datatype_enum
    )


TOOLS: dict[str, Tool] = {
    "graphrewrite": graphrewrite_tool,
    "gtt": gtt_tool,
    "grappler": grappler_tool,
    "ofi": optimize_for_inference_tool,
}
ANCHORS = ("gtt", "grappler", "ofi")


def import_for(tool: str) -> None:
    """Import *tool*'s modules (and TensorFlow) before measuring, so that peak memory counts
    the transform, not module loading. A missing module is left for the tool to report."""
    from graphrewrite import _tf

    _tf.tf()
    modules = {
        "graphrewrite": ("graphrewrite",),
        "gtt": ("tensorflow.python.util._pywrap_transform_graph",),
        "grappler": ("tensorflow.python.grappler.tf_optimizer",),
        "ofi": ("tensorflow.python.tools.optimize_for_inference_lib",),
    }
    for module in modules.get(tool, ()):
        with contextlib.suppress(ImportError):
            __import__(module)
