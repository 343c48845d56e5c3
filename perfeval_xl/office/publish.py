"""Publishing: the 绩效自评 annex of a department's final accounts (附件2 of 部门决算公开), as Word.

Every department publishes, each year, one table per project in its form's printed layout, titled
as the form is (domain.md §8); offices retype them from the units' workbooks today. This module
prints them from the collected records instead: the values the units typed (with the office's
issued values in place, as the summary counts them) and, on scored forms, the tool's scores.

A published annex is read by the public and by an annex reader (`check 附件.docx`) that finds
everything by the form's own labels, so every label is the spec's, exactly. It holds nothing but
the form's values: no finding, no file name, no path. The same collection gives the same bytes
(fixed document properties and zip timestamps), so an annex can be compared with last run's.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell

from ..errors import OutputError, PublishError, Text
from ..fileio import write_output
from ..forms.spec import Spec
from ..intake.record import Record
from ..review.score import ProjectScore
from .collect import Collection, check_outputs

#: The document's fixed dates (core properties) and its zip members' (the zip format's earliest):
#: the same projects give the same bytes.
DOC_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
AUTHOR = "perfeval-xl"
#: A form with more indicator columns than this prints its projects on A4 landscape pages.
PORTRAIT_COLUMNS_MAX = 7
#: A4, in cm, and the margins of an annex page (a table page, not a 公文 text page).
A4 = (21.0, 29.7)
MARGINS = {"top": 2.5, "bottom": 2.5, "left": 2.2, "right": 2.2}
#: The width of the first column (the block labels: 项目名称, 项目资金 …), in cm.
LABEL_COLUMN = 2.2
#: Characters of a column's longest text from which the column is widened (by the square root
#: of how many times longer it is, at most 4 times): the 预期指标值 of the seed run to 180.
LONG_TEXT = 10
#: The least height of a row, in cm.
ROW_HEIGHT = 0.7
#: The narrowest column, in cm: three characters of 10.5 pt and the cell's margins.
MIN_COLUMN = 1.6
TITLE_FONT, TEXT_FONT, HEADING_FONT = "宋体", "仿宋_GB2312", "黑体"
TITLE_SIZE, TEXT_SIZE, HEADING_SIZE = Pt(14), Pt(10.5), Pt(14)
#: Seconds LibreOffice may take to print the annex as PDF.
SOFFICE_TIMEOUT = 120

#: Header fields the table prints in rows of their own (项目名称, 项目代码, 主管部门及代码 /
#: 实施单位); the year is in the title. Other header fields get a row each, where the form has them.
_STANDARD_HEADER = ("project_name", "project_code", "year", "dept_name", "dept_code", "unit_name")
#: Indicator columns whose values are short and printed centred (the rest are text, left).
_SHORT_KEYS = ("level1", "level2", "sign", "unit", "status", "weight", "score")
#: What no XML may hold, and the direction overrides that would let a value print reversed.
_UNPRINTABLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)
_AUTO = "（自动计算）"


@dataclass(frozen=True)
class Flagged:
    """A project with errors: refused from the annex, or published with `include_errors`."""

    project: str
    dept_code: str
    #: the file as the clerk knows it (relative to the inbox), to find and fix it
    source: str
    errors: int


@dataclass
class AnnexResult:
    """What `write_annex` wrote."""

    path: Path
    #: the PDF beside it (`pdf=True`), else None
    pdf: Path | None
    #: projects (tables) in the annex, and the 主管部门 they fall under
    published: int
    departments: int
    #: projects published although they have errors (only with `include_errors`)
    with_errors: list[Flagged] = field(default_factory=list)


# -- the document --------------------------------------------------------------------------------
def annex_docx(
    projects: Iterable[tuple[Record, ProjectScore | None]],
    *,
    departments: Mapping[str, str] | None = None,
) -> bytes:
    """The annex as .docx bytes: per 主管部门, in code order, a heading 主管部门：名称（代码）, then
    each of its projects in project-name order (as `Collection.projects` sorts them), one table
    per project on a page of its own, under the form's title (`Spec.annex_title`).

    Args:
        projects: each project's record and score (None, or an unscored form: no scores shown).
        departments: the 主管部门 names by code, where the office's own names should be printed
            instead of those the records give.

    Returns:
        The document; the same projects always give the same bytes.
    """
    grouped: dict[str, list[tuple[Record, ProjectScore | None]]] = {}
    for rec, score in sorted(
        projects, key=lambda p: (_code(p[0]), _text(p[0].value("project_name")))
    ):
        grouped.setdefault(_code(rec), []).append((rec, score))
    doc = Document()
    _setup(doc)
    landscape: bool | None = None
    first = True
    for code, members in grouped.items():
        name = (departments or {}).get(code) or _text(members[0][0].value("dept_name"))
        for i, (rec, score) in enumerate(members):
            wide = len(rec.spec.indicator_columns) > PORTRAIT_COLUMNS_MAX
            new_section = landscape is not None and wide != landscape
            if new_section:
                doc.add_section(WD_SECTION.NEW_PAGE)
            if landscape is None or new_section:
                _page(doc.sections[-1], wide)
            landscape = wide
            paragraphs = []
            if i == 0:
                paragraphs.append(_heading(doc, name, code))
            paragraphs.append(_title(doc, rec.spec.annex_title(rec.value("year"))))
            # each project on a page of its own; a new section already starts one
            if not first and not new_section:
                paragraphs[0].paragraph_format.page_break_before = True
            first = False
            _project_table(doc, rec, score, wide)
    return _stable_zip(_saved(doc))


def _setup(doc: Any) -> None:
    """A4 portrait, the annex fonts, page numbers (- N -) centred in the footer, fixed
    properties."""
    normal = doc.styles["Normal"]
    _font(normal.element.get_or_add_rPr(), TEXT_FONT)
    normal.font.size = TEXT_SIZE
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    section = doc.sections[0]
    _page(section, False)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(footer, "- ", TEXT_FONT, TEXT_SIZE)
    _page_field(footer)
    _run(footer, " -", TEXT_FONT, TEXT_SIZE)
    props = doc.core_properties
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = ""
    props.title = ""
    props.created = props.modified = DOC_TIME.replace(tzinfo=None)
    props.revision = 1


def _page(section: Any, landscape: bool) -> None:
    width, height = (Cm(A4[1]), Cm(A4[0])) if landscape else (Cm(A4[0]), Cm(A4[1]))
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = width, height
    for side, cm in MARGINS.items():
        setattr(section, f"{side}_margin", Cm(cm))
    section.footer_distance = Cm(1.2)


def _page_field(paragraph: Any) -> None:
    """A PAGE field: Word and LibreOffice print the page's number in its place."""
    for part in ("begin", " PAGE ", "separate", "1", "end"):
        # the "1" is what a reader shows until it updates the field
        run = _run(paragraph, "1" if part == "1" else "", TEXT_FONT, TEXT_SIZE)
        if part == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = part
            run._r.append(instr)
        elif part != "1":
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), part)
            run._r.append(char)


