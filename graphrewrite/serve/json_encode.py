"""TF Serving's JSON tensors, encoded: ``predictions`` (row) and ``outputs`` (columnar).

Floats print in shortest round-trip form for their dtype, whole numbers with ``.0``, and
non-finite values as ``NaN``/``Infinity``/``-Infinity`` tokens (util/json_tensor.cc). String
tensors whose output key ends in ``_bytes`` are written as ``{"b64": "..."}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import numpy as np

from graphrewrite.serve.json_tensor import ROW
from graphrewrite.serve.status import invalid

_SPECIAL = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def encode_predict(outputs: Mapping[str, np.ndarray], form: str) -> str:
    """The response body for a predict request in *form* (ROW or COLUMNAR)."""
    if form == ROW:
        return '{"predictions": ' + _rows(outputs) + "}"
    if len(outputs) == 1:
        key, value = next(iter(outputs.items()))
        return '{"outputs": ' + encode_tensor(value, as_b64=key.endswith("_bytes")) + "}"
    return '{"outputs": ' + _object(outputs) + "}"


def _rows(outputs: Mapping[str, np.ndarray]) -> str:
    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in outputs.items()}
    if None in sizes.values():
        key = next(k for k, n in sizes.items() if n is None)
        raise invalid(f"Tensor name: {key} has no shape information ")
    if len(set(sizes.values())) > 1:
        raise invalid(f"Tensors with different batch sizes cannot be returned in row format: {sizes}")
    if len(outputs) == 1:
        key, value = next(iter(outputs.items()))
        return encode_tensor(value, as_b64=key.endswith("_bytes"))
    count = next(iter(sizes.values()))
    return "[" + ", ".join(_object({k: v[i] for k, v in outputs.items()}) for i in range(count)) + "]"


def _object(values: Mapping[str, np.ndarray]) -> str:
    items = (json.dumps(k) + ": " + encode_tensor(v, as_b64=k.endswith("_bytes")) for k, v in values.items())
    return "{" + ", ".join(items) + "}"


def encode_tensor(value: np.ndarray, *, as_b64: bool = False) -> str:
    """One tensor as nested JSON lists (a bare value for a scalar)."""
    value = np.asarray(value)
    flat = leaf_strings(value, as_b64=as_b64)
    return _nest(flat, value.shape, 0, 0)[0]


def leaf_strings(value: np.ndarray, *, as_b64: bool = False) -> list[str]:
    """Every element of *value* (row-major) as a JSON token."""
    kind = value.dtype.kind
    ravel = value.ravel()
    if kind == "f":
        if value.dtype == np.float64:
            return [_special(repr(x)) for x in ravel.tolist()]
        return [_special(str(x)) for x in ravel]  # numpy: shortest float32 form, 3 -> 3.0
    if kind in "iu":
        return [str(x) for x in ravel.tolist()]
    if kind == "b":
        return ["true" if x else "false" for x in ravel.tolist()]
    return [_text(x, as_b64) for x in ravel.tolist()]


def _special(token: str) -> str:
    return _SPECIAL.get(token, token)


def _text(value: object, as_b64: bool) -> str:
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    if as_b64:
        return '{"b64": "' + base64.b64encode(data).decode("ascii") + '"}'
    return json.dumps(data.decode("utf-8", errors="replace"))


def _nest(flat: list[str], shape: tuple[int, ...], level: int, start: int) -> tuple[str, int]:
    if level == len(shape):
        return flat[start], start + 1
    if level == len(shape) - 1:
        end = start + shape[level]
        return "[" + ", ".join(flat[start:end]) + "]", end
    parts = []
    for _ in range(shape[level]):
        text, start = _nest(flat, shape, level + 1, start)
        parts.append(text)
    return "[" + ", ".join(parts) + "]", start
