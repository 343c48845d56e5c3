"""The office's project roster (CSV or XLSX): one row per project, what the office already knows.

Column headers are contract names without `pe_` (`project_name`, `fund_fiscal_budget`), their
Chinese labels from the spec (项目名称, 当年财政拨款全年预算数), or the spec's aliases for them
(`[roster.aliases]`: 部门编码, 预算单位 … as budget systems export them). Other columns (序号,
备注 …) are ignored with one warning naming them; the unit's contact (联系人, 联系电话:
`CONTACT_COLUMNS`) is kept apart from the values issued. The roster is checked completely
before anything is written, and every problem names its row and column (by the form's Chinese name),
so a clerk can fix the whole file in one go and never ends up with half an outbox.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from ..errors import RosterError, RosterErrors, Text
from ..fileio import safe_file_stem, unique_stem
from ..forms.normalize import is_blank
from ..forms.spec import Spec, issuable_fields, roster_key
from ..template.generate import YEAR_RANGE

#: Columns every roster row needs: they make the file name and identify the project.
REQUIRED_COLUMNS = ("dept_code", "unit_name", "project_name")
#: ... for a department form (部门整体: one per department, no project or unit)
REQUIRED_DEPARTMENT_COLUMNS = ("dept_code",)


def required_columns(spec: Spec) -> tuple[str, ...]:
    """The columns a roster for `spec` must have."""
    return REQUIRED_DEPARTMENT_COLUMNS if spec.department else REQUIRED_COLUMNS


#: Most problems reported at once; more would drown the clerk.
MAX_REPORTED = 50

#: Optional columns with whom to call at a unit about its report (催报), by key in
#: `RosterRow.contact`, and the headers that name them (matched by `roster_key`, as every
#: header). Why apart from the spec's fields: the form has no cell for them, so they are never
#: issued into a template nor compared by `collect`; the office only needs them for the list of
#: units still to remind. Budget systems and clerks' own sheets call them many ways, hence the
#: aliases. A spec field that uses one of these headers (its name, label or an alias) keeps it:
#: the contact then is not read from that column, and no header becomes ambiguous.
CONTACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "contact_name": ("contact_name", "联系人", "联系人姓名", "填报人", "经办人"),
    "contact_phone": ("contact_phone", "联系电话", "电话", "手机", "手机号", "联系方式"),
}


@dataclass(frozen=True)
class RosterRow:
    """One project of the roster: its line in the file, the values to issue, by field name, and
    the unit's contact (`contact_name`, `contact_phone`: text, only those the row gives), which
    is never issued and only says whom to call about a missing report."""

    line: int
    values: dict[str, Any]
    contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RosterWarning:
    """Something about the roster worth telling the clerk that stops nothing (columns it
    ignored); names the file, the row and the column as a `RosterError` does."""

    path: str
    text: Text
    row: int | None = None
    column: str | None = None

    def render(self, lang: str = "zh") -> str:
        return RosterError(self.path, self.text, self.row, self.column).render(lang)


@dataclass(frozen=True)
class Roster:
    """A roster read and checked: its projects, in file order, and the warnings about it."""

    rows: list[RosterRow]
    warnings: list[RosterWarning]


def read_roster(path: Path | str, spec: Spec) -> list[RosterRow]:
    """Read and check a roster for `spec`: `load_roster(path, spec).rows` (without the
    warnings).

    Returns:
        The projects, in file order; blank lines are skipped.

    Raises:
        RosterError: the file cannot be read or has no header.
        RosterErrors: one or more rows or columns are wrong (all of them are listed).
    """
    return load_roster(path, spec).rows


def load_roster(path: Path | str, spec: Spec) -> Roster:
    """Read and check a roster for `spec`, with the warnings a caller shows the clerk (the
    columns that were ignored).

    Raises:
        RosterError: the file cannot be read or has no header.
        RosterErrors: one or more rows or columns are wrong (all of them are listed).
    """
    path = Path(path)
    table, unreadable = _read_table(path)
    if unreadable and (not table or unreadable[0].line <= table[0][0]):
        # the header itself (or what comes before it) cannot be read
        raise RosterErrors([r.error(path, [], {}) for r in unreadable[:MAX_REPORTED]])
    if not table:
        raise RosterError(path, Text("名册为空，没有表头行", "the roster is empty (no header row)"))
    header_line, header = table[0]
    fields = issuable_fields(spec)
    columns, contact_columns, warnings = _map_header(path, header_line, header, spec, fields)
    shown = {i: _field_column(header, i, fields[name]) for i, name in columns.items()}
    errors: list[RosterError] = [r.error(path, header, shown) for r in unreadable]
    rows: list[RosterRow] = []
    for line, cells in table[1:]:
        if all(is_blank(c) for c in cells):
            continue
        values: dict[str, Any] = {}
        for index, name in columns.items():
            raw = cells[index] if index < len(cells) else None
            if is_blank(raw):
                if name in required_columns(spec):
                    empty = Text("不能为空", "must not be empty")
                    errors.append(RosterError(path, empty, line, shown[index]))
                continue
            try:
                values[name] = _convert(name, raw, spec)
            except ValueError as exc:
                errors.append(RosterError(path, exc.args[0], line, shown[index]))
        contact: dict[str, str] = {}
        for index, key in contact_columns.items():
            raw = cells[index] if index < len(cells) else None
            if not is_blank(raw) and (text := _contact_text(raw)):
                contact[key] = f"{contact[key]} / {text}" if key in contact else text
        rows.append(RosterRow(line, values, contact))
    errors.extend(_duplicates(path, rows, {name: shown[i] for i, name in columns.items()}))
    if errors:
        raise RosterErrors(sorted(errors, key=lambda e: e.row or 0)[:MAX_REPORTED])
    return Roster(rows, warnings)


def template_file_stems(rows: list[RosterRow]) -> list[str]:
    """The file name (without `.xlsx`) of each row's template, as `template --roster` names it:
    `<主管部门代码>_<实施单位>_<项目名称>`, made safe for Windows, `_2` … for a name taken by an
    earlier row. `collect` knows by it which row a file it cannot read was sent for."""
    taken: set[str] = set()
    return [unique_stem(safe_file_stem(_stem(r.values)), taken) for r in rows]


def _stem(values: dict[str, Any]) -> str:
    code, unit, project = (values.get(k, "") for k in ("dept_code", "unit_name", "project_name"))
    if not unit and not project:  # a department form's row: `<主管部门代码>_<主管部门>`
        return f"{code}_{values.get('dept_name', '')}"
    return f"{code}_{unit}_{project}"


@dataclass(frozen=True)
class _Unreadable:
    """A CSV record the csv module refused: its line, and the column it stopped in if known."""

    line: int
    index: int | None
    text: Text

    def error(self, path: Path, header: list[Any], shown: dict[int, str]) -> RosterError:
        """The error, its column named as the form names it when the header was read."""
        column = None
        if self.index is not None:
            column = shown.get(self.index) or _column(header, self.index)
        return RosterError(path, self.text, self.line, column)


def _read_table(path: Path) -> tuple[list[tuple[int, list[Any]]], list[_Unreadable]]:
    """Rows of the first sheet (xlsx) or the file (csv), with their 1-based line numbers, and
    the CSV records that could not be read at all."""
    suffix = path.suffix.lower()
    if path.is_dir() or not path.exists():
        raise RosterError(path, Text("找不到名册文件", "roster file not found"))
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".xlsx":
        return _read_xlsx(path), []
    raise RosterError(
        path, Text("名册须为 .csv 或 .xlsx 文件", "the roster must be a .csv or .xlsx file")
    )


def _read_csv(path: Path) -> tuple[list[tuple[int, list[Any]]], list[_Unreadable]]:
    lines = io.StringIO(_decode_csv(path, path.read_bytes()), newline="").readlines()
    source = _Lines(lines)
    reader = csv.reader(source)
    rows: list[tuple[int, list[Any]]] = []
    unreadable: list[_Unreadable] = []
    while True:
        first = source.taken
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Raised for a field over csv.field_size_limit() (131,072 characters): no roster
            # value is that long, and the limit stays as it is for everyone else in the process.
            limit = csv.field_size_limit()
            index, end = _scan_record(lines, first, limit)
            text = (
                Text(f"内容超过 {limit} 个字符，无法读取", f"longer than {limit} characters")
                if index is not None
                else Text(f"CSV 格式有误（{exc}）", f"not valid CSV ({exc})")
            )
            source.taken = max(source.taken, end)  # go on after the record
            unreadable.append(_Unreadable(source.taken, index, text))  # its last line, as csv
            continue
        rows.append((source.taken, cells))
    return _drop_leading_blank(rows), unreadable


class _Lines:
    """The lines of a CSV file for csv.reader, counting those taken (csv's `line_num` would
    miss the lines of a record that is skipped after an error)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.taken = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.taken >= len(self.lines):
            raise StopIteration
        self.taken += 1
        return self.lines[self.taken - 1]


