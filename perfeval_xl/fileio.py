"""Writing output files atomically, and file names that every Windows desk accepts.

A clerk's folder is often synced or opened in Explorer while we write: an output is written to a
temporary file beside its target and renamed over it, so nobody ever sees half a workbook.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import OutputError, Text

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
#: Longest file stem we produce, in characters: leaves room for a folder path under MAX_PATH (260).
MAX_STEM = 120


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """`write` the file at `path` through a temporary file in the same folder and a rename: an
    output too big to hold in memory twice is written as it is made."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); an output should get the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_output(path: Path | str, data: bytes | Callable[[IO[bytes]], object]) -> Path:
    """`atomic_write_bytes` (or `atomic_write` when `data` is a function writing the file),
    with the failures a clerk can meet (a folder of that name, no permission, the file open in
    Excel on Windows) turned into an OutputError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, Text("这是一个文件夹，不能作为输出文件", "is a folder, not a file"))
    try:
        if isinstance(data, bytes):
            atomic_write_bytes(path, data)
        else:
            atomic_write(path, data)
    except OSError as exc:
        raise OutputError(
            path, Text(f"无法写入（{exc.strerror}）", f"cannot write ({exc.strerror})")
        ) from None
    return path


def safe_file_stem(text: str) -> str:
    """`text` made into a file name stem that Windows, macOS and Linux all accept.

    Characters Windows forbids become `_`, trailing dots and spaces go, reserved device names
    (CON, NUL, COM1 …) get a `_` suffix, and the stem is cut to `MAX_STEM` characters.
    """
    stem = unicodedata.normalize("NFC", text)
    stem = re.sub(r"\s+", " ", stem).strip()  # tabs and line breaks pasted into names
    stem = _BAD_CHARS.sub("_", stem)
    stem = stem[:MAX_STEM].rstrip(" .")
    if not stem:
        stem = "_"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem += "_"
    return stem


def unique_stem(stem: str, taken: set[str]) -> str:
    """`stem`, or `stem_2`, `stem_3` … so that no two names collide on a case-blind file system."""
    candidate = stem
    n = 2
    while candidate.casefold() in taken:
        candidate = f"{stem[: MAX_STEM - 6]}_{n}"
        n += 1
    taken.add(candidate.casefold())
    return candidate


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def display_path(text: str) -> str:
    """A path or file name as a person should see it.

    On Linux a name is bytes; Python hands over the bytes that are not UTF-8 as lone
    surrogates, which no file format can hold (xlsxwriter fails at close, JSON is no longer
    UTF-8). Unzipping a Windows attachment on Linux, UOS or Kylin leaves exactly such names, in
    GBK. Each part of the path is therefore decoded as UTF-8, else GB18030, else shown with the
    undecodable bytes escaped (`\\xb5`); the file itself is still opened by its real name."""
    if text.isascii() or not _SURROGATES.search(text):
        return text
    return "/".join(_display_part(part) for part in text.split("/"))


_SURROGATES = re.compile("[\ud800-\udfff]+")


def _display_part(part: str) -> str:
    """One part of a path: its bytes decoded whole (a GBK name can hold bytes that happen to be
    UTF-8, so decoding only the undecodable runs would garble it); a part that mixes encodings
    (a message around a name) gets each undecodable run decoded alone."""
    if not _SURROGATES.search(part):
        return part
    decoded = _decode(part.encode("utf-8", "surrogateescape"))
    if decoded is not None:
        return decoded
    return _SURROGATES.sub(
        lambda m: _shown_bytes(m.group().encode("utf-8", "surrogateescape")), part
    )


def _decode(raw: bytes) -> str | None:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _shown_bytes(raw: bytes) -> str:
    decoded = _decode(raw)
    return decoded if decoded is not None else raw.decode("utf-8", "backslashreplace")


def read_small_file(path: Path | str, limit: int, what: Text) -> bytes:
    """The bytes of `path`, a small regular file such as a key or a password file (`what`
    names it in messages), refusing anything else.

    An option may name anything: a folder, /dev/zero (which never ends), a FIFO (whose `open`
    waits for a writer, hence O_NONBLOCK), a huge file. The file is opened once and checked by
    its descriptor, so what is checked is what is read, and at most `limit` bytes are.

    Raises:
        OutputError: naming the file and what is wrong with it.
    """
    path = Path(path)
    folder = Text(f"是文件夹，不是{what.zh}", f"is a folder, not a {what.en}")
    if path.is_dir():  # Windows refuses to open a folder with "permission denied"
        raise OutputError(path, folder)

    def unreadable(exc: OSError) -> OutputError:
        return OutputError(
            path,
            Text(
                f"无法读取{what.zh}（{exc.strerror}）",
                f"cannot read the {what.en} ({exc.strerror})",
            ),
        )

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise unreadable(exc) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise OutputError(path, folder)
        if not stat.S_ISREG(mode):
            raise OutputError(
                path,
                Text(
                    f"不是普通文件（是设备、管道或套接字），不能作为{what.zh}",
                    f"not a regular file (a device, pipe or socket), so not a {what.en}",
                ),
            )
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise unreadable(exc) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OutputError(
            path,
            Text(
                f"文件过大（超过 {limit} 字节），不是{what.zh}",
                f"too large (over {limit} bytes) for a {what.en}",
            ),
        )
    return data
