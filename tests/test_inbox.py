"""What the inbox itself can hold, and where outputs may go (issue 15, defects 1–4 and 6, and the
workers that outlive a killed parent).

Each case is built the way it arises on a clerk's machine: a link made with `ln -s`, a file
name in GBK bytes as unzipping a Windows attachment on Linux leaves it, a folder without
permissions (as another user when the tests run as root, because root reads anything), a full
disk (a file-size limit on the process), a `kill -9`.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import digests, filled, staged, texts_of

from perfeval_xl.cli import cli
from perfeval_xl.errors import OutputError
from perfeval_xl.office.collect import check_outputs, collect
from perfeval_xl.office.report import spreadsheet_safe

AS_ROOT = os.name == "posix" and os.geteuid() == 0
NOBODY = 65534
#: 第一小学 in GBK: what a Windows zip's member name becomes on Linux when unzipped.
GBK_NAME = "第一小学".encode("gbk") + b".xlsx"


def _invoke(*args: str):
    result = CliRunner().invoke(cli, ["--lang", "en", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


# -- 1. links that loop ------------------------------------------------------------------------
def test_link_loops_are_w605_and_the_run_goes_on(tmp_path):
    box = tmp_path / "inbox"
    box.mkdir()
    staged(box / "单位.xlsx")
    (box / "self.xlsx").symlink_to("self.xlsx")  # ln -s self.xlsx self.xlsx
    (box / "a.xlsx").symlink_to("b.xlsx")  # a -> b -> a
    (box / "b.xlsx").symlink_to("a.xlsx")
    (box / "环").symlink_to("环")  # a folder link to itself
    (box / "外面").symlink_to(tmp_path)  # a folder outside the inbox
    before = digests(box)
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = _invoke("collect", str(box), "-o", str(out), "--json", str(js), "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text("utf-8"))
    assert [e["source"] for e in doc["files"]] == ["单位.xlsx"]
    w605 = {f["file"]: f["message"] for f in doc["findings"] if f["code"] == "W605"}
    loop = "a link that loops or cannot be followed: not read"
    assert w605 == {
        "a.xlsx": loop,
        "b.xlsx": loop,
        "self.xlsx": loop,
        "环": loop,
        "外面": "a link pointing outside the inbox: not read",
    }
    assert digests(box) == before


# -- 2. names that are not UTF-8 ---------------------------------------------------------------
@pytest.fixture
def gbk_inbox(tmp_path) -> Path:
    box = tmp_path / "inbox"
    box.mkdir()
    staged(box / "x.xlsx", project_name="第一小学项目")
    os.rename(box / "x.xlsx", os.fsdecode(os.fsencode(box) + b"/" + GBK_NAME))
    sub = os.fsencode(box) + b"/" + "附件".encode("gbk")
    os.mkdir(sub)
    shutil.copy(os.fsdecode(os.fsencode(box) + b"/" + GBK_NAME), os.fsdecode(sub + b"/a.xlsx"))
    return box


def test_a_gbk_file_name_is_shown_decoded_in_the_summary_and_json(tmp_path, gbk_inbox):
    before = digests(gbk_inbox)
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = _invoke("collect", str(gbk_inbox), "-o", str(out), "--json", str(js), "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_bytes().decode("utf-8"))  # strict UTF-8
    assert sorted(e["source"] for e in doc["files"]) == ["第一小学.xlsx", "附件/a.xlsx"]
    assert {"第一小学.xlsx", "附件/a.xlsx"} <= texts_of(out)
    assert digests(gbk_inbox) == before


def test_check_json_of_a_gbk_file_name_is_utf8(gbk_inbox):
    path = os.fsdecode(os.fsencode(gbk_inbox) + b"/" + GBK_NAME)
    for fmt in ("json", "text"):
        result = CliRunner().invoke(cli, ["check", "--format", fmt, path])
        assert result.exit_code == 0, result.output
        text = result.stdout_bytes.decode("utf-8")  # strict: no raw GBK bytes
        shown = str(gbk_inbox / "第一小学.xlsx")
        if fmt == "json":
            assert json.loads(text)["files"][0]["path"] == shown
        else:
            assert text.startswith(shown)


def test_an_undecodable_name_is_escaped(tmp_path):
    box = tmp_path / "inbox"
    box.mkdir()
    staged(box / "x.xlsx")
    os.rename(box / "x.xlsx", os.fsdecode(os.fsencode(box) + b"/\xff\xfe.xlsx"))
    items = collect(box, workers=1).submissions
    assert [s.item.source for s in items] == ["\\xff\\xfe.xlsx"]


# -- 3. outputs aimed at the inbox -------------------------------------------------------------
@pytest.fixture
def inbox(tmp_path) -> Path:
    box = tmp_path / "inbox"
    box.mkdir()
    staged(box / "单位一.xlsx")
    staged(box / "单位二.xlsx")
    return box


@pytest.mark.parametrize("option", ["-o", "--json"])
def test_an_output_aimed_at_a_units_file_is_refused(tmp_path, inbox, option):
    before = digests(inbox)
    target = inbox / "单位二.xlsx"
    args = ["collect", str(inbox), "-q"]
    args += ["-o", str(target)] if option == "-o" else ["-o", str(tmp_path / "s.xlsx")]
    args += ["--json", str(target)] if option == "--json" else []
    result = _invoke(*args)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {target}: is a file of the inbox and cannot be an output (it would replace a "
        "unit's file); write the output elsewhere\n"
    )
    assert digests(inbox) == before
    assert not (tmp_path / "s.xlsx").exists()  # refused before anything was written


def test_summary_and_json_may_not_be_one_file(tmp_path, inbox):
    out = tmp_path / "s.xlsx"
    result = _invoke("collect", str(inbox), "-q", "-o", str(out), "--json", str(out))
    assert result.exit_code == 1
    assert result.output == f"Error: {out}: is the same file as the other output {out}\n"
    assert not out.exists()


def test_an_earlier_summary_in_the_inbox_is_skipped_and_may_be_replaced(tmp_path, inbox):
    first = inbox / "汇总.xlsx"
    assert _invoke("collect", str(inbox), "-q", "-o", str(first)).exit_code == 0
    shutil.copy(first, inbox / "上次的汇总.xlsx")  # the clerk's copy, under another name
    # the old-style summary of earlier versions: no custom property, only the core ones
    old = inbox / "旧版汇总.xlsx"
    with zipfile.ZipFile(first) as src, zipfile.ZipFile(old, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/custom.xml":
                continue
            if info.filename == "[Content_Types].xml":
                data = data.replace(b'<Override PartName="/docProps/custom.xml"', b"<Ignore")
                data = data.replace(b"<Ignore", b'<Override PartName="/docProps/unused.xml"')
            if info.filename == "_rels/.rels":
                data = data.replace(b"docProps/custom.xml", b"docProps/unused.xml")
            dst.writestr(info, data)
    js = inbox / "结果.json"
    result = _invoke("collect", str(inbox), "-q", "-o", str(first), "--json", str(js))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2 projects read, 0 files unreadable; 0 errors, 2 warnings")
    doc = json.loads(js.read_text("utf-8"))
    entries = {e["source"]: e for e in doc["files"]}
    assert sorted(entries) == ["上次的汇总.xlsx", "单位一.xlsx", "单位二.xlsx", "旧版汇总.xlsx"]
    for name in ("上次的汇总.xlsx", "旧版汇总.xlsx"):
        assert [f["code"] for f in entries[name]["findings"]] == ["W608"], name
        assert entries[name]["project"] is None and not entries[name]["used"]
    assert doc["totals"]["unreadable"] == 0 and doc["totals"]["projects"] == 2
    # our own JSON may be replaced too, on the next run
    again = _invoke("collect", str(inbox), "-q", "-o", str(first), "--json", str(js))
    assert again.exit_code == 0, again.output
    wb = openpyxl.load_workbook(first, read_only=True)
    try:
        subtitle = next(wb["部门汇总"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    finally:
        wb.close()
    assert "无法读取 0 个" in subtitle and "本工具生成的汇总表 2 个（未读取）" in subtitle


# -- 4. outputs that cannot be written ---------------------------------------------------------
def test_a_json_path_in_a_missing_folder_is_refused_before_the_run(tmp_path, inbox):
    out, js = tmp_path / "s.xlsx", tmp_path / "没有" / "c.json"
    result = _invoke("collect", str(inbox), "-q", "-o", str(out), "--json", str(js))
    assert result.exit_code == 1
    assert result.output == f"Error: {js}: its folder {js.parent} does not exist\n"
    assert not out.exists()


def _as_nobody(fn: Callable, *args):
    """`fn(*args)` in a child process that runs as user nobody, when the tests run as root (root
    reads and writes anything); else here. Its result comes back pickled."""
    if not AS_ROOT:
        return fn(*args)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = pickle.dumps(("ok", fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            out = pickle.dumps(("error", repr(exc)))
        with os.fdopen(write, "wb") as fh:
            fh.write(out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    assert kind == "ok", value
    return value


@pytest.fixture
def shared_dir():
    """A folder user nobody can enter (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="perfeval-inbox-"))
    path.chmod(0o755)
    yield path
    for dirpath, dirs, _ in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(path)


