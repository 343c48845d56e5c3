"""`check` takes what `collect` takes (issue 16, points 2 and 3): a folder (searched as
`collect` searches an inbox), a .zip attachment (its workbooks checked in memory), and .zip
member names written by a Chinese Windows in GBK without the UTF-8 flag, shown decoded.

Each case is built the way it arises: a unit's e-mail attachment zipped by 360压缩 / WinRAR /
Windows on a Chinese system (names in GBK, flag 0x800 clear: `helpers.legacy_zip`), a clerk's
inbox folder with subfolders, attachments and scans in it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import filled, legacy_zip
from test_inbox import _as_nobody, _cli_run, shared_dir  # noqa: F401 - a fixture

from perfeval_xl.cli import cli
from perfeval_xl.office.collect import member_name

#: 第一小学/项目.xlsx as a Chinese Windows stores it in a .zip: GBK bytes, no UTF-8 flag.
GBK_MEMBER = "第一小学/项目.xlsx".encode("gbk")
#: What zipfile makes of those bytes (CP437), shown to the clerk before issue 16.
MOJIBAKE = GBK_MEMBER.decode("cp437")
NOT_A_WORKBOOK_ZH = "不是 Excel 工作簿"


def run(*args: str, lang: str = "zh"):
    result = CliRunner().invoke(cli, ["--lang", lang, *args], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def gbk_zip(tmp_path) -> Path:
    """附件.zip from a Chinese Windows: 第一小学/项目.xlsx (a clean filled form) and 说明.txt,
    both named in GBK without the UTF-8 flag."""
    stage = tmp_path / "stage"
    stage.mkdir()
    form = filled(stage, project_name="第一小学项目")
    box = tmp_path / "box"
    box.mkdir()
    return legacy_zip(
        box / "附件.zip", {GBK_MEMBER: form, "说明.txt".encode("gbk"): "请查收".encode("gbk")}
    )


# -- 3. member names from a Chinese Windows ----------------------------------------------------
def test_the_zip_is_built_as_windows_writes_it(gbk_zip):
    with zipfile.ZipFile(gbk_zip) as z:
        names = [i.filename for i in z.infolist()]
    assert names[0] == MOJIBAKE and names[0] != "第一小学/项目.xlsx"  # what zipfile shows


def test_member_names_are_decoded():
    def info(raw: bytes, flags: int = 0) -> zipfile.ZipInfo:
        i = zipfile.ZipInfo(raw.decode("utf-8" if flags & 0x800 else "cp437"))
        i.flag_bits = flags
        return i

    assert member_name(info(GBK_MEMBER)) == "第一小学/项目.xlsx"
    # a name stored with the flag is zipfile's own; ASCII reads the same either way
    assert member_name(info("单位/项目.xlsx".encode(), 0x800)) == "单位/项目.xlsx"
    assert member_name(info(b"unit/p.xlsx")) == "unit/p.xlsx"
    # UTF-8 without the flag (macOS' Archive Utility) is UTF-8, not GB18030 mojibake
    assert member_name(info("第一小学.xlsx".encode())) == "第一小学.xlsx"
    # bytes that are no GB18030 stay CP437, as zipfile has them
    assert member_name(info(b"\xff\xfe.xlsx")) == b"\xff\xfe.xlsx".decode("cp437")


def test_collect_shows_decoded_member_names(gbk_zip, tmp_path):
    box = gbk_zip.parent
    out, js = tmp_path / "汇总.xlsx", tmp_path / "c.json"
    result = run("collect", str(box), "-q", "-o", str(out), "--json", str(js), lang="en")
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text("utf-8"))
    assert [e["source"] for e in doc["files"]] == ["附件.zip/第一小学/项目.xlsx"]
    assert [e["path"] for e in doc["files"]] == ["附件.zip/第一小学/项目.xlsx"]
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [("W605", "附件.zip/说明.txt")]
    assert MOJIBAKE not in js.read_text("utf-8")


def test_check_of_the_zip_shows_decoded_member_names(gbk_zip):
    result = run("check", str(gbk_zip))
    assert result.exit_code == 0, result.output
    shown = f"{gbk_zip}/第一小学/项目.xlsx"
    assert result.output.splitlines()[0].startswith(f"{shown}  （national-2020，")
    assert f"  警告     W605  {gbk_zip}/说明.txt" in result.output
    doc = json.loads(run("check", "--format", "json", str(gbk_zip)).output)
    assert [e["path"] for e in doc["files"]] == [shown]
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [("W605", f"{gbk_zip}/说明.txt")]
    assert MOJIBAKE not in result.output


def test_an_unsafe_gbk_name_is_refused_by_its_decoded_name(tmp_path):
    form = filled(tmp_path)
    box = tmp_path / "box"
    box.mkdir()
    legacy_zip(box / "a.zip", {"../第一小学.xlsx".encode("gbk"): form})
    result = run("check", "--format", "json", str(box / "a.zip"), lang="en")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["files"] == []
    (f,) = doc["findings"]
    assert (f["code"], f["file"]) == ("E005", str(box / "a.zip"))
    assert "'../第一小学.xlsx'" in f["message"]
    assert not (tmp_path / "第一小学.xlsx").exists()


# -- 2. check takes folders and .zip attachments -----------------------------------------------
@pytest.fixture
def inbox(tmp_path) -> Path:
    """收件箱: a unit's folder, a .zip attachment, a scan; one workbook with an error."""
    box = tmp_path / "收件箱"
    (box / "单位A").mkdir(parents=True)
    filled(box / "单位A", project_name="项目A")
    stage = tmp_path / "stage"
    stage.mkdir()
    with zipfile.ZipFile(box / "附件.zip", "w") as z:
        z.write(filled(stage, "sichuan-2022", project_name="项目B"), "单位B/项目.xlsx")
    (box / "单位A" / "扫描件.pdf").write_bytes(b"%PDF-1.4\n")
    (box / "Thumbs.db").write_bytes(b"\x00")  # litter: never a finding
    return box


