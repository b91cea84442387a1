"""Open Inference Protocol v2 over HTTP: health, metadata, infer, errors."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest


def test_health(http, server):
    assert http.get(server.url + "/v2/health/live").json() == {"live": True}
    assert http.get(server.url + "/v2/health/ready").json() == {"ready": True}
    assert http.get(server.url + "/v2/models/half/ready").json() == {"name": "half", "ready": True}


def test_model_metadata(http, server):
    body = http.get(server.url + "/v2/models/multi").json()
    assert body == {
        "name": "multi", "versions": ["1"], "platform": "tensorflow_graphdef",
        "inputs": [{"name": "a", "datatype": "FP32", "shape": [-1, 2]}, {"name": "b", "datatype": "INT32", "shape": [-1]}],
        "outputs": [{"name": "scaled", "datatype": "FP32", "shape": [-1, 2]}, {"name": "b_plus", "datatype": "INT32", "shape": [-1]}],
    }
    assert http.get(server.url + "/v2/models/half/versions/1").json()["versions"] == ["1"]


def test_infer_half_plus_two(http, server):
    body = {"id": "r1", "inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1.0, 2.0, 5.0]}]}
    response = http.post(server.url + "/v2/models/half/versions/1/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model_name": "half", "model_version": "1", "id": "r1",
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [3], "data": [2.5, 3.0, 4.5]}],
    }


def test_infer_multi_with_output_selection_and_nested_data(http, server):
    body = {
        "inputs": [
            {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]},
            {"name": "b", "shape": [2], "datatype": "INT32", "data": [2, 3]},
        ],
        "outputs": [{"name": "scaled"}],
    }
    response = http.post(server.url + "/v2/models/multi/infer", json=body)
    assert response.json()["outputs"] == [{"name": "scaled", "datatype": "FP32", "shape": [2, 2], "data": [2.0, 4.0, 9.0, 12.0]}]


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/v2/models/nope/infer", {"inputs": []}, 404, "Servable not found for request: Latest(nope)"),
    ("/v2/models/half/versions/9/infer", {"inputs": []}, 404, "Servable not found for request: Specific(half, 9)"),
    ("/v2/models/half/infer", {"inputs": []}, 400, "missing input 'x' (the model takes x)"),
    ("/v2/models/half/infer", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]}, 400,
     "input 'x': datatype FP64 does not match the model's FP32"),
    ("/v2/models/half/infer", {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1]}]}, 400,
     "input 'x': 1 values do not fill shape [2]"),
    ("/v2/models/half/infer", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["a"]}]}, 400,
     "JSON Value: \"a\" Type: String is not of expected type: float"),
    ("/v2/models/half/infer", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
                               "outputs": [{"name": "z"}]}, 400, "unknown output 'z' (the model returns y)"),
    ("/v2/models/half/explode", {}, 400, "Malformed request: POST /v2/models/half/explode"),
])
def test_infer_errors(http, server, path, body, status, message):
    response = http.post(server.url + path, json=body)
    assert (response.status_code, response.json()) == (status, {"error": message})


def _binary_request(doc: dict, blobs: list[bytes]) -> tuple[bytes, dict]:
    header = json.dumps(doc).encode()
    return header + b"".join(blobs), {"Inference-Header-Content-Length": str(len(header))}


def test_binary_tensor_extension_in_and_out(http, server):
    a = np.array([[1, 2], [3, 4]], np.float32)
    b = np.array([2, 3], np.int32)
    doc = {
        "inputs": [
            {"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": a.nbytes}},
            {"name": "b", "shape": [2], "datatype": "INT32", "data": [2, 3]},
        ],
        "outputs": [{"name": "scaled", "parameters": {"binary_data": True}}, {"name": "b_plus"}],
    }
    body, headers = _binary_request(doc, [a.tobytes()])
    response = http.post(server.url + "/v2/models/multi/infer", data=body, headers=headers)
    assert response.status_code == 200, response.text
    size = int(response.headers["Inference-Header-Content-Length"])
    head = json.loads(response.content[:size])
    assert head["outputs"] == [
        {"name": "scaled", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": 16}},
        {"name": "b_plus", "datatype": "INT32", "shape": [2], "data": [3, 4]},
    ]
    scaled = np.frombuffer(response.content[size:], dtype="<f4").reshape(2, 2)
    assert np.array_equal(scaled, a * b[:, None])


def test_binary_bytes_input(http, server):
    values = [b"\x00\x01", b"hello"]
    blob = b"".join(struct.pack("<I", len(v)) + v for v in values)
    doc = {"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(blob)}}],
           "outputs": [{"name": "length"}]}
    body, headers = _binary_request(doc, [blob])
    response = http.post(server.url + "/v2/models/strings/infer", data=body, headers=headers)
    assert response.json()["outputs"] == [{"name": "length", "datatype": "INT32", "shape": [2], "data": [2, 5]}]


@pytest.mark.parametrize(("blob", "declared", "header_shift", "message"), [
    (b"\x00" * 4, 4, 0, "input 'x': 4 binary bytes do not fill shape [2] of FP32"),
    (b"\x00" * 4, 8, 0, "input 'x': binary_data_size 8 runs past the 4 binary bytes"),
    (b"\x00" * 12, 8, 0, "4 binary bytes are not claimed by any input's binary_data_size"),
    (b"\x00" * 8, 8, 10**6, "does not fit a body of"),
])
def test_binary_errors(http, server, blob, declared, header_shift, message):
    doc = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": declared}}]}
    body, headers = _binary_request(doc, [blob])
    headers["Inference-Header-Content-Length"] = str(int(headers["Inference-Header-Content-Length"]) + header_shift)
    response = http.post(server.url + "/v2/models/half/versions/1/infer", data=body, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["error"]
