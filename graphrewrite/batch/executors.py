"""Where a batch's models run: a small interface, a local pool, and Dask.

An :class:`Executor` takes calls of :func:`~graphrewrite.batch.isolate.run_isolated` (plain
JSON-able arguments) and yields their results as they finish. Each call starts the model in a
child process wherever it runs, so the pool's threads, or a Dask worker, only wait on it: a
crashing model takes down its child, never the worker.

Why Dask for clusters: it is pip-installable with no services to set up, its
``distributed.Client`` connects to an existing cluster by address (``tcp://host:8786``) or runs
one locally, and its futures API is the same few calls as ``concurrent.futures``. Ray would fit
the interface too; Dask needs less (no object store or runtime environment) for jobs whose
inputs and outputs are files on a shared disk. Another engine plugs in by implementing
``submit_all``.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from graphrewrite.engine.errors import DependencyError, UsageError

Call = tuple[dict[str, Any], str, str]  # run_isolated's (spec, output_dir, key)


class Executor(Protocol):
    """Runs calls of run_isolated; yields ``(index, result or exception)`` as each finishes."""

    description: str

    def submit_all(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict[str, Any] | BaseException]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A pool of *jobs* threads on this machine (default: one per core), each waiting on its
    model's child process."""

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.description = f"{self.jobs} local process{'es' if self.jobs > 1 else ''}"
        self._pool = concurrent.futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="graphrewrite-batch")

    def submit_all(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict[str, Any] | BaseException]]:
        from graphrewrite.batch.isolate import run_isolated

        futures = {self._pool.submit(run_isolated, *call): i for i, call in enumerate(calls)}
        for future in concurrent.futures.as_completed(futures):
            exc = future.exception()
            yield futures[future], exc if exc is not None else future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """The models run on an existing Dask cluster; each worker runs its model's child process.

    Workers need graphrewrite (and TensorFlow) installed, and the model and output paths must
    be the same on every machine (a shared disk).
    """

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ModuleNotFoundError:
            raise DependencyError("--scheduler needs Dask: pip install 'graphrewrite[batch]'") from None
        try:
            self._client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--scheduler: cannot reach the Dask scheduler at {address}: {exc}") from None
        workers = len(self._client.scheduler_info().get("workers", {}))
        self.description = f"the Dask cluster at {address} ({workers} worker{'s' if workers != 1 else ''})"

    def submit_all(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict[str, Any] | BaseException]]:
        from distributed import as_completed

        from graphrewrite.batch.isolate import run_isolated

        futures = {
            self._client.submit(run_isolated, *call, pure=False, key=f"graphrewrite-batch-{i}-{call[2][:12]}"): i
            for i, call in enumerate(calls)
        }
        for future in as_completed(list(futures)):
            index = futures[future]
            try:
                yield index, future.result()
            except Exception as exc:  # the worker died or lost the task: that model's result
                yield index, exc

    def close(self) -> None:
        self._client.close()


def executor_for(*, jobs: int | None = None, scheduler: str | None = None) -> Executor:
    """The Dask executor for *scheduler* when given, else the local pool."""
    return DaskExecutor(scheduler) if scheduler else LocalExecutor(jobs)
