"""Scoring by the national rules (domain.md §3), with every parameter taken from the spec.

The finance office's first question about a project is its score and grade, and a reviewer's most
common finding is a self-score that does not follow the rules; so the tool computes every score
itself and, on forms that carry reported scores, says where and why they differ. On a form
without score columns (the seed's) the scores are computed and labelled as such, never as reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import Text
from ..findings import Finding
from ..forms.normalize import Target, is_no_reason, shared_text
from ..forms.spec import Spec
from ..intake.record import Indicator, Record, scored_level1

POSITIVE = "positive"
REVERSE = "reverse"
EQUAL = "equal"
QUALITATIVE = "qualitative"
UNSCORED = "unscored"


@dataclass(frozen=True)
class Rule:
    """How one indicator was scored: the rule's name, the share of the weight, and the
    arithmetic in words (shown when a reported score differs)."""

    kind: str
    share: float | None
    how: Text


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    """One indicator's score: `computed` is None when it cannot be scored (a finding says why)."""

    index: int
    level1: str | None
    weight: float | None
    computed: float | None
    reported: float | None
    rule: Rule

    def __reduce__(self) -> tuple:
        # constructor arguments, the 一级 label shared: see record.Field.__reduce__
        return (
            _indicator_score,
            (self.index, self.level1, self.weight, self.computed, self.reported, self.rule),
        )


def _indicator_score(
    index: int,
    level1: str | None,
    weight: float | None,
    computed: float | None,
    reported: float | None,
    rule: Rule,
) -> IndicatorScore:
    return IndicatorScore(index, shared_text(level1), weight, computed, reported, rule)


@dataclass
class ProjectScore:
    """A project's score. `reported_form` is False on forms without score columns, where every
    number is computed by the tool and must be labelled so."""

    reported_form: bool
    exec_rate: float | None
    exec_score: float | None
    indicators: list[IndicatorScore] = field(default_factory=list)
    subtotals: dict[str, float] = field(default_factory=dict)
    total: float | None = None
    grade: str | None = None
    #: 自评总分: the unit's own total as its sheet shows it (forms with score columns only)
    reported_total: float | None = None
    #: False on forms without a fund block (department forms): no 执行率 to score
    has_funds: bool = True

    @property
    def unscored(self) -> int:
        """Indicators that could not be scored."""
        return sum(s.computed is None for s in self.indicators)

    @property
    def complete(self) -> bool:
        """True when the execution score and every indicator score could be computed."""
        return (self.exec_score is not None or not self.has_funds) and self.unscored == 0

    def to_dict(self) -> dict:
        """The JSON shape of a project's score."""
        return {
            "score": self.total,
            "grade": self.grade,
            "score_kind": "checked" if self.reported_form else "computed",
            "score_complete": self.complete,
            "unscored_indicators": self.unscored,
            "exec_score": self.exec_score,
            "subtotals": dict(self.subtotals),
            # the unit's own total beside ours, as `score_reported` beside each indicator's
            **({"score_reported": self.reported_total} if self.reported_form else {}),
        }


def share_quantitative(sign: str, target: float, actual: float, reverse_rule: str) -> Rule:
    """The share (0–1) of its weight a quantitative indicator earns.

    ≥ / > (positive): full when actual ≥ target, else actual ÷ target. ≤ / < (reverse): full when
    actual ≤ target, else "linear" (falls to 0 at twice the target) or "ratio" (target ÷ actual).
    = : as positive when the target is above 0; for a target of 0 only 0 earns the weight.
    """
    t, a = target, actual
    if sign in ("≤", "<"):
        if a <= t:
            return Rule(
                REVERSE,
                1.0,
                Text(
                    f"反向指标：完成值 {a:g} ≤ 指标值 {t:g}，得满分",
                    f"reverse: {a:g} ≤ {t:g}, full marks",
                ),
            )
        if t <= 0:
            return Rule(
                REVERSE,
                0.0,
                Text(
                    f"反向指标：指标值为 {t:g}，完成值 {a:g} 超出，得 0 分",
                    f"reverse: target {t:g}, actual {a:g} above it, 0",
                ),
            )
        if reverse_rule == "ratio":
            share = t / a
            return Rule(
                REVERSE,
                share,
                Text(
                    f"反向指标：{t:g} ÷ {a:g} = {share:.2%}",
                    f"reverse: {t:g} ÷ {a:g} = {share:.2%}",
                ),
            )
        share = max(0.0, 2 - a / t)
        return Rule(
            REVERSE,
            share,
            Text(
                f"反向指标：2 − {a:g} ÷ {t:g} = {share:.2%}",
                f"reverse, linear: 2 − {a:g} ÷ {t:g} = {share:.2%}",
            ),
        )
    kind = EQUAL if sign == "=" else POSITIVE
    if sign == "=" and t == 0:
        share = 1.0 if a == 0 else 0.0
        return Rule(EQUAL, share, Text(f"等于 0 的指标：完成值 {a:g}", f"equal to 0: actual {a:g}"))
    if a >= t:
        return Rule(
            kind,
            1.0,
            Text(
                f"正向指标：完成值 {a:g} ≥ 指标值 {t:g}，得满分",
                f"positive: {a:g} ≥ {t:g}, full marks",
            ),
        )
    if t <= 0:
        return Rule(
            kind,
            0.0,
            Text(
                f"正向指标：完成值 {a:g} 低于指标值 {t:g}，得 0 分",
                f"positive: {a:g} below {t:g}, 0",
            ),
        )
    share = max(0.0, a / t)
    return Rule(
        kind,
        share,
        Text(f"正向指标：{a:g} ÷ {t:g} = {share:.2%}", f"positive: {a:g} ÷ {t:g} = {share:.2%}"),
    )


