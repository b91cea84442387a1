"""sparsify_gather: [N, 1] embedding tables become HashTable lookups, as GTT builds them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphrewrite import _tf
from graphrewrite.engine.errors import RuleError, UsageError
from graphrewrite.runner import session_config
from graphrewrite.stdlib_rules.sparsify_gather import SPARSIFY_GATHER
from tests.helpers.compression import apply, build, const_value, gtt, nodes, run

RNG = np.random.RandomState(13)


def sparse_table(n=50, density=0.2):
    table = np.where(RNG.rand(n, 1) < density, RNG.randn(n, 1), 0.0).astype(np.float32)
    table[3, 0] = 1e-6  # below the threshold: looked up as 0
    return table


def gather_graph(table, *, v2=False, identity=True, axis=0, id_dtype="int64", shared=False):
    tf = _tf.tf()

    def body():
        ids = tf.compat.v1.placeholder(tf.as_dtype(id_dtype), [None], name="ids")
        weights = tf.constant(table, name="w")
        source = tf.identity(weights, name="read") if identity else weights
        if v2:
            tf.raw_ops.GatherV2(params=source, indices=ids, axis=tf.constant(axis, name="axis"), name="g")
        else:
            tf.raw_ops.Gather(params=source, indices=ids, name="g")
        if shared:
            tf.raw_ops.Gather(params=source, indices=ids, name="g2")

    return build(body)


def lookup(graph_def, ids, fetches=("g",), init="group_deps"):
    """Run the table initialiser, then the fetches (as a served graph would)."""
    tf = _tf.tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph, config=session_config()) as session:
        if init is not None:
            session.run(graph.get_operation_by_name(init))
        return session.run([f"{f}:0" for f in fetches], {"ids:0": ids})


def test_gather_becomes_a_lookup_in_an_initialised_table():
    table = sparse_table()
    graph_def = gather_graph(table)
    out, report = apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"])
    by_name = nodes(out)
    assert by_name["g"].op == "ExpandDims"
    assert by_name["g/LookupTableFind"].op == "LookupTableFind"
    assert list(by_name["group_deps"].input) == ["^w/InitializeTable"]
    assert "w" not in by_name and "read" not in by_name  # nothing else used the dense table
    keys = const_value(by_name["w/indices"])
    assert set(keys) == set(np.flatnonzero(np.abs(table[:, 0]) >= 1e-5))
    ids = np.array([0, 3, 7, 49, 7, 12], np.int64)
    (want,) = run(graph_def, {"ids": ids}, ["g"])
    (got,) = lookup(out, ids)
    assert got.shape == want.shape == (6, 1)
    assert np.all(np.abs(got - want) <= 1e-5)
    assert got[1, 0] == 0.0 and want[1, 0] == np.float32(1e-6)
    assert report.applied > 0


@pytest.mark.gtt
@pytest.mark.parametrize("v2", [False, True])
def test_same_nodes_and_table_as_gtt(v2):
    table = sparse_table()
    graph_def = gather_graph(table, v2=v2)
    mine = nodes(apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"])[0])
    theirs = nodes(gtt(graph_def, ["ids"], ["g"], "sparsify_gather"))
    assert {n: m.op for n, m in mine.items()} == {n: t.op for n, t in theirs.items()}
    for name in ("w/indices", "w/values", "g/Const", "g/ExpandDims/Const"):
        assert const_value(mine[name]).tobytes() == const_value(theirs[name]).tobytes(), name
    ids = np.array([1, 2, 3, 4], np.int64)
    np.testing.assert_array_equal(lookup(nodes_to_graph(mine), ids), lookup(nodes_to_graph(theirs), ids))


def nodes_to_graph(by_name):
    graph_def = _tf.pb().GraphDef()
    graph_def.node.extend(by_name.values())
    return graph_def


def test_frozen_tf2_tables_without_identity_and_int32_ids_work():
    """GTT needs Gather(Identity(Const)) and int64 ids; both are relaxed here."""
    table = sparse_table()
    graph_def = gather_graph(table, v2=True, identity=False, id_dtype="int32")
    out, _ = apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"])
    assert nodes(out)["g/ids_int64"].op == "Cast"
    ids = np.array([5, 0, 3], np.int32)
    (want,) = run(graph_def, {"ids": ids}, ["g"])
    (got,) = lookup(out, ids)
    assert np.all(np.abs(got - want) <= 1e-5)


def test_gathers_sharing_a_table_share_one_hash_table():
    out, _ = apply(SPARSIFY_GATHER, gather_graph(sparse_table(), shared=True), ["ids"], ["g", "g2"])
    assert [n.name for n in out.node if n.op == "HashTable"] == ["w/HashTable"]
    ids = np.array([0, 1, 2], np.int64)
    first, second = lookup(out, ids, ("g", "g2"))
    np.testing.assert_array_equal(first, second)


def test_existing_init_node_gets_the_hook_and_other_ops_there_are_refused():
    tf = _tf.tf()
    graph_def = gather_graph(sparse_table())
    graph_def.node.add().CopyFrom(_tf.pb().NodeDef(name="init", op="NoOp"))
    out, _ = apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"], group_init_node="init")
    assert list(nodes(out)["init"].input) == ["^w/InitializeTable"] and "group_deps" not in nodes(out)
    with pytest.raises(RuleError, match="group_init_node='ids' is a Placeholder"):
        apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"], group_init_node="ids")
    del tf


@pytest.mark.parametrize(
    ("graph_args", "message"),
    [
        ({"v2": True, "axis": 1}, "'g' gathers over axis 1"),
        ({"table": np.zeros((4, 2), np.float32)}, r"'w' has shape \[4, 2\]"),
    ],
)
def test_unsupported_gathers_fail_naming_the_node(graph_args, message):
    table = graph_args.pop("table", sparse_table())
    with pytest.raises(RuleError, match=message):
        apply(SPARSIFY_GATHER, gather_graph(table, **graph_args), ["ids"], ["g"])


def test_variable_tables_are_read_from_the_checkpoint(tmp_path):
    tf = _tf.tf()
    table = sparse_table(30)
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.compat.v1.placeholder(tf.int64, [None], name="ids")
        var = tf.compat.v1.Variable(table, name="w", use_resource=False)
        tf.raw_ops.Gather(params=var, indices=ids, name="g")  # reads through w/read
        saver = tf.compat.v1.train.Saver([var])
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(var.initializer)
            prefix = saver.save(session, str(tmp_path / "model"))
    graph_def = graph.as_graph_def()
    with pytest.raises(UsageError, match="'w' is a VariableV2; pass input_checkpoint"):
        apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"])
    out, _ = apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"], input_checkpoint=prefix)
    (got,) = lookup(out, np.arange(30, dtype=np.int64))
    assert np.all(np.abs(got - table) <= 1e-5)
    assert nodes(out)["w"].op == "VariableV2"  # kept with its Saver nodes (GTT deletes it)
    theirs = nodes(gtt(graph_def, ["ids"], ["g"], f'sparsify_gather(input_checkpoint="{prefix}")'))
    for name in ("w/indices", "w/values"):
        assert const_value(nodes(out)[name]).tobytes() == const_value(theirs[name]).tobytes()


@settings(max_examples=15, deadline=None)
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.just(1)),
               elements=st.one_of(st.just(0.0), st.floats(-10, 10, width=32))),
    st.data(),
)
def test_property_lookups_equal_the_gather_up_to_the_threshold(table, data):
    ids = np.array(data.draw(st.lists(st.integers(0, table.shape[0] - 1), min_size=1, max_size=10)), np.int64)
    graph_def = gather_graph(table)
    out, _ = apply(SPARSIFY_GATHER, graph_def, ["ids"], ["g"])
    (want,) = run(graph_def, {"ids": ids}, ["g"])
    (got,) = lookup(out, ids)
    assert np.all(np.abs(got - want) < 1e-5)


def test_checkpoint_keys_and_slices():
    from graphrewrite.stdlib_rules.checkpoint_tables import checkpoint_key, take_slice

    assert checkpoint_key("emb/part_1") == "emb" and checkpoint_key("emb/weights") == "emb/weights"
    full = np.arange(20, dtype=np.float32).reshape(10, 2)
    np.testing.assert_array_equal(take_slice(full, "10 2 5,5:-"), full[5:10])
    np.testing.assert_array_equal(take_slice(full, "10 2 -:1,1"), full[:, 1:2])
    assert take_slice(full, "") is full
