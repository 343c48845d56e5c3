"""The reader's core: a workbook, seen through a small book interface, becomes a `Record`.

`_Reader` reads every input by its contract name (`pe_…`), never by position, so a unit's
program may move cells around, and reports what it meets as findings, never an exception. It
does not open files: a book does (`read._OpenpyxlBook` over openpyxl's full load,
`fastread.FastBook` over the XML parts, `annexread`'s virtual sheet of a Word table), and
`read` chooses. Both back-ends import this module and it imports neither, so the reader's
stages read one way.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from openpyxl.utils import get_column_letter, range_boundaries

from ..errors import SpecError, Text
from ..findings import Finding, finding
from ..forms.layout import contract_names, make_layout
from ..forms.normalize import (
    Parsed,
    Target,
    clean_text,
    is_blank,
    parse_amount,
    parse_number,
    parse_target,
    parse_year,
)
from ..forms.spec import BUILTIN_FORMS, FormSet, Spec, parse_spec
from ..template.generate import (
    LISTS_SHEET,
    META_SHEET,
    OUR_DOCUMENTS,
    PROP_DOCUMENT,
    PROP_FORM_ID,
    PROP_SPEC_SHA256,
    PROP_SPEC_VERSION,
    PROP_WORKBOOK_ID,
    SPEC_TEXT_KEY,
)
from .record import Field, Indicator, Record, new_field

#: Indicator columns whose values come from a list, with the rule for values outside it.
_LIST_COLUMNS = ("level1", "level2", "status", "sign")
#: Most indicator rows read: a template has at most 500 (`--rows`); a name stretched to row
#: 1,048,576 would otherwise make a 16 KB file cost seconds and hundreds of MB.
MAX_INDICATOR_ROWS = 500
_MAX_AMOUNT = 1e10
#: The data type a book gives a damaged cell (`fastread.FastBook.cell`), whose value is then
#: (what is damaged, the text found there): read as missing, reported as E019.
DAMAGED = "x"


@dataclass
class ReadResult:
    """What reading one file gave: the record (None when the file could not be read) and
    the findings about the file itself, its template integrity and the values read."""

    path: str
    record: Record | None
    findings: list[Finding] = field(default_factory=list)


def is_our_summary(data: bytes) -> bool:
    """Whether the workbook `data` is a summary or a list this tool wrote (`summary`,
    `feedback`): its custom property says so, and the summaries written before it had one say
    so in their core properties (author perfeval-xl, comments "perfeval-xl <version>"). Asked
    of a workbook with no form id, and of an output path before it is overwritten: a normal
    batch never pays."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            core = z.read("docProps/core.xml") if "docProps/core.xml" in names else b""
            custom = z.read("docProps/custom.xml") if "docProps/custom.xml" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return False
    marked = [f'name="{PROP_DOCUMENT}"><vt:lpwstr>{d}</vt:lpwstr>'.encode() for d in OUR_DOCUMENTS]
    return any(m in custom for m in marked) or (
        b"<dc:creator>perfeval-xl</dc:creator>" in core and b"<dc:description>perfeval-xl " in core
    )


def read_cells(
    name: str,
    book: Any,
    spec: Spec,
    record: Record,
    areas: dict[str, tuple[str, int, int, int, int]],
) -> list[Finding]:
    """Fill `record` from the cells `areas` names in `book`, by the reader's value rules, and
    return the findings: a Word annex's table (`annexread`), laid out as a virtual sheet.

    Only the values are read (singles and indicator rows: amounts, years, aliases, statuses,
    targets); a table has no template to check, no names, no formulas and no protection, so
    those parts of `_Reader.read` do not apply. `book` answers `cell`, `rows_with_values` and
    `percent` as the workbook back-ends do."""
    reader = _Reader(name, b"", book)
    reader.spec = spec
    reader.record = record
    reader.areas = dict(areas)
    reader._singles()
    reader._indicators()
    return reader.findings


