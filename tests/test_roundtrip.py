"""Round trips through LibreOffice itself: templates filled, tampered with and saved by the program
units use, then read back by `check` and `collect`.

One headless soffice per module (tests/lo_uno.py) types into the templates through its UNO API
(tests/uno_calc.py, run by Debian's python3 with python3-uno) what tests/lo_cases.py says, and
saves them as .xlsx. The same tests run on the files kept in tests/data/ (saved by LibreOffice
7.4, see tests/data/README.md), so the reader is tested on LibreOffice's files where LibreOffice
is missing. What LibreOffice changes on save, and how the tool treats it: docs/compatibility.md.
Locally, tests that need soffice or python3-uno skip; in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import list_rules, unlocked
from lo_cases import (
    BUDGET,
    CASES,
    FORMS,
    INSERT_BEFORE,
    INSERTED,
    TAMPERED_BUDGET,
    issued,
    jobs,
    template,
    typed,
    write_roster,
)
from lo_uno import Office, group_alive
from soffice import soffice_or_skip, tool_or_skip

from perfeval_xl import (
    DEFAULT_PASSWORD,
    build_template,
    builtin_forms,
    check_workbook,
    contract_names,
    load_spec,
    make_layout,
)
from perfeval_xl.cli import cli
from perfeval_xl.office.collect import collect
from perfeval_xl.office.summary import write_summary
from perfeval_xl.template.generate import PROP_FORM_ID, PROP_SPEC_VERSION, PROP_WORKBOOK_ID

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).with_name("data")
NATIONAL = load_spec("national-2020")
#: the office's signing key for `template --key` / `check --key` (32 bytes)
KEY = bytes(range(32))
#: Σ预算数 and Σ执行数 of every filled case: 114.56 issued + 5.5 typed, 99.63 + 5 typed
BUDGET_TOTAL, SPENT_TOTAL = 120.06, 104.63
#: 总分 (计算得分 on sichuan-2022) and grade of each case: 执行率 104.63 / 120.06 = 87.15 % gives
#: 8.71 of 10 points; the indicators give 20 + 20 + 10 + 21 (部分完成, in its band) + 10 = 81;
#: sichuan-2022 shares 产出's 50 among three indicators (16.67 each, rounded: 50.01).
SCORES = {
    "national-2020": 89.71,
    "sichuan-2023": 89.71,
    "sichuan-2022": 89.72,
    "tampered-budget": 87.73,  # 104.63 / 155.5 = 67.29 % gives 6.73 points
    "inserted-row": 89.71,
    "national-2021": 89.71,
}


@dataclass
class Saved:
    """Files saved by LibreOffice, one per case, and the roster their templates came from."""

    source: str
    roster: Path
    files: dict[str, Path]
    #: what LibreOffice held after the steps of each job (live runs only)
    infos: dict[str, dict]


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(office, tmp_path_factory) -> Saved:
    """Every case of lo_cases filled (and tampered with) by LibreOffice now."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    roster = write_roster(tmp / "roster.csv")
    outdir = tmp / "saved"
    outdir.mkdir()
    infos = office.run(jobs(list(CASES), roster, tmp, outdir))
    files = {name: outdir / f"{name}.xlsx" for name in CASES}
    return Saved("libreoffice", roster, files, dict(zip(CASES, infos, strict=True)))


@pytest.fixture(scope="module", params=["libreoffice", "data"])
def saved(request) -> Saved:
    """The cases saved by LibreOffice: now (needs soffice) or as kept in tests/data."""
    if request.param == "libreoffice":
        return request.getfixturevalue("live")
    return Saved("data", DATA / "roster.csv", {n: DATA / f"{n}.xlsx" for n in CASES}, {})


@pytest.fixture(scope="module")
def templates(saved, tmp_path_factory) -> dict[str, Path]:
    """The templates the office issued for each case (generation is deterministic)."""
    tmp = tmp_path_factory.mktemp(f"templates-{saved.source}")
    return {name: template(name, saved.roster, tmp) for name in CASES}


