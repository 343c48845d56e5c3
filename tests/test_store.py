"""The store under `collect`: a real SQLite file beside the summary, read by the next run.

Everything here runs the installed command on real workbooks and opens the store with
`sqlite3`: what is reused must give the very summary and JSON a fresh reading gives, a store
that was altered or comes from elsewhere must never be trusted, and a killed run must leave
the store consistent and the previous summary as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from annex_corpus import seed_annex
from helpers import coordinate, run_cli, staged

from perfeval_xl.intake.safety import MAX_FILE_BYTES, inspect_file
from perfeval_xl.office.collect import Item, _digested, check_inputs
from perfeval_xl.office.store import Digest, file_digest, open_store


def _inbox(root: Path, n: int = 3, **over) -> Path:
    inbox = root / "inbox"
    for i in range(n):
        staged(inbox / f"单位{i}.xlsx", **over)
    return inbox


def _collect(tmp: Path, inbox: Path, *extra: str, env: dict | None = None):
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    return run_cli(
        "collect", str(inbox), "-o", str(out / "汇总.xlsx"), "-q", *extra, cwd=tmp, env=env
    )


def _db(tmp: Path, name: str = "汇总.sqlite") -> sqlite3.Connection:
    return sqlite3.connect(tmp / "out" / name)


def _one(db: sqlite3.Connection, sql: str, *args) -> object:
    return db.execute(sql, args).fetchone()[0]


def _sheets(path: Path) -> dict[str, list[tuple]]:
    """Every sheet's values; the title line (it says when the summary was made) left out."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        out[ws.title] = rows[1:] if ws.title == "部门汇总" else rows
    return out


def _json(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("generated", None)
    return doc


def test_the_store_lies_beside_the_summary_and_holds_what_was_read(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 3, fund_fiscal_spent=120)  # E301 in each
    got = _collect(tmp_path, inbox)
    assert got.returncode == 1, got.stderr
    assert "本次读取 3 个文件，沿用上次读取结果 0 个" in got.stdout
    db = _db(tmp_path)
    assert _one(db, "SELECT COUNT(*) FROM runs WHERE finished IS NOT NULL") == 1
    assert _one(db, "SELECT COUNT(*) FROM files") == 3
    assert _one(db, "SELECT COUNT(*) FROM projects") == 3
    assert _one(db, "SELECT COUNT(*) FROM findings WHERE code = 'E301'") == 6  # 2 rows each
    assert _one(db, "SELECT SUM(indicators) FROM projects") == _one(
        db, "SELECT COUNT(*) FROM indicators"
    )
    assert _one(db, "SELECT budget FROM projects WHERE source = '单位0.xlsx'") == 100
    assert _one(db, "SELECT spent FROM projects WHERE source = '单位0.xlsx'") == 120
    assert sorted(r[0] for r in db.execute("SELECT source FROM files")) == [
        "单位0.xlsx",
        "单位1.xlsx",
        "单位2.xlsx",
    ]
    # the inbox holds nothing of ours
    assert sorted(p.name for p in inbox.iterdir()) == ["单位0.xlsx", "单位1.xlsx", "单位2.xlsx"]


def test_an_unchanged_inbox_is_not_read_again_and_the_summary_is_left_as_it_is(
    tmp_path: Path,
) -> None:
    inbox = _inbox(tmp_path)
    first = _collect(tmp_path, inbox)
    assert first.returncode == 0, first.stderr
    summary = tmp_path / "out" / "汇总.xlsx"
    before = summary.read_bytes(), summary.stat().st_mtime_ns
    second = _collect(tmp_path, inbox)
    assert second.returncode == 0, second.stderr
    assert "未重写" in second.stdout
    assert (summary.read_bytes(), summary.stat().st_mtime_ns) == before
    # the run is recorded as finished, having read nothing, and its inputs as seen again
    db = _db(tmp_path)
    runs = db.execute("SELECT finished IS NOT NULL, read, inputs, report FROM runs").fetchall()
    assert [r[:3] for r in runs] == [(1, 3, 3), (1, 0, 3)] and runs[0][3] == runs[1][3]
    assert _one(db, "SELECT COUNT(*) FROM files WHERE last_run = 2") == 3
    db.close()
    # the same report as the first run, word for word, then the note
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]
    # a summary the clerk changed or deleted is written again
    summary.unlink()
    third = _collect(tmp_path, inbox)
    assert third.returncode == 0 and summary.exists()
    assert "未重写" not in third.stdout
    assert "沿用上次读取结果 3 个" in third.stdout


