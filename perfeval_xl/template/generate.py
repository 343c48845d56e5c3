"""Template generator: a spec, and what the office already knows, become a locked workbook.

The workbook is built with xlsxwriter in memory, with workbook-structure protection and a few
private steps of xlsxwriter overridden (xlsxpost). Everything a unit must type is a yellow unlocked cell with data validation;
what the office issued is locked; totals, 执行率 and scores are formulas whose cached values are
written too, so a program that never recalculates still shows right numbers. Generation is
deterministic: the same spec, options and issued values give the same bytes.
"""

from __future__ import annotations

import io
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from .._version import __version__
from ..fileio import write_output
from ..forms.layout import SECTION_COL_WIDTH, Area, Layout, contract_names, make_layout, span
from ..forms.spec import Spec, issuable_fields
from . import selfcheck
from .xlsxpost import CachedSheet, FormBook, FormSheet

#: Sheet protection password when the office gives none (documented in the README). Protection
#: guards against slips, not attacks: Excel's legacy hash is 16 bits.
DEFAULT_PASSWORD = "perfeval"
#: Fixed document creation time, so that generation is deterministic.
CREATED = datetime(2020, 1, 1, 0, 0, 0)
LISTS_SHEET = "_lists"
META_SHEET = "_meta"
HELP_SHEET = "填报说明"
#: `_meta` keys of the embedded spec text: `spec_toml_1`, `spec_toml_2` … in order.
SPEC_TEXT_KEY = "spec_toml_"
#: Characters of spec text per `_meta` cell (a cell holds at most 32,767).
SPEC_PART_CHARS = 30_000


def spec_parts(spec: Spec) -> list[tuple[int, str]]:
    """The spec's TOML text cut into `_meta` cells, numbered from 1: the workbook carries its
    own form, so it can be read where that form is not installed (`read` checks it against
    `spec_sha256` and validates it like any spec file)."""
    text = spec.source.decode("utf-8")
    return [
        (i // SPEC_PART_CHARS + 1, text[i : i + SPEC_PART_CHARS])
        for i in range(0, len(text), SPEC_PART_CHARS)
    ]


#: Custom document properties that identify a template (also on the _meta sheet).
PROP_FORM_ID = "perfeval_form_id"
PROP_SPEC_VERSION = "perfeval_spec_version"
#: SHA-256 of the spec text embedded on `_meta` (`spec_toml_1` …), also in the signed data.
PROP_SPEC_SHA256 = "perfeval_spec_sha256"
PROP_WORKBOOK_ID = "perfeval_workbook_id"
PROP_GENERATOR = "perfeval_generator"
PROP_SIGNATURE = "perfeval_signature"
#: What a workbook of ours that is no form is: the summary says `DOCUMENT_SUMMARY`, so that a
#: summary left in an inbox is recognised there and not counted unreadable (W608).
PROP_DOCUMENT = "perfeval_document"
DOCUMENT_SUMMARY = "summary"
#: ... and the lists of the feedback step (审核结果, 未报送: feedback.py)
DOCUMENT_REVIEW = "review"
#: Every kind of workbook of ours that holds no unit's data.
OUR_DOCUMENTS = (DOCUMENT_SUMMARY, DOCUMENT_REVIEW)
#: Every workbook we write: in memory, and text stays text (a unit's "=HYPERLINK(…)" or
#: "http://…" must never become a formula or a link; xlsxwriter converts both by default).
XLSXWRITER_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def looks_rich(text: str) -> bool:
    """Whether xlsxwriter would take `text` for rich-text XML of its own (see `write_text`)."""
    return text.startswith("<r>") and text.endswith("</r>")


def write_text(ws: Any, row: int, col: int, text: str, fmt: Any = None) -> int:
    """Write `text` as the text it is, and return xlsxwriter's code.

    xlsxwriter copies a shared string that starts with "<r>" and ends with "</r>" into the
    file unescaped, as rich text it built itself: such a text from a unit or a roster became
    markup, or XML that no program opens. It is written here as a rich string of two plain
    runs (the cell's own font), each escaped like any other text."""
    if not looks_rich(text):
        return ws.write_string(row, col, text, fmt)
    if fmt is None:  # xlsxwriter wants three fragments, or formats between them
        return ws.write_rich_string(row, col, text[:1], text[1:2], text[2:])
    return ws.write_rich_string(row, col, fmt, text[:1], fmt, text[1:], fmt)


MAX_AMOUNT = 10_000_000_000  # 万元: a trillion yuan; stops 1e308 and typos
#: Height of a header row, and of one line of a header text block (`HeaderField.lines`), in
#: points: 宋体 10 takes about 13.5 a line, with a little room between lines.
HEADER_ROW_HEIGHT = 22
LINE_POINTS = 15
YEAR_RANGE = (2000, 2100)
_WORKBOOK_ID_NS = uuid.UUID("7d3f6b1e-2f1a-5c0e-9a47-5e1f0c2b8d31")

_BASE = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1, "text_wrap": True}
_INPUT_FILL = "#FFF6D5"
_ISSUED_FILL = "#E4ECF7"
_CALC_FILL = "#EFEFEF"
_FORMATS: dict[str, dict[str, Any]] = {
    "title": {"font_name": "黑体", "font_size": 16, "align": "center", "valign": "vcenter"},
    "note": {"font_name": "宋体", "font_size": 9, "valign": "vcenter", "text_wrap": True},
    "label": {**_BASE, "bold": True, "align": "center", "bg_color": "#F2F2F2"},
    "input_text": {**_BASE, "locked": False, "bg_color": _INPUT_FILL, "num_format": "@"},
    "input_choice": {**_BASE, "locked": False, "bg_color": _INPUT_FILL, "align": "center"},
    "input_amount": {**_BASE, "locked": False, "bg_color": _INPUT_FILL, "num_format": "#,##0.00"},
    "input_number": {**_BASE, "locked": False, "bg_color": _INPUT_FILL, "num_format": "0.00"},
    "input_year": {
        **_BASE,
        "locked": False,
        "bg_color": _INPUT_FILL,
        "num_format": "0",
        "align": "center",
    },
    "issued_text": {**_BASE, "bg_color": _ISSUED_FILL, "num_format": "@"},
    "issued_label": {**_BASE, "bg_color": _ISSUED_FILL, "num_format": "@", "align": "center"},
    "issued_number": {**_BASE, "bg_color": _ISSUED_FILL, "align": "center"},
    "issued_amount": {**_BASE, "bg_color": _ISSUED_FILL, "num_format": "#,##0.00"},
    "issued_year": {**_BASE, "bg_color": _ISSUED_FILL, "num_format": "0", "align": "center"},
    "calc_amount": {**_BASE, "bg_color": _CALC_FILL, "num_format": "#,##0.00"},
    "calc_rate": {**_BASE, "bg_color": _CALC_FILL, "num_format": "0.00%", "align": "center"},
    "calc_number": {**_BASE, "bg_color": _CALC_FILL, "num_format": "0.00", "align": "center"},
    "blank": {**_BASE, "bg_color": _CALC_FILL},
    "selfcheck": {
        **_BASE,
        "bold": True,
        "align": "center",
        "num_format": '"自检：发现 "0" 处问题，见红色标记";"自检：—";"自检：未发现问题"',
    },
    "bad": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
    # a warning `check` gives (W305): marked, not counted by the 自检
    "warn": {"bg_color": "#FFEB9C", "font_color": "#9C5700"},
    "good": {"bg_color": "#C6EFCE", "font_color": "#006100"},
    "helper": {"num_format": ";;;", "locked": True, "hidden": True},
    "help_title": {"font_name": "黑体", "font_size": 14},
    # the review sheet of a returned workbook (feedback.py)
    "review_title": {"font_name": "黑体", "font_size": 14, "valign": "vcenter"},
    "review_head": {**_BASE, "bold": True, "bg_color": "#F2F2F2"},
    "review_text": {"font_name": "宋体", "font_size": 10, "valign": "top"},
    "review_para": {"font_name": "宋体", "font_size": 10, "valign": "top", "text_wrap": True},
    "review_cell": {**_BASE, "valign": "top"},
    "review_error": {**_BASE, "valign": "top", "font_color": "#9C0006"},
    "review_warning": {**_BASE, "valign": "top", "font_color": "#9C5700"},
    "review_fixed": {**_BASE, "valign": "top", "font_color": "#006100"},
    "review_link": {**_BASE, "valign": "top", "font_color": "#0563C1", "underline": 1},
    "help_head": {**_BASE, "bold": True, "bg_color": "#F2F2F2"},
    "help_text": {**_BASE},
    "plain": {"font_name": "宋体", "font_size": 10},
}


