"""sparsify_gather: a Gather over a mostly-zero [N, 1] float table becomes a hash-table lookup.

GTT's ``sparsify_gather.cc``: for ``Gather(Identity(w), ids)`` and ``GatherV2(Identity(w),
ids, axis=0)`` with ``w`` a Const (or a Variable read from ``input_checkpoint``) of shape
[N, 1], the entries with |v| >= 1e-5 go into a ``HashTable`` (int64 index -> float value),
initialised by ``<w>/InitializeTable`` (hooked to the NoOp ``group_init_node``, created when
missing), and the Gather becomes ``ExpandDims(LookupTableFind(table, ids, 0.0), -1)`` under
its own name. Run ``group_init_node`` once before the lookups, as with any table.

Differences from GTT: the ``Identity`` may be absent (frozen TF2 graphs gather from the Const
directly); Gathers sharing one table share one HashTable (GTT makes a second set of nodes with
the same names); int32 ids get a ``Cast`` to int64 (``LookupTableFind`` needs int64 keys;
GTT's result fails there); GatherV2 with ``batch_dims != 0`` is refused; the Variable and its
save/restore nodes stay in the graph (GTT deletes them by reference counting; run
``strip_unused_nodes`` to prune).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.matcher import match_at
from graphrewrite.engine.pattern import Match, Op, Pattern, Tensor
from graphrewrite.engine.rewrite import Rewrite, apply_batch
from graphrewrite.rules.facts import Checked, Facts
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass
from graphrewrite.stdlib_rules.weight_tensors import DT_FLOAT, const_node

WEIGHT_OPS = frozenset({"Const", "Variable", "VariableV2"})
THRESHOLD = 1e-5


def _patterns() -> tuple[Pattern, ...]:
    weights = Op(WEIGHT_OPS, None, "w")
    read = Op(frozenset({"Identity"}), (weights,), "read")
    ids, axis = Tensor("ids"), Op(frozenset({"Const"}), None, "axis")
    return (
        Op(frozenset({"Gather"}), (read, ids), "g"),
        Op(frozenset({"Gather"}), (weights, ids), "g"),
        Op(frozenset({"GatherV2"}), (read, ids, axis), "g"),
        Op(frozenset({"GatherV2"}), (weights, ids, axis), "g"),
    )


PATTERNS = _patterns()


def sparsify(values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(int64 indices, float values) of the entries with |v| >= 1e-5; (0, 0.0) when none."""
    if values.ndim != 2 or values.shape[1] != 1:
        raise RuleError(f"sparsify_gather: '{name}' has shape {list(values.shape)}; only [N, 1] tables are handled")
    flat = values.reshape(-1).astype(np.float32)
    keep = np.flatnonzero(np.abs(flat) >= THRESHOLD)
    if keep.size == 0:
        return np.zeros(1, np.int64), np.zeros(1, np.float32)
    return keep.astype(np.int64), flat[keep]


def _check_axis(match: Match) -> None:
    gather = match.node("g")
    if gather.op != "GatherV2":
        return
    axis = match.node("axis").value()
    if np.ndim(axis) != 0 or int(axis) != 0:
        raise RuleError(f"sparsify_gather: '{gather.name}' gathers over axis {axis.tolist()}; only axis 0 is handled")
    if int(gather.get("batch_dims", 0) or 0) != 0:
        raise RuleError(f"sparsify_gather: '{gather.name}' has batch_dims={gather.get('batch_dims')}; only 0 is handled")