class _Reader:
    """Reads one parsed workbook; one method per part of the record."""

    def __init__(self, name: str, data: bytes, wb: Any, forms: FormSet = BUILTIN_FORMS) -> None:
        self.name = name
        self.data = data
        self.wb = wb
        self.forms = forms
        self.findings: list[Finding] = []
        self.formula_cells: list[tuple[str, Any]] = []
        self._meta_rows: dict[str, Any] | None = None
        self._custom_props: dict[str, Any] | None = None

    def add(self, code: str, message: Text, sheet=None, cell=None, field=None) -> None:
        self.findings.append(finding(code, self.name, message, sheet=sheet, cell=cell, field=field))

    # -- identity ----------------------------------------------------------------------------
    def read(self) -> ReadResult:
        form_id, version, wid = self._identity()
        if not form_id and self._our_summary():
            self.add(
                "W608",
                Text(
                    "这是本工具生成的汇总表，不是单位的自评表，未读取",
                    "a summary written by this tool, not a unit's form: not read",
                ),
            )
            return ReadResult(self.name, None, self.findings)
        if not form_id:
            self.add(
                "E007",
                Text(
                    "找不到表式标识（不是 perfeval-xl 模板）",
                    "no form id (not a perfeval-xl template)",
                ),
            )
            return ReadResult(self.name, None, self.findings)
        spec = self._form(form_id, version)
        if spec is None:
            return ReadResult(self.name, None, self.findings)
        meta = {k: v for k, v in self._meta().items() if not k.startswith(SPEC_TEXT_KEY)}
        record = Record(self.name, spec, version, wid, self._saved(), meta)
        self._external_parts()
        self._hidden_sheets()
        self.spec = spec
        self.record = record
        self._names()
        self._singles()
        self._indicators()
        self._integrity()
        self._formulas()
        return ReadResult(self.name, record, self.findings)

    def _form(self, form_id: str, version: int | None) -> Spec | None:
        """The spec to read the workbook by: the office's (`--forms`) or a built-in one of its
        id and version, else the spec the workbook carries (validated as untrusted data), else
        another version of its id (W010), else none (E008).

        An embedded spec that differs from the installed one of its id and version is reported
        (W020) and the installed one used: the office's rules are the rules. One that is used is
        named (I022), since then the unit's file brought the rules it is checked by."""
        known = re.fullmatch(r"[a-z0-9-]{1,40}", form_id) is not None
        installed = self.forms.find(form_id, version) if known else None
        embedded, unused = self._embedded(form_id, version, installed)
        if embedded is not None and installed is None:
            self.add(
                "I022",
                Text(
                    f"本机没有表式 {form_id} 第 {version} 版，按工作簿内嵌的表式（{embedded.title}，"
                    f"SHA-256 {embedded.digest[:12]}）读取和审核",
                    f"form {form_id} v{version} is not installed here: read and checked by the "
                    f"spec the workbook carries ({embedded.title}, SHA-256 {embedded.digest[:12]})",
                ),
            )
            return embedded
        spec = installed or (self.forms.newest(form_id) if known else None)
        if spec is None:
            # why the spec the workbook carries did not serve belongs to this one finding
            why = Text(f"；{unused.zh}", f"; {unused.en}") if unused else Text("", "")
            self.add(
                "E008",
                Text(f"未知的表式「{form_id}」{why.zh}", f"unknown form '{form_id}'{why.en}"),
            )
            return None
        if unused is not None:
            self.add("W021", unused, sheet=META_SHEET)
        if spec is not installed:
            self.add(
                "W010",
                Text(
                    f"模板为 {form_id} 第 {version} 版，本工具为第 {spec.version} 版；仍按名称读取",
                    f"template {form_id} v{version}, this tool has v{spec.version}; read by name",
                ),
            )
        return spec

    def _embedded(
        self, form_id: str, version: int | None, installed: Spec | None
    ) -> tuple[Spec | None, Text | None]:
        """The spec the workbook carries on `_meta`, when it is whole, valid and of the
        workbook's own id and version; else why not (None when it carries none). Compared
        with `installed` when there is one (W020 when the rules differ)."""
        meta = self._meta()
        parts = []
        for i in range(1, 100):
            part = meta.get(f"{SPEC_TEXT_KEY}{i}")
            if not isinstance(part, str):
                break
            parts.append(part)
        if not parts:
            return None, None
        text = "".join(parts).encode("utf-8")
        digest = hashlib.sha256(text).hexdigest()
        if installed is not None and installed.digest == digest:
            return installed, None
        if (self._props().get(PROP_SPEC_SHA256) or meta.get("spec_sha256")) != digest:
            why = Text(
                "内嵌表式的文字与记录的 SHA-256 不符（被改动或不完整）",
                "its text does not match the SHA-256 recorded with it (altered or incomplete)",
            )
            return None, _unused(why)
        try:
            spec = _embedded_spec(text)
        except SpecError as exc:
            key = Text(f"{exc.key}：", f"{exc.key}: ") if exc.key else Text("", "")
            why = Text(
                f"不是有效的表式（{key.zh}{exc.text.zh}）",
                f"not a valid spec ({key.en}{exc.text.en})",
            )
            return None, _unused(why)
        if (spec.id, spec.version) != (form_id, version):
            why = Text(
                f"内嵌表式为 {spec.id} 第 {spec.version} 版，与工作簿标识不符",
                f"it is {spec.id} v{spec.version}, not the workbook's form",
            )
            return None, _unused(why)
        if installed is not None and not installed.same_rules(spec):
            self.add(
                "W020",
                Text(
                    f"工作簿内嵌的表式与本机的 {form_id} 第 {version} 版（{installed.path}）"
                    "规则不同；按本机表式审核",
                    f"the spec the workbook carries differs from {form_id} v{version} "
                    f"installed here ({installed.path}); checked by the installed one",
                ),
                sheet=META_SHEET,
            )
        return spec, None

    def _props(self) -> dict[str, Any]:
        """The custom document properties, read once ({} when damaged: _meta says the same)."""
        if self._custom_props is None:
            try:
                self._custom_props = self.wb.custom_props()
            except Exception:  # noqa: BLE001 - damaged custom properties: fall back to _meta
                self._custom_props = {}
        return self._custom_props

    def _identity(self) -> tuple[str | None, int | None, str | None]:
        props = self._props()
        meta = self._meta()
        form_id = props.get(PROP_FORM_ID) or meta.get("form_id")
        version = _as_int(props.get(PROP_SPEC_VERSION) or meta.get("spec_version"))
        wid = props.get(PROP_WORKBOOK_ID) or meta.get("workbook_id")
        return (str(form_id).strip() if form_id else None), version, (str(wid) if wid else None)

    def _our_summary(self) -> bool:
        # damaged custom properties read as none: the core ones still say
        return self._props().get(PROP_DOCUMENT) in OUR_DOCUMENTS or is_our_summary(self.data)

    def _external_parts(self) -> None:
        """External links, data connections and web queries are reported, never followed."""
        found = sorted(
            n
            for n in self.wb.part_names()
            if n.startswith(("xl/externalLinks/", "xl/queryTables/")) or n == "xl/connections.xml"
        )
        if found:
            self.add(
                "W015",
                Text(
                    f"含外部链接或数据连接（{', '.join(found)}）：已忽略，不会访问",
                    f"external links or data connections ({', '.join(found)}): ignored, never followed",
                ),
            )

    def _hidden_sheets(self) -> None:
        """The template's hidden sheets gone (deleted, or renamed: the names may follow a
        renamed sheet, but `_meta` is read by its name). Only once the form is known: with no
        form id (E007) this would say nothing more. Values are still read by name; with
        `--key` the missing signature is E701 besides."""
        sheets = self.wb.sheetnames
        if LISTS_SHEET not in sheets:
            self.add(
                "W018",
                Text(
                    f"隐藏的工作表「{LISTS_SHEET}」已被删除或改名，一级、二级指标和完成状态的"
                    "下拉列表可能已没有选项（内容仍按名称读取）；请用下发的原模板重新填写",
                    f"the hidden sheet {LISTS_SHEET} was deleted or renamed, so the dropdowns "
                    "of categories and status may have no choices left (values are still read "
                    "by name); fill the issued template again",
                ),
                sheet=LISTS_SHEET,
            )
        if META_SHEET not in sheets:
            self.add(
                "W018",
                Text(
                    f"隐藏的工作表「{META_SHEET}」已被删除或改名，其中的下发行数和签名信息随之"
                    "丢失（表式仍由文档属性识别，内容仍按名称读取）；请用下发的原模板重新填写",
                    f"the hidden sheet {META_SHEET} was deleted or renamed, and the issued row "
                    "count and signature on it are lost (the form is still known from the "
                    "document properties, values are still read by name); fill the issued "
                    "template again",
                ),
                sheet=META_SHEET,
            )

    def _damaged(self, damage: tuple[str, str], sheet: str, cell: str, field=None) -> None:
        """E019 for a damaged cell (`DAMAGED`) the reader reads: what is wrong, and what to do.
        The cell reads as missing, so its field's usual findings follow (E101, E304 …). A
        damaged cell no value is read from (a label, the instructions sheet) changes nothing
        read and is not reported."""
        what, text = damage
        text = " ".join(str(text).split())
        text = text if len(text) <= 20 else text[:20] + "…"
        zh, en = {
            "style": (f"格式编号 {text} 不存在", f"its format number {text} does not exist"),
            "string": (
                f"引用的文字编号 {text} 不存在",
                f"the text number {text} it refers to does not exist",
            ),
            "number": (f"「{text}」不是数字", f"'{text}' is not a number"),
        }.get(what, (f"「{text}」无法读取", f"'{text}' cannot be read"))
        self.add(
            "E019",
            Text(
                f"单元格内容已损坏（{zh}），未读取；请重新输入该单元格后保存",
                f"the cell's content is damaged ({en}) and was not read; type it again and save",
            ),
            sheet,
            cell,
            field,
        )

    def _saved(self) -> datetime | None:
        try:
            value = self.wb.modified()
        except Exception:  # noqa: BLE001 - damaged core properties are not worth a finding
            return None
        return value if isinstance(value, datetime) else None

    def _meta(self) -> dict[str, Any]:
        """The key/value rows of _meta (read once: identity and the record both need them)."""
        if self._meta_rows is None:
            self._meta_rows = {}
            if META_SHEET in self.wb.sheetnames:
                for r in range(1, 51):
                    key, kind = self.wb.cell(META_SHEET, r, 1)
                    if kind == DAMAGED:
                        self._damaged(key, META_SHEET, f"A{r}")
                    elif isinstance(key, str):
                        value, kind = self.wb.cell(META_SHEET, r, 2)
                        if kind == DAMAGED:
                            self._damaged(value, META_SHEET, f"B{r}")
                            value = None
                        self._meta_rows[key] = value
        return dict(self._meta_rows)

    # -- names -------------------------------------------------------------------------------
    def _names(self) -> None:
        """Resolve every contract name; report the missing ones in one finding, and those
        defined more than once in another.

        A name defined twice (two workbook-level definitions, or a sheet's own name beside
        the workbook's, as Excel makes when a sheet is copied) that points at two places is
        not read at all (E017, an error, in place of E011): which cell holds the unit's value
        cannot be known, and Excel itself picks by where a formula stands. Reading one of them
        would put a value in the summary that may be the wrong cell's, with nothing in the
        summary to say so; unread, the field counts as not filled in, its usual findings
        follow (E304 for a missing 执行数, …) and the project is not signed off until the
        unit sends the issued template. Definitions pointing at the same cell are harmless
        and read.

        What the names resolve to follows from the workbook part and the sheets found alone
        (`names_key`, which the fast reader's book gives): it is kept per worker, so the files
        of one template resolve their hundred names once."""
        key_of = getattr(self.wb, "names_key", None)
        key = (id(self.spec), *key_of()) if key_of is not None else None
        got = _RESOLVED.get(key) if key is not None else None
        if got is None or got[0] is not self.spec:
            got = (self.spec, *self._resolved())
            if key is not None:
                if len(_RESOLVED) >= _RESOLVED_MAX:
                    _RESOLVED.clear()
                _RESOLVED[key] = got
        _, areas, missing, twice = got
        self.areas: dict[str, tuple[str, int, int, int, int]] = dict(areas)
        if twice:
            zh = "；".join(f"{name}（{'、'.join(texts)}）" for name, texts in twice)
            en = "; ".join(f"{name} ({', '.join(texts)})" for name, texts in twice)
            self.add(
                "E017",
                Text(
                    f"命名区域定义了不止一次，指向不同的单元格，无法确定填报内容在哪里，均未读取：{zh}",
                    f"named ranges defined more than once, pointing at different cells, so "
                    f"where the value is cannot be known; none was read: {en}",
                ),
                sheet=self.spec.sheet,
            )
        if missing:
            self.add(
                "E011",
                Text(
                    f"缺少命名区域：{', '.join(missing)}",
                    f"missing named ranges: {', '.join(missing)}",
                ),
                sheet=self.spec.sheet,
            )

    def _resolved(
        self,
    ) -> tuple[dict[str, tuple[str, int, int, int, int]], list[str], list[tuple[str, list[str]]]]:
        """Each contract name's area; the names missing; those defined twice apart."""
        areas: dict[str, tuple[str, int, int, int, int]] = {}
        missing = []
        repeated = self.wb.repeated_names()
        twice: list[tuple[str, list[str]]] = []
        for name in _contract_order(self.spec):
            texts = repeated.get(name.lower()) if repeated else None
            if texts is not None and len({_place(t) for t in texts}) > 1:
                twice.append((name, [_short_text(t) for t in texts]))
                continue
            area = self._resolve(name)
            if area is None:
                missing.append(name)
            else:
                areas[name] = area
        return areas, missing, twice

    def _resolve(self, name: str) -> tuple[str, int, int, int, int] | None:
        try:
            dests = self.wb.destinations(name)
            if dests is None:
                return None
            if len(dests) != 1:
                return None
            sheet, ref = dests[0]
            if sheet not in self.wb.sheetnames:
                return None
            min_col, min_row, max_col, max_row = _bounds(ref.replace("$", ""))
        except Exception:  # noqa: BLE001 - #REF! and other broken references
            return None
        if None in (min_col, min_row, max_col, max_row):
            return None
        return sheet, min_row, min_col, max_row, max_col

    def _cell(self, name: str, offset: int = 0) -> tuple[Any, str, str] | None:
        """(raw value, sheet, A1) of a named cell, `offset` rows down."""
        area = self.areas.get(name)
        if area is None:
            return None
        sheet, row, col, _, _ = area
        value, data_type = self.wb.cell(sheet, row + offset, col)
        coord = f"{get_column_letter(col)}{row + offset}"
        if data_type == DAMAGED:
            self._damaged(value, sheet, coord, name.removeprefix("pe_"))
            return None, sheet, coord
        if data_type == "f":
            self.formula_cells.append((name, offset, sheet, coord))
            return _Formula(str(value)), sheet, coord
        return value, sheet, coord

    # -- single cells ------------------------------------------------------------------------
    def _singles(self) -> None:
        spec, rec = self.spec, self.record
        texts = [f.name for f in spec.header if f.type != "year"]
        if spec.goals is not None:
            texts += ["goal_expected", "goal_actual"]
        texts += [f.name for f in spec.footer]
        if spec.fund_column("exec_reason") is not None:
            texts.append("exec_reason")
        for name in texts:
            got = self._cell(f"pe_{name}")
            if got is not None:
                rec.cells[name] = got[1:]
                rec.fields[name] = Field(
                    name, clean_text(got[0]) if not _is_formula(got[0]) else None, got[0], *got[1:]
                )
        for f in spec.header:
            if f.type == "year":
                self._number(f.name, parse_year, year=True)
        for r in spec.source_rows:
            for c in spec.amount_columns:
                self._number(f"fund_{r.key}_{c.key}", parse_amount)
        for c in spec.amount_columns:
            got = self._cell(f"pe_fund_total_{c.key}")
            if got is None:
                continue
            rec.cells[f"fund_total_{c.key}"] = got[1:]
            if got[0] is not None and not _is_formula(got[0]):
                parsed = parse_amount(got[0])
                rec.stated[f"fund_total_{c.key}"] = Field(
                    f"fund_total_{c.key}", parsed.value, got[0], *got[1:]
                )
        for name in ("exec_rate", "exec_score", "total_score", "weight_total"):
            got = self._cell(f"pe_{name}")
            if got is None:
                continue
            rec.cells[name] = got[1:]
            if got[0] is not None and not _is_formula(got[0]):
                # The sheet computes these; a typed-over value is kept to be checked (E506).
                stated = parse_number(got[0])
                rec.stated[name] = Field(name, stated.value, got[0], *got[1:])

    def _number(self, name: str, parse, year: bool = False) -> None:
        got = self._cell(f"pe_{name}")
        if got is None:
            return
        raw, sheet, cell = got
        self.record.cells[name] = (sheet, cell)
        parsed = Parsed(None, None, None) if _is_formula(raw) else parse(raw)
        value = self._report(parsed, raw, name, sheet, cell, year=year)
        value = int(value) if year and value is not None else value
        self.record.fields[name] = new_field(name, value, raw, sheet, cell)

    def _report(
        self, parsed: Parsed, raw: Any, name: str, sheet: str, cell: str, year: bool = False
    ) -> float | None:
        """Report what reading a number took, and return the value fit to compute with: a
        negative, huge or non-finite number is an error (E203) and is left out of every sum."""
        if parsed.error is not None:
            not_finite = isinstance(raw, float) and not math.isfinite(raw)
            self.add(
                "E203" if not_finite else "E102" if year else "E202",
                parsed.error,
                sheet,
                cell,
                name,
            )
        elif parsed.repair is not None:
            self.add("W201", parsed.repair, sheet, cell, name)
        if parsed.value is not None and not year and not 0 <= parsed.value <= _MAX_AMOUNT:
            self.add(
                "E203",
                Text(
                    f"{parsed.value:g} 不在 0 到 10¹⁰ 之间",
                    f"{parsed.value:g} is not between 0 and 10¹⁰",
                ),
                sheet,
                cell,
                name,
            )
            return None
        return parsed.value

    # -- indicators --------------------------------------------------------------------------
    def _indicators(self) -> None:
        spec = self.spec
        keys = [k for k in spec.indicator_keys if f"pe_ind_{k}" in self.areas]
        if not keys:
            return
        heights = {k: self.areas[f"pe_ind_{k}"][3] - self.areas[f"pe_ind_{k}"][1] + 1 for k in keys}
        if len(set(heights.values())) > 1:
            detail = ", ".join(f"pe_ind_{k}={h}" for k, h in heights.items())
            self.add(
                "E014",
                Text(
                    f"指标各列行数不一致：{detail}", f"indicator columns differ in height: {detail}"
                ),
                sheet=spec.sheet,
            )
        height = min(heights.values())
        if height > MAX_INDICATOR_ROWS:
            self.add(
                "E014",
                Text(
                    f"指标表有 {height} 行，超过 {MAX_INDICATOR_ROWS} 行；只读取前 {MAX_INDICATOR_ROWS} 行",
                    f"the indicator table has {height} rows, over {MAX_INDICATOR_ROWS}; only the first {MAX_INDICATOR_ROWS} are read",
                ),
                sheet=spec.sheet,
            )
            height = MAX_INDICATOR_ROWS
        names = [(k, f"pe_ind_{k}", *self.areas[f"pe_ind_{k}"][:3]) for k in keys]
        content = [n for n in names if n[0] not in _PRINTED_COLUMNS]
        # each column's letter once: a form's indicator rows are a tenth of its cells
        columns = [(*n, get_column_letter(n[4])) for n in names]
        cell = self.wb.cell
        for i in self._rows_to_read(names, height):
            # Most of a template's rows are left empty: a row of blank values and no formula
            # (which `_cell` notes) is passed over before its cells' references are made. So is
            # a row where only 一级 / 二级 are filled: real forms come with such pre-printed
            # rows (an empty 经济效益指标 under 效益指标), and they are no indicator.
            if all(
                (got := cell(sheet, row + i, col))[1] not in ("f", DAMAGED) and is_blank(got[0])
                for _, _, sheet, row, col in content
            ):
                continue
            # The same cells again, with their references: not all blank. A formula or a
            # damaged cell goes through `_cell`, which notes it.
            raws = {}
            for k, name, sheet, row, col, letter in columns:
                value, data_type = cell(sheet, row + i, col)
                if data_type == "f" or data_type == DAMAGED:
                    raws[k] = self._cell(name, i)
                else:
                    raws[k] = (value, sheet, f"{letter}{row + i}")
            self.record.indicators.append(self._indicator(i, raws))

    def _rows_to_read(self, names: list[tuple[Any, ...]], height: int) -> Iterable[int]:
        """The rows of the indicator table that may hold something, in order: all of them,
        unless the book knows which rows of a sheet hold values (then a template's many empty
        rows are not looked at cell by cell)."""
        found: set[int] = set()
        for sheet, row in {(sheet, row) for *_, sheet, row, _ in names}:
            rows = self.wb.rows_with_values(sheet)
            if rows is None:
                return range(height)
            found.update(r - row for r in rows if row <= r < row + height)
        return sorted(found)

    def _indicator(self, index: int, raws: dict[str, tuple[Any, str, str]]) -> Indicator:
        """One row of the indicator table from its cells' (raw value, sheet, A1)."""
        fields: dict[str, Field] = {}
        items = self.spec.items
        # a department form's rows are the office's (locked, in the spec): what the sheet
        # shows for them (规划（15分） over merged cells) is not read back
        issued = self._issued_item(items[index]) if index < len(items) else {}
        for k, (raw, sheet, cell) in raws.items():
            if k in issued:
                value = issued[k]
            elif k in ("weight", "score"):
                parsed = Parsed(None, None, None) if _is_formula(raw) else parse_number(raw)
                value: Any = self._report(parsed, raw, f"ind_{k}", sheet, cell)
            else:
                value = None if _is_formula(raw) else clean_text(raw)
                if k in ("level1", "level2") and value is not None:
                    value = self._canonical(k, value, sheet, cell)
                elif k == "status" and value is not None:
                    value = self._status(value, sheet, cell)
                elif k in ("target", "actual") and self._shown_as_percent(k, index, raw):
                    # What the unit sees: Excel shows 0.96 in a percent cell as 96%.
                    value = _percent_text(float(raw))
            fields[k] = new_field(k, value, raw, sheet, cell)
        ind = Indicator(index, fields)
        placeholders = self.spec.placeholders
        ind.target = (
            parse_target(fields["target"].value, placeholders) if "target" in fields else None
        )
        ind.actual = (
            parse_target(fields["actual"].value, placeholders) if "actual" in fields else None
        )
        unit = fields["unit"].value if "unit" in fields else None
        if isinstance(unit, str) and ind.target is not None and ind.target.quantitative:
            ind.target = _with_unit(ind.target, unit)
        if ind.target is not None and ind.target.percent and ind.actual is not None:
            ind.actual = self._share(ind.actual, fields["actual"])
        return ind

    @staticmethod
    def _issued_item(item: Any) -> dict[str, Any]:
        """An `[[items]]` row as the values of its issued columns."""
        values = dict(item.texts)
        values.update(level1=item.level1, level2=item.level2, name=item.name, weight=item.weight)
        return values

    def _shown_as_percent(self, key: str, index: int, raw: Any) -> bool:
        """A number (not a text) in a cell whose number format is a percentage."""
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            return False
        sheet, row, col, _, _ = self.areas[f"pe_ind_{key}"]
        return self.wb.percent(sheet, row + index, col)

    def _share(self, actual: Target, f: Field) -> Target:
        """An actual value written as a share against a percentage target (0.96 for ≥95%).

        Units paste 0.96 from another workbook, or type it where a percent format was lost; read
        as 0.96 % it would score 1 % of the weight. A bare number up to `share_max` (1.5, so
        that over-achievement up to 150 % is still read) is taken as a share, with a note; 96
        stays 96 %."""
        number = actual.number
        if (
            number is None
            or actual.unit
            or actual.sign
            or not 0 <= number <= self.spec.share_max
            or not (isinstance(f.raw, (int, float)) or _PLAIN_NUMBER.fullmatch(str(f.raw)))
        ):
            return actual
        shown = _percent_text(number)
        self.add(
            "W201",
            Text(
                f"完成值 {actual.text} 按 {shown} 读取（指标值是百分比，{actual.text} 视为比例）",
                f"actual {actual.text} read as {shown} (the target is a percentage, so it is a share)",
            ),
            f.sheet,
            f.cell,
            "ind_actual",
        )
        return Target(shown, None, round(number * 100, 10), "%", True, False, False)

    def _status(self, value: str, sheet: str, cell: str) -> str:
        """The standard status for what a unit typed (完成 → 已完成, 未完成。 → 未完成), with a
        warning; a text that stands for no status is kept as typed (E404 follows)."""
        spec = self.spec
        if value in spec.statuses:
            return value
        bare = _TRAILING_STOPS.sub("", value.replace(" ", ""))
        target = bare if bare in spec.statuses else spec.status_aliases.get(bare)
        if target is None:
            return value
        self.add(
            "W204",
            Text(f"「{value}」按「{target}」读取", f'"{value}" read as "{target}"'),
            sheet,
            cell,
            "ind_status",
        )
        return target

    def _canonical(self, key: str, value: str, sheet: str, cell: str) -> str:
        """The standard label for an alias (完成指标 → 产出指标), with a warning."""
        labels = _labels(self.spec)
        target = labels.get((key, value))
        if target is None:
            target = canonical_label(self.spec, key, value)
            if len(labels) < 10_000:
                labels[(key, value)] = target
        if target != value:
            self.add(
                "W204",
                Text(f"「{value}」按「{target}」读取", f'"{value}" read as "{target}"'),
                sheet,
                cell,
                f"ind_{key}",
            )
        return target

    # -- template integrity ------------------------------------------------------------------
    def _table_size(self) -> None:
        """Rows inserted or deleted in the indicator table (the names follow, so values are still
        read right; but the office issued another form, and protection was off to do it)."""
        issued = _as_int(self.record.meta.get("indicator_rows"))
        area = self.areas.get("pe_ind_level1")
        if issued is None or area is None:
            return
        rows = area[3] - area[1] + 1
        if rows != issued:
            self.add(
                "W016",
                Text(
                    f"指标表有 {rows} 行，下发的模板为 {issued} 行（插入或删除了行）",
                    f"the indicator table has {rows} rows, the issued template {issued} (rows inserted or deleted)",
                ),
                sheet=area[0],
            )

    def _integrity(self) -> None:
        spec = self.spec
        # The form sheet is where the names point (a renamed sheet keeps its names in Excel).
        anchor = self.areas.get("pe_project_name") or self.areas.get("pe_ind_level1")
        sheet = anchor[0] if anchor else spec.sheet
        if sheet not in self.wb.sheetnames:
            return
        if not self.wb.protected(sheet):
            self.add(
                "W012",
                Text(
                    f"「{sheet}」的工作表保护已被取消", f"sheet protection of {sheet} was removed"
                ),
                sheet=sheet,
            )
        self._table_size()
        covered = self.wb.validated_ranges(sheet)
        missing = []
        # a department form's 一级 / 二级 are the office's, locked: no dropdowns to lose
        for k in () if spec.department else _LIST_COLUMNS:
            area = self.areas.get(f"pe_ind_{k}")
            if area is None or area[0] != sheet:
                continue
            _, r1, c, r2, _ = area
            # every row: pasting over one cell removes that cell's rule only
            if not _covers_rows(covered, c, r1, min(r2, r1 + MAX_INDICATOR_ROWS)):
                missing.append(next(col.label for col in spec.indicator_columns if col.key == k))
        if missing:
            self.add(
                "W013",
                Text(
                    f"以下栏目的下拉列表已被删除：{'、'.join(missing)}",
                    f"dropdowns removed from: {', '.join(missing)}",
                ),
                sheet=spec.sheet,
            )

    def _formulas(self) -> None:
        """Inputs typed as formulas (=50+50): their cached result is the only value there is."""
        inputs = [
            item
            for item in self.formula_cells
            if not item[0].startswith(
                ("pe_fund_total_", "pe_exec_", "pe_total_", "pe_weight_", "pe_selfcheck")
            )
        ]
        if not inputs:
            return
        for name, offset, sheet, cell in inputs:
            cached = self.wb.cached(sheet, cell)
            key = name.removeprefix("pe_")
            self.add(
                "W201" if cached is not None else "E202",
                Text(
                    f"输入单元格是公式，按其保存的结果 {cached!r} 读取"
                    if cached is not None
                    else "输入单元格是公式且没有保存结果",
                    f"input is a formula, read as its saved result {cached!r}"
                    if cached is not None
                    else "input is a formula without a saved result",
                ),
                sheet,
                cell,
                key,
            )
            if cached is None:
                continue
            self._replace(key, offset, cached)

    def _replace(self, key: str, offset: int, cached: Any) -> None:
        rec = self.record
        if key.startswith("ind_"):
            col = key.removeprefix("ind_")
            for i, ind in enumerate(rec.indicators):
                if ind.index == offset:
                    raws = {k: (f.raw, f.sheet, f.cell) for k, f in ind.fields.items()}
                    old = raws[col]
                    raws[col] = (cached, old[1], old[2])
                    rec.indicators[i] = self._indicator(offset, raws)
            return
        old = rec.fields.get(key)
        if old is None:
            return
        if key.startswith("fund_"):
            parsed = parse_amount(cached)
        elif key == "year":
            parsed = parse_year(cached)
        else:
            rec.fields[key] = Field(key, clean_text(cached), cached, old.sheet, old.cell)
            return
        value = int(parsed.value) if key == "year" and parsed.value is not None else parsed.value
        rec.fields[key] = Field(key, value, cached, old.sheet, old.cell)


