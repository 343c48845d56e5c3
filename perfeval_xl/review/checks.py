"""The reviewer's checks (domain.md §4) on a record: each returns findings, never raises.

Thresholds and labels come from the spec, so a province with other limits needs a spec file,
not code. Values pasted past data validation are re-checked here, always: validation does not
stop pasting, and a paste can delete the rule itself.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Text
from ..fileio import display_path
from ..findings import ERROR, WARNING, Finding
from ..forms.normalize import is_blank, is_no_reason
from ..forms.spec import BUILTIN_FORMS, FormSet
from ..intake.read import ReadResult
from ..intake.record import Field, Indicator, Record, scored_level1
from .score import ProjectScore, score_findings, score_record

#: Indicator columns every non-blank row must fill (the 偏差原因 depends on the status).
REQUIRED_INDICATOR = ("level1", "level2", "name", "target", "actual", "status")


def check_record(record: Record) -> list[Finding]:
    """All rule findings for a record (reading findings come from the reader)."""
    out: list[Finding] = []
    if record.spec.department:
        # its rows are the office's (`[[items]]`): the department fills the header, the
        # 自评得分 and the 扣分原因 (score.score_findings); there are no funds or targets
        checks: tuple = (_header, _lengths)
    elif not record.spec.has_funds:
        checks = (_header, _lengths, _indicators, _coverage)
    else:
        checks = (_header, _lengths, _funds, _plausible_funds, _indicators, _coverage)
    for check in checks:
        out.extend(check(record))
    return out


def _short(text: str, limit: int = 30) -> str:
    """A unit's text quoted in a message: long prose is cut, the cell holds the rest."""
    return text if len(text) <= limit else text[:limit] + "…"


def _fmt(x: float) -> str:
    return f"{x:,.2f}"


# -- header ------------------------------------------------------------------------------------
def _header(rec: Record) -> Iterator[Finding]:
    for f in rec.spec.header:
        got = rec.fields.get(f.name)
        # A year that is there but unreadable is E102 (from the reader), not "empty".
        if f.required and got is not None and got.value is None and is_blank(got.raw):
            yield rec.finding(
                "E101", Text(f"「{f.label}」为空", f"{f.label} is empty"), got, f.name
            )


def _lengths(rec: Record) -> Iterator[Finding]:
    spec = rec.spec
    limits = {f.name: (f.label, f.max_length) for f in spec.header if f.type != "year"}
    limits.update({f.name: (f.label, f.max_length) for f in spec.footer})
    if spec.goals is not None:
        limits["goal_expected"] = (spec.goals.expected_label, spec.goals.max_length)
        limits["goal_actual"] = (spec.goals.actual_label, spec.goals.max_length)
    reason = spec.fund_column("exec_reason")
    if reason is not None:
        limits["exec_reason"] = (reason.label, reason.max_length)
    for name, (label, limit) in limits.items():
        yield from _too_long(rec, rec.fields.get(name), label, limit, name)
    columns = {c.key: c for c in spec.indicator_columns}
    for ind in rec.indicators:
        for key, f in ind.fields.items():
            if key in ("level1", "level2", "status", "sign", "weight", "score"):
                continue
            yield from _too_long(rec, f, columns[key].label, columns[key].max_length, f"ind_{key}")


def _too_long(rec: Record, f: Field | None, label: str, limit: int, name: str) -> Iterator[Finding]:
    if f is not None and isinstance(f.value, str) and len(f.value) > limit:
        yield rec.finding(
            "E205",
            Text(
                f"「{label}」{len(f.value)} 字，超过 {limit} 字",
                f"{label}: {len(f.value)} characters, limit {limit}",
            ),
            f,
            name,
        )


