"""``*lists`` in patterns: zero or more inputs each, and several in one input list, whose
splits the matcher enumerates in a fixed order (the first list shortest first)."""

from __future__ import annotations

from graphrewrite.engine.graph import Graph, Node
from graphrewrite.engine.matcher import match_at, matches_at, searches
from graphrewrite.engine.pattern import Op, Tensor


def _graph(*concat_inputs: str) -> Graph:
    leaves = [Node.make(n, "Placeholder", []) for n in ("a", "b", "c")]
    inner = [Node.make(n, "Relu", ["a"]) for n in ("r1", "r2")]
    root = Node.make("cat", "ConcatV2", list(concat_inputs))
    return Graph.from_nodes([*leaves, *inner, root])


def _names(match, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.node for r in match.tensors(name)]


def test_a_list_may_capture_nothing() -> None:
    pattern = Op(frozenset({"ConcatV2"}), (Tensor("xs", rest=True), Tensor("axis")))
    match = match_at(_graph("a"), pattern, "cat")
    assert match is not None and _names(match, "xs") == []


def test_two_lists_split_first_list_shortest_first() -> None:
    relu = Op(frozenset({"Relu"}), (Tensor(),), "r")
    pattern = Op(frozenset({"ConcatV2"}), (Tensor("before", rest=True), relu, Tensor("after", rest=True)))
    assert searches(pattern)
    graph = _graph("a", "r1", "b", "r2", "c")
    found = [(_names(m, "before"), m.node("r").name, _names(m, "after")) for m in matches_at(graph, pattern, "cat")]
    assert found == [(["a"], "r1", ["b", "r2", "c"]), (["a", "r1", "b"], "r2", ["c"])]
    first = match_at(graph, pattern, "cat")
    assert first is not None and first.node("r").name == "r1"


def test_a_single_list_is_not_a_search() -> None:
    pattern = Op(frozenset({"ConcatV2"}), (Tensor("xs", rest=True), Tensor("axis")))
    assert not searches(pattern)
    assert len(list(matches_at(_graph("a", "b", "c"), pattern, "cat"))) == 1


def test_fixed_inputs_beyond_the_node_do_not_match() -> None:
    pattern = Op(frozenset({"ConcatV2"}), (Tensor("x"), Tensor("xs", rest=True), Tensor("y"), Tensor("z")))
    assert match_at(_graph("a", "b"), pattern, "cat") is None
    assert list(matches_at(_graph("a", "b"), pattern, "cat")) == []
