"""Property tests (issue 8 item 6): whatever a cell holds and whatever happens to a file's bytes,
the normaliser, the reader, the checks, the scoring and the reports answer, never raise.

Three properties, each over generated inputs (hypothesis, no example database written):

- any cell value openpyxl can hand over (text with any unicode and control characters, floats
  with NaN and ±inf, ints of any size, bools, dates, times, None) through every `normalize`
  function: never raises, and what comes back is well formed (a finite number or None);
- any such values typed into a generated template's input cells: `check_workbook`, the text and
  JSON reports and the summary workbook never raise;
- random byte mutations of a valid filled workbook (flip, insert, delete, truncate), of the file
  or of one part inside it: `check_workbook` never raises and always answers with a record or a
  finding.

Known bugs are kept out of the properties, each shown by a strict xfail: amounts stay within
±1e300 (from about 1e308 up, sums of amounts the reader keeps with E203 overflow), and examples
where score.grade() raises StopIteration (a 总分 below 0, from a negative 执行数) are rejected;
see `test_hostile.py`, and the two normaliser xfails below.
"""

from __future__ import annotations

import io
import json
import math
import traceback
import zipfile
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path

import openpyxl
from conftest import FORMS as PROJECT_FORMS
from helpers import filled, named_cell, with_parts
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from perfeval_xl import load_spec
from perfeval_xl.findings import ERROR, RULES
from perfeval_xl.forms.layout import contract_names, make_layout
from perfeval_xl.forms.normalize import (
    YEAR_RANGE,
    Parsed,
    Target,
    clean_text,
    parse_amount,
    parse_number,
    parse_target,
    parse_year,
)
from perfeval_xl.office.collect import Collection, Item, Submission
from perfeval_xl.office.report import format_text, to_json
from perfeval_xl.office.summary import build_summary
from perfeval_xl.review.checks import CheckResult, check_workbook

#: No example database in the checkout; the same examples on every run (a CI run never fails on
#: an input nobody can reproduce). Raising max_examples explores further: 3,000 / 800 / 2,000 ran
#: clean (but for the known bugs below) when these tests were written.
SETTINGS = {"database": None, "deadline": None, "derandomize": True}
TOO_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]

# -- cell values -------------------------------------------------------------------------------
#: What people type or paste: number-like texts with separators, units, signs and noise.
NUMBERISH = st.from_regex(
    r"[ \t\u3000]?[-+−]?[¥￥]?[-+]?[0-9０-９]{0,12}([.,，．][0-9]{0,6}){0,3}([eE][-+]?[0-9]{1,3})?"
    r"(万元|万|元|分|%|％|次|年|年度)?[ \u200b]?",
    fullmatch=True,
)
TARGETISH = st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            ["≥", ">=", "≤", "不少于", "控制在", "以内", "以上", "满意度", "定性", "XX", "—",
             "90", "12", "1,234.5", "%", "次", "万元", "2022年", "-", " ", "。", "/", "*"]
        ),
        max_size=6,
    ),
)  # fmt: skip
SPECIAL_TEXT = st.sampled_from(
    ["nan", "NaN", "inf", "-inf", "Infinity", "1e308", "1e309", "-0", "#DIV/0!", "#N/A", "TRUE",
     "２０２２年度", "2022年", "１００万元", "¥1,234.50", "1,23", "0x10", "١٢٣", "Ⅻ", "½", "²",
     "\u202e100", "100\u200b", "\x00", "\r\n", "=1+1", "'100", "1_000", "9" * 400]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=40), NUMBERISH, TARGETISH, SPECIAL_TEXT)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INTS = st.one_of(st.integers(), st.integers(min_value=-(10**400), max_value=10**400))
ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=8))])
WHEN = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=ZONES),
    st.dates(),
    st.times(),
    st.timedeltas(),
)
VALUES = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT, WHEN)


def _finite_or_none(parsed: Parsed) -> None:
    assert isinstance(parsed, Parsed)
    assert parsed.value is None or (isinstance(parsed.value, float) and math.isfinite(parsed.value))
    assert parsed.value is None or parsed.error is None
    for text in (parsed.error, parsed.repair):
        if text is not None:
            assert text.render("zh") and text.render("en")


@settings(max_examples=400, **SETTINGS)
@given(VALUES)
def test_normalize_never_raises(raw):
    for parse in (parse_amount, parse_number):
        _finite_or_none(parse(raw))
    year = parse_year(raw)
    _finite_or_none(year)
    if year.value is not None:
        assert year.value.is_integer() and YEAR_RANGE[0] <= year.value <= YEAR_RANGE[1]
    text = clean_text(raw)
    if text is not None:
        assert text and text == text.strip() and "  " not in text
        assert not any(ch in text for ch in "\t\r\n\u3000\u200b")
    target = parse_target(raw)
    assert target is None or isinstance(target, Target)
    if target is not None:
        assert target.text
        if len(str(raw)) < 300:  # the 400-digit case: see test_target_number_is_finite
            assert target.number is None or math.isfinite(target.number)


def test_target_number_is_finite():
    target = parse_target("≥" + "9" * 400 + "次")
    assert target.number is None or math.isfinite(target.number)


def test_signaling_nan_decimal_is_an_error_not_an_exception():
    assert parse_amount(Decimal("sNaN")).error is not None


# -- values typed into a template --------------------------------------------------------------
FORMS = PROJECT_FORMS  # the department form has nothing of a project's to generate


@cache
def _filled(form: str, root: str) -> bytes:
    """The clean filled form: generated values go on top of it, so the checks get deep."""
    folder = Path(root) / form
    folder.mkdir(parents=True, exist_ok=True)
    return filled(folder, form).read_bytes()