# -- funds -------------------------------------------------------------------------------------
def _funds(rec: Record) -> Iterator[Finding]:
    spec = rec.spec
    tol = spec.amount_tolerance
    budget_col = next(c for c in spec.amount_columns if c.key == "budget")
    spent_col = next(c for c in spec.amount_columns if c.key == "spent")
    total_budget, total_spent = rec.fund("total", "budget"), rec.fund("total", "spent")
    if total_budget is None or total_budget <= 0:
        yield rec.finding(
            "E303",
            Text(
                f"「{budget_col.label}」合计为空或为 0", f"total {budget_col.label} is empty or 0"
            ),
            rec.where("fund_total_budget"),
            "fund_total_budget",
        )
    if total_spent is None:
        yield rec.finding(
            "E304",
            Text(f"「{spent_col.label}」全部为空", f"{spent_col.label} is empty"),
            rec.where("fund_total_spent"),
            "fund_total_spent",
        )
    for row in spec.fund_rows:
        spent = rec.fund(row.key, "spent")
        budget = rec.fund(row.key, "budget") or 0.0
        if spent is not None and spent - budget > tol:
            name = f"fund_{row.key}_spent"
            yield rec.finding(
                "E301",
                Text(
                    f"{row.short}：{spent_col.label} {_fmt(spent)} 超过{budget_col.label} {_fmt(budget)}",
                    f"{row.short}: {spent_col.label} {_fmt(spent)} exceeds {budget_col.label} {_fmt(budget)}",
                ),
                rec.where(name),
                name,
            )
    for col in spec.amount_columns:
        name = f"fund_total_{col.key}"
        stated = rec.stated.get(name)
        summed = rec.fund("total", col.key) or 0.0
        if stated is not None and stated.value is not None and abs(stated.value - summed) > tol:
            yield rec.finding(
                "E302",
                Text(
                    f"合计「{col.label}」填为 {_fmt(stated.value)}，各来源之和为 {_fmt(summed)}",
                    f"total {col.label} is {_fmt(stated.value)}, the sources add up to {_fmt(summed)}",
                ),
                stated,
                name,
            )
    reason = spec.fund_column("exec_reason")
    rate = rec.exec_rate
    if reason is not None and rate is not None and rate < spec.exec_reason_below:
        got = rec.fields.get("exec_reason")
        if got is None or is_no_reason(got.value, spec.empty_reasons):
            yield rec.finding(
                "W305",
                Text(
                    f"执行率 {rate:.2%} 低于 {spec.exec_reason_below:.0%}，「{reason.label}」未填写",
                    f"execution rate {rate:.2%} is below {spec.exec_reason_below:.0%} and {reason.label} is empty",
                ),
                got or rec.where("exec_reason"),
                "exec_reason",
            )


def _plausible_funds(rec: Record) -> Iterator[Finding]:
    """Amounts a reviewer would query (warnings): a budget adjusted down to the spending, and
    amounts that look like 元 typed into a 万元 column or a zero too many or too few."""
    spec = rec.spec
    tol = spec.amount_tolerance
    labels = {c.key: c.label for c in spec.amount_columns}
    initial, budget = rec.fund("total", "initial"), rec.fund("total", "budget")
    spent = rec.fund("total", "spent")
    if (
        "initial" in labels
        and initial
        and initial > 0
        and budget is not None
        and spent is not None
        and budget <= initial * (1 - spec.budget_cut_min) + tol
        and abs(budget - spent) <= tol
    ):
        cut = 1 - budget / initial
        yield rec.finding(
            "W306",
            Text(
                f"{labels['budget']} {_fmt(budget)} 比{labels['initial']} {_fmt(initial)} 调减 {cut:.1%}，"
                f"且恰好等于{labels['spent']} {_fmt(spent)}：预算按支出调整后执行率为 100%，请核实调整依据",
                f"{labels['budget']} {_fmt(budget)} is {cut:.1%} below {labels['initial']} {_fmt(initial)} "
                f"and equals {labels['spent']} {_fmt(spent)}: a budget cut to the spending makes the rate 100 %",
            ),
            rec.where("fund_total_budget"),
            "fund_total_budget",
        )
    amounts = [
        (f, labels[col], row.short)
        for row in spec.source_rows
        for col in labels
        if (f := rec.fields.get(f"fund_{row.key}_{col}")) is not None
        and isinstance(f.value, (int, float))
        and f.value > 0
    ]
    smallest = min(amounts, key=lambda a: a[0].value, default=None)
    for f, col, row in amounts:
        where = f"{row}「{col}」{_fmt(f.value)}"
        where_en = f"{row} {col} {_fmt(f.value)}"
        if f.value >= spec.amount_max:
            why = Text(
                f"{where} 万元，不低于 {_fmt(spec.amount_max)} 万元：是否把元填进了万元栏？",
                f"{where_en} 万元 is at least {_fmt(spec.amount_max)} 万元: 元 typed in a 万元 column?",
            )
        elif smallest is not None and f.value >= spec.amount_ratio_max * smallest[0].value:
            other, ocol, orow = smallest
            why = Text(
                f"{where} 是{orow}「{ocol}」{_fmt(other.value)}（{other.cell}）的 {f.value / other.value:,.0f} 倍：是否把元填进了万元栏？",
                f"{where_en} is {f.value / other.value:,.0f} × {orow} {ocol} {_fmt(other.value)} ({other.cell}): 元 typed in a 万元 column?",
            )
        else:
            continue
        yield rec.finding("W307", why, f, f.name)
    if "initial" not in labels:
        return
    for row in spec.source_rows:
        first, full = rec.fund(row.key, "initial"), rec.fund(row.key, "budget")
        if not first or not full or first <= 0 or full <= 0:
            continue
        if abs(full - 10 * first) <= tol or abs(first - 10 * full) <= tol:
            name = f"fund_{row.key}_budget"
            yield rec.finding(
                "W307",
                Text(
                    f"{row.short}：{labels['budget']} {_fmt(full)} 恰为{labels['initial']} {_fmt(first)} 的 {full / first:g} 倍：是否多打或少打了一个 0？",
                    f"{row.short}: {labels['budget']} {_fmt(full)} is exactly {full / first:g} × {labels['initial']} {_fmt(first)}: a zero too many or too few?",
                ),
                rec.fields.get(name) or rec.where(name),
                name,
            )