def _heading(doc: Any, name: str, code: str) -> Any:
    p = doc.add_paragraph()
    shown = f"{name}（{code}）" if name else code
    _run(p, f"主管部门：{shown}", HEADING_FONT, HEADING_SIZE)
    p.paragraph_format.space_after = Pt(6)
    p.paragraph_format.keep_with_next = True
    return p


def _title(doc: Any, text: str) -> Any:
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, text, TITLE_FONT, TITLE_SIZE, bold=True)
    p.paragraph_format.space_after = Pt(8)
    p.paragraph_format.keep_with_next = True
    return p


def _run(paragraph: Any, text: str, font: str, size: Any, bold: bool = False) -> Any:
    run = paragraph.add_run(_clean(text))
    run.font.size = size
    run.font.bold = bold or None
    _font(run._element.get_or_add_rPr(), font)
    return run


def _font(rpr: Any, name: str) -> None:
    """Set a font for Latin and for Chinese text (w:eastAsia, which python-docx's `font.name`
    leaves out: without it Word prints the Chinese in the theme's font)."""
    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)


# -- one project's table ---------------------------------------------------------------------------
@dataclass
class _Box:
    """A cell of the layout: grid columns [c0, c1), `rows` high, its text and alignment."""

    c0: int
    c1: int
    text: str = ""
    center: bool = True
    rows: int = 1


