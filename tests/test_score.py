"""Scoring by the national rules: every rule and band edge, a hand-computed national form, and
the seed's three projects on the seed's form (computed, not reported)."""

from __future__ import annotations

import pytest
from helpers import INDICATORS, fill, filled, named_cell, open_xlsx

from perfeval_xl import build_template, load_spec, seed_projects
from perfeval_xl.findings import RULES
from perfeval_xl.review.checks import check_workbook
from perfeval_xl.review.score import share_quantitative

# (sign, target, actual, reverse rule, expected share of the weight)
SHARES = [
    ("≥", 12, 12, "linear", 1.0),  # exactly at target
    ("≥", 12, 15, "linear", 1.0),  # above: never more than the weight
    ("≥", 12, 9, "linear", 0.75),  # 9 ÷ 12
    ("≥", 100, 80, "linear", 0.8),  # exactly 80 %
    ("≥", 100, 60, "linear", 0.6),  # exactly 60 %
    ("≥", 90, 130, "linear", 1.0),  # over-achieved (130 %): still full, a W509 elsewhere
    (">", 10, 5, "linear", 0.5),
    ("≥", 0, 0, "linear", 1.0),  # target 0: any actual ≥ 0 meets it
    ("≥", 0, -1, "linear", 0.0),  # target 0, negative actual
    ("≥", 10, -5, "linear", 0.0),  # negative actual never goes below 0
    ("=", 10, 8, "linear", 0.8),  # equality with a target above 0: as positive
    ("=", 0, 0, "linear", 1.0),
    ("=", 0, 3, "linear", 0.0),
    ("≤", 100, 100, "linear", 1.0),  # reverse, exactly at the ceiling
    ("≤", 100, 90, "linear", 1.0),
    ("≤", 100, 110, "linear", 0.9),  # linear: 2 − 110 ÷ 100
    ("≤", 100, 150, "linear", 0.5),
    ("≤", 100, 200, "linear", 0.0),  # 0 at twice the target
    ("≤", 100, 250, "linear", 0.0),  # never below 0
    ("<", 100, 125, "ratio", 0.8),  # ratio: 100 ÷ 125
    ("≤", 100, 200, "ratio", 0.5),
    ("≤", 0, 0, "linear", 1.0),  # reverse with target 0
    ("≤", 0, 1, "linear", 0.0),
    ("≤", 0, 1, "ratio", 0.0),
]


@pytest.mark.parametrize(("sign", "target", "actual", "reverse", "exp"), SHARES)
def test_quantitative_share(sign, target, actual, reverse, exp):
    got = share_quantitative(sign, target, actual, reverse)
    assert min(max(got.share, 0.0), 1.0) == pytest.approx(exp)
    assert got.how.zh and got.how.en


def national(tmp_path, rows, **over):
    return filled(tmp_path, "national-2020", None, indicators=rows, **over)


def test_hand_computed_national_form(tmp_path):
    rows = [dict(r) for r in INDICATORS]
    # 数量 ≥12次, did 9次: 9 ÷ 12 = 75 % of 20 = 15.00
    rows[0].update(actual="9次", status="部分完成", score=15, reason="两次活动因疫情取消")
    # 质量 ≥95 %, did 100 %: full 20
    # 成本 ≤100万元, spent 110万元: linear 2 − 110 ÷ 100 = 90 % of 10 = 9.00
    rows[2].update(actual="110万元", status="部分完成", score=9, reason="追加了一次直播")
    # 社会效益 定性, 已完成, self-scored 27 of 30 (90 %, inside the 80–100 % band): 27
    rows[3].update(score=27, reason="个别栏目影响力不足")
    # 满意度 ≥90 %, got 88 %: 88 ÷ 90 = 97.78 % of 10 = 9.78 (rounded to 2 places)
    rows[4].update(actual="88%", status="部分完成", score=9.78, reason="部分群众不了解")
    # 执行率 95 ÷ 100 = 95 % → 9.50
    result = check_workbook(national(tmp_path, rows))
    assert [f.code for f in result.findings] == []
    s = result.score
    assert s.exec_score == 9.5
    assert [i.computed for i in s.indicators] == [15.0, 20.0, 9.0, 27.0, 9.78]
    assert [i.reported for i in s.indicators] == [15, 20, 9, 27, 9.78]
    assert [i.rule.kind for i in s.indicators] == [
        "positive",
        "positive",
        "reverse",
        "qualitative",
        "positive",
    ]
    # 产出 15 + 20 + 9 = 44; 效益 27; 满意度 9.78
    assert s.subtotals == {"产出指标": 44.0, "效益指标": 27.0, "满意度指标": 9.78}
    # 总分 9.5 + 44 + 27 + 9.78 = 90.28 → 优 (≥ 90)
    assert s.total == 90.28 and s.grade == "优" and s.complete


