"""``graphrewrite batch``: freeze, transform and verify many models on warm, isolated worker
processes (a failure, crash or timeout is recorded, the worker replaced, and the batch goes on),
resumable, on local cores or an existing Dask cluster (``--scheduler``). Exit 1 when any model
failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HEADER = ("model", "status", "nodes", "seconds", "max abs err", "error")
COLOURS = {"ok": "green", "skipped": "cyan", "failed": "red", "timeout": "yellow", "crashed": "magenta"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", metavar="MANIFEST_OR_GLOB",
                        help="a .toml/.yaml manifest, or a glob of models ('zoo/*.pb', 'exports/*')")  # fmt: skip
    parser.add_argument("--output_dir", required=True, help="where the transformed graphs and results.jsonl go")
    parser.add_argument("--transforms", help="the transform script for every model (default: the manifest's, "
                        "else the standard script); @FILE reads it from a file")  # fmt: skip
    parser.add_argument("--verify", choices=("true", "false"), help="check each result's numbers (default true)")
    parser.add_argument("--jobs", type=int, help="models at once on this machine (default: one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)")
    parser.add_argument("--timeout", type=float, help="seconds per model before it is stopped (default 600)")
    parser.add_argument("--memory_limit", type=int, metavar="MIB", help="memory cap of the worker process running a model, in MiB (default 8192)")
    parser.add_argument("--max_jobs_per_worker", type=int, metavar="N",
                        help="models a warm worker process runs before it is replaced (default 50)")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="rerun models an earlier run already did")
    parser.add_argument("--json", action="store_true", help="print one JSON line per model instead of the table")


def run(args: argparse.Namespace) -> int:
    from graphrewrite.batch.executors import executor_for
    from graphrewrite.batch.manifest import load_models
    from graphrewrite.batch.run import run_batch
    from graphrewrite.engine.errors import UsageError

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs={args.jobs}: give at least 1")
    if args.max_jobs_per_worker is not None and args.max_jobs_per_worker < 1:
        raise UsageError(f"--max_jobs_per_worker={args.max_jobs_per_worker}: give at least 1")
    transforms = _script(args.transforms)
    verify = None if args.verify is None else args.verify == "true"
    models = load_models(args.models, transforms=transforms, verify=verify, timeout=args.timeout,
                         memory_limit=args.memory_limit)  # fmt: skip
    executor = executor_for(jobs=args.jobs, scheduler=args.scheduler, max_jobs=args.max_jobs_per_worker)
    print(f"batch: {len(models)} model{'s' if len(models) != 1 else ''} on {executor.description}", file=sys.stderr)
    try:
        with _Progress(len(models), quiet=args.json) as progress:
            report = run_batch(models, args.output_dir, executor, force=args.force, on_result=progress.show)
    finally:
        executor.close()
    if args.json:
        for result in report.results:
            print(json.dumps(result.to_json(), sort_keys=True))
    elif sys.stdout.isatty():
        _rich_table(report)
    else:
        print(table(report))
    return 1 if report.failed else 0


def _script(text: str | None) -> str | None:
    if text is None or not text.startswith("@"):
        return text
    from pathlib import Path

    from graphrewrite.engine.errors import UsageError

    try:
        return Path(text[1:]).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--transforms: cannot read {text[1:]}: {exc.strerror}") from None


def _rows(report: Any) -> list[tuple[str, ...]]:
    rows = []
    for r in report.results:
        nodes = f"{r.nodes_before} -> {r.nodes_after}" if r.nodes_before is not None else ""
        err = "" if r.max_abs_err is None else f"{r.max_abs_err:.3g}"
        rows.append((r.name, r.status, nodes, f"{r.seconds:.1f}", err, r.error))
    return rows


def _summary(report: Any) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts().items()))
    return f"{len(report.results)} models in {report.seconds:.1f} s on {report.where}: {counts}"


def table(report: Any) -> str:
    """The results as an aligned table, then a one-line summary."""
    rows = [HEADER, *_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows]
    return "\n".join(line.rstrip() for line in [*lines, _summary(report)])


def _rich_table(report: Any) -> None:
    """The results as a rich table on a terminal (status in colour), then the summary line."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    grid = Table(*HEADER)
    for row in _rows(report):
        grid.add_row(*(Text(cell, style=COLOURS.get(cell, "") if i == 1 else "") for i, cell in enumerate(row)))
    console = Console()
    console.print(grid)
    console.print(_summary(report), markup=False, highlight=False)


class _Progress:
    """A line on stderr per finished model, under a progress bar when stderr is a terminal."""

    def __init__(self, total: int, *, quiet: bool):
        self.total, self.count, self.quiet = total, 0, quiet
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty() and not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("models"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)  # fmt: skip
            self._bar.__enter__()
            self._task = self._bar.add_task("models", total=self.total)
        return self

    def show(self, result: Any) -> None:
        self.count += 1
        line = f"[{self.count}/{self.total}] {result.name}: {result.status}" + (f" ({result.error})" if result.error else "")
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
            self._bar.update(self._task, advance=1)
        elif not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
