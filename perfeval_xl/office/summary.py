"""The department summary (部门汇总): one workbook the finance office reads, filters and forwards.

It is built from a `Collection` only, never by reopening the units' files. Every text a unit
typed is written as a string (a project called "=HYPERLINK(…)" stays text, never a formula or
a link); every total is a formula with its cached value, so Excel recalculates it after an edit
while a program that never recalculates still shows the right number. The same collection and
the same `generated` time give the same bytes, so a summary can be compared with yesterday's.
"""

from __future__ import annotations

import dataclasses
import io
import marshal
import math
import operator
import os
import pickle
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from xlsxwriter.utility import _preserve_whitespace, xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.xmlwriter import XMLwriter

from .._version import __version__
from ..fileio import write_output
from ..findings import ERROR, INFO, WARNING, Finding
from ..forms.spec import Spec, load_spec
from ..intake.record import Record
from ..review.score import ProjectScore
from ..template.generate import (
    DOCUMENT_SUMMARY,
    PROP_DOCUMENT,
    PROP_GENERATOR,
    XLSXWRITER_OPTIONS,
    issuable_fields,
    looks_rich,
    write_text,
)
from ..textwidth import display_width
from ..workers import NOTHING_YET, Forked, fork
from .collect import Collection, RosterStatus, Submission, no_gc_pauses
from .history import History, changes
from .roster import RosterRow
from .spill import Brief, Detail

SHEET_DEPARTMENTS = "部门汇总"
SHEET_PROJECTS = "项目明细"
#: One row per 部门整体支出绩效自评表 read (only when any was)
SHEET_DEPARTMENT_FORMS = "部门整体"
SHEET_INDICATORS = "绩效指标"
SHEET_FINDINGS = "问题清单"
SHEET_ROSTER = "报送情况"
SHEET_YEAR_ON_YEAR = "同比"
SHEET_YEAR_ON_YEAR_PROJECTS = "同比项目"
#: Excel's limit on the rows of one sheet, header included. 绩效指标 and 问题清单 continue on
#: sheets `绩效指标(2)`, `绩效指标(3)` … (`continuation_names`) rather than pass it.
SHEET_ROW_LIMIT = 1_048_576
TITLE = "项目支出绩效自评汇总"
#: Grade labels when no project tells us its spec's (an empty inbox).
DEFAULT_GRADES = ("优", "良", "中", "差")
#: The grade column of a project whose score is incomplete (an indicator or the execution
#: rate could not be scored): a part of a score gets no grade, and counts in no mean.
INCOMPLETE = "不完整"
#: How 项目明细 marks a grade as ours, not the unit's own.
GRADE_BASIS = "（核定）"
#: 部门汇总's row for the live findings of no summarised project (unreadable and lock files,
#: files not read, the roster), so that its 合计 row counts what the header line counts.
OTHER_CODE = "—"
OTHER_NAME = "其他（未汇总的文件、名册）"
#: 部门汇总's columns (0-based): 应报 已报 未报 有错误, 项目数, 预算数 执行数, 执行率, 平均分
#: 资金加权平均分, then one per grade, 错误 and 警告.
_D_EXPECTED, _D_PROJECTS, _D_BUDGET, _D_RATE, _D_MEAN, _D_GRADES = 2, 6, 7, 9, 10, 12
DEFAULT_STATUSES = ("已完成", "部分完成", "未完成")
#: Document creation time when the caller gives no `generated` time, so output stays stable.
CREATED = datetime(2020, 1, 1, 0, 0, 0)
#: Widest column, in characters of the default font (a CJK character counts 2).
MAX_WIDTH = 50
#: Height of one line of 宋体 10, in points, for rows whose text wraps.
LINE_HEIGHT = 13.5
#: Excel's limit on the text of one cell.
MAX_CELL_TEXT = 32767
#: Smallest print scale (%) a table is printed at: one page wide if it fits so, else several
#: pages wide (`_print_plan`). At 70 % 宋体 10 prints at 7 points, still readable.
MIN_PRINT_SCALE = 70
#: Print margins, inches.
PRINT_MARGINS = {"left": 0.4, "right": 0.4, "top": 0.6, "bottom": 0.6}
#: A4 landscape (width, height), inches.
A4_LANDSCAPE_INCHES = (297 / 25.4, 210 / 25.4)
#: The share of a page's width a plan fills at most. Column widths count characters of the
#: default font (Calibri 11): Excel takes one as 7 pixels, LibreOffice as the font's own 7.43
#: (Carlito, measured: columns 6 % wider), so a plan leaves room for that. (LibreOffice without
#: Carlito measures DejaVu Sans, a third wider: it then breaks more pages at the same scale.)
PRINT_SAFETY = 0.94
#: Widest the big sheets' long texts are, by sheet and header, in characters (a CJK character
#: counts 2), below MAX_WIDTH: they wrap instead, so that each sheet prints readably. A long
#: 来源文件 path wraps in a narrow column rather than widening the print. 项目明细 is printed
#: several pages wide (`_print_plan`); the others one page wide, which these widths keep at
#: about 70 % or more for usual texts.
PRINT_CAPS: dict[str, dict[str, int]] = {
    SHEET_PROJECTS: {
        "主管部门": 20,
        "实施单位": 20,
        "项目名称": 24,
        "项目代码": 16,
        "计分方式": 10,
        "来源文件": 24,
        "单位填报值": 30,
    },
    SHEET_INDICATORS: {
        "项目名称": 20,
        "来源文件": 16,
        "二级指标": 12,
        "三级指标": 24,
        "指标值": 12,
        "完成值": 12,
        "偏差原因": 24,
    },
    SHEET_FINDINGS: {
        "主管部门": 16,
        "实施单位": 16,
        "项目名称": 20,
        "文件": 20,
        "栏目": 16,
        "说明": 36,
    },
    SHEET_ROSTER: {"实施单位": 20, "项目名称": 24, "来源文件": 24},
}
#: Width cap of 绩效指标's columns of extra free-text indicator columns (指标解释 …).
EXTRA_CAP = 24

