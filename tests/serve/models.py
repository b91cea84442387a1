"""Small graphs the serving tests serve: half_plus_two (TF Serving's own test model) and friends."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _write(graph, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph.as_graph_def().SerializeToString())


def half_plus(path: Path, plus: float) -> None:
    """y = 0.5 * x + plus, x float [None] (TF Serving's half_plus_two / half_plus_three)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        tf.identity(x * 0.5 + plus, name="y")
    _write(graph, path)


def multi(path: Path) -> None:
    """Two inputs (a float [None,2], b int32 [None]); two outputs (scaled, b_plus)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.placeholder(tf.float32, [None, 2], name="a")
        b = tf.compat.v1.placeholder(tf.int32, [None], name="b")
        tf.identity(a * tf.cast(b, tf.float32)[:, None], name="scaled")
        tf.identity(b + 1, name="b_plus")
    _write(graph, path)


def strings(path: Path) -> None:
    """s string [None] -> echo_bytes (the same bytes, b64 out) and length int32."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        s = tf.compat.v1.placeholder(tf.string, [None], name="s")
        tf.identity(s, name="echo_bytes")
        tf.strings.length(s, name="length")
    _write(graph, path)


def classifier(path: Path) -> None:
    """image float [None,8,8,3] -> logits [None,5]: class k scores mean(channel k % 3) * (k+1)."""
    import numpy as np
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="image")
        means = tf.reduce_mean(image, axis=[1, 2])
        weights = np.zeros((3, 5), np.float32)
        for k in range(5):
            weights[k % 3, k] = k + 1
        tf.matmul(means, tf.constant(weights), name="logits")
    _write(graph, path)


def png(path: Path, width: int, height: int, rgb: tuple[int, int, int]) -> None:
    """A solid-colour PNG, written with zlib alone."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


CONFIG = """
model_config_list {
  config {
    name: "half"
    base_path: "half"
    model_platform: "tensorflow"
    model_version_policy { all {} }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: "multi" base_path: "multi" }
  config { name: "strings" base_path: "strings" }
  config { name: "classifier" base_path: "classifier" }
}
"""


def build_all(folder: Path) -> Path:
    """Every test model under *folder* and a ModelServerConfig listing them; returns its path."""
    half_plus(folder / "half" / "1" / "half_plus_two.pb", 2.0)
    half_plus(folder / "half" / "2" / "half_plus_three.pb", 3.0)
    multi(folder / "multi" / "multi.pb")
    strings(folder / "strings" / "strings.pb")
    classifier(folder / "classifier" / "classifier.pb")
    config = folder / "models.config"
    config.write_text(CONFIG)
    return config