def _cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", *args])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    return result.exit_code, ("CRASH " if crashed else "") + result.output


def test_a_json_path_in_a_read_only_folder_is_refused_before_the_run(shared_dir):
    box, ro = shared_dir / "inbox", shared_dir / "只读"
    box.mkdir(mode=0o755)
    staged(box / "单位.xlsx").chmod(0o644)
    ro.mkdir(mode=0o555)
    out, js = shared_dir / "out" / "s.xlsx", ro / "c.json"
    out.parent.mkdir(mode=0o777)
    out.parent.chmod(0o777)
    code, output = _as_nobody(
        _cli_run, "collect", str(box), "-q", "-o", str(out), "--json", str(js)
    )
    assert code == 1
    assert output == f"Error: {js}: its folder {ro} is not writable\n"
    assert not out.exists()


@pytest.mark.parametrize("fails", ["summary", "json"])
def test_a_full_disk_gives_a_clean_message_and_no_partial_file(tmp_path, fails):
    """A file-size limit on the process makes every write past it fail (EFBIG), as a full disk
    fails (ENOSPC). A long 实际完成情况 makes the JSON (about 45 KB) bigger than the summary
    (about 16 KB, compressed): a 24 KB limit fails the JSON only, 8 KB the summary first."""
    box = tmp_path / "inbox"
    box.mkdir()
    staged(box / "单位.xlsx", goal_actual="长" * 12_000)
    out, js = tmp_path / "s.xlsx", tmp_path / "c.json"
    cap = 24 * 1024 if fails == "json" else 8 * 1024

    def limit() -> None:  # in the child, before it runs
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    args = ["-m", "perfeval_xl", "--lang", "en", "collect", str(box), "-q", "--no-store"]
    args += ["-o", str(out), "--json", str(js)]
    # cwd: not the repository, whose source tree would shadow the installed package
    run = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout
    failed = js if fails == "json" else out
    assert run.stderr == f"Error: {failed}: cannot write (File too large)\n"
    assert out.is_file() == (fails == "json") and not js.exists()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["inbox", "s.xlsx"] if fails == "json" else ["inbox"])  # no temp file


