"""The Open Inference Protocol (v2: KServe, Triton): health, model metadata, ``/infer``.

Tensors travel as ``{"name", "shape", "datatype", "data"}`` with ``data`` flat in row-major
order (nested lists are accepted too); errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from graphrewrite.serve.json_encode import leaf_strings
from graphrewrite.serve.json_tensor import may_hold_booleans, parse_body, to_array
from graphrewrite.serve.registry import Registry, Version
from graphrewrite.serve.signature import TensorSpec
from graphrewrite.serve.status import invalid
from graphrewrite.serve.v2_binary import (
    BinaryReply,
    binary_chunks,
    from_bytes,
    split_body,
    to_bytes,
    wants_binary,
)

_MODEL = re.compile(r"/v2/models/([^/]+)(?:/versions/(\d+))?(/ready|/infer)?")


async def handle(method: str, path: str, body: bytes, registry: Registry, run_sync: Any, *,
                 header_length: str | None = None) -> tuple[int, str | BinaryReply]:
    """(HTTP status, JSON body or binary reply) for one v2 request."""
    if method == "GET" and path == "/v2/health/live":
        return 200, '{"live": true}'
    if method == "GET" and path == "/v2/health/ready":
        return 200, '{"ready": true}'
    if method == "GET" and path.rstrip("/") == "/v2":
        return 200, json.dumps({"name": "graphrewrite", "version": "1", "extensions": []})
    match = _MODEL.fullmatch(path)
    if match is None:
        raise invalid(f"Malformed request: {method} {path}")
    name, version_text, action = match.groups()
    version = registry.find(name, int(version_text) if version_text else None)
    if method == "GET" and action is None:
        return 200, json.dumps(metadata(name, version))
    if method == "GET" and action == "/ready":
        return 200, json.dumps({"name": name, "ready": True})
    if method == "POST" and action == "/infer":
        return 200, await infer(name, version, body, run_sync, header_length)
    raise invalid(f"Malformed request: {method} {path}")


def metadata(name: str, version: Version) -> dict:
    """Model metadata: name, versions, platform, inputs and outputs with datatypes and shapes."""
    sig = version.signature
    return {
        "name": name,
        "versions": [str(version.number)],
        "platform": "tensorflow_graphdef",
        "inputs": [_tensor_meta(s) for s in sig.inputs.values()],
        "outputs": [_tensor_meta(s) for s in sig.outputs.values()],
    }


def _tensor_meta(spec: TensorSpec) -> dict:
    return {"name": spec.key, "datatype": spec.v2_datatype, "shape": spec.dims if spec.dims is not None else [-1]}


async def infer(name: str, version: Version, body: bytes, run_sync: Any, header_length: str | None = None) -> str | BinaryReply:
    """Run one inference request and encode the response."""
    def decode() -> tuple[dict, dict[str, np.ndarray], list[str]]:
        text, binary = split_body(body, header_length)
        doc = parse_body(text)
        items = doc.get("inputs")
        chunks = binary_chunks(items, binary) if isinstance(items, list) else {}
        feeds = decode_inputs(items, version.signature.inputs, fast=not may_hold_booleans(text), chunks=chunks)
        version.session.check(feeds)
        return doc, feeds, _wanted(doc.get("outputs"), version.signature.outputs)

    doc, feeds, wanted = await run_sync(decode)
    outputs = await asyncio.wrap_future(version.runner.submit(feeds))

    def encode() -> str | BinaryReply:
        head: dict[str, Any] = {"model_name": name, "model_version": str(version.number)}
        if "id" in doc:
            head["id"] = doc["id"]
        binary = [k for k in wanted if wants_binary(doc, k)]
        if not binary:
            parts = [_tensor_json(k, version.signature.outputs[k], outputs[k]) for k in wanted]
            return json.dumps(head)[:-1] + ', "outputs": [' + ", ".join(parts) + "]}"
        blobs = {k: to_bytes(np.asarray(outputs[k])) for k in binary}
        head["outputs"] = [_binary_meta(k, version.signature.outputs[k], outputs[k], blobs) for k in wanted]
        text = json.dumps(head).encode()
        return BinaryReply(text + b"".join(blobs[k] for k in binary), len(text))

    return await run_sync(encode)


def decode_inputs(items: Any, specs: Mapping[str, TensorSpec], *, fast: bool = True,
                  chunks: Mapping[str, bytes] | None = None) -> dict[str, np.ndarray]:
    """The request's ``inputs`` list as arrays keyed by input name, checked against *specs*."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid("'inputs' must be a list of tensor objects {name, shape, datatype, data}")
    given = {i.get("name"): i for i in items}
    missing = [k for k in specs if k not in given]
    if missing:
        raise invalid(f"missing input '{missing[0]}' (the model takes {', '.join(specs)})")
    unknown = [str(k) for k in given if k not in specs]
    if unknown:
        raise invalid(f"unknown input '{unknown[0]}' (the model takes {', '.join(specs)})")
    chunks = chunks or {}
    return {k: _array(given[k], spec, fast, chunks.get(k)) for k, spec in specs.items()}


def _array(item: Mapping[str, Any], spec: TensorSpec, fast: bool, chunk: bytes | None) -> np.ndarray:
    if item.get("datatype") != spec.v2_datatype:
        raise invalid(f"input '{spec.key}': datatype {item.get('datatype')} does not match the model's {spec.v2_datatype}")
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise invalid(f"input '{spec.key}': 'shape' must be a list of non-negative integers, got {shape!r}")
    if chunk is not None:
        return from_bytes(chunk, spec, shape)
    data = item.get("data")
    if not isinstance(data, list):
        raise invalid(f"input '{spec.key}': 'data' must be a list")
    flat = to_array(_flatten(data), attrs.evolve(spec, shape=None), fast=fast)
    if flat.size != int(np.prod(shape)):
        raise invalid(f"input '{spec.key}': {flat.size} values do not fill shape {shape}")
    return flat.reshape(shape)


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(d, list) for d in data):
        return data
    out: list[Any] = []
    for d in data:
        out.extend(_flatten(d) if isinstance(d, list) else [d])
    return out


def _wanted(items: Any, specs: Mapping[str, TensorSpec]) -> list[str]:
    if items is None:
        return list(specs)
    names = [i.get("name") if isinstance(i, dict) else None for i in items] if isinstance(items, list) else [None]
    for n in names:
        if n not in specs:
            raise invalid(f"unknown output '{n}' (the model returns {', '.join(specs)})")
    return names


def _binary_meta(key: str, spec: TensorSpec, value: np.ndarray, blobs: Mapping[str, bytes]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": key, "datatype": spec.v2_datatype, "shape": list(np.shape(value))}
    if key in blobs:
        meta["parameters"] = {"binary_data_size": len(blobs[key])}
    else:
        meta["data"] = np.asarray(value).ravel().tolist() if spec.dtype != "string" else [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in np.asarray(value).ravel().tolist()]
    return meta


def _tensor_json(key: str, spec: TensorSpec, value: np.ndarray) -> str:
    data = ", ".join(leaf_strings(np.asarray(value)))
    head = json.dumps({"name": key, "datatype": spec.v2_datatype, "shape": list(np.shape(value))})
    return head[:-1] + ', "data": [' + data + "]}"
