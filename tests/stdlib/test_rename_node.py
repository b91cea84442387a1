"""rename_node: one node and every reference to it; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import NameNotFoundError, RuleError, UsageError
from graphrewrite.stdlib_rules.names import RENAME_NODE
from tests.helpers.structural import (
    F32,
    apply,
    assert_clean,
    assert_same_outputs,
    const,
    graph,
    inputs_of,
    names,
    op,
    ph,
    unary,
)


def _g():
    return graph(
        ph("x"),
        unary("relu", "Relu", "x"),
        op("split", "Split", ["dim", "relu"], T=F32, num_split=1),
        const("dim", 0, np.int32),
        unary("y", "Neg", "split:0", "^relu"),
        op("z", "Identity", ["relu"], T=F32, _class=["loc:@relu"]),
    )


def test_node_and_every_reference_renamed_in_place():
    before = _g()
    after = apply(RENAME_NODE, before, inputs=["x"], outputs=["y", "z"], old_node_name="relu", new_node_name="act/relu")
    assert names(after) == ["x", "act/relu", "split", "dim", "y", "z"]
    assert inputs_of(after, "split") == ["dim", "act/relu"] and inputs_of(after, "y") == ["split", "^act/relu"]
    assert after.node("z").get("_class") == ["loc:@act/relu"]  # GTT left loc:@relu behind
    assert_clean(after, ["x"], ["y", "z"])
    assert_same_outputs(before, after, {"x": np.array([-1.0, 2.0], np.float32)}, ["y", "z"])


def test_errors_name_the_culprit():
    g = _g()
    with pytest.raises(NameNotFoundError, match=r"old_node_name: no node named 'reluu'.*did you mean 'relu'"):
        apply(RENAME_NODE, g, outputs=["y"], old_node_name="reluu", new_node_name="a")
    with pytest.raises(RuleError, match="new_node_name='split' is taken by another node \\(Split\\)"):
        apply(RENAME_NODE, g, outputs=["y"], old_node_name="relu", new_node_name="split")
    with pytest.raises(UsageError, match="are both 'relu'"):
        apply(RENAME_NODE, g, outputs=["y"], old_node_name="relu", new_node_name="relu")
    with pytest.raises(UsageError, match="'bad name' is not a valid TensorFlow node name"):
        apply(RENAME_NODE, g, outputs=["y"], old_node_name="relu", new_node_name="bad name")
    with pytest.raises(RuleError, match="'y' is a graph input or output"):
        apply(RENAME_NODE, g, outputs=["y:0"], old_node_name="y", new_node_name="w")

