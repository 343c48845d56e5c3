"""Feedback: every unit gets its own workbook back, marked, ready to correct and send again.

A returned workbook is not the unit's file re-saved (that loses Excel's x14 validations and the
cached results): it is a fresh template of the same form (`generate.build_template`), the
office's issued values locked in it (the roster's, else the signed ones), everything the unit
entered in its input cells, and the office's review laid over it (`generate.Review`): a first
sheet 审核意见 listing every finding with a link to its cell, a note on each such cell, and a
mark that goes when the cell is put right.

What the notes say is what `check` says of the returned workbook itself: it is built, read
back and checked before the review is added (`_returned`), so "send it back unchanged and you
get the same findings" holds by construction, and each finding sits on the cell of the fresh
layout even when the unit's file had rows inserted. Findings of the unit's file the fresh
template does not have any more (a total typed over its formula, protection removed, an issued
value changed) are listed as corrected, for the unit to see what changed.

Per 主管部门 the clerk gets a folder, a `.zip` of it to attach to one e-mail, and 审核结果.xlsx
(every project: 通过 / 退回修改 / 未收到 / 无法读取); `未报送.xlsx` lists who has sent nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ..errors import OutputError, Text
from ..fileio import safe_file_stem, unique_stem, write_output
from ..findings import ERROR, INFO, RULES, SELF_CHECK_LIMITS, SELF_CHECKED, WARNING, Finding
from ..forms.layout import contract_names, make_layout
from ..forms.spec import BUILTIN_FORMS, FormSet, Spec, issuable_fields, load_spec
from ..intake.read import read_workbook_bytes
from ..intake.record import Field, Record
from ..review.checks import CheckResult, check_read
from ..template.generate import (
    CREATED,
    DEFAULT_PASSWORD,
    DOCUMENT_REVIEW,
    PROP_DOCUMENT,
    XLSXWRITER_OPTIONS,
    Filled,
    Review,
    ReviewLink,
    build_template,
    write_text,
)
from ..template.selfcheck import MARKED_WARNINGS
from ..workers import pool as worker_pool
from .collect import Collection, RosterStatus, Submission, from_canonical
from .roster import template_file_stems

#: The first sheet of a returned workbook.
REVIEW_SHEET = "审核意见"
#: What a department's review list is called, in its folder and its .zip.
RESULTS_NAME = "审核结果.xlsx"
#: The reminder list (催报) of the projects nothing came in for, at the top of the folder.
MISSING_NAME = "未报送.xlsx"
#: The files the last run wrote (relative path -> SHA-256), so the next run removes the ones it
#: does not write again, and nothing else.
MANIFEST = ".perfeval-feedback.json"
#: What a status is called, in 审核结果 and on the terminal.
STATUS = {
    "passed": Text("通过", "passed"),
    "returned": Text("退回修改", "returned for correction"),
    "missing": Text("未收到", "not received"),
    "unreadable": Text("无法读取", "unreadable"),
}
#: Findings of the inbox about a file that the file itself cannot show (its project is not on
#: the roster, it is of another form than the roster's): listed as still open, on no cell.
CARRIED = frozenset({"E602", "W606"})
#: Zip members carry this time: the same inputs give the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: More workbooks than this are built on every core.
POOL_MIN = 8
_SEVERITY = {ERROR: ("错误", "error"), WARNING: ("警告", "warning"), INFO: ("提示", "note")}


@dataclass
class ResultRow:
    """One line of a department's 审核结果."""

    unit: str
    project: str
    status: str
    errors: int
    warnings: int
    source: str
    returned: str


@dataclass
class FeedbackResult:
    """What `write_feedback` did, for the terminal."""

    outdir: Path
    #: returned workbooks written, of files read / of files that could not be read
    returned: int = 0
    returned_blank: int = 0
    passed: int = 0
    missing: int = 0
    departments: int = 0
    #: unreadable files no roster row names: nobody to return them to
    unattributed: list[str] = field(default_factory=list)
    #: files of an earlier run removed, and ones left because someone changed them since
    removed: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    #: each department's .zip (file name) and how many returned workbooks it holds
    zips: list[tuple[str, int]] = field(default_factory=list)
    #: the 催报 list, when there was a roster to compare with
    missing_list: Path | None = None


# -- one returned workbook ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    """What a worker needs to build one returned workbook (picklable)."""

    name: str
    spec: Spec
    issued: dict[str, Any]
    filled: Filled | None
    rows: int | None
    original: list[Finding]
    heading: list[tuple[str, str]]
    contact: str
    review_date: str
    password: str
    key: bytes | None
    forms: FormSet
    #: why the unit's file could not be read (a blank template goes back), else None
    unreadable: str | None = None


