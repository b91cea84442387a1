"""remove_device: every device is cleared."""

from __future__ import annotations

import numpy as np

from graphrewrite.stdlib_rules.attributes import REMOVE_DEVICE
from tests.helpers.structural import apply, assert_clean, assert_same_outputs, graph, ph, unary


def test_devices_cleared_and_outputs_unchanged():
    before = graph(ph("x", device="/device:CPU:0"), unary("y", "Relu", "x"))
    after = apply(REMOVE_DEVICE, before, inputs=["x"], outputs=["y"])
    assert [n.device for n in after] == ["", ""]
    assert after.node("y") is before.node("y")  # untouched nodes keep their NodeDef
    assert_clean(after, ["x"], ["y"])
    assert_same_outputs(before, after, {"x": np.array([1.0], np.float32)}, ["y"])


def test_graph_without_devices_is_returned_as_is():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    assert apply(REMOVE_DEVICE, g, outputs=["y"]) is g
