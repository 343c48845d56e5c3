"""Collect an inbox: find every workbook and Word annex (also inside .zip attachments), check
each in parallel with the code of `check` (an annex gives one result per form table), keep one
file per project, and compare with the roster.

The inbox is the clerk's own folder: nothing in it is modified, moved or locked, the summary
written there is never read back as input, and one bad file never stops the batch. What comes out
is a `Collection`, plain data that `summary` turns into the department workbook.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import pickle
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import OutputError, Text
from ..fileio import display_path
from ..findings import Finding, finding
from ..forms.spec import BUILTIN_FORMS, FormSet, Spec
from ..intake.read import read_workbook, read_workbook_bytes
from ..intake.reader import is_our_summary
from ..intake.record import Field, Record
from ..intake.safety import (
    MAX_FILE_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    Seen,
    inspect_file,
    unsafe_entry_name,
)
from ..review.checks import CheckResult, check_read
from ..review.score import ProjectScore, score_record
from ..workers import pool as worker_pool
from .roster import RosterRow, RosterWarning, load_roster, template_file_stems
from .spill import Brief, Detail, Part, Spill, SpilledResult, brief, detail, parts

#: Files that are, or claim to be, workbooks: each is checked (safety explains the wrong ones).
WORKBOOK_SUFFIXES = {
    ".xlsx",
    ".xlsm",
    ".xltx",
    ".xltm",
    ".xls",
    ".et",
    ".ett",
    ".xlt",
    ".ods",
    ".xlsb",
    ".csv",
}
#: Published Word annexes (`annexread`): each of their 自评表 tables is one project's input.
DOCUMENT_SUFFIXES = {".docx", ".docm", ".doc"}
ARCHIVE_SUFFIXES = {".zip"}
#: Findings of files that are no unit's submission (`Submission.not_a_submission`).
_NOT_A_SUBMISSION = frozenset({"W009", "W608"})
#: Operating-system litter that is never worth a finding.
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
#: Largest .zip attachment opened (its members then obey the workbook limits).
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
#: Below this many files the checks run in this process: a pool costs more than it saves.
POOL_MIN_FILES = 8
#: From this many inputs on, records and scores wait on disk (`spill`): 10,000 readings take
#: about 250 MB in memory. Since workers send them pickled and the summary reads back only a
#: `spill.Detail`, the disk is the faster way too: measured at 1,000 inputs (alternated, three
#: runs each), 4.04 s against 4.51 s, this process's CPU 1.80 s against 2.38 s, 87 MB against
#: 99 MB. Below it, a small batch keeps its records at hand.
SPILL_MIN_INPUTS = 1_000


@dataclass(frozen=True)
class Item:
    """One input: a file of the inbox, or a member of a .zip attachment in it."""

    source: str  # as shown to the clerk: relative to the inbox, "附件.zip/单位.xlsx" for members
    path: str  # the file on disk (the .zip for a member)
    #: the member's name inside the .zip as `zipfile` has it, to open it by; `source` shows the
    #: name decoded as the unit wrote it (`member_name`: GBK from a Chinese Windows)
    member: str | None
    received: datetime  # the file's modification time (a member's own date inside the .zip)


@dataclass
class Submission:
    """One input, checked. `used` is False for a file superseded by a newer one of the same
    project (`superseded_by` names that one), or that could not be read.

    `issued` holds the office-issued values the unit changed (E603 against the roster, E703
    against the signature), as name -> (issued value, what the unit typed): the office's are
    the ones it signs, so `counted_record` and `counted_score` (what the summary counts) have
    them in place, while `result` stays what the file says."""

    item: Item
    result: CheckResult
    used: bool = True
    superseded_by: str | None = None
    issued: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    _counted: tuple[Record | None, ProjectScore | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _own: Brief | None = field(default=None, init=False, repr=False, compare=False)
    _brief: Brief | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def table(self) -> str | None:
        """The table (表2) of a Word annex the project was read from (`annexread`, I024)."""
        return next((f.sheet for f in self.result.findings if f.code == "I024"), None)

    @property
    def source(self) -> str:
        """The input as the clerk names it: the file, and for a Word annex its table
        (`附件2.docx 表2`: one annex holds several projects)."""
        table = self.table
        return self.item.source if table is None else f"{self.item.source} {table}"

    @property
    def readable(self) -> bool:
        """The file was read (it has a record), told without reading a spilled record back."""
        return isinstance(self.result, SpilledResult) or self.result.record is not None

    @property
    def own(self) -> Brief | None:
        """The figures of the file as it is (`spill.Brief`); None when it could not be read."""
        if self._own is None:
            result = self.result
            if isinstance(result, SpilledResult):
                self._own = result.brief
            elif result.record is not None:
                self._own = brief(result.record, result.score)
        return self._own

    @property
    def brief(self) -> Brief | None:
        """The figures as the summary counts them (`counted_record`, `counted_score`)."""
        if not self.issued:
            return self.own
        if self._brief is None:
            rec, score = self._figures()
            self._brief = brief(rec, score) if rec is not None else None
        return self._brief

    @property
    def detail(self) -> Detail | None:
        """What 项目明细 and 绩效指标 show beyond the brief, as counted (`spill.Detail`): a
        large collection's read back from disk, small; otherwise made from the record."""
        result = self.result
        if isinstance(result, SpilledResult) and not self.issued:
            return result.detail
        rec, score = self._figures()
        return detail(rec, score) if rec is not None else None

    @property
    def department_form(self) -> bool:
        """A 部门整体支出绩效自评表 (read, of a department form): not a project's."""
        own = self.own
        return own is not None and own.spec.department

    @property
    def key(self) -> tuple[str, ...] | None:
        """The project's identity, from the workbook's own values: (主管部门代码, 项目名称); a
        department form's: (主管部门代码, 年度, form id)."""
        own = self.own
        if own is None:
            return None
        if own.spec.department:
            code, year = own.dept_code, own.year
            return (str(code), str(year), own.spec.id) if code and year else None
        code, name = own.dept_code, own.project_name
        if not code or not name:
            return None
        return (str(code), str(name))

    @property
    def not_a_submission(self) -> bool:
        """A file no unit sent as its form: an Excel/WPS lock file (~$…, W009) or a summary
        this tool wrote (W608). Noted, never counted unreadable: it holds no unit's data."""
        return not self.readable and any(f.code in _NOT_A_SUBMISSION for f in self.result.findings)

    def correct(self, name: str, issued: Any, typed: Any) -> None:
        """Put the office's issued value of field `name` back in place of what the unit typed."""
        self.issued[name] = (issued, typed)
        self._counted = self._brief = None

    @property
    def counted_record(self) -> Record | None:
        """The record as the summary counts it: the file's, with the issued values in place."""
        return self._figures()[0]

    @property
    def counted_score(self) -> ProjectScore | None:
        """The score as the summary counts it: on the issued amounts (执行率, 执行率得分, 总分
        and grade follow the issued 全年预算数), with the unit's own total as its sheet shows it."""
        return self._figures()[1]

    def _figures(self) -> tuple[Record | None, ProjectScore | None]:
        if self._counted is None:
            rec, score = self.result.record, self.result.score
            if rec is not None and self.issued:
                rec = _with_issued(rec, self.issued)
                own = score.reported_total if score is not None else None
                score = score_record(rec)
                score.reported_total = own  # what the unit's sheet shows, on its own amounts
            elif isinstance(self.result, SpilledResult):
                return rec, score  # read back when asked, not held again here
            self._counted = (rec, score)
        return self._counted


