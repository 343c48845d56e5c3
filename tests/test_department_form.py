"""The 部门整体支出绩效自评表 (`[form] kind = "department"`), end to end.

A department fills it once a year; the finance office pre-prints every row (`[[items]]`: 一级 /
二级 / 三级 / 分值 / 指标解释 / 评分标准) and the department types its 自评得分 and 扣分原因. Here:
the spec and its mistakes, the template typed through LibreOffice's API, `check`, `collect` with
a project form beside it, the 部门整体 sheet cell by cell, and the A4 print.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from helpers import open_xlsx, run_cli, staged
from soffice import tool_or_skip

from perfeval_xl import SpecError, build_template, load_spec
from perfeval_xl.forms.layout import contract_names, make_layout
from perfeval_xl.forms.spec import parse_spec

DEPARTMENT = Path(__file__).parents[1] / "workbook_templates" / "department-2023.toml"
TEXT = DEPARTMENT.read_text(encoding="utf-8")
NATIONAL = (Path(__file__).parent.parent / "workbook_templates" / "national-2020.toml").read_text(
    encoding="utf-8"
)


def _errors(text: str, path: str = "dept.toml") -> list[tuple[str, str]]:
    """Every (key, English message) a spec text is refused with."""
    with pytest.raises(SpecError) as err:
        parse_spec(text.encode("utf-8"), path)
    errors = getattr(err.value, "errors", [err.value])
    return [(e.key, e.text.en) for e in errors]


def test_the_department_spec_loads_with_its_items_and_level2_weights():
    spec = load_spec("department-2023")
    assert spec.same_rules(load_spec(DEPARTMENT))  # the file as shipped
    assert spec.department and spec.kind == "department"
    assert spec.fund_rows == () and spec.fund_columns == () and not spec.has_funds
    assert spec.goals is None and spec.exec_weight == 0
    assert spec.indicator_rows == len(spec.items) == 21
    assert sum(x.weight for x in spec.items) == spec.score_total == 100
    assert [(x.label, x.weight) for x in spec.level1] == [
        ("规划", 15),
        ("执行", 35),
        ("产出", 25),
        ("效益", 25),
    ]
    # the 寿县 figures
    assert {k: spec.level2_weight[k] for k in ("基础信息", "工作计划", "绩效目标", "预算执行")} == {
        "基础信息": 3,
        "工作计划": 6,
        "绩效目标": 6,
        "预算执行": 18,
    }
    first = spec.items[0]
    assert (first.level1, first.level2, first.name, first.weight) == (
        "规划",
        "基础信息",
        "基础数据信息准确性",
        3,
    )
    assert dict(first.texts).keys() == {"explain", "criteria"}
    assert [c.key for c in spec.indicator_columns if c.extra] == ["explain", "criteria"]


def test_a_project_form_keeps_its_kind_and_has_no_items():
    spec = load_spec("national-2020")
    assert spec.kind == "project" and not spec.department and spec.items == ()
    assert spec.has_funds


FIRST_ITEM = """[[items]]
level1 = "规划"
level2 = "基础信息"
name = "基础数据信息准确性"
weight = 3
"""


@pytest.mark.parametrize(
    ("what", "old", "new", "exp"),
    [
        (
            "item under an unknown level2",
            FIRST_ITEM,
            FIRST_ITEM.replace('level2 = "基础信息"', 'level2 = "基础资料"'),
            ("items[0].level2", "not a level2 of 规划: 基础资料"),
        ),
        (
            "item under an unknown level1",
            FIRST_ITEM,
            FIRST_ITEM.replace('level1 = "规划"', 'level1 = "决策"'),
            ("items[0].level1", "not a level1 of [taxonomy]: 决策"),
        ),
        (
            "level2 weights not adding up to the level1",
            '{ label = "基础信息", weight = 3 }',
            '{ label = "基础信息", weight = 4 }',
            ("taxonomy.level1[0].level2", "level2 weights add up to 16, not the level1 weight 15"),
        ),
        (
            "level2 table with an unknown key",
            '{ label = "基础信息", weight = 3 }',
            '{ label = "基础信息", weight = 3, wieght = 3 }',
            ("taxonomy.level1[0].level2[0]", "unknown key: wieght"),
        ),
        (
            "items not adding up to their level2",
            'name = "基础数据信息准确性"\nweight = 3',
            'name = "基础数据信息准确性"\nweight = 2',
            ("items", "the weights of the items under level2 基础信息 add up to 2, not 3"),
        ),
        (
            "funds absent with exec_weight above 0",
            "[scoring]\ntotal = 100",
            "[scoring]\ntotal = 110\nexec_weight = 10",
            ("scoring.exec_weight", "the form has no [funds] (no 执行率): exec_weight must be 0"),
        ),
        (
            "a project header field required",
            'name = "dept_code"',
            'name = "dept_id"',
            ("header", "missing fields: dept_code"),
        ),
        (
            "score column required",
            '    { key = "score", label = "自评得分", width = 8 },\n',
            "",
            ("indicators.columns", "missing columns: score"),
        ),
        (
            "an unscored department form",
            "scored = true",
            "scored = false",
            ("form.scored", 'a department form (kind = "department") needs scored = true'),
        ),
        (
            "indicator_rows other than the items",
            "scored = true",
            "scored = true\nindicator_rows = 20",
            ("form.indicator_rows", "a department form has the 21 rows of [[items]]"),
        ),
        (
            "an item text over its column's limit",
            'criteria = "数据准确完整得 3 分；',
            'criteria = "' + "长" * 500 + "数据准确完整得 3 分；",
            ("items[0].criteria", "longer than the 500 characters of 指标说明及评分标准"),
        ),
        (
            "an unknown kind",
            'kind = "department"',
            'kind = "unit"',
            ("form.kind", "must be one of project, department"),
        ),
    ],
)
def test_a_wrong_department_spec_names_the_key(what, old, new, exp):
    assert old in TEXT, what
    got = _errors(TEXT.replace(old, new, 1))
    assert any(key == exp[0] and exp[1] in msg for key, msg in got), got


def test_a_department_form_lists_its_items():
    got = _errors(TEXT[: TEXT.index("[[items]]")])
    assert got == [("items", "a department form lists its pre-printed rows in [[items]]")]


def test_every_mistake_of_a_department_spec_is_reported_at_once():
    text = TEXT.replace('name = "dept_code"', 'name = "dept_id"').replace(
        FIRST_ITEM, FIRST_ITEM.replace('level2 = "基础信息"', 'level2 = "基础资料"')
    )
    assert [key for key, _ in _errors(text)] == ["header", "items[0].level2"]


def test_a_project_form_may_have_no_funds_but_then_no_exec_weight():
    start = NATIONAL.index("[funds]")
    end = NATIONAL.index("[goals]")
    no_funds = NATIONAL[:start] + NATIONAL[end:]
    got = _errors(no_funds)
    assert got == [("scoring.exec_weight", got[0][1])]
    assert "exec_weight must be 0, not 10" in got[0][1]
    fixed = no_funds.replace("exec_weight = 10", "exec_weight = 0").replace(
        'label = "产出指标", weight = 50', 'label = "产出指标", weight = 60'
    )
    spec = parse_spec(fixed.encode("utf-8"), "no-funds.toml")
    assert spec.fund_rows == () and spec.exec_weight == 0 and spec.kind == "project"
    # its template has no fund block, and a blank one reads without a fund finding
    wb = open_xlsx(build_template(spec))
    assert not any(n.startswith("pe_fund_") or n.startswith("pe_exec_") for n in wb.defined_names)
    assert "pe_goal_expected" in wb.defined_names


def test_a_project_form_needs_its_goals_and_has_no_items():
    start = NATIONAL.index("[goals]")
    end = NATIONAL.index("[indicators]")
    assert ("goals", "missing") in _errors(NATIONAL[:start] + NATIONAL[end:])
    got = _errors(NATIONAL + "\n" + FIRST_ITEM)
    assert got == [("items", '[[items]] is for department forms (kind = "department") only')]


# -- the template, typed in LibreOffice, checked and collected ---------------------------------
SPEC = load_spec("department-2023")
WEIGHTS = [x.weight for x in SPEC.items]
#: The department's 自评得分: full marks but for three rows, each with its 扣分原因.
SCORES = list(WEIGHTS)
SCORES[5] = 5.2  # 预算完成率 6: 93.9 %
SCORES[9] = 2.5  # 公用经费控制率 3
SCORES[20] = 9  # 服务对象满意度 10
REASONS: list[str | None] = [None] * len(WEIGHTS)
REASONS[5] = "年末两笔采购未支付，预算完成率 93.9%"
REASONS[9] = "公用经费超预算 1.7 个百分点"
REASONS[20] = "满意度调查 88%"
HEADER = {"pe_dept_name": "寿县某局", "pe_dept_code": "341521101", "pe_year": 2023}


def typed(scores=SCORES, reasons=REASONS) -> dict[str, object]:
    return {**HEADER, "pe_ind_score": list(scores), "pe_ind_reason": list(reasons)}


def test_the_template_prints_the_office_rows_locked_and_leaves_the_scores_to_fill():
    wb = open_xlsx(build_template(SPEC))
    ws = wb[SPEC.sheet]
    names = contract_names(make_layout(SPEC))
    assert "pe_goal_expected" not in names and not any(n.startswith("pe_fund_") for n in names)
    assert ws.protection.sheet
    col = {k: area.first_col + 1 for k, area in names.items() if k.startswith("pe_ind_")}
    first = names["pe_ind_level1"].first_row + 1
    for i, item in enumerate(SPEC.items):
        row = first + i
        assert ws.cell(row, col["pe_ind_name"]).value == item.name
        assert ws.cell(row, col["pe_ind_weight"]).value == item.weight
        assert ws.cell(row, col["pe_ind_explain"]).value == dict(item.texts)["explain"]
        for key in ("name", "weight", "explain", "criteria"):
            assert ws.cell(row, col[f"pe_ind_{key}"]).protection.locked, (row, key)
        for key in ("score", "reason"):
            assert not ws.cell(row, col[f"pe_ind_{key}"]).protection.locked, (row, key)
    # 一级 and 二级 with their 分值, merged over their rows
    assert ws.cell(first, col["pe_ind_level1"]).value == "规划（15分）"
    assert ws.cell(first, col["pe_ind_level2"]).value == "基础信息（3分）"
    assert ws.cell(first + 1, col["pe_ind_level2"]).value == "工作计划（6分）"
    assert ws.cell(first + 5, col["pe_ind_level2"]).value == "预算执行（18分）"
    merged = {str(r) for r in ws.merged_cells.ranges}
    letter = openpyxl.utils.get_column_letter(col["pe_ind_level1"])
    assert f"{letter}{first}:{letter}{first + 4}" in merged
    total = names["pe_total_score"]
    assert ws.cell(total.first_row + 1, 2).value == "合计"
    assert ws.cell(names["pe_weight_total"].first_row + 1, col["pe_ind_weight"]).value.startswith(
        "="
    )
    wb.close()


def test_a_department_form_through_libreoffice_check_and_collect(office, tmp_path):
    """template → typed in LibreOffice → check → collect beside a project form: the 部门整体
    sheet cell by cell, the project where it belongs, and the sheet's 自检 at 0."""
    made = tmp_path / "office"
    made.mkdir()
    blank = made / "blank.xlsx"
    done = run_cli("template", "--form", "department-2023", "-o", str(blank), cwd=made)
    assert done.returncode == 0, done.stderr
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good, bad = inbox / "寿县某局部门整体.xlsx", inbox / "另一局部门整体.xlsx"
    wrong = list(SCORES)
    wrong[0] = 4  # 3 分 at most: E504
    wrong[1] = None  # blank: E510
    reasons = list(REASONS)
    reasons[20] = "无"  # 9 of 10 with no reason: E508
    office.run(
        [
            {"open": str(blank), "steps": [{"op": "type", "values": typed()}], "save": str(good)},
            {
                "open": str(blank),
                "steps": [
                    {
                        "op": "type",
                        "values": {
                            **typed(wrong, reasons),
                            "pe_dept_code": "341521102",
                            "pe_dept_name": "寿县另一局",
                        },
                    }
                ],
                "save": str(bad),
            },
        ]
    )
    staged(inbox / "项目.xlsx")

    reader = tmp_path / "reader"
    reader.mkdir()
    checked = run_cli("check", "--format", "json", str(good), str(bad), cwd=reader)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    doc = json.loads(checked.stdout)
    ok, ko = doc["files"]
    assert ok["findings"] == [] and ok["form"] == "department-2023"
    assert ok["project"]["score"] == pytest.approx(100 - 0.8 - 0.5 - 1)
    assert ok["project"]["score_complete"] is True
    assert ok["project"]["subtotals"] == {"规划": 15, "执行": 33.7, "产出": 25, "效益": 24}
    errors = sorted((f["code"], f["cell"]) for f in ko["findings"] if f["severity"] == "error")
    score_col = openpyxl.utils.get_column_letter(
        contract_names(make_layout(SPEC))["pe_ind_score"].first_col + 1
    )
    reason_col = openpyxl.utils.get_column_letter(
        contract_names(make_layout(SPEC))["pe_ind_reason"].first_col + 1
    )
    first = contract_names(make_layout(SPEC))["pe_ind_score"].first_row + 1
    assert errors == sorted(
        [
            ("E504", f"{score_col}{first}"),
            ("E510", f"{score_col}{first + 1}"),
            ("E508", f"{reason_col}{first + 20}"),
        ]
    )
    assert ko["project"]["score_complete"] is False

    # the sheet's own 自检 counts exactly those: 0 on the good file, 3 on the other
    for path, exp in ((good, 0), (bad, 3)):
        wb = openpyxl.load_workbook(path, data_only=True)
        (sheet, ref), *_ = wb.defined_names["pe_selfcheck"].destinations
        assert wb[sheet][ref.replace("$", "")].value == exp, path.name
        wb.close()

    summary = tmp_path / "汇总.xlsx"
    collected = run_cli(
        "collect",
        str(inbox),
        "-o",
        str(summary),
        "--json",
        str(tmp_path / "s.json"),
        "-q",
        cwd=reader,
    )
    # 1: errors found (the second department's three)
    assert collected.returncode == 1, collected.stdout + collected.stderr
    assert "已读取 1 个项目、2 份部门整体自评表，0 个文件无法读取；3 个错误" in collected.stdout
    wb = openpyxl.load_workbook(summary, read_only=True)
    assert wb.sheetnames[:3] == ["部门汇总", "项目明细", "部门整体"]
    rows = [r for r in wb["部门整体"].iter_rows(values_only=True) if any(v is not None for v in r)]
    head = rows[0]
    assert head == (
        "主管部门代码",
        "主管部门",
        "年度",
        "自评总分",
        "核定总分",
        "规划",
        "执行",
        "产出",
        "效益",
        "等级",
        "错误",
        "警告",
        "状态",
        "表式",
        "来源文件",
        "收到时间",
    )
    got = [dict(zip(head, r, strict=True)) for r in rows[1:]]
    assert len(got) == 2
    first_row, second_row = got
    received = first_row.pop("收到时间")
    assert isinstance(received, datetime)
    assert first_row == {
        "主管部门代码": "341521101",
        "主管部门": "寿县某局",
        "年度": "2023",
        "自评总分": pytest.approx(97.7),
        "核定总分": pytest.approx(97.7),
        "规划": 15,
        "执行": pytest.approx(33.7),
        "产出": 25,
        "效益": 24,
        "等级": "优（核定）",
        "错误": 0,
        "警告": 0,
        "状态": "通过",
        "表式": "department-2023",
        "来源文件": "寿县某局部门整体.xlsx",
    }
    assert second_row["主管部门代码"] == "341521102"
    assert second_row["核定总分"] is None and second_row["等级"] == "不完整"
    assert second_row["错误"] == 3 and second_row["状态"] == "有错误"
    # the project stays a project: one row in 项目明细, its department counted with one project
    projects = [r for r in wb["项目明细"].iter_rows(values_only=True) if r and r[0]]
    assert sum(1 for r in projects if r[0] == "109101") == 1
    assert not any(r[0] in ("341521101", "341521102") for r in projects)
    departments = [r for r in wb["部门汇总"].iter_rows(values_only=True) if r and r[0]]
    assert not any(r[0] in ("341521101", "341521102") for r in departments)
    issues = [r for r in wb["问题清单"].iter_rows(values_only=True) if r and r[6] in ("E504",)]
    assert issues and issues[0][2] == "部门整体支出绩效自评表"
    wb.close()
    data = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert data["totals"]["projects"] == 1
    assert data["totals"]["department_forms"] == 2
    assert (
        sum(r["errors"] for r in data["departments"]) + data["other"]["errors"]
        == (data["totals"]["errors"])
    )
    forms = [f for f in data["files"] if f["form"] == "department-2023"]
    assert len(forms) == 2 and all(f["used"] for f in forms)


