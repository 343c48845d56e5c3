"""A spec language that fits real layouts: extra free-text indicator columns (`kind = "text"`:
指标解释, 改进措施) and free-text blocks in the header area (`lines`, `after`: 项目实施内容及过程概述
under the fund block, 项目负责人 / 财务负责人 under 年度总体目标).

The form is national-2020 with those added, built here from the built-in spec's text; it is
generated, filled (openpyxl, and LibreOffice through its API), read by both readers, checked,
and collected into a summary.

The reader is given the spec as an office's forms folder (`known`, `spec.load_forms`), so it
reads by it as installed, not by the copy the workbook carries.
"""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

import openpyxl
import pytest
from helpers import FUNDS, HEADER, INDICATORS, fill, filled, named_cell, open_xlsx
from soffice import tool_or_skip
from test_fastread import outcome, takes_fast_path

from perfeval_xl import (
    SpecError,
    build_template,
    contract_names,
    issuable_fields,
    load_spec,
    make_layout,
)
from perfeval_xl.findings import ERROR, SELF_CHECKED
from perfeval_xl.forms.spec import FormSet, load_forms, parse_spec
from perfeval_xl.intake.read import read_workbook, read_workbook_bytes
from perfeval_xl.office.collect import collect
from perfeval_xl.office.summary import build_summary
from perfeval_xl.review.checks import check_read, check_workbook
from perfeval_xl.template.selfcheck import for_form, too_long

NATIONAL_TEXT = (
    resources.files("perfeval_xl.workbook_templates")
    .joinpath("national-2020.toml")
    .read_text(encoding="utf-8")
)
FORM_ID = "test-layouts"
REASON_COLUMN = (
    '    { key = "reason", label = "偏差原因分析及改进措施", width = 28, max_length = 500 },\n'
)
#: 偏差原因 and 改进措施 as two columns, and 指标解释 after them (kind = "text": extra columns)
EXTRA_COLUMNS = (
    '    { key = "reason", label = "偏差原因", width = 18, max_length = 500 },\n'
    '    { key = "improve", label = "改进措施", width = 18, max_length = 300, kind = "text" },\n'
    '    { key = "explain", label = "指标解释", width = 16, max_length = 200, kind = "text",'
    ' help = "说明指标的含义和计算方法" },\n'
)
#: header fields placed lower in the form: a text block under the funds, two lines under goals
BLOCKS = """
[[header]]
name = "overview"
label = "项目实施内容及过程概述"
lines = 4
after = "funds"
max_length = 500
required = false
help = "概述项目实施内容和过程"

[[header]]
name = "leader"
label = "项目负责人"
span = "half"
after = "goals"
max_length = 20

[[header]]
name = "finance_leader"
label = "财务负责人"
span = "half"
after = "goals"
max_length = 20

"""


def spec_text(columns: str = EXTRA_COLUMNS, blocks: str = BLOCKS) -> str:
    """national-2020 as `FORM_ID`, its 偏差原因 column replaced by `columns`, and `blocks` added
    to the header fields."""
    text = NATIONAL_TEXT.replace('id = "national-2020"', f'id = "{FORM_ID}"', 1)
    assert REASON_COLUMN in text and "\n[roster.aliases]" in text
    text = text.replace(REASON_COLUMN, columns, 1)
    return text.replace("\n[roster.aliases]", blocks + "[roster.aliases]", 1)


def make_spec(text: str | None = None):
    return parse_spec((text or spec_text()).encode("utf-8"), "test-layouts.toml")


SPEC = make_spec()


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> FormSet:
    """The office's forms folder with this spec in it, as `--forms` gives the reader (which
    knows the built-in forms by themselves)."""
    folder = tmp_path_factory.mktemp("forms")
    (folder / "test-layouts.toml").write_text(spec_text(), encoding="utf-8")
    forms = load_forms(folder)
    assert not forms.problems and forms.find(FORM_ID, SPEC.version) is not None
    return forms


# -- what the unit types ------------------------------------------------------------------------
OVERVIEW = "与主流媒体合作开展宣传报道，全年组织专题报道15次。"
TOO_LONG_OVERVIEW = "项" * 501  # max_length 500
TOO_LONG_IMPROVE = "改" * 301  # max_length 300
EXTRA = [
    {"improve": "提前谋划选题", "explain": "全年在主流媒体发布的报道次数"},
    {"improve": TOO_LONG_IMPROVE},
    {},
    {"explain": "=SUM(1,2)"},  # text, never a formula
    {"improve": "加强回访"},
]
VALUES = {
    **HEADER,
    **FUNDS,
    "overview": OVERVIEW,
    "leader": "张三",
    "finance_leader": "李四",
}


