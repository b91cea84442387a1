"""Named promises for the property tests: what a transform guarantees besides equal outputs.

A transform names them in its facts, with arguments: ``Checked(promise=("no_op", "ConcatV2"))``.
Each promise is ``check(case, result_graph) -> failure reason or None``; :func:`named` builds
one from a name and its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphrewrite.engine.graph import CONTROL, Graph
from graphrewrite.testing.build import GraphCase

Promise = Callable[[GraphCase, Graph], "str | None"]


def no_op(*ops: str) -> Callable[[GraphCase, Graph], str | None]:
    def check(case: GraphCase, result: Graph) -> str | None:
        left = [n.name for n in result if n.op in ops and n.name not in case.outputs]
        return f"{', '.join(ops)} left at {left}" if left else None

    return check


def frozen_input(case: GraphCase, result: Graph) -> str | None:
    return None if result.node("input").op == "Const" else "'input' is not a Const"


def topologically_sorted(case: GraphCase, result: Graph) -> str | None:
    seen: set[str] = set()
    for node in result:
        late = [r.node for r in node.inputs if r.node not in seen]
        if late:
            return f"node '{node.name}' comes before its input '{late[0]}'"
        seen.add(node.name)
    return None


def only_needed_nodes(case: GraphCase, result: Graph) -> str | None:
    needed, stack = set(), list(case.outputs)
    while stack:
        name = stack.pop()
        if name in needed or name not in result:
            continue
        needed.add(name)
        stack += [r.node for r in result.node(name).inputs]
    extra = sorted(set(result.names) - needed - set(case.inputs))
    return f"nodes the outputs do not need are left: {extra}" if extra else None


def no_control_inputs(case: GraphCase, result: Graph) -> str | None:
    left = [n.name for n in result if any(r.port == CONTROL for r in n.inputs)]
    return f"control inputs left on {left}" if left else None


def attribute(key: str, *, present: bool, key_after: str | None = None) -> Callable[[GraphCase, Graph], str | None]:
    def check(case: GraphCase, result: Graph) -> str | None:
        had = [n.name for n in case.graph() if key in n.attr]
        if not present and any(key in n.attr for n in result):
            return f"attribute {key} is still on {[n.name for n in result if key in n.attr]}"
        if key_after and any(key_after not in result.node(n).attr for n in had if n in result):
            return f"nodes that had {key} lack {key_after}"
        return None

    return check


def devices(want: str) -> Callable[[GraphCase, Graph], str | None]:
    def check(case: GraphCase, result: Graph) -> str | None:
        wrong = [n.name for n in result if n.device != want]
        return f"device is not {want!r} on {wrong}" if wrong else None

    return check


def renamed(case: GraphCase, result: Graph) -> str | None:
    if "target" in case.graph() and ("target" in result or "renamed" not in result):
        return "'target' was not renamed to 'renamed'"
    return None


def all_defaults_present(case: GraphCase, result: Graph) -> str | None:
    from graphrewrite import _tf

    for node in result:
        op_def = _tf.op_def(node.op)
        missing = [a.name for a in (op_def.attr if op_def else ()) if a.HasField("default_value") and a.name not in node.attr]
        if missing:
            return f"node '{node.name}' lacks default attributes {missing}"
    return None


def no_training_batch_norm(case: GraphCase, result: Graph) -> str | None:
    left = [n.name for n in result if n.op.startswith("FusedBatchNorm") and n.get("is_training")]
    return f"batch norms still in training mode: {left}" if left else None


def _constant(check: Promise) -> Callable[[], Promise]:
    return lambda: check


FACTORIES: dict[str, Callable[..., Promise]] = {
    "no_op": no_op,
    "attribute": attribute,
    "devices": devices,
    "frozen_input": _constant(frozen_input),
    "topologically_sorted": _constant(topologically_sorted),
    "only_needed_nodes": _constant(only_needed_nodes),
    "no_control_inputs": _constant(no_control_inputs),
    "renamed": _constant(renamed),
    "all_defaults_present": _constant(all_defaults_present),
    "no_training_batch_norm": _constant(no_training_batch_norm),
}


def named(spec: tuple[Any, ...]) -> Promise | None:
    """The promise ``spec`` describes: ``("no_op", "Add")``, ``("attribute", "_m", {"present": False})``."""
    if not spec:
        return None
    name, *args = spec
    factory = FACTORIES.get(name)
    if factory is None:
        raise KeyError(f"no promise '{name}' in graphrewrite.testing.promises (known: {', '.join(sorted(FACTORIES))})")
    keywords = args.pop() if args and isinstance(args[-1], dict) else {}
    return factory(*args, **keywords)
