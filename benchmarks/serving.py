"""Serving benchmark: ``python -m benchmarks.serving [--quick]``.

Frozen MobileNetV2 (batch dimension left open), requests of one 224x224x3 image as TF
Serving JSON, at 1, 8 and 32 concurrent clients, against:

- ``graphrewrite``: ``graphrewrite serve --enable_batching`` (uvicorn + starlette), ``/v1/models/m:predict``;
- ``graphrewrite v2 binary``: the same server, OIP v2 ``/infer`` with the image as binary tensor data;
- ``flask``: the tutorial's recipe (``benchmarks/flask_recipe.py``: Flask's threaded server);
- ``in-process``: the same graph's ``session.run`` on batches of 1, 8 and 32 images, no HTTP
  (throughput in images/s; latency is one batch's run).

The server batches at most 16 rows: with 32 clients two batches alternate, so the JSON of one
is parsed while the other runs (with 32, every client waits in the same batch and parsing and
inference take turns: ~41 instead of ~52 img/s here). Clients are threads in this process, each with its own keep-alive ``http.client`` connection,
sending a pre-encoded body. Targets at 32 clients: >= 3x flask, >= 0.7x in-process, p99 <= 3x p50.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import numpy as np

from benchmarks.inputs import default_cache_dir, randomise_batch_norms

REPO = Path(__file__).resolve().parents[1]
CLIENTS = (1, 8, 32)
MODEL_STEM = "mobilenet_v2_serving.v1"


@attrs.frozen
class Row:
    """One measurement: tool, concurrency, requests (or images) per second, p50/p99 latency."""

    tool: str
    clients: int
    per_second: float
    p50_ms: float
    p99_ms: float


def build_model(cache_dir: Path) -> Path:
    """Frozen MobileNetV2 with input ``input`` [?,224,224,3] and output ``Identity`` (cached)."""
    path = cache_dir / f"{MODEL_STEM}.pb"
    if path.exists():
        return path
    import keras
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3), classifier_activation=None)
    randomise_batch_norms(model, np.random.default_rng(0))
    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"))
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(graph_def.SerializeToString(deterministic=True))
    os.replace(tmp, path)
    return path


def load(url: str, body: bytes, clients: int, *, duration: float, warmup: float,
         headers: dict[str, str] | None = None) -> tuple[float, list[float]]:
    """(requests per second, latencies in seconds) of *clients* threads posting *body*."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + warmup
    stop = start + duration

    def client() -> None:
        # http.client, not requests: the clients share the 2 cores with the server, so they
        # should cost as little as possible (both servers get the same clients).
        mine = []
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while True:
            sent = time.monotonic()
            if sent >= stop:
                break
            connection.request("POST", parts.path, body=body, headers=headers or {"Content-Type": "application/json"})
            response = connection.getresponse()
            text = response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status} {text[:200]!r}")
            if sent >= start:
                mine.append(time.monotonic() - sent)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / duration, latencies


def row(tool: str, clients: int, per_second: float, latencies: list[float]) -> Row:
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return Row(tool, clients, per_second, float(p50), float(p99))


def in_process(model: Path, image: np.ndarray, *, duration: float) -> list[Row]:
    """session.run on batches of 1, 8, 32 images (the same session config as the server)."""
    from graphrewrite.serve.models import LoadOptions, load_frozen
    from graphrewrite.serve.session import ModelSession

    session = ModelSession(load_frozen(model, LoadOptions(inputs=("input",), outputs=("Identity",))))
    rows = []
    for size in CLIENTS:
        batch = {"input": np.repeat(image, size, axis=0)}
        session.run(batch)
        times = []
        end = time.monotonic() + duration
        while time.monotonic() < end or len(times) < 3:
            began = time.monotonic()
            session.run(batch)
            times.append(time.monotonic() - began)
        rows.append(row("in-process", size, size * len(times) / sum(times), times))
    session.close()
    return rows


def start(command: list[str], ready: re.Pattern[str] | None, port: int | None) -> tuple[subprocess.Popen, int]:
    """Start a server; its port from the ready line, or by polling *port*."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
    if ready is not None:
        line = proc.stdout.readline()
        match = ready.search(line)
        if not match:
            proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        return proc, int(match.group(1))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("flask recipe did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def over_http(command: list[str], scenarios: list[tuple[str, str, bytes, dict | None]], *, ready=None, port=None,
              duration: float, warmup: float) -> list[Row]:
    """Start one server, then load it with each (tool, path, body, headers) at 1, 8, 32 clients."""
    proc, port = start(command, ready, port)
    try:
        rows = []
        for tool, url_path, body, headers in scenarios:
            for clients in CLIENTS:
                per_second, latencies = load(f"http://127.0.0.1:{port}{url_path}", body, clients,
                                             duration=duration, warmup=warmup, headers=headers)
                rows.append(row(tool, clients, per_second, latencies))
        return rows
    finally:
        stop(proc)


def binary_request(image: np.ndarray) -> tuple[bytes, dict[str, str]]:
    """An OIP v2 request with the image as binary tensor data, and its headers."""
    doc = {"inputs": [{"name": "input", "shape": list(image.shape), "datatype": "FP32",
                       "parameters": {"binary_data_size": image.nbytes}}],
           "outputs": [{"name": "Identity", "parameters": {"binary_data": True}}]}
    header = json.dumps(doc).encode()
    return header + image.astype("<f4").tobytes(), {"Inference-Header-Content-Length": str(len(header)),
                                                     "Content-Type": "application/octet-stream"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def table(rows: list[Row]) -> str:
    lines = ["| server | clients | req/s (img/s) | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r.tool} | {r.clients} | {r.per_second:.1f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} |" for r in rows]
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[str]:
    at32 = {r.tool: r for r in rows if r.clients == 32}
    ours, flask, limit = at32["graphrewrite"], at32["flask"], at32["in-process"]
    return [
        f"at 32 clients: {ours.per_second / flask.per_second:.2f}x flask (target >= 3x)",
        f"at 32 clients: {ours.per_second / limit.per_second:.2f}x in-process (target >= 0.7x)",
        f"at 32 clients: p99 {ours.p99_ms / ours.p50_ms:.2f}x p50 (target <= 3x)",
    ] + ([f"at 32 clients, v2 binary: {at32['graphrewrite v2 binary'].per_second / limit.per_second:.2f}x in-process"]
         if "graphrewrite v2 binary" in at32 else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per level instead of 8")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    duration, warmup = (3.0, 1.0) if args.quick else (8.0, 2.0)
    model = build_model(default_cache_dir())
    image = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    body = json.dumps({"instances": image.tolist()}).encode()
    rows = in_process(model, image, duration=duration)
    serve = [sys.executable, "-m", "graphrewrite", "serve", str(model), "--model_name=m", "--rest_api_port=0",
             "--inputs=input", "--outputs=Identity", "--enable_batching", "--max_batch_size=16",
             "--batch_timeout_micros=5000"]
    scenarios = [("graphrewrite", "/v1/models/m:predict", body, None),
                 ("graphrewrite v2 binary", "/v2/models/m/infer", *binary_request(image))]
    rows += over_http(serve, scenarios, ready=re.compile(r":(\d+)$"), duration=duration, warmup=warmup)
    port = free_port()
    flask = [sys.executable, "-m", "benchmarks.flask_recipe", str(model), "input", "Identity", str(port)]
    rows += over_http(flask, [("flask", "/predict", body, None)], port=port, duration=duration, warmup=warmup)
    print(table(rows))
    print("\n".join(targets(rows)))
    if args.json:
        Path(args.json).write_text(json.dumps([attrs.asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
