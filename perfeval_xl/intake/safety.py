"""Safety gate: decide, before any parser sees a unit's file, whether it is safe to open.

Why a gate: openpyxl (and python-calamine) have no zip-bomb limit (an 840 KB file was measured
to cost 180 s and 3.2 GB), and on a wrong format they fail with messages a clerk cannot act on
("File is not a zip file" for a password-protected .xlsx). This module looks at the file
name, a few magic bytes and the zip central directory; it keeps only `[Content_Types].xml` and
an ODF `mimetype`, both checked to be tiny first. It answers with at most one finding that says
what the file is and what to do, and it uses the standard library only, so it costs well under
a millisecond and can run on every file of a batch.

Declared sizes are not enough on their own: Python's zipfile (which openpyxl uses) never returns
more than an entry's declared uncompressed size, but it inflates the whole stream before it
notices the two disagree. So the limits are checked on the declared sizes first, and then each
deflated entry is inflated a megabyte at a time, its output thrown away, to one byte past its
declared size (`_inflates_beyond`); only then do the limits bound the parser's work.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import re
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import Text
from ..findings import Finding, finding

#: Size of the .xlsx file itself. Real filled forms are 10–100 KB.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Zip entries. A form has about 15; a workbook with pictures a few dozen.
MAX_MEMBERS = 1000
#: Declared uncompressed size of one entry.
MAX_MEMBER_BYTES = 50 * 1024 * 1024
#: Declared uncompressed size of all entries together.
MAX_TOTAL_BYTES = 100 * 1024 * 1024
#: Uncompressed ÷ compressed size, checked for entries declared over RATIO_MIN_BYTES. Real forms
#: compress at most about 9:1; small XML parts may legitimately compress better, hence the floor.
MAX_RATIO = 100
#: Uncompressed size of one worksheet part. A form sheet is ~40 KB; openpyxl takes seconds and
#: hundreds of MB per 10 MB of sheet XML, so a sheet bloated with 100,000 rows is refused.
MAX_SHEET_BYTES = 4 * 1024 * 1024
RATIO_MIN_BYTES = 1024 * 1024
#: `[Content_Types].xml` and `mimetype` are read only when declared below this size.
SMALL_PART_BYTES = 1024 * 1024

_MIB = 1024 * 1024
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_ZIP_MAGIC = b"PK\x03\x04"
_EOCD_MAGIC = b"PK\x05\x06"
_CENTRAL_MAGIC = b"PK\x01\x02"
_EOCD = struct.Struct("<4s4H2LH")  # zipfile.structEndArchive
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # zipfile.structCentralDir
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader
#: OLE stream names are UTF-16-LE in the directory; Excel's agile/standard encryption stores the
#: real .xlsx as the stream "EncryptedPackage".
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_CONTENT_TYPES = "[Content_Types].xml"
_WORKBOOK = "xl/workbook.xml"
_ODS_MIMETYPES = (
    b"application/vnd.oasis.opendocument.spreadsheet",
    b"application/vnd.oasis.opendocument.spreadsheet-template",
)
#: Markers of macros in `[Content_Types].xml` (compared lower-case): macro-enabled main parts,
#: VBA projects and Excel 4.0 macro sheets (which .xlsx cannot hold, but malware uses).
_MACRO_MARKERS = (b"macroenabled", b"vbaproject", b"macrosheet")
#: What zipfile raises on hostile bytes (found by fuzzing truncated and bit-flipped workbooks);
#: the gate must answer with a finding, never an exception.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    ValueError,
    OverflowError,
    IndexError,
    KeyError,
    RuntimeError,
    NotImplementedError,
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEP = re.compile(r"[\\/]")

#: Extensions refused by name (E002): what the file is, in both languages.
_FORMATS: dict[str, tuple[str, str]] = {
    ".xls": ("旧版 Excel 97-2003 工作簿（.xls）", "a legacy Excel 97-2003 workbook (.xls)"),
    ".xlt": ("旧版 Excel 97-2003 模板（.xlt）", "a legacy Excel 97-2003 template (.xlt)"),
    ".et": ("WPS 表格 .et 格式", "a WPS .et spreadsheet"),
    ".ett": ("WPS 表格模板 .ett 格式", "a WPS .ett spreadsheet template"),
    ".ods": ("OpenDocument 电子表格（.ods）", "an OpenDocument spreadsheet (.ods)"),
    ".xlsb": ("Excel 二进制工作簿（.xlsb）", "an Excel binary workbook (.xlsb)"),
    ".csv": ("CSV 文本文件", "a CSV text file"),
    ".txt": ("文本文件（.txt）", "a text file (.txt)"),
    ".wps": ("WPS 文字文档（.wps），不是表格", "a WPS Writer document (.wps), not a spreadsheet"),
}
_MACRO_FORMATS: dict[str, tuple[str, str]] = {
    ".xlsm": ("启用宏的 Excel 工作簿（.xlsm）", "a macro-enabled Excel workbook (.xlsm)"),
    ".xltm": ("启用宏的 Excel 模板（.xltm）", "a macro-enabled Excel template (.xltm)"),
}
#: Word files refused by name when a Word annex is read (`inspect_document`).
_DOC_FORMATS: dict[str, tuple[str, str]] = {
    ".doc": ("旧版 Word 97-2003 文档（.doc）", "a legacy Word 97-2003 document (.doc)"),
    ".dot": ("旧版 Word 97-2003 模板（.dot）", "a legacy Word 97-2003 template (.dot)"),
    ".wps": ("WPS 文字 .wps 格式", "a WPS Writer .wps document"),
    ".rtf": ("RTF 文本", "an RTF text"),
    ".odt": ("OpenDocument 文本（.odt）", "an OpenDocument text (.odt)"),
}
_DOC_MACRO_FORMATS: dict[str, tuple[str, str]] = {
    ".docm": ("启用宏的 Word 文档（.docm）", "a macro-enabled Word document (.docm)"),
    ".dotm": ("启用宏的 Word 模板（.dotm）", "a macro-enabled Word template (.dotm)"),
}
_DOCUMENT = "word/document.xml"
_DO_DOCX = (
    "请在 Word/WPS 中打开并另存为 Word 文档（.docx）后重新提交",
    "open it in Word/WPS, save it as a Word document (.docx) and send it again",
)
#: Other well-known files that get renamed or attached by mistake.
_MAGIC_KINDS: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "PDF 文件", "a PDF file"),
    (b"Rar!\x1a\x07", "RAR 压缩包", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip 压缩包", "a 7-Zip archive"),
    (b"\x89PNG\r\n\x1a\n", "PNG 图片", "a PNG image"),
    (b"\xff\xd8\xff", "JPEG 图片", "a JPEG image"),
)

_DO_RESAVE = (
    "请在 Excel/WPS 中打开并另存为 .xlsx 后重新提交",
    "open it in Excel/WPS, save it as .xlsx and send it again",
)
_DO_TEMPLATE = (
    "请用下发的原模板填写，另存为 Excel 工作簿（.xlsx）后重新提交",
    "fill the original template and save it as an Excel workbook (.xlsx), then send it again",
)
_DO_REFILL = ("请用下发的原模板重新填写后提交", "fill the original template again and send that")


def inspect_bytes(name: str, data: bytes) -> Finding | None:
    """Return the one finding that stops `data` from being parsed, or None if it may be parsed.

    `name` is the file's name or path (only its base name and extension are looked at) and goes
    into the finding's `file` field. Decisions are taken in a fixed order, first match wins, so
    the same file always gets the same, most useful message.
    """
    base = _base_name(name)
    if base.startswith("~$"):
        return _lock_file(name)
    if not data:
        return _e001(name, ("空文件（0 字节）", "an empty file (0 bytes)"), _DO_RESAVE)
    if len(data) > MAX_FILE_BYTES:
        return _too_big(name, len(data))
    ext = _extension(base)
    is_ole = data.startswith(_OLE_MAGIC)
    encrypted = is_ole and _ENCRYPTED_PACKAGE in data
    if ext in _FORMATS:
        if encrypted:
            return _encrypted(name)
        zh, en = _FORMATS[ext]
        return _e002(name, (f"这是{_gap(zh)}，不是 .xlsx", f"this is {en}, not .xlsx"))
    if ext in _MACRO_FORMATS:
        zh, en = _MACRO_FORMATS[ext]
        return _e004(name, (f"这是{_gap(zh)}", f"this is {en}"))
    if encrypted:
        return _encrypted(name)
    if is_ole:
        return _legacy_binary(name, data)
    if not data.startswith(_ZIP_MAGIC):
        return _not_a_zip(name, data)
    return _inspect_zip(name, data)


def inspect_document(name: str, data: bytes) -> Finding | None:
    """`inspect_bytes` for a Word annex (.docx): the same limits and order, with Word's formats.

    A published annex is read like a workbook, so it passes the same gate: lock files, size,
    legacy and macro-enabled formats by name and content, then the zip limits (sizes, ratio,
    entries, truncation) before any XML is parsed."""
    base = _base_name(name)
    if base.startswith("~$"):
        return _lock_file(name)
    if not data:
        return _e001(name, ("空文件（0 字节）", "an empty file (0 bytes)"), _DO_DOCX)
    if len(data) > MAX_FILE_BYTES:
        return _too_big(name, len(data))
    ext = _extension(base)
    is_ole = data.startswith(_OLE_MAGIC)
    if ext in _DOC_MACRO_FORMATS:
        zh, en = _DOC_MACRO_FORMATS[ext]
        return finding("E004", name, _message((f"这是{_gap(zh)}", f"this is {en}"), _DO_DOCX))
    if is_ole and _ENCRYPTED_PACKAGE in data:
        what = (
            "文档设置了打开密码（加密的 Word 文档，无法读取）",
            "the document has an open password (an encrypted Word file cannot be read)",
        )
        do = (
            "请在 Word/WPS 中取消密码，另存为 .docx 后重新提交",
            "remove the password in Word/WPS, save as .docx and send it again",
        )
        return finding("E003", name, _message(what, do))
    if ext in _DOC_FORMATS or is_ole:
        zh, en = _DOC_FORMATS.get(ext, _DOC_FORMATS[".doc"])
        if is_ole and ext not in _DOC_FORMATS:
            zh, en = "旧版二进制 Office 文档（Word 97-2003 .doc 等）", "a legacy binary Office file"
        return finding(
            "E002",
            name,
            _message((f"这是{_gap(zh)}，不是 .docx", f"this is {en}, not .docx"), _DO_DOCX),
        )
    if not data.startswith(_ZIP_MAGIC):
        what = ("文件已损坏或不是 Word 文档（.docx）", "the file is damaged or not a Word document")
        return _e001(name, what, _DO_DOCX)
    return _inspect_zip(name, data, _inspect_document)


#: What `inspect_file` tells `seen` of a file it read: its status before the read, the clock
#: (`time.time_ns`) just before the read, and the bytes read.
Seen = Callable[[os.stat_result, int, bytes], None]


def inspect_file(
    path: Path | str,
    inspect: Callable[[str, bytes], Finding | None] | None = None,
    *,
    seen: Seen | None = None,
) -> tuple[bytes | None, Finding | None]:
    """Read a unit's file once and inspect it: `(data, None)` if it may be parsed, else `(None, f)`.

    The size is checked before reading, so a huge file costs nothing; a lock file is recognised
    by name alone (Excel may hold it locked); an unreadable path (no permission, vanished, a
    folder, a device) gives E001 with the reason instead of an exception, so a batch goes on.
    `inspect` judges the bytes (default `inspect_bytes`; `inspect_document` for a Word annex).
    `seen` is told of every file read, whatever the bytes turn out to be: the store hashes
    the very bytes that were judged, without opening the file again (`store.file_digest`).
    """
    path = Path(path)
    name = str(path)
    if _base_name(name).startswith("~$"):
        return None, _lock_file(name)
    try:
        st = path.stat()
    except OSError as exc:
        return None, _unreadable(name, exc)
    if stat.S_ISDIR(st.st_mode):
        what = ("这是文件夹，不是文件", "this is a folder, not a file")
        do = ("请提交其中的 .xlsx 文件", "send the .xlsx file inside it instead")
        return None, _e001(name, what, do)
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO or device could block forever or read without end.
        what = ("不是普通文件（设备或管道）", "not a regular file (a device or pipe)")
        return None, _e001(name, what, _DO_RESAVE)
    if st.st_size > MAX_FILE_BYTES:
        return None, _too_big(name, st.st_size)
    try:
        started = time.time_ns() if seen is not None else 0
        with open(path, "rb") as handle:
            # One byte more than allowed: a file that grew since stat() is still caught.
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, _unreadable(name, exc)
    if seen is not None:
        seen(st, started, data)
    found = (inspect or inspect_bytes)(name, data)
    return (None, found) if found else (data, None)


# -- the zip archive ---------------------------------------------------------------------------
def _inspect_zip(
    name: str, data: bytes, kind: Callable[..., Finding | None] | None = None
) -> Finding | None:
    """Steps 6–10 for data that starts like a zip: directory, limits, kind, macros (`kind`:
    `_inspect_workbook`, or `_inspect_document` for a Word annex)."""
    kind = kind or _inspect_workbook
    eocd = data.rfind(_EOCD_MAGIC, max(0, len(data) - _EOCD.size - 0xFFFF))
    if eocd < 0 or len(data) - eocd < _EOCD.size:
        what = (
            "文件不完整（可能在下载或复制时被截断）",
            "the file is incomplete (cut off while downloading or copying?)",
        )
        return _e001(name, what, _DO_RESAVE)
    # zipfile parses every central-directory record, whatever the end record claims (200 000
    # entries take a second), so bound the count first by counting record signatures.
    cd_size = _EOCD.unpack_from(data, eocd)[5]
    start = eocd - cd_size if cd_size <= eocd else 0
    count = data.count(_CENTRAL_MAGIC, start, eocd)
    if count > MAX_MEMBERS:
        return _too_many(name, count)
    _LAST.clear()
    entries = _plain_entries(data, eocd)
    if entries is not None:
        try:
            return _inspect_archive(name, data, entries, partial(_read_plain, data), kind)
        except _Unsure:
            pass  # zipfile decides
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:  # hostile input: any failure means "not a readable zip"
        what = (
            f"文件已损坏（zip 结构无法读取：{exc}）",
            f"the file is damaged (unreadable zip: {exc})",
        )
        return _e001(name, what, _DO_RESAVE)
    with archive:
        return _inspect_archive(name, data, archive.infolist(), partial(_read_small, archive), kind)


def _inspect_archive(
    name: str,
    data: bytes,
    infos: list[Any],
    read: Callable[[Any], bytes | None],
    kind: Callable[..., Finding | None] | None = None,
) -> Finding | None:
    """Steps 7–10 over the directory's entries (`zipfile.ZipInfo` or `_Entry`); `read` gives
    a small entry's bytes, or None if they cannot be read."""
    if len(infos) > MAX_MEMBERS:
        return _too_many(name, len(infos))
    for info in infos:
        if unsafe_entry_name(info.filename):
            what = (
                f"压缩包内含不安全的条目名“{info.filename}”（绝对路径、盘符或 ..）",
                f"unsafe entry name '{info.filename}' (absolute, drive letter or ..)",
            )
            return _e005(name, what)
    total = 0
    for info in infos:
        size, packed = info.file_size, info.compress_size
        if size > MAX_MEMBER_BYTES:
            what = (
                f"条目“{info.filename}”声明解压后 {_bytes_zh(size)}，"
                f"超过单个条目上限 {_bytes_zh(MAX_MEMBER_BYTES)}",
                f"entry '{info.filename}' declares {_bytes_en(size)} uncompressed, "
                f"over the per-entry limit of {_bytes_en(MAX_MEMBER_BYTES)}",
            )
            return _e005(name, what)
        if size > RATIO_MIN_BYTES and size > MAX_RATIO * packed:
            ratio = f"{size / packed:,.0f}:1" if packed else "∞"
            what = (
                f"条目“{info.filename}”压缩比 {ratio}（{size:,} / {packed:,} 字节），"
                f"超过上限 {MAX_RATIO}:1",
                f"entry '{info.filename}' has a compression ratio of {ratio} "
                f"({size:,} / {packed:,} bytes), over the limit of {MAX_RATIO}:1",
            )
            return _e005(name, what)
        if info.filename.startswith("xl/worksheets/") and size > MAX_SHEET_BYTES:
            what = (
                f"工作表“{info.filename}”解压后 {_bytes_zh(size)}，超过上限 {_bytes_zh(MAX_SHEET_BYTES)}"
                "（自评表只有几十 KB；可能粘贴了大量行）",
                f"worksheet '{info.filename}' is {_bytes_en(size)} uncompressed, over the limit of "
                f"{_bytes_en(MAX_SHEET_BYTES)} (a form is a few dozen KB; rows pasted in bulk?)",
            )
            return _e005(name, what, bomb=False)
        total += size
    if total > MAX_TOTAL_BYTES:
        what = (
            f"全部条目声明解压后共 {_bytes_zh(total)}，超过总上限 {_bytes_zh(MAX_TOTAL_BYTES)}",
            f"all entries declare {_bytes_en(total)} uncompressed, "
            f"over the total limit of {_bytes_en(MAX_TOTAL_BYTES)}",
        )
        return _e005(name, what)
    for info in infos:
        # The directory is intact but an entry's data are missing: cut in the middle, or forged.
        offset = info.header_offset
        header_ok = offset >= 0 and data[offset : offset + 4] == _ZIP_MAGIC
        if not header_ok or offset + 30 + info.compress_size > len(data):
            what = (
                f"文件已损坏（条目“{info.filename}”的数据缺失或被截断）",
                f"the file is damaged (entry '{info.filename}' is missing or cut off)",
            )
            return _e001(name, what, _DO_RESAVE)
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
        ):
            # Excel, WPS and LibreOffice never write these; openpyxl could not read them.
            what = (
                f"文件已损坏或经过改动（条目“{info.filename}”使用了 zip 加密或非常规压缩方式）",
                f"the file is damaged or altered (entry '{info.filename}' uses zip encryption "
                "or an unusual compression method)",
            )
            return _e001(name, what, _DO_RESAVE)
    for info in infos:
        if _inflates_beyond(data, info):
            what = (
                f"条目“{info.filename}”解压后超过其声明的 {info.file_size:,} 字节",
                f"entry '{info.filename}' inflates to more than the {info.file_size:,} bytes "
                "it declares",
            )
            return _e005(name, what)
    return (kind or _inspect_workbook)(name, read, {info.filename: info for info in infos})


