"""The benchmark inputs: frozen Keras applications and a synthetic MLP chain, cached as .pb.

Keras models are built with ``weights=None`` and every BatchNormalization layer's gamma, beta,
moving mean and moving variance set to random values (identity statistics would make batch
norm folding trivial), then frozen through ``tf.function`` on a [1,224,224,3] signature and
``convert_variables_to_constants_v2``. The classifier ends in logits
(``classifier_activation=None``) so the output check sees real differences, not a softmax that
flattens them. The synthetic chain is written straight as protobuf, which is fast even at
170,002 nodes.

Each input is a ``<name>.v<VERSION>.pb`` plus a ``.json`` sidecar (inputs, outputs, node count)
in the cache folder; a rerun reads them back without importing TensorFlow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np

# Bump when a builder changes, so stale cached graphs are not reused.
VERSION = 1
IMAGE_SHAPE = (1, 224, 224, 3)
CHAIN_WIDTH = 8
NODES_PER_BLOCK = 17


@attrs.frozen
class InputSpec:
    """How to build one input: a Keras application class, or a chain of *blocks* blocks."""

    name: str
    kind: str  # "keras" or "chain"
    keras_class: str = ""
    blocks: int = 0
    quick: bool = False


@attrs.frozen
class BenchInput:
    """A built input: the frozen graph's file and what a tool needs to know about it."""

    name: str
    path: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: int
    file_bytes: int


SPECS: tuple[InputSpec, ...] = (
    InputSpec("mobilenet_v2", "keras", keras_class="MobileNetV2", quick=True),
    InputSpec("resnet50", "keras", keras_class="ResNet50"),
    InputSpec("densenet121", "keras", keras_class="DenseNet121"),
    InputSpec("chain_1k", "chain", blocks=59, quick=True),  # 1,005 nodes
    InputSpec("chain_17k", "chain", blocks=1_000, quick=True),  # 17,002 nodes
    InputSpec("chain_170k", "chain", blocks=10_000),  # 170,002 nodes
)


def spec_named(name: str) -> InputSpec:
    """The spec called *name*; a ``chain_<blocks>b`` name builds a chain of any size."""
    for spec in SPECS:
        if spec.name == name:
            return spec
    if name.startswith("chain_") and name.endswith("b") and name[6:-1].isdigit():
        return InputSpec(name, "chain", blocks=int(name[6:-1]))
    known = ", ".join(s.name for s in SPECS)
    raise ValueError(f"unknown benchmark input '{name}' (known: {known}, or chain_<N>b)")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/graphrewrite-benchmarks`` when set, else ``benchmarks/.cache``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "graphrewrite-benchmarks"
    return Path(__file__).resolve().parent / ".cache"


def _paths(spec: InputSpec, cache_dir: Path) -> tuple[Path, Path]:
    stem = f"{spec.name}.v{VERSION}"
    return cache_dir / f"{stem}.pb", cache_dir / f"{stem}.json"


def cached(spec: InputSpec, cache_dir: Path) -> BenchInput | None:
    """The cached input for *spec*, or None when it has not been built (no TF import)."""
    pb_path, meta_path = _paths(spec, cache_dir)
    if not (pb_path.is_file() and meta_path.is_file()):
        return None
    meta = json.loads(meta_path.read_text())
    return BenchInput(
        spec.name,
        str(pb_path),
        tuple(meta["inputs"]),
        tuple(meta["outputs"]),
        int(meta["nodes"]),
        pb_path.stat().st_size,
    )


def build(spec: InputSpec, cache_dir: Path) -> BenchInput:
    """Build *spec*'s graph (imports TensorFlow), write it to the cache, return it."""
    if spec.kind == "chain":
        graph_def, inputs, outputs = chain_graph_def(spec.blocks), ("input",), ("output",)
    elif spec.kind == "keras":
        graph_def, inputs, outputs = freeze_keras(spec.keras_class)
    else:
        raise ValueError(f"input '{spec.name}': unknown kind '{spec.kind}'")
    cache_dir.mkdir(parents=True, exist_ok=True)
    pb_path, meta_path = _paths(spec, cache_dir)
    tmp = pb_path.with_suffix(".tmp")
    tmp.write_bytes(graph_def.SerializeToString(deterministic=True))
    os.replace(tmp, pb_path)
    meta = {"inputs": list(inputs), "outputs": list(outputs), "nodes": len(graph_def.node)}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    found = cached(spec, cache_dir)
    assert found is not None  # we just wrote both files
    return found


# -- the synthetic chain -------------------------------------------------------------------


def chain_graph_def(blocks: int, *, width: int = CHAIN_WIDTH, seed: int = 0) -> Any:
    """A GraphDef of *blocks* 17-node blocks between ``input`` and ``output``.

    One block: ``MatMul(x, W)``, ``BiasAdd(b)``, a scale ``Identity(c) * 1.0``, ``Mul`` by it,
    ``AddV2`` of a constant, ``Identity``, ``Relu``, and a dead ``ReduceSum(relu) * k`` branch
    nobody reads. ``blocks`` blocks give ``17 * blocks + 2`` nodes. Weights keep values bounded
    through thousands of blocks (W is 0.5*I plus noise).
    """
    from graphrewrite import _tf

    pb = _tf.pb()
    graph_def = pb.GraphDef()
    graph_def.versions.producer = _graph_def_version()
    rng = np.random.default_rng(seed)
    nodes = graph_def.node
    ph = _add(nodes, "input", "Placeholder", (), dtype=pb.types.DT_FLOAT)
    ph.attr["shape"].shape.dim.add(size=1)
    ph.attr["shape"].shape.dim.add(size=width)
    x = "input"
    for k in range(blocks):
        x = _chain_block(nodes, f"block{k}", x, rng, width)
    _add(nodes, "output", "Identity", (x,), T=pb.types.DT_FLOAT)
    return graph_def