def _returned(job: _Job) -> tuple[bytes, list[Finding], list[Finding]]:
    """Build the workbook with its review, read it back and check it: (bytes, open findings,
    fixed findings). The review is first drawn up from the unit's file's own findings; when
    the returned workbook's differ (it corrects something, or its layout differs), it is
    drawn up again from what the returned workbook has, and the workbook built again."""
    build = dict(issued=job.issued, password=job.password, indicator_rows=job.rows, key=job.key)
    filled = job.filled or Filled()
    carried = [f for f in job.original if f.code in CARRIED]
    if job.unreadable is not None:
        review = _review(job, [], [])
        return build_template(job.spec, **build, filled=filled, review=review), [], []
    guess = _expected(job)
    data = build_template(
        job.spec,
        **build,
        filled=filled,
        review=_review(job, guess + carried, _not_found(job.original, guess)),
    )
    result = check_read(
        read_workbook_bytes(job.name, data, fast=True, forms=job.forms), key=job.key
    )
    found = result.findings
    if Counter(map(_key, found)) != Counter(map(_key, guess)):
        data = build_template(
            job.spec,
            **build,
            filled=filled,
            review=_review(job, found + carried, _not_found(job.original, found)),
        )
    return data, found + carried, _not_found(job.original, found)


def _expected(job: _Job) -> list[Finding]:
    """What the returned workbook is expected to say (a guess, checked by reading it back): what
    the unit's file says, but the inbox's own findings (the roster's, 6xx), those the fresh
    template cannot have (its structure, signature and formulas are intact) and those on a value
    the office issued (its value replaces the unit's)."""
    return [
        f
        for f in job.original
        if f.code[1] != "6" and f.code not in _STRUCTURE and f.field not in job.issued
    ]


#: Findings about a workbook's structure, signature or formulas: never in a fresh template.
_STRUCTURE = frozenset(
    {"W010", "E011", "W012", "W013", "E014", "W016", "E017", "W018", "E019"}
    | {"W020", "W021", "E302", "E506", "E701", "E702", "E703"}
)


def _key(f: Finding) -> tuple:
    return (f.code, f.sheet, f.cell, f.field, f.message.zh)


def _not_found(original: list[Finding], found: list[Finding]) -> list[Finding]:
    """The findings of the unit's file that the returned workbook has no more: none of the same
    code on the same field. (The same code on the same field with other words is the same
    problem seen on other values, such as spending above the roster's budget instead of the
    unit's: still to correct, not corrected.)"""
    left = {(f.code, f.field) for f in found}
    return [
        f
        for f in original
        if (f.code, f.field) not in left and f.code not in CARRIED and f.severity != INFO
    ]


def _review(job: _Job, found: list[Finding], fixed: list[Finding]) -> Review:
    """The 审核意见 sheet, the notes and the marks of one returned workbook."""
    spec = job.spec
    errors = sum(f.severity == ERROR for f in found)
    warnings = sum(f.severity == WARNING for f in found)
    lines: list[tuple[str, list[Any]]] = [("title", [f"{spec.title} · 审核意见"]), ("text", [])]
    for label, value in job.heading:
        lines.append(("text", [label, value]))
    lines.append(("text", ["审核日期", job.review_date]))
    if job.unreadable is not None:
        verdict = "退回：报送的文件无法读取"
    elif errors or warnings:
        verdict = f"退回修改：{errors} 个错误，{warnings} 个警告"
    else:
        verdict = "退回核对：原文件的问题已在本表中更正，请核对后重新报送"
    lines.append(("text", ["审核结论", verdict]))
    lines.append(("text", []))
    if job.unreadable is not None:
        lines.append(("error", ["", "无法读取", "", job.unreadable, _fix_text(job.original)]))
        lines.append(("text", []))
        lines.append(("para", ["", "本表是该项目的空白预填模板：请在本表中重新填写后报送。"]))
    else:
        lines.append(("head", ["序号", "类别", "位置", "问题", "如何改正"]))
        shown = sorted(found, key=_order)
        for n, f in enumerate(shown, start=1):
            where: Any = ReviewLink(f.cell, f.cell) if f.cell and f.sheet == spec.sheet else ""
            lines.append(
                (
                    {ERROR: "error", WARNING: "warning"}.get(f.severity, "cell"),
                    [
                        str(n),
                        f"{_SEVERITY[f.severity][0]} {f.code}",
                        where,
                        f.message.zh,
                        RULES[f.code].fix.zh,
                    ],
                )
            )
        if not shown:
            lines.append(("cell", ["", "", "", "未发现需要改正的问题", ""]))
        if fixed:
            lines.append(("text", []))
            lines.append(("text", ["", "原文件中的下列问题已在本表中更正，无需再改，请核对："]))
            lines.append(("head", ["序号", "类别", "原位置", "问题", "本表的处理"]))
            for n, f in enumerate(sorted(fixed, key=_order), start=1):
                lines.append(
                    (
                        "fixed",
                        [
                            str(n),
                            f"{_SEVERITY[f.severity][0]} {f.code}",
                            f.location,
                            f.message.zh,
                            _FIXED.get(f.code, _FIXED_DEFAULT),
                        ],
                    )
                )
    lines.append(("text", []))
    lines.append(
        (
            "para",
            [
                "下一步",
                "改正后直接保存本文件（不要改文件名、不要另存为 .xls 或其他格式），并重新报送。"
                "带批注的单元格写明了问题和改法；红色、橙色标记在改正（或改动）该单元格后消失，"
                "最终以重新报送后的审核为准。",
            ],
        )
    )
    if job.contact:
        lines.append(("para", ["联系方式", job.contact]))
    notes, marks = _notes_and_marks(job, found)
    # an office's own form could call its sheet 审核意见: two sheets may not share a name
    sheet = REVIEW_SHEET if spec.sheet != REVIEW_SHEET else f"{REVIEW_SHEET}（财政）"
    return Review(sheet, (10, 14, 10, 60, 46), lines, notes, marks)


