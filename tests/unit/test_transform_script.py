"""Transform scripts: golden parse and error snapshots, a round-trip property, GTT agreement.

Golden cases live in tests/golden/transforms/{parse,bind}/NAME.transforms with the expected
output in NAME.out: the canonical dump of the parsed script (parse/) or of the bound steps
(bind/, against GOLDEN_RULES below), or the exact caret output of the error. Regenerate
with ``GOLDEN_UPDATE=1 python -m pytest tests/unit/test_transform_script.py`` and review the
diff before committing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrewrite.engine.errors import GraphFileError, LanguageError
from graphrewrite.grammar.script import parse_script
from graphrewrite.rules.bind import parse_and_bind
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass, RuleSet

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "transforms"
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"


def _pass(name: str, *params: Param) -> Pass:
    return Pass(name, f"{name} (test double)", lambda graph, ctx: graph, params)


# A few of GTT's transforms with their parameters (type as a string, to keep TF unimported).
GOLDEN_RULES = RuleSet.of(
    _pass(
        "fold_constants",
        Param("clear_output_shapes", Kind.BOOL, True),
        Param("exclude_op", repeated=True),
        Param("exclude_node", repeated=True),
        Param("max_constant_size_in_bytes", Kind.INT, 10 * 1024 * 1024),
    ),
    _pass("fold_batch_norms"),
    _pass("remove_device"),
    _pass("remove_nodes", Param("op", repeated=True, required=True)),
    _pass(
        "rename_op",
        Param("old_op_name", required=True, doc="the op type to rename"),
        Param("new_op_name", required=True, doc="the new op type"),
    ),
    _pass("round_weights", Param("num_steps", Kind.INT, 256)),
    _pass("quantize_weights", Param("minimum_size", Kind.INT, 1024)),
    _pass(
        "strip_unused_nodes",
        Param("type", default="float"),
        Param("shape", Kind.SHAPE),
        Param("name", repeated=True),
    ),
    _pass(
        "freeze_requantization_ranges",
        Param("min_max_log_file", required=True),
        Param("min_percentile", Kind.FLOAT, 5.0),
        Param("max_percentile", Kind.FLOAT, 5.0),
    ),
)

RULE_FILES = {
    "extra.rules": (_pass("my_rule", Param("scale", Kind.INT, 1)),),
    "clash.rules": (_pass("fold_constants"),),
    "dup.rules": (_pass("my_rule"),),
}


def fake_load_rules(path: str, span: object) -> tuple[Pass, ...]:
    if path not in RULE_FILES:
        raise GraphFileError(f"no such file '{path}'")
    return RULE_FILES[path]


def dump_steps(steps) -> str:
    lines = []
    for step in steps:
        flag = " ignore_errors" if step.ignore_errors else ""
        lines.append(f"{step.span.line}:{step.span.column} {step.name}{flag}")
        lines.extend(f"  {name} = {value!r}" for name, value in sorted(step.args.items()))
    return "\n".join(lines)


def run_case(kind: str, text: str) -> str:
    try:
        if kind == "parse":
            return parse_script(text).dump()
        return dump_steps(parse_and_bind(text, GOLDEN_RULES, load_rules=fake_load_rules))
    except LanguageError as exc:
        return str(exc)


CASES = sorted(GOLDEN.glob("*/*.transforms"))


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_golden(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    actual = run_case(path.parent.name, text) + "\n"
    expected_path = path.with_suffix(".out")
    if UPDATE:
        expected_path.write_bytes(actual.encode("utf-8"))
    assert expected_path.exists(), f"no {expected_path.name}; run with GOLDEN_UPDATE=1"
    expected = expected_path.read_bytes().decode("utf-8")
    assert actual == expected
    # Accepted cases are named ok_*, rejected ones err_*: a golden cannot silently flip.
    assert (actual.startswith("<transforms>:") and "error:" in actual) == path.stem.startswith("err_")


def test_golden_cases_exist() -> None:
    assert len([p for p in CASES if p.parent.name == "parse"]) >= 40
    assert len([p for p in CASES if p.parent.name == "bind"]) >= 15
    orphans = [p for p in GOLDEN.glob("*/*.out") if not p.with_suffix(".transforms").exists()]
    assert not orphans


# --- targeted checks --------------------------------------------------------------------


def test_values_and_spans() -> None:
    script = parse_script('x\n  strip(shape="1,2", op=A op=B)', source="s.transforms")
    x, strip = script.calls
    assert (x.name, x.args, x.span.line, x.span.column) == ("x", (), 1, 1)
    shape = strip.args[0]
    assert (shape.value, shape.quoted) == ("1,2", True)
    assert (shape.name_span.line, shape.name_span.column, shape.name_span.length) == (2, 9, 5)
    assert (shape.value_span.column, shape.value_span.length) == (15, 5)
    assert shape.span.source == "s.transforms"
    assert strip.params == {"op": ("A", "B"), "shape": ("1,2",)}
    assert strip.values("op") == ("A", "B")
    assert (strip.span.column, strip.span.length) == (3, len("strip(shape=\"1,2\", op=A op=B)"))


def test_use_directive_spans() -> None:
    script = parse_script('f use "a b.rules" g')
    (use,) = script.uses
    assert use.path == "a b.rules"
    assert (use.span.column, use.span.length, use.path_span.column) == (3, 15, 7)
    assert [c.name for c in script.calls] == ["f", "g"]


def test_error_is_one_located_diagnostic_without_lark_text() -> None:
    for text in ["f(a=", "foo,bar", "f(a=1,,b=2)", "f(a=x:0)", "%", 'f(a="x', "f)", "f(a b)"]:
        with pytest.raises(LanguageError) as info:
            parse_script(text)
        message = str(info.value)
        assert len(info.value.diagnostics) == 1
        for lark_word in ("Token(", "Expected one of", "UnexpectedToken", "$END", "RPAR", "_COMMA"):
            assert lark_word not in message, (text, message)


def test_large_script_parses() -> None:
    text = "\n".join(f'strip(type=float, shape="1,2,3", name=n{i}) fold(ignore_errors=true)' for i in range(500))
    assert len(parse_script(text).calls) == 1000


def test_parsing_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from graphrewrite.grammar.script import parse_script\n"
        "import graphrewrite.rules.bind\n"
        "parse_script('strip_unused_nodes(type=float, shape=\"1,2\") fold_constants')\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- round trip: any script written in GTT's syntax parses back to what was written ---------

NAMES = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
UNQUOTED = st.from_regex(r"[A-Za-z0-9_./-]{1,8}", fullmatch=True)
QUOTABLE = st.text(st.characters(blacklist_characters='"\\', blacklist_categories=("Cs",)), max_size=8)
VALUES = st.one_of(UNQUOTED.map(lambda v: (v, v)), QUOTABLE.map(lambda v: (f'"{v}"', v)))
CALLS = st.lists(st.tuples(NAMES, st.lists(st.tuples(NAMES, VALUES), max_size=4), st.booleans()), max_size=5)
GAPS = st.sampled_from([" ", "\n", "\t", "  \n  ", "\r\n"])


@settings(max_examples=150, deadline=None)
@given(CALLS, st.data())
def test_gtt_syntax_round_trips(calls, data) -> None:
    pieces = []
    for name, args, parens in calls:
        text = name
        if args or parens:
            seps = [data.draw(st.sampled_from([", ", ",", " ", ",\n  "])) for _ in args]
            text += "(" + "".join(("" if i == 0 else seps[i]) + f"{k}={raw}" for i, (k, (raw, _)) in enumerate(args)) + ")"
        pieces.append(text)
        # Two bare names need a gap; after ')' GTT needs none.
        pieces.append(data.draw(GAPS) if not (args or parens) else data.draw(st.sampled_from(["", " ", "\n"])))
    script = parse_script("".join(pieces))
    # A transform spelt `use` followed by a quoted string would be a directive; none here.
    assert [(c.name, [(a.name, a.value) for a in c.args]) for c in script.calls] == [
        (name, [(k, v) for k, (_, v) in args]) for name, args, _ in calls
    ]


# --- agreement with GTT's C++ parser -----------------------------------------------------


def _gtt():
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from tensorflow.python.util import _pywrap_transform_graph as binding
    except ImportError:
        pytest.skip("GTT's C++ binding is not available")
    from graphrewrite import _tf

    graph_def = _tf.pb().GraphDef()
    node = graph_def.node.add()
    node.name, node.op = "c", "Const"

    def run(script: str):
        """GTT's output op types, or the error text."""
        try:
            out = binding.TransformGraphWithStringInputs(graph_def.SerializeToString(), "", "c", script)
        except Exception as exc:  # the binding raises a plain RuntimeError-like status
            return str(exc)
        result = _tf.pb().GraphDef()
        result.ParseFromString(out)
        return [n.op for n in result.node]

    return run


