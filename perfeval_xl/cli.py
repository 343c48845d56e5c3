"""The command line: parse arguments, call one library function, print, map errors to exit codes.

Exit codes follow click: 0 success, 1 the run failed (bad roster, bad spec, unwritable output),
2 the command line itself is wrong. Messages are Chinese by default; `--lang en` for English.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._version import __version__
from .clilang import LANG_HELP, LANGS, Group
from .errors import OutputError, PerfevalError, Text
from .fileio import display_path
from .forms import spec
from .office import outbox
from .template import generate

if TYPE_CHECKING:
    from .office.roster import RosterWarning


class _Failure(click.ClickException):
    """A library error, shown in the chosen language without a traceback."""

    def __init__(self, error: PerfevalError, lang: str) -> None:
        super().__init__(display_path(error.render(lang)))
        self.lang = lang

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:
        prefix = "Error" if self.lang == "en" else "错误"
        click.echo(f"{prefix}: {self.format_message()}", err=True)


def _say(ctx: click.Context, zh: str, en: str) -> None:
    """Print a message; a path in it that is not UTF-8 is shown decoded (fileio.display_path)."""
    click.echo(display_path(Text(zh, en).render(ctx.obj["lang"])))


def _load(ctx: click.Context, form: str, forms: spec.FormSet = spec.BUILTIN_FORMS) -> spec.Spec:
    try:
        return forms.get(form)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None


def _forms(ctx: click.Context, folder: Path | None) -> spec.FormSet:
    """The forms of `--forms DIR` (or $PERFEVAL_XL_FORMS) before the built-in ones; a file
    of the folder that is not a valid spec is named on stderr and left out, so the rest of
    the folder still serves."""
    try:
        forms = spec.load_forms(folder)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None
    prefix = "Warning" if ctx.obj["lang"] == "en" else "警告"
    for problem in forms.problems:
        skipped = Text("（未使用）", " (not used)").render(ctx.obj["lang"])
        click.echo(display_path(f"{prefix}: {problem.render(ctx.obj['lang'])}{skipped}"), err=True)
    return forms


def _key(path: Path | None, create: bool = False) -> bytes | None:
    if path is None:
        return None
    from .sign import load_key

    return load_key(path, create=create)


def _open_password(password: str | None, password_file: Path | None) -> str | None:
    """The open password: given, or read from a small regular file (never /dev/zero or a
    FIFO read without end); a password file that is not UTF-8 is read as GB18030, as Notepad
    on a Chinese Windows saves it."""
    if password_file is not None:
        from .fileio import read_small_file

        data = read_small_file(password_file, 4096, Text("密码文件", "password file"))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030", errors="replace")
        return text.strip("\r\n")
    return password


_KEY_OPTION = click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The office's key file: verify the signature of the issued values.",
)
_FORMS_OPTION = click.option(
    "--forms",
    "forms_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=spec.FORMS_ENV,
    help="A folder of the office's own .toml form specs, used before the built-in ones "
    "(env PERFEVAL_XL_FORMS).",
)
_PASSWORD_OPTION = click.option(
    "--password", help="Open password for encrypted workbooks (decrypted in memory)."
)
_PASSWORD_FILE_OPTION = click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the open password from this file (keeps it out of the shell history).",
)


# Help and click's own words are Chinese too unless --lang en (clilang); every command also
# takes --lang after its name.
@click.group("perfeval-xl", cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="zh",
    envvar="PERFEVAL_XL_LANG",
    show_default=True,
    help=LANG_HELP,
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
    help="Form id (see `perfeval-xl forms`) or path of a .toml spec.",
)
@_FORMS_OPTION
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
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign the issued values with this key file (created, owner-only, on first use).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (with --roster).")
@click.option(
    "--clean",
    is_flag=True,
    help="With --roster: remove the templates this tool made in the output folder that this "
    "roster does not produce (an earlier roster's, never filled in); other files are never "
    "touched.",
)
@click.pass_context
def template(
    ctx: click.Context,
    output: Path | None,
    form: str,
    forms_dir: Path | None,
    roster: Path | None,
    password: str,
    rows: int | None,
    key_path: Path | None,
    quiet: bool,
    clean: bool,
) -> None:
    """Generate locked Excel templates for units to fill in.

    \b
    Examples:
      perfeval-xl template -o blank.xlsx
      perfeval-xl template --form sichuan-2022 -o blank.xlsx
      perfeval-xl template --roster projects.xlsx -o outbox/
    """
    lang = ctx.obj["lang"]
    if clean and roster is None:
        raise click.BadParameter(
            Text("--clean 只能与 --roster 一起使用", "--clean needs --roster").render(lang),
            param_hint="'--clean'",
        )
    form_spec = _load(ctx, form, _forms(ctx, forms_dir))
    try:
        key = _key(key_path, create=True)
        if roster is None:
            path = output or Path(f"{form_spec.id}.xlsx")
            if path.is_dir():
                path = path / f"{form_spec.id}.xlsx"
            if path.suffix.lower() != ".xlsx":
                raise click.BadParameter(
                    Text("输出文件名须以 .xlsx 结尾", "must end with .xlsx").render(lang),
                    param_hint="'-o'",
                )
            generate.write_template(
                path, form_spec, password=password, indicator_rows=rows, key=key
            )
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
        # thousands of workbooks take minutes: a bar on a terminal, as `collect` shows
        bar = _Progress(
            lang,
            enabled=not quiet and _is_terminal(),
            label=("生成 {} 个模板", "building {} templates"),
        )
        plans: list[outbox.Outbox] = []

        def plan(outbox: outbox.Outbox) -> None:
            plans.append(outbox)
            _tell_outbox(ctx, outbox, clean)

        try:
            paths = outbox.write_roster_templates(
                roster,
                outdir,
                form_spec,
                password=password,
                indicator_rows=rows,
                key=key,
                progress=bar.advance,
                on_total=bar.start,
                on_plan=plan,
                clean=clean,
            )
        finally:
            bar.finish()
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    for p in paths:
        click.echo(str(p))
    _say(
        ctx,
        f"已生成 {len(paths)} 个模板到 {outdir}（{form_spec.id}）",
        f"wrote {len(paths)} templates to {outdir} ({form_spec.id})",
    )
    if clean:
        _tell_cleaned(ctx, plans[0])


#: File names a line about the output folder lists before "…".
_SHOWN_FILES = 10


def _warn(ctx: click.Context, warning: RosterWarning) -> None:
    """A warning (a roster's `RosterWarning`) on stderr, before the work starts."""
    prefix = "Warning" if ctx.obj["lang"] == "en" else "警告"
    click.echo(display_path(f"{prefix}: {warning.render(ctx.obj['lang'])}"), err=True)


def _note(ctx: click.Context, zh: str, en: str) -> None:
    """A line about what is about to happen, on stderr: stdout lists the templates written."""
    click.echo(display_path(Text(zh, en).render(ctx.obj["lang"])), err=True)


def _names(paths: list[Path], sep: str) -> str:
    shown = sep.join(p.name for p in paths[:_SHOWN_FILES])
    return shown + (" …" if len(paths) > _SHOWN_FILES else "")


def _tell_outbox(ctx: click.Context, outbox: outbox.Outbox, clean: bool) -> None:
    """Before anything is written: the roster's warnings, the files replaced, and the other
    .xlsx files in the output folder (old templates of ours, which --clean removes, and the
    rest, which nothing removes)."""
    for warning in outbox.warnings:
        _warn(ctx, warning)
    where = outbox.outdir
    if outbox.replaced:
        n = len(outbox.replaced)
        _note(
            ctx,
            f"{where} 中已有 {n} 个同名文件，将被替换",
            f"{n} file{'s' if n > 1 else ''} in {where} will be replaced",
        )
    stale = len(outbox.old_templates) + len(outbox.others)
    if not stale:
        return
    old = len(outbox.old_templates)
    zh = f"{where} 中另有 {stale} 个 .xlsx 文件不是本名册生成的"
    en = (
        f"{stale} other .xlsx file{'s' if stale > 1 else ''} in {where} "
        f"{'are' if stale > 1 else 'is'} not from this roster"
    )
    if old:
        zh += f"，其中 {old} 个是本工具生成的未填写模板"
        en += f", {old} of them unfilled templates made by this tool"
    if old and clean:
        zh += "，写入新模板后将删除"
        en += ": they are removed once the new ones are written"
    elif old:
        zh += "；加 --clean 可删除这些模板"
        en += "; --clean removes them"
    _note(ctx, zh, en)


def _tell_cleaned(ctx: click.Context, outbox: outbox.Outbox) -> None:
    """After --clean: how many old templates went, and which other files stayed."""
    if outbox.removed:
        n = len(outbox.removed)
        _say(
            ctx,
            f"已删除 {n} 个旧模板：{_names(outbox.removed, '、')}",
            f"removed {n} old template{'s' if n > 1 else ''}: {_names(outbox.removed, ', ')}",
        )
    kept = [p for p in outbox.old_templates if p not in outbox.removed] + outbox.others
    if kept:
        n = len(kept)
        _say(
            ctx,
            f"保留 {n} 个文件（不是本工具生成的未填写模板，不会删除）：{_names(kept, '、')}",
            f"kept {n} file{'s' if n > 1 else ''} (not unfilled templates of this tool, "
            f"never removed): {_names(kept, ', ')}",
        )


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Human text grouped by file, or JSON for machines.",
)
@click.option("--strict", is_flag=True, help="Warnings count as errors for the exit code.")
@_FORMS_OPTION
@_KEY_OPTION
@_PASSWORD_OPTION
@_PASSWORD_FILE_OPTION
@click.pass_context
def check(
    ctx: click.Context,
    files: tuple[Path, ...],
    fmt: str,
    strict: bool,
    forms_dir: Path | None,
    key_path: Path | None,
    password: str | None,
    password_file: Path | None,
) -> None:
    """Check filled workbooks: read every value by name and apply the reviewer's rules.

    FILES may be workbooks, Word annexes (.docx: each form table is one project), .zip
    attachments (the workbooks in them are checked) and folders (searched as collect searches
    an inbox); what in them is not checked is listed too.

    Exit code 0 when no file has errors (warnings allowed unless --strict), 1 when any has.

    \b
    Examples:
      perfeval-xl check 109101_攀枝花市区委宣传部_2022年媒体合作项目.xlsx
      perfeval-xl check 收件箱 附件.zip
      perfeval-xl --lang en check --format json outbox/*.xlsx
    """
    from .office import collect as collect_mod
    from .office.report import format_text, to_json, totals
    from .review.checks import check_workbook

    lang = ctx.obj["lang"]
    known = _forms(ctx, forms_dir)
    try:
        key = _key(key_path)
        secret = _open_password(password, password_file)
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    # A folder is searched and a .zip opened as `collect` does (their workbooks checked on
    # every core for a big folder, with collect's fast reader); a file is checked itself.
    found = [collect_mod.inputs_of(path) for path in files]
    items = [item for got in found if got is not None for item in got[0]]
    checked = iter(collect_mod.check_items(items, key=key, password=secret, forms=known))
    results, findings = [], []
    for path, got in zip(files, found, strict=True):
        if got is None:
            results.append(check_workbook(path, key=key, password=secret, forms=known))
        else:
            results += [r for _ in got[0] for r in next(checked)]
            findings += got[1]
    # the findings about what was not checked are listed once a folder or a .zip was given
    listed = findings if any(got is not None for got in found) else None
    if fmt == "json":
        click.echo(to_json(results, lang, listed))
    else:
        click.echo(format_text(results, lang, findings), nl=False)
    t = totals(results, findings)
    if t["errors"] or (strict and t["warnings"]):
        ctx.exit(1)


