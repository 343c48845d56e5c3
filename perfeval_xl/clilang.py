"""The command line in the users' language: Chinese by default, English with `--lang en`.

- The language is known before click parses anything (`lang_from`): the last `--lang zh|en`
  on the command line (before `--`, before or after the command's name), else the environment
  variable PERFEVAL_XL_LANG, else Chinese. Help, usage lines and usage errors come before or
  during parsing, so they cannot wait for the option's value.
- Help texts are written in English in cli.py; `Command` and `Group` show their Chinese from
  `clitext.ZH`, and `HelpFormatter` lays Chinese out by display width (a Chinese character
  takes two columns; click counts characters, and breaks lines at spaces only).
- click's own words (Usage:, Options:, its usage errors) come from gettext, bound in click's
  modules at import as `_` and `ngettext`. While a command line runs (`speaking`), those two
  names in click's loaded modules are bound to functions that answer from `clitext.CLICK` in
  Chinese and defer to gettext otherwise; the originals are put back when the run ends, however
  it ends. The language is a context variable, so other threads, and click programs run outside
  `speaking`, see click unchanged.
- Every command also takes `--lang` after its name (`perfeval-xl check --lang en …`).
"""

from __future__ import annotations

import copy
import gettext
import inspect
import os
import sys
import threading
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import click

from .clitext import CLICK, CLICK_KINDS, CLICK_METAVARS, ZH

LANGS = ("zh", "en")
ENV = "PERFEVAL_XL_LANG"
LANG_HELP = "Language of messages (env PERFEVAL_XL_LANG)."

#: The language of the command line running in this context; None outside `speaking`.
_LANG: ContextVar[str | None] = ContextVar("perfeval_xl_lang", default=None)


