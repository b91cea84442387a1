"""Build the replacement a rule's ``rewrite`` template describes, as a Rewrite.

- The template's root takes the matched root's name (consumers and protected outputs stay
  valid) and keeps the root's control inputs.
- ``rewrite x`` redirects the root's uses to ``x``; when the root is a protected name it
  becomes ``Identity(x)`` under that name instead.
- ``conv(...)`` re-makes a bound node (op, attributes, device, control inputs kept); it keeps
  its own name when the original dies with this rewrite, else gets a fresh one.
- ``Op[...](...)`` makes a new node; its type attributes come from its inputs (typeinfer).
- ``const(expr)`` makes a Const in the dtype of the first constant it reads (``w`` in
  ``w * s``; a let counts as a constant of its value's dtype), unless the expression is
  ``cast(...)``, ``zeros(...)`` or ``ones(...)``.

Other new nodes get deterministic names from the root: ``<root>/<binding or op>``, made unique.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graphrewrite.engine.attrvalues import dtype_of_numpy, stores_raw, tensor_attr, type_attr
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.pattern import Match
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules import typeinfer
from graphrewrite.rules.expr import Bound, BoundList, Env, EvalError, plain


class Refusal(Exception):
    """The replacement cannot be built for this match; the message is the reason."""


def build_rewrite(
    rule: str, template: A.Template | A.OutputsTemplate, env: Env, match: Match, graph: Graph,
    nodes: Mapping[str, A.NodeTemplate] | None = None,
) -> Rewrite | str:
    """The Rewrite for *match*, or a reason string when it cannot be built. *nodes* are the
    rule's node-valued lets, built when the template first uses them."""
    try:
        return _Builder(rule, env, match, graph, nodes or {}).rewrite(template)
    except (EvalError, Refusal) as exc:
        return f"rewrite: {exc}"


def dying_nodes(graph: Graph, match: Match, protected: frozenset[str]) -> frozenset[str]:
    """Matched nodes (other than the root) that nothing outside the rewrite will still read."""
    candidates = set(match.nodes) - {match.root}
    frontier = [
        n for n in candidates
        if n in protected or any(c not in candidates and c != match.root for c in graph.consumers(n))
    ]  # fmt: skip
    kept: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name in kept:
            continue
        kept.add(name)
        node = graph.get(name)
        frontier += [r.node for r in (node.inputs if node else ()) if r.node in candidates]
    return frozenset(candidates - kept)