#: How a department form's row is scored: the tool cannot apply its 评分标准 (prose), so the
#: 核定 score is the reported 得分 when it is a number within [0, 分值].
REPORTED = "reported"


def score_indicator(spec: Spec, ind: Indicator, weight: float | None) -> IndicatorScore:
    """Score one indicator against `weight` (None: it cannot be scored)."""
    reported = ind.value("score") if spec.scored else None
    rule = (
        _department_rule(reported, weight)
        if spec.department
        else _rule(spec, ind, reported, weight)
    )
    computed = None
    if weight is not None and rule.share is not None:
        computed = round(min(max(rule.share, 0.0), 1.0) * weight, spec.round_digits)
    return IndicatorScore(ind.index, scored_level1(spec, ind), weight, computed, reported, rule)


def _department_rule(reported: float | None, weight: float | None) -> Rule:
    if weight is None or not _number(reported) or not 0 <= reported <= weight + 1e-9:
        return Rule(
            UNSCORED,
            None,
            Text(
                "自评得分为空或不在 0 到分值之间，无法核定",
                "the self-score is blank or not within 0 to the weight: not scored",
            ),
        )
    return Rule(
        REPORTED,
        reported / weight if weight > 0 else 0.0,
        Text("按评分标准自评，核定为自评得分", "scored by its criteria: the self-score stands"),
    )


def _rule(spec: Spec, ind: Indicator, reported: float | None, weight: float | None) -> Rule:
    if weight is None:
        return Rule(UNSCORED, None, Text("没有有效的分值，无法计分", "no valid weight: not scored"))
    if ind.quantitative:
        actual: Target | None = ind.actual
        if actual is None or actual.number is None:
            return Rule(
                UNSCORED,
                None,
                Text(
                    "定量指标的完成值不是数字，无法计分",
                    "quantitative, but the actual value is not a number: not scored",
                ),
            )
        return share_quantitative(ind.sign, ind.target.number, actual.number, spec.reverse_rule)
    status = ind.value("status")
    band = spec.qualitative_bands.get(status or "")
    if band is None:
        return Rule(
            UNSCORED,
            None,
            Text(
                "定性指标没有有效的完成状态，无法计分",
                "qualitative without a valid status: not scored",
            ),
        )
    lo, hi = band
    if reported is not None and weight > 0:
        share = min(max(reported / weight, lo), hi)
        how = Text(
            f"定性指标「{status}」：得分区间为分值的 {lo:.0%}–{hi:.0%}",
            f"qualitative '{status}': {lo:.0%}–{hi:.0%} of the weight",
        )
        return Rule(QUALITATIVE, share, how)
    point = spec.qualitative_points[status]
    return Rule(
        QUALITATIVE,
        point,
        Text(
            f"定性指标「{status}」：按分值的 {point:.0%} 计",
            f"qualitative '{status}': {point:.0%} of the weight",
        ),
    )


