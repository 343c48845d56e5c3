"""The unit's contact in the roster (联系人, 联系电话 and their other names): kept per row as text
for the reminder list (催报), never issued into a template nor among the ignored columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import named_cell, open_xlsx, texts_of, write_csv, write_xlsx

from perfeval_xl import load_roster, load_spec, read_roster, write_roster_templates
from perfeval_xl.forms.spec import parse_spec
from perfeval_xl.office.roster import CONTACT_COLUMNS, RosterRow

BASE = ["主管部门代码", "实施单位", "项目名称", "当年财政拨款全年预算数"]
PROJECT = ["109101", "宣传部", "项目一", 100]


def test_existing_callers_build_rows_without_a_contact():
    row = RosterRow(2, {"dept_code": "109101"})
    assert row.contact == {}
    assert RosterRow(3, {}).contact is not row.contact  # not one dict shared by all rows


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_contact_columns_in_utf8_and_gbk(tmp_path, encoding):
    rows = [
        ["序号", *BASE, "联系人", "联系电话"],
        [1, *PROJECT, " 张三 ", " 028-8888 6666 "],
        [2, "109101", "宣传部", "项目二", 50, "李四", "13800000000"],
    ]
    path = write_csv(tmp_path / "r.csv", rows, encoding)
    roster = load_roster(path, load_spec("national-2020"))
    assert [r.contact for r in roster.rows] == [
        {"contact_name": "张三", "contact_phone": "028-8888 6666"},
        {"contact_name": "李四", "contact_phone": "13800000000"},
    ]
    assert roster.rows[0].values == {
        "dept_code": "109101",
        "unit_name": "宣传部",
        "project_name": "项目一",
        "fund_fiscal_budget": 100.0,
    }
    # only 序号 is ignored: the contact columns are used
    assert [w.render("en") for w in roster.warnings] == [
        f"{path}, row 1: ignored 1 column the template does not pre-fill: 序号"
    ]


def test_xlsx_phone_typed_as_a_number(tmp_path):
    rows = [
        [*BASE, "联系人", "联系电话"],
        [*PROJECT, "张三", 13800000000],
        ["109101", "宣传部", "项目二", 50, "李四", 13800000000.0],
        ["109101", "宣传部", "项目三", 50, "王五", 88886666],
    ]
    roster = load_roster(write_xlsx(tmp_path / "r.xlsx", rows), load_spec("national-2020"))
    assert [r.contact["contact_phone"] for r in roster.rows] == [
        "13800000000",
        "13800000000",
        "88886666",
    ]
    assert roster.warnings == []


@pytest.mark.parametrize(
    ("name_header", "phone_header"),
    [
        ("contact_name", "contact_phone"),
        ("联系人姓名", "电话"),
        ("填报人", "手机"),
        ("经办人", "手机号"),
        ("PE_Contact_Name", "联系方式"),
        ("联系人：", "联系 电话"),
    ],
)
def test_other_names_for_the_contact_columns(tmp_path, name_header, phone_header):
    rows = [[*BASE, name_header, phone_header], [*PROJECT, "张三", "13800000000"]]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows), load_spec("national-2020"))
    assert roster.rows[0].contact == {"contact_name": "张三", "contact_phone": "13800000000"}
    assert roster.warnings == []


def test_every_form_reads_the_contact_columns(tmp_path):
    for form in ["national-2020", "national-2021", "sichuan-2022", "sichuan-2023"]:
        rows = [["主管部门代码", "实施单位", "项目名称", "电话", "经办人"], ["1", "u", "p", 5, "x"]]
        roster = load_roster(write_csv(tmp_path / "r.csv", rows), load_spec(form))
        assert roster.rows[0].contact == {"contact_name": "x", "contact_phone": "5"}, form
    rows = [["主管部门代码", "主管部门", "联系人", "手机"], ["1", "部", "x", "5"]]
    roster = load_roster(write_csv(tmp_path / "d.csv", rows), load_spec("department-2023"))
    assert roster.rows[0].contact == {"contact_name": "x", "contact_phone": "5"}


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_blank_contact_gives_no_key_and_no_error(tmp_path, writer):
    rows = [
        [*BASE, "联系人", "联系电话"],
        [*PROJECT, None, "   "],
        ["109101", "宣传部", "项目二", 50, "李四", None],
        ["109101", "宣传部", "项目三", 50],  # a short row (CSV): no cells for the contact
    ]
    path = writer(tmp_path / f"r.{'csv' if writer is write_csv else 'xlsx'}", rows)
    assert [r.contact for r in read_roster(path, load_spec("national-2020"))] == [
        {},
        {"contact_name": "李四"},
        {},
    ]


def test_odd_contact_cells_are_text_not_errors(tmp_path):
    # a control character (refused in the values issued) is dropped; a float stays a number
    rows = [[*BASE, "联系人", "联系电话"], [*PROJECT, "张\x01三\t先生", "1.5"]]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows), load_spec("national-2020"))
    assert roster.rows[0].contact == {"contact_name": "张三 先生", "contact_phone": "1.5"}
    rows = [[*BASE, "联系电话"], [*PROJECT, 1.5]]
    roster = load_roster(write_xlsx(tmp_path / "r.xlsx", rows), load_spec("national-2020"))
    assert roster.rows[0].contact == {"contact_phone": "1.5"}


def test_two_columns_of_one_contact_are_both_kept(tmp_path):
    # an office phone and a mobile side by side: both are worth a call when reminding
    rows = [
        [*BASE, "联系电话", "手机", "联系人", "填报人"],
        [*PROJECT, "0812-1234567", 13800000000, "张三", "李四"],
        [*PROJECT[:2], "项目二", *PROJECT[3:], "", 13900000000, None, "王五"],
    ]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows), load_spec("national-2020"))
    assert roster.rows[0].contact == {
        "contact_phone": "0812-1234567 / 13800000000",
        "contact_name": "张三 / 李四",
    }
    assert roster.rows[1].contact == {"contact_phone": "13900000000", "contact_name": "王五"}
    assert roster.warnings == []


def test_a_typo_of_a_contact_header_is_hinted(tmp_path):
    rows = [[*BASE, "联系电话号"], [*PROJECT, "13800000000"]]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows), load_spec("national-2020"))
    assert roster.rows[0].contact == {}
    assert roster.warnings[0].render("zh").endswith("已忽略：联系电话号（是否应为「联系电话」？）")


def test_values_never_hold_contact_keys_and_templates_are_unaffected(tmp_path):
    spec = load_spec("national-2020")
    plain = write_csv(tmp_path / "plain.csv", [BASE, PROJECT])
    with_contact = write_xlsx(
        tmp_path / "contact.xlsx", [[*BASE, "联系人", "联系电话"], [*PROJECT, "张三", 13800000000]]
    )
    rows = read_roster(with_contact, spec)
    assert rows[0].values == read_roster(plain, spec)[0].values
    contact_keys = set(CONTACT_COLUMNS) | {h for hs in CONTACT_COLUMNS.values() for h in hs}
    assert not contact_keys & set(rows[0].values)

    [got] = write_roster_templates(with_contact, tmp_path / "out", spec)
    [exp] = write_roster_templates(plain, tmp_path / "plain-out", spec)
    assert got.name == exp.name == "109101_宣传部_项目一.xlsx"
    assert texts_of(got) == texts_of(exp)
    assert not {"张三", "13800000000"} & texts_of(got)
    wb = open_xlsx(got.read_bytes())
    assert named_cell(wb, "pe_project_name").value == "项目一"
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 100


def test_a_spec_field_named_like_a_contact_keeps_its_column(tmp_path):
    # a form whose own field is called 电话 (here an alias of 实施单位): the field wins, no
    # ambiguity, and the other contact names still work
    national = (
        Path(__file__).resolve().parent.parent / "workbook_templates" / "national-2020.toml"
    ).read_text(encoding="utf-8")
    old = 'unit_name = ["单位名称", "预算单位", "实施单位名称"]'
    assert old in national
    spec = parse_spec(national.replace(old, 'unit_name = ["电话"]', 1).encode(), "custom.toml")
    rows = [["主管部门代码", "电话", "项目名称", "手机"], ["1", "宣传部", "p", "13800000000"]]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows), spec)
    assert roster.rows[0].values["unit_name"] == "宣传部"
    assert roster.rows[0].contact == {"contact_phone": "13800000000"}
    assert roster.warnings == []
