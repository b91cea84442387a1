"""``graphs()``: random valid GraphDefs from an op palette, with the feeds to run them.

Each graph is grown top-down from one or two output tensors: an op from the palette is chosen
for a shape, its catalogue entry chooses input shapes, and inputs are expanded recursively while
a node budget lasts, else become Placeholders or Consts, or reuse a tensor made earlier. Every
choice is a hypothesis draw, so failing graphs shrink toward fewer nodes, smaller shapes and the
first palette entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from graphrewrite import _tf
from graphrewrite.testing.build import Builder, GraphCase
from graphrewrite.testing.catalogue import CannotBuild, Demand, Spec, dims, entry, known_ops

PALETTE: tuple[str, ...] = (
    "Identity", "Relu", "Neg", "AddV2", "Mul", "Sub", "BiasAdd", "MatMul", "Conv2D",
    "DepthwiseConv2dNative", "Relu6", "Maximum", "Minimum", "Tanh", "Rsqrt", "ConcatV2",
    "Reshape", "Transpose", "Pad", "FusedBatchNormV3",
)  # fmt: skip
RANK_ORDER = (2, 4, 1, 3, 0, 5)  # what a shrunk graph's outputs look like: matrices first
SEED = st.integers(min_value=0, max_value=2**32 - 1)


def dtype_name(dtype: Any) -> str:
    """``"float32"``, ``np.float32``, a DType or ``tf.float32`` -> ``"float32"``."""
    name = getattr(dtype, "name", None)
    if isinstance(name, str) and not isinstance(dtype, (str, np.dtype)):
        dtype = name
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise InvalidArgument(f"dtypes: {dtype!r} is not a dtype") from None


def check_ops(ops: Sequence[str], where: str) -> tuple[str, ...]:
    unknown = sorted(set(ops) - known_ops())
    if unknown:
        raise InvalidArgument(
            f"{where}: no catalogue entry for {', '.join(map(repr, unknown))}; "
            f"known ops: {', '.join(sorted(known_ops()))} (add one with graphrewrite.testing.register_op)"
        )
    if not ops:
        raise InvalidArgument(f"{where}: ops=() is empty")
    return tuple(ops)


def spec_strategy(draw: Any, dtype: str, ranks: Sequence[int]) -> Spec:
    """A small static shape of one of *ranks* (batch 1-2, other dims 1-4)."""
    rank = draw(st.sampled_from([r for r in RANK_ORDER if r in ranks]))
    shape = [draw(dims(1, 2 if i == 0 and rank >= 3 else 4)) for i in range(rank)]
    return Spec(dtype, tuple(shape))


def graphs(
    ops: Sequence[str] = PALETTE,
    *,
    max_nodes: int = 8,
    dtypes: Sequence[Any] = ("float32",),
    max_inputs: int = 2,
    max_outputs: int = 2,
    control_edges: bool = False,
) -> st.SearchStrategy[GraphCase]:
    """Random valid graphs built from *ops*, as :class:`GraphCase` values (graph_def, inputs,
    outputs, feeds). ``max_nodes`` bounds the operations besides Placeholders and Consts;
    ``control_edges`` adds a few ``^x`` inputs between unrelated nodes."""
    _tf.pb()  # import TensorFlow now, not inside the first draw (hypothesis checks draws)
    ops = check_ops(ops, "graphs(ops=...)")
    names = tuple(dtype_name(d) for d in dtypes)
    if max_nodes < 1:
        raise InvalidArgument(f"graphs(max_nodes={max_nodes}): must be at least 1")
    usable = [n for n in names if any(entry(op).dtypes & {n} for op in ops)]
    if not usable:
        raise InvalidArgument(f"graphs(dtypes={list(names)}): no op in the palette accepts these dtypes")
    return _graphs(ops, max_nodes, tuple(usable), max_inputs, max_outputs, control_edges)


@st.composite
def _graphs(
    draw: Any, ops: tuple[str, ...], max_nodes: int, dtypes: tuple[str, ...], max_inputs: int,
    max_outputs: int, control_edges: bool,
) -> GraphCase:  # fmt: skip
    builder = Builder(draw, seed=draw(SEED), max_inputs=max_inputs)
    budget = [draw(st.integers(min_value=1, max_value=max_nodes))]
    dtype = draw(st.sampled_from(dtypes))
    ranks = sorted({r for op in ops if dtype in entry(op).dtypes for r in entry(op).ranks})
    for _ in range(draw(st.integers(min_value=1, max_value=max_outputs))):
        spec = spec_strategy(draw, dtype, ranks)
        choices = [op for op in ops if entry(op).accepts(spec)]
        op = draw(st.sampled_from(choices))
        try:
            builder.random_op(op, Demand(spec), ops, budget)
        except CannotBuild:
            builder.random_op("Identity", Demand(spec), ops, budget)
    if control_edges:
        builder.add_control_edges(draw(st.integers(min_value=0, max_value=2)))
    return builder.finish(builder.sinks())
