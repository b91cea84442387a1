"""A progress display on stderr for long runs: rich's, only when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import Any


class StepProgress:
    """``with StepProgress(n): ... advance(step_name, nodes)``; silent when not a terminal."""

    def __init__(self, total: int, *, enabled: bool = True):
        self._total = total
        self._enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> StepProgress:
        if self._enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self._progress.__enter__()
            self._task = self._progress.add_task("transforming", total=self._total)
        return self

    def advance(self, step: str, nodes: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=f"{step} ({nodes:,} nodes)")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
