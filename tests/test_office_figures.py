"""The figures the office signs (issue #14, points 6–10): issued values are authoritative,
received-but-unreadable files are received, superseded files' findings are not live, the
unit's own total stands beside ours, and a lock file is not an unreadable file.

Every input is made as a unit makes it: the office issues pre-filled templates with the
project's generator (`write_roster_templates`, or `build_template` for one file), and the unit
types into them by contract name with openpyxl. Summaries are read back cell by cell."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from badfiles import encrypted, ole
from click.testing import CliRunner
from helpers import INDICATORS, fill, filled, named_cell

from perfeval_xl import build_template, load_spec
from perfeval_xl.cli import cli
from perfeval_xl.office.collect import collect
from perfeval_xl.office.outbox import write_roster_templates
from perfeval_xl.office.summary import department_rows, write_summary

NATIONAL = load_spec("national-2020")
DEPT, DEPT_NAME, UNIT = "109101", "中共攀枝花市仁和区委宣传部", "攀枝花市区委宣传部"
KEY = bytes(range(32))


# -- how the office and the units make files ---------------------------------------------------
def roster(path: Path, rows: list[tuple[str, float]]) -> Path:
    """A national-2020 roster of (project name, 当年财政拨款全年预算数) rows, one department."""
    lines = ["dept_code,dept_name,unit_name,project_name,year,fund_fiscal_budget"]
    lines += [f"{DEPT},{DEPT_NAME},{UNIT},{name},2022,{budget}" for name, budget in rows]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def issue(tmp_path: Path, rows: list[tuple[str, float]]) -> tuple[Path, list[Path]]:
    """The office: a roster and one pre-filled template per row, named as the tool names them."""
    path = roster(tmp_path / "roster.csv", rows)
    return path, write_roster_templates(path, tmp_path / "outbox", NATIONAL)


def unit_fills(
    template: Path | bytes,
    dest: Path,
    values: dict,
    indicators: list[dict] = INDICATORS,
    change=None,
) -> Path:
    """A unit: opens the issued template, types its values by contract name, saves it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(template, bytes):
        stage = dest.with_suffix(".issued.xlsx")
        stage.write_bytes(template)
        template = stage
    wb = openpyxl.load_workbook(template)
    fill(wb, values, indicators)
    if change is not None:
        change(wb)
    wb.save(dest)
    if template.name.endswith(".issued.xlsx"):
        template.unlink()
    return dest


def types_over_budget(amount: float):
    """The unit removes the sheet protection and types over the office's 全年预算数."""

    def change(wb):
        wb["自评表"].protection.sheet = False
        named_cell(wb, "pe_fund_fiscal_budget").value = amount

    return change


def rows_of(path: Path, sheet: str, header_row: int = 1, *, data_only: bool = False) -> list:
    """A summary sheet's rows as dicts by header, read back with openpyxl."""
    ws = openpyxl.load_workbook(path, data_only=data_only)[sheet]
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:] if any(v is not None for v in r)]


def run(*args: str):
    return CliRunner().invoke(cli, ["--lang", "en", *args])


#: 媒体报道 9 of 12 times: 15 of its 20 points (部分完成, with a reason); the rest full marks,
#: so the indicators give 85 of 90.
PARTLY = [dict(r) for r in INDICATORS]
PARTLY[0].update(actual="9次", status="部分完成", score=15, reason="两家媒体合作延期")


# -- 6. the issued values are authoritative ----------------------------------------------------
@pytest.fixture
def changed_budget(tmp_path):
    """Two projects issued at 100 and 300 万元; the first unit typed its budget over as 320.

    On the issued budget the first project spent 80 of 100: 执行率 80 %, 8 points, 85 + 8 = 93
    (优). On the unit's 320 it would be 25 %, 2.5 points, 87.5 (良): what its sheet shows."""
    roster_path, (media, city) = issue(tmp_path, [("媒体合作", 100), ("文明城市", 300)])
    inbox = tmp_path / "inbox"
    unit_fills(
        media,
        inbox / media.name,
        {"fund_fiscal_spent": 80, "goal_actual": "大部分完成"},
        PARTLY,
        types_over_budget(320),
    )
    unit_fills(city, inbox / city.name, {"fund_fiscal_spent": 300, "goal_actual": "完成"})
    return roster_path, inbox


