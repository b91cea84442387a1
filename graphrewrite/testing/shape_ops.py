"""Catalogue entries for the shape ops: Reshape, Transpose and ConcatV2.

Each works backwards from the output shape: Reshape picks a source shape with as many elements
(the target sometimes spelled with -1), Transpose the inverse permutation, ConcatV2 an axis long
enough to split into its inputs.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from graphrewrite.testing.catalogue import CannotBuild, Demand, Draw, Plan, Request, int_const, register_op


def _reshape(draw: Draw, req: Request) -> Plan:
    shape = req.spec.shape
    size = int(np.prod(shape, dtype=np.int64))
    options = [shape, (size,), tuple(reversed(shape)), (*shape, 1)]
    if len(shape) >= 2:
        options.append((shape[0], size // max(shape[0], 1)))
    source = draw(st.sampled_from(list(dict.fromkeys(options))))
    target = list(shape)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    values = {"T": req.spec.dtype, "Tshape": "int32"}
    return Plan(values, (Demand(req.spec.with_shape(source), domain=req.domain), int_const(target)))


def _transpose(draw: Draw, req: Request) -> Plan:
    rank = req.spec.rank
    perm = draw(st.permutations(list(range(rank))))
    source = [0] * rank
    for i, p in enumerate(perm):
        source[p] = req.spec.shape[i]
    values = {"T": req.spec.dtype, "Tperm": "int32"}
    return Plan(values, (Demand(req.spec.with_shape(source), domain=req.domain), int_const(perm)))


def _concat(draw: Draw, req: Request) -> Plan:
    spec = req.spec
    count = (req.arity - 1) if req.arity else draw(st.integers(max(2, req.min_arity - 1), 3))
    axes = [a for a in range(spec.rank) if spec.shape[a] >= count]
    if count < 1 or not axes:
        raise CannotBuild(f"ConcatV2 of {count} inputs cannot give shape {list(spec.shape)}")
    axis = draw(st.sampled_from(axes))
    sizes = _split(draw, spec.shape[axis], count)
    demands = tuple(
        Demand(spec.with_shape((*spec.shape[:axis], n, *spec.shape[axis + 1 :])), domain=req.domain)
        for n in sizes
    )
    spelled = axis - spec.rank if draw(st.booleans()) else axis
    values = {"T": spec.dtype, "N": count, "Tidx": "int32"}
    return Plan(values, (*demands, int_const(spelled)))


def _split(draw: Draw, total: int, parts: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=parts - 1, max_size=parts - 1, unique=True))) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(bounds)]


register_op("Reshape", _reshape, ranks=frozenset(range(5)), rank_inputs=(), arity=(2, 2))
register_op("Transpose", _transpose, ranks=frozenset(range(1, 5)), arity=(2, 2))
register_op("ConcatV2", _concat, ranks=frozenset(range(1, 5)), rank_inputs=(0, 1, 2, 3), arity=(2, None))
