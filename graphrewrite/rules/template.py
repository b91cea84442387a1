"""A rule's ``rewrite`` template, compiled once into closures that build its Rewrite per match.

Like the expressions (:mod:`graphrewrite.rules.closures`), a template is compiled when the
rule is: the kind of each template node, what it re-makes, its op, its attribute and name
expressions and how a new Const is named are decided once; a match runs closures over a
:class:`~graphrewrite.rules.replacement.Replacement` and walks no AST.

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

from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from graphrewrite.engine.attrvalues import dtype_of_numpy, stores_raw, tensor_attr, type_attr
from graphrewrite.engine.graph import Graph, Node, TensorRef
from graphrewrite.engine.pattern import Match
from graphrewrite.engine.rewrite import Rewrite
from graphrewrite.grammar import rule_ast as A
from graphrewrite.rules import typeinfer
from graphrewrite.rules.closures import Closure, Compiled
from graphrewrite.rules.expr import Bound, Env, EvalError, plain
from graphrewrite.rules.replacement import Refusal, Replacement

Build = Callable[[Replacement], TensorRef]  # one template node: build it, return its tensor
Item = str | Build  # an input or output list item: a spread list's name, or a tensor to build


class CompiledTemplate:
    """The ``rewrite`` template of rule *rule*, and its node-valued lets (*nodes*)."""

    def __init__(
        self, rule: str, template: A.Template | A.OutputsTemplate, nodes: Mapping[str, A.NodeTemplate],
        compiled: Compiled, lets: Collection[str],
    ):  # fmt: skip
        self.rule = rule
        self._compiled = compiled
        self._lets = frozenset(lets)
        self._let_names = frozenset(nodes)  # known before their closures: one may use another
        self._let_nodes = {name: self._node(t, root=False, label=name) for name, t in nodes.items()}
        self._template = template
        self._items = [self._item(i) for i in template.items] if isinstance(template, A.OutputsTemplate) else []
        self._root = None if isinstance(template, A.OutputsTemplate) else self._tensor(template, root=True)
        # (like, element) when the template re-makes a bound node in the root's place
        self._root_like = (
            (template.like, template.element) if isinstance(template, A.NodeTemplate) and template.like else None
        )

    def build(self, env: Env, match: Match, graph: Graph) -> Rewrite | str:
        """The Rewrite for *match*, or a reason string when it cannot be built."""
        r = Replacement(env, match, graph)
        try:
            return self._rewrite(r)
        except (EvalError, Refusal) as exc:
            return f"rewrite: {exc}"

    def _rewrite(self, r: Replacement) -> Rewrite:
        remove = r.removable()
        root = r.root
        template = self._template
        if isinstance(template, A.OutputsTemplate):
            return self._outputs(r, remove)
        assert self._root is not None
        if isinstance(template, A.TensorTemplate):
            target = self._root(r)
            r.check_other_outputs()
            if target.node == root.name:
                raise Refusal(f"the replacement of '{root.name}' is the node itself")
            if root.name not in r.env.ctx.protected:
                return Rewrite(self.rule, root.name, remove=remove, redirect=((TensorRef(root.name, 0), target),))
            dtype = typeinfer.tensor_dtype(r.graph, target)
            identity = Node.make(root.name, "Identity", [target], {"T": dtype} if dtype else {}, root.device)
            r.added[identity.name] = identity.with_inputs(identity.inputs + root.control_inputs)
        else:
            if self._root_like is None or r.like(*self._root_like) is not root:
                r.check_other_outputs()
            self._root(r)
        if len(r.added) == 1 and root.name in r.added and _same_node(r.added[root.name], root):
            raise Refusal(f"the replacement of '{root.name}' is the node itself")
        return Rewrite(self.rule, root.name, remove=remove, add=tuple(r.added.values()))

    def _outputs(self, r: Replacement, remove: frozenset[str]) -> Rewrite:
        """``rewrite (a, b, *xs)``: the root's output k is read from the k-th tensor instead."""
        targets = _tensors(r, self._items)
        root = r.root.name
        if root in r.env.ctx.protected:
            raise Refusal(f"'{root}' is a graph input or output")
        past = r.output_read_past(len(targets))
        if past is not None:
            raise Refusal(f"output {past[0]} of '{root}' is read by '{past[1]}', but the rewrite gives {len(targets)}")
        if any(t.node == root for t in targets):
            raise Refusal(f"the replacement of '{root}' reads the node itself")
        redirect = tuple((TensorRef(root, k), target) for k, target in enumerate(targets))
        return Rewrite(self.rule, root, remove=remove, add=tuple(r.added.values()), redirect=redirect)

    def _item(self, item: A.Template | A.SpreadTemplate) -> Item:
        return item.name if isinstance(item, A.SpreadTemplate) else self._tensor(item)

    # -- one template -> one closure --

    def _tensor(self, template: A.Template, root: bool = False) -> Build:
        if isinstance(template, A.TensorTemplate):
            return self._named(template)
        if isinstance(template, A.ConstTemplate):
            return self._const(template, root)
        return self._node(template, root)

    def _named(self, template: A.TensorTemplate) -> Build:
        name, port = template.name, template.port
        if name in self._let_names:  # a node-valued let: built once per rewrite, on first use

            def let_node(r: Replacement) -> TensorRef:
                built = r.built.get(name)
                if built is None:
                    built = r.built[name] = self._let_nodes[name](r).node
                return TensorRef(built, port or 0)

            return let_node

        def bound(r: Replacement) -> TensorRef:
            value = r.env.bound[name]
            if not isinstance(value, Bound):
                raise Refusal(f"'{name}' is a list; spread it as *{name}")
            ref = value.ref
            return ref if port is None else TensorRef(ref.node, port)

        return bound

    def _const(self, template: A.ConstTemplate, root: bool) -> Build:
        expr = template.expr
        evaluate = self._compiled.closure(expr)
        explicit = isinstance(expr, A.Call) and expr.func in _TYPED
        let_label = expr.id if isinstance(expr, A.Name) and expr.id in self._lets else None
        mentioned = tuple(_names(expr))
        lets = self._lets

        def const(r: Replacement) -> TensorRef:
            env = r.env
            mark = len(env.const_dtypes)
            value = np.asarray(plain(env.numeric(evaluate(env))))
            operands = env.const_dtypes[mark:]
            if operands and not explicit and value.dtype != operands[0] and _same_kind(value.dtype, operands[0]):
                value = value.astype(operands[0])  # the dtype of the first constant read: w in w * s
            if value.dtype == _FLOAT64 and not operands and not explicit:
                value = value.astype(np.float32)  # a literal like const(1.5) means TF's default float
            dtype = dtype_of_numpy(value.dtype)
            if root:
                name = r.root.name
            elif let_label is not None:
                name = r.fresh(let_label)
            else:
                bound = env.bound
                name = r.const_name(next((n for n in mentioned if n in lets or n in bound), None))
            attr = {"dtype": type_attr(dtype), "value": tensor_attr(value, dtype)}
            if root and r.root.op == "Const":  # a Const in a Const's place keeps its _class, ...
                attr = {**{k: v for k, v in r.root.attr.items() if k.startswith("_")}, **attr}
            node = Node(name, "Const", (), r.root.device, attr)
            r.made_dtypes[name] = dtype
            if stores_raw(value, dtype):
                node.remember_value(value)  # the next iteration's rules read it without decoding
            return r.add(node, root)

        return const

    def _node(self, template: A.NodeTemplate, root: bool, label: str | None = None) -> Build:
        items = [self._item(i) for i in template.inputs]
        like_name, element = template.like, template.element
        fixed_op = None if like_name else str(template.op)
        settings = [(s.name, self._compiled.closure(s.value)) for s in template.attributes]
        wanted = None if template.name is None else self._compiled.closure(template.name)
        fresh_label = template.like or str(template.op)

        def node(r: Replacement) -> TensorRef:
            inputs = _tensors(r, items)
            like = r.like(like_name, element) if like_name else None
            op = like.op if like is not None else fixed_op
            assert op is not None
            attr = _attributes(r, op, like, settings, inputs)
            if root and like is not None and like is not r.root:
                attr = r.root_shapes(attr)
            if root:
                name = r.root.name
            elif wanted is not None:
                name = r.given_name(wanted(r.env))
            else:
                name = r.fresh(label) if label else r.node_name(like, fresh_label)
            controls = like.control_inputs if like is not None else ()
            # Template inputs are data tensors (a pattern's lists capture data inputs only), so
            # data first, then control inputs, as a Node keeps them.
            made = Node(name, op, (*inputs, *controls), like.device if like is not None else r.root.device, attr)
            return r.add(made, root)

        return node


