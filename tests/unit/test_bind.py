"""Binding scripts to transforms: typed arguments, defaults, located errors, ``use`` files."""

from __future__ import annotations

import os

import pytest

from graphrewrite.engine.errors import GraphFileError, LanguageError, Span
from graphrewrite.grammar.script import parse_script
from graphrewrite.rules.bind import bind, parse_and_bind
from graphrewrite.rules.params import Kind, Param
from graphrewrite.rules.rule import Pass, RuleSet, Step


def _pass(name: str, *params: Param) -> Pass:
    return Pass(name, f"{name} (test double)", lambda graph, ctx: graph, params)


TYPED = _pass(
    "typed",
    Param("count", Kind.INT, 3),
    Param("ratio", Kind.FLOAT, 0.5),
    Param("flag", Kind.BOOL, False),
    Param("shape", Kind.SHAPE),
    Param("label", default="none"),
    Param("op", repeated=True),
)
NEEDS = _pass("needs", Param("old", required=True), Param("new", required=True, doc="the new name"))
PLAIN = _pass("plain")
RULES = RuleSet.of(TYPED, NEEDS, PLAIN)


def steps_of(text: str, rules: RuleSet = RULES) -> tuple[Step, ...]:
    return bind(parse_script(text), rules, text=text)


def errors_of(text: str, rules: RuleSet = RULES, **kwargs) -> LanguageError:
    with pytest.raises(LanguageError) as info:
        parse_and_bind(text, rules, **kwargs)
    return info.value


def test_values_are_converted_and_defaults_filled() -> None:
    (step,) = steps_of('typed(count=7, ratio=1e-5, flag=1, shape="1,-1,?,3", label="a b", op=A, op=B)')
    assert step.transform is TYPED
    assert dict(step.args) == {
        "count": 7, "ratio": 1e-5, "flag": True, "shape": (1, None, None, 3), "label": "a b", "op": ["A", "B"],
    }  # fmt: skip
    (default,) = steps_of("typed")
    assert dict(default.args) == {"count": 3, "ratio": 0.5, "flag": False, "shape": None, "label": "none", "op": []}


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("TRUE", True), ("False", False)],
)
def test_bool_values(text: str, value: bool) -> None:
    assert steps_of(f"typed(flag={text})")[0].args["flag"] is value


def test_int_tolerates_spaces_like_safe_strto() -> None:
    assert steps_of('typed(count=" 12 ")')[0].args["count"] == 12


def test_shape_scalar_and_spaces() -> None:
    assert steps_of('typed(shape="")')[0].args["shape"] == ()
    assert steps_of('typed(shape="1, 2, 3")')[0].args["shape"] == (1, 2, 3)


def test_ignore_errors_is_a_step_flag_not_an_arg() -> None:
    on, off, default = steps_of("plain(ignore_errors=TRUE) plain(ignore_errors=false) plain")
    assert (on.ignore_errors, off.ignore_errors, default.ignore_errors) == (True, False, False)
    assert "ignore_errors" not in on.args and on.args == {}


def test_ignore_errors_rejects_one_and_zero_like_gtt() -> None:
    for value in ("1", "0", "yes"):
        error = errors_of(f"plain(ignore_errors={value})")
        assert error.first.message == f"bad value for parameter 'ignore_errors': expected true or false, got '{value}'"
        assert error.first.span.column == len("plain(ignore_errors=") + 1


def test_steps_keep_order_span_and_repeats() -> None:
    steps = steps_of("plain\n typed(count=1) plain")
    assert [s.name for s in steps] == ["plain", "typed", "plain"]
    assert [(s.span.line, s.span.column) for s in steps] == [(1, 1), (2, 2), (2, 17)]


def test_dtype_values_are_converted() -> None:
    rules = RuleSet.of(_pass("cast", Param("type", Kind.DTYPE)))
    step = steps_of("cast(type=float) cast(type=DT_INT32) cast(type=uint8)", rules)
    assert [str(s.args["type"]) for s in step] == ["float32", "int32", "uint8"]
    error = errors_of("cast(type=flaot)", rules)
    assert error.first.message == "bad value for parameter 'type': unknown dtype 'flaot'"
    assert error.first.hint == "did you mean 'float'?"


def test_unknown_transform_suggests_the_closest() -> None:
    error = errors_of("typd(count=1)")
    assert error.first.message == "unknown transform 'typd'"
    assert error.first.hint == "did you mean 'typed'?"
    assert (error.first.span.column, error.first.span.length) == (1, 4)


def test_unknown_parameter_suggests_closest_or_lists_all() -> None:
    close = errors_of("typed(cont=1)").first
    assert close.message == "unknown parameter 'cont' for transform 'typed'"
    assert close.hint == "did you mean 'count'?"
    far = errors_of("needs(old=a, new=b, zzz=1)").first
    assert far.hint == "'needs' takes old, new (and ignore_errors)"
    assert far.span.column == len("needs(old=a, new=b, ") + 1
    assert errors_of("plain(x=1)").first.hint == "'plain' takes no parameters except ignore_errors"
    assert errors_of("plain(ignore_error=true)").first.hint == "did you mean 'ignore_errors'?"


