"""绩效指标 and 问题清单 continue on sheets 绩效指标(2), 问题清单(2) … before Excel's limit of
1,048,576 rows a sheet. The limit is lowered with monkeypatch (a million rows would take
minutes); the files are real summaries, read back cell by cell with openpyxl and compared
with the same collection's summary on one sheet each, and opened and saved again by
LibreOffice."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
from openpyxl.utils import get_column_letter as letter
from soffice import convert
from test_summary import GENERATED, RECEIVED, submit

from perfeval_xl import build_template, load_spec
from perfeval_xl.errors import Text
from perfeval_xl.findings import Finding
from perfeval_xl.office import summary
from perfeval_xl.office.collect import Collection, Item, Submission
from perfeval_xl.office.summary import build_summary, continuation_names, write_summary
from perfeval_xl.review.checks import check_workbook

#: The lowered limit: a header and 49 data rows a sheet.
LIMIT = 50
PER_SHEET = LIMIT - 1
#: 26 projects of 5 indicators: 130 indicator rows, on 3 sheets of 49, 49 and 32 rows.
PROJECTS = 26
INDICATOR_SHEETS = ["绩效指标", "绩效指标(2)", "绩效指标(3)"]
#: the inbox's own findings (W604s of a roster), with the files' E301s more than 2 sheets' worth
INBOX_FINDINGS = 90
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.fixture(scope="module")
def coll(tmp_path_factory) -> Collection:
    tmp = tmp_path_factory.mktemp("split")
    subs = []
    for i in range(PROJECTS):
        over = {"project_name": f"第{i:02}号项目", "dept_code": f"10910{i % 3}"}
        if i % 4 == 0:  # spent over budget: E301 on the 财政拨款 row and on the total
            over["fund_fiscal_spent"] = 120
        form = "sichuan-2022" if i == 5 else "national-2020"
        subs.append(submit(tmp, f"p{i:02}", form, **over))
    inbox = [
        Finding(
            "W604",
            "warning",
            "名册.csv",
            None,
            None,
            "project_name",
            Text(f"未收到第{n}行的项目", f"row {n} missing"),
        )
        for n in range(INBOX_FINDINGS)
    ]
    # roster=[]: 报送情况 (every project 名册外) comes after the continuations
    return Collection(inbox=str(tmp), submissions=subs, findings=inbox, roster=[])


def _findings_count(coll: Collection) -> int:
    return sum(len(s.result.findings) for s in coll.submissions) + len(coll.findings)


@pytest.fixture(scope="module")
def unsplit(coll, tmp_path_factory) -> Path:
    return write_summary(coll, tmp_path_factory.mktemp("one") / "汇总.xlsx", generated=GENERATED)


@pytest.fixture(scope="module")
def split(coll, tmp_path_factory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(summary, "SHEET_ROW_LIMIT", LIMIT)
        out = tmp_path_factory.mktemp("split") / "汇总.xlsx"
        return write_summary(coll, out, generated=GENERATED)


def finding_sheets(coll: Collection) -> list[str]:
    count = -(-_findings_count(coll) // PER_SHEET)
    return ["问题清单", *(f"问题清单({n})" for n in range(2, count + 1))]


def look(cell) -> tuple:
    """A cell's font, fill, border and alignment (across workbooks: their style ids differ)."""
    return tuple(repr(getattr(cell, k)) for k in ("font", "fill", "border", "alignment"))


def _rounded(row: tuple) -> tuple:
    return tuple(float(f"{v:.14g}") if isinstance(v, float) else v for v in row)


def rows(ws) -> list[tuple]:
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_the_collection_needs_three_sheets_of_each(coll):
    assert sum(len(s.result.record.indicators) for s in coll.projects) == 130
    assert 2 * PER_SHEET < _findings_count(coll) <= 3 * PER_SHEET


def test_sheet_names_and_order(coll, split, unsplit):
    assert openpyxl.load_workbook(unsplit).sheetnames == [
        "部门汇总",
        "项目明细",
        "绩效指标",
        "问题清单",
        "报送情况",
    ]
    assert openpyxl.load_workbook(split).sheetnames == [
        "部门汇总",
        "项目明细",
        *INDICATOR_SHEETS,
        *finding_sheets(coll),
        "报送情况",
    ]
    assert len(finding_sheets(coll)) == 3


