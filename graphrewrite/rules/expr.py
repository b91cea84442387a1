"""The numpy-backed evaluator for ``where``, ``let``, ``const(...)`` and attribute values.

An :class:`Env` evaluates expression ASTs against one match. Bound names evaluate to
:class:`Bound` values; arithmetic turns a bound Const into its numpy value. A constant that a
convolution, BiasAdd or batch norm reads as weights or per-channel vectors becomes a
:class:`Channelled` array, so ``w * s`` multiplies each *output channel* of ``w`` by ``s``
whatever the op's weight layout is (HWIO, depthwise H,W,in,multiplier, MatMul with
``transpose_b``). Anything that cannot be evaluated raises :class:`EvalError`, whose message the
rule reports as its reason for not firing.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from graphrewrite.engine.graph import Node, TensorRef
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules import channels


class EvalError(Exception):
    """An expression could not be evaluated for this match; the message says why."""


class Bound:
    """A name the pattern bound: the tensor, its producer node, and where the pattern reads it.

    A plain slotted class, not a frozen attrs class: every match builds several, and attrs'
    frozen ``__init__`` costs three times as much. Treat instances as immutable.
    """

    __slots__ = ("consumer", "index", "is_node", "name", "node", "ref")

    def __init__(
        self,
        name: str,
        ref: TensorRef,
        node: Node | None,
        is_node: bool,
        consumer: Node | None = None,
        index: int = -1,
    ):
        self.name = name
        self.ref = ref
        self.node = node
        self.is_node = is_node
        self.consumer = consumer
        self.index = index

    def __repr__(self) -> str:
        return f"Bound(name={self.name!r}, ref={self.ref!r}, node={self.node!r}, is_node={self.is_node!r})"


class BoundList(tuple):  # type: ignore[type-arg]
    """A list binding (``*xs``, or a name inside ``*fs: Relu(xs)``): a tuple of :class:`Bound`.

    A graph function given one answers for each element (``single_use(fs)`` is a list of
    booleans, for ``all(...)``); ``xs[i]`` is one element; ``count(xs)`` is its length.
    """

    __slots__ = ()


class Channelled:
    """An array whose output channels lie along *axes* (flattened in order); *name* is its source.

    A plain slotted class (treat it as immutable): arithmetic on weights makes one per operation.
    """

    __slots__ = ("_channels", "array", "axes", "name")

    def __init__(self, array: np.ndarray, axes: tuple[int, ...], name: str):
        self.array = array
        self.axes = axes
        self.name = name
        self._channels: int | None = None

    def __repr__(self) -> str:
        return f"Channelled(array={self.array!r}, axes={self.axes!r}, name={self.name!r})"

    @property
    def channels(self) -> int:
        found = self._channels
        if found is None:
            shape = self.array.shape
            found = self._channels = math.prod(shape[a] for a in self.axes)
        return found

    def expand(self, vector: np.ndarray) -> np.ndarray:
        """*vector* (one value per channel) shaped to broadcast along this array's channel axes."""
        shape = [1] * self.array.ndim
        for axis in self.axes:
            shape[axis] = self.array.shape[axis]
        return np.asarray(vector).reshape(shape)

    def with_array(self, array: np.ndarray) -> Channelled:
        return Channelled(array, self.axes, self.name)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.mod, "**": np.power,
}  # fmt: skip
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
COMPARE_OPS = frozenset(_COMPARE)


def plain(value: Any) -> Any:
    """*value* without its channel annotation."""
    return value.array if isinstance(value, Channelled) else value


def shape_text(value: Any) -> str:
    return "[" + ",".join(str(d) for d in np.shape(plain(value))) + "]"


