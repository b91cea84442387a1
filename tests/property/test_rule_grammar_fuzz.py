"""Fuzzing the rule language: any text either compiles or gives a located LanguageError, never
another exception (a traceback is a bug, whatever the user typed)."""

from __future__ import annotations

import re

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