# -- helpers -----------------------------------------------------------------------------------
def codes(result) -> list[str]:
    return sorted(f.code for f in result.findings)


def area(wb, name: str) -> str:
    ((_, ref),) = wb.defined_names[name].destinations
    return ref


def cached(path: Path, names: list[str]) -> dict[str, object]:
    """The values LibreOffice saved for named cells (formulas' results)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for name in names:
        ((sheet, ref),) = wb.defined_names[name].destinations
        out[name] = wb[sheet][ref.replace("$", "")].value
    return out


def application(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        xml = z.read("docProps/app.xml").decode()
    return xml.split("<Application>")[1].split("</Application>")[0]


def pdf_pages_and_size(pdf: Path) -> tuple[int, tuple[int, int]]:
    info = subprocess.run(
        [tool_or_skip("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    width, height = (float(x) for x in fields["Page size"].split("pts")[0].split(" x "))
    return int(fields["Pages"]), (round(width), round(height))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


PAGE_ONE = ["-png", "-f", "1", "-l", "1", "-singlefile"]


def a4_landscape_at_100_dpi(size: tuple[int, int]) -> bool:
    """297 × 210 mm at 100 dpi: 1169.3 × 826.8 pixels, rounded either way by pdftoppm."""
    width, height = size
    return abs(width - 1169.3) < 1 and abs(height - 826.8) < 1


def page_one(pdf: Path, dpi: int = 100) -> Path:
    stem = pdf.with_suffix("")
    subprocess.run(
        [tool_or_skip("pdftoppm"), *PAGE_ONE, "-r", str(dpi), str(pdf), str(stem)],
        check=True,
        timeout=120,
    )
    return stem.with_suffix(".png")


def run_collect(inbox: Path, roster: Path, tmp: Path) -> tuple[int, dict]:
    """`perfeval-xl collect` as a clerk runs it; its exit code and --json."""
    out = tmp / "汇总.xlsx"
    result = CliRunner().invoke(
        cli,
        [
            *("collect", str(inbox), "-o", str(out), "--roster", str(roster)),
            *("--form", "national-2020", "--json", str(tmp / "collect.json")),
        ],
        env={"PERFEVAL_XL_LANG": "en"},
        catch_exceptions=False,
    )
    assert out.exists(), result.output
    return result.exit_code, json.loads((tmp / "collect.json").read_text(encoding="utf-8"))


def inbox_of(files: list[Path], folder: Path) -> Path:
    folder.mkdir()
    for f in files:
        shutil.copyfile(f, folder / f.name)
    return folder


# -- filled in LibreOffice: every value typed comes back, nothing is reported ------------------
@pytest.mark.parametrize("form", FORMS)
def test_every_typed_value_comes_back_identical(saved, form):
    result = check_workbook(saved.files[form])
    # No W012 / W013 / E011, and no false alarm of any other kind: the unit did nothing wrong.
    assert [(f.code, f.cell, f.message.render("en")) for f in result.findings] == []
    rec = result.record
    assert rec.spec.id == form
    for key, value in typed(form).items():
        key = key.removeprefix("pe_")
        if key.startswith("ind_"):
            column = key.removeprefix("ind_")
            assert [ind.fields[column].raw for ind in rec.indicators] == value, key
        else:
            assert rec.fields[key].raw == value, key
    for key, value in issued(form).items():  # what the office issued, locked
        assert rec.fields[key].raw == value, key


@pytest.mark.parametrize("form", FORMS)
def test_totals_and_scores_are_right(saved, form):
    result = check_workbook(saved.files[form])
    rec, score = result.record, result.score
    assert rec.fund("total", "budget") == pytest.approx(BUDGET_TOTAL)
    assert rec.fund("total", "spent") == pytest.approx(SPENT_TOTAL)
    assert rec.exec_rate == pytest.approx(SPENT_TOTAL / BUDGET_TOTAL)
    assert (score.exec_score, score.total, score.grade) == (8.71, SCORES[form], "良")
    assert score.complete
    # LibreOffice recalculated the sheet's own formulas; they agree with the tool.
    names = ["pe_fund_total_budget", "pe_fund_total_spent", "pe_exec_rate", "pe_selfcheck"]
    if rec.spec.scored:
        names += ["pe_exec_score", "pe_weight_total", "pe_total_score"]
    expected = {
        "pe_fund_total_budget": pytest.approx(BUDGET_TOTAL),
        "pe_fund_total_spent": pytest.approx(SPENT_TOTAL),
        "pe_exec_rate": pytest.approx(SPENT_TOTAL / BUDGET_TOTAL),
        "pe_selfcheck": 0,
        "pe_exec_score": 8.71,
        "pe_weight_total": 100,  # 执行率 10 + indicators 90
        "pe_total_score": SCORES[form],
    }
    assert cached(saved.files[form], names) == {n: expected[n] for n in names}


@pytest.mark.parametrize("form", FORMS)
def test_what_libreoffice_changes_on_save(saved, templates, form):
    """The changes docs/compatibility.md lists, observed on LibreOffice 7.4.7.2: none of them
    is the unit's doing, and none gives a finding (see the two tests above)."""
    spec = load_spec(form)
    before = openpyxl.load_workbook(templates[form])
    after = openpyxl.load_workbook(saved.files[form])
    assert application(saved.files[form]).startswith("LibreOffice/7.4")
    # very hidden becomes hidden; workbook structure protection is dropped
    assert [ws.sheet_state for ws in before.worksheets] == ["visible"] * 2 + ["veryHidden"] * 2
    assert [ws.sheet_state for ws in after.worksheets] == ["visible"] * 2 + ["hidden"] * 2
    assert before.security.lockStructure and not after.security.lockStructure
    # sheet protection stays, with the same password hash, on every sheet
    for old, new in zip(before.worksheets, after.worksheets, strict=True):
        assert new.title == old.title
        assert new.protection.sheet and new.protection.password == old.protection.password
        assert (new.protection.formatColumns, new.protection.formatRows) == (
            old.protection.formatColumns,
            old.protection.formatRows,
        )
    # names, locked cells and dropdown ranges are where the template had them
    for name, where in contract_names(make_layout(spec)).items():
        assert area(after, name) == area(before, name) == where.a1(), name
    ws_old, ws_new = before[spec.sheet], after[spec.sheet]
    assert unlocked(ws_new) == unlocked(ws_old)
    old_rules, new_rules = list_rules(ws_old), list_rules(ws_new)
    assert new_rules.keys() == old_rules.keys()
    for ref, formula in old_rules.items():
        # the dependent 二级 list's VLOOKUP(…,FALSE) is saved as VLOOKUP(…,0): the same
        rewritten = formula.replace(",FALSE)", ",0)")
        assert new_rules[ref] == rewritten, ref
    assert len(ws_new.conditional_formatting) == len(ws_old.conditional_formatting)
    assert set(map(str, ws_new.merged_cells.ranges)) == set(map(str, ws_old.merged_cells.ranges))
    assert ws_new.print_area == ws_old.print_area
    assert (ws_new.page_setup.orientation, ws_new.page_setup.paperSize) == ("landscape", 9)
    assert ws_new.sheet_properties.pageSetUpPr.fitToPage and ws_new.page_setup.fitToHeight == 0
    # the identity survives; the saved time is LibreOffice's, the creation time is kept
    props = {p.name: p.value for p in after.custom_doc_props.props}
    for p in before.custom_doc_props.props:
        if p.name in (PROP_FORM_ID, PROP_SPEC_VERSION, PROP_WORKBOOK_ID):
            assert props[p.name] == p.value
    assert after.properties.created == before.properties.created
    assert after.properties.modified > before.properties.modified
    # formulas are recalculated (the template's cached results were those of an empty form:
    # its 自检 counts nothing spent, E304, and no indicator, E414)
    assert cached(templates[form], ["pe_selfcheck", "pe_fund_total_spent"]) == {
        "pe_selfcheck": 2,
        "pe_fund_total_spent": None,
    }


