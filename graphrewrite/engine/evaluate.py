"""Constant evaluation: which nodes are constant, and their values (numpy, then one TF run).

:func:`fold_plan` follows TensorFlow's constant folding (``common_runtime/constant_folding.cc``):

- A node is *constant* when it is a Const, or a stateless, registered, CPU-runnable op outside
  control flow whose data inputs are all constant; control inputs from other nodes are allowed
  and move to the folded constant. ``Shape``/``Size``/``Rank`` of a tensor whose static shape
  is known (a Placeholder's ``shape``, ``_output_shapes`` when asked) are constant too.
- Never constant: fed inputs, Placeholders, stateful and random ops, control flow and function
  calls, unknown ops, resource/variant tensors, excluded ops and nodes, zero-output ops.
- Values come from numpy kernels (:mod:`graphrewrite.engine.kernels`) in one topological sweep.
  Everything else (ops without a kernel, kernels that defer, and anything downstream of them)
  is imported as one small TensorFlow graph and its needed tensors are fetched in a single
  ``session.run`` (:mod:`graphrewrite.engine.tfbatch`).
- Results larger than the size budget are never materialised: the node stays as it was, and the
  constants it reads are materialised instead.

Everything is linear in the graph size: one DFS, one sweep, one TensorFlow call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.array_kernels import shape_value
from graphrewrite.engine.foldable import (
    OPAQUE_TYPES,
    SHAPE_OPS,
    node_types,
    op_may_fold,
    static_shape,
)
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.kernel_library import KERNELS
from graphrewrite.engine.kernels import Defer, OverBudget, Value, numpy_dtype

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # TF's ConstantFoldingOptions default


@attrs.frozen
class FoldOptions:
    """What may be folded: fed tensors, exclusions, the size budget, which shapes to trust."""

    inputs: tuple[str, ...] = ()
    protected: frozenset[str] = frozenset()
    exclude_ops: frozenset[str] = frozenset()
    exclude_nodes: frozenset[str] = frozenset()
    max_bytes: int = DEFAULT_MAX_BYTES
    use_output_shapes: bool = False


@attrs.frozen
class FoldPlan:
    """The result of constant evaluation.

    ``folded``: constant non-Const nodes whose uses now read constants (topological order).
    ``constants``: the tensors to materialise, each with its value; every output of a folded
    node that a surviving node (or a protected name, or a ``^control`` edge, port 0) reads.
    ``control``: per folded node, the non-constant nodes its constants must still wait for.
    ``foldable``: every constant node, Consts included (the candidates for dead-node removal).
    """

    folded: tuple[str, ...] = ()
    constants: Mapping[TensorRef, Value] = attrs.field(factory=dict)
    control: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    foldable: frozenset[str] = frozenset()


# -- which nodes are constant ------------------------------------------------------------


class _Analysis:
    """One DFS over the graph: the constant nodes in topological order, their output types,
    static shape values, and the control dependencies each constant must keep."""

    def __init__(self, graph: Graph, options: FoldOptions):
        self.graph = graph
        self.options = options
        self.fed = frozenset(TensorRef.parse(n).node for n in options.inputs if n)
        self.order: list[str] = []  # constant nodes, inputs before consumers
        self.types: dict[str, tuple[int, ...]] = {}  # output dtypes of constant non-Consts
        self.static: dict[str, np.ndarray] = {}  # Shape/Size/Rank values from static shapes
        self.deps: dict[str, tuple[str, ...]] = {}
        self.state: dict[str, bool | None] = {}  # True: constant; None while visiting
        self._ops: dict[str, bool] = {}
        self._walk()

    def _candidate(self, node: Node) -> bool:
        """Whether *node* may be constant, before looking at its inputs."""
        if node.name in self.fed:
            return False
        if node.op == "Const":
            return "dtype" not in node.attr or node.attr["dtype"].type not in OPAQUE_TYPES
        verdict = self._ops.get(node.op)
        if verdict is None:
            verdict = self._ops[node.op] = node.op not in self.options.exclude_ops and op_may_fold(node.op)
        return verdict and node.name not in self.options.exclude_nodes

    def _walk(self) -> None:
        # Iterative DFS (graphs are deep); a node's inputs are decided before it, and a node
        # met again while still being visited (a cycle) counts as not constant.
        state, get, candidate, decide = self.state, self.graph.get, self._candidate, self._decide
        for start in self.graph.names:
            if start in state:
                continue
            stack = [start]
            while stack:
                name = stack[-1]
                if name in state:
                    stack.pop()
                    if state[name] is None:  # back from its inputs: decide it
                        state[name] = decide(get(name))  # type: ignore[arg-type]
                    continue
                node = get(name)
                if node is None or not candidate(node):
                    state[name] = False
                    stack.pop()
                    continue
                if not node.inputs and node.op == "Const":  # the common leaf: no visit needed
                    state[name] = True
                    self.order.append(name)
                    stack.pop()
                    continue
                state[name] = None
                waits = False
                for source, _port in node.inputs:
                    if source not in state:
                        stack.append(source)
                        waits = True
                if not waits:  # its inputs are decided (graphs are mostly in order): decide now
                    stack.pop()
                    state[name] = decide(node)

    def _decide(self, node: Node) -> bool:
        """Whether *node*, a candidate whose inputs are decided, is constant."""
        state = self.state
        if node.op != "Const":
            data = []
            constant = True  # every data input constant (one loop: this runs for most nodes)
            for ref in node.inputs:
                if ref.port != CONTROL:
                    data.append(ref)
                    if constant and state.get(ref.node) is not True:
                        constant = False
            types = node_types(node) if constant else self._static_shape_op(node, data)
            if types is None:
                return False
            self.types[node.name] = types
        if node.inputs:
            self._record_deps(node)
        self.order.append(node.name)
        return True

    def _static_shape_op(self, node: Node, data: list[TensorRef]) -> tuple[int, ...] | None:
        """Shape/Size/Rank of a non-constant tensor whose static shape is known."""
        if node.op not in SHAPE_OPS or len(data) != 1:
            return None
        types = node_types(node)
        producer = self.graph.get(data[0].node)
        shape = None if producer is None else static_shape(producer, data[0].port, self.options.use_output_shapes)
        if shape is None or types is None:
            return None
        try:
            self.static[node.name] = shape_value(node.op, node, shape)
        except Defer:
            return None
        return types

    def _record_deps(self, node: Node) -> None:
        # TF: a constant's control deps are its inputs from non-constant nodes (control edges,
        # or the data edge of a static Shape) plus the deps of its constant inputs.
        state, known = self.state, self.deps
        deps: dict[str, None] = {}
        for ref in node.inputs:
            if state.get(ref.node) is not True:
                deps[ref.node] = None
            elif ref.node in known:
                deps.update(dict.fromkeys(known[ref.node]))
        if deps:
            known[node.name] = tuple(deps)


# -- values ------------------------------------------------------------------------------


class _Values:
    """Computed values by tensor; Consts are read lazily from their ``value`` attrs."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.known: dict[TensorRef, Value] = {}

    def get(self, ref: TensorRef) -> Value | None:
        found = self.known.get(ref)
        if found is None and ref.port == 0:
            node = self.graph.get(ref.node)
            if node is not None and node.op == "Const" and "value" in node.attr:
                found = self.known[ref] = Value.of_attr(node.attr["value"])
        return found

    def __contains__(self, ref: TensorRef) -> bool:
        return self.get(ref) is not None


