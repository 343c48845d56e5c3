"""The web intake's workspace: one folder holding the units' links, their uploads and a ledger.

`perfeval-xl serve WORKSPACE` keeps everything there, so the office backs up one folder:

- `links.csv`: one link per 实施单位 of the roster (主管部门代码, 主管部门, 实施单位, link), for
  the office to send; each link carries a random token of 192 bits. The server keeps only the
  tokens' SHA-256 in memory and looks a link up by it, so comparing the token itself never
  takes a time that depends on how much of it was right.
- `inbox/<主管部门代码>/<实施单位>/`: every upload accepted, named by the time it arrived and
  its content's SHA-256, never by the name the unit's computer gave it, never overwritten.
  `perfeval-xl collect WORKSPACE/inbox` reads it as any inbox.
- `uploads.sqlite`: the ledger, one row per upload (accepted or refused) with its findings'
  counts and score; an upload is acknowledged only once its file is on disk (fsync) and its
  row committed.
- `unacknowledged/`: files found in the inbox at start that no ledger row names (the server
  was killed between saving an upload and committing its row; its unit had no answer).
- `汇总.sqlite`: the store (`office.store`) the office's pages collect the inbox through.
- `office-password.scrypt`: the office password's salted scrypt hash (never the password).
- `outputs/`: summaries built from the office pages.
- `.serve.lock`: held while a server runs; a second server on the same workspace is refused.

A web-stage module: it reads rosters (`office.roster`) and checks files with `office.collect`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import re
import secrets
import sqlite3
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError, Text
from ..fileio import safe_file_stem, write_output
from ..office.roster import RosterRow

#: Bytes of randomness in a unit's token (192 bits; the issue asks for at least 128).
TOKEN_BYTES = 24
LINKS_FILE = "links.csv"
LEDGER_FILE = "uploads.sqlite"
LOCK_FILE = ".serve.lock"
#: Where files found in the inbox without a ledger row are moved at start (`_reconcile`).
UNACKNOWLEDGED = "unacknowledged"
#: The office password's hash (scrypt, salted): never the password itself.
PASSWORD_FILE = "office-password.scrypt"
#: scrypt's cost (n, r, p): about 50 ms a login on an office PC, 16 MiB of memory.
SCRYPT = (2**14, 8, 1)
LINK_COLUMNS = ("主管部门代码", "主管部门", "实施单位", "link")

#: How `Workspace.keep` names an upload: its time of arrival and its SHA-256's first 12 digits.
_OUR_NAME = re.compile(r"\d{8}-\d{6}-\d{6}-[0-9a-f]{12}(?:-[0-9a-f]{4})?\.(?:xlsx|xlsm|zip)")

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    received TEXT NOT NULL,
    dept_code TEXT NOT NULL,
    unit_name TEXT NOT NULL,
    original_name TEXT NOT NULL,
    stored_path TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    project_name TEXT,
    project_code TEXT,
    errors INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    score REAL,
    grade TEXT,
    findings TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_unit ON uploads (dept_code, unit_name, id);
"""


@dataclass(frozen=True)
class Unit:
    """One 实施单位 of the roster: who a link belongs to, and its projects (roster rows)."""

    dept_code: str
    dept_name: str
    unit_name: str
    rows: tuple[RosterRow, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.dept_code, self.unit_name)


def units_of(rows: list[RosterRow]) -> list[Unit]:
    """The roster's 实施单位, in the order they first appear, each with its projects."""
    found: dict[tuple[str, str], list[RosterRow]] = {}
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (cell_text(row.values.get("dept_code")), cell_text(row.values.get("unit_name")))
        found.setdefault(key, []).append(row)
        names.setdefault(key, cell_text(row.values.get("dept_name")))
    return [Unit(code, names[(code, unit)], unit, tuple(r)) for (code, unit), r in found.items()]