def test_reused_readings_give_the_summary_and_json_of_a_fresh_reading(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 4, fund_fiscal_spent=120)
    staged(inbox / "坏.xlsx", year="二〇二二")
    (inbox / "空.xlsx").write_bytes(b"")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    a = run_cli(
        "collect", str(inbox), "-o", str(fresh / "s.xlsx"), "--json", str(fresh / "s.json"),
        "--no-store", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert not (fresh / "s.sqlite").exists()
    _collect(tmp_path, inbox)
    # a new file makes the run incremental: 6 readings from the store, 1 now
    staged(inbox / "新.xlsx")
    b = _collect(tmp_path, inbox, "--json", str(tmp_path / "out" / "s.json"))
    assert "本次读取 1 个文件，沿用上次读取结果 6 个" in b.stdout
    c = run_cli(
        "collect", str(inbox), "-o", str(fresh / "s.xlsx"), "--json", str(fresh / "s.json"),
        "--no-store", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert a.returncode == b.returncode == c.returncode == 1
    assert _sheets(tmp_path / "out" / "汇总.xlsx") == _sheets(fresh / "s.xlsx")
    assert _json(tmp_path / "out" / "s.json") == _json(fresh / "s.json")


def test_every_version_is_kept_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    _collect(tmp_path, inbox)
    path = inbox / "单位1.xlsx"
    path.unlink()
    staged(path, fund_fiscal_spent=99)
    got = _collect(tmp_path, inbox)
    assert "本次读取 1 个文件，沿用上次读取结果 2 个" in got.stdout
    db = _db(tmp_path)
    versions = db.execute(
        "SELECT id, replaced_by FROM files WHERE source = '单位1.xlsx' ORDER BY id"
    ).fetchall()
    assert len(versions) == 2
    assert versions[0][1] == versions[1][0] and versions[1][1] is None
    spent = db.execute(
        "SELECT p.spent FROM projects p JOIN files f ON f.id = p.file_id"
        " WHERE f.source = '单位1.xlsx' ORDER BY f.id"
    ).fetchall()
    assert [s[0] for s in spent] == [95, 99]
    wb = openpyxl.load_workbook(tmp_path / "out" / "汇总.xlsx")
    ws = wb["项目明细"]
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, r, strict=False)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert {r["来源文件"]: r["执行数合计"] for r in rows if r["来源文件"]}["单位1.xlsx"] == 99


def test_new_files_are_hashed_by_the_workers_that_read_them(tmp_path: Path) -> None:
    """A file of a source never stored is hashed in the worker that reads it, not before the
    pool: what is stored is still the SHA-256 of its bytes, a file that cannot be hashed has
    no version, and the next run knows every file and the inbox as unchanged."""
    inbox = _inbox(tmp_path, 9)  # past POOL_MIN_FILES: the pool's workers read them
    (inbox / "截断.xlsx").write_bytes((inbox / "单位0.xlsx").read_bytes()[:3000])
    with open(inbox / "过大.xlsx", "wb") as fh:  # refused by its size: never hashed
        fh.truncate(MAX_FILE_BYTES + 1)
    # refused by its name, unread by the gate: hashed apart
    (inbox / "~$单位1.xlsx").write_bytes(b"\x05locked by Excel")
    annex = seed_annex()  # a Word annex: read by its own gate
    (inbox / annex.name).write_bytes(annex.data)
    first = _collect(tmp_path, inbox, "--workers", "2")
    assert first.returncode == 1, first.stderr
    assert "本次读取 13 个文件，沿用上次读取结果 0 个" in first.stdout
    with _db(tmp_path) as db:
        stored = dict(db.execute("SELECT source, sha256 FROM files").fetchall())
        inputs = _one(db, "SELECT inputs_sha256 FROM runs")
    assert stored == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in inbox.iterdir()
        if p.name != "过大.xlsx"
    }
    assert inputs is None  # an input not hashed: such a run is never taken as unchanged
    (inbox / "过大.xlsx").unlink()
    second = _collect(tmp_path, inbox, "--workers", "2")
    assert "沿用上次读取结果 12 个" in second.stdout, second.stdout
    assert re.fullmatch(
        r"[0-9a-f]{64}", str(_one(_db(tmp_path), "SELECT MAX(inputs_sha256) FROM runs"))
    )
    third = _collect(tmp_path, inbox, "--workers", "2")
    assert "未重写" in third.stdout, third.stdout