def _chain_block(nodes: Any, p: str, x: str, rng: np.random.Generator, width: int) -> str:
    eye = 0.5 * np.eye(width, dtype=np.float32)
    w = eye + rng.normal(0.0, 0.1 / np.sqrt(width), (width, width)).astype(np.float32)
    _const(nodes, f"{p}/W", w)
    _add(nodes, f"{p}/MatMul", "MatMul", (x, f"{p}/W"), T=1, transpose_a=False, transpose_b=False)
    _const(nodes, f"{p}/b", rng.uniform(-0.1, 0.1, width).astype(np.float32))
    _add(nodes, f"{p}/BiasAdd", "BiasAdd", (f"{p}/MatMul", f"{p}/b"), T=1, data_format=b"NHWC")
    _const(nodes, f"{p}/c", rng.uniform(0.8, 1.2, width).astype(np.float32))
    _add(nodes, f"{p}/c_read", "Identity", (f"{p}/c",), T=1)
    _const(nodes, f"{p}/one", np.float32(1.0))
    _add(nodes, f"{p}/scale", "Mul", (f"{p}/c_read", f"{p}/one"), T=1)
    _add(nodes, f"{p}/mul", "Mul", (f"{p}/BiasAdd", f"{p}/scale"), T=1)
    _const(nodes, f"{p}/a", rng.uniform(0.0, 0.1, width).astype(np.float32))
    _add(nodes, f"{p}/add", "AddV2", (f"{p}/mul", f"{p}/a"), T=1)
    _add(nodes, f"{p}/add_read", "Identity", (f"{p}/add",), T=1)
    _add(nodes, f"{p}/Relu", "Relu", (f"{p}/add_read",), T=1)
    _const(nodes, f"{p}/dead/axis", np.array([1], dtype=np.int32))
    _add(nodes, f"{p}/dead/Sum", "Sum", (f"{p}/Relu", f"{p}/dead/axis"), T=1, Tidx=3, keep_dims=False)
    _const(nodes, f"{p}/dead/k", np.float32(2.0))
    _add(nodes, f"{p}/dead/mul", "Mul", (f"{p}/dead/Sum", f"{p}/dead/k"), T=1)
    return f"{p}/Relu"


def _add(nodes: Any, name: str, op: str, inputs: tuple[str, ...], **attr: Any) -> Any:
    """Append a NodeDef; int attrs are DataType enums (1 = float, 3 = int32), bytes strings."""
    node = nodes.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attr.items():
        if isinstance(value, bool):
            node.attr[key].b = value
        elif isinstance(value, bytes):
            node.attr[key].s = value
        else:
            node.attr[key].type = value
    return node


def _const(nodes: Any, name: str, value: np.ndarray | np.generic) -> Any:
    array = np.asarray(value)
    dtype = {np.dtype(np.float32): 1, np.dtype(np.int32): 3}[array.dtype]
    node = _add(nodes, name, "Const", (), dtype=dtype)
    tensor = node.attr["value"].tensor
    tensor.dtype = dtype
    for size in array.shape:
        tensor.tensor_shape.dim.add(size=size)
    tensor.tensor_content = array.tobytes()
    return node


def _graph_def_version() -> int:
    from tensorflow.python.framework import versions

    return int(versions.GRAPH_DEF_VERSION)


# -- Keras applications --------------------------------------------------------------------


def freeze_keras(keras_class: str, *, seed: int = 0) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    """Build ``keras.applications.<keras_class>`` with random BN statistics and freeze it."""
    from graphrewrite import _tf

    tf = _tf.tf()
    import keras
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, keras_class)(
        weights=None, input_shape=IMAGE_SHAPE[1:], classifier_activation=None
    )
    randomise_batch_norms(model, np.random.default_rng(seed))
    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(IMAGE_SHAPE, tf.float32, name="input"))
    frozen = convert_variables_to_constants_v2(concrete)
    graph_def = frozen.graph.as_graph_def()
    inputs = tuple(t.name.split(":")[0] for t in frozen.inputs if t.dtype != tf.resource)
    outputs = tuple(t.name.split(":")[0] for t in frozen.outputs)
    return graph_def, inputs, outputs


def randomise_batch_norms(model: Any, rng: np.random.Generator) -> int:
    """Give every BatchNormalization layer random gamma, beta, mean and variance; returns
    how many layers were changed."""
    import keras

    count = 0
    for layer in model.layers:  # the applications are flat functional models
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        for attr, low, high in (
            ("gamma", 0.5, 1.5),
            ("beta", -0.2, 0.2),
            ("moving_mean", -0.2, 0.2),
            ("moving_variance", 0.5, 1.5),
        ):
            variable = getattr(layer, attr, None)
            if variable is not None:
                variable.assign(rng.uniform(low, high, variable.shape).astype(np.float32))
        count += 1
    return count
