"""Returned workbooks (`perfeval-xl feedback`) in LibreOffice, the program many units use.

Two inboxes go through `collect` and `write_feedback`: the demo's three sichuan-2022 files (the
seed, with what a reviewer objects to) and one sichuan-2023 file filled here with problems a
unit can put right by typing: spending above the budget (E301), a score above its band (E507),
a 未完成 indicator without a reason (E405) and a low execution rate without a reason (W305).
One headless soffice (tests/lo_uno.py) then opens every returned workbook, reads what it shows
before anything is typed, saves it as .xlsx and prints it, and corrects the sichuan-2023 one
through its API; that file goes round again: `check`, then `feedback` with the roster.

The returned workbook's formulas carry no cached results on purpose: what LibreOffice shows is
what it computed on opening. Locally the tests skip without soffice or python3-uno; in CI they
fail instead.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from helpers import (
    list_rules,
    named_cell,
    open_xlsx,
    results_rows,
    review_findings,
    run_cli,
    texts_of,
    unlocked,
)
from lo_cases import BUDGET, DEPT, ROSTER_COLUMNS, indicators, typed
from openpyxl.utils.cell import range_boundaries
from soffice import tool_or_skip

from perfeval_xl import check_workbook, contract_names, load_spec, make_layout, read_roster
from perfeval_xl.demo import fill_template, run_demo
from perfeval_xl.findings import ERROR, INFO, RULES, SELF_CHECKED
from perfeval_xl.office.collect import collect
from perfeval_xl.office.feedback import RESULTS_NAME, REVIEW_SHEET, write_feedback
from perfeval_xl.template.generate import build_template

DATE = date(2024, 5, 1)
CONTACT = "绩效股 0812-1234567"
DEMO_FORM, OWN_FORM = "sichuan-2022", "sichuan-2023"
#: the demo's three projects (the seed), and the one filled here
DEMO = ["2022年媒体合作项目", "创建全国文明城市", "仁和区重大对外宣传活动及重要外宣产品专项"]
OWN = "城市形象宣传片专项"
NAMES = [*DEMO, OWN]
IDS = ["demo-media", "demo-civilisation", "demo-publicity", "own"]
#: what each returned workbook must show on opening: Σ预算数, Σ执行数, 执行率 as LibreOffice
#: formats them, and the 自检 count (E405 + E403 on each demo file; E301 + E507 + E405 on ours,
#: whose W305 is a warning: marked, not counted)
SHOWN = {
    "2022年媒体合作项目": ("100.00", "16.00", "16.00%", 2),
    "创建全国文明城市": ("114.56", "99.63", "86.97%", 2),
    "仁和区重大对外宣传活动及重要外宣产品专项": ("210.00", "40.00", "19.05%", 2),
    OWN: ("314.56", "125.00", "39.74%", 3),  # 114.56 + 200 budget, 120 + 5 spent
}
TOTALS = ["pe_fund_total_budget", "pe_fund_total_spent", "pe_exec_rate", "pe_selfcheck"]
#: what the unit of OWN got wrong (on top of lo_cases' clean sichuan-2023 values)
OWN_FUNDS = {
    "fund_fiscal_spent": 120,  # > 114.56 issued: E301
    "fund_other_initial": 200,
    "fund_other_budget": 200,
    "fund_other_spent": 5,  # 125 / 314.56 = 39.74 % < 90 %, no 原因: W305
}
OWN_FOUND = [
    ("E301", "H9", "财政资金：预算执行数 120.00 超过调整后预算数 114.56"),
    ("E507", "K19", "定性指标「城市形象」为「未完成」，得分应在 0–18 之间，填为 21"),
    ("E405", "L19", "指标「城市形象」状态为「未完成」，缺少偏差原因"),
    ("W305", "L8", "执行率 39.74% 低于 90%，「原因」未填写"),
]
#: typed in LibreOffice into the returned workbook's unlocked cells: every finding put right
CORRECTIONS = {
    "pe_fund_fiscal_spent": 110,
    "pe_exec_reason": "其他资金项目延至2023年实施",
    "pe_ind_score": [None, None, None, 15],
    "pe_ind_reason": [None, None, None, "宣传片受疫情影响推迟至2023年播出"],
}


@dataclass
class Round:
    """One inbox through collect and feedback."""

    form: str
    roster: Path
    inbox: Path
    outdir: Path
    #: project name -> its returned workbook
    returned: dict[str, Path]
    #: project name -> the unit's file as collect read it
    records: dict


@dataclass
class LoRun:
    """What LibreOffice did with the returned workbooks (one batch)."""

    #: project name -> what it showed on opening (uno_calc's info, with values and notes)
    infos: dict[str, dict]
    resaved: dict[str, Path]
    pdfs: dict[str, Path]
    #: OWN corrected by typing, then saved; what it showed after the typing
    corrected: Path
    corrected_info: dict


# -- fixtures ----------------------------------------------------------------------------------
def feedback_round(form: str, roster: Path, inbox: Path, outdir: Path) -> Round:
    spec = load_spec(form)
    coll = collect(inbox, roster=roster, roster_spec=spec)
    write_feedback(coll, outdir, roster_spec=spec, contact=CONTACT, review_date=DATE)
    returned = {p.stem.split("_", 2)[2]: p for p in outdir.glob("*/*/*.xlsx")}
    records = {s.result.record.value("project_name"): s.result.record for s in coll.projects}
    return Round(form, roster, inbox, outdir, returned, records)


def own_roster(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ROSTER_COLUMNS)
        row = {**DEPT, "project_name": OWN, "fund_fiscal_budget": BUDGET}
        w.writerow([row[c] for c in ROSTER_COLUMNS])
    return path


def own_filled(roster: Path) -> bytes:
    """The sichuan-2023 template of OWN filled as lo_cases fills it, with OWN's mistakes."""
    spec = load_spec(OWN_FORM)
    (row,) = read_roster(roster, spec)
    values = {
        k.removeprefix("pe_"): v
        for k, v in typed(OWN_FORM).items()
        if not k.startswith("pe_ind_") and k != "pe_exec_reason"
    }
    rows = indicators(OWN_FORM)
    rows[3].update(status="未完成", reason=None)  # 城市形象: score 21 stays (band 0–18)
    return fill_template(build_template(spec, row.values), {**values, **OWN_FUNDS}, rows)


