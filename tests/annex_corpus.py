"""Word annexes as departments make them (python-docx, never our own publisher), and what a
correct reader of them must get.

A department publishes its 项目支出绩效自评表 as 附件2 of its final accounts (domain.md §8): a
Word document with one table per project, typed by hand in Word or WPS. Each builder here makes
such a document the way its author did (title paragraphs, labels broken over lines, merged
cells made by merging, amounts typed as text) and returns an `Annex`: the .docx bytes, a file
name, and per 自评表 table an `Expected` record of the values a reader must get from it, read as
the closest built-in form (its `[publish] identify` labels) and normalised as that form reads a
workbook: aliases (完成指标 → 产出指标, 满意度指标 as 二级 → 服务对象满意度指标, 社会效益  指标 →
社会效益指标) and a status word written in 实际完成指标值 (已完成, 未支付完成 → 未完成).

Tables are counted from 1 in the document (表N) and rows from 1 within their table, as a person
counts them on the page: the findings about a table name it so (sheet "表2", cell
"第10行「实际完成指标值」").

`bad_annexes()` makes the files that must be refused with one clear finding.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

import docx
import openpyxl
from badfiles import MIB, ole, with_zeros_entry
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from helpers import with_parts

# -- what a reader must get -----------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One indicator row as read: the form's canonical 一级 / 二级, the 三级 name (compared with
    whitespace removed: Word cells wrap names over lines) and the status (None: none given)."""

    level1: str
    level2: str
    name: str
    status: str | None = None


@dataclass(frozen=True)
class Expected:
    """What one 自评表 table must be read as. Money in 万元."""

    table: int  # counted from 1 among all tables of the document
    form: str
    project_name: str
    dept_code: str | None
    unit_name: str
    year: int
    budget: float  # fund_total_budget
    spent: float  # fund_total_spent
    fiscal_budget: float
    fiscal_spent: float
    indicators: tuple[Indicator, ...]
    #: False where the table has no status at all (national layout: no 完成状态 column and
    #: numbers, not status words, in 实际完成值): statuses are then not asserted.
    statuses_given: bool = True
    dept_name: str | None = None  # None: not on the paper, not asserted
    goal_expected: str | None = None
    goal_actual: str | None = None
    score: float | None = None  # only where computed by the national rules of domain.md §3
    grade: str | None = None

    @property
    def sheet(self) -> str:
        return f"表{self.table}"

    @property
    def statuses(self) -> list[str | None]:
        return [i.status for i in self.indicators]

    @property
    def levels(self) -> list[tuple[str, str]]:
        return [(i.level1, i.level2) for i in self.indicators]


@dataclass(frozen=True)
class Planted:
    """A defect planted in a table: the finding `code` must name table `sheet` and a cell that
    matches `cell` (a regular expression, whole match)."""

    code: str
    sheet: str
    cell: str


@dataclass(frozen=True)
class Annex:
    name: str
    data: bytes
    tables: tuple[Expected, ...]  # the 自评表 tables, in document order
    planted: tuple[Planted, ...] = ()
    tables_in_document: int = 0  # every table, 自评表 or not


@dataclass(frozen=True)
class BadFile:
    name: str
    data: bytes
    codes: frozenset[str]  # the one finding must have one of these codes
    what: str


# -- typing a Word document as a person does ---------------------------------------------------

#: A cell that continues the cell above it (a vertical merge, w:vMerge).
UP = None


class Label(str):
    """A printed label of the form (not a value typed by the unit)."""


def _document():
    doc = docx.Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2)
    section.top_margin = section.bottom_margin = Cm(2.5)
    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "仿宋_GB2312")
    return doc


def _paragraph(doc, text: str, *, bold=False, center=False, size=None, page_break=False):
    p = doc.add_paragraph()
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if page_break:
        p.paragraph_format.page_break_before = True
    if text:
        run = p.add_run(text)
        run.bold = bold
        if size:
            run.font.size = Pt(size)
    return p


def _bookmark(paragraph, name: str = "_GoBack") -> None:
    """A bookmark at the start of `paragraph`, as Word leaves _GoBack where one last typed."""
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), "0")
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), "0")
    paragraph._p.insert(1 if paragraph._p.pPr is not None else 0, start)
    start.addnext(end)


def _proof_err(kind: str):
    el = OxmlElement("w:proofErr")
    el.set(qn("w:type"), kind)
    return el


def _split_runs(paragraph, text: str) -> None:
    """`text` as Word stores a label edited a few times: runs of one or two characters with
    different properties, proofing marks and an empty run between them."""
    for i in range(0, len(text), 2):
        if i == 2:
            paragraph._p.append(_proof_err("spellStart"))
        run = paragraph.add_run(text[i : i + 2])
        if i % 4 == 2:
            run.bold = True
            run.font.size = Pt(10)
        if i == 2:
            paragraph._p.append(_proof_err("spellEnd"))
            paragraph.add_run("")


