"""Building one generated graph: nodes in creation (topological) order, leaves, feeds.

:class:`Builder` is the mutable workspace behind one hypothesis draw; what leaves it is a
frozen :class:`GraphCase`. Consumers ask for a tensor by :class:`Demand`; the builder answers
with a Placeholder, a Const, a tensor it made before (so graphs are DAGs, not only trees), or a
new op from a palette, expanded recursively while the node budget lasts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from hypothesis import strategies as st

from graphrewrite.engine.attrvalues import dtype_of_numpy, numpy_to_tensor, shape_to_proto
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.testing.catalogue import (
    ANY,
    NONZERO,
    POSITIVE,
    CannotBuild,
    Demand,
    Draw,
    Plan,
    Request,
    Spec,
    entry,
    keeps,
)

# Attributes holding a dtype; makers spell them as numpy names, nodes store DType values.
DTYPE_KEYS = frozenset(
    {"T", "U", "Tidx", "Tshape", "Tperm", "Tpaddings", "Tblock_shape", "Tcrops", "dtype",
     "Tindices", "Tparams", "DstT", "SrcT", "out_type", "Tmultiples"}
)  # fmt: skip
FLAVOURS = ("random", "random", "integers", "ones", "zeros")  # random twice: the most telling


@attrs.frozen
class GraphCase:
    """A generated graph with its inputs, outputs and the feeds to run it with.

    ``root`` is the node a pattern was built at, ``fires`` whether the rule matched there and
    accepted the match (None for palette graphs), ``rule`` the rule the pattern came from.
    ``fed`` names the Consts and interior nodes among the inputs (fed like Placeholders).
    """

    graph_def: Any = attrs.field(eq=False, repr=False)
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    feeds: Mapping[str, np.ndarray] = attrs.field(eq=False, repr=False)
    root: str | None = None
    fires: bool | None = None
    rule: str | None = None
    fed: tuple[str, ...] = ()
    args: Mapping[str, Any] = attrs.field(factory=dict, eq=False)  # transform arguments the case was built for

    def graph(self) -> Graph:
        return Graph.from_graphdef(self.graph_def)

    def describe(self) -> str:
        """The graph one node a line, and the input values: a readable counterexample."""
        lines = [f"inputs={list(self.inputs)} outputs={list(self.outputs)}"]
        if self.rule is not None:
            lines.append(f"rule={self.rule} root={self.root} fires={self.fires}")
        lines += ["  " + line for line in listing(self.graph_def).splitlines()]
        lines.append("feeds:")
        lines += ["  " + line for line in show_feeds(self.feeds).splitlines()]
        return "\n".join(lines)

    def graph_def_text(self) -> str:
        """The GraphDef in protobuf text format (what ``graphrewrite convert`` writes)."""
        from google.protobuf import text_format

        return str(text_format.MessageToString(self.graph_def))

    def __repr__(self) -> str:
        return f"GraphCase(\n{self.describe()}\n)"


def _show_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, threshold=32, separator=", ")
        return f"{value.dtype}{list(value.shape)} " + " ".join(text.split())
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):  # a shape
        return "[" + ",".join("?" if d is None else str(d) for d in value) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(_show_value(v) for v in value) + "]"
    return str(value)


def listing(graph_def: Any) -> str:
    """One line per node: ``name = Op(inputs) attr=value ...`` (Const values shown)."""
    lines = []
    for node in Graph.from_graphdef(graph_def):
        args = ", ".join(str(ref) for ref in node.inputs)
        shown = " ".join(f"{key}={_show_value(node.get(key))}" for key in sorted(node.attr))
        lines.append(f"{node.name} = {node.op}({args}) {shown}".rstrip())
    return "\n".join(lines)


def show_feeds(feeds: Mapping[str, Any]) -> str:
    return "\n".join(f"{name} = {_show_value(np.asarray(value))}" for name, value in feeds.items())


def random_values(rng: np.random.Generator, spec: Spec, domain: str = ANY, flavour: str = "random") -> np.ndarray:
    """Values for *spec* inside *domain*: floats near 1 in size, small ints, random bools."""
    shape = spec.shape
    if spec.dtype == "bool":
        return rng.random(shape) < 0.5
    if flavour == "ones":
        return np.ones(shape, spec.dtype)
    if flavour == "zeros" and domain == ANY:
        return np.zeros(shape, spec.dtype)
    integral = flavour == "integers" or not np.issubdtype(np.dtype(spec.dtype), np.floating)
    magnitude = rng.integers(1, 4, size=shape) if integral else rng.uniform(0.5, 1.5, size=shape)
    if domain == POSITIVE:
        return np.asarray(magnitude, dtype=spec.dtype)
    sign = np.where(rng.random(shape) < 0.5, -1, 1)
    if domain == NONZERO:
        return np.asarray(sign * magnitude, dtype=spec.dtype)
    if integral:
        return np.asarray(rng.integers(-3, 4, size=shape), dtype=spec.dtype)
    return np.asarray(rng.uniform(-1.5, 1.5, size=shape), dtype=spec.dtype)


class Builder:
    """The workspace of one generated graph (mutable; used inside a single draw)."""

    def __init__(self, draw: Draw, *, seed: int, max_inputs: int = 2, reuse: bool = True):
        self.draw = draw
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Node] = []
        self.specs: dict[str, Spec] = {}
        self.placeholders: dict[str, tuple[Spec, str]] = {}
        self.max_inputs = max_inputs
        self.reuse = reuse
        self._pool: dict[tuple[Spec, str], list[str]] = {}
        self._counts: dict[str, int] = {}

    # -- nodes ---------------------------------------------------------------------------

    def fresh_name(self, base: str) -> str:
        count = self._counts.get(base, 0)
        self._counts[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def add(self, op: str, inputs: Sequence[str], values: Mapping[str, Any], spec: Spec, *, name: str | None = None) -> str:
        """Append a node; dtype attributes may be given as numpy names."""
        encoded = {k: dtype_of_numpy(v) if k in DTYPE_KEYS and isinstance(v, str) else v for k, v in values.items()}
        name = name or self.fresh_name(op.lower())
        self.nodes.append(Node.make(name, op, inputs, encoded))
        self.specs[name] = spec
        return name

    def placeholder(self, spec: Spec, domain: str = ANY) -> str:
        name = self.fresh_name("input")
        self.add("Placeholder", [], {"dtype": spec.dtype, "shape": shape_to_proto(spec.shape)}, spec, name=name)
        self.placeholders[name] = (spec, domain)
        self._remember(name, spec, domain)
        return name

    def const(self, spec: Spec, domain: str = ANY, value: Any = None, flavour: str = "random") -> str:
        if value is None:
            value = random_values(self.rng, spec, domain, flavour)
        array = np.asarray(value, dtype=spec.dtype)
        stored: Any = array
        # Every other zeros constant is stored as TensorFlow's compact form (a shape, no data),
        # which grappler's constant folding writes; chosen without a draw, so the examples
        # hypothesis generates stay the same.
        if flavour == "zeros" and array.size and not array.any() and len(self.nodes) % 2 == 0:
            stored = numpy_to_tensor(array)
            stored.ClearField("tensor_content")
            for field, _ in stored.ListFields():
                if field.name.endswith("_val"):
                    stored.ClearField(field.name)
        name = self.add("Const", [], {"dtype": spec.dtype, "value": stored}, spec, name=self.fresh_name("const"))
        return name

    def make_op(self, op: str, plan: Plan, inputs: Sequence[str], spec: Spec, domain: str = ANY) -> str:
        name = self.add(op, inputs, plan.attrs, spec)
        self._remember(name, spec, domain)
        return name

    def _remember(self, name: str, spec: Spec, domain: str) -> None:
        self._pool.setdefault((spec, domain), []).append(name)

    # -- tensors on demand ---------------------------------------------------------------

    def leaf(self, demand: Demand, *, const: bool | None = None) -> str:
        """A Placeholder or a Const (by *const*, else drawn) satisfying *demand*."""
        if demand.value is not None:
            return self.const(demand.spec, value=demand.value)
        if const is None:
            const = demand.const or len(self.placeholders) >= self.max_inputs or self.draw(st.booleans())
        if const:
            return self.const(demand.spec, demand.domain)
        return self.placeholder(demand.spec, demand.domain)

    def reusable(self, demand: Demand) -> str | None:
        """Maybe an existing tensor with exactly the demanded spec (making the graph a DAG)."""
        if not self.reuse or demand.value is not None or demand.const:
            return None
        found = self._pool.get((demand.spec, demand.domain), [])
        if not found or not self.draw(st.booleans()):
            return None
        return str(self.draw(st.sampled_from(found)))

    def tensor(self, demand: Demand, palette: Sequence[str], budget: list[int]) -> str:
        """A tensor for *demand*: reused, a new op from *palette* while budget[0] > 0, or a leaf."""
        if demand.value is not None:
            return self.const(demand.spec, value=demand.value)
        again = self.reusable(demand)
        if again is not None:
            return again
        if budget[0] > 0 and not demand.const and self.draw(st.booleans()):
            choices = [op for op in palette if entry(op).accepts(demand.spec) and keeps(op, demand.domain)]
            if choices:
                op = self.draw(st.sampled_from(choices))
                try:
                    return self.random_op(op, demand, palette, budget)
                except CannotBuild:
                    pass
        return self.leaf(demand)

    def random_op(self, op: str, demand: Demand, palette: Sequence[str], budget: list[int]) -> str:
        """A new *op* node producing *demand*, its inputs expanded from *palette*."""
        plan = entry(op).make(self.draw, Request(op, demand.spec, domain=demand.domain))
        budget[0] -= 1
        inputs = [self.tensor(d, palette, budget) for d in plan.inputs]
        return self.make_op(op, plan, inputs, demand.spec, demand.domain)

    # -- finishing -----------------------------------------------------------------------

    def add_control_edges(self, count: int) -> None:
        """Add up to *count* control edges from earlier to later nodes (never a cycle)."""
        for _ in range(count):
            if len(self.nodes) < 2:
                return
            later = self.draw(st.integers(1, len(self.nodes) - 1))
            earlier = self.draw(st.integers(0, later - 1))
            node, source = self.nodes[later], self.nodes[earlier].name
            if any(ref.node == source for ref in node.inputs):
                continue
            self.nodes[later] = node.with_inputs((*node.inputs, TensorRef(source, CONTROL)))

    def sinks(self) -> list[str]:
        used = {ref.node for node in self.nodes for ref in node.inputs}
        return [n.name for n in self.nodes if n.name not in used and n.op not in ("Placeholder", "Const")]

    def feeds(self) -> dict[str, np.ndarray]:
        return {name: random_values(self.rng, spec, domain) for name, (spec, domain) in self.placeholders.items()}

    def finish(self, outputs: Iterable[str], **extra: Any) -> GraphCase:
        graph_def = Graph.from_nodes(self.nodes).to_graphdef()
        return GraphCase(graph_def, tuple(self.placeholders), tuple(outputs), self.feeds(), **extra)