def test_roster_budget_replaces_the_units_in_every_figure(changed_budget, tmp_path):
    roster_path, inbox = changed_budget
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = run(
        "collect", str(inbox), "-o", str(out), "--roster", str(roster_path), "--json", str(js)
    )
    assert result.exit_code == 1, result.output  # E603 is an error
    dept, total = rows_of(out, "部门汇总", 3)
    assert (dept["主管部门代码"], total["主管部门代码"]) == (DEPT, "合计")
    assert dept["预算数（万元）"] == 400  # 100 + 300, not 320 + 300
    assert dept["执行数（万元）"] == 380
    assert dept["执行率"] == pytest.approx(0.95)
    assert dept["平均分"] == pytest.approx((93 + 100) / 2)
    assert dept["资金加权平均分"] == pytest.approx((93 * 100 + 100 * 300) / 400)
    assert (dept["优"], dept["良"]) == (2, 0)

    projects = {r["项目名称"]: r for r in rows_of(out, "项目明细")}
    row = projects["媒体合作"]
    assert row["当年财政拨款 预算数"] == 100 and row["预算数合计"] == 100
    assert row["执行率"] == pytest.approx(0.8)
    assert row["执行率得分"] == 8
    assert row["核定总分"] == 93 and row["等级"] == "优（核定）"
    assert row["自评总分"] == 87.5  # what the unit's own sheet adds up to, on its 320
    assert row["单位填报值"] == "当年财政拨款全年预算数：320.00"
    assert projects["文明城市"]["单位填报值"] is None

    doc = json.loads(js.read_text("utf-8"))
    (jdept,) = doc["departments"]
    assert (jdept["budget"], jdept["spent"]) == (400, 380)
    assert jdept["weighted_score"] == pytest.approx(98.25)
    entry = next(
        f for f in doc["files"] if f["source"] == "109101_攀枝花市区委宣传部_媒体合作.xlsx"
    )
    assert entry["issued_values"] == {"fund_fiscal_budget": {"issued": 100.0, "unit": 320.0}}
    assert entry["score_on_issued_values"]["score"] == 93
    assert entry["score_on_issued_values"]["exec_score"] == 8
    assert entry["project"]["fund_total_budget"] == 320  # the file as it was sent


def test_changed_issued_amounts_are_shown_as_amounts(changed_budget, tmp_path):
    """E603 (and E703 below) show both amounts as amounts are shown everywhere: 320.00."""
    roster_path, inbox = changed_budget
    coll = collect(inbox, roster=roster_path, roster_spec=NATIONAL, workers=1)
    media = next(s for s in coll.projects if s.key == (DEPT, "媒体合作"))
    (e603,) = [f for f in media.result.findings if f.code == "E603"]
    assert e603.message.render("zh") == (
        "与名册不符：名册为「100.00」，文件中为「320.00」；汇总按名册计"
    )
    assert e603.message.render("en") == (
        "differs from the roster: roster '100.00', file '320.00'; the summary counts the roster's"
    )


def test_signed_budget_replaces_the_units_without_a_roster(tmp_path):
    """Under --key the signature says what was issued: the summary counts that, and E703 shows
    both amounts as amounts."""
    issued = {"dept_code": DEPT, "unit_name": UNIT, "project_name": "媒体合作"}
    issued["fund_fiscal_budget"] = 100.0
    template = build_template(NATIONAL, issued, key=KEY)
    inbox = tmp_path / "inbox"
    unit_fills(
        template,
        inbox / "媒体合作.xlsx",
        {"fund_fiscal_spent": 80, "goal_actual": "大部分完成"},
        PARTLY,
        types_over_budget(320),
    )
    coll = collect(inbox, key=KEY, workers=1)
    (dept,) = department_rows(coll)
    assert (dept.budget, dept.spent, dept.rate) == (100, 80, pytest.approx(0.8))
    assert dept.mean_score == 93 and dept.grades["优"] == 1
    out = write_summary(coll, tmp_path / "汇总.xlsx")
    dept_row, _ = rows_of(out, "部门汇总", 3)
    assert (dept_row["预算数（万元）"], dept_row["执行率"], dept_row["平均分"]) == (100, 0.8, 93)
    (row,) = rows_of(out, "项目明细")
    assert (row["预算数合计"], row["执行率得分"], row["核定总分"]) == (100, 8, 93)
    assert row["单位填报值"] == "当年财政拨款全年预算数：320.00"
    (sub,) = coll.projects
    (e703,) = [f for f in sub.result.findings if f.code == "E703"]
    assert e703.message.render("zh") == (
        "财政部门下发的「当年财政拨款全年预算数」被改动：下发时为「100.00」，现为「320.00」"
    )


