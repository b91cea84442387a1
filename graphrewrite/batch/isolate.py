"""One model in a child process (``python -m graphrewrite.batch.isolate``), with a timeout and
a memory cap, so that whatever it does (hangs on a stalled file system, exhausts memory, crashes
TensorFlow) becomes a :class:`Result` and the batch goes on.

The parent sends the job as JSON on the child's stdin; the child prints its result as the last
line of its stdout. The child runs in a session of its own, so a timeout kills everything it
started. :func:`run_isolated` is a plain function of JSON-able values: an executor (a local
thread, a Dask worker) can run it anywhere graphrewrite is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from graphrewrite.batch.manifest import ModelSpec
from graphrewrite.batch.results import CRASHED, TIMEOUT, Result

MEMORY_SIGNS = ("MemoryError", "failed to map segment", "std::bad_alloc", "Cannot allocate memory", "ResourceExhaustedError", "OOM")


def run_isolated(spec_json: dict[str, Any], output_dir: str, key: str) -> dict[str, Any]:
    """Run one model in a child process; its Result as JSON (timeouts and crashes included)."""
    spec = ModelSpec.from_json(spec_json)
    start = time.perf_counter()
    job = json.dumps({"spec": spec_json, "output_dir": output_dir, "key": key})
    child = subprocess.Popen(
        [sys.executable, "-m", "graphrewrite.batch.isolate"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_limit_memory(spec.memory_limit),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    try:
        out, err = child.communicate(job, timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        _kill(child)
        error = f"timed out after {spec.timeout:g} s"
        return Result(spec.name, TIMEOUT, key, time.perf_counter() - start, error=error).to_json()
    lines = out.strip().splitlines()
    if child.returncode == 0 and lines:
        try:
            return dict(json.loads(lines[-1]))
        except ValueError:
            pass
    return Result(spec.name, CRASHED, key, time.perf_counter() - start, error=_crash_reason(child.returncode, err, spec)).to_json()


def _limit_memory(megabytes: int) -> Any:
    def limit() -> None:
        import resource

        cap = megabytes << 20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return limit if megabytes > 0 and sys.platform != "win32" else None


def _kill(child: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate()


def _crash_reason(code: int, stderr: str, spec: ModelSpec) -> str:
    """One line: the signal or exit code, and the last line the child wrote."""
    if any(sign in stderr for sign in MEMORY_SIGNS):
        return f"ran out of memory (limit {spec.memory_limit} MiB)"
    what = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"the model's process {what}" + (f": {last}" if last else "")


def _main() -> int:
    from graphrewrite.batch.job import run_job
    from graphrewrite.engine.collector import allow_pausing

    allow_pausing()  # this process is ours: the engine may pause the GC around big rewrites
    import tensorflow  # noqa: F401  (here, so that the memory cap failing it is a crash, not a result)
    job = json.loads(sys.stdin.read())
    result = run_job(ModelSpec.from_json(job["spec"]), job["output_dir"], job["key"])
    sys.stdout.write("\n" + json.dumps(result.to_json()) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