#: Contract names by spec (kept with the spec, whose id is the key): the layout is the same for
#: every workbook of a form, and making it took 60 µs a file.
_CONTRACT_ORDER: dict[int, tuple[Spec, list[str]]] = {}


#: Indicator columns a form may come with pre-printed: a row holding only these is no indicator.
_PRINTED_COLUMNS = ("level1", "level2")
_TRAILING_STOPS = re.compile(r"[。.;；,，!！]+$")
_PLAIN_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")


def _with_unit(target: Target, unit: str) -> Target:
    """A target whose unit stands in the form's own 度量单位 column (Sichuan 2023: 指标值 95,
    度量单位 %), so that a percentage is known as one wherever its unit was written."""
    if target.unit:
        return target
    unit = unicodedata.normalize("NFKC", unit).strip()
    return Target(target.text, target.sign, target.number, unit, unit == "%", False, False)


def _percent_text(share: float) -> str:
    """0.96 as "96%", 0.955 as "95.5%" (no float noise: 0.07 × 100 is 7.000000000000001)."""
    return f"{round(share * 100, 10):.15g}%"


#: `_Reader._resolved` by (the spec's id, `names_key`), with the spec (an id is reused once its
#: object is gone: the entry is taken only for the very spec it was made for).
_RESOLVED: dict[tuple, tuple] = {}
_RESOLVED_MAX = 256