#: Deflated entries found to inflate to no more than they declare, by (CRC, size, compressed
#: bytes): a batch's files share most parts, so each is inflated here once. Small parts only,
#: and emptied when full.
_TRUE_SIZES: dict[tuple[int, int, bytes], None] = {}
_TRUE_SIZES_MAX = 512
_TRUE_SIZES_PART = 16 * 1024
#: What `_inflates_beyond` inflated of the file inspected last, parts up to `_KEEP_PART` once
#: inflated, by (CRC, size, compressed bytes): the fast reader takes them (`inflated`) instead
#: of inflating a file's own parts a second time.
_LAST: dict[tuple[int, int, bytes], bytes] = {}
_KEEP_PART = 256 * 1024


def inflated(crc: int, size: int, body: bytes) -> bytes | None:
    """A deflated part of the file inspected last, as the gate inflated it, if it kept it (the
    CRC is not checked here)."""
    return _LAST.get((crc, size, body))


def _inflates_beyond(data: bytes, info: Any) -> bool:
    """Whether a deflated entry inflates to more than its declared size.

    The limits above are on declared sizes, and a forged header can declare anything: zipfile
    (and so openpyxl) inflates the whole stream before it notices the size is wrong (a 321 KB
    file whose styles.xml declared 5,000 bytes took 0.9 s and 600 MB to refuse, and a 20 MB
    one would take gigabytes). Here the stream is inflated a megabyte at a time, the output
    thrown away, and stops one byte past the declared size. A stream that is damaged instead
    is left to the parse (E001)."""
    if info.compress_type != zipfile.ZIP_DEFLATED:
        return False  # a stored entry is as long as it is
    body = local_body(data, info.header_offset, info.compress_size)
    if body is None:  # not there after all: the parse says so
        return False
    key = (info.CRC, info.file_size, body) if len(body) <= _TRUE_SIZES_PART else None
    if key is not None and key in _TRUE_SIZES:
        return False
    inflater = zlib.decompressobj(-15)
    left = info.file_size + 1
    keep: list[bytes] | None = [] if info.file_size <= _KEEP_PART else None
    rest = body
    try:
        while left > 0:
            chunk = inflater.decompress(rest, min(left, _MIB))
            if not chunk:
                break
            left -= len(chunk)
            rest = inflater.unconsumed_tail
            if keep is not None:
                keep.append(chunk)
    except zlib.error:
        return False
    if left <= 0:
        return True
    if keep is not None:
        _LAST[(info.CRC, info.file_size, body)] = b"".join(keep)
    if key is not None:
        if len(_TRUE_SIZES) >= _TRUE_SIZES_MAX:
            _TRUE_SIZES.clear()
        _TRUE_SIZES[key] = None
    return False


