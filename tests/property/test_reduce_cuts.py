"""Properties of ``reduce`` on random graphs: cuts compute what the whole graph computed, and
the search ends at one node that still fails.

The check here is in-process and exact ("fails while an op of type X is kept"), so the search
has a known answer: the one node of type X it keeps, with its constants and Placeholders for
the tensors it reads.
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("tensorflow")

from graphrewrite.runner import run_graph
from graphrewrite.targets import cut, reduce
from graphrewrite.targets.failures import Failure
from graphrewrite.testing.strategies import graphs

FREE = ("Const", "Placeholder")


@attrs.frozen
class KeepsOp:
    """Fails while the candidate has a node of type *op*."""

    op: str
    description: str = "keeps op"

    def __call__(self, candidate: cut.Candidate) -> Failure | None:
        found = [n.name for n in candidate.graph_def.node if n.op == self.op]
        return Failure("exit", f"has {self.op}") if found else None

    def reproduce(self, graph: str, inputs: str, candidate: cut.Candidate) -> str:
        return ""


def _interior(graph_def):
    return [n for n in graph_def.node if n.op not in FREE]


@given(case=graphs(max_nodes=8, control_edges=True), data=st.data())
def test_a_cut_computes_what_the_whole_graph_computed(case, data):
    graph = case.graph()
    recording = cut.record_tensors(case.graph_def, case.feeds, cut.tensors_read(graph))
    names = [n.name for n in _interior(case.graph_def)]
    keep = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True), label="keep")
    candidate = cut.cut(graph, keep, recording, case.outputs)
    if not candidate.outputs:
        return
    values = run_graph(candidate.graph_def, candidate.feeds, candidate.outputs)
    for name, value in zip(candidate.outputs, values, strict=True):
        whole = run_graph(case.graph_def, case.feeds, [name])[0]
        np.testing.assert_array_equal(value, whole, err_msg=f"{name} of candidate keeping {sorted(keep)}")


@given(case=graphs(max_nodes=8, control_edges=True), data=st.data())
def test_the_search_ends_at_the_one_node_that_fails(case, data):
    op = data.draw(st.sampled_from(sorted({n.op for n in _interior(case.graph_def)})), label="op")
    result = reduce.reduce_graph(
        case.graph_def, KeepsOp(op), inputs=case.inputs, outputs=case.outputs, feeds=case.feeds
    )
    assert not result.exhausted
    assert [n.op for n in _interior(result.candidate.graph_def)] == [op]
    assert KeepsOp(op)(result.candidate) == result.failure
    assert result.candidate.size <= len(case.graph_def.node) + len(result.candidate.inputs)
