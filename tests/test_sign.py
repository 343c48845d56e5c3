"""Tamper evidence (HMAC-SHA256 over the issued values) and encrypted workbooks."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import INDICATORS, ISSUED, fill, named_cell, open_xlsx

from perfeval_xl import OutputError, build_template, load_spec
from perfeval_xl.cli import cli
from perfeval_xl.review.checks import check_workbook
from perfeval_xl.sign import KEY_BYTES, key_id, load_key


@pytest.fixture
def key(tmp_path) -> bytes:
    return load_key(tmp_path / "office.key", create=True)


def signed_filled(tmp_path: Path, key: bytes, change=None, name="filled.xlsx") -> Path:
    spec = load_spec("national-2020")
    wb = open_xlsx(build_template(spec, ISSUED, key=key))
    fill(
        wb,
        {
            "project_code": "P1",
            "goal_expected": "目标",
            "goal_actual": "完成",
            "fund_fiscal_spent": 95,
        },
        INDICATORS,
    )
    if change is not None:
        change(wb)
    path = tmp_path / name
    wb.save(path)
    return path


def codes(path: Path, **kw) -> list[tuple[str, str | None]]:
    return sorted((f.code, f.cell) for f in check_workbook(path, **kw).findings)


def test_key_file_is_created_owner_only_and_reused(tmp_path):
    path = tmp_path / "office.key"
    first = load_key(path, create=True)
    assert len(first) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, create=True) == first  # never overwritten
    assert load_key(path) == first


@pytest.mark.parametrize("content", ["", "not hex", "abcd"])
def test_bad_key_file(tmp_path, content):
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(OutputError):
        load_key(path)


def test_signature_is_in_the_workbook_and_the_key_is_not(key):
    data = build_template(load_spec("national-2020"), ISSUED, key=key)
    wb = open_xlsx(data)
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["key_id"] == key_id(key) and len(meta["signature"]) == 64
    assert '"fund_fiscal_budget": "100.000000"' in meta["signed_values"]
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props["perfeval_signature"] == meta["signature"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        everything = b"".join(z.read(n) for n in z.namelist())
    assert key.hex().encode() not in everything and key not in everything


def test_intact_signed_workbook_verifies(tmp_path, key):
    assert codes(signed_filled(tmp_path, key), key=key) == []


def test_changed_issued_value_is_named_even_without_protection(tmp_path, key):
    def tamper(wb):
        wb["自评表"].protection.sheet = False
        named_cell(wb, "pe_fund_fiscal_budget").value = 150
        named_cell(wb, "pe_unit_name").value = "别的单位"

    path = signed_filled(tmp_path, key, tamper)
    result = check_workbook(path, key=key)
    e703 = [(f.field, f.cell) for f in result.findings if f.code == "E703"]
    assert e703 == [("unit_name", "B6"), ("fund_fiscal_budget", "F9")]
    budget = next(
        f for f in result.findings if f.field == "fund_fiscal_budget" and f.code == "E703"
    )
    assert (
        budget.message.render("zh")
        == "财政部门下发的「当年财政拨款全年预算数」被改动：下发时为「100.00」，现为「150.00」"
    )
    assert "W012" in [f.code for f in result.findings]


def test_missing_damaged_and_foreign_signatures(tmp_path, key):
    from helpers import filled

    unsigned = filled(tmp_path, "national-2020")
    assert [f.code for f in check_workbook(unsigned, key=key).findings] == ["E701"]

    def damage(wb):
        for row in wb["_meta"].iter_rows():
            if row[0].value == "signed_values":
                row[1].value = "{not json"

    assert codes(signed_filled(tmp_path, key, damage, "d.xlsx"), key=key) == [("E701", None)]

    def forge(wb):  # edit the signed copy itself: the HMAC no longer matches
        for row in wb["_meta"].iter_rows():
            if row[0].value == "signed_values":
                row[1].value = row[1].value.replace("100.000000", "150.000000")

    assert codes(signed_filled(tmp_path, key, forge, "f.xlsx"), key=key) == [("E702", None)]
    other = load_key(tmp_path / "other.key", create=True)
    result = check_workbook(signed_filled(tmp_path, key, None, "o.xlsx"), key=other)
    assert [f.code for f in result.findings] == ["E702"]
    assert "another key" in result.findings[0].message.render("en")


def test_without_key_the_output_says_so_once(tmp_path, key):
    a = signed_filled(tmp_path, key, None, "a.xlsx")
    b = signed_filled(tmp_path, key, None, "b.xlsx")
    result = CliRunner().invoke(cli, ["--lang", "en", "check", str(a), str(b)])
    assert result.exit_code == 0
    assert result.output.count("not verified") == 1
    assert "note: 2 signed workbook(s) not verified: no --key given" in result.output
    result = CliRunner().invoke(
        cli, ["--lang", "en", "check", "--key", str(tmp_path / "office.key"), str(a)]
    )
    assert result.exit_code == 0 and "not verified" not in result.output


def test_template_and_collect_with_key(tmp_path):
    keyfile = tmp_path / "k" / "office.key"
    keyfile.parent.mkdir()
    out = tmp_path / "blank.xlsx"
    result = CliRunner().invoke(cli, ["template", "--key", str(keyfile), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    box = tmp_path / "inbox"
    box.mkdir()
    key = load_key(keyfile)

    def tamper(wb):
        named_cell(wb, "pe_fund_fiscal_budget").value = 150

    signed_filled(box, key, tamper)
    result = CliRunner().invoke(
        cli,
        [
            "--lang",
            "en",
            "collect",
            str(box),
            "-o",
            str(tmp_path / "s.xlsx"),
            "--key",
            str(keyfile),
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("1 projects read, 0 files unreadable; 1 errors")


def test_signature_survives_libreoffice(tmp_path, key):
    """LibreOffice re-saves the file (very hidden → hidden, styles renumbered): no false alarm."""
    from soffice import convert

    path = signed_filled(tmp_path, key)
    (resaved,) = convert([path], "xlsx", tmp_path / "lo", tmp_path / "profile")
    assert [f.code for f in check_workbook(resaved, key=key).findings] == []


@pytest.fixture
def encrypted(tmp_path) -> Path:
    import msoffcrypto.format.ooxml
    from helpers import filled

    plain = filled(tmp_path, "national-2020")
    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(plain.read_bytes())).encrypt("口令123", out)
    path = tmp_path / "encrypted.xlsx"
    path.write_bytes(out.getvalue())
    return path


def test_encrypted_workbook_with_and_without_password(encrypted, tmp_path):
    assert [f.code for f in check_workbook(encrypted).findings] == ["E003"]
    assert [f.code for f in check_workbook(encrypted, password="wrong").findings] == ["E704"]
    result = check_workbook(encrypted, password="口令123")
    assert result.findings == [] and result.record.value("project_name") == "2022年媒体合作项目"
    secret = tmp_path / "pw.txt"
    secret.write_text("口令123\n", "utf-8")
    cli_result = CliRunner().invoke(cli, ["check", "--password-file", str(secret), str(encrypted)])
    assert cli_result.exit_code == 0, cli_result.output


def test_encrypted_workbook_in_a_zip_attachment(encrypted, tmp_path):
    from perfeval_xl.office.collect import collect

    box = tmp_path / "box"
    box.mkdir()
    with zipfile.ZipFile(box / "a.zip", "w") as z:
        z.write(encrypted, "inner.xlsx")
    coll = collect(box, password="口令123", workers=1)
    assert [s.item.source for s in coll.projects] == ["a.zip/inner.xlsx"]


def test_a_batch_verifies_signatures_and_opens_encrypted_files_on_every_core(
    tmp_path, key, encrypted
):
    """The office's key and the open password reach every process that checks files: a batch
    big enough for the pool verifies each signature (here one file tampered with) and opens
    each encrypted workbook, as one file alone does."""
    import shutil

    from perfeval_xl.office.collect import POOL_MIN_FILES, collect

    def tamper(wb):
        named_cell(wb, "pe_fund_fiscal_budget").value = 150

    box = tmp_path / "box"
    box.mkdir()
    for i in range(POOL_MIN_FILES * 2):
        folder = tmp_path / f"f{i}"
        folder.mkdir()
        path = signed_filled(folder, key, tamper if i == 5 else None, f"{i:02}.xlsx")
        shutil.copy(path, box / path.name)
    shutil.copy(encrypted, box / "加密.xlsx")
    coll = collect(box, key=key, password="口令123", workers=2)
    # (the copies are one project, so all but the newest are also W601: not looked at here)
    by_file = {
        s.item.source: [f.code for f in s.result.findings if f.code[:2] in ("E0", "E7")]
        for s in coll.submissions
    }
    assert by_file.pop("05.xlsx") == ["E703"]
    assert by_file.pop("加密.xlsx") == ["E701"]  # opened (no E003), and found unsigned
    assert len(by_file) == POOL_MIN_FILES * 2 - 1
    assert all(codes == [] for codes in by_file.values())


# -- `--key` naming something that is not a key file (issue 15) --------------------------------

_LOAD_KEY = """
import sys
from perfeval_xl import OutputError
from perfeval_xl.sign import load_key
try:
    load_key(sys.argv[1], create=sys.argv[2] == "create")
