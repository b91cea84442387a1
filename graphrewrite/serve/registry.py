"""The served models: every version's session and runner, found by name, version or label.

Lookups fail with TF Serving's messages: ``Servable not found for request: Latest(half)``
(404) for an unknown model or version, ``Unrecognized servable version label: x`` (400).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from graphrewrite.serve.batching import Batcher, BatchOptions, DirectRunner
from graphrewrite.serve.config import ModelConfig
from graphrewrite.serve.models import LoadOptions, load_frozen, version_paths
from graphrewrite.serve.session import ModelSession
from graphrewrite.serve.signature import Signature
from graphrewrite.serve.status import ServeError, invalid, not_found


@attrs.frozen(eq=False)
class Version:
    """One loaded version: its session and the runner (batching or direct) in front of it."""

    number: int
    session: ModelSession
    runner: Batcher | DirectRunner
    batching: bool

    @property
    def signature(self) -> Signature:
        return self.session.signature


@attrs.frozen(eq=False)
class Model:
    """A served model: its versions (ascending) and labels."""

    name: str
    versions: Mapping[int, Version]
    labels: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def latest(self) -> Version:
        return self.versions[max(self.versions)]


class Registry:
    """All served models, loaded once at start-up."""

    def __init__(self, models: Iterable[Model]):
        self.models = {m.name: m for m in models}

    def find(self, name: str, version: int | None = None, label: str | None = None) -> Version:
        """The version a request names; TF Serving's errors when there is none."""
        model = self.models.get(name)
        if model is None:
            spec = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise not_found(f"Servable not found for request: {spec}")
        if label is not None:
            if label not in model.labels or model.labels[label] not in model.versions:
                raise invalid(f"Unrecognized servable version label: {label}")
            return model.versions[model.labels[label]]
        if version is None:
            return model.latest
        if version not in model.versions:
            raise not_found(f"Servable not found for request: Specific({name}, {version})")
        return model.versions[version]

    def close(self) -> None:
        """Finish queued batches, then close every session."""
        for model in self.models.values():
            for version in model.versions.values():
                version.runner.close()
                version.session.close()


def load_registry(configs: Iterable[ModelConfig], options: LoadOptions, batch: BatchOptions | None) -> Registry:
    """Load every version of every configured model (freezing and transforming as needed)."""
    models = []
    for config in configs:
        versions = {n: _load_version(n, path, options, batch) for n, path in version_paths(config).items()}
        models.append(Model(config.name, versions, dict(config.labels)))
    return Registry(models)


def _load_version(number: int, path: Path, options: LoadOptions, batch: BatchOptions | None) -> Version:
    session = ModelSession(load_frozen(path, options))
    batching = batch is not None and session.signature.batchable
    runner = Batcher(session.run, options=batch) if batching else DirectRunner(session.run)
    return Version(number, session, runner, batching)


__all__ = ["Model", "Registry", "ServeError", "Version", "load_registry"]
