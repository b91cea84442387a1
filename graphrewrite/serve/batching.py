"""Server-side batching: concurrent requests for one model run as one ``session.run``.

TF Serving's knobs with their meaning: a batch closes when it holds ``max_batch_size`` rows
or ``batch_timeout_micros`` after its first request arrived, whichever comes first. Requests
whose inputs differ past dimension 0 are never mixed; each request gets exactly its own rows
back. One thread runs the batches, so requests arriving while a batch runs form the next one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import attrs
import numpy as np

from graphrewrite.serve.status import ServeError

Feeds = Mapping[str, np.ndarray]
Outputs = dict[str, np.ndarray]


@attrs.frozen(kw_only=True)
class BatchOptions:
    """TF Serving's batching flags."""

    max_batch_size: int = 32
    batch_timeout_micros: int = 1000


@attrs.frozen
class _Job:
    feeds: Feeds
    rows: int
    future: Future = attrs.field(eq=False)

    @property
    def key(self) -> tuple:
        return tuple((k, v.shape[1:], v.dtype.str) for k, v in sorted(self.feeds.items()))


class DirectRunner:
    """No batching: each request runs on its own in a small thread pool."""

    def __init__(self, run: Callable[[Feeds], Outputs], *, threads: int = 4):
        self._run = run
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="graphrewrite-serve")

    def submit(self, feeds: Feeds) -> Future:
        return self._pool.submit(self._run, feeds)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Batcher:
    """Collects requests into batches and runs them on one thread."""

    def __init__(self, run: Callable[[Feeds], Outputs], *, options: BatchOptions):
        self._run = run
        self._options = options
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="graphrewrite-batcher", daemon=True)
        self._thread.start()

    def submit(self, feeds: Feeds) -> Future:
        future: Future = Future()
        rows = min((v.shape[0] if v.ndim else 1) for v in feeds.values())
        self._queue.put(_Job(feeds, rows, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            jobs, stopping = self._collect(first)
            for group in _groups(jobs, self._options.max_batch_size):
                self._run_group(group)

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, rows = [first], first.rows
        deadline = time.monotonic() + self._options.batch_timeout_micros / 1e6
        while rows < self._options.max_batch_size:
            try:
                job = self._queue.get(timeout=max(deadline - time.monotonic(), 0)) if time.monotonic() < deadline \
                    else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            rows += job.rows
        return jobs, False

    def _run_group(self, jobs: list[_Job]) -> None:
        if len(jobs) == 1:
            _settle(jobs[0].future, lambda: self._run(jobs[0].feeds))
            return
        feeds = {k: np.concatenate([j.feeds[k] for j in jobs]) for k in jobs[0].feeds}
        try:
            outputs = self._run(feeds)
        except ServeError:
            # One bad request must not fail its neighbours: run each alone for its own answer.
            for job in jobs:
                _settle(job.future, lambda job=job: self._run(job.feeds))
            return
        total = sum(j.rows for j in jobs)
        if any(v.ndim == 0 or v.shape[0] != total for v in outputs.values()):
            for job in jobs:
                _settle(job.future, lambda job=job: self._run(job.feeds))
            return
        start = 0
        for job in jobs:
            job.future.set_result({k: v[start:start + job.rows] for k, v in outputs.items()})
            start += job.rows


def _groups(jobs: list[_Job], limit: int) -> list[list[_Job]]:
    """Jobs with the same non-batch shapes together, in arrival order, at most *limit* rows each."""
    by_key: dict[tuple, list[list[_Job]]] = {}
    for job in jobs:
        chunks = by_key.setdefault(job.key, [[]])
        if chunks[-1] and sum(j.rows for j in chunks[-1]) + job.rows > limit:
            chunks.append([])
        chunks[-1].append(job)
    return [chunk for chunks in by_key.values() for chunk in chunks]


def _settle(future: Future, work: Callable[[], Outputs]) -> None:
    try:
        future.set_result(work())
    except BaseException as exc:  # delivered to the waiting request, never lost in this thread
        future.set_exception(exc)