#: How the returned workbook dealt with a finding of the unit's file it does not have.
_FIXED = {
    "E302": "合计已恢复为公式（各来源之和），请核对各来源金额",
    "E506": "合计已恢复为公式，请核对各项得分",
    "E603": "已按名册恢复财政部门预填的内容",
    "E703": "已恢复财政部门预填并签名的内容",
    "E701": "已重新签名",
    "E702": "已重新签名",
    "W010": "已换成当前版本的表式",
    "W012": "已恢复工作表保护",
    "W013": "已恢复下拉列表和输入限制",
    "W016": "已恢复下发模板的行数",
    "W018": "已恢复隐藏工作表",
    "E011": "已恢复命名区域",
    "E014": "已恢复指标表结构",
    "W020": "已按财政部门的表式重新生成",
    "W021": "已按财政部门的表式重新生成",
}
_FIXED_DEFAULT = "本表已不再有此问题，请核对"


def _fix_text(findings: list[Finding]) -> str:
    return "；".join(dict.fromkeys(RULES[f.code].fix.zh for f in findings)) or "用本表重新填写"


def _order(f: Finding) -> tuple:
    row, col = _cell_position(f.cell)
    return ({ERROR: 0, WARNING: 1}.get(f.severity, 2), row, col, f.code)


def _cell_position(cell: str | None) -> tuple[int, int]:
    m = re.fullmatch(r"\$?([A-Z]{1,3})\$?([0-9]+)", cell or "")
    if m is None:
        return (1 << 30, 0)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return (int(m.group(2)), col)


