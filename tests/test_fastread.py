"""The fast reader gives the same record and findings as the thorough one, file for file:
every rule case of test_check, every form clean and blank, the seed projects, every bad file
of test_bad_files, and workbooks saved by LibreOffice (tests/data, when present)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import DEPARTMENT_FORMS, FORMS
from helpers import filled, open_xlsx, with_parts
from test_bad_files import CASES as BAD_CASES
from test_bad_files import build
from test_bad_files import sources as sources
from test_check import CASES as RULE_CASES
from test_hostile_cells import CASES as HOSTILE_CELLS
from test_seed import filled_seed

from perfeval_xl import seed_projects
from perfeval_xl.intake.fastread import FastBook
from perfeval_xl.intake.read import ReadResult, read_workbook

DATA = Path(__file__).parent / "data"
LO_FILES = sorted(DATA.glob("*.xlsx")) if DATA.is_dir() else []


def outcome(result: ReadResult) -> tuple:
    """Everything a reader answers, as comparable plain data."""
    findings = [
        (
            f.code,
            f.severity,
            f.file,
            f.sheet,
            f.cell,
            f.field,
            f.message.render("zh"),
            f.message.render("en"),
        )
        for f in result.findings
    ]
    rec = result.record
    if rec is None:
        return None, findings
    fields = {k: (f.value, repr(f.raw), f.sheet, f.cell) for k, f in rec.fields.items()}
    indicators = [
        (
            ind.index,
            {k: (f.value, repr(f.raw), f.sheet, f.cell) for k, f in ind.fields.items()},
            ind.target,
            ind.actual,
        )
        for ind in rec.indicators
    ]
    stated = {k: (f.value, repr(f.raw), f.sheet, f.cell) for k, f in rec.stated.items()}
    record = (
        rec.project(),
        rec.cells,
        stated,
        rec.meta,
        rec.saved,
        rec.spec.id,
        rec.file_version,
        rec.workbook_id,
        fields,
        indicators,
    )
    return record, findings


def assert_same(path: Path) -> None:
    thorough = read_workbook(path)
    fast = read_workbook(path, fast=True)
    assert outcome(fast) == outcome(thorough)


def takes_fast_path(path: Path) -> bool:
    try:
        FastBook(path.read_bytes())
    except Exception:  # noqa: BLE001 - any refusal means the thorough path reads it
        return False
    return True


@pytest.mark.parametrize(
    ("rule", "form", "over", "change", "expected"), RULE_CASES, ids=[c[0] for c in RULE_CASES]
)
def test_rule_cases(tmp_path, rule, form, over, change, expected):
    assert_same(filled(tmp_path, form, change, **dict(over)))


@pytest.mark.parametrize("form", FORMS)
def test_every_form_clean_and_blank_takes_the_fast_path(tmp_path, form, templates):
    path = filled(tmp_path, form)
    assert takes_fast_path(path)
    assert_same(path)
    blank = tmp_path / "blank.xlsx"
    blank.write_bytes(templates[form])
    assert takes_fast_path(blank)
    assert_same(blank)


@pytest.mark.parametrize("form", DEPARTMENT_FORMS)
def test_a_department_form_blank_and_scored_takes_the_fast_path(tmp_path, form, templates):
    blank = tmp_path / "blank.xlsx"
    blank.write_bytes(templates[form])
    assert takes_fast_path(blank)
    assert_same(blank)
    wb = open_xlsx(templates[form])
    (sheet, ref), *_ = wb.defined_names["pe_ind_score"].destinations
    for i, row in enumerate(wb[sheet][ref.replace("$", "")]):
        row[0].value = 1 if i % 3 else "x"  # 1 below most 分值, a text now and then
    scored = tmp_path / "scored.xlsx"
    wb.save(scored)
    assert takes_fast_path(scored)
    assert_same(scored)


@pytest.mark.parametrize("index", range(len(seed_projects())))
def test_seed_projects(tmp_path, index):
    path, _ = filled_seed(tmp_path, seed_projects()[index])
    assert_same(path)


@pytest.mark.parametrize("kind", list(BAD_CASES), ids=list(BAD_CASES))
def test_bad_files(tmp_path, sources, kind):
    path, _ = build(tmp_path, sources, kind)
    assert_same(path)


@pytest.mark.parametrize("kind", list(HOSTILE_CELLS), ids=list(HOSTILE_CELLS))
def test_hostile_cells(tmp_path, kind):
    """Names defined twice, hidden sheets gone, damaged cells (tests/test_hostile_cells.py):
    a damaged cell openpyxl refuses the file for is read by the fast book on both paths."""
    name, build, _ = HOSTILE_CELLS[kind]
    path = build(tmp_path / name)
    assert takes_fast_path(path)
    assert_same(path)


@pytest.mark.skipif(not LO_FILES, reason="no LibreOffice-saved workbooks in tests/data")
@pytest.mark.parametrize("path", LO_FILES, ids=[p.name for p in LO_FILES])
def test_libreoffice_files(path):
    assert takes_fast_path(path)
    assert_same(path)


def test_names_read_like_openpyxl(templates):
    """The shortcut for plain `'Sheet'!$A$1:$B$2` names gives openpyxl's destinations."""
    for data in templates.values():
        book = FastBook(data)
        wb = open_xlsx(data)
        for name, dn in wb.defined_names.items():
            assert book.destinations(name) == list(dn.destinations)
        wb.close()