# -- indicators --------------------------------------------------------------------------------
def _indicators(rec: Record) -> Iterator[Finding]:
    spec = rec.spec
    labels = {c.key: c.label for c in spec.indicator_columns}
    taxonomy = {x.label: x.level2 for x in spec.level1}
    for ind in rec.indicators:
        title = ind.title
        for key in REQUIRED_INDICATOR:
            f = ind.field(key)
            if f is not None and f.blank:
                yield rec.finding(
                    "E401",
                    Text(
                        f"指标{title.zh}缺少「{labels[key]}」",
                        f"indicator {title.en} lacks {labels[key]}",
                    ),
                    f,
                    f"ind_{key}",
                )
        yield from _categories(rec, ind, taxonomy, title)
        yield from _status(rec, ind, title)
        yield from _target(rec, ind, title)


def _categories(rec: Record, ind: Indicator, taxonomy: dict, title: Text) -> Iterator[Finding]:
    l1, l2 = ind.value("level1"), ind.value("level2")
    if l1 and l1 not in taxonomy:
        yield rec.finding(
            "E402",
            Text(
                f"指标{title.zh}的一级指标「{l1}」不在指标体系中",
                f"indicator {title.en}: unknown level 1 '{l1}'",
            ),
            ind.field("level1"),
            "ind_level1",
        )
    if l2:
        known = [y for ys in taxonomy.values() for y in ys]
        if l2 not in known:
            yield rec.finding(
                "E403",
                Text(
                    f"指标{title.zh}的二级指标「{l2}」不在指标体系中",
                    f"indicator {title.en}: unknown level 2 '{l2}'",
                ),
                ind.field("level2"),
                "ind_level2",
            )
        elif l1 in taxonomy and l2 not in taxonomy[l1]:
            owner = rec.spec.level1_of[l2]
            yield rec.finding(
                "E403",
                Text(
                    f"指标{title.zh}的二级指标「{l2}」不属于「{l1}」（应在「{owner}」下；按「{owner}」计分）",
                    f"indicator {title.en}: '{l2}' is not under '{l1}' (it belongs to '{owner}', and is scored there)",
                ),
                ind.field("level2"),
                "ind_level2",
            )
    sign = ind.value("sign")
    if sign and sign not in rec.spec.signs:
        yield rec.finding(
            "E413",
            Text(
                f"指标{title.zh}的指标性质「{sign}」不在列表中",
                f"indicator {title.en}: sign '{sign}' not in the list",
            ),
            ind.field("sign"),
            "ind_sign",
        )


def _status(rec: Record, ind: Indicator, title: Text) -> Iterator[Finding]:
    spec = rec.spec
    status = ind.value("status")
    if not status:
        return
    if status not in spec.statuses:
        yield rec.finding(
            "E404",
            Text(
                f"指标{title.zh}的完成状态「{status}」不是 {'、'.join(spec.statuses)} 之一",
                f"indicator {title.en}: status '{status}' is not one of {', '.join(spec.statuses)}",
            ),
            ind.field("status"),
            "ind_status",
        )
    elif status != spec.complete_status:
        reason = ind.field("reason")
        if reason is None or is_no_reason(reason.value, spec.empty_reasons):
            said = "" if reason is None or reason.blank else f"（「{reason.value}」不是原因）"
            said_en = "" if not said else f" ('{reason.value}' is no reason)"
            yield rec.finding(
                "E405",
                Text(
                    f"指标{title.zh}状态为「{status}」，缺少偏差原因{said}",
                    f"indicator {title.en} is '{status}' without a reason{said_en}",
                ),
                reason or ind.field("status"),
                "ind_reason",
            )


