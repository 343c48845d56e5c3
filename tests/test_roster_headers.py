"""Roster headers as clerks have them (issue 16, point 4): extra columns ignored with one
warning, the budget systems' names for columns (aliases from the spec), errors naming columns
by the form's Chinese name; and an outbox that already holds workbooks (point 9)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import write_csv, write_xlsx

from perfeval_xl import (
    RosterErrors,
    SpecError,
    load_roster,
    load_spec,
    read_roster,
    write_roster_templates,
)
from perfeval_xl.cli import cli
from perfeval_xl.forms.spec import parse_spec

EXTRA = [
    ["序号", "主管部门代码", "实施单位", "项目名称", "备注", "颜色", "当年财政拨款全年预算数"],
    [1, "109101", "宣传部", "项目一", "急", "红", 100],
    [2, "109101", "宣传部", "项目二", None, None, 50],
]
WARNING_ZH = "第 1 行: 以下 3 列不是模板预填的内容，已忽略：序号、备注、颜色"
WARNING_EN = "row 1: ignored 3 columns the template does not pre-fill: 序号, 备注, 颜色"


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_extra_columns_are_ignored_with_one_warning(tmp_path, writer):
    path = writer(tmp_path / f"roster.{'csv' if writer is write_csv else 'xlsx'}", EXTRA)
    roster = load_roster(path, load_spec("national-2020"))
    assert [r.values for r in roster.rows] == [
        {
            "dept_code": "109101",
            "unit_name": "宣传部",
            "project_name": "项目一",
            "fund_fiscal_budget": 100.0,
        },
        {
            "dept_code": "109101",
            "unit_name": "宣传部",
            "project_name": "项目二",
            "fund_fiscal_budget": 50.0,
        },
    ]
    assert [w.render("zh") for w in roster.warnings] == [f"{path}, {WARNING_ZH}"]
    assert [w.render("en") for w in roster.warnings] == [f"{path}, {WARNING_EN}"]
    assert read_roster(path, load_spec("national-2020")) == roster.rows  # as before


def test_hints_for_an_ignored_column(tmp_path):
    path = write_csv(
        tmp_path / "r.csv",
        [
            ["部门编码", "单位名称", "项目名称", "预算年", "项目名", "预算合计"],
            [1, "u", "p", 2022, "x", 5],
        ],
    )
    roster = load_roster(path, load_spec("national-2020"))
    assert "year" not in roster.rows[0].values
    # a typo of a column not given is named; one of a column given (项目名) is not
    assert [w.render("zh") for w in roster.warnings] == [
        f"{path}, 第 1 行: 以下 3 列不是模板预填的内容，已忽略：预算年（是否应为「预算年度」？）、"
        "项目名、预算合计（合计由各资金来源自动求和，请按来源给出金额）"
    ]
    assert (
        roster.warnings[0]
        .render("en")
        .endswith(
            "预算年 (did you mean '预算年度'?), 项目名, 预算合计 (the total is the sum of the "
            "sources: give amounts by source)"
        )
    )


ALIASES = [
    ("部门编码", "dept_code"),
    ("主管部门编码", "dept_code"),
    ("部门代码", "dept_code"),
    ("部门名称", "dept_name"),
    ("主管部门名称", "dept_name"),
    ("单位名称", "unit_name"),
    ("预算单位", "unit_name"),
    ("实施单位名称", "unit_name"),
    ("项目编码", "project_code"),
    ("预算年度", "year"),
]


@pytest.mark.parametrize("form", ["national-2020", "national-2021", "sichuan-2022", "sichuan-2023"])
@pytest.mark.parametrize(("header", "field"), ALIASES)
def test_each_alias_names_its_field(tmp_path, form, header, field):
    base = {"dept_code": "主管部门代码", "unit_name": "实施单位", "project_name": "项目名称"}
    base[field] = header
    value = {"dept_code": "109101", "unit_name": "宣传部", "year": 2022}.get(field, "X-1")
    cells = {**{name: f"v-{name}" for name in base}, field: value}
    path = write_csv(tmp_path / "r.csv", [list(base.values()), [cells[n] for n in base]])
    roster = load_roster(path, load_spec(form))
    assert roster.rows[0].values[field] == value
    assert roster.warnings == []


def test_budget_system_export_headers(tmp_path):
    rows = [
        ["序号", "部门编码", "部门名称", "预算单位", "项目编码", "项目名称", "预算年度"],
        [1, 109101, "区委宣传部", "宣传部", "51041122T000000000001", "媒体合作", 2022],
    ]
    roster = load_roster(write_xlsx(tmp_path / "r.xlsx", rows), load_spec("national-2020"))
    assert roster.rows[0].values == {
        "dept_code": "109101",
        "dept_name": "区委宣传部",
        "unit_name": "宣传部",
        "project_code": "51041122T000000000001",
        "project_name": "媒体合作",
        "year": 2022,
    }
    assert len(roster.warnings) == 1 and "以下 1 列" in roster.warnings[0].render("zh")


def test_two_aliases_of_one_field_are_an_error(tmp_path):
    path = write_csv(
        tmp_path / "r.csv", [["部门编码", "部门代码", "单位名称", "项目名称"], [1, 1, "u", "p"]]
    )
    with pytest.raises(RosterErrors) as err:
        write_roster_templates(path, tmp_path / "out", load_spec("national-2020"))
    assert err.value.render("zh") == (
        f"{path}, 第 1 行, 列「部门代码」: 列重复：与「部门编码」都是「主管部门代码」，只能保留一列"
    )
    assert err.value.render("en") == (
        f"{path}, row 1, column '部门代码': duplicate column: it and '部门编码' are both "
        "'主管部门代码'; keep one"
    )
    assert not (tmp_path / "out").exists()


def test_missing_required_column_is_named_in_chinese_with_its_other_names(tmp_path):
    path = write_csv(tmp_path / "r.csv", [["序号", "实施单位", "项目名称"], [1, "u", "p"]])
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    # the columns ignored come with the error: one of them may be the column missing
    assert err.value.render("zh").splitlines() == [
        f"{path}, 第 1 行, 列「主管部门代码」: 缺少必需的列「主管部门代码」"
        "（列名也可用 dept_code、部门编码、主管部门编码、部门代码）",
        f"{path}, 第 1 行: 以下 1 列不是模板预填的内容，已忽略：序号",
    ]
    assert err.value.render("en").splitlines()[0] == (
        f"{path}, row 1, column '主管部门代码': required column missing: 主管部门代码 "
        "(or named dept_code, 部门编码, 主管部门编码, 部门代码)"
    )


def test_a_typo_of_a_required_column_says_what_it_may_be(tmp_path):
    path = write_csv(tmp_path / "r.csv", [["主管部门代号", "实施单位", "项目名称"], [1, "u", "p"]])
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    assert err.value.render("zh").splitlines()[1] == (
        f"{path}, 第 1 行: 以下 1 列不是模板预填的内容，已忽略："
        "主管部门代号（是否应为「主管部门代码」？）"
    )


def test_cell_errors_name_the_column_by_its_chinese_name_and_as_typed(tmp_path):
    path = write_csv(
        tmp_path / "r.csv",
        [["部门编码", "单位名称", "项目名称", "预算年度"], [1, "u", "p", "明年"]],
    )
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    assert err.value.render("zh") == f"{path}, 第 2 行, 列「年度（预算年度）」: 年度无效：明年"


# -- the spec's [roster.aliases] ---------------------------------------------------------------
NATIONAL = (
    Path(__file__).resolve().parent.parent / "workbook_templates" / "national-2020.toml"
).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            'year = ["预算年度"]',
            'colour = ["颜色"]',
            "roster.aliases.colour",
            "not a roster column",
        ),
        (
            'year = ["预算年度"]',
            'year = ["预算年度", "项目名称"]',
            "roster.aliases.year[1]",
            "'项目名称' already names project_name (项目名称)",
        ),
        (
            'year = ["预算年度"]',
            'year = ["预算年度", "部门 编码"]',
            "roster.aliases.year[1]",
            "'部门 编码' already names dept_code (主管部门代码)",
        ),
        (
            'year = ["预算年度"]',
            'year = ["预算年度", "年度"]',
            "roster.aliases.year[1]",
            "duplicate",
        ),
        ('year = ["预算年度"]', 'year = ["（）"]', "roster.aliases.year[0]", "letter or digit"),
        ('year = ["预算年度"]', 'year = "预算年度"', "roster.aliases.year", "must be 数组"),
        ("[roster.aliases]", "[roster.alias]", "roster", "unknown key: alias"),
    ],
)
def test_spec_checks_the_aliases(old, new, key, message):
    assert old in NATIONAL
    with pytest.raises(SpecError) as err:
        parse_spec(NATIONAL.replace(old, new, 1).encode(), "custom.toml")
    assert err.value.key == key
    assert message in err.value.render("en")


def test_a_spec_without_aliases_still_loads():
    start = NATIONAL.index("[roster.aliases]")
    end = NATIONAL.index("[funds]")
    spec = parse_spec((NATIONAL[:start] + NATIONAL[end:]).encode(), "custom.toml")
    assert spec.roster_aliases == {}


def test_forms_shows_the_aliases():
    result = CliRunner().invoke(cli, ["forms", "national-2020"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    start = lines.index("名册可用的列（英文名、中文名或别名均可；其他列忽略）：")
    assert lines[start + 1 : start + 8] == [
        "  project_name                项目名称",
        "  project_code                项目代码  别名：项目编码",
        "  year                        年度  别名：预算年度",
        "  dept_name                   主管部门  别名：部门名称、主管部门名称",
        "  dept_code                   主管部门代码  别名：部门编码、主管部门编码、部门代码",
        "  unit_name                   实施单位  别名：单位名称、预算单位、实施单位名称",
        "  goal_expected               预期目标",
    ]
    result = CliRunner().invoke(cli, ["--lang", "en", "forms", "national-2020"])
    assert (
        "  dept_code                   主管部门代码  aliases: 部门编码, 主管部门编码, 部门代码\n"
        in (result.output)
    )


# -- template --roster into an outbox that holds workbooks (point 9) -----------------------------
def _run(*args: str):
    return CliRunner().invoke(cli, list(args), env={"PERFEVAL_XL_LANG": "zh"})


def _outbox(tmp_path: Path) -> tuple[Path, Path]:
    """An outbox from an earlier roster (three templates), in which a clerk keeps a note, a
    workbook of her own and a unit's filled copy of one of the templates."""
    out = tmp_path / "outbox"
    old = write_csv(
        tmp_path / "old.csv",
        [["主管部门代码", "实施单位", "项目名称"], *[["1", "宣传部", p] for p in "甲乙丙"]],
    )
    assert _run("template", "--roster", str(old), "-o", str(out)).exit_code == 0
    (out / "说明.txt").write_text("note", encoding="utf-8")
    write_xlsx(out / "clerk.xlsx", [["mine"]])
    wb = openpyxl.load_workbook(out / "1_宣传部_丙.xlsx")  # what Excel does on saving, roughly
    wb.save(out / "1_宣传部_丙 - 已填.xlsx")
    new = write_csv(
        tmp_path / "new.csv",
        [
            ["序号", "部门编码", "预算单位", "项目名称"],
            [1, "1", "宣传部", "甲"],
            [2, "1", "宣传部", "丁"],
        ],
    )
    return out, new


