"""The fast reader: the same `ReadResult` as `read`, without openpyxl's full load.

`reader._Reader` does the reading; here only the workbook it looks at is different: instead of
openpyxl building every sheet, style and cell object (35–70 ms a file), the few XML parts the
reader needs are parsed directly (a few ms). Cell values are read as openpyxl's cell parser
reads them (`WorkSheetParser.parse_cell`: numbers, dates by number format, shared strings,
booleans; formulas and shared formulas through its own code), so a value is exactly what the
thorough path sees. The zip members are read with `struct` and zlib (`_zip_members`), and a
part whose bytes were already parsed in this process is not parsed again (`_Memo`): the files
of a batch share most parts.

The fast path only takes files whose structure it knows completely: the parts a generated,
Excel- or LibreOffice-saved template has, no entity declarations, UTF-8 XML, consistent
relationships. Anything else (and any surprise while reading) is handed to the thorough path, so
the answer is the same for every file, bad ones included. XML is parsed with the standard
library's expat only after the part was checked to hold no `<!DOCTYPE` (hence no entity can be
declared or fetched); a part that has one goes to the thorough path, whose defusedxml parsing
answers E006.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import warnings
import xml.etree.ElementTree as ET
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, NamedTuple

from openpyxl.cell.text import InlineFont, PhoneticProperties, PhoneticText
from openpyxl.comments.comment_sheet import CommentSheet
from openpyxl.packaging.core import DocumentProperties
from openpyxl.packaging.custom import CustomPropertyList
from openpyxl.styles.numbers import (
    BUILTIN_FORMATS,
    is_date_format,
    is_timedelta_format,
)
from openpyxl.utils import range_boundaries
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import (
    CALENDAR_MAC_1904,
    CALENDAR_WINDOWS_1900,
    from_excel,
    from_ISO8601,
)
from openpyxl.workbook.defined_name import RESERVED_REGEX, DefinedName
from openpyxl.worksheet.datavalidation import DataValidationList
from openpyxl.worksheet.print_settings import PrintArea, PrintTitles
from openpyxl.worksheet.protection import SheetProtection
from openpyxl.xml.constants import SHARED_STRINGS, XLSM, XLSX, XLTM, XLTX

from ..forms.normalize import is_percent_format
from .oxlprivate import formula_parser
from .reader import DAMAGED, _x14_ranges, repeated_names
from .safety import _CENTRAL, _EOCD, inflated, local_body

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_WORKSHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_PRINTER_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/printerSettings"
#: What a sheet may point to and still be read here: its printer settings and cell notes.
_SHEET_RELS = frozenset(
    {
        _PRINTER_REL,
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments",
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/vmlDrawing",
    }
)
#: The parts the fast path knows; a file with any other part is read by the thorough path.
_KNOWN_PART = re.compile(
    r"\[Content_Types\]\.xml|_rels/\.rels|docProps/(app|core|custom)\.xml"
    r"|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/styles\.xml|xl/theme/theme\d+\.xml"
    r"|xl/sharedStrings\.xml|xl/calcChain\.xml|xl/worksheets/sheet\d+\.xml"
    r"|xl/worksheets/_rels/sheet\d+\.xml\.rels|xl/printerSettings/printerSettings\d+\.bin"
    r"|xl/comments\d+\.xml|xl/drawings/vmlDrawing\d+\.vml"
)
#: Parts openpyxl's load does not read (the theme it reads, so a damaged one is noticed too; the
#: VML drawing of cell notes it does not parse). Cell notes themselves (a returned workbook's,
#: feedback.py, or a unit's own) the record never looks at, but openpyxl parses them, so they
#: are parsed here too (`_notes`): a damaged one goes to the thorough path, which decides.
_UNREAD_PARTS = ("xl/print", "xl/calcChain.xml", "docProps/app.xml", "xl/drawings/vml")
_ROW, _C, _V, _F, _IS, _T, _R = (f"{_MAIN}{tag}" for tag in ("row", "c", "v", "f", "is", "t", "r"))
_RPR, _RPH, _PHONETIC_PR, _SI = (f"{_MAIN}{tag}" for tag in ("rPr", "rPh", "phoneticPr", "si"))
#: A defined name that is one plain range on one sheet: read without openpyxl's tokenizer.
_SIMPLE_DEST = re.compile(
    r"(?:'([^'!]+)'|([^'^ !(),;&\"]+))!(\$?[A-Z]{1,3}\$?[0-9]+(?::\$?[A-Z]{1,3}\$?[0-9]+)?)"
)
_COORDS: dict[str, tuple[int, int]] = {}
_INVALID_TITLE = re.compile(r"[\\*?:/\[\]]")
#: Merged areas up to this many cells are listed cell by cell, for a lookup per read cell.
_MAX_COVERED = 20_000
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)[\"']")


class Unsupported(Exception):
    """The file is not one the fast path reads; the thorough path will."""


class _Sheet:
    """What the reader needs of one worksheet, as parsed from the part's bytes alone.

    A cell is kept as (value, type, style) before the two steps that depend on other parts:
    a shared string is its index ("s#"), and a number is not yet turned into a date. `FastBook`
    checks the indexes against its own string table and style count, and converts on reading,
    so one parsed sheet serves every file whose part has the same bytes (`_Memo`).

    A damaged cell (a value its type cannot hold, such as `<v>0x5F</v>` in a number cell, or a
    style attribute that is no index) is kept as an empty cell, and listed in `damaged` with
    what is wrong (`reader.DAMAGED`): openpyxl refuses the whole file for one such cell."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], tuple[Any, str, int]] = {}
        self.merged: list[tuple[int, int, int, int]] = []
        #: the cells merged into another (read as empty), when few enough to list
        self.covered: set[tuple[int, int]] | None = None
        #: the rows where a cell holds a value or formula (whether merged over or not)
        self.value_rows: set[int] = set()
        self.protected = False
        self.validations: list[str] = []
        #: the highest style index and the lowest and highest shared-string index used
        self.style_max = -1
        self.string_min = 0
        self.string_max = -1
        #: damaged cells, as (what, the text found): ("number", "0x5F"), ("style", "")
        self.damaged: dict[tuple[int, int], tuple[str, str]] = {}


class _Memo:
    """Parts already parsed in this process, by their bytes (least recently used dropped).

    Files of one batch share most parts byte for byte (styles, the workbook part, the
    instructions and list sheets of one template), so each is parsed once per worker. Only
    what a parse gives from the bytes alone is kept; a parse that raises is not kept, so it
    raises again for the next file with those bytes.

    A part is kept the second time its bytes are seen: every file's own form sheet is seen
    once, and keeping those pushed out the shared parts of the rarer forms of a batch."""

    def __init__(self, entries: int, part_bytes: int, seen: int) -> None:
        self.entries = entries
        self.part_bytes = part_bytes
        self.seen = seen
        self._items: OrderedDict[tuple[Hashable, bytes], Any] = OrderedDict()
        self._seen: dict[int, None] = {}  # hashes of parts seen once, oldest first

    def get(self, kind: Hashable, data: bytes, parse: Callable[[bytes], Any]) -> Any:
        if len(data) > self.part_bytes:
            return parse(data)
        key = (kind, data)
        try:
            self._items.move_to_end(key)
            return self._items[key]
        except KeyError:
            pass
        value = parse(data)
        h = hash(key)
        if h not in self._seen:
            self._seen[h] = None
            if len(self._seen) > self.seen:
                del self._seen[next(iter(self._seen))]
            return value
        self._items[key] = value
        if len(self._items) > self.entries:
            self._items.popitem(last=False)
        return value


