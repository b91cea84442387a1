"""What to serve: a frozen .pb/.pbtxt, a SavedModel folder or a .keras file, in version folders.

A base path holding numeric subfolders is served as versions (newest by default, as TF
Serving does); any other model path is version 1. SavedModels and Keras files are frozen on
load through :mod:`graphrewrite.freeze`; an optional transform script then rewrites the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from graphrewrite.serve.config import ModelConfig
from graphrewrite.serve.status import ModelLoadError

GRAPH_SUFFIXES = (".pb", ".pbtxt", ".txt", ".prototxt")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


@attrs.frozen
class FrozenModel:
    """A frozen GraphDef with its signature keys mapped to graph tensor names."""

    graph_def: Any = attrs.field(eq=False, repr=False)
    inputs: dict[str, str]  # key -> tensor name
    outputs: dict[str, str]


@attrs.frozen(kw_only=True)
class LoadOptions:
    """How to read a model: explicit inputs/outputs for a bare GraphDef, a transform script."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    transforms: str = ""


def version_paths(config: ModelConfig) -> dict[int, Path]:
    """Version number -> path for the versions *config*'s policy serves."""
    base = Path(config.base_path).expanduser()
    if not base.exists():
        raise ModelLoadError(f"model '{config.name}': base path '{base}' does not exist")
    numbered = {int(p.name): p for p in base.iterdir() if p.name.isdigit()} if base.is_dir() else {}
    if not numbered:
        if base.is_dir() and _model_file(base) is None:
            raise ModelLoadError(f"model '{config.name}': '{base}' has no version folders and no model in it")
        numbered = {1: base}
    if config.policy == "all":
        return dict(sorted(numbered.items()))
    if config.policy == "specific":
        missing = [v for v in config.versions if v not in numbered]
        if missing:
            raise ModelLoadError(f"model '{config.name}': version {missing[0]} not found under '{base}'")
        return {v: numbered[v] for v in sorted(config.versions)}
    newest = sorted(numbered)[-max(config.num_versions, 1):]
    return {v: numbered[v] for v in newest}


def load_frozen(path: Path, options: LoadOptions) -> FrozenModel:
    """Freeze (if needed) and transform (if asked) the model at *path*."""
    target = _model_file(path) if path.is_dir() else path
    if target is None:
        raise ModelLoadError(f"'{path}' holds no saved_model.pb, .pb, .pbtxt or .keras model")
    if target.is_dir():
        from graphrewrite.freeze import freeze_saved_model

        model = _from_frozen(freeze_saved_model(target))
    elif target.suffix.lower() in KERAS_SUFFIXES:
        from graphrewrite.freeze import freeze_keras_model

        model = _from_frozen(freeze_keras_model(target))
    else:
        model = _from_graph_file(target, options)
    if options.transforms:
        model = _transform(model, options.transforms)
    return model


def _model_file(folder: Path) -> Path | None:
    if (folder / "saved_model.pb").exists() or (folder / "saved_model.pbtxt").exists():
        return folder
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (*GRAPH_SUFFIXES, *KERAS_SUFFIXES))
    return files[0] if files else None


def _from_frozen(frozen: Any) -> FrozenModel:
    inputs = dict(frozen.signature_inputs) or {_key(n): n for n in frozen.input_names}
    outputs = dict(frozen.signature_outputs) or {_key(n): n for n in frozen.output_names}
    return FrozenModel(frozen.graph_def, inputs, outputs)


def _from_graph_file(path: Path, options: LoadOptions) -> FrozenModel:
    from graphrewrite import io
    from graphrewrite.inspect import resolve_names, summarize

    graph_def = io.load_graph(path)
    summary = summarize(graph_def) if not options.inputs or not options.outputs else None
    inputs = resolve_names(graph_def, options.inputs) if options.inputs else list(summary.input_names)
    outputs = resolve_names(graph_def, options.outputs) if options.outputs else list(summary.output_names)
    if not inputs or not outputs:
        kind = "inputs" if not inputs else "outputs"
        raise ModelLoadError(f"'{path}': found no {kind}; name them with --{kind}")
    return FrozenModel(graph_def, {_key(n): n for n in inputs}, {_key(n): n for n in outputs})


def _transform(model: FrozenModel, transforms: str) -> FrozenModel:
    from graphrewrite.pipeline import transform_graph

    graph_def = transform_graph(model.graph_def, list(model.inputs.values()), list(model.outputs.values()), transforms)
    return attrs.evolve(model, graph_def=graph_def)


def _key(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def split_names(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"a,b"`` -> ``("a", "b")``."""
    items = text.split(",") if isinstance(text, str) else text
    return tuple(n.strip() for n in items if n.strip())