def _target(rec: Record, ind: Indicator, title: Text) -> Iterator[Finding]:
    spec = rec.spec
    target, actual = ind.target, ind.actual
    for key, parsed in (("target", target), ("actual", actual)):
        if parsed is not None and parsed.placeholder:
            yield rec.finding(
                "E407",
                Text(
                    f"指标{title.zh}填的是占位符「{_short(parsed.text)}」",
                    f"indicator {title.en} holds a placeholder '{_short(parsed.text)}'",
                ),
                ind.field(key),
                f"ind_{key}",
            )
        if (
            parsed is not None
            and parsed.percent
            and parsed.number is not None
            and parsed.number > 100
        ):
            yield rec.finding(
                "W409",
                Text(
                    f"指标{title.zh}的百分比 {parsed.number:g}% 超过 100%",
                    f"indicator {title.en}: {parsed.number:g}% is above 100%",
                ),
                ind.field(key),
                f"ind_{key}",
            )
    if target is None or target.placeholder:
        return
    qualitative = target.qualitative or ind.value("sign") == "定性"
    if not qualitative and not target.quantitative:
        yield rec.finding(
            "W408",
            Text(
                f"指标{title.zh}的指标值「{_short(target.text)}」没有量化，也未注明定性",
                f"indicator {title.en}: target '{_short(target.text)}' is not quantified nor marked 定性",
            ),
            ind.field("target"),
            "ind_target",
        )
    if qualitative or not target.quantitative:
        return
    sign = ind.sign
    if ind.is_cost and sign in ("≥", ">"):
        yield rec.finding(
            "W410",
            Text(f"成本指标{title.zh}使用了「{sign}」", f"cost indicator {title.en} uses '{sign}'"),
            ind.field("sign") or ind.field("target"),
            "ind_target",
        )
    if actual is not None and not actual.placeholder and actual.number is None:
        yield rec.finding(
            "W411",
            Text(
                f"定量指标{title.zh}的完成值「{_short(actual.text)}」是文字，无法计分",
                f"quantitative indicator {title.en}: actual '{_short(actual.text)}' is a word, cannot be scored",
            ),
            ind.field("actual"),
            "ind_actual",
        )
    yield from _repeats_exec_rate(rec, ind, title)
    if ind.is_satisfaction and target.percent and target.number < spec.satisfaction_min * 100:
        yield rec.finding(
            "W412",
            Text(
                f"满意度指标{title.zh}的指标值 {target.number:g}% 低于 {spec.satisfaction_min:.0%}",
                f"satisfaction indicator {title.en}: target {target.number:g}% is below {spec.satisfaction_min:.0%}",
            ),
            ind.field("target"),
            "ind_target",
        )


_EXEC_RATE_NAME = re.compile(r"(预算|资金|经费|支出).{0,4}(执行率|支付率|支出率)")
_MONEY_UNITS = {"万元": 1.0, "万": 1.0, "元": 10_000.0}


def _repeats_exec_rate(rec: Record, ind: Indicator, title: Text) -> Iterator[Finding]:
    """An indicator that counts the budget's execution again (廊坊 2019: a 数量 indicator whose
    target is the budget amount): 执行率 already carries its own weight."""
    target = ind.target
    name = ind.value("name") or ""
    budgets = [
        (label, amount)
        for label, amount in (
            ("全年预算数", rec.fund("total", "budget")),
            ("年初预算数", rec.fund("total", "initial")),
        )
        if amount
    ]
    why = None
    if _EXEC_RATE_NAME.search(name):
        why = Text(
            f"指标{title.zh}考核的是预算执行，与执行率（已单独计分）重复",
            f"indicator {title.en} measures budget execution, which 执行率 already scores",
        )
    elif "数量" in (ind.value("level2") or "") and target.unit in _MONEY_UNITS:
        amount = target.number / _MONEY_UNITS[target.unit]
        tol = rec.spec.amount_tolerance
        hit = next((b for b in budgets if abs(b[1] - amount) <= tol), None)
        if hit is not None:
            why = Text(
                f"数量指标{title.zh}的指标值 {target.text} 等于{hit[0]} {_fmt(hit[1])} 万元：资金执行已由执行率计分，重复计算",
                f"quantity indicator {title.en}: target {target.text} equals the budget {_fmt(hit[1])} 万元, already scored by 执行率",
            )
    if why is not None:
        yield rec.finding("W415", why, ind.field("target") or ind.field("name"), "ind_target")