def _put(cell, text: str, *, split: bool = False) -> None:
    """Type `text` into `cell`: each line its own paragraph (Enter pressed in the cell)."""
    paragraphs = cell.paragraphs
    for extra in paragraphs[1:]:
        extra._p.getparent().remove(extra._p)
    first = paragraphs[0]
    for run in list(first.runs):
        run._r.getparent().remove(run._r)
    for i, line in enumerate(text.split("\n") if text else []):
        p = first if i == 0 else cell.add_paragraph()
        if isinstance(text, Label):
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if split and isinstance(text, Label):
            _split_runs(p, line)
        else:
            p.add_run(line)


def _table(doc, widths: list[float], rows: list[list[tuple[int, str | None]]], *, split=False):
    """A table of len(widths) grid columns: each row a list of (columns spanned, text); text UP
    continues the cell above (vertical merge). Merges are made with `cell.merge`, as Word's
    "合并单元格" makes them: w:gridSpan across, w:vMerge down."""
    ncols = len(widths)
    table = doc.add_table(rows=len(rows), cols=ncols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)  # the grid (w:gridCol), which Word and LibreOffice lay out by
    layout: list[list[tuple[int, int, str | None]]] = []
    for row in rows:
        col, cells = 0, []
        for span, text in row:
            cells.append((col, span, text))
            col += span
        assert col == ncols, (row, col, ncols)
        layout.append(cells)
    for r, cells in enumerate(layout):
        for col, span, _ in cells:
            if span > 1:
                table.cell(r, col).merge(table.cell(r, col + span - 1))
    for r, cells in enumerate(layout):
        for col, span, text in cells:
            if text is UP:
                continue
            last = r
            while last + 1 < len(layout) and (col, span, UP) in layout[last + 1]:
                last += 1
            if last > r:
                table.cell(r, col).merge(table.cell(last, col + span - 1))
    for r, cells in enumerate(layout):
        for col, span, text in cells:
            if text is not UP:
                cell = table.cell(r, col)
                cell.width = Cm(sum(widths[col : col + span]))
                _put(cell, text, split=split)
    return table


def _save(doc) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


#: Labels a typist spaces out with full-width spaces to fill a wide cell (项　目　名　称).
FULLWIDTH = {"项目名称", "实施单位", " 预算数：", " 执行数：", "其他资金", "预期目标"}


def _fullwidth(label: str) -> str:
    """`label` spaced by full-width spaces (the colon kept at its end) when typists space it."""
    if label not in FULLWIDTH:
        return label
    core = label.strip().rstrip("：")
    return "\u3000".join(core) + label.strip()[len(core) :]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# -- the seed: 四川 2022 (攀枝花市仁和区 区委宣传部) ---------------------------------------------

SEED_TITLE = "{year}年50万元以上（含）特定目标类部门预算项目绩效目标自评"
SEED_DEPT_NAME = "中共攀枝花市仁和区委宣传部"
#: Grid of the seed table (cm): 栏目 | 一级 / 预算数： | 二级 / value | 三级 / 执行数： | 预期 | 实际
SEED_WIDTHS = [2.2, 1.8, 2.4, 3.0, 4.4, 2.6]
#: How the paper prints its 一级 / 二级 labels (line breaks and all); the reader's canonical ones.
SEED_L1 = {"完成指标": ("完成\n指标", "产出指标"), "满意度指标": ("满意\n度指标", "满意度指标")}
SEED_L2 = {
    "数量指标": ("数量指标", "数量指标"),
    "质量指标": ("质量指标", "质量指标"),
    "时效指标": ("时效指标", "时效指标"),
    "成本指标": ("成本指标", "成本指标"),
    "社会效益  指标": ("社会效益  指标", "社会效益指标"),
    "满意度指标": ("满意度\n指标", "服务对象满意度指标"),
}
#: Texts the dump shows broken over lines or with a leading space, where the JSON has them joined.
SEED_TYPED = {
    "攀枝花市仁和区创建全国文明城市项目": "攀枝花市仁和区创建全国\n文明城市项目",
    "动车全线开通系列宣传推介活动1项，宣传片拍摄1项，宣传画册印制1项": (
        " 动车全线开通系列宣传推介活动1项，宣传片拍摄1项，宣传画册印制1项"
    ),
}
#: A status word in 实际完成指标值 (the seed writes the status there): what it reads as.
SEED_STATUS = {"已完成": "已完成", "未支付完成": "未完成", "": None}


def seed_projects() -> list[dict]:
    """The seed's three projects (perfeval_xl/samples/seed_projects.json)."""
    raw = resources.files("perfeval_xl.samples").joinpath("seed_projects.json").read_text("utf-8")
    return json.loads(raw)["projects"]


