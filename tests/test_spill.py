"""A large collection keeps its records on disk (`office.spill`): every output must be the very
one the same inputs give with the records in memory.

The inbox here holds what a real one does: files saved by LibreOffice, each form, a unit that
typed over the office's budget (the roster's value is counted), one over budget, a resubmission
that supersedes an older file, a department form, a .zip of two workbooks, unreadable files
and an Excel lock file. It is collected with the records in memory and on disk, with a roster
and with the office's key, and the summary's bytes, the JSON report and what the store keeps
are compared; through the command line too, whose second run takes readings from the store.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import pickle
import shutil
import sqlite3
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import named_cell, staged

from perfeval_xl import build_template, load_spec
from perfeval_xl.cli import cli
from perfeval_xl.errors import OutputError
from perfeval_xl.office import collect as collect_mod
from perfeval_xl.office.collect import collect
from perfeval_xl.office.report import collection_json
from perfeval_xl.office.spill import SpilledResult
from perfeval_xl.office.summary import build_summary

DATA = Path(__file__).parent / "data"
KEY = bytes(range(32))
WHEN = datetime(2023, 3, 1, 9, 30)


def _department_form(dest: Path) -> Path:
    spec = load_spec("department-2023")
    wb = openpyxl.load_workbook(_bytes_file(dest, build_template(spec)))
    for name, value in {"dept_name": "寿县某局", "dept_code": "341521101", "year": 2023}.items():
        named_cell(wb, f"pe_{name}").value = value
    for i, item in enumerate(spec.items):
        named_cell(wb, "pe_ind_score").offset(row=i).value = item.weight - (i == 5)
    named_cell(wb, "pe_ind_reason").offset(row=5).value = "年末两笔采购未支付"
    wb.save(dest)
    return dest


def _bytes_file(dest: Path, data: bytes) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def _signed(dest: Path, budget_typed: float) -> Path:
    """A template signed with the office's key, its budget typed over by the unit (E703)."""
    issued = {"dept_code": "109102", "unit_name": "某单位", "project_name": "签名项目"}
    signed = build_template(
        load_spec("national-2020"), {**issued, "fund_fiscal_budget": 100}, key=KEY
    )
    wb = openpyxl.load_workbook(_bytes_file(dest, signed))
    wb["自评表"].protection.sheet = False
    named_cell(wb, "pe_fund_fiscal_budget").value = budget_typed
    named_cell(wb, "pe_fund_fiscal_spent").value = 80
    wb.save(dest)
    return dest


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spill")
    inbox = root / "inbox"
    inbox.mkdir()
    for path in DATA.glob("*.xlsx"):  # LibreOffice's own files, one typed over its budget
        shutil.copy(path, inbox / path.name)
    for form in ("national-2020", "sichuan-2022", "sichuan-2023", "national-2021"):
        staged(inbox / "各表式" / f"{form}.xlsx", form)
    staged(inbox / "超支.xlsx", fund_fiscal_spent=150)
    staged(inbox / "缺状态.xlsx", indicators=[{"level1": "产出指标", "name": "x"}])
    old = staged(inbox / "旧版" / "重报.xlsx", project_name="重报项目", fund_fiscal_spent=60)
    os.utime(old, (1_600_000_000, 1_600_000_000))
    staged(inbox / "重报.xlsx", project_name="重报项目", fund_fiscal_spent=90)
    _department_form(inbox / "部门整体.xlsx")
    _signed(inbox / "签名.xlsx", 320)
    stage = root / "stage"
    stage.mkdir()
    with zipfile.ZipFile(inbox / "附件.zip", "w") as z:
        for name in ("甲", "乙"):
            z.write(staged(stage / f"{name}.xlsx"), f"{name}.xlsx")
    (inbox / "空.xlsx").write_bytes(b"")
    (inbox / "坏.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (inbox / "~$超支.xlsx").write_bytes(b"\x00" * 165)
    roster = root / "roster.csv"
    shutil.copy(DATA / "roster.csv", roster)
    with roster.open("a", encoding="utf-8") as fh:
        fh.write("109101,中共攀枝花市仁和区委宣传部,攀枝花市区委宣传部,重报项目,2022,100\n")
        fh.write("109101,中共攀枝花市仁和区委宣传部,攀枝花市区委宣传部,没交的项目,2022,50\n")
    return inbox


def _reading(r: collect_mod.CheckResult) -> tuple:
    return (r.path, r.record, r.findings, r.score, r.signed, r.signature_checked)


def _both(inbox: Path, **kw) -> tuple:
    in_memory = collect(inbox, spill=False, workers=2, **kw)
    on_disk = collect(inbox, spill=True, workers=2, **kw)
    return in_memory, on_disk


@pytest.mark.parametrize("how", ["plain", "roster", "key"])
def test_records_on_disk_give_the_same_summary_and_json(inbox: Path, how: str) -> None:
    kw = {
        "plain": {},
        "roster": {"roster": inbox.parent / "roster.csv"},
        "key": {"key": KEY},
    }[how]
    in_memory, on_disk = _both(inbox, **kw)
    spilled = [s for s in on_disk.submissions if isinstance(s.result, SpilledResult)]
    readable = [s for s in in_memory.submissions if s.readable]
    # the path under test was taken: every readable file's record is on disk, none in memory
    assert len(spilled) == len(readable) >= 15
    assert not any(isinstance(s.result, SpilledResult) for s in in_memory.submissions)
    assert on_disk.departments and on_disk.superseded and on_disk.unreadable
    if how != "plain":
        assert any(s.issued for s in on_disk.submissions)  # the office's values put back
    a = build_summary(in_memory, generated=WHEN)
    b = build_summary(on_disk, generated=WHEN)
    assert a == b
    assert collection_json(in_memory) == collection_json(on_disk)
    # a record read back is the one read, findings added since (W601, E603 …) included
    for x, y in zip(in_memory.submissions, on_disk.submissions, strict=True):
        assert (x.item, x.used, x.superseded_by, x.issued) == (
            y.item,
            y.used,
            y.superseded_by,
            y.issued,
        )
        assert _reading(x.result) == _reading(y.result)
        assert x.counted_record == y.counted_record and x.counted_score == y.counted_score
        assert x.brief == y.brief and x.key == y.key


def test_a_spilled_reading_pickles_as_a_plain_one(inbox: Path) -> None:
    """What goes to a worker (the returned workbooks are built in a pool) is a `CheckResult`
    with its record: the temporary file stays in the process that made it."""
    on_disk = collect(inbox, spill=True, workers=1)
    s = next(s for s in on_disk.projects if s.item.source == "超支.xlsx")
    assert isinstance(s.result, SpilledResult)
    before = len(s.result.findings)
    s.result.findings.append(s.result.findings[0])  # as collect adds W601, E603 … later
    back = pickle.loads(pickle.dumps(s.result))
    assert len(back.findings) == before + 1
    assert type(back) is collect_mod.CheckResult
    assert (
        _reading(back) == _reading(s.result)
        and back.record is not None
        and back.findings == s.result.findings
    )


def _sheets(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {
        ws.title: list(ws.iter_rows(values_only=True))[1 if ws.title == "部门汇总" else 0 :]
        for ws in wb.worksheets
    }


def _run(tmp: Path, inbox: Path, out: str) -> tuple[dict, dict, list]:
    (tmp / out).mkdir(exist_ok=True)
    summary, doc = tmp / out / "汇总.xlsx", tmp / out / "s.json"
    roster = inbox.parent / "roster.csv"
    args = ["collect", str(inbox), "-o", str(summary), "--json", str(doc), "--roster", str(roster)]
    got = CliRunner().invoke(cli, [*args, "-q"])
    assert got.exception is None or isinstance(got.exception, SystemExit), got.exception
    assert got.exit_code == 1, got.output  # the inbox has errors
    db = sqlite3.connect(tmp / out / "汇总.sqlite")
    rows = db.execute("SELECT * FROM year_projects ORDER BY source").fetchall()
    db.close()
    doc = json.loads((tmp / out / "s.json").read_text("utf-8"))
    doc.pop("generated", None)
    return _sheets(tmp / out / "汇总.xlsx"), doc, [r[3:] for r in rows]


def test_collect_with_a_store_on_disk_as_in_memory(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line, twice over the store (the second run takes every earlier reading from
    the store, as pickled there, and reads one new file), with and without records on disk."""
    box = tmp_path / "inbox"
    shutil.copytree(inbox, box)
    shutil.copy(inbox.parent / "roster.csv", tmp_path / "roster.csv")
    first = _run(tmp_path, box, "memory")
    monkeypatch.setattr(collect_mod, "SPILL_MIN_INPUTS", 1)
    assert _run(tmp_path, box, "disk") == first
    staged(box / "新.xlsx")
    monkeypatch.setattr(collect_mod, "SPILL_MIN_INPUTS", 10**9)
    second = _run(tmp_path, box, "memory")
    monkeypatch.setattr(collect_mod, "SPILL_MIN_INPUTS", 1)
    assert _run(tmp_path, box, "disk") == second
    assert second != first


class _FullDisk:
    """A temporary file on a disk that fills up after `room` bytes."""

    def __init__(self, real, room: int) -> None:
        self.real = real
        self.room = room

    def write(self, data: memoryview) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name: str):
        return getattr(self.real, name)


def test_a_full_temporary_folder_is_a_message_naming_it(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real = tempfile.TemporaryFile
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda **kw: _FullDisk(real(**kw), 20_000))
    with pytest.raises(OutputError) as got:
        collect(inbox, spill=True, workers=1)
    assert got.value.path == str(tmp_path)
    assert "临时文件夹无法使用（No space left on device）" in got.value.text.zh
    assert "TMPDIR" in got.value.text.en


def test_a_missing_temporary_folder_stops_collect_with_a_message(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the command line: a sentence, no traceback, and no summary written."""
    gone = tmp_path / "gone"
    monkeypatch.setattr(tempfile, "tempdir", str(gone))
    monkeypatch.setattr(collect_mod, "SPILL_MIN_INPUTS", 1)
    out = tmp_path / "汇总.xlsx"
    got = CliRunner().invoke(cli, ["collect", str(inbox), "-o", str(out), "--no-store"])
    assert isinstance(got.exception, SystemExit), got.exception
    assert got.exit_code == 1  # as every message the command stops with
    assert f"错误: {gone}: 临时文件夹无法使用" in got.output and "临时文件夹无法使用" in got.output
    assert "Traceback" not in got.output and not out.exists()


def test_a_record_read_back_unshared_is_the_same_record(tmp_path):
    """Records read back from disk are unpickled without sharing their texts (`normalize.
    unshared`): the same record, field for field; and sharing is back on afterwards, even
    after a failure."""
    from perfeval_xl.forms import normalize
    from perfeval_xl.office.collect import check_item, find_items

    source = DATA / "national-2020.xlsx"
    if not source.exists():
        pytest.skip("no LibreOffice-saved workbooks in tests/data")
    shutil.copy(source, tmp_path / "a.xlsx")
    (item,), _ = find_items(tmp_path, set())
    blob = pickle.dumps([check_item(item)])
    shared = pickle.loads(blob)
    with normalize.unshared():
        assert not normalize.sharing()
        alone = pickle.loads(blob)
    assert normalize.sharing()
    assert alone[0].record is not None and alone[0].record.indicators
    assert alone[0].record == shared[0].record
    assert alone[0].score == shared[0].score
    # and each is the record as read, every attribute (`Record.__reduce__` names them all)
    read = check_item(item)
    assert alone[0].record == read.record and shared[0].record == read.record
    assert len(read.record.__reduce__()[1]) == len(dataclasses.fields(read.record))
    assert type(alone[0].record.indicators) is list
    with pytest.raises(pickle.UnpicklingError), normalize.unshared():
        pickle.loads(b"not a pickle")
    assert normalize.sharing()


def test_a_field_made_fast_is_a_field():
    """`record.new_field` sets a frozen Field's slots itself (the dataclass's `__init__` is
    twice as slow): the same field, equal, hashed and pickled alike, still frozen, and every
    slot set (a slot added to Field must be added there too)."""
    from perfeval_xl.intake.record import _FIELD_SET, Field, new_field

    assert len(_FIELD_SET) == len(dataclasses.fields(Field)) == len(Field.__slots__)
    args = ("project_name", "项目", " 项目 ", "自评表", "C4")
    fast, plain = new_field(*args), Field(*args)
    assert type(fast) is Field
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert [getattr(fast, f.name) for f in dataclasses.fields(Field)] == list(args)
    assert pickle.dumps(fast) == pickle.dumps(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.value = "改"  # type: ignore[misc]


@pytest.mark.parametrize("on_disk", [False, True])
def test_project_rows_count_as_the_records_and_findings_say(tmp_path, on_disk):
    """项目明细's counts come from each file's `Detail` (made by the worker when records wait on
    disk): 指标数, each 完成状态, 缺偏差原因 (as many as the file's E405 findings), the unit's
    自评得分 per indicator in 绩效指标, checked cell by cell against the record itself."""
    from helpers import INDICATORS, filled

    from perfeval_xl.office.summary import SHEET_INDICATORS, SHEET_PROJECTS

    box = tmp_path / "inbox"
    for n, (status, reason) in enumerate([("已完成", None), ("部分完成", None), ("未完成", "无")]):
        rows = [dict(r) for r in INDICATORS]
        for i in range(n + 1):
            rows[i].update(status=status, reason=reason)
        (box / str(n)).mkdir(parents=True)
        filled(box / str(n), "national-2020", project_name=f"项目{n}", indicators=rows)
    coll = collect(box, spill=on_disk, workers=1)
    assert all(isinstance(s.result, SpilledResult) is on_disk for s in coll.projects)
    wb = openpyxl.load_workbook(io.BytesIO(build_summary(coll, generated=WHEN)))
    ws = wb[SHEET_PROJECTS]
    header = [c.value for c in ws[1]]
    body = {r[header.index("项目名称")]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    for s in coll.projects:
        rec, result = s.result.record, s.result
        row = body[rec.value("project_name")]
        assert row[header.index("指标数")] == len(rec.indicators)
        for status in ("已完成", "部分完成", "未完成"):
            assert row[header.index(status)] == sum(
                ind.value("status") == status for ind in rec.indicators
            )
        assert row[header.index("缺偏差原因")] == sum(f.code == "E405" for f in result.findings)
    assert [body[f"项目{n}"][header.index("缺偏差原因")] for n in range(3)] == [0, 2, 3]
    ws = wb[SHEET_INDICATORS]
    header = [c.value for c in ws[1]]
    got = [
        (r[header.index("项目名称")], r[header.index("序号")], r[header.index("自评得分")])
        for r in ws.iter_rows(min_row=2, values_only=True)
    ]
    want = [
        (s.result.record.value("project_name"), i + 1, x.reported)
        for s in coll.projects
        for i, x in enumerate(s.result.score.indicators)
    ]
    assert sorted(got) == sorted(want) and any(x is not None for *_, x in want)
