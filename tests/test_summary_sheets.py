"""Whose each problem is (问题清单), what each department was to send and sent (部门汇总's
应报 / 已报 / 未报 / 有错误, and the JSON), and how 项目明细 prints (issue #16, points 5, 7, 8).

The inbox is made as the office and the units make it: templates issued from a roster with
two departments (the second sends nothing), filled by contract name with openpyxl, an older
version superseded by a newer one, a file that cannot be read named for its roster row, and
a file that is no workbook. Summaries are read back cell by cell, and printed by LibreOffice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from helpers import INDICATORS, fill, named_cell
from soffice import convert, tool_or_skip
from test_summary import FINDINGS_HEADER

from perfeval_xl import load_spec
from perfeval_xl.office.collect import Collection, collect
from perfeval_xl.office.outbox import write_roster_templates
from perfeval_xl.office.report import collection_json
from perfeval_xl.office.summary import (
    MIN_PRINT_SCALE,
    _print_plan,
    column_pixels,
    department_rows,
    print_room,
    write_summary,
)

NATIONAL = load_spec("national-2020")
PROPAGANDA = ("109101", "中共攀枝花市仁和区委宣传部", "攀枝花市区委宣传部")
EDUCATION = ("109202", "攀枝花市仁和区教育和体育局", "攀枝花市仁和区实验小学")
#: (department, project, 当年财政拨款全年预算数), in roster order: lines 2 … 8.
ROSTER = [
    (PROPAGANDA, "媒体合作", 100),  # sent; the unit typed its own 实施单位 over the issued (E603)
    (PROPAGANDA, "党建活动", 40),  # sent, clean
    (PROPAGANDA, "文明城市", 300),  # sent, spent 320 of 300: E301 ×2
    (PROPAGANDA, "外宣活动", 50),  # sent, but cannot be read: E001
    (PROPAGANDA, "没交的项目", 50),  # not sent: W604
    (EDUCATION, "课后服务", 80),  # the whole department sent nothing: W604 ×2
    (EDUCATION, "校舍维修", 120),
]


def _fill(template: Path, dest: Path, values: dict, change=None) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.load_workbook(template)
    fill(wb, values, INDICATORS)
    if change is not None:
        change(wb)
    wb.save(dest)
    return dest


def _types_unit(name: str):
    """The unit removes the sheet protection and types its own 实施单位 over the issued one."""

    def change(wb):
        wb["自评表"].protection.sheet = False
        named_cell(wb, "pe_unit_name").value = name

    return change


@pytest.fixture(scope="module")
def office_inbox(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    tmp = tmp_path_factory.mktemp("inbox")
    roster = tmp / "roster.csv"
    lines = ["dept_code,dept_name,unit_name,project_name,year,fund_fiscal_budget"]
    lines += [f"{c},{d},{u},{p},2022,{b}" for (c, d, u), p, b in ROSTER]
    roster.write_text("\n".join(lines) + "\n", "utf-8")
    templates = write_roster_templates(roster, tmp / "outbox", NATIONAL)
    names = [t.name for t in templates]
    inbox = tmp / "inbox"
    # an older version of 媒体合作, with its own 实施单位 and spent over budget: superseded
    old = _fill(
        templates[0],
        inbox / "旧" / names[0],
        {"fund_fiscal_spent": 120},
        _types_unit("旧的单位名称"),
    )
    t = time.time() - 3600
    os.utime(old, (t, t))
    _fill(templates[0], inbox / names[0], {"fund_fiscal_spent": 95}, _types_unit("宣传部办公室"))
    _fill(templates[1], inbox / names[1], {"fund_fiscal_spent": 40})
    _fill(templates[2], inbox / names[2], {"fund_fiscal_spent": 320})
    (inbox / names[3]).write_bytes(b"")  # named for its row, cannot be read
    (inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4\n")
    return roster, inbox, names


@pytest.fixture(scope="module")
def collected(office_inbox, tmp_path_factory) -> tuple[Collection, Path, list[str]]:
    roster, inbox, names = office_inbox
    coll = collect(inbox, roster=roster, roster_spec=NATIONAL, workers=1)
    out = write_summary(coll, tmp_path_factory.mktemp("out") / "汇总.xlsx")
    return coll, out, names


def rows_of(path: Path, sheet: str, header_row: int = 1, *, data_only: bool = False):
    ws = openpyxl.load_workbook(path, data_only=data_only)[sheet]
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    return list(rows[0]), [tuple(r) for r in rows[1:]]


# -- 5. 问题清单 says whose each problem is ------------------------------------------------------
def test_findings_say_whose_they_are(collected):
    _, out, names = collected
    header, rows = rows_of(out, "问题清单")
    assert header == FINDINGS_HEADER
    got = [dict(zip(header, r, strict=True)) for r in rows]

    def owner(r: dict) -> tuple:
        return (r["主管部门"], r["实施单位"], r["项目名称"])

    # a used file's: its record as counted, the issued 实施单位 in place of the one typed
    (e603,) = [r for r in got if r["代码"] == "E603"]
    assert (e603["文件"], owner(e603)) == (names[0], (*PROPAGANDA[1:], "媒体合作"))
    assert e603["栏目"] == "实施单位"
    e301 = [r for r in got if r["代码"] == "E301" and r["状态"] == "有效"]
    assert {(r["文件"], owner(r)) for r in e301} == {(names[2], (*PROPAGANDA[1:], "文明城市"))}
    # a superseded file's: its own record, as that file says it
    old = [r for r in got if r["状态"] == "已被取代"]
    # (W012: the unit removed the sheet protection to type over 实施单位)
    assert sorted(r["代码"] for r in old) == ["E301", "E301", "W012", "W601"]
    assert {owner(r) for r in old} == {(PROPAGANDA[1], "旧的单位名称", "媒体合作")}
    # an unreadable file named for a roster row: that row's
    (e001,) = [r for r in got if r["代码"] == "E001"]
    assert (e001["文件"], owner(e001)) == (names[3], (*PROPAGANDA[1:], "外宣活动"))
    # a roster row nothing came in for: the row's, and the field in the form's words
    w604 = [r for r in got if r["代码"] == "W604"]
    assert [owner(r) for r in w604] == [
        (*PROPAGANDA[1:], "没交的项目"),
        (*EDUCATION[1:], "课后服务"),
        (*EDUCATION[1:], "校舍维修"),
    ]
    assert {r["栏目"] for r in w604} == {"项目名称"}
    # the inbox's own: no one's
    (w605,) = [r for r in got if r["代码"] == "W605"]
    assert (w605["文件"], owner(w605)) == ("扫描件.pdf", (None, None, None))
    # every field is shown in Chinese, never as its contract name
    assert all(r["栏目"] is None or not re.search(r"[a-z_]", r["栏目"]) for r in got)


def test_a_roster_without_department_names_shows_the_code(office_inbox, tmp_path):
    """A roster need not name departments: a W604 of a department that sent nothing then says
    its code, not nothing."""
    _, inbox, _ = office_inbox
    bare = tmp_path / "bare.csv"
    lines = ["dept_code,unit_name,project_name,year,fund_fiscal_budget"]
    lines += [f"{c},{u},{p},2022,{b}" for (c, _, u), p, b in ROSTER]
    bare.write_text("\n".join(lines) + "\n", "utf-8")
    coll = collect(inbox, roster=bare, roster_spec=NATIONAL, workers=1)
    header, rows = rows_of(write_summary(coll, tmp_path / "s.xlsx"), "问题清单")
    w604 = [r[:3] for r in rows if r[header.index("代码")] == "W604"]
    assert w604 == [
        (PROPAGANDA[1], PROPAGANDA[2], "没交的项目"),  # the name the department's files give
        (EDUCATION[0], EDUCATION[2], "课后服务"),
        (EDUCATION[0], EDUCATION[2], "校舍维修"),
    ]


# -- 7. 报送情况 per 主管部门 -------------------------------------------------------------------
def test_departments_count_what_was_expected_and_sent(collected):
    _, out, _ = collected
    header, rows = rows_of(out, "部门汇总", 3)
    assert header[:7] == ["主管部门代码", "主管部门", "应报", "已报", "未报", "有错误", "项目数"]
    body, total = rows[:-1], rows[-1]
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    assert list(by_code) == ["109101", "109202", "—"]
    propaganda, education, other = by_code["109101"], by_code["109202"], by_code["—"]
    # 媒体合作 (E603), 党建活动, 文明城市 (E301), 外宣活动 (unreadable: received, an error)
    assert [propaganda[h] for h in ("应报", "已报", "未报", "有错误", "项目数")] == [5, 4, 1, 3, 3]
    assert propaganda["主管部门"] == PROPAGANDA[1]
    # on the roster, nothing received: its row all the same, named as the roster names it
    assert education == {
        "主管部门代码": "109202",
        "主管部门": EDUCATION[1],
        "应报": 2,
        "已报": 0,
        "未报": 2,
        "有错误": 0,
        "项目数": 0,
        "预算数（万元）": 0,
        "执行数（万元）": 0,
        "执行率": None,
        "平均分": None,
        "资金加权平均分": None,
        "优": 0,
        "良": 0,
        "中": 0,
        "差": 0,
        "错误": 0,
        "警告": 0,
    }
    # the 其他 row holds findings only: E001; W604 ×3, W605
    assert [other[h] for h in ("应报", "已报", "未报", "有错误", "错误", "警告")] == [
        None,
        None,
        None,
        None,
        1,
        4,
    ]
    # 合计: formulas over the rows above, with the right cached values
    assert total[0] == "合计"
    assert total[2:6] == ("=SUM(C4:C6)", "=SUM(D4:D6)", "=SUM(E4:E6)", "=SUM(F4:F6)")
    _, cached = rows_of(out, "部门汇总", 3, data_only=True)
    assert cached[-1][2:7] == (7, 4, 3, 3, 3)
    assert cached[-1][0] == "合计"


def test_departments_json_has_the_same_counts(collected):
    coll, _, _ = collected
    doc = json.loads(collection_json(coll))
    got = {
        d["code"]: (d["name"], d["expected"], d["received"], d["missing"], d["with_errors"])
        for d in doc["departments"]
    }
    assert got == {
        "109101": (PROPAGANDA[1], 5, 4, 1, 3),
        "109202": (EDUCATION[1], 2, 0, 2, 0),
    }
    education = doc["departments"][1]
    assert (education["projects"], education["budget"], education["rate"]) == (0, 0, None)
    assert doc["totals"]["missing"] == 3 == sum(d["missing"] for d in doc["departments"])


def test_without_a_roster_nothing_is_expected(office_inbox, tmp_path):
    """No roster: 应报 and 未报 are not known, so blank (null), in the 合计 row too; 已报 is the
    projects received, 有错误 those of them with errors."""
    _, inbox, _ = office_inbox
    coll = collect(inbox, workers=1)
    (dept,) = department_rows(coll)
    assert (dept.expected, dept.received, dept.missing, dept.with_errors) == (None, 3, None, 1)
    _, rows = rows_of(write_summary(coll, tmp_path / "s.xlsx"), "部门汇总", 3)
    assert [r[2:6] for r in rows] == [
        (None, 3, None, 1),
        (None, None, None, None),  # 其他: the unreadable file, the PDF
        (None, "=SUM(D4:D5)", None, "=SUM(F4:F5)"),  # 合计
    ]


# -- 8. printing -------------------------------------------------------------------------------
def _pages(pdf: Path) -> list[str]:
    exe = tool_or_skip("pdftotext")
    text = subprocess.run(
        [exe, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")


def _words(pdf: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """(word, xMin, yMin, xMax, yMax) on page `page` (1-based), in points."""
    exe = tool_or_skip("pdftotext")
    html = subprocess.run(
        [exe, "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    )
    return [(w, float(a), float(b), float(c), float(d)) for a, b, c, d, w in found]


def _page_size(pdf: Path, page: int) -> tuple[int, int]:
    exe = tool_or_skip("pdfinfo")
    info = subprocess.run(
        [exe, "-f", str(page), "-l", str(page), str(pdf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (size,) = re.findall(rf"Page\s+{page} size:\s+([\d.]+) x ([\d.]+) pts", info)
    return round(float(size[0])), round(float(size[1]))


def _plan_of(path: Path, sheet: int) -> tuple[list[int], int | None, list[int], str | None]:
    """(column widths in pixels, scale, column breaks, print titles) as written."""
    with zipfile.ZipFile(path) as z:
        xml = z.read(f"xl/worksheets/sheet{sheet}.xml").decode()
        book = z.read("xl/workbook.xml").decode()
    pixels = []
    for first, last, width in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml):
        pixels += [round(float(width) * 7)] * (int(last) - int(first) + 1)  # Excel: 7 a char
    scale = re.search(r'<pageSetup [^>]*scale="(\d+)"', xml)
    breaks = [int(b) for b in re.findall(r'<brk id="(\d+)"', xml)]
    titles = re.search(
        rf'<definedName name="_xlnm.Print_Titles" localSheetId="{sheet - 1}">([^<]*)<', book
    )
    return (
        pixels,
        int(scale.group(1)) if scale else None,
        breaks,
        titles.group(1) if titles else None,
    )


def test_project_rows_are_planned_to_print_at_70_percent_or_more(collected):
    """项目明细 is too wide for one A4 page at 70 %: it is printed several pages wide at a
    fixed scale of 70 % or more, 项目名称 repeated at the left of each page after the first,
    every page's columns within the printable width at that scale (Excel's 7 pixels a
    character), and no fewer pages would do at 70 %."""
    _, out, _ = collected
    pixels, scale, breaks, titles = _plan_of(out, 2)
    header, _ = rows_of(out, "项目明细")
    name = header.index("项目名称")
    assert titles == "项目明细!$D:$D,项目明细!$1:$1"
    assert scale is not None and MIN_PRINT_SCALE <= scale <= 100
    assert sum(pixels) * MIN_PRINT_SCALE / 100 > print_room()  # one page would be below 70 %
    assert breaks and all(b > name for b in breaks)
    starts = [0, *breaks]
    for first, end in zip(starts, [*breaks, len(pixels)], strict=True):
        width = sum(pixels[first:end]) + (pixels[name] if first > name else 0)
        assert width * scale / 100 <= print_room(), (first, end)
    assert _print_plan_widths(out) == (scale, breaks)  # the plan, from the widths as set
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet2.xml").decode()
    assert 'pageOrder="overThenDown"' in xml and 'paperSize="9"' in xml
    assert 'orientation="landscape"' in xml and "fitToPage" not in xml
    # a long 来源文件 path wraps in a narrow column instead of widening the print
    assert pixels[header.index("来源文件")] <= column_pixels(26)


def _print_plan_widths(out: Path) -> tuple[int, list[int]]:
    """The plan again from the widths as set (width in the file less xlsxwriter's padding)."""
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet2.xml").decode()
    widths = []
    for first, last, width in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml):
        widths += [(round(float(width) * 7) - 5) / 7] * (int(last) - int(first) + 1)
    plan = _print_plan(widths, 3)
    assert plan is not None
    return plan