def test_a_read_file_is_hashed_from_the_bytes_the_gate_read(tmp_path: Path) -> None:
    """The worker's digest is of the bytes the gate judged (the file is not opened again): a
    file changed since keeps the identity of what was checked; one whose size changed while
    it was read has none (it is read again next run); a recent time is not kept (racily
    clean), an old one is."""
    path = tmp_path / "单位.xlsx"
    path.write_bytes(b"what was read")
    old_ns = 1_600_000_000_000_000_000
    os.utime(path, ns=(old_ns, old_ns))
    got: list[tuple] = []
    data, _ = inspect_file(path, seen=lambda *read: got.append(read))
    assert data is None and len(got) == 1  # told of the bytes, whatever the gate decides
    st, started, read = got[0]
    assert read == b"what was read" and st.st_mtime_ns == old_ns
    path.write_bytes(b"changed after")
    item = Item(path.name, str(path), None, datetime.now())
    made = file_digest(item, got[0])
    assert made == Digest(hashlib.sha256(b"what was read").hexdigest(), 13, old_ns, None)
    assert file_digest(item).sha256 == hashlib.sha256(b"changed after").hexdigest()
    assert file_digest(item, (st, started, b"what was read, and more")) is None
    recent = os.stat(path)  # written just now: its time is within the clock's granularity
    assert file_digest(item, (recent, time.time_ns(), b"changed after")).mtime_ns is None
    # what a worker's check read reaches the digest: a workbook's and a Word annex's bytes
    staged(tmp_path / "表.xlsx")
    annex = seed_annex()
    (tmp_path / annex.name).write_bytes(annex.data)
    for name in ("表.xlsx", annex.name):
        item = Item(name, str(tmp_path / name), None, datetime.now())
        read, results = _digested(lambda _, read: read, check_inputs, item)
        assert read[2] == (tmp_path / name).read_bytes()
        assert all(r.record is not None for r in results)


def test_a_file_read_is_kept_only_under_the_digest_of_the_bytes_read(tmp_path: Path) -> None:
    """A changed file of a known place is hashed before the pool (to look its reading up);
    the reading is kept under what its worker made of the bytes it read, and under nothing
    when the worker could not vouch for them (the file changed as it was read)."""
    inbox = _inbox(tmp_path, 2)
    _collect(tmp_path, inbox)
    with open(inbox / "单位0.xlsx", "ab") as fh:
        fh.write(b"\0")  # another size: hashed again before the pool
    with open_store(tmp_path / "out" / "汇总.sqlite") as store:
        run = store.start(inbox, (), "rules")
        at = next(i for i, item in enumerate(run.items) if item.source == "单位0.xlsx")
        before = run.digests[at]
        assert before is not None
        run._keep(at, run.items[at], [], digest=None)
        assert run.digests[at] is None and store.read == 1 and not store._pending
        other = 1 - at
        made = Digest("0" * 64, 1, None, None)
        run._keep(other, run.items[other], [], digest=made)
        assert run.digests[other] is made


