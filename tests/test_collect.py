"""Collecting an inbox: discovery (subfolders, .zip attachments, lock files, litter, links, the
output file), one file per project, the roster, and a batch that never stops on a bad file."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from helpers import filled, legacy_zip, texts_of

from perfeval_xl import load_spec
from perfeval_xl.office.collect import collect

ROSTER = (
    "dept_code,dept_name,unit_name,project_name,year,fund_fiscal_budget\n"
    "109101,中共攀枝花市仁和区委宣传部,攀枝花市区委宣传部,2022年媒体合作项目,2022,100\n"
    "109101,中共攀枝花市仁和区委宣传部,攀枝花市区委宣传部,项目三,2022,100\n"
    "109101,中共攀枝花市仁和区委宣传部,攀枝花市区委宣传部,没有交的项目,2022,50\n"
)


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def inbox(tmp_path) -> Path:
    """A mixed inbox: good, erroneous (and a newer duplicate of it), unreadable, a zip
    attachment, a lock file, litter, and the summary of an earlier run."""
    box = tmp_path / "inbox"
    (box / "单位A").mkdir(parents=True)
    (box / "单位B").mkdir()
    old = filled(box / "单位A", "national-2020")  # the first version of 媒体合作
    _age(old, 3600)
    filled(box / "单位B", "national-2020", fund_fiscal_spent=120)  # a newer version, with an error
    stage = tmp_path / "stage"
    stage.mkdir()
    three = filled(stage, "sichuan-2022", project_name="项目三")
    with zipfile.ZipFile(box / "附件.zip", "w") as z:
        z.write(three, "来自单位C/项目三.xlsx")
        z.writestr("说明.txt", "请查收")
    (box / "~$national-2020.xlsx").write_bytes(b"\x00" * 165)
    (box / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    (box / "扫描件.pdf").write_bytes(b"%PDF-1.4\n")
    (box / "Thumbs.db").write_bytes(b"\x00")
    (box / "汇总.xlsx").write_bytes(b"an earlier summary, never read")
    return box


def test_mixed_inbox(inbox):
    coll = collect(inbox, exclude=(inbox / "汇总.xlsx",), workers=1)
    got = [(s.item.source, s.used, [f.code for f in s.result.findings]) for s in coll.submissions]
    assert got == [
        ("old.xls", False, ["E002"]),
        ("~$national-2020.xlsx", False, ["W009"]),
        ("附件.zip/来自单位C/项目三.xlsx", True, []),
        ("单位A/national-2020.xlsx", False, ["W601"]),
        ("单位B/national-2020.xlsx", True, ["E301", "E301"]),
    ]
    assert [(f.code, f.file) for f in coll.findings] == [
        ("W605", "扫描件.pdf"),
        ("W605", "附件.zip/说明.txt"),
    ]
    assert [s.item.source for s in coll.projects] == [
        "单位B/national-2020.xlsx",
        "附件.zip/来自单位C/项目三.xlsx",
    ]
    superseded = coll.submissions[3].result.findings[0]
    assert "单位B/national-2020.xlsx" in superseded.message.render("zh")
    # the superseded file's W601 is kept but not counted; the lock file is no unreadable file
    assert (coll.errors, coll.warnings, len(coll.unreadable)) == (3, 3, 1)
    assert [s.superseded_by for s in coll.superseded] == ["单位B/national-2020.xlsx"]
    # findings name files as the clerk sees them, relative to the inbox
    assert {f.file for f in coll.all_findings()} <= {s.item.source for s in coll.submissions} | {
        "附件.zip/说明.txt",
        "扫描件.pdf",
    }


def test_roster_expected_versus_received(inbox, tmp_path):
    roster = tmp_path / "roster.csv"
    text = ROSTER.replace(
        "项目三,2022,100", "项目三,2022,99"
    )  # the office issued 99, the file says 100
    roster.write_text(text, "utf-8")
    coll = collect(
        inbox,
        roster=roster,
        roster_spec=load_spec("national-2020"),
        exclude=(inbox / "汇总.xlsx",),
        workers=1,
    )
    assert [(r.row.line, r.received) for r in coll.roster] == [(2, True), (3, True), (4, False)]
    assert [r.submission.item.source for r in coll.roster[:2]] == [
        "单位B/national-2020.xlsx",
        "附件.zip/来自单位C/项目三.xlsx",
    ]
    (missing,) = [f for f in coll.findings if f.code == "W604"]
    assert missing.file == str(roster) and "没有交的项目" in missing.message.render("zh")
    three = next(s for s in coll.projects if s.key == ("109101", "项目三"))
    (e603,) = [f for f in three.result.findings if f.code == "E603"]
    assert (e603.field, e603.cell) == ("fund_fiscal_budget", "F9")
    assert e603.message.render("en") == (
        "differs from the roster: roster '99.00', file '100.00'; the summary counts the roster's"
    )


def test_project_not_on_roster(inbox, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER.splitlines()[0] + "\n" + ROSTER.splitlines()[1] + "\n", "utf-8")
    coll = collect(inbox, roster=roster, exclude=(inbox / "汇总.xlsx",), workers=1)
    three = next(s for s in coll.projects if s.key == ("109101", "项目三"))
    assert [f.code for f in three.result.findings] == ["E602"]


def test_parallel_equals_serial(inbox):
    for i in range(10):  # enough files for the process pool
        shutil.copy(inbox / "单位B" / "national-2020.xlsx", inbox / f"copy{i}.xlsx")
    serial = collect(inbox, workers=1)
    parallel = collect(inbox, workers=2)
    key = [
        (s.item.source, s.used, [(f.code, f.cell) for f in s.result.findings])
        for s in serial.submissions
    ]
    assert key == [
        (s.item.source, s.used, [(f.code, f.cell) for f in s.result.findings])
        for s in parallel.submissions
    ]


def test_inputs_are_never_modified(inbox):
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in inbox.rglob("*") if p.is_file()}
    collect(inbox, workers=1)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in inbox.rglob("*") if p.is_file()}
    assert after == before


def test_links_outside_the_inbox_are_not_followed(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    outside = filled(tmp_path, "national-2020")
    (box / "link.xlsx").symlink_to(outside)
    coll = collect(box, workers=1)
    assert coll.submissions == []
    assert [(f.code, f.file) for f in coll.findings] == [("W605", "link.xlsx")]


def test_the_summary_is_not_read_under_any_name(tmp_path):
    """The summary being written is never an input: neither as itself, nor through a link to
    it under another name (only those two can be it, so other paths are not resolved)."""
    box = tmp_path / "box"
    (box / "sub").mkdir(parents=True)
    summary = box / "汇总.xlsx"
    summary.write_bytes(filled(tmp_path, "national-2020").read_bytes())
    (box / "sub" / "link.xlsx").symlink_to(summary)
    (box / "sub" / "汇总.xlsx").write_bytes(summary.read_bytes())  # same name, another file
    coll = collect(box, exclude=(summary,), workers=1)
    assert [s.item.source for s in coll.submissions] == ["sub/汇总.xlsx"]


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ({"../evil.xlsx": b"x"}, "E005"),
        ({"/abs.xlsx": b"x"}, "E005"),
    ],
)
def test_unsafe_zip_attachments(tmp_path, entries, code):
    box = tmp_path / "box"
    box.mkdir()
    with zipfile.ZipFile(box / "a.zip", "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    coll = collect(box, workers=1)
    assert [f.code for f in coll.findings] == [code]
    assert not (tmp_path / "evil.xlsx").exists()


def test_broken_zip_attachment(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "a.zip").write_bytes(b"PK\x03\x04 not really")
    coll = collect(box, workers=1)
    assert [(f.code, f.file) for f in coll.findings] == [("E001", "a.zip")]


def _sheet(path: Path, name: str, columns: list[str]) -> list[tuple]:
    """Rows of a summary sheet, only `columns` (by header), read back from the written file."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    rows = list(wb[name].iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if columns[0] in r)
    header = rows[header_at]
    index = [header.index(c) for c in columns]
    return [
        tuple(r[i] for i in index) for r in rows[header_at + 1 :] if any(v is not None for v in r)
    ]