def test_print_plan_fits_narrow_tables_one_page_wide():
    assert _print_plan([12] * 10, 3) is None  # 10 × 89 px: one page wide, fitted
    # 40 × 89 = 3,560 px: at 70 % a page holds 15 (the first) or 14 and the repeated one
    scale, breaks = _print_plan([12] * 40, 3)
    assert MIN_PRINT_SCALE <= scale <= 100 and len(breaks) == 2
    assert _print_plan([12] * 40, 3) == (scale, breaks)


def test_other_sheets_print_one_page_wide(collected):
    _, out, _ = collected
    wb = openpyxl.load_workbook(out)
    for ws in wb.worksheets:
        if ws.title == "项目明细":
            continue
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True, ws.title
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "landscape"
        assert ws.print_title_rows in ("$1:$1", "$3:$3"), ws.title
    for sheet in (3, 4, 5):  # 绩效指标, 问题清单, 报送情况: 70 % or more in Excel
        pixels, *_ = _plan_of(out, sheet)
        assert print_room() / sum(pixels) >= MIN_PRINT_SCALE / 100, wb.worksheets[sheet - 1].title


def test_libreoffice_prints_project_rows_readably(collected, tmp_path):
    """LibreOffice prints page 1 of 项目明细 on A4 landscape with its header and the project
    names, at the planned scale (measured on the page: a CJK character is 1 em wide, so the six
    of 主管部门代码 in 宋体 10 take 60 points at 100 %); its next page repeats 项目名称."""
    _, out, _ = collected
    _, scale, _, _ = _plan_of(out, 2)
    (pdf,) = convert([out], "pdf", tmp_path / "pdf", tmp_path / "profile")
    pages = _pages(pdf)
    # every page says its sheet's name at the top left (the page header)
    first = next(i for i, text in enumerate(pages, start=1) if text.split()[:1] == ["项目明细"])
    assert _page_size(pdf, first) == (842, 595)  # A4 landscape
    words = _words(pdf, first)
    texts = [w[0] for w in words]
    assert {"主管部门代码", "项目名称", "媒体合作", "党建活动", "文明城市"} <= set(texts)
    (_, x0, _, x1, _) = next(w for w in words if w[0] == "主管部门代码")
    measured = (x1 - x0) / 60
    assert measured >= MIN_PRINT_SCALE / 100
    assert measured == pytest.approx(scale / 100, abs=0.015)
    # the next page: 项目名称 repeated at the left of its header row, and the names again
    after = _words(pdf, first + 1)
    (top,) = [w[2] for w in after if w[0] == "项目名称"]
    header_row = [w for w in after if abs(w[2] - top) < 8]
    assert min(header_row, key=lambda w: w[1])[0] == "项目名称"
    assert "媒体合作" in [w[0] for w in after]