@dataclass(frozen=True)
class SeedStyle:
    """How one seed-layout table is typed: the quirks a department's copy of the form has."""

    #: 主管部门 row: "code" (主管部门及代码 | 109101, the seed), "named" (主管部门及代码 |
    #: 中共…宣传部（109101）), "separate" (主管部门 | name | 主管部门代码 | code, then 实施单位 on
    #: a row of its own), "code_label" (the same with 代码 as the label).
    dept: str = "code"
    split_labels: bool = False  # labels in runs of one or two characters, proofing marks
    fullwidth: bool = False  # labels spaced with full-width spaces (项　目　名　称)
    #: amounts as typed: (预算数, 执行数, 财政拨款 预算, 财政拨款 执行); None: the project's own
    amounts: tuple[str, str, str, str] | None = None
    blank_actual_row: int | None = None  # an indicator (0-based) whose 实际完成指标值 is blank
    trailing_blank_row: bool = False  # the empty full-width row tables 1 and 2 of the seed end on
    name: str | None = None  # another 项目名称


def _amount(value: float) -> str:
    return f"{value:g}"


def _seed_rows(project: dict, style: SeedStyle) -> list[list[tuple[int, str | None]]]:
    def lab(text: str) -> Label:
        return Label(_fullwidth(text) if style.fullwidth else text)

    budget, spent = _amount(project["fund_fiscal_budget"]), _amount(project["fund_fiscal_spent"])
    typed = style.amounts or (budget, spent, budget, spent)
    name = style.name or project["project_name"]
    rows: list[list[tuple[int, str | None]]] = [[(1, lab("项目名称")), (5, name)]]
    dept_name, code, unit = SEED_DEPT_NAME, project["dept_code"], project["unit_name"]
    if style.dept == "code":
        rows.append([(1, lab("主管部门及代码")), (2, code), (1, lab("实施单位")), (2, unit)])
    elif style.dept == "named":
        rows.append(
            [
                (1, lab("主管部门及代码")),
                (2, f"{dept_name}（{code}）"),
                (1, lab("实施单位")),
                (2, unit),
            ]
        )
    else:
        code_label = "主管部门代码" if style.dept == "separate" else "代码"
        rows.append([(1, lab("主管部门")), (2, dept_name), (1, lab(code_label)), (2, code)])
        rows.append([(1, lab("实施单位")), (5, unit)])
    rows += [
        [
            (1, lab("项目预算\n执行情况\n（万元）")),
            (1, lab(" 预算数：")),
            (1, typed[0]),
            (1, lab(" 执行数：")),
            (2, typed[1]),
        ],
        [
            (1, UP),
            (1, lab("其中：\n财政拨款")),
            (1, typed[2]),
            (1, lab("其中：\n财政拨款")),
            (2, typed[3]),
        ],
        [(1, UP), (1, lab("其他资金")), (1, ""), (1, lab("其他资金")), (2, "")],
        [(1, lab("年度总体目标\n完成情况")), (3, lab("预期目标")), (2, lab("目标实际完成情况"))],
        [(1, UP), (3, project["goal_expected"]), (2, project["goal_actual"])],
        [
            (1, lab("年度绩效指标完成情况")),
            (1, lab("一级\n指标")),
            (1, lab("二级\n指标")),
            (1, lab("三级\n指标")),
            (1, lab("预期指标值")),
            (1, lab("实际完成指标值")),
        ],
    ]
    previous = None
    for i, ind in enumerate(project["indicators"]):
        level1 = SEED_L1[ind["level1"]][0]
        first = UP if ind["level1"] == previous else lab(level1)
        previous = ind["level1"]
        actual = "" if i == style.blank_actual_row else ind["actual"]
        rows.append(
            [
                (1, UP),
                (1, first),
                (1, lab(SEED_L2[ind["level2"]][0])),
                (1, SEED_TYPED.get(ind["name"], ind["name"])),
                (1, SEED_TYPED.get(ind["target"], ind["target"])),
                (1, actual),
            ]
        )
    if style.trailing_blank_row:
        rows.append([(6, "")])
    return rows


def _seed_expected(project: dict, table: int, style: SeedStyle, **over) -> Expected:
    indicators = []
    for i, ind in enumerate(project["indicators"]):
        actual = "" if i == style.blank_actual_row else ind["actual"]
        indicators.append(
            Indicator(
                SEED_L1[ind["level1"]][1],
                SEED_L2[ind["level2"]][1],
                _squash(ind["name"]),
                SEED_STATUS[actual],
            )
        )
    budget, spent = float(project["fund_fiscal_budget"]), float(project["fund_fiscal_spent"])
    values = dict(
        table=table,
        form="sichuan-2022",
        project_name=style.name or project["project_name"],
        dept_code=project["dept_code"],
        unit_name=project["unit_name"],
        year=project["year"],
        budget=budget,
        spent=spent,
        fiscal_budget=budget,
        fiscal_spent=spent,
        indicators=tuple(indicators),
        dept_name=SEED_DEPT_NAME if style.dept != "code" else None,
        goal_expected=project["goal_expected"],
        goal_actual=project["goal_actual"],
    )
    values.update(over)
    return Expected(**values)


def _seed_table(doc, project: dict, style: SeedStyle) -> None:
    _table(doc, SEED_WIDTHS, _seed_rows(project, style), split=style.split_labels)


def _seed_title(doc, year: int = 2022, *, page_break: bool = False, go_back: bool = False):
    p = _paragraph(
        doc, SEED_TITLE.format(year=year), bold=True, center=True, size=14, page_break=page_break
    )
    if go_back:
        _bookmark(p)
    return p