#: Enough for the shared parts of many forms; parts over 256 KiB are parsed every time.
_MEMO = _Memo(entries=128, part_bytes=256 * 1024, seen=4096)
#: Zip members inflated, by their compressed bytes (`_member`).
_INFLATED = _Memo(entries=128, part_bytes=256 * 1024, seen=4096)
#: Rows of form sheets parsed, by their bytes (`_cells_by_row`): a template's rows of labels,
#: formulas and office-filled values are the same in each of its files. About 3.6 KB a row
#: (its bytes as saved, its cells, its empty cells' references and styles; measured on the
#: benchmark inbox): under 30 MB a worker when full.
_ROWS = _Memo(entries=8192, part_bytes=64 * 1024, seen=65536)


class FastBook:
    """The operations of `read._OpenpyxlBook`, over the XML parts of the package.

    Raises (from the constructor) whatever it cannot handle; `read_inspected_fast` then reads
    the file the thorough way. Where openpyxl refuses a whole file for one damaged cell (a
    number that is none, a style or shared-string index out of range, or a negative one, which
    openpyxl reads as the last style or string), the book reads the rest and answers that cell
    as `reader.DAMAGED` (`damaged`); the thorough path hands such files to this book (`read.
    _read_inspected`), so both paths answer E019 alike."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        members = _zip_members(data)
        names = [name for name, _ in members]
        if len(set(names)) != len(names):
            raise Unsupported("duplicate zip entries")
        for n in names:
            if not _KNOWN_PART.fullmatch(n):
                raise Unsupported(n)
        self._names = set(names)
        self._order = names
        self._parts = {n: read() for n, read in members if not n.startswith(_UNREAD_PARTS)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._open()

    # -- loading ---------------------------------------------------------------------------
    def _part(self, part: str) -> bytes:
        data = self._parts.get(part)
        if data is None:
            raise Unsupported(f"missing {part}")
        return data

    def _xml(self, part: str) -> ET.Element:
        return _parse_xml(self._part(part))

    def _open(self) -> None:
        overrides = _MEMO.get("types", self._part("[Content_Types].xml"), _content_types)
        wb_part = None
        for ct in (XLTM, XLTX, XLSM, XLSX):
            wb_part = next((p for p, t in overrides if t == ct), None)
            if wb_part:
                break
        if wb_part != "/xl/workbook.xml":
            raise Unsupported("workbook part")
        strings_part = next((p for p, t in overrides if t == SHARED_STRINGS), None)
        if strings_part is None:
            self.shared_strings: list[str] = []
        elif strings_part != "/xl/sharedStrings.xml":
            raise Unsupported("shared strings part")
        else:
            raw = self._parts.get("xl/sharedStrings.xml")
            if raw is None:
                raise Unsupported("missing shared strings")
            self.shared_strings = _MEMO.get("strings", raw, _string_table)

        self._workbook()
        self.date_formats, self.timedelta_formats, self.style_count, self.percent_formats = (
            _MEMO.get("styles", self._part("xl/styles.xml"), _styles)
        )
        self._properties()
        self.sheets: dict[str, _Sheet] = {}
        #: the damaged cells of each sheet that has some (see `_Sheet.damaged`)
        self.damaged: dict[str, dict[tuple[int, int], tuple[str, str]]] = {}
        for title, part in self._sheet_parts:
            self.sheets[title] = self._sheet(title, part)
        for name, data in self._parts.items():
            if name.startswith("xl/comments"):
                _MEMO.get("notes", data, _notes)
        self._names_by_sheet()

    def _workbook(self) -> None:
        date1904, sheets, self._defined, self._repeats = _MEMO.get(
            "workbook", self._part("xl/workbook.xml"), _workbook_part
        )
        rels = _MEMO.get("rels", self._part("xl/_rels/workbook.xml.rels"), _workbook_rels)
        self.epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        self._sheet_parts: list[tuple[str, str]] = []
        seen: set[str] = set()
        for title, rid in sheets:
            if not rid or rid not in rels or not title:
                raise Unsupported("sheet relationship")
            target, kind = rels[rid]
            if target not in self._names:
                continue  # openpyxl skips a sheet whose part is missing
            if kind != _WORKSHEET_REL or _INVALID_TITLE.search(title) or title.lower() in seen:
                raise Unsupported("sheet kind or title")
            seen.add(title.lower())
            self._sheet_parts.append((title, target))
        self.sheetnames = [t for t, _ in self._sheet_parts]

    def _names_by_sheet(self) -> None:
        """As openpyxl's `assign_names`: global names, and names local to a sheet by index.
        Once per worker for a workbook part and the sheets found (the print titles and areas
        it checks are openpyxl objects, a few dozen µs a file); read-only afterwards."""
        self.global_names, self.local_names = _MEMO.get(
            ("names", tuple(self.sheetnames)),
            self._part("xl/workbook.xml"),
            partial(_names_by_sheet, self.sheetnames, self._defined),
        )

    def _properties(self) -> None:
        if "docProps/core.xml" not in self._parts:
            raise Unsupported("no core properties")  # openpyxl would say "now"
        self._modified = _modified(self._parts["docProps/core.xml"])
        self._custom: dict[str, Any] = {}
        if "docProps/custom.xml" in self._parts:
            self._custom = _MEMO.get("custom", self._parts["docProps/custom.xml"], _custom)

    def _sheet(self, title: str, part: str) -> _Sheet:
        rels = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
        if rels in self._parts:
            _MEMO.get("sheet-rels", self._parts[rels], _sheet_rels)
        data = self._part(part)
        sheet: _Sheet = _MEMO.get("sheet", data, _parse_sheet)
        damaged = sheet.damaged
        # what openpyxl's load checks against the other parts: style and string indexes (a
        # negative string index openpyxl reads as one from the end: the wrong text)
        strings = len(self.shared_strings)
        if (
            sheet.style_max >= self.style_count
            or sheet.string_min < 0
            or sheet.string_max >= strings
        ):
            # a damaged file only: its cells again, to find which (empty cells included)
            damaged = {**damaged, **_bad_indexes(data, self.style_count, strings)}
        if damaged:
            self.damaged[title] = damaged
        return sheet

    # -- what the reader asks ----------------------------------------------------------------
    def custom_props(self) -> dict[str, Any]:
        return dict(self._custom)  # the memoised dict is shared by every file with these bytes

    def modified(self) -> Any:
        return self._modified

    def part_names(self) -> list[str]:
        return self._order

    def names_key(self) -> tuple[bytes, tuple[str, ...]]:
        """What every defined name's destination follows from: the workbook part's bytes and
        the sheets found (`reader._Reader._names` keeps what it resolved by it)."""
        return self._part("xl/workbook.xml"), tuple(self.sheetnames)

    def repeated_names(self) -> dict[str, list[str]]:
        """`reader.repeated_names` of the workbook's defined names (the parse's, memoised)."""
        if not self._repeats:
            return {}
        return repeated_names(self._repeats, len(self.sheetnames))

    def destinations(self, name: str) -> list[tuple[str, str]] | None:
        text = self.global_names.get(name)
        if text is None:
            for title in self.sheetnames:
                if name in self.local_names[title]:
                    text = self.local_names[title][name]
                    break
        if text is None:
            return None
        m = _SIMPLE_DEST.fullmatch(text)
        if m:
            return [(m.group(1) or m.group(2), m.group(3))]
        return list(DefinedName(name=name, attr_text=text).destinations)

    def cell(self, sheet: str, row: int, col: int) -> tuple[Any, str]:
        if row < 1 or col < 1:
            raise ValueError("Row or column values must be at least 1")
        ws = self.sheets[sheet]
        if ws.covered is not None:
            if (row, col) in ws.covered:
                return None, "n"
        else:
            for r1, c1, r2, c2 in ws.merged:
                if r1 <= row <= r2 and c1 <= col <= c2 and (row, col) != (r1, c1):
                    return None, "n"
        if self.damaged:
            bad = self.damaged.get(sheet)
            if bad is not None and (row, col) in bad:
                return bad[(row, col)], DAMAGED
        got = ws.cells.get((row, col))
        if got is None:
            return None, "n"
        return self._value(*got)

    def _value(self, value: Any, t: str, style: int) -> tuple[Any, str]:
        """A parsed cell as openpyxl gives it: the shared string looked up, a date converted."""
        if t == "s#":
            return self.shared_strings[value], "s"
        if t == "n" and value is not None and style in self.date_formats:
            try:
                return from_excel(value, self.epoch, timedelta=style in self.timedelta_formats), "d"
            except (OverflowError, ValueError):
                return "#VALUE!", "e"
        return value, t

    def percent(self, sheet: str, row: int, col: int) -> bool:
        """True when the cell shows its number as a percentage (0.96 as 96%)."""
        got = self.sheets[sheet].cells.get((row, col))
        return got is not None and got[2] in self.percent_formats

    def rows_with_values(self, sheet: str) -> set[int] | None:
        return self.sheets[sheet].value_rows

    def protected(self, sheet: str) -> bool:
        return self.sheets[sheet].protected

    def validated_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        ranges = [range_boundaries(ref) for ref in self.sheets[sheet].validations]
        for member in self._order:
            if member.startswith("xl/worksheets/") and member.endswith(".xml"):
                part = self._parts.get(member)
                if part is None:
                    break
                found, failed = _MEMO.get("x14", part, _x14_of)
                ranges += found
                if failed:  # as reader._validated_ranges: the ranges before the failure count
                    break
        return ranges

    def cached(self, sheet: str, cell: str) -> Any:
        """As a `data_only` load: every sheet parsed again for saved results; any failure
        there means no saved result at all. So does a damaged cell: openpyxl's `data_only`
        load refuses such a file as a whole."""
        if not hasattr(self, "_cached"):
            self._cached: dict[str, dict[tuple[int, int], Any]] | None = {}
            if self.damaged:
                self._cached = None
                return None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for (title, part), ws in zip(
                        self._sheet_parts, self.sheets.values(), strict=True
                    ):
                        cells = _cells(self._xml(part), data_only=True)
                        values = self._cached[title] = {
                            k: self._value(*v)[0] for k, v in cells.items()
                        }
                        for r1, c1, r2, c2 in ws.merged:
                            for r in range(r1, r2 + 1):
                                for c in range(c1, c2 + 1):
                                    if (r, c) != (r1, c1):
                                        values.pop((r, c), None)
            except Exception:  # noqa: BLE001 - as a failed data_only load: no saved results
                self._cached = None
        if self._cached is None:
            return None
        col, row, _, _ = range_boundaries(cell)
        return self._cached[sheet].get((row, col))

    def close(self) -> None:
        pass


# -- the zip archive ---------------------------------------------------------------------------


def _zip_members(data: bytes) -> list[tuple[str, Callable[[], bytes]]]:
    """The members of a plain zip archive, in directory order, each with a function giving its
    bytes exactly as `zipfile` would (same directory, same local headers, CRC and size checked).

    `zipfile` costs about 40 µs a member in Python objects; this reads the directory with
    `struct` and inflates with zlib. Only the archives Excel, WPS, LibreOffice and the writers
    of Python produce are taken: one disk, no zip64, no archive comment or data before the
    archive, no encryption, stored or deflated members, the name the same in the directory and
    the local header. Anything else is Unsupported, and read by the thorough path."""
    end = len(data) - _EOCD.size
    if end < 0 or data[end : end + 4] != b"PK\x05\x06":
        raise Unsupported("archive comment or no end record")
    _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, comment = _EOCD.unpack_from(
        data, end
    )
    if disk or cd_disk or disk_entries != entries or comment or cd_offset + cd_size != end:
        raise Unsupported("multi-disk, zip64, commented or prefixed archive")
    members = []
    pos = cd_offset
    for _ in range(entries):
        if data[pos : pos + 4] != b"PK\x01\x02":
            raise Unsupported("central directory")
        fields = _CENTRAL.unpack_from(data, pos)
        flags, method, crc, packed, size = fields[5], fields[6], fields[9], fields[10], fields[11]
        name_len, extra_len, comment_len, offset = fields[12], fields[13], fields[14], fields[18]
        raw_name = data[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len]
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        if flags & 0x1 or method not in (0, 8) or 0xFFFFFFFF in (packed, size, offset):
            raise Unsupported("encrypted, zip64 or unusual compression")
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        if "\x00" in name:
            raise Unsupported("NUL in a member name")
        members.append((name, partial(_member, data, raw_name, offset, method, crc, packed, size)))
    if pos != end:
        raise Unsupported("central directory size")
    return members


def _member(
    data: bytes, raw_name: bytes, offset: int, method: int, crc: int, packed: int, size: int
) -> bytes:
    body = local_body(data, offset, packed, raw_name)
    if body is None:
        raise Unsupported("no local header, or another name in it")
    if len(body) != packed:
        raise Unsupported("member cut off")
    # The same compressed bytes (with the same method, CRC and size) inflate to the same
    # bytes, already checked: the shared parts of a batch are inflated once, and come back as
    # the one bytes object `_MEMO` holds, whose hash is known. Only parts small once inflated
    # are kept (a 256 KiB member may inflate a hundredfold).
    if size > _INFLATED.part_bytes:
        return _inflate(method, crc, size, body)
    # A file's own parts were inflated by the safety gate just before; checked here as any.
    got = inflated(crc, size, body) if method == 8 else None
    if got is not None:
        if len(got) != size or zlib.crc32(got) != crc:
            raise Unsupported("member size or CRC")
        return got
    return _INFLATED.get(f"{method}:{crc}:{size}", body, partial(_inflate, method, crc, size))


def _inflate(method: int, crc: int, size: int, body: bytes) -> bytes:
    out = body if method == 0 else zlib.decompress(body, -15, max(size, 1))
    if len(out) != size or zlib.crc32(out) != crc:
        raise Unsupported("member size or CRC")
    return out


# -- parses of one part's bytes (memoised by `_MEMO`) -----------------------------------------
def _parse_xml(data: bytes) -> ET.Element:
    return ET.fromstring(_plain_xml(data))


def _content_types(data: bytes) -> list[tuple[str | None, str | None]]:
    types = _parse_xml(data)
    return [(o.get("PartName"), o.get("ContentType")) for o in types.iter(f"{_CT}Override")]


def _workbook_part(
    data: bytes,
) -> tuple[
    bool,
    list[tuple[str | None, str | None]],
    list[tuple[str | None, str | None, str]],
    list[tuple[str | None, str | None, str]],
]:
    """(date1904, the sheets as (name, relationship id), the defined names, the definitions of
    the names defined more than once, in any scopes: for `reader.repeated_names`)."""
    root = _parse_xml(data)
    pr = root.find(f"{_MAIN}workbookPr")
    date1904 = pr is not None and _bool(pr.get("date1904"))
    sheets = [(sheet.get("name"), sheet.get(f"{_REL}id")) for sheet in root.iter(f"{_MAIN}sheet")]
    defined = [
        (d.get("name"), d.get("localSheetId"), d.text or "")
        for d in root.iter(f"{_MAIN}definedName")
    ]
    counts: dict[str, int] = {}
    for name, _, _ in defined:
        key = (name or "").lower()
        counts[key] = counts.get(key, 0) + 1
    repeats = [d for d in defined if counts[(d[0] or "").lower()] > 1]
    return date1904, sheets, defined, repeats


def _workbook_rels(data: bytes) -> dict[str, tuple[str, str | None]]:
    rels: dict[str, tuple[str, str | None]] = {}
    for r in _parse_xml(data).iter(f"{_PKG_REL}Relationship"):
        if r.get("TargetMode") == "External":
            raise Unsupported("external relationship")
        target = r.get("Target") or ""
        target = target[1:] if target.startswith("/") else posixpath.join("xl", target)
        rels[r.get("Id") or ""] = (posixpath.normpath(target), r.get("Type"))
    return rels


def _names_by_sheet(
    sheetnames: list[str], defined: list[tuple[str, str | None, str]], data: bytes
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """`FastBook._names_by_sheet`: the defined names `_workbook_part` read from the workbook
    part `data` (memoised by its bytes), by sheet."""
    global_names: dict[str, str] = {}
    local_names: dict[str, dict[str, str]] = {t: {} for t in sheetnames}
    reserved_global = ("_xlnm.Print_Titles", "_xlnm.Print_Area", "_xlnm._FilterDatabase")
    for name, local, text in defined:
        if not name:
            raise Unsupported("nameless defined name")
        if local is None:
            if name not in reserved_global:
                global_names[name] = text
            continue
        idx = int(local)
        if idx < 0:
            raise Unsupported("negative localSheetId")
        if idx >= len(sheetnames):
            continue
        m = RESERVED_REGEX.match(name)
        reserved = m.group("name") if m else None
        if reserved is None:
            local_names[sheetnames[idx]][name] = text
        elif reserved == "Print_Titles":
            PrintTitles.from_string(text)
        elif reserved == "Print_Area":
            with contextlib.suppress(TypeError):
                PrintArea.from_string(text)
    return global_names, local_names


def _styles(data: bytes) -> tuple[frozenset[int], frozenset[int], int, frozenset[int]]:
    """(styles whose number format is a date, … a time span, how many cell styles there are,
    styles whose number format is a percentage)."""
    root = _parse_xml(data)
    custom = {}
    for fmt in root.iter(f"{_MAIN}numFmt"):
        custom[int(fmt.get("numFmtId"))] = fmt.get("formatCode")
    xfs = root.find(f"{_MAIN}cellXfs")
    if xfs is None:
        raise Unsupported("no cellXfs")
    dates: set[int] = set()
    spans: set[int] = set()
    percents: set[int] = set()
    count = 0
    for idx, xf in enumerate(xfs.findall(f"{_MAIN}xf")):
        num = int(xf.get("numFmtId", 0))
        fmt = custom[num] if num in custom else BUILTIN_FORMATS.get(num)
        if is_date_format(fmt):
            dates.add(idx)
        if is_timedelta_format(fmt):
            spans.add(idx)
        if is_percent_format(fmt):
            percents.add(idx)
        count = idx + 1
    return frozenset(dates), frozenset(spans), count, frozenset(percents)


#: The last-saved time as Excel, WPS, LibreOffice and openpyxl write it.
_MODIFIED = re.compile(
    rb'<dcterms:modified xsi:type="dcterms:W3CDTF">'
    rb"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)</dcterms:modified>"
)
_STAND_IN = "2000-01-01T00:00:00Z"


def _modified(data: bytes) -> Any:
    """`DocumentProperties.from_tree(core).modified`, as openpyxl's load reads it (and raises).

    Only the saved time differs among the files of a batch: the rest of the part is checked
    by openpyxl's class once (memoised with a stand-in time), and the time is read with
    openpyxl's own parser. The stand-in must come back as the time read, so the element
    replaced is the one openpyxl reads; anything unusual is read whole."""
    found = _MODIFIED.findall(data) if b"<!" not in data else []
    if len(found) == 1:
        shape = _MODIFIED.sub(
            b'<dcterms:modified xsi:type="dcterms:W3CDTF">'
            + _STAND_IN.encode()
            + b"</dcterms:modified>",
            data,
        )
        if _MEMO.get("core", shape, _core_modified) == from_ISO8601(_STAND_IN):
            return from_ISO8601(found[0].decode())
    return _core_modified(data)


def _core_modified(data: bytes) -> Any:
    return DocumentProperties.from_tree(_parse_xml(data)).modified


def _notes(data: bytes) -> None:
    """A comments part as openpyxl's load parses it (raising where it raises)."""
    CommentSheet.from_tree(_parse_xml(data))


