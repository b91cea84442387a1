"""Each numpy kernel against ``tf.raw_ops`` (eager): same dtype, shape and bits, or a Defer.

A kernel may always refuse (raise Defer) and leave the node to TensorFlow; what it must never
do is return something TensorFlow would not. When TensorFlow itself rejects the inputs, the
kernel must have deferred (so the TF run reports the error). Each test also checks a fixed
example where the kernel must not defer, so a kernel that always defers fails.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import dtype_of_numpy
from graphrewrite.engine.graph import Node
from graphrewrite.engine.kernel_library import KERNELS
from graphrewrite.engine.kernels import Defer, OverBudget, Value

BUDGET = 1 << 20
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)

FLOATS = [np.float32, np.float64]
INTS = [np.int32, np.int64, np.int8, np.uint8, np.int16, np.uint16]
NUMERIC = FLOATS + INTS


def tf():
    return _tf.tf()


def ours(op, inputs, attrs=None):
    """Run our kernel on numpy *inputs*; a list of arrays, or Defer raised."""
    node = Node.make("n", op, [f"in{k}" for k in range(len(inputs))], attrs or {})
    args = [Value.of_array(np.asarray(a), dtype_of_numpy(np.asarray(a).dtype).enum) for a in inputs]
    with np.errstate(all="ignore"):
        results = KERNELS[op](node, args, BUDGET)
    return [r.array if isinstance(r, Value) else np.asarray(r) for r in results]


def theirs(op, **kwargs):
    """TF's result as a list of arrays; None when TF has no kernel for these types."""
    # Explicit constants: eager conversion of numpy scalars does not always keep their dtype.
    kwargs = {k: _constant(v) for k, v in kwargs.items()}
    try:
        out = getattr(tf().raw_ops, op)(**kwargs)
    except tf().errors.NotFoundError:
        return None
    except tf().errors.InvalidArgumentError as exc:
        # A dtype the op does not accept: the evaluator's kernel check never runs such a node.
        if "list of allowed values" in str(exc) or "Could not find device" in str(exc):
            return None
        raise
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o.numpy()) for o in outs]


def _constant(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return tf().constant(value, dtype=tf().as_dtype(np.asarray(value).dtype))
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [_constant(v) for v in value]
    return value


def assert_same(mine, tfs):
    assert len(mine) == len(tfs)
    for a, b in zip(mine, tfs, strict=True):
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        assert a.shape == b.shape, (a.shape, b.shape)
        if a.dtype.kind == "f":
            assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
            ok = ~np.isnan(a)
            assert np.array_equal(a[ok], b[ok]), (a, b)
            assert np.array_equal(np.signbit(a[ok]), np.signbit(b[ok])), ("signed zeros", a, b)
        else:
            assert np.array_equal(a, b), (a, b)


def compare(op, inputs, tf_kwargs, attrs=None):
    """Ours must equal TF's, or have deferred; when TF errors, ours must have deferred."""
    outcome = _compare(op, inputs, tf_kwargs, attrs)
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test: no statistics
        event(outcome)
        assume(outcome != "unsupported")
    return outcome


def _compare(op, inputs, tf_kwargs, attrs):
    try:
        mine = ours(op, inputs, attrs)
    except (Defer, OverBudget):
        mine = None
    try:
        tfs = theirs(op, **tf_kwargs)
    except (tf().errors.OpError, ValueError, TypeError):
        assert mine is None, f"{op}: TensorFlow rejects these inputs but the kernel returned {mine}"
        return "tf-error"
    if tfs is None:
        return "unsupported"
    if mine is None:
        return "deferred"
    assert_same(mine, tfs)
    return "same"


def elements(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "f":
        return st.floats(width=dtype.itemsize * 8, allow_nan=True, allow_infinity=True)
    info = np.iinfo(dtype)
    return st.one_of(st.integers(-4, 4).filter(lambda v: info.min <= v <= info.max), st.integers(int(info.min), int(info.max)))


@st.composite
def operands(draw, dtypes, count=2):
    dtype = draw(st.sampled_from(dtypes))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=count, max_dims=3, max_side=3))
    return [draw(hnp.arrays(dtype, s, elements=elements(dtype))) for s in shapes.input_shapes]


