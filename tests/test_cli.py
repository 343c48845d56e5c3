"""The command line, as a user runs it: exit codes and exact messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers import named_cell, open_xlsx

from perfeval_xl import __version__
from perfeval_xl.cli import cli


def run(*args: str, lang: str | None = None):
    env = {"PERFEVAL_XL_LANG": lang} if lang else {"PERFEVAL_XL_LANG": "zh"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_every_command_has_help():
    for name, command in cli.commands.items():
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert command.help and "Example" in command.help, name


def test_version():
    assert run("--version").output == f"perfeval-xl, version {__version__}\n"


def test_python_dash_m():
    proc = subprocess.run(
        [sys.executable, "-m", "perfeval_xl", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"perfeval-xl, version {__version__}"


def test_blank_template_default_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("template")
    assert result.exit_code == 0
    assert result.output == "已生成 national-2020.xlsx（national-2020）\n"
    wb = open_xlsx((tmp_path / "national-2020.xlsx").read_bytes())
    assert named_cell(wb, "pe_meta_form_id").value == "national-2020"


def test_seed_form_blank(tmp_path):
    out = tmp_path / "blank.xlsx"
    result = run(
        "--lang", "en", "template", "--form", "sichuan-2022", "-o", str(out), "--rows", "8"
    )
    assert result.exit_code == 0
    assert result.output == f"wrote {out} (sichuan-2022)\n"
    wb = open_xlsx(out.read_bytes())
    assert next(iter(wb.defined_names["pe_ind_status"].destinations))[1] == "$G$14:$G$21"


def test_output_into_a_folder(tmp_path):
    result = run("template", "-o", str(tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / "national-2020.xlsx").exists()


def test_output_must_be_xlsx(tmp_path):
    result = run("--lang", "en", "template", "-o", str(tmp_path / "blank.xls"))
    assert result.exit_code == 2
    assert "Invalid value for '-o': must end with .xlsx" in result.output
    assert not (tmp_path / "blank.xls").exists()


def test_roster(tmp_path):
    roster = tmp_path / "projects.csv"
    roster.write_text(
        "主管部门代码,实施单位,项目名称,年度\n109101,宣传部,项目一,2022\n109101,宣传部,项目二,2022\n",
        "utf-8",
    )
    out = tmp_path / "outbox"
    result = run("template", "--roster", str(roster), "-o", str(out))
    assert result.exit_code == 0
    assert result.output == (
        f"{out / '109101_宣传部_项目一.xlsx'}\n{out / '109101_宣传部_项目二.xlsx'}\n"
        f"已生成 2 个模板到 {out}（national-2020）\n"
    )


def test_roster_output_must_be_a_folder(tmp_path):
    roster = tmp_path / "projects.csv"
    roster.write_text("dept_code,unit_name,project_name\n1,u,p\n", "utf-8")
    result = run(
        "--lang", "en", "template", "--roster", str(roster), "-o", str(tmp_path / "a.xlsx")
    )
    assert result.exit_code == 2
    assert "Invalid value for '-o': with --roster, -o names a folder" in result.output
    assert not (tmp_path / "a.xlsx").exists()


def test_bad_roster_exit_1_with_every_problem(tmp_path):
    roster = tmp_path / "projects.csv"
    roster.write_text(
        "dept_code,unit_name,project_name,year\n1,u,p,二〇二二\n1,u,p,2022\n", "utf-8"
    )
    result = run("--lang", "en", "template", "--roster", str(roster), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {roster}, row 2, column '年度（year）': not a year: 二〇二二\n"
        f"{roster}, row 3, column '项目名称（project_name）': same project as row 2\n"
    )
    assert not (tmp_path / "out").exists()


def test_missing_roster_file(tmp_path):
    result = run("template", "--roster", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert result.output == f"错误: {tmp_path / 'nope.csv'}: 找不到名册文件\n"


def test_unknown_form():
    result = run("--lang", "en", "template", "--form", "hainan-2030")
    assert result.exit_code == 1
    assert result.output == (
        "Error: hainan-2030: unknown form; choose one of department-2023, national-2020, "
        "national-2021, sichuan-2022, sichuan-2023 or give a .toml path\n"
    )


def test_bad_spec_file_names_file_and_key(tmp_path):
    from importlib import resources

    text = (
        resources.files("perfeval_xl.workbook_templates")
        .joinpath("national-2020.toml")
        .read_text("utf-8")
    )
    spec = tmp_path / "guangxi.toml"
    spec.write_text(text.replace('reverse_rule = "linear"', 'reverse_rule = "steep"'), "utf-8")
    result = run("--lang", "en", "template", "--form", str(spec), "-o", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 1
    assert result.output == f"Error: {spec}: scoring.reverse_rule: must be one of linear, ratio\n"
    result = run("template", "--form", str(spec), "-o", str(tmp_path / "x.xlsx"))
    assert result.output == f"错误: {spec}: scoring.reverse_rule: 应为 linear / ratio 之一\n"


def test_a_new_province_is_a_new_file(tmp_path):
    from importlib import resources

    text = (
        resources.files("perfeval_xl.workbook_templates")
        .joinpath("national-2020.toml")
        .read_text("utf-8")
    )
    text = text.replace('id = "national-2020"', 'id = "guangxi-2024"').replace(
        "成本指标", "经济成本指标"
    )
    spec = tmp_path / "guangxi-2024.toml"
    spec.write_text(text, "utf-8")
    out = tmp_path / "gx.xlsx"
    assert run("template", "--form", str(spec), "-o", str(out)).exit_code == 0
    wb = open_xlsx(out.read_bytes())
    assert named_cell(wb, "pe_meta_form_id").value == "guangxi-2024"
    sheet, ref = next(wb.defined_names["pe_list_level2"].destinations)
    assert "经济成本指标" in [c.value for (c,) in wb[sheet][ref.replace("$", "")]]


def test_forms_lists_and_describes():
    result = run("forms")
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.output.splitlines()] == [
        "department-2023",
        "national-2020 *",
        "national-2021",
        "sichuan-2022",
        "sichuan-2023",
    ]
    result = run("--lang", "en", "forms", "sichuan-2022")
    assert result.exit_code == 0
    assert "  fund_fiscal_budget          财政拨款预算数\n" in result.output
    assert "  pe_ind_status               自评表!G14:G33\n" in result.output


def test_demo(tmp_path):
    out = tmp_path / "demo"
    result = run("--lang", "en", "demo", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"roster: {out / 'roster.csv'}",
        f"templates issued: 3 in {out / 'outbox'}",
        f"filled workbooks: 3 in {out / 'inbox'}",
        "3 projects read; 6 errors, 39 warnings; 0 projects not received",
        f"summary: {out / '2022汇总.xlsx'}",
        f"workbooks returned to the units: 3 in {out / '退回'} (a folder and a .zip per "
        "department)",
        f"disclosure annex: {out / '附件2.docx'} (a table per project; published with their "
        "errors, for the demo only)",
        f"see the findings: perfeval-xl check {out / 'inbox'}/*.xlsx",
    ]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    names = ("2022年媒体合作项目", "创建全国文明城市", "仁和区重大对外宣传活动及重要外宣产品专项")
    dept = "109101_中共攀枝花市仁和区委宣传部"
    assert files == sorted(
        ["roster.csv", "2022汇总.xlsx", "附件2.docx"]
        + [
            f"{box}/109101_攀枝花市区委宣传部_{name}.xlsx"
            for box in ("outbox", "inbox", f"退回/{dept}/攀枝花市区委宣传部")
            for name in names
        ]
        + [f"退回/{dept}.zip", f"退回/{dept}/审核结果.xlsx", "退回/未报送.xlsx"]
        + ["退回/.perfeval-feedback.json"]
    )
    wb = open_xlsx(
        (out / "outbox" / "109101_攀枝花市区委宣传部_创建全国文明城市.xlsx").read_bytes()
    )
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 114.56
    assert named_cell(wb, "pe_meta_form_id").value == "sichuan-2022"
    wb = open_xlsx((out / "inbox" / "109101_攀枝花市区委宣传部_创建全国文明城市.xlsx").read_bytes())
    assert named_cell(wb, "pe_fund_fiscal_spent").value == 99.63


def test_demo_summary_has_the_seed_totals(tmp_path):
    import openpyxl

    run("demo", str(tmp_path))
    wb = openpyxl.load_workbook(tmp_path / "2022汇总.xlsx", data_only=True)
    ws = wb["部门汇总"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    (dept,) = [r for r in rows if r and r[0] == "109101"]
    n = rows[2].index("项目数")  # the header row, under the title and the 生成时间 line
    # 3 projects; Σ预算数 100 + 114.56 + 210 = 424.56; Σ执行数 16 + 99.63 + 40 = 155.63
    assert dept[n : n + 4] == [
        3,
        pytest.approx(424.56),
        pytest.approx(155.63),
        pytest.approx(155.63 / 424.56),
    ]
    assert round(dept[n + 3] * 100, 2) == 36.66


def _bad_form(tmp_path):
    from helpers import INDICATORS, filled

    rows = [dict(r) for r in INDICATORS]
    rows[2]["status"] = "未完成"
    return filled(tmp_path, fund_fiscal_spent=120, fund_fiscal_budget="１００万元", indicators=rows)


def test_check_text_output_exactly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _bad_form(tmp_path)
    result = run("check", "national-2020.xlsx")
    assert result.exit_code == 1
    assert result.output == (
        "national-2020.xlsx  （national-2020，5 个指标，自评总分 100.00，核定总分 100.00，优（核定））\n"
        "  错误     E301  自评表!G8      年度资金总额：全年执行数 120.00 超过全年预算数 100.00\n"
        "  错误     E301  自评表!G9      当年财政拨款：全年执行数 120.00 超过全年预算数 100.00\n"
        "  错误     E405  自评表!J17     指标「合作经费」状态为「未完成」，缺少偏差原因\n"
        '  警告     W201  自评表!F9      "１００万元" 按 100 读取\n'
        "  警告     W511  自评表!I35     全部 5 个指标均自评满分，但指标「合作经费」为「未完成」：请核实自评得分\n"
        "1 个文件，3 个错误，2 个警告\n"
    )
    result = run("--lang", "en", "check", "national-2020.xlsx")
    assert (
        result.output.splitlines()[0]
        == "national-2020.xlsx  (national-2020, 5 indicators, own total 100.00, checked total 100.00, 优 (checked))"
    )
    assert result.output.splitlines()[-1] == "1 file, 3 errors, 2 warnings"
    assert '  warning  W201  自评表!F9      "１００万元" read as 100' in result.output


def test_check_json_shape(tmp_path):
    import json

    path = _bad_form(tmp_path)
    result = run("--lang", "en", "check", "--format", "json", str(path))
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["totals"] == {"files": 1, "errors": 3, "warnings": 2}
    (entry,) = doc["files"]
    assert entry["path"] == str(path) and entry["form"] == "national-2020"
    project = entry["project"]
    assert project["project_name"] == "2022年媒体合作项目" and project["year"] == 2022
    assert project["fund_total_spent"] == 120 and project["exec_rate"] == 1.2
    assert project["indicators"][2]["status"] == "未完成"
    assert (project["score"], project["grade"], project["score_kind"]) == (100.0, "优", "checked")
    assert project["subtotals"] == {"产出指标": 50.0, "效益指标": 30.0, "满意度指标": 10.0}
    assert project["indicators"][0]["score_computed"] == 20.0
    assert project["indicators"][0]["score_reported"] == 20
    assert set(entry["findings"][0]) >= {"code", "severity", "sheet", "cell", "field", "message"}
    assert entry["findings"][0] == {
        "code": "E301",
        "severity": "error",
        "file": str(path),
        "sheet": "自评表",
        "cell": "G8",
        "field": "fund_total_spent",
        "message": "年度资金总额: 全年执行数 120.00 exceeds 全年预算数 100.00",
    }


def test_check_exit_codes_and_strict(tmp_path):
    from helpers import INDICATORS, filled

    rows = [dict(r) for r in INDICATORS]
    rows[0]["level1"] = "完成指标"  # an alias: a warning only
    path = filled(tmp_path, indicators=rows)
    assert run("check", str(path)).exit_code == 0
    assert run("check", "--strict", str(path)).exit_code == 1
    (tmp_path / "clean").mkdir()
    clean = filled(tmp_path / "clean")
    assert run("check", "--strict", str(clean)).exit_code == 0


def test_check_usage_errors_exit_2(tmp_path):
    result = run("--lang", "en", "check", str(tmp_path / "missing.xlsx"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert run("check").exit_code == 2
    # a folder is searched as `collect` searches an inbox (tests/test_check_inputs.py)
    assert run("--lang", "en", "check", str(tmp_path)).output == "0 files, 0 errors, 0 warnings\n"


def test_rules_command_prints_the_doc():
    from perfeval_xl.findings import rules_markdown

    result = run("rules")
    assert result.exit_code == 0 and result.output == rules_markdown()


def test_collect_command(tmp_path):
    import json

    from helpers import filled

    box = tmp_path / "inbox"
    box.mkdir()
    filled(box, "national-2020")
    filled(box, "sichuan-2022", project_name="项目二", fund_fiscal_spent=120)
    (box / "broken.xlsx").write_bytes(b"")
    out = box / "汇总.xlsx"  # inside the inbox: written, never read
    result = run(
        "--lang", "en", "collect", str(box), "-o", str(out), "--json", str(tmp_path / "c.json")
    )
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "2 projects read, 1 files unreadable; 3 errors, 0 warnings",
        "files that could not be read (1):",
        "  broken.xlsx: an empty file (0 bytes); open it in Excel/WPS, save it as .xlsx and "
        "send it again.",
        f"full lists: sheets 「问题清单」 of {out} and {tmp_path / 'c.json'}",
        f"wrote {out}",
        f"wrote {tmp_path / 'c.json'}",
        "store: none (the summary lies inside the inbox; --store can name a place outside it)",
    ]
    doc = json.loads((tmp_path / "c.json").read_text("utf-8"))
    assert doc["totals"] == {
        "files": 3,
        "projects": 2,
        "department_forms": 0,
        "unreadable": 1,
        "errors": 3,
        "warnings": 0,
        "missing": 0,
    }
    assert [d["code"] for d in doc["departments"]] == ["109101"]
    assert [f["source"] for f in doc["files"]] == [
        "broken.xlsx",
        "national-2020.xlsx",
        "sichuan-2022.xlsx",
    ]
    again = run("--lang", "en", "collect", str(box), "-o", str(out), "-q")
    assert (
        again.output.splitlines()[0] == "2 projects read, 1 files unreadable; 3 errors, 0 warnings"
    )


def test_collect_exit_0_without_errors_and_roster_line(tmp_path):
    from helpers import filled

    box = tmp_path / "inbox"
    box.mkdir()
    filled(box, "national-2020")
    roster = tmp_path / "r.csv"
    roster.write_text(
        "dept_code,unit_name,project_name\n109101,攀枝花市区委宣传部,2022年媒体合作项目\n109101,u,缺交项目\n",
        "utf-8",
    )
    result = run("collect", str(box), "-o", str(tmp_path / "s.xlsx"), "--roster", str(roster))
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[0]
        == "已读取 1 个项目，0 个文件无法读取；0 个错误，1 个警告；1 个项目未收到"
    )
    assert (
        run(
            "collect", str(box), "-o", str(tmp_path / "s.xlsx"), "--roster", str(roster), "--strict"
        ).exit_code
        == 1
    )


def test_collect_usage_errors(tmp_path):
    assert run("collect", str(tmp_path / "nope")).exit_code == 2
    assert run("collect", str(tmp_path), "-o", str(tmp_path / "x.csv")).exit_code == 2