def _custom(data: bytes) -> dict[str, Any]:
    props = CustomPropertyList.from_tree(_parse_xml(data))
    return {p.name: p.value for p in props.props}


def _x14_of(data: bytes) -> tuple[list[tuple[int, int, int, int]], bool]:
    """A sheet's x14 validation ranges, and whether reading them failed part way."""
    found: list[tuple[int, int, int, int]] = []
    try:
        _x14_ranges(data, found)
    except ValueError:
        return found, True
    return found, False


def _sheet_rels(data: bytes) -> None:
    for r in _parse_xml(data).iter(f"{_PKG_REL}Relationship"):
        if r.get("Type") not in _SHEET_RELS:
            raise Unsupported("sheet relationship")


def _parse_sheet(data: bytes) -> _Sheet:
    data = _plain_xml(data)
    split = _split_sheet(data)
    if split is not None:
        frame, body, views = split
        try:
            around = _MEMO.get("sheet-frame", frame, _parse_frame)
            if around is not None:
                if views is not None:
                    # a unit's selection: the same cells recur (A1, the last one typed in)
                    _MEMO.get("sheet-views", views, _well_formed)
                return _sheet(body, around)
        except ET.ParseError:
            pass  # perhaps only split at the wrong places: the whole part is parsed, and decides
    return _sheet(data, None)


