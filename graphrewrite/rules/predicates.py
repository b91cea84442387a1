"""The functions ``where``, ``let`` and ``const(...)`` can call, in one registry.

Each entry declares its arity and whether it sees bound names as such (``raw``: ``shape(x)``,
``single_use(conv)`` ask about the graph) or as numpy values (``sqrt(var)``). The compiler checks
calls against :data:`FUNCTIONS`; ``docs/rule-language.md`` lists them. Importing this module does
not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.graph import Node
from graphrewrite.rules import channels
from graphrewrite.rules.expr import Bound, Channelled, Env, EvalError, plain, shape_text


@attrs.frozen
class Function:
    """A library function: ``impl(env, *args)``, taking *min_args* to *max_args* arguments."""

    name: str
    impl: Callable[..., Any] = attrs.field(eq=False)
    min_args: int
    max_args: int
    raw: bool
    doc: str
    keywords: tuple[str, ...] = ()


FUNCTIONS: dict[str, Function] = {}


def _function(name: str, args: int | tuple[int, int], *, raw: bool = False, keywords: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    low, high = (args, args) if isinstance(args, int) else args

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        doc = (impl.__doc__ or "").strip().split("\n")[0]
        FUNCTIONS[name] = Function(name, impl, low, high, raw, doc, keywords)
        return impl

    return register


# ---- numeric -------------------------------------------------------------------------------


def _elementwise(name: str, fn: Callable[[Any], Any], doc: str) -> None:
    def impl(env: Env, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return x.with_array(fn(x.array)) if isinstance(x, Channelled) else fn(np.asarray(x))

    impl.__doc__ = doc
    _function(name, 1)(impl)


_elementwise("sqrt", np.sqrt, "Square root, elementwise.")
_elementwise("rsqrt", lambda a: 1 / np.sqrt(a), "1 / sqrt(x), elementwise (TensorFlow's Rsqrt).")
_elementwise("abs", np.abs, "Absolute value, elementwise.")
_elementwise("exp", np.exp, "e ** x, elementwise.")
_elementwise("log", np.log, "Natural logarithm, elementwise.")
_elementwise("square", np.square, "x * x, elementwise.")


@_function("all", 1)
def _all(env: Env, x: Any) -> bool:
    """True when every element of x is true."""
    return bool(np.all(plain(x)))


@_function("any", 1)
def _any(env: Env, x: Any) -> bool:
    """True when some element of x is true."""
    return bool(np.any(plain(x)))


@_function("allclose", (2, 4))
def _allclose(env: Env, a: Any, b: Any, rtol: float = 1e-6, atol: float = 0.0) -> bool:
    """allclose(a, b, rtol=1e-6, atol=0): every element of a is close to b."""
    return bool(np.allclose(plain(a), plain(b), rtol=float(rtol), atol=float(atol)))


@_function("reshape", 2)
def _reshape(env: Env, x: Any, shape: Any) -> np.ndarray:
    """reshape(x, [d0, d1, ...]); one dim may be -1."""
    try:
        return np.reshape(plain(x), [int(d) for d in np.asarray(shape).reshape(-1)])
    except ValueError:
        raise EvalError(f"cannot reshape a value of shape {shape_text(x)} to {np.asarray(shape).tolist()}") from None


@_function("flat", 1)
def _flat(env: Env, x: Any) -> np.ndarray:
    """x as a vector (reshape(x, [-1]))."""
    return np.reshape(plain(x), [-1])


@_function("transpose", (1, 2))
def _transpose(env: Env, x: Any, perm: Any = None) -> np.ndarray:
    """transpose(x) reverses the axes; transpose(x, perm) permutes them."""
    axes = None if perm is None else [int(p) for p in np.asarray(perm).reshape(-1)]
    try:
        return np.transpose(plain(x), axes)
    except ValueError:
        raise EvalError(f"cannot transpose a value of shape {shape_text(x)} by {axes}") from None


for _name, _fn, _doc in (
    ("sum", np.sum, "Sum of all elements."),
    ("prod", np.prod, "Product of all elements."),
    ("min", np.min, "Smallest element."),
    ("max", np.max, "Largest element."),
):
    _function(_name, 1)(lambda env, x, _fn=_fn: _fn(plain(x)))
    FUNCTIONS[_name] = attrs.evolve(FUNCTIONS[_name], doc=_doc)


@_function("arange", 1)
def _arange(env: Env, n: Any) -> np.ndarray:
    """[0, 1, ..., n-1] as int32."""
    return np.arange(int(n), dtype=np.int32)


def _numpy_dtype(name: Any) -> np.dtype:
    from graphrewrite.engine.attrvalues import DType

    try:
        return DType.named(str(name)).numpy
    except ValueError:
        raise EvalError(f"unknown dtype {name!r}") from None


@_function("zeros", (1, 2), raw=True)
def _zeros(env: Env, shape: Any, dtype: Any = "float32") -> np.ndarray:
    """zeros([d0, ...], "int32"): a zero-filled array (float32 unless a dtype is given)."""
    return np.zeros([int(d) for d in np.asarray(env.numeric(shape)).reshape(-1)], _numpy_dtype(dtype))


@_function("ones", (1, 2), raw=True)
def _ones(env: Env, shape: Any, dtype: Any = "float32") -> np.ndarray:
    """ones([d0, ...], "float32"): a one-filled array."""
    return np.ones([int(d) for d in np.asarray(env.numeric(shape)).reshape(-1)], _numpy_dtype(dtype))


@_function("cast", 2, raw=True)
def _cast(env: Env, x: Any, dtype: Any) -> np.ndarray:
    """cast(x, "float16"): x converted to another dtype."""
    return np.asarray(plain(env.numeric(x))).astype(_numpy_dtype(dtype))


@_function("dilate", 2)
def _dilate(env: Env, w: Any, rates: Any) -> np.ndarray:
    """dilate(w, [rh, rw]): a [h, w, ...] filter with rh-1 / rw-1 zero rows / columns between taps."""
    w = np.asarray(plain(w))
    rh, rw = (int(r) for r in np.asarray(plain(rates)).reshape(-1)[:2])
    if w.ndim < 2 or rh < 1 or rw < 1:
        raise EvalError(f"cannot dilate a filter of shape {shape_text(w)} by [{rh}, {rw}]")
    out = np.zeros(((w.shape[0] - 1) * rh + 1, (w.shape[1] - 1) * rw + 1, *w.shape[2:]), w.dtype)
    out[::rh, ::rw] = w
    return out


# ---- what the graph says about a bound name ------------------------------------------------


def _bound(value: Any, function: str) -> Bound:
    if not isinstance(value, Bound):
        raise EvalError(f"{function}() needs a bound name")
    return value


def _node(value: Any, function: str) -> Node:
    bound = _bound(value, function)
    if bound.node is None:
        raise EvalError(f"{function}(): '{bound.name}' names a node that does not exist")
    return bound.node


def static_shape(env: Env, value: Any) -> tuple[int | None, ...] | None:
    """The shape of a value, or of a bound tensor when the graph records it; None if unknown."""
    if not isinstance(value, Bound):
        return tuple(np.shape(plain(env.numeric(value))))
    node = value.node
    if node is None:
        return None
    if node.op == "Const":
        return tuple(np.shape(plain(env.array(value))))
    shapes = node.get("_output_shapes")
    if shapes and value.ref.port < len(shapes):
        return shapes[value.ref.port]
    if node.op in ("Placeholder", "PlaceholderWithDefault") and node.get("shape") is not None:
        return node.get("shape")
    return None


def _known_shape(env: Env, value: Any, function: str) -> tuple[int, ...]:
    shape = static_shape(env, value)
    if shape is None or any(d is None for d in shape):
        name = value.name if isinstance(value, Bound) else "the value"
        raise EvalError(f"{function}(): the shape of '{name}' is not known")
    return shape  # type: ignore[return-value]


@_function("shape", 1, raw=True)
def _shape(env: Env, x: Any) -> list[int]:
    """shape(x): the dims of x as a list (a Const's value, or the shape the graph records)."""
    return list(_known_shape(env, x, "shape"))


@_function("rank", 1, raw=True)
def _rank(env: Env, x: Any) -> int:
    """rank(x): the number of dims of x."""
    shape = static_shape(env, x)
    if shape is None:
        raise EvalError(f"rank(): the rank of '{getattr(x, 'name', 'the value')}' is not known")
    return len(shape)


@_function("size", 1, raw=True)
def _size(env: Env, x: Any) -> int:
    """size(x): the number of elements of x."""
    return int(np.prod(_known_shape(env, x, "size"), dtype=np.int64))


@_function("is_scalar", 1, raw=True)
def _is_scalar(env: Env, x: Any) -> bool:
    """is_scalar(x): x has rank 0."""
    return static_shape(env, x) == ()


@_function("dtype", 1, raw=True)
def _dtype(env: Env, x: Any) -> str:
    """dtype(x): the element type name of x ("float32", "int32", ...)."""
    from graphrewrite.rules import typeinfer

    if not isinstance(x, Bound):
        return str(np.asarray(plain(x)).dtype)
    found = typeinfer.tensor_dtype(env.graph, x.ref)
    if found is None:
        raise EvalError(f"dtype(): the dtype of '{x.name}' is not known")
    return str(found)


@_function("op", 1, raw=True)
def _op(env: Env, x: Any) -> str:
    """op(n): the op type of the node bound to n ("Conv2D")."""
    return _node(x, "op").op


@_function("is_const", 1, raw=True)
def _is_const(env: Env, x: Any) -> bool:
    """is_const(x): x is produced by a Const node."""
    return _node(x, "is_const").op == "Const"


@_function("has_attr", 2, raw=True)
def _has_attr(env: Env, x: Any, name: Any) -> bool:
    """has_attr(n, "name"): the node bound to n sets attribute "name"."""
    return str(name) in _node(x, "has_attr").attr


@_function("uses", 1, raw=True)
def _uses(env: Env, x: Any) -> int:
    """uses(n): how many nodes read the node bound to n (data or control)."""
    return len(env.graph.consumers(_node(x, "uses").name))


@_function("single_use", 1, raw=True)
def _single_use(env: Env, x: Any) -> bool:
    """single_use(n): exactly one node reads n, and n is not a graph input or output."""
    node = _node(x, "single_use")
    return len(env.graph.consumers(node.name)) == 1 and node.name not in env.ctx.protected


@_function("outputs_unused", (1, 2), raw=True)
def _outputs_unused(env: Env, x: Any, first: Any = 1) -> bool:
    """outputs_unused(n, k=1): no node reads output k or later of n."""
    node = _node(x, "outputs_unused")
    start = int(plain(env.numeric(first)))
    for consumer in env.graph.consumers(node.name):
        if any(r.node == node.name and r.port >= start for r in env.graph.node(consumer).inputs):
            return False
    return True


@_function("keeps_shape", 2, raw=True)
def _keeps_shape(env: Env, x: Any, c: Any) -> bool:
    """keeps_shape(x, c): x combined elementwise with c has the shape of x (c does not broadcast x)."""
    c_shape = static_shape(env, c)
    if c_shape is None:
        return False
    if c_shape == ():
        return True
    x_shape = static_shape(env, x)
    if x_shape is None or len(c_shape) > len(x_shape):
        return False
    tail = x_shape[len(x_shape) - len(c_shape) :]
    return all(cd == 1 or (xd is not None and cd == xd) for cd, xd in zip(c_shape, tail, strict=True))


# ---- channels ------------------------------------------------------------------------------


def _weights(env: Env, w: Any, function: str) -> tuple[Channelled, Node]:
    bound = _bound(w, function)
    value = env.array(bound)
    if not isinstance(value, Channelled) or bound.consumer is None:
        where = f"{bound.consumer.op} input {bound.index}" if bound.consumer is not None else "its place"
        raise EvalError(
            f"{function}(): '{bound.name}' is not the weights of a convolution or MatMul "
            f"(it is {where} in the pattern)"
        )
    return value, bound.consumer


@_function("channels", 1, raw=True)
def _channels(env: Env, w: Any) -> int:
    """channels(w): the number of output channels of the weights (or per-channel vector) w."""
    return _weights(env, w, "channels")[0].channels


@_function("per_output_channel", 2, raw=True)
def _per_output_channel(env: Env, s: Any, w: Any) -> bool:
    """per_output_channel(s, w): s multiplies each output channel of the op reading w by one value
    (a scalar, [C], or a broadcastable shape such as [1,1,1,C] or NCHW's [C,1,1])."""
    weights, consumer = _weights(env, w, "per_output_channel")
    layout = channels.output_layout(consumer)
    if layout is None:
        return False
    return channels.fits_channels(_known_shape(env, s, "per_output_channel"), layout, weights.channels)


@_function("channel_axis", 1, raw=True)
def _channel_axis(env: Env, n: Any) -> int:
    """channel_axis(n): the channel axis of n's output: -1 when last (NHWC), else its index."""
    node = _node(n, "channel_axis")
    layout = channels.output_layout(node)
    if layout is None:
        raise EvalError(f"channel_axis(): {node.op} '{node.name}' has no known channel axis")
    return layout[1]


@_function("channel_shaped", 2, raw=True)
def _channel_shaped(env: Env, v: Any, n: Any) -> np.ndarray:
    """channel_shaped(v, n): the vector v shaped to broadcast along n's channel axis ([C,1,1] for NCHW)."""
    node = _node(n, "channel_shaped")
    vector = np.reshape(plain(env.numeric(v)), [-1])
    layout = channels.output_layout(node)
    if layout is None:
        raise EvalError(f"channel_shaped(): {node.op} '{node.name}' has no known channel axis")
    rank, axis = layout
    if axis == -1:
        return vector
    if rank is None:
        raise EvalError(f"channel_shaped(): the rank of {node.op} '{node.name}' is not known")
    return np.reshape(vector, [-1] + [1] * (rank - axis - 1))


# ---- attributes ----------------------------------------------------------------------------


def node_attr(node: Node, name: str) -> Any:
    """Attribute *name* of *node* as a plain value, falling back to the OpDef's default.

    Types read as their names ("float32"), strings as str, shapes and lists as lists.
    """
    from graphrewrite import _tf
    from graphrewrite.engine.attrvalues import DType, decode

    if name in node.attr:
        value = node.get(name)
    else:
        op_def = _tf.op_def(node.op)
        spec = next((a for a in op_def.attr if a.name == name), None) if op_def is not None else None
        if spec is None or not spec.HasField("default_value"):
            raise EvalError(f"node '{node.name}' ({node.op}) has no attribute '{name}'")
        value = decode(spec.default_value)
    return _plain_attr(value, DType)


def _plain_attr(value: Any, dtype_class: type) -> Any:
    if isinstance(value, dtype_class):
        return str(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (list, tuple)):
        return [_plain_attr(v, dtype_class) for v in value]
    return value