def test_moved_cells_merged_cells_and_dates(tmp_path):
    """A unit's program may merge cells over an input, store a date in a text cell, type a
    formula into an input and write a shared formula: both paths must agree."""

    def change(wb):
        from datetime import datetime

        ws = wb[wb.sheetnames[0]]
        wb.defined_names["pe_project_code"].attr_text = "'自评表'!$L$4"
        ws["L4"].value = datetime(2022, 3, 1)
        ws["L4"].number_format = "yyyy-mm-dd"
        wb.defined_names["pe_unit_name"].attr_text = "'自评表'!$M$7"
        ws["M7"].value = "单位"
        ws.merge_cells("L7:M7")  # the named cell is now hidden under a merge
        ws["L9"].value = "=1+1"

    path = filled(tmp_path, "national-2020", change, fund_fiscal_spent="=50+45")
    assert takes_fast_path(path)
    assert_same(path)


def _with_part(data: bytes, part: str, change) -> bytes:
    """The same package with one part's bytes changed."""
    return with_parts(data, {part: change})


@pytest.mark.skipif(not LO_FILES, reason="no LibreOffice-saved workbooks in tests/data")
def test_a_parsed_sheet_is_reused_only_with_its_own_file_checks(tmp_path):
    """Sheets are parsed once per process by their bytes; what depends on the other parts (the
    shared strings they index) is still checked for every file. A copy whose string table is
    one string short, with byte-identical sheets, must read as the thorough path reads it."""
    import re

    source = DATA / "national-2020.xlsx"
    assert takes_fast_path(source)
    assert_same(source)  # the sheets are now parsed and kept

    def drop_last_string(body: bytes) -> bytes:
        return re.sub(rb"<si>(?:(?!<si>).)*</si></sst>", b"</sst>", body, flags=re.S)

    short = tmp_path / "short.xlsx"
    short.write_bytes(_with_part(source.read_bytes(), "xl/sharedStrings.xml", drop_last_string))
    book = FastBook(short.read_bytes())
    assert book.damaged  # the cells of the string no longer there: E019 where one is read
    assert_same(short)
    thorough = read_workbook(short)
    assert thorough.record is not None
    assert {f.code for f in thorough.findings} <= {"E019", "E101", "E401", "W204"}


def test_names_are_resolved_once_for_a_workbook_part(tmp_path, monkeypatch):
    """What the contract names resolve to is kept per worker by the workbook part's bytes: a
    second file of the template resolves none, and a file whose part differs (a name gone, a
    name defined twice apart) is resolved anew, and reads as the thorough path reads it."""
    from perfeval_xl.intake import reader

    monkeypatch.setattr(reader, "_RESOLVED", {})
    resolved = []
    real = reader._Reader._resolve

    def counting(self, name):
        resolved.append(name)
        return real(self, name)

    monkeypatch.setattr(reader._Reader, "_resolve", counting)
    first = filled(tmp_path, "national-2020", project_name="甲")
    (tmp_path / "b").mkdir()
    second = filled(tmp_path / "b", "national-2020", project_name="乙")
    read_workbook(first, fast=True)
    assert len(resolved) > 30
    resolved.clear()
    assert read_workbook(second, fast=True).record.value("project_name") == "乙"
    assert resolved == []  # the same workbook part: kept
    part = "xl/workbook.xml"
    gone = tmp_path / "gone.xlsx"
    gone.write_bytes(
        _with_part(
            first.read_bytes(),
            part,
            lambda b: re.sub(rb'<definedName name="pe_unit_name"[^<]*</definedName>', b"", b),
        )
    )
    twice = tmp_path / "twice.xlsx"
    twice.write_bytes(
        _with_part(
            first.read_bytes(),
            part,
            lambda b: b.replace(
                b"</definedNames>",
                b'<definedName name="pe_dept_name" localSheetId="0">'
                b"'\xe8\x87\xaa\xe8\xaf\x84\xe8\xa1\xa8'!$Z$99</definedName></definedNames>",
            ),
        )
    )
    for path, code in ((gone, "E011"), (twice, "E017")):
        got = read_workbook(path, fast=True)
        assert code in {f.code for f in got.findings}
        assert_same(path)


def test_a_part_that_fails_fails_every_time(tmp_path, templates):
    """A parse that raises is not kept: the second file with the same broken part is not
    taken for a good one."""
    data = _with_part(
        templates["national-2020"],
        "xl/worksheets/sheet2.xml",
        lambda body: body.replace(b"<sheetData>", b"<sheetData><row r='x'/>", 1),
    )
    for name in ("one.xlsx", "two.xlsx"):
        path = tmp_path / name
        path.write_bytes(data)
        assert_same(path)
        assert read_workbook(path, fast=True).findings[0].code == "E001"


@pytest.mark.skipif(not LO_FILES, reason="no LibreOffice-saved workbooks in tests/data")
@pytest.mark.parametrize("path", LO_FILES, ids=[p.name for p in LO_FILES])
def test_shared_strings_read_like_openpyxl(path):
    """LibreOffice writes rich-text runs (a font per run) into the string table."""
    import io
    import zipfile

    from openpyxl.reader.strings import read_string_table

    from perfeval_xl.intake.fastread import _string_table

    with zipfile.ZipFile(path) as z:
        data = z.read("xl/sharedStrings.xml")
    assert b"<rPr>" in data or path.name != "national-2020.xlsx"
    assert _string_table(data) == read_string_table(io.BytesIO(data))