class _Builder:
    def __init__(self, rule: str, env: Env, match: Match, graph: Graph, nodes: Mapping[str, A.NodeTemplate]):
        self.rule = rule
        self.nodes = nodes
        self.built: dict[str, str] = {}  # node-valued let -> the name of the node built for it
        self.env = env
        self.match = match
        self.graph = graph
        self.root = graph.node(match.root)
        self.dying = dying_nodes(graph, match, env.ctx.protected)
        self.added: dict[str, Node] = {}
        self.claimed: set[str] = set()

    def rewrite(self, template: A.Template | A.OutputsTemplate) -> Rewrite:
        remove = self._removable()
        if isinstance(template, A.OutputsTemplate):
            return self._outputs(template, remove)
        if isinstance(template, A.TensorTemplate):
            target = self.tensor(template)
            self._check_other_outputs()
            if target.node == self.root.name:
                raise Refusal(f"the replacement of '{self.root.name}' is the node itself")
            if self.root.name not in self.env.ctx.protected:
                return Rewrite(self.rule, self.root.name, remove=remove, redirect=((TensorRef(self.root.name, 0), target),))
            dtype = typeinfer.tensor_dtype(self.graph, target)
            identity = Node.make(self.root.name, "Identity", [target], {"T": dtype} if dtype else {}, self.root.device)
            self.added[identity.name] = identity.with_inputs(identity.inputs + self.root.control_inputs)
        else:
            if not (isinstance(template, A.NodeTemplate) and self._like(template) is self.root):
                self._check_other_outputs()
            self.tensor(template, root=True)
        if list(self.added) == [self.root.name] and _same_node(self.added[self.root.name], self.root):
            raise Refusal(f"the replacement of '{self.root.name}' is the node itself")
        return Rewrite(self.rule, self.root.name, remove=remove, add=tuple(self.added.values()))

    def _outputs(self, template: A.OutputsTemplate, remove: frozenset[str]) -> Rewrite:
        """``rewrite (a, b, *xs)``: the root's output k is read from the k-th tensor instead."""
        targets: list[TensorRef] = []
        for item in template.items:
            targets += self.match.tensors(item.name) if isinstance(item, A.SpreadTemplate) else [self.tensor(item)]
        if self.root.name in self.env.ctx.protected:
            raise Refusal(f"'{self.root.name}' is a graph input or output")
        for consumer in self.graph.consumers(self.root.name):
            for ref in self.graph.node(consumer).inputs:
                if ref.node == self.root.name and ref.port >= len(targets):
                    raise Refusal(f"output {ref.port} of '{self.root.name}' is read by '{consumer}', but the rewrite gives {len(targets)}")
        if any(t.node == self.root.name for t in targets):
            raise Refusal(f"the replacement of '{self.root.name}' reads the node itself")
        redirect = tuple((TensorRef(self.root.name, k), target) for k, target in enumerate(targets))
        return Rewrite(self.rule, self.root.name, remove=remove, add=tuple(self.added.values()), redirect=redirect)

    def _removable(self) -> frozenset[str]:
        """The matched nodes, and the Consts they read as data through wildcards
        (``Reshape(x, _)``; a control input is an ordering the graph asked for, and stays);
        the engine keeps whichever is still used after the rewrite."""
        consts = set()
        for name in self.match.nodes:
            node = self.graph.get(name)
            for ref in node.data_inputs if node is not None else ():
                producer = self.graph.get(ref.node)
                if producer is not None and producer.op == "Const":
                    consts.add(ref.node)
        return frozenset(self.match.nodes) | consts

    def _check_other_outputs(self) -> None:
        for consumer in self.graph.consumers(self.root.name):
            for ref in self.graph.node(consumer).inputs:
                if ref.node == self.root.name and ref.port > 0:
                    raise Refusal(f"output {ref.port} of '{self.root.name}' is read by '{consumer}'")

    # -- one template -> one tensor --

    def tensor(self, template: A.Template, root: bool = False) -> TensorRef:
        if isinstance(template, A.TensorTemplate):
            if template.name in self.nodes:
                return TensorRef(self._let_node(template.name), template.port or 0)
            bound = self.env.bound[template.name]
            if not isinstance(bound, Bound):
                raise Refusal(f"'{template.name}' is a list; spread it as *{template.name}")
            ref = bound.ref
            return ref if template.port is None else TensorRef(ref.node, template.port)
        if isinstance(template, A.ConstTemplate):
            return self._const(template, root)
        return self._node(template, root)

    def _const(self, template: A.ConstTemplate, root: bool) -> TensorRef:
        mark = len(self.env.const_dtypes)
        value = np.asarray(plain(self.env.numeric(self.env.eval(template.expr))))
        operands = self.env.const_dtypes[mark:]
        explicit = isinstance(template.expr, A.Call) and template.expr.func in _TYPED
        if operands and not explicit and value.dtype != operands[0] and _same_kind(value.dtype, operands[0]):
            value = value.astype(operands[0])  # the dtype of the first constant read: w in w * s
        if value.dtype == _FLOAT64 and not operands and not explicit:
            value = value.astype(np.float32)  # a literal like const(1.5) means TF's default float
        dtype = dtype_of_numpy(value.dtype)
        name = self.root.name if root else self._const_name(template.expr)
        attr = {"dtype": type_attr(dtype), "value": tensor_attr(value, dtype)}
        if root and self.root.op == "Const":  # a Const in a Const's place keeps its _class, ...
            attr = {**{k: v for k, v in self.root.attr.items() if k.startswith("_")}, **attr}
        node = Node(name, "Const", (), self.root.device, attr)
        if stores_raw(value, dtype):
            node.remember_value(value)  # the next iteration's rules read it without decoding
        return self._add(node, root)

    def _node(self, template: A.NodeTemplate, root: bool, label: str | None = None) -> TensorRef:
        inputs: list[TensorRef] = []
        for item in template.inputs:
            if isinstance(item, A.SpreadTemplate):
                inputs += self.match.tensors(item.name)
            else:
                inputs.append(self.tensor(item))
        like = self._like(template)
        op = like.op if like is not None else str(template.op)
        given = {}
        for setting in template.attributes:
            try:
                given[setting.name] = typeinfer.coerce(op, setting.name, self.env.eval(setting.value))
            except ValueError as exc:
                raise Refusal(str(exc)) from None
        dtypes = [typeinfer.tensor_dtype(self.graph, ref, self.added) for ref in inputs]
        base = dict(like.attr) if like is not None else {}
        if given:
            base.pop("_output_shapes", None)
        attr = typeinfer.infer_attrs(op, dtypes, given, base)
        if isinstance(attr, str):
            raise Refusal(attr)
        if root and like is not None and like is not self.root:
            attr = self._root_shapes(attr)
        name = self.root.name if root else self._given_name(template) or (self._fresh(label) if label else self._node_name(like, template))
        controls = like.control_inputs if like is not None else ()
        node = Node(name, op, (), like.device if like is not None else self.root.device, attr)
        return self._add(node.with_inputs([*inputs, *controls]), root)

    def _let_node(self, name: str) -> str:
        """The node built for node-valued let *name* (once per rewrite, named ``<root>/<name>``)."""
        if name not in self.built:
            self.built[name] = self._node(self.nodes[name], root=False, label=name).node
        return self.built[name]

    def _add(self, node: Node, root: bool) -> TensorRef:
        if root:
            extra = [r for r in self.root.control_inputs if r not in node.inputs]
            if extra:  # (nodes built here already list data inputs before control inputs)
                node = node.with_inputs([*node.inputs, *extra])
        self.added[node.name] = node
        return TensorRef(node.name, 0)

    def _root_shapes(self, attr: dict[str, Any]) -> dict[str, Any]:
        """A node re-made in the root's place computes the root's tensor: the root's recorded
        shape replaces the one the node had (``fs[0](ConcatV2(*xs, axis))`` is concat-shaped)."""
        attr = {k: v for k, v in attr.items() if k != "_output_shapes"}
        shapes = self.root.attr.get("_output_shapes")
        if shapes is not None and len(shapes.list.shape) == 1:
            attr["_output_shapes"] = shapes
        return attr

    def _like(self, template: A.Template) -> Node | None:
        """The bound node a ``name(...)`` or ``name[i](...)`` template re-makes, if any."""
        if not isinstance(template, A.NodeTemplate) or not template.like:
            return None
        if template.element is None:
            return self._bound_node(template.like)
        listed = self.env.bound.get(template.like)
        if not isinstance(listed, BoundList) or template.element >= len(listed):
            raise Refusal(f"'{template.like}' has no element {template.element}")
        return listed[template.element].node

    def _bound_node(self, name: str | None) -> Node | None:
        bound = self.env.bound.get(name) if name else None
        return bound.node if isinstance(bound, Bound) else None

    # -- names --

    def _node_name(self, like: Node | None, template: A.NodeTemplate) -> str:
        if like is not None and like.name in self.dying and like.name not in self.claimed:
            self.claimed.add(like.name)
            return like.name
        return self._fresh(template.like or str(template.op))

    def _given_name(self, template: A.NodeTemplate) -> str | None:
        """The name ``as EXPR`` gives the node, made unique, or None."""
        if template.name is None:
            return None
        wanted = self.env.eval(template.name)
        if not isinstance(wanted, str) or not wanted:
            raise Refusal(f"a node name must be a non-empty string, not {wanted!r}")
        name = self.graph.unique_name(wanted, taken=self.added.keys() | self.claimed)
        self.claimed.add(name)
        return name

    def _const_name(self, expr: A.Expr) -> str:
        if isinstance(expr, A.Name) and expr.id in self.env.lets:
            return self._fresh(expr.id)
        first = _first_name(expr, self.env)
        bound = self.env.bound.get(first) if first else None
        node = bound.node if isinstance(bound, Bound) else None
        if node is not None and node.op == "Const" and node.name in self.dying and node.name not in self.claimed:
            self.claimed.add(node.name)
            return node.name
        return self._fresh(first or "const")

    def _fresh(self, label: str) -> str:
        name = self.graph.unique_name(f"{self.root.name}/{label}", taken=self.added.keys() | self.claimed)
        self.claimed.add(name)
        return name