def _with_issued(rec: Record, issued: dict[str, tuple[Any, Any]]) -> Record:
    """`rec` with each issued value in its field (same cell, the unit's text kept as raw)."""
    fields = dict(rec.fields)
    for name, (value, _) in issued.items():
        old = fields.get(name)
        sheet, cell = (old.sheet, old.cell) if old is not None else rec.where(name)
        fields[name] = Field(name, value, old.raw if old is not None else None, sheet, cell)
    return dataclasses.replace(rec, fields=fields)


@dataclass
class RosterStatus:
    """A roster row and what came in for it: the file used for it, or else a file that could
    not be read but is named for it (`unreadable`): received all the same, so nobody chases a
    unit that did send its file."""

    row: RosterRow
    submission: Submission | None
    unreadable: Submission | None = None
    #: the W604 said for the row when nothing came in for it (问题清单 shows the row's names)
    finding: Finding | None = None

    @property
    def received(self) -> bool:
        return self.submission is not None or self.unreadable is not None

    @property
    def status(self) -> str:
        """`received`, `unreadable` (received, not readable) or `missing`."""
        if self.submission is not None:
            return "received"
        return "unreadable" if self.unreadable is not None else "missing"

    @property
    def source(self) -> Submission | None:
        """The file received for the row, readable or not."""
        return self.submission or self.unreadable


@dataclass
class Collection:
    """Everything a summary needs: every submission, the findings, the roster comparison."""

    inbox: str
    submissions: list[Submission] = field(default_factory=list)
    #: findings about the inbox as a whole (skipped files, duplicates, the roster)
    findings: list[Finding] = field(default_factory=list)
    roster: list[RosterStatus] | None = None
    roster_path: str | None = None

    @property
    def files(self) -> int:
        """Inputs received: files of the inbox and members of its .zip attachments. A Word
        annex is one, however many projects (submissions) its tables give."""
        return len({s.item for s in self.submissions})

    @property
    def projects(self) -> list[Submission]:
        """The submissions used in the summary: readable, one per project, in a stable order
        (department forms are no projects: `departments`)."""
        used = [s for s in self.submissions if s.used and s.readable and not s.department_form]
        return sorted(used, key=lambda s: (*(s.key or ("", "")), s.item.source))

    @property
    def departments(self) -> list[Submission]:
        """The department forms (部门整体) used: one per department, year and form."""
        used = [s for s in self.submissions if s.used and s.department_form]
        return sorted(used, key=lambda s: (*(s.key or ("", "", "")), s.item.source))

    @property
    def unreadable(self) -> list[Submission]:
        """Files that could not be read; lock files and our own summaries are not among them
        (no unit sent one)."""
        return [s for s in self.submissions if not s.readable and not s.not_a_submission]

    def skipped(self, code: str) -> int:
        """How many files were skipped as no unit's submission with `code` (W009, W608)."""
        return sum(
            s.not_a_submission and any(f.code == code for f in s.result.findings)
            for s in self.submissions
        )

    @property
    def superseded(self) -> list[Submission]:
        return [s for s in self.submissions if s.superseded_by is not None]

    def _findings(self) -> list[Finding]:
        """The live findings: a superseded file's are kept for the record, never counted."""
        return [
            f for s in self.submissions if s.superseded_by is None for f in s.result.findings
        ] + self.findings

    def unattributed(self) -> list[Finding]:
        """Live findings of no summarised project: unreadable and lock files, department forms
        (部门整体: no project), the inbox's own (files not read, the roster). With the
        projects' they make every count."""
        return [
            f
            for s in self.submissions
            if s.superseded_by is None and (not s.readable or s.department_form)
            for f in s.result.findings
        ] + self.findings

    def findings_with_state(self) -> list[tuple[Finding, bool]]:
        """Every finding with whether it is live: each file's, then the inbox's; live first,
        then errors first, then by file."""
        dead = {id(s) for s in self.superseded}
        pairs = [(f, id(s) not in dead) for s in self.submissions for f in s.result.findings]
        pairs += [(f, True) for f in self.findings]
        return sorted(
            pairs,
            key=lambda p: (
                not p[1],
                p[0].severity != "error",
                p[0].file,
                p[0].sheet or "",
                p[0].cell or "",
                p[0].code,
            ),
        )

    def all_findings(self) -> list[Finding]:
        """Every finding, superseded files' too (`findings_with_state` says which are live)."""
        return [f for f, _ in self.findings_with_state()]

    @property
    def errors(self) -> int:
        # counting needs no order: the sort is for the 问题清单 only
        return sum(f.severity == "error" for f in self._findings())

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self._findings())

    @property
    def missing(self) -> list[RosterStatus]:
        return [r for r in self.roster or [] if not r.received]


