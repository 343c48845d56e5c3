"""The record: what one filled workbook says, as plain data, every value with its cell.

The reader builds it; the checks, the scoring and the summary read it and never open the
workbook again. Office-issued and unit-typed inputs are kept as read (normalised); totals and
the execution rate are recomputed here from the inputs, because cached formula results in a
file are not to be trusted (some programs write none, or stale ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import Text
from ..findings import Finding, finding
from ..forms.normalize import SHARED_TEXT_MAX, Target, is_blank, shared_text, sharing
from ..forms.spec import Spec


@dataclass(frozen=True, slots=True)
class Field:
    """One value read from a named cell: the normalised value, what was stored, and where."""

    name: str
    value: Any
    raw: Any
    sheet: str | None
    cell: str | None

    def __reduce__(self) -> tuple:
        # Pickled as its constructor's arguments (the default for a slotted dataclass is four
        # times slower), rebuilt with the short texts shared (`normalize.shared_text`).
        return (_field, (self.name, self.value, self.raw, self.sheet, self.cell))

    @property
    def blank(self) -> bool:
        return is_blank(self.value)


_FIELD_NEW = object.__new__
_FIELD_SET = tuple(Field.__dict__[n].__set__ for n in ("name", "value", "raw", "sheet", "cell"))


def new_field(name: str, value: Any, raw: Any, sheet: str | None, cell: str | None) -> Field:
    """`Field(name, value, raw, sheet, cell)`, made in half the time: a frozen dataclass's
    `__init__` sets each slot through `object.__setattr__`, and a file's reading and the
    parent's unpickling make a few hundred fields a workbook (2 % of a worker's time)."""
    f = _FIELD_NEW(Field)
    s0, s1, s2, s3, s4 = _FIELD_SET
    s0(f, name)
    s1(f, value)
    s2(f, raw)
    s3(f, sheet)
    s4(f, cell)
    return f


@dataclass(slots=True)
class Indicator:
    """One non-blank row of the indicator table (`index` counts from 0 within the table)."""

    index: int
    fields: dict[str, Field]
    target: Target | None = None
    actual: Target | None = None

    def __reduce__(self) -> tuple:
        # constructor arguments: see record.Field.__reduce__
        return (_indicator, (self.index, self.fields, self.target, self.actual))

    def value(self, key: str) -> Any:
        f = self.fields.get(key)
        return None if f is None else f.value

    def field(self, key: str) -> Field | None:
        return self.fields.get(key)

    @property
    def title(self) -> Text:
        """How a message names the indicator: its 三级 name, or its row in the table."""
        name = self.value("name")
        if name:
            return Text(f"「{name}」", f'"{name}"')
        return Text(f"第 {self.index + 1} 行", f"row {self.index + 1}")

    @property
    def is_cost(self) -> bool:
        """成本 indicators (成本指标, or a 成本 一级 where a form has one) are ceilings (≤)."""
        return "成本" in (self.value("level2") or "") or "成本" in (self.value("level1") or "")

    @property
    def is_satisfaction(self) -> bool:
        return "满意" in (self.value("level1") or "") or "满意" in (self.value("level2") or "")

    @property
    def quantitative(self) -> bool:
        """Scored by numbers: a quantified target, and not marked 定性 in a 指标性质 column."""
        return bool(self.target and self.target.quantitative and self.value("sign") != "定性")

    @property
    def sign(self) -> str:
        """The direction: the 指标性质 column, else the target's own sign; without one, a cost
        indicator is a ceiling (≤) and anything else a floor (≥)."""
        sign = self.value("sign")
        if sign in ("≥", ">", "≤", "<", "=", "定性"):
            return sign
        if self.target is not None and self.target.sign:
            return self.target.sign
        return "≤" if self.is_cost else "≥"


def scored_level1(spec: Spec, ind: Indicator) -> str | None:
    """The 一级 an indicator is scored and subtotalled under: the one its 二级 belongs to.

    The seed's paper form has 社会效益指标 under the merged 完成指标 cell; the unit is told to
    fix the form (E403), but the project's score must not lose the 效益 weight over a merged
    cell. Without a known 二级, the 一级 as written."""
    level1, level2 = ind.value("level1"), ind.value("level2")
    owner = spec.level1_of.get(level2) if isinstance(level2, str) else None
    return owner if owner is not None else level1


@dataclass
class Record:
    """A filled workbook, read.

    `fields` holds every single-cell input by contract name without `pe_` (header fields,
    `goal_expected`, `fund_<source>_<col>`, `exec_reason`, footer fields); `stated` holds
    values the file states for cells the sheet computes (a typed-over total), when not formulas.
    """

    path: str
    spec: Spec
    file_version: int | None
    workbook_id: str | None
    #: when the workbook was last saved, by its own properties (for choosing among duplicates)
    saved: datetime | None = None
    #: the key/value rows of the hidden _meta sheet (identity and, when signed, the signature)
    meta: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)
    stated: dict[str, Field] = field(default_factory=dict)
    indicators: list[Indicator] = field(default_factory=list)
    #: cell of each single-cell contract name that exists in the file (for locating findings)
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __reduce__(self) -> tuple:
        # Pickled with its fields as plain tuples (`_record`): the pickler writes a tuple in C,
        # where each Field's own reduce is a call (0.17 against 0.13 ms a record, measured).
        return (
            _record,
            (
                self.path,
                self.spec,
                self.file_version,
                self.workbook_id,
                self.saved,
                self.meta,
                _field_rows(self.fields),
                _field_rows(self.stated),
                tuple(
                    (i.index, _field_rows(i.fields), i.target, i.actual) for i in self.indicators
                ),
                self.cells,
            ),
        )

    def value(self, name: str) -> Any:
        f = self.fields.get(name)
        return None if f is None else f.value

    def fund(self, row: str, col: str) -> float | None:
        """An amount; for row `total`, the sum of the sources (None when all are blank)."""
        if row != "total":
            return self.value(f"fund_{row}_{col}")
        names = self.spec.source_fund_names.get(col)
        if names is None:
            names = tuple(f"fund_{r.key}_{col}" for r in self.spec.source_rows)
        fields = self.fields
        numbers = [
            f.value
            for name in names
            if (f := fields.get(name)) is not None and isinstance(f.value, (int, float))
        ]
        return round(sum(numbers), 6) if numbers else None

    @property
    def exec_rate(self) -> float | None:
        """执行率 = 全年执行数 ÷ 全年预算数 (the adjusted full-year budget), recomputed."""
        budget, spent = self.fund("total", "budget"), self.fund("total", "spent")
        if budget is None or spent is None or budget <= 0:
            return None
        return spent / budget

    def finding(
        self, code: str, message: Text, where: Field | tuple | None, field_name: str
    ) -> Finding:
        """A finding about this record at a field, a (sheet, cell) pair, or the form sheet."""
        if isinstance(where, Field):
            sheet, cell = where.sheet, where.cell
        elif isinstance(where, tuple):
            sheet, cell = where
        else:
            sheet, cell = None, None
        return finding(
            code, self.path, message, sheet=sheet or self.spec.sheet, cell=cell, field=field_name
        )

    def where(self, name: str) -> tuple[str | None, str | None]:
        """(sheet, cell) of a single-cell contract name, or (None, None)."""
        return self.cells.get(name, (None, None))

    def project(self) -> dict[str, Any]:
        """The JSON shape: contract fields without `pe_`, recomputed totals, and indicators."""
        out: dict[str, Any] = {name: f.value for name, f in self.fields.items()}
        for c in self.spec.amount_columns:
            out[f"fund_total_{c.key}"] = self.fund("total", c.key)
        out["exec_rate"] = self.exec_rate
        out["form_version"] = self.file_version
        out["workbook_id"] = self.workbook_id
        out["indicators"] = [
            {"row": ind.index + 1, **{k: f.value for k, f in ind.fields.items()}}
            for ind in self.indicators
        ]
        return out


# -- receiving records from other processes (short texts shared: `normalize.shared_text`) --
#: Fields that arrive alike in many records, one copy each (`_field`); bounded, see there.
_SHARED_FIELDS: dict[tuple, Field] = {}
_SHARED_FIELDS_MAX = 100_000
#: Values a field is shared by: blank, a flag, a whole number or a short text. Floats are
#: left out (amounts are rarely alike, and 0.0 == -0.0 would merge two different values).
_SHAREABLE = (type(None), str, int, bool)


def _field(name: str, value: Any, raw: Any, sheet: str | None, cell: str | None) -> Field:
    """A field as it arrives: the same field (name, value, cell) in many records is one object.

    A department's files repeat most fields exactly: the blank cells, 一级/二级 labels, statuses,
    the department's own name and code. Sharing them (and the (sheet, cell) pairs, `_place`),
    not only their texts, took a record in the parent from 28.4 to 21.8 KB (benchmark inbox).
    Long texts are a unit's own words and are not looked up."""
    if not sharing():
        return new_field(name, value, raw, sheet, cell)
    kv, kr = type(value), type(raw)
    shareable = (
        kv in _SHAREABLE
        and kr in _SHAREABLE
        and (kv is not str or len(value) <= SHARED_TEXT_MAX)
        and (kr is not str or len(raw) <= SHARED_TEXT_MAX)
    )
    key = (name, kv, value, kr, raw, sheet, cell) if shareable else None
    got = _SHARED_FIELDS.get(key) if key is not None else None
    if got is None:
        got = new_field(*map(shared_text, (name, value, raw, sheet, cell)))
        if key is not None and len(_SHARED_FIELDS) < _SHARED_FIELDS_MAX:
            _SHARED_FIELDS[key] = got
    return got


