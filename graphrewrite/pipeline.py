"""The embedding API: compile a transform script, run it over a GraphDef, get a report.

This is what the CLI's ``transform`` command and ``graphrewrite.transform_graph`` call; other
tools can call it too, with no command line involved::

    steps = compile_pipeline("fold_constants(ignore_errors=true) fold_batch_norms")
    result = run_pipeline(graph_def, steps, inputs=["input"], outputs=["logits"])
    result.graph_def, result.report.table()
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from graphrewrite.engine.driver import Context, FireEvent, run_steps
from graphrewrite.engine.errors import GraphRewriteError, NameNotFoundError, UsageError
from graphrewrite.engine.graph import Graph
from graphrewrite.engine.report import Report
from graphrewrite.rules.rule import RuleSet, Step, Transform
from graphrewrite.runner import INIT_ALL_TABLES


@attrs.frozen
class Result:
    """A transformed graph and the report of how it came about."""

    graph_def: Any
    report: Report


def script_text(transforms: str | Sequence[str]) -> str:
    """GTT's Python API joined a list of transform strings with spaces; so do we."""
    return transforms if isinstance(transforms, str) else " ".join(transforms)


def compile_pipeline(
    transforms: str | Sequence[str],
    *,
    rules: RuleSet | None = None,
    rule_files: Iterable[str | os.PathLike[str]] = (),
    source: str = "<transforms>",
    base_dir: str | os.PathLike[str] | None = None,
) -> tuple[Step, ...]:
    """Parse and bind a script against the standard rules plus *rules* and *rule_files*.

    ``use "x.rules"`` directives resolve relative to *base_dir* (the script file's folder).
    Raises LanguageError (with carets) for syntax errors, unknown names and bad values.
    """
    from graphrewrite.rules.bind import parse_and_bind
    from graphrewrite.rules.loader import load_rules_file
    from graphrewrite.stdlib_rules import standard_rules

    catalog = standard_rules() if rules is None else rules
    for path in rule_files:
        catalog = catalog.plus(load_rules_file(path))
    folder = Path(base_dir) if base_dir is not None else Path.cwd()

    def load(path: str, span: Any) -> tuple[Transform, ...]:
        return load_rules_file(folder / path)

    text = script_text(transforms)
    steps = parse_and_bind(text, catalog, source=source, load_rules=load)
    if not steps:
        raise UsageError("the transform script names no transforms")
    return steps


def split_names(names: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"a,b"`` or ``["a", "b"]`` -> ``("a", "b")``; blanks dropped, whitespace trimmed."""
    if names is None:
        return ()
    items = names.split(",") if isinstance(names, str) else list(names)
    return tuple(item.strip() for item in items if item and item.strip())


def run_pipeline(
    graph_def: Any,
    steps: Sequence[Step],
    *,
    inputs: str | Sequence[str] = (),
    outputs: str | Sequence[str] = (),
    trace: Callable[[FireEvent], None] | None = None,
    after_step: Callable[[int, Any, Graph], None] | None = None,
) -> Result:
    """Run *steps* over *graph_def*; the input message is never modified."""
    from graphrewrite.inspect import resolve_names

    graph = Graph.from_graphdef(graph_def, copy=False)  # lives only during this call; the result is a new message
    wanted = list(_resolve(resolve_names, graph, outputs, "--outputs"))
    if wanted and INIT_ALL_TABLES in graph and INIT_ALL_TABLES not in wanted:
        wanted.append(INIT_ALL_TABLES)  # a graph's table initializer is an output of sorts: keep it
    ctx = Context(tuple(_resolve(resolve_names, graph, inputs, "--inputs")), tuple(wanted), trace=trace)
    result, report = run_steps(graph, steps, ctx, after_step=after_step)
    return Result(result.to_graphdef(), report)


def _resolve(resolve: Callable[..., list[str]], graph: Graph, names: str | Sequence[str], flag: str) -> list[str]:
    """Names as the graph spells them (``import/x`` finds ``x``); unknown ones are an error."""
    try:
        return resolve(graph, split_names(names))
    except NameNotFoundError as exc:
        raise NameNotFoundError(f"{flag}: {exc}") from None


def transform_graph(
    graph_def: Any,
    inputs: str | Sequence[str],
    outputs: str | Sequence[str],
    transforms: str | Sequence[str],
    *,
    rules: RuleSet | None = None,
) -> Any:
    """GTT's ``TransformGraph``, done right: returns a new GraphDef; raises GraphRewriteError."""
    if not isinstance(graph_def, _graphdef_type()):
        raise UsageError(f"graph_def must be a GraphDef, got {type(graph_def).__name__}")
    steps = compile_pipeline(transforms, rules=rules)
    return run_pipeline(graph_def, steps, inputs=inputs, outputs=outputs).graph_def


def checker_for(
    graph_def: Any,
    steps: Sequence[Step],
    *,
    inputs: str | Sequence[str] | None = None,
    outputs: str | Sequence[str] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    input_shapes: Any = None,
    feeds: Mapping[str, Any] | None = None,
) -> Callable[[Any], Any]:
    """A function checking that a graph computes what *graph_def* computes, judged as *steps*
    allow: lossy steps (quantize_weights, round_weights, ...) get the tolerance their facts
    declare, relative to each output's magnitude; a tolerance given here always wins. Inputs
    are random (shaped by *input_shapes*) unless *feeds* gives them."""
    from graphrewrite.stdlib_rules.tolerances import is_lossy, tolerance_for
    from graphrewrite.verification import make_checker

    scale = None
    if is_lossy(steps):
        auto_rtol, auto_atol = tolerance_for(steps)
        rtol = auto_rtol if rtol is None else rtol
        atol = auto_atol if atol is None else atol
        scale = "output"
    return make_checker(
        graph_def, inputs, outputs, rtol=rtol, atol=atol, input_shapes=input_shapes, feeds=feeds, scale=scale
    )


def _graphdef_type() -> type:
    from graphrewrite import _tf

    return _tf.pb().GraphDef  # type: ignore[no-any-return]


__all__ = [
    "GraphRewriteError",
    "Result",
    "checker_for",
    "compile_pipeline",
    "run_pipeline",
    "split_names",
    "transform_graph",
]
