"""The department summary workbook, read back cell by cell with openpyxl (and printed by
LibreOffice). Collections are built by hand from the data model: filled forms from the
generator, checked with `check_workbook`, wrapped in `Submission`s."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from helpers import INDICATORS, filled, named_cell
from soffice import convert, tool_or_skip

from perfeval_xl.errors import OutputError, Text
from perfeval_xl.findings import Finding
from perfeval_xl.office.collect import Collection, Item, RosterStatus, Submission
from perfeval_xl.office.roster import RosterRow
from perfeval_xl.office.summary import (
    LINE_HEIGHT,
    build_summary,
    department_rows,
    departments_json,
    display_width,
    write_summary,
)
from perfeval_xl.review.checks import check_workbook

RECEIVED = datetime(2023, 1, 5, 9, 30)
GENERATED = datetime(2023, 1, 10, 8, 0)
DEPT = ("109101", "中共攀枝花市仁和区委宣传部")
UNIT = "攀枝花市区委宣传部"
SHEETS = ["部门汇总", "项目明细", "绩效指标", "问题清单"]


# -- building collections ----------------------------------------------------------------------
def submit(tmp_path: Path, name: str, form: str = "national-2020", change=None, **over):
    """A filled form in its own folder, checked, as the submission `<name>.xlsx`."""
    folder = tmp_path / name
    folder.mkdir()
    path = filled(folder, form, change, **over)
    return Submission(Item(f"{name}.xlsx", str(path), None, RECEIVED), check_workbook(path))


def unreadable(tmp_path: Path, name: str = "坏文件.xlsx") -> Submission:
    path = tmp_path / name
    path.write_bytes(b"")
    sub = Submission(Item(name, str(path), None, RECEIVED), check_workbook(path))
    assert sub.result.record is None
    return sub


def write(tmp_path: Path, coll: Collection, name: str = "汇总.xlsx") -> Path:
    return write_summary(coll, tmp_path / name, generated=GENERATED)


def table(path: Path, sheet: str, *, header_row: int = 1, data_only: bool = False):
    """(header, rows) of a sheet's table, read from the file."""
    ws = openpyxl.load_workbook(path, data_only=data_only)[sheet]
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    return list(rows[0]), [tuple(r) for r in rows[1:]]


def department_table(path: Path, *, data_only: bool = False):
    """部门汇总: header on row 3 (title and 生成时间 above), department rows, the 合计 row."""
    header, rows = table(path, "部门汇总", header_row=3, data_only=data_only)
    total = next(i for i, r in enumerate(rows) if r[0] == "合计")
    return header, rows[:total], rows[total]


def with_text(name: str, text: str):
    """A change that types `text` as a string (the template's text cells store what is typed
    as text, so a leading "=" is not a formula) into field `name` and the first 偏差原因."""

    def change(wb):
        for cell in (named_cell(wb, f"pe_{name}"), named_cell(wb, "pe_ind_reason")):
            cell.value = text
            cell.data_type = "s"

    return change


# -- the seed-like department ------------------------------------------------------------------
SEED = [  # (name, budget, spent)
    ("2022年媒体合作项目", 100, 16),
    ("创建全国文明城市", 114.56, 99.63),
    ("仁和区重大对外宣传活动及重要外宣产品专项", 210, 40),
]


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("seed")
    subs = [
        submit(tmp, f"p{i}", project_name=n, fund_fiscal_budget=b, fund_fiscal_spent=s)
        for i, (n, b, s) in enumerate(SEED)
    ]
    return write(tmp, Collection(inbox=str(tmp), submissions=subs))


def test_seed_department_row(seed):
    header, rows, _ = department_table(seed)
    assert header == [
        "主管部门代码",
        "主管部门",
        "应报",
        "已报",
        "未报",
        "有错误",
        "项目数",
        "预算数（万元）",
        "执行数（万元）",
        "执行率",
        "平均分",
        "资金加权平均分",
        "优",
        "良",
        "中",
        "差",
        "错误",
        "警告",
    ]
    ((code, name, expected, received, missing, with_errors, n, budget, spent, rate, *_),) = rows
    assert (code, name, n) == (*DEPT, 3)
    # no roster: nothing is expected, so 应报 and 未报 are blank; 已报 is what came in
    assert (expected, received, missing, with_errors) == (None, 3, None, 0)
    assert budget == pytest.approx(424.56) and spent == pytest.approx(155.63)
    assert rate == pytest.approx(155.63 / 424.56) and round(rate, 4) == 0.3666


def test_seed_total_row_is_formulas_with_cached_values(seed):
    _, rows, cached = department_table(seed, data_only=True)
    _, _, formulas = department_table(seed)
    assert cached[2:10] == (
        None,
        3,
        None,
        0,
        3,
        pytest.approx(424.56),
        pytest.approx(155.63),
        pytest.approx(0.3666, abs=1e-4),
    )
    assert cached[2:] == pytest.approx(rows[0][2:])  # one department: 合计 = its row
    ws = openpyxl.load_workbook(seed)["部门汇总"]
    total_row = 5  # title, 生成时间, header, one department
    assert ws.cell(total_row, 1).value == "合计"
    for col in range(3, 19):
        cell = ws.cell(total_row, col)
        if col in (3, 5):  # 应报, 未报: blank without a roster, not a sum of blanks
            assert cell.value is None, cell.coordinate
            continue
        assert cell.data_type == "f" and str(cell.value).startswith("="), cell.coordinate
    assert formulas[3] == "=SUM(D4:D4)"
    assert formulas[6] == "=SUM(G4:G4)"
    assert formulas[9] == '=IF(H5=0,"",I5/H5)'
    assert "SUMPRODUCT" in formulas[11] and "'项目明细'!" in formulas[11]


