"""The store: an SQLite file of everything `collect` received, so that a clerk's daily re-run
reads only what is new, every version a unit sent is kept, and last year is at hand.

Why SQLite: one file beside the summary, in the standard library, readable in any SQLite
browser or Datasette; transactions make a killed run harmless. The schema (docs/store.md) is
plain relational tables for people (`files`, `projects`, `fields`, `funds`, `indicators`,
`findings`, `roster`, `runs`, `year_projects`) plus, per reading, the check results as
`collect` uses them (`checks.results`), so that a file is never read twice under the same rules.

The stored results are pickles, and unpickling runs code: each carries an HMAC-SHA256 made with
a key that lives on this computer only (`cache_key`), so a store that was altered elsewhere,
copied from another computer or sent by somebody is never unpickled: its readings count as
missing and the files are read again.

A file is known again by its bytes: SHA-256, after a cheap pre-check (size and modification
time of a file; size and CRC-32 from the zip directory for a member of a .zip attachment), and
by the rules it was read under (`rules_fingerprint`: this tool's own code, the forms, the
signing key, the open password). The roster is no part of a reading: it is compared in
`collect` after reading, on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import pickle
import secrets
import sqlite3
import stat
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError, Text
from ..findings import Finding
from ..forms.spec import BUILTIN_FORMS, FormSet, _builtin_ids, _load_builtin
from ..intake.safety import MAX_FILE_BYTES
from ..review.checks import CheckResult
from .collect import Collection, Item, Submission
from .spill import SpilledResult

#: Bumped when a table changes; an older store is upgraded, a newer one refused.
SCHEMA_VERSION = 1
#: How the store names itself in `meta` (a file that lacks it is not ours).
APPLICATION = "perfeval-xl store"
#: Results kept in memory before they are committed together: a killed run loses at most
#: these, and one transaction per file would cost a disk flush each.
BATCH = 500
#: ... or this many seconds' worth, whichever comes first.
BATCH_SECONDS = 2.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    tool TEXT NOT NULL,
    inbox TEXT NOT NULL,
    rules TEXT NOT NULL,
    inputs INTEGER,
    read INTEGER,
    reused INTEGER,
    projects INTEGER,
    errors INTEGER,
    warnings INTEGER,
    summary TEXT,
    summary_sha256 TEXT,
    json TEXT,
    json_sha256 TEXT,
    inputs_sha256 TEXT,
    report TEXT
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER,
    crc32 INTEGER,
    received TEXT NOT NULL,
    saved TEXT,
    first_run INTEGER NOT NULL REFERENCES runs(id),
    last_run INTEGER NOT NULL REFERENCES runs(id),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    replaced_by INTEGER REFERENCES files(id),
    superseded_by TEXT,
    UNIQUE (source, sha256)
);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    rules TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    results BLOB NOT NULL,
    mac BLOB NOT NULL,
    UNIQUE (file_id, rules)
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    check_id INTEGER NOT NULL REFERENCES checks(id),
    file_id INTEGER NOT NULL REFERENCES files(id),
    part INTEGER NOT NULL,
    source TEXT NOT NULL,
    form TEXT NOT NULL,
    form_version INTEGER,
    year TEXT,
    dept_code TEXT,
    dept_name TEXT,
    unit_name TEXT,
    project_name TEXT,
    project_code TEXT,
    budget REAL,
    spent REAL,
    exec_rate REAL,
    exec_score REAL,
    score REAL,
    score_reported REAL,
    score_complete INTEGER,
    grade TEXT,
    indicators INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    warnings INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fields (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    value,
    raw,
    sheet TEXT,
    cell TEXT
);
CREATE TABLE IF NOT EXISTS funds (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    source TEXT NOT NULL,
    "column" TEXT NOT NULL,
    amount REAL
);
CREATE TABLE IF NOT EXISTS indicators (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    "row" INTEGER NOT NULL,
    level1 TEXT,
    level2 TEXT,
    name TEXT,
    target TEXT,
    actual TEXT,
    status TEXT,
    weight,
    score,
    score_computed REAL,
    reason TEXT,
    other TEXT
);
CREATE TABLE IF NOT EXISTS findings (
    check_id INTEGER NOT NULL REFERENCES checks(id),
    project_id INTEGER REFERENCES projects(id),
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    sheet TEXT,
    cell TEXT,
    field TEXT,
    message_zh TEXT NOT NULL,
    message_en TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS roster (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    "row" INTEGER NOT NULL,
    dept_code TEXT,
    dept_name TEXT,
    unit_name TEXT,
    project_name TEXT,
    project_code TEXT,
    status TEXT NOT NULL,
    source TEXT
);
CREATE TABLE IF NOT EXISTS year_projects (
    year TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    project_id INTEGER REFERENCES projects(id),
    source TEXT NOT NULL,
    dept_code TEXT,
    dept_name TEXT,
    unit_name TEXT,
    project_name TEXT,
    project_code TEXT,
    budget REAL,
    spent REAL,
    exec_rate REAL,
    score REAL,
    grade TEXT,
    score_complete INTEGER
);
CREATE INDEX IF NOT EXISTS files_source ON files (source);
CREATE INDEX IF NOT EXISTS projects_key ON projects (dept_code, project_name);
CREATE INDEX IF NOT EXISTS projects_file ON projects (file_id);
CREATE INDEX IF NOT EXISTS fields_project ON fields (project_id);
CREATE INDEX IF NOT EXISTS funds_project ON funds (project_id);
CREATE INDEX IF NOT EXISTS indicators_project ON indicators (project_id);
CREATE INDEX IF NOT EXISTS findings_check ON findings (check_id);
CREATE INDEX IF NOT EXISTS year_projects_year ON year_projects (year);
CREATE INDEX IF NOT EXISTS roster_run ON roster (run_id);
"""