def _same_node(a: Node, b: Node) -> bool:
    """Same op, inputs, device and attributes: a rewrite producing it would loop forever."""
    return (a.op, a.inputs, a.device, dict(a.attr)) == (b.op, b.inputs, b.device, dict(b.attr))


def _first_name(expr: Any, env: Env) -> str | None:
    """The first bound (or let) name an expression mentions, reading left to right."""
    if isinstance(expr, A.Name):
        return expr.id if expr.id in env.bound or expr.id in env.lets else None
    children: list[Any] = []
    if isinstance(expr, A.Binary):
        children = [expr.left, expr.right]
    elif isinstance(expr, (A.Unary,)):
        children = [expr.operand]
    elif isinstance(expr, A.Call):
        children = list(expr.args)
    elif isinstance(expr, (A.Index, A.GetAttr)):
        children = [expr.obj]
    elif isinstance(expr, A.ListExpr):
        children = list(expr.items)
    for child in children:
        found = _first_name(child, env)
        if found:
            return found
    return None


_FLOAT64 = np.dtype(np.float64)  # compared against a dtype object: no conversion per call
_TYPED = frozenset({"cast", "zeros", "ones"})  # functions whose result dtype is chosen explicitly


def _same_kind(a: np.dtype, b: np.dtype) -> bool:
    groups = ("fc", "iu", "b")
    return any(a.kind in g and b.kind in g for g in groups)

