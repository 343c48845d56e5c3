"""The command line's language: help, usage lines and click's own messages are Chinese by
default, English with `--lang en` (before or after the command's name) or PERFEVAL_XL_LANG=en."""

from __future__ import annotations

import gettext
import inspect

import click
import pytest
from click.testing import CliRunner

from perfeval_xl import clilang
from perfeval_xl.cli import cli
from perfeval_xl.clitext import ZH


def run(*args: str, lang: str | None = None):
    """The command line as a clerk runs it (CliRunner lays help out in 80 columns);
    PERFEVAL_XL_LANG unset unless given."""
    env = {"PERFEVAL_XL_LANG": lang}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _chinese(text: str) -> str:
    return inspect.cleandoc(next(v for k, v in ZH.items() if inspect.cleandoc(k) == text))


def _first_line(text: str) -> str:
    return text.splitlines()[0]


# -- help --------------------------------------------------------------------------------------
def test_group_help_is_chinese():
    result = run("--help")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith(
        "用法：perfeval-xl [选项] 命令 [参数]...\n\n"
        "  用 Excel 做项目支出绩效自评：锁定的模板、检查、评分和汇总。\n"
    )
    assert "\n选项：\n  --lang [zh|en]  信息和帮助的语言：zh 中文，en 英文（也可设环境变量\n" in out
    assert "  [默认：zh]\n" in out
    assert "  --version       显示版本号后退出。\n" in out
    assert "  -h, --help      显示本帮助后退出。\n" in out
    assert "\n命令：\n" in out
    assert (
        "  check     检查单位填好的工作簿\n" in out or "  check     检查单位填好的工作簿：" in out
    )
    assert "  template  生成锁定的 Excel 模板，发给各单位填写\n" in out
    for english in ("Usage:", "Options:", "Commands:", "Show this message", "[default:"):
        assert english not in out


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_help_is_chinese(name):
    result = run(name, "--help")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith(f"用法：perfeval-xl {name} [选项]")
    command = cli.commands[name]
    assert f"\n\n  {_first_line(_chinese(inspect.cleandoc(command.help)))[:12]}" in out
    assert "\n  例如" in out  # one Chinese example at least
    assert "\n选项：\n" in out
    assert "显示本帮助后退出。\n" in out
    assert "信息和帮助的语言" in out  # --lang after the command's name
    for english in ("Usage:", "Options:", "Show this message", "Example", "[default:"):
        assert english not in out
    # laid out by display width: a Chinese character takes two of the 80 columns
    assert max(clilang.width(line) for line in out.splitlines()) <= 80, out


def test_collect_help_exactly():
    out = run("collect", "--help").output
    assert out.startswith(
        "用法：perfeval-xl collect [选项] INBOX\n"
        "\n"
        "  汇总收件箱：检查每个工作簿（含 .zip 附件中的），写出部门汇总表；加 --feedback\n"
    )
    assert (
        "  例如：\n    perfeval-xl collect 收件箱 -o 汇总.xlsx --roster 名册.csv --feedback 退回\n"
        in out
    )
    assert "  --form TEXT              名册的列名按哪个表式解释。  [默认：national-2020]\n" in out
    assert "  -q, --quiet              不显示进度条。\n" in out


@pytest.mark.parametrize(
    ("args", "lang"),
    [
        (("--lang", "en", "check", "--help"), None),
        (("check", "--lang", "en", "--help"), None),
        (("check", "--help", "--lang", "en"), None),
        (("check", "--lang=en", "--help"), None),
        (("check", "--help"), "en"),
        (("--lang", "zh", "check", "--lang", "en", "--help"), None),  # the last one wins
    ],
)
def test_english_help(args, lang):
    result = run(*args, lang=lang)
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("Usage: perfeval-xl check [OPTIONS] FILES...\n\n  Check filled workbooks")
    assert "\nOptions:\n" in out and "  -h, --help            Show this message and exit.\n" in out
    assert "  --strict              Warnings count as errors for the exit code.\n" in out
    assert "用法" not in out and "选项" not in out


