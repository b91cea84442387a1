"""What counts as a failure, for ``reduce``: the checks a candidate subgraph is put through.

A check takes a :class:`~graphrewrite.targets.cut.Candidate` and returns the :class:`Failure`
it shows, or None when it passes. Three kinds of check:

- :class:`TransformCheck`: a transform script (with the user's rule files) changes the numbers,
  fails, or makes a graph TensorFlow cannot run. The classic "my rule is wrong".
- :class:`TargetCheck`: a deployment runtime refuses the graph or disagrees with TensorFlow.
- :class:`CommandCheck`: any shell command, given the candidate's files, exits non-zero.

A candidate that TensorFlow itself cannot run is ``invalid``: the cut broke it, and it never
counts as the failure being reduced.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from graphrewrite.engine.errors import GraphError, GraphRewriteError, UsageError
from graphrewrite.targets.cut import Candidate
from graphrewrite.verification import OutputCheck

INVALID = "invalid"


@attrs.frozen
class Failure:
    """How a candidate failed: a kind (``mismatch``, ``transform error``, ``run error``,
    ``load``, ``exit``, ``timeout``) and the one-line message that goes with it."""

    kind: str
    message: str
    output: str = attrs.field(default="", eq=False, repr=False)  # all a command printed, for --match

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class Check(Protocol):
    """Puts a candidate through the failing step; says how to do it again by hand."""

    description: str

    def __call__(self, candidate: Candidate) -> Failure | None: ...

    def reproduce(self, graph: str, inputs: str, candidate: Candidate) -> str: ...


def _mismatch(checks: Sequence[OutputCheck]) -> Failure | None:
    bad = [c for c in checks if not c.ok]
    if not bad:
        return None
    shown = "; ".join(
        f"{c.name} max abs err {c.max_abs:.3g}" + (f" ({c.note})" if c.note else "") for c in bad[:3]
    )
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return Failure("mismatch", f"{len(bad)} of {len(checks)} outputs differ: {shown}{more}")


def _names(names: Sequence[str]) -> str:
    return ",".join(names)


@attrs.frozen
class TransformCheck:
    """Fails when the transformed candidate differs from the candidate (or cannot be made or run)."""

    script: str
    steps: tuple[Any, ...] = attrs.field(eq=False)  # the script compiled against the standard and given rules
    rule_files: tuple[str, ...] = ()
    rtol: float | None = None
    atol: float | None = None

    @classmethod
    def compile(
        cls,
        script: str,
        rule_files: Sequence[str] = (),
        *,
        rtol: float | None = None,
        atol: float | None = None,
    ) -> TransformCheck:
        """Compile *script* once (a LanguageError, with carets, when it is wrong)."""
        from graphrewrite.pipeline import compile_pipeline

        steps = compile_pipeline(script, rule_files=rule_files)
        return cls(script, steps, tuple(rule_files), rtol, atol)

    @property
    def description(self) -> str:
        return f"transform --transforms={shlex.quote(self.script)}" + "".join(
            f" --rules={f}" for f in self.rule_files
        )

    def __call__(self, candidate: Candidate) -> Failure | None:
        from graphrewrite.pipeline import checker_for, run_pipeline

        if not candidate.outputs:
            return None
        try:  # runs the candidate once: the reference, judged as the steps allow (lossy or not)
            checker = checker_for(
                candidate.graph_def, self.steps, inputs=candidate.inputs, outputs=candidate.outputs,
                rtol=self.rtol, atol=self.atol, feeds=candidate.feeds,
            )  # fmt: skip
        except GraphError as exc:
            return Failure(INVALID, str(exc))
        try:
            result = run_pipeline(
                candidate.graph_def, self.steps, inputs=candidate.inputs, outputs=candidate.outputs
            )
        except GraphRewriteError as exc:
            return Failure("transform error", str(exc).splitlines()[0])
        try:
            report = checker(result.graph_def)
        except GraphRewriteError as exc:
            return Failure("run error", str(exc))
        return _mismatch(report.outputs)

    def reproduce(self, graph: str, inputs: str, candidate: Candidate) -> str:
        transformed = str(Path(graph).with_suffix("")) + ".transformed.pb"
        io_flags = f"--inputs={_names(candidate.inputs)} --outputs={_names(candidate.outputs)}"
        rules = "".join(f" --rules={shlex.quote(f)}" for f in self.rule_files)
        return (
            f"graphrewrite transform --in_graph={graph} {io_flags} --transforms={shlex.quote(self.script)}{rules} "
            f"--out_graph={transformed}\n"
            f"graphrewrite verify {graph} {transformed} {io_flags} --input_file={inputs}"
        )


@attrs.frozen
class TargetCheck:
    """Fails when a deployment runtime refuses the candidate, cannot run it, or disagrees with TF."""

    target: str
    rtol: float = 1e-3
    atol: float = 1e-4

    @property
    def description(self) -> str:
        return f"compare --target={self.target}"

    def __call__(self, candidate: Candidate) -> Failure | None:
        from graphrewrite.targets import runtimes
        from graphrewrite.targets.compare import compare_targets

        if not candidate.outputs:
            return None
        try:
            report = compare_targets(
                candidate.graph_def, [self.target], inputs=candidate.inputs, outputs=candidate.outputs,
                feeds=candidate.feeds, rtol=self.rtol, atol=self.atol,
            )  # fmt: skip
        except (runtimes.LoadError, runtimes.RunError, GraphError) as exc:  # TensorFlow itself refused
            return Failure(INVALID, str(exc))
        (result,) = report.results
        if not result.loaded:
            return Failure("load", _one_line(result.error))
        if result.error:
            return Failure("run error", _one_line(result.error))
        return _mismatch(result.outputs)

    def reproduce(self, graph: str, inputs: str, candidate: Candidate) -> str:
        return (
            f"graphrewrite compare {graph} --target={self.target} --inputs={_names(candidate.inputs)} "
            f"--outputs={_names(candidate.outputs)} --input_file={inputs}"
        )


PLACES = ("{graph}", "{inputs}", "{input_names}", "{output_names}")


@attrs.frozen
class CommandCheck:
    """Fails when a shell command exits non-zero (or runs longer than *timeout* seconds).

    The command names the candidate through ``{graph}`` (the .pb), ``{inputs}`` (an .npz of
    its input values), ``{input_names}`` and ``{output_names}`` (comma-separated).
    """

    command: str
    timeout: float = 300.0

    def __attrs_post_init__(self) -> None:
        if "{graph}" not in self.command:
            raise UsageError(
                f"--command must name the graph as {{graph}}; it can also use {', '.join(PLACES[1:])}"
            )

    @property
    def description(self) -> str:
        return f"command {self.command!r}"

    def __call__(self, candidate: Candidate) -> Failure | None:
        from graphrewrite.inputs import save_npz

        with tempfile.TemporaryDirectory(prefix="graphrewrite-reduce-") as folder:
            graph, inputs = Path(folder, "candidate.pb"), Path(folder, "candidate.npz")
            graph.write_bytes(candidate.graph_def.SerializeToString(deterministic=True))
            save_npz(inputs, candidate.feeds)
            return self._run(self.format(str(graph), str(inputs), candidate))

    def format(self, graph: str, inputs: str, candidate: Candidate) -> str:
        values = (graph, inputs, _names(candidate.inputs), _names(candidate.outputs))
        text = self.command
        for place, value in zip(PLACES, values, strict=True):
            text = text.replace(place, shlex.quote(value))
        return text

    def _run(self, command: str) -> Failure | None:
        process = subprocess.Popen(
            ["sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return Failure("timeout", f"still running after {self.timeout:g} s")
        if process.returncode == 0:
            return None
        text_out, text_err = out.decode(errors="replace"), err.decode(errors="replace")
        said = _one_line(text_err) or _one_line(text_out)
        message = f"exit status {process.returncode}" + (f": {said}" if said else "")
        return Failure("exit", message, output=f"{text_out}\n{text_err}")

    def reproduce(self, graph: str, inputs: str, candidate: Candidate) -> str:
        return self.format(graph, inputs, candidate)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The command and everything it started: a hung child must not outlive the check."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _one_line(text: str) -> str:
    """The last non-empty line: where tools put the reason they failed."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
