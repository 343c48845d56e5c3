"""Nothing lost (issue 8 item 5): `collect` never changes a byte of the inbox, and a run killed
while writing leaves the previous summary intact and nothing half-written under its name.

The kill is deterministic, without timing: `perfeval-xl collect` runs in a child Python whose
`perfeval_xl.fileio` sees an `os` that SIGKILLs the process at a chosen step of the real
`atomic_write_bytes` (temporary file created, half written, fully written before the rename), or
just before the summary is built (everything read, nothing written yet). SIGKILL runs no clean-up,
so a kill while writing leaves one orphaned `.汇总.xlsx.<random>.tmp` beside the summary; the next
`collect` neither reads nor reports it (even inside the inbox), and leaves it alone.
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
import tempfile
import zipfile
from pathlib import Path

import pytest
from helpers import filled
from test_bad_files import XXE, Sources, encrypted, entity_in_part, ole, with_zeros_entry

from perfeval_xl import build_template, load_spec
from perfeval_xl.office.collect import Collection
from perfeval_xl.office.summary import write_summary

SUMMARY = "汇总.xlsx"
TEMP = re.compile(r"\.汇总\.xlsx\.[^/]+\.tmp")


# -- inboxes -----------------------------------------------------------------------------------
def _issued(i: int) -> bytes:
    """A pre-filled template of project i: readable, with findings (nothing filled in yet)."""
    issued = {
        "dept_code": f"1091{i % 3:02d}",
        "unit_name": "单位",
        "project_name": f"项目{i:02d}",
        "fund_fiscal_budget": 10.0 + i,
    }
    return build_template(load_spec("national-2020"), issued)


def _mixed_inbox(root: Path) -> Path:
    """Good, erroneous, duplicated, hostile and foreign files, a .zip attachment, a lock file,
    litter, a link out of the inbox, subfolders, and the summary of an earlier run."""
    box = root / "inbox"
    (box / "单位A").mkdir(parents=True)
    (box / "单位B" / "深层").mkdir(parents=True)
    good = filled(root, "national-2020")
    data = good.read_bytes()
    (box / "单位A" / "好.xlsx").write_bytes(data)
    (box / "单位B" / "同一项目.xlsx").write_bytes(data)  # W601 for one of the two
    filled(box / "单位B" / "深层", "sichuan-2023", fund_fiscal_spent=120)
    for i in range(10):  # enough files for the process pool
        (box / f"预填{i:02d}.xlsx").write_bytes(_issued(i))
    with zipfile.ZipFile(box / "附件.zip", "w") as z:
        z.writestr("单位C/项目.xlsx", _issued(50))
        z.writestr("说明.txt", "请查收")
    (box / "加密.xlsx").write_bytes(encrypted(data))
    (box / "旧格式.xls").write_bytes(ole("Root Entry", "Workbook"))
    (box / "炸弹.xlsx").write_bytes(with_zeros_entry(data, "xl/worksheets/sheet9.xml", 60 << 20))
    xxe = entity_in_part("xl/workbook.xml", XXE)(Sources(template=b"", good=data))
    (box / "实体.xlsx").write_bytes(xxe)
    (box / "空.xlsx").write_bytes(b"")
    (box / "~$好.xlsx").write_bytes(b"\x0cZhang San".ljust(165, b" "))
    (box / "扫描件.pdf").write_bytes(b"%PDF-1.4\n")
    (box / "Thumbs.db").write_bytes(b"\x00")
    (box / "外部链接.xlsx").symlink_to(good)
    (box / SUMMARY).write_bytes(_earlier_summary())
    return box


def _state(root: Path) -> dict[str, tuple]:
    """Everything under `root` by relative path: SHA-256, size, mtime and mode of files, the
    target of links, and the folders."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", st.st_mode)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[rel] = ("file", digest, st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def _collect(*args: str, cwd: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """`perfeval-xl --lang en collect …` in a child process; with `kill_at`, through KILLER."""
    cmd = [sys.executable, "-m", "perfeval_xl"]
    if kill_at is not None:
        cmd = [sys.executable, "-c", KILLER, kill_at]
    return subprocess.run(
        [*cmd, "--lang", "en", "collect", *args],
        cwd=cwd,
        env={**os.environ, "PERFEVAL_TEST_KILL_TARGET": SUMMARY},
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- the inbox is never changed ----------------------------------------------------------------
def test_every_inbox_file_has_the_same_sha256_after_collect(tmp_path):
    box = _mixed_inbox(tmp_path)
    before = _state(box)
    assert sum(v[0] == "file" for v in before.values()) >= 20
    args = ["-o", str(box / SUMMARY), "--json", str(box / "结果.json"), "--workers", "2"]
    run = _collect(str(box), *args, cwd=tmp_path)
    assert run.returncode == 1, run.stderr  # errors found; the run itself succeeded
    after = _state(box)
    outputs = {SUMMARY, "结果.json"}
    assert {k: v for k, v in after.items() if k not in outputs} == {
        k: v for k, v in before.items() if k not in outputs
    }
    assert set(after) == set(before) | outputs  # nothing else created (no temp file left)
    doc = json.loads((box / "结果.json").read_text("utf-8"))
    assert SUMMARY not in {e["source"] for e in doc["files"]}  # the old summary was not read
    assert (
        hashlib.sha256((tmp_path / "national-2020.xlsx").read_bytes()).hexdigest()
        == (before["单位A/好.xlsx"][1])
    )  # and the file the link points at, outside the inbox


# -- killed while writing ----------------------------------------------------------------------
#: Runs the command line with `perfeval_xl.fileio` seeing an `os` that SIGKILLs this process at
#: one step of writing the file named by PERFEVAL_TEST_KILL_TARGET, or just before the summary
#: is built. argv[1] is the step; the rest is the command line.
KILLER = r"""
import os, signal, sys, types

step, target = sys.argv[1], os.environ["PERFEVAL_TEST_KILL_TARGET"]
del sys.argv[1]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


import perfeval_xl.fileio as fileio
import perfeval_xl.office.summary as summary

real = os


class KillingOs(types.ModuleType):
    def __getattr__(self, name):
        return getattr(real, name)

    def chmod(self, path, mode, *args, **kwargs):  # right after mkstemp: the file is empty
        if step == "temp-created" and os.path.basename(path).startswith("." + target):
            die()
        return real.chmod(path, mode, *args, **kwargs)

    def fdopen(self, fd, *args, **kwargs):
        fh = real.fdopen(fd, *args, **kwargs)
        if step != "half-written":
            return fh

        class Half:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return fh.__exit__(*exc)

            def __getattr__(self, name):  # tell, seek, flush: the summary is streamed
                return getattr(fh, name)

            def write(self, data):
                fh.write(data[: len(data) // 2])
                fh.flush()
                real.fsync(fh.fileno())
                die()

        return Half()

    def replace(self, src, dst, *args, **kwargs):  # written and synced, not yet renamed
        if step == "before-rename" and os.path.basename(dst) == target:
            die()
        return real.replace(src, dst, *args, **kwargs)


fileio.os = KillingOs("os")
if step == "before-build":
    summary._package = lambda *args, **kwargs: die()
sys.argv[0] = "perfeval-xl"
from perfeval_xl.cli import main

main()
"""


def _earlier_summary() -> bytes:
    """A summary of ours from an earlier run: an output may replace only such a file of the
    inbox (`collect.check_outputs`), and it must survive a run that is killed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / SUMMARY
        write_summary(Collection(folder), path)
        return path.read_bytes()


PREVIOUS = _earlier_summary()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    """20 pre-filled workbooks and one filled one: enough for the process pool."""
    box = tmp_path_factory.mktemp("kill") / "inbox"
    box.mkdir()
    for i in range(20):
        (box / f"p{i:02d}.xlsx").write_bytes(_issued(i))
    filled(box, "national-2020")
    return box


@pytest.mark.parametrize(
    ("step", "temp"),
    [
        ("before-build", None),  # everything read, nothing written yet
        ("temp-created", "empty"),
        ("half-written", "partial"),
        ("before-rename", "complete"),
    ],
)
def test_killed_collect_leaves_the_previous_summary(tmp_path, inbox, step, temp):
    out = tmp_path / "out"
    out.mkdir()
    summary = out / SUMMARY
    summary.write_bytes(PREVIOUS)
    (out / "别的文件.txt").write_text("not ours")
    before = set(os.listdir(out))
    inbox_before = _state(inbox)
    run = _collect(
        str(inbox), "-o", str(summary), "--workers", "2", "-q", cwd=tmp_path, kill_at=step
    )
    assert run.returncode == -signal.SIGKILL, (run.returncode, run.stdout, run.stderr)
    assert summary.read_bytes() == PREVIOUS  # byte for byte
    assert _state(inbox) == inbox_before
    new = set(os.listdir(out)) - before
    assert set(os.listdir(out)) >= before
    # the store beside the summary: whatever it committed is whole (docs/store.md)
    store = out / SUMMARY.replace(".xlsx", ".sqlite")
    new -= {store.name, f"{store.name}.lock", f"{store.name}-journal"}
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM runs WHERE finished IS NULL").fetchone() == (1,)
    db.close()
    if temp is None:
        assert new == set()
        return
    # The only trace: the orphaned temporary file beside the summary (SIGKILL runs no cleanup).
    (orphan,) = new
    assert TEMP.fullmatch(orphan), orphan
    data = (out / orphan).read_bytes()
    if temp == "empty":
        assert data == b""
    elif temp == "partial":
        assert len(data) > 0 and not zipfile.is_zipfile(io.BytesIO(data))
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert z.testzip() is None and "xl/workbook.xml" in z.namelist()


def test_an_orphaned_temp_file_in_the_inbox_is_never_read(tmp_path, inbox):
    """Killed with the summary inside the inbox, the temp file is left in the inbox: the next
    run neither reads it nor reports it, and replaces the old summary whole."""
    box = tmp_path / "inbox"
    box.mkdir()
    for p in sorted(inbox.iterdir())[:3]:
        (box / p.name).write_bytes(p.read_bytes())
    summary = box / SUMMARY
    summary.write_bytes(PREVIOUS)
    run = _collect(str(box), "-o", str(summary), cwd=tmp_path, kill_at="half-written")
    assert run.returncode == -signal.SIGKILL, run.stderr
    (orphan,) = [n for n in os.listdir(box) if TEMP.fullmatch(n)]
    orphan_state = _state(box)[orphan]
    js = tmp_path / "c.json"
    again = _collect(str(box), "-o", str(summary), "--json", str(js), cwd=tmp_path)
    assert again.returncode in (0, 1), again.stderr
    assert again.stdout.startswith("3 projects read, 0 files unreadable"), again.stdout
    doc = json.loads(js.read_text("utf-8"))
    mentioned = [e["source"] for e in doc["files"]] + [f["file"] for f in doc["findings"]]
    assert orphan not in mentioned and SUMMARY not in mentioned
    assert sorted(e["source"] for e in doc["files"]) == sorted(
        p.name for p in sorted(inbox.iterdir())[:3]
    )
    assert _state(box)[orphan] == orphan_state  # left as it was: not ours to delete
    assert zipfile.is_zipfile(summary) and summary.read_bytes() != PREVIOUS
