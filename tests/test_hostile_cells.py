"""Hostile inputs, part three (issue 15): a workbook damaged in one place gives a clear finding
for that place, and the rest of it is read as usual; never a silent wrong value, never a
Python message.

- a contract name defined twice, pointing at two cells (two workbook-level definitions, or a
  copied form sheet whose own names shadow the workbook's): E017, and neither is read;
- the template's hidden `_lists` or `_meta` sheet deleted or renamed: W018 (E007 alone when the
  form id is gone with it; E701 besides under `--key`);
- one damaged cell (a style index past the styles, a shared-string index out of range or
  negative, a number cell holding `0x5F`), which makes openpyxl refuse the whole file: E019
  at that cell, the cell read as missing, everything else read; a file that truly cannot be
  read is E001 with what to do, never an exception's text.

Each case is built from a filled template the way a unit's program or a tool would leave it,
and checked through both readers: `check` (openpyxl, falling back to the fast reader for
damaged cells) and `collect`'s `check_item` (the fast reader). `CASES` (kind → file name,
builder, codes) is for the hostile corpus's one `collect` run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from helpers import INDICATORS, coordinate, named_cell, staged
from openpyxl.workbook.defined_name import DefinedName
from test_bad_files import CT_MAIN, rewrite

from perfeval_xl.findings import ERROR, RULES
from perfeval_xl.office.collect import Item, check_item
from perfeval_xl.review.checks import CheckResult, check_workbook

SHEET = "自评表"
SHEET1 = "xl/worksheets/sheet1.xml"
#: What a Python exception's text looks like in a message (IndexError: …, ParseError, …).
PYTHON_TEXT = re.compile(
    r"\b\w*(?:Error|Exception|Forbidden|Warning)\b|BadZipFile|Traceback|StopIteration"
)


# -- building the files ------------------------------------------------------------------------
def _replace_once(text: str, pattern: str, new: str) -> str:
    text, n = re.subn(pattern, new, text, count=1)
    assert n == 1, pattern
    return text


def _edited(dest: Path, edits: Callable[[bytes], dict[str, Callable[[str], str]]]) -> Path:
    """The staged form at `dest` with its parts edited (`edits(data)` gives them)."""
    data = staged(dest).read_bytes()
    dest.write_bytes(rewrite(data, edits(data)))
    return dest


def build_dup_workbook_name(dest: Path) -> Path:
    """A second workbook-level pe_fund_fiscal_spent, on the empty cell below the real one (as
    a tool merging two workbooks' names may write it), listed first."""

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        cell = coordinate(data, "pe_fund_fiscal_spent")  # G9
        below = f"${cell[0]}${int(cell[1:]) + 1}"
        extra = f"<definedName name=\"pe_fund_fiscal_spent\">'{SHEET}'!{below}</definedName>"
        return {
            "xl/workbook.xml": lambda t: _replace_once(
                t, '<definedName name="pe_fund_fiscal_spent">', extra + r"\g<0>"
            )
        }

    return _edited(dest, edits)


def _copy_form_sheet(wb) -> None:
    """The form sheet copied (structure protection off, as LibreOffice leaves it) and another
    unit name typed into the copy; Excel gives the copy its own names for the sheet's cells,
    here pe_unit_name, shadowing the workbook's."""
    wb.security = None
    original = named_cell(wb, "pe_unit_name")
    copy = wb.copy_worksheet(wb[SHEET])
    copy.title = f"{SHEET} (2)"
    copy[original.coordinate].value = "另一个实施单位"
    ref = f"'{copy.title}'!${original.column_letter}${original.row}"
    copy.defined_names["pe_unit_name"] = DefinedName("pe_unit_name", attr_text=ref)


def build_dup_sheet_name(dest: Path) -> Path:
    return staged(dest, "national-2020", _copy_form_sheet)


def _without_sheet(title: str) -> Callable:
    def change(wb) -> None:
        wb.security = None
        del wb[title]

    return change


def _renamed_sheet(title: str, new: str) -> Callable:
    def change(wb) -> None:
        wb.security = None
        wb[title].title = new

    return change


def build_lists_deleted(dest: Path) -> Path:
    return staged(dest, "national-2020", _without_sheet("_lists"))


def build_lists_renamed(dest: Path) -> Path:
    return staged(dest, "national-2020", _renamed_sheet("_lists", "下拉选项"))


def build_meta_deleted(dest: Path) -> Path:
    return staged(dest, "national-2020", _without_sheet("_meta"))


def build_meta_renamed(dest: Path) -> Path:
    return staged(dest, "national-2020", _renamed_sheet("_meta", "Sheet4"))


def build_cell_style_9999(dest: Path) -> Path:
    """The 实施单位 cell's style index past the styles' end (cellXfs has ~40)."""

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        cell = coordinate(data, "pe_unit_name")
        return {SHEET1: lambda t: _replace_once(t, rf'(<c r="{cell}" s=")\d+"', r'\g<1>9999"')}

    return _edited(dest, edits)


def _shared_string(index: str) -> Callable[[Path], Path]:
    """The 主管部门 text moved into a shared-strings part (as Excel and WPS save texts), and
    its cell's index changed to `index`: one past the table, or negative."""

    def build(dest: Path) -> Path:
        def edits(data: bytes) -> dict[str, Callable[[str], str]]:
            cell = coordinate(data, "pe_dept_name")
            sst = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'count="2" uniqueCount="2"><si><t>中共攀枝花市仁和区委宣传部</t></si>'
                "<si><t>备用文字</t></si></sst>"
            )
            return {
                "xl/sharedStrings.xml": lambda _: sst,
                "[Content_Types].xml": lambda t: _replace_once(
                    t,
                    "</Types>",
                    '<Override PartName="/xl/sharedStrings.xml" '
                    f'ContentType="{CT_MAIN}.sharedStrings+xml" /></Types>',
                ),
                "xl/_rels/workbook.xml.rels": lambda t: _replace_once(
                    t,
                    "</Relationships>",
                    '<Relationship Type="http://schemas.openxmlformats.org/officeDocument/'
                    '2006/relationships/sharedStrings" Target="sharedStrings.xml" Id="rId99" />'
                    "</Relationships>",
                ),
                SHEET1: lambda t: _replace_once(
                    t,
                    rf'(<c r="{cell}" s="\d+" t=)"inlineStr"><is><t>[^<]*</t></is>',
                    rf'\g<1>"s"><v>{index}</v>',
                ),
            }

        return _edited(dest, edits)

    return build