def test_title_and_generated_line(seed, tmp_path):
    ws = openpyxl.load_workbook(seed)["部门汇总"]
    assert ws["A1"].value == "2022年度项目支出绩效自评汇总"
    line = ws["A2"].value
    assert line.startswith(f"生成时间：2023-01-10 08:00；收件箱：{seed.parent}；")
    assert "汇总项目 3 个" in line and "错误 0 处" in line
    assert "A1:R1" in ws.merged_cells and "A2:R2" in ws.merged_cells


# -- two departments ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two")
    edu = {"dept_code": "109202", "dept_name": "攀枝花市仁和区教育和体育局"}
    half = [dict(r) for r in INDICATORS]  # 媒体报道 6 of 12: half of its 20 points
    half[0].update(actual="6次", status="部分完成", score=10, reason="经费压缩")
    poor = [dict(r) for r in half]  # and 城市形象 not done: 10 of its 30 points
    poor[3].update(status="未完成", score=10, reason="活动取消")
    over = [dict(r) for r in INDICATORS]  # 16 of 12: above 130 % without a reason, W509
    over[0]["actual"] = "16次"
    subs = [  # education first: the summary sorts by code
        submit(tmp, "良", indicators=half, project_name="课后服务", **edu),
        submit(
            tmp,
            "中",
            indicators=poor,
            project_name="校舍维修",
            fund_fiscal_budget=300,
            fund_fiscal_spent=285,
            **edu,
        ),
        submit(tmp, "优", project_name="媒体合作"),
        submit(tmp, "超支", project_name="文明城市", fund_fiscal_budget=200, fund_fiscal_spent=240),
        submit(
            tmp,
            "超额",
            indicators=over,
            project_name="外宣活动",
            fund_fiscal_budget=50,
            fund_fiscal_spent=47.5,
        ),
        submit(
            tmp,
            "无预算",
            project_name="无预算项目",
            dept_code="109303",
            dept_name="区财政局",
            fund_fiscal_budget=None,
            fund_fiscal_spent=10,
        ),
        unreadable(tmp),
    ]
    coll = Collection(inbox=str(tmp), submissions=subs)
    return coll, write(tmp, coll)


def test_two_departments_sorted_with_grades_means_and_findings(two):
    _, path = two
    header, rows, total = department_table(path)
    assert [(*r[:2], r[header.index("项目数")]) for r in rows] == [
        ("109101", "中共攀枝花市仁和区委宣传部", 3),
        ("109202", "攀枝花市仁和区教育和体育局", 2),
        ("109303", "区财政局", 1),
        ("—", "其他（未汇总的文件、名册）", None),  # the unreadable file's E001
    ]
    # no roster: 已报 is what came in, 有错误 those of it with errors
    assert [r[2:6] for r in rows] == [
        (None, 3, None, 1),
        (None, 2, None, 0),
        (None, 1, None, 1),
        (None, None, None, None),
    ]
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    propaganda, edu, finance = by_code["109101"], by_code["109202"], by_code["109303"]
    # 109101: 媒体合作 100/95 → 9.5 + 90 = 99.5; 文明城市 200/240 → rate capped, 10 + 90 = 100
    # (E301 on the total and the 财政拨款 row: 2 errors); 外宣活动 50/47.5 → 99.5 (W509).
    assert (propaganda["预算数（万元）"], propaganda["执行数（万元）"]) == (350, 382.5)
    assert propaganda["执行率"] == pytest.approx(382.5 / 350)
    assert propaganda["平均分"] == pytest.approx((99.5 + 100 + 99.5) / 3)
    # Σ(score × budget) / Σ budget = (99.5×100 + 100×200 + 99.5×50) / 350 = 34925 / 350
    assert propaganda["资金加权平均分"] == pytest.approx(34925 / 350)
    assert [propaganda[g] for g in "优良中差"] == [3, 0, 0, 0]
    assert (propaganda["错误"], propaganda["警告"]) == (2, 1)
    # 109202: 课后服务 100/95 → 9.5 + 10 + 20 + 10 + 30 + 10 = 89.5 (良);
    # 校舍维修 300/285 → 9.5 + 10 + 20 + 10 + 10 + 10 = 69.5 (中).
    assert edu["平均分"] == pytest.approx((89.5 + 69.5) / 2)  # 79.5
    # (89.5×100 + 69.5×300) / 400 = 29800 / 400 = 74.5
    assert edu["资金加权平均分"] == pytest.approx(74.5)
    assert [edu[g] for g in "优良中差"] == [0, 1, 1, 0]
    assert (edu["错误"], edu["警告"]) == (0, 0)
    # 109303: no budget (a blank counts 0, so no rate), spent 10 > 0 (E301 ×2) and E303;
    # its 执行率 cannot be scored, so its score is incomplete (90 of the indicators is no
    # total): graded 不完整 and in no mean.
    assert (finance["预算数（万元）"], finance["执行数（万元）"], finance["执行率"]) == (
        0,
        10,
        None,
    )
    assert (finance["平均分"], finance["资金加权平均分"]) == (None, None)
    assert (finance["优"], finance["不完整"], finance["错误"]) == (0, 1, 3)
    # 合计 over all six projects, and the 其他 row: the unreadable file's E001.
    _, _, cached = department_table(path, data_only=True)
    totals = dict(zip(header, cached, strict=True))
    assert totals["项目数"] == 6
    assert totals["预算数（万元）"] == 750 and totals["执行数（万元）"] == 772.5  # 382.5 + 380 + 10
    assert totals["执行率"] == pytest.approx(772.5 / 750)
    assert totals["平均分"] == pytest.approx((99.5 + 100 + 99.5 + 89.5 + 69.5) / 5)
    # the project without a budget is left out of the weighted mean: (34925 + 29800) / 750
    assert totals["资金加权平均分"] == pytest.approx((34925 + 29800) / 750)
    assert [totals[g] for g in [*"优良中差", "不完整"]] == [3, 1, 1, 0, 1]
    assert (totals["错误"], totals["警告"]) == (6, 1)
    assert total[0] == "合计"


