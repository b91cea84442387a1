"""quantize_nodes (legacy, GTT's experimental eight-bit inference): float ops -> Quantized*.

Each convertible op ``n`` (see ``quantize_ops.QUANTIZED_OPS``) becomes::

    input -> Reshape(-1) -> Min, Max -> QuantizeV2(quint8, MIN_FIRST)   (one per input tensor)
    n/eightbit = Quantized<Op>(quantized inputs, their mins and maxes)
    [n/eightbit/requant_range = RequantizationRange, n/eightbit/requantize = Requantize]
    n = Dequantize(MIN_FIRST)                                            (same name, float)

then adjacent ``Dequantize -> QuantizeV2`` pairs are cancelled so chains of eight-bit ops stay
eight-bit (``remove_redundant_quantizations`` in quantize.rules). Run ``quantize_weights`` first so weights arrive
already quantized. GTT's steps are kept, in order: quantize Placeholders (``input_min``/
``input_max``), hoist and convert FakeQuants (the ``fake_quants_to_eight_bit`` schedule in
quantize.rules), convert ops, merge adjacent Requantizes, remove redundant quantizations. Differences from GTT (docs/compression.md): per-input quantizers are
shared by construction instead of a global ``merge_duplicate_nodes``; dead float subgraphs are
deleted; only float Placeholders are quantized; control inputs are kept, not quantized; Add
and Mul are converted only where the kernels' limited broadcasting gives the right values.

This is legacy: the eight-bit kernels are slow reference code on most CPUs and TensorFlow no
longer develops them; prefer ``quantize_weights`` for size.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.opdefs import in_out_types
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules import rule_files
from graphrewrite.stdlib_rules.quantize_ops import (
    BROADCASTING,
    QUANTIZED_OPS,
    QuantizedOp,
    broadcast_refusal,
    unquantized_inputs,
)
from graphrewrite.stdlib_rules.weight_tensors import DT_FLOAT, carried_attrs, const_node


@attrs.frozen
class Settings:
    """quantize_nodes' arguments, checked."""

    input_range: tuple[float, float] | None = None
    fallback_range: tuple[float, float] | None = None
    ignore: frozenset[str] = frozenset()

    @classmethod
    def from_args(cls, args: Any) -> Settings:
        return cls(
            _pair(args, "input_min", "input_max"),
            _pair(args, "fallback_min", "fallback_max"),
            frozenset(args.get("ignore_op") or ()),
        )


def _pair(args: Any, lo_name: str, hi_name: str) -> tuple[float, float] | None:
    lo, hi = args.get(lo_name), args.get(hi_name)
    if lo is None and hi is None:
        return None
    if lo is None or hi is None:
        given = lo_name if lo is not None else hi_name
        raise UsageError(
            f"quantize_nodes: pass both {lo_name} and {hi_name} (only {given}={args.get(given)} was given)"
        )
    if not float(lo) < float(hi):
        raise UsageError(f"quantize_nodes: {lo_name}={lo} must be below {hi_name}={hi}")
    return float(lo), float(hi)


def _quint8() -> DType:
    return DType.named("quint8")


def _dequantize(name: str, source: str, device: str) -> Node:
    inputs = [TensorRef(source, 0), TensorRef(source, 1), TensorRef(source, 2)]
    return Node.make(name, "Dequantize", inputs, {"T": _quint8(), "mode": "MIN_FIRST"}, device)


# -- Placeholders ---------------------------------------------------------------------------------


def quantize_placeholders(graph: Graph, input_range: tuple[float, float] | None) -> Graph:
    """Every float Placeholder is fed quint8 in [input_min, input_max] and dequantized."""
    if input_range is None:
        return graph
    upserts: dict[str, Node] = {}
    for name in graph.nodes_of_op("Placeholder"):
        node = graph.node(name)
        if str(node.get("dtype")) != "float32":
            continue
        prefix = f"{name}_eightbit"
        mn = const_node(graph.unique_name(f"{prefix}/min"), np.float32(input_range[0]), device=node.device)
        mx = const_node(graph.unique_name(f"{prefix}/max"), np.float32(input_range[1]), device=node.device)
        deq_name = graph.unique_name(f"{prefix}/dequantize")
        deq = Node.make(deq_name, "Dequantize", [name, mn.name, mx.name], {"T": _quint8(), "mode": "MIN_FIRST"},
                        node.device)
        for user in graph.consumers(name):
            current = upserts.get(user) or graph.node(user)
            inputs = [TensorRef(deq_name, 0) if ref == TensorRef(name, 0) else ref for ref in current.inputs]
            upserts[user] = current.with_inputs(inputs)
        upserts.update({n.name: n for n in (node.with_attrs(dtype=_quint8()), mn, mx, deq)})
    return graph.replace(upserts.values())


