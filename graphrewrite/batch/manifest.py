"""Which models a batch runs: a glob of model paths, or a manifest file (TOML or YAML).

A manifest has optional ``defaults`` and a list of ``model`` entries; each entry may override
any default::

    [defaults]
    transforms = "strip_unused_nodes fold_constants(ignore_errors=true) fold_batch_norms"
    verify = true
    timeout = 300            # seconds per model
    memory_limit = 4096      # MiB per model

    [[model]]
    path = "zoo/mobilenet"   # relative to the manifest; kind guessed: a SavedModel folder
    [[model]]
    path = "legacy/graph.pb"
    kind = "checkpoint"
    checkpoint = "legacy/model.ckpt-1000"
    outputs = ["logits"]

In YAML the list is ``models:``. Kinds: ``graph`` (a frozen GraphDef, ``.pb``/``.pbtxt``),
``saved_model`` (a folder), ``keras`` (``.keras``/``.h5``), ``checkpoint`` (a TF1 graph or
``.meta`` with ``checkpoint``). Every problem is a :class:`UsageError` naming the file and entry.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from graphrewrite.engine.errors import UsageError
from graphrewrite.stdlib_rules.scripts import STANDARD_SCRIPT

KINDS = ("graph", "saved_model", "keras", "checkpoint")
KEYS = frozenset({"path", "name", "kind", "checkpoint", "inputs", "outputs", "transforms", "verify", "timeout", "memory_limit"})
DEFAULT_TIMEOUT = 600.0
DEFAULT_MEMORY_MB = 8192


@attrs.frozen
class ModelSpec:
    """One model of a batch, with every setting resolved (JSON-able: it crosses processes)."""

    name: str
    path: str
    kind: str
    transforms: str = STANDARD_SCRIPT
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    checkpoint: str | None = None
    verify: bool = True
    timeout: float = DEFAULT_TIMEOUT
    memory_limit: int = DEFAULT_MEMORY_MB  # MiB

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def guess_kind(path: Path) -> str | None:
    """The kind of model at *path* from its shape on disk, or None."""
    if path.is_dir():
        return "saved_model" if any((path / n).exists() for n in ("saved_model.pb", "saved_model.pbtxt")) else None
    suffix = path.suffix.lower()
    if suffix in (".keras", ".h5", ".hdf5"):
        return "keras"
    if suffix == ".meta":
        return "checkpoint"
    if suffix in (".pb", ".pbtxt", ".graphdef"):
        return "graph"
    return None


def load_models(source: str, **overrides: Any) -> list[ModelSpec]:
    """The models *source* names: a manifest (``.toml``, ``.yaml``, ``.yml``) or a glob.

    *overrides* (from the command line; None means not given) win over the manifest's defaults.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if Path(source).suffix.lower() in (".toml", ".yaml", ".yml") and Path(source).is_file():
        return _from_manifest(Path(source), given)
    paths = sorted(glob.glob(os.path.expanduser(source), recursive=True))
    if not paths:
        raise UsageError(f"batch: no model matches '{source}' (give a glob of models or a .toml/.yaml manifest)")
    entries = [{"path": p} for p in paths if guess_kind(Path(p)) is not None]  # a glob skips other files
    if not entries:
        raise UsageError(f"batch: nothing '{source}' matches is a model (.pb, .pbtxt, .keras, .h5, .meta, SavedModel)")
    return _specs(entries, given, base=Path.cwd(), where=source)


def _from_manifest(path: Path, given: Mapping[str, Any]) -> list[ModelSpec]:
    data = _read(path)
    if not isinstance(data, Mapping):
        raise UsageError(f"{path}: a manifest is a table with 'defaults' and models")
    unknown = sorted(set(data) - {"defaults", "model", "models"})
    if unknown:
        raise UsageError(f"{path}: unknown section '{unknown[0]}' (expected 'defaults' and 'model' entries)")
    defaults = data.get("defaults", {})
    entries = data.get("model", data.get("models", []))
    if not isinstance(defaults, Mapping) or not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: needs a list of models ([[model]] in TOML, models: in YAML)")
    merged = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise UsageError(f"{path}: model {index + 1} is not a table")
        merged.append({**defaults, **entry})
    return _specs(merged, given, base=path.parent, where=str(path))


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: {exc}") from None
    try:
        import yaml
    except ModuleNotFoundError:
        raise UsageError(f"{path}: reading YAML needs PyYAML: pip install 'graphrewrite[batch]'") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: {' '.join(str(exc).split())}") from None


def _specs(entries: Sequence[Mapping[str, Any]], given: Mapping[str, Any], *, base: Path, where: str) -> list[ModelSpec]:
    specs: list[ModelSpec] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        spec = _spec({**entry, **given}, base, f"{where}: model {index + 1}")
        if spec.name in names:
            raise UsageError(f"{where}: two models are named '{spec.name}'; give one a 'name'")
        names.add(spec.name)
        specs.append(spec)
    return specs


def _spec(entry: Mapping[str, Any], base: Path, where: str) -> ModelSpec:
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(KEYS))})")
    if "path" not in entry:
        raise UsageError(f"{where}: has no 'path'")
    path = (base / str(entry["path"])).resolve() if not os.path.isabs(str(entry["path"])) else Path(str(entry["path"]))
    kind = entry.get("kind") or guess_kind(path)
    if kind not in KINDS:
        what = f"kind '{kind}'" if kind else f"what kind of model '{entry['path']}' is"
        raise UsageError(f"{where}: unknown {what} (set kind to one of {', '.join(KINDS)})")
    checkpoint = entry.get("checkpoint")
    if kind == "checkpoint" and not checkpoint:
        raise UsageError(f"{where}: a checkpoint model needs 'checkpoint' (the checkpoint prefix)")
    try:
        return ModelSpec(
            name=str(entry.get("name") or _default_name(path)),
            path=str(path),
            kind=kind,
            transforms=str(entry.get("transforms") or STANDARD_SCRIPT),
            inputs=_names(entry.get("inputs")),
            outputs=_names(entry.get("outputs")),
            checkpoint=str((base / str(checkpoint)).resolve()) if checkpoint else None,
            verify=_bool(entry.get("verify", True)),
            timeout=float(entry.get("timeout", DEFAULT_TIMEOUT)),
            memory_limit=int(entry.get("memory_limit", DEFAULT_MEMORY_MB)),
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None


def _default_name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(n for n in value.split(",") if n)
    return tuple(str(n) for n in value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"verify must be true or false, not {value!r}")