class Env:
    """One match's evaluation state: bound names, let values, the constants read so far.

    Expressions are evaluated by closures compiled once per rule (:mod:`graphrewrite.rules.closures`);
    *compiled* holds a rule's closures (None: compile on first use). *functions* maps names to
    library functions.
    """

    def __init__(
        self,
        bound: Mapping[str, Bound | BoundList],
        lets: Mapping[str, A.Expr],
        functions: Mapping[str, Any],
        graph: Any,
        ctx: Any,
        compiled: Any = None,
    ):
        if compiled is None:
            from graphrewrite.rules.closures import Compiled  # closures imports this module

            compiled = Compiled(lets, functions)
        self.bound = bound
        self.lets = lets
        self.functions = functions
        self.graph = graph
        self.ctx = ctx
        self.compiled = compiled
        self._values: dict[str, tuple[Any, tuple[np.dtype, ...]]] = {}
        self._arrays: dict[str, Any] = {}
        self.const_dtypes: list[np.dtype] = []  # dtypes of the constants read, for const()

    # -- values of names --

    def lookup(self, name: str) -> Any:
        if name in self.lets:
            return self.let(name)
        if name in self.bound:
            return self.bound[name]
        raise EvalError(f"'{name}' is not bound")

    def let(self, name: str) -> Any:
        """The value of let *name*, computed on first use; it counts as one constant read."""
        if name in self._values:
            value, dtypes = self._values[name]
            self.const_dtypes.extend(dtypes)
            return value
        mark = len(self.const_dtypes)
        value = self.eval(self.lets[name])
        del self.const_dtypes[mark:]  # a let counts as one constant of its own dtype
        array = plain(value)
        dtypes = (np.asarray(array).dtype,) if isinstance(array, (np.ndarray, np.generic)) else ()
        self._values[name] = (value, dtypes)
        self.const_dtypes.extend(dtypes)
        return value

    def array(self, bound: Bound) -> Any:
        """The value of a bound constant: a numpy array, Channelled when its role has channels."""
        value: Any = self._arrays.get(bound.name)
        if value is None:
            node = bound.node
            if node is None or node.op != "Const" or bound.ref.port != 0:
                what = f"{node.op} '{node.name}'" if node is not None else f"missing node '{bound.ref.node}'"
                raise EvalError(f"'{bound.name}' is not a constant (it is {what})")
            value = node.value()
            axes = channels.weight_axes(bound.consumer, bound.index) if bound.consumer is not None else None
            if axes is not None and value.ndim > max(axes):
                value = Channelled(value, axes, bound.name)
            self._arrays[bound.name] = value
        self.const_dtypes.append(value.array.dtype if value.__class__ is Channelled else value.dtype)
        return value

    def numeric(self, value: Any) -> Any:
        """*value* as something numpy can compute with (bound constants become arrays)."""
        kind = value.__class__
        if kind is np.ndarray or kind is Channelled:  # the common case, first
            return value
        if kind is Bound:
            return self.array(value)
        if isinstance(value, (list, tuple)):
            return np.asarray([plain(self.numeric(v)) for v in value])
        if isinstance(value, str):
            raise EvalError(f"cannot compute with the string {value!r}")
        return value

    # -- evaluation --

    def eval(self, expr: A.Expr) -> Any:
        """The value of *expr* for this match."""
        return self.compiled.closure(expr)(self)

    def index(self, value: Any) -> Any:
        """*value* as an index: a Python int when it is one number."""
        value = plain(self.numeric(value))
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        return int(value) if isinstance(value, (int, np.integer)) else value

    def comparable(self, value: Any) -> Any:
        """*value* as ``==`` and friends compare it (bound constants become arrays)."""
        return plain(self.numeric(value)) if isinstance(value, Bound) else plain(value)

    def truth(self, value: Any) -> bool:
        """A condition's value as a bool; arrays of more than one value must go through all/any."""
        if value is True or value is False:  # what predicates and ``and``/``not`` give
            return value
        value = plain(self.numeric(value)) if isinstance(value, Bound) else plain(value)
        if isinstance(value, np.ndarray):
            if value.size != 1:
                raise EvalError(f"a condition gives {value.size} values; wrap it in all(...) or any(...)")
            return bool(value.reshape(()))
        return bool(value)


def compare(op: str, left: Any, right: Any) -> Any:
    """``==`` and friends: elementwise for arrays, plain Python for strings, lists, numbers."""
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return _COMPARE[op](list(left), list(right))
    if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
        try:
            return _COMPARE[op](np.asarray(left), np.asarray(right))
        except ValueError:
            raise EvalError(f"cannot compare values of shapes {shape_text(left)} and {shape_text(right)}") from None
    return _COMPARE[op](left, right)


def combine(op: str, left: Any, right: Any) -> Any:
    """``left op right``; a Channelled operand spreads a per-channel operand along its channels."""
    function = _ARITHMETIC[op]
    if isinstance(left, Channelled) or isinstance(right, Channelled):
        a, b, like = _align(left, right)
        return like.with_array(_apply(function, op, a, b))
    return _apply(function, op, left, right)


def _apply(function: Callable[[Any, Any], Any], op: str, a: Any, b: Any) -> Any:
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            return function(a, b)
    except (ValueError, TypeError):
        raise EvalError(f"cannot compute {shape_text(a)} {op} {shape_text(b)}: shapes do not broadcast") from None


def _align(left: Any, right: Any) -> tuple[Any, Any, Channelled]:
    """Both operands as arrays that broadcast channel-wise, and the layout of the result."""
    if isinstance(left, Channelled) and isinstance(right, Channelled):
        if left.array.shape == right.array.shape:
            return left.array, right.array, left
        if left.array.ndim == 1:
            return right.expand(_per_channel(left.array, right)), right.array, right
        if right.array.ndim == 1:
            return left.array, left.expand(_per_channel(right.array, left)), left
        raise EvalError(
            f"cannot combine '{left.name}' (shape {shape_text(left)}) with '{right.name}' (shape {shape_text(right)})"
        )
    if isinstance(left, Channelled):
        return left.array, _spread(right, left), left
    return _spread(left, right), right.array, right  # type: ignore[union-attr]


def _spread(value: Any, like: Channelled) -> Any:
    array = np.asarray(value)
    if array.size == 1:
        return array.reshape(()) if isinstance(value, np.ndarray) else value
    return like.expand(_per_channel(array, like))


def _per_channel(array: np.ndarray, like: Channelled) -> np.ndarray:
    if array.size != like.channels:
        raise EvalError(
            f"a value of shape {shape_text(array)} does not fit the {like.channels} output channels "
            f"of '{like.name}' (shape {shape_text(like)}); expected a scalar or {like.channels} values"
        )
    return array.reshape(-1)