PASS_THROUGH = frozenset({"Identity", "Snapshot", "StopGradient", "PreventGradient"})


def _numpy_sweep(analysis: _Analysis, values: _Values, budget: int) -> tuple[list[str], set[str]]:
    """Compute what numpy can, in topological order; returns (left for TF, over budget)."""
    get, known = analysis.graph.get, values.known
    pending: list[str] = []
    waiting: set[str] = set()  # pending nodes: their consumers wait for TF too
    too_big: set[str] = set()
    with np.errstate(all="ignore"):  # once for the sweep, not per kernel (~0.7 us each)
        for name in analysis.order:
            node: Node = get(name)  # type: ignore[assignment]
            if node.op == "Const":
                continue
            types = analysis.types[name]
            if name in analysis.static:
                known[TensorRef(name, 0)] = Value.of_array(analysis.static[name], types[0])
                continue
            data = [r for r in node.inputs if r.port != CONTROL]
            if any(r.node in too_big for r in data):
                too_big.add(name)
                continue
            if any(r.node in waiting for r in data):
                outcome = None
            elif node.op in PASS_THROUGH and len(data) == 1:
                value = values.get(data[0])
                outcome = value is not None and value.dtype == types[0]
                if outcome:
                    known[TensorRef(name, 0)] = value  # type: ignore[assignment]
            else:
                outcome = _run_kernel(node, types, data, values, budget)
            if outcome is OverBudget:
                too_big.add(name)
            elif not outcome:
                pending.append(name)
                waiting.add(name)
    return pending, too_big


