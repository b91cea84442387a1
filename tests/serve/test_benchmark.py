"""The serving benchmark's pieces against the test server: load generation, binary requests, report."""

from __future__ import annotations

import json

import numpy as np

from benchmarks import serving


def test_load_counts_only_successful_timed_requests(server):
    body = json.dumps({"instances": [1.0]}).encode()
    per_second, latencies = serving.load(server.url + "/v1/models/half:predict", body, 2, duration=0.3, warmup=0.1)
    assert latencies and per_second == len(latencies) / 0.3
    assert all(t > 0 for t in latencies)


def test_binary_request_is_answered_by_the_server(server):
    import requests

    image = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    body, headers = serving.binary_request(image)
    body = body.replace(b'"input"', b'"image"').replace(b'"Identity"', b'"logits"')
    headers["Inference-Header-Content-Length"] = str(body.index(b"}]}") + 3)
    response = requests.post(server.url + "/v2/models/classifier/infer", data=body, headers=headers)
    assert response.status_code == 200, response.text
    size = int(response.headers["Inference-Header-Content-Length"])
    logits = np.frombuffer(response.content[size:], dtype="<f4").reshape(2, 5)
    means = image.mean(axis=(1, 2))
    assert np.allclose(logits[:, 3], means[:, 0] * 4)


def test_table_and_targets():
    rows = [serving.Row(tool, 32, rate, 100.0, 150.0) for tool, rate in
            (("in-process", 100.0), ("graphrewrite", 70.0), ("flask", 10.0), ("graphrewrite v2 binary", 80.0))]
    assert "| graphrewrite | 32 | 70.0 | 100 | 150 |" in serving.table(rows)
    assert serving.targets(rows) == [
        "at 32 clients: 7.00x flask (target >= 3x)",
        "at 32 clients: 0.70x in-process (target >= 0.7x)",
        "at 32 clients: p99 1.50x p50 (target <= 3x)",
        "at 32 clients, v2 binary: 0.80x in-process",
    ]