@cli.command()
@click.pass_context
def rules(ctx: click.Context) -> None:
    """Print every check's code, severity, what it checks, why and how to fix (Markdown).

    \b
    Example:
      perfeval-xl rules > docs/rules.md
    """
    from .findings import rules_markdown

    click.echo(rules_markdown(ctx.obj["lang"]), nl=False)


@cli.command()
@click.argument("form", required=False)
@_FORMS_OPTION
@click.option(
    "--toml",
    "as_toml",
    is_flag=True,
    help="Print the form's spec file (to copy it as the start of an office's own form).",
)
@click.pass_context
def forms(ctx: click.Context, form: str | None, forms_dir: Path | None, as_toml: bool) -> None:
    """List the forms (the office's --forms folder and the built-in ones), or show one form's
    roster columns and named ranges.

    \b
    Examples:
      perfeval-xl forms
      perfeval-xl forms sichuan-2022
      perfeval-xl forms national-2020 --toml > my-form.toml
      perfeval-xl forms --forms 表式
    """
    from .forms.layout import contract_names, make_layout

    known = _forms(ctx, forms_dir)
    if as_toml:
        if form is None:
            raise click.UsageError(
                Text("--toml 需要给出表式编号", "--toml needs a form").render(ctx.obj["lang"])
            )
        click.echo(_load(ctx, form, known).source.decode("utf-8"), nl=False)
        return
    if form is None:
        builtin = Text("内置", "built-in").render(ctx.obj["lang"])
        for s, origin in known.listed():
            default = " *" if s.id == spec.DEFAULT_FORM and origin == "built-in" else ""
            where = builtin if origin == "built-in" else display_path(origin)
            click.echo(f"{s.id}{default}\tv{s.version}\t{where}\t{s.description}")
        return
    s = _load(ctx, form, known)
    _say(
        ctx,
        f"{s.id}（第 {s.version} 版）：{s.description}",
        f"{s.id} (v{s.version}): {s.description}",
    )
    _say(
        ctx,
        "\n名册可用的列（英文名、中文名或别名均可；其他列忽略）：",
        "\nRoster columns (any of the names; other columns are ignored):",
    )
    for name, label in generate.issuable_fields(s).items():
        aliases = s.roster_aliases.get(name, ())
        also = Text(f"  别名：{'、'.join(aliases)}", f"  aliases: {', '.join(aliases)}")
        click.echo(f"  {name:<28}{label}{also.render(ctx.obj['lang']) if aliases else ''}")
    _say(ctx, "\n命名区域：", "\nNamed ranges:")
    for name, area in contract_names(make_layout(s)).items():
        click.echo(f"  {name:<28}{s.sheet}!{area.a1(absolute=False)}")


