"""Hostile inputs, part two (issue 8 item 4): what a unit's file can do to its values, its names,
its structure and the summary, and what the inbox itself can hold.

The bad-file corpus now has well over 40 kinds, all built by the tests in tmp_path (nothing
binary is committed):

- `test_bad_files.py`, 27 kinds through `check_workbook` and the CLI: empty, random bytes, CSV
  and GBK text named .xlsx, truncated (half, 100 bytes), .xls, .et, .ods, .xlsb, .csv, .xlsm,
  VBA inside an .xlsx, encrypted, zip bomb (60 MiB entry), too many entries, a `../` entry, a zip
  that is no workbook, a workbook not made from the template, an Excel lock file, an unknown form
  id, billion laughs, and external entities in the sheet, shared strings, workbook, custom
  properties and content types;
- `test_safety.py`, more on the gate: HTML, PDF and UTF-16 text, a character cut at the sniffing
  boundary, entry data missing behind an intact directory, .ett / .xlt / .wps / Word OLE, .docx,
  no content types, XLM macro sheets, macros declared in the content types, compression ratio,
  total size, absolute / drive / backslash entry names, oversized content types, zip-encrypted
  entries, a folder, a missing file, no read permission, a named pipe, a file over the size cap;
- here, 50 kinds (`KINDS`), all in one inbox for one `collect` run (but a 1e308 amount, which
  is kept beside it; and, as root, the unreadable file and folder), whose inputs keep every
  byte (SHA-256 before and after), and each file also through `check_workbook`:
  NaN and inf typed as text into amount and weight cells, NaN and inf as numbers in the sheet
  XML, a negative weight and a negative 执行数, 1e308 and 1e300 amounts, dates in an amount, a
  weight and the year, a 32,767-character cell, 100,000 filled rows outside the named ranges, a
  `<dimension>` claiming A1:XFD1048576, emoji / space / Windows-reserved (CON, nul) file names,
  a folder named `x.xlsx`, an unreadable file (not as root), every contract name deleted, a name
  pointing at a text cell, the form sheet renamed (names left behind, or following as Excel
  does), a row inserted into the indicator table, protection removed and an issued value
  changed, the template of another form, the same project twice, and six formula-injection
  texts (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`, `-1+1`, a leading tab, a leading CR) in the
  project, unit and department names, an indicator name and a reason. Issue 15 added a link to
  itself and two links to each other (W605), a GBK file name (shown decoded), a summary of ours
  from an earlier run (W608), a sub-folder nobody may list (E607, not as root; as root
  tests/test_inbox.py drops to user nobody for it) and the ten damaged workbooks of
  `test_hostile_cells.py` (E017, W018, E019).

The corpus therefore has at least 40 kinds (27 + 50 = 77 without counting `test_safety.py`, whose
gate cases not in the other two add about 30 more; `test_corpus_has_at_least_40_kinds` keeps the
count honest). Each yields its documented finding (docs/rules.md), the batch completes, and the
summary keeps every unit's text as text. Where the library does not do what the rules say, the
test is a strict xfail naming the bug.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import HEADER, INDICATORS, coordinate, digests, filled, named_cell, staged
from openpyxl.worksheet.cell_range import MultiCellRange
from test_bad_files import rewrite
from test_hostile_cells import CASES as CELL_CASES

from perfeval_xl import load_spec
from perfeval_xl.cli import cli
from perfeval_xl.findings import ERROR, RULES
from perfeval_xl.office.collect import collect
from perfeval_xl.office.report import FORMULA_STARTS
from perfeval_xl.review.checks import CheckResult, check_workbook

SHEET = "自评表"
AS_ROOT = os.name == "posix" and os.geteuid() == 0
#: Unit texts a spreadsheet program would run or follow if they were written as formulas.
INJECTIONS = {
    "inj-hyperlink": '=HYPERLINK("http://x","点我")',
    "inj-dde": "+cmd|' /C calc'!A0",
    "inj-at": "@SUM(1)",
    "inj-minus": "-1+1",
    "inj-tab": "\t制表符开头",
    "inj-cr": "\r回车开头",
}
#: Files whose values are each "only" an E203, but that make score.grade() raise StopIteration,
#: because no grade's lower bound is below the 总分: a negative 执行数 makes the 执行率 score
#: negative (min(rate, 1) × 10 is not clipped at 0: -1000 / 100 → -100 points, 总分 -10), and
#: 1e308 in two source rows makes both totals inf, 执行率 inf / inf = NaN and 总分 NaN.
GRADE_CRASH = "score.grade() raises StopIteration (no grade for a 总分 below 0 or NaN)"
#: The roster of the collect run (national-2020 column names): three projects are on it.
ROSTER = (
    "dept_code,unit_name,project_name,fund_fiscal_budget\n"
    f"109101,{HEADER['unit_name']},名册项目,100\n"
    f"109101,{HEADER['unit_name']},改过预算的项目,100\n"
    f"109101,{HEADER['unit_name']},四川表式项目,100\n"
)


# -- building the files ------------------------------------------------------------------------
def _typed(**cells: object) -> Callable:
    """A change typing `value` into each named cell as text, as a paste does (openpyxl would
    otherwise store a text starting with "=" as a formula)."""

    def change(wb):
        for name, value in cells.items():
            cell = named_cell(wb, name)
            cell.value = value
            cell.data_type = "s"

    return change


def _number_xml(name: str, text: str) -> Callable[[Path], Path]:
    """The cell of contract name `name` holding the number `text` as the sheet XML has it
    (`<v>NaN</v>`): what a program other than Excel could write."""

    def build(dest: Path) -> Path:
        data = staged(dest).read_bytes()
        ref = coordinate(data, name)

        def edit(xml: str | None) -> str:
            assert xml is not None
            new, n = re.subn(
                rf'(<c r="{ref}"[^>]*>)<v>[^<]*</v>(</c>)', rf"\g<1><v>{text}</v>\g<2>", xml
            )
            assert n == 1, ref
            return new

        dest.write_bytes(rewrite(data, {"xl/worksheets/sheet1.xml": edit}))
        return dest

    return build


def _many_rows(dest: Path) -> Path:
    """100,000 filled rows below the form, outside every named range (a 1.4 MB file)."""
    data = staged(dest).read_bytes()
    first = 101
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c>'
        f'<c r="B{r}" t="inlineStr"><is><t>行{r}</t></is></c></row>'
        for r in range(first, first + 100_000)
    )

    def edit(xml: str | None) -> str:
        assert xml is not None
        xml = re.sub(
            r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="A1:J{first + 99_999}"/>', xml
        )
        return xml.replace("</sheetData>", rows + "</sheetData>")

    dest.write_bytes(rewrite(data, {"xl/worksheets/sheet1.xml": edit}))
    return dest


def _lying_dimension(dest: Path) -> Path:
    data = staged(dest).read_bytes()

    def edit(xml: str | None) -> str:
        assert xml is not None
        new, n = re.subn(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', xml)
        assert n == 1
        return new

    dest.write_bytes(rewrite(data, {"xl/worksheets/sheet1.xml": edit}))
    return dest


def _delete_contract_names(wb) -> None:
    """Every input and computed name gone (the identity and dropdown names stay)."""
    keep = ("pe_meta_", "pe_list_", "pe_l2_", "pe_map_")
    for name in list(wb.defined_names):
        if name.startswith("pe_") and not name.startswith(keep):
            del wb.defined_names[name]


def _budget_name_on_label(wb) -> None:
    """pe_fund_fiscal_budget moved onto the row's label, a text cell."""
    label = named_cell(wb, "pe_fund_fiscal_budget").offset(column=-4)  # B9 on national-2020
    assert isinstance(label.value, str)
    ref = f"'{SHEET}'!${label.column_letter}${label.row}"
    wb.defined_names["pe_fund_fiscal_budget"].attr_text = ref


