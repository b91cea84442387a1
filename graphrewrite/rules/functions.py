"""Every function of the rule language, registered: import FUNCTIONS from here.

``rules.predicates`` holds the registry and the general functions; ``rules.conv_functions``
registers the output-channel ones into it, ``rules.list_functions`` those on list bindings. Importing both here keeps the dependency one way.
"""

from __future__ import annotations

from graphrewrite.rules import (
    conv_functions,  # noqa: F401  (registers the channel functions)
    list_functions,  # noqa: F401  (registers count and alike)
    weight_functions,  # noqa: F401  (registers round_buckets)
)
from graphrewrite.rules.predicates import FUNCTIONS

__all__ = ["FUNCTIONS"]
