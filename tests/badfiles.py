"""Builders of bad files shared by the safety-gate and end-to-end tests (all in memory)."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

MIB = 1024 * 1024
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


def plain_zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as dst:
        for name, raw in entries.items():
            dst.writestr(name, raw)
    return out.getvalue()


def with_zeros_entry(data: bytes, name: str, size: int) -> bytes:
    """`data` plus a real deflated entry of `size` zero bytes, written in 1 MiB chunks
    (about 60 KB for 60 MiB)."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as dst, dst.open(name, "w") as entry:
        chunk = bytes(MIB)
        for _ in range(size // MIB):
            entry.write(chunk)
    return out.getvalue()


def with_forged_size(base: bytes, member: str, declared: int) -> bytes:
    """`base` with `member`'s declared uncompressed size (directory and local header) forged."""
    data = bytearray(base)
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        info = z.getinfo(member)
    struct.pack_into("<L", data, info.header_offset + 22, declared)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        length = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + length]) == member.encode():
            struct.pack_into("<L", data, pos + 24, declared)
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


def ole(*streams: str) -> bytes:
    """An OLE compound-file header and padding, with directory names (UTF-16-LE) as given: how
    .xls and .et files, and password-encrypted .xlsx files, start."""
    data = bytearray(OLE_MAGIC + bytes(504))
    for stream in streams:
        data += stream.encode("utf-16-le").ljust(128, b"\0")
    return bytes(data + bytes(1024))


def ods() -> bytes:
    """An ODS as LibreOffice writes it: `mimetype` first and stored, then the content."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr(
            "mimetype", b"application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        dst.writestr("content.xml", b"<office:document-content/>")
        dst.writestr("META-INF/manifest.xml", b"<manifest:manifest/>")
    return out.getvalue()


def encrypted(data: bytes, password: str = "pw") -> bytes:
    """Encrypt a workbook with a password for real, as Excel does (an OLE file)."""
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    out = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()