@pytest.mark.skipif(not LO_FILES, reason="no LibreOffice-saved workbooks in tests/data")
def test_a_run_font_openpyxl_refuses_is_read_the_thorough_way(tmp_path):
    source = DATA / "national-2020.xlsx"
    bad = tmp_path / "bad-font.xlsx"
    bad.write_bytes(
        _with_part(
            source.read_bytes(),
            "xl/sharedStrings.xml",
            lambda body: body.replace(b'<sz val="10"/>', b'<sz val="ten"/>', 1),
        )
    )
    assert not takes_fast_path(bad)
    assert_same(bad)
    assert read_workbook(bad).findings[0].code == "E001"  # openpyxl refuses the whole file


def _rezip(data: bytes, *, compression: int, comment: bytes = b"") -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.comment = comment
    return out.getvalue()


def test_the_zip_is_read_as_zipfile_reads_it(tmp_path):
    """fastread reads the archive itself: stored members are read fast, an archive comment is
    left to the thorough path, and a damaged member (bad CRC) is E001 on both paths."""
    import zipfile

    good = filled(tmp_path, "national-2020")
    stored = tmp_path / "stored.xlsx"
    stored.write_bytes(_rezip(good.read_bytes(), compression=zipfile.ZIP_STORED))
    assert takes_fast_path(stored)
    assert_same(stored)

    commented = tmp_path / "commented.xlsx"
    commented.write_bytes(
        _rezip(good.read_bytes(), compression=zipfile.ZIP_DEFLATED, comment=b"WPS")
    )
    assert not takes_fast_path(commented)
    assert_same(commented)

    data = bytearray(stored.read_bytes())
    at = data.index(b"<sheetData>") + len(b"<sheetData>") + 20  # inside the form sheet
    data[at] ^= 0x01
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(bytes(data))
    assert not takes_fast_path(damaged)
    assert_same(damaged)
    assert read_workbook(damaged, fast=True).findings[0].code == "E001"


def _crc_changed(data: bytes, member: str) -> bytes:
    """The archive with `member`'s CRC changed in its local header and in the directory, and
    its compressed bytes left as they were."""
    import struct

    out = bytearray(data)
    name = member.encode()
    for magic, crc_at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        at = 0
        while (at := out.find(magic, at)) >= 0:
            name_at = at + (30 if magic == b"PK\x03\x04" else 46)
            if out[name_at : name_at + len(name)] == name:
                (crc,) = struct.unpack_from("<L", out, at + crc_at)
                struct.pack_into("<L", out, at + crc_at, crc ^ 1)
            at += 4
    return bytes(out)


def test_a_member_inflated_before_is_not_trusted_under_another_crc(tmp_path):
    """Members are inflated once per process by their compressed bytes, method, CRC and size:
    a copy whose styles part has the same compressed bytes under another CRC is damaged, and
    must read as zipfile reads it (E001), after good copies were read and kept."""
    good = filled(tmp_path, "national-2020")
    for _ in range(3):
        assert takes_fast_path(good)
        assert_same(good)
    damaged = tmp_path / "crc.xlsx"
    damaged.write_bytes(_crc_changed(good.read_bytes(), "xl/styles.xml"))
    assert not takes_fast_path(damaged)
    assert_same(damaged)
    assert read_workbook(damaged, fast=True).findings[0].code == "E001"


@pytest.mark.parametrize(
    "inline",
    [
        b"<is><t/></is>",
        '<is><t xml:space="preserve">  两端有空格  </t></is>'.encode(),
        "<is><r><t>富</t></r><r><rPr><b/></rPr><t>文本</t></r></is>".encode(),
        "<is><t>前</t><r><t>后</t></r></is>".encode(),
        b"<is><t>A&amp;B &lt;C&gt;</t><rPh sb='0' eb='1'><t>x</t></rPh></is>",
    ],
)
def test_inline_strings_read_like_openpyxl(tmp_path, inline):
    """Files saved by openpyxl (and some other writers) keep texts inline: the usual lone
    <t> is read directly, anything else as openpyxl reads it."""
    path = filled(tmp_path, "national-2020", project_name="内联项目")
    data = _with_part(
        path.read_bytes(),
        "xl/worksheets/sheet1.xml",
        lambda body: body.replace("<is><t>内联项目</t></is>".encode(), inline),
    )
    assert inline in _member_text(data, "xl/worksheets/sheet1.xml")
    changed = tmp_path / "inline.xlsx"
    changed.write_bytes(data)
    assert takes_fast_path(changed)
    assert_same(changed)


