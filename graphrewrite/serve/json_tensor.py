"""TF Serving's JSON tensors, decoded: row (``instances``) and columnar (``inputs``) requests.

Follows tensorflow_serving/util/json_tensor.cc, including its error messages. Numbers go
through numpy in one call (the fast path); only when that fails or the values need checking
(strings, b64 objects, lossy numbers) does a walk over the JSON find the exact culprit.
``NaN``, ``Infinity`` and ``-Infinity`` tokens are accepted, as rapidjson's
kParseNanAndInfFlag does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from graphrewrite.serve.signature import DTYPES, TensorSpec
from graphrewrite.serve.status import ServeError, invalid

ROW, COLUMNAR = "row", "columnar"
_FLOAT32_MAX_INT = (1 << 24) - 1
_FLOAT64_MAX_INT = (1 << 53) - 1
_INT_RANGES = {k: (int(np.iinfo(v[0]).min), int(np.iinfo(v[0]).max)) for k, v in DTYPES.items() if v[0].kind in "iu"}


def parse_body(body: bytes) -> dict[str, Any]:
    """The request object; TF Serving's parse errors for empty, malformed or non-object JSON."""
    if not body.strip():
        raise invalid("JSON Parse error: The document is empty")
    doc = _fast_loads(body)
    if doc is not None:
        return doc
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        msg, pos = (exc.msg, exc.pos) if isinstance(exc, json.JSONDecodeError) else ("Invalid encoding in string.", 0)
        raise invalid(f"JSON Parse error: {msg} at offset: {pos}") from None
    if not isinstance(doc, dict):
        raise invalid(f"JSON Value: {show(doc)} Is not object")
    return doc


def _fast_loads(body: bytes) -> dict[str, Any] | None:
    """orjson's parse (about 2.5x faster on image-sized bodies) when installed and the body is
    strict JSON; None sends the body to the json module, which takes NaN tokens and words errors."""
    try:
        import orjson
    except ImportError:
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def may_hold_booleans(body: bytes) -> bool:
    """Whether *body* may hold a JSON true/false (strings containing the words count too)."""
    return b"true" in body or b"false" in body


def signature_name(doc: Mapping[str, Any]) -> str:
    """The optional ``signature_name``, checked to be a string."""
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid(f"JSON Value: {show(doc)} not formatted correctly. 'signature_name' key must be a string value.")
    return name


def decode_predict(doc: Mapping[str, Any], inputs: Mapping[str, TensorSpec], *, fast: bool = True) -> tuple[str, dict[str, np.ndarray]]:
    """(ROW or COLUMNAR, arrays by input key) from a predict request object.

    *fast* lets numpy convert whole lists at once; pass False when the body may hold JSON
    booleans (numpy would turn them into numbers silently), see :func:`may_hold_booleans`.
    """
    has_rows, has_columns = "instances" in doc, "inputs" in doc
    if has_rows and has_columns:
        raise invalid(f"JSON Value: {show(doc)} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ")
    if has_rows:
        rows = doc["instances"]
        if not isinstance(rows, list):
            raise invalid(f"JSON Value: {show(doc)} Excepting 'instances' to be an list/array")
        if not rows:
            raise invalid(f"JSON Value: {show(doc)} No values in 'instances' array")
        return ROW, decode_rows(rows, inputs, fast=fast)
    if has_columns:
        return COLUMNAR, decode_columns(doc["inputs"], inputs, fast=fast)
    raise invalid("Missing 'inputs' or 'instances' key")


def decode_rows(rows: list[Any], inputs: Mapping[str, TensorSpec], *, fast: bool = True) -> dict[str, np.ndarray]:
    """The ``instances`` list: plain values for one input, one object per row for several."""
    objects = _is_object(rows[0])
    if not objects and len(inputs) > 1:
        raise invalid("instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map")
    if not objects:
        spec = next(iter(inputs.values()))
        whole = _fast_array(rows, spec) if fast else None
        if whole is not None:
            return {spec.key: whole}
        return {spec.key: _stack([_row_item(r, i, spec, None, fast) for i, r in enumerate(rows)], spec)}
    names = sorted(inputs)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for i, row in enumerate(rows):
        if not _is_object(row):
            raise invalid(f"Expecting object but got list at item {i} of input list")
        for key, value in row.items():
            if key not in inputs:
                raise invalid(f"Failed to process element: {i} key: {key} of 'instances' list. Error: "
                              f"INVALID_ARGUMENT: JSON object: does not have named input: {key}")
            columns[key].append(_row_item(value, i, inputs[key], key, fast))
        if sorted(row) != names:
            raise invalid(f"Failed to process element: {i} of 'instances' list. JSON object: {show(row)} keys must be equal to: {','.join(names)}")
    return {k: _stack(v, inputs[k]) for k, v in columns.items()}


def decode_columns(value: Any, inputs: Mapping[str, TensorSpec], *, fast: bool = True) -> dict[str, np.ndarray]:
    """The ``inputs`` value: a tensor for one input, an object of tensors for several."""
    if not _is_object(value):
        if len(inputs) > 1:
            raise invalid("inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map")
        spec = next(iter(inputs.values()))
        return {spec.key: to_array(value, spec, fast=fast)}
    arrays = {}
    for key, spec in inputs.items():
        if key not in value:
            raise invalid(f"Missing named input: {key} in 'inputs' object.")
        arrays[key] = to_array(value[key], spec, fast=fast)
    return arrays


