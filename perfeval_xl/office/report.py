"""Check results for people (text grouped by file) and for machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..findings import Finding
from ..review.checks import CheckResult
from ..review.score import ProjectScore
from ..textwidth import display_width

if TYPE_CHECKING:
    from .collect import Collection

_SEVERITY = {
    "zh": {"error": "错误", "warning": "警告", "info": "提示"},
    "en": {"error": "error", "warning": "warning", "info": "note"},
}


def totals(results: Sequence[CheckResult], findings: Sequence[Finding] = ()) -> dict[str, int]:
    """Files, errors and warnings over a run; `findings` are those about what was not checked
    (a folder's or a .zip's own: `check`), counted in the errors and warnings, not as files.
    The tables read from one Word annex count as one file."""
    # a Word annex's tables are results of one file (I024 names the table)
    tables = {r.path for r in results if any(f.code == "I024" for f in r.findings)}
    return {
        "files": sum(r.path not in tables for r in results) + len(tables),
        "errors": sum(r.errors for r in results) + sum(f.severity == "error" for f in findings),
        "warnings": sum(r.warnings for r in results)
        + sum(f.severity == "warning" for f in findings),
    }


def format_text(
    results: Sequence[CheckResult], lang: str = "zh", findings: Sequence[Finding] = ()
) -> str:
    """Findings grouped by file, then the findings about what was not checked (a folder's
    files that are no workbooks, links, a bad .zip: `check`) as a group of their own, each
    naming its file, then one summary line."""
    lines = []
    words = _SEVERITY["en" if lang == "en" else "zh"]
    for r in results:
        lines.append(_file_line(r, lang))
        for f in r.findings:
            where = f.location or "-"
            sev = _pad(words[f.severity], 8)
            lines.append(f"  {sev} {f.code}  {_pad(where, 14)} {f.message.render(lang)}")
    if findings:
        lines.append("not checked:" if lang == "en" else "未检查：")
        for f in findings:
            sev = _pad(words[f.severity], 8)
            lines.append(f"  {sev} {f.code}  {_pad(f.file, 14)} {f.message.render(lang)}")
    note = signature_note(results, lang)
    if note:
        lines.append(note)
    lines.append(summary_line(totals(results, findings), lang))
    return "\n".join(lines) + "\n"


def signature_note(results: Sequence[CheckResult], lang: str = "zh") -> str | None:
    """Said once per run: signed workbooks were read without the key, so not verified."""
    unchecked = sum(r.signed and not r.signature_checked for r in results)
    if not unchecked:
        return None
    if lang == "en":
        return f"note: {unchecked} signed workbook(s) not verified: no --key given"
    return f"注意：{unchecked} 个工作簿带签名，未提供 --key，未核验签名"


def _pad(text: str, width: int) -> str:
    """Pad to `width` terminal columns, with at least one space after."""
    used = display_width(text)
    return text + " " * max(1, width - used)


def _file_line(r: CheckResult, lang: str) -> str:
    if r.record is None:
        return r.path
    n = len(r.record.indicators)
    s = r.score
    # a Word annex holds several projects: each is named by its table and project (I024)
    table = next((f.sheet for f in r.findings if f.code == "I024"), None)
    path = (
        r.path if table is None else f"{r.path} {table}「{r.record.value('project_name') or ''}」"
    )
    if lang == "en":
        parts = [r.record.spec.id, f"{n} indicator{'s' if n != 1 else ''}"]
        if s is not None:
            parts += score_words(s, "en")
        return f"{path}  ({', '.join(parts)})"
    parts = [r.record.spec.id, f"{n} 个指标"]
    if s is not None:
        parts += score_words(s, "zh")
    return f"{path}  （{'，'.join(parts)}）"


def score_words(s: ProjectScore, lang: str = "zh") -> list[str]:
    """How a project's score is said: the unit's own total (自评总分) beside ours (核定总分, or
    计算得分 on a form without score columns) and the grade, marked as ours.

    An incomplete score (an indicator or the execution rate that cannot be scored) is said to
    be incomplete, with how much is missing, and gets no grade: a part of a score is not a
    total, and "10.00 差" for a project whose indicators could not be scored is not true."""
    en = lang == "en"
    out = []
    if s.reported_form and s.reported_total is not None:
        out.append(
            f"own total {s.reported_total:.2f}" if en else f"自评总分 {s.reported_total:.2f}"
        )
    if en:
        kind = "checked total" if s.reported_form else "computed score"
    else:
        kind = "核定总分" if s.reported_form else "计算得分"
    if not s.complete:
        missing = _missing_words(s, lang)
        out.append(f"{kind} incomplete ({missing})" if en else f"{kind}不完整（{missing}）")
    elif s.total is not None:
        out.append(f"{kind} {s.total:.2f}")
        out.append(f"{s.grade} (checked)" if en else f"{s.grade}（核定）")
    return out


def _missing_words(s: ProjectScore, lang: str) -> str:
    n = s.unscored
    if lang == "en":
        words = [f"{n} indicator{'s' if n != 1 else ''} not scored"] if n else []
        if s.exec_score is None and s.has_funds:
            words.append("execution rate not scored")
        return "; ".join(words)
    words = [f"{n} 个指标无法计分"] if n else []
    if s.exec_score is None and s.has_funds:
        words.append("执行率无法计分")
    return "，".join(words)


def summary_line(t: dict[str, int], lang: str = "zh") -> str:
    """`1 file, 2 errors, 1 warning` / `1 个文件，2 个错误，1 个警告`."""
    if lang == "en":
        parts = [(t["files"], "file"), (t["errors"], "error"), (t["warnings"], "warning")]
        return ", ".join(f"{n} {w}{'s' if n != 1 else ''}" for n, w in parts)
    return f"{t['files']} 个文件，{t['errors']} 个错误，{t['warnings']} 个警告"


#: What makes a spreadsheet read a text as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """`value` with every text that a spreadsheet would take for a formula prefixed with `'`,
    as OWASP advises for CSV: JSON is opened in Excel too (Power Query, converters), and a
    unit's text must never become a formula anywhere (in our workbooks it is written as a
    string). Keys, numbers and other texts are left as they are."""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, dict):
        return {k: spreadsheet_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [spreadsheet_safe(v) for v in value]
    return value


def dumps(doc: Any) -> str:
    """The tool's JSON: UTF-8 text, no NaN, texts safe to open in a spreadsheet."""
    return json.dumps(spreadsheet_safe(doc), ensure_ascii=False, indent=2, allow_nan=False)


