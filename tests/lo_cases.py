"""What a unit types into each form in LibreOffice, and how the tampered files are made.

Shared by tests/test_roundtrip.py (live, through a running soffice) and by the files kept in
tests/data/ (made by this module's `main`, see tests/data/README.md). The office issues
templates from one roster (`write_roster`); the unit types `typed(form)` into the unlocked cells by
contract name, choosing the dropdown values by typing the list's text.

    .venv/bin/python tests/lo_cases.py tests/data     # regenerate tests/data/*.xlsx
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from perfeval_xl import DEFAULT_PASSWORD, build_template, load_spec, read_roster

FORMS = ["national-2020", "sichuan-2023", "sichuan-2022", "national-2021"]
DEPT = {
    "dept_code": "109101",
    "dept_name": "中共攀枝花市仁和区委宣传部",
    "unit_name": "攀枝花市区委宣传部",
    "year": 2022,
}
BUDGET = 114.56
#: file stem -> (form, project name); each is one project of the roster.
CASES = {
    "national-2020": ("national-2020", "2022年媒体合作项目"),
    "sichuan-2023": ("sichuan-2023", "创建全国文明城市"),
    "sichuan-2022": ("sichuan-2022", "仁和区重大对外宣传活动及重要外宣产品专项"),
    # protection removed in LibreOffice, the office-issued budget changed
    "tampered-budget": ("national-2020", "城市形象宣传片"),
    # protection removed in LibreOffice, a row inserted into the indicator table and filled
    "inserted-row": ("national-2020", "新闻发布会保障"),
    # 成本指标 as a 一级 of its own (财预〔2021〕101号)
    "national-2021": ("national-2021", "新时代文明实践宣讲活动"),
}
ROSTER_COLUMNS = [
    "dept_code",
    "dept_name",
    "unit_name",
    "project_name",
    "year",
    "fund_fiscal_budget",
]
TAMPERED_BUDGET = 150.0

# -- what the unit types -----------------------------------------------------------------------
HEADER = {
    "project_code": "510411-2022-001",
    "goal_expected": "与人民日报、四川日报等主流媒体合作，全年宣传报道不少于12次，提升仁和区对外形象。",
    # Alt+Enter in a cell: a line break inside the text
    "goal_actual": "各媒体发布任务均已完成：\n共发布报道15次，发布合格率100%。",
}
FUNDS = {"fund_fiscal_spent": 99.63, "fund_other_budget": 5.5, "fund_other_spent": 5}
INITIAL = {"fund_fiscal_initial": 100, "fund_other_initial": 5.5}
REASON = "宣传片受疫情影响推迟至2023年播出"
#: level1, level2, name, target, actual, status, reason, weight, score
# fmt: off
INDICATORS = [
    ("产出指标", "数量指标", "媒体报道", "≥12次", "15次", "已完成", None, 20, 20),
    ("产出指标", "质量指标", "发布合格率", "≥95%", "100%", "已完成", None, 20, 20),
    ("产出指标", "成本指标", "合作经费", "≤100万元", "99.63万元", "已完成", None, 10, 10),
    ("效益指标", "社会效益指标", "城市形象", "定性：明显提升", "有所提升", "部分完成", REASON, 30, 21),
    ("满意度指标", "服务对象满意度指标", "公众满意度", "≥90%", "95%", "已完成", None, 10, 10),
]
# fmt: on
#: sichuan-2023 splits a target into 指标性质, 指标值 and 度量单位
SICHUAN_2023 = [
    ("≥", "12", "15", "次"),
    ("≥", "95", "100", "%"),
    ("≤", "100", "99.63", "万元"),
    ("定性", "明显提升", "有所提升", None),
    ("≥", "90", "95", "%"),
]
FOOTER = {
    "exec_reason": "部分合同尾款按约定于2023年支付",
    "conclusion": "项目总体完成较好，宣传报道数量和质量均达到预期。",
    "problems": "宣传片制作周期预估不足。",
    "improvements": "提前谋划年度宣传计划，\n合理安排制作周期。",
}
KEYS = ["level1", "level2", "name", "target", "actual", "status", "reason", "weight", "score"]
#: the row typed into the inserted row (before indicator 3) of "inserted-row"; the unit takes
#: 10 of 发布合格率's 20 points for it, so every total still adds up
INSERTED = ("产出指标", "时效指标", "发布及时率", "≥95%", "98%", "已完成", None, 10, 10)
INSERT_BEFORE = 2


def indicators(form: str, rows: list[tuple] | None = None) -> list[dict]:
    """The indicator rows of `form` as {key: value}, without the columns the form lacks."""
    spec = load_spec(form)
    out = []
    for i, row in enumerate(rows or INDICATORS):
        ind = dict(zip(KEYS, row, strict=True))
        if form == "sichuan-2023":
            sign, target, actual, unit = SICHUAN_2023[i]
            ind.update(sign=sign, target=target, actual=actual, unit=unit)
        if form == "national-2021" and ind["level2"] == "成本指标":
            ind.update(level1="成本指标", level2="经济成本指标")
        out.append({k: v for k, v in ind.items() if k in spec.indicator_keys})
    return out


def typed(form: str) -> dict[str, object]:
    """Every value the unit types, by contract name (a column name gets a list of rows)."""
    spec = load_spec(form)
    values: dict[str, object] = {f"pe_{k}": v for k, v in {**HEADER, **FUNDS}.items()}
    amount_keys = {c.key for c in spec.amount_columns}
    if "initial" in amount_keys:
        values.update({f"pe_{k}": v for k, v in INITIAL.items()})
    if spec.fund_column("exec_reason") is not None:
        values["pe_exec_reason"] = FOOTER["exec_reason"]
    for f in spec.footer:
        values[f"pe_{f.name}"] = FOOTER[f.name]
    rows = indicators(form)
    for key in spec.indicator_keys:
        values[f"pe_ind_{key}"] = [row.get(key) for row in rows]
    return values


def issued(name: str) -> dict[str, object]:
    """The roster row the office issued the template of case `name` from."""
    return {**DEPT, "project_name": CASES[name][1], "fund_fiscal_budget": BUDGET}


def write_roster(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ROSTER_COLUMNS)
        for name in CASES:
            row = issued(name)
            w.writerow([row[c] for c in ROSTER_COLUMNS])
    return path


def template(name: str, roster: Path, outdir: Path) -> Path:
    """The template the office issues for case `name`, from the roster row of its project."""
    form, project = CASES[name]
    spec = load_spec(form)
    (row,) = [r for r in read_roster(roster, spec) if r.values["project_name"] == project]
    path = outdir / f"{name}-template.xlsx"
    path.write_bytes(build_template(spec, row.values))
    return path


def jobs(names: list[str], roster: Path, templates: Path, outdir: Path) -> list[dict]:
    """The tests/uno_calc.py jobs that fill (and tamper with) case `names` in LibreOffice."""
    out = []
    for name in names:
        form, _ = CASES[name]
        steps: list[dict] = [{"op": "type", "values": typed(form)}]
        if name == "tampered-budget":
            steps += [
                {"op": "unprotect", "sheet": "自评表", "password": DEFAULT_PASSWORD},
                {"op": "type", "values": {"pe_fund_fiscal_budget": TAMPERED_BUDGET}},
            ]
        elif name == "inserted-row":
            (row,) = indicators(form, [INSERTED])
            steps += [
                {"op": "unprotect", "sheet": "自评表", "password": DEFAULT_PASSWORD},
                {"op": "insert_rows", "name": "pe_ind_name", "before": INSERT_BEFORE, "count": 1},
                {"op": "type", "values": {"pe_ind_weight": [None, 10], "pe_ind_score": [None, 10]}},
                {"op": "type", "values": {f"pe_ind_{k}": [None] * 2 + [v] for k, v in row.items()}},
            ]
        out.append(
            {
                "open": str(template(name, roster, templates)),
                "steps": steps,
                "save": str(outdir / f"{name}.xlsx"),
            }
        )
    return out


def main(outdir: str) -> None:
    """Regenerate tests/data: the roster, and every case filled and saved by LibreOffice."""
    import tempfile

    from lo_uno import Office, soffice_version

    out = Path(outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    roster = write_roster(out / "roster.csv")
    with tempfile.TemporaryDirectory() as tmp:
        office = Office(Path(tmp) / "office").start()
        try:
            office.run(jobs(list(CASES), roster, Path(tmp), out))
        finally:
            office.stop()
    print(f"{len(CASES)} files written to {out} by {soffice_version()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("data")))