def test_mixed_inbox_summary_rows(inbox, tmp_path):
    """The whole command on the mixed inbox, with the summary written inside the inbox."""
    from click.testing import CliRunner

    from perfeval_xl.cli import cli

    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, "utf-8")
    out = inbox / "汇总.xlsx"
    # the fixture's stand-in there is no summary of ours, so -o would refuse to replace it
    # (tests/test_inbox.py); a summary of ours is replaced run after run
    out.unlink()
    result = CliRunner().invoke(
        cli, ["--lang", "en", "collect", str(inbox), "-o", str(out), "--roster", str(roster)]
    )
    assert result.exit_code == 1, result.output
    assert (
        result.output.splitlines()[0]
        == "2 projects read, 1 files unreadable; 3 errors, 5 warnings; 1 projects not received"
    )
    assert _sheet(out, "项目明细", ["项目名称", "状态", "来源文件", "错误", "警告"]) == [
        ("2022年媒体合作项目", "有错误", "单位B/national-2020.xlsx", 2, 0),
        ("项目三", "通过", "附件.zip/来自单位C/项目三.xlsx", 0, 1),  # W606
    ]
    assert _sheet(out, "问题清单", ["文件", "单元格", "代码", "状态"]) == [
        ("old.xls", None, "E002", "有效"),
        ("单位B/national-2020.xlsx", "G8", "E301", "有效"),
        ("单位B/national-2020.xlsx", "G9", "E301", "有效"),
        (str(roster), None, "W604", "有效"),
        ("~$national-2020.xlsx", None, "W009", "有效"),
        ("扫描件.pdf", None, "W605", "有效"),
        ("附件.zip/来自单位C/项目三.xlsx", None, "W606", "有效"),  # sichuan-2022, national roster
        ("附件.zip/说明.txt", None, "W605", "有效"),
        ("单位A/national-2020.xlsx", None, "W601", "已被取代"),  # kept, last, not counted
    ]
    assert _sheet(out, "报送情况", ["名册行号", "项目名称", "状态", "来源文件"]) == [
        (2, "2022年媒体合作项目", "已收到", "单位B/national-2020.xlsx"),
        (3, "项目三", "已收到", "附件.zip/来自单位C/项目三.xlsx"),
        (4, "没有交的项目", "未收到", None),
    ]
    # the summary inside the inbox is not read on the next run either
    again = CliRunner().invoke(cli, ["--lang", "en", "collect", str(inbox), "-o", str(out), "-q"])
    assert again.output.splitlines()[0].startswith("2 projects read, 1 files unreadable")