def collect(
    inbox: Path | str,
    *,
    roster: Path | str | None = None,
    roster_spec: Spec | None = None,
    exclude: tuple[Path | str, ...] = (),
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    key: bytes | None = None,
    password: str | None = None,
    on_roster_warning: Callable[[RosterWarning], None] | None = None,
    forms: FormSet = BUILTIN_FORMS,
    found: tuple[list[Item], list[Finding]] | None = None,
    reuse: Callable[[int, Item], tuple[list[CheckResult], bytes] | None] | None = None,
    keep: Callable[..., None] | None = None,
    pack: tuple[Callable[[list[CheckResult]], Any], Callable[[Any], list[CheckResult]]]
    | None = None,
    spill: bool | None = None,
    digest: Callable[..., Any] | None = None,
) -> Collection:
    """Collect every workbook under `inbox`.

    Args:
        inbox: the folder units' files were dropped into (searched recursively).
        roster: optional CSV/XLSX roster, as for `template`; compared by the identity inside
            each workbook (主管部门代码 + 项目名称, or 项目代码), not by file name.
        roster_spec: the form whose column names the roster uses (default national-2020).
        exclude: files never read (the summary being written, when it lies in the inbox).
        workers: processes to use (default: every core).
        progress: called with the number of files just finished, for a progress bar.
        on_total: called once with the number of inputs found.
        key: the office's signing key: verify each workbook's issued values (E701–E703).
        password: open password for encrypted workbooks.
        on_roster_warning: called with each warning about the roster (the columns it
            ignored), once it is read and before the inbox is: about the office's own file,
            they are for the terminal, not findings.
        forms: the forms known (`spec.load_forms`: the office's folder, then built-in); a
            workbook of none of them is read by the spec it carries.
        found: the inputs and the inbox's own findings when the caller has surveyed the
            inbox already (`survey`, with the same `exclude`).
        reuse: called with each input's index and item before it is read: a reading kept
            from an earlier run of exactly these bytes under these rules (the store), as
            (results, the results pickled), or None to read it.
        keep: called with each input read now (index, item, results, and what `pack`
            made of them; with `digest`, also `digest=` what it made), in the order readings
            arrive (the store keeps them as they come, so a killed run loses little).
        pack: (pack, unpack): a function the workers apply to each input's results (picklable:
            a module's own function), and its inverse, applied here; for work `keep` needs
            done that the workers can do in parallel (the store's rows). When what `pack`
            makes is a tuple whose first item is bytes, those are the results pickled.
        spill: keep the records and scores in a temporary file, not in memory (`spill`);
            default: from `SPILL_MIN_INPUTS` inputs on.
        digest: a function the workers apply to each input and what was read of it
            (picklable; `_digested`: the store's SHA-256 of the bytes checked, made on every
            core instead of before the first file is read); what it gives goes to `keep` as
            `digest`.

    Raises:
        OutputError: `inbox` is not a readable folder.
        RosterError / RosterErrors: the roster is unusable.
    """
    from ..forms.spec import load_spec

    root = Path(inbox)
    if not root.is_dir():
        raise OutputError(root, Text("不是文件夹，或无法读取", "not a readable folder"))
    rows = None
    if roster is not None:
        loaded = load_roster(roster, roster_spec or load_spec())
        rows = loaded.rows
        for warning in loaded.warnings:
            if on_roster_warning is not None:
                on_roster_warning(warning)
    items, findings = found if found is not None else survey(root, exclude)
    if on_total is not None:
        on_total(len(items))
    disk = Spill() if (len(items) >= SPILL_MIN_INPUTS if spill is None else spill) else None

    def lean(got: list[CheckResult], blob: bytes | None = None) -> list[CheckResult]:
        return got if disk is None else disk.keep(got, blob)

    results: list[list[CheckResult] | None] = [
        lean(*got) if reuse is not None and (got := reuse(i, item)) is not None else None
        for i, item in enumerate(items)
    ]
    todo = [i for i, got in enumerate(results) if got is None]
    if progress is not None and len(todo) < len(items):
        progress(len(items) - len(todo))

    def arrived(n: int, got: Any) -> None:
        packed = made = None
        if digest is not None:
            made, got = got
        if disk is not None:  # as `_for_spill` sent it: no record is unpickled here
            packed, blob, kept = got
            got = disk.keep_parts(blob, kept)
        elif pack is not None:
            packed, got = got, pack[1](got)
        if keep is not None:
            if digest is not None:
                keep(todo[n], items[todo[n]], got, packed, digest=made)
            else:
                keep(todo[n], items[todo[n]], got, packed)
        results[todo[n]] = got

    worker_pack = pack[0] if pack is not None else None
    check_items(
        [items[i] for i in todo],
        workers=workers,
        progress=progress,
        key=key,
        password=password,
        forms=forms,
        on_result=arrived,
        pack=worker_pack if disk is None else partial(_for_spill, worker_pack),
        digest=digest,
    )
    coll = Collection(
        display_path(str(root)),
        [Submission(i, r) for i, got in zip(items, results, strict=True) for r in got or ()],
        findings,
    )
    _supersede(coll)
    if rows is not None:
        coll.roster_path = display_path(str(roster))
        _compare_roster(coll, rows, roster_spec or load_spec())
    if key is not None:
        for s in coll.projects + coll.departments:
            _signed_values_back(s)
    return coll