def _review_day(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            Text("日期须写成 2023-03-01 的形式", "a date like 2023-03-01").render(
                ctx.obj["lang"] if ctx.obj else "zh"
            )
        ) from None


#: Options `collect` and `feedback` share (both read an inbox, with or without a roster).
_ROSTER_FORM_OPTION = click.option(
    "--form",
    default=spec.DEFAULT_FORM,
    show_default=True,
    help="The form whose column names the roster uses.",
)
_QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
_WORKERS_OPTION = click.option(
    "--workers", type=click.IntRange(1, 64), help="Processes to use.  [default: all cores]"
)
_CONTACT_OPTION = click.option(
    "--contact",
    default="",
    help="The office's contact line on every 审核意见 sheet (who to call, phone).",
)
_REVIEW_DATE_OPTION = click.option(
    "--review-date",
    callback=_review_day,
    metavar="DATE",
    help="The review date on every 审核意见 sheet, as 2023-03-01.  [default: today]",
)


@cli.command()
@click.argument("inbox", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("汇总.xlsx"),
    show_default=True,
    help="The summary workbook to write (atomically; never read as input).",
)
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or XLSX roster (as for `template`): expected versus received.",
)
@_ROSTER_FORM_OPTION
@_FORMS_OPTION
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every file's check result and the department figures as JSON.",
)
@click.option(
    "--feedback",
    "feedback_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write each unit its workbook back, marked, into this folder (see `feedback`).",
)
@_CONTACT_OPTION
@_REVIEW_DATE_OPTION
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The store of everything received (SQLite): files read before and unchanged are "
    "not read again.  [default: beside the summary, 汇总.sqlite]",
)
@click.option("--no-store", is_flag=True, help="Keep no store: read every file, as before.")
@click.option(
    "--compare-with",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another store to take last year's figures from for the 同比 sheet.",
)
@_QUIET_OPTION
@click.option("--strict", is_flag=True, help="Warnings count as errors for the exit code.")
@_WORKERS_OPTION
@_KEY_OPTION
@_PASSWORD_OPTION
@_PASSWORD_FILE_OPTION
@click.pass_context
def collect(
    ctx: click.Context,
    inbox: Path,
    output: Path,
    roster: Path | None,
    form: str,
    forms_dir: Path | None,
    json_path: Path | None,
    feedback_dir: Path | None,
    contact: str,
    review_date: datetime.date | None,
    store_path: Path | None,
    no_store: bool,
    compare_with: Path | None,
    quiet: bool,
    strict: bool,
    workers: int | None,
    key_path: Path | None,
    password: str | None,
    password_file: Path | None,
) -> None:
    """Collect an inbox: check every workbook (also in .zip attachments) and write the
    department summary workbook; with --feedback, each unit's workbook back, marked.

    Exit code 0 when no file has errors (warnings allowed unless --strict), 1 when any has.

    What was received is kept in a store beside the summary (汇总.sqlite): a second run reads
    only new or changed files, and a summary whose inputs did not change is left as it is.

    \b
    Example:
      perfeval-xl collect inbox/ -o 2022汇总.xlsx --roster projects.xlsx
    """
    from .office import collect as collect_mod
    from .office.summary import write_summary

    lang = ctx.obj["lang"]
    if output.suffix.lower() != ".xlsx":
        raise click.BadParameter(
            Text("输出文件名须以 .xlsx 结尾", "must end with .xlsx").render(lang), param_hint="'-o'"
        )
    try:
        collect_mod.check_outputs(inbox, output, json_path)
        if feedback_dir is not None:
            from .office.feedback import check_feedback_dir

            check_feedback_dir(inbox, feedback_dir)
        store_at = _store_path(inbox, output, store_path, no_store)
        if store_at is not None:
            # `--store 汇总.xlsx` would be replaced by the summary it is read for
            collect_mod.check_outputs(inbox, output, json_path, store_at)
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    known = _forms(ctx, forms_dir)
    from .office import store as store_mod

    # The cycle collector stays off to the end; when the process ends with this command, it
    # never walks the results again (see collect.no_gc_pauses).
    with (
        collect_mod.no_gc_pauses(freeze=_process_ends_after_command),
        _opened_store(ctx, store_at) as store,
    ):
        try:
            key = _key(key_path)
            open_password = _open_password(password, password_file)
            exclude = (output, *((json_path,) if json_path else ()))
            if store_at is not None:
                exclude += store_mod.side_files(store_at)
            run = None
            if store is not None:
                run = store.start(
                    inbox,
                    exclude,
                    store_mod.rules_fingerprint(known, key, open_password),
                    outputs=(output, json_path),
                    options=(
                        store_mod.file_sha256(roster),
                        _load(ctx, form, known).digest if roster else None,
                        feedback_dir is not None,
                        compare_with and store_mod.file_sha256(compare_with),
                        lang if json_path is not None else None,  # the JSON's messages
                    ),
                )
                if run.unchanged is not None and feedback_dir is None:
                    store.repeat(run)
                    for line in run.unchanged[lang]:
                        click.echo(line)
                    _say(
                        ctx,
                        f"收件箱、名册和规则与上次相同：{output} 未重写（汇总库 {store_at}）",
                        f"inbox, roster and rules as last time: {output} left as it was "
                        f"(store {store_at})",
                    )
                    ctx.exit(run.unchanged["exit"] if not strict else run.unchanged["strict"])
            coll = _collect_inbox(
                ctx,
                inbox,
                roster,
                form,
                known,
                exclude,
                workers,
                quiet,
                key,
                open_password,
                run,
            )
            history = _history(ctx, coll, store, compare_with)
            write_summary(
                coll,
                output,
                history=history,
                received=store.received_times() if store is not None else None,
            )
            if json_path is not None:
                from .fileio import write_output
                from .office.report import collection_json

                write_output(json_path, collection_json(coll, lang).encode("utf-8"))
            returned = None
            if feedback_dir is not None:
                returned = _write_feedback(
                    ctx,
                    coll,
                    feedback_dir,
                    roster,
                    form,
                    known,
                    contact,
                    review_date,
                    quiet,
                    workers,
                    key,
                )
        except PerfevalError as exc:
            raise _Failure(exc, lang) from None
        report = {
            "zh": _collect_lines(coll, "zh", output, json_path),
            "en": _collect_lines(coll, "en", output, json_path),
            "exit": int(bool(coll.errors)),
            "strict": int(bool(coll.errors or coll.warnings)),
        }
        if store is not None and run is not None:
            store.finish(
                coll,
                run,
                summary=output,
                json_path=json_path,
                report=None if feedback_dir is not None else report,
            )
        for line in report[lang]:
            click.echo(line)
        _say(ctx, f"已写入 {output}", f"wrote {output}")
        if json_path is not None:
            _say(ctx, f"已写入 {json_path}", f"wrote {json_path}")
        if store is not None:
            _say(
                ctx,
                f"汇总库：{store_at}（本次读取 {store.read} 个文件，沿用上次读取结果 {store.reused} 个）",
                f"store: {store_at} ({store.read} files read now, {store.reused} as read before)",
            )
        elif not no_store:
            _say(
                ctx,
                "汇总库：未保存（汇总表在收件箱里；可用 --store 指定收件箱外的位置）",
                "store: none (the summary lies inside the inbox; --store can name a place "
                "outside it)",
            )
        if returned is not None:
            from .office.feedback import feedback_lines

            for line in feedback_lines(returned, lang):
                click.echo(display_path(line))
        if coll.errors or (strict and coll.warnings):
            ctx.exit(1)