def test_department_rows_and_json_match_the_sheet(two):
    coll, path = two
    _, sheet_rows, _ = department_table(path)
    rows = department_rows(coll)
    # the sheet's three departments, then the 其他 row, of no department
    assert [(r.code, r.projects, r.budget, r.spent) for r in rows] == [
        r[0:1] + r[6:9] for r in sheet_rows[:3]
    ]
    doc = departments_json(coll)
    json.dumps(doc, allow_nan=False)
    assert doc[1] == {
        "code": "109202",
        "name": "攀枝花市仁和区教育和体育局",
        "expected": None,
        "received": 2,
        "missing": None,
        "with_errors": 0,
        "projects": 2,
        "budget": 400,
        "spent": 380,
        "rate": pytest.approx(0.95),
        "mean_score": pytest.approx(79.5),
        "weighted_score": pytest.approx(74.5),
        "grades": {"优": 0, "良": 1, "中": 1, "差": 0, "不完整": 0},
        "errors": 0,
        "warnings": 0,
    }


def test_blank_budget_is_a_blank_cell_in_project_rows(two):
    _, path = two
    header, rows = table(path, "项目明细")
    row = dict(zip(header, next(r for r in rows if r[3] == "无预算项目"), strict=True))
    assert row["当年财政拨款 预算数"] is None and row["预算数合计"] is None
    assert row["执行率"] is None and row["执行率得分"] is None
    assert row["计分方式"] == "自评核验（不完整）"


def test_weighted_mean_formula_is_honest_when_recalculated(two, tmp_path):
    """openpyxl drops cached values when it saves: LibreOffice must then compute the 合计 row
    itself, and get what the summary cached."""
    _, path = two
    _, _, cached = department_table(path, data_only=True)
    copy = tmp_path / "nocache.xlsx"
    openpyxl.load_workbook(path).save(copy)
    (out,) = convert([copy], "xlsx", tmp_path / "recalc", tmp_path / "profile")
    _, _, got = department_table(out, data_only=True)
    assert got[2:] == pytest.approx(cached[2:])


# -- a small case, exactly ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("small")
    subs = [
        submit(tmp, "1号", project_name="1号项目"),
        submit(tmp, "2号", "sichuan-2022", project_name="2号项目"),
        submit(tmp, "3号", project_name="3号项目", fund_fiscal_spent=120),
        unreadable(tmp),
    ]
    inbox = Finding(
        "W604", "warning", "名册.csv", None, None, "project_name", Text("未收到", "missing")
    )
    coll = Collection(inbox=str(tmp), submissions=subs, findings=[inbox])
    return coll, write(tmp, coll)


PROJECT_HEADER = [
    "主管部门代码",
    "主管部门",
    "实施单位",
    "项目名称",
    "项目代码",
    "当年财政拨款 预算数",
    "当年财政拨款 执行数",
    "上年结转资金 预算数",
    "上年结转资金 执行数",
    "其他资金 预算数",
    "其他资金 执行数",
    "预算数合计",
    "执行数合计",
    "执行率",
    "指标数",
    "已完成",
    "部分完成",
    "未完成",
    "缺偏差原因",
    "产出指标",
    "效益指标",
    "满意度指标",
    "执行率得分",
    "自评总分",
    "核定总分",
    "等级",
    "计分方式",
    "错误",
    "警告",
    "状态",
    "表式",
    "来源文件",
    "收到时间",
    "单位填报值",
]


