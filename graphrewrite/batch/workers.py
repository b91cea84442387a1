"""Warm, isolated workers: a long-lived child process (``python -m graphrewrite.batch.worker``)
that imports TensorFlow once and runs one model at a time, sent to it as a JSON line, so that
whatever a model does (hangs on a stalled file system, exhausts memory, crashes TensorFlow)
becomes a result and the batch goes on.

Isolation is kept: the child runs in a session of its own under the model's memory cap
(RLIMIT_AS); a model that outlives its timeout gets the child's whole process group killed; a
child that dies (a segfault, ``os._exit``, the memory cap) is that model's ``crashed`` result.
A worker is replaced after any result other than ok (its interpreter may be poisoned), after
*max_jobs* models (to bound leaks), and when a model asks for a different memory cap.

:func:`run_warm` is a plain function of JSON-able values, so an executor can run it anywhere
graphrewrite is installed: each thread that calls it (a local pool's thread, a Dask worker's
thread) keeps one warm worker of its own, started on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from graphrewrite.batch.manifest import ModelSpec
from graphrewrite.batch.results import CRASHED, OK, TIMEOUT, Result

MEMORY_SIGNS = ("MemoryError", "failed to map segment", "std::bad_alloc", "Cannot allocate memory", "ResourceExhaustedError", "OOM")
MAX_JOBS_PER_WORKER = 50
STARTUP_TIMEOUT = 300.0  # seconds for a fresh worker to import TensorFlow
_LOCAL = threading.local()
_ALL: set[Worker] = set()
_ALL_LOCK = threading.Lock()


class _Died(Exception):
    """The worker's process ended (or said nothing) before answering."""


class _TimedOut(Exception):
    """The worker did not answer in time."""


class Worker:
    """One warm child process under a memory cap of *memory_limit* MiB (0: none)."""

    def __init__(self, memory_limit: int):
        self.memory_limit = memory_limit
        self.jobs = 0
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the worker; stop() closes it)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "graphrewrite.batch.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            start_new_session=True, preexec_fn=_memory_cap(memory_limit),
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )  # fmt: skip
        self.pid = self._process.pid
        self._buffer = b""
        self._ready = False
        with _ALL_LOCK:
            _ALL.add(self)

    def run(self, spec: ModelSpec, job: dict[str, Any], key: str) -> dict[str, Any]:
        """The model's result as JSON; a timeout or a crash kills the worker and is the result."""
        start = time.perf_counter()
        try:
            self._start()
            self._send(job)
            result = dict(json.loads(self._read_line(spec.timeout)))
        except _TimedOut:
            self.stop()
            error = f"timed out after {spec.timeout:g} s"
            return Result(spec.name, TIMEOUT, key, time.perf_counter() - start, error=error, worker=self.pid).to_json()
        except (_Died, ValueError):
            reason = _crash_reason(self._exit_code(), self._stderr_text(), spec)
            self.stop()
            return Result(spec.name, CRASHED, key, time.perf_counter() - start, error=reason, worker=self.pid).to_json()
        self.jobs += 1
        return {**result, "worker": self.pid}

    def _start(self) -> None:
        """Wait for a fresh worker's ``ready`` (TensorFlow imported); too long is a crash."""
        if self._ready:
            return
        try:
            self._read_line(STARTUP_TIMEOUT)
        except _TimedOut:
            raise _Died from None
        self._ready = True

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """Kill the worker's process group and release its files."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._stderr):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        with _ALL_LOCK:
            _ALL.discard(self)

    def _send(self, job: dict[str, Any]) -> None:
        try:
            self._process.stdin.write(json.dumps(job).encode() + b"\n")  # type: ignore[union-attr]
            self._process.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            raise _Died from None

    def _read_line(self, timeout: float) -> bytes:
        """The worker's next line on its stdout, within *timeout* seconds."""
        deadline = time.monotonic() + timeout
        fd = self._process.stdout.fileno()  # type: ignore[union-attr]
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut
            readable, _, _ = select.select([fd], [], [], left)
            if readable:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise _Died
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _exit_code(self) -> int:
        try:
            return self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return 1  # said something unreadable but still running

    def _stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-20000:].decode(errors="replace")


def run_warm(spec_json: dict[str, Any], output_dir: str, key: str, max_jobs: int = MAX_JOBS_PER_WORKER) -> dict[str, Any]:
    """Run one model on this thread's warm worker (started, or replaced, as needed)."""
    spec = ModelSpec.from_json(spec_json)
    worker: Worker | None = getattr(_LOCAL, "worker", None)
    if worker is not None and (not worker.alive or worker.memory_limit != spec.memory_limit or worker.jobs >= max_jobs):
        worker.stop()
        worker = None
    if worker is None:
        worker = _LOCAL.worker = Worker(spec.memory_limit)
    result = worker.run(spec, {"spec": spec_json, "output_dir": output_dir, "key": key}, key)
    if result.get("status") != OK:
        worker.stop()  # a crash, a timeout or an error: the next model gets a fresh interpreter
        _LOCAL.worker = None
    return result


def _memory_cap(megabytes: int) -> Any:
    """A pre-exec function setting RLIMIT_AS to *megabytes* (None: no cap)."""

    def limit() -> None:
        import resource

        cap = megabytes << 20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return limit if megabytes > 0 and sys.platform != "win32" else None


def _crash_reason(code: int, stderr: str, spec: ModelSpec) -> str:
    """One line: the signal or exit code, and the last line the worker wrote."""
    if any(sign in stderr for sign in MEMORY_SIGNS):
        return f"ran out of memory (limit {spec.memory_limit} MiB)"
    what = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"the model's process {what}" + (f": {last}" if last else "")


def stop_workers() -> int:
    """Stop every worker this process started; how many there were."""
    with _ALL_LOCK:
        workers = list(_ALL)
    for worker in workers:
        worker.stop()
    return len(workers)


atexit.register(stop_workers)
