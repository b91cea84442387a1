"""The op catalogue: how to build each op so that its output has a shape chosen beforehand.

Graphs are generated top-down. A consumer decides the :class:`Spec` (dtype and static shape)
it wants from an input; the catalogue entry of the producing op then chooses attributes and the
specs of *its* inputs (:class:`Demand`) so that TensorFlow computes exactly that shape. This
keeps every generated graph valid without running shape inference, and works the same whether
the structure comes from a random palette (``strategies.graphs``) or from a rule's pattern
(``from_pattern.graphs_from_pattern``).

Makers take hypothesis's ``draw`` so every choice shrinks: dims toward 1, kernels toward 1x1,
options toward the first listed. :func:`register_op` adds entries for ops not covered here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
from hypothesis import strategies as st

ALL_RANKS = frozenset(range(5))
FLOATS = frozenset({"float32", "float64", "float16"})
NUMBERS = FLOATS | {"int32", "int64"}

# Domains of values a tensor must stay in so the op computes finite numbers.
ANY, POSITIVE, NONZERO = "any", "positive", "nonzero"

Draw = Callable[[st.SearchStrategy[Any]], Any]


class CannotBuild(Exception):
    """This choice cannot produce the requested output; the generator tries another."""


@attrs.frozen
class Spec:
    """A tensor's dtype (numpy name, ``"float32"``) and static shape."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape: tuple[int, ...] | list[int]) -> Spec:
        return Spec(self.dtype, tuple(int(d) for d in shape))

    def with_dtype(self, dtype: str) -> Spec:
        return Spec(dtype, self.shape)


@attrs.frozen
class Demand:
    """What an op needs from one input: its spec, and how it should be produced."""

    spec: Spec
    value: np.ndarray | None = attrs.field(default=None, eq=False)  # exactly this Const
    const: bool = False  # usually a Const (weights, biases, statistics)
    domain: str = ANY


@attrs.frozen
class Request:
    """Build *op* with output *spec*; *fixed* attributes come from a pattern.

    ``arity`` is the number of data inputs a pattern wants (None: the maker decides);
    ``leafy[i]`` says input *i* is a pattern leaf that can take any shape (so broadcasting
    operands go there, and structured sub-patterns get the full shape).
    """

    op: str
    spec: Spec
    fixed: Mapping[str, Any] = attrs.field(factory=dict)
    arity: int | None = None
    min_arity: int = 0
    leafy: tuple[bool, ...] = ()
    domain: str = ANY

    def attr(self, draw: Draw, key: str, strategy: st.SearchStrategy[Any]) -> Any:
        """The pattern's value for attribute *key*, else a drawn one."""
        return self.fixed[key] if key in self.fixed else draw(strategy)

    def is_leafy(self, index: int) -> bool:
        return self.leafy[index] if index < len(self.leafy) else True


@attrs.frozen
class Plan:
    """A maker's answer: the node's attributes and what each data input must be."""

    attrs: Mapping[str, Any]
    inputs: tuple[Demand, ...]


Maker = Callable[[Draw, Request], Plan]


@attrs.frozen
class OpEntry:
    """How to build one op type: its maker, output ranks and dtypes, rank-preserving inputs."""

    op: str
    make: Maker = attrs.field(eq=False)
    ranks: frozenset[int] = ALL_RANKS
    dtypes: frozenset[str] = NUMBERS
    rank_inputs: tuple[int, ...] = (0,)  # inputs whose rank equals the output's rank
    arity: tuple[int, int | None] = (1, 1)  # (fewest, most) data inputs; None: unbounded

    def accepts(self, spec: Spec) -> bool:
        return spec.rank in self.ranks and spec.dtype in self.dtypes

    def fits_arity(self, count: int, variadic: bool) -> bool:
        low, high = self.arity
        if variadic:
            return high is None or count <= high
        return low <= count and (high is None or count <= high)


CATALOGUE: dict[str, OpEntry] = {}


def register_op(
    op: str,
    make: Maker,
    *,
    ranks: frozenset[int] = ALL_RANKS,
    dtypes: frozenset[str] = NUMBERS,
    rank_inputs: tuple[int, ...] = (0,),
    arity: tuple[int, int | None] = (1, 1),
) -> None:
    """Teach the generators to build *op* (for custom rules over ops not covered here)."""
    CATALOGUE[op] = OpEntry(op, make, frozenset(ranks), frozenset(dtypes), rank_inputs, arity)


def entry(op: str) -> OpEntry:
    """The catalogue entry for *op*; CannotBuild naming the known ops when missing."""
    _load()
    found = CATALOGUE.get(op)
    if found is None:
        raise CannotBuild(f"no catalogue entry for op '{op}' (known: {', '.join(sorted(CATALOGUE))})")
    return found


def known_ops() -> frozenset[str]:
    _load()
    return frozenset(CATALOGUE)


def _load() -> None:
    if "Conv2D" not in CATALOGUE:
        from graphrewrite.testing import nn_ops, shape_ops  # noqa: F401  (they register themselves)


# -- helpers shared by makers ---------------------------------------------------------------


def dims(low: int = 1, high: int = 4) -> st.SearchStrategy[int]:
    return st.integers(min_value=low, max_value=high)