def test_check_outputs_names_a_folder_given_as_output(tmp_path, inbox):
    with pytest.raises(OutputError) as caught:
        check_outputs(inbox, tmp_path)
    assert caught.value.render("en") == f"{tmp_path}: is a folder, not a file"


# -- 6. a folder that cannot be listed ---------------------------------------------------------
def _collect_findings(box: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    coll = collect(box, workers=1)
    return (
        sorted(s.item.source for s in coll.submissions),
        [(f.code, f.file, f.message.render("en")) for f in coll.findings],
    )


def test_an_unreadable_subfolder_is_e607_and_the_run_goes_on(shared_dir):
    box = shared_dir / "inbox"
    (box / "锁住的").mkdir(parents=True)
    box.chmod(0o755)
    staged(box / "单位.xlsx").chmod(0o644)
    staged(box / "锁住的" / "看不到.xlsx")
    (box / "锁住的").chmod(0o000)
    sources, findings = _as_nobody(_collect_findings, str(box))
    assert sources == ["单位.xlsx"]
    assert findings == [
        (
            "E607",
            "锁住的",
            "a folder of the inbox cannot be read (Permission denied); the files in it are not "
            "summarised: check its permissions",
        )
    ]


def test_e607_reaches_the_findings_sheet_json_and_exit_code(shared_dir):
    box = shared_dir / "inbox"
    (box / "锁住的").mkdir(parents=True)
    box.chmod(0o755)
    staged(box / "单位.xlsx").chmod(0o644)
    (box / "锁住的").chmod(0o000)
    out = shared_dir / "out"
    out.mkdir()
    out.chmod(0o777)
    code, output = _as_nobody(
        _cli_run,
        "collect",
        str(box),
        "-q",
        "-o",
        str(out / "s.xlsx"),
        "--json",
        str(out / "c.json"),
    )
    assert code == 1, output  # an error: files are missing from the summary
    assert output.startswith("1 projects read, 0 files unreadable; 1 errors, 0 warnings")
    doc = json.loads((out / "c.json").read_text("utf-8"))
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [("E607", "锁住的")]
    wb = openpyxl.load_workbook(out / "s.xlsx", read_only=True)
    try:
        rows = [r for r in wb["问题清单"].iter_rows(values_only=True) if "E607" in r]
    finally:
        wb.close()
    assert len(rows) == 1 and "锁住的" in rows[0]


# -- workers end with their parent -------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out += [int(p) for p in task.read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent's reaping is left


def _collect_command(tmp_path: Path) -> list[str]:
    box = tmp_path / "inbox"
    box.mkdir()
    first = staged(box / "f0.xlsx")
    for i in range(1, 400):
        shutil.copy(first, box / f"f{i}.xlsx")
    return ["collect", str(box), "-q", "--workers", "2", "-o", str(tmp_path / "s.xlsx")]


def _template_command(tmp_path: Path) -> list[str]:
    roster = tmp_path / "名册.csv"
    rows = "".join(f"109101,单位,项目{i:03d}\n" for i in range(400))
    roster.write_text("主管部门代码,实施单位,项目名称\n" + rows, "utf-8")
    return ["template", "--roster", str(roster), "-o", str(tmp_path / "outbox"), "-q"]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="template --roster uses no pool on 1 core")