def test_grades_at_their_edges():
    from perfeval_xl.review.score import grade

    spec = load_spec("national-2020")
    got = [grade(spec, x) for x in (100, 90, 89.99, 80, 79.99, 60, 59.99, 0)]
    assert got == ["优", "优", "良", "良", "中", "中", "差", "差"]


def _rows(i, **changes):
    rows = [dict(r) for r in INDICATORS]
    rows[i].update(changes)
    return rows


def _type_over_total(wb):
    named_cell(wb, "pe_total_score").value = 50


# (rule, overrides, change, expected findings as (code, contract name, indicator row))
SCORE_CASES = [
    (
        "E501",
        {"indicators": _rows(0, weight=25, score=25)},
        None,
        [("E501", "pe_weight_total", 0), ("W512", None, 0)],
    ),
    (
        "E502",
        {"indicators": _rows(0, weight=None)},
        None,
        [("E502", "pe_ind_weight", 0), ("E501", "pe_weight_total", 0), ("W512", None, 0)],
    ),
    (
        "E502 zero",
        {"indicators": _rows(0, weight=0, score=0)},
        None,
        [("E502", "pe_ind_weight", 0), ("E501", "pe_weight_total", 0), ("W512", None, 0)],
    ),
    (
        # 产出 55 and 效益 25: 50 and 30 in principle (财预〔2020〕10号), a warning each; E503 where
        # a spec fixes the weights (tests/test_real_forms.py)
        "W512",
        {
            "indicators": [
                dict(r, **c)
                for r, c in zip(
                    INDICATORS,
                    [{"weight": 25, "score": 25}, {}, {}, {"weight": 25, "score": 25}, {}],
                    strict=True,
                )
            ]
        },
        None,
        [("W512", None, 0), ("W512", None, 0)],
    ),
    ("E504", {"indicators": _rows(0, score=25)}, None, [("E504", "pe_ind_score", 0)]),
    ("E505", {"indicators": _rows(0, actual="9次")}, None, [("E505", "pe_ind_score", 0)]),
    (
        "E505 reverse",
        {"indicators": _rows(2, actual="150万元", status="部分完成", reason="涨价")},
        None,
        # every indicator still at full marks, one of them 部分完成: W511 too
        [("E505", "pe_ind_score", 2), ("W511", "pe_total_score", 0)],
    ),
    ("E506", {}, _type_over_total, [("E506", "pe_total_score", 0)]),
    (
        "E507",
        {"indicators": _rows(3, score=20)},
        None,
        [("E507", "pe_ind_score", 3), ("E508", "pe_ind_reason", 3)],
    ),
    ("E507 edge 80%", {"indicators": _rows(3, score=24)}, None, [("E508", "pe_ind_reason", 3)]),
    (
        "E507 partly 60%",
        {"indicators": _rows(3, status="部分完成", score=18, reason="r")},
        None,
        [],
    ),
    (
        "E507 partly below",
        {"indicators": _rows(3, status="部分完成", score=17.5, reason="r")},
        None,
        [("E507", "pe_ind_score", 3)],
    ),
    ("E508", {"indicators": _rows(3, score=25)}, None, [("E508", "pe_ind_reason", 3)]),
    ("W509", {"indicators": _rows(0, actual="16次")}, None, [("W509", "pe_ind_reason", 0)]),
    ("W509 just below", {"indicators": _rows(0, actual="15.5次")}, None, []),
    (
        "W509 at 130%",
        {"indicators": _rows(0, target="≥10次", actual="13次")},
        None,
        [("W509", "pe_ind_reason", 0)],
    ),
    ("E510", {"indicators": _rows(0, score=None)}, None, [("E510", "pe_ind_score", 0)]),
]


@pytest.mark.parametrize(
    ("rule", "over", "change", "expected"), SCORE_CASES, ids=[c[0] for c in SCORE_CASES]
)
def test_score_rule(tmp_path, rule, over, change, expected):
    path = filled(tmp_path, "national-2020", change, **over)
    wb = open_xlsx(build_template(load_spec("national-2020")))

    def at(name, row):
        return f"自评表!{named_cell(wb, name).offset(row=row).coordinate}" if name else "自评表"

    exp = sorted((code, RULES[code].severity, at(name, row)) for code, name, row in expected)
    got = sorted((f.code, f.severity, f.location) for f in check_workbook(path).findings)
    assert got == exp


def test_reported_score_message_says_which_rule(tmp_path):
    path = filled(tmp_path, "national-2020", None, indicators=_rows(0, actual="9次"))
    (f,) = check_workbook(path).findings
    assert (
        f.message.render("zh")
        == "指标「媒体报道」得分 20，按规则应为 15（正向指标：9 ÷ 12 = 75.00%，分值 20）"
    )
    assert (
        f.message.render("en")
        == 'indicator "媒体报道": score 20, the rules give 15 (positive: 9 ÷ 12 = 75.00%, weight 20)'
    )


