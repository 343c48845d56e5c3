"""Feedback to units: the returned workbooks, each department's 审核结果 and .zip, the 催报 list,
and the folder they go to (stale files, determinism, the inbox left alone). LibreOffice opening,
printing and correcting the returned workbooks: tests/test_feedback_office.py."""

from __future__ import annotations

import datetime
import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from helpers import INDICATORS, digests, named_cell, results_rows, review_findings, run_cli, staged

from perfeval_xl import load_spec, write_feedback
from perfeval_xl.intake.read import read_workbook, read_workbook_bytes
from perfeval_xl.office.collect import collect
from perfeval_xl.office.feedback import (
    MANIFEST,
    MISSING_NAME,
    RESULTS_NAME,
    REVIEW_SHEET,
)
from perfeval_xl.review.checks import check_read, check_workbook

DAY = datetime.date(2023, 3, 1)
DEPT = "109101_中共攀枝花市仁和区委宣传部"
UNIT = "攀枝花市区委宣传部"
ROSTER = (
    "dept_code,dept_name,unit_name,project_name,year,fund_fiscal_budget,联系人,联系电话\n"
    f"109101,中共攀枝花市仁和区委宣传部,{UNIT},干净项目,2022,100,,\n"
    f"109101,中共攀枝花市仁和区委宣传部,{UNIT},超支项目,2022,100,,\n"
    f"109101,中共攀枝花市仁和区委宣传部,{UNIT},缺原因项目,2022,100,,\n"
    f"109101,中共攀枝花市仁和区委宣传部,{UNIT},坏文件项目,2022,100,,\n"
    "109101,中共攀枝花市仁和区委宣传部,仁和区文联,没交的项目,2022,50,李四,13800000000\n"
    "109102,仁和区文联,仁和区文联,文艺创作扶持,2022,30,王五,0812-1234567\n"
)
UNDONE = [
    dict(INDICATORS[0], status="未完成", actual="10次", score=16.67),
    *INDICATORS[1:],
]


def _header(project: str) -> dict:
    return {
        "project_name": project,
        "dept_code": "109101",
        "dept_name": "中共攀枝花市仁和区委宣传部",
        "unit_name": UNIT,
    }


@pytest.fixture
def office_files(tmp_path) -> tuple[Path, Path]:
    """An inbox (a clean project, one spending above its budget, one with a 未完成 indicator
    without a reason, one unreadable file named as its template) and its roster."""
    box = tmp_path / "inbox"
    staged(box / "a.xlsx", **_header("干净项目"))
    staged(box / "b.xlsx", fund_fiscal_spent=120, **_header("超支项目"))
    staged(box / "c.xlsx", indicators=UNDONE, **_header("缺原因项目"))
    (box / f"109101_{UNIT}_坏文件项目.xlsx").write_bytes(b"not a workbook")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    return box, roster


def _run(box: Path, roster: Path | None, out: Path, **kw):
    spec = load_spec("national-2020")
    coll = collect(box, roster=roster, roster_spec=spec, workers=1)
    return write_feedback(
        coll, out, roster_spec=spec, contact="绩效股 张三 0812-0000000", review_date=DAY, **kw
    )


def _review_rows(path: Path) -> list[tuple]:
    """The findings listed on a returned workbook's 审核意见 sheet: (类别, 位置 or "", 问题)."""
    return [(kind, cell or "", message) for kind, cell, message in review_findings(path)]


def _findings(path: Path) -> list[tuple]:
    result = check_workbook(path)
    return sorted(
        (f"{'错误' if f.severity == 'error' else '警告'} {f.code}", f.cell or "", f.message.zh)
        for f in result.findings
        if f.severity != "info"
    )