# -- converting ops -------------------------------------------------------------------------------


def static_shapes(graph: Graph, refs: set[TensorRef]) -> dict[TensorRef, Any]:
    """TensorFlow's static shapes of *refs* (None: unknown rank); {} when TF cannot import."""
    if not refs:
        return {}
    tf = _tf.tf()
    imported = tf.Graph()
    try:
        with imported.as_default():
            tf.compat.v1.import_graph_def(graph.to_graphdef(), name="")
    except (ValueError, TypeError, KeyError, tf.errors.OpError):
        return {}
    shapes: dict[TensorRef, Any] = {}
    for ref in refs:
        shape = imported.get_tensor_by_name(f"{ref.node}:{ref.port}").shape
        shapes[ref] = None if shape.rank is None else tuple(shape.as_list())
    return shapes


def refusal(node: Node, info: QuantizedOp, shapes: dict[TensorRef, Any] | None = None) -> str | None:
    """Why *node* stays float although its op is listed, or None."""
    if node.op in BROADCASTING and len(node.data_inputs) == 2:
        x, y = ((shapes or {}).get(ref) for ref in node.data_inputs)
        reason = broadcast_refusal(x, y)
        if reason:
            return reason
    if info.check is not None:
        reason = info.check(node)
        if reason:
            return reason
    inputs, outputs = in_out_types(node)
    skip = unquantized_inputs(info, len(inputs))
    for index, dtype in enumerate(inputs):
        if index not in skip and str(dtype) != "float32":
            return f"input {index} is {dtype}, not float32"
    if any(str(dtype) != "float32" for dtype in outputs):
        return "an output is not float32"
    return None


class _Converter:
    """Collects the nodes that replace converted ops; input quantizers are shared per tensor."""

    def __init__(self, graph: Graph, fallback: tuple[float, float] | None):
        self.graph = graph
        self.fallback = fallback
        self.nodes: dict[str, Node] = {}
        self.taken: set[str] = set()
        self.quantizers: dict[TensorRef, str] = {}
        self.fallback_names: tuple[str, str] | None = None

    def name(self, base: str) -> str:
        name = self.graph.unique_name(base, self.taken)
        self.taken.add(name)
        return name

    def add(self, *nodes: Node) -> None:
        self.nodes.update((n.name, n) for n in nodes)

    def quantizer(self, ref: TensorRef, owner: Node) -> str:
        """The QuantizeV2 of tensor *ref*, built on first use (GTT names it after the user)."""
        if ref not in self.quantizers:
            tag = ref.node + (f"__port__{ref.port}" if ref.port else "")
            prefix, device, gate = f"{owner.name}_eightbit/{tag}", owner.device, [TensorRef(ref.node, -1)]
            dims = const_node(self.name(f"{prefix}/reshape_dims"), np.array([-1], np.int32), device=device)
            axis = const_node(self.name(f"{prefix}/reduction_dims"), np.array([0], np.int32), device=device)
            dims, axis = dims.with_inputs(gate), axis.with_inputs(gate)
            flat = Node.make(self.name(f"{prefix}/reshape"), "Reshape", [ref, dims.name], {"T": DType(DT_FLOAT)}, device)
            reduce = {"T": DType(DT_FLOAT), "keep_dims": False}
            lo = Node.make(self.name(f"{prefix}/min"), "Min", [flat.name, axis.name], reduce, device)
            hi = Node.make(self.name(f"{prefix}/max"), "Max", [flat.name, axis.name], reduce, device)
            attrs_ = {"T": _quint8(), "mode": "MIN_FIRST"}
            quantize = Node.make(self.name(f"{prefix}/quantize"), "QuantizeV2", [ref, lo.name, hi.name], attrs_, device)
            self.add(dims, axis, flat, lo, hi, quantize)
            self.quantizers[ref] = quantize.name
        return self.quantizers[ref]

    def convert(self, node: Node, info: QuantizedOp) -> None:
        data = node.data_inputs
        skip = unquantized_inputs(info, len(data))
        quantized = {i: self.quantizer(ref, node) for i, ref in enumerate(data) if i not in skip}
        inputs = [ref if i in skip else TensorRef(quantized[i], 0) for i, ref in enumerate(data)]
        if info.axis_first:
            inputs = inputs[-1:] + inputs[:-1]
        names = list(quantized.values())
        if info.separate_min_max:
            ranges = [TensorRef(q, 1) for q in names] + [TensorRef(q, 2) for q in names]
        else:
            ranges = [TensorRef(q, p) for q in names for p in (1, 2)]
        attrs_: dict[str, Any] = {k: node.attr[k] for k in info.copy if k in node.attr}
        attrs_.update({k: DType.named(v) for k, v in info.types})
        main = Node.make(self.name(f"{node.name}/eightbit"), info.quantized,
                         [*inputs, *ranges, *node.control_inputs], attrs_, node.device)
        self.add(main)
        eight_bit = self.requantized(main) if info.wide_output else main.name
        deq = _dequantize(node.name, eight_bit, node.device)
        self.add(deq.evolve(attr={**deq.attr, **carried_attrs(node)}))

    def requantized(self, main: Node) -> str:
        """Requantize the qint32 result to quint8, with a measured or a fixed range."""
        if self.fallback is None:
            rr = Node.make(self.name(f"{main.name}/requant_range"), "RequantizationRange",
                           [TensorRef(main.name, p) for p in range(3)], {"Tinput": DType.named("qint32")},
                           main.device)
            self.add(rr)
            lo, hi = TensorRef(rr.name, 0), TensorRef(rr.name, 1)
        else:
            lo_name, hi_name = self.fallback_consts(main, self.fallback)
            lo, hi = TensorRef(lo_name, 0), TensorRef(hi_name, 0)
        out = Node.make(self.name(f"{main.name}/requantize"), "Requantize",
                        [*(TensorRef(main.name, p) for p in range(3)), lo, hi],
                        {"Tinput": DType.named("qint32"), "out_type": _quint8()}, main.device)
        self.add(out)
        return out.name

    def fallback_consts(self, main: Node, fallback: tuple[float, float]) -> tuple[str, str]:
        """One shared pair of range Consts (GTT makes one per op, then merges duplicates)."""
        if self.fallback_names is None:
            lo = const_node(self.name(f"{main.name}/fallback_min"), np.float32(fallback[0]), device=main.device)
            hi = const_node(self.name(f"{main.name}/fallback_max"), np.float32(fallback[1]), device=main.device)
            self.add(lo, hi)
            self.fallback_names = (lo.name, hi.name)
        return self.fallback_names


