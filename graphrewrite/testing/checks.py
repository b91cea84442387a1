"""Rule checks: apply a transform to generated graphs, run both graphs, compare the outputs.

:func:`check_rule` returns a :class:`RuleCheck` report (instances tried, how many the rule
fired on, the largest errors, and on failure a shrunk counterexample). A rule that never fires
on the generated graphs is reported as ``never fired``, not as passing: a check that exercised
nothing proves nothing. :func:`assert_rule_preserves_outputs` is the same as an assertion, for
use inside a rule author's own pytest tests (not inside another ``@given`` test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import hypothesis
from hypothesis import HealthCheck, Verbosity, given
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, InvalidArgument, Unsatisfiable

from graphrewrite.engine.driver import Context, apply_step
from graphrewrite.engine.errors import GraphRewriteError
from graphrewrite.engine.graph import node_name
from graphrewrite.testing.build import GraphCase, listing, show_feeds
from graphrewrite.testing.feeds import draw_interior_feeds

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-4
PASSED, FAILED, NEVER_FIRED, ERROR = "passed", "failed", "never fired", "error"


@attrs.frozen
class RuleCheck:
    """What checking one transform found."""

    rule: str
    tried: int
    fired: int
    max_abs: float
    max_rel: float
    status: str  # passed | failed | never fired | error
    counterexample: str | None = None  # the shrunk failing case, or why nothing was generated

    @property
    def ok(self) -> bool:
        return self.status == PASSED

    def summary(self) -> str:
        """One line: ``name: passed (50 tried, 43 fired, max abs err 1.2e-07)``."""
        errors = f", max abs err {self.max_abs:.3g}, max rel err {self.max_rel:.3g}" if self.fired else ""
        return f"{self.rule}: {self.status} ({self.tried} tried, {self.fired} fired{errors})"

    def report(self) -> str:
        return self.summary() + (f"\n{self.counterexample}" if self.counterexample else "")


@attrs.frozen
class Outcome:
    """One instance: did the transform change the graph, the errors, the failure text."""

    fired: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    failure: str | None = None


class Counterexample(Exception):
    """Raised inside the hypothesis test so hypothesis shrinks the case."""


class GeneratorError(Exception):
    """A generated graph does not run in TensorFlow: a bug of graphrewrite.testing."""


Property = Callable[[GraphCase, Any], "str | None"]


def run_case(
    transform: Any,
    case: GraphCase,
    args: Mapping[str, Any],
    *,
    rtol: float,
    atol: float,
    numeric: bool = True,
    extra: Property | None = None,
    scale: str = "element",
) -> Outcome:
    """Apply *transform* to *case*, lint the result, check *extra* (a property of the case and
    the resulting Graph returning a failure reason), then run both graphs and compare outputs
    (only when *numeric*: transforms that change values on purpose skip that)."""
    from graphrewrite.engine.validate import lint
    from graphrewrite.rules.params import defaults

    graph = case.graph()
    ctx = Context(case.inputs, case.outputs, {**defaults(getattr(transform, "params", ())), **args, **case.args})
    try:
        result, _ = apply_step(transform, graph, ctx)
    except Exception as exc:  # any exception out of a rule is a finding, shown with the case
        return Outcome(True, failure=f"{transform.name} raised {type(exc).__name__}: {exc}\n{_case_text(case)}")
    changed = _changed(graph, result)
    after = result.to_graphdef() if changed else None
    problems = lint(result, ctx) if changed else []
    reason = f"the result fails lint: {problems[0]}" if problems else (extra(case, result) if extra else None)
    if reason:
        return Outcome(changed, failure=f"{reason}\n{_case_text(case, after)}")
    if not changed:
        return Outcome(False)
    return _compare_runs(transform.name, case, result, after, rtol=rtol, atol=atol, numeric=numeric, scale=scale)


def _compare_runs(
    name: str, case: GraphCase, result: Any, after: Any, *, rtol: float, atol: float, numeric: bool, scale: str
) -> Outcome:
    from graphrewrite.runner import run_graph
    from graphrewrite.verification import VerifyReport, compare

    try:
        expected = run_graph(case.graph_def, case.feeds, case.outputs)
    except GraphRewriteError as exc:
        # Values fed at interior nodes may break an invariant the graph relies on (a range's
        # min above its max): that case says nothing about the transform.
        if case.fed:
            hypothesis.reject()
        raise GeneratorError(f"a generated graph does not run ({exc}):\n{_case_text(case)}") from None
    feeds = {k: v for k, v in case.feeds.items() if k in case.fed or _still_an_input(result, k)}
    try:
        actual = run_graph(after, feeds, case.outputs)
    except GraphRewriteError as exc:
        return Outcome(True, failure=f"the transformed graph does not run: {exc}\n{_case_text(case, after)}")
    if not numeric:
        return Outcome(True)
    checks = tuple(
        compare(n, e, a, rtol=rtol, atol=atol, scale=scale) for n, e, a in zip(case.outputs, expected, actual, strict=True)
    )
    report = VerifyReport(checks, rtol, atol, "given", scale)
    worst_abs = max((c.max_abs for c in checks), default=0.0)
    worst_rel = max((c.max_rel for c in checks), default=0.0)
    failure = None if report.ok else f"{name} changed the outputs:\n{report.table()}\n{_case_text(case, after)}"
    return Outcome(True, worst_abs, worst_rel, failure)


def _still_an_input(graph: Any, name: str) -> bool:
    """Feed only inputs that are still Placeholders: feeding a node a transform froze into a
    Const would override the value the check is meant to test."""
    node = graph.get(node_name(name))
    return node is not None and node.op.startswith("Placeholder")


def _changed(graph: Any, result: Any) -> bool:
    """Whether the transform changed anything (unchanged nodes keep their identity)."""
    if result is graph:
        return False
    if len(result) != len(graph) or any(graph.get(n.name) is not n for n in result):
        return True
    return list(result.names) != list(graph.names)  # reordered


def _case_text(case: GraphCase, after: Any = None) -> str:
    lines = [f"inputs={list(case.inputs)} outputs={list(case.outputs)}"]
    if case.root is not None:
        lines.append(f"pattern root: {case.root}")
    lines += ["original graph:", _indent(listing(case.graph_def))]
    if after is not None:
        lines += ["transformed graph:", _indent(listing(after))]
    lines += ["input values:", _indent(show_feeds(case.feeds))]
    lines += ["original GraphDef (text format):", _indent(case.graph_def_text())]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@attrs.define
class _Tally:
    tried: int = 0
    fired: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0

    shrinking: bool = False  # after the first failure, only hypothesis's shrinking runs

    def add(self, outcome: Outcome) -> None:
        if self.shrinking:
            return
        self.tried += 1
        if outcome.fired:
            self.fired += 1
            self.max_abs = max(self.max_abs, outcome.max_abs)
            self.max_rel = max(self.max_rel, outcome.max_rel)


def check_rule(
    transform: Any,
    *,
    examples: int | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    cases: st.SearchStrategy[GraphCase] | None = None,
    args: Mapping[str, Any] | st.SearchStrategy[Mapping[str, Any]] | None = None,
    seed: int | None = None,
    require_fire: bool = True,
    numeric: bool = True,
    extra: Property | None = None,
    scale: str = "element",
) -> RuleCheck:
    """Property-check *transform* (a Rule, Group or Pass) on generated graphs.

    ``cases`` defaults to ``graphs_from_pattern(transform)`` (Passes must pass one, e.g.
    ``graphs()``); ``args`` are the transform's arguments, fixed or as a strategy; ``examples``
    defaults to the active hypothesis profile's ``max_examples``. Runs are reproducible: the same
    examples every time, or another fixed set for another ``seed``. ``require_fire=False`` lets
    a transform that changes none of the graphs pass (a no-op safety check); ``numeric=False``
    skips comparing outputs (for transforms that change values on purpose) and ``extra`` adds
    a property ``extra(case, result_graph) -> reason or None``. ``scale="output"`` judges each
    element against its output's largest magnitude (the right yardstick for lossy transforms,
    as ``verify`` uses for them).
    """
    from graphrewrite import _tf
    from graphrewrite.testing.from_pattern import graphs_from_pattern

    _tf.pb()  # import TensorFlow before hypothesis runs (it flags global state changed in draws)
    fixed_args = args if isinstance(args, Mapping) else {}
    arg_strategy = args if isinstance(args, st.SearchStrategy) else st.just(fixed_args)
    tally = _Tally()
    try:
        strategy = cases if cases is not None else graphs_from_pattern(transform, args=fixed_args)
    except InvalidArgument as exc:
        return RuleCheck(transform.name, 0, 0, 0.0, 0.0, ERROR, f"cannot generate graphs for it: {exc}")

    def run_one(case: GraphCase, chosen: Mapping[str, Any]) -> Outcome:
        return run_case(transform, case, chosen, rtol=rtol, atol=atol, numeric=numeric, extra=extra, scale=scale)

    status, text = _explore(run_one, strategy, arg_strategy, tally, examples=examples, seed=seed)
    if status == PASSED and tally.fired == 0 and require_fire:
        status, text = NEVER_FIRED, f"{transform.name} changed none of the {tally.tried} generated graphs"
    return RuleCheck(transform.name, tally.tried, tally.fired, tally.max_abs, tally.max_rel, status, text)


def _explore(
    run_one: Callable[[GraphCase, Mapping[str, Any]], Outcome],
    strategy: st.SearchStrategy[GraphCase],
    arg_strategy: st.SearchStrategy[Mapping[str, Any]],
    tally: _Tally,
    *,
    examples: int | None,
    seed: int | None,
) -> tuple[str, str | None]:
    """Run hypothesis over the cases; a failure comes back shrunk, with its text."""

    @_settings(examples, derandomize=seed is None)
    @hypothesis.seed(seed if seed is not None else 0)
    @given(case=strategy, data=st.data())
    def property_test(case: GraphCase, data: Any) -> None:
        args = data.draw(arg_strategy, label="args")
        case = draw_interior_feeds(data, case, exclude=_named_in(args))
        outcome = run_one(case, args)
        tally.add(outcome)
        if outcome.failure:
            tally.shrinking = True
            raise Counterexample(outcome.failure)

    try:
        property_test()
    except Counterexample as exc:
        return FAILED, str(exc)
    except GeneratorError as exc:
        return ERROR, str(exc)
    except (Unsatisfiable, FailedHealthCheck) as exc:
        return NEVER_FIRED, f"could not generate graphs for it: {str(exc).splitlines()[0]}"
    return PASSED, None


def _named_in(args: Mapping[str, Any]) -> frozenset[str]:
    """Node names a transform's arguments mention (``rename_node(old_node_name=x)``): a check
    feeds those only as the case itself says."""
    values = [v for value in args.values() for v in (value if isinstance(value, (list, tuple)) else [value])]
    return frozenset(node_name(v) for v in values if isinstance(v, str))


def _settings(examples: int | None, derandomize: bool) -> Any:
    overrides: dict[str, Any] = {
        "deadline": None,
        "database": None,
        "derandomize": derandomize,
        "report_multiple_bugs": False,
        "verbosity": Verbosity.quiet,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.differing_executors],
    }
    if examples is not None:
        overrides["max_examples"] = examples
    return hypothesis.settings(**overrides)


def assert_rule_preserves_outputs(
    transform: Any,
    *,
    examples: int | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    cases: st.SearchStrategy[GraphCase] | None = None,
    args: Mapping[str, Any] | st.SearchStrategy[Mapping[str, Any]] | None = None,
    seed: int | None = None,
    require_fire: bool = True,
) -> RuleCheck:
    """Fail (AssertionError with the shrunk counterexample) unless *transform* keeps every output
    within tolerance on generated graphs and fires on at least one of them."""
    found = check_rule(
        transform, examples=examples, rtol=rtol, atol=atol, cases=cases, args=args, seed=seed, require_fire=require_fire
    )
    if not found.ok:
        raise AssertionError(found.report())
    return found
