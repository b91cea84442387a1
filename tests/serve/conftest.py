"""Fixtures: the test models on disk, and one shared server (batching on) for the HTTP tests."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
requests = pytest.importorskip("requests")

from tests.serve.models import build_all  # noqa: E402
from tests.serve.server import Server  # noqa: E402

MAX_BODY = 2_000_000


@pytest.fixture(scope="session")
def model_config(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("serve_models"))


@pytest.fixture(scope="session")
def server(model_config):
    running = Server(f"--model_config_file={model_config}", "--enable_batching", "--max_batch_size=16",
                     "--batch_timeout_micros=2000", f"--max_body_bytes={MAX_BODY}")
    yield running
    status, _out, err = running.stop()
    assert status == 0, err


@pytest.fixture(scope="session")
def http():
    with requests.Session() as session:
        yield session
