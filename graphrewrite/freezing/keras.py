"""Freeze Keras 3 models: a model object, a ``.keras`` file or a legacy ``.h5`` file.

The model is traced once in inference mode (``training=False``) with its own input specs
(batch dimension left unknown), then frozen like any concrete function. Input placeholders
are named after the model's inputs, so the names a user gave ``keras.Input`` survive.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, UsageError
from graphrewrite.freezing.frozen import FreezeError, FrozenGraph, first_line
from graphrewrite.freezing.saved_model import flat_paths, freeze_concrete_function, structured_output_keys

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_keras_model(path: str | os.PathLike[str]) -> Any:
    """A Keras model from a ``.keras`` or ``.h5`` file (not compiled: inference only)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise GraphFileError(f"'{path}' is a folder; for a SavedModel use --input_saved_model_dir")
    if not path.exists():
        raise GraphFileError(f"Keras model file '{path}' does not exist")
    if path.suffix.lower() not in KERAS_SUFFIXES:
        raise GraphFileError(f"'{path}' is not a Keras model file (expected {', '.join(KERAS_SUFFIXES)})")
    keras = _tf.keras()
    try:
        return keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, TypeError, zipfile errors...
        raise GraphFileError(f"cannot load Keras model '{path}': {first_line(exc)}") from None


def freeze_keras_model(
    path_or_model: Any,
    *,
    control_flow: str = "keep",
    input_signature: Any = None,
) -> FrozenGraph:
    """Freeze a Keras model (object or file path) called with ``training=False``.

    *input_signature* (a list of ``tf.TensorSpec``) overrides the model's own input specs;
    it is needed for subclassed models that were never built on symbolic inputs.
    """
    model = load_keras_model(path_or_model) if isinstance(path_or_model, (str, os.PathLike)) else path_or_model
    tf = _tf.tf()
    structure, specs = _input_specs(model, input_signature)

    def call(*args: Any) -> Any:
        return model(tf.nest.pack_sequence_as(structure, list(args)), training=False)

    try:
        function = tf.function(call).get_concrete_function(*specs)
    except (ValueError, TypeError) as exc:
        raise FreezeError(f"cannot trace Keras model '{model.name}': {first_line(exc)}") from None
    keys = structured_output_keys(function)
    names = list(getattr(model, "output_names", None) or [])
    if not isinstance(function.structured_outputs, dict) and len(names) == len(keys):
        keys = names
    frozen = freeze_concrete_function(function, control_flow=control_flow, output_keys=keys)
    return _with_input_keys(frozen, structure, specs)


def _input_specs(model: Any, input_signature: Any) -> tuple[Any, list[Any]]:
    tf = _tf.tf()
    if input_signature is not None:
        specs = list(input_signature)
        return (specs[0] if len(specs) == 1 else specs), specs
    try:
        structure = model.input
    except (AttributeError, ValueError) as exc:
        # A Sequential built with input_shape= (the freezing tutorial's model) was never called
        # on a symbolic input, but its build config records the shape it was built for.
        built = _built_specs(model)
        if built is None:
            raise UsageError(
                f"Keras model '{getattr(model, 'name', model)}' has no defined inputs ({first_line(exc)}); "
                "build it on keras.Input or give --input_shape / input_signature=[tf.TensorSpec(...)]"
            ) from None
        return (built[0] if len(built) == 1 else built), built
    flat = tf.nest.flatten(structure)
    specs = [
        tf.TensorSpec(tuple(t.shape), tf.as_dtype(t.dtype), name=_spec_name(getattr(t, "name", ""), i))
        for i, t in enumerate(flat)
    ]
    return structure, specs


def _built_specs(model: Any) -> list[Any] | None:
    """TensorSpecs from the shape(s) a built model records in its build config, or None."""
    tf = _tf.tf()
    try:
        shape = (model.get_build_config() or {}).get("input_shape")
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None
    if not shape:
        return None
    shapes = shape if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)) else [shape]
    dtype = tf.as_dtype(getattr(model, "input_dtype", None) or "float32")
    names = ["input"] if len(shapes) == 1 else [f"input_{i}" for i in range(len(shapes))]
    return [tf.TensorSpec(tuple(s), dtype, name=n) for s, n in zip(shapes, names, strict=True)]


def signature_from_shapes(text: str, dtype: str = "float32") -> list[Any]:
    """``"1,224,224,3"`` (``?`` or ``-1`` for an unknown dim; ``;`` between several inputs) as
    TensorSpecs: the input signature of a model that was never built on symbolic inputs."""
    from graphrewrite.rules.params import CONVERTERS, Kind

    tf = _tf.tf()
    parts = [p for p in text.split(";") if p.strip()]
    if not parts:
        raise UsageError("--input_shape is empty; give one shape like 1,224,224,3 (';' between several inputs)")
    specs = []
    for index, part in enumerate(parts):
        try:
            shape = CONVERTERS[Kind.SHAPE](part)
        except ValueError as exc:
            raise UsageError(f"--input_shape: {exc}") from None
        name = "input" if len(parts) == 1 else f"input_{index}"
        specs.append(tf.TensorSpec(shape, tf.as_dtype(dtype), name=name))
    return specs


def _spec_name(name: str, index: int) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.\-/]", "_", name or "")
    return clean if clean and clean[0].isalpha() else f"input_{index}"


def _with_input_keys(frozen: FrozenGraph, structure: Any, specs: list[Any]) -> FrozenGraph:
    import attrs

    keys = flat_paths(structure) if isinstance(structure, dict) else [spec.name for spec in specs]
    return attrs.evolve(frozen, signature_inputs=dict(zip(keys, frozen.input_names, strict=False)))