GTT_ACCEPTED = [
    "a(b=1)c", "f() g()h", "remove_nodes(op=Identity, op=CheckNumerics)", 'f(a="")', "f(,a=1)",
    "f(a=1 b=2,c=3)", 'f(a=x") g(a="y"\')', "f( a=1,  b=2,\n\tc=3)", "3d(X=1 _=2)", "use use(use=use)",
    'f(shape="1,299,299,3", name="x:0")', "f(a=-1, b=1e-5, c=a/b/c)", "\n f \t g \x0b\x0c",
]  # fmt: skip
GTT_REJECTED = [
    "foo,bar", "f(a=)", 'f(a="x)', "f(a=1,,b=2)", "\\\n", "f)", "f(a=x:0)", "f(a=+1)",
    "fold_constants ignore_errors=true", "f(a)", "f(a=1 %)", "fold-constants", "f(a=1 (b=2))",
]  # fmt: skip
# Where GTT silently drops a transform we report an error; where GTT rejects harmless
# spacing we accept it.
GTT_DROPS = ["fold_constants(", "foo(a=1", "f(a=1, b="]
OURS_ONLY = ["f(a = 1)", "f(a=1 )", "f(a=1,)", "f (a=1)", "f # comment", 'use "x.rules"']


@pytest.mark.gtt
def test_acceptance_agrees_with_gtt() -> None:
    gtt = _gtt()
    for script in GTT_ACCEPTED:
        assert "Looking for" not in str(gtt(script)), script
        parse_script(script)
    for script in GTT_REJECTED:
        assert "Looking for" in str(gtt(script)), script
        with pytest.raises(LanguageError):
            parse_script(script)
    for script in GTT_DROPS:
        assert gtt(script) == ["Const"], script
        with pytest.raises(LanguageError):
            parse_script(script)
    for script in OURS_ONLY:
        assert "Looking for" in str(gtt(script)), script
        parse_script(script)


SPELLINGS = ["x", '"x"', 'x"', "x'", '"x"\'', '"x""\'', '"a\\"b"', '"a\\\\b"', '""', '"a b:0,1"', '"l1\nl2"', "a/b.c-d_1"]


@pytest.mark.gtt
def test_values_match_gtt_value_for_value() -> None:
    gtt = _gtt()
    for spelling in SPELLINGS:
        script = f"rename_op(old_op_name=Const, new_op_name={spelling})"
        (call,) = parse_script(script).calls
        assert gtt(script) == [call.values("new_op_name")[0]], spelling
