"""The engine's fast paths give exactly what the slow paths they replace gave.

- the first-match matcher finds the backtracking generator's match (bindings and node order);
- tensors are packed and unpacked byte-for-byte as TensorFlow's make_tensor_proto /
  make_ndarray do;
- the incremental check after a step raises exactly the full check's error;
- a batch's new nodes are appended in batch order, whatever the hash seed.
"""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrewrite import _tf
from graphrewrite.engine import attrvalues
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.collector import collector_paused
from graphrewrite.engine.driver import Context, run_steps
from graphrewrite.engine.errors import GraphError
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.matcher import match_at
from graphrewrite.engine.pattern import Op, Tensor, Trace
from graphrewrite.engine.rewrite import Rewrite, apply_batch
from graphrewrite.rules.rule import Pass, Step

F32 = DType(1)
OPS = ("Add", "Mul", "Sub", "Neg", "AddN")  # commutative, not, unary, variadic

# ---- matcher -------------------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """Small DAGs of Add/Mul/Sub/Neg/AddN over two placeholders, shared inputs likely."""
    names = ["a", "b"]
    nodes = [Node.make(n, "Placeholder", [], {"dtype": F32}) for n in names]
    for i in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(OPS))
        arity = 1 if op == "Neg" else draw(st.integers(2, 3)) if op == "AddN" else 2
        inputs = [draw(st.sampled_from(names)) for _ in range(arity)]
        nodes.append(Node.make(f"n{i}", op, inputs, {"T": F32}))
        names.append(f"n{i}")
    return Graph.from_nodes(nodes)


@st.composite
def patterns(draw: st.DrawFn, graph: Graph, name: str, depth: int = 0) -> Op:
    """A pattern shaped like the graph around node *name*, perturbed: operands of commutative
    ops swapped (only the other order matches), ops changed, names reused (x, y, p) so
    bindings clash, AddN made variadic."""
    node = graph.node(name)
    ops = {node.op} if draw(st.integers(0, 4)) else {draw(st.sampled_from(OPS))}
    inputs = list(node.data_inputs)
    if len(inputs) == 2 and draw(st.booleans()):
        inputs.reverse()
    variadic = node.op == "AddN" and draw(st.booleans())
    if variadic:
        inputs = inputs[: draw(st.integers(1, len(inputs)))]
    children = []
    for ref in inputs:
        producer = graph.node(ref.node)
        if depth < 2 and producer.op != "Placeholder" and draw(st.booleans()):
            children.append(draw(patterns(graph, ref.node, depth + 1)))
        else:
            children.append(Tensor(draw(st.sampled_from(["x", "y", "_", None]))))
    bind = draw(st.sampled_from([None, "p", "q", "x"]))
    return Op(frozenset(ops), tuple(children), bind, variadic=variadic)


def _generator_match(graph: Graph, pattern: Op, root: str):  # type: ignore[no-untyped-def]
    return match_at(graph, pattern, root, Trace())  # a trace always takes the generator


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_first_match_is_the_generators_match(data: st.DataObject) -> None:
    graph = data.draw(graphs())
    pattern = data.draw(patterns(graph, data.draw(st.sampled_from([n.name for n in graph if n.op != "Placeholder"]))))
    for root in graph.names:
        fast, slow = match_at(graph, pattern, root), _generator_match(graph, pattern, root)
        assert (fast is None) == (slow is None), root
        if fast is not None and slow is not None:
            assert fast.nodes == slow.nodes
            assert list(fast.bindings) == list(slow.bindings)  # same names, bound in the same order
            assert all(fast.bindings[k] is slow.bindings[k] or fast.bindings[k] == slow.bindings[k] for k in fast.bindings)


def test_reused_name_under_a_commutative_op_backtracks() -> None:
    # Sub(Add(x, y), x): the first order of Add binds x=a, which Sub's second input refutes;
    # only the generator's retry of Add's other order finds x=b.
    g = Graph.from_nodes(
        [
            Node.make("a", "Placeholder", [], {"dtype": F32}),
            Node.make("b", "Placeholder", [], {"dtype": F32}),
            Node.make("s", "Add", ["a", "b"], {"T": F32}),
            Node.make("t", "Sub", ["s", "b"], {"T": F32}),
        ]
    )
    pattern = Op(frozenset({"Sub"}), (Op(frozenset({"Add"}), (Tensor("x"), Tensor("y"))), Tensor("x")))
    m = match_at(g, pattern, "t")
    assert m is not None and m.tensor("x") == TensorRef("b") and m.tensor("y") == TensorRef("a")


# ---- tensors -------------------------------------------------------------------------------