def test_folder_layout_zip_and_lists(office_files, tmp_path):
    box, roster = office_files
    before = digests(box)
    result = _run(box, roster, tmp_path / "退回")
    out = tmp_path / "退回"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            MANIFEST,
            MISSING_NAME,
            f"{DEPT}.zip",
            f"{DEPT}/{RESULTS_NAME}",
            f"{DEPT}/{UNIT}/109101_{UNIT}_超支项目.xlsx",
            f"{DEPT}/{UNIT}/109101_{UNIT}_缺原因项目.xlsx",
            f"{DEPT}/{UNIT}/109101_{UNIT}_坏文件项目.xlsx",
            "109102_仁和区文联.zip",
            f"109102_仁和区文联/{RESULTS_NAME}",
        ]
    )
    assert (result.returned, result.returned_blank, result.passed, result.missing) == (2, 1, 1, 2)
    assert digests(box) == before  # nothing in the inbox changed
    with zipfile.ZipFile(out / f"{DEPT}.zip") as z:
        assert sorted(z.namelist()) == [
            RESULTS_NAME,
            f"{UNIT}/109101_{UNIT}_坏文件项目.xlsx",
            f"{UNIT}/109101_{UNIT}_缺原因项目.xlsx",
            f"{UNIT}/109101_{UNIT}_超支项目.xlsx",
        ]
        for name in z.namelist():
            assert z.read(name) == (out / DEPT / name).read_bytes()
    assert [list(r) for r in results_rows(out / DEPT / RESULTS_NAME)] == [
        [
            1,
            UNIT,
            "缺原因项目",
            "退回修改",
            1,
            0,
            "c.xlsx",
            f"{UNIT}/109101_{UNIT}_缺原因项目.xlsx",
        ],
        [2, UNIT, "超支项目", "退回修改", 2, 0, "b.xlsx", f"{UNIT}/109101_{UNIT}_超支项目.xlsx"],
        [
            3,
            UNIT,
            "坏文件项目",
            "无法读取",
            1,
            0,
            f"109101_{UNIT}_坏文件项目.xlsx",
            f"{UNIT}/109101_{UNIT}_坏文件项目.xlsx",
        ],
        [4, "仁和区文联", "没交的项目", "未收到", 0, 0, None, None],
        [5, UNIT, "干净项目", "通过", 0, 0, "a.xlsx", None],
    ]
    missing = openpyxl.load_workbook(out / MISSING_NAME).active
    rows = [[c.value for c in row] for row in missing.iter_rows(min_row=4)]
    assert rows == [
        ["序号", "主管部门代码", "主管部门", "实施单位", "项目名称", "联系人", "联系电话"],
        [
            1,
            "109101",
            "中共攀枝花市仁和区委宣传部",
            "仁和区文联",
            "没交的项目",
            "李四",
            "13800000000",
        ],
        [2, "109102", "仁和区文联", "仁和区文联", "文艺创作扶持", "王五", "0812-1234567"],
    ]


def test_returned_workbook_is_the_units_form_marked(office_files, tmp_path):
    box, roster = office_files
    _run(box, roster, tmp_path / "退回")
    path = tmp_path / "退回" / DEPT / UNIT / f"109101_{UNIT}_超支项目.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == REVIEW_SHEET and wb.active.title == REVIEW_SHEET
    form = wb[load_spec("national-2020").sheet]
    spent = named_cell(wb, "pe_fund_fiscal_spent")
    assert spent.value == 120 and spent.protection.locked is False  # the unit's, to correct
    name = named_cell(wb, "pe_project_name")
    assert name.value == "超支项目" and name.protection.locked  # issued by the roster
    assert named_cell(wb, "pe_ind_name").value == "媒体报道"
    assert form.protection.sheet and wb.security.lockStructure
    # the note says what and how, on the cell the finding names
    total, (kind, cell, message) = _review_rows(path)
    assert total == ("错误 E301", "G8", "年度资金总额：全年执行数 120.00 超过全年预算数 100.00")
    assert (kind, cell) == ("错误 E301", spent.coordinate)
    assert message == "当年财政拨款：全年执行数 120.00 超过全年预算数 100.00"
    note = form[cell].comment.text
    assert "错误 E301" in note and message in note and "改法：" in note
    # the review sheet's head and what to do next
    review = wb[REVIEW_SHEET]
    texts = {c.value for row in review.iter_rows() for c in row if c.value}
    assert {"超支项目", "109101 中共攀枝花市仁和区委宣传部", UNIT, "b.xlsx", "2023-03-01"} <= texts
    assert "绩效股 张三 0812-0000000" in texts
    assert any(str(t).startswith("改正后直接保存本文件") for t in texts)
    links = [c.hyperlink.location for row in review.iter_rows() for c in row if c.hyperlink]
    assert links == ["'自评表'!G8", f"'自评表'!{cell}"]


