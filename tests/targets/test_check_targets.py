"""The shipped target tables are well formed, and check works the same for every target."""

from __future__ import annotations

import pytest

from graphrewrite.engine.errors import NameNotFoundError
from graphrewrite.targets import checks

TARGETS = ["onnx", "opencv", "openvino", "tf", "tflite", "tfserving"]


def test_every_brief_target_is_shipped():
    assert checks.target_names() == TARGETS


@pytest.mark.parametrize("name", TARGETS)
def test_table_is_well_formed(name):
    target = checks.load_target(name)
    assert target.name == name and target.mode in {"allow", "deny", "registry"}
    if target.mode == "registry":
        assert target.version and not target.ops
    else:
        assert target.ops, "an allow or deny list with no ops"
        assert set(target.fixes) <= set(target.fixes) | target.ops
    if target.mode == "allow":
        assert {"Placeholder", "Const"} <= target.ops


def test_fixes_name_known_transforms():
    from graphrewrite.engine.errors import LanguageError
    from graphrewrite.pipeline import compile_pipeline

    for name in TARGETS:
        target = checks.load_target(name)
        fixes = [*target.fixes.values(), *(r.fix for r in target.restrictions if r.fix)]
        for fix in fixes:
            head = fix.split(" (")[0].split(" when")[0]
            if head.startswith(("freeze the graph", "none in graphrewrite")):
                continue
            for alternative in head.split(" or "):
                try:
                    compile_pipeline(alternative.strip())
                except LanguageError as exc:  # a fix may leave a parameter to the user, never a name
                    assert not any("unknown" in d.message for d in exc.diagnostics), (name, fix)


def test_unknown_target_suggests():
    with pytest.raises(NameNotFoundError, match="did you mean 'opencv'"):
        checks.load_target("opencvv")