build_cell_string_99999 = _shared_string("99999")
build_cell_string_minus_1 = _shared_string("-1")


def build_cell_number_hex(dest: Path) -> Path:
    """全年执行数 95 written as `0x5F` in a number cell (no spreadsheet reads that)."""

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        cell = coordinate(data, "pe_fund_fiscal_spent")
        return {
            SHEET1: lambda t: _replace_once(
                t, rf'(<c r="{cell}"[^>]*>)<v>95</v>', r"\g<1><v>0x5F</v>"
            )
        }

    return _edited(dest, edits)


#: kind → (file name, builder, codes every check of it must report).
CASES: dict[str, tuple[str, Callable[[Path], Path], tuple[str, ...]]] = {
    "dup-workbook-name": ("名称重复.xlsx", build_dup_workbook_name, ("E017", "E304")),
    "dup-sheet-name": ("复制了工作表.xlsx", build_dup_sheet_name, ("E017",)),
    "lists-deleted": ("删了下拉表.xlsx", build_lists_deleted, ("W018",)),
    "lists-renamed": ("改了下拉表名.xlsx", build_lists_renamed, ("W018",)),
    "meta-deleted": ("删了标识表.xlsx", build_meta_deleted, ("W018",)),
    "meta-renamed": ("改了标识表名.xlsx", build_meta_renamed, ("W018",)),
    "cell-style-9999": ("格式损坏.xlsx", build_cell_style_9999, ("E019", "E101")),
    "cell-string-99999": ("文字编号越界.xlsx", build_cell_string_99999, ("E019", "E101")),
    "cell-string-minus-1": ("文字编号为负.xlsx", build_cell_string_minus_1, ("E019", "E101")),
    "cell-number-hex": ("十六进制数.xlsx", build_cell_number_hex, ("E019", "E304")),
}

#: kind → the one finding of its own code: (code, sheet, cell, field).
WHERE = {
    "dup-workbook-name": ("E017", SHEET, None, None),
    "dup-sheet-name": ("E017", SHEET, None, None),
    "lists-deleted": ("W018", "_lists", None, None),
    "lists-renamed": ("W018", "_lists", None, None),
    "meta-deleted": ("W018", "_meta", None, None),
    "meta-renamed": ("W018", "_meta", None, None),
    "cell-style-9999": ("E019", SHEET, "B6", "unit_name"),
    "cell-string-99999": ("E019", SHEET, "B5", "dept_name"),
    "cell-string-minus-1": ("E019", SHEET, "B5", "dept_name"),
    "cell-number-hex": ("E019", SHEET, "G9", "fund_fiscal_spent"),
}
#: kind → the field its damage leaves unread (None: every field is read).
UNREAD = {
    "dup-workbook-name": "fund_fiscal_spent",
    "dup-sheet-name": "unit_name",
    "cell-style-9999": "unit_name",
    "cell-string-99999": "dept_name",
    "cell-string-minus-1": "dept_name",
    "cell-number-hex": "fund_fiscal_spent",
}