def _inspect_workbook(
    name: str, read: Callable[[Any], bytes | None], entries: dict[str, Any]
) -> Finding | None:
    """Steps 8–9: is the (size-checked) zip an Excel workbook, and a macro-free one?"""
    mimetype = entries.get("mimetype")
    if mimetype is not None:
        raw = read(mimetype)
        if raw is not None and raw.strip() in _ODS_MIMETYPES:
            zh, en = _FORMATS[".ods"]
            return _e002(name, (f"内容是{_gap(zh)}，不是 .xlsx", f"the content is {en}, not .xlsx"))
    if _CONTENT_TYPES not in entries or _WORKBOOK not in entries:
        zh, en = "zip 文件，但不是 Excel 工作簿", "a zip archive but not an Excel workbook"
        if "word/document.xml" in entries:
            zh, en = f"{zh}（像是 Word 文档）", f"{en} (it looks like a Word document)"
        elif "ppt/presentation.xml" in entries:
            zh, en = f"{zh}（像是 PowerPoint 演示文稿）", f"{en} (it looks like a PowerPoint file)"
        return _e001(name, (zh, en), _DO_TEMPLATE)
    for entry in entries:
        lower = entry.lower()
        if lower == "xl/vbaproject.bin" or lower.startswith("xl/macrosheets/"):
            what = (
                f"这是含宏的工作簿，只是扩展名为 .xlsx（内含 {entry}）",
                f"this is a macro-enabled workbook renamed to .xlsx (it contains {entry})",
            )
            return _e004(name, what)
    raw, problem = _content_types(name, read, entries, ("工作簿", "workbook"), _DO_RESAVE)
    if problem is not None:
        return problem
    if any(marker in raw for marker in _MACRO_MARKERS):
        what = (
            "这是启用宏的工作簿，只是扩展名为 .xlsx（内容类型声明了宏）",
            "this is a macro-enabled workbook renamed to .xlsx (its content types declare macros)",
        )
        return _e004(name, what)
    return None