def _member_text(data: bytes, member: str) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(member)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a later empty cell of the same reference blanks the project name
        (b"</sheetData>", b'<row r="999"><c r="B3" s="0"/></row></sheetData>'),
        # the same cell, its reference written another way
        (b"</sheetData>", b'<row r="999"><c r="b3" s="0"/></row></sheetData>'),
        (b"</sheetData>", b'<row r="999"><c r="B03" s="0"/></row></sheetData>'),
        # the project name's own cell written B03, and an empty B3 after it
        (b'<c r="B3" ', b'<c r="B03" '),
        # a cell without a reference after an empty one takes the next column ({S}: C3's style)
        (
            b'<c r="C3" s="{S}" t="n" />',
            b'<c r="C3" s="{S-1}" t="n" /><c s="{S-2}" t="inlineStr"><is><t>x</t></is></c>',
        ),
        # an empty cell's style index past the styles
        (b'<c r="C3" s="{S}" t="n" />', b'<c r="C3" s="9999" t="n" />'),
    ],
)
def test_empty_cells_dropped_before_the_parse_change_nothing(tmp_path, old, new):
    """The form sheet's styled blanks are dropped before it is parsed, only where that cannot
    change what a cell reads or what openpyxl refuses."""
    path = filled(tmp_path, "national-2020", project_name="名称")
    sheet = _member_text(path.read_bytes(), "xl/worksheets/sheet1.xml")
    style = re.search(rb'<c r="C3" s="([0-9]+)" t="n" />', sheet)
    if b"{S}" in old:
        assert style is not None and int(style.group(1)) >= 2
        n = int(style.group(1))
        old = old.replace(b"{S}", b"%d" % n)
        new = new.replace(b"{S-1}", b"%d" % (n - 1)).replace(b"{S-2}", b"%d" % (n - 2))

    def change(body: bytes) -> bytes:
        body = body.replace(old, new, 1)
        if new == b'<c r="B03" ':
            row = b'<row r="999"><c r="B3" s="0"/></row></sheetData>'
            body = body.replace(b"</sheetData>", row)
        return body

    data = _with_part(path.read_bytes(), "xl/worksheets/sheet1.xml", change)
    sheet = _member_text(data, "xl/worksheets/sheet1.xml")
    assert new in sheet
    # cell for cell what the sheet parsed as it is reads (an absent cell reads as a blank)
    from xml.etree.ElementTree import fromstring

    from perfeval_xl.intake.fastread import _cells, _parse_cells, _split_sheet

    body = _split_sheet(sheet)[1]
    _same_cells(_parse_cells(body, drop=True)[1], _cells(fromstring(sheet), data_only=False))
    changed = tmp_path / "changed.xlsx"
    changed.write_bytes(data)
    assert_same(changed)


@pytest.mark.parametrize(
    "body",
    [
        # a "<" in an attribute value: the next one is still there once the cell is dropped
        b'<row r="40" x="><c r="B40" s="1"/><"/>',
        b'<row r="40"><c r="A40" s="1" x="<c r="B40" s="1"/>"/></row>',
        b'<row r="40"><c r="A40" s="1" x="<c r="B40" s="1"/><c r="C40" s="1"/>"/></row>',
    ],
)
def test_dropping_empty_cells_never_mends_a_broken_sheet(body):
    """The empty cells are dropped before the parse only between two tags, and only from the
    cells' part of a sheet: what was not well-formed stays so."""
    from xml.etree.ElementTree import ParseError, fromstring

    from perfeval_xl.intake.fastread import _parse_cells

    sheet = b'<worksheet xmlns="http://x"><sheetData>' + body + b"</sheetData></worksheet>"
    with pytest.raises(ParseError):
        fromstring(sheet)
    with pytest.raises(ParseError):
        _parse_cells(sheet, drop=True)
    # before the root, after the XML declaration: the whole part is never cut
    prolog = b'<?xml version="1.0"?><c r="A1" s="1"/><worksheet/>'
    with pytest.raises(ParseError):
        _parse_cells(prolog, drop=False)


def test_only_members_small_once_inflated_are_kept():
    """The inflated-member memo keeps parts of at most 256 KiB once inflated: a member that
    compresses a hundredfold is inflated every time, so a batch of such files cannot fill a
    worker's memory through it."""
    import io
    import zipfile

    from perfeval_xl.intake import fastread

    def archive(size: int) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("xl/styles.xml", b"<a/>" + b" " * size)
        return out.getvalue()

    def kept() -> int:
        return sum(len(v) for v in fastread._INFLATED._items.values())

    for size, keeps in ((300 * 1024, False), (100 * 1024, True)):
        data = archive(size)
        before = kept()
        for _ in range(3):
            ((_, read),) = fastread._zip_members(data)
            assert len(read()) == size + 4
        assert (kept() > before) is keeps


_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_ROW_Z = b'<row r="40"><c r="B40" t="inlineStr"><is><t>z</t></is></c></row>'


