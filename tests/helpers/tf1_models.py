"""A TF1 model on disk (GraphDef, MetaGraphDef and checkpoint) with every kind of TF1
variable, for the freezing and CLI round-trip tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.rule_graphs import control_flow_v1


def build_tf1_model(folder: Path, *, tf1_control_flow: bool = True) -> dict[str, np.ndarray]:
    """Write graph.pb, graph.pbtxt, model.meta and a checkpoint 'model' into *folder*.

    Returns feeds and the expected output 'out' computed by TensorFlow in a Session.
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with control_flow_v1(tf1_control_flow), graph.as_default():
        v1.set_random_seed(0)  # the partitioned embedding's initializer draws from it
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        ids = v1.placeholder(tf.int32, [None], name="ids")
        w = v1.Variable(rng.normal(size=(4, 3)).astype(np.float32), name="w", use_resource=False)
        with v1.variable_scope("res"):
            r = v1.get_variable("r", initializer=rng.normal(size=3).astype(np.float32), use_resource=True)
        with v1.variable_scope("part"):
            emb = v1.get_variable("emb", shape=[6, 3], partitioner=v1.fixed_size_partitioner(2), use_resource=True)
        handle = tf.identity(r.handle, name="handle_copy")
        y = tf.matmul(x, w) + tf.raw_ops.ReadVariableOp(resource=handle, dtype=tf.float32)
        _, acc = v1.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a + r * 2.0 + tf.reduce_sum(w)),
                               [tf.constant(0), tf.zeros([3])])  # fmt: skip
        flag = v1.placeholder_with_default(True, [], name="flag")
        c = v1.cond(flag, lambda: y * r, lambda: y - r + w[0])
        tf.identity(c + acc + tf.reduce_sum(v1.nn.embedding_lookup(emb, ids)), name="out")
        init = v1.global_variables_initializer()
        saver = v1.train.Saver()
        feeds = {"x": rng.normal(size=(2, 4)).astype(np.float32), "ids": np.array([0, 5, 3], np.int32)}
        with v1.Session(graph=graph) as session:
            session.run(init)
            expected = session.run("out:0", {"x:0": feeds["x"], "ids:0": feeds["ids"]})
            saver.save(session, str(folder / "model"))
        v1.train.write_graph(graph.as_graph_def(), str(folder), "graph.pbtxt", as_text=True)
        v1.train.write_graph(graph.as_graph_def(), str(folder), "graph.pb", as_text=False)
    return {**feeds, "out": expected}
