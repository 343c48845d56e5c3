"""Limits that keep the office's machine safe: bloated sheets and external links."""

from __future__ import annotations

from helpers import filled, with_parts

from perfeval_xl.intake import safety
from perfeval_xl.review.checks import check_workbook


def _with_part(path, name: str, content: bytes):
    path.write_bytes(with_parts(path.read_bytes(), {name: lambda _: content}))
    return path


def test_external_links_are_reported_not_followed(tmp_path):
    path = _with_part(
        filled(tmp_path, "national-2020"),
        "xl/externalLinks/externalLink1.xml",
        b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<externalBook r:id="rId1" xmlns:r="x"/></externalLink>',
    )
    result = check_workbook(path)
    assert [f.code for f in result.findings] == ["W015"]
    assert "xl/externalLinks/externalLink1.xml" in result.findings[0].message.render("en")
    assert result.record is not None


def test_a_bloated_sheet_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_SHEET_BYTES", 20_000)  # a real form sheet is ~40 KB here
    result = check_workbook(filled(tmp_path, "national-2020"))
    assert [f.code for f in result.findings] == ["E005"]
    assert "xl/worksheets/sheet1.xml" in result.findings[0].message.render("en")
    assert result.record is None
