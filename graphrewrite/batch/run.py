"""A batch: plan (skip what an earlier run already did), run the rest on an executor, record
each result as it arrives (so a batch stopped half-way resumes where it was).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from graphrewrite.batch.executors import Executor
from graphrewrite.batch.manifest import ModelSpec
from graphrewrite.batch.results import (
    CRASHED,
    OK,
    SKIPPED,
    Result,
    append_results,
    read_results,
    reusable,
    spec_key,
)


@attrs.frozen
class BatchReport:
    """Every model's result in manifest order, the wall time, and where the models ran."""

    results: tuple[Result, ...]
    seconds: float
    where: str

    @property
    def failed(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.status not in (OK, SKIPPED))

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for result in self.results:
            found[result.status] = found.get(result.status, 0) + 1
        return found


def version() -> str:
    """graphrewrite's version, part of every resume key."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("graphrewrite")
    except PackageNotFoundError:
        return "unknown"


def run_batch(
    models: Sequence[ModelSpec],
    output_dir: str | Path,
    executor: Executor,
    *,
    force: bool = False,
    on_result: Callable[[Result], None] | None = None,
) -> BatchReport:
    """Run *models* on *executor*, writing outputs and ``results.jsonl`` to *output_dir*.

    A model whose files, settings and graphrewrite version are unchanged since an ok result in
    *output_dir* is skipped (its earlier result is reported as ``skipped``) unless *force*.
    """
    start = time.perf_counter()
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_results(folder)
    keys = {m.name: spec_key(m, version()) for m in models}
    done = {} if force else _reused(models, keys, previous)
    todo = [m for m in models if m.name not in done]
    append_results(folder, [done[m.name] for m in models if m.name in done])
    for result in (done[m.name] for m in models if m.name in done):
        if on_result is not None:
            on_result(result)
    calls = [(m.to_json(), str(folder.resolve()), keys[m.name]) for m in todo]
    for index, outcome in executor.submit_all(calls):
        model = todo[index]
        if isinstance(outcome, BaseException):
            result = Result(model.name, CRASHED, keys[model.name], error=f"the executor lost the model: {outcome}")
        else:
            result = Result.from_json(outcome)
        done[model.name] = result
        append_results(folder, [result])
        if on_result is not None:
            on_result(result)
    ordered = tuple(done[m.name] for m in models)
    return BatchReport(ordered, time.perf_counter() - start, executor.description)


def _reused(models: Sequence[ModelSpec], keys: dict[str, str], previous: dict[str, Result]) -> dict[str, Result]:
    """The earlier results still valid for *models*, as ``skipped``."""
    return {
        m.name: attrs.evolve(previous[m.name], status=SKIPPED, seconds=0.0)
        for m in models
        if reusable(previous.get(m.name), keys[m.name])
    }
