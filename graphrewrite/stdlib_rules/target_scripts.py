"""The standard transform script per deployment target (``transform --target=T``).

Each is the standard clean-up plus what that runtime needs, in GTT's script syntax:

- ``opencv`` (4.x dnn): batch norms folded into convolutions (no Rsqrt, no FusedBatchNorm left),
  Identity and IdentityN gone (swish's custom-gradient IdentityN makes OpenCV lose the layer
  it forwards: "Input layer not found"), constants folded so no op without an OpenCV layer
  remains, every constant stored with its data (``write_zero_constants``: OpenCV asserts on
  TensorFlow's compact all-zeros form). Swish itself (``x * Sigmoid(x)``) loads in OpenCV 4.x
  as Sigmoid + Mul.
- ``tflite``: constant Switch/Merge folded, training-only ops gone, constants folded.
- ``openvino``, ``onnx``, ``tfserving``, ``tf``: the standard clean-up.

Input shapes are made static by ``transform --input_shapes`` (the placeholders keep theirs).
"""

from __future__ import annotations

from graphrewrite.engine.errors import NameNotFoundError, suggest

_CLEAN = "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true)"
_TAIL = "merge_duplicate_nodes sort_by_execution_order"

TARGET_SCRIPTS = {
    "opencv": f"{_CLEAN} fold_batch_norms fold_old_batch_norms simplify_arithmetic "
    f"remove_nodes(op=IdentityN, op=StopGradient) fold_constants(ignore_errors=true) write_zero_constants {_TAIL}",
    "tflite": f"strip_training_nodes fold_constant_switch {_CLEAN} fold_batch_norms fold_old_batch_norms "
    f"simplify_arithmetic {_TAIL}",
    "openvino": f"{_CLEAN} fold_batch_norms fold_old_batch_norms {_TAIL}",
    "onnx": f"{_CLEAN} fold_batch_norms fold_old_batch_norms {_TAIL}",
    "tfserving": f"{_CLEAN} fold_batch_norms fold_old_batch_norms {_TAIL}",
    "tf": f"{_CLEAN} fold_batch_norms fold_old_batch_norms {_TAIL}",
}


def target_script(target: str) -> str:
    """The standard script for *target*; an unknown target names the known ones."""
    if target not in TARGET_SCRIPTS:
        hint = suggest(target, TARGET_SCRIPTS)
        known = ", ".join(TARGET_SCRIPTS)
        raise NameNotFoundError(f"unknown target {target!r} (known: {known})" + (f"; {hint}" if hint else ""))
    return TARGET_SCRIPTS[target]