def test_gbk_zip_member_names_in_the_summary_json_and_findings(tmp_path):
    """A .zip from a Chinese Windows (360压缩, WinRAR, "send to compressed folder") stores
    member names in GBK without the UTF-8 flag: shown decoded in every sheet and in the JSON,
    never as the CP437 mojibake zipfile makes of them; the member is still read."""
    import json

    from click.testing import CliRunner

    from perfeval_xl.cli import cli

    stage = tmp_path / "stage"
    stage.mkdir()
    form = filled(stage, project_name="第一小学项目", fund_fiscal_spent=120)  # E301 twice
    box = tmp_path / "inbox"
    box.mkdir()
    member = "第一小学/项目.xlsx".encode("gbk")
    legacy_zip(box / "附件.zip", {member: form, "第一小学/说明.txt".encode("gbk"): b"x"})
    coll = collect(box, workers=1)
    assert [s.item.source for s in coll.submissions] == ["附件.zip/第一小学/项目.xlsx"]
    assert [s.item.member for s in coll.submissions] == [member.decode("cp437")]  # opened by
    assert coll.submissions[0].result.record.value("project_name") == "第一小学项目"
    assert [f.file for f in coll.findings] == ["附件.zip/第一小学/说明.txt"]
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = CliRunner().invoke(
        cli, ["--lang", "en", "collect", str(box), "-q", "-o", str(out), "--json", str(js)]
    )
    assert result.exit_code == 1, result.output
    doc = json.loads(js.read_text("utf-8"))
    assert [e["source"] for e in doc["files"]] == ["附件.zip/第一小学/项目.xlsx"]
    assert {f["file"] for e in doc["files"] for f in e["findings"]} == {
        "附件.zip/第一小学/项目.xlsx"
    }
    assert _sheet(out, "项目明细", ["项目名称", "来源文件"]) == [
        ("第一小学项目", "附件.zip/第一小学/项目.xlsx")
    ]
    assert {r[0] for r in _sheet(out, "问题清单", ["文件"])} == {
        "附件.zip/第一小学/项目.xlsx",
        "附件.zip/第一小学/说明.txt",
    }
    mojibake = member.decode("cp437").split("/")[0]
    assert not [t for t in texts_of(out) if mojibake in t]
    assert mojibake not in js.read_text("utf-8")