def cell_text(value: Any) -> str:
    """A roster or workbook value as the pages show and compare it: blank for None, a code
    Excel stored as 109101.0 as 109101, without surrounding spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def token_digest(token: str) -> bytes:
    """What a link is looked up by: its token's SHA-256 (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class Workspace:
    """The folder `serve` works in (see the module's docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.inbox = self.root / "inbox"
        self.tmp = self.root / "tmp"
        self._lock: IO[bytes] | None = None
        self.ledger: sqlite3.Connection | None = None
        #: one thread at a time on the ledger's connection (pages read it, uploads write it)
        self._ledger_lock = threading.Lock()
        #: uploads moved out of the inbox at start, never acknowledged (`_reconcile`)
        self.unacknowledged: list[Path] = []

    # -- one server at a time ---------------------------------------------------------------
    def lock(self) -> None:
        """Hold the workspace for this server.

        Raises:
            OutputError: another server holds it, or the folder cannot be written.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / LOCK_FILE, "a+b")  # noqa: SIM115 - held until `close`
        except OSError as exc:
            raise OutputError(
                self.root, Text(f"无法使用（{exc.strerror}）", f"cannot be used ({exc.strerror})")
            ) from None
        if not _try_lock(fh):
            fh.close()
            raise OutputError(
                self.root,
                Text(
                    "已有另一个 perfeval-xl serve 在使用这个工作区；请先关闭它",
                    "another perfeval-xl serve is using this workspace; stop it first",
                ),
            )
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()).encode())
        fh.flush()
        self._lock = fh
        self.inbox.mkdir(exist_ok=True)
        self.tmp.mkdir(exist_ok=True)
        for left in self.tmp.iterdir():  # a killed server's half-received uploads
            if left.is_file():
                left.unlink(missing_ok=True)
        self.ledger = _open_ledger(self.root / LEDGER_FILE)
        self.unacknowledged = self._reconcile()

    def _reconcile(self) -> list[Path]:
        """Move out of the inbox every file no ledger row names: an upload saved into the
        inbox when the server was killed before its row was committed. Its unit never had an
        answer (and will send it again), so `collect` must not count it; it is kept, in
        `unacknowledged/`, not deleted. Only files named as `keep` names them are looked at:
        one the office copied into the inbox itself stays. The moved files, where they are."""
        assert self.ledger is not None
        named = {r[0] for r in self.ledger.execute("SELECT stored_path FROM uploads") if r[0]}
        moved = []
        for path in sorted(p for p in self.inbox.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            if rel in named or not _OUR_NAME.fullmatch(path.name):
                continue  # a file the office put there itself is never moved
            dest = self.root / UNACKNOWLEDGED / path.relative_to(self.inbox)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            moved.append(dest)
        return moved

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- links ------------------------------------------------------------------------------
    def links(self, units: list[Unit], base_url: str) -> dict[bytes, Unit]:
        """Each unit's token digest -> unit: the tokens in `links.csv`, made for the units
        that have none yet (the file is then written again, atomically)."""
        tokens = self._read_links()
        changed = False
        for unit in units:
            if unit.key not in tokens:
                tokens[unit.key] = secrets.token_urlsafe(TOKEN_BYTES)
                changed = True
        if changed or self._links_text(units, tokens, base_url) != self._current_links():
            self._write_links(units, tokens, base_url)  # new units, or another address
        return {token_digest(tokens[u.key]): u for u in units}

    def new_link(self, units: list[Unit], unit_name: str, base_url: str) -> str:
        """Replace one unit's token (a link sent to the wrong person): the new link.

        Raises:
            OutputError: no unit of the roster has that name.
        """
        matches = [u for u in units if unit_name in (u.unit_name, f"{u.dept_code}/{u.unit_name}")]
        if len(matches) != 1:
            known = "、".join(u.unit_name for u in units[:10])
            raise OutputError(
                self.root / LINKS_FILE,
                Text(
                    f"名册中没有唯一名为「{unit_name}」的实施单位（有：{known}…）",
                    f'no single unit named "{unit_name}" in the roster (there are: {known}…)',
                ),
            )
        tokens = self._read_links()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        tokens[matches[0].key] = token
        for unit in units:
            tokens.setdefault(unit.key, secrets.token_urlsafe(TOKEN_BYTES))
        self._write_links(units, tokens, base_url)
        return unit_link(base_url, token)

    def _read_links(self) -> dict[tuple[str, str], str]:
        path = self.root / LINKS_FILE
        if not path.exists():
            return {}
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise OutputError(path, Text(f"无法读取（{exc}）", f"cannot be read ({exc})")) from None
        out = {}
        for row in csv.DictReader(io.StringIO(text)):
            link = (row.get("link") or "").strip()
            token = link.rstrip("/").rsplit("/", 1)[-1]
            if token:
                out[(row.get("主管部门代码") or "", row.get("实施单位") or "")] = token
        return out

    def _current_links(self) -> bytes | None:
        try:
            return (self.root / LINKS_FILE).read_bytes()
        except OSError:
            return None

    def _write_links(
        self, units: list[Unit], tokens: dict[tuple[str, str], str], base_url: str
    ) -> None:
        write_output(self.root / LINKS_FILE, self._links_text(units, tokens, base_url))

    @staticmethod
    def _links_text(units: list[Unit], tokens: dict[tuple[str, str], str], base_url: str) -> bytes:
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\r\n")
        out.writerow(LINK_COLUMNS)
        for u in units:
            link = unit_link(base_url, tokens[u.key])
            out.writerow([_cell(u.dept_code), _cell(u.dept_name), _cell(u.unit_name), link])
        # UTF-8 with a BOM: Excel on a Chinese Windows opens it without garbling the names
        return ("\ufeff" + buf.getvalue()).encode("utf-8")

    # -- the office's password --------------------------------------------------------------
    def set_password(self, password: str) -> None:
        """Keep the office password as a salted scrypt hash (`office-password.scrypt`)."""
        salt = secrets.token_bytes(16)
        n, r, p = SCRYPT
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p)
        text = f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}\n"
        write_output(self.root / PASSWORD_FILE, text.encode("ascii"))

    def has_password(self) -> bool:
        return (self.root / PASSWORD_FILE).is_file()

    def check_password(self, password: str) -> bool:
        """Whether `password` is the office's (compared in constant time)."""
        try:
            kind, n, r, p, salt, digest = (
                (self.root / PASSWORD_FILE).read_text("ascii").strip().split("$")
            )
            if kind != "scrypt":
                return False
            got = hashlib.scrypt(
                password.encode("utf-8", "surrogateescape"),
                salt=bytes.fromhex(salt),
                n=int(n),
                r=int(r),
                p=int(p),
            )
        except (OSError, ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(got, bytes.fromhex(digest))

    # -- uploads ----------------------------------------------------------------------------
    def temp_file(self) -> tuple[Path, IO[bytes]]:
        """A new file to receive an upload into (removed by `discard` or `keep`)."""
        path = self.tmp / f"upload-{secrets.token_hex(8)}"
        return path, open(path, "xb")

    def keep(self, temp: Path, unit: Unit, sha256: str, suffix: str, received: datetime) -> Path:
        """Move an accepted upload into the inbox, on disk for good (fsync of the file and of
        its folder) before it is acknowledged: `inbox/<主管部门代码>/<实施单位>/<time>-<hash>`."""
        folder = self.inbox / safe_file_stem(unit.dept_code or "_") / safe_file_stem(unit.unit_name)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{received:%Y%m%d-%H%M%S-%f}-{sha256[:12]}{suffix}"
        dest = folder / name
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())
        if dest.exists():  # the same bytes in the same microsecond: never overwritten
            dest = (
                folder / f"{received:%Y%m%d-%H%M%S-%f}-{sha256[:12]}-{secrets.token_hex(2)}{suffix}"
            )
        os.replace(temp, dest)
        _fsync_dir(folder)
        return dest

    def record(self, rows: list[dict[str, Any]]) -> list[int]:
        """Commit one upload's ledger rows, together and durably (synchronous=FULL): their ids."""
        assert self.ledger is not None
        ids = []
        with self._ledger_lock, self.ledger:
            for row in rows:
                cols = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                cur = self.ledger.execute(
                    f"INSERT INTO uploads ({cols}) VALUES ({marks})", tuple(row.values())
                )
                ids.append(int(cur.lastrowid or 0))
        return ids

    def uploads(self, where: str = "1", args: tuple = ()) -> list[sqlite3.Row]:
        """Ledger rows, newest first (`where`: an SQL condition with `?` for `args`)."""
        assert self.ledger is not None
        with self._ledger_lock:
            return self.ledger.execute(
                f"SELECT * FROM uploads WHERE {where} ORDER BY id DESC", args
            ).fetchall()

    def upload_count(self) -> int:
        assert self.ledger is not None
        with self._ledger_lock:
            return int(self.ledger.execute("SELECT count(*) FROM uploads").fetchone()[0])

    def uploads_of(self, unit: Unit) -> list[sqlite3.Row]:
        """The unit's uploads, newest first."""
        return self.uploads("dept_code = ? AND unit_name = ?", unit.key)


def unit_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


def _cell(text: str) -> str:
    """A name as a CSV cell Excel shows as text: one that begins like a formula gets a '."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _open_ledger(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level="")
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(LEDGER_SCHEMA)
    return db


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows has no directory fsync
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_lock(fh: IO[bytes]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