def rows() -> list[dict]:
    return [{**row, **extra} for row, extra in zip(INDICATORS, EXTRA, strict=True)]


def typed(values: dict, indicators: list[dict]) -> openpyxl.Workbook:
    """The template with `values` and `indicators` typed in (openpyxl, `helpers.fill`), texts
    starting with "=" as the texts a unit types (openpyxl takes them for formulas)."""
    wb = open_xlsx(build_template(SPEC))
    fill(wb, values, indicators)
    for i, row in enumerate(indicators):
        for key, value in row.items():
            if isinstance(value, str) and value.startswith("="):
                named_cell(wb, f"pe_ind_{key}").offset(row=i).data_type = "s"
    return wb


def filled_form(tmp_path: Path, **over) -> Path:
    wb = typed({**VALUES, **over}, rows())
    path = tmp_path / "layouts.xlsx"
    wb.save(path)
    return path


# -- the spec -----------------------------------------------------------------------------------
def test_the_spec_declares_extra_columns_and_blocks():
    assert SPEC.id == FORM_ID
    keys = SPEC.indicator_keys
    assert keys[-3:] == ("reason", "improve", "explain")
    extra = [c for c in SPEC.indicator_columns if c.extra]
    assert [(c.key, c.label, c.max_length, c.kind) for c in extra] == [
        ("improve", "改进措施", 300, "text"),
        ("explain", "指标解释", 200, "text"),
    ]
    assert extra[1].help == "说明指标的含义和计算方法"
    assert not any(
        c.extra for c in SPEC.indicator_columns if c.key != "improve" and c.key != "explain"
    )
    overview = SPEC.header_field("overview")
    assert (overview.lines, overview.after, overview.span, overview.required) == (
        4,
        "funds",
        "full",
        False,
    )
    assert SPEC.header_field("leader").after == "goals" and SPEC.header_field("leader").required
    assert SPEC.header_field("project_name").lines == 1
    assert SPEC.header_field("project_name").after == ""


def test_the_header_fields_issuable_are_all_of_them_as_before():
    """Which fields the office may issue is not changed: every header field, as ever."""
    fields = issuable_fields(SPEC)
    assert fields["overview"] == "项目实施内容及过程概述"
    assert fields["leader"] == "项目负责人"
    assert not any(name.startswith("ind_") for name in fields)


SPEC_ERRORS = [
    (
        "unknown key without kind",
        ', kind = "text" },\n    { key = "explain"',
        ' },\n    { key = "explain"',
        "indicators.columns[9].key",
        "unknown column improve: must be one of level1",
    ),
    (
        "typo of a built-in key",
        '{ key = "reason", label = "偏差原因"',
        '{ key = "reasn", label = "偏差原因"',
        "indicators.columns[8].key",
        'or an extra text column with kind = "text"',
    ),
    (
        "kind on a built-in key",
        '{ key = "reason", label = "偏差原因", width = 18, max_length = 500 }',
        '{ key = "reason", label = "偏差原因", width = 18, max_length = 500, kind = "text" }',
        "indicators.columns[8].kind",
        "reason is a built-in column",
    ),
    (
        "an unknown kind",
        'max_length = 300, kind = "text"',
        'max_length = 300, kind = "memo"',
        "indicators.columns[9].kind",
        "must be one of text",
    ),
    (
        "help on a built-in column",
        '{ key = "reason", label = "偏差原因", width = 18, max_length = 500 }',
        '{ key = "reason", label = "偏差原因", width = 18, max_length = 500, help = "x" }',
        "indicators.columns[8]",
        "unknown key: help",
    ),
    (
        "an extra key that is no identifier",
        '{ key = "improve"',
        '{ key = "Improve-2"',
        "indicators.columns[9].key",
        "lowercase letters",
    ),
    (
        "an extra key twice",
        '{ key = "explain"',
        '{ key = "improve"',
        "indicators.columns",
        "duplicate: improve",
    ),
    (
        "lines on a half field",
        'label = "项目负责人"\nspan = "half"',
        'label = "项目负责人"\nspan = "half"\nlines = 2',
        "header[7].lines",
        'lines above 1 need span = "full" and type = "text"',
    ),
    (
        "lines on a code",
        'name = "dept_code"\nlabel = "主管部门代码"\ntype = "code"\nspan = "half"',
        'name = "dept_code"\nlabel = "主管部门代码"\ntype = "code"\nlines = 3',
        "header[4].lines",
        'lines above 1 need span = "full"',
    ),
    ("lines of 0", "lines = 4", "lines = 0", "header[6].lines", "between 1 and 20"),
    ("too many lines", "lines = 4", "lines = 30", "header[6].lines", "between 1 and 20"),
    ("bad after", 'after = "funds"', 'after = "fund"', "header[6].after", "one of funds, goals"),
    ("after the top", 'after = "funds"', 'after = ""', "header[6].after", "one of funds, goals"),
    ("after as a number", 'after = "funds"', "after = 1", "header[6].after", "must be"),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "key", "message"), SPEC_ERRORS, ids=[e[0] for e in SPEC_ERRORS]
)
def test_spec_errors_name_the_key(what, old, new, key, message):
    text = spec_text()
    assert text.count(old) == 1, what
    with pytest.raises(SpecError) as err:
        make_spec(text.replace(old, new))
    assert err.value.key == key
    assert message in err.value.render("en")
    assert err.value.render("en").startswith(f"test-layouts.toml: {key}: ")


