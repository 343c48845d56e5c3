"""A large collection's records on disk: what lets `collect` hold 100,000 workbooks.

A reading (`CheckResult`) keeps its record and score in memory: about 20 KB a workbook, most of
it the indicator rows, so 100,000 workbooks would need 2 GB in the parent. From
`collect.SPILL_MIN_INPUTS` inputs on, each record and score goes to a temporary file as it
arrives (`Spill`), and the reading kept in memory (`SpilledResult`) holds its findings and a
`Brief`: the few figures the summary's totals, 部门汇总, 同比 and the store's year rows need.
项目明细 and 绩效指标 read a `Detail` back (the values their rows show, made by the worker and
kept on disk beside the record: no object of the record is rebuilt). Whatever needs the whole
record (the roster comparison, the JSON report) reads it back: `SpilledResult.record` loads
it, so any code that asks for the record gets the same one, only slower.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from ..errors import OutputError, Text
from ..forms.normalize import is_no_reason, unshared
from ..forms.spec import Spec
from ..intake.record import Record
from ..review.checks import CheckResult
from ..review.score import ProjectScore


@dataclass(frozen=True, slots=True)
class Brief:
    """The figures of one readable workbook that every pass over a whole collection reads: its
    names, amounts and score, as its record and score give them (`brief`)."""

    spec: Spec
    dept_code: Any
    dept_name: Any
    unit_name: Any
    project_name: Any
    project_code: Any
    year: Any
    budget: float | None  # 全年预算数, the sources' total (`Record.fund`)
    spent: float | None
    exec_rate: float | None
    indicators: int  # how many indicator rows
    saved: datetime | None  # the workbook's own saved time
    scored: bool  # it has a score at all
    complete: bool  # … and a complete one
    total: float | None  # the score's total, complete or not (`ProjectScore.total`)
    grade: str | None


def brief(rec: Record, score: ProjectScore | None) -> Brief:
    """The `Brief` of a record and its score."""
    value = rec.value
    return Brief(
        spec=rec.spec,
        dept_code=value("dept_code"),
        dept_name=value("dept_name"),
        unit_name=value("unit_name"),
        project_name=value("project_name"),
        project_code=value("project_code"),
        year=value("year"),
        budget=rec.fund("total", "budget"),
        spent=rec.fund("total", "spent"),
        exec_rate=rec.exec_rate,
        indicators=len(rec.indicators),
        saved=rec.saved,
        scored=score is not None,
        complete=score is not None and score.complete,
        total=score.total if score is not None else None,
        grade=score.grade if score is not None else None,
    )


#: What the parent keeps of one reading when its record waits on disk: the reading without
#: its record and score, and its `Brief` (None, and the reading whole, when it has no record).
Part = tuple[CheckResult, Brief | None]


def parts(results: list[CheckResult]) -> tuple[list[Part], bytes]:
    """The `Part` of each reading, and their `Detail`s pickled: made in the worker, beside the
    readings pickled (`Spill.keep_parts`)."""
    kept: list[Part] = [
        (r, None)
        if r.record is None
        else (
            CheckResult(r.path, None, r.findings, None, r.signed, r.signature_checked),
            brief(r.record, r.score),
        )
        for r in results
    ]
    return kept, _details(results)


def _details(results: list[CheckResult]) -> bytes:
    return pickle.dumps(
        [None if r.record is None else detail(r.record, r.score) for r in results],
        protocol=pickle.HIGHEST_PROTOCOL,
    )


class Detail(NamedTuple):
    """What 项目明细 and 绩效指标 show of one readable workbook beyond its `Brief`, as plain
    values (`detail`): a worker makes it beside the record, and a large collection keeps it on
    disk next to the record. Read back for the summary, it costs a sixteenth of the record
    (measured: 0.019 against 0.31 ms; no field, indicator or score object is rebuilt)."""

    #: each source row of the form's (budget, spent), by the row's key
    funds: dict[str, tuple[float | None, float | None]]
    #: how many indicators have each 完成状态 (blank included)
    statuses: dict[Any, int]
    #: indicators not (fully) met whose 偏差原因 says nothing (as E405 counts them)
    missing_reasons: int
    exec_score: float | None
    #: the unit's own total, where the form has score columns
    reported_total: float | None
    #: each 一级's sub-score (empty without a score)
    subtotals: dict[str, float]
    #: 计分方式 (`score_kind`)
    score_kind: str | None
    #: each indicator row in order: (its values by key, 分值, 得分, 自评得分)
    indicators: tuple[tuple[dict[str, Any], float | None, float | None, float | None], ...]


def detail(rec: Record, score: ProjectScore | None) -> Detail:
    """The `Detail` of a record and its score."""
    scores = {x.index: x for x in score.indicators} if score else {}
    reported_form = bool(score and score.reported_form)
    rows = []
    for ind in rec.indicators:
        sc = scores.get(ind.index)
        rows.append(
            (
                {k: f.value for k, f in ind.fields.items()},
                sc.weight if sc else None,
                sc.computed if sc else None,
                sc.reported if sc and reported_form else None,
            )
        )
    return Detail(
        funds={
            r.key: (rec.fund(r.key, "budget"), rec.fund(r.key, "spent"))
            for r in rec.spec.source_rows
        },
        statuses=dict(Counter(ind.value("status") for ind in rec.indicators)),
        missing_reasons=missing_reasons(rec),
        exec_score=score.exec_score if score else None,
        reported_total=score.reported_total if score and score.reported_form else None,
        subtotals=dict(score.subtotals) if score else {},
        score_kind=score_kind(score),
        indicators=tuple(rows),
    )


def missing_reasons(rec: Record) -> int:
    """Indicators whose status says not (fully) met and whose 偏差原因 is blank or says
    nothing (无, 同上 …: the spec's `empty_reasons`), as E405 counts them."""
    spec = rec.spec
    count = 0
    for ind in rec.indicators:
        status = ind.value("status")
        if (
            status
            and status != spec.complete_status
            and is_no_reason(ind.value("reason"), spec.empty_reasons)
        ):
            count += 1
    return count


def score_kind(score: ProjectScore | None) -> str | None:
    """计分方式: reported scores checked by the tool, or computed by it alone (and so labelled)."""
    if score is None:
        return None
    kind = "自评核验" if score.reported_form else "工具计算"
    return kind if score.complete else f"{kind}（不完整）"


#: Whether `os.pread` reads by offset here (not on Windows, which has no fork either).
_PREAD = hasattr(os, "pread")


class Spill:
    """An append-only temporary file of pickled readings, read back by offset.

    The file is deleted when closed, and is closed when the last reading that points into it
    is dropped. The last readings loaded are kept (one input's), because a pass asks for a
    project's record and then its score."""

    def __init__(self) -> None:
        # unbuffered: a full disk is told by the write that meets it, not by a later read
        try:
            self._fh: IO[bytes] = tempfile.TemporaryFile(  # noqa: SIM115
                prefix="perfeval-xl-", buffering=0
            )
        except OSError as exc:
            raise _unusable(exc) from None
        # closed (and so deleted) with this object, when no reading points into it any more
        weakref.finalize(self, self._fh.close)
        self._end = 0
        self._last: tuple[int, list[CheckResult]] | None = None
        self._last_details: tuple[int, list[Detail | None]] | None = None

    def keep(self, results: list[CheckResult], blob: bytes | None = None) -> list[CheckResult]:
        """`results` with each readable one's record and score moved to the file. `blob`:
        `results` already pickled (by a worker, for the store): written as it is."""
        if not any(r.record is not None for r in results):
            return results
        if blob is None:
            blob = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
        return self.keep_parts(blob, parts(results))

    def keep_parts(self, blob: bytes, kept: tuple[list[Part], bytes]) -> list[CheckResult]:
        """`keep` of readings a worker sent as `blob` (the readings pickled) and `kept` (what
        stays in memory of each, and their details pickled: `parts`), without unpickling the
        records here: the parent would only drop them again (0.3-0.4 ms a workbook, measured,
        on the one process that serves both workers)."""
        got, details = kept
        if all(b is None for _, b in got):
            return [r for r, _ in got]
        where = (self._write(blob), self._write(details))
        return [
            r if b is None else SpilledResult(r, b, self, where, i) for i, (r, b) in enumerate(got)
        ]

    def _write(self, blob: bytes) -> tuple[int, int]:
        at = self._end
        try:
            self._fh.seek(at)
            view = memoryview(blob)
            while view:
                view = view[self._fh.write(view) or 0 :]
        except OSError as exc:
            raise _unusable(exc) from None
        self._end += len(blob)
        return at, len(blob)

    def load(self, at: int, length: int) -> list[CheckResult]:
        if self._last is not None and self._last[0] == at:
            return self._last[1]
        data = self._read(at, length)
        with unshared():  # read for one pass and dropped: nothing to share texts with
            got = pickle.loads(data)
        self._last = (at, got)
        return got

    def _read(self, at: int, length: int) -> bytes | bytearray:
        # By offset where the system can (`os.pread`): a child forked to write part of the
        # summary reads this file too, and a seek would move the offset both processes share.
        if _PREAD:
            try:
                data = os.pread(self._fh.fileno(), length, at)
                while len(data) < length:
                    more = os.pread(self._fh.fileno(), length - len(data), at + len(data))
                    if not more:
                        raise OSError(f"the temporary file ends at {at + len(data)}")
                    data += more
            except OSError as exc:
                raise _unusable(exc) from None
            return data
        buf = bytearray(length)
        try:
            self._fh.seek(at)
            view = memoryview(buf)
            while view:
                n = self._fh.readinto(view)  # type: ignore[attr-defined]
                if not n:
                    raise OSError(f"the temporary file ends at {at + length - len(view)}")
                view = view[n:]
        except OSError as exc:
            raise _unusable(exc) from None
        return buf

    def load_details(self, at: int, length: int) -> list[Detail | None]:
        if self._last_details is not None and self._last_details[0] == at:
            return self._last_details[1]
        got = pickle.loads(self._read(at, length))
        self._last_details = (at, got)
        return got


def _unusable(exc: OSError) -> OutputError:
    return OutputError(
        Path(tempfile.gettempdir()),
        Text(
            f"临时文件夹无法使用（{exc.strerror or exc}）：汇总 1000 个以上的文件时，每个文件约需"
            " 10 KB 临时空间；请腾出空间，或用环境变量 TMP（Windows）/TMPDIR 指向别的文件夹",
            f"the temporary folder cannot be used ({exc.strerror or exc}): collecting 1,000 "
            "or more files needs about 10 KB a file there; free some space, or point TMP "
            "(Windows) / TMPDIR at another folder",
        ),
    )


class SpilledResult(CheckResult):
    """A readable `CheckResult` whose record and score wait in a `Spill`: `record` and `score`
    load them (the same objects for both, for one input at a time), `detail` its `Detail`; the
    findings, the flags and the `brief` stay in memory. Pickled (to a worker), it is a plain
    `CheckResult` again."""

    def __init__(  # not the dataclass's: a reading is moved here, not built
        self,
        result: CheckResult,
        summary: Brief,
        spill: Spill,
        where: tuple[tuple[int, int], tuple[int, int]],
        index: int,
    ) -> None:
        self.path = result.path
        self.findings = result.findings
        self.signed = result.signed
        self.signature_checked = result.signature_checked
        self.brief = summary
        self._spill = spill
        # (offset, length) of the pickled list of readings this one is of, and of their details
        self._where, self._details = where
        self._index = index

    def _loaded(self) -> CheckResult:
        return self._spill.load(*self._where)[self._index]

    @property
    def detail(self) -> Detail:
        """Its `Detail`, read back without the record."""
        got = self._spill.load_details(*self._details)[self._index]
        assert got is not None  # a reading with a record has one
        return got

    @property  # type: ignore[override]
    def record(self) -> Record | None:
        return self._loaded().record

    @property  # type: ignore[override]
    def score(self) -> ProjectScore | None:
        return self._loaded().score

    def __reduce__(self) -> tuple:
        return (
            CheckResult,
            (
                self.path,
                self.record,
                self.findings,
                self.score,
                self.signed,
                self.signature_checked,
            ),
        )
