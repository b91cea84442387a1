"""Input values for running a graph: random feeds by dtype and shape, ``.npz`` files, shapes.

``run``, ``verify`` and ``transform --verify`` all feed graphs the same way: values from an
``.npz`` file when the user gives one, otherwise random values whose dtype and static shape
come from the graph, with unknown dimensions taken from ``--input_shapes`` (default 1).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphrewrite.engine.errors import GraphFileError, UsageError
from graphrewrite.engine.opdefs import PLACEHOLDER_OPS

Shape = tuple[int, ...]
# A static shape as the graph knows it: None for unknown rank, None dims for unknown sizes.
StaticShape = tuple[int | None, ...] | None

DEFAULT_DIM = 1


def parse_input_shapes(text: str | None) -> dict[str, Shape]:
    """``"x:1,224,224,3;y:1"`` -> ``{"x": (1, 224, 224, 3), "y": (1,)}``; ``"s:"`` is a scalar.

    The name may carry a port (``x:0:1,2``): the shape is what follows the last colon.
    """
    shapes: dict[str, Shape] = {}
    for item in (text or "").split(";"):
        item = item.strip()
        if not item:
            continue
        name, sep, dims = item.rpartition(":")
        if not sep or not name:
            raise UsageError(f"--input_shapes: expected NAME:DIMS such as 'x:1,224,224,3', got '{item}'")
        shapes[name.strip()] = _parse_dims(dims, item)
    return shapes


def _parse_dims(dims: str, item: str) -> Shape:
    from graphrewrite.rules.params import CONVERTERS, Kind

    try:
        shape = CONVERTERS[Kind.SHAPE](dims)
    except ValueError as exc:
        raise UsageError(f"--input_shapes: {exc} (in '{item}')") from None
    if any(d is None for d in shape):
        raise UsageError(f"--input_shapes: '{item}' has an unknown dimension; feeding needs concrete sizes")
    return tuple(shape)


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays stored in an ``.npz`` file, by key (keys are input names: ``x`` or ``x:0``)."""
    path = Path(path).expanduser()
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise GraphFileError(f"'{path}' is a single .npy array, not an .npz archive of named inputs")
            return {key: data[key] for key in data.files}
    except OSError as exc:
        raise GraphFileError(f"cannot read '{path}': {exc.strerror or exc}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GraphFileError(f"'{path}' is not an .npz file: {exc or 'it is empty'}") from None


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write *arrays* to an ``.npz`` file atomically."""
    import io as _io

    from graphrewrite.io import write_atomic

    buffer = _io.BytesIO()
    np.savez(buffer, **{key: np.asarray(value) for key, value in arrays.items()})
    write_atomic(Path(path).expanduser(), buffer.getvalue())


def lookup(mapping: Mapping[str, Any], name: str) -> Any:
    """``mapping[name]`` where ``x`` and ``x:0`` are the same key; None when absent."""
    for key in (name, _strip_zero(name), f"{name}:0"):
        if key in mapping:
            return mapping[key]
    return None


def _strip_zero(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def concrete_shape(name: str, static: StaticShape, given: Shape | None) -> Shape:
    """The shape to feed *name*: *given* when it fits the static shape, else unknowns -> 1."""
    if given is not None:
        if static is not None and (
            len(static) != len(given) or any(s is not None and s != g for s, g in zip(static, given, strict=True))
        ):
            raise UsageError(
                f"--input_shapes gives {name} shape {list(given)}, but the graph says {_show(static)}"
            )
        return tuple(given)
    if static is None:
        raise UsageError(f"input '{name}' has unknown rank; give its shape with --input_shapes={name}:DIMS")
    return tuple(DEFAULT_DIM if d is None else d for d in static)


def _show(shape: StaticShape) -> str:
    if shape is None:
        return "unknown rank"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def random_array(dtype: Any, shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Random values of a numpy *dtype*: floats ~ N(0,1), ints in [0, 10), bools, empty bytes."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind in "iu":
        # Small non-negative ints are safe as indices, sizes and lengths of most graphs.
        return rng.integers(0, 10, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "OSU":
        return np.full(shape, b"", dtype=object)
    raise UsageError(f"cannot make random values of dtype {dtype}; give inputs with --input_file")


def input_specs(source: Any, inputs: Sequence[str]) -> dict[str, tuple[np.dtype, StaticShape]]:
    """``{name: (numpy dtype, static shape)}`` for each input of a GraphRunner or a GraphDef."""
    if hasattr(source, "placeholder_spec"):
        specs = {}
        for name in inputs:
            try:
                dtype, shape = source.placeholder_spec(name)
            except (KeyError, ValueError):
                from graphrewrite.engine.errors import NameNotFoundError

                raise NameNotFoundError(f"input '{name}' is not a tensor of the graph") from None
            specs[name] = (np.dtype(dtype.as_numpy_dtype), shape)
        return specs
    return _specs_from_graphdef(source, inputs)


def _specs_from_graphdef(graph_def: Any, inputs: Sequence[str]) -> dict[str, tuple[np.dtype, StaticShape]]:
    from graphrewrite.engine.graph import Graph, TensorRef

    graph = graph_def if isinstance(graph_def, Graph) else Graph.from_graphdef(graph_def)
    nodes = [graph.node(name) for name in inputs]
    if any(n.op not in PLACEHOLDER_OPS or TensorRef.parse(name).port > 0 for n, name in zip(nodes, inputs, strict=True)):
        # Only TensorFlow knows the type and shape of an arbitrary tensor: ask a runner.
        from graphrewrite.runner import GraphRunner

        with GraphRunner(graph.to_graphdef()) as runner:
            return input_specs(runner, inputs)
    return {name: (n.get("dtype").numpy, n.get("shape") if "shape" in n.attr else None) for n, name in zip(nodes, inputs, strict=True)}


def random_feeds(
    source: Any,
    inputs: Sequence[str],
    input_shapes: Mapping[str, Shape] | str | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Random values for each of *inputs*, keyed by the names as given.

    *source* is a ``runner.GraphRunner`` or a GraphDef (or ``Graph``). Unknown dimensions come
    from *input_shapes* (a mapping, or ``"x:1,224,224,3;y:1"`` text), else 1.
    """
    shapes = parse_input_shapes(input_shapes) if isinstance(input_shapes, str) or input_shapes is None else input_shapes
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, (dtype, static) in input_specs(source, inputs).items():
        shape = concrete_shape(name, static, lookup(shapes, name))
        feeds[name] = random_array(dtype, shape, rng)
    return feeds


def check_feeds(feeds: Mapping[str, np.ndarray], inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """*feeds* restricted to *inputs* (``x`` and ``x:0`` match); missing inputs are an error."""
    out = {}
    missing = []
    for name in inputs:
        value = lookup(feeds, name)
        if value is None:
            missing.append(name)
        else:
            out[name] = value
    if missing:
        have = ", ".join(sorted(feeds)) or "nothing"
        raise UsageError(f"the input file has no value for {', '.join(missing)} (it holds {have})")
    return out