def to_array(value: Any, spec: TensorSpec, *, fast: bool = True) -> np.ndarray:
    """One JSON tensor as an array of the spec's dtype, or TF Serving's error for the culprit."""
    whole = _fast_array(value, spec) if fast else None
    if whole is not None:
        return whole
    shape = _json_shape(value)
    leaves: list[Any] = []
    _walk(value, 0, shape, spec.dtype, leaves)
    if spec.dtype == "string":
        out = np.empty(len(leaves), dtype=object)
        out[:] = leaves
        return out.reshape(shape)
    return np.asarray(leaves, dtype=spec.np_dtype).reshape(shape)


def _fast_array(value: Any, spec: TensorSpec) -> np.ndarray | None:
    kind = spec.np_dtype.kind
    if kind not in "fiub":
        return None
    try:
        arr = np.asarray(value)
    except (ValueError, OverflowError):
        return None
    if kind == "f" and arr.dtype.kind == "f":
        limit = np.finfo(spec.np_dtype).max
        finite = np.abs(arr[np.isfinite(arr)]) if arr.size else arr
        return arr.astype(spec.np_dtype) if not finite.size or finite.max() <= limit else None
    if kind == "f" and arr.dtype.kind in "iu":
        bound = _FLOAT32_MAX_INT if spec.dtype in ("float32", "float16") else _FLOAT64_MAX_INT
        return arr.astype(spec.np_dtype) if not arr.size or np.abs(arr).max() <= bound else None
    if kind in "iu" and arr.dtype.kind in "iu":
        low, high = _INT_RANGES[spec.dtype]
        return arr.astype(spec.np_dtype) if not arr.size or (arr.min() >= low and arr.max() <= high) else None
    if kind == "b" and arr.dtype.kind == "b":
        return arr
    return None


def _json_shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _walk(value: Any, level: int, shape: list[int], dtype: str, leaves: list[Any]) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid(f"JSON Value: {show(value)} found at incorrect level: {level + 1} in the JSON DOM. Expected at level: {rank}")
        leaves.append(_leaf(value, dtype))
        return
    if level >= rank:
        raise invalid(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid(f"Encountered list at unexpected size: {len(value)} at level: {level} expected size: {shape[level]}")
    for item in value:
        _walk(item, level + 1, shape, dtype, leaves)


def _leaf(value: Any, dtype: str) -> Any:
    if isinstance(value, dict):
        if dtype != "string":
            raise type_error(value, dtype)
        return decode_b64(value)
    if dtype == "string":
        if not isinstance(value, str):
            raise type_error(value, dtype)
        return value.encode("utf-8")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if dtype in ("float32", "float16", "float64"):
        if not is_number:
            raise type_error(value, dtype)
        _check_lossless(value, dtype)
        return value
    if dtype == "bool":
        if not isinstance(value, bool):
            raise type_error(value, dtype)
        return value
    low, high = _INT_RANGES[dtype]
    if not (is_number and isinstance(value, int) and low <= value <= high):
        raise type_error(value, dtype)
    return value


def _check_lossless(value: float, dtype: str) -> None:
    if isinstance(value, float) and not np.isfinite(value):
        return
    wide = dtype == "float64"
    if isinstance(value, int):
        ok = abs(value) <= (_FLOAT64_MAX_INT if wide else _FLOAT32_MAX_INT)
    else:
        ok = wide or abs(value) <= float(np.finfo(np.float32).max)
    if not ok:
        raise invalid(f"Cannot convert JSON value: {show(value)} to {'double' if wide else 'float'} without loss of precision.")


def decode_b64(value: Any) -> bytes:
    """``{"b64": "..."}`` -> bytes; TF Serving's errors for other objects and bad base64."""
    if not (isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)):
        raise invalid(f"JSON Value: {show(value)} not formatted correctly for base64 data")
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid("Unable to base64 decode") from None


def type_error(value: Any, dtype: str) -> ServeError:
    """TF Serving's "JSON Value: 'x' Type: String is not of expected type: float"."""
    names = {"float32": "float", "float64": "double", "float16": "half"}
    return invalid(f"JSON Value: {show(value)} Type: {json_type(value)} is not of expected type: {names.get(dtype, dtype)}")


def json_type(value: Any) -> str:
    """rapidjson's type name of a decoded JSON value."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    for kind, name in ((dict, "Object"), (list, "Array"), (str, "String")):
        if isinstance(value, kind):
            return name
    return "Number"


def show(value: Any) -> str:
    """A JSON value as error messages show it (cut short when long)."""
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 200 else text[:200] + "..."


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and not (len(value) == 1 and "b64" in value)


def _row_item(value: Any, index: int, spec: TensorSpec, key: str | None, fast: bool) -> np.ndarray:
    where = f"{index} key: {key}" if key is not None else f"{index}"
    try:
        return to_array(value, spec, fast=fast)
    except ServeError as exc:
        raise invalid(f"Failed to process element: {where} of 'instances' list. Error: INVALID_ARGUMENT: {exc}") from None


def _stack(items: list[np.ndarray], spec: TensorSpec) -> np.ndarray:
    first = items[0]
    for item in items[1:]:
        if item.size != first.size:
            raise invalid(f"Expecting tensor size: {first.size} but got: {item.size}")
        if item.shape != first.shape:
            raise invalid(f"Expecting shape {_shape_text(first.shape)} but got: {_shape_text(item.shape)}")
    if spec.dtype == "string":
        out = np.empty((len(items), *first.shape), dtype=object)
        for i, item in enumerate(items):
            out[i, ...] = item  # element-wise: a 0-d item must not be stored as an array object
        return out
    return np.stack(items)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"
