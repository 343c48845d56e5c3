"""Self-check parity: the template's 自检 counts a problem exactly when `check` reports an error
the sheet can see (`findings.SELF_CHECKED`), and marks it on the cell the finding names.

A corpus of filled workbooks, one or more per rule, is typed into fresh templates by
LibreOffice itself (tests/uno_calc.py "type", one soffice for the module, one batch of jobs) and
saved; LibreOffice recalculates what the typing touched, the 自检 included. Its saved value is
read back with openpyxl and compared with `check_workbook`. The marks are checked in a second
batch: each red conditional format's own formula is put in a new sheet at every cell it covers,
and LibreOffice says what it gives there. Without
soffice or python3-uno these tests skip locally and fail in CI (tests/lo_uno.py); the tests at
the end need neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import openpyxl
import pytest
from helpers import check_as, named_cell, open_xlsx, spec_variant
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils.cell import coordinate_to_tuple

from perfeval_xl import DEFAULT_PASSWORD, build_template, check_workbook, load_spec, make_layout
from perfeval_xl.findings import (
    CHECK_ONLY,
    ERROR,
    RULES,
    SELF_CHECK_LIMITS,
    SELF_CHECKED,
    rules_markdown,
)
from perfeval_xl.forms.layout import contract_names
from perfeval_xl.intake.read import read_workbook_bytes
from perfeval_xl.review.checks import check_read
from perfeval_xl.template.selfcheck import (
    CELL,
    ROW,
    ROWS,
    accepted_labels,
    accepted_statuses,
    for_form,
    too_long,
)

#: the department form (部门整体) counts its own rules: header, 自评得分, 扣分原因, 合计
DEP = "department-2023"
FORMS = ["national-2020", "national-2021", "sichuan-2023", "sichuan-2022", DEP]
SHEET = "'自评表'"
#: national-2020 with its weights fixed (E503): no built-in form fixes them
FIXED = "national-2020+fixed"


def sheet_ref(spec) -> str:
    return SHEET if spec.sheet == "自评表" else "'" + spec.sheet + "'"


def spec_of(form: str):
    """A built-in form, or FIXED."""
    if form == FIXED:
        return spec_variant(
            "national-2020", 'level1_weight_rule = "principle"', 'level1_weight_rule = "fixed"'
        )
    return load_spec(form)


def check_case(form: str, path: Path):
    """`check_workbook`, by the spec the case's template was made from."""
    return check_as(spec_of(form), path) if form == FIXED else check_workbook(path)


# -- what the unit types: a clean form of each kind ----------------------------------------
ISSUED = {
    "project_name": "2022年媒体合作项目",
    "dept_code": "109101",
    "unit_name": "攀枝花市区委宣传部",
}
TYPED = {
    "pe_project_code": "510411-2022-001",
    "pe_dept_name": "中共攀枝花市仁和区委宣传部",
    "pe_year": 2022,
    "pe_goal_expected": "与主流媒体合作，全年宣传报道不少于12次。",
    "pe_goal_actual": "共发布报道15次，发布合格率100%。",
    "pe_fund_fiscal_spent": 95,
}
FOOTER = {"pe_conclusion": "总体完成较好。", "pe_problems": "无。", "pe_improvements": "提前谋划。"}
REASON = "部分宣传活动受疫情影响延期"
KEYS = ["level1", "level2", "name", "target", "actual", "status", "weight", "score", "reason"]
# fmt: off
ROWS_NATIONAL = [
    ("产出指标", "数量指标", "媒体报道", "≥12次", "15次", "已完成", 20, 20, None),
    ("产出指标", "质量指标", "发布合格率", "≥95%", "100%", "已完成", 20, 20, None),
    ("产出指标", "成本指标", "合作经费", "≤100万元", "95万元", "已完成", 10, 10, None),
    ("效益指标", "社会效益指标", "城市形象", "定性：明显提升", "明显提升", "已完成", 30, 30, None),
    ("满意度指标", "服务对象满意度指标", "公众满意度", "≥90%", "95%", "已完成", 10, 10, None),
]
#: sichuan-2023 splits each target into 指标性质, 指标值 and 度量单位
SPLIT = [("≥", "12", "15", "次"), ("≥", "95", "100", "%"), ("≤", "100", "95", "万元"),
         ("定性", "明显提升", "明显提升", None), ("≥", "90", "95", "%")]
