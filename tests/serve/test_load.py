"""Under load: 32 concurrent clients with batching on, a bounded soak, shutdown with requests in flight."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.serve.server import Server


def _ask(session, url, values):
    return session.post(url, json={"instances": values})


def test_32_concurrent_clients_each_get_their_own_rows(server):
    url = server.url + "/v1/models/half/versions/1:predict"
    errors: list[str] = []

    def client(index: int) -> int:
        checked = 0
        with requests.Session() as session:
            for step in range(15):
                values = [float(index * 1000 + step * 10 + k) for k in range(1 + (index + step) % 3)]
                response = _ask(session, url, values)
                expected = [v * 0.5 + 2.0 for v in values]
                if response.status_code != 200 or response.json() != {"predictions": expected}:
                    errors.append(f"client {index} step {step}: {response.status_code} {response.text[:200]}")
                checked += 1
        return checked

    with ThreadPoolExecutor(32) as pool:
        counts = list(pool.map(client, range(32)))
    assert errors == []
    assert sum(counts) == 32 * 15


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def test_soak_memory_and_open_files_stay_flat(server):
    url = server.url + "/v1/models/multi:predict"
    body = {"instances": [{"a": [1.0, 2.0], "b": 3}]}

    def burst(count: int) -> None:
        def client(_index: int) -> None:
            with requests.Session() as session:
                for _ in range(count // 8):
                    assert session.post(url, json=body).json() == {"predictions": [{"scaled": [3.0, 6.0], "b_plus": 4}]}
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client, range(8)))

    burst(600)  # warm up: allocator pools, thread pools, connection objects
    rss, fds = _rss_kib(server.pid), _fds(server.pid)
    burst(2400)
    grown_mib = (_rss_kib(server.pid) - rss) / 1024
    assert grown_mib < 20, f"RSS grew {grown_mib:.1f} MiB over 2400 requests"
    assert _fds(server.pid) <= fds + 2


def test_clean_shutdown_finishes_requests_in_flight(model_config):
    # A long batch window keeps requests queued when SIGTERM arrives.
    running = Server(f"--model_config_file={model_config}", "--enable_batching", "--max_batch_size=64",
                     "--batch_timeout_micros=1500000")
    url = running.url + "/v1/models/half/versions/1:predict"
    results: dict[int, object] = {}
    started = threading.Barrier(9)

    def client(index: int) -> None:
        started.wait()
        try:
            results[index] = requests.post(url, json={"instances": [float(index)]}, timeout=60).json()
        except requests.RequestException as exc:
            results[index] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    started.wait()
    _wait_for_connections(running.pid, 8)
    status, _out, err = running.stop(signal.SIGTERM)
    for t in threads:
        t.join(60)
    assert status == 0, err
    assert results == {i: {"predictions": [i * 0.5 + 2.0]} for i in range(8)}
    assert "Traceback" not in err
    try:
        requests.post(url, json={"instances": [1.0]}, timeout=5)
        raise AssertionError("server still answers after shutdown")
    except requests.ConnectionError:
        pass


def _wait_for_connections(pid: int, count: int) -> None:
    """Until the server holds *count* established client sockets (requests are in flight)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sockets = sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if _is_socket(fd))
        if sockets >= count + 1:  # plus the listening socket
            return
        time.sleep(0.02)
    raise AssertionError("requests never reached the server")


def _is_socket(fd: Path) -> bool:
    try:
        return fd.readlink().name.startswith("socket:")
    except OSError:
        return False