@pytest.mark.parametrize("first", ["绩效指标", "问题清单"])
def test_rows_across_the_sheets_are_the_unsplit_rows(coll, split, unsplit, first):
    one = openpyxl.load_workbook(unsplit)[first]
    wb = openpyxl.load_workbook(split)
    names = INDICATOR_SHEETS if first == "绩效指标" else finding_sheets(coll)
    header, *data = rows(one)
    got = []
    for n, name in enumerate(names):
        ws = wb[name]
        part = rows(ws)
        assert part[0] == header, name  # the same header on every sheet
        assert ws.max_row <= LIMIT, name  # no sheet passes the limit
        if n < len(names) - 1:
            assert ws.max_row == LIMIT, name  # a sheet is full before the next begins
        got += part[1:]
    assert got == data
    assert len(data) > 2 * PER_SHEET


@pytest.mark.parametrize("first", ["绩效指标", "问题清单"])
def test_every_sheet_looks_and_prints_as_the_first(coll, split, unsplit, first):
    """Cell formats, column widths, row heights, frozen header, filter, print setup."""
    one = openpyxl.load_workbook(unsplit)[first]
    wb = openpyxl.load_workbook(split)
    names = INDICATOR_SHEETS if first == "绩效指标" else finding_sheets(coll)
    last_col = letter(one.max_column)
    widths = {k: d.width for k, d in one.column_dimensions.items()}
    offset = 0  # the unsplit row of each split sheet's first data row, less 2
    for name in names:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref == f"A1:{last_col}{ws.max_row}", name
        assert ws.print_title_rows == "$1:$1", name
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "landscape"
        assert ws.page_setup.pageOrder == "overThenDown", name
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True, name
        assert ws.page_setup.fitToHeight == 0, name
        assert ws.oddHeader.left.text == "&A" and "&P" in ws.oddFooter.center.text, name
        assert {k: d.width for k, d in ws.column_dimensions.items()} == widths, name
        assert ws.row_dimensions[1].height == one.row_dimensions[1].height
        for r in range(1, ws.max_row + 1):
            src = 1 if r == 1 else r + offset
            if r > 1:
                assert ws.row_dimensions[r].height == one.row_dimensions[src].height, (name, r)
            for c in range(1, one.max_column + 1):
                a, b = ws.cell(r, c), one.cell(src, c)
                assert (a.value, a.data_type, a.number_format) == (
                    b.value,
                    b.data_type,
                    b.number_format,
                ), (name, a.coordinate)
                assert look(a) == look(b), (name, a.coordinate)
        offset += ws.max_row - 1


def test_each_sheets_xml_names_its_own_rows(coll, split):
    """The <dimension> of each sheet is its own rows; the filter and print-title names are
    each local to their sheet and point at it."""
    with zipfile.ZipFile(split) as z:
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        sheets = [s.get("name") for s in book.iter(f"{{{MAIN}}}sheet")]
        for i, name in enumerate(sheets, start=1):
            xml = z.read(f"xl/worksheets/sheet{i}.xml").decode()
            (dim,) = re.findall(r'<dimension ref="([^"]+)"/>', xml)
            if name in INDICATOR_SHEETS or name in finding_sheets(coll):
                rows_here = len(re.findall(r"<row ", xml))
                assert dim.endswith(str(rows_here)) and rows_here <= LIMIT, name
    names = list(book.iter(f"{{{MAIN}}}definedName"))
    local = [(d.get("name"), int(d.get("localSheetId")), d.text) for d in names]
    assert len(local) == len(names)  # no name of the whole workbook
    for kind in ("_xlnm._FilterDatabase", "_xlnm.Print_Titles"):
        on = {sheets[i] for k, i, _ in local if k == kind}
        assert set(INDICATOR_SHEETS + finding_sheets(coll)) <= on, kind
    for _, i, ref in local:
        assert ref.split("!")[0].strip("'") == sheets[i], ref
        if "(" in sheets[i]:
            assert ref.startswith(f"'{sheets[i]}'!"), ref  # quoted in a reference


def test_department_summary_is_unchanged_but_for_the_line_saying_where(split, unsplit):
    a, b = openpyxl.load_workbook(split), openpyxl.load_workbook(unsplit)
    for data_only in (False, True):
        a = openpyxl.load_workbook(split, data_only=data_only)["部门汇总"]
        b = openpyxl.load_workbook(unsplit, data_only=data_only)["部门汇总"]
        assert rows(a)[2:] == rows(b)[2:]  # the table, the 合计 formulas and their values
        assert rows(a)[0] == rows(b)[0]
    for sheet in ("项目明细", "报送情况"):
        assert rows(openpyxl.load_workbook(split)[sheet]) == rows(
            openpyxl.load_workbook(unsplit)[sheet]
        )
    with zipfile.ZipFile(split) as s, zipfile.ZipFile(unsplit) as u:
        for chart in ("xl/charts/chart1.xml", "xl/charts/chart2.xml"):
            assert s.read(chart) == u.read(chart)  # they refer to 部门汇总 only


