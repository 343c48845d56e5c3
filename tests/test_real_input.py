"""Numbers a reviewer would sign on input as units really make it (issue 14, points 1–5, 12).

Each case is a workbook built from the project's template and filled by contract name, the way
a unit's program leaves it: a percentage stored as a share with a percent format, a status
typed as 完成, a pre-printed row left half empty, a 二级 under the merged 一级 cell of a paper
form, 无 as a reason, a budget cut to the spending. Both readers (thorough and fast) are asked,
and must agree. The percentage and the misfiled 二级 are also typed through LibreOffice's API.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import INDICATORS, filled, named_cell

from perfeval_xl import build_template, load_spec
from perfeval_xl.intake.read import read_workbook
from perfeval_xl.review.checks import CheckResult, check_read

SATISFACTION = 4  # index of 公众满意度 (≥90%, weight 10) in helpers.INDICATORS
QUALITY = 1  # index of 发布合格率 (≥95%, weight 20)
#: the clean form: 95 of 100 spent (9.50) and every indicator at full marks (90)
CLEAN_TOTAL = 99.5


def checked(path: Path) -> CheckResult:
    """`check` on the file, read by the thorough reader; the fast reader must say the same."""
    thorough = check_read(read_workbook(path))
    fast = check_read(read_workbook(path, fast=True))
    assert [(f.code, f.cell, f.message.zh) for f in fast.findings] == [
        (f.code, f.cell, f.message.zh) for f in thorough.findings
    ]
    assert fast.score.total == thorough.score.total
    return thorough


def rows(**changes: dict) -> list[dict]:
    """helpers.INDICATORS with rows changed: rows(**{"1": {...}}) updates row 1."""
    out = [dict(r) for r in INDICATORS]
    for index, change in changes.items():
        out[int(index)].update(change)
    return out


def codes(result: CheckResult, code: str) -> list[str]:
    """Cells of the findings with `code`."""
    return [f.cell for f in result.findings if f.code == code]


def percent_format(index: int, key: str = "actual"):
    def change(wb):
        named_cell(wb, f"pe_ind_{key}").offset(row=index).number_format = "0%"

    return change


# -- 1. a percentage stored as a number --------------------------------------------------------
def test_a_percent_formatted_share_is_the_percentage_it_shows(tmp_path):
    path = filled(
        tmp_path,
        change=percent_format(QUALITY),
        indicators=rows(**{str(QUALITY): {"actual": 0.96}}),
    )
    got = checked(path)
    assert codes(got, "E505") == []
    assert codes(got, "W201") == []  # the unit sees 96% in the cell: nothing to say
    ind = got.record.indicators[QUALITY]
    assert (ind.actual.number, ind.actual.percent, ind.value("actual")) == (96, True, "96%")
    assert got.score.indicators[QUALITY].computed == 20
    assert got.score.total == CLEAN_TOTAL
    assert got.errors == 0


@pytest.mark.parametrize(
    ("index", "actual", "score", "note"),
    [
        (QUALITY, 0.96, 20, "96%"),  # ≥95%: met
        (QUALITY, "0.9", 18.95, "90%"),  # as text: 90 ÷ 95 × 20 = 18.95
        (QUALITY, 1, 20, "100%"),
        (QUALITY, 1.2, 20, "120%"),  # up to 1.5: still a share
        (SATISFACTION, 0.85, 9.44, "85%"),  # ≥90%: 85 ÷ 90 × 10 = 9.44
        (SATISFACTION, 96, 10, None),  # 96 stays 96 %
        (SATISFACTION, 2, 0.22, None),  # above 1.5: 2 %, scored as such
    ],
)
def test_a_bare_number_against_a_percentage_target(tmp_path, index, actual, score, note):
    path = filled(
        tmp_path,
        indicators=rows(**{str(index): {"actual": actual, "score": score, "reason": "原因说明"}}),
    )
    got = checked(path)
    assert got.score.indicators[index].computed == score
    assert codes(got, "E505") == []
    cell = named_cell_ref(path, "pe_ind_actual", index)
    notes = [f for f in got.findings if f.code == "W201" and f.cell == cell]
    if note is None:
        assert notes == []
    else:
        (only,) = notes
        assert note in only.message.zh and note in only.message.en


@pytest.mark.parametrize(("actual", "score", "noted"), [(0.96, 20, True), ("96", 20, False)])
def test_a_share_against_a_percentage_in_the_unit_column(tmp_path, actual, score, noted):
    """Sichuan 2023 writes the unit in its own 度量单位 column: 指标值 95, 度量单位 %."""
    split = {"sign": "≥", "target": "95", "unit": "%", "actual": actual, "score": score}
    path = filled(tmp_path, "sichuan-2023", indicators=rows(**{str(QUALITY): split}))
    got = checked(path)
    ind = got.record.indicators[QUALITY]
    assert (ind.target.number, ind.target.percent, ind.actual.number) == (95, True, 96)
    assert got.score.indicators[QUALITY].computed == score
    assert codes(got, "E505") == []
    cell = named_cell_ref(path, "pe_ind_actual", QUALITY)
    assert (cell in codes(got, "W201")) is noted


def test_a_percent_formatted_target_is_a_percentage_too(tmp_path):
    def change(wb):
        percent_format(QUALITY, "target")(wb)
        percent_format(QUALITY)(wb)

    path = filled(
        tmp_path, change=change, indicators=rows(**{str(QUALITY): {"target": 0.95, "actual": 0.9}})
    )
    got = checked(path)
    ind = got.record.indicators[QUALITY]
    assert (ind.target.number, ind.target.percent, ind.value("target")) == (95, True, "95%")
    # 90 ÷ 95 × 20 = 18.95, against the reported 20
    assert got.score.indicators[QUALITY].computed == 18.95
    assert codes(got, "E505") == [named_cell_ref(path, "pe_ind_score", QUALITY)]


def named_cell_ref(path: Path, name: str, index: int) -> str:
    from helpers import open_xlsx

    wb = open_xlsx(path.read_bytes())
    return named_cell(wb, name).offset(row=index).coordinate


# -- 2. status words -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "exp"),
    [
        ("完成", "已完成"),
        ("已完成。", "已完成"),
        ("全部完成", "已完成"),
        ("完成。", "已完成"),
        ("基本完成", "部分完成"),
        ("部分", "部分完成"),
        ("未完成。", "未完成"),
        ("没有完成", "未完成"),
    ],
)
def test_status_words_are_read_as_the_status_with_a_note(tmp_path, typed, exp):
    path = filled(tmp_path, indicators=rows(**{"0": {"status": typed, "reason": "说明"}}))
    got = checked(path)
    assert got.record.indicators[0].value("status") == exp
    assert codes(got, "E404") == []
    cell = named_cell_ref(path, "pe_ind_status", 0)
    assert cell in codes(got, "W204")


def test_an_unmet_status_word_still_needs_its_reason(tmp_path):
    path = filled(tmp_path, indicators=rows(**{"0": {"status": "基本完成"}}))
    assert codes(checked(path), "E405") == [named_cell_ref(path, "pe_ind_reason", 0)]


def test_a_word_that_is_no_status_is_still_an_error(tmp_path):
    path = filled(tmp_path, indicators=rows(**{"0": {"status": "进行中"}}))
    assert codes(checked(path), "E404") == [named_cell_ref(path, "pe_ind_status", 0)]


# -- 3. pre-printed rows -------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["national-2020", "national-2021", "sichuan-2022", "sichuan-2023"])
def test_a_row_with_only_its_categories_is_no_indicator(tmp_path, form):
    printed = {"level1": "效益指标", "level2": "经济效益指标"}
    if form == "sichuan-2023":
        printed["sign"] = None  # else helpers.filled() types one
    clean = checked(filled(subdir(tmp_path, "clean"), form))
    got = checked(filled(tmp_path, form, indicators=[*rows(), printed]))
    assert len(got.record.indicators) == len(INDICATORS)
    assert [f.code for f in got.findings] == [f.code for f in clean.findings]
    assert got.score.total == clean.score.total


def subdir(path: Path, name: str) -> Path:
    (path / name).mkdir()
    return path / name


def test_a_row_with_anything_more_is_an_indicator(tmp_path):
    half = {"level1": "效益指标", "level2": "经济效益指标", "name": "带动就业"}
    got = checked(filled(tmp_path, indicators=[*rows(), half]))
    assert len(got.record.indicators) == len(INDICATORS) + 1
    assert "E401" in {f.code for f in got.findings}


# -- 4. a misfiled 二级 ---------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["national-2020", "sichuan-2022"])
def test_a_misfiled_level2_is_scored_where_it_belongs(tmp_path, form):
    clean = checked(filled(subdir(tmp_path, "clean"), form))
    # the seed's paper form: 社会效益指标 under the merged 完成指标 (产出指标) cell
    path = filled(tmp_path, form, indicators=rows(**{"3": {"level1": "完成指标"}}))
    got = checked(path)
    (e403,) = [f for f in got.findings if f.code == "E403"]
    assert e403.cell == named_cell_ref(path, "pe_ind_level2", 3)
    assert "效益指标" in e403.message.zh
    assert not {"E406", "E503"} & {f.code for f in got.findings}
    assert got.score.subtotals == clean.score.subtotals
    assert got.score.subtotals["效益指标"] == 30
    assert got.score.total == clean.score.total
    assert got.errors == clean.errors + 1


# -- 5. no reason is no reason -------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["无", "0", 0, "/", "—", "-", "见上", "同上", " 无。"])
def test_an_empty_word_is_no_reason(tmp_path, reason):
    unmet = {"status": "未完成", "actual": "9次", "score": 15, "reason": reason}
    low = {"score": 8, "reason": reason}  # 质量: 已完成 but below its weight
    path = filled(tmp_path, indicators=rows(**{"0": unmet, "2": low}))
    got = checked(path)
    assert codes(got, "E405") == [named_cell_ref(path, "pe_ind_reason", 0)]
    assert named_cell_ref(path, "pe_ind_reason", 2) in codes(got, "E508")


def test_a_real_reason_is_one(tmp_path):
    unmet = {"status": "未完成", "actual": "9次", "score": 15, "reason": "两次活动取消"}
    got = checked(filled(tmp_path, indicators=rows(**{"0": unmet})))
    assert codes(got, "E405") == []


# -- 12. plausibility ----------------------------------------------------------------------------
def test_a_budget_cut_to_the_spending(tmp_path):
    funds = {"fund_fiscal_initial": 100, "fund_fiscal_budget": 16, "fund_fiscal_spent": 16}
    path = filled(tmp_path, **funds)
    got = checked(path)
    (w,) = [f for f in got.findings if f.code == "W306"]
    assert w.cell == named_cell_ref(path, "pe_fund_total_budget", 0)
    assert "16.00" in w.message.zh and "100.00" in w.message.zh and "84.0%" in w.message.zh


@pytest.mark.parametrize(
    ("funds", "hit"),
    [
        ({"fund_fiscal_initial": 100, "fund_fiscal_budget": 90, "fund_fiscal_spent": 90}, False),
        ({"fund_fiscal_initial": 100, "fund_fiscal_budget": 70, "fund_fiscal_spent": 60}, False),
        ({"fund_fiscal_initial": 100, "fund_fiscal_budget": 80, "fund_fiscal_spent": 80}, True),
    ],
)
def test_a_budget_cut_only_when_large_and_equal_to_spending(tmp_path, funds, hit):
    assert bool(codes(checked(filled(tmp_path, **funds)), "W306")) is hit


@pytest.mark.parametrize(
    ("funds", "cells", "words"),
    [
        # 元 typed into the 万元 column: 1,000,000 万元 is 100 亿元
        (
            {"fund_fiscal_budget": 1_000_000, "fund_fiscal_spent": 95},
            ["pe_fund_fiscal_budget"],
            "1,000,000.00",
        ),
        # one amount 10,000 × another of the same project
        (
            {
                "fund_fiscal_budget": 100,
                "fund_fiscal_spent": 95,
                "fund_other_budget": 0.005,
                "fund_other_spent": 0.005,
            },
            ["pe_fund_fiscal_budget", "pe_fund_fiscal_spent"],  # 100 and 95 ÷ 0.005
            "20,000",
        ),
        # a zero too many: 全年 exactly 10 × 年初
        (
            {"fund_fiscal_initial": 100, "fund_fiscal_budget": 1000, "fund_fiscal_spent": 950},
            ["pe_fund_fiscal_budget"],
            "10 倍",
        ),
    ],
)
def test_implausible_amounts(tmp_path, funds, cells, words):
    path = filled(tmp_path, **funds)
    got = [f for f in checked(path).findings if f.code == "W307"]
    assert sorted(f.cell for f in got) == sorted(named_cell_ref(path, c, 0) for c in cells)
    assert words in got[0].message.zh


def test_plain_amounts_are_plausible(tmp_path):
    funds = {"fund_fiscal_initial": 100, "fund_fiscal_budget": 114.56, "fund_fiscal_spent": 99.63}
    got = checked(filled(tmp_path, **funds))
    assert not {"W306", "W307", "W415", "W511"} & {f.code for f in got.findings}


def test_full_marks_with_money_unspent(tmp_path):
    path = filled(tmp_path, fund_fiscal_spent=40)
    (w,) = [f for f in checked(path).findings if f.code == "W511"]
    assert w.cell == named_cell_ref(path, "pe_total_score", 0)
    assert "40.00%" in w.message.zh


def test_full_marks_with_an_unmet_indicator(tmp_path):
    unmet = {"status": "部分完成", "reason": "部分报道推迟"}
    got = checked(filled(tmp_path, indicators=rows(**{"0": unmet})))
    (w,) = [f for f in got.findings if f.code == "W511"]
    assert "媒体报道" in w.message.zh


@pytest.mark.parametrize(
    ("row", "hit"),
    [
        ({"target": "100万元", "actual": "95万元"}, True),  # the budget (100) counted again
        ({"target": "1000000元", "actual": "950000元"}, True),  # in 元
        ({"target": "≥12次"}, False),
        ({"name": "预算执行率", "target": "≥90%", "actual": "95%"}, True),
    ],
)
def test_an_indicator_repeating_the_execution_rate(tmp_path, row, hit):
    path = filled(tmp_path, indicators=rows(**{"0": row}))
    got = codes(checked(path), "W415")
    assert got == ([named_cell_ref(path, "pe_ind_target", 0)] if hit else [])


# -- 1 and 4 typed through LibreOffice's API ---------------------------------------------------
def typed_job(tmp: Path, form: str, indicators: list[dict], extra: list[dict]) -> dict:
    spec = load_spec(form)
    template = tmp / f"{form}-template.xlsx"
    template.write_bytes(build_template(spec))
    from helpers import FUNDS, HEADER

    values: dict[str, object] = {f"pe_{k}": v for k, v in {**HEADER, **FUNDS}.items()}
    for key in spec.indicator_keys:
        column = [row.get(key) for row in indicators]
        if any(v is not None for v in column):
            values[f"pe_ind_{key}"] = column
    out = tmp / f"{form}-typed.xlsx"
    steps = [{"op": "type", "values": values}, *extra]
    return {"open": str(template), "steps": steps, "save": str(out)}


def test_typed_in_libreoffice(office, tmp_path):
    """0.96 typed in a percent cell and 社会效益指标 under 产出指标, as LibreOffice saves them."""
    share = rows(**{str(QUALITY): {"actual": 0.96}})
    misfiled = rows(**{"3": {"level1": "产出指标"}})
    seed = [{k: v for k, v in r.items() if k not in ("weight", "score")} for r in misfiled]
    jobs = [
        typed_job(
            subdir(tmp_path, "a"),
            "national-2020",
            share,
            [{"op": "percent", "name": "pe_ind_actual", "row": QUALITY}],
        ),
        typed_job(subdir(tmp_path, "b"), "national-2020", misfiled, []),
        typed_job(subdir(tmp_path, "c"), "sichuan-2022", seed, []),
    ]
    office.run(jobs)
    percent, national, seed_form = (Path(j["save"]) for j in jobs)

    got = checked(percent)
    assert got.record.indicators[QUALITY].value("actual") == "96%"
    assert got.score.indicators[QUALITY].computed == 20
    assert got.score.total == CLEAN_TOTAL
    assert got.errors == 0

    for path in (national, seed_form):
        got = checked(path)
        assert {f.code for f in got.findings if f.severity == "error"} == {"E403"}
        assert got.score.subtotals["效益指标"] == 30
    assert checked(national).score.total == CLEAN_TOTAL
