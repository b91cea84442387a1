"""The standard transform scripts, beside the rules they name.

- ``standard``: the recipe for a frozen model headed for inference (what ``demo`` runs and
  ``freeze`` suggests): prune to the outputs, drop identities, fold constants and batch norms,
  merge duplicates, sort.
- ``mobile``: TensorFlow's mobile guide recipe for GTT, with ``simplify_arithmetic`` added for
  what Keras models leave behind (concatenated activations, swish's ``IdentityN``).

A script is text in GTT's syntax; ``graphrewrite.pipeline.compile_pipeline`` compiles it.
"""

from __future__ import annotations

STANDARD_SCRIPT = (
    "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) "
    "fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms "
    "merge_duplicate_nodes sort_by_execution_order"
)

MOBILE_SCRIPT = (
    "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) "
    "fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms "
    "simplify_arithmetic merge_duplicate_nodes sort_by_execution_order"
)

SCRIPTS = {"standard": STANDARD_SCRIPT, "mobile": MOBILE_SCRIPT}