def weights(record: Record) -> dict[int, float | None]:
    """The weight of each indicator: the reported 分值 on scored forms (None when missing or not
    above 0), else an equal share of its 一级's weight (产出 50 over its indicators …).

    On a form without 分值 an optional 一级 (`required = false`) may be absent: then the
    weights of the 一级 present are scaled up in proportion, so that a project that filled
    every indicator it has can still reach total − exec_weight (产出 50 / 效益 30 without the
    optional 满意度 10 become 56.25 / 33.75). An absent required 一级 (E406) keeps its weight
    out of reach: the form lacks it, and the score says so."""
    spec = record.spec
    if spec.scored:
        out = {}
        for ind in record.indicators:
            w = ind.value("weight")
            out[ind.index] = w if isinstance(w, (int, float)) and w > 0 else None
        return out
    level1 = {ind.index: scored_level1(spec, ind) for ind in record.indicators}
    nominal = sum(x.weight for x in spec.level1)  # total − exec_weight (the spec checks it)
    left_out = sum(
        x.weight for x in spec.level1 if not x.required and x.label not in level1.values()
    )
    scale = nominal / (nominal - left_out) if nominal - left_out > 0 else 1.0
    by_label = {x.label: x.weight * scale for x in spec.level1}
    counts: dict[str, int] = {}
    for label in level1.values():
        counts[label] = counts.get(label, 0) + 1
    return {
        index: by_label[label] / counts[label] if label in by_label else None
        for index, label in level1.items()
    }


def grade(spec: Spec, total: float) -> str:
    """优 / 良 / 中 / 差 by the spec's lower bounds."""
    # The last grade's floor is 0 (the spec checks it); a total below it still gets that grade.
    return next((g.label for g in spec.grades if total >= g.min), spec.grades[-1].label)


def score_record(record: Record) -> ProjectScore:
    """Every score of a project: 执行率 score, indicator scores, sub-totals, 总分 and grade."""
    spec = record.spec
    rate = record.exec_rate
    exec_score = None
    if rate is not None and math.isfinite(rate):
        # A negative amount spent is an error (E203) elsewhere; it never scores below 0.
        exec_score = round(min(max(rate, 0.0), 1.0) * spec.exec_weight, spec.round_digits)
    result = ProjectScore(spec.scored, rate, exec_score, has_funds=spec.has_funds)
    w = weights(record)
    for ind in record.indicators:
        result.indicators.append(score_indicator(spec, ind, w[ind.index]))
    for s in result.indicators:
        if s.computed is not None and s.level1:
            result.subtotals[s.level1] = round(
                result.subtotals.get(s.level1, 0.0) + s.computed, spec.round_digits
            )
    parts = [exec_score] + [s.computed for s in result.indicators]
    if any(p is not None for p in parts):
        result.total = round(sum(p for p in parts if p is not None), spec.round_digits)
        result.grade = grade(spec, result.total)
    if spec.scored:
        result.reported_total = reported_total(record, result)
    return result


def reported_total(record: Record, score: ProjectScore) -> float | None:
    """自评总分: the total the unit's own sheet shows, to stand beside ours (a reviewer signs
    ours, and must see where the unit's differs): a 总分 typed over its formula, else what the
    formula adds up, the reported indicator scores plus the sheet's 执行率得分 (typed over, or
    the formula's on the sheet's own amounts). None when the unit reported no score at all."""
    stated = record.stated.get("total_score")
    if stated is not None and _number(stated.value):
        return stated.value
    reported = [s.reported for s in score.indicators if _number(s.reported)]
    if not reported:
        return None
    typed = record.stated.get("exec_score")
    exec_part = typed.value if typed is not None and _number(typed.value) else score.exec_score
    total = round(sum(reported) + (exec_part or 0.0), record.spec.round_digits)
    return total if math.isfinite(total) else None  # pasted 1e308s: no total to show


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- findings on scored forms ------------------------------------------------------------------
def score_findings(record: Record, score: ProjectScore) -> list[Finding]:
    """What a reviewer says about the scores (E5xx/W5xx); reported scores only where the form
    has them, plus the over-achievement and missing-reason checks on every form."""
    out = list(_over_achievement(record))
    if record.spec.department:
        # the rows and their 分值 are the office's (validated with the spec): only the
        # department's 自评得分, 扣分原因 and a 合计 typed over are its to get wrong
        return out + list(_reported(record, score)) + list(_stated_totals(record, score))
    if record.spec.scored:
        out += list(_weights(record))
        out += list(_reported(record, score))
        out += list(_stated_totals(record, score))
        out += list(_full_marks(record, score))
    return out


