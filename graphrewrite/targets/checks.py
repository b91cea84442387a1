"""``check --target``: which nodes of a GraphDef a deployment runtime will reject, and the fix.

Target knowledge is data: one TOML file per target under ``targets/data/`` (an op allow or
deny list, attribute restrictions, whether input shapes must be static, and the transform that
fixes each problem). This module only reads those tables and walks the graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

import attrs

from graphrewrite.engine.errors import NameNotFoundError, UsageError, suggest
from graphrewrite.targets.fused import Fused, covered_nodes

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser as a package (in the targets extra)
    import tomli as tomllib  # type: ignore[no-redef]

CONTROL_FLOW_V1 = frozenset({"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond"})


@attrs.frozen
class Restriction:
    """An op+attribute combination a target rejects, with why and what fixes it."""

    ops: frozenset[str]
    problem: str
    fix: str | None = None
    attr: str | None = None  # rejected when this attribute equals `equals`
    equals: Any = None
    input: int | None = None  # rejected unless this input's Const-ness is `const`
    const: bool = True
    min_inputs: int = 0  # rejected with fewer inputs (control inputs count)
    empty_value: bool = False  # rejected when the node's ``value`` tensor stores no data (all zeros)

    def rejects(self, node: Any, const_names: frozenset[str]) -> bool:
        """True when *node* (of one of ``ops``) falls under this restriction (every condition given)."""
        if self.attr is not None and _attr_value(node, self.attr) != self.equals:
            return False
        if self.min_inputs and len(node.input) >= self.min_inputs:
            return False
        if self.empty_value and not stores_no_data(node):
            return False
        if self.input is not None:
            if self.input >= len(node.input):
                return False
            return (node.input[self.input].split(":")[0] in const_names) != self.const
        return True


@attrs.frozen
class Target:
    """One runtime's rules: an allow or deny list of ops, restrictions, fixes per op."""

    name: str
    runtime: str
    mode: str  # "allow": only listed ops load; "deny": listed ops do not; "registry": a TF op registry
    ops: frozenset[str]
    fixes: Mapping[str, str]
    restrictions: tuple[Restriction, ...] = ()
    static_input_shapes: bool = False
    version: str | None = None  # mode "registry": the TensorFlow version whose op registry decides
    fused: tuple[Fused, ...] = ()  # subgraphs the importer fuses: their ops are not checked alone
    drops: frozenset[str] = frozenset()  # ops the importer removes before it fuses

    def rejects_op(self, op: str) -> bool:
        """True when the runtime has no implementation of *op*."""
        return (op not in self.ops) if self.mode == "allow" else (op in self.ops)