def _attributes(
    r: Replacement, op: str, like: Node | None, settings: list[tuple[str, Closure]], inputs: list[TensorRef]
) -> dict[str, Any]:
    """A new *op* node's attributes: those the template sets (*settings*), type attributes
    inferred from its inputs, those of the node it re-makes (*like*), then OpDef defaults."""
    given = {}
    for name, value in settings:
        try:
            given[name] = typeinfer.coerce(op, name, value(r.env))
        except ValueError as exc:
            raise Refusal(str(exc)) from None
    base = _copied(like.attr) if like is not None else {}
    if given:
        base.pop("_output_shapes", None)  # a changed attribute can change the shape
    attr = typeinfer.infer_attrs(op, [r.dtype(ref) for ref in inputs], given, base)
    if isinstance(attr, str):
        raise Refusal(attr)
    return attr


def _tensors(r: Replacement, items: list[Item]) -> list[TensorRef]:
    """The tensors of an input or output list: spread lists expanded, the rest built."""
    tensors: list[TensorRef] = []
    for item in items:
        if isinstance(item, str):
            tensors += r.match.tensors(item)
        else:
            tensors.append(item(r))
    return tensors


def _copied(attr: Mapping[str, Any]) -> dict[str, Any]:
    """A dict of *attr* (``dict(attr)`` would iterate a protobuf map through a Python-level
    KeysView, at a third more per node)."""
    return {key: attr[key] for key in attr}


def _same_node(a: Node, b: Node) -> bool:
    """Same op, inputs, device and attributes: a rewrite producing it would loop forever."""
    return (a.op, a.inputs, a.device, dict(a.attr)) == (b.op, b.inputs, b.device, dict(b.attr))


def _names(expr: object) -> list[str]:
    """Every name an expression mentions, reading left to right (a new Const is named after
    the first that is bound or a let)."""
    if isinstance(expr, A.Name):
        return [expr.id]
    children: list[object] = []
    if isinstance(expr, A.Binary):
        children = [expr.left, expr.right]
    elif isinstance(expr, A.Unary):
        children = [expr.operand]
    elif isinstance(expr, A.Call):
        children = list(expr.args)
    elif isinstance(expr, (A.Index, A.GetAttr)):
        children = [expr.obj]
    elif isinstance(expr, A.ListExpr):
        children = list(expr.items)
    return [name for child in children for name in _names(child)]


_FLOAT64 = np.dtype(np.float64)  # compared against a dtype object: no conversion per call
_TYPED = frozenset({"cast", "zeros", "ones"})  # functions whose result dtype is chosen explicitly


def _same_kind(a: np.dtype, b: np.dtype) -> bool:
    groups = ("fc", "iu", "b")
    return any(a.kind in g and b.kind in g for g in groups)