def _contract_order(spec: Spec) -> list[str]:
    got = _CONTRACT_ORDER.get(id(spec))
    if got is None or got[0] is not spec:
        got = _CONTRACT_ORDER[id(spec)] = (spec, list(contract_names(make_layout(spec))))
    return got[1]


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _unused(why: Text) -> Text:
    """Why the spec a workbook carries was not used, as a finding says it."""
    return Text(
        f"工作簿内嵌的表式未使用：{why.zh}", f"the spec the workbook carries is not used: {why.en}"
    )


@lru_cache(maxsize=16)
def _embedded_spec(text: bytes) -> Spec:
    """An embedded spec, parsed once per text and process: a batch of one office form parses
    it once. Its errors name the key, and the finding names the file."""
    return parse_spec(text, META_SHEET)


def repeated_names(
    defined: Iterable[tuple[str | None, Any, str | None]], sheets: int
) -> dict[str, list[str]]:
    """The names defined more than once, by name in lower case (Excel's names ignore case),
    each with its definitions' texts in the file's order: `defined` is every (name,
    localSheetId, text) of the workbook part, `sheets` how many sheets were read. A sheet's
    name counts as openpyxl binds it: only on a sheet that exists."""
    seen: dict[str, list[str]] = {}
    for name, local, text in defined:
        if not name:
            continue
        if local is not None:
            try:
                index = int(local)
            except (TypeError, ValueError):
                continue
            if not 0 <= index < sheets:
                continue
        seen.setdefault(name.lower(), []).append(text or "")
    return {k: v for k, v in seen.items() if len(v) > 1}


