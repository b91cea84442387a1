"""Smoke tests for the benchmark harness (benchmarks/): it builds inputs, runs tools, checks
outputs and prints a table on a tiny chain. No timing is asserted here; timing lives in
``python -m benchmarks.run``."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from benchmarks import anchors, inputs, report, targets
from benchmarks.run import Runner, benchmark, render

TINY = "chain_3b"


def _gtt_available() -> bool:
    try:
        from tensorflow.python.util import _pywrap_transform_graph  # noqa: F401
    except ImportError:
        return False
    return True


def test_chain_has_17_nodes_per_block_and_the_issue_ops():
    graph_def = inputs.chain_graph_def(3)
    assert len(graph_def.node) == 17 * 3 + 2
    ops = collections.Counter(n.op for n in graph_def.node)
    assert ops["MatMul"] == ops["BiasAdd"] == ops["Relu"] == ops["Sum"] == 3
    assert ops["Identity"] == 2 * 3 + 1  # c_read and add_read per block, plus the output
    assert graph_def.node[0].name == "input" and graph_def.node[-1].name == "output"


def test_spec_named_reads_chain_sizes_and_rejects_unknown_names():
    assert inputs.spec_named("chain_170k").blocks == 10_000
    assert inputs.spec_named("chain_7b").blocks == 7
    with pytest.raises(ValueError, match="unknown benchmark input 'nope'"):
        inputs.spec_named("nope")


def test_benchmark_in_process_runs_every_tool_and_a_broken_tool_fails_one_cell(tmp_path, monkeypatch):
    def broken(graph_def, inputs_, outputs, transforms):
        raise RuntimeError("boom")

    monkeypatch.setitem(anchors.TOOLS, "broken", broken)
    tools = ["broken", "grappler", "ofi", "gtt", "graphrewrite"]
    rows = benchmark(
        [inputs.spec_named(TINY)], tools, cache_dir=tmp_path / "cache", work_dir=tmp_path,
        runner=Runner(in_process=True),
    )
    assert [m.tool for m in rows] == tools
    by_tool = {m.tool: m for m in rows}
    assert by_tool["broken"].result["error"] == "RuntimeError: boom"
    checked = ["grappler", "ofi"] + (["gtt"] if _gtt_available() else [])
    for tool in checked:
        m = by_tool[tool]
        assert m.ok, (tool, m.result)
        assert 0 < m.nodes_after < m.nodes_before == 53
        assert m.result["max_rel_err"] <= report.MISMATCH_REL
    assert (tmp_path / "cache" / f"{TINY}.v{inputs.VERSION}.pb").is_file()
    text = render(rows, [], anchors.STANDARD_PIPELINE)
    assert "| chain_3b | 53 | broken | failed: RuntimeError: boom |" in text
    assert "- chain_3b / broken: RuntimeError: boom" in text
    ours = by_tool["graphrewrite"]
    assert ours.ok or f"- chain_3b / graphrewrite: {ours.result.get('error') or ours.result.get('check_error')}" in text


def test_subprocess_job_measures_memory_and_checks_outputs(tmp_path):
    runner = Runner(timeout=300)
    built = inputs.build(inputs.spec_named(TINY), tmp_path)
    base = {"path": built.path, "inputs": list(built.inputs), "outputs": list(built.outputs)}
    refs = str(tmp_path / "refs.npz")
    assert "error" not in runner.run({**base, "kind": "reference", "refs": refs})
    result = runner.run({**base, "kind": "tool", "tool": "grappler", "transforms": "", "refs": refs, "out": ""})
    assert "error" not in result, result
    assert result["peak_bytes"] >= 0 and result["max_rel_err"] <= report.MISMATCH_REL
    missing = runner.run({**base, "kind": "tool", "tool": "ofi", "path": str(tmp_path / "absent.pb"), "transforms": ""})
    assert "FileNotFoundError" in missing["error"]


def _m(graph: str, tool: str, nodes_after: int, seconds: float, *, before: int = 1000, blocks: int = 0) -> report.Measurement:
    result = {"nodes_after": nodes_after, "seconds": seconds, "peak_bytes": 2 * 2**20, "max_abs_err": 0.0, "max_rel_err": 0.0}
    return report.Measurement(graph, before, 2**20, tool, result, blocks)


def test_targets_pass_and_fail_on_the_numbers():
    rows = [
        _m("resnet50", "graphrewrite", 280, 0.2),
        _m("resnet50", "grappler", 289, 1.0),
        _m("resnet50", "gtt", 600, 0.1),
        _m("chain_17k", "graphrewrite", 5002, 0.2, before=17_002, blocks=1000),
        _m("chain_170k", "graphrewrite", 50002, 2.5, before=170_002, blocks=10_000),
    ]
    lines = targets.check_all(rows, [report.CliTiming("graphrewrite --help", 0.3), report.CliTiming("graphrewrite rules", None, "boom")])
    text = "\n".join(lines)
    assert "PASS  nodes resnet50: 280 vs best anchor grappler 289" in text
    assert "PASS  time resnet50: 0.200 s = 0.20× grappler" in text
    assert "FAIL  time resnet50: 0.200 s = 2.00× gtt" in text
    assert "PASS  chain_170k time: 2.50 s" in text
    assert "FAIL  chain_170k nodes per block: 5.00" not in text and "PASS  chain_170k nodes per block: 5.00" in text
    assert "FAIL  time per node chain_17k -> chain_170k: ×1.25 (target <= 1.2)" in text  # issue 13's target
    rows[3] = _m("chain_17k", "graphrewrite", 5002, 0.22, before=17_002, blocks=1000)
    assert "PASS  time per node chain_17k -> chain_170k: ×1.14 (target <= 1.2)" in targets.big_chain(rows)
    assert "PASS  memory resnet50: 2.0 MiB = 2.00×" in text
    assert "FAIL  `graphrewrite rules`: boom" in text


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert inputs.default_cache_dir() == Path(tmp_path) / "graphrewrite-benchmarks"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert inputs.default_cache_dir().name == ".cache"
