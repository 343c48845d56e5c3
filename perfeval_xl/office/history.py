"""Year over year (同比): this year's projects beside last year's, from the store.

Last year's figures are the projects of that year as the last run that had them counted them
(`store.year_projects`: issued values in place, 核定总分 only where complete), from this
summary's own store or from another (`collect --compare-with`). A project is matched by its
项目代码 when both years have one, else by 主管部门代码 + 项目名称; projects of one year only are
listed too (a project dropped or new is what a reviewer asks about first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import Text
from .collect import Collection, Submission
from .store import Store, StoreError, YearProject, open_other, year_projects


@dataclass(frozen=True)
class History:
    """Last year's projects for this year's summary."""

    year: str  # this year (the 年度 most projects give)
    previous: str  # last year
    source: str  # the store they come from
    projects: tuple[YearProject, ...]


def this_year(coll: Collection) -> str | None:
    """The 年度 of the summary: the one most projects give (ties: the later)."""
    years = Counter(
        str(y) for s in coll.projects if (y := _year(s)) is not None and str(y).isdigit()
    )
    if not years:
        return None
    return max(years, key=lambda y: (years[y], int(y)))


def _year(s: Submission) -> object:
    b = s.brief
    if b is None:
        return None
    y = b.year
    return int(y) if isinstance(y, float) and y.is_integer() else y


def history(coll: Collection, store: Store | None, compare_with: Path | None) -> History | None:
    """Last year's projects, from `compare_with` when given, else from `store`; None when
    there is no year to compare or no project of last year is known.

    Raises:
        StoreError: `compare_with` is not a store of this tool.
    """
    year = this_year(coll)
    if year is None or (store is None and compare_with is None):
        return None
    previous = str(int(year) - 1)
    if compare_with is not None:
        db = open_other(compare_with)
        try:
            projects = year_projects(db, previous)
        finally:
            db.close()
        if not projects:
            raise StoreError(
                compare_with,
                Text(
                    f"其中没有 {previous} 年度的项目（同比需要上一年度的汇总库）",
                    f"holds no project of {previous} (同比 needs the previous year's store)",
                ),
            )
        return History(year, previous, str(compare_with), tuple(projects))
    assert store is not None
    projects = store.year(previous)
    if not projects:
        return None
    return History(year, previous, str(store.path), tuple(projects))


@dataclass(frozen=True)
class Figures:
    """A project's figures in one year."""

    budget: float | None
    spent: float | None
    exec_rate: float | None
    score: float | None


@dataclass(frozen=True)
class ProjectChange:
    dept_code: str
    dept_name: str
    unit_name: str
    project_name: str
    project_code: str
    matched_by: str  # 项目代码 / 部门代码+项目名称 / "" (one year only)
    now: Figures | None
    before: Figures | None


@dataclass(frozen=True)
class DepartmentChange:
    dept_code: str
    dept_name: str
    projects: tuple[int, int]
    budget: tuple[float | None, float | None]
    spent: tuple[float | None, float | None]
    exec_rate: tuple[float | None, float | None]
    mean_score: tuple[float | None, float | None]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _now(s: Submission) -> tuple[dict[str, str], Figures]:
    b = s.brief  # as counted
    assert b is not None
    names = {
        k: _text(getattr(b, k))
        for k in ("dept_code", "dept_name", "unit_name", "project_name", "project_code")
    }
    figures = Figures(b.budget, b.spent, b.exec_rate, b.total if b.complete else None)
    return names, figures


def changes(coll: Collection, hist: History) -> tuple[list[DepartmentChange], list[ProjectChange]]:
    """Per department and per project, this year beside last year."""
    before = list(hist.projects)
    by_code = {p.project_code: p for p in before if p.project_code}
    by_name = {(p.dept_code or "", p.project_name or ""): p for p in before}
    used: set[int] = set()
    rows: list[ProjectChange] = []
    for s in coll.projects:
        if _text(_year(s)) != hist.year:
            continue
        names, figures = _now(s)
        old, how = None, ""
        code = names["project_code"]
        if code and code in by_code and id(by_code[code]) not in used:
            old, how = by_code[code], "项目代码"
        else:
            got = by_name.get((names["dept_code"], names["project_name"]))
            if got is not None and id(got) not in used:
                old, how = got, "部门代码+项目名称"
        if old is not None:
            used.add(id(old))
        rows.append(
            ProjectChange(
                names["dept_code"],
                names["dept_name"],
                names["unit_name"],
                names["project_name"],
                code,
                how,
                figures,
                _figures(old) if old is not None else None,
            )
        )
    for p in before:
        if id(p) not in used:
            rows.append(
                ProjectChange(
                    p.dept_code or "",
                    p.dept_name or "",
                    p.unit_name or "",
                    p.project_name or "",
                    p.project_code or "",
                    "",
                    None,
                    _figures(p),
                )
            )
    rows.sort(key=lambda r: (r.dept_code, r.project_name, r.unit_name))
    return _departments(rows), rows


def _figures(p: YearProject) -> Figures:
    return Figures(p.budget, p.spent, p.exec_rate, p.score if p.complete else None)


def _departments(rows: Sequence[ProjectChange]) -> list[DepartmentChange]:
    groups: dict[str, list[ProjectChange]] = {}
    names: dict[str, str] = {}
    for r in rows:
        groups.setdefault(r.dept_code, []).append(r)
        if r.dept_name and (r.now is not None or r.dept_code not in names):
            names[r.dept_code] = r.dept_name
    out = []
    for code in sorted(groups):
        now = [r.now for r in groups[code] if r.now is not None]
        old = [r.before for r in groups[code] if r.before is not None]
        b = (_sum(f.budget for f in now), _sum(f.budget for f in old))
        x = (_sum(f.spent for f in now), _sum(f.spent for f in old))
        out.append(
            DepartmentChange(
                code,
                names.get(code, ""),
                (len(now), len(old)),
                b,
                x,
                (_rate(x[0], b[0]), _rate(x[1], b[1])),
                (_mean(f.score for f in now), _mean(f.score for f in old)),
            )
        )
    return out


def _sum(values: object) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float))]  # type: ignore[attr-defined]
    return round(sum(numbers), 6) if numbers else None


def _rate(spent: float | None, budget: float | None) -> float | None:
    if spent is None or budget is None or budget <= 0:
        return None
    return spent / budget


def _mean(values: object) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float))]  # type: ignore[attr-defined]
    return sum(numbers) / len(numbers) if numbers else None
