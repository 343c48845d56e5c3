"""Real published forms (domain.md §7) that break the 产出 50 / 效益 30 / 满意度 10 pattern, and the
spec keys that let a form accept them: `required` and `weight_rule` per 一级, and
`[scoring] level1_weight_rule` (the old `level1_weights_fixed` still reads).

Each form's figures that domain.md records (weights, the blank cells, the one 大英 row, the
project cell of 青神) are typed as the unit typed them; indicator names and targets where the
record gives none stand in for the form's own. They are typed into built-in templates
(sichuan-2023, and national-2020 for the weight rules) and checked by the real path
(`check_workbook`); the spec variants (fixed weights, an optional 满意度) are built-in specs with
one key changed, checked on the same reading (helpers.check_as).
"""

from __future__ import annotations

import pytest
from helpers import INDICATORS, check_as, filled, spec_variant

from perfeval_xl import SpecError, load_spec
from perfeval_xl.forms.spec import parse_spec
from perfeval_xl.review.checks import check_workbook
from perfeval_xl.review.score import weights

#: (一级, 二级, 三级, 指标性质, 指标值, 度量单位, 权重)
# 青神县 2023 年项目支出绩效自评表 (Sichuan 2023 layout): 产出 60 / 效益 30, no 满意度; 完成值
# and 得分 left blank; project code and name in one cell.
QINGSHEN_NAME = "51000021R000000019951-工资性支出"
QINGSHEN = [
    ("产出指标", "数量指标", "保障在职人员人数", "≥", "45", "人", 20),
    ("产出指标", "质量指标", "工资足额发放率", "=", "100", "%", 20),
    ("产出指标", "时效指标", "工资发放及时性", "定性", "按月及时发放", None, 20),
    ("效益指标", "社会效益指标", "保障单位正常运转", "定性", "有效保障", None, 30),
]
# 大英县 2023 年项目支出绩效自评表 (Sichuan 2023 layout): one indicator, 产出指标 / 经济成本指标,
# target ≤30万元, 完成值 "完成" (a word), weight 90.
DAYING = [("产出指标", "经济成本指标", "项目总成本", "≤", "30", "万元", 90)]
# 德阳 ≈2023 项目支出绩效自评表 (Sichuan 2023 layout): four indicators of 22.5 each, no 满意度.
DEYANG = [
    ("产出指标", "数量指标", "培训人次", "≥", "200", "人次", 22.5),
    ("产出指标", "质量指标", "培训合格率", "≥", "95", "%", 22.5),
    ("产出指标", "时效指标", "完成时间", "定性", "年底前完成", None, 22.5),
    ("效益指标", "社会效益指标", "从业人员技能提升", "定性", "明显提升", None, 22.5),
]


def sichuan(rows, *, actual: bool = True, score: bool = True) -> list[dict]:
    """Rows as typed into a sichuan-2023 form: the target split into 指标性质 / 指标值 / 度量单位;
    each met (完成值 = 指标值, 已完成, full marks) unless 完成值 or 得分 is left blank."""
    out = []
    for l1, l2, name, sign, target, unit, weight in rows:
        out.append(
            {
                "level1": l1,
                "level2": l2,
                "name": name,
                "sign": sign,
                "target": target,
                "unit": unit,
                "actual": target if actual else None,
                "status": "已完成",
                "weight": weight,
                "score": weight if score else None,
            }
        )
    return out


def national(rows) -> list[dict]:
    """The same rows on the national layout: one 年度指标值 / 实际完成值 cell each, all met."""
    out = []
    for l1, l2, name, sign, target, unit, weight in rows:
        # "=100%" typed into a cell is a formula: an equality target is written without its sign
        text = f"定性：{target}" if sign == "定性" else f"{sign.strip('=')}{target}{unit}"
        out.append(
            {
                "level1": l1,
                "level2": l2,
                "name": name,
                "target": text,
                "actual": target if sign == "定性" else f"{target}{unit}",
                "status": "已完成",
                "weight": weight,
                "score": weight,
            }
        )
    return out


def codes(result) -> list[str]:
    return sorted(f.code for f in result.findings)


def cells(result, code: str) -> list[str | None]:
    return [f.cell for f in result.findings if f.code == code]


def column_cells(result, key: str) -> list[str | None]:
    """The cells of indicator column `key`, one per indicator read."""
    return [ind.fields[key].cell for ind in result.record.indicators]


