"""Rosters: CSV (UTF-8 or GBK) and XLSX, English or Chinese headers; every mistake named by
row and column, all of them at once, and nothing written when anything is wrong."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from helpers import named_cell, open_xlsx

from perfeval_xl import (
    RosterError,
    RosterErrors,
    load_spec,
    read_roster,
    sample_roster_path,
    write_roster_templates,
)

HEADER = "dept_code,dept_name,unit_name,project_name,year,fund_fiscal_budget"


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_sample_roster():
    with sample_roster_path() as path:
        rows = read_roster(path, load_spec("national-2020"))
    assert [r.values["project_name"] for r in rows] == [
        "2022年媒体合作项目",
        "创建全国文明城市",
        "仁和区重大对外宣传活动及重要外宣产品专项",
    ]
    assert [r.values["fund_fiscal_budget"] for r in rows] == [100.0, 114.56, 210.0]
    assert {r.values["dept_code"] for r in rows} == {"109101"}
    assert [r.line for r in rows] == [2, 3, 4]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_headers_and_encodings(tmp_path, encoding):
    text = '主管部门代码,实施单位,项目名称,年度,当年财政拨款全年预算数,预期目标\n109101,宣传部,项目一,2022年,"1,234.50",目标\n'
    rows = read_roster(write_csv(tmp_path, text, encoding), load_spec("national-2020"))
    assert rows[0].values == {
        "dept_code": "109101",
        "unit_name": "宣传部",
        "project_name": "项目一",
        "year": 2022,
        "fund_fiscal_budget": 1234.5,
        "goal_expected": "目标",
    }


@pytest.mark.parametrize(
    ("cell", "exp"),
    [("100", 100.0), ("１００", 100.0), ("100万元", 100.0), (" 12.5 ", 12.5), ("0", 0.0)],
)
def test_amounts_people_type(tmp_path, cell, exp):
    text = f"{HEADER}\n109101,部,单位,项目,2022,{cell}\n"
    rows = read_roster(write_csv(tmp_path, text), load_spec("national-2020"))
    assert rows[0].values["fund_fiscal_budget"] == exp


def test_blank_lines_and_optional_cells_are_skipped(tmp_path):
    text = f"\n{HEADER}\n109101,部,单位,项目,,\n,,,,,\n109101,部,单位,项目二,2022,5\n"
    rows = read_roster(write_csv(tmp_path, text), load_spec("national-2020"))
    assert [r.line for r in rows] == [3, 5]
    assert "year" not in rows[0].values and "fund_fiscal_budget" not in rows[0].values


def test_xlsx_roster_with_numbers_for_codes(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["pe_dept_code", "实施单位", "项目名称", "年度", "fund_fiscal_budget"])
    ws.append([109101, "宣传部", "项目一", 2022, 100])
    ws.append([None, None, None, None, None])
    ws.append([109101.0, "宣传部", "项目二", 2022.0, 14.56])
    path = tmp_path / "roster.xlsx"
    wb.save(path)
    rows = read_roster(path, load_spec("sichuan-2022"))
    assert [r.values for r in rows] == [
        {
            "dept_code": "109101",
            "unit_name": "宣传部",
            "project_name": "项目一",
            "year": 2022,
            "fund_fiscal_budget": 100.0,
        },
        {
            "dept_code": "109101",
            "unit_name": "宣传部",
            "project_name": "项目二",
            "year": 2022,
            "fund_fiscal_budget": 14.56,
        },
    ]
    assert [r.line for r in rows] == [2, 4]


# (what, csv text, expected messages in English, one per problem)
BAD = [
    (
        "missing column",
        "dept_code,project_name\n109101,项目\n",
        ["roster.csv, row 1, column '实施单位': required column missing (unit_name)"],
    ),
    (
        "unknown column",
        "dept_code,unit_name,project_name,colour\n1,u,p,red\n",
        ["roster.csv, row 1, column 'colour': unknown column; known columns: project_name"],
    ),
    (
        "total instead of sources",
        "dept_code,unit_name,project_name,fund_total_budget\n1,u,p,5\n",
        ["roster.csv, row 1, column 'fund_total_budget': the total is the sum of the sources"],
    ),
    (
        "duplicate column",
        "dept_code,主管部门代码,unit_name,project_name\n1,1,u,p\n",
        ["roster.csv, row 1, column '主管部门代码': duplicate column"],
    ),
    (
        "bad number",
        f"{HEADER}\n109101,部,单位,项目,2022,一百\n",
        ["roster.csv, row 2, column 'fund_fiscal_budget': not an amount: 一百"],
    ),
    (
        "negative and infinite",
        f"{HEADER}\n109101,部,单位,项目,2022,-5\n109101,部,单位,项目二,2022,inf\n",
        [
            "roster.csv, row 2, column 'fund_fiscal_budget': amount out of range: -5",
            "roster.csv, row 3, column 'fund_fiscal_budget': amount out of range: inf",
        ],
    ),
    (
        "bad year",
        f"{HEADER}\n109101,部,单位,项目,22,1\n109101,部,单位,项目二,2022.5,1\n",
        [
            "roster.csv, row 2, column 'year': year must be a whole number 2000-2100: 22",
            "roster.csv, row 3, column 'year': year must be a whole number 2000-2100: 2022.5",
        ],
    ),
    (
        "empty required cell",
        f"{HEADER}\n109101,部,,项目,2022,1\n",
        ["roster.csv, row 2, column 'unit_name': must not be empty"],
    ),
    (
        "duplicate project",
        f"{HEADER}\n109101,部,单位,项目,2022,1\n109101,部,单位,项目,2022,2\n",
        ["roster.csv, row 3, column '项目名称': same project as row 2"],
    ),
    (
        "duplicate project code",
        "dept_code,unit_name,project_name,project_code\n1,u,甲,P-1\n1,u,乙,P-1\n",
        ["roster.csv, row 3, column '项目代码': same project as row 2"],
    ),
    (
        "too long",
        f"dept_code,unit_name,project_name\n1,u,{'长' * 101}\n",
        ["roster.csv, row 2, column 'project_name': longer than 100 characters"],
    ),
    ("empty file", "", ["roster.csv: the roster is empty (no header row)"]),
]


@pytest.mark.parametrize(("what", "text", "exp"), BAD, ids=[b[0] for b in BAD])
def test_bad_roster_names_row_and_column_and_writes_nothing(tmp_path, what, text, exp):
    path = write_csv(tmp_path, text)
    outdir = tmp_path / "outbox"
    with pytest.raises((RosterError, RosterErrors)) as err:
        write_roster_templates(path, outdir, load_spec("national-2020"))
    got = err.value.render("en").replace(str(path), "roster.csv").splitlines()
    assert len(got) == len(exp), got
    for g, e in zip(got, exp, strict=True):
        assert g.startswith(e), (g, e)
    assert not outdir.exists()


def test_messages_in_chinese(tmp_path):
    path = write_csv(tmp_path, f"{HEADER}\n109101,部,单位,项目,2022,一百\n")
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    assert (
        err.value.render("zh") == f"{path}, 第 2 行, 列「fund_fiscal_budget」: 不是有效金额：一百"
    )


@pytest.mark.parametrize(
    ("name", "content", "exp"),
    [
        ("roster.txt", b"a,b", "the roster must be a .csv or .xlsx file"),
        ("roster.xlsx", b"not a zip", "cannot be read as xlsx"),
        ("missing.csv", None, "roster file not found"),
    ],
)
def test_unreadable_roster(tmp_path, name, content, exp):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RosterError) as err:
        read_roster(path, load_spec("national-2020"))
    assert exp in err.value.render("en")


def test_one_workbook_per_row_named_safely(tmp_path):
    text = (
        "dept_code,unit_name,project_name,fund_fiscal_budget\n"
        "109101,宣传部,媒体/合作:项目?,100\n"
        "109101,宣传部,媒体_合作_项目_,50\n"
        "109101,CON,AUX,1\n"
    )
    paths = write_roster_templates(
        write_csv(tmp_path, text), tmp_path / "out", load_spec("national-2020")
    )
    assert [p.name for p in paths] == [
        "109101_宣传部_媒体_合作_项目_.xlsx",
        "109101_宣传部_媒体_合作_项目__2.xlsx",
        "109101_CON_AUX.xlsx",
    ]
    wb = open_xlsx(paths[0].read_bytes())
    assert named_cell(wb, "pe_project_name").value == "媒体/合作:项目?"
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 100
    assert named_cell(wb, "pe_fund_fiscal_budget").protection.locked is True
    assert named_cell(wb, "pe_fund_carryover_budget").protection.locked is False
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_output_folder_that_is_a_file(tmp_path):
    from perfeval_xl import OutputError

    blocker = tmp_path / "outbox"
    blocker.write_text("x")
    with sample_roster_path() as roster, pytest.raises(OutputError) as err:
        write_roster_templates(roster, blocker, load_spec("national-2020"))
    assert err.value.render("en") == f"{blocker}: not a folder"