def workbook_id(spec: Spec, issued: Mapping[str, Any], indicator_rows: int) -> str:
    """A stable id for the workbook: same form, rows and issued values, same id."""
    payload = json.dumps(
        {"form": spec.id, "version": spec.version, "rows": indicator_rows, "issued": dict(issued)},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return str(uuid.uuid5(_WORKBOOK_ID_NS, payload))


def excel_safe_name(prefix: str, label: str, taken: set[str]) -> str:
    """A defined name for `label` that Excel, WPS and LibreOffice accept, unique among `taken`.

    Anything but ASCII letters, digits, `_`, `.` and CJK ideographs becomes `_`. The prefix (which
    must start with a letter and contain `_`) keeps it from looking like a cell (`Q1`, `R1C1`).
    """
    body = re.sub(r"[^A-Za-z0-9_.\u4e00-\u9fff]", "_", label)
    body = re.sub(r"_+", "_", body).strip("_") or "x"
    base = f"{prefix}{body}"[:200]
    name, n = base, 2
    while name.lower() in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name.lower())
    return name


@dataclass(frozen=True)
class Filled:
    """What a unit entered, for a workbook handed back to it (feedback.py): single cells by
    contract name without `pe_`, indicator rows by their index in the table, each key -> the
    value as the unit's file stored it (text, number or None)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    rows: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewLink:
    """A cell of the review sheet that links to a cell of the form sheet (`target`: A1)."""

    text: str
    target: str


@dataclass(frozen=True)
class Review:
    """The office's review, laid over a returned workbook (feedback.py decides the content).

    `lines` become a first sheet named `sheet`, each a style (title, head, text, error, warning,
    fixed) and its cells, a cell being text or a `ReviewLink`. `notes` are cell comments on the
    form sheet (A1 -> text). `marks` are conditional formats on the form sheet (A1 -> formula
    and format, "bad" or "warn"): a mark is a rule, so it goes when the cell is put right."""

    sheet: str
    widths: tuple[float, ...]
    lines: list[tuple[str, list[str | ReviewLink]]]
    notes: Mapping[str, str] = field(default_factory=dict)
    marks: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def build_template(
    spec: Spec,
    issued: Mapping[str, Any] | None = None,
    *,
    password: str = DEFAULT_PASSWORD,
    indicator_rows: int | None = None,
    key: bytes | None = None,
    filled: Filled | None = None,
    review: Review | None = None,
) -> bytes:
    """Build one locked template.

    Args:
        spec: the form.
        issued: values the office pre-fills, by contract name without `pe_` (see
            `issuable_fields`); they are written locked. Amounts are numbers, `year` an int.
        password: sheet and workbook protection password ("" for none).
        indicator_rows: rows in the indicator table (default: the spec's).
        key: the office's signing key (`sign.load_key`): the issued values and their
            HMAC-SHA256 signature go on the `_meta` sheet, so changes can be proven later.
        filled: values a unit entered, written into their input cells (still unlocked, with
            their validations): a returned workbook is a fresh template, not the unit's file
            re-saved (which would lose Excel's x14 validations and the cached values). The
            form sheet's formulas then carry no cached results: with values typed in, every
            total and mark must be computed on opening, as LibreOffice does for a formula
            without one (Excel and WPS recalculate every file xlsxwriter writes).
        review: the office's review sheet, notes and marks (feedback.py).

    Returns:
        The .xlsx file's bytes.
    """
    issued = dict(issued or {})
    unknown = set(issued) - set(issuable_fields(spec))
    if unknown:
        raise ValueError(f"not issuable on {spec.id}: {sorted(unknown)}")
    lay = make_layout(spec, indicator_rows)
    buf = io.BytesIO()
    wb = FormBook(buf, XLSXWRITER_OPTIONS)
    wb.protect_structure(password)
    _FormWriter(wb, spec, lay, issued, password, key, filled, review).write()
    wb.close()
    return buf.getvalue()


class _FormWriter:
    """Writes one workbook; each method owns one block of the form or one sheet."""

    def __init__(
        self,
        wb: Any,
        spec: Spec,
        lay: Layout,
        issued: dict[str, Any],
        password: str,
        key: bytes | None = None,
        filled: Filled | None = None,
        review: Review | None = None,
    ) -> None:
        self.wb = wb
        self.spec = spec
        self.lay = lay
        self.issued = issued
        self.password = password
        self.filled = filled or Filled()
        self.review = review
        self.fmt = {k: wb.add_format(v) for k, v in _FORMATS.items()}
        wb.number_styles(list(self.fmt.values()))
        # the review comes first: the sheet a unit sees on opening its returned workbook
        self.front = wb.add_worksheet(review.sheet) if review is not None else None
        self.ws = wb.add_worksheet(spec.sheet, worksheet_class=FormSheet)
        self.ws.uncached = filled is not None
        self.help = wb.add_worksheet(HELP_SHEET, worksheet_class=CachedSheet)
        self.lists = wb.add_worksheet(LISTS_SHEET, worksheet_class=CachedSheet)
        # the same XML in every workbook of this form and password (xlsxpost.CachedSheet)
        self.help.cache_key = (HELP_SHEET, spec.digest, password)
        self.lists.cache_key = (LISTS_SHEET, spec.digest, password)
        self.meta = wb.add_worksheet(META_SHEET)
        self.sheet_ref = "'" + spec.sheet.replace("'", "''") + "'"
        self.names = contract_names(lay)
        self.check = selfcheck.for_form(spec, lay, self.sheet_ref)
        self.wid = workbook_id(spec, issued, lay.indicator_rows)
        self.signed: dict[str, str] = {}
        if key is not None:
            from ..sign import sign

            self.signed = sign(key, spec.id, spec.version, self.wid, issued, spec.digest)

    def write(self) -> None:
        # The sheets that depend on the form alone first: their texts then take the same
        # shared-string numbers (and formats the same style numbers) in every workbook of the
        # form, so their XML is the same bytes in each, and `collect` parses it once.
        self._help()
        self._lists()
        self._properties()
        self._columns()
        self._title()
        self._header()
        self._funds()
        self._goals()
        self._indicators()
        self._footer()
        self._selfcheck()
        self._meta()
        self._define_names()
        self._print_and_protect()
        self._review()

    # -- helpers ---------------------------------------------------------------------------
    def ref(self, area: Area) -> str:
        return f"{self.sheet_ref}!{area.a1()}"

    def put(self, area: Area, value: Any, fmt: str) -> None:
        """Write a value (str, number or None) into a cell or merged area."""
        f = self.fmt[fmt]
        if not area.is_cell:
            self.ws.merge_range(area.first_row, area.first_col, area.last_row, area.last_col, "", f)
        r, c = area.first_row, area.first_col
        if value is None:
            self.ws.write_blank(r, c, None, f)
        elif isinstance(value, str):
            write_text(self.ws, r, c, value, f)
        else:
            self.ws.write_number(r, c, value, f)

    def formula(self, area: Area, formula: str, fmt: str, cached: Any) -> None:
        """Write a formula with its cached result (what shows until a program recalculates)."""
        self.put(area, None, fmt)
        self.ws.write_formula(area.first_row, area.first_col, formula, self.fmt[fmt], cached)

    def validate(self, area: Area, options: dict[str, Any]) -> None:
        opts = {"error_type": "stop", "ignore_blank": True, **options}
        rc = self.ws.data_validation(
            area.first_row, area.first_col, area.last_row, area.last_col, opts
        )
        if rc != 0:  # xlsxwriter only warns on bad options: a bug here must not pass silently
            raise RuntimeError(f"data_validation({area.a1()}, {opts}) returned {rc}")

    def mark(self, area: Area, criteria: str, fmt: str = "bad", *more: Area) -> None:
        """A conditional format over `area` (and `more` areas, one rule for all of them)."""
        options = {"type": "formula", "criteria": criteria, "format": self.fmt[fmt]}
        if more:
            options["multi_range"] = " ".join(a.a1(absolute=False) for a in (area, *more))
        rc = self.ws.conditional_format(
            area.first_row, area.first_col, area.last_row, area.last_col, options
        )
        if rc != 0:
            raise RuntimeError(f"conditional_format({area.a1()}, {criteria}) returned {rc}")

    def text_rule(self, area: Area, title: str, message: str, max_length: int) -> None:
        self.validate(
            area,
            {
                "validate": "length",
                "criteria": "<=",
                "value": max_length,
                "input_title": title[:32],
                "input_message": (message + f"（不超过 {max_length} 字）")[:255],
                "error_title": "内容过长",
                "error_message": f"「{title}」不超过 {max_length} 个字符。"[:255],
            },
        )

    def typed(self, name: str) -> Any:
        """What the unit entered in a single input cell (returned workbooks), else None."""
        return self.filled.values.get(name)

    def typed_row(self, index: int, key: str) -> Any:
        """What the unit entered in row `index` of the indicator table, column `key`."""
        row = self.filled.rows.get(index)
        return None if row is None else row.get(key)

    def cell(self, name: str) -> str:
        """Relative A1 reference of a single named cell, for formulas."""
        return self.names[name].a1(absolute=False)

    # -- blocks ----------------------------------------------------------------------------
    def _properties(self) -> None:
        self.wb.set_properties(
            {
                "title": self.spec.title,
                "subject": "部门整体支出绩效自评" if self.spec.department else "项目支出绩效自评",
                "author": "perfeval-xl",
                "comments": f"{self.spec.id} v{self.spec.version}",
                "created": CREATED,
            }
        )
        self.wb.set_custom_property(PROP_FORM_ID, self.spec.id)
        self.wb.set_custom_property(PROP_SPEC_VERSION, str(self.spec.version))
        self.wb.set_custom_property(PROP_SPEC_SHA256, self.spec.digest)
        self.wb.set_custom_property(PROP_WORKBOOK_ID, self.wid)
        self.wb.set_custom_property(PROP_GENERATOR, f"perfeval-xl {__version__}")
        if self.signed:
            self.wb.set_custom_property(PROP_SIGNATURE, self.signed["signature"])

    def _columns(self) -> None:
        self.ws.set_column(0, 0, SECTION_COL_WIDTH)
        for key, col in self.lay.indicator_cols.items():
            width = next(c.width for c in self.spec.indicator_columns if c.key == key)
            self.ws.set_column(col, col, width)

    def _title(self) -> None:
        lay = self.lay
        self.ws.set_row(lay.title.first_row, 32)
        self.put(lay.title, self.spec.title, "title")
        self.ws.set_row(lay.note.first_row, 30)
        unit = f"金额单位：{self.spec.amount_unit}。" if self.spec.has_funds else ""
        self.put(
            lay.note,
            f"{unit}黄色单元格由填报单位填写，蓝色为财政部门预填，灰色为自动计算。",
            "note",
        )

    def _header(self) -> None:
        for f in self.spec.header:
            label, value = self.lay.header[f.name]
            # a text block of several lines is one tall row, its cell wrapping (input_text)
            self.ws.set_row(label.first_row, max(HEADER_ROW_HEIGHT, f.lines * LINE_POINTS))
            self.put(label, f.label, "label")
            if f.name in self.issued:
                v = self.issued[f.name]
                self.put(value, v, "issued_year" if f.type == "year" else "issued_text")
                continue
            if f.type == "year":
                self.put(value, self.typed(f.name), "input_year")
                self.validate(
                    value.anchor(),
                    {
                        "validate": "integer",
                        "criteria": "between",
                        "minimum": YEAR_RANGE[0],
                        "maximum": YEAR_RANGE[1],
                        "input_title": f.label,
                        "input_message": f.help or "四位年份",
                        "error_title": "年度有误",
                        "error_message": f"请输入 {YEAR_RANGE[0]}–{YEAR_RANGE[1]} 之间的年份。",
                    },
                )
            else:
                self.put(value, self.typed(f.name), "input_text")
                self.text_rule(value.anchor(), f.label, f.help, f.max_length)

    def _funds(self) -> None:
        spec, lay = self.spec, self.lay
        if not spec.has_funds:
            return
        hr = lay.funds_header_row
        first, last = lay.funds_label_cols
        self.ws.set_row(hr, 30)
        self.put(lay.funds_section, spec.funds_label, "label")
        self.put(span(hr, first, last), "资金来源", "label")
        for c in spec.fund_columns:
            a, b = lay.fund_cols[c.key]
            self.put(span(hr, a, b), c.label, "label")
        total_row = lay.fund_rows["total"]
        last_src = lay.fund_rows[spec.fund_rows[-1].key]
        for r in spec.fund_rows:
            row = lay.fund_rows[r.key]
            self.ws.set_row(row, 20)
            self.put(span(row, first, last), r.label, "label")
            for c in spec.fund_columns:
                area = lay.fund_cell(r.key, c.key)
                if c.kind == "amount":
                    self._amount(r.key, c.key, area, total_row, last_src)
                elif c.kind == "rate":
                    self._rate(row, area)
                elif r.key != "total":
                    if c.kind != "exec_reason":  # the reason cell spans all fund rows
                        self.put(area, None, "blank")
                elif c.kind == "exec_weight":
                    self.put(area, spec.exec_weight, "calc_number")
                elif c.kind == "exec_score":
                    rate = self.cell("pe_exec_rate")
                    self.formula(
                        area,
                        f'=IF(ISNUMBER({rate}),ROUND(MIN({rate},1)*{spec.exec_weight:g},2),"")',
                        "calc_number",
                        "",
                    )
                elif c.kind == "exec_reason":
                    self._exec_reason(area, last_src, c.max_length)

    def _amount(
        self, row_key: str, col_key: str, area: Area, total_row: int, last_src: int
    ) -> None:
        name = f"fund_{row_key}_{col_key}"
        if row_key == "total":
            col = area.first_col
            sources = Area(total_row + 1, col, last_src, col).a1(absolute=False)
            issued = [
                self.issued[f"fund_{r.key}_{col_key}"]
                for r in self.spec.source_rows
                if f"fund_{r.key}_{col_key}" in self.issued
            ]
            cached = round(sum(issued), 6) if issued else ""
            self.formula(
                area, f'=IF(COUNT({sources})=0,"",ROUND(SUM({sources}),6))', "calc_amount", cached
            )
        elif name in self.issued:
            self.put(area, self.issued[name], "issued_amount")
        else:
            self.put(area, self.typed(name), "input_amount")
            self.validate(
                area.anchor(),
                {
                    "validate": "decimal",
                    "criteria": "between",
                    "minimum": 0,
                    "maximum": MAX_AMOUNT,
                    "input_title": "金额（万元）",
                    "input_message": "填写数字，单位万元，保留两位小数；不要输入“万元”等文字。",
                    "error_title": "金额有误",
                    "error_message": "金额须为不小于 0 的数字（单位：万元）。",
                },
            )

    def _rate(self, row: int, area: Area) -> None:
        b0, _ = self.lay.fund_cols["budget"]
        s0, _ = self.lay.fund_cols["spent"]
        budget = span(row, b0, b0).a1(absolute=False)
        spent = span(row, s0, s0).a1(absolute=False)
        self.formula(
            area,
            f'=IF(AND(ISNUMBER({budget}),ISNUMBER({spent}),N({budget})>0),{spent}/{budget},"")',
            "calc_rate",
            "",  # spent is never issued, so a new template has no rate yet
        )

    def _exec_reason(self, area: Area, last_src: int, max_length: int) -> None:
        whole = Area(area.first_row, area.first_col, last_src, area.last_col)
        self.put(whole, self.typed("exec_reason"), "input_text")
        threshold = f"{self.spec.exec_reason_below:.0%}"
        self.text_rule(
            whole.anchor(),
            "执行率偏低原因",
            f"预算执行率低于 {threshold} 时须说明原因",
            max_length,
        )

    def _goals(self) -> None:
        spec, lay = self.spec, self.lay
        g = spec.goals
        if g is None or lay.goal_expected is None or lay.goal_actual is None:
            return
        self.ws.set_row(lay.goals_header_row, 22)
        self.ws.set_row(lay.goal_expected.first_row, 90)
        self.put(lay.goals_section, g.label, "label")
        self.put(
            span(lay.goals_header_row, 1, lay.goal_expected.last_col), g.expected_label, "label"
        )
        self.put(
            span(lay.goals_header_row, lay.goal_actual.first_col, lay.goal_actual.last_col),
            g.actual_label,
            "label",
        )
        if "goal_expected" in self.issued:
            self.put(lay.goal_expected, self.issued["goal_expected"], "issued_text")
        else:
            self.put(lay.goal_expected, self.typed("goal_expected"), "input_text")
            self.text_rule(
                lay.goal_expected.anchor(), g.expected_label, "年初设定的年度总体目标", g.max_length
            )
        self.put(lay.goal_actual, self.typed("goal_actual"), "input_text")
        self.text_rule(
            lay.goal_actual.anchor(), g.actual_label, "对照预期目标写明实际完成情况", g.max_length
        )

    def _indicators(self) -> None:
        spec, lay = self.spec, self.lay
        hr = lay.indicators_header_row
        self.ws.set_row(hr, 30)
        self.put(lay.indicators_section, spec.indicators_label, "label")
        for c in spec.indicator_columns:
            col = lay.indicator_cols[c.key]
            self.put(span(hr, col, col), c.label, "label")
        if spec.department:
            self._items()
            self._total_row()
            return
        widths = {c.key: c.width for c in spec.indicator_columns}
        for i, row in enumerate(range(lay.first_indicator_row, lay.last_indicator_row + 1)):
            typed = self.filled.rows.get(i, {})
            # a returned workbook's rows as tall as the unit's longest text needs (at most
            # Excel's 409 points): the template's 30 points hide all but two lines of it
            tall = max(
                (_lines(v, widths[k]) for k, v in typed.items() if isinstance(v, str)), default=1
            )
            self.ws.set_row(row, min(409, max(30, 13.5 * tall + 4)))
            for c in spec.indicator_columns:
                fmt = "input_choice" if c.key in _CHOICE_COLUMNS else "input_text"
                if c.key in ("weight", "score"):
                    fmt = "input_number"
                col = lay.indicator_cols[c.key]
                self.put(span(row, col, col), self.typed_row(i, c.key), fmt)
        for c in spec.indicator_columns:
            self.validate(
                lay.indicator_column(c.key), self._indicator_rule(c.key, c.label, c.max_length)
            )
        if lay.total_row is not None:
            self._total_row()

    def _items(self) -> None:
        """A department form's rows, as the finance office set them (`[[items]]`): 一级 and 二级
        merged over their rows with their 分值 in the label (规划（15分）), 三级, 分值 and the
        extra texts (指标解释, 评分标准) locked; the 自评得分 (0 to the row's 分值) and 扣分原因
        are the department's."""
        spec, lay = self.spec, self.lay
        first = lay.first_indicator_row
        for key, weights in (
            ("level1", {x.label: x.weight for x in spec.level1}),
            ("level2", spec.level2_weight),
        ):
            col = lay.indicator_cols[key]
            start = 0
            for i in range(1, len(spec.items) + 1):
                here = getattr(spec.items[start], key)
                if (
                    i < len(spec.items)
                    and getattr(spec.items[i], key) == here
                    and (key == "level1" or spec.items[i].level1 == spec.items[start].level1)
                ):
                    continue
                label = f"{here}（{weights[here]:g}分）" if here in weights else here
                self.put(Area(first + start, col, first + i - 1, col), label, "issued_label")
                start = i
        for i, item in enumerate(spec.items):
            row = first + i
            texts = dict(item.texts)
            longest = max([len(item.name), *(len(t) for t in texts.values())])
            self.ws.set_row(row, max(30, 13 * (1 + longest // 18)))
            for c in spec.indicator_columns:
                cell = span(row, lay.indicator_cols[c.key], lay.indicator_cols[c.key])
                if c.key == "name":
                    self.put(cell, item.name, "issued_text")
                elif c.key == "weight":
                    self.put(cell, item.weight, "issued_number")
                elif c.extra:
                    self.put(cell, texts.get(c.key), "issued_text")
                elif c.key == "score":
                    self.put(cell, self.typed_row(i, c.key), "input_number")
                    self.validate(
                        cell,
                        {
                            "validate": "decimal",
                            "criteria": "between",
                            "minimum": 0,
                            "maximum": item.weight,
                            "input_title": c.label[:32],
                            "input_message": f"自评得分，0 到本项分值 {item.weight:g} 之间的数字。",
                            "error_title": f"{c.label}有误"[:32],
                            "error_message": f"{c.label}须为 0 到 {item.weight:g} 之间的数字。",
                        },
                    )
                elif c.key not in ("level1", "level2"):
                    self.put(cell, self.typed_row(i, c.key), "input_text")
        for c in spec.indicator_columns:
            if c.key in ("reason",):
                self.validate(
                    lay.indicator_column(c.key), self._indicator_rule(c.key, c.label, c.max_length)
                )

    def _indicator_rule(self, key: str, label: str, max_length: int) -> dict[str, Any]:
        spec = self.spec
        if key == "level1":
            return _list_rule(
                "=pe_list_level1", label, "从下拉列表选择一级指标。", "请从下拉列表选择一级指标。"
            )
        if key == "level2":
            first = self.lay.first_indicator_row + 1
            l1 = f"${xl_col_to_name(self.lay.indicator_cols['level1'])}{first}"
            source = f'=INDIRECT(IFERROR(VLOOKUP({l1},pe_map_level1,2,FALSE),"pe_list_level2"))'
            return _list_rule(
                source,
                label,
                "先选一级指标，再从下拉列表选择其下的二级指标。",
                "二级指标须属于所选一级指标，请从下拉列表选择。",
            )
        if key == "status":
            statuses = "、".join(spec.statuses)
            return _list_rule(
                "=pe_list_status", label, f"选择：{statuses}。", f"完成状态只能是：{statuses}。"
            )
        if key == "sign":
            signs = " ".join(spec.signs)
            return _list_rule(
                "=pe_list_sign", label, f"选择指标性质：{signs}。", f"指标性质只能是：{signs}。"
            )
        if key in ("weight", "score"):
            top = int(spec.score_total) if spec.score_total.is_integer() else spec.score_total
            what = "分值（权重）" if key == "weight" else "得分"
            return {
                "validate": "decimal",
                "criteria": "between",
                "minimum": 0,
                "maximum": top,
                "input_title": label,
                "input_message": f"{what}，0–{top:g} 之间的数字。"
                + ("不得超过本行分值。" if key == "score" else ""),
                "error_title": f"{label}有误",
                "error_message": f"{label}须为 0 到 {top:g} 之间的数字。",
            }
        hints = {
            "name": "具体的三级指标名称。",
            "target": "量化的指标值，如“≥90%”“12次”，或写明定性。",
            "actual": "实际完成的数值或情况。",
            "unit": "度量单位，如 次、%、万元。",
            "reason": "未得满分时，写明扣分原因。"
            if spec.department
            else "未完成或未得满分时，写明偏差原因及改进措施。",
        }
        # an extra free-text column (kind = "text") prompts with its own help
        hint = hints.get(key) or next(
            (c.help for c in spec.indicator_columns if c.key == key and c.extra), ""
        )
        return {
            "validate": "length",
            "criteria": "<=",
            "value": max_length,
            "input_title": label[:32],
            "input_message": (hint + f"（不超过 {max_length} 字）")[:255],
            "error_title": "内容过长",
            "error_message": f"「{label}」不超过 {max_length} 个字符。",
        }

    def _total_row(self) -> None:
        lay, spec = self.lay, self.spec
        row = lay.total_row
        self.ws.set_row(row, 22)
        self.put(lay.total_label, spec.indicators_total_label, "label")
        weights = lay.indicator_column("weight").a1(absolute=False)
        scores = lay.indicator_column("score").a1(absolute=False)
        wcol, scol = lay.indicator_cols["weight"], lay.indicator_cols["score"]
        issued = sum(x.weight for x in spec.items)
        if spec.has_funds:
            exec_score = self.cell("pe_exec_score")
            weight = f'=IF(COUNT({weights})=0,"",{spec.exec_weight:g}+SUM({weights}))'
            score = f'=IF(COUNT({exec_score},{scores})=0,"",ROUND(N({exec_score})+SUM({scores}),2))'
        else:
            weight = f'=IF(COUNT({weights})=0,"",{spec.exec_weight:g}+SUM({weights}))'
            score = f'=IF(COUNT({scores})=0,"",ROUND(SUM({scores}),2))'
        self.formula(span(row, wcol, wcol), weight, "calc_number", round(issued, 6) or "")
        self.formula(span(row, scol, scol), score, "calc_number", "")
        # every column right of 分值 but 得分: an extra column may stand between the two
        for col in range(wcol + 1, lay.ncols):
            if col != scol:
                self.put(span(row, col, col), None, "blank")

    def _footer(self) -> None:
        for f in self.spec.footer:
            label, value = self.lay.footer[f.name]
            self.ws.set_row(label.first_row, 45)
            self.put(label, f.label, "label")
            self.put(value, self.typed(f.name), "input_text")
            self.text_rule(value.anchor(), f.label, f.help, f.max_length)

    def _selfcheck(self) -> None:
        """The 自检 cell and every problem mark: the rules of `check` a formula can apply, as
        defined names (selfcheck.py), so a unit sees a problem where `check` would report it,
        even after pasting past the validation."""
        check = self.check
        for name, formula in check.names.items():
            if self.wb.define_name(name, formula) != 0:
                raise RuntimeError(f"define_name({name}) failed")
        # What a row's rules need more than once, computed once a row (selfcheck.HELPERS):
        # hidden, locked, and shown as nothing should a unit unhide the columns.
        lay, fmt = self.lay, self.fmt["helper"]
        for h in check.helpers:
            self.ws.set_column(h.col, h.col, 4, None, {"hidden": True})
            for row in range(lay.first_indicator_row, lay.last_indicator_row + 1):
                self.ws.write_formula(row, h.col, f"={h.name}", fmt, h.blank)
        for m in check.marks:
            self.mark(m.areas[0], m.formula, m.kind, *m.areas[1:])
        cached = selfcheck.template_count(self.spec, self.issued)
        self.formula(lay.selfcheck, check.count_formula, "selfcheck", cached)
        anchor = lay.selfcheck.anchor()
        cell = anchor.a1(absolute=False)
        self.mark(anchor, f"={cell}>0", "bad")
        self.mark(anchor, f"={cell}=0", "good")

    # -- other sheets ----------------------------------------------------------------------
    def _lists(self) -> None:
        """Dropdown sources on a very hidden sheet: Excel drops inline lists over 255 chars."""
        ws, spec, bold = self.lists, self.spec, self.fmt["plain"]
        taken: set[str] = set()
        write_text(ws, 0, 0, "一级指标", bold)
        write_text(ws, 0, 1, "二级列表名", bold)
        n1 = len(spec.level1)
        col = 2
        for i, l1 in enumerate(spec.level1):
            name = excel_safe_name("pe_l2_", l1.label, taken)
            write_text(ws, 1 + i, 0, l1.label)
            write_text(ws, 1 + i, 1, name)
            write_text(ws, 0, col, l1.label)
            for j, l2 in enumerate(l1.level2):
                write_text(ws, 1 + j, col, l2)
            self._name(name, LISTS_SHEET, Area(1, col, len(l1.level2), col))
            col += 1
        self._name("pe_list_level1", LISTS_SHEET, Area(1, 0, n1, 0))
        self._name("pe_map_level1", LISTS_SHEET, Area(1, 0, n1, 1))
        for name, title, items in (
            ("pe_list_level2", "全部二级指标", [x for l1 in spec.level1 for x in l1.level2]),
            ("pe_list_status", "完成状态", list(spec.statuses)),
            ("pe_list_sign", "指标性质", list(spec.signs)),
        ):
            if not items:
                continue
            write_text(ws, 0, col, title)
            for j, item in enumerate(items):
                write_text(ws, 1 + j, col, item)
            self._name(name, LISTS_SHEET, Area(1, col, len(items), col))
            col += 1
        ws.very_hidden()
        ws.protect(self.password)

    def _meta(self) -> None:
        ws = self.meta
        rows = [
            ("form_id", self.spec.id, "pe_meta_form_id"),
            ("spec_version", self.spec.version, "pe_meta_spec_version"),
            ("workbook_id", self.wid, "pe_meta_workbook_id"),
            ("generator", f"perfeval-xl {__version__}", None),
            ("indicator_rows", self.lay.indicator_rows, None),
            *((name, value, None) for name, value in self.signed.items()),
            ("spec_sha256", self.spec.digest, None),
            *((f"{SPEC_TEXT_KEY}{i}", part, None) for i, part in spec_parts(self.spec)),
        ]
        write_text(ws, 0, 0, "key")
        write_text(ws, 0, 1, "value")
        for i, (key, value, name) in enumerate(rows, start=1):
            write_text(ws, i, 0, key)
            if isinstance(value, str):
                write_text(ws, i, 1, value)
            else:
                ws.write_number(i, 1, value)
            if name:
                self._name(name, META_SHEET, Area(i, 1, i, 1))
        ws.very_hidden()
        ws.protect(self.password)

    def _help(self) -> None:
        from .instructions import instruction_rows

        ws, f = self.help, self.fmt
        ws.set_column(0, 0, 20)
        ws.set_column(1, 1, 70)
        ws.set_column(2, 2, 30)
        ws.hide_gridlines(2)
        row = 0
        for kind, cells in instruction_rows(self.spec):
            style = {"title": "help_title", "head": "help_head", "text": "help_text"}[kind]
            if kind == "title":
                row += 1 if row else 0
                ws.set_row(row, 24)
            for col, text in enumerate(cells):
                write_text(ws, row, col, text, f[style])
            row += 1
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.protect(self.password, {"format_columns": True, "format_rows": True})

    def _name(self, name: str, sheet: str, area: Area) -> None:
        # Always quoted: a sheet name starting with "_" or a digit is safest quoted in Excel.
        if self.wb.define_name(name, f"='{sheet}'!{area.a1()}") != 0:
            raise RuntimeError(f"define_name({name}) failed")

    def _define_names(self) -> None:
        for name, area in self.names.items():
            if self.wb.define_name(name, "=" + self.ref(area)) != 0:
                raise RuntimeError(f"define_name({name}) failed")

    def _print_and_protect(self) -> None:
        ws, lay = self.ws, self.lay
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.center_horizontally()
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.repeat_rows(lay.indicators_header_row)
        p = lay.printed
        ws.print_area(p.first_row, p.first_col, p.last_row, p.last_col)
        ws.set_footer("&C第 &P 页，共 &N 页")
        ws.hide_gridlines(2)
        if self.front is None:  # else the review is the sheet shown on opening
            ws.activate()
        # Units may resize rows and columns to read long text; everything else stays put.
        ws.protect(
            self.password,
            {"format_columns": True, "format_rows": True, "select_locked_cells": True},
        )

    def _review(self) -> None:
        """The office's review sheet, and its notes and marks on the form (`Review`)."""
        review, ws = self.review, self.front
        if review is None or ws is None:
            return
        fmt = self.fmt
        for col, width in enumerate(review.widths):
            ws.set_column(col, col, width)
        ws.hide_gridlines(2)
        last = len(review.widths) - 1
        for row, (style, cells) in enumerate(review.lines):
            if style == "title":
                ws.set_row(row, 28)
            elif style == "para":  # a label, and a paragraph over the other columns
                text = str(cells[1])
                write_text(ws, row, 0, str(cells[0]), fmt["review_text"])
                ws.merge_range(row, 1, row, last, "", fmt["review_para"])
                write_text(ws, row, 1, text, fmt["review_para"])
                ws.set_row(row, _lines(text, sum(review.widths[1:])) * 14 + 4)
                continue
            else:
                tall = max(
                    (
                        _lines(c.text if isinstance(c, ReviewLink) else c, review.widths[i])
                        for i, c in enumerate(cells)
                        if i <= last
                    ),
                    default=1,
                )
                if tall > 1 and style != "text":
                    ws.set_row(row, tall * 14 + 4)
            for col, cell in enumerate(cells):
                if isinstance(cell, ReviewLink):
                    ws.write_url(
                        row,
                        col,
                        f"internal:{self.sheet_ref}!{cell.target}",
                        fmt["review_link"],
                        cell.text,
                    )
                else:
                    write_text(ws, row, col, cell, fmt[f"review_{style}"])
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.protect(self.password, {"format_columns": True, "format_rows": True})
        ws.activate()
        for a1, text in review.notes.items():
            rows = 4 + len(text) // 28 + text.count("\n")
            self.ws.write_comment(
                a1,
                text,
                {
                    "author": "财政部门",
                    "x_scale": 2.4,
                    "y_scale": max(1.0, rows / 4.5),
                    "font_name": "宋体",
                    "font_size": 10,
                },
            )
        for a1, (criteria, kind) in review.marks.items():
            options = {"type": "formula", "criteria": criteria, "format": self.fmt[kind]}
            if self.ws.conditional_format(a1, options) != 0:
                raise RuntimeError(f"conditional_format({a1}, {criteria}) failed")


def _lines(text: str, width: float) -> int:
    """About the lines `text` wraps to in a column `width` characters wide: a CJK character of
    宋体 10 is about 1.9 widths of Excel's "0", somewhat less as LibreOffice renders it."""
    # UTF-8 takes 3 bytes for a CJK character, 1 for ASCII: counted without a Python loop
    wide = len(text) + 0.4 * (len(text.encode("utf-8")) - len(text))
    return max(1, text.count("\n") + 1, math.ceil(wide / max(1.0, width - 1)))


_CHOICE_COLUMNS = ("level1", "level2", "status", "sign")


def _list_rule(source: str, title: str, prompt: str, error: str) -> dict[str, Any]:
    return {
        "validate": "list",
        "source": source,
        "input_title": title[:32],
        "input_message": prompt[:255],
        "error_title": "请从列表选择",
        "error_message": error[:255],
    }


def write_template(
    path: Path | str,
    spec: Spec,
    *,
    password: str = DEFAULT_PASSWORD,
    indicator_rows: int | None = None,
    key: bytes | None = None,
) -> Path:
    """Write one blank template to `path` (atomically) and return the path."""
    path = Path(path)
    data = build_template(spec, password=password, indicator_rows=indicator_rows, key=key)
    write_output(path, data)
    return path
