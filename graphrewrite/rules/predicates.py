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

from graphrewrite.engine import attrvalues
from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import Node
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
    lists: bool = False  # takes list bindings whole (count, alike); other raw functions map over them


FUNCTIONS: dict[str, Function] = {}


def register(  # type: ignore[no-untyped-def]
    name: str, args: int | tuple[int, int], *, raw: bool = False, keywords: tuple[str, ...] = (), lists: bool = False
):
    """Decorator: add ``impl(env, *args)`` to :data:`FUNCTIONS` as *name*, taking *args* arguments."""
    low, high = (args, args) if isinstance(args, int) else args

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        doc = (impl.__doc__ or "").strip().split("\n")[0]
        FUNCTIONS[name] = Function(name, impl, low, high, raw, doc, keywords, lists)
        return impl

    return register


# ---- numeric -------------------------------------------------------------------------------


def _elementwise(name: str, fn: Callable[[Any], Any], doc: str) -> None:
    def impl(env: Env, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return x.with_array(fn(x.array)) if isinstance(x, Channelled) else fn(np.asarray(x))

    impl.__doc__ = doc
    register(name, 1)(impl)


_elementwise("sqrt", np.sqrt, "Square root, elementwise.")
_elementwise("rsqrt", lambda a: 1 / np.sqrt(a), "1 / sqrt(x), elementwise (TensorFlow's Rsqrt).")
_elementwise("abs", np.abs, "Absolute value, elementwise.")
_elementwise("exp", np.exp, "e ** x, elementwise.")
_elementwise("log", np.log, "Natural logarithm, elementwise.")
_elementwise("square", np.square, "x * x, elementwise.")
_elementwise("isfinite", np.isfinite, "True where x is neither infinite nor NaN, elementwise.")


@register("all", 1)
def _all(env: Env, x: Any) -> bool:
    """True when every element of x is true."""
    x = plain(x)
    return bool(x.all() if isinstance(x, np.ndarray) else np.all(x))  # the method skips np.all's dispatch


@register("any", 1)
def _any(env: Env, x: Any) -> bool:
    """True when some element of x is true."""
    x = plain(x)
    return bool(x.any() if isinstance(x, np.ndarray) else np.any(x))


@register("allclose", (2, 4), keywords=("rtol", "atol"))
def _allclose(env: Env, a: Any, b: Any, rtol: float = 1e-6, atol: float = 0.0) -> bool:
    """allclose(a, b, rtol=1e-6, atol=0): every element of a is close to b."""
    return bool(np.allclose(plain(a), plain(b), rtol=float(rtol), atol=float(atol)))


@register("choose", 3, raw=True)
def _choose(env: Env, condition: Any, a: Any, b: Any) -> Any:
    """choose(c, a, b): a when the condition c holds, else b."""
    return a if env.truth(condition) else b


@register("reshape", 2)
def _reshape(env: Env, x: Any, shape: Any) -> np.ndarray:
    """reshape(x, [d0, d1, ...]); one dim may be -1."""
    try:
        return np.reshape(plain(x), [int(d) for d in np.asarray(shape).reshape(-1)])
    except ValueError:
        raise EvalError(f"cannot reshape a value of shape {shape_text(x)} to {np.asarray(shape).tolist()}") from None


@register("flat", 1)
def _flat(env: Env, x: Any) -> np.ndarray:
    """x as a vector (reshape(x, [-1]))."""
    return np.reshape(plain(x), [-1])


@register("transpose", (1, 2))
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
    register(_name, 1)(lambda env, x, _fn=_fn: _fn(plain(x)))
    FUNCTIONS[_name] = attrs.evolve(FUNCTIONS[_name], doc=_doc)


@register("param", 2, raw=True)
def _param(env: Env, name: Any, default: Any) -> Any:
    """The value of rule parameter *name* in this step (its default when the script gives none);
    ``rule r(n: int = 3)`` makes ``n`` mean ``param("n", 3)``."""
    value = env.ctx.args.get(plain(name), default) if env.ctx is not None else default
    return value.name if isinstance(value, DType) else value


@register("arange", 1)
def _arange(env: Env, n: Any) -> np.ndarray:
    """[0, 1, ..., n-1] as int32."""
    return np.arange(int(n), dtype=np.int32)


def _numpy_dtype(name: Any) -> np.dtype:
    from graphrewrite.engine.attrvalues import DType

    try:
        return DType.named(str(name)).numpy
    except ValueError:
        raise EvalError(f"unknown dtype {name!r}") from None


@register("zeros", (1, 2), raw=True)
def _zeros(env: Env, shape: Any, dtype: Any = "float32") -> np.ndarray:
    """zeros([d0, ...], "int32"): a zero-filled array (float32 unless a dtype is given)."""
    return np.zeros([int(d) for d in np.asarray(env.numeric(shape)).reshape(-1)], _numpy_dtype(dtype))


@register("ones", (1, 2), raw=True)
def _ones(env: Env, shape: Any, dtype: Any = "float32") -> np.ndarray:
    """ones([d0, ...], "float32"): a one-filled array."""
    return np.ones([int(d) for d in np.asarray(env.numeric(shape)).reshape(-1)], _numpy_dtype(dtype))


@register("cast", 2, raw=True)
def _cast(env: Env, x: Any, dtype: Any) -> np.ndarray:
    """cast(x, "float16"): x converted to another dtype."""
    return np.asarray(plain(env.numeric(x))).astype(_numpy_dtype(dtype))


# ---- what the graph says about a bound name ------------------------------------------------


def bound_arg(value: Any, function: str) -> Bound:
    if not isinstance(value, Bound):
        raise EvalError(f"{function}() needs a bound name")
    return value


def node_arg(value: Any, function: str) -> Node:
    bound = bound_arg(value, function)
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


def known_shape(env: Env, value: Any, function: str) -> tuple[int, ...]:
    shape = static_shape(env, value)
    if shape is None or any(d is None for d in shape):
        name = value.name if isinstance(value, Bound) else "the value"
        raise EvalError(f"{function}(): the shape of '{name}' is not known")
    return shape  # type: ignore[return-value]


@register("stores_no_data", 1, raw=True)
def _stores_no_data(env: Env, x: Any) -> bool:
    """stores_no_data(c): c is a Const in TensorFlow's compact all-zeros form, with no data."""
    node = node_arg(x, "stores_no_data")
    value = node.attr.get("value")
    return node.op == "Const" and value is not None and attrvalues.stores_no_data(value.tensor)


@register("shape", 1, raw=True)
def _shape(env: Env, x: Any) -> list[int]:
    """shape(x): the dims of x as a list (a Const's value, or the shape the graph records)."""
    return list(known_shape(env, x, "shape"))


@register("dim", 2, raw=True)
def _dim(env: Env, x: Any, index: Any) -> int:
    """dim(x, i): dimension i of x (negative counts from the end), when the graph records it."""
    i = int(plain(env.numeric(index)))
    shape = static_shape(env, x)
    name = getattr(x, "name", "the value")
    if shape is None or not -len(shape) <= i < len(shape):
        raise EvalError(f"dim(): dimension {i} of '{name}' is not known")
    if shape[i] is None:
        raise EvalError(f"dim(): dimension {i} of '{name}' is not known (shape {list(shape)})")
    return int(shape[i])  # type: ignore[arg-type]


@register("rank", 1, raw=True)
def _rank(env: Env, x: Any) -> int:
    """rank(x): the number of dims of x."""
    shape = static_shape(env, x)
    if shape is None:
        raise EvalError(f"rank(): the rank of '{getattr(x, 'name', 'the value')}' is not known")
    return len(shape)


@register("size", 1, raw=True)
def _size(env: Env, x: Any) -> int:
    """size(x): the number of elements of x."""
    return int(np.prod(known_shape(env, x, "size"), dtype=np.int64))


@register("is_scalar", 1, raw=True)
def _is_scalar(env: Env, x: Any) -> bool:
    """is_scalar(x): x has rank 0."""
    return static_shape(env, x) == ()


@register("dtype", 1, raw=True)
def _dtype(env: Env, x: Any) -> str:
    """dtype(x): the element type name of x ("float32", "int32", ...)."""
    from graphrewrite.rules import typeinfer

    if not isinstance(x, Bound):
        return str(np.asarray(plain(x)).dtype)
    found = typeinfer.tensor_dtype(env.graph, x.ref)
    if found is None:
        raise EvalError(f"dtype(): the dtype of '{x.name}' is not known")
    return str(found)


@register("op", 1, raw=True)
def _op(env: Env, x: Any) -> str:
    """op(n): the op type of the node bound to n ("Conv2D")."""
    return node_arg(x, "op").op


@register("name", 1, raw=True)
def _node_name(env: Env, x: Any) -> str:
    """name(n): the name of the node bound to n ("conv1/Conv2D"), for naming new nodes."""
    return node_arg(x, "name").name


@register("is_const", 1, raw=True)
def _is_const(env: Env, x: Any) -> bool:
    """is_const(x): x is produced by a Const node."""
    return node_arg(x, "is_const").op == "Const"


@register("has_attr", 2, raw=True)
def _has_attr(env: Env, x: Any, name: Any) -> bool:
    """has_attr(n, "name"): the node bound to n sets attribute "name"."""
    return str(name) in node_arg(x, "has_attr").attr


@register("uses", 1, raw=True)
def _uses(env: Env, x: Any) -> int:
    """uses(n): how many nodes read the node bound to n (data or control)."""
    return len(env.graph.consumers(node_arg(x, "uses").name))


@register("single_use", 1, raw=True)
def _single_use(env: Env, x: Any) -> bool:
    """single_use(n): exactly one node reads n, and n is not a graph input or output."""
    node = node_arg(x, "single_use")
    return env.graph.consumer_count(node.name) == 1 and node.name not in env.ctx.protected


@register("copies_device", 1, raw=True)
def _copies_device(env: Env, x: Any) -> bool:
    """copies_device(n): n reads a data input produced on another device (it is a transfer)."""
    node = node_arg(x, "copies_device")
    for ref in node.data_inputs if node.device else ():
        producer = env.graph.get(ref.node)
        if producer is not None and producer.device and producer.device != node.device:
            return True
    return False


@register("outputs_unused", (1, 2), raw=True)
def _outputs_unused(env: Env, x: Any, first: Any = 1) -> bool:
    """outputs_unused(n, k=1): no node reads output k or later of n."""
    node = node_arg(x, "outputs_unused")
    start = int(plain(env.numeric(first)))
    for consumer in env.graph.consumers(node.name):
        if any(r.node == node.name and r.port >= start for r in env.graph.node(consumer).inputs):
            return False
    return True


@register("keeps_shape", 2, raw=True)
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

