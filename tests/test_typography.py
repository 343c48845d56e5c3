"""Chinese typography of the messages: a space between Chinese and a Latin word or a number.

The messages write `不是 Excel 工作簿`, `第 3 行`, `20 MiB`, `超过 100%`: a space on either side of
a run of Latin letters or digits that stands next to Chinese (full-width punctuation needs none:
`（.xlsx）`). Quoted text is exempt, because it shows a value as it is typed (“≥12次”, 「2022年」),
and so is an example command line (a `\\b` block of a help text: `2022汇总.xlsx` is a file name).
"""

from __future__ import annotations

import re

import pytest
from badfiles import ods, ole, plain_zip

from perfeval_xl import build_template, load_spec
from perfeval_xl.clitext import CLICK, ZH
from perfeval_xl.findings import RULES, self_check_note
from perfeval_xl.intake import safety
from perfeval_xl.intake.safety import inspect_bytes, inspect_file

_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff]"
#: Chinese directly before or after a Latin letter or a digit.
MISSING_SPACE = re.compile(rf"{_HAN}[A-Za-z0-9]|[A-Za-z0-9]{_HAN}")
#: Quoted values, shown as typed.
QUOTED = re.compile(r"“[^”]*”|「[^」]*」|‘[^’]*’|`[^`]*`|\"[^\"]*\"|'[^']*'")


def missing_spaces(text: str) -> list[str]:
    """The places in `text` where Chinese touches a Latin word or a number."""
    plain = QUOTED.sub("〃", text)
    return [plain[max(m.start() - 8, 0) : m.end() + 8] for m in MISSING_SPACE.finditer(plain)]


def test_the_rule():
    assert missing_spaces("不是Excel 工作簿") == ["不是Excel 工作簿"]
    assert missing_spaces("第3行") == ["第3行"]
    assert missing_spaces("共 20 MiB，第 3 行，超过 100%，像是 PDF 文件（.xlsx）") == []
    assert missing_spaces("写成“≥12次”或「2022年」") == []


def test_rules_texts():
    found = {
        f"{code} {kind}": gaps
        for code, rule in RULES.items()
        for kind, text in (
            ("what", rule.what),
            ("why", rule.why),
            ("fix", rule.fix),
            ("自检", self_check_note(code)),
        )
        if (gaps := missing_spaces(text.zh))
    }
    assert not found


@pytest.fixture(scope="module")
def template() -> bytes:
    return build_template(load_spec("national-2020"))


def _safety_samples(template: bytes) -> dict[str, bytes]:
    """A file for each answer of the safety gate that a file's bytes or name lead to."""
    samples: dict[str, bytes] = {
        "~$lock.xlsx": b"x",
        "empty.xlsx": b"",
        "encrypted.xlsx": ole("EncryptedPackage"),
        "legacy.xlsx": ole("Workbook"),
        "word.xlsx": ole("WordDocument"),
        "html.xlsx": b"<html><table></table></html>",
        "xml.xlsx": b"<?xml version='1.0'?><a/>",
        "csv.xlsx": "名称,金额\n项目,100\n".encode(),
        "binary.xlsx": bytes(range(256)) * 4,
        "zip.xlsx": plain_zip({"a.txt": b"x"}),
        "docx.xlsx": plain_zip({"[Content_Types].xml": b"<a/>", "word/document.xml": b"<a/>"}),
        "pptx.xlsx": plain_zip({"[Content_Types].xml": b"<a/>", "ppt/presentation.xml": b"<a/>"}),
        "ods.xlsx": ods(),
        "truncated.xlsx": template[: len(template) // 2],
        "unsafe.xlsx": plain_zip({"../evil.xml": b"x", "xl/workbook.xml": b"<a/>"}),
        "many.xlsx": plain_zip({f"x/{i}.xml": b"" for i in range(safety.MAX_MEMBERS + 1)}),
        "vba.xlsx": plain_zip(
            {"[Content_Types].xml": b"<a/>", "xl/workbook.xml": b"<a/>", "xl/vbaProject.bin": b""}
        ),
        "macro-types.xlsx": plain_zip(
            {"[Content_Types].xml": b"<a macroEnabled='1'/>", "xl/workbook.xml": b"<a/>"}
        ),
        "huge.xlsx": b"PK\x03\x04" + bytes(safety.MAX_FILE_BYTES),
    }
    for magic, _, _ in safety._MAGIC_KINDS:
        samples[f"magic-{magic[:3].hex()}.xlsx"] = magic + bytes(64)
    for ext in (*safety._FORMATS, *safety._MACRO_FORMATS):
        samples[f"file{ext}"] = b"x"
    return samples


def test_safety_messages(template, tmp_path):
    messages = {}
    for name, data in _safety_samples(template).items():
        found = inspect_bytes(name, data)
        assert found is not None, name
        messages[f"{name} {found.code}"] = found.message.zh
    (tmp_path / "folder.xlsx").mkdir()
    for path in (tmp_path / "folder.xlsx", tmp_path / "missing.xlsx"):
        found = inspect_file(path)[1]
        messages[f"{path.name} {found.code}"] = found.message.zh
    # every kind of file the gate names, also those spliced into a sentence
    assert any("像是 PDF 文件" in m for m in messages.values())
    assert any("内容是 OpenDocument 电子表格" in m for m in messages.values())
    found = {name: gaps for name, text in messages.items() if (gaps := missing_spaces(text))}
    assert not found


def test_command_line_texts():
    texts = {**{f"ZH {k[:40]!r}": v for k, v in ZH.items()}, **CLICK}
    found = {}
    for name, text in texts.items():
        # an example command line (a paragraph after a line of \b) is shown as typed
        prose = "\n\n".join(p for p in text.split("\n\n") if not p.strip().startswith("\b"))
        if gaps := missing_spaces(prose):
            found[name] = gaps
    assert not found
