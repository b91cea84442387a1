"""Which ops and nodes TensorFlow's constant folder may fold, judged by kind, not by inputs.

An op may fold when it is registered, stateless, has outputs, and is not control flow, a call,
a Placeholder, a Send/Recv or a random op (stateless random ops too: folding would freeze a
sampled value). A node of such an op may fold when its output types are known and can live in
a Const (not resource or variant), it takes no function attributes, and a CPU kernel accepts its
type attributes (the folder runs on the CPU; ``RealDiv`` on integers has no kernel, so it never
folds, as in TensorFlow). Everything here is cached per op, or per op and type signature.
"""

from __future__ import annotations

import functools
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.graph import Node
from graphrewrite.engine.opdefs import attr_defaults, output_type_enums

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
OPAQUE_TYPES = frozenset({20, 21})  # DT_RESOURCE, DT_VARIANT: no Const can hold them


@functools.cache
def op_may_fold(op: str) -> bool:
    """Whether nodes of *op* may ever be folded (by kind; :func:`node_types` checks a node)."""
    if op in NEVER or any(marker in op for marker in RANDOM_MARKERS):
        return False
    op_def = _tf.op_def(op)
    return op_def is not None and not op_def.is_stateful and len(op_def.output_arg) > 0


@functools.cache
def _cpu_kernels(op: str) -> tuple[tuple[str, ...], tuple[dict[str, frozenset[int]], ...]]:
    """The attrs CPU kernels of *op* constrain, and each kernel's allowed types for them."""
    registered = _tf.private("kernels_for_op")
    found = []
    for k in registered(op).kernel:
        if k.device_type == "CPU" and not k.label:
            found.append({c.name: frozenset(c.allowed_values.list.type) for c in k.constraint})
    names = tuple(sorted({name for constraints in found for name in constraints}))
    return names, tuple(found)


@functools.cache
def _kernel_matches(op: str, types: tuple[tuple[int, ...] | None, ...]) -> bool:
    names, found = _cpu_kernels(op)
    chosen = dict(zip(names, types, strict=True))
    return any(
        all(set(chosen[name] or (None,)).issubset(allowed) for name, allowed in c.items())
        for c in found
    )


def _has_cpu_kernel(node: Node) -> bool:
    """Whether a CPU kernel accepts *node*'s type attrs (TF folds only what the CPU can run)."""
    names, _ = _cpu_kernels(node.op)
    defaults = attr_defaults(node.op) or {}
    types: list[tuple[int, ...] | None] = []
    for name in names:
        value = node.attr.get(name)
        value = value if value is not None else defaults.get(name)
        if value is None:
            types.append(None)
        else:
            types.append((value.type,) if value.WhichOneof("value") == "type" else tuple(value.list.type))
    return _kernel_matches(node.op, tuple(types))


@functools.cache
def _takes_functions(op: str) -> bool:
    op_def: Any = _tf.op_def(op)
    return any(a.type in ("func", "list(func)") for a in op_def.attr)


def node_types(node: Node) -> tuple[int, ...] | None:
    """Per-node checks for a node whose op and inputs allow folding: its output types when it
    may be folded, else None."""
    types = output_type_enums(node)
    if not types or OPAQUE_TYPES.intersection(types) or _takes_functions(node.op):
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