def prefer(draw: Draw, preferred: Any, others: list[Any]) -> Any:
    """*preferred* half of the time (and when shrinking), else one of *others*.

    Guards often want a conjunction of typical choices (a per-channel constant *and* as many
    input as output channels); drawing each typical choice with probability 1/2 instead of 1/n
    keeps rejection sampling cheap.
    """
    rest = [o for o in others if o != preferred]
    if not rest or not draw(st.booleans()):
        return preferred
    return draw(st.sampled_from(rest))


def int_const(value: Any) -> Demand:
    array = np.asarray(value, dtype=np.int32)
    return Demand(Spec("int32", array.shape), value=array)


def channel_axis(req: Request) -> int:
    return 1 if req.fixed.get("data_format", "NHWC").startswith("NC") else req.spec.rank - 1


# -- elementwise ops ------------------------------------------------------------------------

UNARY_DOMAIN = {"Rsqrt": POSITIVE, "Sqrt": POSITIVE, "Log": POSITIVE, "Reciprocal": NONZERO, "Inv": NONZERO}
_SHUFFLES = {"Identity", "StopGradient", "CheckNumerics", "Snapshot", "Reshape", "Transpose", "ConcatV2"}
# Ops whose output stays in a domain when their inputs are in it (makers pass the domain on).
KEEPS = {
    POSITIVE: frozenset(_SHUFFLES | {"Relu", "Relu6", "Square", "Sqrt", "Rsqrt", "Exp", "Sigmoid", "Abs", "Add",
                                     "AddV2", "Mul", "Maximum", "Minimum", "RealDiv", "Div", "AddN"}),
    NONZERO: frozenset(_SHUFFLES | {"Neg", "Abs", "Square", "Exp", "Sigmoid", "Mul", "RealDiv", "Div", "Reciprocal"}),
}  # fmt: skip


def keeps(op: str, domain: str) -> bool:
    """Whether *op* can produce values in *domain* (anything can produce ANY)."""
    return domain == ANY or op in KEEPS.get(domain, ())


def _input_domain(req: Request) -> str:
    return UNARY_DOMAIN.get(req.op) or (req.domain if keeps(req.op, req.domain) else ANY)


def _unary(draw: Draw, req: Request) -> Plan:
    values: dict[str, Any] = {"T": req.spec.dtype}
    if req.op == "CheckNumerics":
        values["message"] = "check"
    return Plan(values, (Demand(req.spec, domain=_input_domain(req)),))


def _broadcast_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes that broadcast to *shape*: one channel vector (what rules about per-channel
    constants want most), itself, a scalar, keep-dims."""
    out = [(shape[-1],), shape, ()] if shape else [shape]
    if shape:
        out.append((1,) * (len(shape) - 1) + (shape[-1],))
    return list(dict.fromkeys(out))


DIVISIONS = frozenset({"RealDiv", "Div"})


def _binary(draw: Draw, req: Request) -> Plan:
    spec = req.spec
    other = 1
    # The broadcast operand goes to a pattern leaf; structured sub-patterns get the full shape.
    if (req.is_leafy(0) and not req.is_leafy(1)) or (req.is_leafy(0) == req.is_leafy(1) and draw(st.booleans())):
        other = 0
    shapes = [spec.shape, spec.shape]
    options = _broadcast_shapes(spec.shape)
    shapes[other] = prefer(draw, options[0], options)
    domain = _input_domain(req)
    demands = [Demand(spec.with_shape(shape), domain=domain) for shape in shapes]
    if req.op in DIVISIONS:
        demands[1] = attrs.evolve(demands[1], domain=NONZERO)
    return Plan({"T": spec.dtype}, tuple(demands))


def _cast(draw: Draw, req: Request) -> Plan:
    source = str(req.fixed.get("SrcT") or prefer(draw, req.spec.dtype, ["float32", "float64", "int32"]))
    values = {"SrcT": source, "DstT": req.spec.dtype, "Truncate": False}
    return Plan(values, (Demand(req.spec.with_dtype(source)),))


def _add_n(draw: Draw, req: Request) -> Plan:
    count = req.arity or draw(st.integers(min_value=max(2, req.min_arity), max_value=3))
    demand = Demand(req.spec, domain=_input_domain(req))
    return Plan({"T": req.spec.dtype, "N": count}, (demand,) * count)


for _op in ("Identity", "Relu", "Relu6", "Neg", "Abs", "Square", "StopGradient", "Snapshot"):
    register_op(_op, _unary)
for _op in ("Tanh", "Sigmoid", "Rsqrt", "Sqrt", "Exp", "Reciprocal", "CheckNumerics", "Elu", "Softplus"):
    register_op(_op, _unary, dtypes=FLOATS)
for _op in ("Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum"):
    register_op(_op, _binary, rank_inputs=(0, 1), arity=(2, 2))
for _op in ("RealDiv", "Div"):
    register_op(_op, _binary, dtypes=FLOATS, rank_inputs=(0, 1), arity=(2, 2))
register_op("Cast", _cast)
register_op("AddN", _add_n, rank_inputs=(0, 1, 2, 3), arity=(1, None))
