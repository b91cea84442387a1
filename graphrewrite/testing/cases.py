"""Named graph generators for the property tests of passes: graphs shaped for what each rewrites.

A pattern rule is tested on graphs built from its own pattern; a Pass needs graphs that contain
what it rewrites (dead branches for ``strip_unused_nodes``, shuffled node order for
``sort_by_execution_order``, duplicated nodes for ``merge_duplicate_nodes``, ...). A transform
names its generator in its facts (``Checked(cases="dead_branches")``); :func:`named` finds it.
Each is a function of no arguments returning a hypothesis strategy of :class:`GraphCase`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from graphrewrite.engine.graph import Graph, TensorRef
from graphrewrite.testing.build import GraphCase
from graphrewrite.testing.strategies import PALETTE, graphs

IDENTITY_LIKE = ("Identity", "CheckNumerics", "StopGradient", "Snapshot")
LINEAR = ("MatMul", "Conv2D", "BiasAdd", "AddV2", "Relu", "Identity")


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
    """Graphs of ops with default attributes, written without those that hold their default
    value (as exporters that drop defaults do); an attribute set to anything else stays."""
    from graphrewrite.engine.opdefs import attr_defaults

    case = draw(graphs(ops=("MatMul", "Conv2D", "BiasAdd", "ConcatV2", "Relu")))
    graph = case.graph()
    stripped = []
    for node in graph:
        defaults = attr_defaults(node.op) or {}
        at_default = [k for k, v in defaults.items() if k in node.attr and node.attr[k] == v]
        if at_default:
            stripped.append(node.without_attrs(*at_default))
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
    return _evolve(case, graph, args={"min_max_log_file": RANGE_LOG})


def identity_like() -> Any:
    """Palette graphs with Identity-like ops and control edges (remove_nodes)."""
    return graphs(ops=(*PALETTE, *IDENTITY_LIKE), control_edges=True)


def add_mul_relu() -> Any:
    return graphs(ops=("Add", "Mul", "Relu"))


def with_control_edges() -> Any:
    return graphs(control_edges=True)


def concatenations() -> Any:
    return graphs(ops=("ConcatV2", "Relu", "AddV2"))


def one_input_with_control_edges() -> Any:
    return graphs(max_inputs=1, control_edges=True)


def input_fed_half() -> Any:
    """Graphs whose input is fed 0.5 everywhere (freeze_placeholder(name=input, value=0.5))."""
    return input_fed_with(0.5)


def shallow_linear() -> Any:
    return graphs(ops=LINEAR, max_nodes=3)


def small_quantizable() -> Any:
    return graphs(ops=("MatMul", "Conv2D", "Relu", "BiasAdd"), max_nodes=2)


def chains() -> Any:
    """Graphs of chains of elementwise ops, so logged ops have consumers (insert_logging)."""
    return graphs(ops=("Relu", "AddV2", "MatMul", "Neg", "Tanh"))


def named(name: str) -> Callable[[], Any]:
    """The generator called *name*, here or in :mod:`graphrewrite.testing.call_cases`; KeyError
    naming the known ones."""
    from graphrewrite.testing import call_cases

    found = globals().get(name) or getattr(call_cases, name, None)
    if not callable(found) or name.startswith("_") or name == "named":
        here = [*globals().items(), *vars(call_cases).items()]
        known = sorted({n for n, v in here if callable(v) and not n.startswith("_") and n[0].islower() and n != "named"})
        raise KeyError(f"no case generator '{name}' in graphrewrite.testing.cases (known: {', '.join(known)})")
    return found  # type: ignore[no-any-return]


# -- graphs for the passes that need ops the palette does not build --------------------------


@st.composite
def with_summaries(draw: Any) -> GraphCase:
    """Palette graphs where some interior tensors are also logged by a ScalarSummary (training
    leftovers strip_training_nodes removes; nothing the outputs need reads them)."""
    from graphrewrite.engine.attrvalues import DType
    from graphrewrite.engine.graph import Node

    case = draw(graphs(max_inputs=1))
    graph = case.graph()
    interior = [n.name for n in graph if n.op not in ("Placeholder", "Const") and n.name not in case.outputs]
    chosen = draw(st.lists(st.sampled_from(interior or list(case.outputs)), min_size=1, max_size=2, unique=True))
    added = []
    for index, name in enumerate(chosen):
        tag = Node.make(f"summary_{index}/tag", "Const", (), {"dtype": DType.named("string"), "value": np.array(b"t")})
        scalar = Node.make(f"summary_{index}/value", "Sum", (name, f"summary_{index}/axes"), {"T": DType.named("float32"), "Tidx": DType.named("int32")})
        axes = Node.make(f"summary_{index}/axes", "Const", (), {"dtype": DType.named("int32"), "value": np.array([], np.int32)})
        summary = Node.make(f"summary_{index}", "ScalarSummary", (tag.name, scalar.name), {"T": DType.named("float32")})
        added += [tag, axes, scalar, summary]
    return _evolve(case, graph.replace(added))


@st.composite
def with_constant_switches(draw: Any) -> GraphCase:
    """Palette graphs where one tensor goes through Switch(x, Const pred) -> Identity -> Merge
    before its readers (a TF1 cond whose predicate was frozen)."""
    from graphrewrite.engine.attrvalues import DType
    from graphrewrite.engine.graph import Node

    case = draw(graphs(max_inputs=1, dtypes=("float32",)))
    graph = case.graph()
    interior = [n.name for n in graph if n.op not in ("Placeholder", "Const") and graph.consumers(n.name)]
    if not interior:
        return case
    name = draw(st.sampled_from(interior))
    taken = draw(st.booleans())
    f32 = DType.named("float32")
    pred = Node.make("cond/pred", "Const", (), {"dtype": DType.named("bool"), "value": np.array(taken)})
    switch = Node.make("cond/switch", "Switch", (name, pred.name), {"T": f32})
    branch_true = Node.make("cond/true", "Relu", ("cond/switch:1",), {"T": f32})
    branch_false = Node.make("cond/false", "Neg", ("cond/switch",), {"T": f32})
    merge = Node.make("cond/merge", "Merge", (branch_true.name, branch_false.name), {"T": f32, "N": 2})
    readers = [graph.node(u) for u in graph.consumers(name)]
    rewired = [u.with_inputs([TensorRef(merge.name, 0) if r == TensorRef(name, 0) else r for r in u.inputs]) for u in readers]
    return _evolve(case, graph.replace([pred, switch, branch_true, branch_false, merge, *rewired]))


def tensor_arrays() -> Any:
    """TF1 graphs that write a computed tensor into a TensorArrayV3 and read it back."""
    return st.builds(_tensor_array_case, st.integers(1, 3), st.sampled_from(("Relu", "Tanh", "Neg")))


def _tensor_array_case(size: int, op: str) -> GraphCase:
    from graphrewrite import _tf

    tf = _tf.tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    v1.disable_control_flow_v2()  # TensorArrayV3 and its flow tensors, as TF1 wrote them
    try:
        with graph.as_default():
            x = v1.placeholder(tf.float32, [size, 3], name="input")
            function = {"Relu": tf.nn.relu, "Tanh": tf.tanh, "Neg": tf.negative}[op]
            array = tf.TensorArray(tf.float32, size=size).unstack(function(x))
            tf.identity(array.stack() * 2.0, name="output")
    finally:
        v1.enable_control_flow_v2()
    feeds = {"input": np.random.default_rng(size).normal(size=(size, 3)).astype(np.float32)}
    graph_def = graph.as_graph_def()
    # As an old TensorFlow wrote it (GraphDef version 25): TensorFlow still runs such a graph
    # with the V2 ops the backport writes (they were removed from version 26 on).
    graph_def.versions.producer = 25
    return GraphCase(graph_def, ("input",), ("output",), feeds)
