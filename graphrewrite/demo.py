"""The built-in example: a small Keras CNN, frozen, optimised with the standard script, checked.

``graphrewrite demo`` runs this end to end so a new user sees the whole job in one command.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from graphrewrite import _tf
from graphrewrite.stdlib_rules.scripts import STANDARD_SCRIPT


@attrs.frozen
class DemoResult:
    frozen_path: Path
    optimized_path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    before: Any  # GraphDef
    after: Any
    verified: Any  # VerifyReport


def build_model(seed: int = 0) -> Any:
    """A small CNN with batch norms whose statistics are random, so folding is not trivial."""
    tf = _tf.tf()
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3), batch_size=1, name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Conv2D(32, 1, use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = (w.numpy() for w in layer.weights)
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0, 0.1, beta.shape).astype("float32"),
                rng.normal(0, 0.1, mean.shape).astype("float32"),
                rng.uniform(0.5, 1.5, var.shape).astype("float32"),
            ])  # fmt: skip
    del tf
    return model


def run_demo(out_dir: Path, *, seed: int = 0) -> DemoResult:
    """Freeze the model, transform it with the standard script, verify, write both graphs."""
    from graphrewrite import io, pipeline, verification
    from graphrewrite.freeze import freeze_keras_model

    frozen = freeze_keras_model(build_model(seed))
    inputs = tuple(t.name for t in frozen.inputs)
    outputs = tuple(t.name for t in frozen.outputs)
    steps = pipeline.compile_pipeline(STANDARD_SCRIPT)
    result = pipeline.run_pipeline(frozen.graph_def, steps, inputs=inputs, outputs=outputs)
    report = verification.verify(frozen.graph_def, result.graph_def, inputs, outputs)
    out_dir.mkdir(parents=True, exist_ok=True)
    frozen_path, optimized_path = out_dir / "frozen.pb", out_dir / "optimized.pb"
    io.save_graph(frozen.graph_def, frozen_path)
    io.save_graph(result.graph_def, optimized_path)
    return DemoResult(frozen_path, optimized_path, inputs, outputs, frozen.graph_def, result.graph_def, report)


def comparison_table(before: Any, after: Any) -> str:
    """Nodes, bytes and per-op counts before and after, ops that changed first."""
    ops_before = Counter(n.op for n in before.node)
    ops_after = Counter(n.op for n in after.node)
    rows = [("", "before", "after"), ("nodes", str(len(before.node)), str(len(after.node))),
            ("bytes", f"{before.ByteSize():,}", f"{after.ByteSize():,}")]  # fmt: skip
    changed = sorted(set(ops_before) | set(ops_after), key=lambda op: (ops_before[op] == ops_after[op], op))
    rows += [(f"  {op}", str(ops_before[op]), str(ops_after[op])) for op in changed]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{r[0].ljust(width)}  {r[1]:>10}  {r[2]:>10}" for r in rows)