def _well_formed(data: bytes) -> None:
    """Raise ParseError unless `data` is well-formed XML (nothing of it is kept)."""
    ET.fromstring(data)


def _sheet(data: bytes, around: _Sheet | None) -> _Sheet:
    """The sheet's cells from `data`; what lies around them from `around`, or from `data`
    (the whole part, parsed as it is)."""
    sheet = _Sheet()
    summary: list[_RowSummary] = []
    root, cells, empty_styles = _parse_cells(
        data, drop=around is not None, damaged=sheet.damaged, summary=summary
    )
    sheet.cells = cells
    if summary:  # read row by row: what each row's memo counted once
        got = summary[0]
        sheet.style_max = got.style_max
        sheet.value_rows = set(got.value_rows)
        sheet.string_min = 0 if got.string_min is None else got.string_min
        sheet.string_max = got.string_max
    else:
        styles = [style for _, _, style in cells.values()]
        sheet.style_max = max(styles, default=-1)
        if empty_styles:
            sheet.style_max = max(sheet.style_max, *map(int, empty_styles))
        sheet.value_rows = {row for (row, _), (value, _, _) in cells.items() if value is not None}
        strings = [value for value, t, _ in cells.values() if t == "s#"]
        sheet.string_min = min(strings, default=0)
        sheet.string_max = max(strings, default=-1)
    sheet.value_rows.update(row for row, _ in sheet.damaged)  # a damaged cell held something
    if around is None:
        assert root is not None  # parsed whole: `_parse_cells` reads row by row only with drop
        around = _around(root)
    sheet.protected, sheet.validations = around.protected, around.validations
    sheet.merged, sheet.covered = around.merged, around.covered
    return sheet


