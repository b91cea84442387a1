"""The structural standard transforms: GTT's graph-shape edits, with GTT's bugs fixed.

Each transform lives in a small module of its own; this module only lists them, in the order
``graphrewrite rules`` prints them: pruning and simplification first, then ordering, per-node
edits, names and backports. Every doc line says ``before -> after`` and where the transform
deliberately differs from GTT (gtt_behaviour.md §2.2 and §6).
"""

from __future__ import annotations

from graphrewrite.rules.rule import Transform
from graphrewrite.stdlib_rules import attributes, backports, names
from graphrewrite.stdlib_rules.merge import MERGE_DUPLICATE_NODES
from graphrewrite.stdlib_rules.ordering import SORT_BY_EXECUTION_ORDER
from graphrewrite.stdlib_rules.remove_nodes import REMOVE_NODES
from graphrewrite.stdlib_rules.strip import STRIP_UNUSED_NODES

TRANSFORMS: tuple[Transform, ...] = (
    STRIP_UNUSED_NODES,
    REMOVE_NODES,
    MERGE_DUPLICATE_NODES,
    SORT_BY_EXECUTION_ORDER,
    *attributes.TRANSFORMS,
    *names.TRANSFORMS,
    *backports.TRANSFORMS,
)