def test_a_newer_department_form_supersedes_the_older(tmp_path):
    from perfeval_xl.office.collect import collect

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = build_template(SPEC, {"dept_name": "寿县某局", "dept_code": "341521101", "year": 2023})
    (inbox / "a.xlsx").write_bytes(data)
    (inbox / "b.xlsx").write_bytes(data)
    os.utime(inbox / "a.xlsx", (1_600_000_000, 1_600_000_000))
    coll = collect(inbox, workers=1)
    assert [s.item.source for s in coll.departments] == ["b.xlsx"]
    assert coll.projects == []
    (old,) = coll.superseded
    assert old.item.source == "a.xlsx"
    assert any(f.code == "W601" and "部门整体" in f.message.zh for f in old.result.findings)


def test_the_department_form_prints_on_a4_landscape_one_page_wide(office, tmp_path):
    blank = tmp_path / "blank.xlsx"
    blank.write_bytes(build_template(SPEC))
    pdf = tmp_path / "blank.pdf"
    office.run([{"open": str(blank), "steps": [], "pdf": str(pdf)}])
    out = subprocess.run(
        [tool_or_skip("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    width, height = (float(x) for x in fields["Page size"].split("pts")[0].split(" x "))
    assert (round(width), round(height)) == (842, 595)
    assert 1 <= int(fields["Pages"]) <= 4
    text = subprocess.run(
        [tool_or_skip("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # one page wide: every column's header on the first page
    page1 = text.split("\f")[0]
    for c in SPEC.indicator_columns:
        assert c.label in page1.replace(" ", ""), c.label


def test_a_department_form_without_a_reason_column_asks_for_none(tmp_path):
    """寿县's own form has no 扣分原因 column: a copy without it scores a deducted row as
    reported, and no finding asks for a reason it has nowhere to write."""
    from perfeval_xl.forms.spec import load_forms
    from perfeval_xl.review.checks import check_workbook

    line = '    { key = "reason", label = "扣分原因", width = 22, max_length = 300 },\n'
    assert line in TEXT
    text = TEXT.replace(line, "").replace('id = "department-2023"', 'id = "shouxian-2023"', 1)
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "shouxian.toml").write_text(text, encoding="utf-8")
    spec = load_forms(forms).find("shouxian-2023", 1)
    assert spec is not None and "reason" not in spec.indicator_keys
    wb = open_xlsx(
        build_template(spec, {"dept_name": "寿县某局", "dept_code": "341521101", "year": 2023})
    )
    from helpers import named_cell

    first = named_cell(wb, "pe_ind_score")
    ws, row, col = first.parent, first.row, first.column
    for i, score in enumerate(SCORES):
        ws.cell(row=row + i, column=col, value=score)
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    result = check_workbook(path, forms=load_forms(forms))
    assert [f.code for f in result.findings if f.severity == "error"] == []
    assert "E508" not in [f.code for f in result.findings]
    assert result.score.total == pytest.approx(sum(SCORES))