def _around(root: ET.Element) -> _Sheet:
    """What a sheet holds besides its cells: protection, dropdown ranges, merged areas."""
    sheet = _Sheet()
    last = _last(root, "sheetProtection")
    sheet.protected = bool(last is not None and SheetProtection.from_tree(last).sheet)
    last = _last(root, "dataValidations")
    if last is not None:
        DataValidationList.from_tree(last)  # raises where openpyxl's load does (sqref="H:H")
        for dv in last.findall(f"{_MAIN}dataValidation"):
            if dv.get("type") == "list":  # as reader._validated_ranges: dropdowns only
                sheet.validations += (dv.get("sqref") or "").split()
    last = _last(root, "mergeCells")
    if last is not None:
        for m in last.findall(f"{_MAIN}mergeCell"):
            c1, r1, c2, r2 = range_boundaries(m.get("ref") or "")
            if None in (c1, r1, c2, r2):
                raise Unsupported("merge range")
            sheet.merged.append((r1, c1, r2, c2))
    area = sum((r2 - r1 + 1) * (c2 - c1 + 1) for r1, c1, r2, c2 in sheet.merged)
    if area <= _MAX_COVERED:
        sheet.covered = {
            (r, c)
            for r1, c1, r2, c2 in sheet.merged
            for r in range(r1, r2 + 1)
            for c in range(c1, c2 + 1)
            if (r, c) != (r1, c1)
        }
    return sheet


#: The root element's start tag, after the XML declaration if there is one.
_ROOT_START = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:<\?xml[^<>]*\?>)?\s*"
    rb"(<([A-Za-z_][\w.:-]*)(?:\s+[\w.:-]+\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*\s*>)"
)
#: Elements `_around` reads; a sheetData holding one of them is not split off.
_AROUND_TAGS = (b"sheetProtection", b"dataValidation", b"mergeCell")


def _split_sheet(data: bytes) -> tuple[bytes, bytes, bytes | None] | None:
    """The sheet as (frame, body, views): the frame is the part with `<sheetData/>` in place of
    its cells, the body is the root's start tag, the cells, and the root's end tag.

    Every file of a template has the same frame (columns, dropdowns, conditional formats,
    merged areas, protection: about 40 % of a form sheet's XML), so `_MEMO` parses it once;
    only the body is parsed for each file. The two parse exactly when the whole does, and
    give the same elements, provided the frame's `<sheetData/>` is a child of the root
    (checked by `_parse_frame`) and every `<` is markup: None (parse the whole) when there is a
    comment, CDATA section or processing instruction.

    What a program saves differently in each file, the selected cell (`<sheetViews>`) and the
    used range (`<dimension>`), stands in the frame as a fixed element; `views` (None if
    nothing was replaced) is those elements under the root's tags, which must parse too."""
    start = _ROOT_START.match(data)
    if start is None or _holds(data, b"<!") or _holds(data, b"<?", start.end()):
        return None
    # The first <sheetData> and </sheetData>: another sheetData before, after or inside makes
    # the frame's or the body's parse tell (`_parse_frame` wants one, empty, child of the
    # root; a nested one leaves the body unclosed), and the whole part is parsed instead.
    i = data.find(b"<sheetData>")
    j = data.find(b"</sheetData>")
    if i < start.end() or j < i:
        return None
    j += len(b"</sheetData>")
    body = data[i:j]
    if any(tag in body for tag in _AROUND_TAGS):
        return None
    head, cut = _steady_head(data[:i])
    frame = head + b"<sheetData/>" + data[j:]
    end = b"</" + start.group(2) + b">"
    return frame, start.group(1) + body + end, start.group(1) + cut + end if cut else None


def _holds(data: bytes, markup: bytes, start: int = 0) -> bool:
    """Whether `data` holds `markup` ("<!", "<?") from `start`: its second byte is looked for
    first, a pass of memchr, since searching for "<…" meets every tag on the way."""
    return data.find(markup[1:], start) >= 0 and data.find(markup, start) >= 0


#: (element, its start, a stand-in): what `_steady_head` takes out of a frame.
_VOLATILE = (
    (re.compile(rb"<dimension\b[^<>]*/>"), b"<dimension", b'<dimension ref="A1"/>'),
    (re.compile(rb"<sheetViews>.*?</sheetViews>", re.S), b"<sheetViews", b"<sheetViews/>"),
)


def _steady_head(head: bytes) -> tuple[bytes, bytes]:
    """The part before the cells with its used range and selection in stand-ins' place, and
    the elements taken out. Each is taken only when it is the one element of that name and
    holds nothing `_around` or `_cells` reads."""
    cut = []
    for pattern, tag, stand_in in _VOLATILE:
        found = pattern.search(head)
        if found is None or head.count(tag) != 1 or head.count(b"</" + tag[1:]) > 1:
            continue
        element = found.group(0)
        if b"<row" in element or any(t in element for t in _AROUND_TAGS):
            continue
        cut.append(element)
        head = head[: found.start()] + stand_in + head[found.end() :]
    return head, b"".join(cut)


def _parse_frame(frame: bytes) -> _Sheet | None:
    """`_around` of a sheet's frame; None if its `<sheetData/>` is not a child of the root, or
    it holds rows (read only from the body)."""
    root = ET.fromstring(frame)
    found = root.findall(f"{_MAIN}sheetData")
    if len(found) != 1 or len(found[0]) or found[0].attrib or found[0].text:
        return None
    if next(root.iter(_ROW), None) is not None:
        return None
    return _around(root)


#: An empty cell of the default type, as Excel, WPS, LibreOffice and openpyxl write the
#: styled blanks of a form: `<c r="C3" s="21"/>`, `<c r="C3" s="21" t="n" />`.
#: Only where a tag follows: taking the cell out then leaves every other node's text as it
#: was, and cannot mend what was not well-formed (a "<" in an attribute value stays: the next).
_EMPTY_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})" s="([0-9]{1,9})"(?: t="n")? ?/>(?=<)'
)
#: Cell references written the one way (A1, not a1 or A01), separated by spaces.
_REFS = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}(?: [A-Z]{1,3}[1-9][0-9]{0,6})*")


