"""Specs: the built-in forms load, and every kind of mistake names the file and the key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from perfeval_xl import SpecError, builtin_forms, load_spec
from perfeval_xl.forms.spec import parse_spec

NATIONAL = resources.files("perfeval_xl.workbook_templates").joinpath("national-2020.toml")
NATIONAL_TEXT = NATIONAL.read_text(encoding="utf-8")


def test_builtin_forms_are_the_four_profiles():
    assert builtin_forms() == [
        "department-2023",
        "national-2020",
        "national-2021",
        "sichuan-2022",
        "sichuan-2023",
    ]


@pytest.mark.parametrize(
    ("form", "scored", "sources", "extra_columns"),
    [
        ("national-2020", True, ["fiscal", "carryover", "other"], []),
        ("national-2021", True, ["fiscal", "carryover", "other"], []),
        ("sichuan-2023", True, ["fiscal", "special", "unit", "other"], ["sign", "unit"]),
        ("sichuan-2022", False, ["fiscal", "other"], []),
    ],
)
def test_builtin_profiles(form, scored, sources, extra_columns):
    spec = load_spec(form)
    assert spec.id == form
    assert spec.scored is scored
    assert [r.key for r in spec.source_rows] == sources
    for key in ["level1", "level2", "name", "target", "actual", "status", "reason", *extra_columns]:
        assert key in spec.indicator_keys
    assert ("weight" in spec.indicator_keys) is scored
    assert spec.statuses == ("已完成", "部分完成", "未完成")
    assert [(x.label, x.weight) for x in spec.level1] == (
        [("产出指标", 40), ("成本指标", 10), ("效益指标", 30), ("满意度指标", 10)]
        if form == "national-2021"
        else [("产出指标", 50), ("效益指标", 30), ("满意度指标", 10)]
    )
    assert spec.exec_weight == 10 and spec.score_total == 100
    assert spec.level1_aliases["完成指标"] == "产出指标"


def test_load_from_a_file_path(tmp_path: Path):
    path = tmp_path / "my-form.toml"
    path.write_text(NATIONAL_TEXT.replace('id = "national-2020"', 'id = "my-form"'), "utf-8")
    assert load_spec(path).id == "my-form"
    assert load_spec(str(path)).path == str(path)


def test_unknown_form_lists_the_choices():
    with pytest.raises(SpecError) as err:
        load_spec("guangxi-2024")
    exp = (
        "guangxi-2024: unknown form; choose one of "
        "department-2023, national-2020, national-2021, sichuan-2022, sichuan-2023"
    )
    assert err.value.render("en").startswith(exp)
    assert "没有这种表式" in err.value.render("zh")


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "nope.toml")
    assert err.value.path == str(tmp_path / "nope.toml")
    assert "cannot read the spec file" in err.value.render("en")


# (what is wrong, text replaced, replacement, key named in the error, English message fragment)
BAD_SPECS = [
    ("toml syntax", 'title = "项目支出绩效自评表"', "title = ", "", "TOML syntax error"),
    ("typo in a key", 'title = "项目支出绩效自评表"', 'titel = "x"', "form.title", "missing"),
    ("unknown key", "scored = true", "scored = true\ncolour = 1", "form", "unknown key: colour"),
    ("bad id", 'id = "national-2020"', 'id = "National 2020"', "form.id", "lowercase"),
    ("version type", "version = 1", 'version = "1"', "form.version", "must be 整数"),
    ("bool as number", "version = 1", "version = true", "form.version", "must be 整数"),
    ("sheet name", 'sheet = "自评表"', 'sheet = "自评/表"', "form.sheet", "sheet name"),
    ("reserved sheet", 'sheet = "自评表"', 'sheet = "_lists"', "form.sheet", "reserved"),
    ("zero rows", "indicator_rows = 20", "indicator_rows = 0", "form.indicator_rows", "between"),
    (
        "header field missing",
        'name = "dept_code"',
        'name = "dept_no"',
        "header",
        "missing fields: dept_code",
    ),
    (
        "header type",
        'type = "code"\nspan = "half"\nmax_length = 40',
        'type = "number"\nspan = "half"\nmax_length = 40',
        "header[1].type",
        "one of text",
    ),
    ("year type", 'type = "year"', 'type = "text"', "header", 'type "year"'),
    ("bad field name", 'name = "unit_name"', 'name = "Unit Name"', "header[5].name", "lowercase"),
    (
        "total not first",
        '{ key = "total", label = "年度资金总额" },',
        "",
        "funds.rows",
        "first row",
    ),
    (
        "no spent column",
        '{ key = "spent", label = "全年执行数", kind = "amount" },',
        "",
        "funds.columns",
        'missing amount column "spent"',
    ),
    ("fund kind", 'kind = "rate"', 'kind = "ratio"', "funds.columns[4].kind", "one of amount"),
    (
        "two rates",
        '{ key = "score", label = "得分", kind = "exec_score" },',
        '{ key = "score", label = "得分", kind = "exec_score" },\n{ key = "r2", label = "率", kind = "rate" },',
        "funds.columns",
        "exactly one rate",
    ),
    (
        "scored without exec score",
        '{ key = "score", label = "得分", kind = "exec_score" },',
        "",
        "funds.columns",
        "exec_score column required",
    ),
    (
        "indicator status missing",
        '{ key = "status", label = "完成状态", width = 10 },',
        "",
        "indicators.columns",
        "missing columns: status",
    ),
    (
        "indicator key",
        'key = "reason", label',
        'key = "why", label',
        "indicators.columns[8].key",
        "one of",
    ),
    (
        "taxonomy first",
        '{ key = "level1", label = "一级指标", width = 11 },',
        "",
        "indicators.columns",
        "first columns must be level1",
    ),
    (
        "level2 twice",
        '"成本指标"]',
        '"成本指标", "数量指标"]',
        "taxonomy.level1[*].level2",
        "duplicate: 数量指标",
    ),
    (
        "alias target",
        '"效果指标" = "效益指标"',
        '"效果指标" = "效果"',
        "taxonomy.level1_aliases",
        "alias must map",
    ),
    ("weights", "weight = 50", "weight = 40", "scoring.total", "!= total 100"),
    (
        "band order",
        '"部分完成" = [0.6, 0.8]',
        '"部分完成" = [0.8, 0.6]',
        "scoring.qualitative_bands",
        "[low, high]",
    ),
    (
        "band status",
        '"未完成" = [0.0, 0.6]',
        '"未完成" = [0.0, 0.6], "其他" = [0, 1]',
        "scoring.qualitative_bands",
        "unknown status",
    ),
    (
        "reverse rule",
        'reverse_rule = "linear"',
        'reverse_rule = "steep"',
        "scoring.reverse_rule",
        "one of linear",
    ),
    (
        "grades order",
        '{ label = "良", min = 80 }',
        '{ label = "良", min = 95 }',
        "scoring.grades",
        "grades must go down",
    ),
    (
        "negative tolerance",
        "amount_tolerance = 0.01",
        "amount_tolerance = -1",
        "checks.amount_tolerance",
        "must be ≥ 0",
    ),
    (
        "placeholder type",
        'placeholders = ["XX"',
        'placeholders = [1, "XX"',
        "checks.placeholders[0]",
        "non-empty string",
    ),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "key", "message"), BAD_SPECS, ids=[b[0] for b in BAD_SPECS]
)
def test_bad_spec_names_file_and_key(what, old, new, key, message):
    assert old in NATIONAL_TEXT, what
    text = NATIONAL_TEXT.replace(old, new, 1)
    with pytest.raises(SpecError) as err:
        parse_spec(text.encode("utf-8"), "custom.toml")
    got = err.value
    assert got.path == "custom.toml"
    assert got.key == key
    assert message in got.render("en")
    assert got.render("en").startswith(f"custom.toml: {key}: " if key else "custom.toml: ")


def test_spec_that_is_not_utf8():
    with pytest.raises(SpecError) as err:
        parse_spec(NATIONAL_TEXT.encode("gb18030"), "gbk.toml")
    assert err.value.render("zh") == "gbk.toml: 表式文件须为 UTF-8 编码"


def test_too_many_fund_columns_for_the_grid():
    seed = resources.files("perfeval_xl.workbook_templates").joinpath("sichuan-2022.toml")
    text = seed.read_text(encoding="utf-8")
    # 7 indicator columns hold a label area and at most 6 fund columns; give it 7.
    extra = "".join(f'    {{ key = "x{i}", label = "x{i}", kind = "amount" }},\n' for i in range(4))
    text = text.replace(
        '    { key = "budget", label = "预算数", kind = "amount" },\n',
        '    { key = "budget", label = "预算数", kind = "amount" },\n' + extra,
    )
    with pytest.raises(SpecError) as err:
        parse_spec(text.encode(), "narrow.toml")
    assert err.value.key == "funds.columns"
    assert "fewer fund columns than indicator columns" in err.value.render("en")


def test_a_builtin_spec_travels_by_its_id_and_a_spec_file_whole(tmp_path):
    """collect's workers send records back with their spec: a built-in one as its id (the
    receiving process has the same one), a spec read from a file in full."""
    import pickle

    builtin = load_spec("sichuan-2023")
    assert pickle.loads(pickle.dumps(builtin)) is builtin
    assert len(pickle.dumps(builtin)) < 200

    copy = tmp_path / "sichuan-2023.toml"
    copy.write_bytes(builtin_spec_bytes("sichuan-2023"))
    own = load_spec(copy)
    assert own.id == builtin.id and own.path != builtin.path  # same id, not the built-in
    back = pickle.loads(pickle.dumps(own))
    assert back == own and back is not builtin


def builtin_spec_bytes(form: str) -> bytes:
    from importlib import resources

    return resources.files("perfeval_xl.workbook_templates").joinpath(f"{form}.toml").read_bytes()


def test_every_mistake_of_a_spec_is_reported_in_one_run(tmp_path):
    """An office editing a copy sees all its mistakes at once, each with its key and what is
    allowed; a mistake's consequences (the header without the broken field) are not echoed."""
    text = (
        NATIONAL_TEXT.replace('reverse_rule = "linear"', 'reverse_rule = "steep"')
        .replace(
            'name = "year"\nlabel = "年度"\ntype = "year"\nspan = "half"',
            'name = "year"\nlabel = "年度"\ntype = "year"\nspan = "wide"',
        )
        .replace("amount_tolerance = 0.01", "amount_tolerance = -1")
        .replace(
            '{ key = "rate", label = "执行率", kind = "rate" }',
            '{ key = "rate", label = "执行率", kind = "ratio" }',
        )
        + "\n[extra]\nx = 1\n"
    )
    path = tmp_path / "county.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    keys = [e.key for e in err.value.errors]
    assert keys == [
        "header[2].span",
        "funds.columns[4].kind",
        "scoring.reverse_rule",
        "checks.amount_tolerance",
        "",
    ]
    shown = err.value.render("zh").splitlines()
    assert len(shown) == 5 and all(line.startswith(f"{path}: ") for line in shown)
    assert "full / half" in shown[0]
    assert "linear / ratio" in shown[2]
    assert "extra" in shown[4]
    # one mistake stays one error (and a SpecError with its key, as before)
    path.write_text(NATIONAL_TEXT.replace('reverse_rule = "linear"', 'reverse_rule = "x"'), "utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert err.value.key == "scoring.reverse_rule" and not hasattr(err.value, "errors")