@pytest.mark.parametrize(
    "command", [_collect_command, _template_command], ids=["collect", "template"]
)
def test_workers_end_when_the_command_is_killed(tmp_path, command):
    cmd = [sys.executable, "-m", "perfeval_xl", *command(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(workers) >= 2, "the pool never started"
        assert proc.poll() is None, proc.communicate()[1]  # still collecting, not crashed
        time.sleep(0.2)  # the workers are busy, or waiting for work
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
        for w in left:  # before reading the pipe, which they hold open
            os.kill(w, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)  # closes the pipe
    assert left == [], "workers still running after their parent was killed"


# -- texts that a spreadsheet would run --------------------------------------------------------
def test_json_never_hands_a_formula_to_a_spreadsheet(tmp_path):
    box = tmp_path / "inbox"
    box.mkdir()
    staged(box / "单位.xlsx", project_name='\u200b=HYPERLINK("http://x","点我")')
    js = tmp_path / "c.json"
    result = _invoke("collect", str(box), "-q", "-o", str(tmp_path / "s.xlsx"), "--json", str(js))
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(js.read_text("utf-8"))
    name = doc["files"][0]["project"]["project_name"]
    assert name == '\'=HYPERLINK("http://x","点我")'  # the zero-width space stripped, then '

    def texts(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from texts(v)
        elif isinstance(value, list):
            for v in value:
                yield from texts(v)

    assert not [t for t in texts(doc) if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    check = CliRunner().invoke(cli, ["check", "--format", "json", str(box / "单位.xlsx")])
    assert json.loads(check.stdout)["files"][0]["project"]["project_name"] == name


def test_spreadsheet_safe_leaves_other_values_alone():
    doc = {"=k": ["=1", "+1", "-1", "@x", "\tx", "\rx", "x=1", "", 1, -1.5, None, True]}
    assert spreadsheet_safe(doc) == {
        "=k": ["'=1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "x=1", "", 1, -1.5, None, True]
    }


def test_display_path_decodes_whole_parts_and_runs_in_messages():
    from perfeval_xl.fileio import display_path

    gbk = os.fsdecode("第一小学".encode("gbk"))  # partly valid UTF-8: "\udcb5\udcdaһСѧ"
    assert display_path(f"收件箱/{gbk}.xlsx") == "收件箱/第一小学.xlsx"
    di = os.fsdecode("第".encode("gbk"))
    message = f"所在文件夹 /tmp/{di} 不存在"  # a message around a name
    assert display_path(message) == "所在文件夹 /tmp/第 不存在"
    assert display_path("plain/名字.xlsx") == "plain/名字.xlsx"


def test_cli_messages_show_a_gbk_output_name_decoded(tmp_path, inbox):
    out = os.fsdecode(os.fsencode(tmp_path) + b"/" + "汇总".encode("gbk") + b".xlsx")
    result = _invoke("collect", str(inbox), "-q", "-o", out)
    assert result.exit_code == 0, result.output
    wrote, store = result.output.splitlines()[-2:]
    assert wrote == f"wrote {tmp_path}/汇总.xlsx"
    assert store.startswith(f"store: {tmp_path}/汇总.sqlite (")  # beside it, shown decoded
    assert Path(out).is_file()  # written under its real name


# -- a damaged .zip attachment says what to do, never a Python message ---------------------------
def test_a_damaged_zip_attachment_says_what_to_do(tmp_path):
    from test_hostile_cells import PYTHON_TEXT

    box = tmp_path / "inbox"
    box.mkdir()
    data = filled(tmp_path).read_bytes()
    buf = tmp_path / "whole.zip"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("单位/项目.xlsx", data)
    whole = buf.read_bytes()
    (box / "截断.zip").write_bytes(whole[: len(whole) // 2])  # cut off while downloading
    body = whole.index(b"PK\x03\x04") + 30 + len("单位/项目.xlsx".encode()) + 200
    flipped = whole[:body] + bytes(b ^ 0xFF for b in whole[body : body + 64]) + whole[body + 64 :]
    (box / "坏了.zip").write_bytes(flipped)  # the member's data damaged, the directory intact
    coll = collect(box, workers=1)
    messages = {f.file: f.message for f in coll.findings}
    messages |= {s.item.source: s.result.findings[0].message for s in coll.submissions}
    assert messages["截断.zip"].render("en") == (
        "the archive is damaged or incomplete: nothing in it was read; send the .xlsx files "
        "themselves, or zip them again"
    )
    assert messages["坏了.zip/单位/项目.xlsx"].render("zh") == (
        "压缩包中的这个文件已损坏或不完整；请直接发送该 .xlsx 文件，或重新压缩后发送"
    )
    for text in messages.values():
        assert not PYTHON_TEXT.search(text.render("en")), text


def test_an_xlsx_renamed_to_zip_is_read_as_the_workbook_it_is(tmp_path):
    box = tmp_path / "inbox"
    box.mkdir()
    shutil.copy(filled(tmp_path), box / "单位.zip")  # a unit "zipped" it by renaming
    coll = collect(box, workers=1)
    assert coll.findings == []
    (s,) = coll.submissions
    assert s.item.source == "单位.zip" and s.result.record is not None
    assert s.result.record.value("project_name") == "2022年媒体合作项目"
    result = CliRunner().invoke(cli, ["--lang", "en", "check", str(box / "单位.zip")])
    assert result.output.splitlines()[0].startswith(f"{box / '单位.zip'}"), result.output
    assert "not an Excel workbook" not in result.output
