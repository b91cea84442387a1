"""``graphs_from_pattern(rule)``: graphs built from a rule's pattern, so the rule really fires.

The pattern tree is walked from its root with a chosen output shape. Each ``Op`` picks one of
its op alternatives that can produce that shape (its catalogue entry chooses attributes, honouring
the pattern's attribute constraints, and the shapes of its inputs); ``Tensor`` leaves become
Placeholders, Consts or a small subgraph from the ``surround`` palette; ``Const`` patterns get
values of several flavours (random, ones, small integers, zeros); reused binding names reuse the
tensor. Around the match, the root gets a consumer chain and interior nodes sometimes get extra
consumers (graph outputs), which exercises the engine's "keep nodes still in use" rule.

Whether the rule's guard accepts is checked at the root; up to ``attempts`` fresh tries are made
per example (rejection sampling). The case records ``fires`` either way, so a check can report a
rule that never fires instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from graphrewrite import _tf
from graphrewrite.engine.driver import Context
from graphrewrite.engine.errors import GraphRewriteError
from graphrewrite.engine.graph import Graph
from graphrewrite.engine.matcher import match_at
from graphrewrite.engine.pattern import Op, Pattern, Tensor
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.testing.build import DTYPE_KEYS, FLAVOURS, Builder, GraphCase
from graphrewrite.testing.catalogue import (
    ALL_RANKS,
    CannotBuild,
    Demand,
    Request,
    Spec,
    entry,
    known_ops,
)
from graphrewrite.testing.strategies import SEED, dtype_name, spec_strategy

SURROUND: tuple[str, ...] = ("Relu", "Neg", "AddV2", "Mul", "Identity", "Tanh")
LEAF_OPS = frozenset({"Const", "Placeholder"})


def rules_of(transform: Any) -> tuple[Any, ...]:
    """The pattern rules of a Rule or Group; InvalidArgument for a Pass."""
    if hasattr(transform, "pattern"):
        return (transform,)
    if hasattr(transform, "rules"):
        return tuple(transform.rules)
    raise InvalidArgument(
        f"graphs_from_pattern: '{getattr(transform, 'name', transform)}' has no pattern "
        "(a Pass); test it with graphs() and check_rule(..., cases=graphs(...))"
    )


def validate_pattern(pattern: Pattern, rule: str) -> None:
    """Raise InvalidArgument when the generators cannot build *pattern* at all."""
    if isinstance(pattern, Tensor):
        return
    if pattern.port not in (0, None):
        raise InvalidArgument(f"rule '{rule}': patterns reading output {pattern.port} of a node are not generated")
    if pattern.ops is not None:
        buildable = (pattern.ops & known_ops()) | (pattern.ops & LEAF_OPS)
        if not buildable:
            raise InvalidArgument(
                f"rule '{rule}': no catalogue entry for {'|'.join(sorted(pattern.ops))}; "
                "add one with graphrewrite.testing.register_op"
            )
    for child in pattern.inputs or ():
        validate_pattern(child, rule)


def feasible_ranks(pattern: Pattern) -> frozenset[int]:
    """Output ranks *pattern* can be built with (rank-preserving ops pass their inputs' on)."""
    if isinstance(pattern, Tensor) or pattern.ops is None:
        return ALL_RANKS
    ranks: set[int] = set()
    for op in pattern.ops:
        if op in LEAF_OPS:
            ranks |= ALL_RANKS
            continue
        if op not in known_ops():
            continue
        allowed = set(entry(op).ranks)
        for index in entry(op).rank_inputs:
            if pattern.inputs and index < len(pattern.inputs) and not _leafy(pattern.inputs[index]):
                allowed &= feasible_ranks(pattern.inputs[index])
        ranks |= allowed
    return frozenset(ranks)


def _leafy(pattern: Pattern) -> bool:
    return isinstance(pattern, Tensor) or pattern.inputs is None


class PatternBuilder:
    """Walks one pattern, adding nodes to a :class:`Builder`."""

    def __init__(self, builder: Builder, surround: Sequence[str]):
        self.b = builder
        self.draw = builder.draw
        self.surround = tuple(surround)
        self.bound: dict[str, tuple[str, Spec]] = {}
        self.interior: list[str] = []

    def build(self, pattern: Pattern, demand: Demand) -> str:
        if pattern.bind and pattern.bind != "_" and pattern.bind in self.bound:
            name, spec = self.bound[pattern.bind]
            if spec != demand.spec or demand.value is not None:
                raise CannotBuild(f"'{pattern.bind}' is used with shapes {list(spec.shape)} and {list(demand.spec.shape)}")
            return name
        name = self._tensor(pattern, demand) if isinstance(pattern, Tensor) else self._op(pattern, demand)
        if pattern.bind and pattern.bind != "_":
            self.bound[pattern.bind] = (name, demand.spec)
        return name

    def _one_op(self, pattern: Pattern) -> Pattern:
        """A ``*fs: A|B(xs)`` list with one op drawn for all its elements (a rule wants them
        alike more often than not), and its names unbound: they are local to one element."""
        if not isinstance(pattern, Tensor) or pattern.each is None:
            return pattern
        each = _unbound(pattern.each)
        if each.ops:
            each = attrs.evolve(each, ops=frozenset({self.draw(st.sampled_from(sorted(each.ops)))}))
        return attrs.evolve(pattern, each=each)

    def _tensor(self, pattern: Tensor, demand: Demand) -> str:
        return self.b.tensor(demand, self.surround, [self.draw(st.integers(0, 1))])

    def _op(self, pattern: Op, demand: Demand) -> str:
        ops = pattern.ops
        if ops is None and pattern.inputs is None:
            return self.b.tensor(demand, self.surround, [1])
        candidates = sorted(
            op for op in (ops or known_ops()) if op in LEAF_OPS or (op in known_ops() and self._fits(op, pattern, demand.spec))
        )
        if not candidates:
            raise CannotBuild(f"no op of {'|'.join(sorted(ops or ()))} gives shape {list(demand.spec.shape)}")
        op = self.draw(st.sampled_from(candidates))
        if op == "Const":
            flavour = self.draw(st.sampled_from(FLAVOURS))
            return self.b.const(demand.spec, demand.domain, demand.value, flavour)
        if op == "Placeholder":
            return self.b.leaf(demand, const=False)
        return self._build_op(op, pattern, demand)

    def _fits(self, op: str, pattern: Op, spec: Spec) -> bool:
        found = entry(op)
        if not found.accepts(spec):
            return False
        if pattern.inputs is not None and not found.fits_arity(len(pattern.inputs), _open_ended(pattern)):
            return False
        single = Op(frozenset({op}), pattern.inputs, pattern.bind, pattern.attributes, pattern.variadic)
        return spec.rank in feasible_ranks(single)

    def _build_op(self, op: str, pattern: Op, demand: Demand) -> str:
        fixed = dict(pattern.attributes)
        wanted_type = fixed.get("T")
        if wanted_type is not None and dtype_name(wanted_type) != demand.spec.dtype:
            raise CannotBuild(f"{op} wants T={wanted_type}, the consumer needs {demand.spec.dtype}")
        pats = pattern.inputs
        open_ended = _open_ended(pattern)
        request = Request(
            op,
            demand.spec,
            fixed,
            arity=None if pats is None or open_ended else len(pats),
            min_arity=len(pats) if pats and open_ended else 0,
            leafy=tuple(_leafy(p) for p in pats or ()),
            domain=demand.domain,
        )
        plan = entry(op).make(self.draw, request)
        if pats is None:
            inputs = [self.b.tensor(d, self.surround, [0]) for d in plan.inputs]
        else:
            if any(isinstance(p, Tensor) and p.rest for p in pats):
                pats = _spread_rests(tuple(self._one_op(p) for p in pats), len(plan.inputs))
            elif pattern.variadic:
                pats = pats[:-1] + (pats[-1],) * (len(plan.inputs) - len(pats) + 1)
            if len(pats) != len(plan.inputs):
                raise CannotBuild(f"{op} takes {len(plan.inputs)} inputs here, the pattern gives {len(pats)}")
            inputs = [self.build(p, d) for p, d in zip(pats, plan.inputs, strict=True)]
        extra = {k: v for k, v in fixed.items() if k not in DTYPE_KEYS}
        plan = type(plan)({**plan.attrs, **extra}, plan.inputs)
        name = self.b.make_op(op, plan, inputs, demand.spec, demand.domain)
        self.interior.append(name)
        return name


def _unbound(pattern: Op) -> Op:
    inputs = None
    if pattern.inputs is not None:
        inputs = tuple(_unbound(p) if isinstance(p, Op) else attrs.evolve(p, bind=None) for p in pattern.inputs)
    return attrs.evolve(pattern, bind=None, inputs=inputs)


def _spread_rests(pats: tuple[Pattern, ...], count: int) -> tuple[Pattern, ...]:
    """*pats* with each ``*xs`` replaced by plain tensors (by its element pattern, for
    ``*fs: Relu(xs)``), sharing what the fixed patterns leave of *count* inputs as evenly as
    they can (the later lists take the remainder)."""
    rests = [i for i, p in enumerate(pats) if isinstance(p, Tensor) and p.rest]
    spare = count - (len(pats) - len(rests))
    out: list[Pattern] = []
    for index, pat in enumerate(pats):
        if index not in rests:
            out.append(pat)
            continue
        order = rests.index(index)
        take = spare // len(rests) + (1 if order >= len(rests) - spare % len(rests) else 0)
        each = pat.each if isinstance(pat, Tensor) else None
        out += [each if each is not None else Tensor()] * take
    return tuple(out)


def _open_ended(pattern: Op) -> bool:
    """Whether *pattern* takes more inputs than it lists (a trailing ``...`` or a ``*xs``)."""
    return pattern.variadic or any(isinstance(p, Tensor) and p.rest for p in pattern.inputs or ())


def graphs_from_pattern(
    rule: Any,
    *,
    dtypes: Sequence[Any] = ("float32",),
    attempts: int = 16,
    surround: Sequence[str] = SURROUND,
    args: Mapping[str, Any] | None = None,
    max_inputs: int = 3,
) -> st.SearchStrategy[GraphCase]:
    """Graphs containing a match of *rule*'s pattern (a Rule, or any rule of a Group), with
    shapes, attributes and constants chosen so the guard accepts it where possible.

    ``args`` are the rule's parameter values for the guard (defaults otherwise). Each
    :class:`GraphCase` says at which ``root`` it was built and whether the rule ``fires`` there.
    """
    _tf.pb()  # import TensorFlow now, not inside the first draw (hypothesis checks draws)
    members = rules_of(rule)
    for member in members:
        validate_pattern(member.pattern, member.name)
    names = tuple(dtype_name(d) for d in dtypes)
    return _from_pattern(_Rules(members), names, attempts, tuple(surround), dict(args or {}), max_inputs)


class _Rules(tuple):  # type: ignore[type-arg]
    """The rules to build from; shown by name (hypothesis prints strategy arguments)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "rules(" + ", ".join(rule.name for rule in self) + ")"


@st.composite
def _from_pattern(draw, members, dtypes, attempts, surround, args, max_inputs) -> GraphCase:  # type: ignore[no-untyped-def]
    rule = draw(st.sampled_from(members))
    last = None
    for _ in range(max(1, attempts)):
        try:
            case = _attempt(draw, rule, draw(st.sampled_from(dtypes)), surround, args, max_inputs)
        except CannotBuild:
            continue
        if case.fires:
            return case
        last = case
    if last is None:
        from hypothesis import reject

        reject()
    return last


def _attempt(draw, rule, dtype, surround, args, max_inputs) -> GraphCase:  # type: ignore[no-untyped-def]
    builder = Builder(draw, seed=draw(SEED), max_inputs=max_inputs)
    walker = PatternBuilder(builder, surround)
    ranks = feasible_ranks(rule.pattern)
    wanted = dict(getattr(rule.pattern, "attributes", ())).get("T")
    if wanted is not None:
        dtype = dtype_name(wanted)
    spec = spec_strategy(draw, dtype, sorted(ranks))
    root = walker.build(rule.pattern, Demand(spec))
    tail = root
    if draw(st.booleans()):
        tail = builder.random_op(draw(st.sampled_from(["Relu", "Neg"])), Demand(spec), surround, [0])
    outputs = [builder.add("Identity", [tail], {"T": spec.dtype}, spec, name=builder.fresh_name("output"))]
    for name in walker.interior:
        if name != root and draw(st.booleans()):
            outputs.append(builder.add("Identity", [name], {"T": builder.specs[name].dtype}, builder.specs[name], name=builder.fresh_name("extra")))
    case = builder.finish(outputs, root=root, rule=rule.name)
    return _with_fires(case, rule, args)


def _with_fires(case: GraphCase, rule: Any, args: Mapping[str, Any]) -> GraphCase:

    from graphrewrite.rules.params import defaults

    graph = case.graph()
    ctx = Context(case.inputs, case.outputs, {**defaults(rule.params), **args})
    return attrs.evolve(case, fires=rule_fires_at(rule, graph, case.root, ctx))


def rule_fires_at(rule: Any, graph: Graph, root: str | None, ctx: Context) -> bool:
    """Whether *rule* matches at *root*, its guard accepts and its builder returns a Rewrite."""
    if root is None:
        return False
    match = match_at(graph, rule.pattern, root)
    if match is None:
        return False
    try:
        if rule.check(match, graph, ctx):
            return False
        return isinstance(rule.build(match, graph, ctx), Rewrite)
    except GraphRewriteError:
        return False
    except Exception:  # a crashing rule: it would run here, and the check reports the crash
        return True