@attrs.frozen
class Finding:
    """One node the target will reject: node, op, problem and the fixing transform (if any)."""

    node: str
    op: str
    problem: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict."""
        return attrs.asdict(self)


@attrs.frozen
class Report:
    """The result of checking one graph against one target."""

    target: Target
    findings: tuple[Finding, ...]

    @property
    def loads(self) -> bool:
        """True when the graph is expected to load in the target."""
        return not self.findings


def target_names() -> list[str]:
    """The names of the targets shipped in ``targets/data``."""
    files = resources.files("graphrewrite.targets").joinpath("data").iterdir()
    return sorted(f.name[: -len(".toml")] for f in files if f.name.endswith(".toml"))


def load_target(name: str, *, version: str | None = None) -> Target:
    """The target called *name*, read from its data file (*version*: a TF version for ``tf``)."""
    names = target_names()
    if name not in names:
        hint = suggest(name, names)
        raise NameNotFoundError(f"unknown target {name!r} (known: {', '.join(names)})" + (f"; {hint}" if hint else ""))
    text = resources.files("graphrewrite.targets").joinpath("data", f"{name}.toml").read_text()
    target = target_from_table(tomllib.loads(text))
    if target.mode == "registry":
        target = attrs.evolve(target, version=version or target.version)
    elif version is not None:
        raise UsageError(f"target {name!r} takes no version (--tf_version is for --target=tf)")
    return target


def target_from_table(table: Mapping[str, Any]) -> Target:
    """A Target from a parsed TOML table (the format of ``targets/data/*.toml``)."""
    restrictions = tuple(
        Restriction(ops=frozenset(r["op"].split("|")), **{k: v for k, v in r.items() if k != "op"})
        for r in table.get("restrictions", ())
    )
    return Target(
        name=table["name"],
        runtime=table["runtime"],
        mode=table.get("mode", "allow"),
        ops=frozenset(table.get("ops", ())),
        fixes=dict(table.get("fixes", {})),
        restrictions=restrictions,
        static_input_shapes=table.get("static_input_shapes", False),
        version=table.get("default_version"),
        fused=tuple(Fused(f["name"], f["match"]) for f in table.get("fused", ())),
        drops=frozenset(table.get("drops", ())),
    )


def check(graph_def: Any, target: Target | str) -> Report:
    """Every node of *graph_def* that *target* will reject, in graph order."""
    if isinstance(target, str):
        target = load_target(target)
    if target.mode == "registry":
        from graphrewrite.targets.checks_tf import registry_problems

        found = (Finding(*problem) for problem in registry_problems(graph_def, target.version or ""))
        return Report(target=target, findings=tuple(found))
    const_names = frozenset(n.name for n in graph_def.node if n.op == "Const")
    fused = covered_nodes(graph_def, target.fused, target.drops)
    findings: list[Finding] = []
    for node in graph_def.node:
        findings.extend(node_findings(node, target, const_names, fused))
    return Report(target=target, findings=tuple(findings))


def node_findings(
    node: Any, target: Target, const_names: frozenset[str] = frozenset(), fused: frozenset[str] = frozenset()
) -> Iterable[Finding]:
    """The problems *target* has with one NodeDef (*fused*: nodes inside a subgraph the
    target's importer fuses, whose ops it never sees alone)."""
    if target.rejects_op(node.op) and node.name not in fused:
        yield Finding(node.name, node.op, _op_problem(node.op, target), target.fixes.get(node.op))
        return
    for restriction in target.restrictions:
        if node.op in restriction.ops and restriction.rejects(node, const_names):
            yield Finding(node.name, node.op, restriction.problem, restriction.fix)
    if target.static_input_shapes and node.op == "Placeholder":
        problem = _shape_problem(node)
        if problem:
            yield Finding(node.name, node.op, problem, 'strip_unused_nodes(shape="...") or --input_shapes at conversion')


def _op_problem(op: str, target: Target) -> str:
    if op in CONTROL_FLOW_V1:
        return f"{target.name} does not support TF1 control flow ({op})"
    return f"{target.name} has no implementation of op {op}"


def _attr_value(node: Any, attr: str) -> Any:
    if attr not in node.attr:
        return None
    value = node.attr[attr]
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def stores_no_data(node: Any) -> bool:
    """Whether a node's ``value`` is a tensor stored without data (an all-zeros Const)."""
    from graphrewrite.engine.attrvalues import stores_no_data as tensor_stores_no_data

    if "value" not in node.attr or node.attr["value"].WhichOneof("value") != "tensor":
        return False
    return tensor_stores_no_data(node.attr["value"].tensor)


def _shape_problem(node: Any) -> str | None:
    if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return "input has an unknown rank; the target needs a static input shape"
    dims: Sequence[int] = [d.size for d in node.attr["shape"].shape.dim]
    if any(size < 0 for size in dims[1:]):
        return f"input shape {[None if d < 0 else d for d in dims]} is not static beyond the batch dimension"
    return None


def render(report: Report, graph_path: str) -> str:
    """The report as text: one line per finding and a verdict."""
    target = report.target
    runtime = f"{target.runtime} {target.version}" if target.version else target.runtime
    lines = [f"{graph_path}: target {target.name} ({runtime})"]
    for f in report.findings:
        lines.append(f"  {f.node} ({f.op}): {f.problem}" + (f"; fix: {f.fix}" if f.fix else "; no transform fixes this"))
    verdict = "expected to load" if report.loads else f"will not load: {len(report.findings)} problem(s)"
    lines.append(verdict)
    return "\n".join(lines)


def as_json(report: Report, graph_path: str) -> dict[str, Any]:
    """The report as one JSON-ready dict."""
    return {
        "graph": graph_path,
        "target": report.target.name,
        "runtime": report.target.runtime,
        "version": report.target.version,
        "loads": report.loads,
        "findings": [f.as_json() for f in report.findings],
    }