def test_parameter_given_twice() -> None:
    error = errors_of("typed(count=1, count=2)")
    assert error.first.message == "parameter 'count' given twice (first count=1 at 1:7)"
    assert error.first.span.column == len("typed(count=1, ") + 1


def test_missing_required_parameters_are_each_reported() -> None:
    error = errors_of("needs")
    assert [d.message for d in error.diagnostics] == [
        "transform 'needs' needs parameter 'old'",
        "transform 'needs' needs parameter 'new'",
    ]
    assert error.diagnostics[1].hint == "the new name: needs(new=...)"


def test_bad_value_caret_is_on_the_value() -> None:
    text = 'plain\ntyped(count=abc, shape="1,x")'
    error = errors_of(text)
    count, shape = error.diagnostics
    assert count.message == "bad value for parameter 'count': expected a whole number, got 'abc'"
    assert (count.span.line, count.span.column, count.span.length) == (2, 13, 3)
    assert (shape.span.column, shape.span.length) == (24, len("\"1,x\""))
    assert "2 | typed(count=abc" in str(error)


def test_all_errors_are_reported_sorted_by_position() -> None:
    text = "needs(new=x)\ntyped(count=1.5 bogus=1)\nnope\nplain(ignore_errors=2)"
    error = errors_of(text)
    assert [(d.span.line, d.span.column) for d in error.diagnostics] == [(1, 1), (2, 13), (2, 17), (3, 1), (4, 21)]
    assert str(error).count("error:") == 5


def test_syntax_errors_come_before_binding() -> None:
    error = errors_of("nope(a=)")
    assert [d.message for d in error.diagnostics] == ["missing value for parameter 'a'"]


# --- use "file.rules" --------------------------------------------------------------------

EXTRA = _pass("extra", Param("n", Kind.INT, 1))


class Loader:
    """A load_rules callback that records the paths it was asked for."""

    def __init__(self, files: dict[str, tuple[Pass, ...]]):
        self.files = files
        self.calls: list[tuple[str, Span]] = []

    def __call__(self, path: str, span: Span) -> tuple[Pass, ...]:
        self.calls.append((path, span))
        if path not in self.files:
            raise GraphFileError(f"no such file '{path}'")
        return self.files[path]


def test_use_adds_transforms_named_like_builtins() -> None:
    load = Loader({"x.rules": (EXTRA,)})
    steps = parse_and_bind('use "x.rules"\nextra(n=4) plain', RULES, load_rules=load)
    assert [(s.transform, dict(s.args)) for s in steps] == [(EXTRA, {"n": 4}), (PLAIN, {})]
    (path, span), = load.calls
    assert (path, span.line, span.column) == ("x.rules", 1, 5)


def test_use_may_come_after_the_call_and_loads_each_file_once() -> None:
    load = Loader({"x.rules": (EXTRA,)})
    steps = parse_and_bind('extra use "x.rules" use "x.rules"', RULES, load_rules=load)
    assert [s.name for s in steps] == ["extra"]
    assert len(load.calls) == 1


def test_use_paths_resolve_against_the_script_file(tmp_path) -> None:
    script = tmp_path / "sub" / "pipeline.transforms"
    expected = os.path.join(str(tmp_path), "sub", "rules", "x.rules")
    load = Loader({expected: (EXTRA,)})
    parse_and_bind('use "rules/x.rules" extra', RULES, source=str(script), load_rules=load)
    absolute = str(tmp_path / "abs.rules")
    load = Loader({absolute: (EXTRA,)})
    parse_and_bind(f'use "{absolute}" extra', RULES, source=str(script), load_rules=load)
    assert load.calls[0][0] == absolute


def test_use_without_a_loader_is_a_located_error() -> None:
    error = errors_of('plain use "x.rules"')
    assert error.first.message == "cannot load 'x.rules': rule files are not available here"
    assert error.first.span.column == 11


def test_use_errors_are_located_and_reported_with_the_rest() -> None:
    load = Loader({"clash.rules": (_pass("typed"),), "a.rules": (EXTRA,), "b.rules": (EXTRA,)})
    text = 'use "missing.rules"\nuse "clash.rules"\nuse "a.rules" use "b.rules"\nplain(x=1)'
    error = errors_of(text, load_rules=load)
    assert [d.message for d in error.diagnostics] == [
        "cannot load rule file 'missing.rules': no such file 'missing.rules'",
        "rule 'typed' in 'clash.rules' has the name of a builtin transform",
        "rule 'extra' in 'b.rules' is also defined in 'a.rules'",
        "unknown parameter 'x' for transform 'plain'",
    ]


def test_os_errors_from_the_loader_are_located() -> None:
    def load(path: str, span: Span):
        raise FileNotFoundError(2, "No such file or directory", path)

    error = errors_of('use "gone.rules"', load_rules=load)
    assert error.first.message == "cannot load rule file 'gone.rules': No such file or directory"


def test_rule_file_language_errors_propagate_with_their_own_text() -> None:
    inner = LanguageError([], "rule bad")

    def load(path: str, span: Span):
        raise inner

    with pytest.raises(LanguageError) as info:
        parse_and_bind('use "bad.rules"', RULES, load_rules=load)
    assert info.value is inner