def test_project_rows_exactly(small):
    _, path = small
    header, rows = table(path, "项目明细")
    assert header == PROJECT_HEADER
    head = (*DEPT[:1], DEPT[1], UNIT)
    assert rows == [
        (
            *head, "1号项目", "P-2022-001",
            100, 95, None, None, None, None, 100, 95, 0.95,
            5, 5, 0, 0, 0, 50, 30, 10, 9.5, 99.5, 99.5, "优（核定）", "自评核验",
            0, 0, "通过", "national-2020", "1号.xlsx", RECEIVED, None,
        ),
        (
            # sichuan-2022: no 上年结转 row, no score columns: every score is the tool's.
            *head, "2号项目", "P-2022-001",
            100, 95, None, None, None, None, 100, 95, 0.95,
            5, 5, 0, 0, 0, pytest.approx(50, abs=0.02), 30, 10, 9.5,
            None, pytest.approx(99.5, abs=0.02), "优（核定）", "工具计算",
            0, 0, "通过", "sichuan-2022", "2号.xlsx", RECEIVED, None,
        ),
        (
            # spent 120 > 100 on the 财政拨款 row and the total: 2 errors, the rate capped at 10.
            *head, "3号项目", "P-2022-001",
            100, 120, None, None, None, None, 100, 120, 1.2,
            # 自评总分: the unit's sheet shows the capped 10 too (its own formula), 90 + 10
            5, 5, 0, 0, 0, 50, 30, 10, 10, 100, 100, "优（核定）", "自评核验",
            2, 0, "有错误", "national-2020", "3号.xlsx", RECEIVED, None,
        ),
    ]  # fmt: skip
    ws = openpyxl.load_workbook(path)["项目明细"]
    received = ws.cell(2, PROJECT_HEADER.index("收到时间") + 1)
    assert received.is_date and received.number_format == "yyyy-mm-dd hh:mm"
    assert ws.cell(2, PROJECT_HEADER.index("执行率") + 1).number_format == "0.00%"
    assert ws.cell(2, PROJECT_HEADER.index("预算数合计") + 1).number_format == "#,##0.00"
    assert ws.cell(2, PROJECT_HEADER.index("核定总分") + 1).number_format == "0.00"
    assert ws.cell(2, PROJECT_HEADER.index("自评总分") + 1).number_format == "0.00"


def test_indicator_rows_exactly(small):
    _, path = small
    header, rows = table(path, "绩效指标")
    assert header == [
        "主管部门代码",
        "项目名称",
        "来源文件",
        "序号",
        "一级指标",
        "二级指标",
        "三级指标",
        "指标值",
        "完成值",
        "完成状态",
        "分值",
        "得分",
        "自评得分",
        "偏差原因",
    ]
    assert len(rows) == 15
    assert rows[:5] == [
        ("109101", "1号项目", "1号.xlsx", n, r["level1"], r["level2"], r["name"],
         r["target"], r["actual"], r["status"], r["weight"], r["score"], r["score"], None)
        for n, r in enumerate(INDICATORS, start=1)
    ]  # fmt: skip
    # sichuan-2022 has no 分值/得分 columns: weights are equal shares of the 一级 weight and
    # 自评得分 is blank.
    sichuan = rows[5:10]
    assert [r[1:4] for r in sichuan] == [("2号项目", "2号.xlsx", n) for n in range(1, 6)]
    assert [r[10] for r in sichuan] == pytest.approx([50 / 3, 50 / 3, 50 / 3, 30, 10], abs=0.01)
    assert [r[12] for r in sichuan] == [None] * 5


FINDINGS_HEADER = [
    "主管部门",
    "实施单位",
    "项目名称",
    "文件",
    "工作表",
    "单元格",
    "代码",
    "级别",
    "状态",
    "栏目",
    "说明",
]


def test_findings_rows_exactly(small):
    coll, path = small
    header, rows = table(path, "问题清单")
    assert header == FINDINGS_HEADER
    third = coll.submissions[2].result.findings
    bad = coll.submissions[3].result.findings[0]
    owner = (DEPT[1], UNIT, "3号项目")
    nobody = (None, None, None)  # an unreadable file no roster names; the inbox's own
    assert rows == [
        (*owner, "3号.xlsx", "自评表", "G8", "E301", "错误", "有效", "年度资金总额全年执行数", third[0].message.zh),
        (*owner, "3号.xlsx", "自评表", "G9", "E301", "错误", "有效", "当年财政拨款全年执行数", third[1].message.zh),
        (*nobody, "坏文件.xlsx", None, None, "E001", "错误", "有效", None, bad.message.zh),
        # a field of no file's form: labelled as the forms label it
        (*nobody, "名册.csv", None, None, "W604", "警告", "有效", "项目名称", "未收到"),
    ]  # fmt: skip
    assert bad.field is None


# -- texts a unit typed ------------------------------------------------------------------------
NASTY = [
    '=HYPERLINK("http://x","点我")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-1+1",
    "\t制表符开头",
]