def _input_names(form: str) -> list[str]:
    names = contract_names(make_layout(load_spec(form)))
    return sorted(n for n in names if n != "pe_selfcheck")


def _storable(value):
    """What openpyxl will write: illegal XML characters removed from text, amounts within
    ±1e300 (see the module docstring), ints as big as they come."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        number = parse_amount(value).value  # "1e308" typed as text is kept as 1e308 too
        return "1e300" if number is not None and abs(number) > 1e300 else value
    if isinstance(value, float) and math.isfinite(value) and abs(value) > 1e300:
        return math.copysign(1e300, value)
    if isinstance(value, int) and not isinstance(value, bool) and 1e300 < abs(value) < 1e309:
        return 10**300 if value > 0 else -(10**300)
    if isinstance(value, (datetime, time)) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # openpyxl refuses time zones
    return value


CELL_VALUES = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT, WHEN).map(_storable)


def _known_grade_bug(exc: BaseException) -> bool:
    """score.grade() raising StopIteration for a 总分 below every grade (a negative 执行数) or
    NaN: a known bug, shown deterministically by the strict xfails in test_hostile.py
    (test_file_does_not_crash_check). Such examples are rejected here so that this property keeps
    looking for other failures; when the bug is fixed, this never happens again."""
    frames = traceback.extract_tb(exc.__traceback__)
    return isinstance(exc, StopIteration) and frames[-1].name == "grade"


@st.composite
def typed_forms(draw):
    form = draw(st.sampled_from(FORMS))
    names = _input_names(form)
    cells = draw(
        st.lists(
            st.tuples(st.sampled_from(names), st.integers(0, 4), CELL_VALUES),
            min_size=1,
            max_size=15,
        )
    )
    return form, cells


def _answers(result: CheckResult) -> None:
    assert result.record is not None or result.findings
    if result.record is None:
        assert any(f.severity == ERROR or f.code == "W009" for f in result.findings)
    for f in result.findings:
        assert f.code in RULES and f.severity == RULES[f.code].severity
        assert f.message.render("zh") and f.message.render("en")
    json.loads(to_json([result], "en"))
    assert format_text([result], "zh")


@settings(max_examples=30, suppress_health_check=TOO_SLOW, **SETTINGS)
@given(typed_forms())
def test_any_typed_values_are_checked_without_raising(tmp_path_factory, case):
    form, cells = case
    root = tmp_path_factory.getbasetemp() / "properties"
    wb = openpyxl.load_workbook(io.BytesIO(_filled(form, str(root))))
    try:
        for name, row, value in cells:
            cell = named_cell(wb, name)
            if name.startswith("pe_ind_"):
                cell = cell.offset(row=row)
            cell.value = value
        out = io.BytesIO()
        wb.save(out)
    finally:
        wb.close()
    path = root / f"typed-{form}.xlsx"
    path.write_bytes(out.getvalue())
    try:
        result = check_workbook(path)
    except StopIteration as exc:
        if not _known_grade_bug(exc):
            raise
        reject()
    _answers(result)
    assert result.record is not None  # the structure is intact: it is always read
    item = Item(path.name, str(path), None, datetime(2023, 1, 1))
    coll = Collection(inbox=str(root), submissions=[Submission(item, result)])
    assert build_summary(coll, generated=datetime(2023, 1, 2)).startswith(b"PK")


# -- mutated bytes -----------------------------------------------------------------------------
PARTS = [
    "xl/worksheets/sheet1.xml",
    "xl/workbook.xml",
    "docProps/custom.xml",
    "[Content_Types].xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    "docProps/core.xml",
    "xl/worksheets/sheet4.xml",  # _meta
]
OPS = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate", "byte"]),
    st.floats(0, 1, exclude_max=True),
    st.integers(0, 255),
    st.integers(1, 64),
)


def _mutate(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for op, where, byte, length in ops:
        if not out:
            break
        at = int(where * len(out))
        if op == "flip":
            out[at] ^= 1 << (byte % 8)
        elif op == "byte":
            out[at] = byte
        elif op == "insert":
            out[at:at] = bytes([byte]) * length
        elif op == "delete":
            del out[at : at + length]
        else:
            del out[at:]
    return bytes(out)


def _mutate_part(data: bytes, part: str, ops) -> bytes:
    """`data` with one part's (inflated) bytes mutated, zipped again: gets past the zip's CRCs
    to the XML parsers and the reader."""
    return with_parts(data, {part: lambda raw: _mutate(raw, ops)})


@settings(max_examples=60, suppress_health_check=TOO_SLOW, **SETTINGS)
@given(
    form=st.sampled_from(FORMS),
    part=st.one_of(st.none(), st.sampled_from(PARTS)),
    ops=st.lists(OPS, min_size=1, max_size=8),
)
def test_mutated_workbook_is_answered_without_raising(tmp_path_factory, form, part, ops):
    root = tmp_path_factory.getbasetemp() / "properties"
    good = _filled(form, str(root))
    data = _mutate(good, ops) if part is None else _mutate_part(good, part, ops)
    path = root / f"mutated-{form}.xlsx"
    path.write_bytes(data)
    _answers(check_workbook(path))


def test_the_generators_reach_the_reader(tmp_path):
    """Controls: the unmutated bytes and an unchanged part give a clean record, so the
    properties above start from a readable file."""
    good = _filled("national-2020", str(tmp_path))
    for data in (good, _mutate_part(good, "xl/styles.xml", [])):
        path = tmp_path / "control.xlsx"
        path.write_bytes(data)
        result = check_workbook(path)
        assert result.record is not None and result.findings == []
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        assert set(PARTS) <= set(z.namelist())
