"""Training-to-inference clean-up: what people want from "optimize" before any speed-up.

- ``strip_training_nodes``: savers, initialisers and assignments, summaries and optimizer
  updates go, with what only they used.
- ``set_inference_mode``: batch norms stop computing batch statistics.
- ``freeze_placeholder``: a Placeholder (``keep_prob``, ``is_training``) becomes a constant.
- ``fold_constant_switch``: a ``tf.cond`` on a constant keeps only the branch it takes.
- ``inline_partitionedcall``: function calls are replaced by the functions' bodies.

A typical TF1 script: ``freeze_placeholder(name=is_training, value=false)
fold_constant_switch strip_training_nodes set_inference_mode``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.driver import Context
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.opdefs import PLACEHOLDER_OPS
from graphrewrite.engine.pattern import Match, Op
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import CONVERTERS, Kind, Param, args_of
from graphrewrite.rules.rule import Pass, Rule
from graphrewrite.stdlib_rules.deadcode import fold_constant_switches, strip_training
from graphrewrite.stdlib_rules.functions import inline_calls, prune_library

BATCH_NORMS = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})


# -- strip_training_nodes -------------------------------------------------------------------


STRIP_TRAINING_NODES = Pass(
    "strip_training_nodes",
    "SaveV2/RestoreV2/Assign*/*Summary/Apply* and what only they use -> removed (edges to them dropped)",
    lambda graph, ctx: strip_training(graph, ctx.protected, cascade_freely=bool(ctx.outputs)),
    facts=Facts(checked=Checked(cases="with_summaries")),
)


# -- set_inference_mode ---------------------------------------------------------------------


def _empty(graph: Graph, name: str) -> bool:
    """Whether tensor producer *name* is (an Identity chain over) a Const with no elements."""
    node = graph.get(name)
    while node is not None and node.op == "Identity" and node.data_inputs:
        node = graph.get(node.data_inputs[0].node)
    return node is not None and node.op == "Const" and node.value().size == 0


def _moving_statistics(graph: Graph, bn: Node) -> tuple[str, str] | None:
    """``<scope>/moving_mean`` and ``<scope>/moving_variance`` beside the batch norm, if any."""
    scope = bn.name.rpartition("/")[0]
    found = []
    for stat in ("moving_mean", "moving_variance"):
        base = f"{scope}/{stat}" if scope else stat
        name = next((n for n in (f"{base}/read", base) if n in graph), None)
        if name is None:
            return None
        found.append(name)
    return found[0], found[1]


def _inference_mode(match: Match, graph: Graph, ctx: Context) -> Rewrite | str:
    bn = match.node("bn")
    for user in graph.consumers(bn.name):
        used = [r.port for r in graph.node(user).inputs if r.node == bn.name and r.port > 0]
        if used:
            return f"output {used[0]} (batch statistics) is used by '{user}'; run strip_training_nodes first"
    data = list(bn.data_inputs)
    if len(data) < 5:
        return f"has {len(data)} inputs, expected 5"
    if _empty(graph, data[3].node) or _empty(graph, data[4].node):
        stats = _moving_statistics(graph, bn)
        if stats is None:
            return "mean and variance inputs are empty and no moving_mean/moving_variance is beside it"
        data[3], data[4] = TensorRef(stats[0]), TensorRef(stats[1])
    new = bn.with_attrs(is_training=False).with_inputs([*data, *bn.control_inputs])
    return Rewrite("set_inference_mode", bn.name, add=(new,))


SET_INFERENCE_MODE = Rule(
    "set_inference_mode",
    "FusedBatchNorm*[is_training=true](x, scale, offset, mean, var) -> FusedBatchNorm*[is_training=false](...)",
    Op(BATCH_NORMS, None, "bn", (("is_training", True),)),
    _inference_mode,
    facts=Facts(checked=Checked(numeric=False, promise=("no_training_batch_norm",))),
)


# -- freeze_placeholder ---------------------------------------------------------------------

FREEZE_PARAMS = (
    Param("name", Kind.STRING, required=True, doc="the Placeholder or PlaceholderWithDefault to freeze"),
    Param("value", Kind.STRING, None, doc="its value: a number, true/false, or \"1,2,3\" (default: its default input)"),
    Param("shape", Kind.SHAPE, None, doc="shape of the constant when the placeholder's own shape has unknown dims"),
)


def parse_value(text: str, dtype: Any) -> np.ndarray:
    """*text* as an array of numpy *dtype*: ``1.0``, ``true``, ``3``, ``"1,2,3"``."""
    items = [t.strip() for t in text.split(",")] if "," in text else [text.strip()]
    try:
        if dtype.kind == "b":
            values = [CONVERTERS[Kind.BOOL](item) for item in items]
        elif dtype.kind in "iu":
            values = [int(item) for item in items]
        elif dtype.kind in "OSU":
            values = [item.encode() for item in items]
        else:
            values = [float(item) for item in items]
    except ValueError:
        raise RuleError(f"freeze_placeholder: value '{text}' is not a {dtype.name} value") from None
    array = np.asarray(values, dtype=object if dtype.kind in "OSU" else dtype)
    return array if "," in text else array.reshape(())


def _target_shape(node: Node, value: np.ndarray, given: tuple[int | None, ...] | None) -> tuple[int, ...]:
    shape = given if given is not None else (node.get("shape") if "shape" in node.attr else None)
    if shape is None:
        return value.shape  # unknown rank: the value's own shape
    if any(d is None for d in shape):
        raise RuleError(
            f"freeze_placeholder: '{node.name}' has shape [{','.join('?' if d is None else str(d) for d in shape)}];"
            " give shape=... for the constant"
        )
    return tuple(int(d) for d in shape)


def freeze_placeholder(graph: Graph, ctx: Context) -> Graph:
    args = args_of(ctx, FREEZE_PARAMS)
    node = graph.node(args["name"])
    if node.op not in PLACEHOLDER_OPS:
        raise RuleError(f"freeze_placeholder: '{node.name}' is a {node.op}, not a Placeholder")
    dtype = node.get("dtype")
    if args["value"] is None:
        if node.op != "PlaceholderWithDefault":
            raise RuleError(f"freeze_placeholder: '{node.name}' has no default; give value=...")
        return graph.replace([_default_of(graph, node)])
    value = parse_value(args["value"], dtype.numpy)
    shape = _target_shape(node, value, args["shape"])
    try:
        filled = np.broadcast_to(value, shape).astype(value.dtype)
    except ValueError:
        raise RuleError(f"freeze_placeholder: value '{args['value']}' does not fit shape {list(shape)}") from None
    const = Node.make(node.name, "Const", node.control_inputs, {"dtype": dtype, "value": _tensor(filled, dtype)}, node.device)
    return graph.replace([const])


def _default_of(graph: Graph, node: Node) -> Node:
    """The PlaceholderWithDefault *node* as its default: a copy of a Const, else an Identity."""
    default = node.data_inputs[0]
    source = graph.get(default.node)
    if source is not None and source.op == "Const" and default.port == 0:
        attr = {"dtype": source.attr["dtype"], "value": source.attr["value"]}
        return Node.make(node.name, "Const", node.control_inputs, attr, node.device)
    return Node.make(node.name, "Identity", [default, *node.control_inputs], {"T": node.get("dtype")}, node.device)


def _tensor(value: np.ndarray, dtype: Any) -> Any:
    from graphrewrite.engine.attrvalues import numpy_to_tensor

    return numpy_to_tensor(value, dtype)


FREEZE_PLACEHOLDER = Pass(
    "freeze_placeholder",
    "Placeholder|PlaceholderWithDefault name -> Const name of its dtype and shape holding value",
    freeze_placeholder,
    FREEZE_PARAMS,
    facts=Facts(checked=Checked(cases="input_fed_half", args={"name": "input", "value": "0.5"}, promise=("frozen_input",))),
)


# -- fold_constant_switch, inline_partitionedcall -----------------------------------------

FOLD_CONSTANT_SWITCH = Pass(
    "fold_constant_switch",
    "Switch(x, Const pred) -> x on the taken port; the untaken branch and its Merge inputs removed",
    lambda graph, ctx: fold_constant_switches(graph, ctx.protected),
    facts=Facts(checked=Checked(cases="with_constant_switches")),
)


def inline_partitionedcall(graph: Graph, ctx: Context) -> Graph:
    inlined, _count = inline_calls(graph, protected=ctx.protected)
    return prune_library(inlined)


INLINE_PARTITIONEDCALL = Pass(
    "inline_partitionedcall",
    "PartitionedCall|StatefulPartitionedCall[f](args) -> f's body under <call>/, nested calls too "
    "(unlike GTT: stateful calls, nesting, attr placeholders, output args; unused functions dropped)",
    inline_partitionedcall,
    facts=Facts(checked=Checked(cases="partitioned_calls")),
)