def test_what_libreoffice_itself_holds(live):
    """Inside LibreOffice, before saving: every sheet protected, the two list sheets hidden,
    the contract names where the template has them, and no workbook structure protection (it
    is not taken on open, which is why it is missing from the saved file)."""
    for form in FORMS:
        info = live.infos[form]
        assert info["structure_protected"] is False
        assert [(s["name"], s["protected"], s["visible"]) for s in info["sheets"]] == [
            (load_spec(form).sheet, True, True),
            ("填报说明", True, True),
            ("_lists", True, False),
            ("_meta", True, False),
        ]
        for name, where in contract_names(make_layout(load_spec(form))).items():
            sheet = load_spec(form).sheet
            assert info["names"][name] == f"${sheet}.{where.a1()}", name
    assert live.infos["inserted-row"]["names"]["pe_ind_name"] == "$自评表.$D$15:$D$35"
    assert live.infos["tampered-budget"]["sheets"][0]["protected"] is False


def test_collect_reads_what_libreoffice_saved(saved, tmp_path):
    """All six files in one inbox, compared with the roster they were issued from: only the
    two tampered files are reported, with what was done to them."""
    inbox = inbox_of(list(saved.files.values()), tmp_path / "inbox")
    code, out = run_collect(inbox, saved.roster, tmp_path)
    assert code == 1  # E603 is an error
    found = {
        f["source"].removesuffix(".xlsx"): [(x["code"], x["field"]) for x in f["findings"]]
        for f in out["files"]
    }
    assert found == {
        "national-2020": [],
        # one national-2020 roster for the four forms: the other three are W606
        "sichuan-2023": [("W606", None)],
        "sichuan-2022": [("W606", None)],
        "national-2021": [("W606", None)],
        "tampered-budget": [("W012", None), ("E603", "fund_fiscal_budget")],
        "inserted-row": [("W012", None), ("W016", None)],
    }
    assert out["findings"] == []  # every roster row received, nothing off the roster
    assert all(r["received"] for r in out["roster"])
    ((dept,),) = [out["departments"]]
    assert (dept["projects"], dept["errors"], dept["warnings"]) == (
        6,
        1,
        6,
    )  # W012 ×2, W016, W606 ×3
    # the office's issued budget, not the one typed over it (E603): every file's is the same
    assert dept["budget"] == pytest.approx(6 * BUDGET_TOTAL)
    assert dept["spent"] == pytest.approx(6 * SPENT_TOTAL)
    assert dept["grades"] == {"优": 0, "良": 6, "中": 0, "差": 0}


