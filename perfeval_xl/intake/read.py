"""The reader: a filled workbook becomes a `Record` plus the findings met while reading it.

Every input is found by its contract name (`pe_…`), never by position, so a unit's program may
move cells around. The file is first inspected by `safety` (type, zip sizes) so that hostile or
foreign files are refused before parsing; openpyxl then parses it with defusedxml guarding
against XML entity tricks. Whatever happens, the answer is findings, never an exception.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from ..errors import Text
from ..findings import Finding, finding
from ..forms.normalize import (
    is_percent_format,
)
from ..forms.spec import BUILTIN_FORMS, FormSet
from .fastread import FastBook
from .oxlprivate import workbook_part
from .reader import (
    _MAIN_NS,
    ReadResult,
    _defused,
    _one_line,
    _Reader,
    _validated_ranges,
    repeated_names,
)
from .safety import MAX_FILE_BYTES, Seen, inspect_bytes, inspect_file


def read_workbook(
    path: Path | str,
    *,
    password: str | None = None,
    fast: bool = False,
    forms: FormSet = BUILTIN_FORMS,
    seen: Seen | None = None,
) -> ReadResult:
    """Read a filled template.

    Args:
        path: the .xlsx file. It is opened read-only and never modified.
        password: the open password of an encrypted workbook; it is decrypted in memory.
        fast: read with `fastread` (same result, without openpyxl's full load).
        forms: the forms known (`spec.load_forms`: the office's folder, then built-in); a
            workbook of none of them is read by the spec it carries.
        seen: told of the file's bytes once read (`safety.inspect_file`).

    Returns:
        A `ReadResult`; its findings say why the record is None when it is.
    """
    path = Path(path)
    data, refused = inspect_file(path, seen=seen)
    if refused is not None and refused.code == "E003" and password is not None:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError:
            return ReadResult(str(path), None, [refused])
        return read_workbook_bytes(str(path), data, password=password, fast=fast, forms=forms)
    if refused is not None:
        return ReadResult(str(path), None, [refused])
    assert data is not None
    return _read_any(str(path), data, fast, forms)


def read_workbook_bytes(
    name: str,
    data: bytes,
    *,
    password: str | None = None,
    fast: bool = False,
    forms: FormSet = BUILTIN_FORMS,
) -> ReadResult:
    """Read a workbook held in memory (a member of a .zip attachment); `name` names it in
    findings. The same inspection as for a file comes first; an encrypted workbook is
    decrypted in memory when `password` is given, and the result inspected again."""
    refused = inspect_bytes(name, data)
    if refused is not None and refused.code == "E003" and password is not None:
        data, problem = _decrypt(name, data, password)
        if problem is not None:
            return ReadResult(name, None, [problem])
        refused = inspect_bytes(name, data)
    if refused is not None:
        return ReadResult(name, None, [refused])
    return _read_any(name, data, fast, forms)


def _read_any(name: str, data: bytes, fast: bool, forms: FormSet) -> ReadResult:
    if fast:
        return read_inspected_fast(name, data, forms)
    return _read_inspected(name, data, forms)


def read_inspected_fast(name: str, data: bytes, forms: FormSet = BUILTIN_FORMS) -> ReadResult:
    """`_read_inspected`, fast when the file allows it (`fastread.FastBook`); never raises more
    than it does. Here, not in `fastread`: the fast book is one of the reader's back-ends, and
    the choice between them is this module's."""
    try:
        book = FastBook(data)
    except Exception:  # noqa: BLE001 - anything unexpected: the thorough path decides
        return _read_inspected(name, data, forms)
    try:
        return _Reader(name, data, book, forms).read()
    except Exception:  # noqa: BLE001 - a surprise while reading: the thorough path decides
        return _read_inspected(name, data, forms)


def _decrypt(name: str, data: bytes, password: str) -> tuple[bytes, Finding | None]:
    import msoffcrypto
    from msoffcrypto.exceptions import InvalidKeyError

    out = io.BytesIO()
    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        office.load_key(password=password)
        office.decrypt(out)
    except InvalidKeyError:
        return b"", finding("E704", name, Text("打开密码不正确", "the open password is wrong"))
    except Exception as exc:  # noqa: BLE001 - a damaged encrypted file is a finding, never a crash
        reason = _one_line(exc)
        return b"", finding(
            "E003", name, Text(f"无法解密（{reason}）", f"cannot be decrypted ({reason})")
        )
    return out.getvalue(), None


def _read_inspected(name: str, data: bytes, forms: FormSet = BUILTIN_FORMS) -> ReadResult:
    """Read with openpyxl's full load; a file it refuses, or whose cells it would misread, is
    read by the fast reader, when that can read it (`_read_around`)."""
    wb, problem = _load(name, data, data_only=False)
    if (problem is not None and problem.code == "E001") or (
        problem is None and _negative_index(data)
    ):
        around = _read_around(name, data, forms, only_damaged=problem is None)
        if around is not None:
            if wb is not None:
                wb.close()
            return around
    if problem is not None:
        return ReadResult(name, None, [problem])
    book = _OpenpyxlBook(name, data, wb)
    try:
        return _Reader(name, data, book, forms).read()
    finally:
        book.close()


def _read_around(
    name: str, data: bytes, forms: FormSet, *, only_damaged: bool
) -> ReadResult | None:
    """The file read by `fastread.FastBook`, which reads around damaged cells, or None if that
    cannot read it (or, with `only_damaged`, finds no damaged cell).

    openpyxl refuses a whole workbook for one damaged cell: a number cell holding `0x5F`, a
    style or shared-string index out of range. The fast book raises wherever openpyxl's load
    does, but for such cells, which it reads as empty and lists (`FastBook.damaged`; the
    reader answers E019 for each it reads). So a file openpyxl refuses and the fast book reads
    is one whose only trouble is damaged cells (or INF / NaN typed into a number cell, read as
    the non-finite number it is: E203), and both paths answer the same. A negative index
    openpyxl reads without complaint, as the last style or string (`_negative_index`)."""

    try:
        book = FastBook(data)
        if only_damaged and not book.damaged:
            return None
        return _Reader(name, data, book, forms).read()
    except Exception:  # noqa: BLE001 - what the fast book cannot read stays as openpyxl said
        return None


#: A negative style or value in a sheet, ending at its "-": `s="-1"`, `<v>-1</v>` (as a
#: shared string's index openpyxl reads the last string). Numbers below 0 match too: the fast
#: book then looks closer.
_NEGATIVE = re.compile(rb"""(?:\ss\s*=\s*["']|<(?:[\w.-]+:)?v>)\s*-\Z""")


def _negative_index(data: bytes) -> bool:
    """Whether a worksheet holds something that may be a negative index (`_NEGATIVE`), looked
    for before each "-" only: a sheet has few, and scanning all of it took 1.5 ms a file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                if not (member.startswith("xl/worksheets/") and member.endswith(".xml")):
                    continue
                xml = z.read(member)
                at = xml.find(b"-")
                while at >= 0:
                    if _NEGATIVE.search(xml, max(0, at - 64), at + 1):
                        return True
                    at = xml.find(b"-", at + 1)
    except Exception:  # noqa: BLE001 - openpyxl read it; nothing more to look for
        return False
    return False


def _load(name: str, data: bytes, data_only: bool) -> tuple[Any, Finding | None]:
    import openpyxl

    try:
        with warnings.catch_warnings():
            # openpyxl warns about parts it drops (x14 extensions, …): not the unit's problem.
            warnings.simplefilter("ignore")
            # keep_links=False: external workbook links are dropped, never followed
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=data_only, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - any parser failure of a foreign file is a finding
        unsafe = _defused(exc)
        if unsafe is not None:
            kind = type(unsafe).__name__
            return None, finding(
                "E006",
                name,
                Text(
                    f"XML 含实体定义或外部引用（{kind}）", f"XML with entity definitions ({kind})"
                ),
            )
        return None, finding("E001", name, _unreadable(exc))
    return wb, None


#: The steps of openpyxl's load ("could not read worksheets from …"), as a unit knows them.
_LOAD_STEPS = {
    "manifest": ("内容清单", "list of contents"),
    "strings": ("文字", "texts"),
    "workbook": ("工作簿结构", "workbook structure"),
    "properties": ("文档属性", "document properties"),
    "custom properties": ("文档属性", "document properties"),
    "theme": ("主题", "theme"),
    "stylesheet": ("单元格格式", "cell formats"),
    "worksheets": ("工作表", "sheets"),
}


def _unreadable(exc: BaseException) -> Text:
    """E001 for a file openpyxl cannot load: what is damaged, in a unit's words where openpyxl
    says, and what to do; never the exception's own text (`IndexError: list index out of
    range` tells a unit nothing)."""
    step = re.search(r"could not (?:read )?(.+?) from", str(exc))
    where = _LOAD_STEPS.get(step.group(1)) if step else None
    zh_where = f"（{where[0]}部分）" if where else ""
    en_where = f" (its {where[1]})" if where else ""
    return Text(
        f"文件内容已损坏，无法读取{zh_where}；请在 Excel/WPS 中打开并另存为 .xlsx 后重新提交，"
        "若仍无法读取，请用下发的原模板重新填写",
        f"the file's content is damaged and cannot be read{en_where}; open it in Excel/WPS, "
        "save it as .xlsx and send it again, or else fill the issued template again",
    )


class _OpenpyxlBook:
    """The workbook as `_Reader` sees it, over openpyxl's full load. `fastread` implements the
    same operations over the XML parts; anything a method raises is handled as here."""

    def __init__(self, name: str, data: bytes, wb: Any) -> None:
        self.name = name
        self.data = data
        self.wb = wb
        self.sheetnames: list[str] = wb.sheetnames
        self._cached_wb: Any = None
        self._cached_problem: Finding | None = None

    def custom_props(self) -> dict[str, Any]:
        return {p.name: p.value for p in self.wb.custom_doc_props.props}

    def modified(self) -> Any:
        return self.wb.properties.modified

    def part_names(self) -> list[str]:
        """The names of the package's parts (zip members)."""
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as z:
                return z.namelist()
        except zipfile.BadZipFile:
            return []

    def repeated_names(self) -> dict[str, list[str]]:
        """`repeated_names` of the workbook's defined names, as the file has them: openpyxl
        keeps one of each (the last), so the workbook part is read again, with its parser."""
        from openpyxl.packaging.manifest import Manifest
        from openpyxl.xml.functions import fromstring

        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as z:
                manifest = Manifest.from_tree(fromstring(z.read("[Content_Types].xml")))
                root = fromstring(z.read(workbook_part(manifest)))
        except Exception:  # noqa: BLE001 - openpyxl read it once; no second opinion then
            return {}
        defined = [
            (d.get("name"), d.get("localSheetId"), d.text or "")
            for d in root.iter(f"{_MAIN_NS}definedName")
        ]
        return repeated_names(defined, len(self.sheetnames))

    def destinations(self, name: str) -> list[tuple[str, str]] | None:
        """Where a defined name points (workbook scope first, then a sheet's); None if absent."""
        dn = self.wb.defined_names.get(name)
        if dn is None:
            for ws in self.wb.worksheets:
                if name in ws.defined_names:
                    dn = ws.defined_names[name]
                    break
        if dn is None:
            return None
        return list(dn.destinations)

    def cell(self, sheet: str, row: int, col: int) -> tuple[Any, str]:
        """(value, openpyxl data type) of a cell; a formula's value is its text."""
        c = self.wb[sheet].cell(row=row, column=col)
        return c.value, c.data_type

    def rows_with_values(self, sheet: str) -> set[int] | None:
        """The rows where some cell holds a value or formula, or None: not known (ask `cell`)."""
        return None

    def percent(self, sheet: str, row: int, col: int) -> bool:
        """True when the cell shows its number as a percentage (0.96 as 96%)."""
        return is_percent_format(self.wb[sheet].cell(row=row, column=col).number_format)

    def protected(self, sheet: str) -> bool:
        return bool(self.wb[sheet].protection.sheet)

    def validated_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        return _validated_ranges(self.wb[sheet], self.data)

    def cached(self, sheet: str, cell: str) -> Any:
        """A formula cell's saved result (None when there is none or it cannot be read)."""
        if self._cached_wb is None and self._cached_problem is None:
            self._cached_wb, self._cached_problem = _load(self.name, self.data, data_only=True)
        if self._cached_problem is not None:
            return None
        return self._cached_wb[sheet][cell].value

    def close(self) -> None:
        self.wb.close()
        if self._cached_wb is not None:
            self._cached_wb.close()
