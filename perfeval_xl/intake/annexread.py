"""Published annexes: the 自评表 tables of a Word document (.docx) become records.

A department publishes its self-evaluation as 附件2 of its final accounts: one Word table per
project, in the form's printed layout, made by hand (the seed is one). Such a table has no
named cells and no form id, so it is read by its labels, as a reviewer reads it: 项目名称 and
the text to its right, the fund block by its column labels (预算数 / 全年执行数 …) and row labels
(财政拨款 / 其他资金 …), 年度总体目标 by 预期目标 / 实际完成情况 and the text below each, and the
indicator table by its header row. Merged cells are followed (a vertically merged 一级 cell
belongs to every row it covers); labels are compared without spaces, line breaks, full-width
forms or a trailing colon, so `社会效益  指标` and `完成\\n指标` are the labels they look like.

Each table is read as the closest form (the one whose `[publish] identify` labels it shows
most) by the workbook reader's own value rules (`reader.read_cells`: aliases, statuses, amounts,
percentages), so a number read from Word is read exactly as the same text typed into a
workbook. Findings name the table and the place as a person sees it: `表2 第9行「实际完成指标值」`.

The document passes the same gate as a workbook first (`safety.inspect_document`: sizes, zip
limits, macro-enabled and legacy formats), and its XML is parsed by defusedxml with DTDs
forbidden, so an entity declaration is refused (E006), never expanded.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from openpyxl.utils import get_column_letter

from ..errors import Text
from ..findings import Finding, finding
from ..forms.spec import BUILTIN_FORMS, FormSet, Spec, builtin_forms, load_spec
from .reader import ReadResult, canonical_label, read_cells
from .record import Record
from .safety import inspect_document

#: File name endings read as Word annexes (the others are refused with a message by name).
DOCUMENT_SUFFIXES = {".docx", ".docm", ".doc"}

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCUMENT = "word/document.xml"
#: Largest number of rows of one table read (a real form has a few dozen).
MAX_TABLE_ROWS = 1000
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_PLAIN_NUMBER = re.compile(r"\s*\d{1,12}(?:\.\d{1,10})?\s*")


# -- the document's tables ---------------------------------------------------------------------
@dataclass(eq=False)
class _Cell:
    """A cell of the table's grid as Word shows it: merged cells are one `_Cell` at every grid
    position they cover; `row` / `col` are its top-left position (from 0); `key` its text as a
    label is compared (`label_key`)."""

    text: str
    row: int
    col: int
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = label_key(self.text) if len(self.text) <= _LABEL_MAX else ""


@dataclass
class _Table:
    number: int  # counted from 1 in the document
    rows: list[dict[int, _Cell]]
    before: str  # the text of the paragraphs just above the table (its title)
    _all: list[_Cell] | None = field(default=None, init=False, repr=False)

    def cells(self, r: int) -> list[_Cell]:
        """The distinct cells of row `r`, left to right."""
        out: list[_Cell] = []
        for c in sorted(self.rows[r]):
            cell = self.rows[r][c]
            if not out or out[-1] is not cell:
                out.append(cell)
        return out

    def right_of(self, cell: _Cell, r: int | None = None) -> _Cell | None:
        row = self.cells(cell.row if r is None else r)
        for i, c in enumerate(row):
            if c is cell:
                return row[i + 1] if i + 1 < len(row) else None
        return None

    def below(self, cell: _Cell) -> _Cell | None:
        """The cell under `cell`, in its first grid column."""
        for r in range(cell.row + 1, len(self.rows)):
            got = self.rows[r].get(cell.col)
            if got is not cell:
                return got
        return None

    def all_cells(self) -> list[_Cell]:
        """Every distinct cell, row by row (computed once: a table is not changed once made)."""
        if self._all is None:
            seen: dict[int, _Cell] = {}
            for r in range(len(self.rows)):
                for c in self.cells(r):
                    seen.setdefault(id(c), c)
            self._all = list(seen.values())
        return self._all


#: Longer texts are no label: not compared (and not normalised) as one.
_LABEL_MAX = 60


@lru_cache(maxsize=8192)
def label_key(text: str) -> str:
    """A label as compared: NFKC (full-width forms), no whitespace, no colon at either end,
    no `其中：` and no `（万元）` / `（自动计算）`; `社会效益  指标` → `社会效益指标`."""
    t = unicodedata.normalize("NFKC", text)
    t = re.sub(r"\s+", "", t)
    t = t.strip(":")
    t = t.removeprefix("其中:").removeprefix("其中")
    t = re.sub(r"\((?:万元|单位:万元|自动计算)\)$", "", t)
    return t.strip(":")


def _texts(el: Any) -> str:
    """A cell's or paragraph's visible text: runs, tabs and line breaks; deleted text, field
    codes and nested tables left out."""
    out: list[str] = []
    for p in _paragraphs(el):
        parts = []
        for node in p.iter():
            tag = node.tag
            if tag == f"{_W}t":
                parts.append(node.text or "")
            elif tag == f"{_W}tab":
                parts.append(" ")
            elif tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
            elif tag == f"{_W}noBreakHyphen":
                parts.append("-")
        out.append("".join(parts))
    return "\n".join(out).strip()


#: Elements that only wrap content (content controls, custom XML): looked through.
_WRAPPERS = (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml")


def _within(el: Any, tag: str) -> list[Any]:
    """The `tag` children of `el`, looking through content controls (`_WRAPPERS`), not into
    nested tables: a cell's paragraphs, a row's cells."""
    out = []
    for child in el:
        if child.tag == tag:
            out.append(child)
        elif child.tag in _WRAPPERS:
            out += _within(child, tag)
    return out


def _paragraphs(el: Any) -> list[Any]:
    """The paragraphs directly in `el` (or in its content controls), not in nested tables."""
    return [el] if el.tag == f"{_W}p" else _within(el, f"{_W}p")


def _val(el: Any, tag: str, default: str | None = None) -> str | None:
    found = el.find(f"{_W}{tag}") if el is not None else None
    if found is None:
        return default
    return found.get(f"{_W}val", "")


def _grid(tbl: Any) -> list[dict[int, _Cell]]:
    """The table as grid rows: horizontal spans (gridSpan, gridBefore) and vertical merges
    (vMerge restart / continue) resolved to the cell that shows the text."""
    rows: list[dict[int, _Cell]] = []
    above: dict[int, _Cell] = {}
    for r, tr in enumerate(tbl.findall(f"{_W}tr")[:MAX_TABLE_ROWS]):
        col = _int(_val(tr.find(f"{_W}trPr"), "gridBefore"), 0)
        row: dict[int, _Cell] = {}
        for tc in _within(tr, f"{_W}tc"):
            props = tc.find(f"{_W}tcPr")
            span = max(1, min(_int(_val(props, "gridSpan"), 1), 64))
            merge = _val(props, "vMerge")
            if merge is not None and merge in ("", "continue") and col in above:
                cell = above[col]
            else:
                cell = _Cell(_texts(tc), r, col)
            for c in range(col, col + span):
                row[c] = cell
                above[c] = cell
            col += span
        rows.append(row)
    return rows


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _tables(body: Any) -> list[_Table]:
    """The document's top-level tables, in order, each with the text just above it."""
    tables: list[_Table] = []
    recent: list[str] = []

    def walk(el: Any) -> None:
        for child in el:
            if child.tag == f"{_W}p":
                text = _texts(child)
                if text:
                    recent.append(text)
                    del recent[:-3]
            elif child.tag == f"{_W}tbl":
                tables.append(_Table(len(tables) + 1, _grid(child), "\n".join(recent)))
                recent.clear()
            elif child.tag in _WRAPPERS:
                walk(child)

    walk(body)
    return tables