def test_resubmitted_unchanged_gives_what_the_review_lists(office_files, tmp_path):
    box, roster = office_files
    _run(box, roster, tmp_path / "退回")
    returned = sorted((tmp_path / "退回" / DEPT / UNIT).glob("*.xlsx"))
    assert len(returned) == 3
    for path in returned:
        if "坏文件" in path.name:
            continue
        assert _findings(path) == sorted(_review_rows(path))
    # collected again as the next submission: the same findings, on the same cells
    again = tmp_path / "again"
    again.mkdir()
    for path in returned:
        if "坏文件" not in path.name:
            shutil.copy(path, again / path.name)
    coll = collect(again, roster=roster, roster_spec=load_spec("national-2020"), workers=1)
    got = sorted((f.code, f.cell) for s in coll.projects for f in s.result.findings)
    assert got == [("E301", "G8"), ("E301", "G9"), ("E405", "J15")]


def test_unreadable_file_gets_the_blank_prefilled_template(office_files, tmp_path):
    box, roster = office_files
    _run(box, roster, tmp_path / "退回")
    path = tmp_path / "退回" / DEPT / UNIT / f"109101_{UNIT}_坏文件项目.xlsx"
    wb = openpyxl.load_workbook(path)
    assert named_cell(wb, "pe_project_name").value == "坏文件项目"
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 100
    assert named_cell(wb, "pe_fund_fiscal_spent").value is None
    texts = {c.value for row in wb[REVIEW_SHEET].iter_rows() for c in row if c.value}
    why = next(t for t in texts if str(t).startswith("报送的文件「"))
    assert f"109101_{UNIT}_坏文件项目.xlsx" in why and "无法读取" in why


def test_same_inputs_same_bytes(office_files, tmp_path):
    box, roster = office_files
    _run(box, roster, tmp_path / "one")
    _run(box, roster, tmp_path / "two")
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*.*")}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*.*")}
    assert one.keys() == two.keys() and len(one) == 9
    assert one == two


def test_a_second_run_removes_what_it_no_longer_writes_and_nothing_else(office_files, tmp_path):
    box, roster = office_files
    out = tmp_path / "退回"
    _run(box, roster, out)
    mine = out / "说明.txt"
    mine.write_text("the clerk's own file", encoding="utf-8")
    # b.xlsx is corrected, and someone edits c's returned workbook before the second run
    staged(tmp_path / "fixed" / "b.xlsx", **_header("超支项目"))
    shutil.copy(tmp_path / "fixed" / "b.xlsx", box / "b.xlsx")
    edited = out / DEPT / UNIT / f"109101_{UNIT}_缺原因项目.xlsx"
    (box / "c.xlsx").unlink()
    edited.write_bytes(edited.read_bytes() + b"")  # unchanged bytes: still ours
    result = _run(box, roster, out)
    gone = out / DEPT / UNIT / f"109101_{UNIT}_超支项目.xlsx"
    assert not gone.exists() and gone in result.removed
    assert not edited.exists() and edited in result.removed
    assert len(result.removed) == 2 and result.kept == []
    assert mine.read_text(encoding="utf-8") == "the clerk's own file"
    # a returned workbook changed since it was written is kept, and said so
    _run(box, roster, out)
    blank = out / DEPT / UNIT / f"109101_{UNIT}_坏文件项目.xlsx"
    blank.write_bytes(blank.read_bytes() + b"\0")
    (box / f"109101_{UNIT}_坏文件项目.xlsx").unlink()
    result = _run(box, roster, out)
    assert blank.exists() and result.kept == [blank] and result.removed == []


