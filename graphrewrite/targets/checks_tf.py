"""``check --target=tf --tf_version=V``: ops newer than TensorFlow V's op registry.

Attributes newer than V are not findings: measured with TensorFlow 2.16.2, importing and running
a 2.21 GatherNd that carries ``bad_indices_policy`` (default or not) succeeds, because the
graph importer drops attributes its OpDef does not know.

The registries are data (``targets/data/tf_ops/MAJOR.MINOR.json``, one per TensorFlow minor
version, written by ``tools/gen_tf_ops.py`` under that TensorFlow).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from graphrewrite.engine.errors import NameNotFoundError


def versions() -> list[str]:
    """The TensorFlow versions whose op registry ships with graphrewrite."""
    folder = resources.files("graphrewrite.targets").joinpath("data", "tf_ops")
    names = [f.name[: -len(".json")] for f in folder.iterdir() if f.name.endswith(".json")]
    return sorted(names, key=lambda v: tuple(int(p) for p in v.split(".")))


@functools.cache
def registry(version: str) -> Mapping[str, frozenset[str]]:
    """{op: attribute names} of TensorFlow *version*."""
    known = versions()
    if version not in known:
        raise NameNotFoundError(
            f"no op registry for TensorFlow {version!r} (shipped: {', '.join(known)}); "
            "write one with tools/gen_tf_ops.py under that TensorFlow"
        )
    text = resources.files("graphrewrite.targets").joinpath("data", "tf_ops", f"{version}.json").read_text()
    return {op: frozenset(attrs) for op, attrs in json.loads(text)["ops"].items()}


def registry_problems(graph_def: Any, version: str) -> Iterable[tuple[str, str, str, str | None]]:
    """(node, op, problem, fix) for every node TensorFlow *version* cannot import."""
    ops = registry(version)
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    for node in nodes:
        if node.op not in ops and not _is_function(graph_def, node.op):
            yield node.name, node.op, f"op {node.op} is not registered in TensorFlow {version}", None


def _is_function(graph_def: Any, op: str) -> bool:
    return any(f.signature.name == op for f in graph_def.library.function)