BINARY = ["Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "FloorDiv", "TruncateDiv", "Maximum", "Minimum", "Pow"]


@pytest.mark.parametrize("op", BINARY)
@SETTINGS
@given(data=st.data())
def test_binary_matches_tf(op, data):
    x, y = data.draw(operands(FLOATS if op == "RealDiv" else NUMERIC))
    compare(op, [x, y], {"x": x, "y": y})


@pytest.mark.parametrize("op", BINARY)
def test_binary_computes_plain_cases(op):
    x = np.array([[1.5, -2.0, 3.0]], np.float32)
    y = np.array([[2.0], [0.5]], np.float32)
    assert compare(op, [x, y], {"x": x, "y": y}) == ("deferred" if op == "Pow" else "same")
    if op != "RealDiv":
        xi, yi = np.array([7, -7, 9], np.int32), np.array([2, 3, 4], np.int32)
        assert compare(op, [xi, yi], {"x": xi, "y": yi}) == "same"


def test_float32_stays_float32_with_python_scalars():
    (out,) = ours("Mul", [np.array([1.1], np.float32), np.array(3.3, np.float32)])
    assert out.dtype == np.float32


def test_int_division_by_zero_defers():
    with pytest.raises(Defer):
        ours("FloorDiv", [np.array([1], np.int32), np.array([0], np.int32)])


def test_broadcast_over_budget_is_refused_before_computing():
    node = Node.make("n", "Mul", ["a", "b"])
    a, b = np.zeros((2048, 1), np.float32), np.zeros((1, 2048), np.float32)
    args = [Value.of_array(a, 1), Value.of_array(b, 1)]
    with pytest.raises(OverBudget):
        KERNELS["Mul"](node, args, 1024)


@pytest.mark.parametrize("op", ["Neg", "Square", "Sqrt"])
@SETTINGS
@given(data=st.data())
def test_unary_matches_tf(op, data):
    (x,) = data.draw(operands(FLOATS if op == "Sqrt" else NUMERIC, count=1))
    compare(op, [x], {"x": x})


@pytest.mark.parametrize("op", ["Neg", "Square", "Sqrt"])
def test_unary_computes_plain_cases(op):
    x = np.array([0.0, 2.0, 9.0], np.float64)
    assert compare(op, [x], {"x": x}) == "same"


CAST_TYPES = [*NUMERIC, np.bool_, np.float16, np.uint32, np.uint64]


@SETTINGS
@given(data=operands(CAST_TYPES, count=1), dst=st.sampled_from(CAST_TYPES))
def test_cast_matches_tf(data, dst):
    (x,) = data
    dst_type = dtype_of_numpy(dst)
    compare("Cast", [x], {"x": x, "DstT": tf().as_dtype(dst_type.enum)}, {"DstT": dst_type})


def test_cast_computes_plain_cases():
    x = np.array([1.7, -2.5, 300.2], np.float32)
    for dst in (np.int32, np.float64, np.float16, np.bool_, np.uint8):
        d = dtype_of_numpy(dst)
        x2 = np.array([1.7, 2.5, 200.2], np.float32) if dst == np.uint8 else x
        assert compare("Cast", [x2], {"x": x2, "DstT": tf().as_dtype(d.enum)}, {"DstT": d}) == "same"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int8])
def test_large_arrays_match_tf(dtype):
    # Eigen vectorises long arrays (packet paths differ from scalar ones, e.g. pow): check
    # every elementwise kernel on an array long enough to take those paths.
    rs = np.random.RandomState(0)
    if np.dtype(dtype).kind == "f":
        x, y = (rs.randn(2, 50_003) * 10).astype(dtype)
        x[::97], y[::101], x[::89] = np.nan, np.inf, 0
    else:
        x, y = rs.randint(-100, 100, size=(2, 50_003)).astype(dtype)
        y[y == 0] = 1
    for op in BINARY:
        assert compare(op, [x, y], {"x": x, "y": y}) in ("same", "deferred", "unsupported", "tf-error")
    for op in ("Neg", "Square", "Sqrt"):
        assert compare(op, [x], {"x": x}) in ("same", "deferred", "unsupported", "tf-error")