@dataclass
class _Grid:
    """The table as rows of cells over `widths` grid columns (column 0: the block labels)."""

    widths: list[float]
    rows: list[list[_Box]] = field(default_factory=list)

    def add(self, *cells: _Box) -> int:
        self.rows.append(list(cells))
        return len(self.rows) - 1


def _project_table(doc: Any, rec: Record, score: ProjectScore | None, wide: bool) -> Table:
    grid = _layout(rec, score, wide)
    return _render(doc, grid)


def _layout(rec: Record, score: ProjectScore | None, wide: bool) -> _Grid:
    """Where every value of the project goes, in the form's printed layout."""
    spec = rec.spec
    scored = spec.scored and score is not None
    funds = _fund_columns(spec)
    columns = spec.indicator_columns
    n = max(len(columns), 1 + len(funds), 3)
    # the indicator columns' widths (as the template has them) share out the page, widened
    # where the project wrote long texts; a column no indicator fills (偏差原因 where all is
    # done) keeps only the narrowest width
    longest = [
        max((len(_text(ind.value(c.key))) for ind in rec.indicators), default=0) for c in columns
    ]
    weights = [
        c.width * min(4.0, math.sqrt(max(LONG_TEXT, chars) / LONG_TEXT))
        if chars or not any(longest)
        else 0.0
        for c, chars in zip(columns, longest, strict=True)
    ]
    weights += [sum(c.width for c in columns) / len(columns)] * (n - len(columns))
    page = (A4[1] if wide else A4[0]) - MARGINS["left"] - MARGINS["right"]
    values = _widths(weights, page - LABEL_COLUMN)
    grid = _Grid([LABEL_COLUMN, *values])

    def spread(texts: list[tuple[str, bool]], shares: list[float] | None = None) -> list[_Box]:
        bounds = _bounds(values, shares or [1.0] * len(texts))
        return [_Box(1 + a, 1 + b, t, c) for (a, b), (t, c) in zip(bounds, texts, strict=True)]

    def label_row(name: str) -> None:
        f = spec.header_field(name)
        grid.add(_Box(0, 1, f.label), _Box(1, n + 1, _text(rec.value(name)), False))

    label_row("project_name")
    if not _blank(rec.value("project_code")):
        label_row("project_code")
    code, dept = _code(rec), _text(rec.value("dept_name"))
    grid.add(
        _Box(0, 1, "主管部门及代码"),
        *spread(
            [
                (f"{dept}（{code}）" if dept else code, False),
                (spec.header_field("unit_name").label, True),
                (_text(rec.value("unit_name")), False),
            ],
            [2, 1, 2],
        ),
    )
    extra = [f for f in spec.header if f.name not in _STANDARD_HEADER]
    for f in extra:
        if not f.after:
            label_row(f.name)
    if funds:
        grid.add(
            _Box(0, 1, spec.funds_label, rows=1 + len(spec.fund_rows)),
            *spread([("", True)] + [(_fund_label(c), True) for c in funds]),
        )
        for row in spec.fund_rows:
            texts = [(row.label, True)] + [
                (_fund_value(rec, score, row.key, c, scored), True) for c in funds
            ]
            grid.add(*spread(texts))
    for f in extra:
        if f.after == "funds":
            label_row(f.name)
    if spec.goals is not None:
        g = spec.goals
        goals = [_text(rec.value("goal_expected")), _text(rec.value("goal_actual"))]
        # the longer text gets the wider cell, as a clerk would draw it
        shares = [math.sqrt(max(LONG_TEXT, len(t))) for t in goals]
        grid.add(
            _Box(0, 1, g.label, rows=2),
            *spread([(g.expected_label, True), (g.actual_label, True)], shares),
        )
        grid.add(*spread([(t, False) for t in goals], shares))
    for f in extra:
        if f.after == "goals":
            label_row(f.name)
    _indicators(grid, rec, spread)
    if scored:
        _total_row(grid, spec, score, spread)
    for f in spec.footer:
        grid.add(_Box(0, 1, f.label), _Box(1, n + 1, _text(rec.value(f.name)), False))
    return grid