def test_generated_line_says_where_the_sheets_continue(split, unsplit):
    line = openpyxl.load_workbook(split)["部门汇总"]["A2"].value
    assert "（见「问题清单」至「问题清单(3)」）" in line
    assert f"超过单个工作表 {LIMIT} 行的上限，续见「绩效指标(2)」「绩效指标(3)」" in line
    plain = openpyxl.load_workbook(unsplit)["部门汇总"]["A2"].value
    assert "（见「问题清单」）" in plain and "续见" not in plain
    assert line == plain.replace(
        "（见「问题清单」）",
        "（见「问题清单」至「问题清单(3)」）"
        f"；绩效指标超过单个工作表 {LIMIT} 行的上限，续见「绩效指标(2)」「绩效指标(3)」",
    )


def test_same_input_same_bytes_when_split(coll, monkeypatch):
    monkeypatch.setattr(summary, "SHEET_ROW_LIMIT", LIMIT)
    assert build_summary(coll, generated=GENERATED) == build_summary(coll, generated=GENERATED)


@pytest.mark.parametrize(("limit", "sheets"), [(131, 1), (130, 2), (66, 2), (65, 3)])
def test_a_sheet_holds_exactly_the_limit(coll, tmp_path, monkeypatch, limit, sheets):
    """130 indicator rows and a header: 131 rows fit one sheet, 130 do not."""
    monkeypatch.setattr(summary, "SHEET_ROW_LIMIT", limit)
    assert continuation_names("绩效指标", 130) == INDICATOR_SHEETS[:sheets]
    path = write_summary(coll, tmp_path / "汇总.xlsx", generated=GENERATED)
    wb = openpyxl.load_workbook(path)
    assert [n for n in wb.sheetnames if n.startswith("绩效指标")] == INDICATOR_SHEETS[:sheets]
    assert sum(wb[n].max_row - 1 for n in INDICATOR_SHEETS[:sheets]) == 130
    assert all(wb[n].max_row <= limit for n in wb.sheetnames if n != "部门汇总")


def test_below_the_limit_no_continuation(unsplit):
    assert summary.SHEET_ROW_LIMIT == 1_048_576
    assert continuation_names("绩效指标", 1_048_575) == ["绩效指标"]
    assert continuation_names("绩效指标", 1_048_576) == ["绩效指标", "绩效指标(2)"]
    assert continuation_names("问题清单", 0) == ["问题清单"]
    assert not [n for n in openpyxl.load_workbook(unsplit).sheetnames if "(" in n]


def test_empty_collection_with_a_low_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "SHEET_ROW_LIMIT", 2)
    path = write_summary(Collection(inbox=str(tmp_path)), tmp_path / "汇总.xlsx")
    assert openpyxl.load_workbook(path).sheetnames == [
        "部门汇总",
        "项目明细",
        "绩效指标",
        "问题清单",
    ]


def test_libreoffice_opens_and_saves_the_split_summary(coll, split, unsplit, tmp_path):
    (out,) = convert([split], "xlsx", tmp_path / "lo", tmp_path / "profile")
    lo, ours = openpyxl.load_workbook(out), openpyxl.load_workbook(unsplit)
    assert lo.sheetnames == openpyxl.load_workbook(split).sheetnames
    for first, names in (("绩效指标", INDICATOR_SHEETS), ("问题清单", finding_sheets(coll))):
        header, *data = rows(ours[first])
        got = []
        for name in names:
            part = rows(lo[name])
            assert part[0] == header, name
            assert len(part) <= LIMIT, name
            # (headless LibreOffice keeps no sheet's frozen panes, the unsplit ones' neither)
            assert lo[name].auto_filter.ref == f"A1:{letter(lo[name].max_column)}{len(part)}"
            assert lo[name].print_title_rows == "$1:$1", name
            got += part[1:]
        # LibreOffice saves a number to 15 significant digits: 50/3 is 16.6666666666667
        assert [_rounded(r) for r in got] == [_rounded(r) for r in data], first