# fmt: on


def base_rows(form: str) -> list[dict]:
    spec = spec_of(form)
    if spec.department:  # the rows are the office's: the department types 自评得分, full marks
        return [{"score": x.weight} for x in spec.items]
    rows = []
    for i, values in enumerate(ROWS_NATIONAL):
        row = dict(zip(KEYS, values, strict=True))
        if form == "sichuan-2023":
            sign, target, actual, unit = SPLIT[i]
            row.update(sign=sign, target=target, actual=actual, unit=unit)
        if form == "national-2021" and row["level2"] == "成本指标":  # a 一级 of its own there
            row.update(level1="成本指标", level2="经济成本指标")
        rows.append({k: v for k, v in row.items() if k in spec.indicator_keys})
    return rows


def base_values(form: str) -> dict:
    if form == DEP:
        return {"pe_dept_name": "寿县某局", "pe_year": 2023}
    values = dict(TYPED)
    if form == "sichuan-2022":
        values["pe_fund_fiscal_budget"] = 100  # not issued on this form: typed by the unit
    else:
        values["pe_fund_fiscal_initial"] = 100
    if form == "sichuan-2023":
        values.update(FOOTER)
    return values


def issued(form: str) -> dict:
    if form == DEP:
        return {"dept_code": "341521101"}
    return ISSUED if form == "sichuan-2022" else {**ISSUED, "fund_fiscal_budget": 100.0}


@dataclass
class Case:
    """A filled variant: `exp` are codes `check` must report (the rule the case is about);
    `beyond` a code whose case here lies outside what the sheet can see (SELF_CHECK_LIMITS):
    `check` reports it, the sheet counts 0."""

    id: str
    form: str = "national-2020"
    exp: set[str] = field(default_factory=set)
    values: dict = field(default_factory=dict)  # contract name -> value (None: not typed)
    rows: dict[int, dict] = field(default_factory=dict)  # row -> {key: value (None: blank)}
    drop: tuple[int, ...] = ()
    add: tuple[dict, ...] = ()
    over: dict = field(default_factory=dict)  # typed over locked cells, protection removed
    percent: tuple[tuple[str, int], ...] = ()  # (contract name, row) given a percent format
    steps: tuple[dict, ...] = ()  # more tests/uno_calc.py steps, protection removed first
    beyond: str | None = None

    def typed(self) -> dict:
        values = {**base_values(self.form), **self.values}
        rows = [
            {**row, **self.rows.get(i, {})}
            for i, row in enumerate(base_rows(self.form))
            if i not in self.drop
        ]
        rows += [dict(r) for r in self.add]
        keys = spec_of(self.form).indicator_keys
        if rows:
            for k in keys:
                values[f"pe_ind_{k}"] = [row.get(k) for row in rows]
        return {k: v for k, v in values.items() if v is not None}