def test_unit_text_stays_text(tmp_path):
    box = tmp_path / "inbox"
    staged(
        box / "x.xlsx",
        fund_fiscal_spent=120,
        goal_actual='=HYPERLINK("http://x","点我")',
        **_header("公式项目"),
    )
    _run(box, None, tmp_path / "退回")
    [path] = (tmp_path / "退回" / DEPT / UNIT).glob("*.xlsx")
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    assert "HYPERLINK" not in sheet  # not a formula: a shared string
    wb = openpyxl.load_workbook(path)
    assert named_cell(wb, "pe_goal_actual").value == '=HYPERLINK("http://x","点我")'
    assert named_cell(wb, "pe_goal_actual").data_type == "s"


def test_without_roster_nothing_is_issued_and_no_missing_list(office_files, tmp_path):
    box, _ = office_files
    result = _run(box, None, tmp_path / "退回")
    assert result.missing_list is None and not (tmp_path / "退回" / MISSING_NAME).exists()
    assert result.unattributed == [f"109101_{UNIT}_坏文件项目.xlsx"]
    path = tmp_path / "退回" / DEPT / UNIT / "109101_攀枝花市区委宣传部_超支项目.xlsx"
    name = named_cell(openpyxl.load_workbook(path), "pe_project_name")
    assert name.value == "超支项目" and name.protection.locked is False


def test_changed_issued_value_is_put_back_and_listed_as_corrected(office_files, tmp_path):
    box, roster = office_files
    (box / "b.xlsx").unlink()
    staged(box / "b.xlsx", fund_fiscal_spent=120, fund_fiscal_budget=110, **_header("超支项目"))
    _run(box, roster, tmp_path / "退回")
    path = tmp_path / "退回" / DEPT / UNIT / f"109101_{UNIT}_超支项目.xlsx"
    wb = openpyxl.load_workbook(path)
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 100  # the roster's
    rows = [[c.value for c in row] for row in wb[REVIEW_SHEET].iter_rows()]
    fixed = rows[next(i for i, r in enumerate(rows) if r[2] == "原位置") + 1]
    assert fixed[1] == "错误 E603" and fixed[4] == "已按名册恢复财政部门预填的内容"
    assert [r[:2] for r in _review_rows(path)] == [("错误 E301", "G8"), ("错误 E301", "G9")]


def test_signed_workbook_is_signed_again(tmp_path):
    from perfeval_xl.sign import load_key
    from perfeval_xl.template.generate import build_template

    key = load_key(tmp_path / "office.key", create=True)
    spec = load_spec("national-2020")
    wb = openpyxl.load_workbook(io.BytesIO(build_template(spec, _header("签名项目"), key=key)))
    from helpers import FUNDS, HEADER, fill

    fill(wb, {**HEADER, **FUNDS, **_header("签名项目"), "fund_fiscal_spent": 120}, INDICATORS)
    box = tmp_path / "inbox"
    box.mkdir()
    wb.save(box / "s.xlsx")
    coll = collect(box, key=key, workers=1)
    assert [f.code for f in coll.projects[0].result.findings] == ["E301", "E301"]
    write_feedback(coll, tmp_path / "退回", key=key, review_date=DAY)
    [path] = (tmp_path / "退回" / DEPT / UNIT).glob("*.xlsx")
    result = check_read(read_workbook(path), key=key)
    assert [f.code for f in result.findings] == ["E301", "E301"]  # signature valid: no E70x
    assert named_cell(openpyxl.load_workbook(path), "pe_project_name").protection.locked


def test_our_lists_in_an_inbox_are_not_submissions(office_files, tmp_path):
    box, roster = office_files
    _run(box, roster, tmp_path / "退回")
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(tmp_path / "退回" / DEPT / RESULTS_NAME, drop / RESULTS_NAME)
    shutil.copy(tmp_path / "退回" / MISSING_NAME, drop / MISSING_NAME)
    coll = collect(drop, workers=1)
    assert sorted(f.code for f in coll.all_findings()) == ["W608", "W608"]
    assert coll.unreadable == []


