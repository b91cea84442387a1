"""obfuscate_names: GTT's base-62 ids, protected names in any spelling kept."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from graphrewrite.engine.errors import GraphError
from graphrewrite.stdlib_rules.names import OBFUSCATE_NAMES, base62_names
from tests.helpers.structural import (
    F32,
    apply,
    assert_clean,
    assert_same_outputs,
    binary,
    graph,
    inputs_of,
    names,
    op,
    ph,
    unary,
)


def test_ids_count_in_base_62_like_gtt():
    ids = list(itertools.islice(base62_names(set()), 63))
    assert ids[:3] == ["0", "1", "2"] and ids[10] == "a" and ids[61] == "Z" and ids[62] == "10"
    assert list(itertools.islice(base62_names({"1", "a"}), 3)) == ["0", "2", "3"]


def test_all_but_inputs_and_outputs_renamed_references_follow():
    before = graph(
        ph("input"),
        unary("relu", "Relu", "input"),
        op("mul", "Mul", ["relu", "relu", "^relu"], T=F32, _class=["loc:@relu"]),
        binary("output", "Sub", "mul", "input"),
    )
    after = apply(OBFUSCATE_NAMES, before, inputs=["input:0"], outputs=["^output"])
    assert names(after) == ["input", "0", "1", "output"]
    assert inputs_of(after, "1") == ["0", "0", "^0"] and after.node("1").get("_class") == ["loc:@0"]
    assert inputs_of(after, "output") == ["1", "input"]
    assert_clean(after, ["input"], ["output"])
    assert_same_outputs(before, after, {"input": np.array([-1.0, 3.0], np.float32)}, ["output"])


def test_ids_skip_kept_names():
    g = graph(ph("0"), unary("a", "Relu", "0"), unary("1", "Neg", "a"))
    after = apply(OBFUSCATE_NAMES, g, inputs=["0"], outputs=["1"])
    assert names(after) == ["0", "2", "1"]


def test_dangling_input_is_an_error():
    g = graph(ph("x"), unary("y", "Relu", "ghost"))
    with pytest.raises(GraphError, match="node 'y': input 'ghost' names a node that does not exist"):
        OBFUSCATE_NAMES.run(g, _ctx())


def _ctx():
    from graphrewrite.engine.driver import Context

    return Context(inputs=("x",), outputs=("y",))