def _place(text: str) -> str:
    """Where a definition points, written one way ('自评表'!$G$9 and 自评表!G9 alike)."""
    m = re.fullmatch(r"\s*(?:'((?:[^']|'')+)'|([^'!]+))!(.+?)\s*", text)
    if m is None:
        return text
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    return f"{sheet}!{m.group(3).replace('$', '').upper()}"


def _short_text(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _defused(exc: BaseException) -> BaseException | None:
    """The defusedxml refusal behind `exc`, if any: openpyxl wraps parser errors in its own
    ValueError ("Unable to read workbook"), so look along the chain of causes."""
    from defusedxml import DefusedXmlException

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DefusedXmlException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _one_line(exc: BaseException, limit: int = 120) -> str:
    """A parser's complaint on one line, cut at a word so a report keeps one line a finding.

    openpyxl wraps the real error in a three-line "Unable to read workbook: could not read
    <part> from None …"; say which part, then the underlying error."""
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    part = re.search(r"could not read (.+?) from", str(exc))
    text = f"{type(root).__name__}: {root}"
    if part and root is not exc:
        text = f"{part.group(1)}: {text}"
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def canonical_label(spec: Spec, key: str, value: str) -> str:
    """The standard label a 一级/二级 value stands for (产出指标 for 完成指标 or 产出（30分）),
    or the value itself when it stands for none."""
    aliases = spec.level1_aliases if key == "level1" else spec.level2_aliases
    stripped = re.sub(r"[（(]\s*\d+(\.\d+)?\s*分\s*[）)]$", "", value).replace(" ", "").strip()
    labels = (
        [x.label for x in spec.level1]
        if key == "level1"
        else [y for x in spec.level1 for y in x.level2]
    )
    candidates = [stripped, stripped + "指标"] if not stripped.endswith("指标") else [stripped]
    for cand in candidates:
        target = cand if cand in labels else aliases.get(cand)
        if target is not None:
            return target
    return value


#: Labels already looked up, per form (`_Reader._canonical`): a batch repeats its few labels.
#: Keyed by the spec object's id, which the entry keeps alive (so the id is not reused).
_LABELS: dict[int, tuple[Spec, dict[tuple[str, str], str]]] = {}


def _labels(spec: Spec) -> dict[tuple[str, str], str]:
    got = _LABELS.get(id(spec))
    if got is None or got[0] is not spec:
        if len(_LABELS) >= 16:
            _LABELS.clear()
        got = _LABELS[id(spec)] = (spec, {})
    return got[1]


def _validated_ranges(ws: Any, data: bytes) -> list[tuple[int, int, int, int]]:
    """Cell ranges covered by a dropdown (list validation), including Excel's x14 extension
    validations, which openpyxl drops (Excel writes lists pointing at other sheets that way).
    Only lists count: a cell pasted over takes the pasted cell's rule, often a length limit."""
    ranges = []
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list":
            continue
        for ref in str(dv.sqref).split():
            ranges.append(range_boundaries(ref))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                if member.startswith("xl/worksheets/") and member.endswith(".xml"):
                    _x14_ranges(z.read(member), ranges)
    except (zipfile.BadZipFile, ValueError, KeyError):
        pass
    return ranges


def _x14_ranges(xml: bytes, ranges: list[tuple[int, int, int, int]]) -> None:
    """Append the ranges of a sheet's x14 validations (`<xm:sqref>`); may raise ValueError.
    Whole columns (H:H) and whole rows (15:16), which Excel writes for a dropdown given to a
    whole column or row, reach to the sheet's edges."""
    if b"<xm:sqref>" not in xml:
        return
    text = xml.decode("utf-8", "replace")
    for block in re.findall(r"<xm:sqref>([^<]+)</xm:sqref>", text):
        for ref in block.split():
            c1, r1, c2, r2 = range_boundaries(ref)
            ranges.append((c1 or 1, r1 or 1, c2 or _MAX_COL, r2 or _MAX_ROW))


def _covers_rows(ranges: list[tuple[int, int, int, int]], col: int, first: int, last: int) -> bool:
    """Whether every row from `first` to `last` of column `col` lies in one of the (min col,
    min row, max col, max row) `ranges`: their row spans in that column, joined in order."""
    row = first
    for r1, r2 in sorted((r1, r2) for c1, r1, c2, r2 in ranges if c1 <= col <= c2):
        if r1 > row:
            break
        row = max(row, r2 + 1)
        if row > last:
            break
    return row > last


#: A sheet's last column and row (XFD1048576).
_MAX_COL, _MAX_ROW = 16_384, 1_048_576
#: openpyxl's `range_boundaries`, remembered: every file of a batch names the same cells.
_bounds = lru_cache(maxsize=4096)(range_boundaries)


class _Formula(str):
    """A formula read from a cell: never a value (text typed as "=…" in a text cell is a str)."""


def _is_formula(value: Any) -> bool:
    return isinstance(value, _Formula)


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
