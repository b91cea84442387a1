"""freeze_checkpoint: TF1 graphs (GraphDef or MetaGraphDef) plus a checkpoint, no Session.

The model holds every kind of variable TF1 graphs have: a VariableV2, a resource variable
read through an Identity of its handle, inside a while loop (Enter) and a cond (Switch), and a
partitioned resource variable read with ResourceGather. Built with TF1 control flow and with
functional While/If, since TF2's tf.compat.v1 gives the latter by default.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from graphrewrite.engine.errors import GraphFileError, NameNotFoundError
from graphrewrite.freeze import FreezeError, freeze_checkpoint
from graphrewrite.freezing.checkpoint import parse_slice_spec
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.op_kinds import VARIABLE_OPS
from tests.helpers.tf1_models import build_tf1_model


@pytest.fixture(scope="module", params=[True, False], ids=["tf1-control-flow", "functional-control-flow"])
def tf1_model(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tf1")
    return folder, build_tf1_model(folder, tf1_control_flow=request.param)


@pytest.mark.parametrize("source", ["graph.pb", "graph.pbtxt", "model.meta"])
def test_freezes_every_variable_kind_and_computes_the_same(tf1_model, source):
    folder, io = tf1_model
    frozen = freeze_checkpoint(str(folder / source), str(folder / "model"), "out")
    ops = Counter(n.op for n in frozen.graph_def.node)
    assert not set(ops) & VARIABLE_OPS
    assert not any(n.attr["T"].type == 20 for n in frozen.graph_def.node if "T" in n.attr)  # no resource left
    assert frozen.input_names == ("x", "ids") and frozen.output_names == ("out",)
    assert [(t.dtype, t.shape) for t in frozen.inputs] == [("float32", (None, 4)), ("int32", (None,))]
    assert frozen.outputs[0].dtype == "float32"
    got = run_graph(frozen.graph_def, {"x": io["x"], "ids": io["ids"]}, ["out"])[0]
    np.testing.assert_allclose(got, io["out"], rtol=1e-6)


def test_checkpoint_folder_and_blacklist(tf1_model):
    folder, _ = tf1_model
    frozen = freeze_checkpoint(str(folder / "graph.pb"), str(folder), ["out:0"], blacklist="w")
    ops = Counter(n.op for n in frozen.graph_def.node)
    assert ops["VariableV2"] == 1 and ops["VarHandleOp"] == 0
    only = freeze_checkpoint(str(folder / "graph.pb"), str(folder), ["out"], whitelist=["res/r"])
    assert Counter(n.op for n in only.graph_def.node)["VarHandleOp"] == 2  # the partitions


def test_errors_name_the_culprit(tf1_model, tmp_path):
    folder, _ = tf1_model
    with pytest.raises(NameNotFoundError, match=r"no node named 'outt' .*did you mean 'out'"):
        freeze_checkpoint(str(folder / "graph.pb"), str(folder / "model"), "outt")
    with pytest.raises(GraphFileError, match="no checkpoint at"):
        freeze_checkpoint(str(folder / "graph.pb"), str(folder / "nope"), "out")
    with pytest.raises(GraphFileError, match="no checkpoint in folder"):
        freeze_checkpoint(str(folder / "graph.pb"), str(tmp_path), "out")
    with pytest.raises(NameNotFoundError, match=r"--variable_names_blacklist: no variable 'ww'.*did you mean 'w'"):
        freeze_checkpoint(str(folder / "graph.pb"), str(folder / "model"), "out", blacklist="ww")
    with pytest.raises(FreezeError, match="no output node names"):
        freeze_checkpoint(str(folder / "graph.pb"), str(folder / "model"), "")
    (tmp_path / "bad.meta").write_bytes(b"\x00\x01garbage")
    with pytest.raises(GraphFileError, match="not a MetaGraphDef"):
        freeze_checkpoint(str(tmp_path / "bad.meta"), str(folder / "model"), "out")


def test_variable_missing_from_checkpoint(tmp_path):
    import tensorflow as tf

    v1 = tf.compat.v1
    for name, value in (("a", 1.0), ("b", 2.0)):
        graph = tf.Graph()
        with graph.as_default():
            var = v1.Variable(value, name=name, use_resource=False)
            tf.identity(var * 2.0, name="out")
            with v1.Session(graph=graph) as session:
                session.run(v1.global_variables_initializer())
                v1.train.Saver().save(session, str(tmp_path / name))
            v1.train.write_graph(graph.as_graph_def(), str(tmp_path), f"{name}.pb", as_text=False)
    with pytest.raises(NameNotFoundError, match="variable 'b' is not in checkpoint"):
        freeze_checkpoint(str(tmp_path / "b.pb"), str(tmp_path / "a"), "out")
    frozen = freeze_checkpoint(str(tmp_path / "b.pb"), str(tmp_path / "b"), "out")
    assert run_graph(frozen.graph_def, {}, ["out"])[0] == 4.0


def test_partitions_without_a_saver_are_cut_from_the_full_tensor(tf1_model):
    from graphrewrite.engine.graph import Graph
    from graphrewrite.io import load_graph

    folder, io = tf1_model
    graph = Graph.from_graphdef(load_graph(folder / "graph.pb"))
    no_saver = graph.replace((), [n.name for n in graph if n.name.startswith("save/")])
    frozen = freeze_checkpoint(no_saver.to_graphdef(), str(folder / "model"), "out")
    got = run_graph(frozen.graph_def, {"x": io["x"], "ids": io["ids"]}, ["out"])[0]
    np.testing.assert_allclose(got, io["out"], rtol=1e-6)


def test_slice_specs():
    assert parse_slice_spec("") is None
    assert parse_slice_spec("6 3 0,3:-") == (slice(0, 3), slice(None))
    assert parse_slice_spec("6 3 3,3:0,3") == (slice(3, 6), slice(0, 3))
