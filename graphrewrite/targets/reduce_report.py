"""The files and the one-screen report of a ``reduce`` run: what failed, on what, and how to
make it fail again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from graphrewrite.targets.failures import Check
from graphrewrite.targets.reduce import Reduction

SHOWN_NAMES = 6  # inputs and outputs listed by name; more are counted


@attrs.frozen
class Files:
    graph: str
    inputs: str


def write(result: Reduction, out_graph: Path) -> Files:
    """The reduced graph at *out_graph* and its input values beside it (.npz), both atomic."""
    from graphrewrite import io
    from graphrewrite.inputs import save_npz

    npz = out_graph.with_suffix(".npz")
    save_npz(npz, result.candidate.feeds)
    io.save_graph(result.candidate.graph_def, out_graph)
    return Files(str(out_graph), str(npz))


def _tensor(name: str, value: Any) -> str:
    spec = _spec(value)
    return f"{name} [{','.join(map(str, spec['shape']))}] {spec['dtype']}"


def _spec(value: Any) -> dict[str, Any]:
    array = np.asarray(value)
    return {"shape": list(array.shape), "dtype": str(array.dtype)}


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN_NAMES])
    return (
        shown + (f" and {len(items) - SHOWN_NAMES} more" if len(items) > SHOWN_NAMES else "")
        if items
        else "none"
    )


def render(result: Reduction, check: Check, graph_path: str, files: Files) -> str:
    """A screenful: sizes, the check and its failure, the subgraph's ops and ends, the files,
    and the commands that show the failure again."""
    candidate = result.candidate
    ops = Counter(node.op for node in candidate.graph_def.node)
    lines = [
        f"reduced {graph_path}: {result.original_nodes:,} nodes -> {candidate.size:,} "
        f"in {result.checks} checks ({result.seconds:.1f} s)",
        f"check:     {check.description}",
        f"failure:   {result.failure}",
        f"ops:       {', '.join(f'{op} x{n}' if n > 1 else op for op, n in sorted(ops.items()))}",
        f"inputs:    {_listed([_tensor(n, candidate.feeds[n]) for n in candidate.inputs])}",
        f"outputs:   {_listed(list(candidate.outputs))}",
        f"wrote:     {files.graph} (the subgraph), {files.inputs} (its input values)",
        "reproduce:",
        *(f"  {line}" for line in check.reproduce(files.graph, files.inputs, candidate).splitlines()),
    ]
    if result.exhausted:
        lines.append(
            f"note: stopped after {result.checks} checks (--max_checks); a longer search may shrink it further"
        )
    return "\n".join(lines)


def as_json(result: Reduction, check: Check, graph_path: str, files: Files) -> dict[str, Any]:
    """The report as one JSON object for tools."""
    candidate = result.candidate
    return {
        "graph": graph_path,
        "nodes_before": result.original_nodes,
        "nodes_after": candidate.size,
        "checks": result.checks,
        "seconds": round(result.seconds, 3),
        "exhausted": result.exhausted,
        "check": check.description,
        "failure": {"kind": result.failure.kind, "message": result.failure.message},
        "ops": sorted(node.op for node in candidate.graph_def.node),
        "inputs": {n: _spec(candidate.feeds[n]) for n in candidate.inputs},
        "outputs": list(candidate.outputs),
        "files": {"graph": files.graph, "inputs": files.inputs},
        "reproduce": check.reproduce(files.graph, files.inputs, candidate).splitlines(),
    }