def test_same_bytes_touched_are_hashed_not_read(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    _collect(tmp_path, inbox)
    os.utime(inbox / "单位0.xlsx", ns=(1_600_000_000_000_000_000,) * 2)
    got = _collect(tmp_path, inbox)
    # its received time changed, so the summary is written again, but the file is not read
    assert "未重写" not in got.stdout
    assert "本次读取 0 个文件，沿用上次读取结果 3 个" in got.stdout


def test_a_reading_altered_in_the_store_is_never_trusted(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    _collect(tmp_path, inbox)
    db = _db(tmp_path)
    with db:
        # one reading's bytes changed, one made text, one's HMAC taken from another
        ids = [r[0] for r in db.execute("SELECT id FROM checks ORDER BY id")]
        db.execute(
            "UPDATE checks SET results = CAST(results || x'00' AS BLOB) WHERE id = ?", (ids[0],)
        )
        db.execute("UPDATE checks SET results = results || x'00' WHERE id = ?", (ids[1],))
        db.execute(
            "UPDATE checks SET mac = (SELECT mac FROM checks WHERE id = ?) WHERE id = ?",
            (ids[0], ids[2]),
        )
        db.execute("UPDATE runs SET inputs_sha256 = NULL")  # no unchanged shortcut
    db.close()
    got = _collect(tmp_path, inbox)
    assert got.returncode == 0, got.stderr
    assert "本次读取 3 个文件，沿用上次读取结果 0 个" in got.stdout


def test_a_store_from_another_computer_is_read_again(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    _collect(tmp_path, inbox)
    (tmp_path / "out" / "汇总.xlsx").unlink()
    other = {"PERFEVAL_XL_HOME": str(tmp_path / "another-pc")}
    got = _collect(tmp_path, inbox, env=other)
    assert got.returncode == 0, got.stderr
    assert "本次读取 3 个文件，沿用上次读取结果 0 个" in got.stdout


def test_other_rules_are_other_readings(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    _collect(tmp_path, inbox)
    key = tmp_path / "office.key"
    key.write_text(os.urandom(32).hex())
    got = _collect(tmp_path, inbox, "--key", str(key))
    assert "本次读取 3 个文件，沿用上次读取结果 0 个" in got.stdout
    again = _collect(tmp_path, inbox, "--key", str(key))
    assert "未重写" in again.stdout


def test_members_of_an_attachment_are_known_by_their_directory(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 2)
    with zipfile.ZipFile(inbox / "附件.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(2):
            z.write(staged(tmp_path / "z" / f"成员{i}.xlsx"), f"成员{i}.xlsx")
    _collect(tmp_path, inbox)
    with zipfile.ZipFile(inbox / "附件.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(tmp_path / "z" / "成员0.xlsx", "成员0.xlsx")
        z.write(staged(tmp_path / "z2" / "成员1.xlsx", fund_fiscal_spent=50), "成员1.xlsx")
    got = _collect(tmp_path, inbox)
    assert "本次读取 1 个文件，沿用上次读取结果 3 个" in got.stdout
    db = _db(tmp_path)
    assert _one(db, "SELECT COUNT(*) FROM files WHERE source = '附件.zip/成员1.xlsx'") == 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_file_that_is_no_store_is_refused_by_name(tmp_path: Path, lang: str) -> None:
    inbox = _inbox(tmp_path, 1)
    (tmp_path / "out").mkdir()
    bad = tmp_path / "out" / "汇总.sqlite"
    bad.write_bytes(b"not a database at all")
    got = run_cli(
        "--lang", lang, "collect", str(inbox), "-o", str(tmp_path / "out" / "汇总.xlsx"),
        cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 1
    assert "Traceback" not in got.stderr
    assert "汇总.sqlite" in got.stderr
    assert (
        "not a perfeval-xl store" if lang == "en" else "不是 perfeval-xl 的汇总库"
    ) in got.stderr
    assert bad.read_bytes() == b"not a database at all"
    assert not (tmp_path / "out" / "汇总.xlsx").exists()
    # another program's SQLite database
    bad.unlink()
    other = sqlite3.connect(bad)
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    got = run_cli("collect", str(inbox), "-o", str(tmp_path / "out" / "汇总.xlsx"), cwd=tmp_path)
    assert got.returncode == 1 and "不是 perfeval-xl 的汇总库" in got.stderr


def test_a_store_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 1)
    _collect(tmp_path, inbox)
    db = _db(tmp_path)
    with db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    got = _collect(tmp_path, inbox)
    assert got.returncode == 1 and "更新版本" in got.stderr


def test_the_store_is_never_inside_the_inbox(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 1)
    got = run_cli(
        "collect", str(inbox), "-o", str(tmp_path / "o.xlsx"), "--store",
        str(inbox / "库.sqlite"), cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 1 and "收件箱" in got.stderr
    got = run_cli("collect", str(inbox), "-o", str(inbox / "汇总.xlsx"), cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "汇总库：未保存（汇总表在收件箱里" in got.stdout
    assert sorted(p.name for p in inbox.iterdir()) == ["单位0.xlsx", "汇总.xlsx"]


def test_two_runs_on_one_store_wait_for_each_other(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 1)
    (tmp_path / "out").mkdir()
    store = open_store(tmp_path / "out" / "汇总.sqlite")
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfeval_xl", "collect", str(inbox), "-o",
         str(tmp_path / "out" / "汇总.xlsx"), "-q"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3)
    assert proc.poll() is None, proc.communicate()
    assert not (tmp_path / "out" / "汇总.xlsx").exists()
    store.close()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"进程 {os.getpid()}" in err and "等它结束后继续" in err
    assert (tmp_path / "out" / "汇总.xlsx").exists()


def test_a_killed_run_leaves_the_store_consistent_and_the_summary_intact(
    tmp_path: Path,
) -> None:
    inbox = _inbox(tmp_path, 2)
    _collect(tmp_path, inbox)
    summary = tmp_path / "out" / "汇总.xlsx"
    before = summary.read_bytes()
    template = inbox / "单位0.xlsx"
    for i in range(2, 1500):
        staged(inbox / f"单位{i}.xlsx") if i < 6 else (inbox / f"单位{i}.xlsx").write_bytes(
            _renamed(template.read_bytes(), i)
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfeval_xl", "collect", str(inbox), "-o", str(summary), "-q",
         "--workers", "2"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    db = _db(tmp_path)
    deadline = time.monotonic() + 120
    while _one(db, "SELECT COUNT(*) FROM checks") < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _one(db, "PRAGMA integrity_check") == "ok"
    assert summary.read_bytes() == before
    stored = _one(db, "SELECT COUNT(*) FROM checks")
    assert 100 <= stored < 1500
    assert _one(db, "SELECT COUNT(*) FROM runs WHERE finished IS NULL") == 1
    # every stored reading is whole: its project and findings are there
    assert _one(
        db, "SELECT COUNT(*) FROM checks c WHERE NOT EXISTS"
        " (SELECT 1 FROM projects p WHERE p.check_id = c.id)"
    ) == 0  # fmt: skip
    db.close()
    got = _collect(tmp_path, inbox)
    assert got.returncode == 0, got.stderr
    assert f"沿用上次读取结果 {stored} 个" in got.stdout


def _renamed(data: bytes, i: int) -> bytes:
    """The workbook with its project name made its own (the form sheet's inline string)."""
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"):
                body = body.replace("单位0项目".encode(), f"单位{i}项目".encode(), 1)
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _year_inbox(root: Path, year: int, projects: dict[str, tuple[str | None, float]]) -> Path:
    """An inbox of `year`: per project name its 项目代码 and 全年执行数 (预算数 100)."""
    inbox = root / f"inbox{year}"
    for i, (name, (code, spent)) in enumerate(projects.items()):
        staged(
            inbox / f"单位{i}.xlsx",
            year=year,
            project_name=name,
            project_code=code,
            fund_fiscal_spent=spent,
        )
    return inbox


def _table(path: Path, sheet: str) -> list[dict]:
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_each_project_counted_for_the_year_is_linked_to_its_own_row(tmp_path: Path) -> None:
    """year_projects.project_id is each project's own row, also for the several projects of
    one Word annex (each table its own), and again when the next run reuses the readings."""
    inbox = _inbox(tmp_path, 2)
    annex = seed_annex()
    (inbox / annex.name).write_bytes(annex.data)
    for run in (1, 2):
        if run == 2:  # written again, from the readings kept
            (tmp_path / "out" / "汇总.xlsx").unlink()
        got = _collect(tmp_path, inbox)
        assert got.returncode in (0, 1), got.stderr
        assert f"沿用上次读取结果 {0 if run == 1 else 3} 个" in got.stdout
        with _db(tmp_path) as db:
            rows = db.execute(
                "SELECT y.source, y.project_name, p.project_name, f.source FROM year_projects y"
                " JOIN projects p ON p.id = y.project_id JOIN files f ON f.id = p.file_id"
            ).fetchall()
            assert _one(db, "SELECT COUNT(*) FROM year_projects WHERE project_id IS NULL") == 0
        assert len(rows) == 2 + len(annex.tables)
        for source, counted, stored, stored_file in rows:
            assert counted == stored and source.startswith(stored_file), rows
        assert {r[0] for r in rows} >= {f"{annex.name} 表{t.table}" for t in annex.tables}


def test_last_year_in_the_store_gives_the_year_on_year_sheets(tmp_path: Path) -> None:
    store = str(tmp_path / "绩效自评.sqlite")
    last = _year_inbox(
        tmp_path, 2021, {"甲项目": ("P-1", 80), "乙项目": (None, 60), "丙项目": (None, 100)}
    )
    now = _year_inbox(
        tmp_path, 2022, {"甲项目改名": ("P-1", 90), "乙项目": (None, 95), "丁项目": (None, 50)}
    )
    got = run_cli("collect", str(last), "-o", str(tmp_path / "2021.xlsx"), "--store", store,
                  cwd=tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "同比" not in openpyxl.load_workbook(tmp_path / "2021.xlsx").sheetnames
    got = run_cli("collect", str(now), "-o", str(tmp_path / "2022.xlsx"), "--store", store,
                  cwd=tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stderr
    summary = tmp_path / "2022.xlsx"
    assert openpyxl.load_workbook(summary).sheetnames[-2:] == ["同比", "同比项目"]
    (dept,) = _table(summary, "同比")
    assert dept["主管部门代码"] == "109101"
    assert (dept["2022年项目数"], dept["2021年项目数"]) == (3, 3)
    assert (dept["2022年预算数"], dept["2021年预算数"]) == (300, 300)
    assert (dept["2022年执行数"], dept["2021年执行数"]) == (235, 240)
    assert dept["2022年执行率"] == pytest.approx(235 / 300)
    assert dept["2021年执行率"] == pytest.approx(240 / 300)
    assert dept["执行率变化"] == pytest.approx(-5 / 300)
    scores = {r["项目名称"]: r["核定总分"] for r in _table(summary, "项目明细")}
    assert dept["2022年平均分"] == pytest.approx(sum(scores.values()) / 3)
    rows = {r["项目名称"]: r for r in _table(summary, "同比项目")}
    assert rows["甲项目改名"]["对应依据"] == "项目代码"
    assert rows["甲项目改名"]["执行率变化"] == pytest.approx(0.10)
    assert rows["乙项目"]["对应依据"] == "部门代码+项目名称"
    assert rows["乙项目"]["2021年执行率"] == pytest.approx(0.60)
    assert rows["乙项目"]["总分变化"] == pytest.approx(
        rows["乙项目"]["2022年核定总分"] - rows["乙项目"]["2021年核定总分"]
    )
    assert rows["丙项目"]["对应依据"] == "仅2021年" and rows["丙项目"]["2022年执行率"] is None
    assert rows["丁项目"]["对应依据"] == "仅2022年" and rows["丁项目"]["2021年执行率"] is None
    assert "甲项目" not in rows  # matched by its code under this year's name


def test_last_year_from_another_store(tmp_path: Path) -> None:
    last = _year_inbox(tmp_path, 2021, {"甲项目": ("P-1", 80)})
    now = _year_inbox(tmp_path, 2022, {"甲项目": ("P-1", 90)})
    got = run_cli("collect", str(last), "-o", str(tmp_path / "2021汇总.xlsx"), cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    got = run_cli(
        "collect", str(now), "-o", str(tmp_path / "2022汇总.xlsx"), "--compare-with",
        str(tmp_path / "2021汇总.sqlite"), cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    (row,) = _table(tmp_path / "2022汇总.xlsx", "同比项目")
    assert row["2021年执行率"] == pytest.approx(0.8) and row["2022年执行率"] == pytest.approx(0.9)
    # a store without last year is refused by name; so is a file that is no store
    for other, words in (
        (tmp_path / "2022汇总.sqlite", "没有 2021 年度的项目"),
        (tmp_path / "2021汇总.xlsx", "不是 perfeval-xl 的汇总库"),
    ):
        got = run_cli(
            "collect", str(now), "-o", str(tmp_path / "again.xlsx"), "--compare-with",
            str(other), cwd=tmp_path,
        )  # fmt: skip
        assert got.returncode == 1, got.stdout
        assert words in got.stderr and other.name in got.stderr
        assert "Traceback" not in got.stderr


def test_the_roster_sheet_says_when_a_project_was_first_and_last_received(
    tmp_path: Path,
) -> None:
    from datetime import datetime

    from helpers import write_csv

    inbox = _inbox(tmp_path, 2)
    roster = write_csv(
        tmp_path / "名册.csv",
        [
            ["主管部门代码", "实施单位", "项目名称"],
            *(["109101", "攀枝花市区委宣传部", f"单位{i}项目"] for i in range(3)),
        ],
    )
    first, second = datetime(2023, 3, 1, 9, 30), datetime(2023, 3, 5, 16, 0)
    for p in inbox.iterdir():
        os.utime(p, (first.timestamp(), first.timestamp()))
    got = _collect(tmp_path, inbox, "--roster", str(roster))
    assert got.returncode == 0, got.stderr
    # the unit sends 单位1 again: the old file is replaced in the inbox, the store keeps both
    path = inbox / "单位1.xlsx"
    path.unlink()
    staged(path, fund_fiscal_spent=90)
    os.utime(path, (second.timestamp(), second.timestamp()))
    got = _collect(tmp_path, inbox, "--roster", str(roster))
    assert got.returncode == 0, got.stderr
    rows = {r["项目名称"]: r for r in _table(tmp_path / "out" / "汇总.xlsx", "报送情况")}
    assert (rows["单位0项目"]["首次收到"], rows["单位0项目"]["最近收到"]) == (first, first)
    assert (rows["单位1项目"]["首次收到"], rows["单位1项目"]["最近收到"]) == (first, second)
    assert rows["单位1项目"]["收到时间"] == second
    assert rows["单位2项目"]["状态"] == "未收到" and rows["单位2项目"]["首次收到"] is None
    # without a store, the inbox's own files are all there is to go by
    got = run_cli(
        "collect", str(inbox), "-o", str(tmp_path / "n.xlsx"), "--roster", str(roster),
        "--no-store", cwd=tmp_path,
    )  # fmt: skip
    rows = {r["项目名称"]: r for r in _table(tmp_path / "n.xlsx", "报送情况")}
    assert (rows["单位1项目"]["首次收到"], rows["单位1项目"]["最近收到"]) == (second, second)


def test_a_full_disk_under_the_store_gives_a_clean_message(tmp_path: Path) -> None:
    """A file-size limit makes every write past it fail (EFBIG) as a full disk does (ENOSPC):
    the store cannot grow past its first pages, and the run stops with the store named."""
    import resource

    inbox = _inbox(tmp_path, 2)
    (tmp_path / "out").mkdir()

    def limit() -> None:  # in the child, before it runs
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    got = subprocess.run(
        [sys.executable, "-m", "perfeval_xl", "--lang", "en", "collect", str(inbox), "-q",
         "-o", str(tmp_path / "out" / "汇总.xlsx")],
        capture_output=True, text=True, timeout=300, preexec_fn=limit, cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 1, got.stdout
    assert "Traceback" not in got.stderr
    assert got.stderr.startswith(
        f"Error: {tmp_path / 'out' / '汇总.sqlite'}: cannot write the store"
    )
    assert not (tmp_path / "out" / "汇总.xlsx").exists()


def test_json_in_another_language_is_written_again(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 1, fund_fiscal_spent=120)
    js = str(tmp_path / "out" / "c.json")
    _collect(tmp_path, inbox, "--json", js)
    again = _collect(tmp_path, inbox, "--json", js)
    assert "未重写" in again.stdout
    english = _collect(tmp_path, inbox, "--json", js, "--lang", "en")
    assert "left as it was" not in english.stdout
    messages = [
        f["message"]
        for f in json.loads(Path(js).read_text(encoding="utf-8"))["files"][0]["findings"]
        if f["code"] == "E301"
    ]
    assert messages and all(" exceeds " in m for m in messages)  # English now


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_in_the_inbox_is_never_hashed(tmp_path: Path) -> None:
    """Hashing a named pipe would wait forever for a writer: it is left to the gate (E001)."""
    inbox = _inbox(tmp_path, 1)
    os.mkfifo(inbox / "管道.xlsx")
    got = _collect(tmp_path, inbox)
    assert got.returncode == 1, got.stderr
    assert "管道.xlsx" in got.stdout
    assert "本次读取 2 个文件" in got.stdout
    db = _db(tmp_path)
    assert _one(db, "SELECT COUNT(*) FROM files") == 1  # the pipe has no version to keep


def test_the_store_is_no_other_output(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 1)
    summary = tmp_path / "汇总.xlsx"
    for extra in (["--store", str(summary)], ["--json", str(tmp_path / "a.json"),
                  "--store", str(tmp_path / "a.json")]):  # fmt: skip
        got = run_cli("collect", str(inbox), "-o", str(summary), "-q", *extra, cwd=tmp_path)
        assert got.returncode == 1, got.stdout
        assert "同一个文件" in got.stderr and "Traceback" not in got.stderr
    assert not summary.exists() and not (tmp_path / "a.json").exists()


def _stored(data: bytes, cell: str | None = None, spent: bytes = b"") -> bytes:
    """The workbook with every member stored uncompressed (so its size follows its content's
    length alone), and with `cell`'s value 95 made `spent` (two digits: the same size)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if cell is not None and info.filename.startswith("xl/worksheets/"):
                body, n = re.subn(rb'(<c r="' + cell.encode() + rb'"[^>]*><v>)95(</v>)',
                                  rb"\g<1>" + spent + rb"\g<2>", body)  # fmt: skip
                assert n <= 1
            dst.writestr(zipfile.ZipInfo(info.filename, info.date_time), body)
    return out.getvalue()


def test_a_file_saved_again_within_its_clock_tick_is_read_again(tmp_path: Path) -> None:
    """Racily clean: a file rewritten just after it was hashed, with the same size and time
    (FAT and network shares keep times to 2 s), must not be taken for the version stored."""
    inbox = _inbox(tmp_path, 1)
    path = inbox / "单位0.xlsx"
    data = path.read_bytes()
    path.write_bytes(_stored(data))
    _collect(tmp_path, inbox)  # hashed within a second of being written
    stamp = path.stat().st_mtime_ns
    # another amount spent, in a file of the same size
    again = _stored(data, coordinate(data, "pe_fund_fiscal_spent"), b"99")
    assert len(again) == path.stat().st_size and again != path.read_bytes()
    path.write_bytes(again)
    os.utime(path, ns=(stamp, stamp))
    got = _collect(tmp_path, inbox)
    assert "本次读取 1 个文件，沿用上次读取结果 0 个" in got.stdout
    got_spent = _one(
        _db(tmp_path),
        "SELECT p.spent FROM projects p JOIN files f ON f.id = p.file_id ORDER BY f.id DESC",
    )
    assert got_spent == 99


def test_an_old_file_is_known_by_size_and_time(tmp_path: Path) -> None:
    """A file dated well before it was hashed is trusted by its size and time: not hashed."""
    inbox = _inbox(tmp_path, 2)
    old = time.time_ns() - 3600 * 10**9
    for p in inbox.iterdir():
        os.utime(p, ns=(old, old))
    _collect(tmp_path, inbox)
    assert _one(_db(tmp_path), "SELECT count(*) FROM files WHERE mtime_ns IS NULL") == 0
    fresh = inbox / "单位9.xlsx"
    staged(fresh)
    _collect(tmp_path, inbox)
    rows = dict(_db(tmp_path).execute("SELECT source, mtime_ns FROM files").fetchall())
    assert rows["单位9.xlsx"] is None  # saved just now: hashed again next time
    assert rows["单位0.xlsx"] == old
