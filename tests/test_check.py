"""One table-driven test per rule: a clean filled form, one mutation, exactly the findings
expected (code, severity and cell). Workbooks come from the generator and are filled through
the contract names with openpyxl, as a paste past the dropdowns would do."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from helpers import INDICATORS, filled, named_cell, open_xlsx

from perfeval_xl import build_template, load_spec
from perfeval_xl.findings import RULES
from perfeval_xl.review.checks import check_workbook


def got(path: Path) -> list[tuple[str, str, str]]:
    return sorted((f.code, f.severity, f.location) for f in check_workbook(path).findings)


def at(form: str, name: str, row: int = 0) -> str:
    wb = open_xlsx(build_template(load_spec(form)))
    cell = named_cell(wb, name).offset(row=row)
    return f"{load_spec(form).sheet}!{cell.coordinate}"


@pytest.mark.parametrize("form", ["national-2020", "national-2021", "sichuan-2023", "sichuan-2022"])
def test_clean_form_has_no_findings(tmp_path, form):
    result = check_workbook(filled(tmp_path, form))
    assert [f.code for f in result.findings] == []
    rec = result.record
    assert rec.value("project_name") == "2022年媒体合作项目"
    assert rec.value("year") == 2022
    assert rec.fund("total", "budget") == 100 and rec.fund("total", "spent") == 95
    assert rec.exec_rate == pytest.approx(0.95)
    assert [i.value("name") for i in rec.indicators] == [r["name"] for r in INDICATORS]
    f = rec.fields["fund_fiscal_spent"]
    assert (f.sheet, f.cell) == tuple(at(form, "pe_fund_fiscal_spent").split("!"))


def _unprotect(wb):
    wb[wb.sheetnames[0]].protection.sheet = False


def _no_validations(wb):
    wb[wb.sheetnames[0]].data_validations.dataValidation = []


def _delete_name(name):
    def change(wb):
        del wb.defined_names[name]

    return change


def _shorten_status(wb):
    dn = wb.defined_names["pe_ind_status"]
    dn.attr_text = dn.attr_text.replace("$G$34", "$G$33")


def _typed_over_total(wb):
    named_cell(wb, "pe_fund_total_budget").value = 50


def _formula_input(wb):
    named_cell(wb, "pe_fund_fiscal_spent").value = "=50+45"


def _formula_in_empty_row(wb):
    named_cell(wb, "pe_ind_name").offset(row=15).value = '=""'


def _old_version(wb):
    """A template of an earlier version of the form, made before templates carried their spec
    (one that carries it is read by it: tests/test_forms.py)."""
    for p in wb.custom_doc_props.props:
        if p.name == "perfeval_spec_version":
            p.value = "0"
    named_cell(wb, "pe_meta_spec_version").value = 0
    for row in wb["_meta"].iter_rows():
        if str(row[0].value).startswith(("spec_toml_", "spec_sha256")):
            row[0].value = row[1].value = None


def _form_id(value):
    def change(wb):
        for p in wb.custom_doc_props.props:
            if p.name == "perfeval_form_id":
                p.value = value
        named_cell(wb, "pe_meta_form_id").value = value

    return change


def _rows(i, **changes):
    rows = [dict(r) for r in INDICATORS]
    rows[i].update(changes)
    return rows


N = "national-2020"
S23 = "sichuan-2023"
# (rule, form, overrides, change, expected findings as (code, contract name, indicator row))
CASES = [
    ("E101", N, {"dept_code": None}, None, [("E101", "pe_dept_code", 0)]),
    ("E102", N, {"year": "二〇二二"}, None, [("E102", "pe_year", 0)]),
    ("W201", N, {"fund_fiscal_budget": "１００万元"}, None, [("W201", "pe_fund_fiscal_budget", 0)]),
    ("E202", N, {"fund_other_spent": "九十五"}, None, [("E202", "pe_fund_other_spent", 0)]),
    ("E203", N, {"fund_other_budget": -5}, None, [("E203", "pe_fund_other_budget", 0)]),
    ("W204", N, {"indicators": _rows(0, level1="完成指标")}, None, [("W204", "pe_ind_level1", 0)]),
    ("E205", N, {"project_name": "长" * 101}, None, [("E205", "pe_project_name", 0)]),
    (
        "E301",
        N,
        {"fund_fiscal_spent": 120},
        None,
        [("E301", "pe_fund_total_spent", 0), ("E301", "pe_fund_fiscal_spent", 0)],
    ),
    ("E301 source", N, {"fund_other_spent": 1}, None, [("E301", "pe_fund_other_spent", 0)]),
    ("E302", N, {}, _typed_over_total, [("E302", "pe_fund_total_budget", 0)]),
    (
        "E303",
        N,
        {"fund_fiscal_budget": None},
        None,
        [
            ("E303", "pe_fund_total_budget", 0),
            ("E301", "pe_fund_total_spent", 0),
            ("E301", "pe_fund_fiscal_spent", 0),
        ],
    ),
    ("E304", N, {"fund_fiscal_spent": None}, None, [("E304", "pe_fund_total_spent", 0)]),
    (
        "W305",
        S23,
        {"fund_fiscal_spent": 50},
        None,
        # every indicator at full marks with half the money unspent: W511 too
        [("W305", "pe_exec_reason", 0), ("W511", "pe_total_score", 0)],
    ),
    ("E401", N, {"indicators": _rows(1, target=None)}, None, [("E401", "pe_ind_target", 1)]),
    (
        "E402",
        N,
        {"indicators": _rows(0, level1="投入指标")},
        None,
        # its 数量指标 belongs to 产出指标, where it is scored: the weights still add up
        [("E402", "pe_ind_level1", 0)],
    ),
    (
        "E403",
        N,
        {"indicators": _rows(0, level2="社会效益指标")},
        None,
        # scored under 效益指标, where it belongs: 产出 30 and 效益 50 (50 and 30 in principle)
        [("E403", "pe_ind_level2", 0), ("W512", None, 0), ("W512", None, 0)],
    ),
    (
        "E403 unknown",
        N,
        {"indicators": _rows(0, level2="规模指标")},
        None,
        [("E403", "pe_ind_level2", 0)],
    ),
    (
        "E404",
        N,
        {"indicators": _rows(0, status="进行中")},
        None,
        # (and every score still full while a status is not 已完成: W511)
        [("E404", "pe_ind_status", 0), ("W511", "pe_total_score", 0)],
    ),
    (
        "E405",
        N,
        {"indicators": _rows(3, status="部分完成", score=21)},
        None,
        [("E405", "pe_ind_reason", 3)],
    ),
    (
        "E406",
        N,
        {"indicators": INDICATORS[:4]},
        None,
        [("E406", None, 0), ("E501", "pe_weight_total", 0)],
    ),
    ("E407", N, {"indicators": _rows(0, target="XX")}, None, [("E407", "pe_ind_target", 0)]),
    (
        "W408",
        N,
        {"indicators": _rows(0, target="按时按量完成")},
        None,
        [("W408", "pe_ind_target", 0)],
    ),
    (
        "W409",
        N,
        {"indicators": _rows(1, target="≥120%", actual="125%")},
        None,
        [("W409", "pe_ind_target", 1), ("W409", "pe_ind_actual", 1)],
    ),
    (
        "W410",
        N,
        {"indicators": _rows(2, target="≥100万元", actual="100万元")},
        None,
        [("W410", "pe_ind_target", 2)],
    ),
    ("W411", N, {"indicators": _rows(0, actual="已完成")}, None, [("W411", "pe_ind_actual", 0)]),
    ("W412", N, {"indicators": _rows(4, target="≥80%")}, None, [("W412", "pe_ind_target", 4)]),
    ("E413", S23, {"indicators": _rows(0, sign="≈")}, None, [("E413", "pe_ind_sign", 0)]),
    ("E414", N, {"indicators": []}, None, [("E414", None, 0)]),
    ("W010", N, {}, _old_version, [("W010", "", 0)]),  # about the file: no sheet
    ("E011", N, {}, _delete_name("pe_goal_actual"), [("E011", None, 0)]),
    ("W012", N, {}, _unprotect, [("W012", None, 0)]),
    ("W013", N, {}, _no_validations, [("W013", None, 0)]),
    ("E014", N, {}, _shorten_status, [("E014", None, 0)]),
    (
        "E202 formula",
        N,
        {},
        _formula_input,
        [("E202", "pe_fund_fiscal_spent", 0), ("E304", "pe_fund_total_spent", 0)],
    ),
    (
        # a formula is never an empty cell: its row is read, and its other cells are missing
        "E202 formula in an empty indicator row",
        N,
        {},
        _formula_in_empty_row,
        [("E202", "pe_ind_name", 15), ("E502", "pe_ind_weight", 15)]
        + [
            ("E401", f"pe_ind_{k}", 15)
            for k in ("level1", "level2", "name", "target", "actual", "status")
        ],
    ),
]


@pytest.mark.parametrize(
    ("rule", "form", "over", "change", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_rule(tmp_path, rule, form, over, change, expected):
    path = filled(tmp_path, form, change, **over)
    sheet = load_spec(form).sheet
    exp = sorted(
        (code, RULES[code].severity, at(form, name, row) if name else ("" if name == "" else sheet))
        for code, name, row in expected
    )
    assert got(path) == exp


@pytest.mark.parametrize(("form_id", "code"), [("hainan-2030", "E008"), ("", "E007")])
def test_unknown_or_missing_form_id(tmp_path, form_id, code):
    path = filled(tmp_path, "national-2020", _form_id(form_id))
    result = check_workbook(path)
    assert [f.code for f in result.findings] == [code]
    assert result.record is None


def test_workbook_not_made_by_perfeval(tmp_path):
    path = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "项目名称"
    wb.save(path)
    result = check_workbook(path)
    assert [(f.code, f.file) for f in result.findings] == [("E007", str(path))]


def test_every_rule_is_tested_or_listed():
    tested = {c[0].split()[0] for c in CASES} | {"E007", "E008"}
    file_rules = {"E001", "E002", "E003", "E004", "E005", "E006", "W009"}  # test_bad_files.py
    from test_score import SCORE_CASES

    score_rules = {c[0].split()[0] for c in SCORE_CASES}  # test_score.py
    collect_rules = {"W601", "E602", "E603", "W604", "W605"}  # test_collect.py
    collect_rules |= {"E607", "W608"}  # test_inbox.py
    sign_rules = {"E701", "E702", "E703", "E704", "W015"}  # test_sign.py, test_limits.py
    hostile_rules = {"W016", "W606"}  # test_hostile.py, test_roundtrip.py
    hostile_rules |= {"E017", "W018", "E019"}  # test_hostile_cells.py
    forms_rules = {"W020", "W021", "I022"}  # test_forms.py
    forms_rules |= {"E023", "I024", "E025"}  # test_annex_read.py, test_annex_office.py
    real_input_rules = {"W306", "W307", "W415", "W511"}  # test_real_input.py
    real_input_rules |= {"E503"}  # test_real_forms.py (no built-in form fixes its weights)
    assert (
        set(RULES)
        - tested
        - file_rules
        - score_rules
        - collect_rules
        - sign_rules
        - hostile_rules
        - real_input_rules
        - forms_rules
        == set()
    )


def test_input_file_is_not_modified(tmp_path):
    path = filled(tmp_path, "national-2020")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    check_workbook(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