def to_json(
    results: Sequence[CheckResult], lang: str = "zh", findings: Sequence[Finding] | None = None
) -> str:
    """The JSON document: {"files": [...], "totals": {...}}; with `findings` (`check` of a
    folder or a .zip: what in it was not checked, as `collect --json` has them) also
    {"findings": [...]}, counted in the totals' errors and warnings."""
    doc: dict[str, Any] = {"files": [r.to_dict(lang) for r in results]}
    if findings is not None:
        doc["findings"] = [f.to_dict(lang) for f in findings]
    doc["totals"] = totals(results, findings or ())
    return dumps(doc)


def collection_json(coll: Collection, lang: str = "zh") -> str:
    """`collect --json`: every file's check result (as `check --format json`), the inbox's own
    findings, the roster comparison and the same department figures as 部门汇总.

    A superseded file's entry says so (`superseded`, and by which file); its findings are
    listed but counted nowhere. Where the unit changed office-issued values, `issued_values`
    gives both and `score_on_issued_values` the score the summary counts. `other` holds the
    live errors and warnings of no department: with `departments` they make `totals`."""
    from .._version import __version__
    from .collect import JSON_GENERATOR
    from .summary import departments_json, other_counts

    files = []
    for s in coll.submissions:
        entry = s.result.to_dict(lang)
        entry.update(
            {
                "source": s.item.source,
                "used": s.used,
                "received": s.item.received.isoformat(),
                "superseded": s.superseded_by is not None,
                "superseded_by": s.superseded_by,
                "issued_values": {
                    name: {"issued": issued, "unit": typed}
                    for name, (issued, typed) in s.issued.items()
                },
            }
        )
        if s.issued and s.counted_score is not None:
            entry["score_on_issued_values"] = s.counted_score.to_dict()
        files.append(entry)
    roster = None
    if coll.roster is not None:
        roster = [
            {
                "line": r.row.line,
                **{k: v for k, v in r.row.values.items()},
                "received": r.received,
                "status": r.status,
                "source": r.source.item.source if r.source else None,
            }
            for r in coll.roster
        ]
    doc = {
        "generator": f"{JSON_GENERATOR} {__version__}",
        "inbox": coll.inbox,
        "files": files,
        "findings": [f.to_dict(lang) for f in coll.findings],
        "departments": departments_json(coll),
        "other": other_counts(coll),
        "roster": roster,
        "totals": {
            "files": coll.files,
            "projects": len(coll.projects),
            "department_forms": len(coll.departments),
            "unreadable": len(coll.unreadable),
            "errors": coll.errors,
            "warnings": coll.warnings,
            "missing": len(coll.missing),
        },
    }
    return dumps(doc)


#: Projects not received listed on the terminal before "and N more".
MAX_LISTED = 20


def action_lines(
    coll: Collection, lang: str = "zh", summary: str | None = None, json_path: str | None = None
) -> list[str]:
    """What `collect` leaves a clerk to do, for the terminal: the roster's projects not
    received (up to MAX_LISTED, then a count) and the files that could not be read, each with
    its reason; then where the full lists are. Empty when there is nothing to do."""
    from .summary import SHEET_FINDINGS, SHEET_ROSTER

    en = lang == "en"
    lines: list[str] = []
    missing = coll.missing
    if missing:
        lines.append(
            f"not received ({len(missing)}):" if en else f"未收到的项目（{len(missing)} 个）："
        )
        for r in missing[:MAX_LISTED]:
            v = r.row.values
            where = f"roster row {r.row.line}" if en else f"名册第 {r.row.line} 行"
            names = " ".join(
                str(v.get(k) or "") for k in ("dept_code", "unit_name", "project_name")
            )
            lines.append(f"  {names} ({where})" if en else f"  {names}（{where}）")
        if len(missing) > MAX_LISTED:
            more = len(missing) - MAX_LISTED
            lines.append(f"  … and {more} more" if en else f"  ……另有 {more} 个")
    unreadable = coll.unreadable
    if unreadable:
        lines.append(
            f"files that could not be read ({len(unreadable)}):"
            if en
            else f"无法读取的文件（{len(unreadable)} 个）："
        )
        for s in unreadable:
            reason = s.result.findings[0].message.render(lang) if s.result.findings else ""
            lines.append(f"  {s.item.source}: {reason}" if en else f"  {s.item.source}：{reason}")
    if lines and summary is not None:
        sheets = f"「{SHEET_ROSTER}」「{SHEET_FINDINGS}」" if missing else f"「{SHEET_FINDINGS}」"
        also = (f" and {json_path}" if en else f"及 {json_path}") if json_path else ""
        lines.append(
            f"full lists: sheets {sheets} of {summary}{also}"
            if en
            else f"完整清单见 {summary} 的{sheets}工作表{also}"
        )
    return lines