def test_formula_like_texts_stay_strings_on_every_sheet(tmp_path):
    subs = []
    for i, text in enumerate(NASTY):
        sub = submit(
            tmp_path, f"n{i}", change=with_text("project_name", text), dept_code=f"1091{i:02}"
        )
        rec = sub.result.record
        if rec.value("project_name") != text:
            # The reader strips a pasted leading tab; the summary must still write whatever the
            # record holds, so put it there directly.
            for fields in (rec.fields, rec.indicators[0].fields):
                key = "project_name" if fields is rec.fields else "reason"
                fields[key] = dataclasses.replace(fields[key], value=text)
        subs.append(sub)
    dept = subs[2].result.record  # a department name too (部门汇总 and the chart's categories)
    dept.fields["dept_name"] = dataclasses.replace(dept.fields["dept_name"], value=NASTY[0])
    path = write(tmp_path, Collection(inbox=str(tmp_path), submissions=subs, roster=[]))
    wb = openpyxl.load_workbook(path)
    places = {  # sheet: columns (1-based) holding the typed texts
        "项目明细": [4],
        "绩效指标": [2, 14],
        "报送情况": [4],  # every project is 名册外 of an empty roster
    }
    for sheet, cols in places.items():
        ws = wb[sheet]
        for col in cols:
            cells = next(ws.iter_cols(min_col=col, max_col=col, min_row=2))
            assert {c.value for c in cells if c.value in NASTY} == set(NASTY), (sheet, col)
            for c in cells:
                if c.value in NASTY:
                    assert c.data_type == "s", (sheet, c.coordinate)
    names = [c for c in wb["部门汇总"]["B"] if c.value == NASTY[0]]
    assert len(names) == 1 and names[0].data_type == "s"
    with zipfile.ZipFile(path) as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    # 绩效指标's texts are inline strings, so the text itself is in the sheet: no formula has it
    assert not re.search(r"<f>[^<]*HYPERLINK", sheets) and "<hyperlink" not in sheets
    assert "<f>" in sheets  # the totals: the pattern would see a formula


# -- the roster --------------------------------------------------------------------------------
def test_roster_received_missing_and_off_roster(small, tmp_path):
    coll, _ = small
    one, two_, _ = coll.projects
    roster = [
        RosterStatus(RosterRow(2, {"dept_code": "109101", "unit_name": UNIT, "project_name": "1号项目"}), one),
        RosterStatus(RosterRow(3, {"dept_code": "109101", "unit_name": "区财政局", "project_name": "未交项目", "project_code": "P-9"}), None),
        RosterStatus(RosterRow(4, {"dept_code": "109101", "unit_name": UNIT, "project_name": "2号项目"}), two_),
    ]  # fmt: skip
    coll = dataclasses.replace(coll, roster=roster, roster_path="名册.csv")
    path = write(tmp_path, coll)
    assert openpyxl.load_workbook(path).sheetnames == [*SHEETS, "报送情况"]
    header, rows = table(path, "报送情况")
    assert header == [
        "名册行号",
        "主管部门代码",
        "实施单位",
        "项目名称",
        "项目代码",
        "状态",
        "来源文件",
        "收到时间",
        "首次收到",
        "最近收到",
    ]
    got = RECEIVED, RECEIVED  # one file of each project, no store: first = last = its time
    assert rows == [
        (2, "109101", UNIT, "1号项目", None, "已收到", "1号.xlsx", RECEIVED, *got),
        (3, "109101", "区财政局", "未交项目", "P-9", "未收到", None, None, None, None),
        (4, "109101", UNIT, "2号项目", None, "已收到", "2号.xlsx", RECEIVED, *got),
        (None, "109101", UNIT, "3号项目", "P-2022-001", "名册外", "3号.xlsx", RECEIVED, *got),
    ]
    line = openpyxl.load_workbook(path)["部门汇总"]["A2"].value
    assert "名册 3 项，未收到 1 项" in line


def test_no_roster_no_roster_sheet(small):
    _, path = small
    assert openpyxl.load_workbook(path).sheetnames == SHEETS


# -- layout, print setup, charts ---------------------------------------------------------------
def test_every_sheet_frozen_filtered_and_set_up_for_a4_landscape(small, tmp_path):
    coll, _ = small
    path = write(tmp_path, dataclasses.replace(coll, roster=[]))
    wb = openpyxl.load_workbook(path)
    header_rows = {"部门汇总": 3}
    for ws in wb.worksheets:
        h = header_rows.get(ws.title, 1)
        assert ws.freeze_panes == f"A{h + 1}", ws.title
        assert ws.auto_filter.ref.startswith(f"A{h}:"), ws.title
        assert ws.print_title_rows == f"${h}:${h}", ws.title
        for cell in ws[h]:
            assert cell.font.name == "宋体" and cell.font.sz == 10, (ws.title, cell.coordinate)
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "landscape"
        assert ws.page_setup.pageOrder == "overThenDown", ws.title
        if ws.title == "项目明细":  # too wide for one page at 70 %: pages wide, 项目名称 on each
            assert not (
                ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage
            )
            assert 70 <= int(ws.page_setup.scale) <= 100
            assert ws.col_breaks.brk and ws.print_title_cols == "$D:$D"
            continue  # tests/test_summary_sheets.py prints it
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
    # Widths fit Chinese text: a CJK character counts 2, capped at ~50.
    ws = wb["部门汇总"]
    assert display_width(DEPT[1]) == 26
    assert 26 <= ws.column_dimensions["B"].width <= 52
    assert ws.column_dimensions["A"].width >= display_width("109101")
    assert wb["问题清单"].column_dimensions["K"].width <= 39  # 说明 wraps at 36