@cache
def seed_annex(*, blank_actual: bool = False, overspent: bool = False) -> Annex:
    """附件2 of the seed, as its .txt dump shows it: "附件2：", a title paragraph before each of
    the three tables, labels broken over lines, the first column and the 完成指标 cell merged
    down, no status column (the status is written in 实际完成指标值), empty 其他资金 cells, and
    tables 1 and 2 ending on an empty full-width row.

    `blank_actual` plants a blank 实际完成指标值 in table 2's 质量指标 row (第10行);
    `overspent` types 执行数 250 against 预算数 210 in table 3 (total and 财政拨款 rows)."""
    doc = _document()
    _paragraph(doc, "附件2：", size=12)
    tables, planted = [], []
    for n, project in enumerate(seed_projects(), start=1):
        style = SeedStyle(trailing_blank_row=n < 3)
        over = {}
        if blank_actual and n == 2:
            style = replace(style, blank_actual_row=1)
            planted.append(Planted("E401", "表2", re.escape("第10行「实际完成指标值」")))
        if overspent and n == 3:
            style = replace(style, amounts=("210", "250", "210", "250"))
            over = {"spent": 250.0, "fiscal_spent": 250.0}
            # 执行数 of the total (第3行) or of 财政拨款 (第4行), by its label
            planted.append(Planted("E301", "表3", r"第[34]行「[^」]*(执行数|财政拨款)[^」]*」"))
        if n > 1:
            _paragraph(doc, "")
        _seed_title(doc, go_back=n == 1)
        _paragraph(doc, "")
        _seed_table(doc, project, style)
        tables.append(_seed_expected(project, n, style, **over))
    name = "附件2.docx" if not (blank_actual or overspent) else "附件2_有误.docx"
    return Annex(name, _save(doc), tuple(tables), tuple(planted), 3)


# -- the national 2020 form, as departments type it in Word -----------------------------------

#: Grid (cm): 栏目 | 一级 | 二级 | 三级 | 年度指标值 | 实际完成值 | 分值 | 得分 | 偏差原因
NATIONAL_WIDTHS = [1.4, 1.9, 2.0, 2.6, 2.0, 2.0, 1.1, 1.1, 2.4]
NATIONAL_PROJECT = {
    "project_name": "仁和区教师能力提升与教学设备更新项目",
    "dept_name": "攀枝花市仁和区教育和体育局",
    "unit_name": "攀枝花市仁和区教师发展中心",
    "year": 2022,
    "goal_expected": (
        "完成全区教师培训500人次，采购并安装录播教学设备8套，设备验收合格率不低于95%，"
        "提升教师信息化教学能力。"
    ),
    "goal_actual": (
        "完成教师培训520人次，8套录播教学设备全部安装并通过验收；部分设备尾款年底集中支付，"
        "资金支付及时率略低于目标。"
    ),
}
#: (一级 as printed, 二级, 三级, 年度指标值, 实际完成值, 分值, reason) and the canonical 一级.
#: Every row is quantitative, so the score follows from the numbers alone (domain.md §3):
#: positive rows actual ÷ target × weight capped at the weight, the ≤ row full (186.3 ≤ 202.6),
#: the = row as positive (8 ≥ 8).
NATIONAL_INDICATORS = [
    ("产出指标(50分)", "数量指标", "教师培训人次", "≥500人次", "520人次", 15, ""),
    ("产出指标(50分)", "数量指标", "录播教学设备采购数量", "=8个", "8个", 10, ""),
    ("产出指标(50分)", "质量指标", "设备验收合格率", "≥95%", "100%", 10, ""),
    (
        "产出指标(50分)",
        "时效指标",
        "资金支付及时率",
        "≥90%",
        "85%",
        5,
        "部分设备尾款年底集中支付；下年度按合同节点及时支付",
    ),
    ("产出指标(50分)", "成本指标", "设备采购及培训总成本", "≤202.6万元", "186.3万元", 10, ""),
    ("效益指标(30分)", "社会效益指标", "参训教师信息化教学能力达标率", "≥90%", "92%", 15, ""),
    ("效益指标(30分)", "可持续影响指标", "设备正常使用年限", "≥5年", "5年", 15, ""),
    (
        "满意度指标(10分)",
        "服务对象满意度指标",
        "参训教师满意度",
        "≥90%",
        "88%",
        10,
        "培训时间与教学安排冲突；下年度错开教学高峰",
    ),
]
_PERCENT = re.compile(r"[≥≤=]?([\d.]+)")


def national_score(spent: float, budget: float, rows=NATIONAL_INDICATORS) -> tuple[float, list]:
    """The total and the indicator scores by the national rules (domain.md §3), each indicator
    rounded to 2 digits as the forms print them: 执行率 min(spent ÷ budget, 1) × 10; ≥ and =
    rows actual ÷ target × weight, capped; ≤ rows full when actual ≤ target."""
    scores = []
    for _, _, _, target, actual, weight, _ in rows:
        t = float(_PERCENT.match(target).group(1))
        a = float(_PERCENT.match(actual).group(1))
        if target.startswith("≤"):
            share = 1.0 if a <= t else max(0.0, 2 - a / t)  # "linear", as the specs say
        else:
            share = min(a / t, 1.0)
        scores.append(round(share * weight, 2))
    exec_score = round(min(spent / budget, 1.0) * 10, 2)
    return round(exec_score + sum(scores), 2), scores