@pytest.mark.parametrize(
    ("old", "new", "splits"),
    [
        (b"", b"", True),
        # the root's namespace in single quotes
        (_MAIN_NS, _MAIN_NS.replace(b'"', b"'"), True),
        # a comment could hide a <sheetData>: parsed whole
        (b"<sheetData>", b"<!-- <sheetData></sheetData> --><sheetData>", False),
        (b"<sheetData>", b"<sheetData><!-- x -->", False),
        # a processing instruction, a start tag with a space
        (b"<sheetData>", b"<?pi x?><sheetData>", False),
        (b"<sheetData>", b"<sheetData >", False),
        # merged areas inside the cells: read from the whole
        (b"</sheetData>", b'<mergeCells><mergeCell ref="B4:C4"/></mergeCells></sheetData>', False),
        # a row outside sheetData is read (as openpyxl reads it): the frame is not used
        (b"</worksheet>", b"<foo>" + _ROW_Z + b"</foo></worksheet>", False),
        # sheetData not a child of the root
        (b"<sheetData>", b"<sheetPr><sheetData>", False),
        # a second sheetData after the first, or inside it
        (b"</sheetData>", b"</sheetData><sheetData/>", False),
        (b"</sheetData>", b"<sheetData></sheetData></sheetData>", False),
        (b"<sheetData>", b'<sheetData x="1"/><sheetData>', False),
        # broken in the frame, broken in the body: refused alike
        (b"</mergeCells>", b"", None),
        (b"</row>", b"", None),
    ],
)
def test_a_sheet_parsed_in_frame_and_body_reads_as_the_whole(tmp_path, old, new, splits):
    """The form sheet's frame (all but its cells) is parsed once per template, its cells once
    per file (`fastread._split_sheet`). Every way the two parts could read otherwise than the
    whole part is parsed whole instead, and reads as the thorough path reads it."""
    from xml.etree.ElementTree import ParseError

    from perfeval_xl.intake import fastread

    path = filled(tmp_path, "national-2020", project_name="名称")
    part = "xl/worksheets/sheet1.xml"

    def change(body: bytes) -> bytes:
        if old == b"<sheetData>" and new.startswith(b"<sheetPr>"):
            body = body.replace(b"</sheetData>", b"</sheetData></sheetPr>", 1)
        return body.replace(old, new, 1)

    data = _with_part(path.read_bytes(), part, change)
    sheet = _member_text(data, part)
    assert new in sheet
    split = fastread._split_sheet(sheet)
    if splits is not None:
        try:
            used = split is not None and fastread._parse_frame(split[0]) is not None
        except ParseError:
            used = False
        assert used is splits
    _reads_as_whole(tmp_path, data, part, parses=splits is not None)


def _same_cells(got: dict, whole: dict) -> None:
    """Cell for cell, what two parses of a sheet read (an absent cell reads as a blank)."""
    blank = (None, "n", 0)
    for pos in got.keys() | whole.keys():
        assert got.get(pos, blank)[:2] == whole.get(pos, blank)[:2], pos


def _same_sheet(got, whole) -> None:
    """Two parsed sheets (`fastread._Sheet`) read alike: the same cells, and all else equal."""
    got, whole = dict(vars(got)), dict(vars(whole))
    _same_cells(got.pop("cells"), whole.pop("cells"))
    assert got == whole


def _reads_as_whole(tmp_path: Path, data: bytes, part: str, *, parses: bool) -> None:
    """The sheet `part` of the package `data` reads as when parsed whole, or fails as that
    does; and the file reads as the thorough path reads it."""
    from xml.etree.ElementTree import ParseError

    from perfeval_xl.intake import fastread

    sheet = _member_text(data, part)
    if parses:
        whole = fastread._sheet(sheet, None)
        _same_sheet(fastread._parse_sheet(sheet), whole)
        assert whole.cells and whole.merged and whole.validations and whole.protected
    else:
        with pytest.raises(ParseError):
            fastread._parse_sheet(sheet)
        with pytest.raises(ParseError):
            fastread._sheet(sheet, None)
    changed = tmp_path / "changed.xlsx"
    changed.write_bytes(data)
    assert_same(changed)


_X14_DROPDOWN = (
    b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
    b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    b'<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    b'<x14:dataValidation type="list"><x14:formula1><xm:f>Lists!$A$1:$A$3</xm:f></x14:formula1>'
    b"<xm:sqref>%s</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>"
)


@pytest.mark.parametrize(
    ("sqref", "dropped"),
    [(b"15:16", True), (b"H:H", True), (b"1:40", False), (b"A:J", False), (b"A1:J40", False)],
)
def test_dropdowns_on_whole_rows_or_columns(tmp_path, sqref, dropped):
    """Excel writes a dropdown given to whole rows or columns as an x14 validation on "15:16"
    or "H:H"; such a range reaches to the sheet's edges. (It made the reader fail with a
    TypeError.) Here the form's own dropdowns are gone and only that one is left."""
    from perfeval_xl.intake.read import read_workbook

    path = filled(tmp_path, "national-2020")

    def change(body: bytes) -> bytes:
        body = re.sub(rb"<dataValidations.*</dataValidations>", b"", body, flags=re.S)
        return body.replace(b"</worksheet>", _X14_DROPDOWN % sqref + b"</worksheet>", 1)

    changed = tmp_path / "changed.xlsx"
    changed.write_bytes(_with_part(path.read_bytes(), "xl/worksheets/sheet1.xml", change))
    codes = [f.code for f in read_workbook(changed).findings]
    assert ("W013" in codes) is dropped
    assert_same(changed)


def test_a_dropdown_openpyxl_refuses_is_refused_alike(tmp_path):
    """openpyxl's load fails on a (non-x14) validation over a whole column; the fast path
    parses the sheet's validations with openpyxl's own class, so the file is E001 either way."""
    from perfeval_xl.intake.read import read_workbook

    path = filled(tmp_path, "national-2020")

    def change(body: bytes) -> bytes:
        return re.sub(rb'(<dataValidation [^>]*sqref=")[^"]*"', rb'\1H:H"', body, count=1)

    changed = tmp_path / "changed.xlsx"
    changed.write_bytes(_with_part(path.read_bytes(), "xl/worksheets/sheet1.xml", change))
    assert [f.code for f in read_workbook(changed).findings] == ["E001"]
    assert_same(changed)


_CORE = (
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:dcterms="http://purl.org/dc/terms/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>x</dc:creator>'
    b'<dcterms:created xsi:type="dcterms:W3CDTF">2020-01-01T00:00:00Z</dcterms:created>'
    b"%s</cp:coreProperties>"
)
_SAVED = b'<dcterms:modified xsi:type="dcterms:W3CDTF">2022-03-04T05:06:07Z</dcterms:modified>'