# -- labels ------------------------------------------------------------------------------------
#: Labels of single values as departments write them, beside each form's own labels.
_HEADER_ALIASES = {
    "project_name": ("项目名称",),
    "project_code": ("项目代码", "项目编码"),
    "year": ("年度", "评价年度", "预算年度", "项目年度"),
    "dept_name": ("主管部门", "主管部门名称", "主管单位"),
    "dept_code": (
        "主管部门代码",
        "主管部门编码",
        "部门代码",
        "部门编码",
        "单位代码",
        "代码",
        "编码",
    ),
    "unit_name": ("实施单位", "项目实施单位", "实施单位名称"),
}
#: 主管部门 and its code in one cell (the seed's 主管部门及代码).
_DEPT_BOTH = ("主管部门及代码", "主管部门及编码", "主管部门及其代码", "主管部门(代码)")
_FUND_COLUMNS = {
    "initial": ("年初预算数", "年初预算"),
    "budget": ("全年预算数", "调整后预算数", "预算数", "全年预算", "调整后预算"),
    "spent": ("全年执行数", "预算执行数", "执行数", "实际执行数", "全年实际执行数"),
    "rate": ("执行率", "预算执行率"),
    "score": ("得分",),
}
_FUND_ROWS = {
    "total": ("合计", "年度资金总额", "总额", "资金总额", "总计", "项目资金总额"),
    "fiscal": ("财政拨款", "当年财政拨款", "财政资金", "本年财政拨款"),
    "carryover": ("上年结转资金", "上年结转"),
    "other": ("其他资金",),
    "special": ("财政专户管理资金",),
    "unit": ("单位资金", "单位自有资金"),
}
_GOAL_EXPECTED = ("预期目标", "年度预期目标")
_GOAL_ACTUAL = ("实际完成情况", "目标实际完成情况", "全年实际完成情况", "实际完成")
_INDICATOR_COLUMNS = {
    "level1": ("一级指标", "一级"),
    "level2": ("二级指标", "二级"),
    "name": ("三级指标", "三级", "指标名称"),
    "sign": ("指标性质",),
    "target": ("年度指标值", "预期指标值", "指标值", "年度目标值", "预期目标值"),
    "unit": ("度量单位", "计量单位"),
    "actual": ("实际完成值", "实际完成指标值", "完成值", "全年实际值", "实际值"),
    "status": ("完成状态",),
    "weight": ("分值", "权重"),
    "score": ("得分",),
    "reason": ("偏差原因分析及改进措施", "偏差原因", "未完成原因分析", "偏差原因分析", "原因分析"),
}
_TOTAL_ROW = ("总分", "合计", "总计")