def _level1_canonical(printed: str) -> str:
    return re.sub(r"[（(]\d+分[）)]$", "", printed)


def _national_table(
    doc,
    project: dict,
    *,
    budget: float = 210,
    spent: float = 189,
    dept_code: str | None = None,
    empty_economic_row: bool = False,
    split: bool = False,
) -> tuple[float, list[float]]:
    total, scores = national_score(spent, budget)
    rate = spent / budget
    exec_score = round(min(rate, 1.0) * 10, 2)
    L = Label
    if dept_code is None:
        dept_row = [
            (1, L("主管部门")),
            (3, project["dept_name"]),
            (1, L("实施单位")),
            (4, project["unit_name"]),
        ]
    else:
        dept_row = [
            (1, L("主管部门")),
            (2, project["dept_name"]),
            (1, L("主管部门代码")),
            (1, dept_code),
            (1, L("实施单位")),
            (3, project["unit_name"]),
        ]
    b, s = _amount(budget), _amount(spent)
    rows: list[list[tuple[int, str | None]]] = [
        [(1, L("项目名称")), (8, project["project_name"])],
        dept_row,
        [
            (1, L("项目资金\n（万元）")),
            (2, ""),
            (1, L("年初预算数")),
            (1, L("全年预算数")),
            (1, L("全年执行数")),
            (1, L("分值")),
            (1, L("执行率")),
            (1, L("得分")),
        ],
        [
            (1, UP),
            (2, L("年度资金总额")),
            (1, b),
            (1, b),
            (1, s),
            (1, "10"),
            (1, f"{rate:.2%}"),
            (1, f"{exec_score:g}"),
        ],
        [
            (1, UP),
            (2, L("其中：当年财政拨款")),
            (1, b),
            (1, b),
            (1, s),
            (1, "—"),
            (1, ""),
            (1, "—"),
        ],
        [(1, UP), (2, L("上年结转资金")), (1, ""), (1, ""), (1, ""), (1, "—"), (1, ""), (1, "—")],
        [(1, UP), (2, L("其他资金")), (1, ""), (1, ""), (1, ""), (1, "—"), (1, ""), (1, "—")],
        [(1, L("年度\n总体\n目标")), (4, L("预期目标")), (4, L("实际完成情况"))],
        [(1, UP), (4, project["goal_expected"]), (4, project["goal_actual"])],
        [
            (1, L("绩\n效\n指\n标")),
            (1, L("一级指标")),
            (1, L("二级指标")),
            (1, L("三级指标")),
            (1, L("年度指标值")),
            (1, L("实际完成值")),
            (1, L("分值")),
            (1, L("得分")),
            (1, L("偏差原因分析及改进措施")),
        ],
    ]
    body = [(*row, score) for row, score in zip(NATIONAL_INDICATORS, scores, strict=True)]
    if empty_economic_row:  # pre-printed, left empty: only its 一级 and 二级 show
        at = next(i for i, r in enumerate(body) if r[0].startswith("效益"))
        body.insert(at, ("效益指标(30分)", "经济效益指标", "", "", "", "", "", ""))
    prev1 = prev2 = None
    for level1, level2, name, target, actual, weight, reason, score in body:
        rows.append(
            [
                (1, UP),
                (1, UP if level1 == prev1 else L(level1)),
                (1, UP if (level1, level2) == (prev1, prev2) else L(level2)),
                (1, name),
                (1, target),
                (1, actual),
                (1, f"{weight:g}" if weight != "" else ""),
                (1, f"{score:g}" if score != "" else ""),
                (1, reason),
            ]
        )
        prev1, prev2 = level1, level2
    rows.append([(6, L("总分")), (1, "100"), (1, f"{total:g}"), (1, "")])
    _table(doc, NATIONAL_WIDTHS, rows, split=split)
    return total, scores


def _national_expected(
    table: int, *, budget=210.0, spent=189.0, dept_code=None, project=NATIONAL_PROJECT
) -> Expected:
    total, _ = national_score(spent, budget)
    indicators = tuple(
        Indicator(_level1_canonical(l1), l2, name, None) for l1, l2, name, *_ in NATIONAL_INDICATORS
    )
    return Expected(
        table=table,
        form="national-2020",
        project_name=project["project_name"],
        dept_code=dept_code,
        unit_name=project["unit_name"],
        year=project["year"],
        budget=budget,
        spent=spent,
        fiscal_budget=budget,
        fiscal_spent=spent,
        indicators=indicators,
        statuses_given=False,
        dept_name=project["dept_name"],
        goal_expected=project["goal_expected"],
        goal_actual=project["goal_actual"],
        score=total,
        grade=next(g for g, low in (("优", 90), ("良", 80), ("中", 60), ("差", 0)) if total >= low),
    )