# -- the two readers -----------------------------------------------------------------------------
def thorough(path: Path, **kw) -> CheckResult:
    return check_workbook(path, **kw)


def fast(path: Path, key: bytes | None = None) -> CheckResult:
    """As `collect` checks a file (its findings name the file as given)."""
    return check_item(Item(str(path), str(path), None, datetime(2023, 1, 1)), key=key)


def _rows(result: CheckResult) -> list[tuple]:
    return [(f.code, f.severity, f.sheet, f.cell, f.field, str(f.message)) for f in result.findings]


def _messages(result: CheckResult) -> list[str]:
    return [f.message.render(lang) for f in result.findings for lang in ("zh", "en")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-cells")
    return {kind: build(folder / name) for kind, (name, build, _) in CASES.items()}


@pytest.mark.parametrize("kind", list(CASES))
def test_case_through_both_readers(built, kind):
    path = built[kind]
    results = {"check": thorough(path), "collect": fast(path)}
    assert _rows(results["check"]) == _rows(results["collect"])
    for result in results.values():
        codes = [f.code for f in result.findings]
        assert set(CASES[kind][2]) <= set(codes), codes
        code, sheet, cell, field = WHERE[kind]
        (own,) = [f for f in result.findings if f.code == code]
        assert (own.sheet, own.cell, own.field) == (sheet, cell, field)
        assert own.severity == RULES[code].severity
        rec = result.record
        assert rec is not None
        assert rec.fields["project_name"].value == f"{path.stem}项目"  # the rest is read
        assert rec.fields["fund_fiscal_budget"].value == 100
        unread = UNREAD.get(kind)
        for name in ("unit_name", "dept_name", "fund_fiscal_spent"):
            got = rec.fields.get(name)
            if name == unread:
                assert got is None or got.value is None, got
            else:
                assert got is not None and got.value is not None, name
        assert len(rec.indicators) == 5
        for text in _messages(result):
            assert not PYTHON_TEXT.search(text), text
            assert "\n" not in text


def test_dup_names_say_where_each_definition_points(built):
    (f,) = [f for f in thorough(built["dup-workbook-name"]).findings if f.code == "E017"]
    zh = f.message.render("zh")
    assert "pe_fund_fiscal_spent" in zh
    assert "'自评表'!$G$10" in zh and "'自评表'!$G$9" in zh
    assert f.severity == ERROR
    (f,) = [f for f in thorough(built["dup-sheet-name"]).findings if f.code == "E017"]
    assert "pe_unit_name" in f.message.render("en")
    assert "'自评表'!$B$6" in f.message.render("en")
    assert "'自评表 (2)'!$B$6" in f.message.render("en")
    assert "另一个实施单位" not in str(fast(built["dup-sheet-name"]).record.fields)


def test_a_name_defined_twice_on_the_same_cell_is_read(tmp_path):
    """Two definitions of one place (written two ways) cannot give a wrong value: no E017."""

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        extra = f'<definedName name="PE_FUND_FISCAL_SPENT">{SHEET}!G9</definedName>'
        return {
            "xl/workbook.xml": lambda t: _replace_once(
                t, '<definedName name="pe_fund_fiscal_spent">', extra + r"\g<0>"
            )
        }

    path = _edited(tmp_path / "same.xlsx", edits)
    for result in (thorough(path), fast(path)):
        assert [f.code for f in result.findings] == []
        assert result.record.fields["fund_fiscal_spent"].value == 95


def test_names_differing_in_case_are_one_name(tmp_path):
    """Excel's names ignore case: PE_FUND_FISCAL_SPENT elsewhere is the same name twice."""

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        extra = f"<definedName name=\"PE_FUND_FISCAL_SPENT\">'{SHEET}'!$A$1</definedName>"
        return {
            "xl/workbook.xml": lambda t: _replace_once(
                t, '<definedName name="pe_fund_fiscal_spent">', extra + r"\g<0>"
            )
        }

    path = _edited(tmp_path / "case.xlsx", edits)
    assert _rows(thorough(path)) == _rows(fast(path))
    assert "E017" in [f.code for f in thorough(path).findings]


def test_damaged_indicator_cell_keeps_its_row(tmp_path):
    """A row whose one filled cell is damaged is still an indicator row (not passed over as
    blank): E019 at the cell, and the row's usual finding (E401: no 三级 name)."""
    rows = [*INDICATORS, {"name": "只填了名称"}]

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        first = coordinate(data, "pe_ind_name")  # D15
        cell = f"{first[0]}{int(first[1:]) + 5}"
        return {SHEET1: lambda t: _replace_once(t, rf'(<c r="{cell}" s=")\d+"', r'\g<1>9999"')}

    data = staged(tmp_path / "indicator.xlsx", indicators=rows).read_bytes()
    path = tmp_path / "indicator.xlsx"
    path.write_bytes(rewrite(data, edits(data)))
    for result in (thorough(path), fast(path)):
        found = {(f.code, f.cell, f.field) for f in result.findings}
        assert ("E019", "D20", "ind_name") in found, found
        assert ("E401", "D20", "ind_name") in found, found
        assert len(result.record.indicators) == 6


@pytest.mark.parametrize("text", ["NaN", "INF", "-INF"])
def test_non_finite_number_cell_is_read_as_one(tmp_path, text):
    """INF and NaN are xsd:double values (Excel never writes them): not damage, but the
    number they are, E203 (openpyxl refuses the whole file for them)."""

    def edits(data: bytes) -> dict[str, Callable[[str], str]]:
        cell = coordinate(data, "pe_fund_fiscal_budget")
        return {
            SHEET1: lambda t: _replace_once(
                t, rf'(<c r="{cell}"[^>]*>)<v>100</v>', rf"\g<1><v>{text}</v>"
            )
        }

    path = _edited(tmp_path / "nan.xlsx", edits)
    for result in (thorough(path), fast(path)):
        assert result.record is not None
        assert ("E203", "F9") in {(f.code, f.cell) for f in result.findings}
        assert "E019" not in {f.code for f in result.findings}


def test_meta_and_properties_gone_is_e007_alone(tmp_path):
    """With the form id gone from both places, the file is no template: E007, nothing piled
    on it (W018 says nothing more)."""
    path = staged(tmp_path / "no-id.xlsx", "national-2020", _without_sheet("_meta"))
    path.write_bytes(
        rewrite(
            path.read_bytes(),
            {"docProps/custom.xml": lambda t: re.sub(r"perfeval_form_id", "other_prop", t)},
        )
    )
    for result in (thorough(path), fast(path)):
        assert [f.code for f in result.findings] == ["E007"]


def test_meta_deleted_under_key_is_w018_and_e701(tmp_path):
    from test_sign import signed_filled

    from perfeval_xl.sign import load_key

    key = load_key(tmp_path / "office.key", create=True)
    path = signed_filled(tmp_path, key, _without_sheet("_meta"))
    for result in (thorough(path, key=key), fast(path, key=key)):
        codes = sorted(f.code for f in result.findings)
        assert codes == ["E701", "W018"], codes
    assert [f.code for f in thorough(path).findings] == ["W018"]  # without --key too


@pytest.mark.parametrize(
    ("part", "edit"),
    [
        pytest.param(SHEET1, lambda t: t.replace("</row>", "", 1), id="sheet-not-well-formed"),
        pytest.param("xl/styles.xml", lambda t: t[: len(t) // 2], id="styles-cut-off"),
    ],
)
def test_unreadable_file_says_what_to_do(tmp_path, part, edit):
    """A file that truly cannot be read is E001, in words a unit can act on."""
    path = staged(tmp_path / "broken.xlsx")
    path.write_bytes(rewrite(path.read_bytes(), {part: edit}))
    for result in (thorough(path), fast(path)):
        assert result.record is None
        (f,) = result.findings
        assert f.code == "E001"
        for text in (f.message.render("zh"), f.message.render("en")):
            assert not PYTHON_TEXT.search(text), text
            assert "\n" not in text
        assert "另存为" in f.message.render("zh") and "原模板" in f.message.render("zh")


def test_clean_file_reads_clean_on_both_paths(tmp_path):
    """Control: the staged form itself has no finding on either path."""
    path = staged(tmp_path / "clean.xlsx")
    assert _rows(thorough(path)) == _rows(fast(path)) == []