# -- layout and template ------------------------------------------------------------------------
def test_layout_places_the_blocks_and_the_extra_columns():
    lay = make_layout(SPEC)
    last_fund = max(lay.fund_rows.values())
    label, value = lay.header["overview"]
    assert label.first_row == value.first_row == last_fund + 1
    assert (value.first_col, value.last_col) == (1, lay.ncols - 1)  # the whole width
    assert lay.goals_header_row == last_fund + 2
    leader, finance = lay.header["leader"][1], lay.header["finance_leader"][1]
    assert leader.first_row == finance.first_row == lay.goal_expected.first_row + 1
    assert leader.last_col < finance.first_col  # two half fields share the row
    assert lay.indicators_header_row == leader.first_row + 1
    # the fields at the top stay where national-2020 has them
    national = make_layout(load_spec("national-2020"))
    for name in ("project_name", "year", "dept_code", "unit_name"):
        assert lay.header[name][1].first_row == national.header[name][1].first_row
    assert lay.funds_header_row == national.funds_header_row
    cols = lay.indicator_cols
    assert cols["improve"] == cols["reason"] + 1 and cols["explain"] == cols["improve"] + 1
    assert lay.ncols == 1 + len(SPEC.indicator_columns)
    names = contract_names(lay)
    assert names["pe_overview"] == value.anchor()
    assert names["pe_ind_improve"] == lay.indicator_column("improve")
    assert names["pe_ind_explain"].first_row == lay.first_indicator_row


def test_the_template_makes_them_unlocked_text_inputs_with_length_rules():
    data = build_template(SPEC)
    wb = open_xlsx(data)
    ws = wb[SPEC.sheet]
    lay = make_layout(SPEC)
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    for key, limit in (("improve", 300), ("explain", 200)):
        area = lay.indicator_column(key)
        rule = rules[area.a1(absolute=False)]
        assert (rule.type, rule.operator, rule.formula1) == (
            "textLength",
            "lessThanOrEqual",
            str(limit),
        )
        for row, col in area.cells():
            cell = ws.cell(row + 1, col + 1)
            assert cell.protection.locked is False
            assert cell.number_format == "@" and cell.value is None
        header = ws.cell(lay.indicators_header_row + 1, area.first_col + 1).value
        assert header == {"improve": "改进措施", "explain": "指标解释"}[key]
    explain = rules[lay.indicator_column("explain").a1(absolute=False)]
    assert explain.prompt.startswith("说明指标的含义和计算方法")
    label, value = lay.header["overview"]
    assert ws.cell(label.first_row + 1, 1).value == "项目实施内容及过程概述"
    anchor = ws.cell(value.first_row + 1, 2)
    assert anchor.protection.locked is False and anchor.alignment.wrap_text
    assert ws.row_dimensions[value.first_row + 1].height == 60  # 4 lines of 15 points
    assert round(ws.row_dimensions[lay.header["leader"][1].first_row + 1].height) == 22
    rule = rules[value.anchor().a1(absolute=False)]
    assert (rule.type, rule.formula1) == ("textLength", "500")
    assert ws.cell(lay.header["leader"][0].first_row + 1, 1).value == "项目负责人"
    # the total row: blank cells right of 分值, 得分 the only formula
    total = lay.total_row + 1
    assert ws.cell(total, lay.indicator_cols["improve"] + 1).value is None
    help_texts = {c for row in wb["填报说明"].iter_rows(values_only=True) for c in row if c}
    assert {"指标解释", "说明指标的含义和计算方法", "项目实施内容及过程概述"} <= help_texts
    assert too_long(for_form(SPEC, lay, "'自评表'")) == []