N, N21, S23, S22 = "national-2020", "national-2021", "sichuan-2023", "sichuan-2022"
#: 产出 45 and 效益 35 (of 50 and 30)
SPLIT_WEIGHTS = {0: {"weight": 15, "score": 15}, 3: {"weight": 35, "score": 35}}
QUALITATIVE_ROW = 3  # 城市形象: 定性, weight 30, band 24–30 when done, 18–24 when partly done
CASES = [
    Case("clean"),
    Case("clean-s23", S23),
    Case("clean-s22", S22),
    Case("clean-n21", N21),
    # nothing filled in but a code: what the issued template's own cached 自检 says, recalculated
    Case(
        "untouched",
        exp={"E101", "E304", "E414"},
        values={k: None for k in TYPED}
        | {"pe_fund_fiscal_initial": None, "pe_project_code": "X-1"},
        drop=(0, 1, 2, 3, 4),
    ),
    # -- the header, funds and values as typed
    Case("E101-space-only", exp={"E101"}, values={"pe_dept_name": "\u3000 "}),
    Case("E102-year", exp={"E102"}, values={"pe_year": 1999}),
    Case("E203-negative", exp={"E203"}, values={"pe_fund_other_spent": -5}),
    Case("E205-too-long", exp={"E205"}, values={"pe_goal_actual": "很" * 1001}),
    Case("E205-name-s23", S23, exp={"E205"}, rows={0: {"name": "报" * 101}}),
    Case("E301-overspent", exp={"E301"}, values={"pe_fund_fiscal_spent": 120}),
    Case("E301-no-budget-row", exp={"E301"}, values={"pe_fund_other_spent": 3}),
    Case("E302-total-typed-over", exp={"E302"}, over={"pe_fund_total_budget": 150}),
    Case("E303-no-budget", S22, exp={"E303"}, values={"pe_fund_fiscal_budget": None}),
    Case("E304-nothing-spent", exp={"E304"}, values={"pe_fund_fiscal_spent": None}),
    # -- the indicators
    Case("E401-no-name", exp={"E401"}, rows={0: {"name": None}}),
    Case("E401-no-status-s22", S22, exp={"E401"}, rows={1: {"status": None}}),
    Case("E402-level1", exp={"E402"}, rows={0: {"level1": "产出类"}}),
    Case("E403-unknown", exp={"E403"}, rows={1: {"level2": "宣传指标"}}),
    # (产出 40 and 效益 40 of 50 and 30 in principle: W512 twice, a warning, not counted)
    Case("E403-misfiled", exp={"E403"}, rows={2: {"level2": "社会效益指标"}}),
    Case("E403-misfiled-fixed", FIXED, exp={"E403", "E503"}, rows={2: {"level2": "社会效益指标"}}),
    # a 2020-style 产出指标 / 成本指标 row on national-2021: read as 经济成本指标 (W204), which
    # belongs to the 一级 成本指标
    Case(
        "E403-cost-under-output-n21",
        N21,
        exp={"E403"},
        rows={2: {"level1": "产出指标", "level2": "成本指标"}},
    ),
    Case("E404-status", exp={"E404"}, rows={0: {"status": "完成了"}}),
    Case("E404-stop-inside", exp={"E404"}, rows={0: {"status": "已.完成"}}),
    Case("E405-partly", exp={"E405"}, rows={QUALITATIVE_ROW: {"status": "部分完成", "score": 21}}),
    Case(
        "E405-no-reason-wu",
        exp={"E405"},
        rows={QUALITATIVE_ROW: {"status": "部分完成", "score": 21, "reason": "无"}},
    ),
    Case(
        "E405-same-as-above",
        exp={"E405"},
        rows={QUALITATIVE_ROW: {"status": "部分完成", "score": 21, "reason": "同上。"}},
    ),
    Case(
        "E405-full-width-zero",
        exp={"E405"},
        rows={QUALITATIVE_ROW: {"status": "部分完成", "score": 21, "reason": "０"}},
    ),
    Case("E405-alias", exp={"E405"}, rows={QUALITATIVE_ROW: {"status": "基本完成", "score": 21}}),
    Case("E405-not-done-s22", S22, exp={"E405"}, rows={0: {"status": "未完成"}}),
    Case("E406-no-satisfaction", S22, exp={"E406"}, drop=(4,)),
    Case("E406-no-cost-n21", N21, exp={"E406"}, drop=(2,), rows={0: {"weight": 30, "score": 30}}),
    # 满意度 and 效益 are optional on sichuan-2023, and its weights free: 产出 60 / 效益 30 is clean
    Case("optional-absent-s23", S23, drop=(4,), rows={0: {"weight": 30, "score": 30}}),
    Case("only-output-s23", S23, drop=(3, 4), rows={0: {"weight": 60, "score": 60}}),
    Case("E407-target", exp={"E407"}, rows={0: {"target": "XX"}}),
    Case("E407-actual", exp={"E407"}, rows={1: {"actual": "——"}}),
    Case("E407-full-width", exp={"E407"}, rows={0: {"target": "ＸＸ"}}),
    Case("E413-sign", S23, exp={"E413"}, rows={0: {"sign": "≈"}}),
    Case("E414-no-indicator", exp={"E414"}, drop=(0, 1, 2, 3, 4)),
    # -- the scores
    Case("E502-no-weight", exp={"E501", "E502"}, rows={4: {"weight": None}}),
    Case("E202-weight-text", exp={"E202", "E502"}, rows={4: {"weight": "十分"}}),
    Case("E503-level1-split", FIXED, exp={"E503"}, rows=SPLIT_WEIGHTS),
    # the same weights where they are set in principle (W512, not counted) or free (nothing)
    Case("principle-level1-split", rows=SPLIT_WEIGHTS),
    Case("principle-level1-split-n21", N21, rows=SPLIT_WEIGHTS),
    Case("free-level1-split-s23", S23, rows=SPLIT_WEIGHTS),
    Case("E504-over-weight", exp={"E504"}, rows={0: {"score": 22}}),
    Case("E505-positive", exp={"E505"}, rows={0: {"actual": "9次"}}),
    Case("E505-reverse", exp={"E505"}, rows={2: {"actual": "120万元"}}),
    Case("E505-share", exp={"E505"}, rows={1: {"actual": "0.9"}}),
    Case(
        "E505-percent-cell",
        exp={"E505"},
        rows={1: {"actual": 0.9}},
        percent=(("pe_ind_actual", 1),),
    ),
    Case("E505-s23", S23, exp={"E505"}, rows={0: {"actual": "9"}}),
    # 指标值 95 with 度量单位 %: a percentage, so 0.9 reads 90 %
    Case("E505-share-s23", S23, exp={"E505"}, rows={1: {"actual": "0.9"}}),
    # no sign on a 成本 target: a ceiling, 120 of ≤100 scores 8 of 10
    Case("E505-cost-no-sign", exp={"E505"}, rows={2: {"target": "100万元", "actual": "120万元"}}),
    Case("E506-rate", exp={"E506"}, over={"pe_exec_rate": 0.5}),
    Case("E506-exec-score", exp={"E506"}, over={"pe_exec_score": 8}),
    Case("E507-band", exp={"E507"}, rows={QUALITATIVE_ROW: {"score": 20, "reason": REASON}}),
    Case(
        "E507-band-s23", S23, exp={"E507"}, rows={QUALITATIVE_ROW: {"score": 20, "reason": REASON}}
    ),
    Case("E508-no-reason", exp={"E508"}, rows={0: {"actual": "11次", "score": 18.33}}),
    Case("E510-no-score", exp={"E510"}, rows={0: {"score": None}}),
    # -- what `check` reads without an error: the sheet must not count it either
    Case("alias-done", rows={0: {"status": "完成"}}),
    Case("alias-stop", rows={0: {"status": "已完成。"}}),
    Case("label-suffix", rows={i: {"level1": "产出指标（50分）"} for i in range(3)}),
    Case("pre-printed-row", add=({"level1": "效益指标", "level2": "经济效益指标"},)),
    Case("alias-level2", rows={QUALITATIVE_ROW: {"level2": "环境效益指标"}}),
    Case("share-s23", S23, rows={1: {"actual": "0.96"}}),
    # a row inserted after issue (protection removed: W016) has no helper cells: not checked,
    # and the table rules stand aside rather than count its weight nowhere
    Case(
        "inserted-row",
        steps=(
            {"op": "insert_rows", "name": "pe_ind_name", "before": 2, "count": 1},
            {"op": "type", "values": {"pe_ind_weight": [None, 10], "pe_ind_score": [None, 10]}},
            {
                "op": "type",
                "values": {
                    f"pe_ind_{k}": [None, None, v]
                    for k, v in {
                        "level1": "产出指标",
                        "level2": "时效指标",
                        "name": "发布及时率",
                        "target": "≥95%",
                        "actual": "98%",
                        "status": "已完成",
                        "weight": 10,
                        "score": 10,
                    }.items()
                },
            },
        ),
    ),
    Case("share-percent-cell", rows={1: {"actual": 0.96}}, percent=(("pe_ind_actual", 1),)),
    Case(
        "reason-given",
        rows={QUALITATIVE_ROW: {"status": "部分完成", "score": 21, "reason": REASON}},
    ),
    # -- what only `check` sees (SELF_CHECK_LIMITS)
    Case(
        "E505-words",
        exp={"E505"},
        beyond="E505",
        rows={0: {"target": "不少于12次", "actual": "9次"}},
    ),
    Case("E506-total", exp={"E506"}, beyond="E506", over={"pe_total_score": 50}),
    # a date is no quantity to `check`: scored by status, which the sheet cannot tell
    Case(
        "E507-date-target",
        exp={"E507"},
        beyond="E507",
        rows={0: {"target": "2022年12月底前完成", "score": 10, "reason": REASON}},
    ),
]
CASES += [
    Case("clean-dep", DEP),
    Case(
        "dep-untouched",
        DEP,
        exp={"E101", "E510"},
        values={"pe_dept_name": None},
        rows={0: {"score": None}, 1: {"score": None}},
    ),
    Case("E504-dep", DEP, exp={"E504"}, rows={0: {"score": 4}}),
    Case("E510-dep-blank", DEP, exp={"E510"}, rows={1: {"score": None}}),
    Case("E510-dep-text", DEP, exp={"E510"}, rows={1: {"score": "满分"}}),
    Case("E203-dep-negative", DEP, exp={"E203", "E510"}, rows={2: {"score": -1}}),
    Case("E508-dep", DEP, exp={"E508"}, rows={20: {"score": 9}}),
    Case("E508-dep-no-reason", DEP, exp={"E508"}, rows={20: {"score": 9, "reason": "同上。"}}),
    Case("dep-reason-given", DEP, rows={20: {"score": 9, "reason": "满意度调查 88%"}}),
    Case("E205-dep-reason", DEP, exp={"E205"}, rows={3: {"reason": "长" * 301}}),
    Case("E506-dep-total", DEP, exp={"E506"}, over={"pe_total_score": 50}),
    Case("dep-total-right", DEP, over={"pe_total_score": 100}),
]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES)