def _scan_record(lines: list[str], start: int, limit: int) -> tuple[int | None, int]:
    """For the CSV record starting at `lines[start]` (csv's default dialect): the index of its
    first field longer than `limit` characters (None if none), and the index of the line after
    the record."""
    index: int | None = None
    field, length, quoted, at_start = 0, 0, False, True
    i = start
    while i < len(lines):
        line = lines[i]
        i += 1
        j = 0
        while j < len(line):
            ch = line[j]
            if quoted:
                if ch != '"':
                    length += 1
                elif line[j + 1 : j + 2] == '"':
                    length += 1
                    j += 1
                else:
                    quoted = False
            elif ch == '"' and at_start:
                quoted = True
            elif ch == ",":
                field, length = field + 1, 0
                at_start = True
                j += 1
                continue
            elif ch in "\r\n":
                return index, i
            else:
                length += 1
            at_start = False
            if index is None and length > limit:
                index = field
            j += 1
        if not quoted:
            break
    return index, i


def _decode_csv(path: Path, data: bytes) -> str:
    """The text of a CSV file: UTF-8 (with or without a BOM), else GBK (GB18030).

    Excel on a Chinese Windows saves "CSV" in GBK; everything else writes UTF-8. A file that is
    partly each (UTF-8 rows appended to in a GBK editor, or the reverse) is refused: decoded
    either way, some of its names would be garbled without anyone noticing."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    utf8, gbk = _line_encodings(data)
    if utf8 and gbk:
        raise RosterError(path, _mixed_encodings(utf8, gbk))
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        line = len(_LINE_BREAK.findall(data, 0, exc.start)) + 1
        raise RosterError(
            path,
            Text(
                f"无法识别文件编码（第 {line} 行既不是 UTF-8 也不是 GBK）；请另存为 UTF-8 或 ANSI/GBK",
                f"unknown text encoding (line {line} is neither UTF-8 nor GBK); "
                "save it as UTF-8 or ANSI/GBK",
            ),
        ) from None


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")  # as csv counts lines; no GBK byte is CR or LF
_BOM = b"\xef\xbb\xbf"


def _line_encodings(data: bytes) -> tuple[list[int], list[int]]:
    """Line numbers of the lines that are surely UTF-8, and of those that are only GB18030.

    A short GBK line is valid UTF-8 now and then (one or two Chinese characters as Latin or
    Cyrillic letters), never as a character from U+0800 on (all of CJK): a UTF-8 line counts
    only with such a character, a BOM, or bytes that are not GB18030."""
    utf8: list[int] = []
    gbk: list[int] = []
    for number, line in enumerate(_LINE_BREAK.split(data), start=1):
        bom = number == 1 and line.startswith(_BOM)
        if bom:
            line = line[len(_BOM) :]
        if line.isascii():
            if bom:
                utf8.append(number)
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                line.decode("gb18030")
            except UnicodeDecodeError:
                continue  # neither: reported as such when the file is decoded
            gbk.append(number)
            continue
        if bom or any(ord(c) >= 0x800 for c in text) or not _is_gb18030(line):
            utf8.append(number)
    return utf8, gbk


def _is_gb18030(data: bytes) -> bool:
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _mixed_encodings(utf8: list[int], gbk: list[int]) -> Text:
    def zh(lines: list[int]) -> str:
        shown = "、".join(map(str, lines[:_SHOWN_LINES]))
        return shown if len(lines) <= _SHOWN_LINES else f"{shown} 等共 {len(lines)}"

    def en(lines: list[int]) -> str:
        shown = ", ".join(map(str, lines[:_SHOWN_LINES]))
        more = len(lines) - _SHOWN_LINES
        return shown if more <= 0 else f"{shown} and {more} more"

    return Text(
        f"名册各行的编码不一致：第 {zh(utf8)} 行是 UTF-8，第 {zh(gbk)} 行是 GBK（ANSI），"
        "多半是用另一个软件追加了行。请统一为一种编码后另存（另存为 UTF-8 或 ANSI/GBK），"
        "显示为乱码的行须重新录入",
        f"the roster mixes text encodings: lines {en(utf8)} are UTF-8, lines {en(gbk)} are "
        "GBK (ANSI), probably rows appended in another program; save it in one encoding "
        "(Save As UTF-8 or ANSI/GBK) and retype the rows that show garbled text",
    )


#: Line numbers named in a message about encodings, before "and N more".
_SHOWN_LINES = 5


def _read_xlsx(path: Path) -> list[tuple[int, list[Any]]]:
    import openpyxl  # imported here: the CSV path and the CLI's start-up do not need it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            ws.reset_dimensions()  # WPS writes wrong <dimension> elements
            rows = [
                (i, [_xlsx_text(c) for c in r])
                for i, r in enumerate(ws.iter_rows(values_only=True), start=1)
            ]
        finally:
            wb.close()
    # SyntaxError: XML that is not well-formed (a raw control character in a cell, among others)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, IndexError, SyntaxError) as exc:
        raise RosterError(
            path, Text(f"无法作为 xlsx 读取（{exc}）", f"cannot be read as xlsx ({exc})")
        ) from None
    return _drop_leading_blank(rows)


#: How Excel and xlsxwriter store a control character in a cell (`_x001B_`); openpyxl's
#: read-only mode gives it back as these seven characters, not as the character.
_XLSX_CONTROL = re.compile(r"_x(00[01][0-9A-Fa-f]|007[Ff]|00[89][0-9A-Fa-f])_")


def _xlsx_text(value: Any) -> Any:
    if isinstance(value, str) and "_x" in value:
        return _XLSX_CONTROL.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def _drop_leading_blank(rows: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    while rows and all(is_blank(c) for c in rows[0][1]):
        rows.pop(0)
    return rows


def _map_header(
    path: Path, line: int, header: list[Any], spec: Spec, fields: dict[str, str]
) -> tuple[dict[int, str], dict[int, str], list[RosterWarning]]:
    """Column index -> field name, column index -> contact key (`CONTACT_COLUMNS`), and a
    warning naming the columns that were ignored.

    A header is a field's name, its label or one of the spec's aliases for it (`roster_key`
    decides what counts as the same header), or a contact header no field uses (two columns of
    one contact, 联系电话 and 手机, are both kept). Other columns are ignored; a header that
    could mean two fields, two columns for one field, and a missing required column are errors,
    all reported at once (with the ignored columns, which may explain a missing one)."""
    known = _known_headers(spec, fields)
    contacts = _contact_headers(known)
    errors: list[RosterError] = []
    columns: dict[int, str] = {}
    contact_columns: dict[int, str] = {}
    ignored: list[Any] = []
    for index, cell in enumerate(header):
        if is_blank(cell):
            continue
        names = list(known.get(roster_key(cell), {}))
        if not names and (key := contacts.get(roster_key(cell))):
            # 联系电话 and 手机 side by side are both worth a call: kept, joined by " / "
            contact_columns[index] = key
        elif not names:
            ignored.append(cell)
        elif len(names) > 1:
            both = "、".join(f"{fields[n]}（{n}）" for n in names)
            both_en = ", ".join(f"{fields[n]} ({n})" for n in names)
            errors.append(
                RosterError(
                    path,
                    Text(
                        f"列名不明确：可指 {both}；请改用其中一个的列名",
                        f"ambiguous header: it may mean {both_en}; use the name of one",
                    ),
                    line,
                    _shown(cell),
                )
            )
        elif names[0] in columns.values():
            name = names[0]
            first = next(i for i, n in columns.items() if n == name)
            errors.append(_duplicate_column(path, line, cell, header[first], fields[name]))
        else:
            columns[index] = names[0]
    for name in required_columns(spec):
        if name not in columns.values():
            other = "、".join([name, *spec.roster_aliases.get(name, ())])
            other_en = ", ".join([name, *spec.roster_aliases.get(name, ())])
            errors.append(
                RosterError(
                    path,
                    Text(
                        f"缺少必需的列「{fields[name]}」（列名也可用 {other}）",
                        f"required column missing: {fields[name]} (or named {other_en})",
                    ),
                    line,
                    fields[name],
                )
            )
    # "did you mean" only a field no column gives yet
    free = {k: v for k, v in known.items() if not set(v) & set(columns.values())}
    for key, texts in CONTACT_COLUMNS.items():  # and a contact no column gives yet
        if key not in contact_columns.values():
            for text in texts:
                if contacts.get(roster_key(text)) == key:
                    free.setdefault(roster_key(text), {key: text})
    warnings = [RosterWarning(str(path), _ignored(ignored, free), line)] if ignored else []
    if errors:
        raise RosterErrors(errors + [RosterError(path, w.text, w.row) for w in warnings])
    return columns, contact_columns, warnings


def _duplicate_column(path: Path, line: int, cell: Any, first: Any, label: str) -> RosterError:
    """The error for a column `cell` that means what an earlier column `first` means."""
    return RosterError(
        path,
        Text(
            f"列重复：与「{_shown(first)}」都是「{label}」，只能保留一列",
            f"duplicate column: it and '{_shown(first)}' are both '{label}'; keep one",
        ),
        line,
        _shown(cell),
    )


def _contact_headers(known: dict[str, dict[str, str]]) -> dict[str, str]:
    """Each contact header key (`roster_key`) -> its key in `RosterRow.contact`, but for the
    headers a field of the spec uses (`known`): the field keeps them."""
    return {
        roster_key(text): key
        for key, texts in CONTACT_COLUMNS.items()
        for text in texts
        if roster_key(text) not in known
    }


def _known_headers(spec: Spec, fields: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each header key (`roster_key`) -> the fields it names, each with the header's text as
    the form gives it (for "did you mean"). More than one field is an ambiguous header."""
    known: dict[str, dict[str, str]] = {}
    for name, label in fields.items():
        for text in (name, label, *spec.roster_aliases.get(name, ())):
            known.setdefault(roster_key(text), {}).setdefault(name, text)
    known.pop("", None)
    return known