def test_an_untouched_template_caches_its_count(known):
    """The 自检 a program that never recalculates shows: the errors `check` finds (项目负责人
    and 财务负责人 are required; 项目实施内容 is not)."""
    data = build_template(SPEC)
    errors = [
        f
        for f in check_read(read_workbook_bytes("t.xlsx", data, forms=known)).findings
        if f.severity == ERROR
    ]
    assert {("E101", "leader"), ("E101", "finance_leader")} <= {(f.code, f.field) for f in errors}
    assert not any(f.field == "overview" for f in errors)
    cached = named_cell(open_xlsx(data, data_only=True), "pe_selfcheck").value
    assert cached == len([f for f in errors if f.code in SELF_CHECKED]) == len(errors)


def test_an_issued_block_is_locked_text():
    data = build_template(SPEC, {"overview": OVERVIEW, "leader": "张三"})
    wb = open_xlsx(data)
    cell = named_cell(wb, "pe_overview")
    assert cell.value == OVERVIEW and cell.protection.locked is not False
    assert named_cell(wb, "pe_leader").value == "张三"


# -- filled with openpyxl, read, checked, summarised ------------------------------------------------
def test_read_by_both_readers_alike(tmp_path, known):
    path = filled_form(tmp_path)
    assert takes_fast_path(path)
    thorough = read_workbook(path, forms=known)
    fast = read_workbook(path, fast=True, forms=known)
    assert outcome(fast) == outcome(thorough)
    rec = thorough.record
    assert rec is not None and rec.spec is known.find(FORM_ID, SPEC.version)
    assert rec.value("overview") == OVERVIEW
    assert (rec.value("leader"), rec.value("finance_leader")) == ("张三", "李四")
    assert [ind.value("improve") for ind in rec.indicators] == [
        "提前谋划选题",
        TOO_LONG_IMPROVE,
        None,
        None,
        "加强回访",
    ]
    assert rec.indicators[3].value("explain") == "=SUM(1,2)"  # read as the text it is
    assert rec.indicators[3].field("explain").raw == "=SUM(1,2)"
    project = rec.project()
    assert project["overview"] == OVERVIEW
    assert project["indicators"][0]["explain"] == "全年在主流媒体发布的报道次数"


def test_too_long_texts_are_flagged_at_their_cells(tmp_path, known):
    path = filled_form(tmp_path, overview=TOO_LONG_OVERVIEW)
    result = check_workbook(path, forms=known)
    long = sorted((f.field, f.cell) for f in result.findings if f.code == "E205")
    wb = openpyxl.load_workbook(path)
    improve = named_cell(wb, "pe_ind_improve").offset(row=1).coordinate
    overview = named_cell(wb, "pe_overview").coordinate
    assert long == sorted([("ind_improve", improve), ("overview", overview)])
    messages = {f.field: f.message.render("zh") for f in result.findings if f.code == "E205"}
    assert messages["ind_improve"] == "「改进措施」301 字，超过 300 字"
    assert messages["overview"] == "「项目实施内容及过程概述」501 字，超过 500 字"
    # nothing else is wrong with the form
    assert {f.code for f in result.findings if f.severity == ERROR} == {"E205"}


def test_a_row_with_only_an_extra_column_is_an_indicator(tmp_path, known):
    """Free text in 指标解释 alone makes a row content, as any column but 一级 / 二级 does."""
    wb = typed(VALUES, [*rows(), {"explain": "待补充"}])
    path = tmp_path / "extra-only.xlsx"
    wb.save(path)
    result = check_workbook(path, forms=known)
    rec = result.record
    assert len(rec.indicators) == 6 and rec.indicators[5].value("explain") == "待补充"
    missing = {f.field for f in result.findings if f.code == "E401"}
    assert {"ind_name", "ind_target", "ind_actual", "ind_status"} <= missing