def _notes_and_marks(
    job: _Job, found: list[Finding]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """A note on every cell with findings, and a mark where the template has none of its own:
    a rule the 自检 applies marks the cell until it is right (`LIVE`); any other finding marks
    the cell until its value is changed (the value it has now, as a formula)."""
    by_cell: dict[str, list[Finding]] = defaultdict(list)
    for f in sorted(found, key=_order):
        if f.cell and f.sheet == job.spec.sheet and f.severity != INFO:
            by_cell[f.cell].append(f)
    values = _cell_values(job)
    notes: dict[str, str] = {}
    marks: dict[str, tuple[str, str]] = {}
    for cell, fs in by_cell.items():
        live = all(f.code in LIVE for f in fs)
        parts = [
            f"{_SEVERITY[f.severity][0]} {f.code}：{f.message.zh}\n改法：{RULES[f.code].fix.zh}"
            for f in fs
        ]
        if live:
            parts.append("（改正后本格的标记自动消失）")
        else:
            parts.append("（改动本格后标记消失；是否已改正，以重新报送后的审核为准）")
            kind = "bad" if any(f.severity == ERROR for f in fs) else "warn"
            marks[cell] = (_unchanged(cell, values.get(cell)), kind)
        notes[cell] = "\n".join(parts)
    return notes, marks


#: Findings the template marks itself, on their cell, by their own rule: the errors the 自检
#: applies in full (`SELF_CHECK_LIMITS`: not always, so they get a mark of their own) and the
#: warnings it marks.
LIVE = (SELF_CHECKED - set(SELF_CHECK_LIMITS)) | MARKED_WARNINGS


def _cell_values(job: _Job) -> dict[str, Any]:
    """A1 cell -> what the returned workbook holds there, for the unchanged-marks."""
    names = contract_names(make_layout(job.spec, job.rows))
    out: dict[str, Any] = {}
    filled = job.filled or Filled()
    for name, area in names.items():
        short = name[3:]
        if short in filled.values:
            out[area.anchor().a1(absolute=False)] = filled.values[short]
        elif short in job.issued:
            out[area.anchor().a1(absolute=False)] = job.issued[short]
        elif short.startswith("ind_") and area.first_row != area.last_row:
            key = short[4:]
            for index, row in filled.rows.items():
                if key in row and area.first_row + index <= area.last_row:
                    cell = xl_rowcol_to_cell(area.first_row + index, area.first_col)
                    out[cell] = row[key]
    return out


def _unchanged(cell: str, value: Any) -> str:
    """A formula true while `cell` still holds `value` (blank when None). A text is compared
    by its length (as Excel counts it, in UTF-16 units) and its first hundred characters, up
    to the first one a formula's string cannot hold as it is (a line break, a character
    beyond the BMP): a formula may be at most 8,192 characters, a string in it 255."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"=LEN(TRIM({cell}))=0"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"=AND(ISNUMBER({cell}),{cell}={float(value)!r})"
    text = str(value)
    head = re.split(r"[\x00-\x1f\x7f\u2028\u2029\U00010000-\U0010ffff]", text, maxsplit=1)[0]
    head = head[:100]
    quoted = head.replace('"', '""')
    units = len(text.encode("utf-16-le")) // 2
    return f'=AND(LEN({cell})={units},EXACT(LEFT({cell},{len(head)}),"{quoted}"))'


# -- from a submission to a job ----------------------------------------------------------------
def _entered(f: Field) -> Any:
    """What to write back into an input cell: the text the unit typed as it stored it (so a
    value read only after correction, W201, stays to be corrected), a number as a number, and
    a number the file showed as text (a 96% target) as the text the tool read."""
    raw, value = f.raw, f.value
    if isinstance(raw, str):
        return raw if raw.strip() else None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if isinstance(value, str):
            return value
        return raw
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    if raw is None and value is None:
        return None
    return str(value if value is not None else raw)


def filled_from(rec: Record, issued: dict[str, Any]) -> Filled:
    """What the unit entered in `rec`, but the issued values (written locked instead)."""
    values = {
        name: v
        for name, f in rec.fields.items()
        if name not in issued and (v := _entered(f)) is not None
    }
    rows: dict[int, dict[str, Any]] = {}
    for ind in rec.indicators:
        row = {k: v for k, f in ind.fields.items() if (v := _entered(f)) is not None}
        if row:
            rows[ind.index] = row
    return Filled(values, rows)


def _indicator_rows(rec: Record) -> int | None:
    """Rows of the returned table: as many as the template the unit got (its `_meta`), or as
    many as its indicators need (at most 500, the reader's limit)."""
    if rec.spec.department:
        return None
    try:
        issued_rows = int(float(rec.meta.get("indicator_rows")))
    except (TypeError, ValueError):
        issued_rows = rec.spec.indicator_rows
    needed = max((ind.index + 1 for ind in rec.indicators), default=0)
    return max(1, min(500, max(issued_rows, needed)))


def _signed_issued(rec: Record, findings: list[Finding], key: bytes | None) -> dict[str, Any]:
    """The signed issued values, when the office's key verified the signature."""
    if key is None or any(f.code in ("E701", "E702") for f in findings):
        return {}
    try:
        signed = json.loads(rec.meta.get("signed_values") or "{}")
    except (TypeError, ValueError):
        return {}
    if not isinstance(signed, dict):
        return {}
    return {
        k: from_canonical(k, v)
        for k, v in signed.items()
        if isinstance(v, str) and from_canonical(k, v) is not None
    }


# -- the whole folder --------------------------------------------------------------------------
def write_feedback(
    coll: Collection,
    outdir: Path | str,
    *,
    roster_spec: Spec | None = None,
    contact: str = "",
    review_date: date | None = None,
    password: str = DEFAULT_PASSWORD,
    key: bytes | None = None,
    forms: FormSet = BUILTIN_FORMS,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> FeedbackResult:
    """Write the returned workbooks, each department's 审核结果 and .zip, and 未报送.xlsx.

    Args:
        coll: what `collect` found.
        outdir: the feedback folder (created; an earlier run's files not written again are
            removed, files of anyone else are never touched).
        roster_spec: the form the roster was read with (a blank template goes back for a
            file that could not be read); default: the roster's rows' form is not known and
            the built-in national form is used.
        contact: the office's contact line, on every 审核意见.
        review_date: the date on every 审核意见 (default: today).
        password, key, forms: as for `template` and `collect`.

    Raises:
        OutputError: `outdir` cannot be created or written.
    """
    outdir = Path(outdir)
    review_day = (review_date or date.today()).isoformat()
    roster_spec = roster_spec or load_spec()
    by_sub: dict[int, RosterStatus] = {}
    stems: dict[int, str] = {}
    if coll.roster is not None:
        for status, stem in zip(
            coll.roster, template_file_stems([r.row for r in coll.roster]), strict=True
        ):
            stems[id(status)] = stem
            if status.source is not None:
                by_sub[id(status.source)] = status
    result = FeedbackResult(outdir)
    jobs: list[tuple[_Job, tuple[str, str], str, str, str, Submission | None]] = []
    taken: dict[str, set[str]] = defaultdict(set)
    lines: dict[tuple[str, str], list[ResultRow]] = defaultdict(list)

    def place(dept: tuple[str, str], unit: str, stem: str) -> str:
        folder = safe_file_stem(f"{dept[0]}_{dept[1]}")
        sub = f"{folder}/{safe_file_stem(unit)}" if unit else folder
        return f"{sub}/{unique_stem(safe_file_stem(stem), taken[sub])}.xlsx"

    for sub in coll.projects + coll.departments:
        rec = sub.result.record
        assert rec is not None
        status = by_sub.get(id(sub))
        issued = dict(status.row.values) if status is not None else {}
        if status is None:
            issued = _signed_issued(rec, sub.result.findings, key)
        issued = {k: v for k, v in issued.items() if k in _issuable(rec.spec)}
        values = {**{k: rec.value(k) for k in rec.fields}, **issued}
        dept = (str(values.get("dept_code") or ""), str(values.get("dept_name") or ""))
        unit = "" if rec.spec.department else str(values.get("unit_name") or "")
        # a department form (部门整体) is the department's own: listed under its title
        project = rec.spec.title if rec.spec.department else str(values.get("project_name") or "")
        original = list(sub.result.findings)
        if not any(f.severity in (ERROR, WARNING) for f in original):
            lines[dept].append(ResultRow(unit, project, "passed", 0, 0, sub.source, ""))
            result.passed += 1
            continue
        stem = stems.get(id(status)) if status is not None else None
        if not stem:
            parts = (dept[0], dept[1]) if rec.spec.department else (dept[0], unit, project)
            stem = "_".join(x for x in parts if x)
        job = _Job(
            sub.source,
            rec.spec,
            issued,
            filled_from(rec, issued),
            _indicator_rows(rec),
            original,
            _heading(rec.spec, dept, unit, project, sub.source),
            contact,
            review_day,
            password,
            key,
            forms,
        )
        jobs.append((job, dept, unit, project, place(dept, unit, stem), sub))
    for status in coll.roster or []:
        row = status.row.values
        dept = (str(row.get("dept_code") or ""), str(row.get("dept_name") or ""))
        unit = str(row.get("unit_name") or "")
        project = str(row.get("project_name") or "")
        if status.status == "missing":
            lines[dept].append(ResultRow(unit, project, "missing", 0, 0, "", ""))
            result.missing += 1
        elif status.status == "unreadable" and status.unreadable is not None:
            bad = status.unreadable
            why = "；".join(f.message.zh for f in bad.result.findings if f.severity == ERROR)
            issued = {k: v for k, v in row.items() if k in _issuable(roster_spec)}
            job = _Job(
                bad.item.source,
                roster_spec,
                issued,
                None,
                None,
                [f for f in bad.result.findings if f.severity == ERROR],
                _heading(roster_spec, dept, unit, project, bad.item.source),
                contact,
                review_day,
                password,
                key,
                forms,
                unreadable=f"报送的文件「{bad.item.source}」无法读取：{why or '格式不对'}",
            )
            jobs.append((job, dept, unit, project, place(dept, unit, stems[id(status)]), bad))
    roster_subs = {id(s.source) for s in coll.roster or [] if s.source is not None}
    for bad in coll.unreadable:
        if id(bad) not in roster_subs and bad.superseded_by is None:
            result.unattributed.append(bad.item.source)
    if on_total is not None:
        on_total(len(jobs))
    writer = _Folder(outdir, result)
    files: dict[str, bytes] = {}

    def arrived(index: int, data: bytes) -> None:
        # written while the others are still being built
        files[jobs[index][4]] = data
        writer.write(jobs[index][4], data)

    built = _build_all([j[0] for j in jobs], workers, progress, arrived)
    for (job, dept, unit, project, path, sub), (_data, found, _fixed) in zip(
        jobs, built, strict=True
    ):
        unreadable = job.unreadable is not None
        lines[dept].append(
            ResultRow(
                unit,
                project,
                "unreadable" if unreadable else "returned",
                sum(f.severity == ERROR for f in (job.original if unreadable else found)),
                sum(f.severity == WARNING for f in found),
                sub.source if sub is not None else "",
                path.split("/", 1)[1],
            )
        )
        if unreadable:
            result.returned_blank += 1
        else:
            result.returned += 1
    # each department folder's returned workbooks, gathered in one pass over them
    by_folder: dict[str, dict[str, bytes]] = defaultdict(dict)
    for rel, data in files.items():
        folder, member = rel.split("/", 1)
        by_folder[folder][member] = data
    for dept, rows in sorted(lines.items()):
        folder = safe_file_stem(f"{dept[0]}_{dept[1]}")
        listing = results_workbook(dept, rows, review_day)
        files[f"{folder}/{RESULTS_NAME}"] = listing
        members = {**by_folder[folder], RESULTS_NAME: listing}
        files[f"{folder}.zip"] = deterministic_zip(members)
        result.zips.append((f"{folder}.zip", len(members) - 1))
    result.departments = len(lines)
    if coll.roster is not None:
        files[MISSING_NAME] = missing_workbook(coll.missing, review_day)
        result.missing_list = outdir / MISSING_NAME
    for rel in sorted(set(files) - set(writer.written)):
        writer.write(rel, files[rel])
    writer.finish()
    return result


def returned_workbook(
    result: CheckResult,
    issued: dict[str, Any],
    *,
    source: str,
    contact: str = "",
    review_date: date | None = None,
    password: str = DEFAULT_PASSWORD,
    key: bytes | None = None,
    forms: FormSet = BUILTIN_FORMS,
) -> bytes | None:
    """One project's returned workbook, as `write_feedback` makes it for a file: its form with
    the unit's values, the issued values (`issued`: the roster row's) in place, and every
    finding marked and listed on 审核意见. None for a project with no error or warning (or one
    not read), which is not returned. For `serve`, where a unit fetches its own at once."""
    rec = result.record
    if rec is None or not any(f.severity in (ERROR, WARNING) for f in result.findings):
        return None
    issued = {k: v for k, v in issued.items() if k in _issuable(rec.spec)}
    values = {**{k: rec.value(k) for k in rec.fields}, **issued}
    dept = (str(values.get("dept_code") or ""), str(values.get("dept_name") or ""))
    unit = "" if rec.spec.department else str(values.get("unit_name") or "")
    project = rec.spec.title if rec.spec.department else str(values.get("project_name") or "")
    job = _Job(
        source,
        rec.spec,
        issued,
        filled_from(rec, issued),
        _indicator_rows(rec),
        list(result.findings),
        _heading(rec.spec, dept, unit, project, source),
        contact,
        (review_date or date.today()).isoformat(),
        password,
        key,
        forms,
    )
    return _returned(job)[0]


def _issuable(spec: Spec) -> set[str]:
    return set(issuable_fields(spec))


def _heading(
    spec: Spec, dept: tuple[str, str], unit: str, project: str, source: str
) -> list[tuple[str, str]]:
    out = []
    if project:
        out.append(("自评表" if spec.department else "项目名称", project))
    out.append(("主管部门", " ".join(x for x in dept if x)))
    if unit:
        out.append(("实施单位", unit))
    out.append(("收到的文件", source))
    return out


def _build_all(
    jobs: list[_Job],
    workers: int | None,
    progress: Callable[[int], None] | None,
    arrived: Callable[[int, bytes], None],
) -> list[tuple[bytes, list[Finding], list[Finding]]]:
    """Every job's workbook, in order, on every core for a real batch; `arrived` is called
    with each as it comes."""
    workers = workers or os.cpu_count() or 1
    out = []

    def take(got: tuple[bytes, list[Finding], list[Finding]]) -> None:
        arrived(len(out), got[0])
        out.append(got)
        if progress is not None:
            progress(1)

    if workers == 1 or len(jobs) < POOL_MIN:
        for job in jobs:
            take(_returned(job))
        return out
    with worker_pool(workers) as pool:
        chunk = max(1, min(16, len(jobs) // (workers * 4)))
        for got in pool.map(_returned, jobs, chunksize=chunk):
            take(got)
    return out


# -- the lists ---------------------------------------------------------------------------------
def _list_workbook(
    title: str, header: list[str], rows: Iterable[list[Any]], widths: list[float], note: str
) -> bytes:
    """A small printable list (A4 landscape), deterministic, marked as ours (W608 if dropped
    into an inbox). Every value is written as the text or number it is, never a formula."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, XLSXWRITER_OPTIONS)
    wb.set_properties({"title": title, "author": "perfeval-xl", "created": CREATED})
    wb.set_custom_property(PROP_DOCUMENT, DOCUMENT_REVIEW)
    ws = wb.add_worksheet(title[:31])
    bold = wb.add_format({"font_name": "黑体", "font_size": 14})
    head = wb.add_format(
        {
            "font_name": "宋体",
            "font_size": 10,
            "bold": True,
            "border": 1,
            "bg_color": "#F2F2F2",
            "text_wrap": True,
            "valign": "vcenter",
        }
    )
    cell = wb.add_format(
        {"font_name": "宋体", "font_size": 10, "border": 1, "text_wrap": True, "valign": "top"}
    )
    plain = wb.add_format({"font_name": "宋体", "font_size": 10})
    ws.write_string(0, 0, title, bold)
    ws.write_string(1, 0, note, plain)
    for col, (text, width) in enumerate(zip(header, widths, strict=True)):
        ws.set_column(col, col, width)
        ws.write_string(3, col, text, head)
    n = 0
    for n, values in enumerate(rows, start=1):
        for col, value in enumerate(values):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(3 + n, col, value, cell)
            elif value is None or value == "":
                ws.write_blank(3 + n, col, None, cell)
            else:
                write_text(ws, 3 + n, col, str(value), cell)
    ws.autofilter(3, 0, 3 + n, len(header) - 1)
    ws.freeze_panes(4, 0)
    ws.repeat_rows(3)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    wb.close()
    return buf.getvalue()


def results_workbook(dept: tuple[str, str], rows: list[ResultRow], review_day: str) -> bytes:
    """A department's 审核结果: every project with its status, counts and files."""
    order = {"returned": 0, "unreadable": 1, "missing": 2, "passed": 3}
    ordered = sorted(rows, key=lambda r: (order[r.status], r.unit, r.project))
    counts = Counter(r.status for r in rows)
    note = (
        f"审核日期 {review_day}。"
        + "，".join(f"{STATUS[k].zh} {counts[k]} 个" for k in order if counts[k])
        + "。退回修改、无法读取的项目，请把同名文件夹中的工作簿转给各单位，改正后重新报送。"
    )
    return _list_workbook(
        f"{' '.join(x for x in dept if x)} 审核结果",
        ["序号", "实施单位", "项目名称", "审核结果", "错误", "警告", "收到的文件", "退回的工作簿"],
        (
            [n, r.unit, r.project, STATUS[r.status].zh, r.errors, r.warnings, r.source, r.returned]
            for n, r in enumerate(ordered, start=1)
        ),
        [6, 24, 34, 10, 6, 6, 36, 44],
        note,
    )


def missing_workbook(missing: list[RosterStatus], review_day: str) -> bytes:
    """The 催报 list: the roster's projects nothing came in for, by department and unit, with
    the unit's contact where the roster has one."""
    rows = sorted(
        missing,
        key=lambda s: tuple(
            str(s.row.values.get(k) or "") for k in ("dept_code", "unit_name", "project_name")
        ),
    )
    contact = any(getattr(s.row, "contact", None) for s in rows)
    header = ["序号", "主管部门代码", "主管部门", "实施单位", "项目名称"]
    widths: list[float] = [6, 12, 20, 24, 34]
    if contact:
        header += ["联系人", "联系电话"]
        widths += [10, 16]

    def line(n: int, s: RosterStatus) -> list[Any]:
        v = s.row.values
        out = [
            n,
            *(str(v.get(k) or "") for k in ("dept_code", "dept_name", "unit_name", "project_name")),
        ]
        if contact:
            c = getattr(s.row, "contact", {}) or {}
            out += [c.get("contact_name", ""), c.get("contact_phone", "")]
        return out

    note = (
        f"截至 {review_day}，名册中 {len(rows)} 个项目未收到自评表。"
        if rows
        else f"截至 {review_day}，名册中的项目全部收到。"
    )
    return _list_workbook(
        "未报送项目（催报）",
        header,
        (line(n, s) for n, s in enumerate(rows, start=1)),
        widths,
        note,
    )


def deterministic_zip(members: dict[str, bytes]) -> bytes:
    """A .zip of `members` (name -> bytes) in name order, every date fixed: same inputs, same
    bytes. Names are UTF-8 (flagged as such), which 7-Zip, WinRAR and Windows 10 read. The
    workbooks are stored as they are: an .xlsx is a zip already, deflating it again saves
    about 1 % and took the longest part of writing the folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            z.writestr(info, members[name])
    return buf.getvalue()


# -- the folder --------------------------------------------------------------------------------
def check_feedback_dir(inbox: Path | str, outdir: Path | str) -> None:
    """Refuse, before anything is read, a feedback folder that would mix with the inbox (the
    next `collect` would read the returned workbooks as submissions, or the inbox would be
    written into) or that is a file.

    Raises:
        OutputError: naming the folder and what is wrong with it.
    """
    folder = Path(outdir)
    root, out = Path(inbox).resolve(), folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise OutputError(folder, Text("是一个文件，不是文件夹", "is a file, not a folder"))
    if out == root or root in out.parents:
        raise OutputError(
            folder,
            Text(
                "在收件箱里面：下次汇总会把退回的工作簿当作报送的文件读取；请放到收件箱以外",
                "is inside the inbox: the next collect would read the returned workbooks as "
                "submissions; put it outside the inbox",
            ),
        )
    if out in root.parents:
        raise OutputError(
            folder,
            Text(
                "包含收件箱：退回的文件会和单位报送的文件混在一起；请另选一个文件夹",
                "contains the inbox: returned files would mix with the units' files; choose "
                "another folder",
            ),
        )


def feedback_lines(result: FeedbackResult, lang: str = "zh") -> list[str]:
    """What the clerk is told: what was written, and what to send to whom."""
    out = result.outdir
    zh: list[str] = []
    en: list[str] = []
    zh.append(
        f"退回修改 {result.returned} 个项目，通过 {result.passed} 个"
        + (
            f"，无法读取 {result.returned_blank} 个（退回空白预填模板）"
            if result.returned_blank
            else ""
        )
        + f"；写入 {out}"
    )
    en.append(
        f"{result.returned} projects returned for correction, {result.passed} passed"
        + (
            f", {result.returned_blank} unreadable (blank pre-filled template returned)"
            if result.returned_blank
            else ""
        )
        + f"; written to {out}"
    )
    for name, returned in result.zips[:_SHOWN_DEPARTMENTS]:
        if returned:
            zh.append(
                f"  发给 {name[:-4]}：{out / name}（{returned} 个退回工作簿和 {RESULTS_NAME}）"
            )
            en.append(
                f"  send to {name[:-4]}: {out / name} "
                f"({returned} returned workbooks and {RESULTS_NAME})"
            )
        else:
            zh.append(
                f"  发给 {name[:-4]}：{out / name}（只有 {RESULTS_NAME}，没有要退回的工作簿）"
            )
            en.append(
                f"  send to {name[:-4]}: {out / name} (only {RESULTS_NAME}, nothing returned)"
            )
    if len(result.zips) > _SHOWN_DEPARTMENTS:
        more = len(result.zips) - _SHOWN_DEPARTMENTS
        zh.append(f"  …另有 {more} 个部门，见 {out}")
        en.append(f"  … {more} more departments, see {out}")
    if result.missing_list is not None:
        zh.append(f"催报清单：{out / MISSING_NAME}（{result.missing} 个项目未收到）")
        en.append(f"reminder list: {out / MISSING_NAME} ({result.missing} projects not received)")
    if result.unattributed:
        names = "、".join(result.unattributed[:5]) + ("…" if len(result.unattributed) > 5 else "")
        zh.append(
            f"{len(result.unattributed)} 个无法读取的文件对不上名册中的项目，未退回：{names}（加 --roster 可按文件名对应）"
        )
        en.append(
            f"{len(result.unattributed)} unreadable files match no roster project and were not returned: {names} (with --roster they are matched by file name)"
        )
    if result.removed:
        zh.append(f"已删除上次写入、本次不再需要的 {len(result.removed)} 个文件")
        en.append(f"removed {len(result.removed)} files of the last run that are no longer needed")
    if result.kept:
        zh.append(
            f"上次写入的 {len(result.kept)} 个文件已被改动，未删除："
            + "、".join(str(p) for p in result.kept[:3])
        )
        en.append(
            f"{len(result.kept)} files of the last run were changed since and were kept: "
            + ", ".join(str(p) for p in result.kept[:3])
        )
    return zh if lang == "zh" else en


_SHOWN_DEPARTMENTS = 20


# -- writing the folder ------------------------------------------------------------------------
class _Folder:
    """The feedback folder, written one file at a time (each atomically, as soon as it is
    built); `finish` then removes what the last run wrote and this one did not (by the
    manifest), unless someone changed it since, and writes the new manifest last."""

    def __init__(self, outdir: Path, result: FeedbackResult) -> None:
        self.outdir = outdir
        self.result = result
        self.written: dict[str, str] = {}
        _make_dir(outdir)
        manifest = outdir / MANIFEST
        try:
            old = json.loads(manifest.read_text("utf-8")) if manifest.is_file() else {}
        except (OSError, ValueError):
            old = {}
        self.old: dict[Any, Any] = old if isinstance(old, dict) else {}

    def write(self, rel: str, data: bytes) -> None:
        path = self.outdir / rel
        _make_dir(path.parent)
        write_output(path, data)
        self.written[rel] = hashlib.sha256(data).hexdigest()
        self.result.written.append(path)

    def finish(self) -> None:
        result, outdir = self.result, self.outdir
        for rel, digest in sorted(self.old.items(), key=lambda kv: str(kv[0])):
            if not isinstance(rel, str) or rel in self.written or ".." in Path(rel).parts:
                continue
            path = outdir / rel
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    result.kept.append(path)  # someone changed it: no longer ours to remove
                    continue
                path.unlink()
                result.removed.append(path)
            except OSError:
                result.kept.append(path)
                continue
            _prune(path.parent, outdir)
        manifest = json.dumps(self.written, ensure_ascii=False, indent=0, sort_keys=True)
        write_output(outdir / MANIFEST, manifest.encode("utf-8"))


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            folder, Text(f"无法创建文件夹：{exc.strerror}", f"cannot be created: {exc.strerror}")
        ) from exc


def _prune(folder: Path, top: Path) -> None:
    """Remove `folder` and its parents up to `top` while they are empty."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