@pytest.mark.parametrize(
    "inner",
    [
        _SAVED,
        _SAVED + b"<cp:revision>3</cp:revision>",
        # openpyxl reads the last of two; the stand-in must not be taken for it
        _SAVED + _SAVED.replace(b"2022", b"2023"),
        _SAVED.replace(b"<dcterms:", b"<!-- c --><dcterms:", 1),
        # a month that does not exist: openpyxl's load fails, and so does this
        _SAVED.replace(b"-03-", b"-13-"),
        # a printed time openpyxl refuses, beside a good saved time
        _SAVED.replace(
            b"</dcterms:modified>", b"</dcterms:modified><cp:lastPrinted>x</cp:lastPrinted>"
        ),
    ],
)
def test_the_saved_time_is_read_as_openpyxl_reads_it(inner):
    """Only a file's saved time differs in a batch's core properties: the rest is checked by
    openpyxl's class once per shape, and the time read with openpyxl's parser."""
    from perfeval_xl.intake import fastread

    data = _CORE % inner

    def read(how):
        try:
            return how(data)
        except Exception as exc:  # noqa: BLE001 - the two must fail alike
            return type(exc)

    for _ in range(3):  # the shape is memoised from its second sighting
        assert read(fastread._modified) == read(fastread._core_modified)


@pytest.mark.parametrize(
    ("old", "new", "parses"),
    [
        (b'activeCell="A1" sqref="A1"', b'activeCell="D15" sqref="D15"', True),
        (b'<dimension ref="A1:P35" />', b'<dimension ref="A1:K40" />', True),
        (b'<dimension ref="A1:P35" />', b'<dimension  ref="A1"/>', True),
        # a duplicate attribute: not well-formed, refused as openpyxl refuses it
        (b'activeCell="A1" sqref="A1"', b'activeCell="A1" activeCell="B2"', False),
        # an undeclared prefix: not well-formed either
        (b"<selection ", b"<x:selection ", False),
    ],
)
def test_the_selection_and_used_range_do_not_change_the_frame(tmp_path, old, new, parses):
    """Each saved file has its own selected cell and used range: they stand in the frame as
    fixed elements, so files that differ only there share one parsed frame, and are parsed
    alone (and must be well-formed)."""
    from perfeval_xl.intake import fastread

    path = filled(tmp_path, "national-2020", project_name="名称")
    part = "xl/worksheets/sheet1.xml"
    sheet = _member_text(path.read_bytes(), part)
    assert old in sheet
    changed = sheet.replace(old, new, 1)
    if new.startswith(b"<x:"):
        changed = changed.replace(b"</selection>", b"</x:selection>")
    assert fastread._split_sheet(changed)[0] == fastread._split_sheet(sheet)[0]
    data = _with_part(path.read_bytes(), part, lambda body: changed)
    _reads_as_whole(tmp_path, data, part, parses=parses)


def test_parts_the_gate_inflated_are_checked_again(tmp_path, monkeypatch):
    """The fast reader takes the parts the safety gate has just inflated instead of inflating
    them again, and checks their size and CRC as its own: wrong bytes there send the file to
    the thorough path, which reads it as usual."""
    from perfeval_xl.intake import fastread, safety
    from perfeval_xl.intake import read as read_mod
    from perfeval_xl.intake.read import _read_inspected

    path = filled(tmp_path, "national-2020")
    data = path.read_bytes()
    monkeypatch.setattr(safety, "_TRUE_SIZES", {})  # as if no file had been inspected before
    assert safety.inspect_bytes("unit.xlsx", data) is None
    kept = dict(safety._LAST)
    assert kept  # the form sheet at least: no other file has its bytes
    taken = []
    monkeypatch.setattr(
        fastread, "inflated", lambda *key: taken.append(key) or safety.inflated(*key)
    )
    assert outcome(read_mod.read_inspected_fast("unit.xlsx", data)) == outcome(
        _read_inspected("unit.xlsx", data)
    )
    assert any(key in kept for key in taken)
    for key, value in kept.items():
        safety._LAST[key] = value[::-1]  # the same length, another CRC
    calls = []
    monkeypatch.setattr(
        read_mod, "_read_inspected", lambda *a: calls.append(a) or _read_inspected(*a)
    )
    assert outcome(read_mod.read_inspected_fast("unit.xlsx", data)) == outcome(
        _read_inspected("unit.xlsx", data)
    )
    assert calls  # refused by the fast path, read by the thorough one


_ROW_3 = re.compile(rb'<row r="3"[^>]*>')