def test_unsafe_names_are_refused_decoded_too(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    legacy_zip(box / "a.zip", {"../第一小学.xlsx".encode("gbk"): b"x"})
    coll = collect(box, workers=1)
    assert coll.submissions == []
    (bad,) = coll.findings
    assert bad.code == "E005" and "'../第一小学.xlsx'" in bad.message.render("zh")


def test_a_thousand_workbooks(tmp_path):
    """1,000 distinct projects in one run (pre-filled templates: each has findings, none stops
    the batch); every one is read and counted once."""
    from perfeval_xl import build_template

    spec = load_spec("national-2020")
    box = tmp_path / "big"
    box.mkdir()
    for i in range(1000):
        issued = {
            "dept_code": f"1{i % 7:05d}",
            "unit_name": "单位",
            "project_name": f"项目{i:04d}",
            "fund_fiscal_budget": 10.0,
        }
        (box / f"p{i:04d}.xlsx").write_bytes(build_template(spec, issued))
    coll = collect(box, workers=2)
    assert len(coll.submissions) == 1000 and len(coll.projects) == 1000
    assert all(s.used for s in coll.submissions)
    assert {s.key[1] for s in coll.projects} == {f"项目{i:04d}" for i in range(1000)}
    from perfeval_xl.office.summary import department_rows

    rows = department_rows(coll)
    assert [r.code for r in rows] == [f"1{i:05d}" for i in range(7)]
    assert sum(r.projects for r in rows) == 1000
    assert sum(r.budget for r in rows) == pytest.approx(10_000)


def test_a_result_crosses_processes_whole(tmp_path):
    """Workers send results back pickled (records' parts pickle as constructor arguments, a
    built-in spec as its id): what arrives is what was checked, findings and scores included."""
    import pickle

    from perfeval_xl.review.checks import check_workbook

    path = filled(tmp_path, "sichuan-2023", fund_fiscal_spent=999)  # spent over budget: E301
    sent = check_workbook(path)
    assert sent.findings and sent.score is not None
    got = pickle.loads(pickle.dumps(sent))
    assert got.record.spec is sent.record.spec
    assert got.findings == sent.findings
    assert got.record.fields == sent.record.fields and got.record.cells == sent.record.cells
    assert got.record.indicators == sent.record.indicators
    assert got.score == sent.score
    assert got.to_dict("en") == sent.to_dict("en")


def test_alike_fields_arrive_as_one_object_and_unlike_ones_stay_apart():
    """Fields alike in every part (name, value and its type, what was stored, where) are one
    object in the parent; a value equal but of another type (1, True, 1.0) or a float (0.0 and
    -0.0 are equal) is never merged with another."""
    import math
    import pickle

    from perfeval_xl.intake.record import Field

    def arrive(f: Field) -> Field:
        return pickle.loads(pickle.dumps(f))

    a = arrive(Field("status", "已完成", "已完成", "自评表", "G15"))
    b = arrive(Field("status", "已完成", "已完成", "自评表", "G15"))
    assert a is b
    assert arrive(Field("status", "已完成", "已完成", "自评表", "G16")) is not a
    kinds = [arrive(Field("w", v, v, "s", "A1")) for v in (1, True, 1.0)]
    assert [type(k.value) for k in kinds] == [int, bool, float]
    zero, minus = arrive(Field("x", 0.0, 0.0, "s", "A1")), arrive(Field("x", -0.0, -0.0, "s", "A1"))
    assert math.copysign(1, zero.value) == 1 and math.copysign(1, minus.value) == -1
    long_text = "很长的偏差原因说明" * 5
    assert arrive(Field("r", long_text, long_text, "s", "A1")) == Field(
        "r", long_text, long_text, "s", "A1"
    )


def test_the_collector_is_off_inside_and_back_on_after(tmp_path):
    """`no_gc_pauses` switches the cycle collector off and back on, nested or not; with
    `freeze` (the command line, whose process ends with the command) what was made inside is
    out of every later collection's reach, so switching it back on costs nothing."""
    import gc

    from perfeval_xl.office.collect import no_gc_pauses

    assert gc.isenabled()
    with no_gc_pauses():
        with no_gc_pauses():
            assert not gc.isenabled()
        assert not gc.isenabled()
        made = [[] for _ in range(1000)]
    assert gc.isenabled()
    assert any(x is made[0] for x in gc.get_objects())
    before = gc.get_freeze_count()
    try:
        with no_gc_pauses(freeze=True):
            kept = [[] for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(kept)
        assert not any(x is kept[0] for x in gc.get_objects())
    finally:
        gc.unfreeze()
