"""TF Serving's REST API v1: model status, metadata and ``:predict``, with its paths and errors.

Paths are matched as http_rest_api_handler.cc matches them (case-insensitive regular
expressions); anything else is ``400 Malformed request: METHOD PATH``. ``:classify`` and
``:regress`` need Example-based signatures, which a frozen graph does not have.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from graphrewrite.serve.fast_json import fast_predict
from graphrewrite.serve.json_encode import encode_predict
from graphrewrite.serve.json_tensor import decode_predict, may_hold_booleans, parse_body, signature_name
from graphrewrite.serve.registry import Registry, Version
from graphrewrite.serve.status import invalid

_PREDICT = re.compile(r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.I)
_STATUS = re.compile(r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.I)
_INT64_MAX = (1 << 63) - 1
_METHODS = {"classify": "classification", "regress": "regression"}


async def handle(method: str, path: str, body: bytes, registry: Registry, run_sync: Any) -> tuple[int, str]:
    """(HTTP status, JSON body) for one v1 request; ServeErrors propagate to the app."""
    match = _PREDICT.fullmatch(path) if method == "POST" else None
    if match:
        name, version, label, verb = match.groups()
        found = registry.find(name, _version(version), label)
        if verb.lower() != "predict":
            kind = verb.lower()
            raise invalid(f"Expected {_METHODS[kind]} signature method_name to be tensorflow/serving/{kind}. "
                          "Was: tensorflow/serving/predict")
        return 200, await predict(found, body, run_sync)
    match = _STATUS.fullmatch(path) if method == "GET" else None
    if match:
        name, version, label, metadata = match.groups()
        if not name:
            raise invalid("Missing model name in request.")
        found = registry.find(name, _version(version), label)
        if metadata:
            return 200, json.dumps(model_metadata(name, found))
        shown = [found] if version or label else list(registry.models[name].versions.values())
        return 200, json.dumps(model_status(shown))
    raise invalid(f"Malformed request: {method} {path}")


async def predict(version: Version, body: bytes, run_sync: Any) -> str:
    """Decode, check, run (batched when on) and encode one predict request."""
    signature = version.signature

    def decode() -> tuple[str, dict]:
        fast = fast_predict(body, signature.inputs)
        if fast is not None:
            version.session.check(fast[1])
            return fast
        doc = parse_body(body)
        wanted = signature_name(doc)
        if wanted and wanted != signature.name:
            raise invalid(f'Serving signature name: "{wanted}" not found in signature def')
        form, feeds = decode_predict(doc, signature.inputs, fast=not may_hold_booleans(body))
        version.session.check(feeds)
        return form, feeds

    form, feeds = await run_sync(decode)
    outputs = await asyncio.wrap_future(version.runner.submit(feeds))
    return await run_sync(lambda: encode_predict(outputs, form))


def model_status(versions: list[Version]) -> dict:
    """GetModelStatusResponse in proto3 JSON (int64 as strings)."""
    return {"model_version_status": [
        {"version": str(v.number), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in versions
    ]}


def model_metadata(name: str, version: Version) -> dict:
    """GetModelMetadataResponse: the model spec and its signature_def map."""
    signature = version.signature
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(version.number)},
        "metadata": {"signature_def": {
            "signature_def": {signature.name: signature.metadata()},
        }},
    }


def _version(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    if value > _INT64_MAX:
        raise invalid(f"Failed to convert version: {text} to numeric.")
    return value