def test_fast_and_thorough_reader_agree_on_a_returned_workbook(office_files, tmp_path):
    box, roster = office_files
    _run(box, roster, tmp_path / "退回")
    for path in (tmp_path / "退回" / DEPT / UNIT).glob("*.xlsx"):
        data = path.read_bytes()
        fast = read_workbook_bytes(path.name, data, fast=True)
        slow = read_workbook_bytes(path.name, data, fast=False)
        assert fast.findings == slow.findings
        assert fast.record.project() == slow.record.project()


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # cut short
        lambda b: b.replace(b"<authors>", b"<x>").replace(b"</authors>", b"</x>"),
        lambda b: b.replace(b"<commentList>", b"<commentList><!DOCTYPE x>"),
    ],
)
def test_damaged_notes_read_alike_on_both_paths(office_files, tmp_path, damage):
    # the fast reader skips nothing openpyxl parses: notes it cannot read, neither can the other
    from helpers import with_parts

    box, roster = office_files
    _run(box, roster, tmp_path / "退回")
    path = tmp_path / "退回" / DEPT / UNIT / f"109101_{UNIT}_超支项目.xlsx"
    data = with_parts(path.read_bytes(), {"xl/comments1.xml": damage})
    fast = read_workbook_bytes(path.name, data, fast=True)
    slow = read_workbook_bytes(path.name, data, fast=False)
    assert fast.findings == slow.findings
    assert [f.code for f in slow.findings][:1] in (["E001"], ["E006"])
    assert fast.record is None and slow.record is None


