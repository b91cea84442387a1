"""What a batch records per model: a :class:`Result`, one JSON line each in ``results.jsonl``,
keyed so that a rerun skips the models whose inputs, script and graphrewrite are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from graphrewrite.batch.manifest import ModelSpec

RESULTS_FILE = "results.jsonl"
OK, FAILED, TIMEOUT, CRASHED, SKIPPED = "ok", "failed", "timeout", "crashed", "skipped"


@attrs.frozen
class Result:
    """One model's outcome. ``status``: ok, failed (a clear error, or verification failed),
    timeout, crashed (the child died: a segfault, the memory cap), skipped (unchanged since an
    earlier run whose result is reused)."""

    name: str
    status: str
    key: str = ""
    seconds: float = 0.0
    nodes_before: int | None = None
    nodes_after: int | None = None
    output: str | None = None
    verified: bool | None = None  # None: not verified
    max_abs_err: float | None = None
    error: str = ""
    worker: int | None = None  # the pid of the process that ran it (several share a warm one)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Result:
        known = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def spec_key(spec: ModelSpec, version: str) -> str:
    """A digest of everything a model's result depends on: its files' bytes, its settings
    (script, names, verify) and the graphrewrite version."""
    digest = hashlib.sha256()
    settings = {k: v for k, v in spec.to_json().items() if k not in ("timeout", "memory_limit")}
    digest.update(json.dumps({"spec": settings, "version": version}, sort_keys=True).encode())
    for path in _files(Path(spec.path)) + (_files(Path(spec.checkpoint).parent) if spec.checkpoint else []):
        digest.update(str(path).encode())
        digest.update(_file_digest(path))
    return digest.hexdigest()[:32]


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path] if path.exists() else []


def _file_digest(path: Path) -> bytes:
    """The bytes of a regular file; for anything else (a named pipe, a socket, a device) its
    type and size, without opening it: reading a pipe nobody writes would block the batch."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        return f"{stat.S_IFMT(info.st_mode)}:{info.st_size}".encode()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def read_results(folder: Path) -> dict[str, Result]:
    """The latest result per model name from ``results.jsonl`` in *folder* (none: empty)."""
    found: dict[str, Result] = {}
    path = folder / RESULTS_FILE
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            result = Result.from_json(json.loads(line))
        except (ValueError, TypeError):
            continue  # a line cut short by a killed run
        found[result.name] = result
    return found


def reusable(previous: Result | None, key: str) -> bool:
    """An earlier ok (or reused) result for the same key whose output file is still there."""
    if previous is None or previous.status not in (OK, SKIPPED) or previous.key != key:
        return False
    return bool(previous.output) and os.path.exists(previous.output or "")


def append_results(folder: Path, results: Iterable[Result]) -> None:
    """Add *results* to ``results.jsonl`` (one line each, flushed as they come)."""
    with (folder / RESULTS_FILE).open("a", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps(result.to_json(), sort_keys=True) + "\n")
            handle.flush()