def _full_marks(rec: Record, score: ProjectScore) -> Iterator[Finding]:
    """Every indicator self-scored at full marks while the money or a status says otherwise
    (池州贵池 2022): the self-evaluation was not done, or not honestly (a warning: W511)."""
    spec = rec.spec
    rows = list(zip(rec.indicators, score.indicators, strict=True))
    if not rows or any(
        s.reported is None or s.weight is None or s.reported < s.weight - 1e-9 for _, s in rows
    ):
        return
    rate = score.exec_rate
    unmet = [ind for ind, _ in rows if ind.value("status") != spec.complete_status]
    if rate is not None and rate < spec.full_marks_exec_below:
        why = Text(
            f"执行率 {rate:.2%}（低于 {spec.full_marks_exec_below:.0%}）",
            f"the execution rate is {rate:.2%} (below {spec.full_marks_exec_below:.0%})",
        )
    elif unmet:
        ind = unmet[0]
        why = Text(
            f"指标{ind.title.zh}为「{ind.value('status') or '（空）'}」",
            f"indicator {ind.title.en} is '{ind.value('status') or '(blank)'}'",
        )
    else:
        return
    yield rec.finding(
        "W511",
        Text(
            f"全部 {len(rows)} 个指标均自评满分，但{why.zh}：请核实自评得分",
            f"all {len(rows)} indicators self-scored at full marks, but {why.en}: check the scores",
        ),
        rec.where("total_score"),
        "ind_score",
    )


def _weights(rec: Record) -> Iterator[Finding]:
    spec = rec.spec
    given: list[float] = []
    for ind in rec.indicators:
        w = ind.value("weight")
        if not isinstance(w, (int, float)) or w <= 0:
            t = ind.title
            yield rec.finding(
                "E502",
                Text(
                    f"指标{t.zh}的分值为空或不大于 0",
                    f"indicator {t.en}: weight empty or not above 0",
                ),
                ind.field("weight"),
                "ind_weight",
            )
        else:
            given.append(w)
    if not rec.indicators:
        return
    expected = spec.score_total - spec.exec_weight
    if abs(sum(given) - expected) > spec.score_tolerance:
        yield rec.finding(
            "E501",
            Text(
                f"指标分值合计 {sum(given):g}，应为 {expected:g}",
                f"indicator weights add up to {sum(given):g}, not {expected:g}",
            ),
            rec.where("weight_total"),
            "ind_weight",
        )
    # Each 一级 by its weight rule: "fixed" E503, "principle" W512 (财预〔2020〕10号: 原则上, and
    # 如有特殊情况可做适当调整), "free" nothing. By the 一级 each indicator is scored under (a
    # misfiled 二级 counts where it belongs); an absent 一级 is E406's, or nobody's if optional.
    # A weighted 二级 (`{ label = "基础信息", weight = 3 }`) likewise, by its 一级's rule and by
    # the 二级 read.
    level1 = [scored_level1(spec, ind) for ind in rec.indicators]
    level2 = [ind.value("level2") for ind in rec.indicators]
    groups = [(l1, l1.label, l1.weight, level1) for l1 in spec.level1]
    groups += [(l1, l2, w, level2) for l1 in spec.level1 for l2, w in l1.level2_weights]
    for l1, label, weight, read in groups:
        if l1.weight_rule == "free" or label not in read:
            continue
        total = sum(
            ind.value("weight")
            for ind, got in zip(rec.indicators, read, strict=True)
            if got == label and isinstance(ind.value("weight"), (int, float))
        )
        if abs(total - weight) <= spec.score_tolerance:
            continue
        if l1.weight_rule == "fixed":
            yield rec.finding(
                "E503",
                Text(
                    f"「{label}」的分值合计 {total:g}，应为 {weight:g}",
                    f"{label} weights add up to {total:g}, not {weight:g}",
                ),
                None,
                "ind_weight",
            )
        else:
            yield rec.finding(
                "W512",
                Text(
                    f"「{label}」的分值合计 {total:g}，原则上应为 {weight:g}"
                    + (
                        "（“财预〔2020〕10号”：如有特殊情况，一级指标权重可做适当调整；请说明理由）"
                        if label == l1.label
                        else f"（表式给定的二级指标分值，属「{l1.label}」；如有调整请说明理由）"
                    ),
                    f"{label} weights add up to {total:g}, {weight:g} in principle "
                    + (
                        "(财预〔2020〕10号: weights may be adjusted in special circumstances; "
                        "give the reason)"
                        if label == l1.label
                        else f"(the form's weight of this level-2 under {l1.label}; give the "
                        "reason for a change)"
                    ),
                ),
                None,
                "ind_weight",
            )


