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

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.kernels import KERNELS, Defer, OverBudget, Value, numpy_dtype, shape_value

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# Ops with control-flow or call semantics, or that TensorFlow's folder refuses by kind.
NEVER = frozenset(
    {
        "Switch", "RefSwitch", "_SwitchN", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
        "NextIteration", "RefNextIteration", "LoopCond", "ControlTrigger",
        "If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase", "For",
        "PartitionedCall", "StatefulPartitionedCall", "SymbolicGradient", "RemoteCall",
        "Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "FakeParam", "ImmutableConst",
        "_Send", "_Recv", "_HostSend", "_HostRecv", "_Arg", "_Retval",
        "GetSessionHandle", "GetSessionHandleV2", "GetSessionTensor", "DeleteSessionTensor",
    }
)  # fmt: skip
RANDOM_MARKERS = ("Random", "Multinomial", "TruncatedNormal", "Stateless")
SHAPE_OPS = frozenset({"Shape", "Size", "Rank"})
_OPAQUE_TYPES = frozenset({20, 21})  # DT_RESOURCE, DT_VARIANT: no Const can hold them


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

    ``folded``: constant non-Const nodes whose uses now read constants (graph order).
    ``constants``: the tensors to materialise, each with its value; every output of a folded
    node that a surviving node (or a protected name, or a ``^control`` edge, port 0) reads.
    ``control``: per folded node, the non-constant nodes its constants must still wait for.
    ``foldable``: every constant node, Consts included (the candidates for dead-node removal).
    """

    folded: tuple[str, ...] = ()
    constants: Mapping[TensorRef, Value] = attrs.field(factory=dict)
    control: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    foldable: frozenset[str] = frozenset()


# -- op and node properties --------------------------------------------------------------


@functools.cache
def _op_verdict(op: str) -> bool:
    """Whether nodes of *op* may ever be folded (by kind; per-node checks come later)."""
    if op in NEVER or any(marker in op for marker in RANDOM_MARKERS):
        return False
    op_def = _tf.op_def(op)
    return op_def is not None and not op_def.is_stateful and len(op_def.output_arg) > 0


@functools.cache
def _op_spec(op: str) -> tuple[tuple[tuple[int, str, str, str], ...], dict[str, Any]]:
    op_def = _tf.op_def(op)
    outputs = tuple((a.type, a.type_attr, a.number_attr, a.type_list_attr) for a in op_def.output_arg)
    return outputs, {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}


def _attr(node: Node, name: str, defaults: Mapping[str, Any]) -> Any:
    if name in node.attr:
        return node.attr[name]
    return defaults.get(name)


def output_types(node: Node) -> tuple[int, ...] | None:
    """The dtype enums of *node*'s outputs, from its OpDef and attrs; None when unknown."""
    if _tf.op_def(node.op) is None:
        return None
    spec, defaults = _op_spec(node.op)
    out: list[int] = []
    for fixed, type_attr, number_attr, list_attr in spec:
        if list_attr:
            value = _attr(node, list_attr, defaults)
            if value is None:
                return None
            out += list(value.list.type)
            continue
        value = None if fixed else _attr(node, type_attr, defaults)
        count = _attr(node, number_attr, defaults) if number_attr else None
        if (not fixed and value is None) or (number_attr and count is None):
            return None
        out += [fixed or value.type] * (count.i if number_attr else 1)
    return tuple(out)


@functools.cache
def _cpu_kernels(op: str) -> tuple[tuple[tuple[str, frozenset[int]], ...], ...]:
    """The type constraints of each CPU kernel registered for *op*."""
    _tf.tf()
    from tensorflow.python.framework import kernels

    found = []
    for k in kernels.get_registered_kernels_for_op(op).kernel:
        if k.device_type == "CPU" and not k.label:
            found.append(tuple((c.name, frozenset(c.allowed_values.list.type)) for c in k.constraint))
    return tuple(found)


def _has_cpu_kernel(node: Node) -> bool:
    defaults = _op_spec(node.op)[1]
    for constraints in _cpu_kernels(node.op):
        ok = True
        for name, allowed in constraints:
            value = _attr(node, name, defaults)
            types = [] if value is None else ([value.type] if value.WhichOneof("value") == "type" else value.list.type)
            if value is None or any(t not in allowed for t in types):
                ok = False
                break
        if ok:
            return True
    return False


def _node_ok(node: Node) -> bool:
    """Per-node checks for a node whose op and inputs allow folding."""
    types = output_types(node)
    if not types or _OPAQUE_TYPES.intersection(types):
        return False
    for value in node.attr.values():
        kind = value.WhichOneof("value")
        if kind == "func" or (kind == "list" and len(value.list.func)):
            return False
    return _has_cpu_kernel(node)


def static_shape(node: Node, port: int, use_output_shapes: bool) -> tuple[int | None, ...] | None:
    """A non-constant tensor's static shape: a Placeholder's ``shape``, or ``_output_shapes``."""
    from graphrewrite.engine.attrvalues import shape_from_proto

    if node.op in ("Placeholder", "PlaceholderWithDefault") and port == 0 and "shape" in node.attr:
        return shape_from_proto(node.attr["shape"].shape)
    if use_output_shapes and "_output_shapes" in node.attr:
        shapes = node.attr["_output_shapes"].list.shape
        if port < len(shapes):
            return shape_from_proto(shapes[port])
    return None


# -- which nodes are constant ------------------------------------------------------------