FUNDS = {"fund_fiscal_initial": 500.2, "fund_fiscal_budget": 500.2, "fund_fiscal_spent": 500.2}
FOOTER = {"conclusion": "项目完成较好。", "problems": "无。", "improvements": "加强管理。"}


def test_qingshen_free_weights_no_satisfaction_blank_actuals_and_scores(tmp_path):
    rows = sichuan(QINGSHEN, actual=False, score=False)
    path = filled(
        tmp_path, "sichuan-2023", indicators=rows, project_name=QINGSHEN_NAME, **FUNDS, **FOOTER
    )
    result = check_workbook(path)
    got = codes(result)
    # 产出 60 / 效益 30 is no error on this form (weights set per project), and 满意度 optional
    assert not {"E503", "W512", "E406", "E501"} & set(got), got
    # the real defects: every 完成值 blank (E401) and every 得分 blank (E510), nothing else
    assert got == ["E401"] * 4 + ["E510"] * 4
    assert cells(result, "E401") == column_cells(result, "actual")
    assert cells(result, "E510") == column_cells(result, "score")
    assert result.record.value("project_name") == QINGSHEN_NAME


def test_daying_one_cost_indicator_under_output_with_a_word_as_actual(tmp_path):
    rows = sichuan(DAYING)
    rows[0]["actual"] = "完成"
    path = filled(tmp_path, "sichuan-2023", indicators=rows, **FUNDS, **FOOTER)
    result = check_workbook(path)
    got = codes(result)
    # 经济成本指标 is a 二级 of 产出指标 on Sichuan 2023 forms; 效益 and 满意度 are optional
    assert not {"E403", "E406", "E503", "W512", "E501"} & set(got), got
    # a quantitative ≤30万元 row whose 完成值 is a word cannot be scored: W411, and no score
    assert got == ["W411"]
    assert cells(result, "W411") == column_cells(result, "actual")
    (s,) = result.score.indicators
    assert s.computed is None and not result.score.complete
    assert result.record.indicators[0].is_cost  # a ceiling, as 成本指标 is


def test_deyang_four_indicators_of_22_5_no_satisfaction(tmp_path):
    path = filled(tmp_path, "sichuan-2023", indicators=sichuan(DEYANG), **FUNDS, **FOOTER)
    result = check_workbook(path)
    assert codes(result) == []
    assert result.score.subtotals == {"产出指标": 67.5, "效益指标": 22.5}
    assert result.score.total == 100


@pytest.mark.parametrize(
    ("form", "level1", "level2"),
    [
        ("sichuan-2023", "产出指标", "经济成本指标"),
        ("sichuan-2023", "产出指标", "生态环境成本指标"),
        ("national-2021", "成本指标", "社会成本指标"),
        ("national-2021", "成本指标", "经济成本指标"),
    ],
)
def test_the_new_cost_labels_are_cost_indicators(tmp_path, form, level1, level2):
    rows = [dict(r) for r in INDICATORS]
    cost = 2  # 合作经费 ≤100万元, 10 points
    rows[cost].update(level1=level1, level2=level2, target="≥100万元", actual="100万元")
    result = check_workbook(filled(tmp_path, form, indicators=rows))
    # a ceiling written as a floor: W410, whichever of the cost labels
    assert [(f.code, f.field) for f in result.findings] == [("W410", "ind_target")]
    assert result.record.indicators[cost].is_cost
    # without a sign, a cost target is a ceiling: 120万元 of 100万元 is over it
    rows[cost].update(target="100万元", actual="120万元", status="部分完成", reason="涨价", score=8)
    if form == "sichuan-2023":
        rows[cost]["sign"] = None  # no 指标性质 either
    (tmp_path / "unsigned").mkdir()
    result = check_workbook(filled(tmp_path / "unsigned", form, indicators=rows))
    assert [f.code for f in result.findings] == []
    assert result.score.indicators[cost].computed == 8.0  # linear: 2 − 120 ÷ 100 = 80 %


# -- the same 青神 weights on the national form, and on variants of it -------------------------
FIXED = ('level1_weight_rule = "principle"', 'level1_weight_rule = "fixed"')
SATISFACTION = '{ label = "满意度指标", weight = 10, level2 = ["服务对象满意度指标"] }'
OPTIONAL_SATISFACTION = (SATISFACTION, SATISFACTION[:-2] + ", required = false }")


def qingshen_national(tmp_path):
    return filled(tmp_path, "national-2020", indicators=national(QINGSHEN), fund_fiscal_spent=100)