def _collect_lines(coll: Any, lang: str, output: Path, json_path: Path | None) -> list[str]:
    """What `collect` says of what it found (the same, word for word, when a later run finds
    nothing changed and says it again from the store)."""
    from .office.report import action_lines, signature_note

    projects, unreadable = len(coll.projects), len(coll.unreadable)
    missing = len(coll.missing)
    zh = f"已读取 {projects} 个项目，{unreadable} 个文件无法读取；{coll.errors} 个错误，{coll.warnings} 个警告"
    en = f"{projects} projects read, {unreadable} files unreadable; {coll.errors} errors, {coll.warnings} warnings"
    if coll.departments:
        n = len(coll.departments)
        zh = zh.replace("个项目，", f"个项目、{n} 份部门整体自评表，", 1)
        en = en.replace("projects read,", f"projects and {n} department forms read,", 1)
    if coll.roster is not None:
        zh += f"；{missing} 个项目未收到"
        en += f"; {missing} projects not received"
    lines = [display_path(en if lang == "en" else zh)]
    lines += [
        display_path(line)
        for line in action_lines(
            coll, lang, str(output), str(json_path) if json_path is not None else None
        )
    ]
    note = signature_note([s.result for s in coll.submissions], lang)
    if note:
        lines.append(note)
    return lines