class _Sparsifier:
    """Builds one table per weights node and one lookup per Gather."""

    def __init__(self, graph: Graph, ctx: Any):
        self.graph, self.ctx = graph, ctx
        self.tables: dict[str, tuple[str, str]] = {}  # weights -> (HashTable, InitializeTable)
        self.rewrites: list[Rewrite] = []
        self.taken: set[str] = set()

    def name(self, base: str) -> str:
        name = self.graph.unique_name(base, self.taken)
        self.taken.add(name)
        return name

    def table(self, weights: Node) -> tuple[str, str]:
        if weights.name not in self.tables:
            if weights.get("dtype") is not None and weights.attr["dtype"].type != DT_FLOAT:
                raise RuleError(f"sparsify_gather: '{weights.name}' is {weights.get('dtype')}; only float tables are handled")
            keys, values = sparsify(_table_values(self.graph, weights, self.ctx), weights.name)
            device, int64 = weights.device, DType.named("int64")
            indices = const_node(self.name(f"{weights.name}/indices"), keys, device=device)
            vals = const_node(self.name(f"{weights.name}/values"), values, device=device)
            table = Node.make(self.name(f"{weights.name}/HashTable"), "HashTable", (),
                              {"key_dtype": int64, "value_dtype": DType(DT_FLOAT)}, device)
            init = Node.make(self.name(f"{weights.name}/InitializeTable"), "InitializeTable",
                             [table.name, indices.name, vals.name], {"Tkey": int64, "Tval": DType(DT_FLOAT)}, device)
            self.rewrites.append(Rewrite("sparsify_gather", weights.name, add=(indices, vals, table, init)))
            self.tables[weights.name] = (table.name, init.name)
        return self.tables[weights.name]

    def lookup(self, match: Match) -> None:
        _check_axis(match)
        gather, weights = match.node("g"), match.node("w")
        table, _ = self.table(weights)
        device, ids = gather.device, match.tensor("ids")
        added = []
        if str(gather.get("Tindices")) != "int64":
            cast = Node.make(self.name(f"{gather.name}/ids_int64"), "Cast", [ids],
                             {"SrcT": gather.get("Tindices"), "DstT": DType.named("int64"), "Truncate": False}, device)
            added.append(cast)
            ids = TensorRef(cast.name, 0)
        default = const_node(self.name(f"{gather.name}/Const"), np.float32(0), device=device)
        find = Node.make(self.name(f"{gather.name}/LookupTableFind"), "LookupTableFind", [table, ids, default.name],
                         {"Tin": DType.named("int64"), "Tout": DType(DT_FLOAT)}, device)
        dims = const_node(self.name(f"{gather.name}/ExpandDims/Const"), np.int32(-1), device=device)
        expand = Node.make(gather.name, "ExpandDims", [find.name, dims.name, *gather.control_inputs],
                           {"T": DType(DT_FLOAT), "Tdim": DType.named("int32")}, device)
        doomed = {n.name for k, n in match.bindings.items() if k in ("w", "read", "axis") and isinstance(n, Node)}
        self.rewrites.append(Rewrite("sparsify_gather", gather.name, remove=frozenset(doomed),
                                     add=(*added, default, find, dims, expand)))


def _table_values(graph: Graph, weights: Node, ctx: Any) -> np.ndarray:
    if weights.op == "Const":
        return np.asarray(weights.value())
    from graphrewrite.stdlib_rules.checkpoint_tables import variable_value

    return variable_value(graph, weights, ctx.args.get("input_checkpoint"))


def _init_hook(graph: Graph, name: str, inits: list[str]) -> Node:
    existing = graph.get(name)
    if existing is not None and existing.op != "NoOp":
        raise RuleError(f"sparsify_gather: group_init_node='{name}' is a {existing.op}, not a NoOp")
    base = existing or Node.make(name, "NoOp")
    controls = [TensorRef(i, CONTROL) for i in inits if TensorRef(i, CONTROL) not in base.inputs]
    return base.with_inputs([*base.inputs, *controls])


def sparsify_gather(graph: Graph, ctx: Any) -> Graph:
    """Turn every eligible Gather into a table lookup (Gathers first, then GatherV2s, as GTT)."""
    work = _Sparsifier(graph, ctx)
    for name in [*graph.nodes_of_op("Gather"), *graph.nodes_of_op("GatherV2")]:
        for pattern in PATTERNS:
            match = match_at(graph, pattern, name)
            if match is not None:
                work.lookup(match)
                break
    if not work.rewrites:
        return graph
    hook = _init_hook(graph, str(ctx.args.get("group_init_node") or "group_deps"), [init for _, init in work.tables.values()])
    batch = [*work.rewrites, Rewrite("sparsify_gather", hook.name, add=(hook,))]
    return apply_batch(graph, batch, ctx.protected).graph


SPARSIFY_GATHER = Pass(
    "sparsify_gather",
    "Gather(Identity(Const w[N,1]), ids) -> ExpandDims(LookupTableFind(HashTable(nonzero w), ids), -1)",
    sparsify_gather,
    (
        Param("input_checkpoint", Kind.STRING, doc="checkpoint prefix holding Variable tables"),
        Param("group_init_node", Kind.STRING, "group_deps", doc="NoOp that runs the table initialisers"),
    ),
    facts=Facts(lossy=(1e-6, 1e-5), checked=Checked(cases="sparse_gathers", args={"group_init_node": "init_all_tables"})),  # table entries below 1e-5 become 0
)
