"""Fuzzing the rule language: any text either compiles or gives a located LanguageError, never
another exception (a traceback is a bug, whatever the user typed)."""

from __future__ import annotations

import contextlib
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrewrite.engine.errors import LanguageError
from graphrewrite.rules.loader import load_rules_text
from graphrewrite.stdlib_rules.rule_files import RULE_FILES, rule_file_text

TOKENS = (
    "rule", "group", "schedule", "once", "repeat", "match", "where", "let", "rewrite", "const", "and", "or",
    "not", "in", "true", "false", "{", "}", "(", ")", "[", "]", ",", ":", "=", "==", "<", "+", "-", "*", "/",
    "**", "...", "|", ".", '"doc"', "x", "w", "conv", "_", "Conv2D", "Relu", "Mul", "Const", "ConcatV2",
    "AddN", "1", "2.5", "-3", "all", "shape", "size", "cast", "dtype", "int", "float16", "#c\n", "\n", " ",
    "require", "as", "fs", "0", "count", "alike", "name", "single_use", "lossy", "tested",
)  # fmt: skip
LOCATED = re.compile(r":\d+:\d+: error: ")


def _check(text: str) -> None:
    try:
        load_rules_text(text, source="fuzz.rules", validate=True)  # with the op registry: the checker too
    except LanguageError as exc:
        assert LOCATED.search(str(exc)), f"an error without line:col for {text!r}: {exc}"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_token_soup_compiles_or_gives_a_located_error(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_compiles_or_gives_a_located_error(text: str) -> None:
    _check(text)


SOURCES = [rule_file_text(name) for name in RULE_FILES]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SOURCES),
    st.lists(st.tuples(st.floats(0, 1), st.integers(1, 12), st.sampled_from(("", *TOKENS))), min_size=1, max_size=4),
)
def test_mutated_standard_rule_files_compile_or_give_a_located_error(source: str, edits: list) -> None:
    text = source
    for where, length, insert in edits:  # delete a span and maybe insert a token: near-miss rule files
        at = int(where * len(text))
        text = text[:at] + insert + text[at + length :]
    _check(text)


# Rules built from pieces of the list features (element patterns, several *lists, list
# conditions, element templates, node names), right and wrong: each compiles or gives a
# located error, and a compiled one runs on a graph it may match, firing or refusing with a
# reason, or stopping with a GraphRewriteError, never with another exception.
MATCHES = (
    "c: ConcatV2(*fs: Relu|Tanh(xs), axis)",
    "c: ConcatV2(*a, r: Relu(y), *b, axis)",
    "c: ConcatV2(*fs: Relu(x), x)",
    "c: ConcatV2(*xs, *ys)",
    "c: ConcatV2(*fs: Relu(xs), axis: Const)",
)
WHERES = (
    "alike(fs)", "all(single_use(fs))", "count(xs) > 1", "all(xs[0] == 1)", "alike(x)", "count(axis)",
    "single_use(fs)", 'name(c) == "c"', "op(fs[0]) == \"Relu\"", "all(op(fs) == op(xs))", "count(fs) == count(xs)",
)
REWRITES = (
    "fs[0](ConcatV2(*xs, axis))", "fs(ConcatV2(*xs, axis))", "c[0](x)", 'Relu(x) as "n"',
    'Neg(r(y) as name(c) + "_n")', "(*fs)", "c(*a, *b, axis)", 'fs[3](ConcatV2(*xs, axis) as 3)',
    'fs[0](ConcatV2(*xs, axis) as name(c) + "/inner")',
)


def _concat_of_relus():  # type: ignore[no-untyped-def]
    from graphrewrite.engine.attrvalues import DType
    from graphrewrite.engine.graph import Graph, Node

    f32, i32 = DType.named("float32"), DType.named("int32")
    nodes = [Node.make(n, "Placeholder", [], {"dtype": f32}) for n in ("a", "b")]
    nodes += [Node.make(f"r{n}", "Relu", [n], {"T": f32}) for n in ("a", "b")]
    nodes.append(Node.make("axis", "Const", [], {"dtype": i32, "value": np.int32(0)}))
    nodes.append(Node.make("c", "ConcatV2", ["ra", "rb", "axis"], {"T": f32, "N": 2, "Tidx": i32}))
    return Graph.from_nodes(nodes)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MATCHES), st.lists(st.sampled_from(WHERES), max_size=2), st.sampled_from(REWRITES))
def test_list_feature_rules_compile_and_run_or_fail_cleanly(match: str, wheres: list, rewrite: str) -> None:
    from graphrewrite.engine.driver import Context
    from graphrewrite.engine.errors import GraphRewriteError

    text = "rule r {\n  match " + match + "\n" + "".join(f"  where {w}\n" for w in wheres) + f"  rewrite {rewrite}\n}}\n"
    try:
        (rule,) = load_rules_text(text, source="fuzz.rules", validate=True)
    except LanguageError as exc:
        assert LOCATED.search(str(exc)), f"an error without line:col for {text!r}: {exc}"
        return
    with contextlib.suppress(GraphRewriteError):  # a RuleError (a failed require) is a clean stop
        rule.apply(_concat_of_relus(), Context(inputs=("a", "b"), outputs=("c",)))
