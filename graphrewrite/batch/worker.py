"""The warm worker's child process (``python -m graphrewrite.batch.worker``): imports
TensorFlow once, says ``ready``, then runs one model per JSON line on stdin and answers each
with its result as one JSON line. Anything else the libraries print goes to stderr, so the
answers cannot be corrupted; stdin closing (the parent gone) ends the worker.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    """Serve jobs until stdin closes."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints from TensorFlow or a model go to stderr
    from graphrewrite.batch.job import run_job
    from graphrewrite.batch.manifest import ModelSpec
    from graphrewrite.engine.collector import allow_pausing

    allow_pausing()  # this process is ours: the engine may pause the GC around big rewrites
    import tensorflow  # noqa: F401  (here, so that the memory cap failing it is a crash, not a result)

    answers.write("ready\n")
    answers.flush()
    for line in sys.stdin:
        job = json.loads(line)
        result = run_job(ModelSpec.from_json(job["spec"]), job["output_dir"], job["key"])
        answers.write(json.dumps({**result.to_json(), "worker": os.getpid()}) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