def _parse_cells(
    data: bytes,
    drop: bool,
    damaged: dict[tuple[int, int], tuple[str, str]] | None = None,
    summary: list[_RowSummary] | None = None,
) -> tuple[ET.Element | None, dict[tuple[int, int], tuple[Any, str, int]], list[bytes]]:
    """The sheet's tree and cells, parsed without its empty cells of the default type (with
    `drop`: for the body of `_split_sheet`, all of it inside the root element, without
    comments, CDATA or processing instructions), and those cells' style indexes. The tree is
    None when the cells were read row by row (`_cells_by_row`, only with `drop`).

    Two thirds of a form's cells are styled blanks; dropping them before the parse took a
    third off the sheet's parse. A blank read is None of type "n" whether its cell is there or
    not (`FastBook.cell`), and its style index is still checked (`_Sheet.style_max`).

    Kept only when dropping them cannot change what is read: every cell left has its
    reference, written the one way, and no two cells, left or dropped, have the same one (a
    cell without one takes its column from the cell before, and a later cell of the same
    reference replaces an earlier one); else the sheet is parsed again as it is. The checks
    ride on the regex pass that drops the cells and on the parse (`_cells`): scanning the
    sheet for them first cost as much as the parse saved. Row by row, both are done once per
    worker for a row's bytes (`_cells_by_row`); the pass over the whole body cost 5 % of a
    worker's time.

    With `damaged`, a damaged cell is read as empty and listed there (`_cells`); without it,
    the parse raises as openpyxl's does. With `summary`, a sheet read row by row whose rows
    each counted their references apart gets what they counted (`_RowSummary`) appended
    there; its references and empty styles are then not listed (the third item is empty)."""
    if drop:
        refs: list[str | None] = []
        dropped: list[str] = []
        styles: list[bytes] = []
        bad: dict[tuple[int, int], tuple[str, str]] | None = None if damaged is None else {}
        by_row = _cells_by_row(data, refs, bad, dropped, styles, summary)
        if by_row is not None:
            if not summary and not _refs_apart(refs, dropped):
                return _parse_whole(data, damaged)
            if bad:
                damaged.update(bad)  # type: ignore[union-attr]
            return None, by_row, styles
        parts = _EMPTY_CELL.split(data)
        if len(parts) > 1:
            joined = b"".join(parts[::3])  # dropping whole elements keeps it well-formed
            refs.clear()
            if bad:
                bad.clear()
            root = ET.fromstring(joined)
            cells = _cells(root, data_only=False, refs=refs, damaged=bad)
            if _refs_apart(refs, b" ".join(parts[1::3]).decode().split()):
                if bad:
                    damaged.update(bad)  # type: ignore[union-attr]
                return root, cells, parts[2::3]
    return _parse_whole(data, damaged)


def _parse_whole(
    data: bytes, damaged: dict[tuple[int, int], tuple[str, str]] | None
) -> tuple[ET.Element, dict[tuple[int, int], tuple[Any, str, int]], list[bytes]]:
    root = ET.fromstring(data)
    return root, _cells(root, data_only=False, damaged=damaged), []


def _refs_apart(refs: list[str | None], dropped: list[str]) -> bool:
    """Whether every cell left has its reference, written the one way, and no two cells, left
    or dropped, have the same one: then dropping the empty cells changed nothing read."""
    return (not refs or bool(_REFS.fullmatch(" ".join(r or "?" for r in refs)))) and len(
        set(refs).union(dropped)
    ) == len(refs) + len(dropped)


def _cells_by_row(
    body: bytes,
    refs: list[str | None],
    damaged: dict[tuple[int, int], tuple[str, str]] | None,
    dropped: list[str] | None = None,
    styles: list[bytes] | None = None,
    summary: list[_RowSummary] | None = None,
) -> dict[tuple[int, int], tuple[Any, str, int]] | None:
    """`_cells` of a sheet's body (`_split_sheet`), one row at a time, each row's empty cells
    dropped (`_EMPTY_CELL`: their references go to `dropped`, their styles to `styles`) and
    the rest parsed, once per worker for all the files that have the row byte for byte
    (`_ROWS`): the rows of labels, formulas and office-filled values are most of a form
    sheet, and every file of a template has them. None when the body is not one this can
    split: the caller parses it whole, and that decides (and raises) as before.

    It reads what the whole parse reads. The body is exactly the root's start tag,
    `<sheetData>`, pieces each from a `<row r="…">` to the next `</row>` (a self-closing row
    goes with the one after it), and the two end tags; so it is well-formed exactly when each
    piece is (each is parsed inside the root's start tag: the same namespaces). No piece
    depends on another: each starts with a row that states its number, and no formula is
    shared (a shared formula's later cells are read from its first). An empty cell is an
    element inside its row, followed by one (`_EMPTY_CELL` looks ahead for a "<"), so a row
    drops the cells the whole body would. Pieces are taken in order, a later cell of a
    reference replacing an earlier one as in `_cells`. A damaged cell makes this give up where
    the caller wants `_cells` to raise (`damaged` None).

    With `summary`, when the rows' own counts prove every reference apart (`_joined`), what
    they counted is appended there and `refs`, `dropped` and `styles` are left empty: per
    file, listing a form's 700 references and checking them again cost 0.1 ms."""
    start = _ROOT_START.match(body)
    if start is None or start.end() != len(start.group(1)) or b"shared" in body:
        return None
    end = b"</" + start.group(2) + b">"
    head = start.group(1)
    i = len(head)
    if not body.startswith(b"<sheetData>", i) or not body.endswith(b"</sheetData>" + end):
        return None
    pos, stop = i + len(b"<sheetData>"), len(body) - len(b"</sheetData>") - len(end)
    cells: dict[tuple[int, int], tuple[Any, str, int]] = {}
    parse = partial(_row_without_empty_cells, head, end)
    rows: list[_Row] = []
    try:
        while pos < stop:
            # a row numbered, up to the next "</row>" (text holds no "<": it is this row's end)
            if not body.startswith(b'<row r="', pos) or not body[pos + 8 : pos + 9].isdigit():
                return None
            at = body.find(b"</row>", pos, stop)
            at = stop if at < 0 else at + len(b"</row>")
            row = _ROWS.get(head, body[pos:at], parse)
            got, _, row_bad, row_dropped, _, _ = row
            pos = at
            cells.update(got)
            rows.append(row)
            if row_dropped and (dropped is None or styles is None):
                return None  # the caller keeps no account of them: it reads them
            if row_bad:
                if damaged is None:
                    return None
                damaged.update(row_bad)
    except (ET.ParseError, ValueError, Unsupported):
        return None
    if summary is not None:
        joined = _joined(rows)
        if joined is not None:
            summary.append(joined)
            return cells
    for _, row_refs, _, row_dropped, row_styles, _ in rows:
        refs.extend(row_refs)
        if row_dropped:
            dropped.extend(row_dropped)  # type: ignore[union-attr]
            styles.extend(row_styles)  # type: ignore[union-attr]
    return cells


class _RowSummary(NamedTuple):
    """What `_sheet` wants of a sheet's cells, counted once per worker for a row's bytes (in
    the row's memo), and added up for a sheet (`_joined`)."""

    #: every reference of the row (its cells' and its dropped empty cells') is there, written
    #: the one way, and named once: what `_refs_apart` checks, within the row
    apart: bool
    #: the rows those references name (when apart): rows whose sets are disjoint cannot
    #: share a reference, so the sheet's references are apart when every row's are
    rows: frozenset[int]
    style_max: int  # of its cells and its dropped empty cells
    string_min: int | None  # the shared-string indexes of its cells, None without one
    string_max: int
    value_rows: frozenset[int]  # the rows where a cell holds a value


