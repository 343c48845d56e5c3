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
        [
            "roster.csv, row 1, column '实施单位': required column missing: 实施单位 "
            "(or named unit_name, 单位名称, 预算单位, 实施单位名称)"
        ],
    ),
    (
        "duplicate column",
        "dept_code,主管部门代码,unit_name,project_name\n1,1,u,p\n",
        [
            "roster.csv, row 1, column '主管部门代码': duplicate column: it and 'dept_code' are "
            "both '主管部门代码'; keep one"
        ],
    ),
    (
        "bad number",
        f"{HEADER}\n109101,部,单位,项目,2022,一百\n",
        [
            "roster.csv, row 2, column '当年财政拨款全年预算数（fund_fiscal_budget）': not an amount: 一百"
        ],
    ),
    (
        "negative and infinite",
        f"{HEADER}\n109101,部,单位,项目,2022,-5\n109101,部,单位,项目二,2022,inf\n",
        [
            "roster.csv, row 2, column '当年财政拨款全年预算数（fund_fiscal_budget）': amount out of range: -5",
            "roster.csv, row 3, column '当年财政拨款全年预算数（fund_fiscal_budget）': amount out of range: inf",
        ],
    ),
    (
        "bad year",
        f"{HEADER}\n109101,部,单位,项目,22,1\n109101,部,单位,项目二,2022.5,1\n",
        [
            "roster.csv, row 2, column '年度（year）': year must be a whole number 2000-2100: 22",
            "roster.csv, row 3, column '年度（year）': year must be a whole number 2000-2100: 2022.5",
        ],
    ),
    (
        "empty required cell",
        f"{HEADER}\n109101,部,,项目,2022,1\n",
        ["roster.csv, row 2, column '实施单位（unit_name）': must not be empty"],
    ),
    (
        "duplicate project",
        f"{HEADER}\n109101,部,单位,项目,2022,1\n109101,部,单位,项目,2022,2\n",
        ["roster.csv, row 3, column '项目名称（project_name）': same project as row 2"],
    ),
    (
        "duplicate project code",
        "dept_code,unit_name,project_name,project_code\n1,u,甲,P-1\n1,u,乙,P-1\n",
        ["roster.csv, row 3, column '项目代码（project_code）': same project as row 2"],
    ),
    (
        "too long",
        f"dept_code,unit_name,project_name\n1,u,{'长' * 101}\n",
        ["roster.csv, row 2, column '项目名称（project_name）': longer than 100 characters"],
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
        err.value.render("zh")
        == f"{path}, 第 2 行, 列「当年财政拨款全年预算数（fund_fiscal_budget）」: 不是有效金额：一百"
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


# -- what an inbox of rosters holds (issue 15) -------------------------------------------------


def test_field_over_the_csv_limit_is_a_roster_error_with_row_and_column(tmp_path):
    import csv

    limit = csv.field_size_limit()
    huge = "长" * 200_000
    text = (
        f"{HEADER}\n109101,部,单位,项目,2022,1\n109101,部,单位,{huge},2022,1\n"
        f"109101,部,单位,项目二,2022,一百\n"
    )
    path = write_csv(tmp_path, text)
    with pytest.raises(RosterErrors) as err:
        write_roster_templates(path, tmp_path / "outbox", load_spec("national-2020"))
    # the row after the long one is still read and checked, and the limit is left alone
    assert err.value.render("en").replace(str(path), "roster.csv").splitlines() == [
        f"roster.csv, row 3, column '项目名称（project_name）': longer than {limit} characters",
        "roster.csv, row 4, column '当年财政拨款全年预算数（fund_fiscal_budget）': not an amount: 一百",
    ]
    assert err.value.render("zh").splitlines()[0] == (
        f"{path}, 第 3 行, 列「项目名称（project_name）」: 内容超过 {limit} 个字符，无法读取"
    )
    assert csv.field_size_limit() == limit
    assert not (tmp_path / "outbox").exists()


def test_long_quoted_field_over_many_lines_and_rows_after_it(tmp_path):
    # a quoted cell of 70,000 lines: csv stops inside it; reading goes on after its record
    cell = '"' + "长\n" * 70_000 + '"'
    text = f"dept_code,unit_name,project_name,year\n1,u,{cell},2022\n1,u,p,22\n"
    path = write_csv(tmp_path, text)
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    assert err.value.render("en").replace(str(path), "roster.csv").splitlines() == [
        "roster.csv, row 70002, column '项目名称（project_name）': longer than 131072 characters",
        "roster.csv, row 70003, column '年度（year）': year must be a whole number 2000-2100: 22",
    ]


def test_long_header_cell_and_long_values_are_shown_short(tmp_path):
    path = write_csv(tmp_path, f"dept_code,unit_name,project_name,{'x' * 200_000}\n1,u,p,q\n")
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    assert err.value.render("en") == f"{path}, row 1, column 'D': longer than 131072 characters"

    path = write_csv(tmp_path, f"{HEADER}\n109101,部,单位,项目,2022,{'9' * 100_000}\n")
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    message = err.value.render("en")
    assert message.endswith(f"amount out of range: {'9' * 40}…")
    # a name as long as a book is no name (the spec's limits: 60 characters for a unit)
    path = write_csv(tmp_path, f"{HEADER}\n109101,部,{'单' * 100_000},项目,2022,1\n")
    with pytest.raises(RosterErrors) as err:
        read_roster(path, load_spec("national-2020"))
    assert err.value.render("en") == (
        f"{path}, row 2, column '实施单位（unit_name）': longer than 60 characters"
    )


def _gbk_char_that_is_utf8() -> str:
    """A common character whose two GBK bytes are also valid UTF-8 (one Latin letter)."""
    for code in range(0xB0A1, 0xD7FA):
        raw = code.to_bytes(2, "big")
        try:
            raw.decode("utf-8")
            return raw.decode("gbk")
        except UnicodeDecodeError:
            continue
    raise AssertionError("none found")


def test_utf8_roster_with_gbk_rows_appended_is_refused_with_line_numbers(tmp_path):
    head = f"{HEADER}\n109101,宣传部,媒体合作项目,2022,1\n109101,宣传部,文明城市,2022,2\n"
    tail = "109101,财政局,预算编审,2022,3\n\n109101,财政局,绩效评价,2022,4\n"
    path = tmp_path / "roster.csv"
    path.write_bytes(head.encode("utf-8-sig") + tail.encode("gbk"))
    with pytest.raises(RosterError) as err:
        read_roster(path, load_spec("national-2020"))
    assert err.value.render("en") == (
        f"{path}: the roster mixes text encodings: lines 1, 2, 3 are UTF-8, lines 4, 6 are GBK "
        "(ANSI), probably rows appended in another program; save it in one encoding "
        "(Save As UTF-8 or ANSI/GBK) and retype the rows that show garbled text"
    )
    assert "第 1、2、3 行是 UTF-8，第 4、6 行是 GBK（ANSI）" in err.value.render("zh")
    assert "另存为 UTF-8 或 ANSI/GBK" in err.value.render("zh")


def test_many_mixed_lines_are_counted(tmp_path):
    utf8 = "".join(f"109101,宣传部,项目{i},2022,1\n" for i in range(8))
    gbk = "".join(f"109101,财政局,项目{i},2022,1\n" for i in range(20))
    path = tmp_path / "roster.csv"
    path.write_bytes(f"{HEADER}\n{utf8}".encode() + gbk.encode("gbk"))
    with pytest.raises(RosterError) as err:
        read_roster(path, load_spec("national-2020"))
    assert "lines 2, 3, 4, 5, 6 and 3 more are UTF-8" in err.value.render("en")
    assert "lines 10, 11, 12, 13, 14 and 15 more are GBK" in err.value.render("en")
    assert "第 2、3、4、5、6 等共 8 行是 UTF-8，第 10、11、12、13、14 等共 20 行是 GBK" in (
        err.value.render("zh")
    )


def test_pure_gbk_roster_with_a_line_that_looks_like_utf8_is_read(tmp_path):
    char = _gbk_char_that_is_utf8()
    text = f"{HEADER}\n109101,部,宣传部,媒体合作项目,2022,1\n1,d,u,{char},2022,1\n"
    assert f"1,d,u,{char},2022,1\n".encode("gbk").decode("utf-8")  # valid UTF-8 alone
    rows = read_roster(write_csv(tmp_path, text, "gbk"), load_spec("national-2020"))
    assert [r.values["project_name"] for r in rows] == ["媒体合作项目", char]


def test_neither_utf8_nor_gbk_names_the_line(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(f"{HEADER}\n".encode() + b"1,u,\x80\xff,2022,1\n")
    with pytest.raises(RosterError) as err:
        read_roster(path, load_spec("national-2020"))
    assert "line 2 is neither UTF-8 nor GBK" in err.value.render("en")


CONTROL_MESSAGES = [
    "roster, row 2, column '实施单位（unit_name）': contains a control character (U+001B)",
    "roster, row 2, column '项目名称（project_name）': contains a control character (U+0000)",
    "roster, row 3, column '实施单位（unit_name）': contains a control character (U+007F)",
    "roster, row 3, column '项目名称（project_name）': contains a control character (U+0085)",
]
CONTROL_ROWS = [
    ["109101", "宣传\x1b[2J部", "项目\x00一"],
    ["109101", "宣传部\x7f", "项目\x85二"],
    ["109101", "宣传部", "多行\r\n的\t项目"],  # line breaks and tabs are whitespace: kept
]


def _check_controls(path: Path) -> None:
    with pytest.raises(RosterErrors) as err:
        write_roster_templates(path, path.parent / "outbox", load_spec("national-2020"))
    got = err.value.render("en").replace(str(path), "roster").splitlines()
    assert len(got) == len(CONTROL_MESSAGES), got
    for g, e in zip(got, CONTROL_MESSAGES, strict=True):
        assert g.startswith(e), (g, e)
    assert "\x1b" not in err.value.render("en") and "\x00" not in err.value.render("zh")
    assert "含有控制字符（U+001B）" in err.value.render("zh")
    assert not (path.parent / "outbox").exists()


def test_control_characters_in_a_csv_roster(tmp_path):
    import csv

    path = tmp_path / "roster.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["dept_code", "unit_name", "project_name"], *CONTROL_ROWS])
    _check_controls(path)


def test_control_characters_in_an_xlsx_roster(tmp_path):
    import xlsxwriter

    path = tmp_path / "roster.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    for i, row in enumerate([["dept_code", "unit_name", "project_name"], *CONTROL_ROWS]):
        ws.write_row(i, 0, row)
    wb.close()
    _check_controls(path)


def test_line_breaks_and_tabs_in_names_become_spaces(tmp_path):
    import xlsxwriter

    path = tmp_path / "roster.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["dept_code", "unit_name", "project_name"])
    ws.write_row(1, 0, ["109101", "宣传部", "多行\r\n的\t项目"])  # Alt+Enter, pasted CRLF, tab
    wb.close()
    paths = write_roster_templates(path, tmp_path / "out", load_spec("national-2020"))
    assert [p.name for p in paths] == ["109101_宣传部_多行 的 项目.xlsx"]
    assert named_cell(open_xlsx(paths[0].read_bytes()), "pe_project_name").value == "多行 的 项目"


def test_progress_once_per_row_through_the_pool(tmp_path):
    text = HEADER + "\n" + "".join(f"109101,部,单位,项目{i},2022,{i}\n" for i in range(20))
    calls: list[int] = []
    totals: list[int] = []
    paths = write_roster_templates(
        write_csv(tmp_path, text),
        tmp_path / "out",
        load_spec("national-2020"),
        progress=calls.append,
        on_total=totals.append,
    )
    assert totals == [20]
    assert calls == [1] * 20
    assert [p.name for p in paths] == [f"109101_单位_项目{i}.xlsx" for i in range(20)]
    wb = open_xlsx(paths[17].read_bytes())  # results stay in roster order
    assert named_cell(wb, "pe_project_name").value == "项目17"
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 17


def _long_field_roster(tmp_path: Path) -> Path:
    return write_csv(tmp_path, f"{HEADER}\n109101,部,单位,{'长' * 200_000},2022,1\n")


def test_cli_template_and_collect_report_a_long_field_cleanly(tmp_path):
    from click.testing import CliRunner

    from perfeval_xl.cli import cli

    roster = _long_field_roster(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for args in (
        ["template", "--roster", str(roster), "-o", str(tmp_path / "out")],
        ["collect", str(inbox), "-o", str(tmp_path / "s.xlsx"), "--roster", str(roster), "-q"],
    ):
        result = CliRunner().invoke(cli, ["--lang", "en", *args])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.output == (
            f"Error: {roster}, row 2, column '项目名称（project_name）': longer than 131072 characters\n"
        )
    assert not (tmp_path / "out").exists() and not (tmp_path / "s.xlsx").exists()


def test_cli_template_bar_only_on_a_terminal(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from perfeval_xl import cli as cli_mod

    text = HEADER + "\n" + "".join(f"109101,部,单位,项目{i},2022,1\n" for i in range(16))
    roster = write_csv(tmp_path, text)
    args = ["template", "--roster", str(roster), "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(cli_mod.cli, args, env={"PERFEVAL_XL_LANG": "zh"})
    assert result.exit_code == 0
    assert result.stderr == ""  # CliRunner's stderr is no terminal: no bar
    assert result.stdout.endswith(f"已生成 16 个模板到 {tmp_path / 'out'}（national-2020）\n")

    monkeypatch.setattr(cli_mod, "_is_terminal", lambda: True)
    result = CliRunner().invoke(cli_mod.cli, args, env={"PERFEVAL_XL_LANG": "zh"})
    assert result.exit_code == 0
    assert "生成 16 个模板" in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 17 and not any(line.startswith("生成") for line in lines)
    result = CliRunner().invoke(cli_mod.cli, [*args, "-q"], env={"PERFEVAL_XL_LANG": "zh"})
    # no bar; what is about to happen in the outbox is said on stderr, before the work
    assert result.stderr == f"{tmp_path / 'out'} 中已有 16 个同名文件，将被替换\n"