def _national_title(doc, year: int = 2022, *, page_break: bool = False) -> None:
    _paragraph(
        doc, f"{year}年度项目支出绩效自评表", bold=True, center=True, size=16, page_break=page_break
    )
    _paragraph(doc, "填报单位（盖章）：攀枝花市仁和区教师发展中心", size=10.5)


@cache
def national_annex(
    *,
    dept_code: str | None = None,
    empty_economic_row: bool = False,
    overspent: bool = False,
    name: str = "国家表式.docx",
) -> Annex:
    """One project on the 财政部 2020 form typed in Word: 主管部门 | name | 实施单位 | name (no code
    unless `dept_code`: then 主管部门代码 | code in cells of their own); the 项目资金（万元） block
    (年初预算数 … 得分; 年度资金总额 210 / 当年财政拨款 210 / 上年结转资金 and 其他资金 blank;
    分值 and 得分 on the total row only, "—" below); 年度总体目标; the 绩效指标 block with the
    weight inside the 一级 label (产出指标(50分)), merged 一级 / 二级 cells, targets =8个,
    ≤202.6万元, ≥95%, and the 总分 row. Total 98.5 (执行率 90 % → 9; 85/90 × 5 = 4.72 and
    88/90 × 10 = 9.78; every other row full).

    `empty_economic_row` adds 池州贵池's pre-printed 经济效益指标 row with only 一级 / 二级 (not an
    indicator); `overspent` types 全年执行数 230 against 210 (E301 on 第4行 and 第5行)."""
    budget, spent = 210.0, 230.0 if overspent else 189.0
    doc = _document()
    _paragraph(doc, "附件2：", size=12)
    _national_title(doc)
    _national_table(
        doc,
        NATIONAL_PROJECT,
        budget=budget,
        spent=spent,
        dept_code=dept_code,
        empty_economic_row=empty_economic_row,
    )
    _paragraph(doc, "")
    expected = _national_expected(1, budget=budget, spent=spent, dept_code=dept_code)
    planted = ()
    if overspent:
        planted = tuple(
            Planted("E301", "表1", re.escape(f"第{row}行「全年执行数」")) for row in (4, 5)
        )
    return Annex(name, _save(doc), (expected,), planted, 1)


# -- quirks ------------------------------------------------------------------------------------


def _seed_one(style: SeedStyle, name: str, project: int = 0, **over) -> Annex:
    doc = _document()
    _paragraph(doc, "附件2：")
    _seed_title(doc)
    p = seed_projects()[project]
    _seed_table(doc, p, style)
    _paragraph(doc, "")
    return Annex(name, _save(doc), (_seed_expected(p, 1, style, **over),), (), 1)


@cache
def split_labels_annex() -> Annex:
    """The seed's first project with every label split into runs of one or two characters
    (bold and size changing between them, proofing marks, an empty run) over its paragraphs."""
    return _seed_one(SeedStyle(split_labels=True), "标签拆分.docx")


@cache
def fullwidth_labels_annex() -> Annex:
    """The seed's first project with labels spaced by full-width spaces: 项　目　名　称,
    实　施　单　位, 预　算　数：, 一　级 / 指　标 …"""
    return _seed_one(SeedStyle(fullwidth=True), "全角空格.docx")


@cache
def dept_code_annex() -> Annex:
    """Three seed-layout tables, each stating the 主管部门 another way: 主管部门 | name |
    主管部门代码 | 109101; 主管部门及代码 | 中共攀枝花市仁和区委宣传部（109101）; 主管部门 | name |
    代码 | 109101. Every one is 109101, 中共攀枝花市仁和区委宣传部."""
    doc = _document()
    _paragraph(doc, "附件2：")
    tables = []
    for n, (dept, project) in enumerate(
        zip(("separate", "named", "code_label"), seed_projects(), strict=True), 1
    ):
        _seed_title(doc, page_break=n > 1)
        style = SeedStyle(dept=dept)
        _seed_table(doc, project, style)
        tables.append(_seed_expected(project, n, style))
    return Annex("主管部门代码.docx", _save(doc), tuple(tables), (), 3)


@cache
def amounts_annex() -> Annex:
    """Amounts typed as people type them: 114.56万元 / 99.63万元 (the seed's second project),
    and 1,234.50 / 1,110.05 with thousands separators (a third project renamed)."""
    doc = _document()
    _paragraph(doc, "附件2：")
    projects = seed_projects()
    a = SeedStyle(amounts=("114.56万元", "99.63万元", "114.56万元", "99.63万元"))
    b = SeedStyle(
        amounts=("1,234.50", "1,110.05", "1,234.50", "1,110.05"), name="仁和区融媒体中心建设项目"
    )
    _seed_title(doc)
    _seed_table(doc, projects[1], a)
    _seed_title(doc, page_break=True)
    _seed_table(doc, projects[2], b)
    money = {"budget": 1234.5, "spent": 1110.05, "fiscal_budget": 1234.5, "fiscal_spent": 1110.05}
    tables = (_seed_expected(projects[1], 1, a), _seed_expected(projects[2], 2, b, **money))
    return Annex("金额写法.docx", _save(doc), tables, (), 2)


