"""What the pages say of each project and department: from the ledger's accepted uploads.

A project's status is its latest accepted upload's: 未报送 (none), 已报送，有 N 个错误, or
通过. A department's row counts its roster projects: 应报, 已报, 未报, 有错误.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .workspace import Unit, Workspace, cell_text


@dataclass
class ProjectStatus:
    """A roster project on its unit's page."""

    n: int
    name: str
    code: str
    budget: Any
    status: str
    #: "none", "errors" or "passed" (the badge's colour)
    kind: str
    last: str | None


def project_status(ws: Workspace, unit: Unit) -> list[ProjectStatus]:
    """Each of the unit's projects with its latest accepted upload's verdict."""
    latest: dict[tuple[str, str], Any] = {}
    for row in ws.uploads_of(unit):  # newest first
        if not row["accepted"] or row["project_name"] is None:
            continue
        for key in (("code", row["project_code"] or ""), ("name", row["project_name"])):
            if key[1]:
                latest.setdefault(key, row)
    out = []
    for n, r in enumerate(unit.rows, start=1):
        name, code = (
            cell_text(r.values.get("project_name")),
            cell_text(r.values.get("project_code")),
        )
        got = (latest.get(("code", code)) if code else None) or latest.get(("name", name))
        if got is None:
            status, kind, last = "未报送", "none", None
        elif got["errors"]:
            status, kind, last = f"已报送，有 {got['errors']} 个错误", "errors", got["received"]
        else:
            status, kind, last = "通过", "passed", got["received"]
        budget = r.values.get("fund_total_budget") or r.values.get("fund_fiscal_budget")
        out.append(ProjectStatus(n, name, code, budget, status, kind, last))
    return out


@dataclass
class DepartmentStatus:
    """One 主管部门's line on the office's page."""

    code: str
    name: str
    expected: int = 0
    received: int = 0
    with_errors: int = 0

    @property
    def missing(self) -> int:
        return self.expected - self.received


def departments(units: list[Unit]) -> list[DepartmentStatus]:
    """The roster's 主管部门, in roster order, nothing counted yet."""
    out: dict[str, DepartmentStatus] = {}
    for unit in units:
        out.setdefault(unit.dept_code, DepartmentStatus(unit.dept_code, unit.dept_name))
    return list(out.values())


def department_status(
    statuses: list[tuple[Unit, list[ProjectStatus]]],
) -> list[DepartmentStatus]:
    """Per 主管部门, in roster order: its projects expected, received, missing, with errors,
    counted from each unit's `project_status`."""
    out = {d.code: d for d in departments([unit for unit, _ in statuses])}
    for unit, projects in statuses:
        dept = out[unit.dept_code]
        for p in projects:
            dept.expected += 1
            dept.received += p.kind != "none"
            dept.with_errors += p.kind == "errors"
    return list(out.values())