@pytest.mark.parametrize(
    ("old", "new", "by_row"),
    [
        (b"", b"", True),
        # a row without its number takes the one after the row before it: parsed whole
        (_ROW_3, b"<row>", False),
        # a shared formula's later cells are read from its first: parsed whole
        (
            b"<sheetData>",
            b'<sheetData><row r="1"><c r="Z1"><f t="shared" si="0">1</f></c></row>',
            False,
        ),
        # anything between two rows: parsed whole
        (b"</row>", b"</row> ", False),
        # the same row twice, and a cell of one row's number in another's: as the whole reads
        (
            b"</sheetData>",
            b'<row r="3"><c r="B3" t="inlineStr"><is><t>y</t></is></c></row></sheetData>',
            True,
        ),
        (
            b"</sheetData>",
            b'<row r="998"><c r="B3" t="inlineStr"><is><t>y</t></is></c></row></sheetData>',
            True,
        ),
        # a prefixed attribute, a ">" in an attribute value
        (_ROW_3, b'<row r="3" xml:lang="a>b">', True),
        # a self-closing row, read with the row after it
        (
            b"</sheetData>",
            b'<row r="994"/><row r="993"><c r="B993"><v>1</v></c></row></sheetData>',
            True,
        ),
        # a damaged cell: read around, as the whole reads it
        (b"</sheetData>", b'<row r="997"><c r="B997"><v>0x5F</v></c></row></sheetData>', True),
        # a reference written another way (B0996), then the same cell empty: parsed whole
        (
            b"</sheetData>",
            b'<row r="996"><c r="B0996" t="inlineStr"><is><t>x</t></is></c>'
            b'<c r="B996" s="1"/><c r="C996" s="1"/></row></sheetData>',
            True,
        ),
        # the highest style index on an empty cell (past the workbook's styles: damaged)
        (
            b"</sheetData>",
            b'<row r="995"><c r="B995" s="999"/><c r="C995"><v>1</v></c></row></sheetData>',
            True,
        ),
        # broken: refused as the whole is
        (b"</row>", b'</row><row r="996">', None),
        (b"</sheetData>", b'<row r="995"><c r="B995"><v>&nope;</v></c></row></sheetData>', None),
    ],
)
def test_a_sheet_read_row_by_row_reads_as_the_whole(tmp_path, old, new, by_row):
    """The form sheet's rows are parsed once per worker by their bytes (`_cells_by_row`): the
    rows a template's files share are not parsed again for each file. A body it cannot split
    into independent rows is parsed whole, and every way reads as the thorough path reads."""
    from xml.etree.ElementTree import ParseError, fromstring

    from perfeval_xl.intake import fastread

    path = filled(tmp_path, "national-2020", project_name="名称", project_code="X-1")
    part = "xl/worksheets/sheet1.xml"

    def change(body: bytes) -> bytes:
        if isinstance(old, re.Pattern):
            return old.sub(new, body, count=1)
        return body.replace(old, new, 1)

    data = _with_part(path.read_bytes(), part, change)
    sheet = _member_text(data, part)
    assert new in sheet
    body = fastread._split_sheet(sheet)[1]
    joined = b"".join(fastread._EMPTY_CELL.split(body)[::3])
    if by_row is None:
        with pytest.raises(ParseError):
            fastread._parse_cells(body, drop=True, damaged={})
    else:
        refs: list = []
        got = fastread._cells_by_row(joined, refs, {})
        assert (got is not None) is by_row
        # the body as saved, each row's empty cells dropped as the whole body's are
        raw_refs: list = []
        dropped: list = []
        styles: list = []
        raw = fastread._cells_by_row(body, raw_refs, {}, dropped, styles)
        assert (raw is not None) is by_row
        if got is not None:
            whole_refs: list = []
            whole = fastread._cells(fromstring(joined), False, refs=whole_refs, damaged={})
            assert list(got.items()) == list(whole.items())
            assert refs == whole_refs
            assert list(raw.items()) == list(whole.items())
            assert raw_refs == whole_refs
            parts = fastread._EMPTY_CELL.split(body)
            assert dropped == [ref.decode() for ref in parts[1::3]]
            assert styles == parts[2::3]
            assert len(dropped) > 100  # a form's styled blanks
            # what the rows counted, summed up, is what the sheet's cells give, and is given
            # only when its references are apart (else `_refs_apart` decides, as before)
            summary: list = []
            cells = fastread._parse_cells(body, drop=True, damaged={}, summary=summary)[1]
            apart = fastread._refs_apart(whole_refs, dropped)
            # (a row twice, or a cell of another row's number: not proven here, though apart)
            assert bool(summary) is (apart and b'r="B3"' not in new)
            if summary:
                assert list(cells.items()) == list(whole.items())
                got = summary[0]
                kept = [style for _, _, style in whole.values()]
                assert got.style_max == max(*kept, *map(int, styles))
                strings = [v for v, t, _ in whole.values() if t == "s#"]
                assert (got.string_min, got.string_max) == (
                    min(strings, default=None),
                    max(strings, default=-1),
                )
                assert got.value_rows == {r for (r, _), (v, _, _) in whole.items() if v is not None}
        _reads_as_whole(tmp_path, data, part, parses=True)
    changed = tmp_path / "changed.xlsx"
    changed.write_bytes(data)
    assert_same(changed)


def test_rows_seen_before_are_not_parsed_again(tmp_path, monkeypatch):
    """A row is kept the second time its bytes are seen, and from then on not parsed: two
    files of one template with different typed values share their other rows."""
    from perfeval_xl.intake import fastread

    monkeypatch.setattr(fastread, "_ROWS", fastread._Memo(entries=512, part_bytes=65536, seen=512))
    parsed: list[bytes] = []
    real = fastread._row_cells

    def counting(head: bytes, end: bytes, row: bytes):
        parsed.append(row)
        return real(head, end, row)

    monkeypatch.setattr(fastread, "_row_cells", counting)
    bodies = []
    for n, name in enumerate(("甲", "乙", "丙")):
        (tmp_path / str(n)).mkdir()
        path = filled(tmp_path / str(n), "national-2020", project_name=name)
        sheet = _member_text(path.read_bytes(), "xl/worksheets/sheet1.xml")
        body = fastread._split_sheet(sheet)[1]
        bodies.append(b"".join(fastread._EMPTY_CELL.split(body)[::3]))
    rows = [b.count(b"</row>") for b in bodies]
    for b in bodies:
        assert fastread._cells_by_row(b, [], {}) is not None
    # first and second file: every row parsed (kept on second sight); third: only its own
    assert len(parsed) == rows[0] + rows[1] + 1
    assert b"\xe4\xb8\x99" in parsed[-1]  # 丙, the one row not seen before
    for b in bodies:  # and a repeat reads the same
        assert fastread._cells_by_row(b, [], {}) == fastread._cells(
            fastread.ET.fromstring(b), False, refs=[], damaged={}
        )