def job(case: Case, tmp: Path) -> dict:
    spec = spec_of(case.form)
    template = tmp / f"{case.id}-template.xlsx"
    template.write_bytes(build_template(spec, issued(case.form)))
    steps: list[dict] = [{"op": "type", "values": case.typed()}]
    steps += [{"op": "percent", "name": name, "row": row} for name, row in case.percent]
    if case.over or case.steps:
        steps.append({"op": "unprotect", "sheet": spec.sheet, "password": DEFAULT_PASSWORD})
        steps += [{"op": "type", "values": case.over}] if case.over else []
        steps += list(case.steps)
    return {"open": str(template), "steps": steps, "save": str(tmp / f"{case.id}.xlsx")}


@dataclass
class Filled:
    path: Path
    sheet: float | None  # the 自检's saved value
    errors: list  # check's error findings
    warnings: list  # and its warnings (never counted)


@pytest.fixture(scope="module")
def filled(office, tmp_path_factory) -> dict[str, Filled]:
    tmp = tmp_path_factory.mktemp("parity")
    jobs = [job(case, tmp) for case in CASES]
    office.run(jobs, timeout=600)
    out = {}
    for case, j in zip(CASES, jobs, strict=True):
        path = Path(j["save"])
        result = check_case(case.form, path)
        wb = openpyxl.load_workbook(path, data_only=True)
        out[case.id] = Filled(
            path,
            named_cell(wb, "pe_selfcheck").value,
            [f for f in result.findings if f.severity == ERROR],
            [f for f in result.findings if f.severity != ERROR],
        )
        wb.close()
    return out