def test_cli_collect_feedback_tells_what_to_send_to_whom(office_files, tmp_path):
    box, roster = office_files
    run = run_cli(
        "collect",
        str(box),
        "-o",
        str(tmp_path / "汇总.xlsx"),
        "--roster",
        str(roster),
        "--feedback",
        str(tmp_path / "退回"),
        "--review-date",
        "2023-03-01",
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr  # the inbox has errors
    out = run.stdout
    assert (
        f"退回修改 2 个项目，通过 1 个，无法读取 1 个（退回空白预填模板）；写入 {tmp_path / '退回'}"
        in out
    )
    assert (
        f"  发给 {DEPT}：{tmp_path / '退回' / (DEPT + '.zip')}（3 个退回工作簿和 审核结果.xlsx）"
        in out
    )
    assert f"催报清单：{tmp_path / '退回' / MISSING_NAME}（2 个项目未收到）" in out
    again = run_cli(
        "feedback", str(box), "-o", str(tmp_path / "退回"), "--lang", "en", cwd=tmp_path
    )
    assert again.returncode == 1, again.stderr
    assert "2 projects returned for correction, 1 passed; written to" in again.stdout
    # without the roster: no blank template, no 催报 list, no 109102 (only the roster knew it)
    assert "removed 4 files of the last run that are no longer needed" in again.stdout


@pytest.mark.parametrize("where", ["inside", "same", "parent", "file"])
def test_feedback_folder_must_keep_apart_from_the_inbox(office_files, tmp_path, where):
    box, _ = office_files
    target = {
        "inside": box / "退回",
        "same": box,
        "parent": tmp_path,
        "file": box / "a.xlsx",
    }[where]
    before = digests(box)
    run = run_cli("feedback", str(box), "-o", str(target), cwd=tmp_path)
    if where == "file":  # click's own check of the option
        assert run.returncode == 2 and "是文件，不是文件夹" in run.stderr
    else:
        assert run.returncode == 1
        assert run.stderr.startswith(f"错误: {target}: ")
    assert "Traceback" not in run.stderr
    assert digests(box) == before


def test_bad_review_date_is_a_usage_error(office_files, tmp_path):
    box, _ = office_files
    run = run_cli("feedback", str(box), "--review-date", "3/1/2023", cwd=tmp_path)
    assert run.returncode == 2 and "日期须写成 2023-03-01 的形式" in run.stderr


def test_a_department_form_goes_back_to_its_department(tmp_path):
    from perfeval_xl.template.generate import build_template

    spec = load_spec("department-2023")
    issued = {"dept_name": "寿县某局", "dept_code": "341521101", "year": 2023}
    wb = openpyxl.load_workbook(io.BytesIO(build_template(spec, issued)))
    scores = [x.weight for x in spec.items]
    scores[5] = 5.2  # below its 分值 6, and no 扣分原因: E508
    fill_rows = named_cell(wb, "pe_ind_score")
    for i, score in enumerate(scores):
        fill_rows.offset(row=i).value = score
    box = tmp_path / "inbox"
    box.mkdir()
    wb.save(box / "dept.xlsx")
    coll = collect(box, workers=1)
    assert [(f.code, f.cell) for f in coll.departments[0].result.findings] == [("E508", "I11")]
    result = write_feedback(coll, tmp_path / "退回", review_date=DAY)
    assert result.returned == 1
    path = tmp_path / "退回" / "341521101_寿县某局" / "341521101_寿县某局.xlsx"
    back = openpyxl.load_workbook(path)
    assert named_cell(back, "pe_ind_score").offset(row=5).value == 5.2
    assert [r[:2] for r in _review_rows(path)] == [("错误 E508", "I11")]
    texts = {c.value for row in back[REVIEW_SHEET].iter_rows() for c in row if c.value}
    assert {"自评表", spec.title, "341521101 寿县某局", "dept.xlsx"} <= texts
    assert "项目名称" not in texts and "实施单位" not in texts
    (row, *_) = results_rows(tmp_path / "退回" / "341521101_寿县某局" / RESULTS_NAME)
    assert list(row[1:6]) == [None, spec.title, "退回修改", 1, 0]


def test_a_form_whose_sheet_is_called_like_the_review_keeps_both(tmp_path):
    from helpers import spec_variant

    from perfeval_xl.forms.spec import BUILTIN_FORMS
    from perfeval_xl.office.feedback import _Job, _review
    from perfeval_xl.template.generate import Filled, build_template

    spec = spec_variant("national-2020", 'sheet = "自评表"', f'sheet = "{REVIEW_SHEET}"')
    job = _Job("x.xlsx", spec, {}, Filled(), None, [], [], "", "2023-03-01", "pw", None,
               BUILTIN_FORMS)  # fmt: skip
    review = _review(job, [], [])
    assert review.sheet == f"{REVIEW_SHEET}（财政）"
    wb = openpyxl.load_workbook(io.BytesIO(build_template(spec, review=review, filled=Filled())))
    assert wb.sheetnames[:2] == [f"{REVIEW_SHEET}（财政）", REVIEW_SHEET]


def test_a_percent_stored_as_a_number_comes_back_as_the_text_it_showed(tmp_path):
    # pasted from another workbook, 95% is the number 0.95 shown as a percentage (domain §7)
    def pasted(wb):
        cell = named_cell(wb, "pe_ind_target").offset(row=1)
        cell.value, cell.number_format = 0.95, "0%"

    box = tmp_path / "inbox"
    staged(box / "p.xlsx", change=pasted, fund_fiscal_spent=120, **_header("百分比项目"))
    coll = collect(box, workers=1)
    before = sorted((f.code, f.cell, f.message.zh) for f in coll.projects[0].result.findings)
    write_feedback(coll, tmp_path / "退回", review_date=DAY)
    [path] = (tmp_path / "退回" / DEPT / UNIT).glob("*.xlsx")
    target = named_cell(openpyxl.load_workbook(path), "pe_ind_target").offset(row=1)
    assert (target.value, target.data_type) == ("95%", "s")
    after = sorted((f.code, f.cell, f.message.zh) for f in check_workbook(path).findings)
    assert after == before
    total = coll.projects[0].result.score.total
    assert total is not None and check_workbook(path).score.total == pytest.approx(total)