def _ignored(cells: list[Any], known: dict[str, dict[str, str]]) -> Text:
    """The warning about the columns ignored: all of them, each with a hint where one helps."""
    zh: list[str] = []
    en: list[str] = []
    for cell in cells[:_SHOWN_COLUMNS]:
        text = _shown(cell)
        hint = _hint(str(cell), known)
        zh.append(f"{text}（{hint.zh}）" if hint else text)
        en.append(f"{text} ({hint.en})" if hint else text)
    n = len(cells)
    more = n - _SHOWN_COLUMNS
    return Text(
        f"以下 {n} 列不是模板预填的内容，已忽略：{'、'.join(zh)}{' 等' if more > 0 else ''}",
        f"ignored {n} column{'s' if n > 1 else ''} the template does not pre-fill: "
        + ", ".join(en)
        + (f" and {more} more" if more > 0 else ""),
    )


#: Ignored columns a warning names before "and N more".
_SHOWN_COLUMNS = 20


def _hint(cell: str, known: dict[str, dict[str, str]]) -> Text | None:
    """What an ignored column may have been meant as: the total of the funds (issued by
    source), or a known header it is a typo of."""
    if (
        re.match(r"^(pe_)?fund_total_", cell.strip().lower())
        or "资金总额" in cell
        or "合计" in cell
    ):
        return Text(
            "合计由各资金来源自动求和，请按来源给出金额",
            "the total is the sum of the sources: give amounts by source",
        )
    close = difflib.get_close_matches(roster_key(cell), list(known), n=1, cutoff=_CLOSE)
    if not close:
        return None
    text = next(iter(known[close[0]].values()))
    return Text(f"是否应为「{text}」？", f"did you mean '{text}'?")


