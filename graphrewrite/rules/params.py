"""Typed rule parameters: the schema each transform declares, and conversion of script values.

GTT's parser yields strings only; each transform then read them with its own helper and
ignored unknown keys. Here every parameter is declared with a type, a default and whether it
repeats, and values are converted and checked before any rule runs.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import attrs


class Kind(enum.Enum):
    """How a parameter's text is read."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"  # true/false/1/0, as GTT's GetOneBoolParameter
    DTYPE = "dtype"  # float, float32, int32, DT_FLOAT, ...
    SHAPE = "shape"  # "1,299,299,3"; -1 or ? for an unknown dim; "" for a scalar


@attrs.frozen
class Param:
    """One declared parameter of a transform."""

    name: str
    kind: Kind = Kind.STRING
    default: Any = None
    repeated: bool = False
    required: bool = False
    doc: str = ""
    choices: tuple[Any, ...] = ()  # the accepted values (converted), when only some are


    def describe(self) -> str:
        """``name: type = default`` for ``graphrewrite rules``."""
        text = f"{self.name}: {self.kind.value}{'...' if self.repeated else ''}"
        if self.required:
            return text + " (required)"
        if self.choices:
            text += " in [" + ", ".join(str(c) for c in self.choices) + "]"
        if self.default is not None and not self.repeated:
            shown = str(self.default).lower() if isinstance(self.default, bool) else self.default
            return f"{text} = {shown}"
        return text

    def convert(self, text: str) -> Any:
        """The typed value of *text*; ValueError with a message naming the expected form."""
        value = CONVERTERS[self.kind](text)
        if self.choices and value not in self.choices:
            raise ValueError(f"expected one of {', '.join(str(c) for c in self.choices)}, got '{text}'")
        return value


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got '{text}'") from None


def _float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number, got '{text}'") from None


def _bool(text: str) -> bool:
    value = {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())
    if value is None:
        raise ValueError(f"expected true, false, 1 or 0, got '{text}'")
    return value


def _dtype(text: str) -> Any:
    from graphrewrite.engine.attrvalues import DType

    return DType.named(text)


Shape = tuple  # tuple[int | None, ...]: None is an unknown dim


def _shape(text: str) -> tuple[int | None, ...]:
    if not text.strip():
        return ()
    dims: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part in ("-1", "?"):
            dims.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise ValueError(f"expected a shape like \"1,224,224,3\" (-1 or ? for unknown), got '{text}'") from None
        if value < 0:
            raise ValueError(f"dimension {value} in '{text}' is negative; use -1 or ? for unknown")
        dims.append(value)
    return tuple(dims)


CONVERTERS = {
    Kind.STRING: lambda text: text,
    Kind.INT: _int,
    Kind.FLOAT: _float,
    Kind.BOOL: _bool,
    Kind.DTYPE: _dtype,
    Kind.SHAPE: _shape,
}


def defaults(params: Sequence[Param]) -> dict[str, Any]:
    """The argument map a transform sees when the script gives no values.

    A default written as text (``Param("dtype", Kind.DTYPE, "float16")``) is converted like a
    script value, so a rule sees the same type whether or not the user gave the parameter.
    """
    out: dict[str, Any] = {}
    for p in params:
        if p.repeated:
            out[p.name] = []
        elif isinstance(p.default, str) and p.kind is not Kind.STRING:
            out[p.name] = p.convert(p.default)
        else:
            out[p.name] = p.default
    return out


def args_of(ctx: Any, params: Sequence[Param]) -> dict[str, Any]:
    """A step's arguments (``ctx.args``) with every declared default filled in."""
    return {**defaults(params), **ctx.args}