@lru_cache(maxsize=1024)
def _keys(*groups: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for group in groups:
        for text in group:
            k = label_key(text)
            if k and k not in out:
                out.append(k)
    return tuple(out)


def _indicator_labels(spec: Spec) -> dict[str, tuple[str, ...]]:
    """key → the labels its column answers to: the form's own first, then the aliases."""
    return {
        c.key: _keys((c.label,), _INDICATOR_COLUMNS.get(c.key, ())) for c in spec.indicator_columns
    }


# -- reading one table -------------------------------------------------------------------------
def read_document(name: str, data: bytes, forms: FormSet = BUILTIN_FORMS) -> list[ReadResult]:
    """Read every 自评表 table of a Word document held in memory; `name` names it in findings.

    Returns one `ReadResult` per form table, in document order; a document that cannot be read,
    or holds no form table, gives one result without a record and the finding that says why.
    """
    refused = inspect_document(name, data)
    if refused is not None:
        return [ReadResult(name, None, [refused])]
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = z.read(_DOCUMENT)
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        kind = type(exc).__name__
        return [
            ReadResult(
                name,
                None,
                [
                    finding(
                        "E006",
                        name,
                        Text(
                            f"XML 含实体定义或外部引用（{kind}）",
                            f"XML with entity definitions ({kind})",
                        ),
                    )
                ],
            )
        ]
    except Exception as exc:  # noqa: BLE001 - any parser failure of a foreign file is a finding
        why = Text(
            f"文档内容已损坏，无法读取（{type(exc).__name__}）；请在 Word/WPS 中打开并另存为 .docx 后重新提交",
            f"the document's content is damaged ({type(exc).__name__}); open it in Word/WPS, "
            "save it as .docx and send it again",
        )
        return [ReadResult(name, None, [finding("E001", name, why)])]
    body = root.find(f"{_W}body")
    candidates = _candidates(forms)
    results = []
    try:
        tables = _joined(_tables(body)) if body is not None else []
        for table in tables:
            try:
                got = _TableReader(name, table, candidates).read()
            except RecursionError:
                raise
            except Exception as exc:  # noqa: BLE001 - one table never stops the file or the batch
                why = Text(
                    f"表格无法读取（{type(exc).__name__}）；请用下发的 Excel 模板填写该项目",
                    f"the table cannot be read ({type(exc).__name__}); fill the issued Excel "
                    "template for this project",
                )
                got = ReadResult(
                    name, None, [finding("E001", name, why, sheet=f"表{table.number}")]
                )
            if got is not None:
                results.append(got)
    except RecursionError:  # content controls nested thousands deep: no real document
        why = Text(
            "文档结构嵌套过深，无法读取；请在 Word/WPS 中另存为 .docx 后重新提交",
            "the document is nested too deeply to read; save it as .docx in Word/WPS and send it again",
        )
        return [ReadResult(name, None, [finding("E001", name, why)])]
    if results:
        return results
    why = Text(
        f"文档中有 {len(tables)} 张表格，没有一张是自评表（含「项目名称」和指标表表头）",
        f"the document has {len(tables)} table(s), none of them a self-evaluation form "
        "(项目名称 and an indicator header row)",
    )
    return [ReadResult(name, None, [finding("E023", name, why)])]


def _candidates(forms: FormSet) -> list[Spec]:
    """The project forms a table may be: the office's (`--forms`) first, then the built-in."""
    out: list[Spec] = []
    ids = set()
    for spec in list(forms.specs) + [load_spec(f) for f in builtin_forms()]:
        if spec.kind == "project" and spec.id not in ids:
            out.append(spec)
            ids.add(spec.id)
    return out


class _TableReader:
    def __init__(self, name: str, table: _Table, forms: list[Spec]) -> None:
        self.name = name
        self.table = table
        self.forms = forms
        self.sheet = f"表{table.number}"
        self.values: dict[tuple[int, int], Any] = {}
        self.areas: dict[str, tuple[str, int, int, int, int]] = {}
        self.places: dict[str, str] = {}  # virtual A1 → 第K行「label」
        self.findings: list[Finding] = []
        #: the form's 完成状态 is read from 实际完成指标值 (the table has no status column)
        self.status_from_actual = False
        #: the fund block's amounts are in 元, not 万元 (its label says so)
        self.in_yuan = False

    def place(self, cell: _Cell, label: str) -> str:
        """`第9行「实际完成指标值」`: the cell's row in the table and the label of its column."""
        shown = re.sub(r"\s+", "", label).strip("：:").removeprefix("其中：")
        return f"第{cell.row + 1}行「{shown}」"

    def read(self) -> ReadResult | None:
        table = self.table
        if not is_form_table(table):
            return None
        spec = self._form()
        header_row = self._indicator_header(spec) if spec is not None else None
        if spec is None or header_row is None:
            return self._unread()
        self.spec = spec
        record = Record(self.name, spec, None, None)
        self._header(spec)
        self._funds(spec, header_row[0])
        self._goals(spec)
        self._indicators(spec, *header_row)
        self.findings += read_cells(self.name, _Book(self.values), spec, record, self.areas)
        if self.status_from_actual:
            for ind in record.indicators:
                if ind.value("status") is None:
                    del ind.fields["status"]  # not in the table: unread, not missing
        self._relocate(record)
        # a merged 一级 cell is read once per row it covers: its note is said once
        self.findings = list(dict.fromkeys(self.findings))
        self.findings.insert(
            0,
            finding(
                "I024",
                self.name,
                Text(
                    f"按表式 {spec.id}（{spec.title}）读取",
                    f"read as form {spec.id} ({spec.title})",
                ),
                sheet=self.sheet,
            ),
        )
        return ReadResult(self.name, record, self.findings)

    def _unread(self) -> ReadResult | None:
        """A project's form whose indicator table cannot be found (no header row with 一级 /
        二级 / 三级): one E025 naming the table and the project, so the project is listed as
        not read instead of missing without a word. A table that only lists projects (项目名称
        over a column, no fund or goal labels) is no form and is passed over."""
        name = _project_of(self.table)
        keys = {c.key for c in self.table.all_cells()}
        if name is None or not keys & set(
            _keys(*_FUND_COLUMNS.values(), _GOAL_EXPECTED, _GOAL_ACTUAL)
        ):
            return None
        why = Text(
            f"项目「{name}」的表格中找不到指标表表头（一级指标、二级指标、三级指标），该项目未读取；"
            "请按自评表的栏目填写指标表后重新提交",
            f"the table of project '{name}' has no indicator header row (一级指标, 二级指标, "
            "三级指标): the project was not read; fill the form's indicator table and send it again",
        )
        return ReadResult(self.name, None, [finding("E025", self.name, why, sheet=self.sheet)])

    # -- which form ----------------------------------------------------------------------------
    def _form(self) -> Spec | None:
        """The form the table shows most of: its `[publish] identify` labels, then its 一级
        labels among the 一级 column's values (成本指标 is a 一级 of national-2021 only, where
        the labels of the two national forms are the same), then all its labels."""
        keys = {c.key for c in self.table.all_cells()}
        level1 = self._level1_values()
        best, best_rank = None, (0, 0, 0)
        for spec in self.forms:
            own = [label_key(x) for x in spec.annex_labels]
            shown = sum(k in keys for k in own)
            known = {x.label for x in spec.level1}
            ones = sum(canonical_label(spec, "level1", v) in known for v in level1)
            labels = [label_key(c.label) for c in spec.indicator_columns]
            labels += [label_key(c.label) for c in spec.fund_columns]
            labels += [label_key(r.label) for r in spec.fund_rows]
            rank = (shown, ones, sum(k in keys for k in labels))
            if rank > best_rank:
                best, best_rank = spec, rank
        return best

    def _level1_values(self) -> set[str]:
        """The texts under the table's 一级 header (any form's), each once, without spaces."""
        wanted = _keys(_INDICATOR_COLUMNS["level1"])
        for r in range(len(self.table.rows)):
            head = next((c for c in self.table.cells(r) if c.row == r and c.key in wanted), None)
            if head is None:
                continue
            values = set()
            for r2 in range(r + 1, len(self.table.rows)):
                cell = self.table.rows[r2].get(head.col)
                if cell is not None and cell is not head and cell.key:
                    values.add(cell.key)
            return values
        return set()

    def _indicator_header(self, spec: Spec) -> tuple[int, dict[int, str]] | None:
        """(row, grid column → indicator key) of the indicator table's header row: the row
        showing most indicator labels, with at least 一级/二级/三级 and one more."""
        labels = _indicator_labels(spec)
        best: tuple[int, dict[int, str]] | None = None
        for r in range(len(self.table.rows)):
            cols: dict[int, str] = {}
            for cell in self.table.cells(r):
                if cell.row != r:
                    continue  # a merged cell from above is no header of this row
                key = next((k for k, ls in labels.items() if cell.key in ls), None)
                if key is not None and key not in cols.values():
                    cols[cell.col] = key
            levels = {"level1", "level2", "name"} & set(cols.values())
            if len(levels) >= 2 and len(cols) >= 4 and (best is None or len(cols) > len(best[1])):
                best = (r, cols)
        return best

    # -- values, placed in a virtual sheet the workbook reader reads -----------------------------
    def _put(self, name: str, raw: Any, where: str) -> None:
        """A single value `pe_<name>` at its own virtual cell, shown in findings as `where`.

        A plain number (100, 114.56, 2022) is given as the number: Word has only text, and a
        number written plainly is no "number stored as text" (W201) as it is in a workbook."""
        numeric = name.startswith("fund_") or name in ("year", "exec_score", "total_score")
        if numeric and isinstance(raw, str) and _PLAIN_NUMBER.fullmatch(raw):
            number = float(raw)
            raw = int(number) if number.is_integer() and "." not in raw else number
        row = len(self.areas) + 1
        self.areas[f"pe_{name}"] = (self.sheet, row, 1, row, 1)
        self.values[(row, 1)] = raw
        self.places[f"A{row}"] = where

    def _header(self, spec: Spec) -> None:
        table = self.table
        found: dict[str, tuple[Any, str]] = {}
        fields = list(spec.header) + list(spec.footer)
        for cell in table.all_cells():
            key = cell.key
            inline = _inline(cell.text)
            if inline is not None:
                # `项目名称：2022年媒体合作项目` in one cell
                head, text = inline
                for f in fields:
                    if head in _keys((f.label,), _HEADER_ALIASES.get(f.name, ())):
                        found.setdefault(f.name, (text, self.place(cell, f.label)))
                        break
                else:
                    if head in _keys(_DEPT_BOTH):
                        name, code = _split_dept(text)
                        found.setdefault("dept_code", (code, self.place(cell, "主管部门及代码")))
                        if name:
                            found.setdefault(
                                "dept_name", (name, self.place(cell, "主管部门及代码"))
                            )
                continue
            if key in _keys(_DEPT_BOTH):
                value = table.right_of(cell)
                text = value.text if value is not None and not self._is_label(value) else ""
                name, code = _split_dept(text)
                where = self.place(value or cell, cell.text.replace("\n", ""))
                found.setdefault("dept_code", (code, where))
                if name:
                    found.setdefault("dept_name", (name, where))
                continue
            for f in fields:
                if key in _keys((f.label,), _HEADER_ALIASES.get(f.name, ())):
                    value = table.right_of(cell)
                    text = value.text if value is not None and not self._is_label(value) else ""
                    where = self.place(value or cell, cell.text.replace("\n", ""))
                    found.setdefault(f.name, (text, where))
                    break
        if not str(found.get("year", ("",))[0]).strip() and any(
            f.name == "year" for f in spec.header
        ):
            m = _YEAR.search(table.before)
            if m:
                found["year"] = (m.group(1), "表前标题")
        # A required field the table does not show is read as blank, so it is reported (E101)
        # as a workbook's empty cell is; but 主管部门 where the table prints 主管部门及代码 with
        # the code alone (the seed's layout: the form has no place for the name).
        code_alone = "dept_code" in found and "dept_name" not in found
        for f in fields:
            if f.name in found:
                self._put(f.name, *found[f.name])
            elif f in spec.header and f.required and not (f.name == "dept_name" and code_alone):
                self._put(f.name, "", "")  # placed at the table itself

    def _is_label(self, cell: _Cell) -> bool:
        return cell.key in _all_labels()

    def _funds(self, spec: Spec, stop: int) -> None:
        """The fund block above the indicator table: `预算数：` | value pairs (the seed), or a
        grid of column labels over rows labelled 财政拨款 / 其他资金 (the national form)."""
        if not spec.fund_rows:
            return
        table = self.table
        columns = {
            c.key: _keys((c.label,), _FUND_COLUMNS.get(c.key, ()))
            for c in spec.fund_columns
            if c.kind in ("amount", "rate", "exec_score")
        }
        rows = {r.key: _keys((r.label, r.short), _FUND_ROWS.get(r.key, ())) for r in spec.fund_rows}
        total_row = spec.fund_rows[0].key if spec.fund_rows else "total"
        # a fund block labelled in 元 (`项目资金（元）`, `单位：元`): each amount is read as typed
        # with 元, which the amount rule converts to 万元 and notes (W201)
        self.in_yuan = any(
            re.search(r"\(元\)|单位:元", unicodedata.normalize("NFKC", c.text).replace(" ", ""))
            for r in range(min(stop, len(table.rows)))
            for c in table.cells(r)
        )
        seen: set[str] = set()
        for r in range(min(stop, len(table.rows))):
            for cell in table.cells(r):
                if cell.row != r:
                    continue
                col = next((k for k, ls in columns.items() if cell.key in ls), None)
                if col is None or col in seen:
                    continue
                seen.add(col)
                label = cell.text.replace("\n", "").strip()
                right = table.right_of(cell)
                if right is not None and not self._is_label(right):
                    # pairs: this row is the total, the rows below hold row labels in this column
                    self._fund(total_row, col, right, label, spec)
                    for r2 in range(r + 1, stop):
                        below = table.rows[r2].get(cell.col)
                        row_key = self._row_key(below, rows) if below is not None else None
                        if row_key is None:
                            break
                        value = table.right_of(below, r2)
                        if value is not None and not self._is_label(value):
                            self._fund(row_key, col, value, label, spec)
                else:
                    for r2 in range(r + 1, stop):
                        row_key, row_label = None, None
                        for c2 in table.cells(r2):
                            if c2.col < cell.col:
                                got = self._row_key(c2, rows)
                                if got is not None:
                                    row_key, row_label = got, c2
                        if row_key is None:
                            if r2 > r + 1:
                                break
                            continue
                        value = table.rows[r2].get(cell.col)
                        if value is not None and value is not row_label and value.row == r2:
                            self._fund(row_key, col, value, label, spec)

    @staticmethod
    def _row_key(cell: _Cell, rows: dict[str, tuple[str, ...]]) -> str | None:
        return next((k for k, ls in rows.items() if cell.key in ls), None)

    def _fund(self, row: str, col: str, cell: _Cell, label: str, spec: Spec) -> None:
        where = self.place(cell, label)
        amount_cols = {c.key for c in spec.amount_columns}
        if col in amount_cols:
            name = f"fund_{row}_{col}"
            text = cell.text
            if self.in_yuan and _PLAIN_NUMBER.fullmatch(text.replace(",", "")):
                text = f"{text.strip()}元"
            if f"pe_{name}" not in self.areas:
                self._put(name, text, where)
        elif row == spec.fund_rows[0].key:
            kind = next(c.kind for c in spec.fund_columns if c.key == col)
            name = {"rate": "exec_rate", "exec_score": "exec_score"}.get(kind)
            if kind == "rate":
                # a printed rate counts only as a percentage (16%); a bare 16 is ambiguous
                share = _percent_share(cell.text)
                if share is not None and "pe_exec_rate" not in self.areas:
                    self._put("exec_rate", share, where)
            elif name and f"pe_{name}" not in self.areas and cell.text:
                self._put(name, cell.text, where)

    def _goals(self, spec: Spec) -> None:
        if spec.goals is None:
            return
        wanted = {
            "goal_expected": _keys((spec.goals.expected_label,), _GOAL_EXPECTED),
            "goal_actual": _keys((spec.goals.actual_label,), _GOAL_ACTUAL),
        }
        for cell in self.table.all_cells():
            for name, keys in wanted.items():
                if cell.key in keys and f"pe_{name}" not in self.areas:
                    below = self.table.below(cell)
                    if below is not None and not self._is_label(below):
                        self._put(name, below.text, self.place(below, cell.text))

    def _indicators(self, spec: Spec, header: int, cols: dict[int, str]) -> None:
        table = self.table
        labels = {c.key: c.label for c in spec.indicator_columns}
        shown = {col: table.rows[header][col].text.replace("\n", "") for col in cols}
        rows: list[dict[str, tuple[str, str]]] = []
        total: tuple[str, str] | None = None
        score_col = next((c for c, k in cols.items() if k == "score"), None)
        for r in range(header + 1, len(table.rows)):
            cells = table.cells(r)
            if any(c.key in _TOTAL_ROW for c in cells if c.row == r):
                got = table.rows[r].get(score_col) if score_col is not None else None
                if got is not None and got.row == r and got.key not in _TOTAL_ROW:
                    total = (got.text, self.place(got, "总分"))
                break
            spanning = {id(table.rows[r].get(col)) for col in cols}
            if len(spanning) == 1 and len(cols) > 1:
                # one cell across the whole table: blank, or a note (注：…, 填报人) below it
                if table.rows[r].get(next(iter(cols))) is not None and any(
                    c.key for c in cells if c.row == r
                ):
                    break
                continue
            row: dict[str, tuple[str, str]] = {}
            for col, key in cols.items():
                cell = table.rows[r].get(col)
                text = cell.text if cell is not None else ""
                where = self.place(cell, shown[col]) if cell is not None else f"第{r + 1}行"
                row[key] = (text, where)
            if all(label_key(text) in _all_labels() for text, _ in row.values() if text):
                continue  # blank, or the header repeated (a table continued on a new page)
            rows.append(row)
        keys = list(dict.fromkeys(cols.values()))
        # the form's status column, from 实际完成指标值 when the table has none (the seed)
        status_from_actual = (
            "status" in labels and "status" not in keys and "actual" in keys and bool(rows)
        )
        self.status_from_actual = status_from_actual
        if status_from_actual:
            # A status only where the text says one; elsewhere the form's status is not in the
            # table (the national form prints none) and is left unread, not reported missing:
            # a qualitative indicator without one is then not scored, and the score says so.
            keys.append("status")
            for row in rows:
                text, where = row["actual"]
                status = _status_word(text, spec)
                row["status"] = (status or None, where)
                if status and status != text:
                    self.findings.append(
                        finding(
                            "W204",
                            self.name,
                            Text(
                                f"完成状态写在「实际完成指标值」中：「{text}」按「{status}」读取",
                                f"the status is written in the actual value: '{text}' read as '{status}'",
                            ),
                            sheet=self.sheet,
                            cell=where,
                            field="ind_status",
                        )
                    )
        base = 1000
        for j, key in enumerate(keys):
            col = 10 + j
            self.areas[f"pe_ind_{key}"] = (self.sheet, base, col, base + max(len(rows), 1) - 1, col)
            for i, row in enumerate(rows):
                text, where = row.get(key, ("", ""))
                if key in ("weight", "score") and text and _PLAIN_NUMBER.fullmatch(text):
                    text = float(text)  # a plain 分值 / 得分: no "number stored as text" (W201)
                self.values[(base + i, col)] = text
                self.places[f"{get_column_letter(col)}{base + i}"] = where
        if total is not None:
            self._put("total_score", *total)

    def _relocate(self, record: Record) -> None:
        """Every virtual cell named as the table shows it."""
        places = self.places

        def moved(f: Any) -> Any:
            # "" for a field the table does not show: the finding is about the table itself
            return replace(f, cell=places[f.cell] or None) if f.cell in places else f

        record.fields = {k: moved(f) for k, f in record.fields.items()}
        record.stated = {k: moved(f) for k, f in record.stated.items()}
        record.cells = {
            k: (s, places[c] or None if c in places else c) for k, (s, c) in record.cells.items()
        }
        for ind in record.indicators:
            ind.fields = {k: moved(f) for k, f in ind.fields.items()}
        self.findings = [moved(f) for f in self.findings]


class _Book:
    """The virtual sheet `reader.read_cells` reads: every value a text, as Word holds it."""

    def __init__(self, values: dict[tuple[int, int], Any]) -> None:
        self.values = values

    def cell(self, sheet: str, row: int, col: int) -> tuple[Any, str]:
        value = self.values.get((row, col))
        if isinstance(value, str) and not value.strip():
            value = None
        return value, "s" if isinstance(value, str) else "n"

    def rows_with_values(self, sheet: str) -> set[int] | None:
        return None

    def percent(self, sheet: str, row: int, col: int) -> bool:
        return False


_LABELS: set[str] = set()


def _all_labels() -> set[str]:
    """Every label a table may show (a cell with one of them holds no value)."""
    if not _LABELS:
        groups = [*_HEADER_ALIASES.values(), _DEPT_BOTH, *_FUND_COLUMNS.values()]
        groups += [*_FUND_ROWS.values(), _GOAL_EXPECTED, _GOAL_ACTUAL, _TOTAL_ROW]
        groups += [*_INDICATOR_COLUMNS.values(), ("分值", "项目资金", "年度总体目标")]
        _LABELS.update(_keys(*groups))
    return _LABELS


_INLINE = re.compile(r"\s*([^:：\n]{2,12}?)\s*[:：]\s*(\S.*)", re.S)


def _inline(text: str) -> tuple[str, str] | None:
    """(label key, value) of a cell that holds both, `项目名称：…`, when the label is one of a
    header field's; else None."""
    m = _INLINE.fullmatch(text)
    if m is None:
        return None
    head = label_key(m.group(1))
    headers = _keys(*_HEADER_ALIASES.values(), _DEPT_BOTH)
    return (head, m.group(2).strip()) if head in headers else None


def is_form_table(table: _Table) -> bool:
    """A table with 项目名称 (a cell of its own, or `项目名称：…`): a project's form, or its first
    part."""
    return any(
        c.key == "项目名称" or (_inline(c.text) or ("",))[0] == "项目名称"
        for c in table.all_cells()
    )


def _project_of(table: _Table) -> str | None:
    """The project name a form table shows: right of 项目名称, or in `项目名称：…`."""
    for cell in table.all_cells():
        inline = _inline(cell.text)
        if inline is not None and inline[0] == "项目名称":
            return inline[1]
        if cell.key == "项目名称":
            right = table.right_of(cell)
            if right is not None and right.text and right.key not in _all_labels():
                return right.text
    return None


def _has_indicator_header(table: _Table) -> bool:
    """Whether a row shows at least two of 一级 / 二级 / 三级 (any form's labels)."""
    levels = [_keys(_INDICATOR_COLUMNS[k]) for k in ("level1", "level2", "name")]
    for r in range(len(table.rows)):
        keys = {c.key for c in table.cells(r) if c.row == r}
        if sum(any(k in keys for k in group) for group in levels) >= 2:
            return True
    return False


def _joined(tables: list[_Table]) -> list[_Table]:
    """Tables a form was split into put back together: a form table without an indicator header
    followed by a table without 项目名称 (a paragraph typed between two rows, or the indicator
    part pasted as a table of its own). The rows of the second part are numbered on from the
    first's, as one table."""
    out: list[_Table] = []
    for table in tables:
        last = out[-1] if out else None
        if (
            last is not None
            and is_form_table(last)
            and not _has_indicator_header(last)
            and not is_form_table(table)
            and _has_indicator_header(table)
        ):
            offset = len(last.rows)
            moved: dict[int, _Cell] = {}
            rows = [
                {
                    c: moved.setdefault(id(cell), _Cell(cell.text, cell.row + offset, cell.col))
                    for c, cell in row.items()
                }
                for row in table.rows
            ]
            out[-1] = _Table(last.number, last.rows + rows, last.before)
            continue
        out.append(table)
    return out


def _split_dept(text: str) -> tuple[str, str]:
    """`中共…宣传部（109101）`, `109101 中共…宣传部` or `109101` → (name, code)."""
    t = unicodedata.normalize("NFKC", text).strip()
    if len(t) > 200:  # no 主管部门 is this long; and the patterns below backtrack on long text
        return t, ""
    m = re.fullmatch(r"(.*?)[\s(\[]*([0-9A-Za-z]{3,})[)\]]*", t, re.S) or re.fullmatch(
        r"([0-9A-Za-z]{3,})[\s:,-]*(.+)", t, re.S
    )
    if m is None:
        return t, ""
    a, b = m.group(1).strip(), m.group(2).strip()
    if a and a[0].isdigit() and not b[:1].isdigit():
        return b.strip(" -:,"), a
    return a.strip(" -:,"), b


def _status_word(text: str, spec: Spec) -> str:
    """The status a table without a status column writes in 实际完成指标值: the text itself
    when it is a status word (已完成 / 完成。 / 部分完成, read as a workbook's status is), `未…
    完成` (未支付完成) as 未完成; otherwise blank, so the missing status is reported (E401)."""
    bare = re.sub(r"[。.;；,，!！\s]+$", "", text.replace(" ", "").replace("\u3000", ""))
    if not bare:
        return ""
    if bare in spec.statuses or bare in spec.status_aliases:
        return text
    incomplete = next((s for s in spec.statuses if s.startswith("未")), None)
    if incomplete and re.fullmatch(r"未.{1,6}完成", bare):
        return incomplete
    return ""


def _percent_share(text: str) -> str | None:
    """An execution rate as printed (16%) as the share the reader compares (0.16)."""
    t = unicodedata.normalize("NFKC", text).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", t)
    return repr(float(m.group(1)) / 100) if m else None