def test_check_a_folder_json(inbox, monkeypatch):
    monkeypatch.chdir(inbox.parent)
    result = run("check", "--format", "json", "收件箱", lang="en")
    assert result.exit_code == 0, result.output  # W605 is a warning
    doc = json.loads(result.output)
    assert list(doc) == ["files", "findings", "totals"]
    assert [(e["path"], e["form"]) for e in doc["files"]] == [
        ("收件箱/附件.zip/单位B/项目.xlsx", "sichuan-2022"),  # the folder's files, then its folders
        ("收件箱/单位A/national-2020.xlsx", "national-2020"),
    ]
    assert [e["project"]["project_name"] for e in doc["files"]] == ["项目B", "项目A"]
    assert doc["findings"] == [
        {
            "code": "W605",
            "severity": "warning",
            "file": "收件箱/单位A/扫描件.pdf",
            "sheet": None,
            "cell": None,
            "field": None,
            "message": "not an Excel workbook: not read",
        }
    ]
    assert doc["totals"] == {"files": 2, "errors": 0, "warnings": 1}
    assert run("check", "--strict", "收件箱").exit_code == 1  # the W605 counts


def test_check_a_folder_text(inbox, monkeypatch):
    monkeypatch.chdir(inbox)
    result = run("check", ".")  # the folder's own name is left out, as click leaves out "./"
    assert result.exit_code == 0, result.output
    assert result.output == (
        "附件.zip/单位B/项目.xlsx  （sichuan-2022，5 个指标，计算得分 99.51，优（核定））\n"
        "单位A/national-2020.xlsx  （national-2020，5 个指标，自评总分 99.50，核定总分 99.50，优（核定））\n"
        "未检查：\n"
        "  警告     W605  单位A/扫描件.pdf  不是 Excel 工作簿，未读取\n"
        "2 个文件，0 个错误，1 个警告\n"
    )


def test_folder_errors_count_in_the_exit_code(inbox):
    (inbox / "单位A" / "坏的.zip").write_bytes(b"PK\x03\x04 not really")
    filled(inbox, fund_fiscal_spent=120)  # 收件箱/national-2020.xlsx: E301 twice
    result = run("check", "--format", "json", str(inbox), lang="en")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert [(e["path"], e["errors"]) for e in doc["files"]] == [
        (f"{inbox}/national-2020.xlsx", 2),
        (f"{inbox}/附件.zip/单位B/项目.xlsx", 0),
        (f"{inbox}/单位A/national-2020.xlsx", 0),
    ]
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [
        ("E001", f"{inbox}/单位A/坏的.zip"),
        ("W605", f"{inbox}/单位A/扫描件.pdf"),
    ]
    assert doc["totals"] == {"files": 3, "errors": 3, "warnings": 1}
    # only the broken .zip: an error about the folder alone fails the run too
    os.remove(inbox / "national-2020.xlsx")
    assert run("check", str(inbox)).exit_code == 1


