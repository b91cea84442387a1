"""``graphrewrite serve`` as a user runs it: model kinds, version folders, flags, errors, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import requests

from tests.serve.server import REPO, Server


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphrewrite", "serve", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


def test_no_model_is_a_usage_error():
    done = _cli()
    assert done.returncode == 2
    assert done.stderr.strip() == "error: serve: name a model (MODEL, --model_base_path or --model_config_file)"


def test_missing_model_path_is_one_line(tmp_path):
    done = _cli(str(tmp_path / "nope.pb"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: model 'default': base path '{tmp_path / 'nope.pb'}' does not exist"


def test_missing_extra_names_it(tmp_path):
    fake = tmp_path / "fake" / "starlette"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no starlette here')\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{fake.parent}:{REPO}"}
    done = _cli(str(tmp_path / "m.pb"), env=env)
    assert (done.returncode, done.stderr.strip()) == (2, "error: the HTTP server needs the serve extra: pip install 'graphrewrite[serve]'")


def test_help_imports_neither_tensorflow_nor_the_http_stack():
    code = ("import sys\nfrom graphrewrite import cli\ntry:\n    cli.main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('tensorflow', 'starlette', 'uvicorn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "--enable_batching" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_model_base_path_serves_the_newest_version_only(model_config):
    running = Server(f"--model_base_path={model_config.parent / 'half'}", "--model_name=half")
    try:
        assert running.ready_line.startswith("serving half version 2 at http://127.0.0.1:")
        url = running.url + "/v1/models/half"
        assert requests.post(url + ":predict", json={"instances": [1.0]}).json() == {"predictions": [3.5]}
        missing = requests.post(url + "/versions/1:predict", json={"instances": [1.0]})
        assert (missing.status_code, missing.json()) == (404, {"error": "Servable not found for request: Specific(half, 1)"})
    finally:
        status, _out, err = running.stop(signal.SIGINT)
    assert status == 0, err


def test_transforms_and_explicit_names(model_config):
    model = model_config.parent / "multi" / "multi.pb"
    running = Server(str(model), "--model_name=m", "--inputs=a,b", "--outputs=b_plus",
                     "--transforms=strip_unused_nodes fold_constants(ignore_errors=true)")
    try:
        body = {"inputs": {"a": [[1.0, 2.0]], "b": [4]}}
        assert requests.post(running.url + "/v1/models/m:predict", json=body).json() == {"outputs": [5]}
    finally:
        assert running.stop()[0] == 0


def test_request_timeout_is_504(model_config):
    running = Server(f"--model_base_path={model_config.parent / 'half'}", "--enable_batching=true",
                     "--batch_timeout_micros=400000", "--max_batch_size=64", "--rest_api_timeout_in_ms=50")
    try:
        response = requests.post(running.url + "/v1/models/default:predict", json={"instances": [1.0]})
        assert (response.status_code, response.json()) == (504, {"error": "Request timed out after 50 ms"})
        assert requests.get(running.url + "/v2/health/live").json() == {"live": True}
    finally:
        assert running.stop()[0] == 0


def test_saved_model_folder_frozen_on_load(model_config, tmp_path):
    from graphrewrite import io
    from graphrewrite.export import export_saved_model

    graph_def = io.load_graph(model_config.parent / "half" / "1" / "half_plus_two.pb")
    export_saved_model(graph_def, ["x"], ["y"], tmp_path / "sm", version=7)
    running = Server(str(tmp_path / "sm"), "--model_name=sm")
    try:
        assert running.ready_line.startswith("serving sm version 7 at")
        meta = requests.get(running.url + "/v1/models/sm/metadata").json()
        sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        (in_key,), (out_key,) = sig["inputs"], sig["outputs"]
        body = {"instances": [{in_key: 1.0}, {in_key: 5.0}]}
        predictions = requests.post(running.url + "/v1/models/sm:predict", json=body).json()["predictions"]
        assert [p if not isinstance(p, dict) else p[out_key] for p in predictions] == [2.5, 4.5]
    finally:
        assert running.stop()[0] == 0


@pytest.mark.slow
def test_keras_file_frozen_on_load(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(3, activation="relu")(inputs)))
    model.save(tmp_path / "tiny.keras")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    running = Server(str(tmp_path / "tiny.keras"), "--model_name=tiny", "--enable_batching")
    try:
        response = requests.post(running.url + "/v1/models/tiny:predict", data=json.dumps({"instances": x.tolist()}))
        assert response.status_code == 200, response.text
        assert np.allclose(np.array(response.json()["predictions"]), expected, atol=1e-5)
    finally:
        assert running.stop()[0] == 0


@pytest.mark.parametrize(("text", "message"), [
    ('model_config_list { config { name: "m" base_path: "m" colour: "red" } }', "unknown field 'colour'"),
    ('model_config_list { config { name: "m" }', "missing '}'"),
    ("model_config_list { }", "lists no model"),
])
def test_bad_model_config_file_is_one_line(tmp_path, text, message):
    config = tmp_path / "models.config"
    config.write_text(text)
    done = _cli(f"--model_config_file={config}")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(config) in lines[0]