#: A row's memo: its cells, their references, its damaged cells, its dropped empty cells'
#: references and styles, and what `_sheet` wants of them.
_Row = tuple[
    dict[tuple[int, int], tuple[Any, str, int]],
    tuple[str | None, ...],
    dict[tuple[int, int], tuple[str, str]],
    tuple[str, ...],
    tuple[bytes, ...],
    _RowSummary,
]

_COLUMN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _row_summary(
    cells: dict[tuple[int, int], tuple[Any, str, int]],
    refs: tuple[str | None, ...],
    dropped: tuple[str, ...],
    styles: tuple[bytes, ...],
) -> _RowSummary:
    named = (*refs, *dropped)
    apart = (
        None not in refs
        and (not refs or _REFS.fullmatch(" ".join(refs)) is not None)  # type: ignore[arg-type]
        and len(set(named)) == len(named)
    )
    rows = frozenset(int(r.lstrip(_COLUMN_LETTERS)) for r in named) if apart else frozenset()  # type: ignore[union-attr]
    strings = [value for value, t, _ in cells.values() if t == "s#"]
    return _RowSummary(
        apart,
        rows,
        max(max((style for _, _, style in cells.values()), default=-1), *map(int, styles), -1),
        min(strings, default=None),
        max(strings, default=-1),
        frozenset(row for (row, _), (value, _, _) in cells.items() if value is not None),
    )


def _joined(rows: list[_Row]) -> _RowSummary | None:
    """The sheet's `_RowSummary` from its rows', or None unless every row's references are
    apart and no two rows name a row in common (then `_refs_apart` would hold of the whole)."""
    named: set[int] = set()
    count = 0
    style_max = string_max = -1
    string_min: int | None = None
    value_rows: set[int] = set()
    for *_, got in rows:
        if not got.apart:
            return None
        named |= got.rows
        count += len(got.rows)
        style_max = max(style_max, got.style_max)
        if got.string_min is not None:
            string_min = got.string_min if string_min is None else min(string_min, got.string_min)
        string_max = max(string_max, got.string_max)
        value_rows |= got.value_rows
    if len(named) != count:
        return None
    return _RowSummary(
        True, frozenset(named), style_max, string_min, string_max, frozenset(value_rows)
    )


def _row_without_empty_cells(head: bytes, end: bytes, row: bytes) -> _Row:
    """`_row_cells` of a row without its empty cells, their references and styles, and what
    `_sheet` wants of them all (`_RowSummary`)."""
    parts = _EMPTY_CELL.split(row)
    if len(parts) == 1:
        cells, refs, bad = _row_cells(head, end, row)
        return cells, refs, bad, (), (), _row_summary(cells, refs, (), ())
    kept = b"".join(parts[::3])
    dropped = tuple(ref.decode() for ref in parts[1::3])
    styles = tuple(parts[2::3])
    cells, refs, bad = _row_cells(head, end, kept)
    return cells, refs, bad, dropped, styles, _row_summary(cells, refs, dropped, styles)


def _row_cells(
    head: bytes, end: bytes, row: bytes
) -> tuple[
    dict[tuple[int, int], tuple[Any, str, int]],
    tuple[str | None, ...],
    dict[tuple[int, int], tuple[str, str]],
]:
    """`_cells` of one row (`_cells_by_row`): its cells, their references, its damaged cells."""
    refs: list[str | None] = []
    bad: dict[tuple[int, int], tuple[str, str]] = {}
    cells = _cells(ET.fromstring(head + row + end), data_only=False, refs=refs, damaged=bad)
    return cells, tuple(refs), bad


def _cells(
    root: ET.Element,
    data_only: bool,
    refs: list[str | None] | None = None,
    damaged: dict[tuple[int, int], tuple[str, str]] | None = None,
) -> dict[tuple[int, int], tuple[Any, str, int]]:
    """openpyxl's `WorkSheetParser.parse_row`/`parse_cell`, for speed, up to what depends on
    other parts: a shared string stays its index (type "s#"), a number is not made a date yet
    (`FastBook._value` does both). Formulas, shared ones included, go through openpyxl's own
    code, so values and data types are the same. Each cell's reference as written (None when
    it has none) is appended to `refs`, if given.

    Where openpyxl raises for one cell (a style attribute that is no index, a value its type
    cannot hold: `<v>0x5F</v>` in a number cell), the cell is read as an empty one and listed
    in `damaged`, if given; else this raises too. A number cell holding INF, -INF or NaN (an
    xsd:double, though Excel never writes one) is read as that float there, as openpyxl reads
    1e309: the reader answers E203 for it."""
    formulas: Any = None
    out: dict[tuple[int, int], tuple[Any, str, int]] = {}
    row_counter = 0
    for row in root.iter(_ROW):
        r = row.get("r")
        if r is not None:
            try:
                row_counter = int(r)
            except ValueError:
                val = float(r)
                if not val.is_integer():
                    raise
                row_counter = int(val)
        else:
            row_counter += 1
        col_counter = 0
        for el in row:
            t = el.get("t", "n")
            coordinate = el.get("r")
            if refs is not None:
                refs.append(coordinate)
            s_raw = el.get("s")
            bad: tuple[str, str] | None = None
            try:
                style = int(s_raw) if s_raw else 0
            except ValueError:
                style = -1
            if s_raw == "" or style < 0:
                if damaged is None:
                    raise Unsupported("style index")
                bad, style = ("style", s_raw or ""), 0
            # Most cells of a form are empty and styled (<c r="C3" s="21"/>): nothing to find.
            empty = not len(el)
            if t == "inlineStr" or empty:
                value: Any = None
            else:
                v = el.find(_V)
                value = (v.text if v is not None else None) or None
            if coordinate:
                pos = _COORDS.get(coordinate)
                if pos is None:
                    pos = coordinate_to_tuple(coordinate)
                    if len(_COORDS) < 100_000:
                        _COORDS[coordinate] = pos
                col_counter = pos[1]
            else:
                col_counter += 1
                pos = (row_counter, col_counter)
            if empty:
                pass
            elif not data_only and el.find(_F) is not None:
                if formulas is None:
                    formulas = formula_parser()
                t, value = "f", formulas.parse_formula(el)
            elif value is not None:
                try:
                    if t == "n":
                        value = (
                            float(value)
                            if "." in value or "E" in value or "e" in value
                            else int(value)
                        )
                    elif t == "s":
                        t, value = "s#", int(value)
                    elif t == "b":
                        value = bool(int(value))
                    elif t == "str":
                        t = "s"
                    elif t == "d":
                        value = from_ISO8601(value)
                except ValueError:
                    if damaged is None:
                        raise
                    if t == "n" and _NON_FINITE.fullmatch(value):
                        value = float(value)
                    else:
                        bad = bad or (_DAMAGE_KIND.get(t, "value"), value)
                        t, value = "n", None
            elif t == "inlineStr":
                child = el.find(_IS)
                if child is not None:
                    # as `_inline` reads the usual one <t> alone (its attributes unread)
                    only = child[0] if len(child) == 1 else None
                    if only is not None and only.tag == _T and not len(only):
                        t, value = "s", only.text or ""
                    else:
                        t, value = "s", _inline(child)
            if bad is not None:
                damaged[pos] = bad  # type: ignore[index]
                t, value = "n", None
            out[pos] = (value, t, style)
    return out