def _content_types(
    name: str,
    read: Callable[[Any], bytes | None],
    entries: dict[str, Any],
    kind: tuple[str, str],
    do: tuple[str, str],
) -> tuple[bytes, Finding | None]:
    """`[Content_Types].xml` of a package (workbook or Word document, `kind`), checked to be
    tiny and then read, lowercased (UTF-16 decoded), for the macro markers; or the finding that
    says why it cannot be."""
    types = entries[_CONTENT_TYPES]
    if types.file_size >= SMALL_PART_BYTES or types.compress_size >= SMALL_PART_BYTES:
        what = (
            f"{_CONTENT_TYPES} 声明为 {_bytes_zh(types.file_size)}，真实{kind[0]}中它只有几 KB",
            f"{_CONTENT_TYPES} declares {_bytes_en(types.file_size)}; in a real {kind[1]} "
            "it is a few KB",
        )
        return b"", _e005(name, what)
    raw = read(types)
    if raw is None:
        what = (
            f"文件已损坏（{_CONTENT_TYPES} 无法读取）",
            f"the file is damaged ({_CONTENT_TYPES} cannot be read)",
        )
        return b"", _e001(name, what, do)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raw = raw.decode("utf-16", errors="replace").encode("utf-8")
    return raw.lower(), None


def _inspect_document(
    name: str, read: Callable[[Any], bytes | None], entries: dict[str, Any]
) -> Finding | None:
    """Steps 8–9 for a Word annex: a Word document, and a macro-free one?"""
    if _CONTENT_TYPES not in entries or _DOCUMENT not in entries:
        zh, en = "zip 文件，但不是 Word 文档", "a zip archive but not a Word document"
        if _WORKBOOK in entries:
            zh, en = (
                f"{zh}（像是 Excel 工作簿，请改用 .xlsx 扩展名）",
                f"{en} (it looks like an Excel workbook: name it .xlsx)",
            )
        return _e001(name, (zh, en), _DO_DOCX)
    for entry in entries:
        if entry.lower() == "word/vbaproject.bin":
            what = (
                f"这是启用宏的 Word 文档，只是扩展名为 .docx（内含 {entry}）",
                f"this is a macro-enabled Word document renamed to .docx (it contains {entry})",
            )
            return finding("E004", name, _message(what, _DO_DOCX))
    raw, problem = _content_types(name, read, entries, ("文档", "document"), _DO_DOCX)
    if problem is not None:
        return problem
    if any(marker in raw for marker in _MACRO_MARKERS):
        what = (
            "这是启用宏的 Word 文档，只是扩展名为 .docx（内容类型声明了宏）",
            "this is a macro-enabled Word document renamed to .docx (its content types declare macros)",
        )
        return finding("E004", name, _message(what, _DO_DOCX))
    return None


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The content of an entry declared small, or None if it is big or cannot be read."""
    if info.file_size >= SMALL_PART_BYTES or info.compress_size >= SMALL_PART_BYTES:
        return None
    try:
        return archive.read(info)
    except _ZIP_ERRORS:  # bad CRC, damaged deflate stream …: the caller decides
        return None


class _Entry(NamedTuple):
    """What the checks read of a central-directory record (the names of `zipfile.ZipInfo`)."""

    filename: str
    raw_name: bytes
    flag_bits: int
    compress_type: int
    CRC: int
    compress_size: int
    file_size: int
    header_offset: int


class _Unsure(Exception):
    """The plain reading cannot tell what zipfile would: zipfile is asked."""


def _plain_entries(data: bytes, eocd: int) -> list[_Entry] | None:
    """The directory as `zipfile.ZipFile(…).infolist()` gives it, for the archives Excel, WPS,
    LibreOffice and Python's writers make (one disk, no zip64, no archive comment, nothing
    before the archive, no extra fields, no encryption); None for any other, which zipfile
    reads. zipfile builds a Python object per entry and per read; this is a fifth of the cost
    of checking a batch's files (`collect`)."""
    if eocd != len(data) - _EOCD.size or data[eocd - 20 : eocd - 16] == b"PK\x06\x07":
        return None
    _, disk, cd_disk, disk_entries, count, cd_size, cd_offset, comment = _EOCD.unpack_from(
        data, eocd
    )
    if disk or cd_disk or disk_entries != count or comment or cd_offset + cd_size != eocd:
        return None
    entries = []
    pos = cd_offset
    for _ in range(count):
        if data[pos : pos + 4] != _CENTRAL_MAGIC or pos + _CENTRAL.size > eocd:
            return None
        fields = _CENTRAL.unpack_from(data, pos)
        version, flags, method, crc, packed, size = fields[3], *fields[5:7], *fields[9:12]
        name_len, extra_len, comment_len, offset = fields[12], fields[13], fields[14], fields[18]
        start = pos + _CENTRAL.size
        raw = data[start : start + name_len]
        pos = start + name_len + extra_len + comment_len
        if extra_len or version > 63 or 0xFFFFFFFF in (packed, size, offset) or pos > eocd:
            return None
        if flags & 0x800:
            try:
                filename = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
        else:
            filename = raw.decode("cp437")
        if "\x00" in filename or "\\" in filename:  # zipfile cuts at NUL; turns \ on Windows
            return None
        entries.append(_Entry(filename, raw, flags, method, crc, packed, size, offset))
    return entries if pos == eocd else None


