"""The seed's three projects (区委宣传部, 2022), filled on the seed's own form as the paper has
them, and checked. The paper form is a typical real one: it uses the alias 完成指标 for 产出指标,
writes 二级 labels with stray spaces or as 满意度指标, describes most targets in prose instead of
quantifying them, and says "已完成"/"未支付完成" where a number is expected. The checks must say
exactly that, and report the unpaid cost indicator that has no reason, and nothing else."""

from __future__ import annotations

import pytest
from helpers import fill, named_cell, open_xlsx

from perfeval_xl import build_template, load_spec, sample_roster_path, seed_projects
from perfeval_xl.office.roster import read_roster
from perfeval_xl.review.checks import check_workbook

SPEC = load_spec("sichuan-2022")
ISSUED = (
    "project_name",
    "dept_code",
    "dept_name",
    "unit_name",
    "year",
    "fund_fiscal_budget",
    "goal_expected",
)

# Every project has the same six rows: 数量, 质量, 时效, 成本, 社会效益, 满意度. What each row gives:
#   all five 产出/效益 rows: 一级 "完成指标" is an alias of 产出指标                → W204 on level1
#   rows 0, 1, 2, 4: the target is prose, neither quantified nor marked 定性   → W408 on target
#   row 3 (成本): target "100万元" is quantified (a cost: ≤), actual "未支付完成"  → W411 on actual
#                status 未完成 and no 偏差原因                                   → E405 on reason
#   row 4: 二级 "社会效益  指标" has stray spaces                                 → W204 on level2
#          and the paper files it under the merged 一级 cell 完成指标: a 效益 indicator under
#          产出指标                                                               → E403 on level2
#          it is scored under 效益指标, where it belongs, so 效益 is not missing  (no E406)
#   row 5: 二级 "满意度指标" is an alias of 服务对象满意度指标                    → W204 on level2
#          target "满意度≥90%" is quantified (≥ 90 %, not below the 90 % floor), actual "已完成" → W411
# Header, funds (16 ≤ 100, 99.63 ≤ 114.56, 40 ≤ 210) and goals are clean: no finding there.
EXPECTED = sorted(
    [("W204", "level1", r) for r in range(5)]
    + [("W408", "target", r) for r in (0, 1, 2, 4)]
    + [
        ("W411", "actual", 3),
        ("E405", "reason", 3),
        ("W204", "level2", 4),
        ("E403", "level2", 4),
        ("W204", "level2", 5),
        ("W411", "actual", 5),
        # no E406: the 社会效益指标 under 完成指标 counts (and is scored) as 效益指标
    ]
)


def filled_seed(tmp_path, project: dict):
    issued = {k: project[k] for k in ISSUED}
    issued["fund_fiscal_budget"] = float(issued["fund_fiscal_budget"])
    wb = open_xlsx(build_template(SPEC, issued))
    fill(
        wb,
        {"fund_fiscal_spent": project["fund_fiscal_spent"], "goal_actual": project["goal_actual"]},
        project["indicators"],
    )
    path = tmp_path / f"{project['project_name']}.xlsx"
    wb.save(path)
    return path, wb


@pytest.mark.parametrize("index", range(3), ids=["媒体合作", "文明城市", "对外宣传"])
def test_seed_project_findings(tmp_path, index):
    project = seed_projects()[index]
    path, wb = filled_seed(tmp_path, project)
    result = check_workbook(path)
    columns = {named_cell(wb, f"pe_ind_{k}").column_letter: k for k in SPEC.indicator_keys}
    first = named_cell(wb, "pe_ind_level1").row

    def where(cell: str | None) -> tuple[str, int]:
        if cell is None:
            return ("", -1)
        col, row = cell.rstrip("0123456789"), int(cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return (columns[col], row - first)

    got = sorted((f.code, *where(f.cell)) for f in result.findings)
    assert got == EXPECTED
    rec = result.record
    assert rec.value("project_name") == project["project_name"]
    assert rec.fund("total", "budget") == pytest.approx(project["fund_fiscal_budget"])
    assert rec.fund("total", "spent") == pytest.approx(project["fund_fiscal_spent"])
    assert [i.value("level1") for i in rec.indicators] == ["产出指标"] * 5 + ["满意度指标"]
    assert rec.indicators[4].value("level2") == "社会效益指标"
    assert rec.indicators[5].value("level2") == "服务对象满意度指标"


def test_media_project_cost_indicator_is_reported(tmp_path):
    path, _ = filled_seed(tmp_path, seed_projects()[0])
    (e405,) = [f for f in check_workbook(path).findings if f.code == "E405"]
    assert e405.severity == "error"
    assert (
        e405.message.render("zh")
        == "指标「中央、省、市三级媒体合作经费」状态为「未完成」，缺少偏差原因"
    )


def test_sample_roster_matches_the_seed():
    with sample_roster_path() as roster:
        rows = read_roster(roster, SPEC)
    for row, project in zip(rows, seed_projects(), strict=True):
        for key, value in row.values.items():
            assert value == project[key], key