#: What is damaged in a cell whose value its type cannot hold, by the type.
_DAMAGE_KIND = {"n": "number", "s": "string"}
#: xsd:double's INF, -INF and NaN, as Python's float reads them (int() refuses them).
_NON_FINITE = re.compile(r"\s*[+-]?(?:inf|infinity|nan)\s*", re.IGNORECASE)


def _bad_indexes(data: bytes, styles: int, strings: int) -> dict[tuple[int, int], tuple[str, str]]:
    """The cells of a sheet whose style index is past the workbook's styles, or whose shared
    string index is not one of its strings; read from the whole part again (the empty cells
    `_parse_cells` drops carry style indexes too). Only for a file that has such a cell."""
    out: dict[tuple[int, int], tuple[str, str]] = {}
    _, cells, _ = _parse_cells(_plain_xml(data), drop=False, damaged={})
    for pos, (value, t, style) in cells.items():
        if style >= styles:
            out[pos] = ("style", str(style))
        elif t == "s#" and not 0 <= value < strings:
            out[pos] = ("string", str(value))
    return out


def _plain_xml(data: bytes) -> bytes:
    """The part, if it is UTF-8 XML without a document type declaration (so without entity
    declarations); otherwise Unsupported, and the thorough path (defusedxml) reads it."""
    # "!" first: one quick pass for a byte most parts lack (looking for "<!…" meets every
    # tag on the way, and took 20 times longer on a form sheet)
    if (b"!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data)) or b"\x00" in data[:512]:
        raise Unsupported("doctype or not UTF-8")
    if data.startswith((b"\xfe\xff", b"\xff\xfe")):
        raise Unsupported("UTF-16")
    m = _XML_DECL.match(data)
    if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise Unsupported("encoding")
    return data


def _last(root: ET.Element, tag: str) -> ET.Element | None:
    """The last element of that name (openpyxl keeps the last one it meets)."""
    found = None
    for found in root.iter(f"{_MAIN}{tag}"):  # noqa: B007 - the loop keeps the last one
        pass
    return found


def _inline(node: ET.Element) -> str:
    """openpyxl's `Text.from_tree(node).content`: the plain text, then each run's. The parts
    openpyxl builds objects from (a run's font, phonetic runs and properties) are checked by
    those same classes, so a value they refuse sends the file to the thorough path too."""
    plain = None
    runs = []
    for el in node:
        tag = el.tag
        if tag == _T:
            plain = el.text
        elif tag == _R:
            text = None
            for sub in el:
                if sub.tag == _T:
                    text = sub.text
                elif sub.tag == _RPR:
                    _valid(sub, InlineFont)
            if text is not None:
                runs.append(text)
        elif tag == _RPH:
            _valid(el, PhoneticText)
        elif tag == _PHONETIC_PR:
            _valid(el, PhoneticProperties)
        else:
            raise Unsupported("inline string part")
    return "".join(([plain] if plain is not None else []) + runs)


#: Elements openpyxl has already accepted, by content (a workbook repeats its few run fonts).
_ACCEPTED: set[tuple] = set()


def _valid(el: ET.Element, cls: Any) -> None:
    """Raise as openpyxl's `cls.from_tree(el)` raises for this element (memoised)."""
    key = (cls.__name__, _content(el))
    if key in _ACCEPTED:
        return
    cls.from_tree(el)
    if len(_ACCEPTED) < 10_000:
        _ACCEPTED.add(key)


def _content(el: ET.Element) -> tuple:
    return (el.tag, tuple(el.attrib.items()), el.text, tuple(_content(c) for c in el))


def _string_table(data: bytes) -> list[str]:
    """openpyxl's `read_string_table`: each <si>'s text, `_x005F_` escapes undone as it does.

    A file saved by Excel, WPS or LibreOffice has its own table (its unit's texts are in it),
    but most of its strings are the template's labels: each `<si>` is read once per worker by
    its bytes (`_strings_by_piece`), when the table is one that can be read so."""
    data = _plain_xml(data)
    got = _strings_by_piece(data)
    if got is not None:
        return got
    return [_string(si) for si in ET.fromstring(data).iter(_SI)]


def _string(si: ET.Element) -> str:
    return _inline(si).replace("x005F_", "")


#: The string table's root as Excel, WPS and LibreOffice write it: the main namespace alone
#: (so an `<si>` means the same inside `_SST_HEAD`), and the two counts.
_SST_START = re.compile(
    rb'(?:\xef\xbb\xbf)?(?:<\?xml[^<>]*\?>)?\s*(<sst xmlns="http://schemas\.openxmlformats\.org/'
    rb'spreadsheetml/2006/main"(?: count="[0-9]{1,10}")?(?: uniqueCount="[0-9]{1,10}")?>)'
)
_SST_HEAD = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
#: The text of each `<si>` piece read (`_strings_by_piece`), by its bytes; emptied when full.
_SI_TEXTS: dict[bytes, str] = {}
_SI_TEXTS_MAX = 50_000


def _strings_by_piece(data: bytes) -> list[str] | None:
    """The string table read one `<si>` at a time, each piece's text kept by its bytes; None
    when the table is not exactly the root (`_SST_START`), pieces each from an `<si>` to the
    next `</si>` with nothing between them, and the end tag: then it is parsed whole.

    It reads what the whole parse reads. The prolog and root are parsed (with no pieces), so
    a declaration or root the whole parse refuses is refused here too; the pieces not known
    yet are parsed together inside the same root, so they are well-formed exactly when the
    whole table is (each piece ends at its first `</si>`, and holds no other `<si`: an
    element left open, or a `</si>` inside a comment or CDATA, leaves the join unclosed or
    broken, and a piece parses as one `<si>`). A parse error here is the whole's too."""
    start = _SST_START.match(data)
    if start is None:
        return None
    end = data.rstrip(b" \t\r\n")  # XML's white space, no other
    if not end.endswith(b"</sst>"):
        return None
    ET.fromstring(data[: start.end()] + b"</sst>")  # the prolog and root, as the whole has them
    pieces = data[start.end() : len(end) - len(b"</sst>")].split(b"</si>")
    if pieces.pop() != b"":
        return None  # something after the last </si>, or no pieces and something else
    texts = _SI_TEXTS
    new = []
    for piece in pieces:
        if not piece.startswith(b"<si>") or piece.find(b"<si", 3) >= 0:
            return None
        if piece not in texts:
            new.append(piece)
    if new:
        unique = list(dict.fromkeys(new))
        # one <si> child per piece: each holds one "<si", and its "</si>" closes it
        root = ET.fromstring(_SST_HEAD + b"</si>".join(unique) + b"</si></sst>")
        fresh = dict(zip(unique, map(_string, root), strict=True))
        out = [fresh[piece] if piece in fresh else texts[piece] for piece in pieces]
        if len(texts) + len(fresh) > _SI_TEXTS_MAX:
            texts.clear()
        texts.update(fresh)
        return out
    return [texts[piece] for piece in pieces]


def _bool(value: str | None) -> bool:
    """openpyxl's reading of a boolean attribute."""
    if value is None or value in ("false", "f", "0"):
        return False
    return bool(value)
