"""TF Serving's ``--model_config_file``: a text-format ModelServerConfig, read without its protos.

Understood fields, per ``config``: ``name``, ``base_path``, ``model_platform`` (ignored),
``model_version_policy`` (``latest { num_versions }``, ``all {}``, ``specific { versions }``)
and ``version_labels { key value }``. Anything else is an error naming the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs

from graphrewrite.serve.status import ModelLoadError

_TOKEN = re.compile(r'\s*(?:#[^\n]*\n?|([A-Za-z_][\w.]*)|("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(-?\d+)|([{}:<>]))')
_KNOWN = {"name", "base_path", "model_platform", "model_version_policy", "version_labels", "model_type"}


@attrs.frozen
class ModelConfig:
    """One model to serve: its name, base path, version policy and labels."""

    name: str
    base_path: str
    policy: str = "latest"  # latest | all | specific
    num_versions: int = 1
    versions: tuple[int, ...] = ()
    labels: dict[str, int] = attrs.field(factory=dict)


def read_config_file(path: str | Path) -> list[ModelConfig]:
    """The models listed in a ModelServerConfig text file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelLoadError(f"cannot read model config file '{path}': {exc.strerror or exc}") from None
    try:
        tree = _parse(_tokens(text))
    except ValueError as exc:
        raise ModelLoadError(f"model config file '{path}': {exc}") from None
    configs = [c for lst in tree.get("model_config_list", []) for c in lst.get("config", [])]
    if not configs:
        raise ModelLoadError(f"model config file '{path}' lists no model (expected model_config_list {{ config {{ ... }} }})")
    return [_config(c, path) for c in configs]


def _config(fields: dict[str, list[Any]], path: Path) -> ModelConfig:
    unknown = sorted(set(fields) - _KNOWN)
    if unknown:
        raise ModelLoadError(f"model config file '{path}': unknown field '{unknown[0]}'")
    if "name" not in fields or "base_path" not in fields:
        raise ModelLoadError(f"model config file '{path}': every config needs name and base_path")
    policy = (fields.get("model_version_policy") or [{}])[0]
    labels = {lab["key"][0]: int(lab["value"][0]) for lab in fields.get("version_labels", [])}
    base = Path(fields["base_path"][0])
    base = base if base.is_absolute() else path.parent / base
    if "all" in policy:
        return ModelConfig(fields["name"][0], str(base), "all", labels=labels)
    if "specific" in policy:
        versions = tuple(int(v) for v in policy["specific"][0].get("versions", []))
        return ModelConfig(fields["name"][0], str(base), "specific", versions=versions, labels=labels)
    latest = (policy.get("latest") or [{}])[0]
    count = int((latest.get("num_versions") or [1])[0])
    return ModelConfig(fields["name"][0], str(base), "latest", num_versions=count, labels=labels)


def _tokens(text: str) -> list[str | int]:
    out: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip():
                raise ValueError(f"unexpected text at offset {pos}: {text[pos:pos + 20]!r}")
            break
        pos = match.end()
        word, string, number, punct = match.groups()
        if string is not None:
            out.append("\0" + bytes(string[1:-1], "utf-8").decode("unicode_escape"))
        elif number is not None:
            out.append(int(number))
        elif word or punct:
            out.append(word or punct)
    return out


def _parse(tokens: list[str | int]) -> dict[str, list[Any]]:
    return _message(tokens, 0, top=True)[0]


def _message(tokens: list[str | int], pos: int, *, top: bool = False) -> tuple[dict[str, list[Any]], int]:
    fields: dict[str, list[Any]] = {}
    while pos < len(tokens):
        name = tokens[pos]
        if name in ("}", ">"):
            if top:
                raise ValueError("unbalanced '}'")
            return fields, pos + 1
        if not isinstance(name, str) or name.startswith("\0") or name in "{}:<>":
            raise ValueError(f"expected a field name, got {name!r}")
        pos += 1
        if pos < len(tokens) and tokens[pos] == ":":
            pos += 1
        if pos < len(tokens) and tokens[pos] in ("{", "<"):
            value, pos = _message(tokens, pos + 1)
        elif pos < len(tokens):
            value, pos = _scalar(tokens[pos]), pos + 1
        else:
            raise ValueError(f"field '{name}' has no value")
        fields.setdefault(name, []).append(value)
    if not top:
        raise ValueError("missing '}'")
    return fields, pos


def _scalar(token: str | int) -> Any:
    if isinstance(token, str) and token.startswith("\0"):
        return token[1:]
    return token
