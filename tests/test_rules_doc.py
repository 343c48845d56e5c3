"""docs/rules.md is generated from the rule registry and must match it."""

from __future__ import annotations

import re
from pathlib import Path

from perfeval_xl.findings import RULES, rules_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_rules_doc_is_current():
    assert DOC.read_text(encoding="utf-8") == rules_markdown(), (
        "run: perfeval-xl rules > docs/rules.md"
    )


def test_codes_are_stable_and_well_formed():
    for code, rule in RULES.items():
        assert re.fullmatch(r"[EW]\d{3}", code)
        assert rule.severity == ("error" if code[0] == "E" else "warning")
        for text in (rule.what, rule.why, rule.fix):
            assert text.zh and text.en


def test_every_code_used_in_the_package_is_registered():
    package = Path(__file__).resolve().parent.parent / "perfeval_xl"
    used = set()
    for path in package.glob("*.py"):
        used |= set(re.findall(r'"([EW]\d{3})"', path.read_text(encoding="utf-8")))
    assert used <= set(RULES)