def test_qingshen_weights_on_national_2020_are_a_warning_in_principle(tmp_path):
    result = check_workbook(qingshen_national(tmp_path))
    # 产出 60 where 50 is the weight 原则上 (财预〔2020〕10号): W512, not E503; 满意度 is required
    assert codes(result) == ["E406", "W512"]
    (w,) = [f for f in result.findings if f.code == "W512"]
    assert w.message.render("zh").startswith(
        "「产出指标」的分值合计 60，原则上应为 50（“财预〔2020〕10号”"
    )
    assert "weights add up to 60, 50 in principle" in w.message.render("en")


def test_qingshen_weights_on_a_fixed_copy_are_an_error(tmp_path):
    spec = spec_variant("national-2020", *FIXED)
    assert {x.weight_rule for x in spec.level1} == {"fixed"}
    result = check_as(spec, qingshen_national(tmp_path))
    assert codes(result) == ["E406", "E503"]
    (e,) = [f for f in result.findings if f.code == "E503"]
    assert e.message.render("en") == "产出指标 weights add up to 60, not 50"


def test_one_fixed_level1_among_principle_ones(tmp_path):
    # 效益 fixed at 30 (met by 青神), 产出 principle: a warning for 产出, nothing for 效益
    old = '{ label = "效益指标", weight = 30, level2 = ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"] }'
    spec = spec_variant("national-2020", old, old[:-2] + ', weight_rule = "fixed" }')
    assert [x.weight_rule for x in spec.level1] == ["principle", "fixed", "principle"]
    path = qingshen_national(tmp_path)
    assert codes(check_as(spec, path)) == ["E406", "W512"]
    spec = spec_variant(
        "national-2020",
        '{ label = "产出指标", weight = 50,',
        '{ label = "产出指标", weight = 50, weight_rule = "fixed",',
    )
    assert codes(check_as(spec, path)) == ["E406", "E503"]


def test_an_optional_satisfaction_left_out_is_no_error(tmp_path):
    spec = spec_variant("national-2020", *OPTIONAL_SATISFACTION)
    assert [x.required for x in spec.level1] == [True, True, False]
    path = qingshen_national(tmp_path)
    assert codes(check_as(spec, path)) == ["W512"]
    # fixed as well: the 产出 weights still count, the missing 满意度 still does not
    fixed = parse_spec(spec.source.replace(*(x.encode() for x in FIXED)), "both.toml")
    assert codes(check_as(fixed, path)) == ["E503"]


def test_free_weights_say_nothing(tmp_path):
    spec = spec_variant(
        "national-2020", 'level1_weight_rule = "principle"', 'level1_weight_rule = "free"'
    )
    assert codes(check_as(spec, qingshen_national(tmp_path))) == ["E406"]


# -- forms without 分值: equal shares, scaled up when an optional 一级 is left out --------------
OPTIONAL_SATISFACTION_2022 = (SATISFACTION, SATISFACTION[:-2] + ", required = false }")


def seed_form(tmp_path, rows):
    return filled(tmp_path, "sichuan-2022", indicators=rows)


def test_unscored_weights_when_an_optional_level1_is_absent(tmp_path):
    no_satisfaction = [r for r in INDICATORS if r["level1"] != "满意度指标"]
    path = seed_form(tmp_path, no_satisfaction)
    # required (the built-in seed form): E406, and 满意度's 10 points are out of reach
    result = check_workbook(path)
    assert codes(result) == ["E406"]
    assert list(weights(result.record).values()) == pytest.approx([50 / 3] * 3 + [30])
    assert result.score.total == 9.5 + 80.01  # 产出's thirds scored as 16.67 each
    # optional: no finding, and 产出 50 / 效益 30 scale up to 56.25 / 33.75 (90 in all)
    spec = spec_variant("sichuan-2022", *OPTIONAL_SATISFACTION_2022)
    result = check_as(spec, path)
    assert codes(result) == []
    got = list(weights(result.record).values())
    assert got == pytest.approx([56.25 / 3] * 3 + [33.75])
    assert sum(got) == pytest.approx(90)
    assert result.score.subtotals == pytest.approx({"产出指标": 56.25, "效益指标": 33.75})
    assert result.score.total == pytest.approx(99.5)


def test_unscored_weights_when_an_optional_level1_is_present(tmp_path):
    spec = spec_variant("sichuan-2022", *OPTIONAL_SATISFACTION_2022)
    result = check_as(spec, seed_form(tmp_path, INDICATORS))
    assert codes(result) == []
    assert list(weights(result.record).values()) == pytest.approx([50 / 3] * 3 + [30, 10])


