"""TF Serving REST v1 over HTTP against a real server process: bodies, formats and every error."""

from __future__ import annotations

import base64
import gzip
import json
import math

import pytest

from tests.serve.conftest import MAX_BODY


def post(http, server, path, body, **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return http.post(server.url + path, data=data, **kwargs)


def test_ready_line_names_model_and_version(server):
    assert server.ready_line.startswith("serving half version 2, multi version 1, strings version 1, classifier version 1 at http://127.0.0.1:")


@pytest.mark.parametrize(("body", "expected"), [
    ({"instances": [1.0, 2.0, 5.0]}, {"predictions": [2.5, 3.0, 4.5]}),
    ({"instances": [1.0, 2.0]}, {"predictions": [2.5, 3.0]}),
    ({"inputs": [1.0, 2.0]}, {"outputs": [2.5, 3.0]}),
    ({"signature_name": "serving_default", "instances": [3]}, {"predictions": [3.5]}),
])
def test_half_plus_two_handler_cases(http, server, body, expected):
    response = post(http, server, "/v1/models/half/versions/1:predict", body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


def test_whole_floats_print_with_point_zero(http, server):
    response = post(http, server, "/v1/models/half/labels/stable:predict", {"instances": [2]})
    assert response.text == '{"predictions": [3.0]}'


def test_nan_and_infinity_tokens_in_and_out(http, server):
    response = post(http, server, "/v1/models/half/versions/1:predict", '{"instances": [NaN, Infinity, -Infinity]}')
    assert response.status_code == 200
    assert response.text == '{"predictions": [NaN, Infinity, -Infinity]}'
    assert math.isnan(response.json()["predictions"][0])


def test_latest_version_by_default_and_labels_and_versions(http, server):
    body = {"instances": [1.0]}
    assert post(http, server, "/v1/models/half:predict", body).json() == {"predictions": [3.5]}
    assert post(http, server, "/v1/models/half/versions/2:predict", body).json() == {"predictions": [3.5]}
    assert post(http, server, "/v1/models/half/labels/canary:predict", body).json() == {"predictions": [3.5]}
    assert post(http, server, "/V1/Models/half/Versions/1:PREDICT", body).json() == {"predictions": [2.5]}


def test_status_all_versions_and_one(http, server):
    response = http.get(server.url + "/v1/models/half")
    ok = {"error_code": "OK", "error_message": ""}
    assert response.json() == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": ok},
        {"version": "2", "state": "AVAILABLE", "status": ok},
    ]}
    response = http.get(server.url + "/v1/models/half/versions/2")
    assert response.json() == {"model_version_status": [{"version": "2", "state": "AVAILABLE", "status": ok}]}


def test_metadata_signature_def(http, server):
    response = http.get(server.url + "/v1/models/multi/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["model_spec"] == {"name": "multi", "signature_name": "", "version": "1"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"]["a"] == {
        "dtype": "DT_FLOAT", "name": "a:0",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}, {"size": "2", "name": ""}], "unknown_rank": False},
    }
    assert sig["inputs"]["b"]["dtype"] == "DT_INT32"
    assert set(sig["outputs"]) == {"scaled", "b_plus"}


def test_multi_input_multi_output_row_format(http, server):
    body = {"instances": [{"a": [1.0, 2.0], "b": 2}, {"a": [3.0, 4.0], "b": -1}]}
    response = post(http, server, "/v1/models/multi:predict", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [
        {"scaled": [2.0, 4.0], "b_plus": 3},
        {"scaled": [-3.0, -4.0], "b_plus": 0},
    ]}


def test_multi_input_multi_output_columnar_format(http, server):
    body = {"inputs": {"a": [[1.0, 2.0], [3.0, 4.0]], "b": [2, -1]}}
    response = post(http, server, "/v1/models/multi:predict", body)
    assert response.json() == {"outputs": {"scaled": [[2.0, 4.0], [-3.0, -4.0]], "b_plus": [3, 0]}}


def test_b64_in_and_bytes_out(http, server):
    raw = [b"\x00\xffbinary", b"text"]
    body = {"instances": [{"b64": base64.b64encode(raw[0]).decode()}, "text"]}
    response = post(http, server, "/v1/models/strings:predict", body)
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [base64.b64decode(r["echo_bytes"]["b64"]) for r in rows] == raw
    assert [r["length"] for r in rows] == [8, 4]


def test_gzip_request_body(http, server):
    body = gzip.compress(json.dumps({"instances": [1.0]}).encode())
    response = post(http, server, "/v1/models/half/versions/1:predict", body, headers={"Content-Encoding": "gzip"})
    assert response.json() == {"predictions": [2.5]}