def _department_table(doc) -> None:
    """A 部门整体支出绩效自评表 (寿县 2023 family): 序号 / 一级 with 分值 / 二级 with 分值 / 三级 /
    指标分值 / 指标解释 / 自评得分: no 项目名称, no fund block, no target or actual columns."""
    L = Label
    rows = [
        [
            (1, L("序号")),
            (1, L("一级指标")),
            (1, L("分值")),
            (1, L("二级指标")),
            (1, L("分值")),
            (1, L("三级指标")),
            (1, L("指标分值")),
            (1, L("指标解释")),
            (1, L("自评得分")),
        ],
        [
            (1, "1"),
            (1, "决策"),
            (1, "15"),
            (1, "绩效目标"),
            (1, "6"),
            (1, "绩效目标合理性"),
            (1, "3"),
            (1, "部门整体绩效目标是否依据充分"),
            (1, "3"),
        ],
        [
            (1, "2"),
            (1, "过程"),
            (1, "35"),
            (1, "预算执行"),
            (1, "18"),
            (1, "预算执行率"),
            (1, "10"),
            (1, "部门预算执行数÷预算数×100%"),
            (1, "8.5"),
        ],
        [
            (1, "3"),
            (1, "产出"),
            (1, "30"),
            (1, "工作计划"),
            (1, "6"),
            (1, "重点工作完成率"),
            (1, "6"),
            (1, "完成的重点工作÷计划重点工作"),
            (1, "6"),
        ],
        [(3, L("合计")), (3, ""), (1, "100"), (1, ""), (1, "91.5")],
    ]
    _table(doc, [1.0, 1.6, 1.0, 1.8, 1.0, 2.6, 1.2, 4.0, 1.3], rows)


def _signature_table(doc) -> None:
    L = Label
    rows = [
        [(1, L("填报人")), (1, "张丽"), (1, L("联系电话")), (1, "0812-2902345")],
        [(1, L("审核人")), (1, "王强"), (1, L("填报日期")), (1, "2023年5月20日")],
    ]
    _table(doc, [2.5, 4.0, 2.5, 4.0], rows)


@cache
def preceded_annex() -> Annex:
    """A 部门整体 table (附件1) and a small signature table before the 自评表: it is 表3, and
    only it is read."""
    doc = _document()
    _paragraph(doc, "附件1：", size=12)
    _paragraph(doc, "2022年度部门整体支出绩效自评表", bold=True, center=True, size=14)
    _department_table(doc)
    _paragraph(doc, "")
    _signature_table(doc)
    _paragraph(doc, "附件2：", size=12, page_break=True)
    _seed_title(doc)
    project = seed_projects()[0]
    _seed_table(doc, project, SeedStyle())
    _paragraph(doc, "")
    return Annex("部门整体在前.docx", _save(doc), (_seed_expected(project, 3, SeedStyle()),), (), 3)


@cache
def no_form_annex() -> Annex:
    """决算公开 text and a plain list of projects (序号 | 项目名称 | 预算数（万元） | 决算数（万元）):
    no 自评表 at all."""
    doc = _document()
    _paragraph(doc, "关于2022年度部门决算公开的说明", bold=True, center=True, size=16)
    _paragraph(
        doc,
        "根据预算法和《地方预决算公开操作规程》的规定，现将我部2022年度部门决算公开如下。"
        "项目支出绩效自评结果另见附件。",
    )
    L = Label
    rows = [
        [(1, L("序号")), (1, L("项目名称")), (1, L("预算数（万元）")), (1, L("决算数（万元）"))]
    ]
    for i, p in enumerate(seed_projects(), 1):
        rows.append(
            [
                (1, str(i)),
                (1, p["project_name"]),
                (1, _amount(p["fund_fiscal_budget"])),
                (1, _amount(p["fund_fiscal_spent"])),
            ]
        )
    _table(doc, [1.2, 8.0, 3.0, 3.0], rows)
    _paragraph(doc, "")
    return Annex("决算说明.docx", _save(doc), (), (), 1)


@cache
def multi_project_annex() -> Annex:
    """Three projects, one a page (a page-break paragraph, then page_break_before): the seed's
    first on its own form, the national-layout project, the seed's third. Each table is read as
    its own closest form."""
    doc = _document()
    projects = seed_projects()
    _paragraph(doc, "附件2：")
    _seed_title(doc)
    _seed_table(doc, projects[0], SeedStyle())
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _national_title(doc)
    _national_table(doc, NATIONAL_PROJECT, dept_code="125001")
    _seed_title(doc, page_break=True)
    _seed_table(doc, projects[2], SeedStyle())
    _paragraph(doc, "")
    tables = (
        _seed_expected(projects[0], 1, SeedStyle()),
        _national_expected(2, dept_code="125001"),
        _seed_expected(projects[2], 3, SeedStyle()),
    )
    return Annex("多个项目.docx", _save(doc), tables, (), 3)