# -- the spec keys -------------------------------------------------------------------------
def national_text() -> str:
    return load_spec("national-2020").source.decode("utf-8")


@pytest.mark.parametrize(("old", "rule"), [("true", "fixed"), ("false", "free")])
def test_the_old_key_still_reads(old, rule):
    text = national_text().replace(FIXED[0], f"level1_weights_fixed = {old}")
    spec = parse_spec(text.encode(), "old.toml")
    assert spec.level1_weight_rule == rule
    assert {x.weight_rule for x in spec.level1} == {rule}


def test_builtin_rules():
    rules = {
        form: [(x.label, x.required, x.weight_rule) for x in load_spec(form).level1]
        for form in ("national-2020", "national-2021", "sichuan-2022", "sichuan-2023")
    }
    assert (
        rules["national-2020"]
        == rules["sichuan-2022"]
        == [
            ("产出指标", True, "principle"),
            ("效益指标", True, "principle"),
            ("满意度指标", True, "principle"),
        ]
    )
    assert rules["national-2021"] == [
        ("产出指标", True, "principle"),
        ("成本指标", True, "principle"),
        ("效益指标", True, "principle"),
        ("满意度指标", True, "principle"),
    ]
    assert rules["sichuan-2023"] == [
        ("产出指标", True, "free"),
        ("效益指标", False, "free"),
        ("满意度指标", False, "free"),
    ]
    s23 = load_spec("sichuan-2023")
    assert s23.level1_of["经济成本指标"] == s23.level1_of["成本指标"] == "产出指标"
    n21 = load_spec("national-2021")
    assert n21.level1_of["经济成本指标"] == "成本指标"
    assert n21.level2_aliases["成本指标"] == "经济成本指标"
    assert sum(x.weight for x in n21.level1) + n21.exec_weight == n21.score_total == 100


# (what is wrong, text replaced, replacement, key named in the error, English message fragment)
BAD = [
    (
        "weight_rule value",
        SATISFACTION,
        SATISFACTION[:-2] + ', weight_rule = "loose" }',
        "taxonomy.level1[2].weight_rule",
        "must be one of fixed, principle, free",
    ),
    (
        "weight_rule type",
        SATISFACTION,
        SATISFACTION[:-2] + ", weight_rule = 1 }",
        "taxonomy.level1[2].weight_rule",
        "must be 文本",
    ),
    (
        "required type",
        SATISFACTION,
        SATISFACTION[:-2] + ', required = "no" }',
        "taxonomy.level1[2].required",
        "must be true/false",
    ),
    (
        "level1_weight_rule value",
        FIXED[0],
        'level1_weight_rule = "strict"',
        "scoring.level1_weight_rule",
        "must be one of fixed, principle, free",
    ),
    (
        "old and new key",
        FIXED[0],
        FIXED[0] + "\nlevel1_weights_fixed = true",
        "scoring.level1_weight_rule",
        "give level1_weight_rule or the old level1_weights_fixed, not both",
    ),
]


@pytest.mark.parametrize(("what", "old", "new", "key", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_rules_name_file_and_key(what, old, new, key, message):
    text = national_text()
    assert text.count(old) == 1
    with pytest.raises(SpecError) as err:
        parse_spec(text.replace(old, new).encode(), "custom.toml")
    got = err.value
    assert (got.path, got.key) == ("custom.toml", key)
    assert message in got.render("en")
    assert got.render("zh").startswith(f"custom.toml: {key}: ")
    assert got.render("en").startswith(f"custom.toml: {key}: ")


def test_a_weighted_level2_is_held_to_its_weight_by_its_level1_rule(tmp_path):
    """青神's 效益 30 lies all on 社会效益指标: a form that weights that 二级 at 20 (under a
    principle 效益) warns once, naming the 二级 and its 一级, not the 一级 rule of 10号."""
    old = '"社会效益指标"'
    spec = spec_variant("national-2020", old, '{ label = "社会效益指标", weight = 20 }')
    assert spec.level2_weight["社会效益指标"] == 20
    result = check_as(spec, qingshen_national(tmp_path))
    warned = [f for f in result.findings if f.code == "W512"]
    assert len(warned) == 2  # 产出 60 (the 一级 rule) and 社会效益指标 30 (the 二级's)
    level2 = next(f for f in warned if "社会效益指标" in f.message.zh)
    assert "分值合计 30，原则上应为 20" in level2.message.zh
    assert "属「效益指标」" in level2.message.zh and "10号" not in level2.message.zh