# -- 7. received but unreadable is received ----------------------------------------------------
def test_a_file_named_for_a_roster_row_is_received_even_if_unreadable(tmp_path):
    rows = [
        ("媒体合作", 100),
        ("旧格式项目", 50),  # saved as .xls
        ("加密项目", 50),  # encrypted, sent inside a .zip attachment
        ("项目/四", 50),  # "/" and ":" both become "_": the template of 项目:四 is …_2.xlsx
        ("项目:四", 50),
        ("没交的项目", 50),
        ("下载项目", 50),  # an empty file, downloaded twice: the browser added " (1)"
    ]
    roster_path, templates = issue(tmp_path, rows)
    names = [p.name for p in templates]
    assert names[3:5] == [
        "109101_攀枝花市区委宣传部_项目_四.xlsx",
        "109101_攀枝花市区委宣传部_项目_四_2.xlsx",
    ]
    inbox = tmp_path / "inbox"
    unit_fills(templates[0], inbox / names[0], {"fund_fiscal_spent": 95})
    (inbox / names[1].replace(".xlsx", ".xls")).write_bytes(ole("Root Entry", "Workbook"))
    locked = unit_fills(templates[2], tmp_path / "stage" / names[2], {"fund_fiscal_spent": 40})
    with zipfile.ZipFile(inbox / "附件.zip", "w") as z:
        z.writestr(f"单位C/{names[2]}", encrypted(locked.read_bytes()))
    (inbox / names[4]).write_bytes(templates[4].read_bytes()[:2000])  # cut off: corrupt
    (inbox / names[6].replace(".xlsx", " (1).xlsx")).write_bytes(b"")

    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = run(
        "collect", str(inbox), "-o", str(out), "--roster", str(roster_path), "--json", str(js)
    )
    assert result.output.splitlines()[0].endswith("; 2 projects not received"), result.output
    got = [(r["名册行号"], r["状态"], r["来源文件"]) for r in rows_of(out, "报送情况")]
    assert got == [
        (2, "已收到", names[0]),
        (3, "已收到（无法读取）", names[1].replace(".xlsx", ".xls")),
        (4, "已收到（无法读取）", f"附件.zip/单位C/{names[2]}"),
        (5, "未收到", None),
        (6, "已收到（无法读取）", names[4]),
        (7, "未收到", None),
        (8, "已收到（无法读取）", names[6].replace(".xlsx", " (1).xlsx")),
    ]
    doc = json.loads(js.read_text("utf-8"))
    assert [(r["received"], r["status"]) for r in doc["roster"]] == [
        (True, "received"),
        (True, "unreadable"),
        (True, "unreadable"),
        (False, "missing"),
        (True, "unreadable"),
        (False, "missing"),
        (True, "unreadable"),
    ]
    assert doc["totals"]["missing"] == 2
    w604 = [f["message"] for f in doc["findings"] if f["code"] == "W604"]
    assert len(w604) == 2 and "项目/四" in w604[0] and "没交的项目" in w604[1]
    assert "未收到 2 项" in openpyxl.load_workbook(out)["部门汇总"]["A2"].value