def lang_from(args: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The language a command line asks for: its last valid `--lang` (`--lang en` or
    `--lang=en`, anywhere before `--`), else PERFEVAL_XL_LANG, else "zh". An invalid value is
    passed over here; click reports it when it parses."""
    chosen = None
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang":
            value = args[i + 1] if i + 1 < len(args) else None
        elif arg.startswith("--lang="):
            value = arg.partition("=")[2]
        else:
            continue
        if value in LANGS:
            chosen = value
    if chosen is not None:
        return chosen
    env = (os.environ if environ is None else environ).get(ENV)
    return env if env in LANGS else "zh"


def _zh() -> bool:
    return _LANG.get() == "zh"


# -- click's own words -------------------------------------------------------------------------
class _Message(str):
    """One of click's messages in Chinese. Where click puts the name of a kind of value into
    it (`{name}` of a path, `{number_type}`), that name is put in Chinese too."""

    kinds: tuple[str, ...] = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        for key in self.kinds:
            if isinstance(kwargs.get(key), str):
                kwargs[key] = CLICK_KINDS.get(kwargs[key], kwargs[key])
        return str(self).format(*args, **kwargs)


def _chinese(msgid: str) -> _Message | None:
    text = CLICK.get(msgid)
    if text is None:
        return None
    message = _Message(text)
    message.kinds = tuple(
        key
        for key, is_kind in (
            ("name", msgid.startswith("{name} {filename!r}")),
            ("number_type", "{number_type}" in msgid),
        )
        if is_kind
    )
    return message


def _gettext(message: str) -> str:
    if _zh():
        chinese = _chinese(message)
        if chinese is not None:
            return chinese
    return gettext.gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    if _zh():
        chinese = _chinese(singular if n == 1 else plural)
        if chinese is not None:
            return chinese
    return gettext.ngettext(singular, plural, n)


_lock = threading.Lock()
_runs = 0
_rebound: list[tuple[Any, str, Any]] = []


def _rebind() -> list[tuple[Any, str, Any]]:
    """Bind `_` and `ngettext` to ours in every loaded click module where they are gettext's;
    return what was replaced, to put back."""
    ours = {"_": (gettext.gettext, _gettext), "ngettext": (gettext.ngettext, _ngettext)}
    done = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("click."):
            continue
        names = vars(module)
        for name, (original, replacement) in ours.items():
            if names.get(name) is original:
                setattr(module, name, replacement)
                done.append((module, name, original))
    return done


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Run a command line in `lang`: help texts and click's words in it, until the block ends."""
    global _runs
    token = _LANG.set(lang)
    with _lock:
        if _runs == 0:
            _rebound[:] = _rebind()
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                for module, name, original in _rebound:
                    setattr(module, name, original)
                _rebound.clear()
        _LANG.reset(token)


# -- help texts --------------------------------------------------------------------------------
def zh_help(text: str | None) -> str | None:
    """The Chinese of a help text (`clitext.ZH`), when the command line speaks Chinese."""
    if not text or not _zh():
        return None
    chinese = ZH.get(text)
    if chinese is None:
        key = inspect.cleandoc(text)
        chinese = next((v for k, v in ZH.items() if inspect.cleandoc(k) == key), None)
    return None if chinese is None else inspect.cleandoc(chinese)


def _in_chinese(param: click.Parameter) -> click.Parameter:
    """`param` itself, or a copy of it whose help is Chinese (the declared one stays as it is)."""
    chinese = zh_help(getattr(param, "help", None))
    if chinese is None:
        return param
    twin = copy.copy(param)
    twin.help = chinese  # type: ignore[attr-defined]
    return twin


def _short(text: str, limit: int) -> str:
    """A command's line in the list of commands: its first sentence, else the part before its
    first colon, else the sentence cut to `limit` columns."""
    first = text.split("\n\n")[0]
    sentence = _join_lines(first.splitlines()).split("。")[0]
    if width(sentence) > limit and "：" in sentence:
        sentence = sentence.split("：")[0]
    if width(sentence) > limit:
        while sentence and width(sentence) > limit - 1:
            sentence = sentence[:-1]
        sentence += "…"
    return sentence


def _chosen(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """`--lang` after a command's name: it is the language of the run from here on."""
    if value is not None:
        if _LANG.get() is not None:  # inside `speaking`, which puts the language back
            _LANG.set(value)
        ctx.ensure_object(dict)["lang"] = value


def lang_option() -> click.Option:
    """The `--lang` every command takes after its name (its value goes to `ctx.obj["lang"]`)."""
    return click.Option(
        ["--lang"],
        type=click.Choice(LANGS),
        expose_value=False,
        callback=_chosen,
        help=LANG_HELP,
    )


# -- layout by display width -------------------------------------------------------------------
def width(text: str) -> int:
    """Columns `text` takes on a terminal: two for a wide (Chinese, full-width) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


#: No line starts with these, and none ends with the opening ones.
_CLOSING = frozenset("，。、；：！？）」』”’》〉】…,.;:!?)]}%")
_OPENING = frozenset("（「『“‘《〈【([{")


def _join_lines(lines: Sequence[str]) -> str:
    """A paragraph's lines as one: joined by a space, except between two wide characters."""
    out = ""
    for line in lines:
        line = line.strip()
        if out and line:
            out += "" if _wide(out[-1]) and _wide(line[0]) else " "
        out += line
    return out


def _units(text: str) -> list[str]:
    """The pieces a line may break between: each wide character, each run of narrow ones and
    each run of spaces; a closing mark stays with what precedes it, an opening one with what
    follows."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if _wide(ch):
            if word:
                tokens.append(word)
            tokens.append(ch)
            word = ""
        elif word and ch.isspace() != word[0].isspace():
            tokens.append(word)
            word = ch
        else:
            word += ch
    if word:
        tokens.append(word)
    units: list[str] = []
    for token in tokens:
        glued = token[0] in _CLOSING or (units and units[-1][-1] in _OPENING)
        if units and glued and not token.isspace() and not units[-1].isspace():
            units[-1] += token
            continue
        units.append(token)
    return units


def _fill(text: str, limit: int, initial: str = "", subsequent: str = "") -> str:
    """`text` wrapped to `limit` columns, first line after `initial`, the others after
    `subsequent`; a piece wider than a line stands on a line of its own."""
    lines: list[str] = []
    line, used, empty, gap = initial, width(initial), True, ""
    for unit in _units(text):
        if unit.isspace():
            gap = "" if empty else unit
            continue
        if not empty and used + len(gap) + width(unit) > limit:
            lines.append(line)
            line, used, empty, gap = subsequent, width(subsequent), True, ""
        line += gap + unit
        used += len(gap) + width(unit)
        empty, gap = False, ""
    lines.append(line)
    return "\n".join(x.rstrip() for x in lines)


def _wrap(
    text: str,
    limit: int,
    initial: str = "",
    subsequent: str = "",
    preserve_paragraphs: bool = False,
) -> str:
    """click's `formatting.wrap_text`, by display width: paragraphs apart, a paragraph after a
    line of `\\b` as it is."""
    text = text.expandtabs()
    if not preserve_paragraphs:
        return _fill(_join_lines(text.splitlines()), limit, initial, subsequent)
    paragraphs: list[tuple[int, bool, list[str]]] = []
    buf: list[str] = []
    indent: int | None = None

    def flush() -> None:
        if buf:
            raw = buf[0].strip() == "\b"
            paragraphs.append((indent or 0, raw, buf[1:] if raw else buf[:]))
            buf.clear()

    for line in text.splitlines():
        if not line:
            flush()
            indent = None
        else:
            if indent is None:
                stripped = line.lstrip()
                indent, line = len(line) - len(stripped), stripped
            buf.append(line)
    flush()
    out = []
    for extra, raw, lines in paragraphs:
        first, rest = initial + " " * extra, subsequent + " " * extra
        if raw:
            out.append("\n".join((rest if i else first) + x for i, x in enumerate(lines)))
        else:
            out.append(_fill(_join_lines(lines), limit, first, rest))
    return "\n\n".join(out)


class HelpFormatter(click.HelpFormatter):
    """click's help layout; in Chinese, measured in display columns, with Chinese headings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zh = _zh()

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if not self.zh:
            return super().write_usage(prog, args, prefix)
        if prefix is None:
            prefix = CLICK["Usage:"]
        head = " " * max(self.current_indent - width(prefix), 0) + prefix + prog
        if not args:
            self.write(head + "\n")
            return
        head += " "
        text_width = self.width - self.current_indent
        if text_width >= width(head) + 20:
            self.write(_wrap(args, text_width, head, " " * width(head)))
        else:
            self.write(head.rstrip() + "\n")
            indent = " " * (max(self.current_indent, width(prefix)) + 4)
            self.write(_wrap(args, text_width, indent, indent))
        self.write("\n")

    def write_heading(self, heading: str) -> None:
        if not self.zh:
            return super().write_heading(heading)
        self.write(f"{'':>{self.current_indent}}{heading}：\n")

    def write_text(self, text: str) -> None:
        if not self.zh:
            return super().write_text(text)
        indent = " " * self.current_indent
        self.write(_wrap(text, self.width, indent, indent, preserve_paragraphs=True))
        self.write("\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        if not self.zh:
            return super().write_dl(rows, col_max, col_spacing)
        rows = list(rows)
        first_col = min(max((width(r[0]) for r in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - 2, 10)
            lines = _wrap(second, text_width, preserve_paragraphs=True).splitlines()
            self.write(f"{lines[0] if lines else ''}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class _MissingParameter(click.MissingParameter):
    """click's MissingParameter, in Chinese: `缺少参数 FILES...`."""

    def __init__(self, exc: click.MissingParameter) -> None:
        super().__init__(exc.message or None, exc.ctx, exc.param, exc.param_hint, exc.param_type)

    def format_message(self) -> str:
        hint: Any = self.param_hint
        if hint is None and self.param is not None:
            hint = self.param.get_error_hint(self.ctx)
        if hint is not None and not isinstance(hint, str):
            hint = " / ".join(hint)
        kind = self.param_type or (self.param.param_type_name if self.param else "parameter")
        missing = _gettext(
            {"argument": "Missing argument", "option": "Missing option"}.get(
                kind, "Missing parameter"
            )
        )
        parts = [f"{missing} {(hint or '').replace(chr(39), '')}".strip()]
        if self.message:
            parts.append(self.message)
        if self.param is not None:
            extra = self.param.type.get_missing_message(param=self.param, ctx=self.ctx)
            if extra:
                parts.append(extra)
        return "；".join(parts)


class Context(click.Context):
    """click's context, laying help out with `HelpFormatter`."""

    formatter_class = HelpFormatter


class _Speaking:
    """What `Command` and `Group` share: the run in its language, help in Chinese."""

    context_class = Context

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        # args stay None for click: on Windows it then expands wildcards (outbox\*.xlsx)
        with speaking(lang_from(sys.argv[1:] if args is None else args)):
            return super().main(args, *rest, **kwargs)  # type: ignore[misc]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        except click.MissingParameter as exc:
            if not _zh() or type(exc) is not click.MissingParameter:
                raise
            raise _MissingParameter(exc) from None

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [CLICK_METAVARS.get(p, p) for p in pieces] if _zh() else pieces

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        chinese = zh_help(self.help)  # type: ignore[attr-defined]
        if chinese is None:
            return super().format_help_text(ctx, formatter)  # type: ignore[misc]
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(chinese)

    def get_short_help_str(self, limit: int = 45) -> str:
        chinese = zh_help(self.short_help or self.help)  # type: ignore[attr-defined]
        if chinese is None:
            return super().get_short_help_str(limit)  # type: ignore[misc]
        return _short(chinese, limit)

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not _zh():
            return super().format_arguments(ctx, formatter)  # type: ignore[misc]
        args = [p for p in self.get_params(ctx) if isinstance(p, click.Argument)]  # type: ignore[attr-defined]
        if any(arg.help is not None for arg in args):
            with formatter.section(_gettext("Positional arguments")):
                formatter.write_dl([_in_chinese(arg).get_help_record(ctx) for arg in args])

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not _zh():
            return super().format_options(ctx, formatter)  # type: ignore[misc]
        rows = []
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if not isinstance(param, click.Argument):
                record = _in_chinese(param).get_help_record(ctx)
                if record is not None:
                    rows.append(record)
        if rows:
            with formatter.section(_gettext("Options")):
                formatter.write_dl(rows)
        if isinstance(self, click.Group):
            self.format_commands(ctx, formatter)


class Command(_Speaking, click.Command):
    """A command of perfeval-xl: its help in the run's language, and `--lang` after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(p.name == "lang" for p in self.params):
            self.params.append(lang_option())


class Group(_Speaking, click.Group):
    """The `perfeval-xl` group: its commands are `Command`s."""

    command_class = Command