def test_template_tells_what_the_outbox_holds_and_removes_nothing(tmp_path):
    out, new = _outbox(tmp_path)
    before = sorted(p.name for p in out.iterdir())
    result = _run("template", "--roster", str(new), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"警告: {new}, 第 1 行: 以下 1 列不是模板预填的内容，已忽略：序号",
        f"{out} 中已有 1 个同名文件，将被替换",
        f"{out} 中另有 4 个 .xlsx 文件不是本名册生成的，其中 2 个是本工具生成的未填写模板；"
        "加 --clean 可删除这些模板",
    ]
    assert result.stdout.splitlines() == [
        str(out / "1_宣传部_甲.xlsx"),
        str(out / "1_宣传部_丁.xlsx"),
        f"已生成 2 个模板到 {out}（national-2020）",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted([*before, "1_宣传部_丁.xlsx"])

    result = _run("--lang", "en", "template", "--roster", str(new), "-o", str(out))
    assert result.stderr.splitlines() == [
        f"Warning: {new}, row 1: ignored 1 column the template does not pre-fill: 序号",
        f"2 files in {out} will be replaced",
        f"4 other .xlsx files in {out} are not from this roster, 2 of them unfilled templates "
        "made by this tool; --clean removes them",
    ]


def test_clean_removes_only_unfilled_templates_of_ours(tmp_path):
    out, new = _outbox(tmp_path)
    result = _run("template", "--roster", str(new), "-o", str(out), "--clean")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[2] == (
        f"{out} 中另有 4 个 .xlsx 文件不是本名册生成的，其中 2 个是本工具生成的未填写模板，"
        "写入新模板后将删除"
    )
    assert result.stdout.splitlines()[2:] == [
        f"已生成 2 个模板到 {out}（national-2020）",
        "已删除 2 个旧模板：1_宣传部_丙.xlsx、1_宣传部_乙.xlsx",
        "保留 2 个文件（不是本工具生成的未填写模板，不会删除）：1_宣传部_丙 - 已填.xlsx、clerk.xlsx",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "1_宣传部_甲.xlsx",
            "1_宣传部_丁.xlsx",
            "1_宣传部_丙 - 已填.xlsx",
            "clerk.xlsx",
            "说明.txt",
        ]
    )
    # nothing stale left: the next run says nothing about other files, and --clean removes none
    result = _run("template", "--roster", str(new), "-o", str(out), "--clean")
    assert "本工具生成的未填写模板，写入" not in result.stderr
    assert "已删除" not in result.stdout