def local_body(
    data: bytes, offset: int, packed: int, raw_name: bytes | None = None
) -> bytes | None:
    """The compressed bytes (at most `packed` of them) of the zip member whose local header is
    at `offset`; None when no local header is there, or it names another member than
    `raw_name` (when given). The fast reader reads its members with it too."""
    if data[offset : offset + 4] != _ZIP_MAGIC or offset + _LOCAL.size > len(data):
        return None
    fields = _LOCAL.unpack_from(data, offset)
    start = offset + _LOCAL.size
    if raw_name is not None and data[start : start + fields[10]] != raw_name:
        return None
    start += fields[10] + fields[11]
    return data[start : start + packed]


def _read_plain(data: bytes, entry: _Entry) -> bytes | None:
    """A small entry's bytes, as `_read_small` gives them; `_Unsure` if zipfile might differ."""
    if entry.file_size >= SMALL_PART_BYTES or entry.compress_size >= SMALL_PART_BYTES:
        return None
    if entry.flag_bits & 0x61:
        raise _Unsure
    body = local_body(data, entry.header_offset, entry.compress_size, entry.raw_name)
    if body is None:
        raise _Unsure
    try:
        out = body if entry.compress_type == 0 else zlib.decompress(body, -15)
    except zlib.error:
        raise _Unsure from None
    if len(body) != entry.compress_size or len(out) != entry.file_size:
        raise _Unsure
    if zlib.crc32(out) != entry.CRC:
        raise _Unsure
    return out


