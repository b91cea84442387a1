"""Property tests for every standard transform, driven by the registry.

Pattern rules and groups are checked on graphs built from their own patterns (so they fire);
passes on random palette graphs shaped for what each pass rewrites (dead branches for
strip_unused_nodes, shuffled node order for sort_by_execution_order, duplicated nodes for
merge_duplicate_nodes, ...), with transform-specific arguments. Every check runs both graphs in
TensorFlow and compares outputs (within the documented tolerance for lossy transforms), lints
the result, and checks what else the transform promises.

A pass listed with ``fires=False`` cannot be triggered by generated graphs (it needs ops the
generators do not build: Switch/Merge, functions, TensorArrays, training ops); its property is
that it leaves every other graph computing the same outputs. ``PROPERTIES`` is also what the
registry meta-test (tests/unit/test_registry_meta.py) reads to see that each pass is covered.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import assume
from hypothesis import strategies as st

from graphrewrite.engine.graph import CONTROL, Graph, TensorRef
from graphrewrite.testing import PALETTE, GraphCase, check_rule, graphs


def _tolerance(*names: Any) -> tuple[float, float]:
    from graphrewrite.stdlib_rules.tolerances import tolerance_for

    return tolerance_for(names)


# -- case transformers: palette graphs shaped for one pass ---------------------------------------


def _evolve(case: GraphCase, graph: Graph, **changes: Any) -> GraphCase:
    return attrs.evolve(case, graph_def=graph.to_graphdef(), **changes)


def _ops_nodes(graph: Graph) -> list[str]:
    return [n.name for n in graph if n.op not in ("Placeholder", "Const")]


@st.composite
def dead_branches(draw: Any) -> GraphCase:
    """Graphs with two or more sinks of which only the first is an output."""
    case = draw(graphs(max_outputs=3))
    return attrs.evolve(case, outputs=case.outputs[:1])


@st.composite
def shuffled(draw: Any) -> GraphCase:
    """Graphs whose nodes are listed in a random (not topological) order."""
    case = draw(graphs(control_edges=True))
    nodes = list(case.graph())
    order = draw(st.permutations(range(len(nodes))))
    return _evolve(case, Graph.from_nodes(nodes[i] for i in order))


@st.composite
def with_duplicates(draw: Any) -> GraphCase:
    """Graphs where an op node has an exact copy, both feeding one more output."""
    case = draw(graphs())
    graph = case.graph()
    name = draw(st.sampled_from(_ops_nodes(graph)))
    node = graph.node(name)
    copy = node.evolve(name=f"{name}_copy")
    both = node.evolve(name="both", op="AddN", inputs=(TensorRef(name, 0), TensorRef(copy.name, 0)), attr={})
    both = both.with_attrs(N=2, T=node.get("T") or graph.node(node.inputs[0].node).get("dtype"))
    return _evolve(case, graph.replace([copy, both]), outputs=(*case.outputs, "both"))


@st.composite
def marked(draw: Any, key: str = "_marker") -> GraphCase:
    """Graphs where some nodes carry a private attribute *key* (TensorFlow ignores it)."""
    case = draw(graphs(ops=("Identity", "Relu", "AddV2", "Mul", "MatMul", "Conv2D")))
    graph = case.graph()
    chosen = draw(st.lists(st.sampled_from(list(graph.names)), min_size=1, unique=True))
    return _evolve(case, graph.replace([graph.node(n).with_attrs(**{key: "v"}) for n in chosen]))


@st.composite
def without_defaults(draw: Any) -> GraphCase:
    """Graphs of ops with default attributes, written without them (as old exporters did)."""
    from graphrewrite.stdlib_rules.opinfo import attr_defaults

    case = draw(graphs(ops=("MatMul", "Conv2D", "BiasAdd", "ConcatV2", "Relu")))
    graph = case.graph()
    stripped = [n.without_attrs(*(attr_defaults(n.op) or {})) for n in graph if attr_defaults(n.op)]
    return _evolve(case, graph.replace(stripped))


@st.composite
def on_devices(draw: Any) -> GraphCase:
    case = draw(graphs())
    graph = case.graph()
    chosen = draw(st.lists(st.sampled_from(list(graph.names)), min_size=1, unique=True))
    return _evolve(case, graph.replace([graph.node(n).evolve(device="/device:CPU:0") for n in chosen]))


@st.composite
def with_target(draw: Any) -> GraphCase:
    """Graphs with an interior node named ``target`` (for rename_node)."""
    case = draw(graphs(max_nodes=6))
    graph = case.graph()
    interior = [n for n in _ops_nodes(graph) if n not in case.outputs]
    if not interior:  # put an Identity in front of the first output
        output = graph.node(case.outputs[0])
        middle = output.evolve(name="target", op="Identity", inputs=output.data_inputs[:1], attr={}).with_attrs(T=output.get("T"))
        rewired = output.with_inputs([TensorRef("target", 0), *output.inputs[1:]])
        return _evolve(case, graph.replace([middle, rewired]))
    old = draw(st.sampled_from(interior))
    nodes = []
    for node in graph:
        inputs = [TensorRef("target", r.port) if r.node == old else r for r in node.inputs]
        node = node.with_inputs(inputs) if inputs != list(node.inputs) else node
        nodes.append(node.evolve(name="target") if node.name == old else node)
    return _evolve(case, Graph.from_nodes(nodes))


@st.composite
def input_fed_with(draw: Any, value: float) -> GraphCase:
    """Graphs whose first input is fed *value* everywhere (what freeze_placeholder bakes in)."""
    case = draw(graphs(dtypes=("float32",)).filter(lambda c: "input" in c.feeds))
    feeds = dict(case.feeds)
    feeds["input"] = feeds["input"] * 0 + value
    return attrs.evolve(case, feeds=feeds)


RANGE_LOG = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False).name  # noqa: SIM115


@st.composite
def requantized(draw: Any) -> GraphCase:
    """Graphs run through quantize_nodes, with a calibration log (at RANGE_LOG) giving every
    RequantizationRange node a wide range, so freeze_requantization_ranges clips nothing."""
    from graphrewrite.engine.driver import Context
    from graphrewrite.stdlib_rules import standard_rules

    case = draw(graphs(ops=("MatMul", "Relu", "BiasAdd"), max_nodes=2).filter(lambda c: bool(c.inputs)))
    quantize = standard_rules().lookup("quantize_nodes")
    graph, _ = quantize.apply(case.graph(), Context(case.inputs, case.outputs))
    ranges = [n.name for n in graph if n.op == "RequantizationRange"]
    assume(ranges)  # an empty log is an error; graphs of Relu alone need no requantization
    with open(RANGE_LOG, "w") as log:
        log.writelines(f"{name}__print__;__requant_min_max:[-10][10]\n" for name in ranges)
    return _evolve(case, graph)


def big_weights() -> Any:
    """Graphs holding a convolution or MatMul whose weights have at least 16 elements (what
    round_weights touches), built from a pattern so that they always do."""
    from graphrewrite.engine.pattern import Tensor, const, op
    from graphrewrite.engine.rewrite import Rewrite
    from graphrewrite.rules.rule import Rule
    from graphrewrite.testing import graphs_from_pattern

    def large(match: Any, graph: Any, ctx: Any) -> str | None:
        return None if match.node("w").value().size >= 16 else "fewer than 16 weights"

    pattern = op("Conv2D|MatMul|DepthwiseConv2dNative", Tensor("x"), const("w"))
    probe = Rule("big_weights", "weights with 16+ elements", pattern, lambda m, g, c: Rewrite("big_weights", m.root), large)
    return graphs_from_pattern(probe).filter(lambda case: bool(case.fires))


# -- extra properties ---------------------------------------------------------------------------


def no_op(*ops: str) -> Callable[[GraphCase, Graph], str | None]:
    def check(case: GraphCase, result: Graph) -> str | None:
        left = [n.name for n in result if n.op in ops and n.name not in case.outputs]
        return f"{', '.join(ops)} left at {left}" if left else None

    return check


def frozen_input(case: GraphCase, result: Graph) -> str | None:
    return None if result.node("input").op == "Const" else "'input' is not a Const"


def topologically_sorted(case: GraphCase, result: Graph) -> str | None:
    seen: set[str] = set()
    for node in result:
        late = [r.node for r in node.inputs if r.node not in seen]
        if late:
            return f"node '{node.name}' comes before its input '{late[0]}'"
        seen.add(node.name)
    return None


def only_needed_nodes(case: GraphCase, result: Graph) -> str | None:
    needed, stack = set(), list(case.outputs)
    while stack:
        name = stack.pop()
        if name in needed or name not in result:
            continue
        needed.add(name)
        stack += [r.node for r in result.node(name).inputs]
    extra = sorted(set(result.names) - needed - set(case.inputs))
    return f"nodes the outputs do not need are left: {extra}" if extra else None


def no_control_inputs(case: GraphCase, result: Graph) -> str | None:
    left = [n.name for n in result if any(r.port == CONTROL for r in n.inputs)]
    return f"control inputs left on {left}" if left else None


def attribute(key: str, *, present: bool, key_after: str | None = None) -> Callable[[GraphCase, Graph], str | None]:
    def check(case: GraphCase, result: Graph) -> str | None:
        had = [n.name for n in case.graph() if key in n.attr]
        if not present and any(key in n.attr for n in result):
            return f"attribute {key} is still on {[n.name for n in result if key in n.attr]}"
        if key_after and any(key_after not in result.node(n).attr for n in had if n in result):
            return f"nodes that had {key} lack {key_after}"
        return None

    return check


def devices(want: str) -> Callable[[GraphCase, Graph], str | None]:
    def check(case: GraphCase, result: Graph) -> str | None:
        wrong = [n.name for n in result if n.device != want]
        return f"device is not {want!r} on {wrong}" if wrong else None

    return check


def renamed(case: GraphCase, result: Graph) -> str | None:
    if "target" in case.graph() and ("target" in result or "renamed" not in result):
        return "'target' was not renamed to 'renamed'"
    return None


def all_defaults_present(case: GraphCase, result: Graph) -> str | None:
    from graphrewrite import _tf

    for node in result:
        op_def = _tf.op_def(node.op)
        missing = [a.name for a in (op_def.attr if op_def else ()) if a.HasField("default_value") and a.name not in node.attr]
        if missing:
            return f"node '{node.name}' lacks default attributes {missing}"
    return None


def no_training_batch_norm(case: GraphCase, result: Graph) -> str | None:
    left = [n.name for n in result if n.op.startswith("FusedBatchNorm") and n.get("is_training")]
    return f"batch norms still in training mode: {left}" if left else None


# -- the table ----------------------------------------------------------------------------------


@attrs.frozen
class Prop:
    """How to property-test one transform (defaults suit pattern rules)."""

    cases: Callable[[], Any] | None = None  # a function giving the GraphCase strategy
    args: Any = attrs.field(factory=dict)  # fixed arguments, or a function giving a strategy
    tolerance: tuple[float, float] = (1e-4, 1e-4)
    numeric: bool = True
    fires: bool = True
    extra: Callable[[GraphCase, Graph], str | None] | None = None
    examples: int | None = None
    xfail: str | None = None


IDENTITY_LIKE = ("Identity", "CheckNumerics", "StopGradient", "Snapshot")
LINEAR = ("MatMul", "Conv2D", "BiasAdd", "AddV2", "Relu", "Identity")


# round_weights' documented atol (1e-2, from MobileNetV2 logits) is exceeded on small random
# graphs: a 3x3x4 convolution sums 36 products of values near 1, each weight off by up to half
# a bucket ((max - min) / 512), so outputs near zero move by ~1e-2 in absolute terms.
ROUNDING = (5e-2, 5e-2)

PROPERTIES: Mapping[str, Prop] = {
    # structural passes
    "strip_unused_nodes": Prop(dead_branches, extra=only_needed_nodes),
    "remove_nodes": Prop(lambda: graphs(ops=(*PALETTE, *IDENTITY_LIKE), control_edges=True), {"op": list(IDENTITY_LIKE)}),
    "merge_duplicate_nodes": Prop(with_duplicates),
    "sort_by_execution_order": Prop(shuffled, extra=topologically_sorted),
    "rename_op": Prop(lambda: graphs(ops=("Add", "Mul", "Relu")), {"old_op_name": "Add", "new_op_name": "AddV2"}, extra=no_op("Add")),
    "rename_attribute": Prop(marked, {"old_attribute_name": "_marker", "new_attribute_name": "_renamed"},
                             extra=attribute("_marker", present=False, key_after="_renamed")),
    "remove_attribute": Prop(marked, {"attribute_name": "_marker"}, extra=attribute("_marker", present=False)),
    "remove_device": Prop(on_devices, extra=devices("")),
    "set_device": Prop(graphs, {"device": "/device:CPU:0"}, extra=devices("/device:CPU:0")),
    "remove_control_dependencies": Prop(lambda: graphs(control_edges=True), extra=no_control_inputs),
    "add_default_attributes": Prop(without_defaults, extra=all_defaults_present),
    "rename_node": Prop(with_target, {"old_node_name": "target", "new_node_name": "renamed"}, extra=renamed),
    "obfuscate_names": Prop(graphs),
    "backport_concatv2": Prop(lambda: graphs(ops=("ConcatV2", "Relu", "AddV2")), extra=no_op("ConcatV2")),
    "backport_tensor_array_v3": Prop(graphs, fires=False),
    "fold_constants": Prop(lambda: graphs(max_inputs=1, control_edges=True)),
    # inference-mode passes
    "strip_training_nodes": Prop(graphs, fires=False),
    "freeze_placeholder": Prop(lambda: input_fed_with(0.5), {"name": "input", "value": "0.5"}, extra=frozen_input),
    "fold_constant_switch": Prop(graphs, fires=False),
    "inline_partitionedcall": Prop(graphs, fires=False),
    "set_inference_mode": Prop(numeric=False, extra=no_training_batch_norm),
    # lossy compression: the documented tolerances, on shallow linear graphs
    "quantize_weights": Prop(lambda: graphs(ops=LINEAR, max_nodes=3), {"minimum_size": 1}, _tolerance("quantize_weights")),
    "round_weights": Prop(big_weights, {}, ROUNDING),
    "cast_weights": Prop(None, {"minimum_size": 1}, _tolerance("cast_weights")),
    "quantize_nodes": Prop(lambda: graphs(ops=("MatMul", "Conv2D", "Relu", "BiasAdd"), max_nodes=2), {}, _tolerance("quantize_nodes"),
                           examples=10),
    "freeze_requantization_ranges": Prop(requantized, {"min_max_log_file": RANGE_LOG}, _tolerance("freeze_requantization_ranges"),
                                         extra=no_op("RequantizationRange")),
    # logging and lookups
    "insert_logging": Prop(lambda: graphs(ops=("Relu", "AddV2", "MatMul", "Neg", "Tanh")), {"op": ["Relu", "AddV2", "MatMul"]}),
    "sparsify_gather": Prop(graphs, fires=False),
}  # fmt: skip


def _registry() -> tuple[list[Any], str | None]:
    try:
        from graphrewrite.stdlib_rules import standard_rules

        return list(standard_rules()), None
    except Exception as exc:  # keep the other tests collectable while the registry is broken
        return [], f"{type(exc).__name__}: {exc}"


TRANSFORMS, REGISTRY_ERROR = _registry()


def test_registry_loads() -> None:
    assert REGISTRY_ERROR is None, f"standard_rules() failed: {REGISTRY_ERROR}"
    assert TRANSFORMS


def _params() -> list[Any]:
    """One case per transform; a group gets one per member rule (the whole group runs on graphs
    built from that member's pattern, so every member must fire)."""
    out = []
    for transform in TRANSFORMS:
        prop = PROPERTIES.get(transform.name, Prop())
        marks = [pytest.mark.xfail(reason=prop.xfail, strict=True)] if prop.xfail else []
        members = getattr(transform, "rules", None) if prop.cases is None else None
        for member in members or (None,):
            name = transform.name if member is None else f"{transform.name}/{member.name}"
            out.append(pytest.param(transform, prop, member, id=name, marks=marks))
    return out


@pytest.mark.parametrize(("transform", "prop", "member"), _params())
def test_transform_property(transform: Any, prop: Prop, member: Any) -> None:
    from graphrewrite.testing import graphs_from_pattern

    is_pass = not hasattr(transform, "pattern") and not hasattr(transform, "rules")
    cases = prop.cases() if prop.cases is not None else (graphs() if is_pass else None)
    if member is not None:
        cases = graphs_from_pattern(member, args=prop.args if isinstance(prop.args, Mapping) else None)
    args = prop.args() if callable(prop.args) else prop.args
    rtol, atol = prop.tolerance
    found = check_rule(
        transform, examples=prop.examples, rtol=rtol, atol=atol, cases=cases, args=args,
        require_fire=prop.fires, numeric=prop.numeric, extra=prop.extra,
    )  # fmt: skip
    assert found.ok, found.report()