def _rename_sheet(follow: bool, unprotect: bool = False) -> Callable:
    """The form sheet renamed: openpyxl leaves the names behind; Excel makes them follow."""

    def change(wb):
        wb[SHEET].title = "Sheet1"
        wb.security = None  # renaming needs the workbook structure unprotected
        if follow:
            for name in list(wb.defined_names):
                dn = wb.defined_names[name]
                dn.attr_text = dn.attr_text.replace(f"'{SHEET}'!", "Sheet1!")
        if unprotect:
            wb["Sheet1"].protection.sheet = False

    return change


def _shift(ref: str, at: int) -> str:
    """Every row number ≥ `at` one down, as Excel does to references when a row is inserted."""
    return re.sub(
        r"(\$?[A-Z]{1,3}\$?)(\d+)", lambda m: f"{m[1]}{int(m[2]) + (int(m[2]) >= at)}", ref
    )


INSERTED = {
    "level1": "产出指标",
    "level2": "数量指标",
    "name": "插入行上的指标",
    "target": "≥1次",
    "actual": "1次",
    "status": "已完成",
    "weight": 10,
    "score": 10,
}


def _insert_indicator_row(wb) -> None:
    """A row inserted inside the indicator table (protection removed first, as Excel demands)
    and filled; names, validations and merged ranges follow as in Excel."""
    ws = wb[SHEET]
    first = named_cell(wb, "pe_ind_name").row
    at = first + 2  # between the 2nd and 3rd indicator
    ws.protection.sheet = False
    merged = [str(r) for r in ws.merged_cells.ranges]
    for r in merged:
        ws.unmerge_cells(r)
    ws.insert_rows(at)
    for r in merged:
        ws.merge_cells(_shift(r, at))
    for dv in ws.data_validations.dataValidation:
        dv.sqref = MultiCellRange(_shift(str(dv.sqref), at))
    for name in list(wb.defined_names):
        dn = wb.defined_names[name]
        if dn.attr_text.startswith(f"'{SHEET}'!"):
            dn.attr_text = _shift(dn.attr_text, at)
    for key, value in INSERTED.items():
        named_cell(wb, f"pe_ind_{key}").offset(row=at - first).value = value