# -- where the outputs go ----------------------------------------------------------------------
def check_outputs(inbox: Path | str, *outputs: Path | str | None) -> None:
    """Refuse, before anything is read, outputs that would destroy a unit's file or fail late.

    An output may lie in the inbox (it is never read back), but it must not replace a file
    that is there unless that file is an earlier output of ours (a summary, recognised by its
    document properties, or our JSON): `-o inbox/unit.xlsx` once replaced a unit's workbook
    with the summary, in silence. Two outputs may not be one file, and each one's folder must
    exist and be writable, so a mistyped `--json` path fails now, not after the summary was
    written.

    Raises:
        OutputError: naming the output and what is wrong with it.
    """
    root = _resolved(Path(inbox)) or Path(inbox).absolute()
    seen: dict[Path, Path] = {}
    for given in outputs:
        if given is None:
            continue
        path = Path(given)
        real = _resolved(path)
        if real is None:
            raise OutputError(
                path,
                Text("是无法解析的链接（循环链接）", "is a link that loops or cannot be followed"),
            )
        if real in seen:
            raise OutputError(
                path,
                Text(
                    f"与另一个输出 {seen[real]} 是同一个文件",
                    f"is the same file as the other output {seen[real]}",
                ),
            )
        seen[real] = path
        if path.is_dir():
            raise OutputError(
                path, Text("这是一个文件夹，不能作为输出文件", "is a folder, not a file")
            )
        if path.exists() and _inside(real, root) and not _our_output(real):
            raise OutputError(
                path,
                Text(
                    "是收件箱中的文件，不能用作输出（会覆盖单位报送的文件）；请把输出写到别处",
                    "is a file of the inbox and cannot be an output (it would replace a unit's "
                    "file); write the output elsewhere",
                ),
            )
        folder = real.parent
        if not folder.is_dir():
            raise OutputError(
                path, Text(f"所在文件夹 {folder} 不存在", f"its folder {folder} does not exist")
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(
                path,
                Text(f"所在文件夹 {folder} 不可写入", f"its folder {folder} is not writable"),
            )


#: How an output of ours begins when it is JSON (`report.collection_json`).
JSON_GENERATOR = "perfeval-xl"


def _our_output(path: Path) -> bool:
    """Whether the file at `path` is an earlier output of ours, which an output may replace."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return False
    if path.suffix.lower() == ".json":
        return re.match(rb'\{\s*"generator": "' + JSON_GENERATOR.encode(), head[:200]) is not None
    return is_our_summary(head)


# -- finding the inputs ------------------------------------------------------------------------
def survey(
    inbox: Path | str, exclude: tuple[Path | str, ...] = ()
) -> tuple[list[Item], list[Finding]]:
    """The inputs under `inbox` and its own findings (`find_items`), `exclude` never read.

    Raises:
        OutputError: `inbox` is not a readable folder.
    """
    root = Path(inbox)
    if not root.is_dir():
        raise OutputError(root, Text("不是文件夹，或无法读取", "not a readable folder"))
    skip = {_resolved(Path(p)) or Path(p).absolute() for p in exclude}
    return find_items(root, skip)


def find_items(root: Path, skip: set[Path]) -> tuple[list[Item], list[Finding]]:
    """Every input under `root`, in a stable order, and findings for files that are not read.

    The inbox is walked without following links to folders; a link to a file is read when it
    points inside the inbox. Nothing under it may stop the walk: a link that loops or cannot be
    resolved, a folder that cannot be listed (E607: its files would vanish from the summary in
    silence) and a name that is not UTF-8 (shown decoded, opened by its real name) each get a
    finding or a readable name, and the walk goes on."""
    items: list[Item] = []
    findings: list[Finding] = []
    real_root = _resolved(root) or root.absolute()
    # Only a file of a skipped name, or a link, can be a skipped file: resolving every path
    # took a third of a second for 10,000 files, before any checking could start.
    skip_names = {p.name for p in skip}

    def unlisted(error: OSError) -> None:
        where = Path(error.filename or root)
        shown = "." if where == root else _shown_source(where, root)
        reason = error.strerror or type(error).__name__
        findings.append(
            finding(
                "E607",
                shown,
                Text(
                    f"收件箱中的文件夹无法读取（{reason}），其中的文件未汇总；请检查该文件夹的权限",
                    f"a folder of the inbox cannot be read ({reason}); the files in it are not "
                    "summarised: check its permissions",
                ),
            )
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted, followlinks=False):
        dirnames.sort()
        for name in list(dirnames):
            path = Path(dirpath) / name
            if path.is_symlink():
                # never walked (a folder linked from outside, or a loop); one inside the inbox
                # is walked where it really is
                target = _resolved(path)
                if target is None or not _inside(target, real_root):
                    findings.append(_link_not_read(_shown_source(path, root), target is None))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            source = _shown_source(path, root)
            if name in IGNORED_NAMES or _our_temp_file(name):
                continue
            link = path.is_symlink()
            target = _resolved(path) if link or name in skip_names else path
            if target is None:
                findings.append(_link_not_read(source, True))
                continue
            if (link or name in skip_names) and target in skip:
                continue
            if link and not _inside(target, real_root):
                findings.append(_link_not_read(source, False))
                continue
            suffix = path.suffix.lower()
            if suffix in ARCHIVE_SUFFIXES:
                found, problems = _archive_items(path, source)
                items += found
                findings += problems
            elif suffix in _INPUT_SUFFIXES or name.startswith("~$"):
                items.append(Item(source, str(path), None, _mtime(path)))
            else:
                findings.append(
                    finding(
                        "W605",
                        source,
                        Text("不是 Excel 工作簿，未读取", "not an Excel workbook: not read"),
                    )
                )
    return items, findings


def inputs_of(path: Path | str) -> tuple[list[Item], list[Finding]] | None:
    """What `check PATH` checks in `path`, found as `collect` finds its inputs: under a folder,
    every input (`find_items`); in a .zip attachment, its workbooks. Each is named as the clerk
    sees it, from `path` as given: `收件箱/单位A/项目.xlsx`, `附件.zip/单位/项目.xlsx`; so are the
    findings about what is not read (W605, E607, a bad .zip). None for a file to check itself."""
    path = Path(path)
    shown = display_path(str(path))
    if path.is_dir():
        items, findings = find_items(path, set())

        def named(source: str) -> str:
            if source == ".":  # the folder itself (E607)
                return shown
            return source if shown == "." else os.path.join(shown, source)

        return (
            [dataclasses.replace(i, source=named(i.source)) for i in items],
            [dataclasses.replace(f, file=named(f.file)) for f in findings],
        )
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        return _archive_items(path, shown)
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        # a Word annex holds several projects: checked as collect checks it, one per table
        return [Item(shown, str(path), None, _mtime(path))], []
    return None


def _shown_source(path: Path, root: Path) -> str:
    """A path of the inbox as the clerk sees it: relative to the inbox, `/` between parts,
    decoded for display (`fileio.display_path`)."""
    return display_path(path.relative_to(root).as_posix())


def _resolved(path: Path) -> Path | None:
    """Where `path` really is; None for a link that loops or cannot be followed."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: "Symlink loop" before Python 3.13
        return None


def _link_not_read(source: str, broken: bool) -> Finding:
    if broken:
        text = Text(
            "链接无法解析（指向自身或形成循环），未读取",
            "a link that loops or cannot be followed: not read",
        )
    else:
        text = Text("链接指向收件箱以外，未读取", "a link pointing outside the inbox: not read")
    return finding("W605", source, text)


def _our_temp_file(name: str) -> bool:
    # fileio.atomic_write_bytes writes ".<name>.<random>.tmp" beside its target
    return name.startswith(".") and name.endswith(".tmp")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)
    except OSError:
        return datetime(1970, 1, 1)


