"""The standard rules: one ordered registry, the only list of them.

To add a standard transform, write it (a rule in one of the ``.rules`` files, or a Python
``Pass`` in a module of its own when it is a whole-graph algorithm), declare its facts beside
it (``facts=Facts(lossy=..., checked=Checked(...))``), and name it once below, where
``graphrewrite rules`` should list it. The meta-test (tests/unit/test_registry_meta.py) then
asks for a doc line, a test under tests/stdlib/ and a property test, which runs from the facts.

Importing this package does not import TensorFlow: the rule files are compiled without
op-registry validation here (a test compiles them with validation).
"""

from __future__ import annotations

import functools

from graphrewrite.rules.rule import RuleSet


@functools.cache
def standard_rules() -> RuleSet:
    """Every standard transform, in the order ``graphrewrite rules`` prints them."""
    from graphrewrite.stdlib_rules import attributes as attrs_
    from graphrewrite.stdlib_rules import backports, inference, names
    from graphrewrite.stdlib_rules.fold_constants import FOLD_CONSTANTS
    from graphrewrite.stdlib_rules.freeze_ranges import FREEZE_REQUANTIZATION_RANGES
    from graphrewrite.stdlib_rules.insert_logging import INSERT_LOGGING
    from graphrewrite.stdlib_rules.merge import MERGE_DUPLICATE_NODES
    from graphrewrite.stdlib_rules.ordering import SORT_BY_EXECUTION_ORDER
    from graphrewrite.stdlib_rules.quantize_nodes import QUANTIZE_NODES
    from graphrewrite.stdlib_rules.quantize_weights import QUANTIZE_WEIGHTS
    from graphrewrite.stdlib_rules.remove_nodes import REMOVE_NODES
    from graphrewrite.stdlib_rules.rule_files import BY_NAME as files
    from graphrewrite.stdlib_rules.sparsify_gather import SPARSIFY_GATHER
    from graphrewrite.stdlib_rules.strip import STRIP_UNUSED_NODES

    return RuleSet(
        (
            # GTT's structural transforms: pruning, ordering, per-node edits, names, backports
            STRIP_UNUSED_NODES,
            REMOVE_NODES,
            MERGE_DUPLICATE_NODES,
            SORT_BY_EXECUTION_ORDER,
            attrs_.RENAME_OP,
            attrs_.RENAME_ATTRIBUTE,
            attrs_.REMOVE_ATTRIBUTE,
            attrs_.REMOVE_DEVICE,
            attrs_.SET_DEVICE,
            attrs_.REMOVE_CONTROL_DEPENDENCIES,
            attrs_.ADD_DEFAULT_ATTRIBUTES,
            names.RENAME_NODE,
            names.OBFUSCATE_NAMES,
            files["backport_concatv2"],
            backports.BACKPORT_TENSOR_ARRAY_V3,
            # constant folding, and the rules written in the rule language
            FOLD_CONSTANTS,
            files["fold_batch_norms"],
            files["fold_old_batch_norms"],
            files["fuse_pad_and_conv"],
            files["fuse_resize_and_conv"],
            files["fuse_resize_pad_and_conv"],
            files["flatten_atrous_conv"],
            files["simplify_arithmetic"],
            files["write_zero_constants"],
            # training graphs -> inference graphs
            inference.STRIP_TRAINING_NODES,
            inference.FREEZE_PLACEHOLDER,
            inference.FOLD_CONSTANT_SWITCH,
            inference.SET_INFERENCE_MODE,
            inference.INLINE_PARTITIONEDCALL,
            # compression (lossy: their facts give the tolerance --verify uses)
            QUANTIZE_WEIGHTS,
            files["round_weights"],
            files["cast_weights"],
            QUANTIZE_NODES,
            FREEZE_REQUANTIZATION_RANGES,
            # logging and lookups
            INSERT_LOGGING,
            SPARSIFY_GATHER,
        )
    )