def counted(errors: list) -> list:
    return [f for f in errors if f.code in SELF_CHECKED]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_count_is_above_zero_exactly_when_check_has_a_self_checked_error(filled, case):
    got = filled[case.id]
    codes = sorted(f.code for f in got.errors)
    assert case.exp <= set(codes), f"the case does not make its rule's error: {codes}"
    assert isinstance(got.sheet, (int, float)), f"自检 saved as {got.sheet!r}"
    if case.beyond is None:
        assert (got.sheet > 0) == bool(counted(got.errors)), f"自检 {got.sheet}, check: {codes}"
    else:
        assert case.beyond in SELF_CHECK_LIMITS
        assert got.sheet == 0, f"自检 {got.sheet}, check: {codes}"
        assert {f.code for f in counted(got.errors)} == {case.beyond}


#: cases whose 一级 weights differ from the spec's, and the 一级 weight findings of `check`
WEIGHT_RULE_CASES = {
    "E503-level1-split": ["E503", "E503"],  # fixed: counted
    "E403-misfiled-fixed": ["E503", "E503"],
    "principle-level1-split": ["W512", "W512"],  # 原则上: a warning, not counted
    "principle-level1-split-n21": ["W512", "W512"],
    "E403-misfiled": ["W512", "W512"],
    "E406-no-cost-n21": ["W512"],
    "free-level1-split-s23": [],  # free: nothing
    "optional-absent-s23": [],
    "only-output-s23": [],
}