def _indicators(grid: _Grid, rec: Record, spread: Any) -> None:
    """The indicator block: the label over the whole block, the header, a row per indicator;
    一级 merged over consecutive rows of the same 一级, 二级 of the same 一级 and 二级 (as the
    paper forms print them)."""
    spec = rec.spec
    columns = spec.indicator_columns
    keys = [c.key for c in columns]
    inds = rec.indicators
    grid.add(
        _Box(0, 1, spec.indicators_label, rows=1 + len(inds)),
        *spread([(c.label, True) for c in columns]),
    )
    rows = [[_text(ind.value(k)) for k in keys] for ind in inds]
    # per row, per column: how many rows the cell spans (0: covered by the one above)
    spans = [[1] * len(keys) for _ in rows]
    for depth, key in enumerate(("level1", "level2"), 1):
        if key not in keys:
            continue
        col = keys.index(key)
        same = [keys.index(k) for k in ("level1", "level2")[:depth] if k in keys]
        r = 0
        while r < len(rows):
            end = r + 1
            while (
                end < len(rows) and rows[r][col] and all(rows[end][i] == rows[r][i] for i in same)
            ):
                end += 1
            spans[r][col] = end - r
            for x in range(r + 1, end):
                spans[x][col] = 0
            r = end
    for texts, row_spans in zip(rows, spans, strict=True):
        cells = spread([(t, k in _SHORT_KEYS) for t, k in zip(texts, keys, strict=True)])
        for cell, n in zip(cells, row_spans, strict=True):
            cell.rows = n
        grid.add(*[c for c in cells if c.rows])


def _total_row(grid: _Grid, spec: Spec, score: ProjectScore, spread: Any) -> None:
    """总分: the form's total weight under 分值, the total score under 得分, the grade after.

    The total is the unit's own (自评总分: its 得分 column and 执行率得分 added up, as the
    column printed above it), where it reported scores; else ours. A project whose total
    differs from ours beyond the tolerance has an error and is not published without
    `--include-errors`."""
    columns = spec.indicator_columns
    total = score.reported_total if score.reported_total is not None else score.total
    keys = [c.key for c in columns]
    label = spec.indicators_total_label
    cells = spread([("", True)] * len(columns))
    marks = [keys.index(k) for k in ("weight", "score") if k in keys]
    if not marks:
        grid.add(_Box(0, 1, label), _Box(1, cells[-1].c1, _number(total)))
        return
    start, end = min(marks), max(marks)
    row = [_Box(0, cells[start].c0, label)]
    for i in range(start, end + 1):
        key = keys[i]
        text = (
            _number(spec.score_total)
            if key == "weight"
            else _number(total)
            if key == "score"
            else ""
        )
        row.append(_Box(cells[i].c0, cells[i].c1, text))
    if end + 1 < len(cells):
        grade = f"自评等级：{score.grade}" if score.grade else ""
        row.append(_Box(cells[end + 1].c0, cells[-1].c1, grade))
    grid.add(*row)


def _widths(weights: list[float], total: float) -> list[float]:
    """`total` cm shared by `weights`, no column narrower than MIN_COLUMN (a narrow 完成状态
    column would print 已完成 one character a line)."""
    fixed: set[int] = set()
    while True:
        free = total - MIN_COLUMN * len(fixed)
        share = sum(w for i, w in enumerate(weights) if i not in fixed)
        out = [MIN_COLUMN if i in fixed else free * w / share for i, w in enumerate(weights)]
        narrow = {i for i, w in enumerate(out) if w < MIN_COLUMN - 1e-9} - fixed
        if not narrow or len(fixed | narrow) == len(weights):
            return out
        fixed |= narrow


