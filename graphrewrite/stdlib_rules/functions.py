"""Inline function calls: PartitionedCall, StatefulPartitionedCall and direct calls.

TF2 graphs keep their real computation inside library functions. Inlining copies a called
function's body into the graph under ``<call>/`` and rewires the call's consumers, so every
other transform can see the computation. Unlike GTT's ``inline_partitionedcall`` this handles
both call ops and calls by function name, nested calls (to a fixed point), list-typed
arguments, ``$T``-style attribute placeholders, output ports mapped through the signature's
output args and ``ret`` map, and the call's control edges. Functional control flow (``While``,
``If``, ``Case``) is left alone: those ops keep referring to their library bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.edit import colocation, with_colocation
from graphrewrite.engine.errors import RuleError
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
MAX_ROUNDS = 64


def library_functions(graph: Graph) -> dict[str, Any]:
    """The graph's FunctionDefs by name."""
    if graph.library is None:
        return {}
    return {f.signature.name: f for f in graph.library.function}


def call_target(node: Node, functions: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]] | None:
    """``(FunctionDef, attribute bindings)`` when *node* calls a library function, else None."""
    if node.op in CALL_OPS:
        if "f" not in node.attr or node.attr["f"].WhichOneof("value") != "func":
            raise RuleError(f"node '{node.name}' ({node.op}) has no function attribute 'f'")
        func = node.attr["f"].func
        if func.name not in functions:
            raise RuleError(f"node '{node.name}' calls function '{func.name}', which is not in the library")
        return functions[func.name], func.attr
    if node.op in functions:
        return functions[node.op], node.attr
    return None


def inline_calls(graph: Graph, *, protected: Iterable[str] = ()) -> tuple[Graph, int]:
    """*graph* with every function call inlined, nested calls too; and how many were inlined.

    A call whose name is *protected* is replaced by an ``IdentityN`` (a ``NoOp`` when the
    function returns nothing) of the same name, so ``call:k`` stays valid.
    """
    functions = library_functions(graph)
    keep = frozenset(protected)
    count = 0
    for _ in range(MAX_ROUNDS):
        calls = [n.name for n in graph if n.op in CALL_OPS or n.op in functions]
        if not calls:
            return graph, count
        deepest = graph.node(calls[0])
        for name in calls:
            call = graph.node(name)
            fdef, bindings = call_target(call, functions) or (None, {})
            graph = _inline_one(graph, call, fdef, bindings, functions, name in keep)
        count += len(calls)
    raise RuleError(f"function calls still nested {MAX_ROUNDS} levels deep: does '{deepest.op}' call itself?")


def _inline_one(
    graph: Graph, call: Node, fdef: Any, bindings: Mapping[str, Any], functions: Mapping[str, Any], keep_name: bool
) -> Graph:
    body = _Body(graph, call, fdef, bindings, functions)
    outputs = body.outputs()
    after = body.control_outputs(outputs)
    upserts = list(body.nodes)
    if keep_name:
        upserts.append(_stand_in(call, outputs, after, body.output_types()))
    for user_name in graph.consumers(call.name):
        user = graph.node(user_name)
        inputs: list[TensorRef] = []
        for ref in user.inputs:
            if ref.node != call.name or keep_name:
                inputs.append(ref)
            elif ref.port == CONTROL:
                inputs.extend(TensorRef(n, CONTROL) for n in after)
            else:
                inputs.append(_output(outputs, ref, call))
        upserts.append(user.with_inputs(_dedupe_controls(inputs)))
    return graph.replace(upserts, () if keep_name else (call.name,))


def _output(outputs: list[TensorRef], ref: TensorRef, call: Node) -> TensorRef:
    if ref.port >= len(outputs):
        raise RuleError(f"'{ref}' reads output {ref.port} of call '{call.name}', which returns {len(outputs)}")
    return outputs[ref.port]


def _stand_in(call: Node, outputs: list[TensorRef], after: list[str], types: list[Any]) -> Node:
    control = [TensorRef(n, CONTROL) for n in after if n not in {r.node for r in outputs}]
    if not outputs:
        return Node.make(call.name, "NoOp", control, device=call.device)
    return Node.make(call.name, "IdentityN", [*outputs, *control], {"T": types}, call.device)


def _dedupe_controls(inputs: list[TensorRef]) -> list[TensorRef]:
    data = [i for i in inputs if i.port != CONTROL]
    seen = {i.node for i in data}
    control = []
    for ref in inputs:
        if ref.port == CONTROL and ref.node not in seen:
            seen.add(ref.node)
            control.append(ref)
    return data + control