def test_charts_sit_below_the_department_table(small):
    _, path = small
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"xl/charts/chart1.xml", "xl/charts/chart2.xml"} <= names
        rate, grades = (
            z.read("xl/charts/chart1.xml").decode(),
            z.read("xl/charts/chart2.xml").decode(),
        )
        drawing = z.read("xl/drawings/drawing1.xml").decode()
        rels = z.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
    # 执行率 (column J) by department name (B); projects per grade from the 合计 row (6, under
    # the one department and the 其他 row of the unreadable file and the roster's W604).
    assert '<c:barDir val="bar"/>' in rate and '<c:barDir val="col"/>' in grades
    assert re.findall(r"<c:f>'?部门汇总'?!([^<]+)</c:f>", rate) == ["$B$4", "$J$4"]
    assert re.findall(r"<c:f>'?部门汇总'?!([^<]+)</c:f>", grades) == ["$M$3:$P$3", "$M$6:$P$6"]
    assert "drawing1.xml" in rels  # on 部门汇总
    # Anchored from row index ≥ 7 (0-based): title, subtitle, header, 2 rows and 合计.
    assert [
        int(r)
        for r in re.findall(
            r"<xdr:from><xdr:col>\d+</xdr:col><xdr:colOff>\d+</xdr:colOff><xdr:row>(\d+)</xdr:row>",
            drawing,
        )
    ] == [7, 7]


def test_same_input_same_bytes(small, tmp_path):
    coll, _ = small
    assert build_summary(coll, generated=GENERATED) == build_summary(coll, generated=GENERATED)
    # written into the file as it is made (`write_summary`), the very same bytes
    path = write_summary(coll, tmp_path / "汇总.xlsx", generated=GENERATED)
    assert path.read_bytes() == build_summary(coll, generated=GENERATED)


def test_empty_collection(tmp_path):
    path = write(tmp_path, Collection(inbox=str(tmp_path)))
    header, rows, total = department_table(path, data_only=True)
    assert rows == [] and header[12:16] == list("优良中差")
    assert total[:9] == ("合计", None, None, 0, None, 0, 0, 0, 0)
    assert table(path, "项目明细")[1] == []
    with zipfile.ZipFile(path) as z:
        assert not any(n.startswith("xl/charts/") for n in z.namelist())


def test_write_errors_are_output_errors(small, tmp_path):
    coll, _ = small
    with pytest.raises(OutputError) as exc:
        write_summary(coll, tmp_path)
    assert "文件夹" in exc.value.render("zh")
    with pytest.raises(OutputError) as exc:
        write_summary(coll, tmp_path / "no" / "such" / "汇总.xlsx")
    assert "无法写入" in exc.value.render("zh") and "cannot write" in exc.value.render("en")


# -- LibreOffice -------------------------------------------------------------------------------