#: How alike (difflib's ratio) an ignored header and a known one must be for "did you mean":
#: 项目名 → 项目名称 (0.86), 主管部门代号 → 主管部门代码 (0.83), not 项目 → 项目名称 (0.67).
_CLOSE = 0.8


def _field_column(header: list[Any], index: int, label: str) -> str:
    """The name of a field's column in messages: the form's Chinese label, and the header as
    the roster has it when that differs (`年度（预算年度）`), so the clerk finds it."""
    cell = header[index]
    if roster_key(cell) == roster_key(label):
        return label
    return f"{label}（{_shown(cell)}）"


def _convert(name: str, raw: Any, spec: Spec) -> Any:
    """The roster value as the template needs it; ValueError(Text) says what is wrong."""
    if isinstance(raw, str) and (bad := _CONTROL.search(raw)):
        code = f"U+{ord(bad.group()):04X}"
        raise ValueError(
            Text(
                f"含有控制字符（{code}），多半是从其他系统复制带入的，请删除",
                f"contains a control character ({code}), probably pasted from another "
                "program; delete it",
            )
        )
    if name == "year":
        return _year(raw)
    if name.startswith("fund_"):
        return _amount(raw)
    text = _text(raw)
    limit = spec.goals.max_length if name == "goal_expected" else spec.header_field(name).max_length
    if len(text) > limit:
        raise ValueError(Text(f"超过 {limit} 个字符", f"longer than {limit} characters"))
    return text


