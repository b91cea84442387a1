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
def _cpu_kernels(op: str) -> tuple[tuple[str, ...], tuple[dict[str, frozenset[int]], ...]]:
    """The attrs CPU kernels of *op* constrain, and each kernel's allowed types for them."""
    _tf.tf()
    from tensorflow.python.framework import kernels

    found = []
    for k in kernels.get_registered_kernels_for_op(op).kernel:
        if k.device_type == "CPU" and not k.label:
            found.append({c.name: frozenset(c.allowed_values.list.type) for c in k.constraint})
    names = tuple(sorted({name for constraints in found for name in constraints}))
    return names, tuple(found)


@functools.cache
def _kernel_matches(op: str, types: tuple[tuple[int, ...] | None, ...]) -> bool:
    names, found = _cpu_kernels(op)
    chosen = dict(zip(names, types, strict=True))
    return any(
        all(chosen[name] is not None and set(chosen[name]).issubset(allowed) for name, allowed in c.items())  # type: ignore[arg-type]
        for c in found
    )


def _has_cpu_kernel(node: Node) -> bool:
    """Whether a CPU kernel accepts *node*'s type attrs (TF folds only what the CPU can run)."""
    names, _ = _cpu_kernels(node.op)
    defaults = _op_spec(node.op)[1]
    types = []
    for name in names:
        value = _attr(node, name, defaults)
        if value is None:
            types.append(None)
        else:
            types.append((value.type,) if value.WhichOneof("value") == "type" else tuple(value.list.type))
    return _kernel_matches(node.op, tuple(types))


@functools.cache
def _takes_functions(op: str) -> bool:
    return any(a.type in ("func", "list(func)") for a in _tf.op_def(op).attr)


def _node_types(node: Node) -> tuple[int, ...] | None:
    """Per-node checks for a node whose op and inputs allow folding: its output types when it
    may be folded, else None."""
    types = output_types(node)
    if not types or _OPAQUE_TYPES.intersection(types) or _takes_functions(node.op):
        return None
    return types if _has_cpu_kernel(node) else None


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
            return "dtype" not in node.attr or node.attr["dtype"].type not in _OPAQUE_TYPES
        verdict = self._ops.get(node.op)
        if verdict is None:
            verdict = self._ops[node.op] = node.op not in self.options.exclude_ops and _op_verdict(node.op)
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
                for ref in node.inputs:
                    if ref.node not in state:
                        stack.append(ref.node)

    def _decide(self, node: Node) -> bool:
        """Whether *node*, a candidate whose inputs are decided, is constant."""
        state = self.state
        if node.op != "Const":
            data = [r for r in node.inputs if r.port != CONTROL]
            if all(state.get(r.node) is True for r in data):
                types = _node_types(node)
            else:
                types = self._static_shape_op(node, data)
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
        types = _node_types(node)
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
    """Store the node's outputs and return True; None to defer to TF; OverBudget when too big."""
    kernel = KERNELS.get(node.op)
    if kernel is None:
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
