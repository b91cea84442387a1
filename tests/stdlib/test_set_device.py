"""set_device: every node, or only those without a device; bad names refused."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import UsageError
from graphrewrite.stdlib_rules.attributes import SET_DEVICE
from tests.helpers.structural import apply, assert_clean, assert_same_outputs, graph, ph, unary


def _g():
    return graph(ph("x", device="/job:a"), unary("y", "Relu", "x"))


def test_sets_every_node_and_outputs_unchanged():
    before = _g()
    after = apply(SET_DEVICE, before, inputs=["x"], outputs=["y"], device="/device:CPU:0")
    assert [n.device for n in after] == ["/device:CPU:0", "/device:CPU:0"]
    assert_clean(after, ["x"], ["y"])
    assert_same_outputs(graph(ph("x"), unary("y", "Relu", "x")), after, {"x": np.array([1.0], np.float32)}, ["y"])


def test_if_default_only_fills_empty_devices():
    after = apply(SET_DEVICE, _g(), outputs=["y"], device="/device:CPU:0", if_default="true")
    assert [n.device for n in after] == ["/job:a", "/device:CPU:0"]


def test_no_device_clears_like_remove_device():
    after = apply(SET_DEVICE, _g(), outputs=["y"])
    assert [n.device for n in after] == ["", ""]


def test_malformed_device_is_refused():
    with pytest.raises(UsageError, match="device='/gpu:x' is not a device name"):
        apply(SET_DEVICE, _g(), outputs=["y"], device="/gpu:x")