@pytest.mark.parametrize("case", list(WEIGHT_RULE_CASES))
def test_weight_rules_are_counted_only_when_fixed(filled, case):
    got = filled[case]
    found = sorted(f.code for f in got.errors + got.warnings if f.code in ("E503", "W512"))
    assert found == WEIGHT_RULE_CASES[case]
    assert "E406" not in [f.code for f in got.errors] or BY_ID[case].form == N21


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_count_is_the_number_of_errors(filled, case):
    """Stronger than the parity: one count for each error `check` reports that the sheet sees."""
    got = filled[case.id]
    exp = [f for f in counted(got.errors) if f.code != case.beyond]
    assert got.sheet == len(exp), [(f.code, f.cell) for f in exp]


# -- the marks --------------------------------------------------------------------------------
def _designated(form: str) -> dict[str, tuple[int, int]]:
    """Where the sheet marks an error `check` names no cell for (1-based row, column)."""
    lay = make_layout(spec_of(form))
    row = lay.indicators_header_row + 1
    out = {c: (row, lay.indicator_cols["level1"] + 1) for c in ("E406", "E414")}
    if "weight" in lay.indicator_cols:
        out["E503"] = (row, lay.indicator_cols["weight"] + 1)
    return out


@pytest.fixture(scope="module")
def marked(office, filled, tmp_path_factory) -> dict[str, set[tuple[int, int]]]:
    """The red cells of each filled case: every red conditional format's own formula put in a
    cell at the same place of a new sheet, and LibreOffice asked what it gives there."""
    tmp = tmp_path_factory.mktemp("marks")
    jobs = []
    for case in CASES:
        spec = spec_of(case.form)
        check = for_form(spec, make_layout(spec), sheet_ref(spec))
        wb = openpyxl.load_workbook(filled[case.id].path)
        ws = wb.create_sheet("_marks")
        for mark in check.marks:
            if mark.kind != "bad":
                continue
            for area in mark.areas:
                for r, c in area.cells():
                    ws.cell(r + 1, c + 1).value = f"=IF({mark.formula[1:]},1,0)"
        src = tmp / f"{case.id}-src.xlsx"
        wb.save(src)
        jobs.append({"open": str(src), "steps": [], "save": str(tmp / f"{case.id}.xlsx")})
    office.run(jobs, timeout=600)
    out = {}
    for case, j in zip(CASES, jobs, strict=True):
        ws = openpyxl.load_workbook(j["save"], data_only=True)["_marks"]
        values = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row}
        assert all(v in (0, 1, None) for v in values.values()), "a mark formula failed"
        out[case.id] = {rc for rc, v in values.items() if v == 1}
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_marks_land_on_the_cells_the_findings_name(filled, marked, case):
    designated = _designated(case.form)
    exp = set()
    for f in counted(filled[case.id].errors):
        if f.code == case.beyond:
            continue
        exp.add(coordinate_to_tuple(f.cell) if f.cell else designated[f.code])
    assert marked[case.id] == exp