def test_the_summary_shows_extra_columns_and_blank_for_other_forms(tmp_path, known):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wb = typed({**VALUES, "overview": TOO_LONG_OVERVIEW, "project_name": "扩展项目"}, rows())
    wb.save(inbox / "a-layouts.xlsx")
    filled(tmp_path, project_name="国家表项目").rename(inbox / "b-national.xlsx")
    coll = collect(inbox, workers=1, forms=known)
    assert len(coll.projects) == 2
    data = build_summary(coll)
    sheets = open_xlsx(data)
    ws = sheets["绩效指标"]
    table = [list(r) for r in ws.iter_rows(values_only=True)]
    header = table[0]
    assert header[-3:] == ["偏差原因", "改进措施", "指标解释"]
    by_project = {}
    for row in table[1:]:
        by_project.setdefault(row[header.index("项目名称")], []).append(row)
    ours, national = by_project["扩展项目"], by_project["国家表项目"]
    improve, explain = header.index("改进措施"), header.index("指标解释")
    assert [r[improve] for r in ours] == ["提前谋划选题", TOO_LONG_IMPROVE, None, None, "加强回访"]
    assert [r[explain] for r in ours] == [
        "全年在主流媒体发布的报道次数",
        None,
        None,
        "=SUM(1,2)",
        None,
    ]
    assert len(national) == 5
    assert all(r[improve] is None and r[explain] is None for r in national)
    # written as text, never a formula
    cells = [c for c in ws[openpyxl.utils.get_column_letter(explain + 1)] if c.value == "=SUM(1,2)"]
    assert len(cells) == 1 and cells[0].data_type == "s"
    # the header block's finding reaches 问题清单 under its label, as a footer field's does
    findings = [list(r) for r in sheets["问题清单"].iter_rows(values_only=True)]
    head = findings[0]
    column = head.index("栏目")
    shown = {(r[head.index("代码")], r[column]) for r in findings[1:]}
    assert ("E205", "项目实施内容及过程概述") in shown
    assert ("E205", "改进措施") in shown


# -- LibreOffice ----------------------------------------------------------------------------------
def test_libreoffice_round_trip(office, tmp_path, known):
    """LibreOffice types into the template through its API and saves it; both readers read the
    saved file alike, `check` finds the too-long texts at their cells, the 自检 LibreOffice
    computed counts what `check` reports, and the form prints one A4 page wide."""
    template = tmp_path / "template.xlsx"
    template.write_bytes(build_template(SPEC, {"project_name": "扩展项目", "dept_code": "109101"}))
    indicator_rows = [*rows(), {"explain": "只写了解释"}]
    values = {f"pe_{k}": v for k, v in {**VALUES, "overview": TOO_LONG_OVERVIEW}.items()}
    for name in ("pe_project_name", "pe_dept_code"):  # issued: locked
        values.pop(name)
    for key in SPEC.indicator_keys:
        values[f"pe_ind_{key}"] = [row.get(key) for row in indicator_rows]
    saved, pdf = tmp_path / "saved.xlsx", tmp_path / "saved.pdf"
    office.run(
        [
            {
                "open": str(template),
                "steps": [{"op": "type", "values": values}],
                "save": str(saved),
                "pdf": str(pdf),
            }
        ]
    )
    thorough = read_workbook(saved, forms=known)
    fast = read_workbook(saved, fast=True, forms=known)
    assert outcome(fast) == outcome(thorough)
    rec = thorough.record
    assert rec.value("overview") == TOO_LONG_OVERVIEW and rec.value("leader") == "张三"
    assert [ind.value("improve") for ind in rec.indicators][:2] == [
        "提前谋划选题",
        TOO_LONG_IMPROVE,
    ]
    assert rec.indicators[3].value("explain") == "=SUM(1,2)"
    assert rec.indicators[5].value("explain") == "只写了解释"
    result = check_read(thorough)
    wb = openpyxl.load_workbook(saved, data_only=True)
    long = sorted((f.field, f.cell) for f in result.findings if f.code == "E205")
    improve = named_cell(wb, "pe_ind_improve").offset(row=1).coordinate
    assert long == sorted(
        [("ind_improve", improve), ("overview", named_cell(wb, "pe_overview").coordinate)]
    )
    errors = [f for f in result.findings if f.severity == ERROR and f.code in SELF_CHECKED]
    assert named_cell(wb, "pe_selfcheck").value == len(errors)
    cell = named_cell(wb, "pe_ind_explain").offset(row=3)
    assert cell.value == "=SUM(1,2)" and cell.data_type == "s"
    # printed: A4 landscape, every column (the last is 指标解释) on the first page
    info = subprocess.run(
        [tool_or_skip("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    size = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)["Page size"]
    width, height = (float(x) for x in size.split("pts")[0].split(" x "))
    assert (round(width), round(height)) == (842, 595)
    first = subprocess.run(
        [tool_or_skip("pdftotext"), "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first = "".join(first.split())  # labels wrap in their cells, beside the text typed
    for text in ("一级指标", "改进措施", "指标解释", "项目实施内容", "项目负责人", "财务负责人"):
        assert text in first, text