_BASE = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1}
_TOTAL = {"bold": True, "bg_color": "#DDEBF7"}
#: Cell formats by column kind; each also exists as `<kind>_total` for the 合计 row.
_KINDS: dict[str, dict[str, Any]] = {
    "text": {"text_wrap": True},
    "center": {"align": "center", "text_wrap": True},
    "int": {"num_format": "0", "align": "center"},
    "amount": {"num_format": "#,##0.00"},
    "rate": {"num_format": "0.00%", "align": "center"},
    "score": {"num_format": "0.00", "align": "center"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm", "align": "center"},
}
_EXTRA: dict[str, dict[str, Any]] = {
    "title": {"font_name": "黑体", "font_size": 16, "align": "center", "valign": "vcenter"},
    "subtitle": {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True},
    "head": {**_BASE, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#F2F2F2"},
    "bad": {**_BASE, "align": "center", "font_color": "#9C0006", "bg_color": "#FFC7CE"},
    "warn": {**_BASE, "align": "center", "font_color": "#9C5700", "bg_color": "#FFEB9C"},
}


# -- the figures -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DepartmentRow:
    """One 主管部门 (department) of the summary: what it was to send and sent, its projects'
    money, scores, grades and findings.

    With a roster, `expected` (应报) is the department's roster rows, `received` (已报) those a
    file came in for (an unreadable one too: `RosterStatus.received`), `missing` (未报) the
    rest, and `with_errors` (有错误) those received whose file has errors; a department of the
    roster that sent nothing has its row all the same. Without a roster nothing is expected:
    `expected` and `missing` are None, `received` is the department's projects and
    `with_errors` those of them with errors.

    Amounts and scores are the counted ones (`Submission.counted_record`): where a unit changed
    an office-issued value, the office's. `rate` is Σspent ÷ Σbudget (None when Σbudget is 0);
    `mean_score` the simple mean of the project totals that could be scored completely;
    `weighted_score` the mean weighted by 预算数 over those with a budget above 0, because a
    1 000 万元 project should weigh more than a 10 万元 one. Blank amounts count as 0 in the
    sums. A project with an incomplete score counts under the grade `不完整`.
    """

    code: str
    name: str
    expected: int | None
    received: int
    missing: int | None
    with_errors: int
    projects: int
    budget: float
    spent: float
    rate: float | None
    mean_score: float | None
    weighted_score: float | None
    grades: dict[str, int]
    errors: int
    warnings: int


def department_rows(collection: Collection) -> list[DepartmentRow]:
    """The figures of 部门汇总, one row per department code, sorted by code: every department
    of a used project or of the roster.

    Only the used submissions (`collection.projects`) count in the figures: a superseded or
    unreadable file must not add its money twice or not at all.
    """
    labels = grade_labels(collection.projects)
    groups: dict[str, list[Submission]] = {}
    for s in collection.projects:
        groups.setdefault(_text(_brief(s).dept_code), []).append(s)
    listed: dict[str, list[RosterStatus]] = {}
    for r in collection.roster or []:
        listed.setdefault(_text(r.row.values.get("dept_code")), []).append(r)
    rows = []
    for code in sorted(groups.keys() | listed.keys()):
        subs, on_roster = groups.get(code, []), listed.get(code, [])
        budget, spent = _money(subs)
        grades = dict.fromkeys(labels, 0)
        for s in subs:
            g = _grade(s)
            if g is not None:
                grades[g] = grades.get(g, 0) + 1
        if collection.roster is None:
            expected = missing = None
            received = len(subs)
            with_errors = sum(s.result.errors > 0 for s in subs)
        else:
            sent = [r.source for r in on_roster if r.source is not None]
            expected, received = len(on_roster), len(sent)
            missing = expected - received
            with_errors = sum(s.result.errors > 0 for s in sent)
        rows.append(
            DepartmentRow(
                code=code,
                name=_department_name(subs, on_roster),
                expected=expected,
                received=received,
                missing=missing,
                with_errors=with_errors,
                projects=len(subs),
                budget=budget,
                spent=spent,
                rate=spent / budget if budget else None,
                mean_score=mean_score(subs),
                weighted_score=weighted_score(subs),
                grades=grades,
                errors=sum(s.result.errors for s in subs),
                warnings=sum(s.result.warnings for s in subs),
            )
        )
    return rows


def _department_name(subs: Sequence[Submission], on_roster: Sequence[RosterStatus]) -> str:
    """The most common non-blank name the projects give, else the roster's, else blank."""
    for names in (
        Counter(_text(_brief(s).dept_name) for s in subs),
        Counter(_text(r.row.values.get("dept_name")) for r in on_roster),
    ):
        names.pop("", None)
        if names:
            return max(names, key=lambda n: names[n])  # the first seen of the most common
    return ""


def departments_json(collection: Collection) -> list[dict]:
    """The figures of 部门汇总 as JSON-ready dicts (for `collect --json`), keyed by the
    `DepartmentRow` field names."""
    return [dataclasses.asdict(r) for r in department_rows(collection)]


def other_counts(collection: Collection) -> dict[str, int]:
    """Errors and warnings of no department (部门汇总's 其他 row): with the departments' they
    add up to the collection's live counts."""
    found = collection.unattributed()
    return {
        "errors": sum(f.severity == ERROR for f in found),
        "warnings": sum(f.severity == WARNING for f in found),
    }


def grade_labels(projects: Sequence[Submission]) -> list[str]:
    """The grade columns: the first project's spec's grades, then any other grade seen."""
    labels = [g.label for g in _brief(projects[0]).spec.grades] if projects else []
    labels = labels or list(DEFAULT_GRADES)
    for s in projects:
        g = _grade(s)
        if g is not None and g not in labels:
            labels.append(g)
    return labels


def mean_score(projects: Sequence[Submission]) -> float | None:
    """Simple mean of the project totals that could be scored completely (None when none)."""
    totals = [t for s in projects if (t := _total(s)) is not None]
    return sum(totals) / len(totals) if totals else None


def weighted_score(projects: Sequence[Submission]) -> float | None:
    """Σ(总分 × 预算数) ÷ Σ预算数 over projects with a score and a budget above 0."""
    pairs = [
        (t, b)
        for s in projects
        if (t := _total(s)) is not None and (b := _brief(s).budget) and b > 0
    ]
    weight = sum(b for _, b in pairs)
    return sum(t * b for t, b in pairs) / weight if weight else None


def _money(projects: Sequence[Submission]) -> tuple[float, float]:
    # Rounded like Record.fund: 100 + 114.56 + 210 must be 424.56, not 424.56000000000006.
    budget = sum(_brief(s).budget or 0.0 for s in projects)
    spent = sum(_brief(s).spent or 0.0 for s in projects)
    return round(budget, 6), round(spent, 6)


def _rec(s: Submission) -> Record:
    """The record as counted: the file's, with the office's issued values in place. In a
    large collection it is read back from disk (`spill`): only the one pass that writes 项目明细
    and 绩效指标 asks for it; the other passes read `_brief`."""
    rec = s.counted_record
    assert rec is not None  # collection.projects holds readable files only
    return rec


def _brief(s: Submission) -> Brief:
    """The figures as counted (`Submission.brief`): names, amounts, score, kept in memory."""
    b = s.brief
    assert b is not None  # collection.projects holds readable files only
    return b


def _score(s: Submission) -> ProjectScore | None:
    return s.counted_score


def _detail(s: Submission) -> Detail:
    """What 项目明细 and 绩效指标 show beyond the brief, as counted (`Submission.detail`): in a
    large collection read back from disk without the record."""
    d = s.detail
    assert d is not None  # collection.projects holds readable files only
    return d


def _total(s: Submission) -> float | None:
    """The project's total where it could be scored completely: a part of a score is none."""
    b = _brief(s)
    return b.total if b.complete else None


def _grade(s: Submission) -> str | None:
    b = _brief(s)
    if not b.scored:
        return None
    return b.grade if b.complete else INCOMPLETE


def _shown_grade(s: Submission) -> str | None:
    """The grade as the summary shows it: marked as ours (核定) unless the score is
    incomplete."""
    grade = _grade(s)
    return grade + GRADE_BASIS if grade and grade != INCOMPLETE else grade


def _level1_labels(subs: Sequence[Submission]) -> list[str]:
    """Every 一级 of the forms of `subs`, in the order first met: a column each."""
    level1: list[str] = []
    for s in subs:
        level1 += [x.label for x in _brief(s).spec.level1 if x.label not in level1]
    return level1


def _subtotals(b: Brief, d: Detail, level1: list[str]) -> list[float | None]:
    """The sub-score of each 一级 column: blank where the form has no such 一级."""
    labels = {x.label for x in b.spec.level1}
    return [
        d.subtotals.get(label, 0.0) if b.scored and label in labels else None for label in level1
    ]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# -- writing -----------------------------------------------------------------------------------
def build_summary(
    collection: Collection,
    *,
    generated: datetime | None = None,
    history: History | None = None,
    received: Mapping[tuple[str, str], tuple[datetime, datetime]] | None = None,
) -> bytes:
    """Build the summary workbook.

    Args:
        collection: what `collect` found.
        generated: the time printed on the summary and stored as its creation date; give it to
            get the same bytes for the same collection (default: now).
        history: last year's projects (`history.history`, from the store): the 同比 sheets.
        received: per project (主管部门代码, 项目名称), when a file of it was first and last
            received by earlier runs (the store): 报送情况's 首次收到 / 最近收到 then go back
            further than the files in the inbox now.

    Returns:
        The .xlsx file's bytes.
    """
    package, bulk = _package(collection, generated, history, received)
    out = io.BytesIO()
    try:
        _with_rows(package, bulk, out)
    finally:
        _close(bulk)
    return out.getvalue()


def _package(
    collection: Collection,
    generated: datetime | None,
    history: History | None,
    received: Mapping[tuple[str, str], tuple[datetime, datetime]] | None,
) -> tuple[bytes, dict[int, _BulkTable]]:
    """The workbook as xlsxwriter writes it, its big tables' rows aside (`_with_rows`)."""
    if generated is None:
        generated = datetime.now().replace(microsecond=0)
    generated = generated.replace(tzinfo=None)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {**XLSXWRITER_OPTIONS, "remove_timezone": True})
    writer = _SummaryWriter(wb, collection, generated, history, received)
    try:
        with no_gc_pauses():  # millions of cells' short-lived parts: see there
            writer.write()
            wb.close()
    except BaseException:
        _close(writer.bulk)  # and a child writing rows
        raise
    return buf.getvalue(), writer.bulk


def _close(bulk: dict[int, _BulkTable]) -> None:
    """Close the tables' rows (temporary files), and end a child still writing some."""
    for table in bulk.values():
        table.close()


def write_summary(
    collection: Collection,
    path: Path | str,
    *,
    generated: datetime | None = None,
    history: History | None = None,
    received: Mapping[tuple[str, str], tuple[datetime, datetime]] | None = None,
) -> Path:
    """Write the summary to `path` atomically and return the path. The rows of its big tables
    go straight into the file (about 1 KB a project): held in memory and copied, they were the
    largest part of `collect`'s peak at 100,000 projects.

    Raises:
        OutputError: `path` is a folder or cannot be written.
    """
    package, bulk = _package(collection, generated, history, received)
    try:
        return write_output(path, partial(_with_rows, package, bulk))
    finally:  # the rows' temporary files, also when the output could not be opened
        _close(bulk)


def _ok(rc: int | None, what: str) -> None:
    # xlsxwriter only warns and returns -1 on a bad call: a bug here must not pass silently.
    if rc is not None and rc < 0:
        raise RuntimeError(f"{what} returned {rc}")


def continuation_names(sheet: str, rows: int, header_row: int = 0) -> list[str]:
    """The sheets a table of `rows` data rows under a header on row `header_row` (0-based)
    takes: `sheet`, then `sheet(2)`, `sheet(3)` … while it would pass SHEET_ROW_LIMIT."""
    per_sheet = _rows_per_sheet(header_row)
    count = max(1, -(-rows // per_sheet))
    return [sheet, *(f"{sheet}({n})" for n in range(2, count + 1))]


def _rows_per_sheet(header_row: int) -> int:
    """Data rows a sheet holds under its header row, within SHEET_ROW_LIMIT."""
    per_sheet = SHEET_ROW_LIMIT - header_row - 1
    if per_sheet < 1:
        raise ValueError(f"SHEET_ROW_LIMIT {SHEET_ROW_LIMIT} leaves no room for a data row")
    return per_sheet


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


class _Table:
    """One table on a sheet: a header row and data rows, with column widths and row heights
    fitted to what was written, frozen header, autofilter and print setup."""

    def __init__(
        self,
        ws: Any,
        fmt: dict[str, Any],
        header_row: int,
        columns: Sequence[tuple[str, str]],
    ) -> None:
        self.ws, self.fmt, self.header_row = ws, fmt, header_row
        self.headers = [header for header, _ in columns]
        self.kinds = [kind for _, kind in columns]
        self.widths = [_header_width(h) for h, _ in columns]
        self.texts: dict[int, list[tuple[int, str]]] = {}
        self.next_row = header_row + 1
        for col, (header, _) in enumerate(columns):
            _ok(write_text(ws, header_row, col, header, fmt["head"]), "write_string")

    @property
    def last_data_row(self) -> int:
        return self.next_row - 1

    def add(self, values: Sequence[Any], styles: dict[int, str] | None = None) -> int:
        """Write one row of values (str, number, datetime or None) and return its index."""
        row = self.next_row
        for col, value in enumerate(values):
            style = (styles or {}).get(col, self.kinds[col])
            self.put(row, col, value, style)
        self.next_row += 1
        return row

    def put(self, row: int, col: int, value: Any, style: str) -> None:
        ws, f = self.ws, self.fmt[style]
        kind = self.kinds[col]
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if value is None:
            _ok(ws.write_blank(row, col, None, f), "write_blank")
            return
        if isinstance(value, datetime):
            _ok(ws.write_datetime(row, col, value.replace(tzinfo=None), f), "write_datetime")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            _ok(ws.write_number(row, col, value, f), "write_number")
        else:
            text = str(value)[:MAX_CELL_TEXT]
            # Never write(): a unit's "=HYPERLINK(…)" must stay the text it typed.
            rc = write_text(ws, row, col, text, f)
            if rc != -2:  # -2: cut at Excel's cell limit, which is all a cell can hold
                _ok(rc, "write_string")
            self.texts.setdefault(row, []).append((col, text))
        _widen(self.widths, col, _cell_text(value, kind))

    def formula(self, row: int, col: int, formula: str, style: str, cached: Any) -> None:
        """A formula with its cached result (what shows until a program recalculates)."""
        value = "" if cached is None else cached
        if isinstance(value, float) and not math.isfinite(value):
            value = ""  # xlsxwriter would write <v>inf</v>, which no program can open
        _ok(self.ws.write_formula(row, col, formula, self.fmt[style], value), "write_formula")
        if isinstance(value, (int, float)):
            self.widths[col] = max(self.widths[col], display_width(_shown(value, self.kinds[col])))

    def finish(
        self,
        *,
        print_title_rows: tuple[int, int] | None = None,
        caps: dict[str, int] | None = None,
        repeat_col: int | None = None,
    ) -> None:
        """Column widths, wrapped-row heights, frozen header, filter and print setup.

        `caps` narrows columns below MAX_WIDTH by header (their text wraps); with `repeat_col` (the
        project's name) a table too wide to print one page wide at MIN_PRINT_SCALE is printed
        on several pages wide with that column repeated (`_print_plan`)."""
        ws = self.ws
        caps = caps or {}
        widths = [
            min(w, caps.get(h, MAX_WIDTH)) + 2
            for h, w in zip(self.headers, self._fitted_widths(), strict=True)
        ]
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        self._rows_fitted(widths)
        ws.set_row(self.header_row, 2 * LINE_HEIGHT + 4)
        last_col = len(self.kinds) - 1
        ws.freeze_panes(self.header_row + 1, 0)
        _ok(
            ws.autofilter(self.header_row, 0, max(self.header_row, self.last_data_row), last_col),
            "autofilter",
        )
        first, last = print_title_rows or (self.header_row, self.header_row)
        _ok(ws.repeat_rows(first, last), "repeat_rows")
        _print_setup(ws, widths, repeat_col)

    def _fitted_widths(self) -> list[int]:
        return self.widths

    def _rows_fitted(self, widths: list[float]) -> None:
        """Give rows whose text wraps the height of their lines."""
        for row, cells in self.texts.items():
            lines = max(_lines(text, widths[col]) for col, text in cells)
            if lines > 1:
                self.ws.set_row(row, lines * LINE_HEIGHT + 3)


#: Rows a bulk table holds in memory before it moves them to a temporary file (`_spill`).
SPILL_ROWS = 4096
#: 绩效指标's rows from which a child process makes them while this one writes the rest
#: (`_IndicatorRows`): fewer take less time than they would save.
FORK_MIN_ROWS = 5_000
#: Texts (by column) and numbers whose cells a bulk table remembers while writing its rows
#: (`_rows_fitted`).
_KNOWN_CELLS_MAX = 100_000


class _BulkTable(_Table):
    """A table of many rows (项目明细, 绩效指标, 问题清单, 报送情况) whose data rows are written
    here as sheet XML, and put into the package once xlsxwriter has closed it (`_with_rows`).

    xlsxwriter takes about 5 µs a cell and keeps every cell until it closes; a province's
    10,000 projects make two million cells. Here rows wait as the values they are made of
    (past SPILL_ROWS, pickled a chunk at a time into a temporary file, their widths counted),
    and are written out once, straight to a temporary file, when the column widths are known.
    The cells are those xlsxwriter would write: the table's styles and texts in its shared
    string table (asked for with its own `_get_xf_index` and `_get_shared_string_index`, so
    both are written with the workbook), text never a formula, numbers, dates as serial
    numbers, empty cells with their borders. An `inline` table (绩效指标) keeps every text in
    its cell, as xlsxwriter's constant_memory mode does: its rows can then be written by
    another process (`_IndicatorRows`). A text of the form "<r>…</r>", which that table
    would copy as rich-text XML, stays in its cell as an inline string (`_inline_text`,
    escaped with xlsxwriter's own `XMLwriter._escape_control_characters` and
    `utility._preserve_whitespace`). These four private names are why xlsxwriter is pinned
    below 4 (pyproject.toml); tests/test_summary.py reads every kind of text back."""

    def __init__(
        self,
        ws: Any,
        fmt: dict[str, Any],
        header_row: int,
        columns: Sequence[tuple[str, str]],
        *,
        inline: bool = False,
    ) -> None:
        super().__init__(ws, fmt, header_row, columns)
        #: every text in its cell (an inline string), none in the shared-string table: rows
        #: that touch nothing of the workbook can be written by another process (`_IndicatorRows`)
        self.inline = inline
        #: the style index of each format a cell uses (`freeze_styles`)
        self.styles = _XfIndexes(fmt)
        #: the rows added since the last `_spill`
        self.rows: list[tuple[Sequence[Any], dict[int, str] | None]] = []
        #: earlier rows, pickled a chunk at a time (`_spill`), their widths counted already
        self._spilled: IO[bytes] | None = None
        #: the file `finish` writes the rows' XML into (default: a temporary one)
        self.out: IO[bytes] | None = None
        #: the <row> elements of the data rows, once `finish` has written them (`rows_xml`)
        self.xml: IO[bytes] | None = None
        #: the rows' XML as another process writes it (`_IndicatorRows._stream`)
        self.pending: Callable[[_BulkTable], Iterator[bytes]] | None = None
        #: the column widths `finish` gave the sheet, for rows written after it
        self.widths_final: list[float] | None = None
        #: what else to close with this table (`close`)
        self.source: _IndicatorRows | None = None

    def freeze_styles(self) -> None:
        """Give each column's format its style index now, and refuse any other later: rows
        written in another process could not tell this workbook of an index they gave."""
        for kind in self.kinds:
            self.styles[kind]
        self.styles.frozen = True

    def rows_xml(self) -> Iterator[bytes] | None:
        """The data rows' XML, a piece at a time: as `finish` wrote it, or as another process
        writes it (`pending`); None when the table had none written (xlsxwriter wrote it)."""
        if self.pending is not None:
            return self.pending(self)
        if self.xml is None:
            return None
        self.xml.seek(0)
        return iter(partial(self.xml.read, 1024 * 1024), b"")

    def make_here(self) -> None:
        """Make the rows in this process, when the other process making them failed."""
        if self.pending is not None and self.source is not None:
            self.source.make_here()

    def close(self) -> None:
        """Close the rows' XML, and end whatever was making it."""
        if self.source is not None:
            self.source.close()
        if self.xml is not None:
            self.xml.close()

    def add(self, values: Sequence[Any], styles: dict[int, str] | None = None) -> int:
        self.rows.append((values, styles))
        self.next_row += 1
        if len(self.rows) >= SPILL_ROWS:
            self._spill()
        return self.next_row - 1

    def _spill(self) -> None:
        """Count the rows held into the widths and move them to a temporary file: a province's
        indicator rows (460 bytes each in memory) would otherwise all wait for `finish`."""
        self._fitted_widths()
        if self._spilled is None:
            self._spilled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _rows_fitted
        # marshal takes texts, numbers and blanks (most chunks) in half pickle's time, and
        # refuses anything else (a date, a subclass) rather than change its type
        try:
            chunk = b"m" + marshal.dumps(self.rows)
        except ValueError:
            chunk = b"p" + pickle.dumps(self.rows, protocol=pickle.HIGHEST_PROTOCOL)
        self._spilled.write(len(chunk).to_bytes(8, "little") + chunk)
        self.rows = []

    def _all_rows(self) -> Iterator[tuple[Sequence[Any], dict[int, str] | None]]:
        """Every row in order: those spilled, then those held."""
        if self._spilled is not None:
            self._spilled.seek(0)
            while size := int.from_bytes(self._spilled.read(8), "little"):
                data = self._spilled.read(size)
                load = marshal.loads if data[:1] == b"m" else pickle.loads
                yield from load(memoryview(data)[1:])
            self._spilled.close()
            self._spilled = None
        yield from self.rows

    def _fitted_widths(self) -> list[int]:
        # Column by column: the same widths as `_Table.put` gives cell by cell (`_widest`);
        # spilled rows were counted before they went (widths only grow: any order gives these).
        if self.rows:
            columns = zip(*(values for values, _ in self.rows), strict=True)
            for col, (column, kind) in enumerate(zip(columns, self.kinds, strict=True)):
                self.widths[col] = _widest(column, kind, self.widths[col])
        return self.widths

    def _rows_fitted(self, widths: list[float]) -> None:
        if self.pending is not None:
            self.widths_final = list(widths)  # the rows come from elsewhere, at these widths
            return
        self.xml = self._render(widths, self.out)

    def _render(self, widths: list[float], out: IO[bytes] | None = None) -> IO[bytes]:
        """The data rows' XML at these column widths, written to `out` (default: a temporary
        file), which is returned at its start."""
        # The style index xlsxwriter gives a format when a cell uses it (and then writes it).
        styles = self.styles
        # Texts go in xlsxwriter's shared-string table, escaped there as every other string
        # (or each in its cell: `inline`).
        shared = self.ws.str_table._get_shared_string_index
        inline = self.inline
        kinds = self.kinds
        # each column's '<c r="B' and its usual ' s="7"', written before and after the row number
        starts = [f'<c r="{xl_col_to_name(col)}' for col in range(len(kinds))]
        usual = [f'" s="{styles[kind]}"' for kind in kinds]
        if out is None:
            out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - _with_rows closes it
        chunk: list[str] = []
        # A row is its cells joined by its row number: '<c r="A', '2', '" s="7"…</c><c r="B',
        # '2', … so each cell after its row number, with the start of the cell after it, is
        # the same piece wherever the value recurs in its column (`piece`): no string is made
        # for a cell. A cell of a style of its own (`own`) gets that style in its piece.
        nexts = [*starts[1:], ""]
        blanks = [usual[col] + "/>" + nexts[col] for col in range(len(kinds))]
        # Each text's cell after its style, the lines it takes, whether it is a shared string,
        # and its piece, once a column: the same texts recur (labels, names, 目标值 …), and a
        # text's index and lines were most of the table's time. A shared string's use is still
        # counted (`<sst count>`): `reused`.
        known: list[dict[str, tuple[str, int, bool, str]]] = [{} for _ in kinds]
        size = 0
        reused = 0
        number_pieces: list[dict[float, str]] = [{} for _ in kinds]

        def new_text(col: int, value: str) -> tuple[str, int, bool, str]:
            """A text's first cell in its column (its shared string's use counted by
            `shared`), kept while the table remembers fewer than _KNOWN_CELLS_MAX."""
            nonlocal size
            xml, text_lines, is_shared = self._text_cell(value, widths[col], shared, inline)
            got = (xml, text_lines, is_shared, usual[col] + xml + nexts[col])
            if size < _KNOWN_CELLS_MAX:
                known[col][value] = got
                size += 1
            return got

        for n, (values, own) in enumerate(self._all_rows(), start=self.header_row + 2):
            row = str(n)
            lines = 1
            pieces = [starts[0]]
            piece = pieces.append
            for col, value in enumerate(values):
                kind = type(value)
                if kind is str:
                    got = known[col].get(value)
                    if got is None:
                        got = new_text(col, value)
                    elif got[2]:
                        reused += 1
                    if got[1] > lines:
                        lines = got[1]
                    piece(got[3])
                elif value is None:
                    piece(blanks[col])
                elif (kind is float or kind is int) and math.isfinite(value):
                    # scores, weights and counts recur; 0 and -0.0 (equal keys) not kept
                    shown = number_pieces[col].get(value)
                    if shown is None:
                        shown = f"{usual[col]}><v>{value:.16G}</v></c>{nexts[col]}"
                        if value and size < _KNOWN_CELLS_MAX:
                            number_pieces[col][value] = shown
                            size += 1
                    piece(shown)
                else:
                    odd: list[str] = []
                    lines = max(lines, self._odd_cell(odd, usual[col], value, widths[col]))
                    piece(odd[0] + nexts[col])
            if own:  # a cell of a style of its own: its piece begins with the usual one's
                for col, style in own.items():
                    pieces[col + 1] = f'" s="{styles[style]}"' + pieces[col + 1][len(usual[col]) :]
            body = row.join(pieces) if values else ""
            height = f' ht="{lines * LINE_HEIGHT + 3:g}" customHeight="1"' if lines > 1 else ""
            chunk.append(f'<row r="{row}"{height}>{body}</row>')
            if len(chunk) >= 1000:
                out.write("".join(chunk).encode())
                chunk.clear()
        out.write("".join(chunk).encode())
        out.flush()
        out.seek(0)
        if reused:
            self.ws.str_table.count += reused
        self.rows = []  # written: the values are not needed any more
        return out

    @staticmethod
    def _text_cell(
        value: str, width: float, shared: Callable[[str], int], inline: bool = False
    ) -> tuple[str, int, bool]:
        """A text's cell after its style (` t="s"><v>7</v></c>` of a shared string, or the text
        in the cell: `_inline_text`), the lines it takes in a column `width` wide, and whether
        it is a shared string (each use counted)."""
        text = value if len(value) <= MAX_CELL_TEXT else value[:MAX_CELL_TEXT]
        lines = 1
        if 2 * len(text) > width - 1 or "\n" in text:
            lines = _lines(text, width)
        if not inline and (text[:3] != "<r>" or not looks_rich(text)):
            return f' t="s"><v>{shared(text)}</v></c>', lines, True
        return _inline_text("", text), lines, False

    def _odd_cell(self, cells: list[str], at: str, value: Any, width: float) -> int:
        """A cell of any value but a plain text, a finite number or None (a date, a float that
        is not finite, a flag, a str or number subclass): its XML, and the lines it takes."""
        if isinstance(value, float) and not math.isfinite(value):
            cells.append(f"{at}/>")
        elif isinstance(value, datetime):
            cells.append(f"{at}><v>{_excel_serial(value):.16G}</v></c>")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            cells.append(f"{at}><v>{value:.16G}</v></c>")
        else:
            text = str(value)[:MAX_CELL_TEXT]
            if self.inline or looks_rich(text):
                cells.append(_inline_text(at, text))
            else:
                index = self.ws.str_table._get_shared_string_index(text)
                cells.append(f'{at} t="s"><v>{index}</v></c>')
            if 2 * len(text) > width - 1 or "\n" in text:
                return _lines(text, width)
        return 1


class _SplitTable:
    """A bulk table continued on further sheets (`continuation_names`) before it would pass
    SHEET_ROW_LIMIT: each part is a `_BulkTable` of its own sheet, with the same header, the
    same column widths (fitted to every part's rows), frozen header, filter and print setup;
    rows fill the first sheet, then the next, in order."""

    def __init__(self, parts: Sequence[_BulkTable]) -> None:
        self.parts = list(parts)
        self.per_sheet = _rows_per_sheet(self.parts[0].header_row)
        self.count = 0

    def add(self, values: Sequence[Any], styles: dict[int, str] | None = None) -> int:
        """Add one row on the sheet it falls on; returns its row index there."""
        part = self.count // self.per_sheet
        if part >= len(self.parts):
            raise RuntimeError(f"more rows than the {len(self.parts)} sheets counted hold")
        self.count += 1
        return self.parts[part].add(values, styles)

    def fit(self) -> None:
        """Fit the column widths to every row added (each part's: the widest of all parts)."""
        if len(self.parts) > 1:
            # A sheet counted but left empty, or too few sheets, is a bug in the counting.
            if max(1, -(-self.count // self.per_sheet)) != len(self.parts):
                raise RuntimeError(f"{self.count} rows do not fill {len(self.parts)} sheets")
            fitted = [list(p._fitted_widths()) for p in self.parts]
            widths = [max(col) for col in zip(*fitted, strict=True)]
            for p in self.parts:
                p.widths = list(widths)  # fitting them again keeps them: every cell fits

    def finish(self, *, caps: dict[str, int] | None = None, repeat_col: int | None = None) -> None:
        self.fit()
        for p in self.parts:
            p.finish(caps=caps, repeat_col=repeat_col)


def _inline_text(at: str, text: str) -> str:
    """A text cell whose text stays in the cell: for a text xlsxwriter's shared strings would
    copy as rich-text XML (`generate.write_text`), escaped as it escapes every other string."""
    text = XMLwriter._escape_control_characters(text)
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{at} t="inlineStr"><is><t{space}>{text}</t></is></c>'


class _XfIndexes(dict):
    """Format name -> xlsxwriter's style index, asked for the first time a cell uses it."""

    def __init__(self, fmt: dict[str, Any]) -> None:
        super().__init__()
        self.fmt = fmt
        #: no index to be given any more (`_BulkTable.freeze_styles`)
        self.frozen = False

    def __missing__(self, name: str) -> int:
        if self.frozen:
            raise RuntimeError(f"style {name!r} not given its index before the rows were written")
        index = self[name] = self.fmt[name]._get_xf_index()
        return index


def _widen(widths: list[int], col: int, shown: str | None) -> None:
    """Widen column `col` to fit a cell showing `shown` (None: an empty cell).

    Only a width up to MAX_WIDTH matters, and no text is wider than twice its length, so most
    cells are settled without measuring (measuring each was half the time of a big summary)."""
    if shown is not None and widths[col] < MAX_WIDTH and 2 * len(shown) > widths[col]:
        widths[col] = max(widths[col], *(display_width(x) for x in shown.split("\n")))


#: Column kinds whose numbers show no wider than the largest or the smallest of them: the
#: digits before the point grow with the size, and a minus sign is one more.
_MONOTONE_KINDS = ("amount", "rate", "score", "int")


#: The types of a column of texts and blanks, and of one of numbers and blanks.
_TEXTS = {str, type(None)}
_NUMBERS = {float, int, type(None)}
_IS_NOT_NONE = partial(operator.is_not, None)


def _widest(column: Sequence[Any], kind: str, width: int) -> int:
    """`width` widened to fit every cell of `column`, as `_widen(_cell_text(…))` for each cell
    in turn gives, without formatting each number or measuring each text: most of a column is
    settled by its longest text and its largest and smallest number. A column of texts only,
    or numbers only (most are), is sorted out without a pass in Python over its cells."""
    types = set(map(type, column))
    odd = False  # a value of another type: a date, a flag …
    if types <= _TEXTS:
        texts: list[Any] = list(filter(None, column))  # "" is no wider than a blank
        numbers: list[Any] = []
    elif types <= _NUMBERS:
        texts = []
        numbers = list(filter(_IS_NOT_NONE, column))
    else:
        texts = [v for v in column if type(v) is str]
        numbers = [v for v in column if type(v) is float or type(v) is int]
        odd = len(texts) + len(numbers) + column.count(None) < len(column)
    if texts and width < MAX_WIDTH and 2 * max(map(len, texts)) > width:
        # Longest first: no text is wider than twice its length, so the measuring stops at
        # the first text too short to widen the column.
        for text in sorted({t for t in texts if 2 * len(t) > width}, key=len, reverse=True):
            if 2 * len(text) <= width or width >= MAX_WIDTH:
                break
            _widen(box := [width], 0, text[:MAX_CELL_TEXT])
            width = box[0]
    finite = list(filter(math.isfinite, numbers))
    if finite and kind in _MONOTONE_KINDS:
        finite = [max(finite), min(finite)]
    for value in finite:
        width = max(width, display_width(_shown(value, kind)))
    if odd:
        box = [width]
        for value in column:
            if value is not None and type(value) not in (str, float, int):
                _widen(box, 0, _cell_text(value, kind))
        width = box[0]
    return width


def _cell_text(value: Any, kind: str) -> str | None:
    """What a cell shows, for fitting its column (None for an empty cell)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _shown(value, kind)
    return str(value)[:MAX_CELL_TEXT]


#: Excel's day 0 (serial numbers after February 1900, which are all that occur here).
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _excel_serial(value: datetime) -> float:
    delta = value.replace(tzinfo=None) - _EXCEL_EPOCH
    return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400


class _RowsLost(Exception):
    """The child process making a table's rows ended before it had written them all."""


def _with_rows(package: bytes, tables: dict[int, _BulkTable], out: IO[bytes]) -> None:
    """Write to `out` the package with each bulk table's data rows in its sheet (`tables` by
    sheet position: xlsxwriter writes the n-th sheet added as xl/worksheets/sheet<n>.xml).

    The sheets whose rows a child process may write (`_IndicatorRows`) go last, their rows
    compressed here as the child writes them; should it fail on the way, their rows are made
    here and the package is written again from its start."""
    try:
        _write_package(package, tables, out)
    except _RowsLost:
        for table in tables.values():
            table.make_here()
        out.seek(0)
        out.truncate()
        _write_package(package, tables, out)


def _write_package(package: bytes, tables: dict[int, _BulkTable], out: IO[bytes]) -> None:
    parts = {f"xl/worksheets/sheet{i + 1}.xml": t for i, t in tables.items()}
    with (
        zipfile.ZipFile(io.BytesIO(package)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst,
    ):
        members = src.infolist()
        # last, whether made by a child or not: the same bytes either way
        later = [i for i in members if i.filename in parts and parts[i.filename].inline]
        for info in [i for i in members if i not in later] + later:
            body = src.read(info)
            table = parts.get(info.filename)
            xml = None if table is None else table.rows_xml()
            if table is None or xml is None:
                dst.writestr(info, body)
                continue
            head, sep, tail = body.partition(b"</sheetData>")
            if not sep:
                raise RuntimeError(f"no <sheetData> in {info.filename}")
            last = xl_rowcol_to_cell(
                max(table.header_row, table.last_data_row), len(table.kinds) - 1
            )
            head = re.sub(
                rb'<dimension ref="[^"]*"/>',
                f'<dimension ref="A1:{last}"/>'.encode(),
                head,
                count=1,
            )
            _fast_deflate(info)
            with dst.open(info, "w", force_zip64=True) as fh:
                fh.write(head)
                for piece in xml:
                    fh.write(piece)
                fh.write(sep + tail)


def _fast_deflate(info: zipfile.ZipInfo) -> None:
    """Deflate this member at level 1: a big table's XML is tens of megabytes, and level 1
    took 0.3 s instead of 1 s at 10,000 projects, for a file of 10.6 MB instead of 7.4. zipfile
    takes a level for a ZipInfo only as an attribute (`compress_level` from Python 3.13)."""
    for attr in ("compress_level", "_compresslevel"):
        if hasattr(info, attr):
            setattr(info, attr, 1)
            return


def _print_setup(ws: Any, widths: Sequence[float], repeat_col: int | None = None) -> None:
    """A4 landscape, the sheet's name above and the page number below; one page wide, or, for
    a table with `repeat_col` that would print smaller than MIN_PRINT_SCALE so, several pages
    wide at a fixed scale with that column repeated on each, pages in reading order (all of
    the first rows' pages, then the next rows')."""
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.center_horizontally()
    ws.set_margins(**PRINT_MARGINS)
    ws.set_header("&L&A")
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.print_across()
    plan = _print_plan(widths, repeat_col) if repeat_col is not None else None
    if plan is None:
        ws.fit_to_pages(1, 0)
        return
    scale, breaks = plan
    ws.set_print_scale(scale)
    ws.set_v_pagebreaks(breaks)
    ws.repeat_columns(repeat_col)


def column_pixels(width: float) -> int:
    """A column's width in pixels (96 dpi) for a width in characters, as xlsxwriter writes it
    and Excel shows it: 7 pixels a character of the default font, and 5 of padding."""
    return int(width * 7 + 0.5) + 5


def print_room() -> float:
    """The width between A4 landscape's margins, in pixels at 96 dpi."""
    inches = A4_LANDSCAPE_INCHES[0] - PRINT_MARGINS["left"] - PRINT_MARGINS["right"]
    return inches * 96


def _print_plan(widths: Sequence[float], repeat_col: int) -> tuple[int, list[int]] | None:
    """How to print a table of columns `widths` readably: None when it fits one page wide at
    MIN_PRINT_SCALE % or more (then it is fitted to the width), else (scale %, the first column
    of every page after the first) for the fewest pages wide at MIN_PRINT_SCALE, at the largest
    scale (at most 100) that still needs no more pages. Each page after the first repeats
    column `repeat_col` at its left; a page breaks only between columns."""
    pixels = [column_pixels(w) for w in widths]
    room = print_room() * PRINT_SAFETY

    def breaks(scale: int) -> list[int]:
        capacity = room * 100 / scale
        out, used = [], 0
        for col, px in enumerate(pixels):
            if used and used + px > capacity:
                out.append(col)
                used = pixels[repeat_col] if col > repeat_col else 0
            used += px
        return out

    fewest = len(breaks(MIN_PRINT_SCALE))
    if fewest == 0:
        return None
    scale = next(s for s in range(100, MIN_PRINT_SCALE - 1, -1) if len(breaks(s)) <= fewest)
    return scale, breaks(scale)


def _header_width(header: str) -> int:
    # Headers wrap onto two lines, so a long one needs only about half its width; the filter
    # button takes 2 more.
    width = display_width(header)
    parts = header.split(" ")
    if len(parts) > 1:
        width = max(display_width(p) for p in parts)
    elif width > 10:
        width = math.ceil(width / 2) + 1
    return width + 2


def _lines(text: str, width: float) -> int:
    room = max(width - 1, 1)
    return sum(
        1 if 2 * len(part) <= room else max(1, math.ceil(display_width(part) / room))
        for part in text.split("\n")
    )


def _shown(value: float, kind: str) -> str:
    """How a number looks in its format, for fitting the column."""
    if kind == "amount":
        return f"{value:,.2f}"
    if kind == "rate":
        return f"{value:.2%}"
    if kind == "score":
        return f"{value:.2f}"
    if kind == "int":
        return f"{value:.0f}"
    return f"{value:g}"


@dataclasses.dataclass
class _ProjectLayout:
    """The columns of 项目明细, known before it is written (部门汇总's formulas point at it)."""

    sources: list[tuple[str, str]]  # (row key, short label), union over the forms present
    statuses: list[str]
    level1: list[str]
    columns: list[tuple[str, str]]
    budget_col: int
    total_col: int


def _project_layout(projects: Sequence[Submission]) -> _ProjectLayout:
    sources: dict[str, str] = {}
    statuses: list[str] = []
    for s in projects:
        spec = _brief(s).spec
        for r in spec.source_rows:
            sources.setdefault(r.key, r.short)
        statuses += [x for x in spec.statuses if x not in statuses]
    level1 = _level1_labels(projects)
    statuses = statuses or list(DEFAULT_STATUSES)
    columns = [
        ("主管部门代码", "center"),
        ("主管部门", "text"),
        ("实施单位", "text"),
        ("项目名称", "text"),
        ("项目代码", "center"),
    ]
    for short in sources.values():
        columns += [(f"{short} 预算数", "amount"), (f"{short} 执行数", "amount")]
    budget_col = len(columns)
    columns += [("预算数合计", "amount"), ("执行数合计", "amount"), ("执行率", "rate")]
    columns += [("指标数", "int")] + [(x, "int") for x in statuses] + [("缺偏差原因", "int")]
    columns += [(x, "score") for x in level1] + [("执行率得分", "score")]
    columns += [("自评总分", "score")]
    total_col = len(columns)
    columns += [("核定总分", "score"), ("等级", "center"), ("计分方式", "center")]
    columns += [("错误", "int"), ("警告", "int"), ("状态", "center"), ("表式", "center")]
    columns += [("来源文件", "text"), ("收到时间", "datetime"), ("单位填报值", "text")]
    return _ProjectLayout(list(sources.items()), statuses, level1, columns, budget_col, total_col)


class _SummaryWriter:
    """Writes the workbook; one method per sheet."""

    def __init__(
        self,
        wb: Any,
        collection: Collection,
        generated: datetime,
        history: History | None = None,
        received: Mapping[tuple[str, str], tuple[datetime, datetime]] | None = None,
    ) -> None:
        self.wb = wb
        self.coll = collection
        self.generated = generated
        self.history = history
        self.received = received or {}
        self.projects = collection.projects
        self.fmt = {}
        for kind, props in _KINDS.items():
            self.fmt[kind] = wb.add_format({**_BASE, **props})
            self.fmt[f"{kind}_total"] = wb.add_format({**_BASE, **props, **_TOTAL})
        self.fmt.update({k: wb.add_format(v) for k, v in _EXTRA.items()})
        self.layout = _project_layout(self.projects)
        #: 部门汇总's figures, also whose findings are (问题清单)
        self.departments = department_rows(collection)
        #: 绩效指标's rows
        self.indicator_rows = sum(_brief(s).indicators for s in self.projects)
        #: the sheets of 绩效指标 and 问题清单: the first, then its continuations, if any
        self.parts = {
            SHEET_INDICATORS: continuation_names(SHEET_INDICATORS, self.indicator_rows),
            SHEET_FINDINGS: continuation_names(
                SHEET_FINDINGS,
                sum(len(s.result.findings) for s in collection.submissions)
                + len(collection.findings),
            ),
        }
        # Added in the contract's order (continuations right after their first sheet); filled
        # in whatever order their formulas need.
        names = [
            SHEET_DEPARTMENTS,
            SHEET_PROJECTS,
            *self.parts[SHEET_INDICATORS],
            *self.parts[SHEET_FINDINGS],
        ]
        if collection.departments:
            names.insert(2, SHEET_DEPARTMENT_FORMS)
        if collection.roster is not None:
            names.append(SHEET_ROSTER)
        if history is not None:
            names += [SHEET_YEAR_ON_YEAR, SHEET_YEAR_ON_YEAR_PROJECTS]
        self.sheets = {n: wb.add_worksheet(n) for n in names}
        #: the tables whose rows are written by `_BulkTable`, by sheet position
        self.bulk: dict[int, _BulkTable] = {}

    def _bulk(
        self, sheet: str, columns: Sequence[tuple[str, str]], *, inline: bool = False
    ) -> _BulkTable:
        table = _BulkTable(self.sheets[sheet], self.fmt, 0, columns, inline=inline)
        self.bulk[list(self.sheets).index(sheet)] = table
        return table

    def _split(
        self, sheet: str, columns: Sequence[tuple[str, str]], *, inline: bool = False
    ) -> _SplitTable:
        return _SplitTable([self._bulk(n, columns, inline=inline) for n in self.parts[sheet]])

    def write(self) -> None:
        self.wb.set_properties(
            {
                "title": self._title(),
                "subject": "项目支出绩效自评",
                "author": "perfeval-xl",
                "comments": f"perfeval-xl {__version__}",
                "created": self.generated,
            }
        )
        self.wb.set_custom_property(PROP_DOCUMENT, DOCUMENT_SUMMARY)
        self.wb.set_custom_property(PROP_GENERATOR, f"perfeval-xl {__version__}")
        # first: a child may make 绩效指标's rows meanwhile (`_IndicatorRows.start`)
        indicators = _IndicatorRows(self)
        here = not indicators.start()
        self._departments()
        self._project_rows(indicators if here else None)
        if self.coll.departments:
            self._department_forms()
        self._findings()
        if self.coll.roster is not None:
            self._roster(self.coll.roster)
        if self.history is not None:
            self._year_on_year(self.history)
        indicators.finish()  # last: another process may be making its rows meanwhile
        self.sheets[SHEET_DEPARTMENTS].activate()

    def _title(self) -> str:
        years = {_brief(s).year for s in self.projects} - {None}
        return f"{years.pop()}年度{TITLE}" if len(years) == 1 else TITLE

    def _subtitle(self) -> str:
        coll = self.coll
        parts = [
            f"生成时间：{self.generated:%Y-%m-%d %H:%M}",
            f"收件箱：{coll.inbox}",
            f"收到文件 {coll.files} 个，汇总项目 {len(self.projects)} 个，"
            f"已被取代 {len(coll.superseded)} 个，无法读取 {len(coll.unreadable)} 个"
            + (f"，临时锁定文件 {locks} 个（不含数据）" if (locks := coll.skipped("W009")) else "")
            + (
                f"，本工具生成的汇总表 {ours} 个（未读取）"
                if (ours := coll.skipped("W608"))
                else ""
            ),
            f"问题：错误 {coll.errors} 处，警告 {coll.warnings} 处"
            f"（见{_sheet_list(self.parts[SHEET_FINDINGS])}）",
        ]
        if len(indicators := self.parts[SHEET_INDICATORS]) > 1:
            parts.append(
                f"绩效指标超过单个工作表 {SHEET_ROW_LIMIT} 行的上限，"
                f"续见{_sheet_list(indicators[1:])}"
            )
        if coll.roster is not None:
            parts.append(
                f"名册 {len(coll.roster)} 项，未收到 {len(coll.missing)} 项（见「{SHEET_ROSTER}」）"
            )
        return "；".join(parts)

    # -- 部门汇总 --------------------------------------------------------------------------
    def _departments(self) -> None:
        ws = self.sheets[SHEET_DEPARTMENTS]
        rows = self.departments
        grades = grade_labels(self.projects)
        columns = [
            ("主管部门代码", "center"),
            ("主管部门", "text"),
            ("应报", "int"),
            ("已报", "int"),
            ("未报", "int"),
            ("有错误", "int"),
            ("项目数", "int"),
            ("预算数（万元）", "amount"),
            ("执行数（万元）", "amount"),
            ("执行率", "rate"),
            ("平均分", "score"),
            ("资金加权平均分", "score"),
            *[(g, "int") for g in grades],
            ("错误", "int"),
            ("警告", "int"),
        ]
        table = _Table(ws, self.fmt, 2, columns)
        for r in rows:
            table.add(
                [
                    r.code,
                    r.name,
                    r.expected,
                    r.received,
                    r.missing,
                    r.with_errors,
                    r.projects,
                    r.budget,
                    r.spent,
                    r.rate,
                    r.mean_score,
                    r.weighted_score,
                    *[r.grades.get(g, 0) for g in grades],
                    r.errors,
                    r.warnings,
                ]
            )
        other = other_counts(self.coll)
        if other["errors"] or other["warnings"]:
            blank = [None] * (_D_GRADES - 2 + len(grades))
            table.add([OTHER_CODE, OTHER_NAME, *blank, other["errors"], other["warnings"]])
        total_row = self._department_totals(table, rows, grades, other)
        table.finish(print_title_rows=(2, 2))
        self._title_rows(ws, table)
        self._charts(ws, table, total_row, grades, len(rows))

    def _department_totals(
        self, table: _Table, rows: list[DepartmentRow], grades: list, other: dict[str, int]
    ) -> int:
        row = table.next_row
        first, last = table.header_row + 1, table.last_data_row
        budget, spent = _money(self.projects)
        roster = self.coll.roster is not None
        errors = _D_GRADES + len(grades)

        def total(name: str) -> int | None:
            return sum(getattr(r, name) for r in rows) if roster else None

        cached: dict[int, Any] = {
            # 应报 and 未报 are known only from a roster: without one they stay blank
            _D_EXPECTED: total("expected"),
            _D_EXPECTED + 1: sum(r.received for r in rows),
            _D_EXPECTED + 2: total("missing"),
            _D_EXPECTED + 3: sum(r.with_errors for r in rows),
            _D_PROJECTS: sum(r.projects for r in rows),
            _D_BUDGET: budget,
            _D_BUDGET + 1: spent,
            _D_RATE: spent / budget if budget else None,
            _D_MEAN: mean_score(self.projects),
            _D_MEAN + 1: weighted_score(self.projects),
            **{_D_GRADES + i: sum(r.grades.get(g, 0) for r in rows) for i, g in enumerate(grades)},
            # the departments' and the 其他 row's: what the header line and the JSON count
            errors: sum(r.errors for r in rows) + other["errors"],
            errors + 1: sum(r.warnings for r in rows) + other["warnings"],
        }
        table.put(row, 0, "合计", "center_total")
        table.put(row, 1, None, "text_total")
        if last < first:  # no range to sum over: the numbers themselves
            for col, value in cached.items():
                table.put(row, col, value, f"{table.kinds[col]}_total")
            return row

        def col_range(col: int) -> str:
            return f"{xl_rowcol_to_cell(first, col)}:{xl_rowcol_to_cell(last, col)}"

        sums = [*range(_D_EXPECTED, _D_RATE), *range(_D_GRADES, errors + 2)]
        for col in sums:
            style = f"{table.kinds[col]}_total"
            if cached[col] is None:
                table.put(row, col, None, style)
            else:
                table.formula(row, col, f"=SUM({col_range(col)})", style, cached[col])
        d, e = xl_rowcol_to_cell(row, _D_BUDGET), xl_rowcol_to_cell(row, _D_BUDGET + 1)
        table.formula(row, _D_RATE, f'=IF({d}=0,"",{e}/{d})', "rate_total", cached[_D_RATE])
        # Means over all projects, not over the department means: straight from 项目明细.
        lay, sheet = self.layout, _quote(SHEET_PROJECTS)
        n = len(self.projects)
        if n == 0:  # no project to average
            for col in (_D_MEAN, _D_MEAN + 1):
                table.put(row, col, None, "score_total")
            return row
        score = f"{sheet}!{_abs_col_range(lay.total_col, 1, n)}"
        budget_ref = f"{sheet}!{_abs_col_range(lay.budget_col, 1, n)}"
        table.formula(
            row,
            _D_MEAN,
            f'=IF(COUNT({score})=0,"",AVERAGE({score}))',
            "score_total",
            cached[_D_MEAN],
        )
        weight = f"SUMPRODUCT(ISNUMBER({score})*({budget_ref}>0)*{budget_ref})"
        weighted = f"SUMPRODUCT(ISNUMBER({score})*({budget_ref}>0)*{budget_ref}*{score})"
        table.formula(
            row,
            _D_MEAN + 1,
            f'=IF({weight}=0,"",{weighted}/{weight})',
            "score_total",
            cached[_D_MEAN + 1],
        )
        return row

    def _title_rows(self, ws: Any, table: _Table) -> None:
        last_col = len(table.kinds) - 1
        ws.set_row(0, 30)
        ws.merge_range(0, 0, 0, last_col, "", self.fmt["title"])
        _ok(write_text(ws, 0, 0, self._title(), self.fmt["title"]), "write_string")
        text = self._subtitle()
        room = sum(min(w, MAX_WIDTH) + 2 for w in table.widths)
        ws.set_row(1, _lines(text, room) * LINE_HEIGHT + 4)
        ws.merge_range(1, 0, 1, last_col, "", self.fmt["subtitle"])
        _ok(write_text(ws, 1, 0, text, self.fmt["subtitle"]), "write_string")

    def _charts(
        self, ws: Any, table: _Table, total_row: int, grades: list[str], departments: int
    ) -> None:
        """执行率 by department and projects per grade, side by side under the table (the 其他
        row, of findings only, is no department)."""
        first = table.header_row + 1
        last = first + departments - 1
        if departments == 0:
            return
        font = {"name": "宋体", "size": 9}
        anchor = total_row + 2
        n = last - first + 1
        rate = self.wb.add_chart({"type": "bar"})
        rate.add_series(
            {
                "name": "执行率",
                "categories": [SHEET_DEPARTMENTS, first, 1, last, 1],
                "values": [SHEET_DEPARTMENTS, first, _D_RATE, last, _D_RATE],
                "fill": {"color": "#4472C4"},
                "data_labels": {"value": True, "num_format": "0.0%", "font": font},
            }
        )
        rate.set_title({"name": "各部门预算执行率", "name_font": {"name": "宋体", "size": 12}})
        rate.set_x_axis({"num_format": "0%", "min": 0, "num_font": font})
        # Bar charts draw the first category at the bottom; reversed, they read like the table.
        rate.set_y_axis({"reverse": True, "crossing": "max", "num_font": font})
        rate.set_legend({"none": True})
        height = max(288, 60 + 28 * n)
        rate.set_size({"width": 560, "height": height})
        _ok(ws.insert_chart(anchor, 0, rate, {"x_offset": 0, "y_offset": 4}), "insert_chart")
        grade = self.wb.add_chart({"type": "column"})
        g0, g1 = _D_GRADES, _D_GRADES + len(grades) - 1
        grade.add_series(
            {
                "name": "项目数",
                "categories": [SHEET_DEPARTMENTS, table.header_row, g0, table.header_row, g1],
                "values": [SHEET_DEPARTMENTS, total_row, g0, total_row, g1],
                "fill": {"color": "#70AD47"},
                "data_labels": {"value": True, "font": font},
            }
        )
        grade.set_title({"name": "各等级项目数", "name_font": {"name": "宋体", "size": 12}})
        grade.set_x_axis({"num_font": font})
        grade.set_y_axis({"min": 0, "major_unit": 1, "num_format": "0", "num_font": font})
        grade.set_legend({"none": True})
        grade.set_size({"width": 400, "height": height})
        _ok(ws.insert_chart(anchor, 0, grade, {"x_offset": 580, "y_offset": 4}), "insert_chart")

    # -- 项目明细 --------------------------------------------------------------------------
    def _project_rows(self, indicators: _IndicatorRows | None) -> None:
        """项目明细, and `indicators` (绩效指标's rows, unless a child process makes them) in
        the same pass: the one pass that reads every record whole (in a large collection each
        is read back from disk once: `spill`). 绩效指标 is finished by the caller, as late as
        it can."""
        lay = self.layout
        table = self._bulk(SHEET_PROJECTS, lay.columns)
        status_col = next(i for i, (h, _) in enumerate(lay.columns) if h == "状态")
        for s in self.projects:
            b, d = _brief(s), _detail(s)
            if indicators is not None:
                indicators.add(s, b, d)
            values: list[Any] = [
                b.dept_code,
                b.dept_name,
                b.unit_name,
                b.project_name,
                b.project_code,
            ]
            for key, _ in lay.sources:
                funds = d.funds.get(key)
                values += funds if funds is not None else (None, None)
            values += [b.budget, b.spent, b.exec_rate]
            values += [b.indicators, *[d.statuses.get(x, 0) for x in lay.statuses]]
            values.append(d.missing_reasons)
            values += _subtotals(b, d, lay.level1)
            values += [
                d.exec_score,
                d.reported_total,
                _total(s),
                _shown_grade(s),
                d.score_kind,
                *_file_columns(s),
                _typed_by_unit(s) or None,
            ]
            table.add(values, {status_col: "bad"} if s.result.errors else None)
        name = lay.columns.index(("项目名称", "text"))
        table.finish(caps=PRINT_CAPS[SHEET_PROJECTS], repeat_col=name)

    # -- 部门整体 --------------------------------------------------------------------------
    def _department_forms(self) -> None:
        """One row per department form used (部门整体支出绩效自评表): its own total, ours (its
        valid 自评得分: the tool cannot apply 评分标准 text), the sub-total of each 一级."""
        forms = self.coll.departments
        level1 = _level1_labels(forms)
        columns = [
            ("主管部门代码", "center"),
            ("主管部门", "text"),
            ("年度", "center"),
            ("自评总分", "score"),
            ("核定总分", "score"),
            *((x, "score") for x in level1),
            ("等级", "center"),
            ("错误", "int"),
            ("警告", "int"),
            ("状态", "center"),
            ("表式", "center"),
            ("来源文件", "text"),
            ("收到时间", "datetime"),
        ]
        table = self._bulk(SHEET_DEPARTMENT_FORMS, columns)
        status_col = next(i for i, (h, _) in enumerate(columns) if h == "状态")
        for s in forms:
            rec, score, result = _rec(s), _score(s), s.result
            year = rec.value("year")
            values: list[Any] = [
                rec.value("dept_code"),
                rec.value("dept_name"),
                None if year is None else str(year),
                score.reported_total if score else None,
                _total(s),
                *_subtotals(_brief(s), _detail(s), level1),
                _shown_grade(s),
                *_file_columns(s),
            ]
            table.add(values, {status_col: "bad"} if result.errors else None)
        table.finish(caps=PRINT_CAPS[SHEET_PROJECTS], repeat_col=1)

    # -- 问题清单 --------------------------------------------------------------------------
    def _findings(self) -> None:
        columns = [
            ("主管部门", "text"),
            ("实施单位", "text"),
            ("项目名称", "text"),
            ("文件", "text"),
            ("工作表", "center"),
            ("单元格", "center"),
            ("代码", "center"),
            ("级别", "center"),
            ("状态", "center"),
            ("栏目", "center"),
            ("说明", "text"),
        ]
        table = self._split(SHEET_FINDINGS, columns)
        sources: dict[str | tuple[str, str | None], Submission] = {}
        for s in self.coll.submissions:
            sources.setdefault(s.result.path, s)
            sources.setdefault(s.item.source, s)
            if s.table is not None:  # a Word annex: each table is its own project's
                sources[(s.result.path, s.table)] = s
        owners = _Owners(self.coll, self.departments)
        # Labels for a finding of no form (the roster's W604): the first project's form, else
        # the default one; the fields such a finding names are labelled alike in every form.
        fallback = _brief(self.projects[0]).spec if self.projects else load_spec()
        # A superseded file's findings are kept (the clerk may ask why) but are not live: they
        # come last, marked, and no count includes them.
        for f, live in self.coll.findings_with_state():
            s = sources.get((f.file, f.sheet)) or sources.get(f.file)
            spec = s.own.spec if s is not None and s.own is not None else None
            error = f.severity == ERROR
            table.add(
                [
                    *owners.of(f, s),
                    s.source if s else f.file,
                    f.sheet,
                    f.cell,
                    f.code,
                    "错误" if error else "提示" if f.severity == INFO else "警告",
                    "有效" if live else "已被取代",
                    _field_label(spec or fallback, f),
                    f.message.render("zh"),
                ],
                {7: "bad" if error else "warn"} if live and f.severity != INFO else None,
            )
        table.finish(caps=PRINT_CAPS[SHEET_FINDINGS])

    # -- 报送情况 --------------------------------------------------------------------------
    # -- 同比 ----------------------------------------------------------------------------------
    def _year_on_year(self, hist: History) -> None:
        """This year beside last year (`history.changes`): per department on 同比, per project
        on 同比项目 (matched by 项目代码, else 主管部门代码 + 项目名称; either year's alone too)."""
        departments, projects = changes(self.coll, hist)
        now, before = hist.year, hist.previous
        columns = [
            ("主管部门代码", "center"),
            ("主管部门", "text"),
            *_years(hist, "项目数", "int"),
            *_years(hist, "预算数", "amount"),
            *_years(hist, "执行数", "amount"),
            *_years(hist, "执行率", "rate"),
            ("执行率变化", "rate"),
            *_years(hist, "平均分", "score"),
            ("平均分变化", "score"),
        ]
        table = self._bulk(SHEET_YEAR_ON_YEAR, columns)
        for d in departments:
            table.add(
                [
                    d.dept_code,
                    d.dept_name,
                    *d.projects,
                    *d.budget,
                    *d.spent,
                    *d.exec_rate,
                    _change(*d.exec_rate),
                    *d.mean_score,
                    _change(*d.mean_score),
                ]
            )
        table.finish(repeat_col=1)
        columns = [
            ("主管部门代码", "center"),
            ("主管部门", "text"),
            ("实施单位", "text"),
            ("项目名称", "text"),
            ("项目代码", "center"),
            ("对应依据", "center"),
            *_years(hist, "预算数", "amount"),
            *_years(hist, "执行率", "rate"),
            ("执行率变化", "rate"),
            *_years(hist, "核定总分", "score"),
            ("总分变化", "score"),
        ]
        table = self._bulk(SHEET_YEAR_ON_YEAR_PROJECTS, columns)
        for p in projects:
            a, b = p.now, p.before
            how = p.matched_by or (f"仅{now}年" if b is None else f"仅{before}年")
            table.add(
                [
                    p.dept_code,
                    p.dept_name,
                    p.unit_name,
                    p.project_name,
                    p.project_code,
                    how,
                    a.budget if a else None,
                    b.budget if b else None,
                    a.exec_rate if a else None,
                    b.exec_rate if b else None,
                    _change(a.exec_rate if a else None, b.exec_rate if b else None),
                    a.score if a else None,
                    b.score if b else None,
                    _change(a.score if a else None, b.score if b else None),
                ],
                None if p.matched_by else {5: "warn"},
            )
        table.finish(caps=PRINT_CAPS.get(SHEET_PROJECTS), repeat_col=3)

    def _roster(self, roster: list[RosterStatus]) -> None:
        columns = [
            ("名册行号", "int"),
            ("主管部门代码", "center"),
            ("实施单位", "text"),
            ("项目名称", "text"),
            ("项目代码", "center"),
            ("状态", "center"),
            ("来源文件", "text"),
            ("收到时间", "datetime"),
            ("首次收到", "datetime"),
            ("最近收到", "datetime"),
        ]
        table = self._bulk(SHEET_ROSTER, columns)
        spans = _received_spans(self.coll, self.received)
        words = {"received": "已收到", "unreadable": "已收到（无法读取）", "missing": "未收到"}
        styles = {"received": None, "unreadable": {5: "warn"}, "missing": {5: "bad"}}
        for r in roster:
            v, sub = r.row.values, r.source
            table.add(
                [
                    r.row.line,
                    v.get("dept_code"),
                    v.get("unit_name"),
                    v.get("project_name"),
                    v.get("project_code"),
                    words[r.status],
                    sub.source if sub else None,
                    sub.item.received if sub else None,
                    *(_span(spans, sub) if sub else (None, None)),
                ],
                styles[r.status],
            )
        for s in _off_roster(self.projects, roster):
            b = _brief(s)
            table.add(
                [
                    None,
                    b.dept_code,
                    b.unit_name,
                    b.project_name,
                    b.project_code,
                    "名册外",
                    s.source,
                    s.item.received,
                    *_span(spans, s),
                ],
                {5: "warn"},
            )
        table.finish(caps=PRINT_CAPS[SHEET_ROSTER])


def _sheet_list(sheets: Sequence[str]) -> str:
    """「问题清单」, or 「问题清单」「问题清单(2)」, or 「问题清单」至「问题清单(5)」."""
    if len(sheets) <= 2:
        return "".join(f"「{s}」" for s in sheets)
    return f"「{sheets[0]}」至「{sheets[-1]}」"


def _extra_indicator_columns(
    projects: Sequence[Submission], taken: set[str]
) -> list[tuple[str, str]]:
    """(key, header) of every extra free-text indicator column (`kind = "text"`: 指标解释,
    改进措施 …) of the forms summarised, in the order first met: one column each, headed by
    the label its first form gives it, or by "label（key）" where that header is already
    another column's."""
    out: dict[str, str] = {}
    for s in projects:
        for c in _brief(s).spec.indicator_columns:
            if c.extra and c.key not in out:
                header = c.label if c.label not in taken else f"{c.label}（{c.key}）"
                taken.add(header)
                out[c.key] = header
    return list(out.items())


def _abs_col_range(col: int, first: int, count: int) -> str:
    """`$X$2:$X$4`: rows `first` … `first + count - 1` (0-based) of one column."""
    name = xl_col_to_name(col)
    return f"${name}${first + 1}:${name}${first + count}"


def _file_columns(s: Submission) -> list[Any]:
    """The columns a 项目明细 and a 部门整体 row end alike with: errors, warnings, 通过 / 有错误,
    the form, the source file and when it came."""
    result = s.result
    return [
        result.errors,
        result.warnings,
        "通过" if result.errors == 0 else "有错误",
        _brief(s).spec.id,
        s.source,
        s.item.received,
    ]


def _typed_by_unit(s: Submission) -> str:
    """单位填报值: what the unit typed over each office-issued value the summary replaced
    (`Submission.issued`), amounts as amounts: `当年财政拨款全年预算数：320.00`."""
    if not s.issued:
        return ""
    labels = issuable_fields(_brief(s).spec)
    parts = []
    for name, (_, typed) in s.issued.items():
        if isinstance(typed, (int, float)) and not isinstance(typed, bool):
            shown = f"{typed:,.2f}" if name.startswith("fund_") else f"{typed:g}"
        else:
            shown = "（空）" if typed is None or typed == "" else str(typed)
        parts.append(f"{labels.get(name, name)}：{shown}")
    return "；".join(parts)


class _IndicatorRows:
    """绩效指标: one row per indicator of every project, added project by project; with many
    rows, made and written by a child process while this one writes the other sheets.

    The summary's tail runs on one core while the other is idle, and 绩效指标 (ten rows a
    project) is most of it. A forked child (`workers.fork`) sees the collection as it is, so
    nothing is sent to it: it makes the rows, fits the column widths and sends them back
    (this process gives them to the sheet before xlsxwriter closes it), then writes the rows'
    XML to temporary files this process opened. Those rows touch nothing of the workbook:
    their texts are inline strings, not in the shared-string table, and their style indexes
    were given before the fork (`_BulkTable.freeze_styles`). The same bytes come out either
    way; without a fork (Windows, a server's threads, few rows) or when the child fails, this
    process makes the rows itself."""

    def __init__(self, writer: _SummaryWriter) -> None:
        projects = self.projects = writer.projects
        self.count = writer.indicator_rows
        # 度量单位 only where a form asks it
        self.with_unit = any("unit" in _brief(s).spec.indicator_keys for s in projects)
        columns = [
            ("主管部门代码", "center"),
            ("项目名称", "text"),
            ("来源文件", "text"),
            ("序号", "int"),
            ("一级指标", "center"),
            ("二级指标", "center"),
            ("三级指标", "text"),
            ("指标值", "text"),
            ("完成值", "text"),
            *([("度量单位", "center")] if self.with_unit else []),
            ("完成状态", "center"),
            ("分值", "score"),
            ("得分", "score"),
            ("自评得分", "score"),
            ("偏差原因", "text"),
        ]
        self.extra = _extra_indicator_columns(projects, {h for h, _ in columns})
        columns += [(header, "text") for _, header in self.extra]
        self.table = writer._split(SHEET_INDICATORS, columns, inline=True)
        for part in self.table.parts:
            part.freeze_styles()
            part.source = self
        self.caps = {**PRINT_CAPS[SHEET_INDICATORS], **{h: EXTRA_CAP for _, h in self.extra}}
        # the values taken from each indicator's own, before and after its scores
        self.texts = ("level1", "level2", "name", "target", "actual")
        self.texts += ("unit", "status") if self.with_unit else ("status",)
        # blank where the project's form has no such column
        self.after = ("reason", *(key for key, _ in self.extra))
        #: the child making the rows, the files it writes them to (one a sheet), and the
        #: size of each once it has told it
        self.child: Forked | None = None
        self.files: list[IO[bytes]] = []
        self.sizes: dict[int, int] = {}

    def start(self) -> bool:
        """Fork the child that makes every row (`_in_child`), when there are FORK_MIN_ROWS
        and this process can fork. False: the rows are to be added here (`add`)."""
        if self.count < FORK_MIN_ROWS:
            return False
        try:
            files = [tempfile.TemporaryFile() for _ in self.table.parts]  # noqa: SIM115
        except OSError:
            return False  # written here, where a temporary folder that fails is told
        child = fork(partial(self._in_child, files))
        if child is None:
            for fh in files:
                fh.close()
            return False
        self.child, self.files = child, files
        return True

    def add(self, s: Submission, b: Brief, d: Detail) -> None:
        head = (b.dept_code, b.project_name, s.source)
        texts, after, add = self.texts, self.after, self.table.add
        for n, (values, weight, computed, reported) in enumerate(d.indicators, start=1):
            value = values.get
            add([*head, n, *map(value, texts), weight, computed, reported, *map(value, after)])

    def _fill(self) -> None:
        """Add every project's rows (to tables that have none yet)."""
        for s in self.projects:
            self.add(s, _brief(s), _detail(s))

    def _in_child(self, files: list[IO[bytes]], send: Callable[[Any], None]) -> None:
        """In the child: every row, the widths fitted to them sent back, then each sheet's
        rows' XML into its file, and its size sent (what `finish` does to the sheets is done
        to the child's copy of them, unseen)."""
        self._fill()
        self.table.fit()
        parts = self.table.parts
        widths = [list(p._fitted_widths()) for p in parts]  # `fit` fits only several sheets
        send((widths, [p.next_row for p in parts], self.table.count))
        for index, (part, fh) in enumerate(zip(parts, files, strict=True)):
            part.out = fh
            part.finish(caps=self.caps)
            send((index, os.fstat(fh.fileno()).st_size))  # flushed by `_render`

    def finish(self) -> None:
        """Widths, filter and print setup of each sheet; from the child, once it has sent
        the widths (its rows' XML is read by `_with_rows` as the child writes it: `_stream`)."""
        if self.child is not None:
            got = self.child.receive()
            if got is None:  # the child failed: the rows are made here
                self.close()
                self._fill()
            else:
                widths, next_rows, self.table.count = got
                for part, w, n in zip(self.table.parts, widths, next_rows, strict=True):
                    part.widths, part.next_row, part.pending = list(w), n, self._stream
        self.table.finish(caps=self.caps)

    def _stream(self, part: _BulkTable) -> Iterator[bytes]:
        """`part`'s rows' XML as the child writes it, to the size it tells once it has
        written it all; read by offset (the child writes through the same open file)."""
        parts = self.table.parts
        index = parts.index(part)
        if self.child is None:
            raise _RowsLost
        fd = self.files[index].fileno()
        at = 0
        while True:
            piece = os.pread(fd, 1024 * 1024, at)
            if piece:
                at += len(piece)
                yield piece
                continue
            if self.sizes.get(index) == at:
                break
            got = self.child.receive(timeout=0.05)
            if got is NOTHING_YET:
                continue
            if got is None:  # the child ended without telling
                raise _RowsLost
            done, size = got
            self.sizes[done] = size
        if index == len(parts) - 1 and not self.child.wait():
            raise _RowsLost

    def make_here(self) -> None:
        """The rows made and written here, at the widths `finish` gave the sheets: the
        child failed after it had sent them."""
        parts = self.table.parts
        if not any(p.pending for p in parts):
            return
        self.close()
        for p in parts:
            p.rows, p.next_row = [], p.header_row + 1
        self.table.count = 0
        self._fill()
        for p in parts:
            assert p.widths_final is not None  # set by `finish`
            p.xml, p.pending = p._render(p.widths_final), None

    def close(self) -> None:
        """End the child if it still runs, and close its files (this process failed, or makes
        the rows itself)."""
        if self.child is not None:
            self.child.kill()
            self.child = None
        for fh in self.files:
            fh.close()
        self.files = []


class _Owners:
    """Whose a finding is, for 问题清单: (主管部门, 实施单位, 项目名称).

    A used file's from its record as counted (the issued values in place); a superseded
    file's from its own record; an unreadable file's from the roster row it is named for, if
    any; a W604's from its roster row; the inbox's own findings (W605, E607 …) are no one's.
    A blank 主管部门 is the department's name in 部门汇总, else its code: a roster need not
    name departments, and a code still says whose it is."""

    def __init__(self, coll: Collection, departments: Sequence[DepartmentRow]) -> None:
        self.used = {id(s) for s in coll.projects}
        self.rows: dict[int, RosterRow] = {}
        for r in coll.roster or []:
            for thing in (r.unreadable, r.finding):
                if thing is not None:
                    self.rows.setdefault(id(thing), r.row)
        self.names = {d.code: d.name for d in departments}

    def of(self, f: Finding, s: Submission | None) -> list[Any]:
        rec = None
        if s is not None:
            rec = s.brief if id(s) in self.used else s.own
        if rec is not None:
            code, *values = (getattr(rec, n) for n in _OWNER_FIELDS)
        else:
            row = self.rows.get(id(s) if s is not None else id(f))
            if row is None:
                return [None] * (len(_OWNER_FIELDS) - 1)
            code, *values = (row.values.get(n) for n in _OWNER_FIELDS)
        if _text(values[0]) == "":
            values[0] = self.names.get(_text(code)) or code
        if rec is not None and rec.spec.department and _text(values[2]) == "":
            values[2] = rec.spec.title  # no project: the form is what the finding is about
        return [None if v == "" else v for v in values]


#: The fields that say whose a finding is: the department's code (for a missing name), and
#: the 主管部门, 实施单位 and 项目名称 问题清单 shows.
_OWNER_FIELDS = ("dept_code", "dept_name", "unit_name", "project_name")


def _field_label(spec: Spec | None, f: Finding) -> str | None:
    """The form's own label for a finding's field (what the clerk sees), else its name."""
    name = f.field
    if spec is None or not name:
        return name
    labels = {h.name: h.label for h in spec.header}
    labels.update({x.name: x.label for x in spec.footer})
    if spec.goals is not None:
        labels["goal_expected"] = spec.goals.expected_label
        labels["goal_actual"] = spec.goals.actual_label
    for c in spec.fund_columns:
        labels["exec_reason" if c.kind == "exec_reason" else f"exec_{c.key}"] = c.label
        for r in spec.fund_rows:
            labels[f"fund_{r.key}_{c.key}"] = f"{r.short}{c.label}"
    for c in spec.indicator_columns:
        labels[f"ind_{c.key}"] = c.label
    labels["indicators"] = spec.indicators_label
    return labels.get(name, name)


def _off_roster(projects: Sequence[Submission], roster: list[RosterStatus]) -> list[Submission]:
    """Used projects no roster row accounts for: not matched, and no row with their key or code."""
    matched = {id(r.submission) for r in roster if r.submission is not None}
    keys = {
        (_text(r.row.values.get("dept_code")), _text(r.row.values.get("project_name")))
        for r in roster
    }
    codes = {_text(r.row.values.get("project_code")) for r in roster} - {""}
    out = []
    for s in projects:
        code = _text(_brief(s).project_code)
        if id(s) in matched or s.key in keys or (code and code in codes):
            continue
        out.append(s)
    return out


def _change(now: float | None, before: float | None) -> float | None:
    """This year's figure less last year's (None unless both are known)."""
    return None if now is None or before is None else now - before


def _received_spans(
    coll: Collection, earlier: Mapping[tuple[str, str], tuple[datetime, datetime]]
) -> dict[tuple[str, ...], tuple[datetime, datetime]]:
    """Per project, the first and last time a file of it was received: every file of the
    inbox that carries it (superseded ones too), and what earlier runs saw (`earlier`)."""
    spans: dict[tuple[str, ...], tuple[datetime, datetime]] = {
        k: (a.replace(tzinfo=None), b.replace(tzinfo=None)) for k, (a, b) in earlier.items()
    }
    for s in coll.submissions:
        key = s.key
        if key is None or s.department_form:
            continue
        t = s.item.received.replace(tzinfo=None)
        a, b = spans.get(key, (t, t))
        spans[key] = (min(a, t), max(b, t))
    return spans


def _span(
    spans: dict[tuple[str, ...], tuple[datetime, datetime]], s: Submission
) -> tuple[datetime | None, datetime | None]:
    """首次收到 / 最近收到 of a submission's project; an unreadable file's own time."""
    key = s.key
    if key is None:
        t = s.item.received
        return (t, t)
    return spans.get(key, (s.item.received, s.item.received))


def _years(hist: History, label: str, kind: str) -> list[tuple[str, str]]:
    """A 同比 figure's two columns: this year's, then last year's (`2022年预算数`, `2021年…`)."""
    return [(f"{hist.year}年{label}", kind), (f"{hist.previous}年{label}", kind)]