#: Control characters no roster text may hold (C0 but TAB, LF and CR; DEL; C1): they reached
#: templates and file names. TAB and line breaks are kept out of names by `_text`.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Longest cell text or column name a message repeats, in characters.
_SHOWN = 40


def _shown(value: Any) -> str:
    """`value` as a message repeats it: on one line, control characters as `\\xNN`, and cut to
    `_SHOWN` characters (a message must not carry a 100,000-character cell to the terminal)."""
    text = str(value)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "…"
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def _column(header: list[Any], index: int) -> str:
    """The name of column `index` in messages: its header, or its letter when it has none."""
    cell = header[index] if index < len(header) else None
    return xl_col_to_name(index) if is_blank(cell) else _shown(cell)


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # codes typed as numbers in Excel come back as 109101.0
    if isinstance(raw, (datetime, date)):
        raise ValueError(Text("应为文本，却是日期", "a date where text was expected"))
    return re.sub(r"\s+", " ", str(raw)).strip()


def _contact_text(raw: Any) -> str:
    """A contact cell as text: a phone number Excel stored as a number (13800000000, or
    13800000000.0) without `.0` or an exponent; spaces collapsed, control characters dropped.
    Never an error: the contact helps remind units, no template or comparison depends on it,
    so an odd one must not stop the templates being written."""
    if isinstance(raw, int):  # bool too: True, False
        return str(raw)
    if isinstance(raw, float) and math.isfinite(raw):
        return str(int(raw)) if raw.is_integer() else repr(raw)  # no exponent from 1e-4 up
    text = _CONTROL.sub("", str(raw))
    return re.sub(r"\s+", " ", text).strip()


