"""Numerical verification: run two graphs on the same inputs and compare every output.

``verify(original, transformed, inputs, outputs)`` feeds both graphs the same random (or given)
inputs, runs them in TensorFlow with grappler off (``runner``), and reports per output the
largest absolute and relative error and whether it is within tolerance (numpy's ``allclose``
rule: ``|actual - expected| <= atol + rtol * |expected|``; NaN matches NaN, inf matches the same
inf). ``make_checker`` runs the original once and checks any number of candidates against the
stored outputs, which is what ``transform --verify=each`` calls after every step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.errors import GraphError, NameNotFoundError, suggest
from graphrewrite.engine.graph import Graph, node_name

# (rtol, atol) by what the transformed graph computes in; stated in `verify --help`.
TOLERANCES = {
    "float32": (1e-4, 1e-5),
    "float16": (1e-2, 1e-3),
    "quantized": (5e-2, 1e-2),
}
HALF_TYPES = frozenset({"float16", "bfloat16"})
QUANTIZED_TYPES = frozenset({"qint8", "quint8", "qint16", "quint16", "qint32"})
QUANTIZED_OPS = frozenset({"Dequantize", "QuantizeV2", "QuantizeAndDequantizeV2", "QuantizeAndDequantizeV3",
                           "QuantizeAndDequantizeV4", "Requantize", "RequantizationRange"})  # fmt: skip
SKIPPED_INPUT_PREFIX = "unused_control_flow_input"


@attrs.frozen
class OutputCheck:
    """One output compared: largest absolute and relative error, and the verdict."""

    name: str
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ""  # why the values could not be compared (shape or dtype differ)


@attrs.frozen
class VerifyReport:
    """Every output compared, with the tolerances used and why they were chosen."""

    outputs: tuple[OutputCheck, ...]
    rtol: float
    atol: float
    tolerance: str = "given"  # "float32 default", "float16 default", "quantized default", "given"
    scale: str = "element"  # "element": |d| <= atol + rtol*|x|; "output": ... + rtol*max|x|

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.outputs)

    @property
    def failed(self) -> tuple[OutputCheck, ...]:
        return tuple(check for check in self.outputs if not check.ok)

    def table(self) -> str:
        """A plain-text table: one row per output, then the tolerance line."""
        rows = [("output", "max abs err", "max rel err", "within tolerance")]
        for c in self.outputs:
            verdict = "yes" if c.ok else "NO" + (f" ({c.note})" if c.note else "")
            rows.append((c.name, _number(c.max_abs), _number(c.max_rel), verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2]), r[3]]) for r in rows]
        relative = "each element" if self.scale == "element" else "the output's largest magnitude"
        lines.append(f"tolerance: rtol={self.rtol:g} atol={self.atol:g} ({self.tolerance}), relative to {relative}")
        return "\n".join(lines)


def _number(value: float) -> str:
    return "inf" if np.isinf(value) else f"{value:.3g}"


def compare(name: str, expected: Any, actual: Any, *, rtol: float, atol: float, scale: str = "element") -> OutputCheck:
    """Compare one output; a shape or dtype change is a failure with a note, never an error.

    With ``scale="element"`` (numpy's allclose) each element is judged against its own
    magnitude; with ``scale="output"`` against the output's largest magnitude, the right
    yardstick for lossy transforms, whose error is a fraction of the weights' range rather
    than of each result. ``max_rel`` is taken over elements whose yardstick exceeds *atol*.
    """
    want, have = np.asarray(expected), np.asarray(actual)
    if want.shape != have.shape:
        return OutputCheck(name, np.inf, np.inf, False, f"shape {list(have.shape)}, expected {list(want.shape)}")
    if want.dtype != have.dtype:
        return OutputCheck(name, np.inf, np.inf, False, f"dtype {have.dtype}, expected {want.dtype}")
    if want.dtype.kind not in "fc":  # strings, integers and booleans: equal or not (no tolerance)
        same = bool(np.array_equal(want, have))
        return OutputCheck(name, 0.0 if same else np.inf, 0.0 if same else np.inf, same)
    want64 = want.astype(np.complex128 if want.dtype.kind == "c" else np.float64)
    have64 = have.astype(want64.dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # inf and nan handled here
        diff = np.abs(have64 - want64)
        agree = (np.isnan(want64) & np.isnan(have64)) | (np.isinf(want64) & (want64 == have64))
        diff = np.where(agree, 0.0, np.where(np.isnan(diff), np.inf, diff))
        size = np.abs(np.where(np.isfinite(want64), want64, 0.0))
        if scale == "output" and size.size:
            size = np.full_like(size, size.max())
        # Relative error where it means something: elements within atol of 0 are judged by atol.
        rel = np.where((diff == 0) | (size <= atol), 0.0, diff / np.maximum(size, np.finfo(np.float64).tiny))
    ok = bool(np.all(diff <= atol + rtol * size))
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    return OutputCheck(name, max_abs, max_rel, ok)


# -- defaults ---------------------------------------------------------------------------------


def default_inputs(graph: Graph) -> tuple[str, ...]:
    """The graph's Placeholders (without TF2's ``unused_control_flow_input*``)."""
    return tuple(
        n.name for n in graph if n.op in ("Placeholder", "PlaceholderV2") and not n.name.startswith(SKIPPED_INPUT_PREFIX)
    )


def default_outputs(graph: Graph) -> tuple[str, ...]:
    """Sink nodes: nothing consumes them, they have outputs, and they are not Const/Placeholder."""
    from graphrewrite.engine.opdefs import output_count

    return tuple(
        n.name
        for n in graph
        if not graph.has_consumers(n.name)
        and n.op not in ("Const", "Placeholder", "PlaceholderV2", "NoOp")
        and output_count(n) != 0
    )


def default_tolerance(graph: Graph) -> tuple[float, float, str]:
    """``(rtol, atol, why)`` for a graph: looser for float16/bfloat16 and quantized graphs."""
    kind = "float32"
    for node in graph:
        if node.op in QUANTIZED_OPS or node.op.startswith("Quantized"):
            kind = "quantized"
            break
        types_used = {str(v) for key in ("T", "dtype", "DstT", "SrcT", "out_type") if (v := _dtype_attr(node, key))}
        if types_used & QUANTIZED_TYPES:
            kind = "quantized"
            break
        if types_used & HALF_TYPES:
            kind = "float16"
    rtol, atol = TOLERANCES[kind]
    return rtol, atol, f"{kind} default"


def _dtype_attr(node: Any, key: str) -> Any:
    attr = node.attr.get(key)
    if attr is None or attr.WhichOneof("value") != "type":
        return None
    return node.get(key)


def _names(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(item.strip() for item in items if item and item.strip())
    return names or None


# -- running ----------------------------------------------------------------------------------


def _check_names(graph: Graph, names: Sequence[str], what: str, graph_label: str) -> None:
    for name in names:
        if node_name(name) not in graph:
            hint = suggest(node_name(name), graph.names)
            raise NameNotFoundError(f"{what} '{name}' is not a node of {graph_label}" + (f"; {hint}" if hint else ""))


def _given_feeds(runner: Any, inputs: Sequence[str], feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
    from graphrewrite.inputs import check_feeds

    values = {name: np.asarray(v) for name, v in check_feeds(feeds, inputs).items()}
    for name, value in values.items():
        _, static = runner.placeholder_spec(name)
        if static is not None and (
            len(static) != value.ndim or any(s is not None and s != d for s, d in zip(static, value.shape, strict=True))
        ):
            shown = "[" + ",".join("?" if s is None else str(s) for s in static) + "]"
            raise GraphError(f"input '{name}': the given value has shape {list(value.shape)}, the graph says {shown}")
    return values


def _is_placeholder(graph: Graph, name: str) -> bool:
    node = graph.get(node_name(name))
    return node is not None and node.op.startswith("Placeholder")


def _tolerance(graph: Graph, rtol: float | None, atol: float | None) -> tuple[float, float, str]:
    if rtol is not None and atol is not None:
        return rtol, atol, "given"
    auto_rtol, auto_atol, why = default_tolerance(graph)
    if rtol is None and atol is None:
        return auto_rtol, auto_atol, why
    return (auto_rtol if rtol is None else rtol), (auto_atol if atol is None else atol), f"given, else {why}"


def make_checker(
    original_graph_def: Any,
    inputs: Sequence[str] | str | None = None,
    outputs: Sequence[str] | str | None = None,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    input_shapes: Mapping[str, Sequence[int]] | str | None = None,
    feeds: Mapping[str, Any] | None = None,
    seed: int = 0,
    scale: str | None = None,
) -> Callable[[Any], VerifyReport]:
    """Run *original_graph_def* once on random (or given) inputs; return a function that checks
    a candidate GraphDef against the stored outputs and returns a :class:`VerifyReport`."""
    from graphrewrite.inputs import random_feeds
    from graphrewrite.runner import GraphRunner

    graph = Graph.from_graphdef(original_graph_def)
    inputs = _names(inputs) or default_inputs(graph)
    outputs = _names(outputs) or default_outputs(graph)
    if not outputs:
        raise GraphError("the original graph has no outputs to compare; name them with --outputs")
    _check_names(graph, inputs, "input", "the original graph")
    _check_names(graph, outputs, "output", "the original graph")
    with GraphRunner(original_graph_def) as runner:
        values = _given_feeds(runner, inputs, feeds) if feeds is not None else random_feeds(runner, inputs, input_shapes, seed)
        reference = runner.run(values, outputs)

    def check(candidate_graph_def: Any) -> VerifyReport:
        candidate = candidate_graph_def if isinstance(candidate_graph_def, Graph) else Graph.from_graphdef(candidate_graph_def)
        _check_names(candidate, outputs, "output", "the transformed graph")
        # Only inputs that are still Placeholders: a frozen input's Const must not be overridden.
        present = {k: v for k, v in values.items() if _is_placeholder(candidate, k)}
        with GraphRunner(candidate.to_graphdef()) as runner:
            actual = runner.run(present, outputs)
        use_rtol, use_atol, why = _tolerance(candidate, rtol, atol)
        # Lossy graphs (quantized, float16) are judged against each output's magnitude.
        use_scale = scale or ("element" if why.endswith("float32 default") or why == "given" else "output")
        checks = tuple(
            compare(name, want, have, rtol=use_rtol, atol=use_atol, scale=use_scale)
            for name, want, have in zip(outputs, reference, actual, strict=True)
        )
        return VerifyReport(checks, use_rtol, use_atol, why, use_scale)

    return check


def verify(
    original_graph_def: Any,
    transformed_graph_def: Any,
    inputs: Sequence[str] | str | None = None,
    outputs: Sequence[str] | str | None = None,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    input_shapes: Mapping[str, Sequence[int]] | str | None = None,
    feeds: Mapping[str, Any] | None = None,
    seed: int = 0,
    scale: str | None = None,
) -> VerifyReport:
    """Run both graphs on the same inputs and compare each output (see the module docstring).

    *inputs* default to the original's Placeholders, *outputs* to its sink nodes; tolerances
    default by the transformed graph's types (:data:`TOLERANCES`).
    """
    checker = make_checker(
        original_graph_def, inputs, outputs, rtol=rtol, atol=atol, input_shapes=input_shapes, feeds=feeds, seed=seed,
        scale=scale,
    )
    return checker(transformed_graph_def)
