"""The performance targets graphrewrite is held to, checked against one benchmark run.

Each check returns lines ``PASS|FAIL|n/a  target: detail``; "n/a" means the run did not
include what the target needs (e.g. ``--quick`` has no 170k-node chain).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.anchors import ANCHORS
from benchmarks.inputs import NODES_PER_BLOCK as NODES_PER_INPUT_BLOCK
from benchmarks.report import CliTiming, Measurement

PRODUCT = "graphrewrite"
MAX_GRAPPLER_RATIO = 0.5
MAX_GTT_RATIO = 1.0
BIG_CHAIN = "chain_170k"
SMALL_CHAIN = "chain_17k"
BIG_CHAIN_SECONDS = 3.0
NODES_PER_BLOCK = 5
MAX_PER_NODE_GROWTH = 1.2  # issue 13 (an earlier issue allowed 1.3)
MAX_MEMORY_FACTOR = 3.0
MAX_CLI_SECONDS = 0.5


def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def _find(rows: Sequence[Measurement], graph: str, tool: str) -> Measurement | None:
    return next((m for m in rows if m.graph == graph and m.tool == tool), None)


def _graphs(rows: Sequence[Measurement]) -> list[str]:
    return list(dict.fromkeys(m.graph for m in rows))


def node_counts(rows: Sequence[Measurement]) -> list[str]:
    """On every model: graphrewrite's nodes after <= the best anchor's (correct ones only)."""
    out = []
    for graph in (g for g in _graphs(rows) if not g.startswith("chain_")):
        ours = _find(rows, graph, PRODUCT)
        anchors = [m for m in rows if m.graph == graph and m.tool in ANCHORS and m.ok]
        if ours is None or not ours.ok or not anchors:
            why = "graphrewrite failed or mismatched" if ours is not None else "not run"
            out.append(f"{_verdict(None if ours is None or not anchors else False)}  nodes {graph}: {why}")
            continue
        best = min(anchors, key=lambda m: m.nodes_after or 0)
        ok = (ours.nodes_after or 0) <= (best.nodes_after or 0)
        out.append(f"{_verdict(ok)}  nodes {graph}: {ours.nodes_after} vs best anchor {best.tool} {best.nodes_after}")
    return out


def speed(rows: Sequence[Measurement]) -> list[str]:
    """On every input: graphrewrite's time <= 0.5x grappler's and <= GTT's."""
    out = []
    for graph in _graphs(rows):
        ours = _find(rows, graph, PRODUCT)
        for anchor, limit in (("grappler", MAX_GRAPPLER_RATIO), ("gtt", MAX_GTT_RATIO)):
            other = _find(rows, graph, anchor)
            if ours is None or other is None or not other.seconds:
                continue
            if ours.seconds is None:
                out.append(f"FAIL  time {graph} vs {anchor}: graphrewrite failed")
                continue
            ratio = ours.seconds / other.seconds
            out.append(
                f"{_verdict(ratio <= limit)}  time {graph}: {ours.seconds:.3f} s = {ratio:.2f}× {anchor} "
                f"({other.seconds:.3f} s; target <= {limit}×){_cpu_ratio(ours, other)}"
            )
    return out


def _cpu_ratio(ours: Measurement, other: Measurement) -> str:
    """The same ratio on CPU time: what the wall ratio would be on an idle machine, for
    single-threaded tools (a hint, not the target)."""
    a, b = ours.result.get("cpu_seconds"), other.result.get("cpu_seconds")
    return f" [cpu {a / b:.2f}×]" if a and b else ""


def big_chain(rows: Sequence[Measurement]) -> list[str]:
    """On the 170k-node chain: <= 3 s and <= 5 nodes per block; time per node grows <= 1.2x
    from the 17k chain."""
    big, small = _find(rows, BIG_CHAIN, PRODUCT), _find(rows, SMALL_CHAIN, PRODUCT)
    if big is None or big.seconds is None or not big.blocks:
        return [f"n/a   {BIG_CHAIN}: not run or failed"]
    # The chain's two boundary nodes (input, output) belong to no block.
    boundary = big.nodes_before - NODES_PER_INPUT_BLOCK * big.blocks
    per_block = ((big.nodes_after or 0) - boundary) / big.blocks
    out = [
        f"{_verdict(big.seconds <= BIG_CHAIN_SECONDS)}  {BIG_CHAIN} time: {big.seconds:.2f} s (target <= {BIG_CHAIN_SECONDS} s)",
        f"{_verdict(per_block <= NODES_PER_BLOCK)}  {BIG_CHAIN} nodes per block: {per_block:.2f} (target <= {NODES_PER_BLOCK})",
    ]
    if small is not None and small.seconds:
        growth = (big.seconds / big.nodes_before) / (small.seconds / small.nodes_before)
        out.append(
            f"{_verdict(growth <= MAX_PER_NODE_GROWTH)}  time per node {SMALL_CHAIN} -> {BIG_CHAIN}: "
            f"×{growth:.2f} (target <= {MAX_PER_NODE_GROWTH})"
        )
    return out


def memory(rows: Sequence[Measurement]) -> list[str]:
    """On every input: graphrewrite's peak RSS above the TF import <= 3x the input file."""
    out = []
    for m in (m for m in rows if m.tool == PRODUCT and "error" not in m.result):
        peak = m.result.get("peak_bytes", -1)
        if peak < 0:
            out.append(f"n/a   memory {m.graph}: not measurable here")
            continue
        factor = peak / m.file_bytes
        out.append(
            f"{_verdict(factor <= MAX_MEMORY_FACTOR)}  memory {m.graph}: {peak / 2**20:.1f} MiB = "
            f"{factor:.2f}× the {m.file_bytes / 2**20:.1f} MiB input (target <= {MAX_MEMORY_FACTOR}×)"
        )
    return out


def cli(timings: Sequence[CliTiming]) -> list[str]:
    out = []
    for t in timings:
        if t.seconds is None:
            out.append(f"FAIL  `{t.command}`: {t.error}")
        else:
            out.append(f"{_verdict(t.seconds < MAX_CLI_SECONDS)}  `{t.command}`: {t.seconds:.3f} s (target < {MAX_CLI_SECONDS} s)")
    return out


def check_all(rows: Sequence[Measurement], timings: Sequence[CliTiming]) -> list[str]:
    """Every target, in the order the issue lists them."""
    return [*node_counts(rows), *speed(rows), *big_chain(rows), *memory(rows), *cli(timings)]