def _archive_items(path: Path, source: str) -> tuple[list[Item], list[Finding]]:
    """Workbooks inside a .zip attachment, checked against the same limits as a workbook's own
    zip before anything is inflated; members are read later, in memory, by the worker."""
    try:
        size = path.stat().st_size
        if size > MAX_ARCHIVE_BYTES:
            return [], [
                _bad_archive(source, f"{size:,} 字节，超过上限", f"{size:,} bytes, over the limit")
            ]
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, RuntimeError) as exc:
        return [], [finding("E001", source, _archive_problem(exc, member=False))]
    if {"[Content_Types].xml", "xl/workbook.xml"} <= {i.filename for i in infos}:
        # an .xlsx renamed to .zip (an .xlsx is a zip): the workbook itself, read as any file
        # (the safety gate looks at the content, not the extension), not one W605 per part
        return [Item(source, str(path), None, _mtime(path))], []
    files = [i for i in infos if not i.is_dir()]
    total = sum(i.file_size for i in files)
    if len(files) > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
        return [], [
            _bad_archive(
                source,
                f"{len(files)} 个文件，共 {total:,} 字节",
                f"{len(files)} files, {total:,} bytes",
            )
        ]
    items, findings = [], []
    for info in files:
        inner = member_name(info)  # as the unit named it; opened by `info.filename`
        name = inner.rsplit("/", 1)[-1]
        shown = f"{source}/{inner}"
        if _unsafe_member(info.filename) or _unsafe_member(inner):
            findings.append(
                _bad_archive(source, f"不安全的文件名 {inner!r}", f"unsafe entry name {inner!r}")
            )
            continue
        suffix = Path(name).suffix.lower()
        if name in IGNORED_NAMES or inner.startswith("__MACOSX/"):
            continue
        if info.file_size > MAX_FILE_BYTES:
            findings.append(
                _bad_archive(
                    shown,
                    f"{info.file_size:,} 字节，超过上限",
                    f"{info.file_size:,} bytes, over the limit",
                )
            )
        elif suffix in _INPUT_SUFFIXES or name.startswith("~$"):
            items.append(Item(shown, str(path), info.filename, datetime(*info.date_time)))
        else:
            findings.append(
                finding(
                    "W605",
                    shown,
                    Text("不是 Excel 工作簿，未读取", "not an Excel workbook: not read"),
                )
            )
    return items, findings


#: A zip entry's flag bit saying its name is UTF-8 (APPNOTE 4.4.4, bit 11, "EFS").
_UTF8_NAME = 0x800