def _unprotect_all(wb) -> None:
    wb[SHEET].protection.sheet = False
    wb.security = None


def _injection(text: str, code: str) -> Callable[[Path], Path]:
    def build(dest: Path) -> Path:
        change = _typed(
            pe_project_name=text,
            pe_unit_name=text,
            pe_dept_name=text,
            pe_ind_name=text,
            pe_ind_reason=text,
        )
        return staged(dest, change=change, dept_code=code)

    return build


def _rows(i: int, **changes) -> list[dict]:
    rows = [dict(r) for r in INDICATORS]
    rows[i].update(changes)
    return rows


def _unreadable(dest: Path) -> Path:
    staged(dest)
    dest.chmod(0)
    return dest


def _folder(dest: Path) -> Path:
    """A folder named like a workbook, holding one: a folder is walked, never read as a file."""
    staged(dest / "里面.xlsx", project_name="文件夹里的项目")
    return dest


def _link_loop(dest: Path) -> Path:
    """`ln -s x.xlsx x.xlsx`: a link to itself."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.symlink_to(dest.name)
    return dest


def _link_pair(dest: Path) -> Path:
    """`a -> b -> a`, inside a folder of their own."""
    dest.mkdir(parents=True)
    (dest / "甲.xlsx").symlink_to("乙.xlsx")
    (dest / "乙.xlsx").symlink_to("甲.xlsx")
    return dest


#: 第一小学 in GBK bytes: a name as unzipping a Windows attachment on Linux leaves it.
GBK_NAME = "第一小学.xlsx"


def _gbk_name(dest: Path) -> Path:
    staged(dest, project_name="GBK文件名的项目")
    raw = os.fsencode(dest.parent) + b"/" + GBK_NAME.encode("gbk")
    os.rename(dest, raw)
    return Path(os.fsdecode(raw))


def _earlier_summary(dest: Path) -> Path:
    """A summary of ours, written by an earlier run, left in the inbox under another name."""
    from perfeval_xl.office.summary import write_summary

    box = dest.parent / f".stage-{dest.name}"
    staged(box / "上次.xlsx", project_name="上次汇总里的项目")
    write_summary(collect(box, workers=1), dest)
    shutil.rmtree(box)
    return dest


def _locked_folder(dest: Path) -> Path:
    """A sub-folder nobody but root may list, holding a workbook."""
    staged(dest / "看不到.xlsx", project_name="锁住的项目")
    dest.chmod(0)
    return dest


def _twice(dest: Path) -> Path:
    """The same project twice, byte for byte, with the same times: exactly one is used."""
    a = staged(dest / "a.xlsx", project_name="重复的项目")
    b = dest / "b.xlsx"
    shutil.copy(a, b)
    for p in (a, b):
        os.utime(p, (1_650_000_000, 1_650_000_000))
    return dest


# -- the corpus --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """One kind of hostile input: where it lies in the inbox, how to build it, and what the
    rules say about it. `codes` must all appear; of `any_of` at least one; `readable` says
    whether a record comes out (None: either, as for files a size limit may refuse (E005))."""

    path: str
    build: Callable[[Path], Path]
    codes: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    readable: bool | None = True
    #: the collect run only: codes the roster comparison adds
    collect_codes: tuple[str, ...] = ()
    #: False: kept out of the one collect run, because it breaks it (a strict xfail shows how)
    batch: bool = True
    #: a known library bug makes check_workbook raise: strict xfail, and kept out of the run
    bug: str | None = None
    sources: tuple[str, ...] = field(default=())
    #: a case of the inbox itself (a link, a folder): codes of the run's own findings, which
    #: name `sources` (else `path`); it is no file `check` can be given
    inbox: tuple[str, ...] = ()


def _kind(path: str, build=None, *codes: str, **kw) -> Kind:
    return Kind(path, build or (lambda d: staged(d)), codes, **kw)


KINDS: dict[str, Kind] = {
    "amount-nan-text": _kind("nan文本.xlsx", lambda d: staged(d, fund_fiscal_budget="nan"), "E202"),
    "amount-inf-text": _kind("inf文本.xlsx", lambda d: staged(d, fund_fiscal_spent="inf"), "E202"),
    "weight-nan-text": _kind(
        "权重nan.xlsx", lambda d: staged(d, indicators=_rows(0, weight="NaN")), "E202", "E502"
    ),
    # Excel never writes NaN; a program may. It is a valid xsd:double, read as a number: E203
    # (openpyxl cannot load it; the fast reader reads such a file for it: read._read_around).
    "amount-nan-number": _kind("nan数值.xlsx", _number_xml("pe_fund_fiscal_budget", "NaN"), "E203"),
    "amount-inf-number": _kind(
        "inf数值.xlsx", _number_xml("pe_fund_fiscal_spent", "1e309"), any_of=("E202", "E203")
    ),
    "weight-negative": _kind(
        "负分值.xlsx",
        lambda d: staged(d, indicators=_rows(0, weight=-20, score=-20)),
        "E203",
        "E502",
    ),
    # 1e308 makes the summary's fund-weighted mean overflow: see test_huge_amount_* below.
    "amount-1e308": _kind(
        "1e308.xlsx", lambda d: staged(d, fund_fiscal_budget=1e308), "E203", batch=False
    ),
    "spent-negative": _kind("负执行数.xlsx", lambda d: staged(d, fund_fiscal_spent=-1000), "E203"),
    "amount-1e300": _kind("1e300.xlsx", lambda d: staged(d, fund_fiscal_budget=1e300), "E203"),
    "date-in-amount": _kind(
        "日期金额.xlsx", lambda d: staged(d, fund_fiscal_spent=datetime(2022, 12, 31)), "E202"
    ),
    "date-in-weight": _kind(
        "日期分值.xlsx",
        lambda d: staged(d, indicators=_rows(0, weight=date(2022, 1, 20))),
        "E202",
        "E502",
    ),
    "date-in-year": _kind("日期年度.xlsx", lambda d: staged(d, year=date(2022, 1, 1)), "E102"),
    "cell-32767": _kind(
        "长文本.xlsx", lambda d: staged(d, indicators=_rows(0, reason="长" * 32767)), "E205"
    ),
    "rows-100000": _kind("十万行.xlsx", _many_rows, readable=None),
    "dimension-lie": _kind("假维度.xlsx", _lying_dimension, readable=None),
    "name-emoji": _kind("项目😀.xlsx"),
    "name-spaces": _kind(" 单位 A 的 文件 (终稿) .xlsx"),
    "name-con": _kind("CON.xlsx"),
    "name-nul": _kind("nul.xlsx"),
    "folder-named-xlsx": Kind("x.xlsx", _folder, ("E001",), readable=False),
    "unreadable": Kind("无权限.xlsx", _unreadable, ("E001",), readable=False),
    "names-deleted": _kind(
        "名称被删.xlsx", lambda d: staged(d, change=_delete_contract_names), "E011"
    ),
    "name-points-at-text": _kind(
        "名称改指.xlsx", lambda d: staged(d, change=_budget_name_on_label), "E202"
    ),
    "sheet-renamed": _kind(
        "表名被改.xlsx", lambda d: staged(d, change=_rename_sheet(follow=False)), "E011"
    ),
    "sheet-renamed-names-follow": _kind(
        "表名被改名称跟随.xlsx", lambda d: staged(d, change=_rename_sheet(follow=True))
    ),
    "rows-inserted": _kind(
        "插入行.xlsx",
        lambda d: staged(d, change=_insert_indicator_row, indicators=_rows(0, weight=10, score=10)),
        "W012",
    ),
    "protection-removed-value-changed": _kind(
        "取消保护.xlsx",
        lambda d: staged(
            d, change=_unprotect_all, project_name="改过预算的项目", fund_fiscal_budget=200
        ),
        "W012",
        collect_codes=("E603",),
    ),
    "other-form": _kind(
        "四川表.xlsx", lambda d: staged(d, "sichuan-2023", project_name="四川表式项目")
    ),
    "same-project-twice": Kind(
        "重复", _twice, sources=("重复/a.xlsx", "重复/b.xlsx"), readable=True
    ),
    "link-loop": Kind("循环链接.xlsx", _link_loop, readable=False, inbox=("W605",)),
    "link-pair": Kind(
        "互指链接", _link_pair, sources=("互指链接/乙.xlsx", "互指链接/甲.xlsx"), inbox=("W605",)
    ),
    "name-gbk": _kind(GBK_NAME, _gbk_name),
    "earlier-summary": Kind("上次的汇总.xlsx", _earlier_summary, ("W608",), readable=False),
    "folder-unreadable": Kind("锁住的", _locked_folder, inbox=("E607",)),
    # a duplicated name, a lost _lists or _meta, one damaged cell (tests/test_hostile_cells.py)
    **{kind: Kind(name, build, codes) for kind, (name, build, codes) in CELL_CASES.items()},
    **{
        kind: _kind(f"{kind}.xlsx", _injection(text, f"1092{i:02d}"))
        for i, (kind, text) in enumerate(INJECTIONS.items())
    },
}
#: A plain project that is on the roster, so the run has a clean control.
CONTROL = _kind("正常.xlsx", lambda d: staged(d, project_name="名册项目"))


def _active(kind: str) -> bool:
    return not (kind in ("unreadable", "folder-unreadable") and AS_ROOT)


def _in_batch(kind: str) -> bool:
    return _active(kind) and KINDS[kind].batch and not KINDS[kind].bug


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Every kind built into one inbox (plus the control), but those kept out of the batch
    built beside it; kind → its path."""
    root = tmp_path_factory.mktemp("hostile")
    box = root / "inbox"
    box.mkdir()
    paths = {"control": CONTROL.build(box / CONTROL.path)}
    for kind, spec in KINDS.items():
        if _active(kind):
            paths[kind] = spec.build((box if _in_batch(kind) else root / "aside") / spec.path)
    yield paths
    for path in paths.values():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)  # so that tmp_path can be cleaned (unreadable)
        elif path.is_dir() and not path.is_symlink():
            path.chmod(0o700)