def _store_path(inbox: Path, output: Path, store_path: Path | None, no_store: bool) -> Path | None:
    """Where the store is: `--store`, else beside the summary; never inside the inbox (it
    would be listed there as a file no unit sent). A default place inside the inbox (the
    summary written there) means no store, said after the report.

    Raises:
        OutputError: `--store` names a place inside the inbox.
    """
    from .office import store as store_mod

    if no_store:
        return None
    chosen = store_path or store_mod.default_path(output)
    if _is_inside(chosen, inbox):
        if store_path is not None:
            raise OutputError(
                chosen,
                Text(
                    "汇总库不能放在收件箱里；请指定收件箱外的位置",
                    "the store may not lie inside the inbox; choose a place outside it",
                ),
            )
        return None  # said after the run's report (`collect`)
    return chosen


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.absolute().resolve().relative_to(folder.absolute().resolve())
    except (ValueError, OSError):
        return False
    return True


@contextlib.contextmanager
def _opened_store(ctx: click.Context, path: Path | None) -> Iterator[Any]:
    """The store for one run (None without one); another run holding it is waited for."""
    if path is None:
        yield None
        return
    from .office.store import open_store

    def waiting(pid: int | None) -> None:
        who = f"（进程 {pid}）" if pid else ""
        _note(
            ctx,
            f"另一个 collect{who}正在使用汇总库 {path}，等它结束后继续……",
            f"another collect{f' (process {pid})' if pid else ''} is using the store {path}; "
            "waiting for it to end …",
        )

    try:
        store = open_store(path, on_wait=waiting)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None
    with store:
        yield store


def _history(ctx: click.Context, coll: Any, store: Any, compare_with: Path | None) -> Any:
    """Last year's projects for the 同比 sheet: from `--compare-with`, else from this store."""
    from .office.history import history

    try:
        return history(coll, store, compare_with)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None