class _Body:
    """One function body, copied under the call's name with arguments bound to its inputs."""

    def __init__(self, graph: Graph, call: Node, fdef: Any, bindings: Mapping[str, Any], functions: Mapping[str, Any]):
        self.call, self.fdef, self.bindings, self.functions = call, fdef, bindings, functions
        self.args = _bind_args(call, fdef, bindings)
        self.defs = {nd.name: nd for nd in fdef.node_def}
        taken: set[str] = set()
        self.names: dict[str, str] = {}
        for nd in fdef.node_def:
            self.names[nd.name] = graph.unique_name(f"{call.name}/{nd.name}", taken)
            taken.add(self.names[nd.name])
        # Attributes first: output ports of a body node depend on its substituted attributes.
        self.attrs = {
            nd.name: {key: substitute(value, bindings, call) for key, value in nd.attr.items()} for nd in fdef.node_def
        }
        self._ports: dict[str, dict[str, tuple[int, int]]] = {}
        self.nodes = [self._copy(nd, taken) for nd in fdef.node_def]

    def _copy(self, nd: Any, body_names: set[str]) -> Node:
        inputs: list[TensorRef] = []
        for text in nd.input:
            inputs.extend(self.resolve(text))
        if not any(ref.node in body_names for ref in inputs):
            # A body root: the call's control inputs must hold before it runs.
            inputs.extend(self.call.control_inputs)
        node = Node(self.names[nd.name], nd.op, (), nd.device or self.call.device, self.attrs[nd.name])
        if "_class" in node.attr:
            node = self._colocate(node)
        return node.with_inputs(_dedupe_controls(inputs))

    def _colocate(self, node: Node) -> Node:
        """``loc:@x`` names body node x: point it at x's copy (other entries are dropped)."""
        return with_colocation(node, [self.names[n] for n in colocation(node) or () if n in self.names])

    def resolve(self, text: str) -> list[TensorRef]:
        """Body input syntax -> graph refs: ``arg`` (all of a list argument), ``arg:i``,
        ``node:out`` (all of an output arg), ``node:out:i``, ``node:i`` and ``^name``."""
        if text.startswith("^"):
            name = text[1:]
            if name in self.args:
                return [TensorRef(r.node, CONTROL) for r in self.args[name]]
            return [TensorRef(self._name(name, text), CONTROL)]
        parts = text.split(":")
        if parts[0] in self.args:
            refs = self.args[parts[0]]
            if len(parts) == 1:
                return list(refs)
            index = int(parts[1])
            if index >= len(refs):
                raise RuleError(f"function '{self.fdef.signature.name}': '{text}' is past the end of argument '{parts[0]}'")
            return [refs[index]]
        name = self._name(parts[0], text)
        if len(parts) == 1:
            return [TensorRef(name, 0)]
        if parts[1].isdigit():
            return [TensorRef(name, int(parts[1]))]
        start, count = self._range(parts[0], parts[1])
        if len(parts) == 2:
            return [TensorRef(name, start + i) for i in range(count)]
        return [TensorRef(name, start + int(parts[2]))]

    def _name(self, body_name: str, text: str) -> str:
        if body_name not in self.names:
            raise RuleError(f"function '{self.fdef.signature.name}': input '{text}' names no argument or node")
        return self.names[body_name]

    def _range(self, body_name: str, out_arg: str) -> tuple[int, int]:
        if body_name not in self._ports:
            op = self.defs[body_name].op
            self._ports[body_name] = output_ranges(Node(body_name, op, attr=self.attrs[body_name]), self.functions)
        ranges = self._ports[body_name]
        if out_arg not in ranges:
            raise RuleError(
                f"function '{self.fdef.signature.name}': node '{body_name}' has no output '{out_arg}'"
                f" (outputs: {', '.join(ranges) or 'none'})"
            )
        return ranges[out_arg]

    def outputs(self) -> list[TensorRef]:
        refs = []
        for arg in self.fdef.signature.output_arg:
            if arg.number_attr or arg.type_list_attr:
                raise RuleError(f"function '{self.fdef.signature.name}': list output '{arg.name}' cannot be inlined")
            if arg.name not in self.fdef.ret:
                raise RuleError(f"function '{self.fdef.signature.name}' does not say what output '{arg.name}' returns")
            refs.extend(self.resolve(self.fdef.ret[arg.name]))
        return refs

    def output_types(self) -> list[Any]:
        from graphrewrite.engine.attrvalues import DType

        types = []
        for arg in self.fdef.signature.output_arg:
            if arg.type_attr:
                types.append(DType(_binding(self.bindings, arg.type_attr, self.call).type))
            else:
                types.append(DType(arg.type))
        return types

    def control_outputs(self, outputs: list[TensorRef]) -> list[str]:
        """What ``^call`` waits for: the function's control outputs and its returned tensors."""
        names = [self.names[n] for n in self.fdef.control_ret.values() if n in self.names]
        for ref in outputs:
            if ref.node not in names:
                names.append(ref.node)
        return names