def test_clean_without_roster_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["--lang", "en", "template", "--clean", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "--clean needs --roster" in result.output


def test_a_bad_roster_leaves_the_outbox_alone_even_with_clean(tmp_path):
    out, _ = _outbox(tmp_path)
    before = sorted(p.name for p in out.iterdir())
    bad = write_csv(tmp_path / "bad.csv", [["部门编码", "项目名称"], ["1", "甲"]])
    result = _run("template", "--roster", str(bad), "-o", str(out), "--clean")
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == before


def test_library_reports_the_outbox_before_building(tmp_path):
    out, new = _outbox(tmp_path)
    seen = []
    paths = write_roster_templates(
        new,
        out,
        load_spec("national-2020"),
        on_plan=seen.append,
        on_total=lambda n: seen.append(n),
    )
    plan = seen[0]
    assert seen[1] == 2
    assert plan.paths == paths
    assert [p.name for p in plan.replaced] == ["1_宣传部_甲.xlsx"]
    assert sorted(p.name for p in plan.old_templates) == ["1_宣传部_丙.xlsx", "1_宣传部_乙.xlsx"]
    assert sorted(p.name for p in plan.others) == ["1_宣传部_丙 - 已填.xlsx", "clerk.xlsx"]
    assert plan.removed == [] and (out / "1_宣传部_乙.xlsx").exists()


# -- collect --roster ---------------------------------------------------------------------------
def test_collect_with_extra_roster_columns(tmp_path):
    from perfeval_xl.office.collect import collect

    roster = write_csv(tmp_path / "roster.csv", EXTRA)
    inbox = tmp_path / "inbox"
    write_roster_templates(roster, inbox, load_spec("national-2020"))
    warnings = []
    coll = collect(inbox, roster=roster, workers=1, on_roster_warning=warnings.append)
    assert [w.render("zh") for w in warnings] == [f"{roster}, {WARNING_ZH}"]
    assert [r.received for r in coll.roster] == [True, True]

    result = _run(
        "collect", str(inbox), "-o", str(tmp_path / "s.xlsx"), "--roster", str(roster), "-q"
    )
    assert result.stderr.splitlines()[0] == f"警告: {roster}, {WARNING_ZH}"
    assert (tmp_path / "s.xlsx").exists()


def test_a_header_that_names_two_fields_is_an_error(tmp_path):
    # a spec of one's own whose 预期目标 is labelled like the project's name
    text = NATIONAL.replace('expected_label = "预期目标"', 'expected_label = "项目名称"', 1)
    spec = parse_spec(text.encode(), "custom.toml")
    path = write_csv(tmp_path / "r.csv", [["部门编码", "单位名称", "项目名称"], [1, "u", "p"]])
    with pytest.raises(RosterErrors) as err:
        read_roster(path, spec)
    assert err.value.render("zh").splitlines()[0] == (
        f"{path}, 第 1 行, 列「项目名称」: 列名不明确：可指 项目名称（project_name）、"
        "项目名称（goal_expected）；请改用其中一个的列名"
    )