def test_corpus_has_at_least_40_kinds():
    from test_bad_files import CASES

    assert len(KINDS) == 50 and len(CASES) + len(KINDS) >= 40


# -- each kind through check_workbook ----------------------------------------------------------
def _codes(result: CheckResult) -> list[str]:
    return [f.code for f in result.findings]


def _check_kind(kind: Kind, result: CheckResult) -> None:
    codes = _codes(result)
    shown = [(f.code, f.location, f.message.en) for f in result.findings]
    for code in kind.codes:
        assert code in codes, shown
    if kind.any_of:
        assert set(kind.any_of) & set(codes), shown
    if kind.readable is True:
        assert result.record is not None, shown
    elif kind.readable is False:
        assert result.record is None and len(codes) == 1, shown
    for f in result.findings:
        assert f.code in RULES and f.severity == RULES[f.code].severity
        assert f.message.render("zh") and f.message.render("en")


ALL_KINDS = [
    pytest.param(
        k,
        id=k,
        marks=[pytest.mark.xfail(strict=True, raises=StopIteration, reason=v.bug)] if v.bug else [],
    )
    for k, v in KINDS.items()
    if k != "same-project-twice" and not v.inbox
]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_kind_through_check(corpus, kind):
    if not _active(kind):
        pytest.skip("root can read anything")
    result = check_workbook(corpus[kind])
    _check_kind(KINDS[kind], result)
    if kind == "folder-named-xlsx":
        assert "folder" in result.findings[0].message.en