@pytest.fixture(scope="module")
def rounds(tmp_path_factory) -> dict[str, Round]:
    tmp = tmp_path_factory.mktemp("feedback")
    demo = run_demo(tmp / "demo")
    roster = own_roster(tmp / "roster.csv")
    inbox = tmp / "inbox"
    inbox.mkdir()
    (inbox / f"{OWN}.xlsx").write_bytes(own_filled(roster))
    return {
        "demo": feedback_round(DEMO_FORM, demo.roster, tmp / "demo" / "inbox", tmp / "fb-demo"),
        "own": feedback_round(OWN_FORM, roster, inbox, tmp / "fb-own"),
    }


@pytest.fixture(scope="module")
def returned(rounds) -> dict[str, Path]:
    out = {**rounds["demo"].returned, **rounds["own"].returned}
    assert sorted(out) == sorted(NAMES)
    return out


@pytest.fixture(scope="module")
def lo(office, returned, tmp_path_factory) -> LoRun:
    """Every returned workbook opened (read before anything is typed), saved and printed by
    LibreOffice, and OWN's corrected: one batch."""
    tmp = tmp_path_factory.mktemp("lo")
    jobs = [
        {
            "open": str(returned[name]),
            "steps": [{"op": "read", "names": TOTALS}],
            "save": str(tmp / f"{i}.xlsx"),
            "pdf": str(tmp / f"{i}.pdf"),
        }
        for i, name in enumerate(NAMES)
    ]
    corrected = tmp / returned[OWN].name
    jobs.append(
        {
            "open": str(returned[OWN]),
            "steps": [
                {"op": "type", "values": CORRECTIONS},
                {"op": "read", "names": TOTALS},
            ],
            "save": str(corrected),
        }
    )
    *infos, corrected_info = office.run(jobs)
    return LoRun(
        dict(zip(NAMES, infos, strict=True)),
        {name: tmp / f"{i}.xlsx" for i, name in enumerate(NAMES)},
        {name: tmp / f"{i}.pdf" for i, name in enumerate(NAMES)},
        corrected,
        corrected_info,
    )


# -- helpers -----------------------------------------------------------------------------------
def spec_of(name: str):
    return load_spec(OWN_FORM if name == OWN else DEMO_FORM)


def found(path: Path) -> list[tuple[str, str | None, str]]:
    """What `check` says of a workbook: (code, cell, message), in its order."""
    return [(f.code, f.cell, f.message.zh) for f in check_workbook(path).findings]


