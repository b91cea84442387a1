"""What changed between two graphs, for ``transform --dry-run``.

Nodes removed and added, edges rewired, ops and attributes changed, and constants whose value
changed (with the largest absolute change), plus a one-line summary.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from graphrewrite.engine.graph import Graph, Node


@attrs.frozen
class NodeChange:
    """One node present in both graphs whose op, inputs, attributes or value changed."""

    name: str
    details: tuple[str, ...]


@attrs.frozen
class GraphDiff:
    removed: tuple[str, ...]
    added: tuple[str, ...]
    changed: tuple[NodeChange, ...]

    @property
    def empty(self) -> bool:
        return not (self.removed or self.added or self.changed)

    def summary(self) -> str:
        return f"{len(self.removed)} nodes removed, {len(self.added)} added, {len(self.changed)} changed"

    def render(self, *, limit: int = 200) -> str:
        lines = [self.summary()]
        rows = [f"- {n}" for n in self.removed] + [f"+ {n}" for n in self.added]
        for change in self.changed:
            rows.append(f"~ {change.name}: " + "; ".join(change.details))
        lines += rows[:limit]
        if len(rows) > limit:
            lines.append(f"... and {len(rows) - limit} more lines")
        return "\n".join(lines)


def diff_graphs(before: Graph, after: Graph) -> GraphDiff:
    removed = tuple(n.name for n in before if n.name not in after)
    added = tuple(n.name for n in after if n.name not in before)
    changed = []
    for node in after:
        old = before.get(node.name)
        if old is None or old is node:
            continue
        details = _node_details(old, node)
        if details:
            changed.append(NodeChange(node.name, tuple(details)))
    return GraphDiff(removed, added, tuple(changed))


def _node_details(old: Node, new: Node) -> list[str]:
    details = []
    if old.op != new.op:
        details.append(f"op {old.op} -> {new.op}")
    if old.inputs != new.inputs:
        details.append(
            f"inputs [{', '.join(map(str, old.inputs))}] -> [{', '.join(map(str, new.inputs))}]"
        )
    if old.device != new.device:
        details.append(f"device '{old.device}' -> '{new.device}'")
    for key in sorted(set(old.attr) | set(new.attr)):
        a, b = old.attr.get(key), new.attr.get(key)
        if a == b:
            continue
        if key == "value" and a is not None and b is not None:
            details.append(_value_change(old, new))
        elif a is None:
            details.append(f"+attr {key}")
        elif b is None:
            details.append(f"-attr {key}")
        else:
            details.append(f"attr {key} {_short(old.get(key))} -> {_short(new.get(key))}")
    return details


def _value_change(old: Node, new: Node) -> str:
    a, b = old.value(), new.value()
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"value {a.dtype}{list(a.shape)} -> {b.dtype}{list(b.shape)}"
    if a.dtype.kind in "fiu":
        delta = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        return f"value changed (max abs change {delta:.3g})"
    return "value changed"


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 40 else text[:37] + "..."