def test_unreadable_actual_is_not_scored_zero(tmp_path):
    path = filled(tmp_path, "national-2020", None, indicators=_rows(0, actual="已完成"))
    result = check_workbook(path)
    s = result.score
    assert s.indicators[0].computed is None and s.indicators[0].rule.kind == "unscored"
    assert s.unscored == 1 and not s.complete
    assert s.total == 9.5 + 70  # the other indicators and the execution score
    assert "W411" in [f.code for f in result.findings]


SEED = load_spec("sichuan-2022")


def _seed_result(tmp_path, project):
    issued = {
        k: project[k] for k in ("project_name", "dept_code", "dept_name", "unit_name", "year")
    }
    issued["fund_fiscal_budget"] = float(project["fund_fiscal_budget"])
    wb = open_xlsx(build_template(SEED, issued))
    fill(
        wb,
        {"fund_fiscal_spent": project["fund_fiscal_spent"], "goal_actual": project["goal_actual"]},
        project["indicators"],
    )
    path = tmp_path / "seed.xlsx"
    wb.save(path)
    return check_workbook(path)


# The seed's form has no score columns: weights are equal shares of each 一级's weight. Every
# project files five indicators under 完成指标 (= 产出指标) and one under 满意度 (10 points);
# one of the five is a 社会效益指标, which belongs to 效益指标 and is scored there (30 points,
# with E403 telling the unit to fix the form), so 产出's 50 points go to its four others
# (12.5 each). Prose targets are qualitative: 已完成 earns 100 % of the weight
# (qualitative_points), so 数量, 质量, 时效 earn 37.5 and 社会效益 30 = 67.5. The 成本 row
# ("100万元" vs "未支付完成") and the 满意度 row ("满意度≥90%" vs "已完成") are quantitative
# with a word as actual value: not scored (W411 says why), so the score is incomplete.
#   媒体合作: 执行率 16 ÷ 100 = 16 % → 1.60; total 1.60 + 67.5 = 69.10 → 中
#   文明城市: 执行率 99.63 ÷ 114.56 = 86.97 % → 8.70; total 76.20 → 中
#   对外宣传: 执行率 40 ÷ 210 = 19.05 % → 1.90; total 69.40 → 中
@pytest.mark.parametrize(
    ("index", "exec_score", "total"), [(0, 1.6, 69.1), (1, 8.7, 76.2), (2, 1.9, 69.4)]
)
def test_seed_projects_scored_as_computed(tmp_path, index, exec_score, total):
    result = _seed_result(tmp_path, seed_projects()[index])
    s = result.score
    assert s.reported_form is False
    assert [i.weight for i in s.indicators] == [12.5] * 4 + [30.0, 10.0]
    assert [i.computed for i in s.indicators] == [12.5, 12.5, 12.5, None, 30.0, None]
    assert [i.level1 for i in s.indicators] == ["产出指标"] * 4 + ["效益指标", "满意度指标"]
    assert all(i.reported is None for i in s.indicators)
    assert s.exec_score == exec_score
    assert s.subtotals == {"产出指标": 37.5, "效益指标": 30.0}
    assert (s.total, s.grade, s.unscored, s.complete) == (total, "中", 2, False)
    doc = result.to_dict("zh")["project"]
    assert doc["score_kind"] == "computed" and doc["score"] == total
    assert "score_reported" not in doc["indicators"][0]
    assert doc["indicators"][0]["score_computed"] == 12.5


@pytest.mark.parametrize(("digits", "exp"), [(2, 9.78), (1, 9.8), (0, 10.0)])
def test_rounding_follows_the_spec(digits, exp):
    """88 % achieved of a ≥90 % target with weight 10: 97.777… % of 10 = 9.777…"""
    from importlib import resources

    from perfeval_xl.forms.normalize import parse_target
    from perfeval_xl.forms.spec import parse_spec
    from perfeval_xl.intake.record import Field, Indicator
    from perfeval_xl.review.score import score_indicator

    text = (
        resources.files("perfeval_xl.workbook_templates")
        .joinpath("national-2020.toml")
        .read_text("utf-8")
    )
    spec = parse_spec(
        text.replace("round_digits = 2", f"round_digits = {digits}").encode(), "x.toml"
    )
    fields = {
        k: Field(k, v, v, None, None)
        for k, v in {"level1": "满意度指标", "status": "部分完成"}.items()
    }
    ind = Indicator(0, fields, parse_target("≥90%"), parse_target("88%"))
    assert score_indicator(spec, ind, 10).computed == exp