def _bind_args(call: Node, fdef: Any, bindings: Mapping[str, Any]) -> dict[str, list[TensorRef]]:
    """Argument name -> the call inputs it stands for (several for a list argument)."""
    data = list(call.data_inputs)
    args: dict[str, list[TensorRef]] = {}
    position = 0
    for arg in fdef.signature.input_arg:
        if arg.number_attr:
            count = _binding(bindings, arg.number_attr, call).i
        elif arg.type_list_attr:
            count = len(_binding(bindings, arg.type_list_attr, call).list.type)
        else:
            count = 1
        args[arg.name] = data[position : position + count]
        position += count
    if position != len(data):
        raise RuleError(
            f"node '{call.name}' passes {len(data)} inputs to '{fdef.signature.name}', whose signature takes {position}"
        )
    return args


def _binding(bindings: Mapping[str, Any], key: str, call: Node) -> Any:
    if key not in bindings:
        raise RuleError(f"node '{call.name}' gives no value for the function's attribute '{key}'")
    return bindings[key]


def substitute(value: Any, bindings: Mapping[str, Any], call: Node) -> Any:
    """*value* with attribute placeholders (``$T``) replaced by the call's values, recursively."""
    kind = value.WhichOneof("value")
    if kind == "placeholder":
        return _binding(bindings, value.placeholder, call)
    if kind == "func" and value.func.attr:
        out = _tf.pb().AttrValue()
        out.CopyFrom(value)
        for key, inner in value.func.attr.items():
            out.func.attr[key].CopyFrom(substitute(inner, bindings, call))
        return out
    return value


def output_ranges(node: Node, functions: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Output arg name -> (first flat port, count) for *node*'s op (registry op or function)."""
    if node.op in functions:
        op_def = functions[node.op].signature
    else:
        op_def = _tf.op_def(node.op)
        if op_def is None:
            raise RuleError(f"node '{node.name}': op '{node.op}' is neither registered nor a library function")
    ranges = {}
    start = 0
    for arg in op_def.output_arg:
        if arg.number_attr:
            count = int(node.get(arg.number_attr, 0))
        elif arg.type_list_attr:
            count = len(node.get(arg.type_list_attr) or [])
        else:
            count = 1
        ranges[arg.name] = (start, count)
        start += count
    return ranges


def referenced_functions(graph: Graph) -> set[str]:
    """Names of the library functions the graph uses, directly or through other functions."""
    functions = library_functions(graph)
    pending = [name for node in graph for name in _function_refs(node.op, node.attr.values(), functions)]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for nd in functions[name].node_def:
            pending.extend(_function_refs(nd.op, nd.attr.values(), functions))
    gradients = {g.function_name: g.gradient_func for g in graph.library.gradient} if graph.library else {}
    seen |= {gradients[name] for name in seen if name in gradients}
    return seen


def _function_refs(op: str, values: Iterable[Any], functions: Mapping[str, Any]) -> list[str]:
    names = [op] if op in functions else []
    for value in values:
        kind = value.WhichOneof("value")
        if kind == "func":
            names.append(value.func.name)
            names.extend(_function_refs("", value.func.attr.values(), functions))
        elif kind == "list":
            names.extend(f.name for f in value.list.func)
    return names


def prune_library(graph: Graph) -> Graph:
    """*graph* with library functions nothing refers to removed (None when none is left)."""
    if graph.library is None:
        return graph
    used = referenced_functions(graph)
    if len(used) == len(graph.library.function):
        return graph
    library = _tf.pb().FunctionDefLibrary()
    library.function.extend(f for f in graph.library.function if f.signature.name in used)
    library.gradient.extend(g for g in graph.library.gradient if g.function_name in used)
    kept = library if library.function else None
    return Graph.from_nodes(list(graph), library=kept, versions=graph.versions)