def _run_kernel(node: Node, types: tuple[int, ...], data: list[TensorRef], values: _Values, budget: int) -> Any:
    """Store the node's outputs and return True; None to defer to TF; OverBudget when too big.

    Runs under the sweep's ``np.errstate``, once per folded node: plain loops, no generators.
    """
    kernel = KERNELS.get(node.op)
    if kernel is None:
        return None
    get = values.get
    args = []
    for ref in data:
        arg = get(ref)
        if arg is None:
            return None
        args.append(arg)
    try:
        results = kernel(node, args, budget)
    except OverBudget:
        return OverBudget
    except Exception:  # any kernel trouble: let TensorFlow compute it, or report its error
        return None
    if len(results) != len(types):
        return None
    outs = [r if isinstance(r, Value) else Value.of_array(r, t) for r, t in zip(results, types, strict=True)]
    for out, t in zip(outs, types, strict=True):
        if out.dtype != t or (out.decoded is not None and out.decoded.dtype != numpy_dtype(t)):
            return None  # numpy promoted or a kernel slipped: TF decides
        if out.nbytes > budget:
            return OverBudget
    for port, out in enumerate(outs):
        values.known[TensorRef(node.name, port)] = out
    return True


# -- the plan ----------------------------------------------------------------------------


def fold_plan(graph: Graph, options: FoldOptions) -> FoldPlan:
    """Find the constant nodes of *graph*, evaluate them, and say which tensors to materialise."""
    analysis = _Analysis(graph, options)
    values = _Values(graph)
    pending, too_big = _numpy_sweep(analysis, values, options.max_bytes)
    batch = None
    if pending:
        from graphrewrite.engine.tfbatch import Batch

        batch = Batch(graph, pending, values.get)
        too_big |= _statically_too_big(graph, batch, pending, options.max_bytes)
    # A node nothing reads is a graph output in all but name: it keeps its name and ports.
    protected = options.protected | {n for n in analysis.types if not graph.has_consumers(n)}
    folded = {n: None for n in analysis.order if n in analysis.types and n not in too_big and _replaceable(n, analysis, protected)}
    need = _demand(graph, folded, protected)
    if batch is not None:
        fetch = [TensorRef(n, p) for n in batch.names if n in need and n not in too_big for p in sorted(need[n])]
        for ref, array in batch.run(fetch).items():
            value = Value.of_array(array, analysis.types[ref.node][ref.port])
            if value.nbytes <= options.max_bytes:
                values.known[ref] = value
    _keep_unevaluated(graph, folded, need, values)
    constants = {TensorRef(n, p): values.get(TensorRef(n, p)) for n in folded for p in sorted(need.get(n, ()))}
    return FoldPlan(
        folded=tuple(folded),
        constants=constants,  # type: ignore[arg-type]
        control={n: analysis.deps[n] for n in folded if n in analysis.deps},
        foldable=frozenset(analysis.order),
    )


def _replaceable(name: str, analysis: _Analysis, protected: frozenset[str]) -> bool:
    """A protected multi-output node is not replaced: its other ports must stay readable."""
    return name not in protected or len(analysis.types[name]) == 1


def _statically_too_big(graph: Graph, batch: Any, pending: Iterable[str], budget: int) -> set[str]:
    """Pending nodes with an output TensorFlow knows is over budget, and their consumers."""
    too_big: set[str] = set()
    for name in pending:
        node = graph.node(name)
        if any(r.node in too_big for r in node.inputs if r.port != CONTROL) or any(
            size is not None and size > budget for size in batch.static_nbytes(name)
        ):
            too_big.add(name)
    return too_big


def _demand(graph: Graph, folded: Mapping[str, None], protected: frozenset[str]) -> dict[str, set[int]]:
    """Per folded node, the output ports something that survives reads (``^n`` needs port 0)."""
    need: dict[str, set[int]] = {}
    for name in folded:
        ports = {0} if name in protected else set()
        for user in graph.consumers(name):
            if user in folded:
                continue
            for ref in graph.node(user).inputs:
                if ref.node == name:
                    ports.add(max(ref.port, 0))
        if ports:
            need[name] = ports
    return need


def _keep_unevaluated(graph: Graph, folded: dict[str, None], need: dict[str, set[int]], values: _Values) -> None:
    """Unfold every node with a needed value missing (over budget after computing, or not
    fetched); the constants such a node reads become needed in turn."""
    work = [n for n in folded if any(TensorRef(n, p) not in values for p in need.get(n, ()))]
    while work:
        name = work.pop()
        if name not in folded:
            continue
        del folded[name]
        need.pop(name, None)
        for ref in graph.node(name).inputs:
            if ref.node in folded:
                port = max(ref.port, 0)
                need.setdefault(ref.node, set()).add(port)
                if TensorRef(ref.node, port) not in values:
                    work.append(ref.node)