def test_with_a_department_form_every_sheet_keeps_its_rows(coll, tmp_path, monkeypatch):
    """部门整体 comes before 绩效指标: the sheets after it move one place on, and each bulk
    sheet's rows still land in its own sheet."""
    path = tmp_path / "部门整体.xlsx"
    path.write_bytes(
        build_template(
            load_spec("department-2023"),
            {"dept_name": "寿县某局", "dept_code": "341521101", "year": 2023},
        )
    )
    form = Submission(Item(path.name, str(path), None, RECEIVED), check_workbook(path))
    both = dataclasses.replace(coll, submissions=[*coll.submissions, form])
    assert both.departments == [form]
    one = openpyxl.load_workbook(write_summary(both, tmp_path / "one.xlsx", generated=GENERATED))
    monkeypatch.setattr(summary, "SHEET_ROW_LIMIT", LIMIT)
    wb = openpyxl.load_workbook(write_summary(both, tmp_path / "split.xlsx", generated=GENERATED))
    findings = continuation_names("问题清单", _findings_count(both))
    assert wb.sheetnames == [
        "部门汇总",
        "项目明细",
        "部门整体",
        *INDICATOR_SHEETS,
        *findings,
        "报送情况",
    ]
    for sheet in ("项目明细", "部门整体", "报送情况"):
        assert rows(wb[sheet]) == rows(one[sheet]), sheet
    for first, names in (("绩效指标", INDICATOR_SHEETS), ("问题清单", findings)):
        header, *data = rows(one[first])
        assert all(rows(wb[n])[0] == header for n in names)
        assert [r for n in names for r in rows(wb[n])[1:]] == data, first


@pytest.mark.parametrize("spill", [1, 7, PER_SHEET])
@pytest.mark.parametrize("limit", [None, LIMIT])
def test_rows_moved_to_a_temporary_file_give_the_same_bytes(coll, monkeypatch, spill, limit):
    """A bulk table moves its rows to a temporary file every SPILL_ROWS (memory stays flat for
    a province's indicator rows): the summary is byte for byte the one built from rows held,
    on one sheet or continued, whatever the chunk."""
    if limit is not None:
        monkeypatch.setattr(summary, "SHEET_ROW_LIMIT", limit)
    held = build_summary(coll, generated=GENERATED)
    monkeypatch.setattr(summary, "SPILL_ROWS", spill)
    assert build_summary(coll, generated=GENERATED) == held


class _Text(str):
    """A text of a type of its own (marshal refuses it)."""


class _Number(float):
    """A number of a type of its own (marshal refuses it)."""


def test_rows_moved_to_a_temporary_file_come_back_with_their_types(monkeypatch):
    """Spilled rows come back as they went, each value of its own type: a chunk of texts,
    numbers and blanks goes by marshal, one holding anything else (a date, a subclass of str
    or float, which marshal refuses rather than change) by pickle."""
    import io
    import math
    from datetime import datetime

    import xlsxwriter

    from perfeval_xl.office.summary import _EXTRA, _KINDS, _BulkTable

    monkeypatch.setattr(summary, "SPILL_ROWS", 3)
    rows = [
        (["已完成", 1, 2.5, None], None),
        (["", -0.0, 10**30, True], {0: "bad"}),
        ([_Text("子类"), _Number(1.5), datetime(2023, 5, 6, 7, 8), float("nan")], None),
        (["x", 0, -1, None], None),
        ([None, None, None, None], None),
        (["尾", 3, 4.0, False], None),
        (["held", 1, 1, 1], None),  # not spilled: still held when read
    ]
    wb = xlsxwriter.Workbook(io.BytesIO())
    fmt = {kind: wb.add_format(props) for kind, props in {**_KINDS, **_EXTRA}.items()}
    columns = [("a", "text"), ("b", "score"), ("c", "center"), ("d", "amount")]
    table = _BulkTable(wb.add_worksheet("t"), fmt, 0, columns)
    for values, styles in rows:
        table.add(values, styles)
    assert table._spilled is not None and len(table.rows) == 1
    back = list(table._all_rows())
    assert len(back) == len(rows)
    for (values, styles), (got, got_styles) in zip(rows, back, strict=True):
        assert got_styles == styles
        assert [type(v) for v in got] == [type(v) for v in values]
        for a, b in zip(values, got, strict=True):
            assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
            assert math.copysign(1, a) == math.copysign(1, b) if type(a) is float else True