@cache
def preprinted_row_annex() -> Annex:
    """The national-layout project with 池州贵池's empty pre-printed 经济效益指标 row."""
    return national_annex(empty_economic_row=True, dept_code="125001", name="预印空行.docx")


def good_annexes() -> list[Annex]:
    """Every readable annex of the corpus (no planted defects)."""
    return [
        seed_annex(),
        national_annex(),
        national_annex(dept_code="125001", name="国家表式_有代码.docx"),
        split_labels_annex(),
        fullwidth_labels_annex(),
        dept_code_annex(),
        amounts_annex(),
        preceded_annex(),
        multi_project_annex(),
        preprinted_row_annex(),
    ]


# -- bad files ---------------------------------------------------------------------------------

WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
WORD_MACRO = "application/vnd.ms-word.document.macroEnabled.main+xml"
VBA_REL = (
    '<Relationship Id="rIdVba1" Type="http://schemas.microsoft.com/office/2006/relationships/'
    'vbaProject" Target="vbaProject.bin"/>'
)


def macro_docx(data: bytes) -> bytes:
    """`data` made a macro-enabled document as Word saves a .docm: the main part's content type
    macroEnabled, a VBA project (word/vbaProject.bin, an OLE file) and its relationship."""

    def types(raw: bytes | None) -> bytes:
        text = raw.decode("utf-8")
        assert WORD_MAIN in text
        text = text.replace(WORD_MAIN, WORD_MACRO)
        bin_default = (
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        )
        return text.replace("<Default ", bin_default + "<Default ", 1).encode("utf-8")

    def rels(raw: bytes | None) -> bytes:
        return (
            raw.decode("utf-8").replace("</Relationships>", VBA_REL + "</Relationships>").encode()
        )

    return with_parts(
        data,
        {
            "[Content_Types].xml": types,
            "word/_rels/document.xml.rels": rels,
            "word/vbaProject.bin": lambda _: ole("VBA", "PROJECT", "dir"),
        },
    )


def laughs(depth: int = 4) -> str:
    """A billion-laughs DOCTYPE, small (10⁴ × "lol"): harmless should a parser expand it."""
    decls = ['<!ENTITY lol0 "lol">']
    for i in range(1, depth + 1):
        decls.append(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">')
    return f"<!DOCTYPE w:document [{''.join(decls)}]>"


def entity_docx(data: bytes, project_name: str) -> bytes:
    """`data` whose word/document.xml declares entities and uses one for the 项目名称."""

    def document(raw: bytes | None) -> bytes:
        text = raw.decode("utf-8")
        head, sep, rest = text.partition("?>")
        assert sep and f"<w:t>{project_name}</w:t>" in rest
        rest = rest.replace(f"<w:t>{project_name}</w:t>", "<w:t>&lol4;</w:t>", 1)
        return (head + sep + "\n" + laughs(4) + rest).encode("utf-8")

    return with_parts(data, {"word/document.xml": document})


def renamed_xlsx() -> bytes:
    """A plain workbook (not our template) with a 项目名称 cell: saved as .xlsx, sent as .docx."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "自评表"
    ws.append(["项目名称", "2022年媒体合作项目"])
    ws.append(["预算数", 100, "执行数", 16])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@cache
def bad_annexes() -> tuple[BadFile, ...]:
    seed = seed_annex().data
    macro = macro_docx(seed)
    name = seed_projects()[0]["project_name"]
    return (
        BadFile("宏文档.docm", macro, frozenset({"E004"}), "a .docm (macro content type, VBA)"),
        BadFile("宏文档改名.docx", macro, frozenset({"E004"}), "a .docm renamed .docx"),
        BadFile(
            "实体.docx",
            entity_docx(seed, name),
            frozenset({"E001", "E005", "E006"}),
            "document.xml with a DOCTYPE and entities",
        ),
        BadFile("截断.docx", seed[: len(seed) // 2], frozenset({"E001"}), "first half of a docx"),
        BadFile("旧版.doc", ole("WordDocument", "1Table"), frozenset({"E002"}), "a Word 97 .doc"),
        BadFile(
            "工作簿改名.docx",
            renamed_xlsx(),
            frozenset({"E001", "E002", "E007", "E023"}),
            "an .xlsx renamed .docx",
        ),
        BadFile(
            "压缩炸弹.docx",
            with_zeros_entry(seed, "word/media/image1.png", 60 * MIB),
            frozenset({"E005"}),
            "a docx with a 60 MiB entry of zeros",
        ),
    )


__all__ = [
    "Annex",
    "BadFile",
    "Expected",
    "Indicator",
    "Planted",
    "amounts_annex",
    "bad_annexes",
    "dept_code_annex",
    "fullwidth_labels_annex",
    "good_annexes",
    "multi_project_annex",
    "national_annex",
    "national_score",
    "no_form_annex",
    "preceded_annex",
    "preprinted_row_annex",
    "seed_annex",
    "seed_projects",
    "split_labels_annex",
]
