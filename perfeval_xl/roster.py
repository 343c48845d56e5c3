"""The office's project roster (CSV or XLSX): one row per project, what the office already knows.

Column headers are contract names without `pe_` (`project_name`, `fund_fiscal_budget`) or their
Chinese labels from the spec (项目名称, 当年财政拨款全年预算数). The roster is checked completely
before anything is written, and every problem names its row and column, so a clerk can fix the
whole file in one go and never ends up with half an outbox.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .errors import RosterError, RosterErrors, Text
from .fileio import safe_file_stem, unique_stem
from .generate import YEAR_RANGE, issuable_fields
from .normalize import is_blank
from .spec import Spec

#: Columns every roster row needs: they make the file name and identify the project.
REQUIRED_COLUMNS = ("dept_code", "unit_name", "project_name")
#: Most problems reported at once; more would drown the clerk.
MAX_REPORTED = 50


@dataclass(frozen=True)
class RosterRow:
    """One project of the roster: its line in the file and the values to issue, by field name."""

    line: int
    values: dict[str, Any]


def read_roster(path: Path | str, spec: Spec) -> list[RosterRow]:
    """Read and check a roster for `spec`.

    Returns:
        The projects, in file order; blank lines are skipped.

    Raises:
        RosterError: the file cannot be read or has no header.
        RosterErrors: one or more rows or columns are wrong (all of them are listed).
    """
    path = Path(path)
    table = _read_table(path)
    if not table:
        raise RosterError(path, Text("名册为空，没有表头行", "the roster is empty (no header row)"))
    header_line, header = table[0]
    fields = issuable_fields(spec)
    columns = _map_header(path, header_line, header, spec, fields)
    errors: list[RosterError] = []
    rows: list[RosterRow] = []
    for line, cells in table[1:]:
        if all(is_blank(c) for c in cells):
            continue
        values: dict[str, Any] = {}
        for index, name in columns.items():
            raw = cells[index] if index < len(cells) else None
            if is_blank(raw):
                if name in REQUIRED_COLUMNS:
                    empty = Text("不能为空", "must not be empty")
                    errors.append(RosterError(path, empty, line, str(header[index])))
                continue
            try:
                values[name] = _convert(name, raw, spec)
            except ValueError as exc:
                errors.append(RosterError(path, exc.args[0], line, str(header[index])))
        rows.append(RosterRow(line, values))
    errors.extend(_duplicates(path, rows, fields))
    if errors:
        raise RosterErrors(sorted(errors, key=lambda e: e.row or 0)[:MAX_REPORTED])
    return rows


def template_file_stems(rows: list[RosterRow]) -> list[str]:
    """The file name (without `.xlsx`) of each row's template, as `template --roster` names it:
    `<主管部门代码>_<实施单位>_<项目名称>`, made safe for Windows, `_2` … for a name taken by an
    earlier row. `collect` knows by it which row a file it cannot read was sent for."""
    taken: set[str] = set()
    return [
        unique_stem(
            safe_file_stem(
                f"{r.values.get('dept_code', '')}_{r.values.get('unit_name', '')}"
                f"_{r.values.get('project_name', '')}"
            ),
            taken,
        )
        for r in rows
    ]


def _read_table(path: Path) -> list[tuple[int, list[Any]]]:
    """Rows of the first sheet (xlsx) or the file (csv), with their 1-based line numbers."""
    suffix = path.suffix.lower()
    if path.is_dir() or not path.exists():
        raise RosterError(path, Text("找不到名册文件", "roster file not found"))
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise RosterError(
        path, Text("名册须为 .csv 或 .xlsx 文件", "the roster must be a .csv or .xlsx file")
    )


def _read_csv(path: Path) -> list[tuple[int, list[Any]]]:
    data = path.read_bytes()
    # Excel on a Chinese Windows saves "CSV" in GBK; everything else is UTF-8 (maybe with a BOM).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise RosterError(path, Text("无法识别文件编码", "unknown text encoding"))
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    for cells in reader:
        rows.append((reader.line_num, cells))
    return _drop_leading_blank(rows)


def _read_xlsx(path: Path) -> list[tuple[int, list[Any]]]:
    import openpyxl  # imported here: the CSV path and the CLI's start-up do not need it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise RosterError(
            path, Text(f"无法作为 xlsx 读取（{exc}）", f"cannot be read as xlsx ({exc})")
        ) from None
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # WPS writes wrong <dimension> elements
        rows = [(i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()
    return _drop_leading_blank(rows)


def _drop_leading_blank(rows: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    while rows and all(is_blank(c) for c in rows[0][1]):
        rows.pop(0)
    return rows


def _norm_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    text = re.sub(r"[\s:：·\-—_()（）]", "", text)
    return text.removeprefix("pe")


def _map_header(
    path: Path, line: int, header: list[Any], spec: Spec, fields: dict[str, str]
) -> dict[int, str]:
    """Column index -> field name; unknown, duplicate and missing columns are all reported."""
    lookup: dict[str, str] = {}
    for name, label in fields.items():
        lookup[_norm_header(name)] = name
        lookup[_norm_header(label)] = name
    errors: list[RosterError] = []
    columns: dict[int, str] = {}
    for index, cell in enumerate(header):
        if is_blank(cell):
            continue
        name = lookup.get(_norm_header(cell))
        if name is None:
            errors.append(RosterError(path, _unknown_column(str(cell), fields), line, str(cell)))
        elif name in columns.values():
            errors.append(RosterError(path, Text("列重复", "duplicate column"), line, str(cell)))
        else:
            columns[index] = name
    for name in REQUIRED_COLUMNS:
        if name not in columns.values():
            errors.append(
                RosterError(
                    path,
                    Text(f"缺少必需的列（{name}）", f"required column missing ({name})"),
                    line,
                    fields[name],
                )
            )
    if errors:
        raise RosterErrors(errors)
    return columns


def _unknown_column(cell: str, fields: dict[str, str]) -> Text:
    if (
        re.match(r"^(pe_)?fund_total_", cell.strip().lower())
        or "资金总额" in cell
        or "合计" in cell
    ):
        return Text(
            "合计由各资金来源自动求和，请按来源给出金额（如 fund_fiscal_budget）",
            "the total is the sum of the sources: give amounts by source (fund_fiscal_budget …)",
        )
    known = ", ".join(fields)
    return Text(f"未知的列；可用的列：{known}", f"unknown column; known columns: {known}")


def _convert(name: str, raw: Any, spec: Spec) -> Any:
    """The roster value as the template needs it; ValueError(Text) says what is wrong."""
    if name == "year":
        return _year(raw)
    if name.startswith("fund_"):
        return _amount(raw)
    text = _text(raw)
    limit = spec.goals.max_length if name == "goal_expected" else spec.header_field(name).max_length
    if len(text) > limit:
        raise ValueError(Text(f"超过 {limit} 个字符", f"longer than {limit} characters"))
    return text


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # codes typed as numbers in Excel come back as 109101.0
    if isinstance(raw, (datetime, date)):
        raise ValueError(Text("应为文本，却是日期", "a date where text was expected"))
    return re.sub(r"\s+", " ", str(raw)).strip()


def _year(raw: Any) -> int:
    value: Any = raw
    if isinstance(raw, str):
        value = unicodedata.normalize("NFKC", raw).strip().removesuffix("年度").removesuffix("年")
    try:
        if isinstance(value, (bool, datetime, date)):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(Text(f"年度无效：{raw}", f"not a year: {raw}")) from None
    if not number.is_integer() or not YEAR_RANGE[0] <= number <= YEAR_RANGE[1]:
        raise ValueError(
            Text(
                f"年度须为 {YEAR_RANGE[0]}–{YEAR_RANGE[1]} 的整数：{raw}",
                f"year must be a whole number {YEAR_RANGE[0]}-{YEAR_RANGE[1]}: {raw}",
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
        raise ValueError(Text(f"不是有效金额：{raw}", f"not an amount: {raw}")) from None
    if not math.isfinite(number) or number < 0 or number > 1e10:
        raise ValueError(
            Text(f"金额须为 0 到 1e10 之间的数字（万元）：{raw}", f"amount out of range: {raw}")
        )
    return number


def _duplicates(path: Path, rows: list[RosterRow], fields: dict[str, str]) -> list[RosterError]:
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
                column = fields["project_code"] if key[0] == "code" else fields["project_name"]
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