def _bounds(widths: list[float], shares: list[float]) -> list[tuple[int, int]]:
    """Split grid columns into len(shares) runs of at least one column, each as near its share
    of the width as the columns allow."""
    total, n = sum(widths), len(shares)
    edges = [0.0]
    for w in widths:
        edges.append(edges[-1] + w)
    cuts = [0]
    for i in range(1, n):
        want = total * sum(shares[:i]) / sum(shares)
        lo, hi = cuts[-1] + 1, len(widths) - (n - i)
        cuts.append(min(range(lo, hi + 1), key=lambda j: abs(edges[j] - want)))
    cuts.append(len(widths))
    return list(itertools.pairwise(cuts))


def _fund_columns(spec: Spec) -> list[Any]:
    """The fund columns printed: the reasons (原因) are a unit's note to the office; the 分值 and
    得分 of an unscored form are no part of it."""
    hidden = {"exec_reason"} | (set() if spec.scored else {"exec_weight", "exec_score"})
    return [c for c in spec.fund_columns if c.kind not in hidden]


def _fund_label(column: Any) -> str:
    label = column.label
    return label[: -len(_AUTO)] if label.endswith(_AUTO) else label


def _fund_value(
    rec: Record, score: ProjectScore | None, row: str, column: Any, scored: bool
) -> str:
    if column.kind == "amount":
        return _number(rec.fund(row, column.key))
    if row != "total":
        return ""
    if column.kind == "rate":
        rate = rec.exec_rate
        return "" if rate is None else f"{rate * 100:.2f}%"
    if column.kind == "exec_weight" and scored:
        return _number(rec.spec.exec_weight)
    if column.kind == "exec_score" and scored and score is not None:
        return _number(score.exec_score)
    return ""


def _render(doc: Any, grid: _Grid) -> Table:
    """The grid as a Word table ("Table Grid": every border drawn), cells merged as laid out."""
    table = doc.add_table(rows=0, cols=len(grid.widths))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = [Cm(w) for w in grid.widths]
    for col, w in zip(table.columns, widths, strict=True):
        col.width = w
    tbl = table._tbl
    # the cells a cell above covers, by grid column, for the rows below it
    below: dict[int, list[tuple[int, int, int]]] = {}
    for r, cells in enumerate(grid.rows):
        tr = tbl.add_tr()
        # a row of one line as high as a printed form's, not as the text alone
        tr.trHeight_val = Cm(ROW_HEIGHT)
        tr.trHeight_hRule = WD_ROW_HEIGHT_RULE.AT_LEAST
        placed = [(c.c0, c.c1, c) for c in cells]
        for c0, c1, _r_end in below.get(r, []):
            placed.append((c0, c1, None))
        for c0, c1, cell in sorted(placed, key=lambda p: p[0]):
            tc = tr.add_tc()
            tc.width = sum(widths[c0:c1], Cm(0))
            if c1 - c0 > 1:
                tc.grid_span = c1 - c0
            tc.get_or_add_tcPr().vAlign_val = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            if cell is None:
                tc.vMerge = "continue"
                continue
            if cell.rows > 1:
                tc.vMerge = "restart"
                for x in range(r + 1, r + cell.rows):
                    below.setdefault(x, []).append((c0, c1, r + cell.rows))
            _write(_Cell(tc, table), cell)
    return table


def _write(cell: Any, layout: _Box) -> None:
    p = cell.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER if layout.center else WD_ALIGN_PARAGRAPH.LEFT
    if layout.text:
        _run(p, layout.text, TEXT_FONT, TEXT_SIZE)