class _Analysis:
    """One DFS over the graph: the constant nodes in topological order, static shape values,
    and the control dependencies each constant must keep."""

    def __init__(self, graph: Graph, options: FoldOptions):
        self.graph = graph
        self.options = options
        self.fed = frozenset(TensorRef.parse(n).node for n in options.inputs if n)
        self.order: list[str] = []  # constant nodes, inputs before consumers
        self.static: dict[str, np.ndarray] = {}  # Shape/Size/Rank values from static shapes
        self.deps: dict[str, tuple[str, ...]] = {}
        self._state: dict[str, bool | None] = {}  # None while visiting
        for name in graph.names:
            if name not in self._state:
                self._visit(name)

    def constant(self, name: str) -> bool:
        return self._state.get(name) is True

    def _candidate(self, node: Node) -> bool:
        if node.name in self.fed:
            return False
        if node.op == "Const":
            return "dtype" not in node.attr or node.attr["dtype"].type not in _OPAQUE_TYPES
        if node.name in self.options.exclude_nodes or node.op in self.options.exclude_ops:
            return False
        return _op_verdict(node.op)

    def _visit(self, start: str) -> None:
        state, graph = self._state, self.graph
        stack = [start]
        while stack:
            name = stack[-1]
            if state.get(name, False) is not None and name in state:
                stack.pop()
                continue
            node = graph.get(name)
            if name not in state:
                if node is None or not self._candidate(node):
                    state[name] = False
                    stack.pop()
                    continue
                state[name] = None
                pending = [r.node for r in node.inputs if r.node not in state]
                if pending:
                    stack.extend(reversed(pending))
                    continue
            stack.pop()
            state[name] = self._decide(node)  # type: ignore[arg-type]
            if state[name]:
                self.order.append(name)

    def _decide(self, node: Node) -> bool:
        data = [r for r in node.inputs if r.port != CONTROL]
        if node.op == "Const":
            ok = True
        elif all(self._state.get(r.node) is True for r in data):
            ok = _node_ok(node)
        else:
            ok = self._static_shape_op(node, data)
        if ok:
            self._record_deps(node)
        return ok

    def _static_shape_op(self, node: Node, data: list[TensorRef]) -> bool:
        """Shape/Size/Rank of a non-constant tensor whose static shape is known."""
        if node.op not in SHAPE_OPS or len(data) != 1 or not _node_ok(node):
            return False
        producer = self.graph.get(data[0].node)
        shape = None if producer is None else static_shape(producer, data[0].port, self.options.use_output_shapes)
        if shape is None:
            return False
        try:
            self.static[node.name] = shape_value(node.op, node, shape)
        except Defer:
            return False
        return True

    def _record_deps(self, node: Node) -> None:
        # TF: a constant's control deps are its inputs from non-constant nodes (control edges,
        # or the data edge of a static Shape) plus the deps of its constant inputs.
        deps: dict[str, None] = {}
        for ref in node.inputs:
            if self._state.get(ref.node) is True:
                deps.update(dict.fromkeys(self.deps.get(ref.node, ())))
            else:
                deps[ref.node] = None
        if deps:
            self.deps[node.name] = tuple(deps)


# -- values ------------------------------------------------------------------------------


class _Values:
    """Computed values by tensor; Consts are read lazily from their protos."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.known: dict[TensorRef, Value] = {}

    def get(self, ref: TensorRef) -> Value | None:
        found = self.known.get(ref)
        if found is None and ref.port == 0:
            node = self.graph.get(ref.node)
            if node is not None and node.op == "Const":
                found = self.known[ref] = Value.of_proto(node.attr["value"].tensor)
        return found

    def __contains__(self, ref: TensorRef) -> bool:
        return self.get(ref) is not None


def _numpy_sweep(analysis: _Analysis, values: _Values, budget: int) -> tuple[list[str], set[str]]:
    """Compute what numpy can, in topological order; returns (left for TF, over budget)."""
    graph = analysis.graph
    pending: list[str] = []
    waiting: set[str] = set()  # pending nodes, plus nodes over budget
    too_big: set[str] = set()
    for name in analysis.order:
        node = graph.node(name)
        if node.op == "Const":
            continue
        if name in analysis.static:
            values.known[TensorRef(name, 0)] = Value.of_array(analysis.static[name], output_types(node)[0])  # type: ignore[index]
            continue
        data = [r for r in node.inputs if r.port != CONTROL]
        if any(r.node in too_big for r in data):
            too_big.add(name)
            continue
        outcome = None if any(r.node in waiting for r in data) else _run_kernel(node, data, values, budget)
        if outcome is OverBudget:
            too_big.add(name)
        elif outcome is None:
            pending.append(name)
            waiting.add(name)
    return pending, too_big


def _run_kernel(node: Node, data: list[TensorRef], values: _Values, budget: int) -> Any:
    """Store the node's outputs and return True; None to defer to TF; OverBudget when too big."""
    kernel = KERNELS.get(node.op)
    types = output_types(node)
    if kernel is None or types is None:
        return None
    args = [values.get(r) for r in data]
    if any(a is None for a in args):
        return None
    try:
        with np.errstate(all="ignore"):
            results = kernel(node, args, budget)  # type: ignore[arg-type]
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
    folded = {n: None for n in analysis.order if n not in too_big and _replaceable(graph.node(n), options)}
    need = _demand(graph, folded, options.protected)
    if batch is not None:
        fetch = [TensorRef(n, p) for n in batch.names if n in need and n not in too_big for p in sorted(need[n])]
        for ref, array in batch.run(fetch).items():
            value = Value.of_array(array, output_types(graph.node(ref.node))[ref.port])  # type: ignore[index]
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


def _replaceable(node: Node, options: FoldOptions) -> bool:
    """Constants other than Consts, except a protected multi-output node (its ports must stay)."""
    if node.op == "Const":
        return False
    return node.name not in options.protected or len(output_types(node) or ()) == 1


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
