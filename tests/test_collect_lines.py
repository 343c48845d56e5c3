"""`collect` names on the terminal what needs a clerk's action (issue 16 point 6): the roster's
projects not received (20, then a count) and the files that could not be read with the reason,
then where the full lists are."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from helpers import HEADER, filled

from perfeval_xl.cli import cli


def _setup(tmp_path: Path, missing: int) -> tuple[Path, Path]:
    box = tmp_path / "inbox"
    box.mkdir()
    filled(box)  # national-2020.xlsx: 2022年媒体合作项目
    (box / "空.xlsx").write_bytes(b"")
    rows = [f"109101,{HEADER['unit_name']},{HEADER['project_name']}"]
    rows += [f"1091{i:02d},单位{i},未报项目{i:02d}" for i in range(missing)]
    roster = tmp_path / "名册.csv"
    roster.write_text("主管部门代码,实施单位,项目名称\n" + "\n".join(rows) + "\n", "utf-8")
    return box, roster


def _run(tmp_path: Path, box: Path, roster: Path, *more: str) -> str:
    out = tmp_path / "汇总.xlsx"
    args = ["collect", str(box), "-o", str(out), "--roster", str(roster), "-q", *more]
    result = CliRunner().invoke(cli, args, env={"PERFEVAL_XL_LANG": "zh"})
    assert result.exit_code == 1, result.output  # the empty file is an error
    return result.output


def test_missing_projects_and_unreadable_files_are_named(tmp_path):
    box, roster = _setup(tmp_path, 22)
    lines = _run(tmp_path, box, roster).splitlines()
    assert lines[0] == "已读取 1 个项目，1 个文件无法读取；1 个错误，22 个警告；22 个项目未收到"
    assert lines[1] == "未收到的项目（22 个）："
    assert lines[2] == "  109100 单位0 未报项目00（名册第 3 行）"
    assert lines[21] == "  109119 单位19 未报项目19（名册第 22 行）"
    assert lines[22] == "  ……另有 2 个"
    assert lines[23] == "无法读取的文件（1 个）："
    assert (
        lines[24] == "  空.xlsx：空文件（0 字节）；请在 Excel/WPS 中打开并另存为 .xlsx 后重新提交。"
    )
    assert lines[25] == f"完整清单见 {tmp_path / '汇总.xlsx'} 的「报送情况」「问题清单」工作表"
    assert lines[26] == f"已写入 {tmp_path / '汇总.xlsx'}"


def test_english_and_the_json_named(tmp_path):
    box, roster = _setup(tmp_path, 1)
    js = tmp_path / "c.json"
    out = tmp_path / "汇总.xlsx"
    args = ["--lang", "en", "collect", str(box), "-o", str(out), "--roster", str(roster)]
    result = CliRunner().invoke(cli, [*args, "--json", str(js), "-q"])
    lines = result.output.splitlines()
    assert lines[1:6] == [
        "not received (1):",
        "  109100 单位0 未报项目00 (roster row 3)",
        "files that could not be read (1):",
        "  空.xlsx: an empty file (0 bytes); open it in Excel/WPS, save it as .xlsx and send it "
        "again.",
        f"full lists: sheets 「报送情况」「问题清单」 of {out} and {js}",
    ]


def test_nothing_to_do_adds_no_lines(tmp_path):
    box = tmp_path / "inbox"
    box.mkdir()
    filled(box)
    out = tmp_path / "汇总.xlsx"
    result = CliRunner().invoke(cli, ["collect", str(box), "-o", str(out), "-q"])
    assert result.output.splitlines()[1:] == [
        f"已写入 {out}",
        f"汇总库：{tmp_path / '汇总.sqlite'}（本次读取 1 个文件，沿用上次读取结果 0 个）",
    ]