def unsafe_entry_name(entry: str) -> bool:
    """Absolute paths, drive letters and `..` parts: harmless to openpyxl, but never legitimate
    in a workbook, and dangerous to any tool that extracts the archive."""
    return entry.startswith(("/", "\\")) or bool(_DRIVE.match(entry)) or ".." in _SEP.split(entry)


# -- what a file that is not a zip looks like --------------------------------------------------
def _not_a_zip(name: str, data: bytes) -> Finding:
    """Step 6: say what the file seems to be, so the clerk knows which file was sent by mistake."""
    head = data[:1024]
    for magic, zh, en in _MAGIC_KINDS:
        if head.startswith(magic):
            return _e001(
                name,
                (
                    f"不是 Excel 工作簿（像是{_gap(zh)}）",
                    f"not an Excel workbook (it looks like {en})",
                ),
                _DO_TEMPLATE,
            )
    text = _as_text(head)
    if text is not None:
        start = text.lstrip().lower()
        if start.startswith(("<!doctype html", "<html", "<table")):
            zh, en = (
                "网页/HTML 文本，常见于系统导出的表格",
                "HTML text, as some systems export tables",
            )
        elif start.startswith("<?xml"):
            zh, en = "XML 文本", "XML text"
        else:
            zh, en = "文本/CSV 文件", "a text/CSV file"
        return _e001(
            name,
            (f"不是 Excel 工作簿（像是{_gap(zh)}）", f"not an Excel workbook (it looks like {en})"),
            _DO_TEMPLATE,
        )
    what = ("文件已损坏或不是 Excel 工作簿", "the file is damaged or not an Excel workbook")
    return _e001(name, what, _DO_RESAVE)


