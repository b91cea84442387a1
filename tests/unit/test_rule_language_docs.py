"""docs/rule-language.md stays true: every library function is documented there, and the
page's example rules compile."""

from __future__ import annotations

import re
from pathlib import Path

from graphrewrite.rules.functions import FUNCTIONS
from graphrewrite.rules.loader import load_rules_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "rule-language.md"


def test_every_function_is_documented() -> None:
    text = DOC.read_text()
    missing = [name for name in FUNCTIONS if f"`{name}(" not in text]
    assert not missing, f"functions missing from {DOC.name}: {missing}"


def test_the_rules_on_the_page_compile() -> None:
    blocks = re.findall(r"^```([a-z]*)\n(.*?)^```$", DOC.read_text(), flags=re.S | re.M)
    blocks = [body for language, body in blocks if not language]
    rule_blocks = [
        b for b in blocks if b.lstrip().startswith(("rule ", "# my.rules")) and "PATTERN" not in b  # not the syntax outline
    ]
    assert len(rule_blocks) >= 2
    for block in rule_blocks:
        assert load_rules_text(block, source="rule-language.md", validate=True)