# -- values as printed -----------------------------------------------------------------------------
def _number(value: Any) -> str:
    """An amount or score as a person writes it: 100, 114.56, 0.5 (no separators, no zeros the
    number does not need); blank when None."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, (int, float)):
        text = format(round(float(value), 6), "f")
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return "0" if text in ("-0", "") else text
    return _clean(str(value))


def _text(value: Any) -> str:
    if _blank(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    return _clean(str(value))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean(text: str) -> str:
    return _UNPRINTABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _code(rec: Record) -> str:
    return _text(rec.value("dept_code")).strip()


# -- the file --------------------------------------------------------------------------------------
def _saved(doc: Any) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _stable_zip(data: bytes) -> bytes:
    """The package again with fixed member dates and order ([Content_Types].xml first, as Office
    writes it, then by name): python-docx stamps each member with the time of saving."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        names = sorted(src.namelist(), key=lambda n: (n != "[Content_Types].xml", n))
        for name in names:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 0
            dst.writestr(info, src.read(name))
    return out.getvalue()


# -- from a collection -----------------------------------------------------------------------------
def check_annex_output(inbox: Path | str, path: Path | str, *, pdf: bool = False) -> None:
    """Refuse, before anything is read, an annex (or its PDF) inside the inbox, where the next
    `collect` or `check` would meet it among the units' files, and every output `collect`
    refuses (`collect.check_outputs`: a folder, a missing or read-only folder).

    Raises:
        OutputError: naming the output and what is wrong with it.
    """
    path = Path(path)
    root = Path(inbox).resolve()
    outputs = [path, path.with_suffix(".pdf")] if pdf else [path]
    for out in outputs:
        real = out.resolve()
        if real == root or root in real.parents:
            raise OutputError(
                out,
                Text(
                    "在收件箱里面：公开的附件不能和单位报送的文件放在一起；请写到收件箱以外",
                    "is inside the inbox: the published annex must not lie among the units' "
                    "files; write it outside the inbox",
                ),
            )
    check_outputs(inbox, *outputs)


def write_annex(
    coll: Collection,
    path: Path | str,
    *,
    dept: str | None = None,
    include_errors: bool = False,
    pdf: bool = False,
) -> AnnexResult:
    """Write the annex of the collection's projects to `path` (.docx, atomically), and with
    `pdf` a PDF beside it, printed by LibreOffice.

    Every project counted in the summary is published (`Collection.projects`, the issued values
    in place); department forms (部门整体支出绩效自评表, `coll.departments`) are not: they are
    published as a document of their own, not as a table of this annex. A project whose file
    has errors would publish figures the office has not accepted, so it is refused unless
    `include_errors`, and then nothing is written.

    Args:
        dept: keep the projects of this 主管部门 code only.
        include_errors: publish projects with errors too (`AnnexResult.with_errors` names them).
        pdf: also write `<stem>.pdf` (needs LibreOffice, `soffice`).

    Raises:
        PublishError: projects with errors (each named with its file, `refused`), no project to
            publish, or no PDF (LibreOffice missing or failing: the .docx is written by then).
        OutputError: the output is inside the inbox or cannot be written.
    """
    path = Path(path)
    check_annex_output(coll.inbox, path, pdf=pdf)
    subs = coll.projects
    if dept is not None:
        want = dept.strip()
        subs = [s for s in subs if _code(s.counted_record) == want]
        if not subs:
            known = sorted({_code(s.counted_record) for s in coll.projects})
            raise PublishError(
                Text(
                    f"收件箱中没有主管部门代码为 {want} 的项目"
                    + (f"（有：{'、'.join(known)}）" if known else ""),
                    f"no project of the department with code {want} in the inbox"
                    + (f" (there are: {', '.join(known)})" if known else ""),
                )
            )
    if not subs:
        raise PublishError(_nothing(coll))
    flagged = [
        Flagged(
            _text(s.counted_record.value("project_name")),
            _code(s.counted_record),
            s.source,  # an annex's table named too: 附件2.docx 表2
            s.result.errors,
        )
        for s in subs
        if s.result.errors > 0
    ]
    if flagged and not include_errors:
        raise PublishError(_refusal(flagged), refused=tuple(flagged))
    data = annex_docx([(s.counted_record, s.counted_score) for s in subs])
    write_output(path, data)
    codes = {_code(s.counted_record) for s in subs}
    made = annex_pdf(path) if pdf else None
    return AnnexResult(path, made, len(subs), len(codes), flagged)