def _year(raw: Any) -> int:
    value: Any = raw
    if isinstance(raw, str):
        value = unicodedata.normalize("NFKC", raw).strip().removesuffix("年度").removesuffix("年")
    try:
        if isinstance(value, (bool, datetime, date)):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(Text(f"年度无效：{_shown(raw)}", f"not a year: {_shown(raw)}")) from None
    if not number.is_integer() or not YEAR_RANGE[0] <= number <= YEAR_RANGE[1]:
        raise ValueError(
            Text(
                f"年度须为 {YEAR_RANGE[0]}–{YEAR_RANGE[1]} 的整数：{_shown(raw)}",
                f"year must be a whole number {YEAR_RANGE[0]}-{YEAR_RANGE[1]}: {_shown(raw)}",
            )
        )
    return int(number)


def _amount(raw: Any) -> float:
    value: Any = raw
    if isinstance(raw, str):
        value = unicodedata.normalize("NFKC", raw).strip().replace(",", "").removesuffix("万元")
    try:
        if isinstance(value, (bool, datetime, date)):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            Text(f"不是有效金额：{_shown(raw)}", f"not an amount: {_shown(raw)}")
        ) from None
    if not math.isfinite(number) or number < 0 or number > 1e10:
        raise ValueError(
            Text(
                f"金额须为 0 到 1e10 之间的数字（万元）：{_shown(raw)}",
                f"amount out of range: {_shown(raw)}",
            )
        )
    return number


def _duplicates(path: Path, rows: list[RosterRow], shown: dict[str, str]) -> list[RosterError]:
    errors = []
    seen: dict[tuple[str, ...], int] = {}
    for row in rows:
        keys = [("name", row.values.get("dept_code", ""), row.values.get("project_name", ""))]
        if row.values.get("project_code"):
            keys.append(("code", row.values["project_code"]))
        for key in keys:
            if not all(key[1:]):
                continue
            if key in seen:
                column = shown["project_code"] if key[0] == "code" else shown["project_name"]
                errors.append(
                    RosterError(
                        path,
                        Text(f"与第 {seen[key]} 行是同一项目", f"same project as row {seen[key]}"),
                        row.line,
                        column,
                    )
                )
            else:
                seen[key] = row.line
    return errors