@pytest.mark.parametrize("kind", ["rows-100000", "dimension-lie"])
def test_big_or_lying_sheet_is_refused_or_read_exactly(corpus, kind):
    """Either a limit refuses the sheet (E005), or it is read like the clean form: the same
    values and no finding at all (the rows outside the names are never looked at)."""
    result = check_workbook(corpus[kind])
    if result.record is None:
        assert _codes(result) == ["E005"], result.findings
        return
    assert _codes(result) == []
    rec = result.record
    assert rec.value("project_name") == f"{Path(KINDS[kind].path).stem}项目"
    assert rec.fund("total", "budget") == 100 and len(rec.indicators) == len(INDICATORS)


def test_values_are_read_where_the_names_point(corpus):
    moved = check_workbook(corpus["name-points-at-text"])
    (e202,) = [f for f in moved.findings if f.code == "E202"]
    assert (e202.sheet, e202.cell, e202.field) == (SHEET, "B9", "fund_fiscal_budget")
    assert "当年财政拨款" in e202.message.zh  # the label text it found there
    inserted = check_workbook(corpus["rows-inserted"])
    assert _codes(inserted) == ["W012", "W016"]
    names = [i.value("name") for i in inserted.record.indicators]
    expected = [r["name"] for r in INDICATORS]
    assert names == [*expected[:2], INSERTED["name"], *expected[2:]]
    assert inserted.score.total == 99.5  # 产出 still 50: the inserted row took 10 of the first's 20
    renamed = check_workbook(corpus["sheet-renamed-names-follow"])
    assert _codes(renamed) == []
    assert renamed.record.fields["fund_fiscal_budget"].sheet == "Sheet1"
    deleted = check_workbook(corpus["names-deleted"])
    (e011,) = [f for f in deleted.findings if f.code == "E011"]
    assert "pe_project_name" in e011.message.en and "pe_ind_status" in e011.message.en