# -- 8. a superseded file's findings are not live ----------------------------------------------
def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def mixed(tmp_path):
    """An old version with two errors (spent over budget: E301 on the total and the source row)
    superseded by a clean newer one, another project with the same two errors, an empty file
    (E001), a lock file (W009), litter (W605) and a roster row nobody sent (W604).
    Live: 3 errors, 3 warnings; the superseded file's E301 ×2 and W601 count nowhere."""
    roster_path, (media, second, _) = issue(
        tmp_path, [("媒体合作", 100), ("项目二", 100), ("没交的项目", 50)]
    )
    inbox = tmp_path / "inbox"
    old = unit_fills(media, inbox / "旧" / media.name, {"fund_fiscal_spent": 120})
    _age(old, 3600)
    unit_fills(media, inbox / "新" / media.name, {"fund_fiscal_spent": 95})
    unit_fills(second, inbox / second.name, {"fund_fiscal_spent": 120})
    (inbox / "坏.xlsx").write_bytes(b"")
    (inbox / "~$坏.xlsx").write_bytes(b"\x0cZhang San".ljust(165, b" "))
    (inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4\n")
    return roster_path, inbox


def test_superseded_findings_are_kept_marked_and_never_counted(mixed, tmp_path):
    roster_path, inbox = mixed
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = run(
        "collect", str(inbox), "-o", str(out), "--roster", str(roster_path), "--json", str(js)
    )
    terminal = result.output.splitlines()[0]
    assert terminal == (
        "2 projects read, 1 files unreadable; 3 errors, 3 warnings; 1 projects not received"
    )
    doc = json.loads(js.read_text("utf-8"))
    totals = doc["totals"]
    header = openpyxl.load_workbook(out)["部门汇总"]["A2"].value
    departments = rows_of(out, "部门汇总", 3, data_only=True)
    total_row = next(r for r in departments if r["主管部门代码"] == "合计")
    # header = 合计 row = JSON totals = the terminal line
    assert f"错误 {totals['errors']} 处，警告 {totals['warnings']} 处" in header
    assert (total_row["错误"], total_row["警告"]) == (totals["errors"], totals["warnings"])
    assert (totals["errors"], totals["warnings"]) == (3, 3)
    # the 合计 row adds up the rows above it: the department, and what belongs to none
    body = [r for r in departments if r["主管部门代码"] != "合计"]
    assert [(r["主管部门代码"], r["项目数"], r["错误"], r["警告"]) for r in body] == [
        (DEPT, 2, 2, 0),  # 项目二's E301 ×2; the newer 媒体合作 is clean
        ("—", None, 1, 3),  # E001; W009, W605, W604
    ]
    assert sum(r["errors"] for r in doc["departments"]) + doc["other"]["errors"] == 3
    assert sum(r["warnings"] for r in doc["departments"]) + doc["other"]["warnings"] == 3

    findings = rows_of(out, "问题清单")
    old = [r for r in findings if r["文件"].startswith("旧/")]
    assert sorted(r["代码"] for r in old) == ["E301", "E301", "W601"]
    assert {r["状态"] for r in old} == {"已被取代"}
    assert {r["状态"] for r in findings if not r["文件"].startswith("旧/")} == {"有效"}
    entries = {e["source"]: e for e in doc["files"]}
    assert entries[f"旧/{old[0]['文件'].split('/', 1)[1]}"]["superseded"] is True
    assert entries[f"新/{old[0]['文件'].split('/', 1)[1]}"]["superseded"] is False


# -- 9. the unit's own total next to ours ------------------------------------------------------
def _check(path: Path, lang: str = "zh") -> tuple[str, dict]:
    text = CliRunner().invoke(cli, ["--lang", lang, "check", str(path)]).output.splitlines()[0]
    doc = json.loads(CliRunner().invoke(cli, ["check", "--format", "json", str(path)]).output)
    return text, doc["files"][0]["project"]


def _own_score_of_20(tmp_path: Path, name: str, **over) -> Path:
    """媒体报道 9 of 12 times, yet scored 20 of 20 by the unit (E505): ours 15."""
    rows = [dict(r) for r in INDICATORS]
    rows[0].update(actual="9次", reason="两家媒体合作延期")
    folder = tmp_path / name
    folder.mkdir()
    return filled(folder, indicators=rows, project_name=name, **over)


def test_check_shows_the_units_total_beside_ours(tmp_path):
    # the unit's sheet: 90 reported + 9.5 for 95 of 100 spent = 99.5; ours 85 + 9.5 = 94.5
    path = _own_score_of_20(tmp_path, "自评偏高")
    text, project = _check(path)
    assert (
        text == f"{path}  （national-2020，5 个指标，自评总分 99.50，核定总分 94.50，优（核定））"
    )
    en, _ = _check(path, "en")
    assert en == (
        f"{path}  (national-2020, 5 indicators, own total 99.50, checked total 94.50, 优 (checked))"
    )
    assert (project["score_reported"], project["score"]) == (99.5, 94.5)


def test_a_typed_over_total_is_the_units_own_total(tmp_path):
    path = _own_score_of_20(
        tmp_path,
        "总分改写",
        change=lambda wb: setattr(named_cell(wb, "pe_total_score"), "value", 100),
    )
    text, project = _check(path)
    assert "自评总分 100.00，核定总分 94.50，优（核定）" in text
    assert project["score_reported"] == 100


def test_an_incomplete_score_is_never_a_bare_total_and_grade(tmp_path):
    """A word where a number is due cannot be scored: ours is incomplete and says so, beside
    the unit's own figure; no grade is given for a part of a score."""
    rows = [dict(r) for r in INDICATORS]
    rows[0]["actual"] = "已完成"  # for ≥12次: W411, not scored
    path = filled(tmp_path, indicators=rows)
    text, project = _check(path)
    assert text == (
        f"{path}  （national-2020，5 个指标，自评总分 99.50，核定总分不完整（1 个指标无法计分））"
    )
    assert (project["score_reported"], project["score_complete"]) == (99.5, False)
    # no 分值 at all: only the execution score could be counted (9.50), never "9.50 差"
    bare = [{k: v for k, v in r.items() if k not in ("weight", "score")} for r in INDICATORS]
    folder = tmp_path / "无分值"
    folder.mkdir()
    text, project = _check(filled(folder, indicators=bare))
    assert text.endswith("（national-2020，5 个指标，核定总分不完整（5 个指标无法计分））")
    assert project["score_reported"] is None and project["score_complete"] is False


def test_project_rows_show_both_totals_and_whose_grade(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _own_score_of_20(inbox, "自评偏高")
    rows = [dict(r) for r in INDICATORS]
    rows[0]["actual"] = "已完成"
    (inbox / "不完整").mkdir()
    filled(inbox / "不完整", indicators=rows, project_name="不完整")
    (inbox / "计算").mkdir()
    filled(inbox / "计算", "sichuan-2022", project_name="计算")
    coll = collect(inbox, workers=1)
    out = write_summary(coll, tmp_path / "汇总.xlsx")
    got = {
        r["项目名称"]: (r["自评总分"], r["核定总分"], r["等级"], r["计分方式"])
        for r in rows_of(out, "项目明细")
    }
    assert got["自评偏高"] == (99.5, 94.5, "优（核定）", "自评核验")
    assert got["不完整"] == (99.5, None, "不完整", "自评核验（不完整）")
    assert got["计算"] == (None, pytest.approx(99.5, abs=0.02), "优（核定）", "工具计算")
    (dept,) = [r for r in rows_of(out, "部门汇总", 3) if r["主管部门代码"] == DEPT]
    # the incomplete project counts as 不完整, not as a grade, and not in the means
    assert (dept["优"], dept["不完整"]) == (2, 1)
    assert dept["平均分"] == pytest.approx((94.5 + got["计算"][1]) / 2)


# -- 10. a lock file is not an unreadable file -------------------------------------------------
def test_a_lock_file_is_noted_but_not_counted_unreadable(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    filled(inbox)
    (inbox / "~$national-2020.xlsx").write_bytes(b"\x0cZhang San".ljust(165, b" "))
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = run("collect", str(inbox), "-o", str(out), "--json", str(js))
    assert (
        result.output.splitlines()[0] == "1 projects read, 0 files unreadable; 0 errors, 1 warnings"
    )
    doc = json.loads(js.read_text("utf-8"))
    assert doc["totals"]["unreadable"] == 0
    assert "无法读取 0 个" in openpyxl.load_workbook(out)["部门汇总"]["A2"].value
    assert [(r["文件"], r["代码"]) for r in rows_of(out, "问题清单")] == [
        ("~$national-2020.xlsx", "W009")
    ]
