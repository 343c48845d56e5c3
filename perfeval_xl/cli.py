"""The command line: parse arguments, call one library function, print, map errors to exit codes.

Exit codes follow click: 0 success, 1 the run failed (bad roster, bad spec, unwritable output),
2 the command line itself is wrong. Messages are Chinese by default; `--lang en` for English.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import generate, spec
from ._version import __version__
from .errors import PerfevalError, Text


class _Failure(click.ClickException):
    """A library error, shown in the chosen language without a traceback."""

    def __init__(self, error: PerfevalError, lang: str) -> None:
        super().__init__(error.render(lang))
        self.lang = lang

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:
        prefix = "Error" if self.lang == "en" else "错误"
        click.echo(f"{prefix}: {self.format_message()}", err=True)


def _say(ctx: click.Context, zh: str, en: str) -> None:
    click.echo(Text(zh, en).render(ctx.obj["lang"]))


def _load(ctx: click.Context, form: str) -> spec.Spec:
    try:
        return spec.load_spec(form)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    envvar="PERFEVAL_XL_LANG",
    show_default=True,
    help="Language of messages (env PERFEVAL_XL_LANG).",
)
@click.version_option(__version__, prog_name="perfeval-xl")
@click.pass_context
def cli(ctx: click.Context, lang: str) -> None:
    """项目支出绩效自评 through Excel: locked templates, checks, scores and summaries."""
    ctx.obj = {"lang": lang}


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output .xlsx (blank template) or folder (with --roster).  "
    "[default: <form>.xlsx, or outbox/ with --roster]",
)
@click.option(
    "--form",
    default=spec.DEFAULT_FORM,
    show_default=True,
    help="Built-in form id (see `perfeval-xl forms`) or path of a .toml spec.",
)
@click.option(
    "--roster",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV or XLSX, one project per row: write one pre-filled workbook per row.",
)
@click.option(
    "--password",
    default=generate.DEFAULT_PASSWORD,
    show_default=True,
    help='Sheet and workbook protection password ("" for none).',
)
@click.option(
    "--rows",
    type=click.IntRange(1, 500),
    help="Indicator rows in the table.  [default: the form's, 20]",
)
@click.pass_context
def template(
    ctx: click.Context,
    output: Path | None,
    form: str,
    roster: Path | None,
    password: str,
    rows: int | None,
) -> None:
    """Generate locked Excel templates for units to fill in.

    \b
    Examples:
      perfeval-xl template -o blank.xlsx
      perfeval-xl template --form sichuan-2022 -o blank.xlsx
      perfeval-xl template --roster projects.xlsx -o outbox/
    """
    lang = ctx.obj["lang"]
    form_spec = _load(ctx, form)
    try:
        if roster is None:
            path = output or Path(f"{form_spec.id}.xlsx")
            if path.is_dir():
                path = path / f"{form_spec.id}.xlsx"
            if path.suffix.lower() != ".xlsx":
                raise click.BadParameter(
                    Text("输出文件名须以 .xlsx 结尾", "must end with .xlsx").render(lang),
                    param_hint="'-o'",
                )
            generate.write_template(path, form_spec, password=password, indicator_rows=rows)
            _say(ctx, f"已生成 {path}（{form_spec.id}）", f"wrote {path} ({form_spec.id})")
            return
        outdir = output or Path("outbox")
        if outdir.suffix.lower() == ".xlsx":
            raise click.BadParameter(
                Text("使用 --roster 时 -o 为输出文件夹", "with --roster, -o names a folder").render(
                    lang
                ),
                param_hint="'-o'",
            )
        paths = generate.write_roster_templates(
            roster, outdir, form_spec, password=password, indicator_rows=rows
        )
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    for p in paths:
        click.echo(str(p))
    _say(
        ctx,
        f"已生成 {len(paths)} 个模板到 {outdir}（{form_spec.id}）",
        f"wrote {len(paths)} templates to {outdir} ({form_spec.id})",
    )


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Human text grouped by file, or JSON for machines.",
)
@click.option("--strict", is_flag=True, help="Warnings count as errors for the exit code.")
@click.pass_context
def check(ctx: click.Context, files: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Check filled workbooks: read every value by name and apply the reviewer's rules.

    Exit code 0 when no file has errors (warnings allowed unless --strict), 1 when any has.

    \b
    Examples:
      perfeval-xl check 109101_攀枝花市区委宣传部_2022年媒体合作项目.xlsx
      perfeval-xl --lang en check --format json outbox/*.xlsx
    """
    from .checks import check_workbook
    from .report import format_text, to_json, totals

    lang = ctx.obj["lang"]
    results = [check_workbook(path) for path in files]
    if fmt == "json":
        click.echo(to_json(results, lang))
    else:
        click.echo(format_text(results, lang), nl=False)
    t = totals(results)
    if t["errors"] or (strict and t["warnings"]):
        ctx.exit(1)


@cli.command()
def rules() -> None:
    """Print every check's code, severity, what it checks, why and how to fix (Markdown).

    \b
    Example:
      perfeval-xl rules > docs/rules.md
    """
    from .findings import rules_markdown

    click.echo(rules_markdown(), nl=False)


@cli.command()
@click.argument("form", required=False)
@click.pass_context
def forms(ctx: click.Context, form: str | None) -> None:
    """List the built-in forms, or show one form's roster columns and named ranges.

    \b
    Examples:
      perfeval-xl forms
      perfeval-xl forms sichuan-2022
    """
    from .layout import contract_names, make_layout

    if form is None:
        for form_id in spec.builtin_forms():
            s = _load(ctx, form_id)
            default = " *" if form_id == spec.DEFAULT_FORM else ""
            click.echo(f"{form_id}{default}\t{s.description}")
        return
    s = _load(ctx, form)
    _say(
        ctx,
        f"{s.id}（第 {s.version} 版）：{s.description}",
        f"{s.id} (v{s.version}): {s.description}",
    )
    _say(ctx, "\n名册可用的列（英文名或中文名均可）：", "\nRoster columns (either name):")
    for name, label in generate.issuable_fields(s).items():
        click.echo(f"  {name:<28}{label}")
    _say(ctx, "\n命名区域：", "\nNamed ranges:")
    for name, area in contract_names(make_layout(s)).items():
        click.echo(f"  {name:<28}{s.sheet}!{area.a1(absolute=False)}")


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("perfeval-demo"),
    show_default=True,
    help="Folder for the demo's files.",
)
@click.pass_context
def demo(ctx: click.Context, output: Path) -> None:
    """Run the main job on the built-in sample data (the seed form's three projects).

    \b
    Example:
      perfeval-xl demo -o perfeval-demo
    """
    from .demo import run_demo

    try:
        paths = run_demo(output)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None
    for p in paths:
        click.echo(str(p))
    _say(
        ctx,
        f"示例完成：{len(paths) - 1} 个预填模板及名册已写入 {output}",
        f"demo done: {len(paths) - 1} pre-filled templates and the roster in {output}",
    )


def main() -> None:
    """Console-script entry point."""
    cli()