def test_group_help_in_english():
    out = run("--help", lang="en").output
    assert out.startswith("Usage: perfeval-xl [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nCommands:\n" in out and "[default: zh]" in out


def test_the_command_line_outweighs_the_environment():
    assert run("--lang", "zh", "rules", "--help", lang="en").output.startswith("用法：")
    assert run("rules", "--lang", "zh", "--help", lang="en").output.startswith("用法：")


# -- usage errors ------------------------------------------------------------------------------
def test_unknown_option():
    result = run("check", "--nope", "x.xlsx")
    assert result.exit_code == 2
    assert result.output == (
        "用法：perfeval-xl check [选项] FILES...\n"
        "查看帮助：perfeval-xl check --help\n"
        "\n"
        "错误: 没有这个选项：--nope\n"
    )


def test_unknown_option_in_english_after_the_command():
    for args in (
        ("check", "--nope", "x.xlsx", "--lang", "en"),
        ("--lang", "en", "check", "--nope"),
    ):
        result = run(*args)
        assert result.exit_code == 2
        assert result.output == (
            "Usage: perfeval-xl check [OPTIONS] FILES...\n"
            "Try 'perfeval-xl check --help' for help.\n"
            "\n"
            "Error: No such option '--nope'.\n"
        )


def test_inbox_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("collect", "不存在的文件夹")
    assert result.exit_code == 2
    assert result.output == (
        "用法：perfeval-xl collect [选项] INBOX\n"
        "查看帮助：perfeval-xl collect --help\n"
        "\n"
        "错误: 'INBOX' 的值无效：文件夹「不存在的文件夹」不存在\n"
    )
    result = run("collect", "不存在的文件夹", "--lang", "en")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: Invalid value for 'INBOX': Directory '不存在的文件夹' does not exist.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check",), "缺少参数 FILES..."),
        (("chek",), "没有这个命令：chek （是不是要用 'check'？）"),
        (("--lang", "fr", "rules"), "'--lang' 的值无效：「fr」不是可选的值（可选：'zh', 'en'）"),
        (
            ("check", "--format", "xml", "x.xlsx"),
            "'--format' 的值无效：「xml」不是可选的值（可选：'text', 'json'）",
        ),
        (("collect", ".", "--workers", "0"), "'--workers' 的值无效：0 不在范围 1<=x<=64 内"),
        (("collect", ".", "--workers", "abc"), "'--workers' 的值无效：「abc」不是有效的整数"),
        (("forms", "a", "b"), "多余的参数：b"),
        (("template", "-o", "blank.xls"), "'-o' 的值无效：输出文件名须以 .xlsx 结尾"),
    ],
)
def test_usage_errors_in_chinese(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert result.output.startswith("用法：perfeval-xl")
    assert result.output.endswith(f"\n\n错误: {message}\n")


def test_option_without_its_value():
    result = run("check", "--format")
    assert result.exit_code == 2
    assert result.output == "错误: 选项 --format 后面须给出一个值\n"


# -- what the commands print -------------------------------------------------------------------
def test_rules_headings():
    zh = run("rules").output
    assert zh.startswith("# 检查规则：`perfeval-xl check` 报告的问题\n")
    assert "\n| 代码 | 级别 | 检查内容 | 原因 | 改正方法 | 自检 |\n" in zh
    for args in (("--lang", "en", "rules"), ("rules", "--lang", "en")):
        en = run(*args).output
        assert en.startswith("# Rules: what `perfeval-xl check` reports\n")
        assert "\n| code | severity | what it checks | why | how to fix | 自检 self-check |\n" in en


def test_lang_after_the_command_name_sets_the_messages():
    out = run("forms", "sichuan-2022", "--lang", "en").output
    assert "\nRoster columns" in out and "名册可用的列" not in out
    out = run("--lang", "en", "forms", "--lang", "zh", "sichuan-2022").output
    assert "名册可用的列" in out


def test_collect_with_lang_after_the_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    out = tmp_path / "s.xlsx"
    result = run("collect", str(inbox), "--lang", "en", "-o", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "已写入" not in result.output


def test_library_errors_keep_their_exit_code_and_prefix(tmp_path):
    result = run("template", "--roster", str(tmp_path / "nope.csv"), "--lang", "en")
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nope.csv'}: roster file not found\n"
    result = run("template", "--roster", str(tmp_path / "nope.csv"))
    assert result.output == f"错误: {tmp_path / 'nope.csv'}: 找不到名册文件\n"


# -- the machinery -----------------------------------------------------------------------------
def test_every_help_text_has_its_chinese():
    """Nothing of the command line is left in English by default: each option's help and each
    command's help (docstring) has an entry in clitext.ZH."""
    missing = []
    for name, command in [("perfeval-xl", cli), *cli.commands.items()]:
        with click.Context(command, info_name=name, help_option_names=["-h", "--help"]) as ctx:
            if command.help and inspect.cleandoc(command.help) not in {
                inspect.cleandoc(k) for k in ZH
            }:
                missing.append(f"{name}: {_first_line(inspect.cleandoc(command.help))}")
            for param in command.get_params(ctx):
                help_text = getattr(param, "help", None)
                if help_text and help_text not in ZH:
                    missing.append(f"{name} {param.name}: {help_text}")
    assert not missing, "add to perfeval_xl/clitext.py ZH:\n" + "\n".join(missing)


def test_lang_from():
    assert clilang.lang_from([], {}) == "zh"
    assert clilang.lang_from([], {"PERFEVAL_XL_LANG": "en"}) == "en"
    assert clilang.lang_from([], {"PERFEVAL_XL_LANG": "fr"}) == "zh"
    assert clilang.lang_from(["check", "--lang", "en"], {}) == "en"
    assert (
        clilang.lang_from(["--lang=en", "check", "--lang", "zh"], {"PERFEVAL_XL_LANG": "en"})
        == "zh"
    )
    assert clilang.lang_from(["--lang", "fr"], {"PERFEVAL_XL_LANG": "en"}) == "en"
    assert clilang.lang_from(["check", "--", "--lang", "en"], {}) == "zh"
    assert clilang.lang_from(["check", "--lang"], {}) == "zh"


def _click_is_untouched():
    import click.core
    import click.exceptions
    import click.formatting
    import click.parser
    import click.types

    for module in (click.core, click.exceptions, click.formatting, click.parser, click.types):
        assert vars(module)["_"] is gettext.gettext, module
    for module in (click.core, click.exceptions, click.parser, click.types):
        assert vars(module)["ngettext"] is gettext.ngettext, module


def test_click_is_left_as_it_was(tmp_path):
    """After any run, in either language, however it ends, click is as it was: another click
    program in the same process speaks English."""

    @click.command()
    @click.argument("path", type=click.Path(exists=True))
    def other(path):
        raise RuntimeError("a bug")

    runs = [
        ("--help",),
        ("check", "--nope"),
        ("collect", str(tmp_path / "nope")),
        ("rules", "--lang", "en"),
        ("template", "--roster", str(tmp_path / "nope.csv")),
    ]
    for args in runs:
        run(*args)
        _click_is_untouched()
    result = CliRunner().invoke(other, [str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "Usage: other [OPTIONS] PATH" in result.output
    assert "Error: Invalid value for 'PATH': Path" in result.output
    result = CliRunner().invoke(other, [str(tmp_path)])  # an exception inside a command
    assert isinstance(result.exception, RuntimeError)
    _click_is_untouched()


def test_click_speaks_chinese_only_inside_a_run():
    with clilang.speaking("zh"):
        assert click.core._("Options") == "选项"
        assert (
            click.types._("{name} {filename!r} does not exist.").format(
                name="Directory", filename="收件箱"
            )
            == "文件夹「收件箱」不存在"
        )
        with clilang.speaking("en"):  # nested: the inner language holds, click stays bound
            assert click.core._("Options") == "Options"
        assert click.core._("Options") == "选项"
        assert click.core._("a message click does not have") == "a message click does not have"
    _click_is_untouched()
