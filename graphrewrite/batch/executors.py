"""Where a batch's models run: a small interface, a local pool, and Dask.

An :class:`Executor` takes calls of :func:`~graphrewrite.batch.workers.run_warm` (plain
JSON-able arguments) and yields their results as they finish. Each thread that runs calls (a
local pool's thread, a Dask worker's thread) keeps one warm worker process of its own, which
imports TensorFlow once and runs models one at a time; a crashing or hanging model takes down
that worker (replaced for the next model), never the pool or the Dask worker.

Why Dask for clusters: it is pip-installable with no services to set up, its
``distributed.Client`` connects to an existing cluster by address (``tcp://host:8786``) or runs
one locally, and its futures API is the same few calls as ``concurrent.futures``. Ray would fit
the interface too; Dask needs less (no object store or runtime environment) for jobs whose
inputs and outputs are files on a shared disk. Another engine plugs in by implementing
``submit_all`` and ``close``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from graphrewrite.engine.errors import DependencyError, UsageError

Call = tuple[dict[str, Any], str, str]  # run_warm's (spec, output_dir, key)


class Executor(Protocol):
    """Runs calls of run_warm; yields ``(index, result or exception)`` as each finishes, and
    stops its workers on close."""

    description: str

    def submit_all(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict[str, Any] | BaseException]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A pool of *jobs* threads on this machine (default: one per core), each with a warm worker
    process replaced after *max_jobs* models."""

    def __init__(self, jobs: int | None = None, *, max_jobs: int | None = None):
        from graphrewrite.batch.workers import MAX_JOBS_PER_WORKER

        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.max_jobs = max_jobs or MAX_JOBS_PER_WORKER
        self.description = f"{self.jobs} local process{'es' if self.jobs > 1 else ''}"
        self._pool = concurrent.futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="graphrewrite-batch")

    def submit_all(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict[str, Any] | BaseException]]:
        from graphrewrite.batch.workers import run_warm

        futures = {self._pool.submit(run_warm, *call, self.max_jobs): i for i, call in enumerate(calls)}
        for future in concurrent.futures.as_completed(futures):
            exc = future.exception()
            yield futures[future], exc if exc is not None else future.result()

    def close(self) -> None:
        from graphrewrite.batch.workers import stop_workers

        self._pool.shutdown(wait=True, cancel_futures=True)
        stop_workers()


class DaskExecutor:
    """The models run on an existing Dask cluster; each Dask worker thread keeps a warm worker
    process of its own (TensorFlow imported once per Dask worker, not per model).

    Workers need graphrewrite (and TensorFlow) installed, and the model and output paths must
    be the same on every machine (a shared disk).
    """

    def __init__(self, address: str, *, max_jobs: int | None = None):
        from graphrewrite.batch.workers import MAX_JOBS_PER_WORKER

        self.max_jobs = max_jobs or MAX_JOBS_PER_WORKER
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

        from graphrewrite.batch.workers import run_warm

        futures = {
            self._client.submit(run_warm, *call, self.max_jobs, pure=False, key=f"graphrewrite-batch-{i}-{call[2][:12]}"): i
            for i, call in enumerate(calls)
        }
        for future in as_completed(list(futures)):
            index = futures[future]
            try:
                yield index, future.result()
            except Exception as exc:  # the worker died or lost the task: that model's result
                yield index, exc

    def close(self) -> None:
        from graphrewrite.batch.workers import stop_workers

        with contextlib.suppress(Exception):  # a cluster gone away has no workers to stop
            self._client.run(stop_workers)
        self._client.close()


def executor_for(*, jobs: int | None = None, scheduler: str | None = None, max_jobs: int | None = None) -> Executor:
    """The Dask executor for *scheduler* when given, else the local pool; workers are replaced
    after *max_jobs* models each."""
    return DaskExecutor(scheduler, max_jobs=max_jobs) if scheduler else LocalExecutor(jobs, max_jobs=max_jobs)
