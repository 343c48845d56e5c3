"""Any file gets an answer, never a traceback: every kind of bad file a unit may send, end to end.

`test_safety.py` checks the gate's wording on bytes; here each bad file goes through
`check_workbook` and the `check` command as a file on disk, and must give exactly one finding
that names the file, leave no record, and leave the file untouched. Every file is built in
`tmp_path`; nothing binary is committed.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from badfiles import (
    MIB,
    OLE_MAGIC,
    encrypted,
    ods,
    ole,
    plain_zip,
    with_forged_size,
    with_zeros_entry,
)
from click.testing import CliRunner
from helpers import HEADER, filled, with_parts
from openpyxl.cell.cell import Cell

from perfeval_xl import build_template, load_spec
from perfeval_xl.cli import cli
from perfeval_xl.findings import RULES
from perfeval_xl.intake import safety
from perfeval_xl.office.report import format_text
from perfeval_xl.review.checks import CheckResult, check_workbook

#: An mtime far in the past, set on every input so that any write would show.
OLD_MTIME_NS = 1_600_000_000 * 10**9


@dataclass(frozen=True)
class Sources:
    """What bad files are made from: a blank template and a clean filled workbook."""

    template: bytes
    good: bytes


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    good = filled(tmp_path_factory.mktemp("filled")).read_bytes()
    return Sources(build_template(load_spec("national-2020")), good)


# -- building bad files ------------------------------------------------------------------------
def rewrite(data: bytes, edits: dict[str, Callable[[str | None], str]]) -> bytes:
    """`data` with each part in `edits` replaced by `edit(old text)`; a missing part is added
    as `edit(None)`. Everything else is copied as it is (`helpers.with_parts`, as text)."""

    def as_text(edit: Callable[[str | None], str]) -> Callable[[bytes | None], bytes]:
        return lambda raw: edit(None if raw is None else raw.decode("utf-8")).encode("utf-8")

    return with_parts(data, {part: as_text(edit) for part, edit in edits.items()})


def add_entries(data: bytes, entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as dst:
        for name, raw in entries.items():
            dst.writestr(name, raw)
    return out.getvalue()


def openpyxl_workbook() -> bytes:
    """A tidy workbook that was not made from our template: no form id anywhere."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "自评表"
    ws.append(["项目名称", "2022年媒体合作项目"])
    ws.append(["预算数", 100])
    out = io.BytesIO()
    wb.save(out)
    wb.close()
    return out.getvalue()


def unknown_form(template: bytes) -> bytes:
    """The template with its form id (custom property and `_meta` sheet) changed."""
    parts = ("docProps/custom.xml", "xl/sharedStrings.xml")
    edits = {p: (lambda text: text.replace("national-2020", "no-such-form")) for p in parts}
    return rewrite(template, edits)


# -- XML entity tricks -------------------------------------------------------------------------
#: Billion laughs, five levels deep (10⁵ × "lol"): the shape of the attack, but harmless even if
#: a parser ever expanded it, so a regression fails the test instead of exhausting the machine.
def laughs(depth: int) -> str:
    decls = ['<!ENTITY lol0 "lol">']
    for i in range(1, depth + 1):
        ref = f"&lol{i - 1};"
        decls.append(f'<!ENTITY lol{i} "{ref * 10}">')
    return f"<!DOCTYPE lolz [{''.join(decls)}]>"


LAUGHS = laughs(5)
XXE = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
PASSWD_MARKERS = ("root:", "/bin/", "nologin")
PROJECT_CELL = f"<t>{HEADER['project_name']}</t>"
CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"
SHARED_STRINGS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{doctype}'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
    'uniqueCount="1"><si><t>{text}</t></si></sst>'
)


def with_doctype(text: str, doctype: str) -> str:
    """`doctype` inserted after the XML declaration (or at the start if there is none)."""
    if text.startswith("<?xml"):
        end = text.index("?>") + 2
        return text[:end] + doctype + text[end:]
    return doctype + text


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def entity_in_part(part: str, doctype: str, old: str | None = None, new: str = ""):
    """Build: the filled workbook with `doctype` in `part` and `old` replaced by `new`."""

    def build(src: Sources) -> bytes:
        def edit(text: str | None) -> str:
            assert text is not None
            text = with_doctype(text, doctype)
            return text if old is None else replace_once(text, old, new)

        return rewrite(src.good, {part: edit})

    return build