# -- without LibreOffice ----------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("issue", [False, True], ids=["blank", "issued"])
def test_an_untouched_template_caches_its_count(form, issue):
    """The cached 自检 (what a program that never recalculates shows) is the number of errors
    `check` reports on the template as issued."""
    data = build_template(load_spec(form), issued(form) if issue else {})
    errors = [
        f for f in check_read(read_workbook_bytes("t.xlsx", data)).findings if f.severity == ERROR
    ]
    cached = named_cell(open_xlsx(data, data_only=True), "pe_selfcheck").value
    assert cached == len(counted(errors)) > 0
    assert len(counted(errors)) == len(errors)


#: Functions Excel 2010 and LibreOffice both know (SUMIFS since Excel 2007), and no others: no
#: dynamic arrays, no LET.
EXCEL_2010 = {
    "ABS", "AND", "CHAR", "CHOOSE", "CLEAN", "COLUMN", "COUNT", "COUNTIF", "COUNTIFS", "EXACT",
    "FIND",
    "IF", "INDIRECT", "INT", "ISNUMBER", "LEFT", "LEN", "MAX", "MID", "MIN", "MOD", "N", "NOT",
    "OR", "REPT", "RIGHT", "ROUND", "ROW", "SUBSTITUTE", "SUM", "SUMIFS", "SUMPRODUCT", "TRIM",
    "VALUE", "VLOOKUP",
}  # fmt: skip
#: LibreOffice inlines a defined name where it is used; past about 8,000 tokens of the inlined
#: formula, or about 40 names deep, it gives #N/A (measured on 7.4 with chains of names).
LO_TOKENS, LO_DEPTH = 6000, 30


def inlined(names: dict[str, str]):
    """size(formula) -> (tokens once every name is inlined, as LibreOffice counts them: operands,
    operators and functions, an array constant one; names nested deepest)."""
    lower = {k.lower(): v for k, v in names.items()}

    @cache
    def size(formula: str) -> tuple[int, int]:
        n, deepest, braces = 0, 0, 0
        for t in Tokenizer(formula).items:
            if t.type == Token.FUNC and t.value in ("{", "}"):
                braces += 1 if t.value == "{" else -1
                n += t.value == "{"
            elif braces:
                continue
            elif t.type == Token.OPERAND and t.value.lower() in lower:
                inner, depth = size(lower[t.value.lower()])
                n, deepest = n + inner, max(deepest, depth + 1)
            else:  # operands, operators and functions (not parentheses or separators)
                kinds = (Token.OPERAND, Token.OP_IN, Token.OP_PRE, Token.OP_POST)
                n += t.type in kinds or (t.type == Token.FUNC and t.subtype == Token.OPEN)
        return n, deepest

    return size