def _collect_inbox(
    ctx: click.Context,
    inbox: Path,
    roster: Path | None,
    form: str,
    known: spec.FormSet,
    exclude: tuple[Path, ...],
    workers: int | None,
    quiet: bool,
    key: bytes | None,
    password: str | None,
    run: Any = None,
) -> Any:
    """`collect.collect` with a progress bar and the roster's warnings on the terminal; with
    a store's `run`, files read before are taken from it and those read now kept in it."""
    from .office import collect as collect_mod

    bar = _Progress(ctx.obj["lang"], enabled=not quiet and _is_terminal())
    try:
        return collect_mod.collect(
            inbox,
            roster=roster,
            roster_spec=_load(ctx, form, known) if roster else None,
            exclude=exclude,
            workers=workers,
            progress=bar.advance,
            on_total=bar.start,
            key=key,
            password=password,
            on_roster_warning=lambda w: _warn(ctx, w),
            forms=known,
            **(run.hooks() if run is not None else {}),
        )
    finally:
        bar.finish()


def _write_feedback(
    ctx: click.Context,
    coll: Any,
    outdir: Path,
    roster: Path | None,
    form: str,
    known: spec.FormSet,
    contact: str,
    review_date: datetime.date | None,
    quiet: bool,
    workers: int | None,
    key: bytes | None,
) -> Any:
    """The returned workbooks of a collection (`feedback.write_feedback`), with a progress bar."""
    from .office.feedback import write_feedback

    bar = _Progress(
        ctx.obj["lang"],
        enabled=not quiet and _is_terminal(),
        label=("生成 {} 个退回工作簿", "writing {} returned workbooks"),
    )
    try:
        return write_feedback(
            coll,
            outdir,
            roster_spec=_load(ctx, form, known) if roster else None,
            contact=contact,
            review_date=review_date,
            key=key,
            forms=known,
            workers=workers,
            progress=bar.advance,
            on_total=bar.start,
        )
    finally:
        bar.finish()


@cli.command()
@click.argument("inbox", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("退回"),
    show_default=True,
    help="The folder to write into (an earlier run's files it no longer needs are removed).",
)
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or XLSX roster (as for `template`): issued values, 未收到 and 催报 list.",
)
@_ROSTER_FORM_OPTION
@_FORMS_OPTION
@_CONTACT_OPTION
@_REVIEW_DATE_OPTION
@_QUIET_OPTION
@_WORKERS_OPTION
@_KEY_OPTION
@_PASSWORD_OPTION
@_PASSWORD_FILE_OPTION
@click.pass_context
def feedback(
    ctx: click.Context,
    inbox: Path,
    outdir: Path,
    roster: Path | None,
    form: str,
    forms_dir: Path | None,
    contact: str,
    review_date: datetime.date | None,
    quiet: bool,
    workers: int | None,
    key_path: Path | None,
    password: str | None,
    password_file: Path | None,
) -> None:
    """Give every unit its workbook back: a fresh template of its form with its values, each
    finding as a note and a mark on its cell, and a first sheet 审核意见; per department a .zip
    and 审核结果.xlsx, and 未报送.xlsx (催报) with --roster. Nothing in INBOX is changed.

    Exit code 0 when no file has errors, 1 when any has (as `collect`).

    \b
    Example:
      perfeval-xl feedback inbox/ -o 退回 --roster roster.csv --contact "绩效股 0812-1234567"
    """
    from .office import collect as collect_mod
    from .office.feedback import check_feedback_dir, feedback_lines

    lang = ctx.obj["lang"]
    try:
        check_feedback_dir(inbox, outdir)
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    known = _forms(ctx, forms_dir)
    with collect_mod.no_gc_pauses(freeze=_process_ends_after_command):
        try:
            key = _key(key_path)
            password = _open_password(password, password_file)
            coll = _collect_inbox(
                ctx, inbox, roster, form, known, (), workers, quiet, key, password
            )
            returned = _write_feedback(
                ctx, coll, outdir, roster, form, known, contact, review_date, quiet, workers, key
            )
        except PerfevalError as exc:
            raise _Failure(exc, lang) from None
    for line in feedback_lines(returned, lang):
        click.echo(display_path(line))
    if coll.errors:
        ctx.exit(1)


def _is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