def test_libreoffice_files_in_tests_data():
    """The kept files really are LibreOffice's, made as tests/data/README.md says."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for name in CASES:
        app = application(DATA / f"{name}.xlsx")
        assert app.startswith("LibreOffice/7.4.7.2"), name
        assert f"{name}.xlsx" in readme
    assert "LibreOffice 7.4.7.2" in readme


# -- tampering in LibreOffice ------------------------------------------------------------------
def test_protection_removed_and_budget_changed(saved, tmp_path):
    """sheet.unprotect("perfeval"), then the office-issued 全年预算数 typed over: W012 from the
    file alone; with the roster, E603 names the cell and both values."""
    path = saved.files["tampered-budget"]
    result = check_workbook(path)
    assert codes(result) == ["W012"]
    assert result.record.fund("fiscal", "budget") == TAMPERED_BUDGET
    assert result.score.total == SCORES["tampered-budget"]
    coll = collect(inbox_of([path], tmp_path / "inbox"), roster=saved.roster, roster_spec=NATIONAL)
    (sub,) = coll.projects
    e603 = [f for f in sub.result.findings if f.code == "E603"]
    assert [(f.field, f.sheet, f.cell) for f in e603] == [("fund_fiscal_budget", "自评表", "F9")]
    assert e603[0].message.render("en") == (
        f"differs from the roster: roster '{BUDGET:.2f}', file '{TAMPERED_BUDGET:.2f}'; "
        "the summary counts the roster's"
    )
    assert sorted(f.code for f in coll.findings) == ["W604"] * (len(CASES) - 1)


def test_row_inserted_into_the_indicator_table(saved):
    """sheet.Rows.insertByIndex inside the table, after unprotecting: LibreOffice grows every
    pe_ind_* name (and the dropdowns, the locks and the total formulas) by the row. The reader
    says W012 (protection removed) and reads all six indicators, in order, right."""
    path = saved.files["inserted-row"]
    wb = openpyxl.load_workbook(path)
    first, last = 15, 15 + NATIONAL.indicator_rows  # one row more than issued
    for key in NATIONAL.indicator_keys:
        col = area(wb, f"pe_ind_{key}").split("$")[1]
        assert area(wb, f"pe_ind_{key}") == f"${col}${first}:${col}${last}", key
    assert wb[NATIONAL.sheet][f"H{last + 1}"].value == '=IF(COUNT(H15:H35)=0,"",10+SUM(H15:H35))'
    result = check_workbook(path)
    assert codes(result) == ["W012", "W016"]
    names = [ind.value("name") for ind in result.record.indicators]
    assert names == ["媒体报道", "发布合格率", "发布及时率", "合作经费", "城市形象", "公众满意度"]
    assert names[INSERT_BEFORE] == INSERTED[2]
    assert [ind.value("weight") for ind in result.record.indicators] == [20, 10, 10, 10, 30, 10]
    assert result.score.total == SCORES["inserted-row"]
    assert cached(path, ["pe_weight_total", "pe_total_score", "pe_selfcheck"]) == {
        "pe_weight_total": 100,
        "pe_total_score": SCORES["inserted-row"],
        "pe_selfcheck": 0,
    }


# -- more tampering, through the running LibreOffice only --------------------------------------
@pytest.fixture(scope="module")
def tampered(office, live, tmp_path_factory) -> dict[str, dict]:
    """Variants made now: name -> {"answer": uno_calc's answer, "path": the saved file}."""
    tmp = tmp_path_factory.mktemp("tampered")
    base = str(live.files["national-2020"])  # filled and saved by LibreOffice
    unprotect = {"op": "unprotect", "sheet": NATIONAL.sheet, "password": DEFAULT_PASSWORD}
    protect = {"op": "protect", "sheet": NATIONAL.sheet, "password": DEFAULT_PASSWORD}
    variants = {
        # the budget changed, then the protection put back with the password the README gives
        "budget-restored": [
            unprotect,
            {"op": "type", "values": {"pe_fund_fiscal_budget": TAMPERED_BUDGET}},
            protect,
        ],
        # the API types into locked cells of a protected sheet without complaint
        "budget-forced": [
            {"op": "type", "values": {"pe_fund_fiscal_budget": TAMPERED_BUDGET}, "force": True}
        ],
        # a row inserted into the table, then the protection put back
        "row-restored": [
            unprotect,
            {"op": "insert_rows", "name": "pe_ind_name", "before": INSERT_BEFORE, "count": 1},
            protect,
        ],
        # but a protected sheet refuses to insert rows, through the API too
        "row-protected": [
            {"op": "insert_rows", "name": "pe_ind_name", "before": INSERT_BEFORE, "count": 1}
        ],
        # Insert Cells ▸ Shift cells down, in the 偏差原因 column only (the columns above the
        # merged 合计 label cannot shift: LibreOffice leaves them as they are)
        "reason-shifted": [
            unprotect,
            {"op": "insert_cells", "name": "pe_ind_reason", "before": 1},
        ],
        # a paste from 三级指标 into an empty 完成状态 cell: both unlocked, so the protected
        # sheet allows it, and the pasted cell brings no dropdown with it
        "status-pasted-over": [
            {"op": "copy", "source": ["pe_ind_name", 10], "target": ["pe_ind_status", 10]}
        ],
    }
    jobs = [
        {"open": base, "steps": steps, "save": str(tmp / f"{name}.xlsx")}
        for name, steps in variants.items()
    ]
    # a template signed with the office's key (template --key), filled; and filled with the
    # budget changed behind restored protection
    signed = tmp / "signed-template.xlsx"
    signed.write_bytes(build_template(NATIONAL, issued("national-2020"), key=KEY))
    fill = {"op": "type", "values": typed("national-2020")}
    changed = [
        unprotect,
        {"op": "type", "values": {"pe_fund_fiscal_budget": TAMPERED_BUDGET}},
        protect,
    ]
    variants["signed"] = [fill]
    variants["signed-budget-restored"] = [fill, *changed]
    for name in ("signed", "signed-budget-restored"):
        jobs.append(
            {"open": str(signed), "steps": variants[name], "save": str(tmp / f"{name}.xlsx")}
        )
    answers = office.answers(jobs)
    return {
        name: {"answer": answer, "path": tmp / f"{name}.xlsx"}
        for name, answer in zip(variants, answers, strict=True)
    }


@pytest.mark.parametrize("variant", ["budget-restored", "budget-forced"])
def test_budget_changed_behind_intact_protection_is_caught_by_the_roster(
    tampered, live, variant, tmp_path
):
    """With the protection intact (put back, or never needed by a program), the file alone
    looks clean: only the roster comparison shows the change (E603)."""
    assert tampered[variant]["answer"]["ok"], tampered[variant]["answer"]
    path = tampered[variant]["path"]
    result = check_workbook(path)
    assert codes(result) == []
    assert result.record.fund("fiscal", "budget") == TAMPERED_BUDGET
    coll = collect(inbox_of([path], tmp_path / "inbox"), roster=live.roster, roster_spec=NATIONAL)
    (sub,) = coll.projects
    assert [(f.code, f.field) for f in sub.result.findings] == [("E603", "fund_fiscal_budget")]


def test_signed_template_filled_in_libreoffice_verifies(tampered):
    """LibreOffice's save changes nothing the signature covers: `check --key` finds nothing."""
    assert tampered["signed"]["answer"]["ok"], tampered["signed"]["answer"]
    assert codes(check_workbook(tampered["signed"]["path"], key=KEY)) == []


def test_signed_budget_change_is_caught_without_the_roster(tampered):
    assert tampered["signed-budget-restored"]["answer"]["ok"]
    result = check_workbook(tampered["signed-budget-restored"]["path"], key=KEY)
    assert [(f.code, f.cell, f.message.render("en")) for f in result.findings] == [
        ("E703", "F9", "issued value fund_fiscal_budget was changed: issued '114.56', now '150.00'")
    ]


def test_protected_sheet_refuses_row_insertion(tampered):
    answer = tampered["row-protected"]["answer"]
    assert not answer["ok"]
    assert answer["error"].startswith("com.sun.star.uno.RuntimeException")


def test_row_inserted_behind_restored_protection_reads_right(tampered):
    assert tampered["row-restored"]["answer"]["ok"], tampered["row-restored"]["answer"]
    path = tampered["row-restored"]["path"]
    wb = openpyxl.load_workbook(path)
    assert wb[NATIONAL.sheet].protection.sheet
    assert area(wb, "pe_ind_name") == "$D$15:$D$35"
    result = check_workbook(path)
    assert len(result.record.indicators) == 5  # the empty inserted row is skipped
    assert result.score.total == SCORES["national-2020"]


def test_row_inserted_behind_restored_protection_is_reported(tampered):
    result = check_workbook(tampered["row-restored"]["path"])
    assert codes(result) != []


def test_cells_inserted_in_one_column_are_reported(tampered):
    """Shifting one column down makes pe_ind_reason one row taller than the other columns, and
    every reason below belongs to the next indicator: E014 says so (and the reason of 城市形象,
    now one row lower, is missing: E405)."""
    assert tampered["reason-shifted"]["answer"]["ok"], tampered["reason-shifted"]["answer"]
    path = tampered["reason-shifted"]["path"]
    assert area(openpyxl.load_workbook(path), "pe_ind_reason") == "$J$15:$J$35"
    result = check_workbook(path)
    assert codes(result) == ["E014", "E405", "W012"]
    (e014,) = [f for f in result.findings if f.code == "E014"]
    message = e014.message.render("en")
    assert message.startswith("indicator columns differ in height: pe_ind_level1=20")
    assert message.endswith("pe_ind_reason=21")


def test_paste_over_a_dropdown_removes_it_there(tampered):
    assert tampered["status-pasted-over"]["answer"]["ok"], tampered["status-pasted-over"]
    ws = openpyxl.load_workbook(tampered["status-pasted-over"]["path"])[NATIONAL.sheet]
    assert ws.protection.sheet
    assert list_rules(ws)["G15:G24 G26:G34"] == "pe_list_status"


def test_paste_over_a_dropdown_is_reported(tampered):
    assert "W013" in codes(check_workbook(tampered["status-pasted-over"]["path"]))


# -- what LibreOffice cannot do ----------------------------------------------------------------
def test_file_libreoffice_cannot_open_fails_with_its_message(office, live, tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(live.files["national-2020"].read_bytes()[:5000])
    with pytest.raises(pytest.fail.Exception) as failed:
        office.run([{"open": str(broken), "steps": [], "save": str(tmp_path / "out.xlsx")}])
    message = str(failed.value)
    assert "broken.xlsx" in message
    assert "could not open the file (loadComponentFromURL returned no document" in message
    assert not (tmp_path / "out.xlsx").exists()


def test_hung_soffice_is_killed(tmp_path):
    """soffice stops answering (SIGSTOP): the call fails after its time limit with what soffice
    said, and the whole process group is gone."""
    office = Office(tmp_path / "office").start()
    try:
        office.run([])  # up and answering
        pgid = office.pgid
        os.killpg(pgid, signal.SIGSTOP)
        with pytest.raises(pytest.fail.Exception, match="did not finish within 2s"):
            office.run([{"open": str(tmp_path / "none.xlsx")}], timeout=2)
        assert not group_alive(pgid)
    finally:
        office.stop()


# -- printing ----------------------------------------------------------------------------------
def test_summary_of_libreoffice_files_prints_on_a4_landscape(office, live, tmp_path):
    inbox = inbox_of(list(live.files.values()), tmp_path / "inbox")
    summary = write_summary(collect(inbox), tmp_path / "summary.xlsx")
    pdf = tmp_path / "summary.pdf"
    office.run([{"open": str(summary), "pdf": str(pdf)}])
    pages, size = pdf_pages_and_size(pdf)
    assert pages >= 4  # 部门汇总, 项目明细, 绩效指标, 问题清单: one page wide each
    assert size == (842, 595)
    assert a4_landscape_at_100_dpi(png_size(page_one(pdf)))


def test_render_script_draws_page_one_of_every_form(tmp_path):
    """`python docs/render.py`, the documented command that makes docs/*.png."""
    soffice_or_skip()
    tool_or_skip("pdftoppm")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "render.py"), "--outdir", str(tmp_path), "--keep-pdf"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in [*builtin_forms(), "summary"]:
        pages, size = pdf_pages_and_size(tmp_path / f"{name}.pdf")
        assert size == (842, 595), name
        # a form prints its 20 indicator rows on two pages, then 填报说明
        assert (2 <= pages <= 6) if name != "summary" else pages >= 4, name
        png = tmp_path / f"{name}.png"
        assert a4_landscape_at_100_dpi(png_size(png)), name
        assert png.stat().st_size < 300_000, name


@pytest.mark.parametrize("name", [*builtin_forms(), "summary"])
def test_committed_pictures(name):
    png = ROOT / "docs" / f"{name}.png"
    assert a4_landscape_at_100_dpi(png_size(png))
    assert png.stat().st_size < 300_000