def test_long_cell_is_read_whole(corpus):
    result = check_workbook(corpus["cell-32767"])
    assert result.record.indicators[0].value("reason") == "长" * 32767
    (e205,) = [f for f in result.findings if f.code == "E205"]
    assert "32767" in e205.message.en


@pytest.mark.parametrize("kind", list(INJECTIONS), ids=list(INJECTIONS))
def test_injection_texts_are_read_as_text(corpus, kind):
    result = check_workbook(corpus[kind])
    rec = result.record
    expected = " ".join(INJECTIONS[kind].split())  # the reader collapses whitespace
    for name in ("project_name", "unit_name", "dept_name"):
        assert rec.value(name) == expected
    assert rec.indicators[0].value("name") == expected
    assert rec.indicators[0].value("reason") == expected
    assert not [f for f in result.findings if f.severity == ERROR], result.findings


# -- the library against its own rules ------------------------------------------------------------
@pytest.mark.parametrize("text", ["NaN", "INF", "1e309", "-1e309"])
def test_non_finite_number_cell_is_e203(tmp_path, text):
    path = _number_xml("pe_fund_fiscal_budget", text)(tmp_path / "unit.xlsx")
    result = check_workbook(path)
    assert result.record is not None, result.findings
    (f,) = [f for f in result.findings if f.cell == "F9"]
    assert f.code == "E203"


CRASHERS = {
    "negative-spent": {"fund_fiscal_spent": -1000},
    "overflowing-sums": {
        "fund_fiscal_budget": 1e308,
        "fund_carryover_budget": 1e308,
        "fund_fiscal_spent": 1e308,
        "fund_carryover_spent": 1e308,
    },
}


@pytest.mark.parametrize("case", list(CRASHERS))
def test_file_does_not_crash_check(tmp_path, case):
    result = check_workbook(filled(tmp_path, **CRASHERS[case]))
    assert "E203" in _codes(result)