def _as_text(head: bytes) -> str | None:
    """`head` decoded, if it reads as text: UTF-8, UTF-16 with BOM, or GB18030 (what Chinese
    Excel and WPS write for CSV). The incremental decoder tolerates a character cut at the end."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        if text and all(ch.isprintable() or ch.isspace() for ch in text):
            return text
    return None


def _legacy_binary(name: str, data: bytes) -> Finding:
    """Step 5 without encryption: an OLE compound file is a legacy binary document."""
    if _WORD_STREAM in data:
        what = (
            "内容是 Word 97-2003 文档，不是 Excel 工作簿",
            "the content is a Word 97-2003 document, not an Excel workbook",
        )
    else:
        what = (
            "内容是旧版二进制工作簿（Excel 97-2003 .xls 或 WPS .et），不是 .xlsx",
            "the content is a legacy binary workbook (Excel 97-2003 .xls or WPS .et), not .xlsx",
        )
    return _e002(name, what)


# -- findings ----------------------------------------------------------------------------------
def _message(what: tuple[str, str], do: tuple[str, str]) -> Text:
    return Text(f"{what[0]}；{do[0]}。", f"{what[1]}; {do[1]}.")


def _e001(name: str, what: tuple[str, str], do: tuple[str, str]) -> Finding:
    return finding("E001", name, _message(what, do))


def _e002(name: str, what: tuple[str, str]) -> Finding:
    return finding("E002", name, _message(what, _DO_TEMPLATE))


def _e004(name: str, what: tuple[str, str]) -> Finding:
    do = (
        "请另存为不含宏的 Excel 工作簿（.xlsx）后重新提交",
        "save it as a macro-free Excel workbook (.xlsx) and send it again",
    )
    return finding("E004", name, _message(what, do))


def _e005(name: str, what: tuple[str, str], *, bomb: bool = True) -> Finding:
    if bomb:
        what = (
            f"{what[0]}（疑似压缩炸弹或被改动的文件），已拒绝",
            f"{what[1]} (zip bomb or altered file?): refused",
        )
    else:
        what = (f"{what[0]}，已拒绝", f"{what[1]}: refused")
    return finding("E005", name, _message(what, _DO_REFILL))


def _lock_file(name: str) -> Finding:
    what = (
        "这是 Excel/WPS 打开工作簿时生成的临时锁定文件（~$ 开头），不含数据，已跳过",
        "this is an Excel/WPS lock file (~$…) created while a workbook is open; "
        "it holds no data: skipped",
    )
    do = ("关闭工作簿后可删除它", "close the workbook and delete it")
    return finding("W009", name, _message(what, do))


def _encrypted(name: str) -> Finding:
    what = (
        "工作簿设置了打开密码（加密的 Excel 文件，无法读取）",
        "the workbook has an open password (an encrypted Excel file cannot be read)",
    )
    do = (
        "请在 Excel/WPS 中打开，取消“用密码进行加密”，另存为 .xlsx 后重新提交",
        "open it in Excel/WPS, remove the password ('Encrypt with Password'), save as .xlsx "
        "and send it again",
    )
    return finding("E003", name, _message(what, do))


def _too_big(name: str, size: int) -> Finding:
    what = (
        f"文件大小 {_bytes_zh(size)}，超过上限 {_bytes_zh(MAX_FILE_BYTES)}",
        f"the file is {_bytes_en(size)}, over the limit of {_bytes_en(MAX_FILE_BYTES)}",
    )
    return _e005(name, what, bomb=False)


def _too_many(name: str, count: int) -> Finding:
    what = (
        f"压缩包内有 {count:,} 个条目，超过上限 {MAX_MEMBERS:,} 个",
        f"the archive has {count:,} entries, over the limit of {MAX_MEMBERS:,}",
    )
    return _e005(name, what)


_OS_REASONS_ZH = {
    errno.EACCES: "没有读取权限",
    errno.EPERM: "没有读取权限",
    errno.ENOENT: "文件不存在，可能已被移动或删除",
    errno.EISDIR: "这是文件夹，不是文件",
}


def _unreadable(name: str, exc: OSError) -> Finding:
    reason = exc.strerror or str(exc)
    zh = _OS_REASONS_ZH.get(exc.errno or 0, "无法读取")
    what = (f"无法读取文件：{zh}（{reason}）", f"the file cannot be read: {reason}")
    do = ("请检查文件权限，或重新复制该文件", "check its permissions or copy it again")
    return _e001(name, what, do)


# -- small helpers -----------------------------------------------------------------------------
def _base_name(name: str) -> str:
    """The base name, splitting on both separators: names may come from Windows paths."""
    return _SEP.split(name)[-1]


def _gap(zh: str) -> str:
    """A space before a Latin word that follows Chinese text ("这是 WPS 表格"), as users write."""
    return f" {zh}" if zh[:1].isascii() else zh


def _extension(base: str) -> str:
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def _bytes_zh(size: int) -> str:
    return f"{size:,} 字节（{size / _MIB:,.1f} MiB）"


def _bytes_en(size: int) -> str:
    return f"{size:,} bytes ({size / _MIB:,.1f} MiB)"