class _Db(sqlite3.Connection):
    """A connection that stores a name which is not UTF-8 (a GBK file name from a Windows zip
    unpacked on Linux: Python's surrogate escapes, which SQLite cannot take) as it is shown
    to the clerk (`fileio.display_path`), instead of failing the run."""

    def execute(self, sql: str, params: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().execute(sql, params)
        except UnicodeEncodeError:  # raised while binding: nothing was executed
            return super().execute(sql, _safe(params))

    def executemany(self, sql: str, rows: Iterable[Any], /) -> sqlite3.Cursor:  # type: ignore[override]
        rows = list(rows)
        if not self.in_transaction:
            super().execute("BEGIN")  # else the savepoint's RELEASE would commit
        super().execute("SAVEPOINT names")
        try:
            cur = super().executemany(sql, rows)
        except UnicodeEncodeError:  # the rows before the one that failed were executed
            super().execute("ROLLBACK TO names")
            cur = super().executemany(sql, [_safe(r) for r in rows])
        super().execute("RELEASE names")
        return cur


def _safe(params: Any) -> tuple:
    return tuple(_safe_text(v) if isinstance(v, str) else v for v in params)


def _safe_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        from ..fileio import display_path

        return display_path(text).encode("utf-8", "replace").decode("utf-8")
    return text


class StoreError(OutputError):
    """The store cannot be used: not ours, damaged, of a newer version, or not writable."""


def default_path(summary: Path | str) -> Path:
    """Where a summary's store lives: beside it, `2022汇总.xlsx` → `2022汇总.sqlite`."""
    return Path(summary).with_suffix(".sqlite")


def side_files(store: Path | str) -> tuple[Path, ...]:
    """The store and the files SQLite and the lock keep beside it: none is ever an input."""
    p = Path(store)
    return (p, *(p.with_name(p.name + s) for s in ("-journal", "-wal", "-shm", ".lock")))


# -- what a reading depends on ------------------------------------------------------------------
@cache
def _tool_digest() -> str:
    """SHA-256 of this package's own code: a reading made by other code is not reused, even
    when the version number was not raised (a fix between releases, a checkout)."""
    from .. import __file__ as package_init
    from .._version import __version__

    h = hashlib.sha256(__version__.encode())
    root = Path(package_init).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def rules_fingerprint(
    forms: FormSet = BUILTIN_FORMS, key: bytes | None = None, password: str | None = None
) -> str:
    """What a file's reading depends on besides its bytes: this tool's code, every form it
    knows (the office's first, then the built-in ones), the signing key (E701–E703) and the
    open password (an encrypted file opens or does not). The key and password go in as
    HMACs, never as themselves."""
    h = hashlib.sha256(_tool_digest().encode())
    for spec in forms.specs:
        h.update(b"office\0" + spec.digest.encode())
    for form_id in _builtin_ids():
        h.update(b"builtin\0" + _load_builtin(form_id).digest.encode())
    for name, secret in (("key", key), ("password", password)):
        if secret is not None:
            raw = secret if isinstance(secret, bytes) else secret.encode()
            h.update(name.encode() + hmac.new(raw, b"perfeval-xl rules", "sha256").digest())
    return h.hexdigest()[:32]


def cache_key() -> bytes:
    """This computer's key for the stored results' HMACs: `PERFEVAL_XL_HOME` (default
    `~/.perfeval-xl`)`/store.key`, made on first use, readable by its owner only.

    Without a place to keep it (a read-only home), a key for this run only: nothing stored
    before is then reused, which costs time, never a wrong result."""
    home = os.environ.get("PERFEVAL_XL_HOME")
    folder = Path(home) if home else Path.home() / ".perfeval-xl"
    path = folder / "store.key"
    try:
        return path.read_bytes()[:64] or _new_key(path)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            return _new_key(path)
    except OSError:
        pass
    return secrets.token_bytes(32)


def _new_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


# -- the digests of the inputs ------------------------------------------------------------------
#: A file saved less than this before it was hashed (or dated later: another computer's clock)
#: is hashed again next run instead of trusted by size and time: FAT and some network shares
#: keep times to 2 s, so a second save within that keeps both (`Store.digests`).
RACY_NS = 3_000_000_000


@dataclass(frozen=True)
class Digest:
    """An input's identity: the SHA-256 of its bytes, and what the pre-check compares."""

    sha256: str
    size: int
    mtime_ns: int | None  # a file's
    crc32: int | None  # a .zip member's, from the zip directory


def file_digest(item: Item, read: tuple[os.stat_result, int, bytes] | None = None) -> Digest | None:
    """A file's digest, made by the worker that reads it (`StoreRun.hooks`): of the bytes
    the gate read (`read`: `safety.Seen`'s arguments), else of the file as it is now; None
    for a .zip member (hashed before the pool: `Store.digests`) and for what cannot be
    hashed."""
    if item.member is not None:
        return None
    if read is not None:
        st, started, data = read
        if len(data) != st.st_size:
            return None  # changed while it was read: no identity to keep (read again next run)
        return _digest(hashlib.sha256(data).hexdigest(), st, started)
    try:
        return _file_digest(item.path, None)
    except OSError:
        return None


def _file_digest(path: str, known: tuple | None) -> Digest | None:
    """A file's digest: as the newest version stored (`known`: id, sha256, size, mtime_ns …)
    when its size and time are that version's, else its bytes hashed; None for what is no
    regular file or too big to read.

    Raises:
        OSError: the file cannot be read now.
    """
    st = os.stat(path)
    size, mtime = st.st_size, st.st_mtime_ns
    if not stat.S_ISREG(st.st_mode) or size > MAX_FILE_BYTES:
        return None  # a pipe would block the hash forever; the gate says why (E001, E005)
    if known is not None and known[2:4] == (size, mtime):
        return Digest(known[1], size, mtime, None)
    hashed_at = time.time_ns()
    return _digest(_hash_file(path), st, hashed_at)


def _digest(sha256: str, st: os.stat_result, hashed_at: int) -> Digest:
    """The digest of a file whose bytes, as read from `hashed_at` on, hash to `sha256`.

    Racily clean (as git calls it): a file changed again within its clock's granularity after
    the read keeps its size and time; its time is not kept, so the next run hashes it again."""
    mtime = st.st_mtime_ns
    racy = mtime >= hashed_at - RACY_NS
    return Digest(sha256, st.st_size, None if racy else mtime, None)


def _hash_file(path: str) -> str:
    with open(path, "rb") as fh:
        return _hash_stream(fh)


def _hash_stream(fh: IO[bytes]) -> str:
    h = hashlib.sha256()
    for block in iter(lambda: fh.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


# -- the store ----------------------------------------------------------------------------------
class Store:
    """An open store, locked for this process (`open_store`). Use as a context manager."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock: IO[bytes]) -> None:
        self.path = path
        self.db = db
        self._lock = lock
        self._key = cache_key()
        self.run_id: int | None = None
        self.rules: str | None = None
        self._pending: list[tuple[Item, Digest, list[CheckResult], tuple[bytes, list[Rows]]]] = []
        self._flushed = time.monotonic()
        self.read = 0
        self.reused = 0

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is pending, close the database and let the next run in."""
        try:
            if self._pending:
                self._flush()
            self.db.close()
        finally:
            with contextlib.suppress(OSError):
                self._lock.close()

    # -- a run ----------------------------------------------------------------------------------
    def begin(self, inbox: str, rules: str) -> int:
        """Start a run (finished by `finish`; a run killed before has no `finished`)."""
        from .._version import __version__

        with self._writing():
            cur = self.db.execute(
                "INSERT INTO runs (started, tool, inbox, rules) VALUES (?, ?, ?, ?)",
                (_now(), __version__, inbox, rules),
            )
        self.run_id = int(cur.lastrowid or 0)
        self.rules = rules
        self._versions = self._latest_versions()
        return self.run_id

    def _latest_versions(self) -> dict[str, tuple[int, str, int, int | None, int | None]]:
        """Per source, its newest version: (id, sha256, size, mtime_ns, crc32)."""
        out = {}
        for row in self.db.execute(
            "SELECT source, id, sha256, size, mtime_ns, crc32 FROM files ORDER BY id"
        ):
            out[row[0]] = row[1:]
        return out

    def digests(self, items: Sequence[Item], *, later: bool = False) -> list[Digest | None]:
        """Each input's digest (None when it cannot be read now: the reading says why). The
        bytes are hashed only when the pre-check differs from the newest version stored.

        With `later`, a file of a source never stored is not hashed here either (None): it is
        read whatever its bytes, and the worker that reads it hashes it (`file_digest`, the
        hook `digest`), on every core instead of here before any file is read (0.4 s of a
        first run at 10,000 files). No unchanged run can have such a file."""
        out: list[Digest | None] = []
        archives: dict[str, dict[str, zipfile.ZipInfo] | None] = {}
        for item in items:
            known = self._versions.get(item.source)
            try:
                if item.member is None:
                    if known is None and later:
                        out.append(None)
                        continue
                    out.append(_file_digest(item.path, known))
                    continue
                if item.path not in archives:
                    archives[item.path] = _directory(item.path)
                info = (archives[item.path] or {}).get(item.member)
                if info is None:
                    out.append(None)
                    continue
                size, crc = info.file_size, info.CRC
                if known is not None and (known[2], known[4]) == (size, crc):
                    out.append(Digest(known[1], size, None, crc))
                    continue
                with zipfile.ZipFile(item.path) as archive, archive.open(info) as fh:
                    out.append(Digest(_hash_stream(fh), size, None, crc))
            except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
                out.append(None)
        return out

    def cached(self, item: Item, digest: Digest | None) -> tuple[list[CheckResult], bytes] | None:
        """The stored reading of this very input under this run's rules, and its pickle (as
        `collect` may keep it on disk: `spill`), or None."""
        if digest is None:
            return None
        try:
            row = self.db.execute(
                "SELECT c.results, c.mac FROM checks c JOIN files f ON f.id = c.file_id"
                " WHERE f.source = ? AND f.sha256 = ? AND c.rules = ?",
                (item.source, digest.sha256, self.rules),
            ).fetchone()
        except sqlite3.Error:
            return None  # a row altered beyond reading (text where bytes were): read again
        if row is None:
            return None
        blob, mac = row
        if not isinstance(blob, bytes) or not isinstance(mac, bytes):
            return None
        if not hmac.compare_digest(mac, self._mac(blob)):
            return None  # written on another computer, or altered: read the file again
        try:
            results = pickle.loads(blob)
        except Exception:  # noqa: BLE001 - a reading that cannot be restored is read again
            return None
        self.reused += 1
        return results, blob

    def _mac(self, blob: bytes) -> bytes:
        return hmac.new(self._key, blob, "sha256").digest()

    def add(
        self,
        item: Item,
        digest: Digest | None,
        results: list[CheckResult],
        packed: tuple[bytes, list[Rows]] | None = None,
    ) -> None:
        """Keep a fresh reading (committed in batches: `BATCH`, `BATCH_SECONDS`); `packed`:
        as a worker packed it (`pack`), else packed here."""
        self.read += 1
        if digest is None:
            return  # nothing to know it again by: it is read again next time too
        self._pending.append((item, digest, results, packed or pack(results)))
        if len(self._pending) >= BATCH or time.monotonic() - self._flushed > BATCH_SECONDS:
            self._flush()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction; an SQLite error (a full disk) becomes the clerk's message."""
        try:
            with self.db:
                yield
        except sqlite3.Error as exc:
            raise StoreError(self.path, _problem(exc)) from None

    def _flush(self) -> None:
        """Insert the pending readings, one statement per table for the whole batch.

        The parent inserts while both workers read, on a machine with as many cores as workers:
        its time is taken from theirs. Row ids are given here (one past the largest, as SQLite
        would give them; no other process writes while this one holds the store's lock), so
        that each table's rows go in with one `executemany` instead of a few statements a file
        (measured: 0.20 against 0.23 ms a file; the rest is SQLite's own inserting)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._flushed = time.monotonic()
        now = _now()
        with self._writing():
            db = self.db
            check_id = _largest_id(db, "checks")
            project_id = _largest_id(db, "projects")
            checks: list[tuple] = []
            batch = _Batch()
            for item, digest, results, (blob, got) in pending:
                file_id = self._file_row(item, digest, results, now)
                check_id += 1
                checks.append((check_id, file_id, self.rules, self.run_id, blob, self._mac(blob)))
                for part, result_rows in enumerate(got):
                    if result_rows[0] is not None:
                        project_id += 1
                    batch.add(check_id, file_id, part, result_rows, project_id)
            db.executemany(
                "INSERT INTO checks (id, file_id, rules, run_id, results, mac)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                checks,
            )
            batch.insert(db)

    def _drop_check(self, file_id: int) -> None:
        """Remove a reading of the file under these rules that was not trusted (altered, or
        made on another computer) before its fresh one is stored, with all its rows."""
        got = self.db.execute(
            "SELECT id FROM checks WHERE file_id = ? AND rules = ?", (file_id, self.rules)
        ).fetchone()
        if got is None:
            return
        projects = "SELECT id FROM projects WHERE check_id = ?"
        self.db.execute(
            f"UPDATE year_projects SET project_id = NULL WHERE project_id IN ({projects})", got
        )
        for table in ("fields", "funds", "indicators"):
            self.db.execute(f"DELETE FROM {table} WHERE project_id IN ({projects})", got)
        self.db.execute("DELETE FROM findings WHERE check_id = ?", got)
        self.db.execute("DELETE FROM projects WHERE check_id = ?", got)
        self.db.execute("DELETE FROM checks WHERE id = ?", got)

    def _file_row(self, item: Item, digest: Digest, results: list[CheckResult], now: str) -> int:
        """The file version's row, made when new (a version stored before loses its untrusted
        reading: `_drop_check`); its `last_run` is set by `finish`."""
        got = self.db.execute(
            "SELECT id FROM files WHERE source = ? AND sha256 = ?", (item.source, digest.sha256)
        ).fetchone()
        if got is not None:
            self.db.execute(
                "UPDATE files SET size = ?, mtime_ns = ?, crc32 = ? WHERE id = ?",
                (digest.size, digest.mtime_ns, digest.crc32, got[0]),
            )
            self._drop_check(int(got[0]))  # a version just made has no reading yet
            return int(got[0])
        saved = _saved(results)
        cur = self.db.execute(
            "INSERT INTO files (source, sha256, size, mtime_ns, crc32, received, saved,"
            " first_run, last_run, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                item.source,
                digest.sha256,
                digest.size,
                digest.mtime_ns,
                digest.crc32,
                _iso(item.received),
                _iso(saved),
                self.run_id,
                self.run_id,
                now,
                now,
            ),
        )
        new_id = int(cur.lastrowid or 0)
        self.db.execute(
            "UPDATE files SET replaced_by = ? WHERE source = ? AND id != ? AND replaced_by IS NULL",
            (new_id, item.source, new_id),
        )
        return new_id

    def start(
        self,
        inbox: Path,
        exclude: tuple[Path | str, ...],
        rules: str,
        *,
        outputs: tuple[Path | None, ...] = (),
        options: tuple[Any, ...] = (),
    ) -> StoreRun:
        """Begin a run: survey the inbox, know each input by its digest, and tell whether
        everything a run's outputs follow from is as the last finished run had it
        (`StoreRun.unchanged`: that run's report)."""
        from .collect import survey

        self.begin(str(Path(inbox).absolute()), rules)
        items, findings = survey(inbox, exclude)
        digests = self.digests(items, later=True)
        parts = (
            Path(inbox).absolute(),
            rules,
            *(Path(p).absolute() if p is not None else None for p in outputs),
            *options,
        )
        fingerprint = inputs_fingerprint(items, digests, findings, *parts)
        unchanged = self.unchanged(fingerprint) if fingerprint is not None else None
        return StoreRun(self, items, findings, digests, fingerprint, unchanged, parts)

    def finish(
        self,
        coll: Collection,
        run: StoreRun,
        *,
        summary: Path | None = None,
        json_path: Path | None = None,
        report: dict[str, Any] | None = None,
    ) -> None:
        """Close the run: which versions were seen, which superseded, the roster as compared,
        each year's projects as counted (`year_projects`: last year's for 同比), and what was
        written (its SHA-256: an unchanged next run may leave it as it is)."""
        self._flush()
        now = _now()
        digests = {i.source: d for i, d in zip(run.items, run.digests, strict=True)}
        # with the digests the workers made (`StoreRun._keep`)
        inputs_sha256 = inputs_fingerprint(run.items, run.digests, run.findings, *run.parts)
        summary = summary.absolute() if summary is not None else None
        json_path = json_path.absolute() if json_path is not None else None
        with self._writing():
            seen = []
            for s in coll.submissions:
                d = digests.get(s.item.source)
                if d is not None:
                    seen.append((s.superseded_by, s.item.source, d.sha256))
            self.db.executemany(
                "UPDATE files SET last_run = ?, last_seen = ?, superseded_by = ?"
                " WHERE source = ? AND sha256 = ?",
                [(self.run_id, now, *row) for row in seen],
            )
            if coll.roster is not None:
                self.db.execute("DELETE FROM roster")
                self.db.executemany(
                    'INSERT INTO roster (run_id, "row", dept_code, dept_name, unit_name,'
                    " project_name, project_code, status, source) VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            self.run_id,
                            r.row.line,
                            *(
                                _text(r.row.values.get(k))
                                for k in (
                                    "dept_code",
                                    "dept_name",
                                    "unit_name",
                                    "project_name",
                                    "project_code",
                                )
                            ),
                            r.status,
                            r.source.item.source if r.source is not None else None,
                        )
                        for r in coll.roster
                    ],
                )
            by_year: dict[str, list[tuple]] = {}
            project_ids = self._project_ids(coll, digests)
            for s in coll.projects:
                row = self._year_row(s, project_ids.get(id(s)))
                if row is not None:
                    by_year.setdefault(row[0], []).append(row)
            for year, rows in by_year.items():
                self.db.execute("DELETE FROM year_projects WHERE year = ?", (year,))
                self.db.executemany(
                    "INSERT INTO year_projects (year, run_id, project_id, source, dept_code,"
                    " dept_name, unit_name, project_name, project_code, budget, spent,"
                    " exec_rate, score, grade, score_complete)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            self.db.execute(
                "UPDATE runs SET finished = ?, inputs = ?, read = ?, reused = ?, projects = ?,"
                " errors = ?, warnings = ?, summary = ?, summary_sha256 = ?, json = ?,"
                " json_sha256 = ?, inputs_sha256 = ?, report = ? WHERE id = ?",
                (
                    now,
                    coll.files,
                    self.read,
                    self.reused,
                    len(coll.projects),
                    coll.errors,
                    coll.warnings,
                    str(summary) if summary else None,
                    file_sha256(summary),
                    str(json_path) if json_path else None,
                    file_sha256(json_path),
                    inputs_sha256,
                    json.dumps(report, ensure_ascii=False) if report is not None else None,
                    self.run_id,
                ),
            )

    def repeat(self, run: StoreRun) -> None:
        """Close a run that found nothing changed (`StoreRun.unchanged`): it read nothing and
        wrote nothing, and says what the last run said; its inputs were seen again."""
        now = _now()
        with self._writing():
            self.db.executemany(
                "UPDATE files SET last_run = ?, last_seen = ? WHERE source = ? AND sha256 = ?",
                [
                    (self.run_id, now, item.source, d.sha256)
                    for item, d in zip(run.items, run.digests, strict=True)
                    if d is not None
                ],
            )
            self.db.execute(
                "UPDATE runs SET (inputs, projects, errors, warnings, summary, summary_sha256,"
                " json, json_sha256, inputs_sha256, report) = (SELECT inputs, projects, errors,"
                " warnings, summary, summary_sha256, json, json_sha256, inputs_sha256, report"
                " FROM runs WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1),"
                " finished = ?, read = 0, reused = 0 WHERE id = ?",
                (now, self.run_id),
            )

    def _project_ids(self, coll: Collection, digests: dict[str, Digest | None]) -> dict[int, int]:
        """Each submission's project row (by `id` of the submission): of the version of its
        file this run had, under these rules, at its place among the file's readings (`part`:
        a Word annex's tables are one file's several projects). One query for the run, not
        one a project."""
        stored = {
            (source, sha256, part): pid
            for source, sha256, part, pid in self.db.execute(
                "SELECT f.source, f.sha256, p.part, p.id FROM projects p"
                " JOIN files f ON f.id = p.file_id JOIN checks c ON c.id = p.check_id"
                " WHERE c.rules = ?",
                (self.rules,),
            )
        }
        out: dict[int, int] = {}
        parts: dict[Item, int] = {}
        for s in coll.submissions:  # an input's submissions in the order of its readings
            part = parts[s.item] = parts.get(s.item, -1) + 1
            d = digests.get(s.item.source)
            if d is not None and (pid := stored.get((s.item.source, d.sha256, part))):
                out[id(s)] = pid
        return out

    def _year_row(self, s: Submission, project_id: int | None) -> tuple | None:
        b = s.brief  # as counted
        if b is None:
            return None
        year = _text(b.year)
        if not year:
            return None
        return (
            year,
            self.run_id,
            project_id,
            s.source,
            *map(_text, (b.dept_code, b.dept_name, b.unit_name, b.project_name, b.project_code)),
            b.budget,
            b.spent,
            b.exec_rate,
            b.total if b.complete else None,
            b.grade if b.complete else None,
            int(b.complete),
        )

    # -- what the summary and the next run read ---------------------------------------------------
    def unchanged(self, inputs_sha256: str) -> dict[str, Any] | None:
        """The last finished run, when it had exactly these inputs (`inputs_sha256`) and what
        it wrote is still there unchanged: its report, to be said again."""
        row = self.db.execute(
            "SELECT inputs_sha256, summary, summary_sha256, json, json_sha256, report FROM runs"
            " WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None or row[5] is None:
            return None
        got, summary, summary_sha, json_path, json_sha, report = row
        if got != inputs_sha256:
            return None
        if summary is None or file_sha256(Path(summary)) != summary_sha:
            return None
        if json_path is not None and file_sha256(Path(json_path)) != json_sha:
            return None
        return json.loads(report)

    def received_times(self) -> dict[tuple[str, str], tuple[datetime, datetime]]:
        """Per project (主管部门代码, 项目名称): when a file carrying it was first and last
        received (its files' own times, every version stored)."""
        self._flush()
        out: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for code, name, first, last in self.db.execute(
            "SELECT p.dept_code, p.project_name, MIN(f.received), MAX(f.received)"
            " FROM projects p JOIN files f ON f.id = p.file_id"
            " WHERE p.dept_code IS NOT NULL AND p.project_name IS NOT NULL"
            " GROUP BY p.dept_code, p.project_name"
        ):
            with contextlib.suppress(TypeError, ValueError):
                out[(code, name)] = (datetime.fromisoformat(first), datetime.fromisoformat(last))
        return out

    def year(self, year: str) -> list[YearProject]:
        """The projects of `year` as the last run that had them counted them."""
        return year_projects(self.db, year)


@dataclass
class StoreRun:
    """One run's inputs as the store knows them (`Store.start`)."""

    store: Store
    items: list[Item]
    findings: list[Finding]
    #: each input's digest; a new file's is made by the worker that reads it (`_keep`)
    digests: list[Digest | None]
    #: SHA-256 of everything the outputs follow from, as known at the start (None when an
    #: input could not be hashed, or was not hashed yet: a new file)
    fingerprint: str | None
    #: the last run's report when nothing changed since and its outputs are as it wrote them
    unchanged: dict[str, Any] | None
    #: what else the fingerprint is made of (inbox, rules, outputs, options): it is made
    #: again at `Store.finish`, with the digests the workers made
    parts: tuple[Any, ...]

    def hooks(self) -> dict[str, Any]:
        """`collect.collect`'s arguments: the surveyed inputs, readings kept, readings to keep
        (packed by the workers for the store: `pack`; hashed by them: `digest`)."""
        return {
            "found": (self.items, self.findings),
            "reuse": self._reuse,
            "keep": self._keep,
            "pack": (pack, unpack),
            "digest": file_digest,
        }

    def _reuse(self, index: int, item: Item) -> tuple[list[CheckResult], bytes] | None:
        return self.store.cached(item, self.digests[index])

    def _keep(
        self,
        index: int,
        item: Item,
        results: list[CheckResult],
        packed: Any = None,
        *,
        digest: Digest | None,
    ) -> None:
        """Store a reading of a file under the digest its worker made of the very bytes it
        read (`file_digest`): one made here before the pool may be of other bytes, if the file
        changed since. None (the worker could not vouch for the bytes it read, or read none)
        keeps no reading: the file is read again next run. A .zip member's is made here.

        `digest` is required: `hooks` always has the workers make one, and a call without it
        would keep no file's reading."""
        if item.member is None:
            self.digests[index] = digest
        self.store.add(item, self.digests[index], results, packed)


@dataclass(frozen=True)
class YearProject:
    """A project of a year as counted (`year_projects`): what 同比 compares."""

    source: str
    dept_code: str | None
    dept_name: str | None
    unit_name: str | None
    project_name: str | None
    project_code: str | None
    budget: float | None
    spent: float | None
    exec_rate: float | None
    score: float | None
    grade: str | None
    complete: bool


def year_projects(db: sqlite3.Connection, year: str) -> list[YearProject]:
    rows = db.execute(
        "SELECT source, dept_code, dept_name, unit_name, project_name, project_code, budget,"
        " spent, exec_rate, score, grade, score_complete FROM year_projects WHERE year = ?"
        " ORDER BY dept_code, project_name, source",
        (year,),
    ).fetchall()
    return [YearProject(*r[:-1], bool(r[-1])) for r in rows]


def open_other(path: Path | str) -> sqlite3.Connection:
    """Another store, read only (`--compare-with`): last year's figures come from it.

    Raises:
        StoreError: not a store of this tool, or not readable.
    """
    p = Path(path)
    if not p.is_file():
        raise StoreError(p, Text("找不到该汇总库文件", "no such store file"))
    try:
        db = sqlite3.connect(f"{p.absolute().as_uri()}?mode=ro", uri=True)
        _check_ours(db, p)
    except sqlite3.Error as exc:
        raise StoreError(p, _problem(exc)) from None
    return db


def open_store(path: Path | str, *, on_wait: Callable[[int | None], None] | None = None) -> Store:
    """Open (or create) the store at `path` for one run, waiting while another run has it.

    Two `collect` runs on one store never interleave: the second waits for the first to end
    (`on_wait` is told once, with the other process's id when known), then reads what the
    first stored.

    Raises:
        StoreError: the folder is missing or not writable, or the file is not a store of
            this tool (another SQLite file, a damaged one, one of a newer version).
    """
    p = Path(path)
    if not p.parent.is_dir():
        raise StoreError(p, Text("所在文件夹不存在", "its folder does not exist"))
    lock_path = p.with_name(p.name + ".lock")
    try:
        lock = open(lock_path, "a+b")  # noqa: SIM115 - held for the run, closed by Store.close
    except OSError as exc:
        raise StoreError(
            p,
            Text(f"无法创建锁文件：{exc.strerror}", f"cannot create its lock file: {exc.strerror}"),
        ) from None
    _lock(lock, on_wait)
    try:
        if p.exists() and p.stat().st_size and not _is_sqlite(p):
            raise StoreError(p, _not_ours())
        db = sqlite3.connect(p, timeout=60, isolation_level=None, factory=_Db)
        db.isolation_level = ""  # `with db:` makes each batch one transaction
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")
        existing = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        if existing:
            _check_ours(db, p)
        with db:
            db.executescript(SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('application', ?), ('schema_version', ?)",
                (APPLICATION, str(SCHEMA_VERSION)),
            )
    except sqlite3.Error as exc:
        lock.close()
        raise StoreError(p, _problem(exc)) from None
    except BaseException:
        lock.close()
        raise
    return Store(p, db, lock)


def _check_ours(db: sqlite3.Connection, p: Path) -> None:
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        raise StoreError(p, _not_ours()) from None
    if meta.get("application") != APPLICATION:
        raise StoreError(p, _not_ours())
    version = int(meta.get("schema_version", "0") or 0)
    if version > SCHEMA_VERSION:
        raise StoreError(
            p,
            Text(
                f"由更新版本的 perfeval-xl 创建（库结构第 {version} 版），请升级本工具",
                f"made by a newer perfeval-xl (schema {version}): upgrade this tool",
            ),
        )


def _is_sqlite(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(16) == b"SQLite format 3\0"


def _not_ours() -> Text:
    return Text(
        "不是 perfeval-xl 的汇总库（或已损坏）；请用 --store 另指定文件，或 --no-store",
        "not a perfeval-xl store (or damaged); choose another file with --store, or --no-store",
    )


#: What SQLite says when it cannot write: the disk or the folder, not the store, is at fault.
_WRITE_PROBLEMS = ("disk i/o error", "disk is full", "readonly", "read-only", "unable to open")


def _problem(exc: BaseException) -> Text:
    """The clerk's words for an SQLite error: a write that failed, or a damaged file."""
    if isinstance(exc, sqlite3.OperationalError) and any(
        w in str(exc).lower() for w in _WRITE_PROBLEMS
    ):
        return Text(
            f"无法写入汇总库（{exc}）：磁盘已满或没有写权限？汇总表未写出；"
            "腾出空间后重新运行，或用 --no-store",
            f"cannot write the store ({exc}): is the disk full or read-only? No summary was "
            "written; make room and run again, or use --no-store",
        )
    return _damaged(exc)


def _damaged(exc: BaseException) -> Text:
    return Text(
        f"无法打开汇总库（{exc}）；文件可能已损坏：可改名保留后重新运行（将重新读取全部文件）",
        f"cannot open the store ({exc}); it may be damaged: rename it and run again "
        "(every file is then read again)",
    )


def _lock(fh: IO[bytes], on_wait: Callable[[int | None], None] | None) -> None:
    """Take the lock file's exclusive lock, waiting for another run to let go of it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        told = False
        while True:
            try:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
                break
            except OSError:
                if not told and on_wait is not None:
                    on_wait(_holder(fh))
                    told = True
                time.sleep(0.5)
    else:
        import fcntl

        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(_holder(fh))
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()).encode())
    fh.flush()


def _holder(fh: IO[bytes]) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        fh.seek(0)
        return int(fh.read(20) or b"0") or None
    return None


def _directory(path: str) -> dict[str, zipfile.ZipInfo] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return {i.filename: i for i in archive.infolist()}
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


#: The relational rows of one reading, without the ids the store gives them: its project row
#: (None when unreadable), then its fields, funds, indicators and findings rows.
Rows = tuple[tuple | None, list[tuple], list[tuple], list[tuple], list[tuple]]


def pack(results: list[CheckResult]) -> tuple[bytes, list[Rows]]:
    """What a worker sends back when a store keeps its readings: the readings pickled (as the
    store keeps them; the parent unpickles them once, as it would the readings themselves)
    and their relational rows, so that the parent only inserts (measured: pickling and
    building the rows cost 1.1 ms a file in the parent, which serves both workers)."""
    return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL), [rows(r) for r in results]


def unpack(packed: tuple[bytes, list[Rows]]) -> list[CheckResult]:
    """The readings a worker packed (`pack`)."""
    return pickle.loads(packed[0])


def rows(result: CheckResult) -> Rows:
    """The relational rows of one reading, for people and for queries; `collect` itself uses
    `checks.results`."""
    rec, score = result.record, result.score
    findings = [
        (f.code, f.severity, f.sheet, f.cell, f.field, f.message.zh, f.message.en)
        for f in result.findings
    ]
    if rec is None:
        return None, [], [], [], findings
    complete = score is not None and score.complete
    funds = bool(rec.spec.fund_rows)
    project = (
        result.path,
        rec.spec.id,
        rec.spec.version,
        _text(rec.value("year")),
        *(
            _text(rec.value(k))
            for k in ("dept_code", "dept_name", "unit_name", "project_name", "project_code")
        ),
        rec.fund("total", "budget") if funds else None,
        rec.fund("total", "spent") if funds else None,
        rec.exec_rate if funds else None,
        score.exec_score if score is not None else None,
        score.total if score is not None and complete else None,
        score.reported_total if score is not None else None,
        int(complete),
        score.grade if score is not None and complete else None,
        len(rec.indicators),
        result.errors,
        result.warnings,
    )
    fields = [(f.name, _cell(f.value), _cell(f.raw), f.sheet, f.cell) for f in rec.fields.values()]
    amounts = [
        (row.key, col.key, amount)
        for row in rec.spec.fund_rows
        for col in rec.spec.amount_columns
        if (amount := rec.fund(row.key, col.key)) is not None
    ]
    computed = {s.index: s.computed for s in score.indicators} if score is not None else {}
    known = ("level1", "level2", "name", "target", "actual", "status", "weight", "score")
    indicators = []
    for ind in rec.indicators:
        got = ind.fields
        indicators.append(
            (
                ind.index + 1,
                *(_cell(f.value) if (f := got.get(k)) is not None else None for k in known),
                computed.get(ind.index),
                _cell(f.value) if (f := got.get("reason")) is not None else None,
                _other(got, (*known, "reason")),
            )
        )
    return project, fields, amounts, indicators, findings


def _largest_id(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])


class _Batch:
    """The rows of many readings (`rows`), under their check, file and project ids, inserted
    one table at a time (`insert`)."""

    def __init__(self) -> None:
        self.projects: list[tuple] = []
        self.fields: list[tuple] = []
        self.funds: list[tuple] = []
        self.indicators: list[tuple] = []
        self.findings: list[tuple] = []

    def add(self, check_id: int, file_id: int, part: int, got: Rows, project_id: int) -> None:
        """One reading's rows; `project_id` is its project's when it has one (a project row)."""
        project, fields, amounts, indicators, findings = got
        pid = None
        if project is not None:
            pid = project_id
            self.projects.append((pid, check_id, file_id, part, *project))
            self.fields.extend([(pid, *r) for r in fields])
            self.funds.extend([(pid, *r) for r in amounts])
            self.indicators.extend([(pid, *r) for r in indicators])
        self.findings.extend([(check_id, pid, *r) for r in findings])

    def insert(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT INTO projects (id, check_id, file_id, part, source, form, form_version,"
            " year, dept_code, dept_name, unit_name, project_name, project_code, budget, spent,"
            " exec_rate, exec_score, score, score_reported, score_complete, grade, indicators,"
            " errors, warnings) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            self.projects,
        )
        db.executemany(
            "INSERT INTO fields (project_id, name, value, raw, sheet, cell) VALUES (?,?,?,?,?,?)",
            self.fields,
        )
        db.executemany(
            'INSERT INTO funds (project_id, source, "column", amount) VALUES (?,?,?,?)',
            self.funds,
        )
        db.executemany(
            'INSERT INTO indicators (project_id, "row", level1, level2, name, target, actual,'
            " status, weight, score, score_computed, reason, other)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            self.indicators,
        )
        db.executemany(
            "INSERT INTO findings (check_id, project_id, code, severity, sheet, cell, field,"
            " message_zh, message_en) VALUES (?,?,?,?,?,?,?,?,?)",
            self.findings,
        )


def _saved(results: list[CheckResult]) -> datetime | None:
    """The first record's saved time; of a record on disk, from its brief (not read back)."""
    for r in results:
        if isinstance(r, SpilledResult):
            return r.brief.saved
        if r.record is not None:
            return r.record.saved
    return None


def _other(fields: dict[str, Any], known: Iterable[str]) -> str | None:
    rest = {k: _cell(f.value) for k, f in fields.items() if k not in known}
    return json.dumps(rest, ensure_ascii=False) if rest else None


def _cell(value: Any) -> Any:
    """A value as SQLite keeps it: numbers and text as they are, anything else as text."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when is not None else None


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def file_sha256(path: Path | None) -> str | None:
    """SHA-256 of a file's bytes, or None without a path or when it cannot be read."""
    if path is None:
        return None
    try:
        return _hash_file(str(path))
    except OSError:
        return None


def inputs_fingerprint(
    items: Sequence[Item],
    digests: Sequence[Digest | None],
    findings: Sequence[Any],
    *parts: Any,
) -> str | None:
    """SHA-256 of everything a run's outputs follow from: every input (name, received time,
    bytes), the inbox's own findings, and `parts` (rules, roster, options). None when an input
    could not be hashed: such a run is never taken as unchanged."""
    h = hashlib.sha256()
    for item, digest in zip(items, digests, strict=True):
        if digest is None:
            return None
        h.update(
            json.dumps(
                [item.source, item.member, item.received.isoformat(), digest.sha256],
                ensure_ascii=False,
            ).encode("utf-8", "surrogateescape")
        )
    for f in findings:
        h.update(
            json.dumps([f.code, f.file, f.message.zh], ensure_ascii=False).encode(
                "utf-8", "surrogateescape"
            )
        )
    h.update(
        json.dumps([str(p) for p in parts], ensure_ascii=False).encode("utf-8", "surrogateescape")
    )
    return h.hexdigest()