_SST_PART = "xl/sharedStrings.xml"


@pytest.mark.skipif(not LO_FILES, reason="no LibreOffice-saved workbooks in tests/data")
@pytest.mark.parametrize(
    ("old", "new", "by_piece"),
    [
        (b"", b"", True),
        # an empty text, twice (the second time known)
        (b"</sst>", b"<si><t/></si><si><t></t></si><si><t/></si></sst>", True),
        # entities and a run of another font, at the end
        (b"</sst>", b"<si><r><t>a&amp;b</t></r><r><t>&#20013;</t></r></si></sst>", True),
        # white space between two pieces, another root attribute: parsed whole
        (b"</si><si>", b"</si> <si>", False),
        (b' uniqueCount="', b' xmlns:x="urn:x" uniqueCount="', False),
        # a "</si>" inside CDATA or a comment: parsed whole, and read as it is
        (b"</sst>", b"<si><t><![CDATA[a</si>b]]></t></si></sst>", False),
        (b"</sst>", b"<si><t>c</t><!-- </si> --></si></sst>", False),
        # an <si> inside another: parsed whole, and left to the thorough path
        (b"</sst>", b"<si><si><t>d</t></si></si></sst>", None),
        # white space after the end, and a byte XML does not take as white space
        (b"</sst>", b"</sst>\r\n ", True),
        (b"</sst>", b"</sst>\x0c", None),
        # broken pieces and roots: refused as the whole is (openpyxl refuses them too)
        (b"</sst>", b"<si><t>e</si></sst>", None),
        (b"</sst>", b"<si><t>&nope;</t></si></sst>", None),
        (b'count="', b'count="1" count="', None),
        (b"<?xml version", b"<?xml bogus version", None),
    ],
)
def test_a_string_table_read_piece_by_piece_reads_as_the_whole(old, new, by_piece, monkeypatch):
    """Each `<si>` of a saved file's string table is parsed once per worker by its bytes
    (`_strings_by_piece`): a unit's file holds the template's labels and a few texts of its
    own. A table it cannot split exactly is parsed whole; every way reads as openpyxl does, or
    raises (`by_piece` None), and the thorough path reads the file."""
    import io
    import zipfile

    from openpyxl.reader.strings import read_string_table

    from perfeval_xl.intake import fastread

    with zipfile.ZipFile(DATA / "national-2020.xlsx") as z:
        data = z.read(_SST_PART)
    assert old in data
    data = data.replace(old, new, 1)
    for texts in ({}, dict(fastread._SI_TEXTS)):  # nothing known yet, then what is known
        monkeypatch.setattr(fastread, "_SI_TEXTS", texts)
        if by_piece is None:
            with pytest.raises((fastread.ET.ParseError, fastread.Unsupported)):
                fastread._string_table(data)
            continue
        expected = read_string_table(io.BytesIO(data))
        assert (fastread._strings_by_piece(data) is not None) is by_piece
        assert fastread._string_table(data) == expected
        assert fastread._string_table(data) == expected  # and again, every piece known


@pytest.mark.skipif(not LO_FILES, reason="no LibreOffice-saved workbooks in tests/data")
def test_string_pieces_seen_before_are_not_parsed_again(monkeypatch):
    """A second table with one text of its own parses only that text's piece; a full memo is
    emptied, and what it held is still read right."""
    import io
    import zipfile

    from openpyxl.reader.strings import read_string_table

    from perfeval_xl.intake import fastread

    with zipfile.ZipFile(DATA / "national-2020.xlsx") as z:
        first = z.read(_SST_PART)
    second = first.replace(b"</sst>", "<si><t>乙单位的文字</t></si></sst>".encode(), 1)
    parsed: list[bytes] = []
    real = fastread.ET.fromstring

    def counting(text: bytes, *args):
        parsed.append(text)
        return real(text, *args)

    monkeypatch.setattr(fastread, "_SI_TEXTS", {})
    monkeypatch.setattr(fastread.ET, "fromstring", counting)
    assert fastread._string_table(first) == read_string_table(io.BytesIO(first))
    parsed.clear()
    assert fastread._string_table(second) == read_string_table(io.BytesIO(second))
    pieces = [p for p in parsed if b"<si>" in p]
    assert len(pieces) == 1 and pieces[0].count(b"<si>") == 1
    assert "乙单位的文字".encode() in pieces[0]
    monkeypatch.setattr(fastread, "_SI_TEXTS_MAX", 5)  # full: emptied, the second read right
    fastread._SI_TEXTS.clear()
    assert fastread._string_table(first) == read_string_table(io.BytesIO(first))
    assert fastread._string_table(second) == read_string_table(io.BytesIO(second))