def member_name(info: zipfile.ZipInfo) -> str:
    """A zip entry's name as the unit wrote it.

    A name stored without the UTF-8 flag is decoded by `zipfile` as CP437, the zip format's
    old default; but 360压缩, WinRAR and Windows' "send to compressed folder" on a Chinese
    Windows store the system's code page, GBK, so `第一小学/项目.xlsx` came out as
    `╡┌╥╗╨í╤º/╧ε─┐.xlsx`. Such a name's bytes are decoded as UTF-8 (tools that write UTF-8
    without setting the flag, as macOS does), else GB18030 (a superset of GBK), else left as
    CP437. Pure ASCII reads the same in all of them. The entry is still opened by
    `info.filename`, the name `zipfile` knows it by."""
    if info.flag_bits & _UTF8_NAME:
        return info.filename
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:  # not a name zipfile decoded as CP437
        return info.filename
    if raw.isascii():
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        # zipfile's own clean-up of a name (ZipInfo.__init__): cut at NUL, `/` for os.sep
        decoded = decoded.split("\x00", 1)[0]
        if os.sep != "/":
            decoded = decoded.replace(os.sep, "/")
        return decoded
    return info.filename


def _unsafe_member(name: str) -> bool:
    """A zip entry's name that points outside where it would be unpacked: what the safety gate
    refuses in a workbook, and any ':' besides (a drive or an NTFS stream anywhere in it)."""
    return unsafe_entry_name(name) or ":" in name


def _archive_problem(exc: BaseException, *, member: bool) -> Text:
    """Why a .zip attachment (or one file in it) cannot be read, in words a unit can act on:
    the system's reason for a file that cannot be opened, else what the damage means."""
    if isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile) and exc.strerror:
        zh, en = f"无法读取（{exc.strerror}）", f"cannot be read ({exc.strerror})"
    elif isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        zh, en = "设置了解压密码", "it is password-protected"
    else:
        zh, en = "已损坏或不完整", "damaged or incomplete"
    if member:
        return Text(
            f"压缩包中的这个文件{zh}；请直接发送该 .xlsx 文件，或重新压缩后发送",
            f"this file in the archive is {en}; send the .xlsx itself, or zip it again",
        )
    return Text(
        f"压缩包{zh}，其中的文件未读取；请直接发送其中的 .xlsx 文件，或重新压缩后发送",
        f"the archive is {en}: nothing in it was read; send the .xlsx files themselves, or "
        "zip them again",
    )


def _bad_archive(source: str, zh: str, en: str) -> Finding:
    return finding(
        "E005", source, Text(f"压缩包超出安全上限：{zh}", f"archive over the safety limits: {en}")
    )


# -- checking ----------------------------------------------------------------------------------
_INPUT_SUFFIXES = WORKBOOK_SUFFIXES | DOCUMENT_SUFFIXES


def check_inputs(
    item: Item,
    key: bytes | None = None,
    password: str | None = None,
    forms: FormSet = BUILTIN_FORMS,
    seen: Seen | None = None,
) -> list[CheckResult]:
    """Check one input (in a worker process): a workbook gives one result, a Word annex one per
    自评表 table it holds (`annexread`), or one saying why none was read. `seen` is told of a
    file's bytes once read (`safety.inspect_file`; not of a .zip member's)."""
    name = item.member if item.member is not None else item.path
    if Path(name).suffix.lower() not in DOCUMENT_SUFFIXES:
        return [check_item(item, key=key, password=password, forms=forms, seen=seen)]
    from ..intake.annexread import read_document

    data, problem = _input_bytes(item, seen)
    if problem is not None:
        return [CheckResult(item.source, None, [problem])]
    results = [check_read(r, key=key) for r in read_document(item.source, data, forms)]
    for result in results:
        result.rename(item.source)
    return results


def _input_bytes(item: Item, seen: Seen | None = None) -> tuple[bytes, Finding | None]:
    """The bytes of a Word annex: a file (`inspect_file` without a look at the content: no
    folder, device or oversized file is read) or a .zip member. The content passes the gate
    in `read_document`, once."""
    if item.member is None:
        data, problem = inspect_file(item.path, _content_later, seen=seen)
        return (data or b""), problem
    return _member_bytes(item)


def _content_later(name: str, data: bytes) -> None:
    """No content inspection here: `annexread.read_document` inspects what it reads."""
    return None


#: What opening and reading a .zip member can raise: the member is then unreadable (E001).
_MEMBER_ERRORS = (
    OSError,
    zipfile.BadZipFile,
    ValueError,
    KeyError,
    EOFError,
    RuntimeError,
    zlib.error,
)


def _member_bytes(item: Item) -> tuple[bytes, Finding | None]:
    """A .zip member's bytes (one past the size limit at most), or E001 saying why not."""
    try:
        with zipfile.ZipFile(item.path) as archive, archive.open(item.member) as fh:
            return fh.read(MAX_FILE_BYTES + 1), None
    except _MEMBER_ERRORS as exc:
        return b"", finding("E001", item.source, _archive_problem(exc, member=True))


def check_item(
    item: Item,
    key: bytes | None = None,
    password: str | None = None,
    forms: FormSet = BUILTIN_FORMS,
    seen: Seen | None = None,
) -> CheckResult:
    """Check one input (in a worker process): a file by path, a .zip member in memory."""
    if item.member is None:
        # the fast reader: the same record and findings as `check` (tests/test_fastread.py)
        result = check_read(
            read_workbook(item.path, password=password, fast=True, forms=forms, seen=seen),
            key=key,
        )
    else:
        data, problem = _member_bytes(item)
        if problem is not None:
            return CheckResult(item.source, None, [problem])
        result = check_read(
            read_workbook_bytes(item.source, data, password=password, fast=True, forms=forms),
            key=key,
        )
    result.rename(item.source)
    return result


