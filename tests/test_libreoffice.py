"""Templates in a real spreadsheet program: LibreOffice opens, prints and recalculates them.

Skipped where `soffice` is missing; in CI (CI=true) a missing LibreOffice fails instead.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import openpyxl
import pytest
from helpers import HEADER, fill, named_cell, open_xlsx
from soffice import convert, tool_or_skip

from perfeval_xl import build_template, contract_names, load_spec, make_layout
from perfeval_xl.template.generate import issuable_fields

FORMS = ["national-2020", "national-2021", "sichuan-2022", "sichuan-2023"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lo")


@pytest.fixture(scope="module")
def blank_files(workdir) -> list[Path]:
    files = []
    for form in FORMS:
        path = workdir / f"{form}.xlsx"
        path.write_bytes(build_template(load_spec(form)))
        files.append(path)
    return files


@pytest.fixture(scope="module")
def pdfs(workdir, blank_files) -> list[Path]:
    return convert(blank_files, "pdf", workdir / "pdf", workdir / "profile")


@pytest.fixture(scope="module")
def resaved(workdir, blank_files) -> list[Path]:
    return convert(blank_files, "xlsx", workdir / "resaved", workdir / "profile")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("index", range(len(FORMS)), ids=FORMS)
def test_prints_to_pdf_a4_landscape(pdfs, workdir, index):
    pdf = pdfs[index]
    info = subprocess.run(
        [tool_or_skip("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    # The form sheet (two pages: 20 indicator rows) and the instructions sheet.
    assert 2 <= int(fields["Pages"]) <= 6
    width, height = (float(x) for x in fields["Page size"].split("pts")[0].split(" x "))
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    out = workdir / f"page-{index}"
    subprocess.run(
        [tool_or_skip("pdftoppm"), "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(out)],
        check=True,
    )
    (png,) = workdir.glob(f"page-{index}*.png")
    w, h = png_size(png)
    assert w > h


@pytest.mark.parametrize("index", range(len(FORMS)), ids=FORMS)
def test_libreoffice_keeps_names_validations_and_protection(resaved, index):
    form = FORMS[index]
    spec = load_spec(form)
    wb = openpyxl.load_workbook(resaved[index])
    names = contract_names(make_layout(spec))
    for name, area in names.items():
        assert list(wb.defined_names[name].destinations) == [(spec.sheet, area.a1())], name
    ws = wb[spec.sheet]
    assert ws.protection.sheet is True
    lists = {
        str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"
    }
    level2 = names["pe_ind_level2"].a1(absolute=False)
    assert "INDIRECT" in lists[level2] and "pe_map_level1" in lists[level2]
    assert lists[names["pe_ind_status"].a1(absolute=False)] == "pe_list_status"
    unlocked = {c.coordinate for row in ws.iter_rows() for c in row if c.protection.locked is False}
    original = open_xlsx(build_template(spec))[spec.sheet]
    exp = {
        c.coordinate for row in original.iter_rows() for c in row if c.protection.locked is False
    }
    assert unlocked == exp
    # Observed on LibreOffice 7.4: very hidden becomes hidden, structure protection is dropped.
    assert [s.sheet_state for s in wb.worksheets[2:]] in (["hidden"] * 2, ["veryHidden"] * 2)


INDICATORS = [
    # complete, full marks
    {
        "level1": "产出指标",
        "level2": "数量指标",
        "name": "报道",
        "target": "≥12次",
        "actual": "15次",
        "status": "已完成",
        "weight": 20,
        "score": 20,
    },
    # no status (1), score below weight without a reason (1)
    {
        "level1": "产出指标",
        "level2": "质量指标",
        "name": "发布",
        "target": "100%",
        "actual": "100%",
        "weight": 20,
        "score": 18,
    },
    # partly done without a reason (1)
    {
        "level1": "效益指标",
        "level2": "社会效益指标",
        "name": "形象",
        "target": "提升",
        "actual": "部分",
        "status": "部分完成",
        "weight": 30,
        "score": 25,
    },
    # score above weight (1); weights then sum to 80, not 90 (1)
    {
        "level1": "满意度指标",
        "level2": "服务对象满意度指标",
        "name": "满意度",
        "target": "≥90%",
        "actual": "95%",
        "status": "已完成",
        "weight": 10,
        "score": 12,
    },
]


def test_libreoffice_computes_the_self_check(workdir, lo_profile):
    """Totals, 执行率, scores and the 自检 count, recalculated by LibreOffice itself."""
    spec = load_spec("national-2020")
    assert set(issuable_fields(spec)) >= {"fund_fiscal_budget"}
    wb = open_xlsx(build_template(spec, {"fund_fiscal_budget": 100.0}))
    # spent 120 > budget 100 on the fiscal row and on the total row: 2 problems
    fill(wb, {"fund_fiscal_spent": 120, "fund_other_budget": 5, "fund_other_spent": 3}, INDICATORS)
    path = workdir / "filled.xlsx"
    wb.save(path)
    (out,) = convert([path], "xlsx", workdir / "recalc", lo_profile)
    got = openpyxl.load_workbook(out, data_only=True)
    values = {
        n: named_cell(got, n).value
        for n in (
            "pe_fund_total_budget",
            "pe_fund_total_spent",
            "pe_exec_rate",
            "pe_exec_score",
            "pe_weight_total",
            "pe_total_score",
            "pe_selfcheck",
        )
    }
    assert values == {
        "pe_fund_total_budget": 105,
        "pe_fund_total_spent": 123,
        "pe_exec_rate": pytest.approx(123 / 105),
        "pe_exec_score": 10,  # min(rate, 1) × 10
        "pe_weight_total": 90,  # 10 + 20 + 20 + 30 + 10
        "pe_total_score": 85,  # 10 + 20 + 18 + 25 + 12
        # what `check` reports as errors the sheet can see (findings.SELF_CHECKED): 5 header
        # fields blank, 2 overspent, 1 no status, 1 score off the rule (100 % of ≥100 % is
        # 20, not 18), 1 部分完成 score above its band (25 > 24), 1 no reason, 1 over
        # weight, weights ≠ 90; 产出 40 ≠ 50 is a warning on this form (W512: 50 in
        # principle), not counted
        "pe_selfcheck": 13,
    }


def test_libreoffice_self_check_on_sichuan_2023(workdir, lo_profile):
    """A clean form counts 0; low execution without a reason is a warning of `check` (W305):
    marked orange, not counted."""
    spec = load_spec("sichuan-2023")
    good = [dict(row, status="已完成", score=row["weight"]) for row in INDICATORS]
    good[0]["weight"] = good[0]["score"] = 30  # 产出 30+20 = 50, weights 30+20+30+10 = 90
    paths = []
    for name, spent in (("good", 95), ("low", 50)):
        wb = open_xlsx(build_template(spec, {"fund_fiscal_budget": 100.0}))
        fill(wb, {**HEADER, "fund_fiscal_spent": spent}, good)
        paths.append(workdir / f"{name}.xlsx")
        wb.save(paths[-1])
    good_out, low_out = convert(paths, "xlsx", workdir / "s23", lo_profile)
    got = openpyxl.load_workbook(good_out, data_only=True)
    assert named_cell(got, "pe_exec_rate").value == pytest.approx(0.95)
    assert named_cell(got, "pe_exec_score").value == 9.5
    assert named_cell(got, "pe_total_score").value == 99.5  # 9.5 + 90
    assert named_cell(got, "pe_selfcheck").value == 0
    low = openpyxl.load_workbook(low_out, data_only=True)
    assert named_cell(low, "pe_exec_score").value == 5
    assert named_cell(low, "pe_selfcheck").value == 0  # rate 50 % < 90 %, no 原因: W305 only