@pytest.mark.parametrize("form", FORMS)
def test_formulas_fit_excel(form):
    spec = load_spec(form)
    lay = make_layout(spec)
    check = for_form(spec, lay, sheet_ref(spec))
    assert too_long(check) == []
    formulas = [*check.names.values(), check.count_formula, *(m.formula for m in check.marks)]
    used = {f for text in formulas for f in re.findall(r"([A-Z][A-Z0-9.]*)\(", text)}
    assert used <= EXCEL_2010, used - EXCEL_2010
    for formula in formulas:  # Excel nests functions 64 deep at most, in each formula's text
        depth, deepest = 0, 0
        for t in Tokenizer(formula).items:
            if t.type == Token.FUNC:
                depth += 1 if t.subtype == Token.OPEN else -1
                deepest = max(deepest, depth)
        assert deepest < 64, formula[:60]
    size = inlined(check.names)
    cells = [f"={h.name}" for h in check.helpers] + [check.count_formula]
    for formula in cells + [m.formula for m in check.marks]:
        tokens, depth = size(formula)
        assert tokens < LO_TOKENS and depth < LO_DEPTH, (formula[:40], tokens, depth)
    contract = {n.lower() for n in contract_names(lay)}
    for name in check.names:
        assert name.startswith((ROWS, ROW, CELL)) and name.lower() not in contract
        assert re.fullmatch(r"_[a-z0-9_]+", name), name
    # the template itself, with its formulas, writes with warnings as errors (pyproject)
    wb = open_xlsx(build_template(spec))
    assert {n for n in wb.defined_names if n.startswith("_p")} == set(check.names)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("level", ["level1", "level2"])
def test_labels_are_taken_as_the_reader_takes_them(form, level):
    from perfeval_xl.intake.reader import canonical_label

    spec = load_spec(form)
    accepted = accepted_labels(spec, level)
    for text, label in accepted.items():
        assert canonical_label(spec, level, text) == label, text
        assert canonical_label(spec, level, f"{text}（50分）") == label, text
    for text in ("宣传指标", "指标", "产出类", "成本", "满意"):
        got = canonical_label(spec, level, text)
        assert (got != text) == (text in accepted), text


def test_statuses_are_taken_as_the_reader_takes_them():
    spec = load_spec("national-2020")
    got = accepted_statuses(spec)
    assert got["完成"] == "已完成" and got["基本完成"] == "部分完成"
    assert set(got) == set(spec.statuses) | set(getattr(spec, "status_aliases", {}))


def test_every_error_code_is_counted_or_said_why_not():
    errors = {code for code, rule in RULES.items() if rule.severity == ERROR}
    assert SELF_CHECKED | set(CHECK_ONLY) == errors
    assert not SELF_CHECKED & set(CHECK_ONLY)
    assert set(SELF_CHECK_LIMITS) <= SELF_CHECKED
    assert "| 自检 self-check |" in rules_markdown("en")
    assert "| 改正方法 | 自检 |" in rules_markdown("zh")


def test_every_counted_rule_has_a_case():
    made = {code for c in CASES if c.beyond is None for code in c.exp}
    assert made >= SELF_CHECKED, SELF_CHECKED - made
    assert {c.beyond for c in CASES if c.beyond} == set(SELF_CHECK_LIMITS)


def test_helper_formulas_skip_xlsxwriter_s_function_search():
    """generate.FormSheet writes a formula that is one name as it is, overriding a private step
    of xlsxwriter; should xlsxwriter rename it, templates still come out right, only slower,
    and this test says so."""
    from xlsxwriter.worksheet import Worksheet

    from perfeval_xl.template.generate import FormSheet

    assert "_prepare_formula" in vars(Worksheet)
    sheet = FormSheet()
    assert sheet._prepare_formula("=_pr_h_l1") == "_pr_h_l1"
    assert sheet._prepare_formula("=SUM(A1:A2)") == Worksheet()._prepare_formula("=SUM(A1:A2)")
