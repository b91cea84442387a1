"""The standard rules, as one ordered RuleSet.

Each module below exports ``TRANSFORMS``, a tuple of transforms (``Rule``, ``Group`` or
``Pass``). The order of this list is the order ``graphrewrite rules`` prints. Importing the
registry does not import TensorFlow: rule files are compiled without op-registry validation
here (a test compiles them with validation).
"""

from __future__ import annotations

import functools
import importlib

from graphrewrite.rules.rule import RuleSet

MODULES = (
    "structural",
    "fold_constants",
    "batchnorm",
    "inference",
    "quantize_weights",
    "round_weights",
    "quantize_nodes",
    "insert_logging",
    "sparsify_gather",
)


@functools.cache
def standard_rules() -> RuleSet:
    """Every standard transform, in a fixed order; names are unique."""
    entries = []
    for name in MODULES:
        module = importlib.import_module(f"graphrewrite.stdlib_rules.{name}")
        entries.extend(module.TRANSFORMS)
    return RuleSet(tuple(entries))