except OutputError as exc:
    print(exc.render("en"))
    sys.exit(3)
"""


def _special(tmp_path: Path, kind: str) -> Path:
    if kind == "device":
        return Path("/dev/zero")
    if kind == "fifo":  # nobody writes to it: a plain open() waits forever
        import os

        path = tmp_path / "office.key"
        os.mkfifo(path)
        return path
    path = tmp_path / "keys"
    path.mkdir()
    return path


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="POSIX only")
@pytest.mark.parametrize(
    ("kind", "exp"),
    [
        ("device", "not a regular file (a device, pipe or socket), so not a key file"),
        ("fifo", "not a regular file (a device, pipe or socket), so not a key file"),
        ("folder", "is a folder, not a key file"),
    ],
)
@pytest.mark.parametrize("create", ["create", "read"])
def test_key_that_is_no_file_fails_at_once(tmp_path, kind, exp, create):
    import subprocess
    import sys

    path = _special(tmp_path, kind)
    # in a child with a timeout: a regression must fail, not hang the test run
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_KEY, str(path), create],
        capture_output=True,
        text=True,
        timeout=10,
        cwd=tmp_path,  # not the repository: the installed package, as users run it
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == f"{path}: {exp}\n"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="POSIX only")
@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_template_key_dev_zero_or_fifo_is_a_clean_error(tmp_path, kind):
    import subprocess
    import sys

    path = _special(tmp_path, kind)
    proc = subprocess.run(
        [sys.executable, "-m", "perfeval_xl", "--lang", "en", "template", "--key", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Error: {path}: not a regular file (a device, pipe or socket), so not a key file\n"
    )
    assert not (tmp_path / "national-2020.xlsx").exists()


def test_key_file_too_large(tmp_path):
    path = tmp_path / "office.key"
    path.write_text("ab" * 32 + "\n" + " " * 5000)
    with pytest.raises(OutputError) as err:
        load_key(path)
    assert err.value.render("en") == (f"{path}: too large (over 4096 bytes) for a key file")
    path.write_text("ab" * 32 + "\n" + " " * 4000)  # a little trailing space is still a key
    assert load_key(path) == bytes.fromhex("ab" * 32)


def test_key_folder_in_the_cli(tmp_path, key):
    folder = tmp_path / "keys"
    folder.mkdir()
    result = CliRunner().invoke(
        cli, ["--lang", "en", "template", "--key", str(folder), "-o", str(tmp_path / "a.xlsx")]
    )
    assert result.exit_code == 2  # click's own check of --key (dir_okay=False)
    assert "is a directory" in result.output
