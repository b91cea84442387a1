"""The batcher on its own: batches form under concurrency, never exceed the limit, never mix
shapes, and every caller gets exactly its rows (and its own error)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from graphrewrite.serve.batching import Batcher, BatchOptions
from graphrewrite.serve.status import ServeError


class Recorder:
    """A fake model: doubles x, records each batch's row count and shape; rejects negative rows."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, tuple[int, ...]]] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, feeds):
        self.release.wait(30)
        x = feeds["x"]
        self.batches.append((x.shape[0], x.shape[1:]))
        if (x < 0).any():
            raise ServeError("negative input")
        return {"y": x * 2, "rows": np.arange(x.shape[0])}


def test_concurrent_requests_are_batched_and_get_their_own_rows():
    model = Recorder()
    model.release.clear()  # hold the first batch so the others queue up behind it
    batcher = Batcher(model, options=BatchOptions(max_batch_size=8, batch_timeout_micros=200_000))
    try:
        futures = [batcher.submit({"x": np.full((1 + i % 3, 2), float(i))}) for i in range(24)]
        model.release.set()
        for i, future in enumerate(futures):
            result = future.result(30)
            assert np.array_equal(result["y"], np.full((1 + i % 3, 2), 2.0 * i))
    finally:
        batcher.close()
    sizes = [rows for rows, _shape in model.batches]
    assert sum(sizes) == sum(1 + i % 3 for i in range(24))
    assert max(sizes) > 3  # several requests ran as one batch
    assert all(rows <= 8 for rows in sizes)


def test_shapes_past_dimension_0_are_never_mixed():
    model = Recorder()
    model.release.clear()
    batcher = Batcher(model, options=BatchOptions(max_batch_size=32, batch_timeout_micros=200_000))
    try:
        futures = [batcher.submit({"x": np.ones((1, 2 + i % 2))}) for i in range(10)]
        model.release.set()
        assert [f.result(30)["y"].shape for f in futures] == [(1, 2 + i % 2) for i in range(10)]
    finally:
        batcher.close()
    assert {shape for _rows, shape in model.batches} == {(2,), (3,)}


def test_a_bad_request_fails_alone():
    model = Recorder()
    model.release.clear()
    batcher = Batcher(model, options=BatchOptions(max_batch_size=16, batch_timeout_micros=200_000))
    try:
        futures = [batcher.submit({"x": np.full((1, 1), -1.0 if i == 3 else float(i))}) for i in range(6)]
        model.release.set()
        with pytest.raises(ServeError, match="negative input"):
            futures[3].result(30)
        assert [float(futures[i].result(30)["y"][0, 0]) for i in (0, 1, 2, 4, 5)] == [0.0, 2.0, 4.0, 8.0, 10.0]
    finally:
        batcher.close()


def test_close_finishes_queued_requests():
    model = Recorder()
    batcher = Batcher(model, options=BatchOptions(max_batch_size=4, batch_timeout_micros=100_000))
    with ThreadPoolExecutor(8) as pool:
        futures = list(pool.map(lambda i: batcher.submit({"x": np.full((1, 1), float(i))}), range(8)))
    batcher.close()
    assert [float(f.result(0)["y"][0, 0]) for f in futures] == [2.0 * i for i in range(8)]
