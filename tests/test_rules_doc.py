"""docs/rules.md is generated from the rule registry and must match it."""

from __future__ import annotations

import re
from pathlib import Path

from perfeval_xl.findings import RULES, rules_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_rules_doc_is_current():
    # docs/rules.md is what `perfeval-xl rules` prints by default: Chinese headings and
    # introduction, every row in both languages
    assert DOC.read_text(encoding="utf-8") == rules_markdown("zh"), (
        "run: perfeval-xl rules > docs/rules.md"
    )


def test_rules_doc_in_english_differs_in_headings_only():
    zh, en = rules_markdown("zh"), rules_markdown("en")
    assert zh.startswith("# 检查规则：`perfeval-xl check` 报告的问题\n")
    assert en.startswith("# Rules: what `perfeval-xl check` reports\n")
    rule = "|---|---|---|---|---|---|\n"
    assert "| 代码 | 级别 | 检查内容 | 原因 | 改正方法 | 自检 |\n" + rule in zh
    assert (
        "| code | severity | what it checks | why | how to fix | 自检 self-check |\n" + rule in en
    )
    assert zh.split(rule)[1] == en.split(rule)[1]
    assert len(zh.split(rule)[1].splitlines()) == len(RULES)


def test_codes_are_stable_and_well_formed():
    for code, rule in RULES.items():
        assert re.fullmatch(r"[EWI]\d{3}", code)
        assert rule.severity == {"E": "error", "W": "warning", "I": "info"}[code[0]]
        for text in (rule.what, rule.why, rule.fix):
            assert text.zh and text.en


def test_every_code_used_in_the_package_is_registered():
    package = Path(__file__).resolve().parent.parent / "perfeval_xl"
    used = set()
    for path in package.glob("*.py"):
        used |= set(re.findall(r'"([EWI]\d{3})"', path.read_text(encoding="utf-8")))
    assert used <= set(RULES)