DTYPES = ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "uint16", "bool", "complex64")
SHAPES = ((), (1,), (3,), (2, 3), (0,), (0, 2), (4, 1, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensors_pack_and_unpack_as_tensorflow_does(dtype: str) -> None:
    tf = _tf.tf()
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        base = (rng.standard_normal(shape) * 10).astype(dtype)
        for array in (base, base.T, np.asfortranarray(base)):
            ours = attrvalues.dtype_of_numpy(array.dtype)
            theirs = tf.make_tensor_proto(array, shape=array.shape, dtype=tf.as_dtype(ours.enum))
            expected = _tf.pb().AttrValue(tensor=theirs).SerializeToString()
            assert attrvalues.numpy_to_tensor(array, ours).SerializeToString() == theirs.SerializeToString()
            assert attrvalues.tensor_attr(array, ours).SerializeToString() == expected
            back, reference = attrvalues.tensor_to_numpy(theirs), tf.make_ndarray(theirs)
            assert back.dtype == reference.dtype and back.shape == reference.shape
            assert back.tobytes() == reference.tobytes() and back.flags.writeable


def test_shared_type_attr_equals_encode() -> None:
    assert attrvalues.type_attr(F32).SerializeToString() == attrvalues.encode(F32).SerializeToString()


# ---- graph bookkeeping ---------------------------------------------------------------------


def _line() -> Graph:
    return Graph.from_nodes(
        [
            Node.make("x", "Placeholder", [], {"dtype": F32}),
            Node.make("n", "Neg", ["x"], {"T": F32, "_class": ["loc:@x"]}),
            Node.make("y", "Identity", ["n"], {"T": F32}),
        ]
    )


def test_changes_since_follows_replace_only() -> None:
    g = _line()
    g1 = g.replace([Node.make("m", "Neg", ["x"], {"T": F32})])
    g2 = g1.replace([], ["m"])
    sibling = g.replace([Node.make("k", "Neg", ["x"], {"T": F32})])
    assert g2.changes_since(g) == {"m"} and g2.changes_since(g1) == {"m"} and g.changes_since(g) == set()
    assert g2.changes_since(sibling) is None and sibling.changes_since(g1) is None
    assert g2.changes_since(_line()) is None  # another lineage


def test_colocated_is_patched_by_replace() -> None:
    g = _line()
    assert g.colocated() == {"n"}
    g2 = g.replace([Node.make("m", "Neg", ["x"], {"T": F32, "_class": ["loc:@x"]}), g.node("n").without_attrs("_class")])
    assert g2.colocated() == {"m"}
    assert g2.replace([], ["m"]).colocated() == set()


def _breaks_y(graph: Graph, ctx: Context) -> Graph:
    return graph.replace([], ["n"])  # y still reads n


def _renames_n(graph: Graph, ctx: Context) -> Graph:
    return graph.replace([Node.make("n2", "Neg", ["x"], {"T": F32})])


@pytest.mark.parametrize("before", [[], [_renames_n]])
def test_incremental_check_raises_the_full_checks_error(before: list) -> None:  # type: ignore[type-arg]
    steps = [Step(Pass(f.__name__, "", f)) for f in (*before, _breaks_y)]
    with pytest.raises(GraphError) as caught:
        run_steps(_line(), steps, Context(("x",), ("y",)))
    assert str(caught.value) == "after _breaks_y: node 'y': input 'n' names a node that does not exist"


def test_incremental_check_sees_a_lost_output() -> None:
    steps = [Step(Pass("noop", "", _renames_n)), Step(Pass("drop", "", lambda g, c: g.replace([], ["y"])))]
    with pytest.raises(GraphError, match="after drop: node 'y': is a graph input or output but is gone"):
        run_steps(_line(), steps, Context(("x",), ("y",)))


# ---- determinism ---------------------------------------------------------------------------


def test_new_nodes_are_appended_in_batch_order() -> None:
    g = _line()
    rewrites = [
        Rewrite("r", "y", add=(Node.make(f"new{i}", "Neg", ["x"], {"T": F32}), Node.make(f"extra{i}", "Neg", ["x"])))
        for i in range(8)
    ]
    names = [n.name for n in apply_batch(g, rewrites).graph]
    assert names[3:] == [f"{kind}{i}" for i in range(8) for kind in ("new", "extra")]


_PROGRAM = """
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.rewrite import Rewrite, apply_batch
g = Graph.from_nodes([Node("x", "Placeholder")])
rw = [Rewrite("r", "x", add=(Node(f"n{i}", "Neg", (TensorRef("x"),)),)) for i in range(30)]
print(",".join(n.name for n in apply_batch(g, rw, frozenset({"x"})).graph))
"""


def test_batch_order_does_not_depend_on_the_hash_seed() -> None:
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _PROGRAM], env={"PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_collector_is_restored_and_nothing_stays_frozen() -> None:
    from graphrewrite.engine.collector import allow_pausing

    allow_pausing()
    try:
        with collector_paused():
            assert not gc.isenabled()
            _ = [Node.make(f"n{i}", "NoOp") for i in range(100)]
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        allow_pausing(False)


def test_an_embedding_process_keeps_its_collector_unless_it_opts_in() -> None:
    """The library changes nothing process-wide by itself: without allow_pausing() a pause is a no-op."""
    with collector_paused():
        assert gc.isenabled()


# ---- passes --------------------------------------------------------------------------------


def test_strip_names_the_node_with_a_dangling_input() -> None:
    from graphrewrite.stdlib_rules.strip import strip_unused_nodes

    graph = Graph.from_nodes(
        [Node.make("x", "Placeholder", [], {"dtype": F32}), Node.make("y", "Add", ["x", "gone"], {"T": F32})]
    )
    with pytest.raises(GraphError, match="node 'y': input 'gone' names a node that does not exist"):
        strip_unused_nodes(graph, Context(("x",), ("y",)))


def test_remembered_values_of_new_constants_equal_their_tensors() -> None:
    from benchmarks.inputs import chain_graph_def
    from graphrewrite.pipeline import compile_pipeline

    graph = Graph.from_graphdef(chain_graph_def(3))
    steps = compile_pipeline("remove_nodes(op=Identity) fold_constants fold_batch_norms")
    graph, _ = run_steps(graph, steps, Context(("input",), ("output",)))
    consts = [n for n in graph if n.op == "Const"]
    assert len(consts) == 6  # W and b of each block, both rewritten
    for node in consts:
        fresh = attrvalues.tensor_to_numpy(node.attr["value"].tensor)
        assert node.value().dtype == fresh.dtype and node.value().tobytes() == fresh.tobytes()
        assert node.value().shape == fresh.shape and not node.value().flags.writeable