def check_items(
    items: list[Item],
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    key: bytes | None = None,
    password: str | None = None,
    forms: FormSet = BUILTIN_FORMS,
    on_result: Callable[[int, Any], None] | None = None,
    pack: Callable[[list[CheckResult]], Any] | None = None,
    digest: Callable[..., Any] | None = None,
) -> list[Any]:
    """Check every item, in parallel on all cores for a real batch: each item's results (one
    per workbook, one per form table of a Word annex), in input order; with `on_result`,
    which is told of each item's results (by index) as they arrive, nothing (the results are
    not held twice). With `pack`, each item's results as `pack` made them, in the worker;
    with `digest`, (what `digest` made of the item and what was read of it, its results):
    `_digested`."""
    workers = workers or os.cpu_count() or 1
    check = partial(check_inputs, key=key, password=password, forms=forms)
    if pack is not None:
        check = partial(_packed, check, pack)
    if digest is not None:
        check = partial(_digested, digest, check)
    out: list[Any] = []

    done = 0

    def arrived(result: Any) -> None:
        nonlocal done
        if on_result is not None:
            on_result(done, result)  # the caller keeps what it needs: nothing is held here
        else:
            out.append(result)
        done += 1
        if progress is not None:
            progress(1)

    if workers == 1 or len(items) < POOL_MIN_FILES:
        for item in items:
            arrived(check(item))
        return out
    with no_gc_pauses(), worker_pool(workers) as pool:
        # `check`, not `check_item`: the office's key and the open password go to the workers
        for result in pool.map(
            check, items, chunksize=max(1, min(32, len(items) // (workers * 4)))
        ):
            arrived(result)
    return out


def _packed(
    check: Callable[..., list[CheckResult]],
    pack: Callable[[list[CheckResult]], Any],
    item: Item,
    seen: Seen | None = None,
) -> Any:
    return pack(check(item, seen=seen))


def _digested(digest: Callable[..., Any], check: Callable[..., Any], item: Item) -> Any:
    """(`digest(item, read)`, the item's results): `read` is what the gate read of the file
    (`safety.Seen`'s arguments), or None when it read nothing (a lock file, a folder, a .zip
    member): the digest is of the very bytes that were checked, and the file is not opened
    again to hash it."""
    read: list[tuple] = []
    results = check(item, seen=lambda *got: read.append(got))
    return digest(item, read[0] if read else None), results


def _for_spill(
    pack: Callable[[list[CheckResult]], Any] | None, results: list[CheckResult]
) -> tuple[Any, bytes, tuple[list[Part], bytes]]:
    """What a worker sends when the parent keeps the records on disk (`spill`): what `pack`
    makes of the readings (None without one), the readings pickled (the bytes `pack` made,
    when it pickled them), and what the parent keeps of each (`spill.parts`: in memory, and
    its `Detail` pickled, for the disk)."""
    packed = pack(results) if pack is not None else None
    blob = packed[0] if isinstance(packed, tuple) and packed else None
    if not isinstance(blob, bytes):
        blob = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
    return packed, blob, parts(results)


@contextmanager
def no_gc_pauses(*, freeze: bool = False) -> Iterator[None]:
    """Switch the cycle collector off while results pile up in this process.

    Every result unpickled here is kept, so each automatic collection walks all the results so
    far: measured, that made receiving a result four times slower (0.93 ms instead of 0.25).
    Records hold no reference cycles; reference counting frees what is dropped, and anything
    cyclic is collected once the collector is back on.

    Switching it back on has a price too: the records then sit in the youngest generation, and
    the next few automatic collections walk all of them (about 2 s for 10,000 records). The
    command line therefore keeps the collector off from collecting to the written summary
    (`cli.collect`), and nested uses leave it as they found it.

    With `freeze`, for a caller that keeps what was made until the process ends, everything
    made meanwhile is moved out of the collector's reach (`gc.freeze`) before it is switched
    back on: else the first automatic collection after that walks every object made while it
    was off (0.8 s at the end of a 10,000-file `collect`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


# -- one file per project ----------------------------------------------------------------------
def _supersede(coll: Collection) -> None:
    """When several files carry the same project, use the newest (by the workbook's own saved
    time, then the file's) and report the others as superseded."""
    groups: dict[tuple[str, ...], list[Submission]] = {}
    for s in coll.submissions:
        if not s.readable:
            s.used = False
        elif s.key is not None:
            groups.setdefault(s.key, []).append(s)
    for key, subs in groups.items():
        if len(subs) < 2:
            continue
        ordered = sorted(subs, key=_newness, reverse=True)
        keep = ordered[0]
        if keep.department_form:
            what = Text(
                f"同一部门整体自评表（{key[0]} {key[1]} 年，{key[2]}）",
                f"the same department form ({key[0]}, {key[1]}, {key[2]})",
            )
        else:
            what = Text(f"同一项目（{key[0]} {key[1]}）", f"same project ({key[0]} {key[1]})")
        for old in ordered[1:]:
            old.used = False
            old.superseded_by = keep.item.source
            old.result.findings.append(
                finding(
                    "W601",
                    old.item.source,
                    Text(
                        f"与 {keep.item.source} 是{what.zh}，已采用较新的文件",
                        f"{what.en} as {keep.item.source}, which is newer and is used",
                    ),
                )
            )


def _newness(s: Submission) -> tuple:
    saved = s.own.saved if s.own is not None else None
    return (saved or datetime.min, s.item.received, s.item.source)


# -- the roster --------------------------------------------------------------------------------
def _compare_roster(coll: Collection, rows: list[RosterRow], spec: Spec) -> None:
    by_code: dict[str, Submission] = {}
    by_key: dict[tuple[str, str], Submission] = {}
    for s in coll.projects:
        code = s.own.project_code  # type: ignore[union-attr] # projects are readable
        if code:
            by_code[str(code)] = s
        if s.key is not None:
            by_key[s.key] = s
    matched: set[int] = set()
    named = _unreadable_by_stem(coll)
    coll.roster = []
    for row, stem in zip(rows, template_file_stems(rows), strict=True):
        v = row.values
        sub = by_code.get(str(v["project_code"])) if v.get("project_code") else None
        sub = sub or by_key.get((str(v["dept_code"]), str(v["project_name"])))
        coll.roster.append(RosterStatus(row, sub))
        if sub is None and (bad := named.get(_stem_key(stem))) is not None:
            # received: the file the office issued for this row came back, unreadable (its own
            # finding says why); the unit is asked to send it again, not chased for it
            coll.roster[-1].unreadable = bad
            continue
        if sub is None:
            coll.roster[-1].finding = finding(
                "W604",
                str(coll.roster_path),
                Text(
                    f"名册第 {row.line} 行的项目「{v['project_name']}」（{v['dept_code']}）未收到",
                    f"roster row {row.line}: project '{v['project_name']}' ({v['dept_code']}) not received",
                ),
                field="project_name",
            )
            coll.findings.append(coll.roster[-1].finding)
            continue
        matched.add(id(sub))
        _compare_issued(sub, row)
        form = sub.own.spec.id  # type: ignore[union-attr]
        if form != spec.id:
            sub.result.findings.append(
                finding(
                    "W606",
                    sub.item.source,
                    Text(
                        f"表式为 {form}，名册为 {spec.id}",
                        f"form {form}, the roster's is {spec.id}",
                    ),
                )
            )
    for s in coll.projects:
        if id(s) not in matched:
            key = s.key or ("?", "?")
            s.result.findings.append(
                finding(
                    "E602",
                    s.item.source,
                    Text(
                        f"项目（{key[0]} {key[1]}）不在名册中",
                        f"project ({key[0]} {key[1]}) is not on the roster",
                    ),
                    field="project_name",
                )
            )


#: What a copy adds to a file name: Windows' " - 副本" / " - Copy", a browser's " (1)".
_COPY_MARKS = re.compile(r"(?:\s*-\s*(?:副本|copy))+$|\s*[(（]\d{1,3}[)）]$", re.IGNORECASE)


def _stem_key(stem: str) -> str:
    return unicodedata.normalize("NFC", stem).casefold()


def _unreadable_by_stem(coll: Collection) -> dict[str, Submission]:
    """Unreadable files (lock files aside) by their name without extension, and without what a
    copy adds to it, to be matched to the roster by the template's own naming."""
    stems: list[tuple[str, Submission]] = []
    for s in coll.unreadable:
        name = PurePosixPath(s.item.source.replace("\\", "/")).name
        stems.append((name.rsplit(".", 1)[0] if "." in name else name, s))
    out: dict[str, Submission] = {}
    for stem, s in stems:  # a file's own name first: a copy's never takes a row from it
        out.setdefault(_stem_key(stem), s)
    for stem, s in stems:
        bare = stem
        while (cut := _COPY_MARKS.sub("", bare)) != bare:
            bare = cut
        out.setdefault(_stem_key(bare), s)
    return out


def _shown(value: Any, name: str) -> str:
    """A value in a message: amounts as amounts are shown everywhere (320.00), texts as typed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name.startswith("fund_"):
        return f"{value:,.2f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _signed_values_back(sub: Submission) -> None:
    """Under --key the signed issued values are authoritative even without a roster: each one
    E703 found changed goes back in place of the unit's (a value the roster already put back
    stays the roster's). E703 is only reported under a valid signature, so these are the
    office's own values."""
    rec = sub.result.record
    changed = [f.field for f in sub.result.findings if f.code == "E703" and f.field]
    if rec is None or not changed:
        return
    try:
        signed = json.loads(rec.meta.get("signed_values") or "{}")
    except (TypeError, ValueError):
        return
    if not isinstance(signed, dict):
        return
    for name in changed:
        if name in sub.issued or not isinstance(signed.get(name), str):
            continue
        sub.correct(name, from_canonical(name, signed[name]), rec.value(name))


def from_canonical(name: str, text: str) -> Any:
    """A signed value (`sign.canonical`) as the record holds such a value."""
    if not text:
        return None
    if name.startswith("fund_") or name == "year":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if name == "year" and number.is_integer() else number
    return text


def _compare_issued(sub: Submission, row: RosterRow) -> None:
    """Office-issued values must still be what the office issued; where one is not, the
    roster's is put back for the summary (the unit's stays in the finding and in 项目明细)."""
    rec = sub.result.record
    for name, expected in row.values.items():
        got_field = rec.fields.get(name)
        got = got_field.value if got_field else None
        same = (
            isinstance(got, (int, float))
            and abs(got - float(expected)) <= rec.spec.amount_tolerance
            if isinstance(expected, (int, float))
            else " ".join(str(got or "").split()) == " ".join(str(expected).split())
        )
        if not same:
            sheet, cell = rec.where(name)
            sub.correct(name, expected, got)
            want, have = _shown(expected, name), _shown(got, name)
            sub.result.findings.append(
                finding(
                    "E603",
                    sub.item.source,
                    Text(
                        f"与名册不符：名册为「{want}」，文件中为「{have}」；汇总按名册计",
                        f"differs from the roster: roster '{want}', file '{have}'; "
                        "the summary counts the roster's",
                    ),
                    sheet=sheet,
                    cell=cell,
                    field=name,
                )
            )