ERRORS = [
    ("/v1/models/half:predict", "", 400, "JSON Parse error: The document is empty"),
    ("/v1/models/half:predict", "{", 400, "JSON Parse error: Expecting property name enclosed in double quotes at offset: 1"),
    ("/v1/models/half:predict", "[1]", 400, "JSON Value: [1] Is not object"),
    ("/v1/models/half:predict", "{}", 400, "Missing 'inputs' or 'instances' key"),
    ("/v1/models/half:predict", {"instances": [1], "inputs": [1]}, 400,
     "JSON Value: {\"instances\":[1],\"inputs\":[1]} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist "),
    ("/v1/models/half:predict", {"instances": 1}, 400, "JSON Value: {\"instances\":1} Excepting 'instances' to be an list/array"),
    ("/v1/models/half:predict", {"instances": []}, 400, "JSON Value: {\"instances\":[]} No values in 'instances' array"),
    ("/v1/models/half:predict", {"signature_name": 1, "instances": [1]}, 400,
     "JSON Value: {\"signature_name\":1,\"instances\":[1]} not formatted correctly. 'signature_name' key must be a string value."),
    ("/v1/models/half:predict", {"signature_name": "nope", "instances": [1]}, 400,
     "Serving signature name: \"nope\" not found in signature def"),
    ("/v1/models/half:predict", {"inputs": ["x"]}, 400, "JSON Value: \"x\" Type: String is not of expected type: float"),
    ("/v1/models/half:predict", {"inputs": [True]}, 400, "JSON Value: true Type: True is not of expected type: float"),
    ("/v1/models/half:predict", {"inputs": [16777217]}, 400,
     "Cannot convert JSON value: 16777217 to float without loss of precision."),
    ("/v1/models/half:predict", {"inputs": [[1], 2]}, 400,
     "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
    ("/v1/models/half:predict", {"inputs": [[1, 2], [3]]}, 400,
     "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
    ("/v1/models/half:predict", {"inputs": [[1, 2]]}, 400, "input 'x' has shape [1,2], but the signature expects [?]"),
    ("/v1/models/multi:predict", {"instances": [1, 2]}, 400,
     "instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map"),
    ("/v1/models/multi:predict", {"instances": [{"a": [1.0, 2.0]}]}, 400,
     "Failed to process element: 0 of 'instances' list. JSON object: {\"a\":[1.0,2.0]} keys must be equal to: a,b"),
    ("/v1/models/multi:predict", {"instances": [{"a": [1.0, 2.0], "b": 1.5}]}, 400,
     "Failed to process element: 0 key: b of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: 1.5 Type: Number is not of expected type: int32"),
    ("/v1/models/multi:predict", {"instances": [{"a": [1.0, 2.0], "b": 1}, {"a": [1.0], "b": 1}]}, 400,
     "Expecting tensor size: 2 but got: 1"),
    ("/v1/models/multi:predict", {"inputs": {"a": [[1.0, 2.0]]}}, 400, "Missing named input: b in 'inputs' object."),
    ("/v1/models/multi:predict", {"inputs": [1]}, 400,
     "inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map"),
    ("/v1/models/strings:predict", {"inputs": [{"b64": "!!"}]}, 400, "Unable to base64 decode"),
    ("/v1/models/strings:predict", {"inputs": [{"b64": "aa", "x": 1}]}, 400,
     "JSON Value: {\"b64\":\"aa\",\"x\":1} not formatted correctly for base64 data"),
    ("/v1/models/nope:predict", {"instances": [1]}, 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/half/versions/7:predict", {"instances": [1]}, 404, "Servable not found for request: Specific(half, 7)"),
    ("/v1/models/half/labels/beta:predict", {"instances": [1]}, 400, "Unrecognized servable version label: beta"),
    ("/v1/models/half/versions/99999999999999999999:predict", {"instances": [1]}, 400,
     "Failed to convert version: 99999999999999999999 to numeric."),
    ("/v1/models/half/versions/x:predict", {"instances": [1]}, 400, "Malformed request: POST /v1/models/half/versions/x:predict"),
    ("/v1/models/half/versions/1/labels/stable:predict", {"instances": [1]}, 400,
     "Malformed request: POST /v1/models/half/versions/1/labels/stable:predict"),
    ("/v1/models/half:classify", {"examples": [{}]}, 400,
     "Expected classification signature method_name to be tensorflow/serving/classify. Was: tensorflow/serving/predict"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), ERRORS)
def test_errors(http, server, path, body, status, message):
    response = post(http, server, path, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": message}


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/v1/models", 400, "Missing model name in request."),
    ("GET", "/v1/models/nope", 404, "Servable not found for request: Latest(nope)"),
    ("GET", "/v1/models/half/versions/3/metadata", 404, "Servable not found for request: Specific(half, 3)"),
    ("GET", "/v1/models/half:predict", 400, "Malformed request: GET /v1/models/half:predict"),
    ("DELETE", "/v1/models/half", 400, "Malformed request: DELETE /v1/models/half"),
])
def test_path_errors(http, server, method, path, status, message):
    response = http.request(method, server.url + path)
    assert (response.status_code, response.json()) == (status, {"error": message})


def test_oversized_body_is_413_and_server_keeps_serving(http, server):
    response = post(http, server, "/v1/models/half:predict", b"[" + b"1," * MAX_BODY + b"1]")
    assert response.status_code == 413
    assert response.json()["error"].startswith("Request body too large")
    assert post(http, server, "/v1/models/half/versions/1:predict", {"instances": [1.0]}).json() == {"predictions": [2.5]}


def test_gzip_bomb_is_413(http, server):
    body = gzip.compress(b" " * (MAX_BODY * 2))
    response = post(http, server, "/v1/models/half:predict", body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


@pytest.mark.parametrize(("body", "expected"), [
    ('{"instances": [[1.0], [2.0]]}', "input 'x' has shape [2,1], but the signature expects [?]"),
    ('{"instances": [1.5e300]}', "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
                                 "Cannot convert JSON value: 1.5e+300 to float without loss of precision."),
    ('{"instances": [1, true]}', "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: true Type: True is not of expected type: float"),
])
def test_numeric_fast_path_falls_back_to_exact_errors(http, server, body, expected):
    response = post(http, server, "/v1/models/half:predict", body)
    assert (response.status_code, response.json()) == (400, {"error": expected})


def test_image_sized_request_round_trips_exactly(http, server):
    import numpy as np

    image = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    response = post(http, server, "/v1/models/classifier:predict", {"instances": image.tolist()})
    means = image.mean(axis=(1, 2))
    expected = np.stack([means[:, k % 3] * (k + 1) for k in range(5)], axis=1)
    assert np.allclose(np.array(response.json()["predictions"]), expected, rtol=1e-5, atol=1e-6)