def _reported(rec: Record, score: ProjectScore) -> Iterator[Finding]:
    spec = rec.spec
    tol = spec.score_tolerance
    for ind, s in zip(rec.indicators, score.indicators, strict=True):
        t = ind.title
        reported, weight = s.reported, ind.value("weight")
        if reported is None:
            if weight is not None:
                yield rec.finding(
                    "E510",
                    Text(f"指标{t.zh}没有填写得分", f"indicator {t.en} has no score"),
                    ind.field("score"),
                    "ind_score",
                )
            continue
        if isinstance(weight, (int, float)) and reported > weight + 1e-9:
            yield rec.finding(
                "E504",
                Text(
                    f"指标{t.zh}得分 {reported:g} 超过分值 {weight:g}",
                    f"indicator {t.en}: score {reported:g} exceeds its weight {weight:g}",
                ),
                ind.field("score"),
                "ind_score",
            )
        elif s.rule.kind == QUALITATIVE and weight:
            lo, hi = spec.qualitative_bands[ind.value("status")]
            if not lo * weight - tol <= reported <= hi * weight + tol:
                yield rec.finding(
                    "E507",
                    Text(
                        f"定性指标{t.zh}为「{ind.value('status')}」，得分应在 {lo * weight:g}–{hi * weight:g} 之间，填为 {reported:g}",
                        f"qualitative {t.en} is '{ind.value('status')}': score must be {lo * weight:g}–{hi * weight:g}, not {reported:g}",
                    ),
                    ind.field("score"),
                    "ind_score",
                )
        elif (
            s.computed is not None
            and s.rule.kind != QUALITATIVE
            and abs(reported - s.computed) > tol
        ):
            yield rec.finding(
                "E505",
                Text(
                    f"指标{t.zh}得分 {reported:g}，按规则应为 {s.computed:g}（{s.rule.how.zh}，分值 {weight:g}）",
                    f"indicator {t.en}: score {reported:g}, the rules give {s.computed:g} ({s.rule.how.en}, weight {weight:g})",
                ),
                ind.field("score"),
                "ind_score",
            )
        if (
            isinstance(weight, (int, float))
            and reported < weight - 1e-9
            # a department form asks a 扣分原因 where it has the column (寿县's has none)
            and (
                ("reason" in spec.indicator_keys)
                if spec.department
                else ind.value("status") == spec.complete_status
            )
            and is_no_reason(ind.value("reason"), spec.empty_reasons)
        ):
            yield rec.finding(
                "E508",
                Text(
                    f"指标{t.zh}未得满分（{reported:g}/{weight:g}），缺少{_reason_label(spec)}",
                    f"indicator {t.en}: {reported:g} of {weight:g} without a reason",
                ),
                ind.field("reason"),
                "ind_reason",
            )


def _reason_label(spec: Spec) -> str:
    return "扣分原因" if spec.department else "偏差原因"


def _stated_totals(rec: Record, score: ProjectScore) -> Iterator[Finding]:
    """Values typed over the sheet's own formulas (执行率, 执行率得分, 总分) must still be right."""
    spec = rec.spec
    tol = spec.score_tolerance
    total = score.total
    if spec.department:
        # the 合计 adds up the 自评得分 as typed (the formula's sum); ours leaves out the
        # invalid ones, each reported on its own
        typed = [s.reported for s in score.indicators if _number(s.reported)]
        total = round(sum(typed), 2) if typed else None
    checks = (
        ("exec_rate", score.exec_rate, 100, "执行率", "execution rate"),
        ("exec_score", score.exec_score, 1, "执行率得分", "execution score"),
        ("total_score", total, 1, spec.indicators_total_label, "total score"),
    )
    for name, computed, scale, zh, en in checks:
        stated = rec.stated.get(name)
        if stated is None or stated.value is None or computed is None:
            continue
        if abs(stated.value * scale - computed * scale) > tol:
            yield rec.finding(
                "E506",
                Text(
                    f"{zh}填为 {stated.value:g}，按各项计算应为 {computed:g}",
                    f"{en} is stated as {stated.value:g}, the parts give {computed:g}",
                ),
                stated,
                name,
            )


def _over_achievement(rec: Record) -> Iterator[Finding]:
    spec = rec.spec
    for ind in rec.indicators:
        if not ind.quantitative or ind.sign not in ("≥", ">", "="):
            continue
        t_num = ind.target.number
        a = ind.actual
        if a is None or a.number is None or t_num is None or t_num <= 0:
            continue
        if a.number >= spec.over_achievement * t_num and is_no_reason(
            ind.value("reason"), spec.empty_reasons
        ):
            t = ind.title
            ratio = a.number / t_num
            yield rec.finding(
                "W509",
                Text(
                    f"指标{t.zh}完成值为指标值的 {ratio:.0%}（≥ {spec.over_achievement:.0%}），超额完成须说明原因",
                    f"indicator {t.en}: actual is {ratio:.0%} of the target (≥ {spec.over_achievement:.0%}) without an explanation",
                ),
                ind.field("reason"),
                "ind_reason",
            )
