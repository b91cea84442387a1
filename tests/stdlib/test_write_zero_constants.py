"""write_zero_constants: an all-zeros Const stored without data is written out, value unchanged.

TensorFlow's compact form (a shape and no data) is what grappler's constant folding writes for
zeros, and what OpenCV 4.x refuses ("!field.empty() in getTensorContentRef_").
"""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules import standard_rules
from graphrewrite.targets import checks
from tests.helpers.rule_graphs import const
from tests.helpers.structural import apply, assert_clean, assert_same_outputs, binary, graph, ph

WRITE = standard_rules().get("write_zero_constants")


def compact_zeros(name: str, shape: tuple[int, ...]) -> Graph:
    """A Const of float zeros stored as TensorFlow's compact form: dtype and shape, no data."""
    pb = _tf.pb()
    node = pb.NodeDef(name=name, op="Const")
    node.attr["dtype"].type = node.attr["value"].tensor.dtype = DType.named("float32").enum
    node.attr["value"].tensor.tensor_shape.dim.extend(pb.TensorShapeProto.Dim(size=d) for d in shape)
    gd = pb.GraphDef()
    gd.node.append(node)
    return Graph.from_graphdef(gd).node(name)


@pytest.mark.parametrize("shape", [(1, 1, 1, 3), (3,), ()])
def test_zeros_without_data_are_written_out(shape):
    before = graph(ph("x", shape=[1, 2, 2, 3]), compact_zeros("c", shape), binary("y", "AddV2", "x", "c"))
    assert checks.stores_no_data(before.node("c").to_nodedef())
    after = apply(WRITE, before, inputs=["x"], outputs=["y"])
    written = after.node("c")
    assert not checks.stores_no_data(written.to_nodedef())
    np.testing.assert_array_equal(written.value(), np.zeros(shape, np.float32))
    assert after.node("y") is before.node("y") and after.node("x") is before.node("x")
    assert_clean(after, ["x"], ["y"])
    assert_same_outputs(before, after, {"x": np.ones((1, 2, 2, 3), np.float32)}, ["y"])


def test_constants_with_data_and_empty_tensors_are_left_alone():
    empty = compact_zeros("e", (0, 3))  # no elements: there is nothing to write
    before = graph(ph("x", shape=[1, 3]), const("c", np.zeros(3)), binary("y", "AddV2", "x", "c"), empty)
    assert apply(WRITE, before, inputs=["x"], outputs=["y", "e"]) is before


def test_opencv_loads_what_it_refused(tmp_path):
    cv2 = pytest.importorskip("cv2")
    before = graph(
        ph("x", shape=[1, 4, 4, 3]), compact_zeros("c", (1, 1, 1, 3)), binary("y", "AddV2", "x", "c")
    )
    after = apply(WRITE, before, inputs=["x"], outputs=["y"])
    verdicts = []
    for g in (before, after):
        path = tmp_path / "g.pb"
        path.write_bytes(g.to_graphdef().SerializeToString())
        try:
            net = cv2.dnn.readNetFromTensorflow(str(path))
            net.setInput(np.ones((1, 3, 4, 4), np.float32))
            net.forward()
            verdicts.append(True)
        except cv2.error:
            verdicts.append(False)
    assert verdicts == [False, True]
    assert [checks.check(g.to_graphdef(), "opencv").loads for g in (before, after)] == verdicts