@pytest.mark.parametrize("case", list(CRASHERS))
def test_file_does_not_stop_collect(tmp_path, case):
    box = tmp_path / "inbox"
    staged(box / "坏值.xlsx", **CRASHERS[case])
    staged(box / "正常.xlsx")
    out = tmp_path / "汇总.xlsx"
    result = CliRunner().invoke(cli, ["collect", str(box), "-o", str(out), "-q", "--workers", "1"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert out.exists()


def test_overflowing_total_keeps_check_json_valid(tmp_path):
    path = filled(tmp_path, fund_fiscal_budget=1e308, fund_carryover_budget=1e308)
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    json.loads(result.output)


def test_renamed_and_unprotected_sheet_is_w012(tmp_path):
    path = staged(tmp_path / "unit.xlsx", change=_rename_sheet(follow=True, unprotect=True))
    assert "W012" in _codes(check_workbook(path))


def test_template_of_another_form_is_reported(tmp_path):
    box = tmp_path / "inbox"
    staged(box / "四川表.xlsx", "sichuan-2023", project_name="四川表式项目")
    staged(box / "正常.xlsx", project_name="名册项目")
    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, "utf-8")
    coll = collect(box, roster=roster, roster_spec=load_spec("national-2020"), workers=1)
    (other,) = [s for s in coll.submissions if s.item.source == "四川表.xlsx"]
    assert other.result.record.spec.id == "sichuan-2023"
    messages = " ".join(f.message.render("en") for f in other.result.findings)
    assert "sichuan-2023" in messages or "national-2020" in messages, other.result.findings


def _huge_inbox(tmp_path: Path) -> Path:
    box = tmp_path / "inbox"
    staged(box / "1e308.xlsx", fund_fiscal_budget=1e308)  # one amount, reported E203
    staged(box / "正常.xlsx")
    return box


def test_huge_amount_keeps_collect_json_valid(tmp_path):
    box, out, js = _huge_inbox(tmp_path), tmp_path / "汇总.xlsx", tmp_path / "c.json"
    args = ["collect", str(box), "-o", str(out), "--json", str(js), "-q", "--workers", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    json.loads(js.read_text("utf-8"))


def test_huge_amount_keeps_summary_valid(tmp_path):
    box, out = _huge_inbox(tmp_path), tmp_path / "汇总.xlsx"
    result = CliRunner().invoke(cli, ["collect", str(box), "-o", str(out), "-q", "--workers", "1"])
    assert result.exit_code == 1, result.output
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<v>-?(inf|nan)</v>", z.read(name), re.I), name
    openpyxl.load_workbook(out).close()


# -- one inbox, one collect run ----------------------------------------------------------------
@pytest.fixture(scope="module")
def collected(corpus, tmp_path_factory):
    """`perfeval-xl collect` on the whole corpus with a national-2020 roster: (summary path,
    the --json document, the CLI result)."""
    out = tmp_path_factory.mktemp("out")
    box = corpus["control"].parent
    roster = out / "名册.csv"
    roster.write_text(ROSTER, "utf-8")
    summary, js = out / "汇总.xlsx", out / "collect.json"
    args = ["--lang", "en", "collect", str(box), "-o", str(summary), "--json", str(js)]
    args += ["--roster", str(roster), "--form", "national-2020", "-q", "--workers", "2"]
    before = digests(box)
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert digests(box) == before  # no input byte changed, no file moved or added
    return summary, json.loads(js.read_bytes().decode("utf-8")), result


def _sources(kind: str) -> list[str]:
    spec = KINDS[kind]
    if spec.sources:
        return list(spec.sources)
    if kind == "folder-named-xlsx":
        return [f"{spec.path}/里面.xlsx"]
    return [spec.path]


def test_the_batch_completes(corpus, collected):
    summary, doc, result = collected
    assert result.exit_code == 1, result.output  # errors found, nothing failed
    head = result.output.splitlines()[0]
    line = r"\d+ projects read, \d+ files unreadable; \d+ errors, \d+ warnings; 0 projects not received"
    assert re.fullmatch(line, head), head
    assert summary.is_file()
    got = sorted(e["source"] for e in doc["files"])
    files = [k for k in KINDS if _in_batch(k) and not KINDS[k].inbox]
    expected = [s for k in files for s in _sources(k)] + [CONTROL.path]
    assert got == sorted(expected)  # every file answered for, nothing else
    # the inbox's own findings: its links and folders, nothing else (no roster row missing)
    inbox = [k for k in KINDS if _in_batch(k) and KINDS[k].inbox]
    expected_findings = [(c, s) for k in inbox for s in _sources(k) for c in KINDS[k].inbox]
    got_findings = [(f["code"], f["file"]) for f in doc["findings"]]
    assert sorted(got_findings) == sorted(expected_findings)


@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_kind_in_the_batch(collected, kind):
    if not _active(kind):
        pytest.skip("root can read anything")
    if not _in_batch(kind):
        pytest.skip("kept out of the batch: see its strict xfail")
    _, doc, _ = collected
    spec = KINDS[kind]
    if spec.inbox:
        found = {(f["code"], f["file"]) for f in doc["findings"]}
        assert {(c, s) for s in _sources(kind) for c in spec.inbox} <= found, doc["findings"]
        return
    entries = {e["source"]: e for e in doc["files"]}
    for source in _sources(kind):
        entry = entries[source]
        codes = [f["code"] for f in entry["findings"]]
        if kind == "folder-named-xlsx":  # walked like any folder: its workbook is read
            assert entry["project"]["project_name"] == "文件夹里的项目"
            continue
        for code in (*spec.codes, *spec.collect_codes):
            assert code in codes, (source, entry["findings"])
        if spec.any_of:
            assert set(spec.any_of) & set(codes), (source, entry["findings"])
        if spec.readable is not None:
            assert (entry["project"] is not None) == spec.readable, source
    if kind == "same-project-twice":
        used = {s: entries[s]["used"] for s in spec.sources}
        assert used == {"重复/a.xlsx": False, "重复/b.xlsx": True}
        assert [f["code"] for f in entries["重复/a.xlsx"]["findings"]].count("W601") == 1
        assert "W601" not in [f["code"] for f in entries["重复/b.xlsx"]["findings"]]


def test_roster_comparison_in_the_batch(collected):
    _, doc, _ = collected
    entries = {e["source"]: e for e in doc["files"]}
    changed = entries[KINDS["protection-removed-value-changed"].path]
    (e603,) = [f for f in changed["findings"] if f["code"] == "E603"]
    assert (e603["field"], e603["cell"]) == ("fund_fiscal_budget", "F9")
    assert [f["code"] for f in entries[CONTROL.path]["findings"]] == []
    off = entries[KINDS["name-emoji"].path]
    assert [f["code"] for f in off["findings"]] == ["E602"]  # not on the roster
    assert [r["received"] for r in doc["roster"]] == [True, True, True]


def _table(ws) -> tuple[list, list[tuple]]:
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    return header, [tuple(r) for r in rows[1:]]


def _check_text(cell, expected) -> None:
    """`cell` holds, as a string, the text the JSON gives as `expected`; the JSON's leading `'`
    before a formula character (report.spreadsheet_safe) is not part of the unit's text."""
    if expected is None:
        assert cell.value is None, cell.coordinate
        return
    if isinstance(expected, str) and expected.startswith(tuple(f"'{c}" for c in FORMULA_STARTS)):
        expected = expected[1:]
    assert cell.data_type == "s", (cell.parent.title, cell.coordinate, cell.value)
    assert cell.value == str(expected), (cell.parent.title, cell.coordinate)


def test_summary_keeps_every_units_text_as_text(collected):
    summary, doc, _ = collected
    projects = {e["source"]: e["project"] for e in doc["files"] if e["used"] and e["project"]}
    wb = openpyxl.load_workbook(summary)
    try:
        # 项目明细: one row per used file, its texts exactly as read
        header, rows = _table(wb["项目明细"])
        col = {h: i for i, h in enumerate(header)}
        seen = set()
        for row in rows:
            source = row[col["来源文件"]].value
            project = projects[source]
            seen.add(source)
            _check_text(row[col["来源文件"]], source)
            for head, name in [
                ("主管部门代码", "dept_code"),
                ("主管部门", "dept_name"),
                ("实施单位", "unit_name"),
                ("项目名称", "project_name"),
                ("项目代码", "project_code"),
            ]:
                _check_text(row[col[head]], project.get(name))
        assert seen == set(projects)
        # 绩效指标: one row per indicator
        header, rows = _table(wb["绩效指标"])
        col = {h: i for i, h in enumerate(header)}
        count = 0
        for row in rows:
            project = projects[row[col["来源文件"]].value]
            ind = project["indicators"][row[col["序号"]].value - 1]
            for head, key in [
                ("一级指标", "level1"),
                ("二级指标", "level2"),
                ("三级指标", "name"),
                ("指标值", "target"),
                ("完成值", "actual"),
                ("完成状态", "status"),
                ("偏差原因", "reason"),
            ]:
                _check_text(row[col[head]], ind.get(key))
            count += 1
        assert count == sum(len(p["indicators"]) for p in projects.values())
        # the 32,767-character reason arrives whole
        long = projects[KINDS["cell-32767"].path]["indicators"][0]["reason"]
        assert len(long) == 32767
        assert any(row[col["偏差原因"]].value == long for row in rows)
        # every injection text, in every place it was typed, is a string cell
        for kind, text in INJECTIONS.items():
            expected = " ".join(text.split())
            hits = [
                c for ws in wb.worksheets for r in ws.iter_rows() for c in r if c.value == expected
            ]
            # 项目明细 ×3 (部门, 单位, 项目), 绩效指标 ×3 (项目, 指标, 原因), 报送情况 ×2, 部门汇总 ×1
            assert len(hits) >= 9, (kind, [(c.parent.title, c.coordinate) for c in hits])
            assert all(c.data_type == "s" for c in hits), kind
        # no formula anywhere but the 合计 row of 部门汇总, no link anywhere
        for ws in wb.worksheets:
            for r in ws.iter_rows():
                for c in r:
                    if c.data_type == "f":
                        assert ws.title == "部门汇总" and ws.cell(c.row, 1).value == "合计", (
                            ws.title,
                            c.coordinate,
                            c.value,
                        )
    finally:
        wb.close()
    with zipfile.ZipFile(summary) as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    # 绩效指标's texts are inline strings, so the text itself is in the sheet: no formula has it
    assert not re.search(r"<f>[^<]*HYPERLINK", sheets) and "<hyperlink" not in sheets
    assert "<f>" in sheets  # the 合计 row: the pattern would see a formula
