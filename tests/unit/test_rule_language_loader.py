"""Loading rules: files, the ``use`` callback, Python modules, entry points, and a rule file
named in a transform script through the public pipeline API."""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import numpy as np
import pytest

from graphrewrite.engine.errors import GraphFileError, LanguageError, NameNotFoundError, UsageError
from graphrewrite.rules import loader
from graphrewrite.rules.rule import Group, Rule, RuleSet

RULES = """
rule drop_double_neg "Neg(Neg(x)) -> x" { match Neg(Neg(x)) rewrite x }
group cleanups { drop_double_neg }
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.rules"
    path.write_text(RULES)
    return path


def test_load_rules_file(rules_file: Path) -> None:
    transforms = loader.load_rules_file(rules_file)
    assert [type(t) for t in transforms] == [Rule, Group]
    assert transforms[0].source is not None and transforms[0].source.source == str(rules_file)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(GraphFileError, match=r"rules file '.*nothing\.rules' does not exist"):
        loader.load_rules_file(tmp_path / "nothing.rules")


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules"
    path.write_text("rule r { match Neg(x) rewrite y }\n")
    with pytest.raises(LanguageError) as info:
        loader.load_rules_file(path)
    assert str(info.value).startswith(f"{path}:1:31: error: 'y' is not bound by the pattern")


def test_use_callback_matches_bind_signature(rules_file: Path) -> None:
    assert [t.name for t in loader.load_rules(str(rules_file), None)] == ["drop_double_neg", "cleanups"]


def test_module_transforms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_rule_pack.py").write_text(
        textwrap.dedent(
            f"""
            from graphrewrite.rules.loader import load_rules_text
            TRANSFORMS = load_rules_text({RULES!r}, validate=False)
            """
        )
    )
    (tmp_path / "empty_pack.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [t.name for t in loader.load_rules_module("my_rule_pack")] == ["drop_double_neg", "cleanups"]
    with pytest.raises(UsageError, match="defines neither TRANSFORMS nor RULES"):
        loader.load_rules_module("empty_pack")
    with pytest.raises(NameNotFoundError, match="cannot import rules module 'no_such_pack'"):
        loader.load_rules_module("no_such_pack")


def test_as_transforms_accepts_paths_rulesets_callables(rules_file: Path) -> None:
    from_path = loader.as_transforms(str(rules_file), origin="test")
    assert [t.name for t in loader.as_transforms(RuleSet(from_path), origin="test")] == ["drop_double_neg", "cleanups"]
    assert loader.as_transforms(lambda: from_path[0], origin="test") == (from_path[0],)
    with pytest.raises(UsageError, match="test holds 3, which is not a Rule, Group or Pass"):
        loader.as_transforms([from_path[0], 3], origin="test")


def test_entry_points(rules_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pack_paths.py").write_text(f"RULES_PATH = {str(rules_file)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = importlib.metadata.EntryPoint("mine", "pack_paths:RULES_PATH", loader.ENTRY_POINT_GROUP)
    broken = importlib.metadata.EntryPoint("broken", "no_such_module:X", loader.ENTRY_POINT_GROUP)

    def entry_points(group: str):  # type: ignore[no-untyped-def]
        assert group == loader.ENTRY_POINT_GROUP
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    found = [entry]
    assert [t.name for t in loader.load_entry_points()] == ["drop_double_neg", "cleanups"]
    found = [entry, broken]
    with pytest.raises(UsageError, match="rules entry point 'broken' \\(no_such_module:X\\) failed to load"):
        loader.load_entry_points()


def test_a_rule_file_runs_in_a_pipeline(rules_file: Path) -> None:
    from graphrewrite import _tf
    from graphrewrite.pipeline import compile_pipeline, run_pipeline
    from graphrewrite.runner import run_graph

    tf = _tf.tf()
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [3], name="x")
        tf.identity(tf.negative(tf.negative(x)) * 2.0, name="out")
    steps = compile_pipeline("cleanups", rule_files=[rules_file])
    result = run_pipeline(g.as_graph_def(), steps, inputs=["x"], outputs=["out"])
    assert not any(n.op == "Neg" for n in result.graph_def.node)
    assert result.report.steps[0].applied == 1
    (value,) = run_graph(result.graph_def, {"x": np.ones(3, np.float32)}, ["out"])
    assert value.tolist() == [2.0, 2.0, 2.0]