def _nothing(coll: Collection) -> Text:
    if coll.departments:
        n = len(coll.departments)
        return Text(
            f"收件箱中没有可公开的项目（{n} 份部门整体支出绩效自评表不在此附件中公开）",
            f"no project to publish in the inbox (the {n} department forms are not part of "
            "this annex)",
        )
    return Text("收件箱中没有可公开的项目", "no project to publish in the inbox")


def _refusal(flagged: list[Flagged]) -> Text:
    zh = [
        f"{len(flagged)} 个项目有错误，未生成附件（改正后重新报送；确需照样公开时加 --include-errors）："
    ]
    en = [
        f"{len(flagged)} project{'s' if len(flagged) > 1 else ''} with errors, no annex "
        "written (have them corrected and sent again; --include-errors publishes them anyway):"
    ]
    for f in flagged:
        zh.append(f"  {f.project or '（无项目名称）'}：{f.errors} 个错误，文件 {f.source}")
        en.append(f"  {f.project or '(no project name)'}: {f.errors} errors, file {f.source}")
    return Text("\n".join(zh), "\n".join(en))


# -- PDF -------------------------------------------------------------------------------------------
def annex_pdf(docx: Path | str, *, timeout: float = SOFFICE_TIMEOUT) -> Path:
    """Print `docx` to `<stem>.pdf` beside it with headless LibreOffice (a private profile, so a
    clerk's open LibreOffice is neither used nor disturbed; killed after `timeout` seconds),
    written atomically.

    Raises:
        PublishError: LibreOffice missing, failing or too slow; the .docx stays as written.
    """
    docx = Path(docx)
    target = docx.with_suffix(".pdf")
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise PublishError(
            Text(
                f"LibreOffice 未安装，无法生成 PDF；已写出 {docx}（安装 LibreOffice 后重新运行，"
                "或用 Word/WPS 打开另存为 PDF）",
                f"LibreOffice is not installed, so no PDF; {docx} is written (install "
                "LibreOffice and run again, or save it as PDF from Word or WPS)",
            )
        )
    with tempfile.TemporaryDirectory(prefix="perfeval-pdf-") as tmp_name:
        tmp = Path(tmp_name)
        # a plain ASCII name: the clerk's file name never reaches the command line
        source = tmp / "annex.docx"
        shutil.copyfile(docx, source)
        cmd = [
            exe,
            f"-env:UserInstallation={(tmp / 'profile').resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp / "out"),
            str(source),
        ]
        output = _soffice(cmd, timeout, docx)
        made = tmp / "out" / "annex.pdf"
        if not made.is_file():
            last = output.strip().splitlines()[-1:] or [""]
            raise PublishError(
                Text(
                    f"LibreOffice 未能把附件转换为 PDF（{last[0]}）；已写出 {docx}",
                    f"LibreOffice could not print the annex as PDF ({last[0]}); {docx} is written",
                )
            )
        write_output(target, made.read_bytes())
    return target


def _soffice(cmd: list[str], timeout: float, docx: Path) -> str:
    """Run soffice in a process group of its own, killed whole on timeout; its output."""
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise PublishError(
            Text(
                f"无法启动 LibreOffice（{exc.strerror}）；已写出 {docx}",
                f"cannot start LibreOffice ({exc.strerror}); {docx} is written",
            )
        ) from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)  # the whole group, while its leader is not yet reaped (so it is ours)
        proc.communicate()
        raise PublishError(
            Text(
                f"LibreOffice 在 {timeout:g} 秒内未完成 PDF 转换；已写出 {docx}",
                f"LibreOffice did not finish the PDF within {timeout:g} s; {docx} is written",
            )
        ) from None
    return out.decode(errors="replace")


def _kill(proc: subprocess.Popen) -> None:
    if hasattr(os, "killpg"):
        with suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:  # pragma: no cover - Windows
        with suppress(OSError):
            proc.kill()