def test_files_folders_and_zips_together_in_the_order_given(inbox, tmp_path):
    one = filled(tmp_path)
    result = run(
        "check", "--format", "json", str(inbox / "附件.zip"), str(one), str(inbox), lang="en"
    )
    doc = json.loads(result.output)
    assert [e["path"] for e in doc["files"]] == [
        f"{inbox}/附件.zip/单位B/项目.xlsx",
        str(one),
        f"{inbox}/附件.zip/单位B/项目.xlsx",
        f"{inbox}/单位A/national-2020.xlsx",
    ]
    assert [f["file"] for f in doc["findings"]] == [f"{inbox}/单位A/扫描件.pdf"]


def test_a_big_folder_is_checked_like_a_small_one(tmp_path):
    """Enough files for collect's process pool: the same results, in find_items' order."""
    box = tmp_path / "box"
    box.mkdir()
    clean = filled(tmp_path).read_bytes()
    for i in range(12):
        (box / f"p{i:02d}.xlsx").write_bytes(clean)
    doc = json.loads(run("check", "--format", "json", str(box)).output)
    assert [e["path"] for e in doc["files"]] == [f"{box}/p{i:02d}.xlsx" for i in range(12)]
    assert {json.dumps(e["project"]) for e in doc["files"]} == {
        json.dumps(doc["files"][0]["project"])
    }
    assert doc["totals"] == {"files": 12, "errors": 0, "warnings": 0}


def test_check_of_a_zip_never_says_not_a_workbook(tmp_path):
    form = filled(tmp_path)
    attachment = tmp_path / "附件.zip"
    with zipfile.ZipFile(attachment, "w") as z:
        z.write(form, "单位/项目.xlsx")
    for lang in ("zh", "en"):
        result = run("check", str(attachment), lang=lang)
        assert result.exit_code == 0, result.output
        assert NOT_A_WORKBOOK_ZH not in result.output
        assert "not an Excel workbook" not in result.output
        assert result.output.startswith(f"{attachment}/单位/项目.xlsx  ")
    doc = json.loads(run("check", "--format", "json", str(attachment)).output)
    assert [e["findings"] for e in doc["files"]] == [[]]
    assert doc["findings"] == []


def test_a_damaged_zip_says_so_and_fails(tmp_path):
    attachment = tmp_path / "附件.zip"
    attachment.write_bytes(b"PK\x03\x04 not really")
    result = run("check", str(attachment), lang="en")
    assert result.exit_code == 1
    assert result.output == (
        "not checked:\n"
        f"  error    E001  {attachment}  the archive is damaged or incomplete: nothing in it was "
        "read; send the .xlsx files themselves, or zip them again\n"
        "0 files, 1 error, 0 warnings\n"
    )


def test_one_plain_file_is_checked_as_before(tmp_path):
    """No `findings` key and no group of its own: the output of a file is what it always was."""
    path = filled(tmp_path, fund_fiscal_spent=120)
    doc = json.loads(run("check", "--format", "json", str(path)).output)
    assert list(doc) == ["files", "totals"]
    assert doc["totals"] == {"files": 1, "errors": 2, "warnings": 0}
    text = run("check", str(path)).output
    assert text.splitlines()[0].startswith(f"{path}  （national-2020，")
    assert "未检查" not in text and text.endswith("1 个文件，2 个错误，0 个警告\n")


def test_an_unreadable_subfolder_is_e607_in_check(shared_dir):  # noqa: F811 - the fixture
    box = shared_dir / "inbox"
    (box / "锁住的").mkdir(parents=True)
    box.chmod(0o755)
    filled(box).chmod(0o644)
    (box / "锁住的").chmod(0o000)
    code, output = _as_nobody(_cli_run, "check", "--format", "json", str(box))
    assert code == 1, output
    doc = json.loads(output)
    assert [e["path"] for e in doc["files"]] == [f"{box}/national-2020.xlsx"]
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [("E607", f"{box}/锁住的")]
