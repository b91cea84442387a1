"""The standard rule files (``*.rules`` beside this module), compiled: batch-norm folding, GTT's
convolution fusions, atrous flattening, arithmetic identities, backports and weight storage.

``simplify_arithmetic`` also holds the Python rules of :mod:`graphrewrite.stdlib_rules.hoist`
(hoisting unary ops over concatenations, flattening nested concatenations, removing
``IdentityN``), which the rule language cannot express; :func:`load_all` adds them to the group.

The ``.rules`` files beside this module are compiled when it is imported, without op-registry
validation so that importing the registry does not import TensorFlow (a test compiles them
with validation). The registry (``stdlib_rules/__init__.py``) names which of them are standard
transforms; the rules inside a group are reachable through ``group.rules``.
"""

from __future__ import annotations

import importlib.resources

import attrs

from graphrewrite.rules.loader import load_rules_text
from graphrewrite.rules.rule import Group, Transform
from graphrewrite.stdlib_rules import hoist

RULE_FILES = ("batchnorm.rules", "fuse.rules", "arithmetic.rules", "backports.rules", "weights.rules", "quantize.rules")



def rule_file_text(name: str) -> str:
    """The text of one of :data:`RULE_FILES`."""
    return importlib.resources.files("graphrewrite.stdlib_rules").joinpath(name).read_text(encoding="utf-8")


def load_all(*, validate: bool = False) -> dict[str, Transform]:
    """Every rule and group the standard rule files define, by name."""
    found: dict[str, Transform] = {}
    for name in RULE_FILES:
        for transform in load_rules_text(rule_file_text(name), source=name, validate=validate):
            found[transform.name] = transform
    return _with_python_rules(found)


def _with_python_rules(found: dict[str, Transform]) -> dict[str, Transform]:
    """*found* with :data:`hoist.RULES` appended to ``simplify_arithmetic`` (and named on their own)."""
    group = found["simplify_arithmetic"]
    assert isinstance(group, Group)  # written as a group in arithmetic.rules
    found["simplify_arithmetic"] = attrs.evolve(group, rules=group.rules + hoist.RULES)
    found.update((rule.name, rule) for rule in hoist.RULES)
    return found


BY_NAME: dict[str, Transform] = load_all()  # every rule and group, for tests and explain