class _Progress:
    """A progress bar on stderr, only on a terminal: logs and pipes get none. `label` is the
    bar's text in Chinese and English, `{}` standing for the total."""

    def __init__(
        self,
        lang: str,
        enabled: bool,
        label: tuple[str, str] = ("收集 {} 个文件", "collecting {} files"),
    ) -> None:
        self.lang = lang
        self.enabled = enabled
        self.label = Text(*label)
        self.bar = None

    def start(self, total: int) -> None:
        if self.enabled and total:
            import sys  # click 8.2 deprecates click.get_text_stream

            self.bar = click.progressbar(
                length=total,
                label=self.label.render(self.lang).format(total),
                file=sys.stderr,
                show_pos=True,
            )
            self.bar.__enter__()

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@cli.command()
@click.argument("inbox", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("附件.docx"),
    show_default=True,
    help="The Word annex to write (atomically), outside the inbox.",
)
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or XLSX roster (as for `template`): its issued values are the ones published.",
)
@_ROSTER_FORM_OPTION
@_FORMS_OPTION
@click.option("--dept", metavar="CODE", help="Publish the projects of this 主管部门 code only.")
@click.option(
    "--include-errors",
    is_flag=True,
    help="Publish projects whose files have errors too (refused by default).",
)
@click.option("--pdf", is_flag=True, help="Also print the annex as PDF beside it (LibreOffice).")
@_QUIET_OPTION
@_WORKERS_OPTION
@_KEY_OPTION
@_PASSWORD_OPTION
@_PASSWORD_FILE_OPTION
@click.pass_context
def publish(
    ctx: click.Context,
    inbox: Path,
    output: Path,
    roster: Path | None,
    form: str,
    forms_dir: Path | None,
    dept: str | None,
    include_errors: bool,
    pdf: bool,
    quiet: bool,
    workers: int | None,
    key_path: Path | None,
    password: str | None,
    password_file: Path | None,
) -> None:
    """Write the annex a department publishes with its final accounts (附件, 部门决算公开):
    one Word table per project, in its form's layout, grouped by 主管部门. Projects whose files
    have errors are refused (exit code 1, each named) unless --include-errors.

    \b
    Example:
      perfeval-xl publish inbox/ -o 附件2.docx --dept 109101 --pdf
    """
    from .office import collect as collect_mod
    from .office.publish import check_annex_output, write_annex

    lang = ctx.obj["lang"]
    if output.suffix.lower() != ".docx":
        raise click.BadParameter(
            Text("输出文件名须以 .docx 结尾", "must end with .docx").render(lang), param_hint="'-o'"
        )
    try:
        check_annex_output(inbox, output, pdf=pdf)
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    known = _forms(ctx, forms_dir)
    with collect_mod.no_gc_pauses(freeze=_process_ends_after_command):
        try:
            key = _key(key_path)
            secret = _open_password(password, password_file)
            coll = _collect_inbox(ctx, inbox, roster, form, known, (), workers, quiet, key, secret)
            result = write_annex(coll, output, dept=dept, include_errors=include_errors, pdf=pdf)
        except PerfevalError as exc:
            raise _Failure(exc, lang) from None
    for f in result.with_errors:
        _note(
            ctx,
            f"警告: {f.project} 有 {f.errors} 个错误，仍已公开（文件 {f.source}）",
            f"Warning: {f.project} has {f.errors} errors and is published anyway (file {f.source})",
        )
    _say(
        ctx,
        f"已写入 {result.path}：{result.departments} 个主管部门、{result.published} 个项目",
        f"wrote {result.path}: {result.published} projects of {result.departments} departments",
    )
    if result.pdf is not None:
        _say(ctx, f"已写入 {result.pdf}", f"wrote {result.pdf}")
    if coll.unreadable:
        n = len(coll.unreadable)
        _note(
            ctx,
            f"另有 {n} 个文件无法读取，未公开（perfeval-xl check 查看原因）",
            f"{n} more file{'s' if n > 1 else ''} could not be read and are not published "
            "(perfeval-xl check says why)",
        )


@cli.command()
@click.argument(
    "directory", type=click.Path(path_type=Path, file_okay=False), default=Path("perfeval-demo")
)
@click.pass_context
def demo(ctx: click.Context, directory: Path) -> None:
    """Run the whole workflow on the built-in sample data (the seed form's three projects):
    roster → templates → filled copies → collect → summary and returned workbooks.

    \b
    Example:
      perfeval-xl demo perfeval-demo
    """
    from .demo import run_demo

    try:
        result = run_demo(directory)
    except PerfevalError as exc:
        raise _Failure(exc, ctx.obj["lang"]) from None
    coll = result.collection
    _say(ctx, f"名册：{result.roster}", f"roster: {result.roster}")
    _say(
        ctx,
        f"预填模板（财政部门下发）：{len(result.templates)} 个，在 {result.templates[0].parent}",
        f"templates issued: {len(result.templates)} in {result.templates[0].parent}",
    )
    _say(
        ctx,
        f"单位填好的工作簿：{len(result.filled)} 个，在 {result.filled[0].parent}",
        f"filled workbooks: {len(result.filled)} in {result.filled[0].parent}",
    )
    _say(
        ctx,
        f"已读取 {len(coll.projects)} 个项目；{coll.errors} 个错误，{coll.warnings} 个警告；{len(coll.missing)} 个项目未收到",
        f"{len(coll.projects)} projects read; {coll.errors} errors, {coll.warnings} warnings; {len(coll.missing)} projects not received",
    )
    _say(ctx, f"部门汇总：{result.summary}", f"summary: {result.summary}")
    back = result.returned
    _say(
        ctx,
        f"退回各单位的工作簿：{back.returned} 个，在 {back.outdir}（按主管部门分文件夹和压缩包）",
        f"workbooks returned to the units: {back.returned} in {back.outdir} (a folder and a .zip "
        "per department)",
    )
    _say(
        ctx,
        f"决算公开附件：{result.annex}（每个项目一张表格；有错误的项目照常公开，仅供演示）",
        f"disclosure annex: {result.annex} (a table per project; published with their errors, "
        "for the demo only)",
    )
    _say(
        ctx,
        f"查看问题：perfeval-xl check {result.filled[0].parent}/*.xlsx",
        f"see the findings: perfeval-xl check {result.filled[0].parent}/*.xlsx",
    )