def test_libreoffice_prints_the_summary_on_a4_landscape(two, tmp_path):
    _, path = two
    (pdf,) = convert([path], "pdf", tmp_path / "pdf", tmp_path / "profile")
    info = subprocess.run(
        [tool_or_skip("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    assert int(fields["Pages"]) >= 1
    width, height = (float(x) for x in fields["Page size"].split("pts")[0].split(" x "))
    assert (round(width), round(height)) == (842, 595)


# -- the big sheets' rows, written without xlsxwriter's cells ---------------------------------
AWKWARD = [
    "铃声\x07在此",  # a control character XML cannot hold: written _x0007_, read back as typed
    "_x0041_ 字面",  # text that looks like that escape: kept literally
    "  前后有空格  ",
    "a&b<c>d\"e'",
    "第一行\n第二行\n第三行",
    "很长的项目名称" * 20,  # wraps: its row is taller
    "<r>看似富文本</r>",  # xlsxwriter writes such a shared string as raw rich-text XML
    "<r><t>x</t></r></si><si><t>y</t></r>",
]


def test_big_sheets_hold_every_text_exactly_for_openpyxl_and_libreoffice(tmp_path):
    """项目明细/绩效指标/问题清单/报送情况 rows are written as XML by the summary itself: texts
    with control characters, escape-like runs, edge spaces, XML specials and line breaks must
    come back as they were, in openpyxl and in LibreOffice; the received time is a date; a
    wrapped text gets a taller row."""
    subs = []
    for i, text in enumerate(AWKWARD):
        # a short department name: it must not wrap (and make every row taller) in its column
        sub = submit(
            tmp_path,
            f"a{i}",
            dept_code=f"1092{i:02}",
            dept_name="宣传部",
            project_name=f"项目{i}",
        )
        rec = sub.result.record
        rec.fields["project_name"] = dataclasses.replace(rec.fields["project_name"], value=text)
        subs.append(sub)
    path = write(tmp_path, Collection(inbox=str(tmp_path), submissions=subs, roster=[]))

    def names(p: Path) -> tuple[list, list]:
        wb = openpyxl.load_workbook(p)
        ws = wb["项目明细"]
        header = [c.value for c in ws[1]]
        col = header.index("项目名称") + 1
        got = [ws.cell(row=r, column=col).value for r in range(2, ws.max_row + 1)]
        when = [
            ws.cell(row=r, column=header.index("收到时间") + 1).value
            for r in range(2, ws.max_row + 1)
        ]
        return got, when, ws

    got, when, ws = names(path)
    # openpyxl leaves Excel's _xHHHH_ escape of a control character as it is (Excel and
    # LibreOffice decode it): the same as for a string xlsxwriter writes itself.
    as_openpyxl = sorted(t.replace("\x07", "_x0007_") for t in AWKWARD)
    assert sorted(got) == as_openpyxl
    assert set(when) == {RECEIVED}
    height = {text: ws.row_dimensions[row].height for row, text in enumerate(got, start=2)}
    assert height["  前后有空格  "] is None  # one line: the default height
    assert height["第一行\n第二行\n第三行"] == 3 * LINE_HEIGHT + 3
    assert height["很长的项目名称" * 20] >= 2 * LINE_HEIGHT + 3  # wrapped at the column's width
    assert ws.max_row == len(AWKWARD) + 1  # the sheet's dimension covers the rows
    # 绩效指标's texts are inline strings. LibreOffice decodes their escapes as a shared
    # string's (below); openpyxl decodes only a shared string's escaped underscore ("_x005F_").
    inline = {t.replace("_x0041_", "_x005F_x0041_") for t in as_openpyxl}
    indicators = openpyxl.load_workbook(path)["绩效指标"]
    assert {c.value for c in indicators["B"][1:]} == inline

    (out,) = convert([path], "xlsx", tmp_path / "lo", tmp_path / "profile")
    got_lo, when_lo, _ = names(out)
    assert sorted(got_lo) == as_openpyxl  # LibreOffice saved it again, escaped the same way
    assert set(when_lo) == {RECEIVED}
    # … and 绩效指标's inline strings, read by LibreOffice, are the very texts (saved by it as
    # shared strings)
    indicators = openpyxl.load_workbook(out)["绩效指标"]
    assert {c.value for c in indicators["B"][1:]} == set(as_openpyxl)


@pytest.mark.parametrize("kind", ["text", "center", "int", "amount", "rate", "score", "datetime"])
def test_a_column_is_as_wide_as_cell_by_cell(kind):
    """`_widest` settles a column from its longest texts and its largest and smallest numbers;
    it must give what widening for each cell in turn gives, for every kind of value."""
    import random
    from datetime import datetime

    from perfeval_xl.office.summary import MAX_WIDTH, _cell_text, _widen, _widest

    rng = random.Random(kind)
    pool = [
        None,
        True,
        0,
        -0.0,
        float("nan"),
        float("inf"),
        -float("inf"),
        datetime(2023, 5, 6, 7, 8),
        "已完成",
        "项目\n第二行很长很长很长很长很长很长很长很长",
        "x" * 40000,
        "宽" * 30,
    ]
    for _ in range(200):
        column = []
        for _ in range(rng.randint(0, 40)):
            roll = rng.random()
            if roll < 0.3:
                column.append(rng.choice(pool))
            elif roll < 0.6:
                column.append(rng.uniform(-1, 1) * 10 ** rng.randint(-6, 12))
            elif roll < 0.7:
                column.append(rng.randint(-(10**9), 10**9))
            else:
                column.append("".join(rng.choice("测a 1\n宽") for _ in range(rng.randint(0, 60))))
        start = rng.randint(4, 60)
        # the column as it comes, and its texts or its numbers alone (with its blanks): most
        # columns are of one kind, and `_widest` takes those another way
        for cells in (
            column,
            [v for v in column if v is None or type(v) is str],
            [v for v in column if v is None or type(v) in (float, int)],
        ):
            one_by_one = [start]
            for value in cells:
                _widen(one_by_one, 0, _cell_text(value, kind))
            got = _widest(tuple(cells), kind, start)
            assert min(got, MAX_WIDTH) == min(one_by_one[0], MAX_WIDTH), cells


def test_a_department_name_that_looks_like_rich_text_stays_text(tmp_path):
    """xlsxwriter passes a string "<r>…</r>" into the shared strings as rich-text XML, so a
    unit's text of that shape became markup (or a file Excel repairs); 部门汇总 writes it as
    the text it is."""
    name = "<r>宣传部</r>"
    sub = submit(tmp_path, "a", dept_code="109101", dept_name=name, project_name="项目")
    path = write(tmp_path, Collection(inbox=str(tmp_path), submissions=[sub], roster=[]))
    ws = openpyxl.load_workbook(path)["部门汇总"]
    assert [c.value for c in ws["B"] if c.value == name] == [name]


def test_bulk_rows_are_written_cell_by_cell_and_every_shared_text_use_counted():
    """`_BulkTable` writes a recurring text's or number's cell once per column and reuses it;
    each cell must still be what that value alone gives (0 and -0.0, 1 and 1.0, a text's
    index and its lines at each column's width), and `<sst count>` must count every use of a
    shared string, as xlsxwriter counts the cells it writes itself."""
    import io
    import random

    import xlsxwriter

    from perfeval_xl.office.summary import (
        _EXTRA,
        _KINDS,
        LINE_HEIGHT,
        MAX_WIDTH,
        _BulkTable,
        _lines,
    )

    rng = random.Random(7)
    texts = ["已完成", "产出指标", "很长的指标名称" * 6, "第一行\n第二行", "<r>像富文本</r>", "x"]
    numbers = [0, -0.0, 0.0, 1, 1.0, 2.5, -2.5, 1e16, 10**16, 123456789.123, 1 / 3]
    rows = []
    for _ in range(400):
        rows.append(
            [
                rng.choice(texts),
                rng.choice(numbers),
                rng.choice([*texts, None]),
                rng.choice([*numbers, None]),
            ]
        )
    wb = xlsxwriter.Workbook(io.BytesIO())
    ws = wb.add_worksheet("t")
    fmt = {kind: wb.add_format(props) for kind, props in {**_KINDS, **_EXTRA}.items()}
    columns = [("a", "text"), ("b", "score"), ("c", "center"), ("d", "amount")]
    table = _BulkTable(ws, fmt, 0, columns)
    for values in rows:
        table.add(values)
    before = ws.str_table.count
    table.finish()
    with table.xml:
        xml = table.xml.read().decode()
    strings = ws.str_table.string_table
    widths = [min(w, MAX_WIDTH) + 2 for w in table.widths]  # as `finish` set them (no caps)

    got_rows = re.findall(r'<row r="(\d+)"([^>]*)>(.*?)</row>', xml)
    assert len(got_rows) == len(rows)
    uses = 0
    for i, ((n, attrs, body), values) in enumerate(zip(got_rows, rows, strict=True)):
        assert int(n) == i + 2  # under the header row
        cells = re.findall(r"<c r=\"[A-Z]+\d+\" s=\"\d+\"(.*?)(?:/>|</c>)", body)
        assert len(cells) == len(values)
        lines = 1
        for col, (cell, value) in enumerate(zip(cells, values, strict=True)):
            if value is None:
                assert cell == ""
            elif isinstance(value, str):
                if value.startswith("<r>"):
                    assert cell.startswith(' t="inlineStr"><is><t>&lt;r&gt;')
                else:
                    assert cell == f' t="s"><v>{strings[value]}</v>'
                    uses += 1
                if 2 * len(value) > widths[col] - 1 or "\n" in value:
                    lines = max(lines, _lines(value, widths[col]))
            else:
                assert cell == f"><v>{value:.16G}</v>", (value, cell)
        if lines > 1:
            assert f'ht="{lines * LINE_HEIGHT + 3:g}"' in attrs
        else:
            assert "ht=" not in attrs
    assert ws.str_table.count - before == uses


class _Str(str):
    """A text of a type of its own (written as `_BulkTable._odd_cell` writes it)."""


@pytest.mark.parametrize("inline", [False, True])
def test_a_cell_of_its_own_style_is_the_same_cell_in_that_style(inline):
    """`_BulkTable._render` joins a row from pieces kept per column (each cell after its row
    number, with the next cell's start), and gives a cell of a style of its own (项目明细's
    状态 of a project with errors) that style in its piece: with every kind of value, such a
    row must be the plain row but for those cells' style, with the same shared strings
    counted."""
    import io
    import random
    from datetime import datetime

    import xlsxwriter

    from perfeval_xl.office.summary import _EXTRA, _KINDS, _BulkTable

    rng = random.Random(11)
    pool = [
        "已完成",
        "很长的指标名称" * 6,
        "第一行\n第二行",
        "<r>像富文本</r>",
        "_x0041_",
        "",
        None,
        0,
        -0.0,
        1,
        1.0,
        2.5,
        10**16,
        1 / 3,
        123456789.123,
        float("inf"),
        float("nan"),
        True,
        datetime(2023, 5, 6, 7, 8),
        _Str("子类"),
    ]
    columns = [("a", "text"), ("b", "score"), ("c", "center"), ("d", "amount"), ("e", "text")]
    rows = [[rng.choice(pool) for _ in columns] for _ in range(300)]
    own = {0: "bad", 3: "bad"}

    def written(styled: bool) -> tuple[str, int, dict[str, int]]:
        wb = xlsxwriter.Workbook(io.BytesIO())
        ws = wb.add_worksheet("t")
        fmt = {kind: wb.add_format(props) for kind, props in {**_KINDS, **_EXTRA}.items()}
        table = _BulkTable(ws, fmt, 0, columns, inline=inline)
        for i, values in enumerate(rows):
            table.add(values, own if styled and i % 2 else None)
        table.finish()
        assert table.xml is not None
        with table.xml:
            xml = table.xml.read().decode()
        return xml, ws.str_table.count, {k: f.xf_index for k, f in fmt.items()}

    plain, plain_count, index = written(styled=False)
    styled, styled_count, styled_index = written(styled=True)
    assert styled_count == plain_count
    bad = styled_index["bad"]
    assert bad not in (index["text"], index["amount"])
    assert len(re.findall(f'<c r="[AD]\\d+" s="{bad}"', styled)) == 2 * (len(rows) // 2)
    assert f's="{bad}"' not in re.sub(r'<c r="[AD]\d+" s="\d+"', "", styled)
    back = re.sub(f'(<c r="A\\d+") s="{bad}"', rf'\1 s="{index["text"]}"', styled)
    back = re.sub(f'(<c r="D\\d+") s="{bad}"', rf'\1 s="{index["amount"]}"', back)
    assert back == plain
    assert plain.count("<row ") == len(rows)
    assert ('t="inlineStr"><is><t>已完成' in plain) is inline
