"""The standard rule files (``*.rules`` beside this module), compiled: batch-norm folding, GTT's
convolution fusions, atrous flattening, arithmetic identities, backports, weight storage and
the requantize clean-ups.

The ``.rules`` files beside this module are compiled when it is imported, without op-registry
validation so that importing the registry does not import TensorFlow (a test compiles them
with validation). The registry (``stdlib_rules/__init__.py``) names which of them are standard
transforms; the rules inside a group are reachable through ``group.rules``.
"""

from __future__ import annotations

import importlib.resources

from graphrewrite.rules.loader import load_rules_text
from graphrewrite.rules.rule import Transform

RULE_FILES = ("batchnorm.rules", "fuse.rules", "arithmetic.rules", "backports.rules", "weights.rules", "quantize.rules")


def rule_file_text(name: str) -> str:
    """The text of one of :data:`RULE_FILES`."""
    return importlib.resources.files("graphrewrite.stdlib_rules").joinpath(name).read_text(encoding="utf-8")


def load_all(*, validate: bool = False) -> dict[str, Transform]:
    """Every rule, group and schedule the standard rule files define, by name."""
    found: dict[str, Transform] = {}
    for name in RULE_FILES:
        for transform in load_rules_text(rule_file_text(name), source=name, validate=validate):
            found[transform.name] = transform
    return found


BY_NAME: dict[str, Transform] = load_all()  # every rule and group, for tests and explain