#: (sheet, cell) pairs, one copy each: every record of a layout has the same ones.
_SHARED_PLACES: dict[tuple[str, str], tuple[str, str]] = {}


def _place(where: tuple[str, str]) -> tuple[str, str]:
    got = _SHARED_PLACES.get(where)
    if got is None:
        got = (shared_text(where[0]), shared_text(where[1]))
        if len(_SHARED_PLACES) < _SHARED_FIELDS_MAX:
            _SHARED_PLACES[got] = got
    return got


FieldRow = tuple[str, str, Any, Any, "str | None", "str | None"]


def _field_rows(fields: dict[str, Field]) -> tuple[FieldRow, ...]:
    """Fields as (key, name, value, raw, sheet, cell) tuples (`Record.__reduce__`)."""
    return tuple((k, f.name, f.value, f.raw, f.sheet, f.cell) for k, f in fields.items())


def _fields(rows: tuple[FieldRow, ...]) -> dict[str, Field]:
    """`_field_rows` back, each field as `_field` makes it (shared while `sharing`)."""
    if not sharing():
        return {r[0]: new_field(r[1], r[2], r[3], r[4], r[5]) for r in rows}
    return {shared_text(r[0]): _field(r[1], r[2], r[3], r[4], r[5]) for r in rows}


def _record(
    path: str,
    spec: Spec,
    file_version: int | None,
    workbook_id: str | None,
    saved: datetime | None,
    meta: dict[str, Any],
    fields: tuple[FieldRow, ...],
    stated: tuple[FieldRow, ...],
    indicators: tuple[tuple[int, tuple[FieldRow, ...], Target | None, Target | None], ...],
    cells: dict[str, tuple[str, str]],
) -> Record:
    """A record unpickled (`Record.__reduce__`): arriving from a worker, its names, fields and
    cell references shared (`normalize.shared_text`, `_field`, `_place`), unless `sharing`
    is off."""
    if sharing():
        cells = {shared_text(k): _place(where) for k, where in cells.items()}
    return Record(
        path,
        spec,
        file_version,
        workbook_id,
        saved,
        meta,
        _fields(fields),
        _fields(stated),
        [Indicator(i, _fields(f), target, actual) for i, f, target, actual in indicators],
        cells,
    )


def _indicator(
    index: int, fields: dict[str, Field], target: Target | None, actual: Target | None
) -> Indicator:
    if not sharing():
        return Indicator(index, fields, target, actual)
    return Indicator(index, {shared_text(k): f for k, f in fields.items()}, target, actual)
