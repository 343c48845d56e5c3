"""The safety gate: every bad file is built here, in memory or in tmp_path, never committed."""

from __future__ import annotations

import io
import os
import random
import zipfile

import pytest
from badfiles import MIB, OLE_MAGIC, ods, ole, plain_zip, with_forged_size, with_zeros_entry
from badfiles import encrypted as encrypt

from perfeval_xl import build_template, load_spec
from perfeval_xl.findings import RULES
from perfeval_xl.intake import safety
from perfeval_xl.intake.safety import inspect_bytes, inspect_file


@pytest.fixture(scope="module")
def template() -> bytes:
    return build_template(load_spec("national-2020"))


def rebuild(
    base: bytes, extra: dict[str, bytes] | None = None, *, drop: tuple[str, ...] = ()
) -> bytes:
    """`base` with entries dropped and `extra` entries appended (deflated)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename not in drop:
                dst.writestr(info, src.read(info))
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def zeros_entry(base: bytes, name: str, size: int) -> bytes:
    """`base`, rewritten, plus a real deflated entry of `size` zero bytes."""
    return with_zeros_entry(rebuild(base), name, size)


def check(name: str, data: bytes, code: str, *words: str):
    """Inspect; assert the code and that the message names the kind of file (either language)."""
    found = inspect_bytes(name, data)
    assert found is not None, f"{name}: expected {code}, got None"
    assert found.code == code, found.message.en
    assert found.severity == RULES[code].severity
    assert found.file == name
    zh, en = found.message.zh, found.message.en
    for word in words:
        assert word in zh or word in en, (word, zh, en)
    assert zh and en and zh != en
    return found


# -- names and plain bytes ---------------------------------------------------------------------
def test_valid_template_passes(template):
    assert inspect_bytes("unit.xlsx", template) is None


@pytest.mark.parametrize("name", ["~$x.xlsx", "D:\\报表\\~$109101.xlsx", "/in/~$a.xlsx"])
def test_lock_file_is_skipped(name):
    lock = b"\x0cZhang San".ljust(165, b" ")
    check(name, lock, "W009", "锁定文件", "lock file")
    check(name, b"", "W009")  # the name decides, even before emptiness


def test_empty_file():
    check("unit.xlsx", b"", "E001", "空文件", "empty file")


def test_random_bytes():
    data = random.Random(0).randbytes(4096)
    found = check("unit.xlsx", data, "E001", "不是 Excel 工作簿")
    assert "文本" not in found.message.zh


@pytest.mark.parametrize(
    "data",
    [
        b"project,budget,spent\r\nroad,100,80\r\n" * 40,
        "项目名称,预算数,执行数\n道路维修,114.56,100\n".encode() * 40,
        "项目名称,预算数,执行数\n道路维修,114.56,100\n".encode("gbk") * 40,
        "项目名称\t预算数\r\n".encode("utf-16"),  # Excel's "Unicode text"
        "\ufeff项目名称,预算数\n".encode() + "成".encode() * 400,  # a character cut at byte 1024
    ],
    ids=["ascii-csv", "utf8-chinese", "gbk-chinese", "utf16-bom", "utf8-cut"],
)
def test_text_renamed_to_xlsx(data):
    check("unit.xlsx", data, "E001", "不是 Excel 工作簿（像是文本/CSV 文件）", "text/CSV")


def test_html_and_pdf_renamed_to_xlsx():
    check("unit.xlsx", b"<html><table><tr><td>1</td></tr></table></html>", "E001", "HTML")
    check("unit.xlsx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(100), "E001", "PDF")


def test_truncated_template(template):
    check("unit.xlsx", template[: len(template) // 2], "E001", "截断", "cut off")
    check("unit.xlsx", template[:100], "E001", "截断", "cut off")


def test_entry_data_missing_but_directory_intact(template):
    # Cut out the middle of the file and keep the central directory: offsets now point nowhere.
    with zipfile.ZipFile(io.BytesIO(template)) as zf:
        last = max(zf.infolist(), key=lambda i: i.header_offset)
    data = bytearray(template)
    data[last.header_offset : last.header_offset + 4] = b"XXXX"
    check("unit.xlsx", bytes(data), "E001", "damaged")


# -- formats -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "word"),
    [
        ("unit.xls", ole("Root Entry", "Workbook"), "Excel 97-2003"),
        ("unit.XLS", ole("Root Entry", "Workbook"), "Excel 97-2003"),
        ("unit.et", ole("Root Entry", "Workbook"), "WPS 表格 .et 格式"),
        ("unit.ett", ole("Root Entry"), "WPS"),
        ("unit.xlt", ole("Root Entry"), "Excel 97-2003"),
        ("unit.ods", ods(), "OpenDocument"),
        (
            "unit.xlsb",
            plain_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\0"}),
            ".xlsb",
        ),
        ("unit.csv", b"a,b\n1,2\n", "CSV"),
        ("unit.txt", b"a\tb\n", "text file"),
        ("unit.wps", ole("Root Entry", "WordDocument"), "WPS"),
    ],
)
def test_unsupported_format_by_extension(name, data, word):
    check(name, data, "E002", word)


def test_unsupported_format_by_content():
    check("unit.xlsx", ole("Root Entry", "Workbook"), "E002", "Excel 97-2003 .xls", "WPS .et")
    check("unit.xlsx", ole("Root Entry", "WordDocument"), "E002", "Word")
    check("unit.xlsx", ods(), "E002", "OpenDocument")


def test_macro_extension(template):
    check("unit.xlsm", template, "E004", ".xlsm")
    check("unit.XLTM", template, "E004", ".xltm")


def test_macro_renamed_to_xlsx(template):
    with_vba = rebuild(template, {"xl/vbaProject.bin": OLE_MAGIC + bytes(1024)})
    check("unit.xlsx", with_vba, "E004", "xl/vbaProject.bin", "macro-enabled")
    with_xlm = rebuild(template, {"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"})
    check("unit.xlsx", with_xlm, "E004", "macrosheets")
    with zipfile.ZipFile(io.BytesIO(template)) as zf:
        types = zf.read("[Content_Types].xml").replace(
            b"sheet.main+xml", b"sheet.macroEnabled.main+xml"
        )
    renamed = rebuild(template, {"[Content_Types].xml": types}, drop=("[Content_Types].xml",))
    check("unit.xlsx", renamed, "E004", "macro-enabled")


# -- encryption --------------------------------------------------------------------------------
def test_encrypted_workbook_for_real(template):
    encrypted = encrypt(template)
    assert encrypted.startswith(OLE_MAGIC)
    check("unit.xlsx", encrypted, "E003", "密码", "password")
    # Excel keeps the .xlsx name, but a clerk may rename it: encryption is what to fix first.
    check("unit.xls", encrypted, "E003", "密码")
    check("unit.et", encrypted, "E003", "密码")


def test_encrypted_workbook_fabricated():
    """Runs without msoffcrypto-tool: the stream name is what the gate looks for."""
    data = ole("Root Entry", "EncryptionInfo", "EncryptedPackage")
    check("unit.xlsx", data, "E003", "打开密码", "open password")
    check("unit.xls", data, "E003")


# -- zip limits --------------------------------------------------------------------------------
def test_entry_over_member_limit(template):
    bomb = zeros_entry(template, "xl/worksheets/sheet9.xml", 60 * MIB)
    assert len(bomb) < 200 * 1024
    check("unit.xlsx", bomb, "E005", "62,914,560", "52,428,800", "per-entry limit")


def test_too_many_entries():
    entries = {f"xl/media/{i}.txt": b"" for i in range(safety.MAX_MEMBERS + 1)}
    check("unit.xlsx", plain_zip(entries, zipfile.ZIP_STORED), "E005", "1,001", "1,000")


def test_too_many_entries_is_refused_before_parsing(monkeypatch):
    data = plain_zip({f"{i}": b"" for i in range(safety.MAX_MEMBERS + 1)}, zipfile.ZIP_STORED)

    def forbidden(*args, **kwargs):
        raise AssertionError("the central directory must not be parsed")

    monkeypatch.setattr(zipfile, "ZipFile", forbidden)
    check("unit.xlsx", data, "E005", "1,001")


def test_high_ratio_entry(template):
    data = zeros_entry(template, "xl/worksheets/sheet9.xml", 5 * MIB)
    check("unit.xlsx", data, "E005", "压缩比", "compression ratio", "100:1")


def test_total_over_limit(template, monkeypatch):
    monkeypatch.setattr(safety, "MAX_TOTAL_BYTES", 10_000)
    check("unit.xlsx", template, "E005", "total limit", "10,000")


@pytest.mark.parametrize(
    "entry",
    ["../evil.xml", "xl/../../evil.xml", "/etc/evil.xml", "C:/evil.xml", "xl\\..\\evil.xml"],
)
def test_unsafe_entry_name(template, entry):
    data = rebuild(template, {entry: b"<x/>"})
    check("unit.xlsx", data, "E005", "不安全的条目名", "unsafe entry name")


def test_content_types_declared_too_big(template):
    with zipfile.ZipFile(io.BytesIO(template)) as zf:
        types = zf.read("[Content_Types].xml")
    padded = types.replace(b"</Types>", b" " * (1100 * 1024) + b"</Types>")
    data = rebuild(template, {"[Content_Types].xml": padded}, drop=("[Content_Types].xml",))
    check("unit.xlsx", data, "E005", "[Content_Types].xml")


# -- zips that are not workbooks ---------------------------------------------------------------
def test_zip_that_is_not_a_workbook(template):
    check("unit.xlsx", plain_zip({"readme.txt": b"hello"}), "E001", "zip 文件，但不是 Excel 工作簿")
    docx = plain_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    check("unit.xlsx", docx, "E001", "a zip archive but not an Excel workbook", "Word")
    no_types = rebuild(template, drop=("[Content_Types].xml",))
    check("unit.xlsx", no_types, "E001", "not an Excel workbook")


def test_zip_with_encrypted_entry(template):
    data = bytearray(template)
    with zipfile.ZipFile(io.BytesIO(template)) as zf:
        cd_start = zf.start_dir
    # Set the "encrypted" flag bit in xl/workbook.xml's central-directory record.
    record = data.find(b"PK\x01\x02", data.find(b"xl/workbook.xml", cd_start) - 46)
    assert data[record + 46 : record + 46 + 15] == b"xl/workbook.xml"
    data[record + 8] |= 0x01
    check("unit.xlsx", bytes(data), "E001", "zip 加密", "zip encryption")


# -- inspect_file ------------------------------------------------------------------------------
def test_inspect_file_valid(tmp_path, template):
    path = tmp_path / "109101_宣传部.xlsx"
    path.write_bytes(template)
    assert inspect_file(path) == (template, None)


def test_inspect_file_bad_file_returns_no_data(tmp_path):
    path = tmp_path / "unit.xls"
    path.write_bytes(ole("Root Entry", "Workbook"))
    data, found = inspect_file(path)
    assert data is None
    assert found is not None and found.code == "E002" and found.file == str(path)


def test_inspect_file_lock_file_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "~$unit.xlsx"
    path.write_bytes(b"\x0cZhang San")
    monkeypatch.setattr(safety, "open", _forbidden_open, raising=False)
    assert inspect_file(path)[1].code == "W009"


def test_inspect_file_directory(tmp_path):
    folder = tmp_path / "unit.xlsx"
    folder.mkdir()
    data, found = inspect_file(folder)
    assert data is None and found.code == "E001"
    assert "文件夹" in found.message.zh and "folder" in found.message.en


def test_inspect_file_missing(tmp_path):
    data, found = inspect_file(tmp_path / "gone.xlsx")
    assert data is None and found.code == "E001"
    assert "不存在" in found.message.zh and "No such file" in found.message.en


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_inspect_file_without_permission(tmp_path):
    path = tmp_path / "unit.xlsx"
    path.write_bytes(b"PK\x03\x04")
    path.chmod(0)
    try:
        data, found = inspect_file(path)
    finally:
        path.chmod(0o600)
    assert data is None and found.code == "E001"
    assert "没有读取权限" in found.message.zh and "Permission denied" in found.message.en


def test_inspect_file_open_fails(tmp_path, monkeypatch):
    """Runs as root too: the OS refuses at open() (as Windows does for a file Excel holds)."""
    path = tmp_path / "unit.xlsx"
    path.write_bytes(b"PK\x03\x04")

    def refuse(file, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(safety, "open", refuse, raising=False)
    data, found = inspect_file(path)
    assert data is None and found.code == "E001"
    assert "没有读取权限" in found.message.zh and "Permission denied" in found.message.en


def test_inspect_file_too_big_is_not_read(tmp_path, template, monkeypatch):
    path = tmp_path / "unit.xlsx"
    path.write_bytes(template)
    monkeypatch.setattr(safety, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(safety, "open", _forbidden_open, raising=False)
    data, found = inspect_file(path)
    assert data is None and found.code == "E005"
    assert f"{len(template):,}" in found.message.en and "1,000 bytes" in found.message.en
    assert "zip bomb" not in found.message.en  # big is not malicious
    check("unit.xlsx", template, "E005", "超过上限")  # inspect_bytes keeps the same limit


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_inspect_file_pipe_is_not_opened(tmp_path):
    fifo = tmp_path / "unit.xlsx"
    os.mkfifo(fifo)
    data, found = inspect_file(fifo)  # opening a FIFO would block forever
    assert data is None and found.code == "E001"


def _forbidden_open(*args, **kwargs):
    raise AssertionError("the file must not be read")


# -- cheap enough for every file ---------------------------------------------------------------
def test_nothing_is_inflated(template, monkeypatch):
    """Only the tiny [Content_Types].xml / mimetype are ever read; bombs are judged unopened."""
    bomb = zeros_entry(template, "xl/worksheets/sheet9.xml", 60 * MIB)
    ratio = zeros_entry(template, "xl/worksheets/sheet9.xml", 5 * MIB)
    many = plain_zip({f"{i}": b"" for i in range(safety.MAX_MEMBERS + 1)}, zipfile.ZIP_STORED)
    spreadsheet = ods()
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)

    real_read_plain = safety._read_plain

    def spy_plain(data, entry):
        opened.append(entry.filename)
        return real_read_plain(data, entry)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    monkeypatch.setattr(safety, "_read_plain", spy_plain)
    for data in (bomb, ratio, many):
        assert inspect_bytes("unit.xlsx", data).code == "E005"
    assert opened == []
    assert inspect_bytes("unit.xlsx", template) is None
    assert opened == ["[Content_Types].xml"]
    opened.clear()
    assert inspect_bytes("unit.xlsx", spreadsheet).code == "E002"
    assert opened == ["mimetype"]


def test_damaged_files_never_raise(template):
    """Hostile or damaged bytes give a finding (or None), never an exception."""
    rng = random.Random(20240601)
    for _ in range(300):
        data = bytearray(template)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        else:
            tail = rng.random() < 0.5  # the central directory is at the end
            for _ in range(rng.randrange(1, 12)):
                low = len(data) - 1500 if tail else 0
                data[rng.randrange(low, len(data))] = rng.randrange(256)
        found = inspect_bytes("unit.xlsx", bytes(data))
        assert found is None or found.code in {"E001", "E002", "E004", "E005"}


def test_every_message_is_bilingual(template):
    samples = {
        "~$a.xlsx": b"x",
        "a.xlsx": b"",
        "b.xls": b"x",
        "c.xlsm": template,
        "d.xlsx": ole("EncryptedPackage"),
        "e.xlsx": plain_zip({"a": b""}),
    }
    for name, data in samples.items():
        found = inspect_bytes(name, data)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in found.message.zh)
        assert found.message.en.isascii() or "…" in found.message.en


def _structured_variants(template: bytes) -> list[bytes]:
    """Archives that zipfile reads in its own way: what the plain reading must hand to it."""
    import struct

    eocd = len(template) - 22
    cd_offset = struct.unpack_from("<L", template, eocd + 16)[0]
    types = template.index(b"[Content_Types].xml")  # its local header's name
    out = [
        template,
        template + b"\x00",  # something after the end record
        template[:-2] + b"\x03\x00abc",  # an archive comment
        b"PREFIX" + template,  # something before the archive
        template.replace(b"[Content_Types].xml", b"[Content_Types].xm\x00", 1),  # local name
        template.replace(b"[Content_Types].xml", b"[Content_Types].xm\\", 1),
        template.replace(b"[Content_Types].xml", b"[Content_Types].xml", 1),
    ]
    for offset, value in (
        (6, b"\x40\x00"),  # extract version 6.4: zipfile refuses it
        (8, b"\x00\x08"),  # the UTF-8 name flag
        (8, b"\x01\x00"),  # encrypted
        (8, b"\x20\x00"),  # compressed patched data
        (10, b"\x05\x00"),  # an unknown method
        (16, b"\x00\x00\x00\x00"),  # a wrong CRC
        (30, b"\x04\x00"),  # an extra field over the next record's bytes
    ):
        data = bytearray(template)
        data[cd_offset + offset : cd_offset + offset + len(value)] = value
        out.append(bytes(data))
    data = bytearray(template)
    data[types + 40 : types + 44] = b"\xff\xff\xff\xff"  # [Content_Types].xml's data damaged
    out.append(bytes(data))
    return out


def test_the_plain_directory_reading_answers_as_zipfile(template, monkeypatch):
    """Most files' zip directory is read without zipfile (`safety._plain_entries`); every
    answer must be the one zipfile's reading gives, for sound, damaged and odd archives."""
    rng = random.Random(20261127)
    corpus = _structured_variants(template)
    corpus += [zeros_entry(template, "xl/worksheets/sheet9.xml", 5 * MIB), ods(), rebuild(template)]
    for _ in range(400):
        data = bytearray(template)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randrange(1, 6)):
                low = len(data) - 1500 if rng.random() < 0.7 else 0
                data[rng.randrange(low, len(data))] = rng.randrange(256)
        corpus.append(bytes(data))

    def answer(data: bytes) -> tuple | None:
        found = inspect_bytes("unit.xlsx", data)
        return None if found is None else (found.code, found.message.zh, found.message.en)

    plain = [answer(data) for data in corpus]
    used = sum(safety._plain_entries(d, len(d) - 22) is not None for d in corpus)
    monkeypatch.setattr(safety, "_plain_entries", lambda data, eocd: None)
    assert plain == [answer(data) for data in corpus]
    assert used > len(corpus) // 2  # the plain reading was taken for most of them


def test_an_entry_that_inflates_past_its_declared_size_is_refused(template):
    """The size limits are on declared sizes; a forged header declaring 5,000 bytes for a part
    that inflates to 20 MB is found by inflating it here, a megabyte at a time, which stops
    one byte past the declared size (zipfile, and openpyxl, inflate all of it first)."""
    big = rebuild(template, {"xl/styles.xml": b"<a/>" + b" " * (20 * MIB)}, drop=("xl/styles.xml",))
    forged = with_forged_size(big, "xl/styles.xml", 5000)
    found = check("unit.xlsx", forged, "E005", "xl/styles.xml", "5,000")
    assert "zip bomb" in found.message.en
    # declared as it is, the ratio limit refuses it; true parts pass, the second time too
    check("unit.xlsx", big, "E005", "100:1")
    for _ in range(2):
        assert inspect_bytes("unit.xlsx", template) is None
    # read through zipfile too (an archive comment keeps it off the plain reading)
    commented = forged[:-2] + b"\x01\x00x"
    assert safety._plain_entries(commented, len(commented) - 22) is None
    assert inspect_bytes("unit.xlsx", commented).code == "E005"