def _coverage(rec: Record) -> Iterator[Finding]:
    """Every required 一级 present (a spec may make one optional: `required = false`, as
    Sichuan 2023 forms leave out 满意度); at least one indicator at all."""
    spec = rec.spec
    if rec.cells == {} and not rec.indicators:
        return
    if not rec.indicators:
        yield rec.finding(
            "E414", Text("没有填写任何绩效指标", "no indicator filled in"), None, "indicators"
        )
        return
    # A misfiled 二级 (E403) counts for the 一级 it belongs to, as it is scored there.
    present = {scored_level1(spec, ind) for ind in rec.indicators}
    for l1 in spec.level1:
        if l1.required and l1.label not in present:
            yield rec.finding(
                "E406",
                Text(f"没有「{l1.label}」类指标", f"no indicator under {l1.label}"),
                None,
                "ind_level1",
            )


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class CheckResult:
    """One file checked: its record (None when unreadable) and every finding, errors first."""

    path: str
    record: Record | None
    findings: list[Finding]
    score: ProjectScore | None = None
    #: the workbook carries a signature of its issued values (made with `template --key`)
    signed: bool = False
    #: the signature was verified (a key was given)
    signature_checked: bool = False

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)

    def rename(self, name: str) -> None:
        """Name the file `name` in the result and every finding: as the clerk sees it (relative
        to the inbox, or decoded when the name is not UTF-8)."""
        self.findings = [dataclasses.replace(f, file=name) for f in self.findings]
        self.path = name
        if self.record is not None:
            self.record.path = name

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON shape of one file."""
        project = None
        if self.record is not None:
            project = self.record.project()
            if self.score is not None:
                project.update(self.score.to_dict())
                for row, s in zip(project["indicators"], self.score.indicators, strict=True):
                    row["weight_used"] = s.weight
                    row["score_computed"] = s.computed
                    row["score_rule"] = s.rule.kind
                    if self.score.reported_form:
                        row["score_reported"] = s.reported
        return {
            "path": self.path,
            "form": self.record.spec.id if self.record else None,
            "signed": self.signed,
            "signature_checked": self.signature_checked,
            "project": project,
            "findings": [f.to_dict(lang) for f in self.findings],
            "errors": self.errors,
            "warnings": self.warnings,
        }


def check_workbook(
    path: Path | str,
    *,
    key: bytes | None = None,
    password: str | None = None,
    forms: FormSet = BUILTIN_FORMS,
) -> CheckResult:
    """Read a filled workbook and apply every check and the scoring.

    Args:
        path: the .xlsx file; it is only read, never modified or locked.
        key: the office's signing key: verify the signature of the issued values (E701–E703).
        password: open password of an encrypted workbook (decrypted in memory).
        forms: the forms known (`spec.load_forms`), before the spec the workbook carries.

    Returns:
        A `CheckResult`. Bad files give findings (E001 …), never exceptions.
    """
    from ..intake.read import read_workbook

    result = check_read(read_workbook(path, password=password, forms=forms), key=key)
    shown = display_path(str(path))
    if shown != str(path):  # a name that is not UTF-8: shown decoded, everywhere
        result.rename(shown)
    return result


def check_read(result: ReadResult, *, key: bytes | None = None) -> CheckResult:
    """Apply the checks, the scoring and (with `key`) the signature check to what the reader
    gave (from a file or from memory)."""
    findings = list(result.findings)
    score = None
    rec = result.record
    if rec is not None:
        findings += check_record(rec)
        score = score_record(rec)
        findings += score_findings(rec, score)
        if key is not None:
            from ..sign import verify

            findings += verify(rec, key)
    findings.sort(key=_order)
    checked = CheckResult(result.path, rec, findings, score)
    checked.signed = bool(rec and rec.meta.get("signature"))
    checked.signature_checked = key is not None and rec is not None
    return checked


def _order(f: Finding) -> tuple:
    row, col = _cell_position(f.cell)
    return (_SEVERITY_ORDER[f.severity], f.sheet or "", row, col, f.code)


def _cell_position(cell: str | None) -> tuple[int, int]:
    if not cell:
        return (0, 0)
    m = re.match(r"([A-Z]+)(\d+)", cell)
    if not m:
        shown = re.match(r"第(\d+)行", cell)  # a Word annex's table (annexread)
        return (int(shown.group(1)), 0) if shown else (0, 0)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return (int(m.group(2)), col)