def convert_ops(graph: Graph, settings: Settings) -> Graph:
    """Rewrite every convertible float op at once (GTT's single ReplaceMatchingOpTypes pass)."""
    table = {op: info for op, info in QUANTIZED_OPS.items() if op not in settings.ignore}
    candidates = [n for n in graph if n.op in table]
    shapes = static_shapes(graph, {r for n in candidates if n.op in BROADCASTING for r in n.data_inputs})
    converter = _Converter(graph, settings.fallback_range)
    for node in candidates:
        if refusal(node, table[node.op], shapes) is None:
            converter.convert(node, table[node.op])
    return graph.replace(converter.nodes.values())


def quantize_nodes(graph: Graph, ctx: Any) -> Graph:
    """GTT's quantize_nodes pipeline, step by step."""
    settings = Settings.from_args(ctx.args)
    graph = quantize_placeholders(graph, settings.input_range)
    graph = rule_files.BY_NAME["fake_quants_to_eight_bit"].apply(graph, ctx)[0]
    graph = convert_ops(graph, settings)
    graph = rule_files.BY_NAME["merge_requantizes_once"].apply(graph, ctx)[0]
    return rule_files.BY_NAME["remove_redundant_quantizations"].apply(graph, ctx)[0]


QUANTIZE_NODES = Pass(
    "quantize_nodes",
    "Conv2D|MatMul|Relu|...(x) -> Dequantize(Quantized<Op>(QuantizeV2(x))); legacy eight-bit kernels",
    quantize_nodes,
    (
        Param("input_min", Kind.FLOAT, doc="feed float Placeholders as quint8 over [input_min, input_max]"),
        Param("input_max", Kind.FLOAT, doc="see input_min"),
        Param("fallback_min", Kind.FLOAT, doc="fixed requantization range instead of RequantizationRange"),
        Param("fallback_max", Kind.FLOAT, doc="see fallback_min"),
        Param("ignore_op", Kind.STRING, repeated=True, doc="float op types to leave alone"),
    ),
    facts=Facts(lossy=(1e-1, 5e-2), checked=Checked(cases="small_quantizable", examples=10)),  # activations too: each stage within a step of its range
)