@cli.command()
@click.argument("workspace", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--roster",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or XLSX roster (as for `template`): the units and their projects.",
)
@_ROSTER_FORM_OPTION
@_FORMS_OPTION
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The office's key file: templates are signed, uploads verified.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--base-url",
    help="The address units reach the server by, for the links.  [default: http://HOST:PORT]",
)
@click.option(
    "--max-upload-mb",
    default=20,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Largest upload accepted, in MiB.",
)
@click.option(
    "--office-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Set the office's login password from this file (kept only as a hash); without it, "
    "one is made and printed at the first start.",
)
@click.option(
    "--new-link",
    "new_link",
    metavar="UNIT",
    help="Replace this unit's link (its old link stops working) and exit.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    workspace: Path,
    roster: Path,
    form: str,
    forms_dir: Path | None,
    key_path: Path | None,
    host: str,
    port: int,
    base_url: str | None,
    max_upload_mb: int,
    office_password_file: Path | None,
    new_link: str | None,
) -> None:
    """Serve the units' upload pages on the office's intranet.

    Each 实施单位 of the roster gets its own link (written to WORKSPACE/links.csv, for the
    office to send); on its page a unit downloads its pre-filled templates, uploads its filled
    workbooks and sees every finding and its score at once. Accepted uploads go to
    WORKSPACE/inbox, which `collect` reads.

    \b
    Example:
      perfeval-xl serve 2022报送 --roster projects.xlsx --host 0.0.0.0
    """
    lang = ctx.obj["lang"]
    try:
        from .web.app import Settings, check_address, create_app
        from .web.workspace import Workspace, units_of
    except ImportError as exc:  # the web extra is not installed
        raise click.ClickException(
            Text(
                f"网页报送需要另外安装：pip install 'perfeval-xl[web]'（{exc.name}）",
                f"the web pages need: pip install 'perfeval-xl[web]' ({exc.name})",
            ).render(lang)
        ) from None
    from .office.roster import load_roster

    known = _forms(ctx, forms_dir)
    sheet_spec = _load(ctx, form, known)
    url = base_url or f"http://{host}:{port}"
    ws = Workspace(workspace)
    try:
        key = _key(key_path)
        password = _open_password(None, office_password_file) if office_password_file else None
        if password is not None and not password.strip():
            raise OutputError(
                office_password_file,
                Text("密码文件是空的：请写入登录密码", "the password file is empty"),
            )
        rows = load_roster(roster, sheet_spec).rows
        units = units_of(rows)
        check_address(host, port)
        ws.lock()
        try:
            if new_link is not None:
                link = ws.new_link(units, new_link, url)
                _say(ctx, f"新链接：{link}（已写入 {ws.root / 'links.csv'}）", f"new link: {link}")
                return
            links = ws.links(units, url)
            made = None
            if password is not None:
                ws.set_password(password)
            elif not ws.has_password():
                made = secrets.token_urlsafe(12)
                ws.set_password(made)
        except BaseException:
            ws.close()
            raise
    except PerfevalError as exc:
        raise _Failure(exc, lang) from None
    settings = Settings(
        workspace=ws,
        units=units,
        links=links,
        spec=sheet_spec,
        roster=roster,
        forms=known,
        key=key,
        max_upload=max_upload_mb * 1024 * 1024,
    )
    if made is not None:
        _say(
            ctx,
            f"财政部门登录密码：{made}（只显示这一次，请妥善保存；可用 --office-password-file 另设）",
            f"the office's login password: {made} (shown this once; keep it safe; set another "
            "with --office-password-file)",
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            Text(
                f"警告：服务对 {host} 开放。请确认单位网络的访问控制（防火墙）只允许内网访问本机 {port} 端口。",
                f"Warning: serving on {host}. Make sure the office network's rules let only the "
                f"intranet reach port {port} of this computer.",
            ).render(lang),
            err=True,
        )
    if ws.unacknowledged:
        n = len(ws.unacknowledged)
        _say(
            ctx,
            f"上次服务中断时有 {n} 个上传已保存但未确认（单位未收到答复），已从收件箱移到 "
            f"{ws.root / 'unacknowledged'}，不计入汇总",
            f"{n} upload(s) saved but never acknowledged when the server last stopped were moved "
            f"out of the inbox to {ws.root / 'unacknowledged'}; they are not collected",
        )
    _say(
        ctx,
        f"各单位的报送链接：{ws.root / 'links.csv'}（{len(units)} 个单位）；收到的文件在 {ws.inbox}",
        f"the units' links: {ws.root / 'links.csv'} ({len(units)} units); uploads go to {ws.inbox}",
    )
    _say(
        ctx,
        f"服务地址：{url}；财政部门页面：{url}/office（按 Ctrl+C 停止）",
        f"serving at {url}; the office's pages: {url}/office (Ctrl+C stops)",
    )
    import uvicorn

    from .workers import pool

    # uploads are checked on every core; the pages stay served meanwhile
    with pool(os.cpu_count() or 1) as settings.pool:
        try:
            uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        finally:
            ws.close()


#: True when this process runs one command and ends (`main`), not when a caller invokes the
#: commands (tests, scripts): only then may a command leave objects to the process's end.
_process_ends_after_command = False


def main() -> None:
    """Console-script entry point."""
    global _process_ends_after_command
    _process_ends_after_command = True
    cli()
