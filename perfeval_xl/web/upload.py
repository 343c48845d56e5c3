"""One upload, checked: the same gate and checks as `collect`, and whose project it is.

A unit's page accepts only its own projects. A workbook (or each workbook of a .zip) is read
by `collect.check_inputs`, the very function `collect` runs in its workers, so a unit sees at
once what the office will see. Then the identity inside the file (主管部门代码 + 项目名称, or
项目代码) is looked up in the roster: a project of another unit is refused with a message
saying whose it is, one of no unit's is refused too; nothing refused enters the inbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import Text
from ..findings import ERROR, WARNING, Finding
from ..forms.spec import BUILTIN_FORMS, FormSet
from ..office.collect import ARCHIVE_SUFFIXES, Item, _archive_items, check_inputs
from ..office.roster import RosterRow
from ..review.checks import CheckResult
from .workspace import Unit, cell_text

#: What a unit may upload: a workbook, or a .zip of them.
UPLOAD_SUFFIXES = (".xlsx", ".xlsm", ".zip")


@dataclass
class Checked:
    """What the unit is shown: the findings of each project read, and why it was refused."""

    name: str
    results: list[CheckResult] = field(default_factory=list)
    #: findings about the upload as a whole (a .zip that cannot be opened)
    findings: list[Finding] = field(default_factory=list)
    #: why nothing of it was accepted (another unit's project, no readable workbook)
    refused: Text | None = None
    #: each project read (by its index in `results`) -> its ledger row, once kept
    ledger_ids: dict[int, int] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.refused is None

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results) + sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(r.warnings for r in self.results) + sum(
            f.severity == WARNING for f in self.findings
        )

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for r in self.results for f in r.findings)]

    def ledger_findings(self) -> str:
        """The findings as JSON for the ledger (code, severity, sheet, cell, message)."""
        return json.dumps(
            [
                [f.code, f.severity, f.sheet, f.cell, f.message.zh, f.message.en]
                for f in self.all_findings()
            ],
            ensure_ascii=False,
        )


def check_upload(
    path: Path,
    name: str,
    received: datetime,
    unit: Unit,
    units: list[Unit],
    *,
    key: bytes | None = None,
    forms: FormSet = BUILTIN_FORMS,
) -> Checked:
    """Check the upload at `path` (shown as `name`) for `unit`: findings, and refusal."""
    out = Checked(name)
    suffix = Path(name).suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        items, out.findings = _archive_items(path, name)
    else:
        items = [Item(name, str(path), None, received)]
    for item in items:
        out.results.extend(check_inputs(item, key=key, forms=forms))
    projects = [r for r in out.results if r.record is not None]
    if not projects:
        out.refused = Text(
            "没有读到任何自评表，未收下；请按下方问题修改后重新上传",
            "no form could be read, so nothing was accepted; fix what is listed below and "
            "upload again",
        )
        return out
    for result in projects:
        owner = _owner(result, units)
        if owner is None:
            rec = result.record
            assert rec is not None
            out.refused = Text(
                f"名册中没有这个项目（主管部门代码 {cell_text(rec.value('dept_code'))}，"
                f"项目名称「{cell_text(rec.value('project_name'))}」）；请用本页下载的模板填报",
                f"the roster has no such project (department code "
                f"{cell_text(rec.value('dept_code'))}, project "
                f'"{cell_text(rec.value("project_name"))}"); use a template from this page',
            )
            return out
        if owner.key != unit.key:
            rec = result.record
            assert rec is not None
            out.refused = Text(
                f"这是「{owner.unit_name}」的项目「{cell_text(rec.value('project_name'))}」，"
                "不能由本单位报送；请转交该单位，由其通过自己的链接上传",
                f'this is the project "{cell_text(rec.value("project_name"))}" of '
                f'"{owner.unit_name}", not of this unit; pass it on to them to upload with '
                "their own link",
            )
            return out
    return out


def roster_row(result: CheckResult, unit: Unit) -> RosterRow | None:
    """The unit's roster row the file's identity names (see `_owner`)."""
    for row in unit.rows:
        if _matches(result, row):
            return row
    return None


def _matches(result: CheckResult, row: RosterRow) -> bool:
    rec = result.record
    assert rec is not None
    code, row_code = cell_text(rec.value("project_code")), cell_text(row.values.get("project_code"))
    if code and row_code:
        return code == row_code
    return cell_text(rec.value("dept_code")) == cell_text(
        row.values.get("dept_code")
    ) and cell_text(rec.value("project_name")) == cell_text(row.values.get("project_name"))


def _owner(result: CheckResult, units: list[Unit]) -> Unit | None:
    """The unit whose roster row the file's identity names: 项目代码 when both have one, else
    主管部门代码 + 项目名称 (as `collect` compares a roster)."""
    for unit in units:
        if roster_row(result, unit) is not None:
            return unit
    return None
