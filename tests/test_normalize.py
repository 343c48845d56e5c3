"""Cell values as people type and paste them: what is read, what is reported as repaired, what
is refused. One case per line, so a new pasted form found in a real workbook is one more line."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from perfeval_xl.errors import Text
from perfeval_xl.forms.normalize import (
    DEFAULT_PLACEHOLDERS,
    Parsed,
    Target,
    clean_text,
    parse_amount,
    parse_number,
    parse_target,
    parse_year,
)

NAN = float("nan")
INF = float("inf")

# (raw, value, repaired, error)
AMOUNTS = [
    (100, 100.0, False, False),
    (114.56, 114.56, False, False),
    (0, 0.0, False, False),
    (-5, -5.0, False, False),
    (Decimal("99.63"), 99.63, False, False),
    ("100", 100.0, True, False),
    (" 12.5 ", 12.5, True, False),
    ("０", 0.0, True, False),
    ("１００", 100.0, True, False),
    ("１００万元", 100.0, True, False),
    ("１，２３４．５", 1234.5, True, False),
    ("1,234,567.89", 1234567.89, True, False),
    ("1，234", 1234.0, True, False),
    ("1 234.5", 1234.5, True, False),
    ("\u3000100\u3000", 100.0, True, False),
    ("100\xa0", 100.0, True, False),
    ("\t100\r\n", 100.0, True, False),
    ("100\u200b", 100.0, True, False),
    ("100万元", 100.0, True, False),
    ("100 万元", 100.0, True, False),
    ("5万", 5.0, True, False),
    ("12000元", 1.2, True, False),
    ("1,145,600元", 114.56, True, False),
    ("¥100", 100.0, True, False),
    ("￥1,000.5", 1000.5, True, False),
    ("RMB 12", 12.0, True, False),
    ("rmb12", 12.0, True, False),
    ("+100", 100.0, True, False),
    ("-5", -5.0, True, False),
    ("−3", -3.0, True, False),
    ("¥-5", -5.0, True, False),
    ("1e3", 1000.0, True, False),
    ("1.5E-2", 0.015, True, False),
    (".5", 0.5, True, False),
    ("100.", 100.0, True, False),
    (None, None, False, False),
    ("", None, False, False),
    ("   ", None, False, False),
    ("\u3000\xa0", None, False, False),
    ("1,23", None, False, True),
    ("12,5", None, False, True),
    ("1.234.5", None, False, True),
    ("90%", None, False, True),
    ("９０％", None, False, True),
    ("一百", None, False, True),
    ("一百万元", None, False, True),
    ("1.2亿元", None, False, True),
    ("100美元", None, False, True),
    ("约100", None, False, True),
    ("100-200", None, False, True),
    ("+-5", None, False, True),
    ("nan", None, False, True),
    ("inf", None, False, True),
    ("#DIV/0!", None, False, True),
    ("#N/A", None, False, True),
    (True, None, False, True),
    (False, None, False, True),
    (NAN, None, False, True),
    (INF, None, False, True),
    (-INF, None, False, True),
    (10**400, None, False, True),
    (datetime(2022, 12, 31), None, False, True),
    (date(2022, 1, 1), None, False, True),
    (time(8, 30), None, False, True),
    (timedelta(days=1), None, False, True),
    ([100], None, False, True),
]


def check(got: Parsed, value: float | None, repaired: bool, error: bool) -> None:
    if value is None:
        assert got.value is None
    else:
        assert got.value == pytest.approx(value, rel=1e-12)
    assert (got.repair is not None) is repaired
    assert (got.error is not None) is error
    assert got.blank is (value is None and not error)


@pytest.mark.parametrize(("raw", "value", "repaired", "error"), AMOUNTS)
def test_parse_amount(raw, value, repaired, error):
    check(parse_amount(raw), value, repaired, error)


@pytest.mark.parametrize(
    ("raw", "exp"),
    [
        ("１００万元", Text('"１００万元" 按 100 读取', '"１００万元" read as 100')),
        ("114.56万元", Text('"114.56万元" 按 114.56 读取', '"114.56万元" read as 114.56')),
        (
            "1,234,567.89",
            Text('"1,234,567.89" 按 1234567.89 读取', '"1,234,567.89" read as 1234567.89'),
        ),
        (
            "100",
            Text(
                '"100" 是文本格式的数字，按 100 读取',
                '"100" is a number stored as text, read as 100',
            ),
        ),
        (
            "12000元",
            Text(
                '"12000元" 按 1.2 读取（元换算为万元）',
                '"12000元" read as 1.2 (yuan converted to 万元)',
            ),
        ),
    ],
)
def test_amount_repair_message(raw, exp):
    got = parse_amount(raw).repair
    assert got == exp


@pytest.mark.parametrize(
    ("raw", "exp"),
    [
        ("一百", Text('"一百" 不是数字', '"一百" is not a number')),
        ("90%", Text('"90%" 是百分比，应填金额', '"90%" is a percentage; an amount was expected')),
        (
            "1,23",
            Text(
                '"1,23" 的千位分隔符位置不对（小数点请用 "."）',
                '"1,23" has a thousands separator in the wrong place (use "." for decimals)',
            ),
        ),
        (
            datetime(2022, 12, 31),
            Text("2022-12-31 是日期，不是金额", "2022-12-31 is a date, not an amount"),
        ),
        (True, Text("TRUE 是逻辑值，不是金额", "TRUE is a logical value, not an amount")),
        (NAN, Text("nan 不是有限的数字", "nan is not a finite number")),
        (
            "#DIV/0!",
            Text(
                '"#DIV/0!" 是 Excel 错误值（公式出错）',
                '"#DIV/0!" is an Excel error value (a formula failed)',
            ),
        ),
        ("x" * 60, Text('"' + "x" * 39 + '…" 不是数字', '"' + "x" * 39 + '…" is not a number')),
    ],
)
def test_amount_error_message(raw, exp):
    got = parse_amount(raw).error
    assert got == exp


@pytest.mark.parametrize(
    ("raw", "value", "repaired", "error"),
    [
        (10, 10.0, False, False),
        (2.5, 2.5, False, False),
        (-1, -1.0, False, False),
        ("10", 10.0, True, False),
        ("１０", 10.0, True, False),
        ("90分", 90.0, True, False),
        ("90 分", 90.0, True, False),
        ("8.5\u3000", 8.5, True, False),
        ("1,000", 1000.0, True, False),
        ("", None, False, False),
        (None, None, False, False),
        ("90%", None, False, True),
        ("100万元", None, False, True),
        ("12000元", None, False, True),
        ("¥10", None, False, True),
        ("十分", None, False, True),
        ("满分", None, False, True),
        (True, None, False, True),
        (NAN, None, False, True),
        (date(2022, 1, 1), None, False, True),
    ],
)
def test_parse_number(raw, value, repaired, error):
    check(parse_number(raw), value, repaired, error)


def test_number_messages():
    assert parse_number("90分").repair == Text('"90分" 按 90 读取', '"90分" read as 90')
    assert parse_number("90%").error == Text(
        '"90%" 是百分比，应填数字', '"90%" is a percentage; a number was expected'
    )


@pytest.mark.parametrize(
    ("raw", "value", "repaired", "error"),
    [
        (2022, 2022.0, False, False),
        (2022.0, 2022.0, False, False),
        (2000, 2000.0, False, False),
        (2100, 2100.0, False, False),
        ("2022", 2022.0, True, False),
        (" 2022 ", 2022.0, True, False),
        ("２０２２", 2022.0, True, False),
        ("2022年", 2022.0, True, False),
        ("2022年度", 2022.0, True, False),
        ("2022 年度", 2022.0, True, False),
        ("", None, False, False),
        (None, None, False, False),
        (2022.5, None, False, True),
        (1999, None, False, True),
        (2101, None, False, True),
        ("1999年", None, False, True),
        ("22", None, False, True),
        ("2022.0", None, False, True),
        ("二〇二二", None, False, True),
        ("2022-2023", None, False, True),
        (date(2022, 1, 1), None, False, True),
        (True, None, False, True),
        (INF, None, False, True),
    ],
)
def test_parse_year(raw, value, repaired, error):
    check(parse_year(raw), value, repaired, error)


def test_year_messages():
    assert parse_year("2022年度").repair == Text(
        '"2022年度" 按 2022 读取', '"2022年度" read as 2022'
    )
    assert parse_year("2022").repair == Text(
        '"2022" 是文本格式的数字，按 2022 读取', '"2022" is a number stored as text, read as 2022'
    )
    assert parse_year(1999).error == Text(
        "1999 不在 2000–2100 之间", "1999 is not between 2000 and 2100"
    )
    assert parse_year(2022.5).error == Text("2022.5 不是整数年度", "2022.5 is not a whole year")


NOT_QUANTIFIED = (None, None, "")
SEED_SENTENCE = (
    "在新华社提供推广服务不少于12次，涉及仁和文化、旅游、产业等原创策划融媒体推广产品不少于3条，"
    "提供国际传播推广不少于1次。"
)


# (raw, (sign, number, unit))
@pytest.mark.parametrize(
    ("raw", "exp"),
    [
        ("≥90%", ("≥", 90.0, "%")),
        ("满意度≥90%", ("≥", 90.0, "%")),
        ("12次", (None, 12.0, "次")),
        ("不少于12次", ("≥", 12.0, "次")),
        ("100万元", (None, 100.0, "万元")),
        ("114.56万元", (None, 114.56, "万元")),
        ("≤100万元", ("≤", 100.0, "万元")),
        ("95%以上", ("≥", 95.0, "%")),
        ("15条及以上", ("≥", 15.0, "条")),
        ("控制在100万元以内", ("≤", 100.0, "万元")),
        ("控制在100万元", ("≤", 100.0, "万元")),
        ("＞＝８０％", ("≥", 80.0, "%")),
        ("≧90％", ("≥", 90.0, "%")),
        (">=90%", ("≥", 90.0, "%")),
        ("1,000人次", (None, 1000.0, "人次")),
        ("超过 1，000 人次", (">", 1000.0, "人次")),
        ("公众满意度 ≥ 90 %", ("≥", 90.0, "%")),
        ("满意度不低于90%", ("≥", 90.0, "%")),
        ("完成率大于等于95%", ("≥", 95.0, "%")),
        ("完成率达到100%", ("≥", 100.0, "%")),
        ("至少3个", ("≥", 3.0, "个")),
        ("高于85%", (">", 85.0, "%")),
        ("大于85%", (">", 85.0, "%")),
        ("不超过5天", ("≤", 5.0, "天")),
        ("<=5天", ("≤", 5.0, "天")),
        ("小于等于5天", ("≤", 5.0, "天")),
        ("不大于5天", ("≤", 5.0, "天")),
        ("3天以内", ("≤", 3.0, "天")),
        ("5%以下", ("≤", 5.0, "%")),
        ("低于5%", ("<", 5.0, "%")),
        ("<5%", ("<", 5.0, "%")),
        ("=100%", ("=", 100.0, "%")),
        ("等于100%", ("=", 100.0, "%")),
        ("单位成本≤200元/人", ("≤", 200.0, "元/人")),
        ("≤5个工作日", ("≤", 5.0, "个工作日")),
        ("使用年限≥3年", ("≥", 3.0, "年")),
        ("1万字以上", ("≥", 1.0, "万字")),
        ("≥90%。", ("≥", 90.0, "%")),
        ("90", (None, 90.0, "")),
        (12, (None, 12.0, "")),
        (0.9, (None, 0.9, "")),
        ("按合同按时按量发布有效信息", NOT_QUANTIFIED),
        ("2022年1-12月适时发布", NOT_QUANTIFIED),
        ("2022年1月1日—2022年12月31日", NOT_QUANTIFIED),
        ("2022年底前完成", NOT_QUANTIFIED),
        (SEED_SENTENCE, NOT_QUANTIFIED),
        ("不少于12次，涉及全区", NOT_QUANTIFIED),
        ("不低于90%以下", NOT_QUANTIFIED),
        ("12,3次", NOT_QUANTIFIED),
        ("≥", NOT_QUANTIFIED),
        ("已完成", NOT_QUANTIFIED),
        ("XX%", NOT_QUANTIFIED),
    ],
)
def test_parse_target(raw, exp):
    got = parse_target(raw)
    assert got is not None
    assert (got.sign, got.number, got.unit) == exp
    assert got.percent is (exp[2] == "%")
    assert got.quantitative is (exp[1] is not None)
    assert not got.qualitative
    assert not got.placeholder


def test_target_text_is_nfkc_with_spaces_collapsed():
    got = parse_target(" ＞＝８０％ \u3000以上\n")
    exp = Target(">=80% 以上", "≥", 80.0, "%", True, False, False)
    assert got == exp


@pytest.mark.parametrize("raw", ["定性", "定性：良好", "定性指标", " 定性 "])
def test_qualitative_target(raw):
    got = parse_target(raw)
    assert got is not None
    assert (got.qualitative, got.placeholder, got.number, got.quantitative) == (
        True,
        False,
        None,
        False,
    )


@pytest.mark.parametrize(
    "raw",
    [*DEFAULT_PLACEHOLDERS, "XXX", "Ｘ", "X x", "***", "＊", "———", "--", "／", "－", " — "],
)
def test_placeholder_target(raw):
    got = parse_target(raw)
    assert got is not None
    assert (got.placeholder, got.number, got.quantitative) == (True, None, False)


def test_placeholders_are_configurable():
    exp = (True, False)
    got = (
        parse_target("待定", placeholders=("待定",)).placeholder,
        parse_target("无", placeholders=("待定",)).placeholder,
    )
    assert got == exp


@pytest.mark.parametrize("raw", [None, "", "  ", "\u3000\n"])
def test_blank_target(raw):
    assert parse_target(raw) is None


@pytest.mark.parametrize(
    ("raw", "exp"),
    [
        (None, None),
        ("", None),
        (" \u3000\xa0\t\r\n", None),
        ("攀枝花市区委宣传部", "攀枝花市区委宣传部"),
        ("  攀枝花市\u3000区委\xa0宣传部 ", "攀枝花市 区委 宣传部"),
        ("第一行\r\n第二行", "第一行 第二行"),
        ("社会效益  指标", "社会效益 指标"),
        ("１００万元", "１００万元"),
        ("项目\u200b名称", "项目名称"),
        (109101.0, "109101"),
        (109101, "109101"),
        (114.56, "114.56"),
        (True, "TRUE"),
        (False, "FALSE"),
        (date(2022, 1, 1), "2022-01-01"),
        (datetime(2022, 1, 1), "2022-01-01"),
        (datetime(2022, 1, 1, 8, 30), "2022-01-01 08:30:00"),
    ],
)
def test_clean_text(raw, exp):
    got = clean_text(raw)
    assert got == exp