def test_float_pow_is_left_to_tensorflow():
    with pytest.raises(Defer):
        ours("Pow", [np.array([2.0], np.float32), np.array([0.5], np.float32)])


# -- layout, generators, shapes ----------------------------------------------------------------

ANY_TYPES = [np.float32, np.int32, np.int64, np.uint8, np.bool_]


@st.composite
def tensor(draw, dtypes=ANY_TYPES, max_dims=4):
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=4))
    return draw(hnp.arrays(dtype, shape, elements=elements(dtype)))


def vector(values, dtype=np.int32):
    return np.array(values, dtype=dtype)


@SETTINGS
@given(x=tensor(), data=st.data())
def test_reshape_matches_tf(x, data):
    dims = list(data.draw(st.permutations(list(x.shape))))
    if dims and data.draw(st.booleans()):
        dims[data.draw(st.integers(0, len(dims) - 1))] = -1
    dims = data.draw(st.one_of(st.just(dims), st.lists(st.integers(-2, 5), max_size=3)))
    shape = vector(dims, data.draw(st.sampled_from([np.int32, np.int64])))
    compare("Reshape", [x, shape], {"tensor": x, "shape": shape})


@SETTINGS
@given(x=tensor(), data=st.data())
def test_transpose_matches_tf(x, data):
    perm = vector(data.draw(st.one_of(st.permutations(list(range(x.ndim))), st.lists(st.integers(-2, 4), max_size=4))))
    compare("Transpose", [x, perm], {"x": x, "perm": perm})


@SETTINGS
@given(x=tensor(), axis=st.integers(-6, 6))
def test_expand_dims_matches_tf(x, axis):
    a = np.array(axis, np.int32)
    compare("ExpandDims", [x, a], {"input": x, "axis": a})


@SETTINGS
@given(x=tensor(), dims=st.lists(st.integers(-4, 3), max_size=2, unique=True))
def test_squeeze_matches_tf(x, dims):
    compare("Squeeze", [x], {"input": x, "axis": dims}, {"squeeze_dims": dims})


@SETTINGS
@given(x=tensor(max_dims=3), data=st.data())
def test_concat_matches_tf(x, data):
    n = data.draw(st.integers(2, 3))
    values = [x]
    for _ in range(n - 1):
        shape = list(x.shape)
        if shape and data.draw(st.booleans()):
            shape[data.draw(st.integers(0, len(shape) - 1))] = data.draw(st.integers(0, 3))
        values.append(data.draw(hnp.arrays(x.dtype, tuple(shape), elements=elements(x.dtype))))
    axis = np.array(data.draw(st.integers(-4, 3)), np.int32)
    attrs = {"N": len(values)}
    compare("ConcatV2", [*values, axis], {"values": values, "axis": axis}, attrs)


@SETTINGS
@given(x=tensor(max_dims=3), n=st.integers(1, 3), axis=st.integers(-4, 4))
def test_pack_and_unpack_match_tf(x, n, axis):
    values = [x + (k if x.dtype != np.bool_ else 0) for k in range(n)] if x.dtype != np.bool_ else [x] * n
    compare("Pack", values, {"values": values, "axis": axis}, {"axis": axis, "N": n})
    if x.ndim:
        num = x.shape[axis % x.ndim] if -x.ndim <= axis < x.ndim else 1
        compare("Unpack", [x], {"value": x, "num": num, "axis": axis}, {"axis": axis, "num": num})


@SETTINGS
@given(dims=st.lists(st.integers(-1, 4), max_size=3), value=tensor(max_dims=1))
def test_fill_matches_tf(dims, value):
    d = vector(dims)
    compare("Fill", [d, value], {"dims": d, "value": value})


@SETTINGS
@given(start=st.integers(-20, 20), limit=st.integers(-20, 20), delta=st.integers(-5, 5), dtype=st.sampled_from([np.int32, np.int64]))
def test_range_matches_tf(start, limit, delta, dtype):
    args = [np.array(v, dtype) for v in (start, limit, delta)]
    compare("Range", args, dict(zip(("start", "limit", "delta"), args, strict=True)))


