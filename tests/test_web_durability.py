"""Nothing acknowledged is lost when `perfeval-xl serve` is killed (docs/security.md: an upload
is acknowledged only once its file is on disk and its ledger row committed).

The real server runs as its own process group; a few uploads are made one by one, then several
at once, and the whole group (server and its worker processes) is killed with SIGKILL as soon
as the first of those answers, the others in flight. The server is started again on the same
workspace, and every upload that was answered must be there: its file in the inbox with the
very bytes sent, its ledger row, its status on the unit's page.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import HEADER, filled

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

UNITS = 8  # 单位0 … 单位7, one project each
CONCURRENT = range(3, UNITS)  # the units uploading at once when the server is killed


def _roster(path: Path) -> Path:
    lines = ["dept_code,dept_name,unit_name,project_name,project_code,year,fund_fiscal_budget"]
    lines += [
        f"{HEADER['dept_code']},{HEADER['dept_name']},单位{i},项目{i},P-{i},2022,100"
        for i in range(UNITS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _workbook(tmp_path: Path, i: int, tag: str, **over) -> bytes:
    folder = tmp_path / f"wb-{i}-{tag}"
    folder.mkdir()
    return filled(
        folder, unit_name=f"单位{i}", project_name=f"项目{i}", project_code=f"P-{i}", **over
    ).read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: `perfeval-xl serve` that kills itself (SIGKILL to its group) when it is about to commit an
#: upload's ledger rows: its file is already in the inbox.
DIES_BEFORE_THE_LEDGER = """
import os, signal, sys
import perfeval_xl.web.workspace as workspace
workspace.Workspace.record = lambda self, rows: os.killpg(0, signal.SIGKILL)
from perfeval_xl.cli import main
main()
"""


class Server:
    """`python -m perfeval_xl serve` in a process group of its own (`code`: the command run by
    `python -c code serve …` instead)."""

    def __init__(self, ws: Path, roster: Path, cwd: Path, code: str | None = None) -> None:
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = cwd / f"serve-{port}.log"
        env = {k: v for k, v in os.environ.items() if k != "PERFEVAL_XL_FORMS"}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *(("-c", code) if code else ("-m", "perfeval_xl")), "serve",
                 str(ws), "--roster", str(roster), "--port", str(port)],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(self.base + "/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 30 s"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the server and its worker processes at once."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc.wait()


def _links(ws: Path) -> dict[str, str]:
    """实施单位 -> /u/<token> (the token of links.csv, whatever address it was written for)."""
    text = (ws / "links.csv").read_text(encoding="utf-8-sig")
    return {
        r["实施单位"]: "/u/" + r["link"].rstrip("/").rsplit("/", 1)[1]
        for r in csv.DictReader(io.StringIO(text))
    }


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def _post(client, link: str, csrf: str, data: bytes):
    return client.post(
        f"{link}/upload",
        data={"csrf": csrf},
        files={"file": ("自评表.xlsx", data, "application/octet-stream")},
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inbox(ws: Path) -> set[str]:
    return {p.relative_to(ws).as_posix() for p in (ws / "inbox").rglob("*") if p.is_file()}


def _status(page: str, project: str) -> str:
    """The status badge of a project's row on a unit's page."""
    row = re.search(rf"<td>{project}</td>.*?</tr>", page, re.S).group(0)
    return re.search(r'<span class="badge [a-z]+">([^<]*)</span>', row).group(1)


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(tmp_path: Path) -> None:
    roster = _roster(tmp_path / "名册.csv")
    ws = tmp_path / "ws"
    books = {
        "0-clean": (0, _workbook(tmp_path, 0, "clean")),
        "0-over": (0, _workbook(tmp_path, 0, "over", fund_fiscal_spent=120)),  # errors
        "1-clean": (1, _workbook(tmp_path, 1, "clean")),
        **{f"{i}-clean": (i, _workbook(tmp_path, i, "clean")) for i in CONCURRENT},
    }
    sent = {_sha(data) for _, data in books.values()}
    #: what the server answered: (unit, bytes, HTTP status)
    answered: list[tuple[int, bytes, int]] = []

    server = Server(ws, roster, tmp_path)
    try:
        links = _links(ws)
        with httpx.Client(base_url=server.base, timeout=60) as client:
            # one by one: 单位0 passes, 单位1 passes, 单位2 sends 单位1's (refused), then 单位0
            # sends a version with errors (its latest)
            for unit, key in ((0, "0-clean"), (1, "1-clean"), (2, "1-clean"), (0, "0-over")):
                link = links[f"单位{unit}"]
                data = books[key][1]
                got = _post(client, link, _csrf(client.get(link).text), data)
                assert got.status_code == (422 if unit == 2 else 200), got.text
                answered.append((unit, data, got.status_code))
            tokens = {i: _csrf(client.get(links[f"单位{i}"]).text) for i in CONCURRENT}

        # several at once; the server group is killed as soon as the first answers
        first = threading.Event()
        start = threading.Barrier(len(CONCURRENT))
        lock = threading.Lock()

        def upload(i: int) -> None:
            data = books[f"{i}-clean"][1]
            with httpx.Client(base_url=server.base, timeout=30) as c:
                start.wait()
                try:
                    got = _post(c, links[f"单位{i}"], tokens[i], data)
                except httpx.TransportError:
                    return  # killed before it answered: not acknowledged
                finally:
                    first.set()
                with lock:
                    answered.append((i, data, got.status_code))

        threads = [threading.Thread(target=upload, args=(i,)) for i in CONCURRENT]
        for t in threads:
            t.start()
        assert first.wait(20)
        server.kill()
        for t in threads:
            t.join(30)
            assert not t.is_alive()
    finally:
        server.kill()

    in_flight = [a for a in answered if a[0] in CONCURRENT]
    assert len(in_flight) < len(CONCURRENT), "nothing was in flight when the server was killed"
    assert all(status == 200 for _, _, status in in_flight)

    # the killed server's lock is gone with it: a new one starts on the same workspace
    server = Server(ws, roster, tmp_path)
    try:
        assert not list((ws / "tmp").iterdir())  # half-received uploads removed at start

        db = sqlite3.connect(ws / "uploads.sqlite")
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = db.execute(
                "SELECT unit_name, accepted, sha256, stored_path, errors FROM uploads ORDER BY id"
            ).fetchall()
        finally:
            db.close()

        # every answered upload has its row; every accepted one its file, with the bytes sent
        for unit, data, status in answered:
            mine = [r for r in rows if r[0] == f"单位{unit}" and r[2] == _sha(data)]
            assert mine, (unit, status)
            (_, accepted, sha, stored, _), *_ = mine
            assert accepted == (status == 200)
            if status == 200:
                kept = ws / stored
                assert kept.parent == ws / "inbox" / HEADER["dept_code"] / f"单位{unit}"
                assert _sha(kept.read_bytes()) == sha == _sha(data)
            else:
                assert stored is None

        # nothing half-written in the inbox: each file whole (bytes of an upload sent) and in
        # the ledger; each ledger row's file there
        files = _inbox(ws)
        for name in files:
            assert _sha((ws / name).read_bytes()) in sent, name
        stored = {r[3] for r in rows if r[3] is not None}
        assert files == stored

        # each unit's page shows its latest answered upload's status
        with httpx.Client(base_url=server.base, timeout=30) as client:
            latest: dict[int, bytes] = {}
            for unit, data, status in answered:
                if status == 200:
                    latest[unit] = data
            assert set(latest) >= {0, 1}
            for unit, data in latest.items():
                page = client.get(links[f"单位{unit}"]).text
                want = "通过" if data != books["0-over"][1] else "已报送，有"
                assert _status(page, f"项目{unit}").startswith(want), unit
            page = client.get(links["单位2"]).text
            assert _status(page, "项目2") == "未报送"

            # and it takes uploads again: a unit the kill cut off sends once more
            i = max(CONCURRENT)
            link = links[f"单位{i}"]
            got = _post(client, link, _csrf(client.get(link).text), books[f"{i}-clean"][1])
            assert got.status_code == 200 and _status(got.text, f"项目{i}") == "通过"
    finally:
        server.stop()


def test_a_kill_between_the_inbox_and_the_ledger_leaves_no_unnamed_file(tmp_path: Path) -> None:
    roster = _roster(tmp_path / "名册.csv")
    ws = tmp_path / "ws"
    data = _workbook(tmp_path, 0, "clean")
    server = Server(ws, roster, tmp_path, DIES_BEFORE_THE_LEDGER)
    try:
        link = _links(ws)["单位0"]
        with httpx.Client(base_url=server.base, timeout=30) as client:
            csrf = _csrf(client.get(link).text)
            with pytest.raises(httpx.TransportError):  # never acknowledged
                _post(client, link, csrf, data)
        server.proc.wait(10)
    finally:
        server.kill()
    server = Server(ws, roster, tmp_path)
    try:
        db = sqlite3.connect(ws / "uploads.sqlite")
        try:
            stored = {r[0] for r in db.execute("SELECT stored_path FROM uploads") if r[0]}
        finally:
            db.close()
        assert _inbox(ws) == stored
        # kept, out of the inbox, where the office can see it: the unit had no answer
        kept = [p for p in (ws / "unacknowledged").rglob("*") if p.is_file()]
        assert [_sha(p.read_bytes()) for p in kept] == [_sha(data)]
        assert "未确认" in server.log.read_text(encoding="utf-8", errors="replace")
    finally:
        server.stop()


def test_a_file_the_office_put_in_the_inbox_is_never_moved(tmp_path: Path) -> None:
    """Only uploads named as the server names them are reconciled with the ledger: a workbook
    the clerk copied into WORKSPACE/inbox (an e-mailed one, for `collect`) stays where it is."""
    from perfeval_xl.web.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.lock()
    ws.close()
    mine = ws.inbox / "109101" / "邮件收到的.xlsx"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the clerk's own file")
    orphan = ws.inbox / "109101" / "单位0" / "20261130-101010-123456-0123456789ab.xlsx"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"saved, never acknowledged")
    ws.lock()
    try:
        assert mine.read_bytes() == b"the clerk's own file"
        assert not orphan.exists()
        assert [p.name for p in ws.unacknowledged] == [orphan.name]
        assert ws.unacknowledged[0].read_bytes() == b"saved, never acknowledged"
    finally:
        ws.close()
