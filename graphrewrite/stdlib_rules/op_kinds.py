"""Op families that freezing, ``summarize`` and the inference clean-up rules agree on.

Kept in one place so that what ``summarize`` flags as training machinery is exactly what
``strip_training_nodes`` removes, and what freezing refuses to leave is what ``summarize``
lists as variables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Ops that own a variable's storage: each is one variable of the graph.
VARIABLE_HOLDERS = frozenset({"Variable", "VariableV2", "VarHandleOp", "_VarHandlesOp", "AutoReloadVariable"})

# Ops that hold or touch variable state; none may be left in a frozen graph.
VARIABLE_OPS = VARIABLE_HOLDERS | frozenset({
    "ReadVariableOp", "_ReadVariablesOp", "ResourceGather", "ResourceGatherNd", "VariableShape",
    "VarIsInitializedOp",
})  # fmt: skip

SAVER_OPS = frozenset({
    "SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints",
    "ShardedFilename", "ShardedFilespec",
})  # fmt: skip

INITIALIZER_OPS = frozenset({
    "Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "IsVariableInitialized", "VarIsInitializedOp", "ScatterUpdate", "ResourceScatterUpdate",
})  # fmt: skip

SUMMARY_OPS = frozenset({
    "MergeSummary", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteAudioSummary", "WriteRawProtoSummary", "WriteGraphSummary", "CreateSummaryFileWriter",
    "CreateSummaryDbWriter", "FlushSummaryWriter", "CloseSummaryWriter", "SummaryWriter",
})  # fmt: skip

# Optimizer updates: ApplyAdam, ResourceApplyGradientDescent, ResourceSparseApplyAdagrad, ...
OPTIMIZER_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")

# Sinks that are never a model's output (an unread ReadVariableOp is a variable's snapshot).
NOT_OUTPUTS = VARIABLE_HOLDERS | frozenset({"Const", "NoOp", "Placeholder", "PlaceholderWithDefault", "ReadVariableOp"})


def is_summary_op(op: str) -> bool:
    return op in SUMMARY_OPS or op.endswith(("Summary", "SummaryV2"))


def is_training_op(op: str) -> bool:
    """Savers, initialisers and assignments, summaries and optimizer updates."""
    return op in SAVER_OPS or op in INITIALIZER_OPS or is_summary_op(op) or op.startswith(OPTIMIZER_PREFIXES)


def saver_scopes(nodes: Iterable[Any]) -> tuple[str, ...]:
    """Name scopes (``save/``) that hold a saver: everything under them is saver machinery."""
    return tuple(sorted({n.name.rpartition("/")[0] + "/" for n in nodes if n.op in SAVER_OPS and "/" in n.name}))