def listed(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The 审核意见 of a returned workbook: its 审核结论, and each finding it lists as
    (code, cell, message), read from the table under 序号 … 如何改正."""
    ws = openpyxl.load_workbook(path)[REVIEW_SHEET]
    verdict = next(r[1] for r in ws.iter_rows(values_only=True) if r[0] == "审核结论")
    return verdict, [(kind.split()[1], cell, msg) for kind, cell, msg in review_findings(path)]


def pdf_pages(pdf: Path) -> list[tuple[int, int]]:
    """Every page's size in points, rounded (pdfinfo -f 1 -l N)."""
    out = subprocess.run(
        [tool_or_skip("pdfinfo"), "-f", "1", "-l", "999", str(pdf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sizes = []
    for line in out.splitlines():
        if line.startswith("Page") and "size:" in line:
            w, h = line.split("size:")[1].split("pts")[0].split(" x ")
            sizes.append((round(float(w)), round(float(h))))
    return sizes


def pdf_text(pdf: Path, page: int) -> str:
    return subprocess.run(
        [
            tool_or_skip("pdftotext", "poppler-utils"),
            "-f",
            str(page),
            "-l",
            str(page),
            str(pdf),
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


# -- what goes in ------------------------------------------------------------------------------
def test_the_units_files_and_what_comes_back(rounds):
    """Our unit's file has exactly its four mistakes; every project of both inboxes has errors
    or warnings, so each gets a workbook back, filed by department and unit."""
    own = rounds["own"]
    assert found(own.inbox / f"{OWN}.xlsx") == OWN_FOUND
    assert [p.relative_to(own.outdir).as_posix() for p in own.returned.values()] == [
        f"109101_中共攀枝花市仁和区委宣传部/攀枝花市区委宣传部/109101_攀枝花市区委宣传部_{OWN}.xlsx"
    ]
    assert sorted(rounds["demo"].returned) == sorted(DEMO)


# -- 1. LibreOffice opens them, keeps them -----------------------------------------------------
@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_opens_with_the_review_first_and_everything_protected(lo, returned, name):
    spec = spec_of(name)
    info = lo.infos[name]
    assert [(s["name"], s["protected"], s["visible"]) for s in info["sheets"]] == [
        (REVIEW_SHEET, True, True),
        (spec.sheet, True, True),
        ("填报说明", True, True),
        ("_lists", True, False),
        ("_meta", True, False),
    ]
    wb = openpyxl.load_workbook(returned[name])
    # the file locks the workbook structure; LibreOffice 7.4 does not take that on open (as
    # for templates: test_roundtrip.test_what_libreoffice_itself_holds)
    assert wb.security.lockStructure
    assert info["structure_protected"] is False
    # every pe_* name where the file has it
    pe = {}
    for n, d in wb.defined_names.items():
        if n.startswith("pe_"):
            ((sheet, ref),) = d.destinations
            pe[n] = f"${sheet}.{ref}"
    assert {n: v for n, v in info["names"].items() if n.startswith("pe_")} == pe
    assert set(contract_names(make_layout(spec))) <= set(pe)


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_libreoffice_save_keeps_names_validations_protection_and_findings(lo, returned, name):
    spec = spec_of(name)
    before = openpyxl.load_workbook(returned[name])
    after = openpyxl.load_workbook(lo.resaved[name])
    assert after.sheetnames == before.sheetnames
    assert after.sheetnames[0] == REVIEW_SHEET
    # every contract name where the returned workbook has it
    ws_old, ws_new = before[spec.sheet], after[spec.sheet]
    ((_, column),) = before.defined_names["pe_ind_name"].destinations
    _, top, _, bottom = range_boundaries(column.replace("$", ""))
    names = contract_names(make_layout(spec, bottom - top + 1))
    for n, where in names.items():
        assert list(after.defined_names[n].destinations) == [(spec.sheet, where.a1())], n
        assert list(before.defined_names[n].destinations) == [(spec.sheet, where.a1())], n
    # sheet protection, with the same password hash, on every sheet
    for old, new in zip(before.worksheets, after.worksheets, strict=True):
        assert new.protection.sheet and new.protection.password == old.protection.password
    # every validation, the dropdowns included, over the same cells
    kinds = {(str(dv.sqref), dv.type) for dv in ws_old.data_validations.dataValidation}
    assert {(str(dv.sqref), dv.type) for dv in ws_new.data_validations.dataValidation} == kinds
    old_lists, new_lists = list_rules(ws_old), list_rules(ws_new)
    # 一级, 二级 (dependent), 完成状态, and sichuan-2023's 指标性质
    assert len(old_lists) == 3 + ("sign" in spec.indicator_keys)
    assert new_lists == {k: v.replace(",FALSE)", ",0)") for k, v in old_lists.items()}
    assert "pe_list_status" in new_lists.values()
    assert unlocked(ws_new) == unlocked(ws_old)

    # the notes stay where they were
    def noted(ws):
        return {c.coordinate for row in ws.iter_rows() for c in row if c.comment}

    assert noted(ws_new) == noted(ws_old) != set()
    # and `check` reads LibreOffice's file with the same findings
    assert found(lo.resaved[name]) == found(returned[name]) != []


# -- 2. what LibreOffice shows on opening is computed, not stale -------------------------------
@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_shows_computed_totals_and_self_check_on_opening(lo, rounds, returned, name):
    budget, spent, rate, count = SHOWN[name]
    # nothing cached in the file: LibreOffice has to compute every one of them
    cached = open_xlsx(returned[name].read_bytes(), data_only=True)
    assert [named_cell(cached, n).value for n in TOTALS] == [None] * 4
    values = lo.infos[name]["values"]
    assert values == {
        "pe_fund_total_budget": [budget],
        "pe_fund_total_spent": [spent],
        "pe_exec_rate": [rate],
        "pe_selfcheck": [f"自检：发现 {count} 处问题，见红色标记"],
    }
    # the sums of the unit's own amounts, by source
    rec = {**rounds["demo"].records, **rounds["own"].records}[name]
    sources = [r.key for r in rec.spec.fund_rows if r.key != "total"]
    total_budget = sum(rec.fund(k, "budget") or 0 for k in sources)
    total_spent = sum(rec.fund(k, "spent") or 0 for k in sources)
    assert (budget, spent) == (f"{total_budget:.2f}", f"{total_spent:.2f}")
    assert rate == f"{total_spent / total_budget:.2%}"
    # the count is the errors of `check` the sheet can see (findings.SELF_CHECKED)
    result = check_workbook(returned[name])
    assert count == sum(f.severity == ERROR and f.code in SELF_CHECKED for f in result.findings)


# -- 3. a note on every cell with a finding ----------------------------------------------------
@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_a_note_on_every_cell_with_a_finding(lo, returned, name):
    sheet = spec_of(name).sheet
    by_cell: dict[str, list] = {}
    for f in check_workbook(returned[name]).findings:
        if f.cell and f.sheet == sheet and f.severity != INFO:
            by_cell.setdefault(f"{sheet}!{f.cell}", []).append(f)
    notes = lo.infos[name]["notes"]
    assert set(notes) == set(by_cell)
    for cell, fs in by_cell.items():
        for f in fs:
            assert f"{f.code}：{f.message.zh}" in notes[cell], cell
            assert ("错误 " if f.severity == ERROR else "警告 ") + f.code in notes[cell]


def test_notes_of_our_unit(lo):
    notes = lo.infos[OWN]["notes"]
    assert sorted(notes) == ["自评表!H9", "自评表!K19", "自评表!L19", "自评表!L8"]
    assert notes["自评表!L19"] == (
        "错误 E405：指标「城市形象」状态为「未完成」，缺少偏差原因\n"
        "改法：填写偏差原因分析及改进措施\n"
        "（改正后本格的标记自动消失）"
    )
    # the template marks W305 by its own rule: no second mark, and the note says so
    assert notes["自评表!L8"] == (
        "警告 W305：执行率 39.74% 低于 90%，「原因」未填写\n"
        f"改法：{RULES['W305'].fix.zh}\n"
        "（改正后本格的标记自动消失）"
    )


# -- 4. printing -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_prints_on_a4_landscape_review_sheet_first(lo, returned, name):
    pdf = lo.pdfs[name]
    sizes = pdf_pages(pdf)
    # 审核意见, the form (two pages: 20 indicator rows), 填报说明
    assert len(sizes) >= 4
    assert set(sizes) == {(842, 595)}
    # page 1 is the whole 审核意见: its title, verdict, every finding's cell, the contact
    first = pdf_text(pdf, 1)
    verdict, items = listed(returned[name])
    title = spec_of(name).title
    assert first.startswith(f"{title} · 审核意见\n")
    assert verdict in first and CONTACT in first
    assert all(cell in first for _, cell, _ in items)
    # page 2 is the form, with the 自检 LibreOffice computed when printing
    second = pdf_text(pdf, 2)
    assert second.startswith(f"{title}\n")
    assert f"自检：发现 {SHOWN[name][3]} 处问题，见红色标记" in second


# -- 5a. sent back unchanged: the same findings ------------------------------------------------
@pytest.mark.parametrize("which", ["demo", "own"])
def test_returned_unchanged_gives_the_same_findings(rounds, which, tmp_path):
    r = rounds[which]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in r.returned.values():
        shutil.copyfile(path, inbox / path.name)
    again = feedback_round(r.form, r.roster, inbox, tmp_path / "fb")
    assert sorted(again.returned) == sorted(r.returned)
    coll = collect(inbox, roster=r.roster, roster_spec=load_spec(r.form))
    by_project = {
        s.result.record.value("project_name"): [
            (f.code, f.cell, f.message.zh) for f in s.result.findings
        ]
        for s in coll.projects
    }
    listing = {}
    for name, path in r.returned.items():
        verdict, items = listed(path)
        listing[name] = items
        assert sorted(by_project[name]) == sorted(items) == sorted(found(path)), name
        errors = sum(code.startswith("E") for code, _, _ in items)
        warnings = sum(code.startswith("W") for code, _, _ in items)
        assert verdict == f"退回修改：{errors} 个错误，{warnings} 个警告"
        # the second round's review says the same, and lists nothing as corrected
        assert listed(again.returned[name]) == (verdict, items)
        texts = texts_of(again.returned[name])
        assert "原文件中的下列问题已在本表中更正，无需再改，请核对：" not in texts
    if which == "own":
        assert sorted(listing[OWN]) == sorted(OWN_FOUND)
        (listing_file,) = r.outdir.glob(f"*/{RESULTS_NAME}")
        assert results_rows(listing_file) == [
            (
                *(1, "攀枝花市区委宣传部", OWN, "退回修改", 3, 1, f"{OWN}.xlsx"),
                f"攀枝花市区委宣传部/109101_攀枝花市区委宣传部_{OWN}.xlsx",
            )
        ]


# -- 5b. corrected in LibreOffice: passed ------------------------------------------------------
def test_corrected_in_libreoffice_passes(lo, rounds, tmp_path):
    r = rounds["own"]
    # LibreOffice recalculates as the unit types: the 自检 goes from 3 to none
    assert lo.infos[OWN]["values"]["pe_selfcheck"] == ["自检：发现 3 处问题，见红色标记"]
    assert lo.corrected_info["values"] == {
        "pe_fund_total_budget": ["314.56"],
        "pe_fund_total_spent": ["115.00"],
        "pe_exec_rate": ["36.56%"],
        "pe_selfcheck": ["自检：未发现问题"],
    }
    result = check_workbook(lo.corrected)
    assert [(f.code, f.cell, f.message.zh) for f in result.findings] == []
    rec = result.record
    assert rec.fund("fiscal", "spent") == 110
    assert rec.value("exec_reason") == CORRECTIONS["pe_exec_reason"]
    assert [ind.value("score") for ind in rec.indicators] == [20, 20, 10, 15, 10]
    assert rec.indicators[3].value("reason") == CORRECTIONS["pe_ind_reason"][3]
    assert (
        named_cell(openpyxl.load_workbook(lo.corrected, data_only=True), "pe_selfcheck").value == 0
    )
    # sent again: `perfeval-xl feedback` with the roster returns nothing, the project passes
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(lo.corrected, inbox / f"{OWN}.xlsx")
    out = tmp_path / "退回"
    proc = run_cli(
        *("feedback", str(inbox), "-o", str(out), "--roster", str(r.roster)),
        *("--form", OWN_FORM, "--review-date", "2024-05-08", "--quiet"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx"))
    assert written == [f"109101_中共攀枝花市仁和区委宣传部/{RESULTS_NAME}", "未报送.xlsx"]
    (row,) = results_rows(out / f"109101_中共攀枝花市仁和区委宣传部/{RESULTS_NAME}")
    assert row == (1, "攀枝花市区委宣传部", OWN, "通过", 0, 0, f"{OWN}.xlsx", None)