def shared_strings_workbook(good: bytes, doctype: str, text: str) -> bytes:
    """The filled workbook with the project name moved into a new `xl/sharedStrings.xml` (as
    Excel and WPS save it: openpyxl writes inline strings), registered in the content types
    and the workbook's relationships, holding `text` after `doctype`."""
    return rewrite(
        good,
        {
            "xl/sharedStrings.xml": lambda _: SHARED_STRINGS.format(doctype=doctype, text=text),
            "[Content_Types].xml": lambda t: replace_once(
                t,
                "</Types>",
                '<Override PartName="/xl/sharedStrings.xml" '
                f'ContentType="{CT_MAIN}.sharedStrings+xml" /></Types>',
            ),
            "xl/_rels/workbook.xml.rels": lambda t: replace_once(
                t,
                "</Relationships>",
                '<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                'relationships/sharedStrings" Target="sharedStrings.xml" Id="rId99" />'
                "</Relationships>",
            ),
            "xl/worksheets/sheet1.xml": lambda t: replace_once(
                t, f'"inlineStr"><is>{PROJECT_CELL}</is>', '"s"><v>0</v>'
            ),
        },
    )


# -- the table ---------------------------------------------------------------------------------
ENTITY = ("E006",)  # refused as unsafe XML

#: kind → (file name, how to build it, acceptable codes). Each gives exactly one finding.
#: The entity cases: openpyxl parses with defusedxml, which raises EntitiesForbidden, and
#: openpyxl re-raises it as "ValueError: Unable to read workbook: could not read <part> …";
#: the reader finds the defusedxml error along the chain of causes and answers E006 for every
#: part (sheet1.xml, sharedStrings.xml, workbook.xml, docProps/custom.xml,
#: [Content_Types].xml). None of them ever yields a record.
CASES: dict[str, tuple[str, Callable[[Sources], bytes], tuple[str, ...]]] = {
    "empty": ("unit.xlsx", lambda s: b"", ("E001",)),
    "random-bytes": ("unit.xlsx", lambda s: random.Random(7).randbytes(4096), ("E001",)),
    "csv-text-as-xlsx": ("unit.xlsx", lambda s: b"project,budget\r\nroad,100\r\n" * 30, ("E001",)),
    "gbk-text-as-xlsx": (
        "unit.xlsx",
        lambda s: "项目名称,预算数,执行数\n道路维修,114.56,100\n".encode("gbk") * 30,
        ("E001",),
    ),
    "truncated-half": ("unit.xlsx", lambda s: s.template[: len(s.template) // 2], ("E001",)),
    "truncated-100-bytes": ("unit.xlsx", lambda s: s.template[:100], ("E001",)),
    "xls": ("unit.xls", lambda s: ole("Root Entry", "Workbook"), ("E002",)),
    "et": ("unit.et", lambda s: ole("Root Entry", "Workbook"), ("E002",)),
    "ods": ("unit.ods", lambda s: ods(), ("E002",)),
    "xlsb": (
        "unit.xlsb",
        lambda s: plain_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\0"}),
        ("E002",),
    ),
    "csv": ("unit.csv", lambda s: "项目名称,预算数\n道路,1\n".encode("gbk"), ("E002",)),
    "xlsm-renamed-template": ("unit.xlsm", lambda s: s.template, ("E004",)),
    "vba-inside-xlsx": (
        "unit.xlsx",
        lambda s: add_entries(s.good, {"xl/vbaProject.bin": OLE_MAGIC + bytes(1024)}),
        ("E004",),
    ),
    "encrypted": ("unit.xlsx", lambda s: encrypted(s.good), ("E003",)),
    "zip-bomb-60mib-entry": (
        "unit.xlsx",
        lambda s: with_zeros_entry(s.good, "xl/worksheets/sheet9.xml", 60 * MIB),
        ("E005",),
    ),
    # a part that declares 5,000 bytes and inflates to 20 MiB: the limits above see 5,000
    "zip-bomb-forged-size": (
        "unit.xlsx",
        lambda s: with_forged_size(
            with_zeros_entry(s.good, "xl/worksheets/sheet9.xml", 20 * MIB),
            "xl/worksheets/sheet9.xml",
            5000,
        ),
        ("E005",),
    ),
    "zip-too-many-entries": (
        "unit.xlsx",
        lambda s: plain_zip(
            {f"xl/media/{i}.txt": b"" for i in range(safety.MAX_MEMBERS + 1)}, zipfile.ZIP_STORED
        ),
        ("E005",),
    ),
    "entry-dotdot": (
        "unit.xlsx",
        lambda s: add_entries(s.good, {"../evil.xml": b"<x/>"}),
        ("E005",),
    ),
    "zip-not-a-workbook": (
        "unit.xlsx",
        lambda s: plain_zip({"readme.txt": b"hello", "data/1.csv": b"a,b\n"}),
        ("E001",),
    ),
    "plain-openpyxl-workbook": ("unit.xlsx", lambda s: openpyxl_workbook(), ("E007",)),
    "lock-file": ("~$x.xlsx", lambda s: b"\x0cZhang San".ljust(165, b" "), ("W009",)),
    "unknown-form-id": ("unit.xlsx", lambda s: unknown_form(s.template), ("E008",)),
    # (a) billion laughs in the main sheet, expanded inside the project name cell.
    "entity-laughs-sheet1": (
        "unit.xlsx",
        entity_in_part("xl/worksheets/sheet1.xml", LAUGHS, PROJECT_CELL, "<t>&lol5;</t>"),
        ENTITY,
    ),
    # The external entity in an inline string of the sheet (what openpyxl itself writes).
    "entity-xxe-sheet1-inline-string": (
        "unit.xlsx",
        entity_in_part("xl/worksheets/sheet1.xml", XXE, PROJECT_CELL, "<t>&x;</t>"),
        ENTITY,
    ),
    # (b) the external entity as the shared string the project name cell points at.
    "entity-xxe-sharedStrings": (
        "unit.xlsx",
        lambda s: shared_strings_workbook(s.good, XXE, "&x;"),
        ENTITY,
    ),
    # (c) a DOCTYPE declaring the external entity in the workbook part.
    "entity-xxe-workbook": ("unit.xlsx", entity_in_part("xl/workbook.xml", XXE), ENTITY),
    # (d) the same in the custom properties, used as the form id (so a resolved entity would
    # come back in an E008 message), and in the content types.
    "entity-xxe-custom-properties": (
        "unit.xlsx",
        entity_in_part(
            "docProps/custom.xml",
            XXE,
            "<vt:lpwstr>national-2020</vt:lpwstr>",
            "<vt:lpwstr>&x;</vt:lpwstr>",
        ),
        ENTITY,
    ),
    "entity-xxe-content-types": ("unit.xlsx", entity_in_part("[Content_Types].xml", XXE), ENTITY),
}
ENTITY_KINDS = [kind for kind, case in CASES.items() if case[2] == ENTITY]


def write_input(path: Path, data: bytes) -> tuple[bytes, int]:
    """Write an input file with an old mtime; return what must still be there afterwards."""
    path.write_bytes(data)
    os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    return data, path.stat().st_mtime_ns


def assert_untouched(path: Path, before: tuple[bytes, int]) -> None:
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before, f"{path} was modified"


def build(tmp_path: Path, sources: Sources, kind: str) -> tuple[Path, tuple[bytes, int]]:
    name, make, _ = CASES[kind]
    path = tmp_path / name
    return path, write_input(path, make(sources))


def texts(result: CheckResult) -> str:
    return "\n".join(f.message.render(lang) for f in result.findings for lang in ("zh", "en"))


@pytest.mark.parametrize("kind", list(CASES), ids=list(CASES))
def test_bad_file_gets_one_finding(tmp_path, sources, kind):
    path, before = build(tmp_path, sources, kind)
    listing = sorted(tmp_path.iterdir())

    result = check_workbook(path)  # must not raise

    codes = CASES[kind][2]
    assert [f.code for f in result.findings] in [[code] for code in codes], texts(result)
    (found,) = result.findings
    assert found.severity == RULES[found.code].severity
    assert found.file == str(path)
    assert result.path == str(path)
    assert found.message.render("zh").strip()
    assert found.message.render("en").strip()
    assert result.record is None
    assert_untouched(path, before)
    assert sorted(tmp_path.iterdir()) == listing  # nothing extracted or left beside it


@pytest.mark.parametrize("kind", ENTITY_KINDS, ids=ENTITY_KINDS)
def test_entity_is_never_resolved(tmp_path, sources, kind):
    """Whatever the code, /etc/passwd never comes back, neither in a record nor a message."""
    path, _ = build(tmp_path, sources, kind)
    result = check_workbook(path)
    shown = texts(result) + json.dumps(result.to_dict("en"), ensure_ascii=False)
    assert not any(marker in shown for marker in PASSWD_MARKERS), shown
    assert "lollol" not in shown


def test_entity_cases_are_real(tmp_path, sources):
    """Controls: without the DOCTYPE, each rewrite still reads cleanly, so the entity cases fail
    because of the entity alone (and the shared-strings part is really read)."""
    controls = {
        "sheet1": entity_in_part("xl/worksheets/sheet1.xml", "", PROJECT_CELL, PROJECT_CELL),
        "workbook": entity_in_part("xl/workbook.xml", ""),
        "custom": entity_in_part("docProps/custom.xml", ""),
        "content-types": entity_in_part("[Content_Types].xml", ""),
        "sharedStrings": lambda s: shared_strings_workbook(s.good, "", "共享字符串里的项目"),
    }
    for name, make in controls.items():
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(make(sources))
        result = check_workbook(path)
        assert [f.code for f in result.findings] == [], (name, texts(result))
        assert result.record is not None
    shared = check_workbook(tmp_path / "sharedStrings.xlsx").record
    assert shared.fields["project_name"].value == "共享字符串里的项目"


# -- a batch through the command line ----------------------------------------------------------
BATCH_BAD = ["empty", "xls", "lock-file", "encrypted", "entity-xxe-custom-properties"]


@pytest.fixture
def batch(tmp_path, sources) -> list[Path]:
    """A good workbook, the bad ones, another good one, in that order, each in its own folder
    (names repeat) and each recorded so that the test can check it was not modified."""
    paths = []
    kinds = ["good-1", *BATCH_BAD, "good-2"]
    for i, kind in enumerate(kinds):
        folder = tmp_path / f"{i:02d}"
        folder.mkdir()
        if kind.startswith("good"):
            path = folder / "109101_宣传部.xlsx"
            write_input(path, sources.good)
        else:
            path, _ = build(folder, sources, kind)
        paths.append(path)
    return paths


def snapshot(paths: list[Path]) -> list[tuple[bytes, int]]:
    return [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]


def test_cli_batch_text(batch):
    before = snapshot(batch)
    result = CliRunner().invoke(cli, ["--lang", "en", "check", *map(str, batch)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    heads = []
    for path in batch:
        starts = [i for i, line in enumerate(lines) if line.startswith(str(path))]
        assert len(starts) == 1, (path, result.output)
        heads.append(starts[0])
    assert heads == sorted(heads), result.output  # in the order given
    sections = [lines[a:b] for a, b in zip(heads, [*heads[1:], len(lines) - 1], strict=True)]
    for i in (0, -1):  # the good files: a header line and nothing else
        assert "national-2020" in sections[i][0]
        assert not any(re.match(r"\s+error\b", line) for line in sections[i]), sections[i]
    finding_line = re.compile(r"\s+(error|warning)\s+[EW]\d{3}\s")
    for section in sections[1:-1]:  # each bad file: its one finding, on one line
        assert sum(bool(finding_line.match(line)) for line in section) == 1, section
    assert re.fullmatch(rf"{len(batch)} files, \d+ errors?, \d+ warnings?", lines[-1]), lines[-1]
    assert lines[-1].startswith(f"{len(batch)} files, {len(BATCH_BAD) - 1} errors, 1 warning")
    assert snapshot(batch) == before


def test_cli_batch_json(batch):
    before = snapshot(batch)
    result = CliRunner().invoke(
        cli, ["--lang", "en", "check", "--format", "json", *map(str, batch)]
    )
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert doc["totals"]["files"] == len(batch)
    assert [entry["path"] for entry in doc["files"]] == [str(p) for p in batch]
    for entry in doc["files"]:
        assert {"path", "form", "project", "findings"} <= entry.keys()
        for f in entry["findings"]:
            assert {"code", "severity", "sheet", "cell", "field", "message"} <= f.keys()
            assert f["message"]
    good = [doc["files"][0], doc["files"][-1]]
    assert [g["form"] for g in good] == ["national-2020"] * 2
    assert [g["findings"] for g in good] == [[], []]
    bad = doc["files"][1:-1]
    assert [e["form"] for e in bad] == [None] * len(BATCH_BAD)
    codes = [[f["code"] for f in e["findings"]] for e in bad]
    assert codes[:-1] == [["E001"], ["E002"], ["W009"], ["E003"]]
    assert len(codes[-1]) == 1 and codes[-1][0] in ENTITY
    assert snapshot(batch) == before


# -- what once were library bugs ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ENTITY_KINDS, ids=ENTITY_KINDS)
def test_entity_tricks_are_refused_as_unsafe_xml(tmp_path, sources, kind):
    path, _ = build(tmp_path, sources, kind)
    assert [f.code for f in check_workbook(path).findings] == ["E006"]


CELL_BUDGET = 200_000


class _OverBudget(BaseException):
    pass


def test_tall_defined_names_are_bounded(tmp_path, sources, monkeypatch):
    """Without timing: count the cells openpyxl creates and stop at a budget far above what a
    real form needs (checking the clean form creates about 600, loading included)."""
    src = tmp_path / "src.xlsx"
    src.write_bytes(sources.good)
    wb = openpyxl.load_workbook(src)
    for name in list(wb.defined_names):
        if name.startswith("pe_ind_"):
            dn = wb.defined_names[name]
            dn.attr_text = re.sub(r"\$\d+$", "$1048576", dn.attr_text)
    path = tmp_path / "tall.xlsx"
    wb.save(path)
    wb.close()
    assert path.stat().st_size < 100 * 1024

    created = 0
    real_init = Cell.__init__

    def counting_init(self, *args, **kwargs):
        nonlocal created
        created += 1
        if created > CELL_BUDGET:
            raise _OverBudget  # a BaseException: no `except Exception` in the reader hides it
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Cell, "__init__", counting_init)
    try:
        result = check_workbook(path)
    except _OverBudget:
        pytest.fail(f"over {CELL_BUDGET:,} cells created for a {path.stat().st_size:,}-byte file")
    assert result.findings  # an answer (E014, E011 …) within the budget


def test_finding_message_is_one_line(tmp_path, sources):
    """Control for the test below: a gate finding is one line of the text report."""
    path, _ = build(tmp_path, sources, "truncated-half")
    result = check_workbook(path)
    assert len(format_text([result], "en").splitlines()) == 3  # file, finding, summary


def test_unparseable_workbook_message_is_one_line(tmp_path, sources):
    def row_unclosed(text: str | None) -> str:
        # A sheet that is not well-formed XML: openpyxl (and the fast reader) cannot read it.
        # (A number cell holding words is one damaged cell now: E019, tests/test_hostile_cells.py.)
        assert text is not None
        assert "</row>" in text
        return text.replace("</row>", "", 1)

    path = tmp_path / "unit.xlsx"
    path.write_bytes(rewrite(sources.good, {"xl/worksheets/sheet1.xml": row_unclosed}))
    result = check_workbook(path)
    assert [f.code for f in result.findings] == ["E001"]
    for lang in ("zh", "en"):
        assert "\n" not in result.findings[0].message.render(lang)
        assert "None" not in result.findings[0].message.render(lang)
        assert "Error" not in result.findings[0].message.render(lang)
    assert len(format_text([result], "en").splitlines()) == 3
