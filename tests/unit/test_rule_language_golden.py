"""Golden snapshots: every file in tests/golden/rules/errors/ fails to compile with exactly the
caret output in its ``.err`` twin; tests/golden/rules/parse/ files compile to the summary in
their ``.out`` twin. Regenerate with GRAPHREWRITE_UPDATE_GOLDEN=1 (then read the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graphrewrite.engine.errors import LanguageError
from graphrewrite.rules.loader import load_rules_text
from graphrewrite.rules.rule import Group, Rule

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "rules"
UPDATE = os.environ.get("GRAPHREWRITE_UPDATE_GOLDEN") == "1"


def _check(actual: str, expected_path: Path) -> None:
    if UPDATE:
        expected_path.write_text(actual)
    assert expected_path.exists(), f"missing snapshot {expected_path}; run with GRAPHREWRITE_UPDATE_GOLDEN=1"
    assert actual == expected_path.read_text()


@pytest.mark.parametrize("path", sorted((GOLDEN / "errors").glob("*.rules")), ids=lambda p: p.stem)
def test_error_snapshot(path: Path) -> None:
    with pytest.raises(LanguageError) as info:
        load_rules_text(path.read_text(), source=path.name, validate=True)
    _check(str(info.value) + "\n", path.with_suffix(".err"))


def _summary(transforms) -> str:  # type: ignore[no-untyped-def]
    lines = []
    for t in transforms:
        if isinstance(t, Group):
            lines.append(f"group {t.name}: {t.doc}")
            lines.append("    rules: " + " ".join(r.name for r in t.rules))
        elif isinstance(t, Rule):
            lines.append(f"rule {t.name} ({t.source}): {t.doc}")
            program = t.builder.__self__
            names = sorted(n for n in program.bindings if not n.startswith("%"))
            lines.append("    binds: " + " ".join(f"{n}:{'node' if program.bindings[n].is_node else 'tensor'}" for n in names))
            lines += [f"    where: {w.text}" for w in program.wheres]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", sorted((GOLDEN / "parse").glob("*.rules")), ids=lambda p: p.stem)
def test_parse_snapshot(path: Path) -> None:
    transforms = load_rules_text(path.read_text(), source=path.name, validate=True)
    _check(_summary(transforms), path.with_suffix(".out"))