@SETTINGS
@given(x=tensor(), out=st.sampled_from([np.int32, np.int64]))
def test_shape_size_rank_match_tf(x, out):
    out_type = dtype_of_numpy(out)
    for op in ("Shape", "Size"):
        compare(op, [x], {"input": x, "out_type": tf().as_dtype(out_type.enum)}, {"out_type": out_type})
    compare("Rank", [x], {"input": x})


@SETTINGS
@given(x=tensor(), data=st.data())
def test_tile_and_broadcast_to_match_tf(x, data):
    multiples = vector(data.draw(st.lists(st.integers(0, 3), min_size=x.ndim, max_size=x.ndim + 1)))
    compare("Tile", [x, multiples], {"input": x, "multiples": multiples})
    extra = data.draw(st.lists(st.integers(1, 3), max_size=2))
    shape = vector(extra + [d if data.draw(st.booleans()) or d != 1 else 3 for d in x.shape])
    compare("BroadcastTo", [x, shape], {"input": x, "shape": shape})


MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=tensor(max_dims=3), data=st.data())
def test_strided_slice_matches_tf(x, data):
    n = data.draw(st.integers(1, 4))
    ints = st.lists(st.integers(-5, 5), min_size=n, max_size=n)
    begin, end = vector(data.draw(ints)), vector(data.draw(ints))
    strides = vector(data.draw(st.lists(st.sampled_from([-2, -1, 1, 2, 3]), min_size=n, max_size=n)))
    masks = {m: data.draw(st.integers(0, (1 << n) - 1)) if data.draw(st.booleans()) else 0 for m in MASKS}
    compare("StridedSlice", [x, begin, end, strides], {"input": x, "begin": begin, "end": end, "strides": strides, **masks}, masks)


def test_layout_kernels_compute_plain_cases():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    i = np.int32
    cases = [
        ("Reshape", [x, vector([4, -1])], {"tensor": x, "shape": vector([4, -1])}, None),
        ("Transpose", [x, vector([2, 0, 1])], {"x": x, "perm": vector([2, 0, 1])}, None),
        ("ExpandDims", [x, i(-1)], {"input": x, "axis": i(-1)}, None),
        ("ConcatV2", [x, x, i(1)], {"values": [x, x], "axis": i(1)}, {"N": 2}),
        ("Pack", [x, x], {"values": [x, x], "axis": 1}, {"axis": 1, "N": 2}),
        ("Unpack", [x], {"value": x, "num": 3, "axis": 1}, {"axis": 1, "num": 3}),
        ("Fill", [vector([2, 2]), np.float32(1.5)], {"dims": vector([2, 2]), "value": np.float32(1.5)}, None),
        ("Range", [i(0), i(10), i(3)], {"start": i(0), "limit": i(10), "delta": i(3)}, None),
        ("Tile", [x, vector([1, 2, 1])], {"input": x, "multiples": vector([1, 2, 1])}, None),
        ("BroadcastTo", [x, vector([2, 2, 3, 4])], {"input": x, "shape": vector([2, 2, 3, 4])}, None),
        (
            "StridedSlice",
            [x, vector([0, 1]), vector([0, -1]), vector([1, 1])],
            {"input": x, "begin": vector([0, 1]), "end": vector([0, -1]), "strides": vector([1, 1]), "shrink_axis_mask": 1},
            {"shrink_axis_mask": 1},
        ),
    ]
    for op, inputs, kwargs, attrs in cases:
        assert compare(op, inputs, kwargs, attrs) == "same", op
    y = np.ones((1, 3, 1), np.float32)
    assert compare("Squeeze", [y], {"input": y, "axis": []}) == "same"


@pytest.mark.parametrize("op", ["FloorDiv", "TruncateDiv"])
def test_a_subnormal_quotient_is_left_to_tensorflow(op):
    """TensorFlow flushes the subnormal quotient to -0.0 before rounding; numpy floors it to -1."""

    args = [Value.of_array(np.array(v), 2) for v in (-1.0, 4.49423284e307)]
    with pytest.raises(Defer):
        KERNELS[op](None, args, 1 << 20)
