"""The template's own 自检: the rules of `check` a formula can apply, as live Excel formulas.

A unit told 未发现问题 by the sheet must not then hear of an error from the office's `check`.
So the sheet applies every error rule a formula can express (`findings.SELF_CHECKED`), on the
values as `check` reads them: whitespace runs read as one space, 一级 / 二级 aliases and score
suffixes (产出指标（50分）), status aliases (完成 → 已完成), reasons that are no reason (无, 同上),
placeholders (XX), rows with only 一级 / 二级 filled (pre-printed: no indicator). Each count lands
on the cell the finding of `check` names, and that cell's red mark is the same count, so marks
and count cannot disagree (tests/test_selfcheck_parity.py types a corpus into LibreOffice and
compares both with `check`).

How it is built, for Excel 2010, WPS and LibreOffice alike:

- The rules are defined names. Names over the indicator rows exist twice, from one builder:
  `_pa_…` over whole columns (arrays, summed by `SUMPRODUCT` in the 自检 cell; no `IF`, which
  `SUMPRODUCT` does not apply element by element outside an array formula, and no function that
  can fail) and `_pr_…` on the row of the cell using the name (a relative reference, stored
  relative to A1 as Excel does: `$E1` is "column E, this row"), for the conditional formats.
- LibreOffice inlines a name wherever it is used and gives #N/A past about 8,000 tokens or 40
  levels. So what a row's rules need several times is computed once, in hidden locked helper
  cells right of the form (`HELPERS`, 6 a row, packed): the 一级 and 二级 read, status and
  reason, the 一级 the row counts under, the target and actual value parsed to numbers.
  Nothing else is a cell: each one is read again with every workbook `collect` reads.
- A target becomes a number only in the simple form `[sign]number[unit]` (≥12次, 95%, ≤100万元,
  a plain 12 beside a 指标性质 column); any other text with digits (不少于12次, 满意度≥90%,
  1,234次) is left to `check`: E505 and E507 of that row are not counted
  (`findings.SELF_CHECK_LIMITS`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from ..forms.layout import Area, Layout, contract_names, span
from ..forms.normalize import clean_text
from ..forms.spec import Spec

#: Prefixes of the self-check's names (never a `pe_` contract name): over the whole indicator
#: table (arrays, for the count), on the row of the cell using the name (for marks and helper
#: cells), and single cells or the whole table.
ROWS, ROW, CELL = "_pa_", "_pr_", "_ps_"
#: The count of the cell a conditional format asks about: an indicator cell's column on its row
#: (by COLUMN()), a single cell's own (by ROW() and COLUMN()).
ROW_MARK, CELL_MARK = f"{ROW}mark", f"{CELL}mark"
#: Excel's limit on the length of a formula, in a cell, a name or a conditional format.
MAX_FORMULA_CHARS = 8192
#: What an amount, weight or score cell may hold (generate.MAX_AMOUNT); beyond it E203.
MAX_NUMBER = 10_000_000_000
#: The longest number the sheet parses out of a target (more digits: left to `check`).
MAX_DIGITS = 15
#: Years `check` takes (normalize.YEAR_RANGE).
YEARS = (2000, 2100)

#: Helper cells of each indicator row: key -> (what it holds, its value on an empty row).
HELPERS: dict[str, tuple[str, Any]] = {
    "lab": ("一级 read (its index, 0 unknown) + 100 × 二级 read (its index in the taxonomy)", 0),
    "st": (
        "status index (0 unknown, 1 done) + 10 when the reason gives none + 100 × (1 + the "
        "一级 the row counts under, 0 none); below 100: no indicator",
        10,
    ),
    "tr": (
        "target: the direction scored (1 ≥, 2 >, 3 ≤, 4 <, 5 =), then the text after its sign",
        "1",
    ),
    "t": ("target number; -1 not quantitative, -2 a text only `check` parses", -1),
    "ar": ("actual value: its sign (0 none, else as `tr`), then the text after it", "0"),
    "a": ("actual number; -1 none, -2 a text only `check` parses", -1),
}
#: Warnings of `check` the sheet marks too (orange, never counted): the mark is the rule, so it
#: goes when the cell is put right (a returned workbook's notes say so: feedback.py).
MARKED_WARNINGS = frozenset({"W305"})
#: Helpers of forms without scores (the rest parse targets for the score rules).
UNSCORED_HELPERS = ("lab", "st")

# Whitespace `check` reads as a space (normalize.clean_text), and the invisible character it
# drops that pastes from Word bring most (rarer ones are left to `check`).
_SPACES = ("CHAR(10)", "CHAR(13)", "CHAR(9)", '"\u3000"', '"\u00a0"')
_INVISIBLE = ("\u200b",)
_DIGITS = "0123456789"
_WIDE_DIGITS = "".join(chr(0xFF10 + i) for i in range(10))
#: Full-width characters NFKC turns into ASCII, in targets and actual values.
_WIDE = {w: a for w, a in zip(_WIDE_DIGITS, _DIGITS, strict=True)} | {
    "＞": ">",
    "＜": "<",
    "＝": "=",
    "％": "%",
    "．": ".",
}
#: Trailing marks `read` strips from a status (read._TRAILING_STOPS).
_STATUS_STOPS = "。.;；,，!！"
#: Trailing marks `normalize` strips from a reason (normalize._TRAILING_STOP).
_REASON_STOPS = "。.;；,，"
#: Characters that make up a placeholder on their own (normalize._PLACEHOLDER_CHARS).
_PLACEHOLDER_CHARS = "Xx*—-/–―"
#: Characters a unit of a quantified target may not hold (normalize._TARGET), with 以 (以上,
#: 以内 make a sign there) and a space (`check` allows some: the sheet leaves them to it).
_NOT_IN_UNIT = ",;:。，；：、≥≧⩾≤≦⩽<>=以 "
#: Sign codes: 1 ≥, 2 >, 3 ≤, 4 <, 5 =; the words of normalize._SIGN_WORDS that are one symbol.
_SIGNS_1 = {"≥": 1, "≧": 1, "⩾": 1, ">": 2, "≤": 3, "≦": 3, "⩽": 3, "<": 4, "=": 5}
_SIGNS_2 = {">=": 1, "<=": 3}
_SIGN_COLUMN = {"≥": 1, ">": 2, "≤": 3, "<": 4, "=": 5}
_STARTS_WITH_CALL = re.compile(r"[A-Z][A-Z0-9.]*\(|\(")
#: Indicator columns that alone do not make a row an indicator (a pre-printed row: read.py).
_PRINTED = ("level1", "level2")
_REQUIRED = ("level1", "level2", "name", "target", "actual", "status")
_TEXT_KEYS = ("name", "target", "actual", "reason", "unit")
_NUMBER_KEYS = ("weight", "score")


@dataclass(frozen=True)
class Mark:
    """A conditional format over `areas`: red (kind "bad": an error the 自检 counts) or orange
    ("warn": a warning of `check`, not counted) where `formula` is true."""

    areas: tuple[Area, ...]
    formula: str
    kind: str = "bad"


@dataclass(frozen=True)
class Helper:
    """A hidden helper column: one cell a row, each the relative name `name`."""

    key: str
    col: int
    name: str
    blank: Any


@dataclass
class SheetCheck:
    """The 自检 of one form and layout: its defined names, helper cells, count and marks."""

    spec: Spec
    lay: Layout
    sheet_ref: str
    #: defined name -> formula (with "=")
    names: dict[str, str] = field(default_factory=dict)
    helpers: list[Helper] = field(default_factory=list)
    #: (count name, its cell) of every single cell the 自检 adds, whole-table rules included
    cells: list[tuple[str, Area]] = field(default_factory=list)
    #: indicator key -> (count name over the table, count name on one row)
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)
    warnings: list[Mark] = field(default_factory=list)

    @property
    def count_formula(self) -> str:
        """The 自检 cell: every indicator column's count plus every single cell's."""
        rows = "+".join(table for table, _ in self.columns.values())
        cells = "+".join(name for name, _ in self.cells)
        return f"=SUMPRODUCT({rows})+{cells}"

    @property
    def table_area(self) -> Area:
        """The indicator rows, every indicator column."""
        lay = self.lay
        cols = lay.indicator_cols.values()
        return Area(lay.first_indicator_row, min(cols), lay.last_indicator_row, max(cols))

    @property
    def marks(self) -> list[Mark]:
        """Two red marks, over the indicator rows and over the single cells, each the count
        of the cell asked (`ROW_MARK`, `CELL_MARK`), and the orange ones. Two conditional
        formats, not one per cell: xlsxwriter takes about half a millisecond to write each,
        and a roster issues hundreds of templates."""
        return [
            Mark((self.table_area,), f"={ROW_MARK}>0"),
            Mark(tuple(area for _, area in self.cells), f"={CELL_MARK}>0"),
            *self.warnings,
        ]


def build(spec: Spec, lay: Layout, sheet_ref: str) -> SheetCheck:
    """The self-check of a form (pure: the same spec and layout give the same names)."""
    check = SheetCheck(spec, lay, sheet_ref)
    (_DepartmentBuilder if spec.department else _Builder)(check).build()
    return check


#: Self-checks already built, by (spec object id, indicator rows, sheet): a roster issues
#: hundreds of templates of one form, and building one takes a few milliseconds.
_BUILT: dict[tuple[int, int, str], tuple[Spec, SheetCheck]] = {}


def for_form(spec: Spec, lay: Layout, sheet_ref: str) -> SheetCheck:
    """`build`, once per form, row count and sheet (the entry keeps the spec, so its id is
    not reused by another spec while cached)."""
    key = (id(spec), lay.indicator_rows, sheet_ref)
    got = _BUILT.get(key)
    if got is None or got[0] is not spec:
        if len(_BUILT) >= 32:
            _BUILT.clear()
        got = _BUILT[key] = (spec, build(spec, lay, sheet_ref))
    return got[1]


def template_count(spec: Spec, issued: Mapping[str, Any]) -> int:
    """The 自检 of a template nothing was typed into yet: its cached value, what a program
    that never recalculates shows. The rules of the names, on what the office issued: required
    header fields left to the unit (E101), an issued text too long (E205) or a year out of range
    (E102), amounts out of range (E203), no budget (E303), nothing spent (E304: the amount
    spent is never issued) and no indicator (E414)."""
    n = 0
    for f in spec.header:
        value = issued.get(f.name)
        text = clean_text(value) or ""
        n += f.required and not text
        if f.type == "year":
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            n += bool(text) and not (
                number and float(value).is_integer() and YEARS[0] <= value <= YEARS[1]
            )
        else:
            n += len(text) > f.max_length
    if spec.goals is not None:
        n += len(clean_text(issued.get("goal_expected")) or "") > spec.goals.max_length
    if spec.department:
        return n + len(spec.items)  # E510: every 自评得分 still to fill
    if not spec.has_funds:
        return n + 1  # E414
    budgets = []
    for r in spec.source_rows:
        for c in spec.amount_columns:
            value = issued.get(f"fund_{r.key}_{c.key}")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if not 0 <= value <= MAX_NUMBER:
                n += 1
            elif c.key == "budget":
                budgets.append(value)
    n += not (budgets and round(sum(budgets), 6) > 0)
    return n + 2  # E304, E414


# -- Excel text helpers ------------------------------------------------------------------------
def xl_str(text: str) -> str:
    """`text` as an Excel string literal."""
    return '"' + text.replace('"', '""') + '"'


def _nest(expr: str, pairs: Iterable[tuple[str, str]]) -> str:
    """SUBSTITUTE(…(expr, a, b)…) for every (a, b): both already Excel expressions."""
    for a, b in pairs:
        expr = f"SUBSTITUTE({expr},{a},{b})"
    return expr


def _drop(expr: str, chars: Iterable[str]) -> str:
    """`expr` without any of `chars` (at most about 30: Excel nests 64 deep)."""
    return _nest(expr, ((xl_str(c), '""') for c in chars))


def _array(items: Iterable[Any]) -> str:
    """An Excel array constant: texts quoted, numbers as they are."""
    return "{" + ",".join(xl_str(i) if isinstance(i, str) else f"{i:g}" for i in items) + "}"


def _lookup(expr: str, table: Mapping[str, float]) -> str:
    """The number `table` gives the text `expr` is exactly (0 for none), `expr` used once: for
    names on one row only (an array constant against a column would make a table)."""
    if not table:
        return "0"
    return f"SUMPRODUCT(EXACT({expr},{_array(table)})*{_array(table.values())})"


def _contains_any(expr: str, chars: str) -> str:
    """Whether `expr` holds one of `chars`, `expr` used once (names on one row only)."""
    return f"(SUMPRODUCT(ISNUMBER(FIND({_array(chars)},{expr}))*1)>0)"


def _pick(expr: str, table: Mapping[str, float]) -> str:
    """As `_lookup`, without arrays (for names over columns): `expr` used once per entry."""
    if not table:
        return "0"
    return "(" + "+".join(f"EXACT({expr},{xl_str(t)})*{v:g}" for t, v in table.items()) + ")"


def _bool(expr: str) -> str:
    """A condition as 1 or 0."""
    return f"(({expr})*1)"


def _out_of_range(ref: str) -> str:
    """1 for a number `check` refuses (E203): below 0 or above MAX_NUMBER."""
    return _bool(f"ISNUMBER({ref})*(({ref}<0)+({ref}>{MAX_NUMBER})>0)")


def _value(ref: str) -> str:
    """The number in `ref` when it holds one in range, else 0, never an error, over a column
    too: the digits of the number as text (its own locale's), read back by VALUE."""
    ok = f"ISNUMBER({ref})*({ref}>=0)*({ref}<={MAX_NUMBER})"
    return f'VALUE("0"&REPT({ref}&"",{ok}))'


def _fullwidth(chars: Iterable[str]) -> list[tuple[str, str]]:
    """SUBSTITUTE pairs mapping the full-width form of each ASCII character to it (what NFKC
    does to them; `check` applies the whole of NFKC, the sheet this part of it)."""
    return [
        (xl_str(chr(ord(c) + 0xFEE0)), xl_str(c)) for c in sorted(set(chars)) if "!" <= c <= "~"
    ]


def nfkc_bare(text: str, stops: str) -> str:
    """What `check` compares a reason or placeholder as: NFKC, no spaces, no trailing stops."""
    bare = unicodedata.normalize("NFKC", text).replace(" ", "")
    return bare.rstrip(stops) if stops else bare


# -- what `read` accepts as a label --------------------------------------------------------------
def accepted_labels(spec: Spec, level: str) -> dict[str, str]:
    """Every text `read` takes for a 一级 (level "level1") or 二级 label once spaces and a score
    suffix are gone, with the label it stands for (reader.canonical_label, which the tests
    compare this with)."""
    if level == "level1":
        labels = [x.label for x in spec.level1]
        aliases = spec.level1_aliases
    else:
        labels = [y for x in spec.level1 for y in x.level2]
        aliases = spec.level2_aliases
    texts = set(labels) | set(aliases)
    texts |= {t[: -len("指标")] for t in list(texts) if t.endswith("指标") and len(t) > 2}
    out: dict[str, str] = {}
    for text in sorted(texts):
        candidates = [text] if text.endswith("指标") else [text, text + "指标"]
        for cand in candidates:
            got = cand if cand in labels else aliases.get(cand)
            if got is not None:
                if got in labels:
                    out[text] = got
                break
    return out


def accepted_statuses(spec: Spec) -> dict[str, str]:
    """Every text `read` takes for a status once spaces and trailing stops are gone."""
    out = {s: s for s in spec.statuses}
    for alias, status in getattr(spec, "status_aliases", {}).items():
        out.setdefault(alias, status)
    return out


# -- the builder ---------------------------------------------------------------------------------
class _Rows:
    """References of one flavour: `ROWS` (whole columns) or `ROW` (the row of the cell that
    uses the name)."""

    def __init__(self, b: _Builder, prefix: str) -> None:
        self.b = b
        self.prefix = prefix

    def col(self, col: int) -> str:
        name = xl_col_to_name(col)
        lay = self.b.lay
        if self.prefix == ROWS:
            first, last = lay.first_indicator_row + 1, lay.last_indicator_row + 1
            return f"{self.b.sheet}!${name}${first}:${name}${last}"
        return f"{self.b.sheet}!${name}1"  # relative to A1: the row of the cell that uses it

    def ref(self, key: str) -> str:
        return self.col(self.b.lay.indicator_cols[key])

    def helper(self, key: str) -> str:
        return self.col(self.b.helper_col[key])

    def n(self, what: str) -> str:
        return f"{self.prefix}{what}"

    def let(self, what: str, expr: str) -> str:
        return self.b.let(self.n(what), expr)


class _Builder:
    """Defines the names and helpers of one `SheetCheck`; each method owns a group of rules."""

    def __init__(self, check: SheetCheck) -> None:
        self.c = check
        self.spec = check.spec
        self.lay = check.lay
        self.sheet = check.sheet_ref
        self.keys = set(self.spec.indicator_keys)
        keys = list(HELPERS) if self.spec.scored else list(UNSCORED_HELPERS)
        self.helper_col = {k: self.lay.ncols + i for i, k in enumerate(keys)}
        if len(self.spec.statuses) > 9:
            raise ValueError("the 自检 packs a status index in one digit: at most 9 statuses")

    def let(self, name: str, expr: str) -> str:
        if name in self.c.names:
            raise ValueError(f"{name} defined twice")
        if not _STARTS_WITH_CALL.match(expr):
            # openpyxl takes a name whose formula starts with a reference for a range, and
            # fails on the names in it: a parenthesis first makes it a formula to anyone
            expr = f"({expr})"
        self.c.names[name] = "=" + expr
        return name

    def cell(self, area: Area) -> str:
        return f"{self.sheet}!{area.anchor().a1()}"

    def build(self) -> None:
        row = _Rows(self, ROW)
        self.helpers(row)
        table = self.counts(_Rows(self, ROWS))
        one = self.counts(row)
        self.c.columns = {k: (table[k], one[k]) for k in table}
        self.table()
        self.header()
        if self.spec.has_funds:  # a form without [funds] has no amounts and no 执行率
            self.funds()
            if self.spec.scored:
                self.stated()
        self.dispatch()

    def dispatch(self) -> None:
        """`ROW_MARK` and `CELL_MARK`: which count a marked cell shows (see `SheetCheck.marks`)."""
        lay, c = self.lay, self.c
        first = c.table_area.first_col
        by_col = {lay.indicator_cols[k]: row for k, (_, row) in c.columns.items()}
        choices = ",".join(by_col.get(i, "0") for i in range(first, c.table_area.last_col + 1))
        self.let(ROW_MARK, f"CHOOSE(COLUMN()-{first},{choices})")
        rows: dict[int, list[str]] = {}
        for name, area in c.cells:
            rows.setdefault(area.first_row, []).append(f"(COLUMN()={area.first_col + 1})*{name}")
        self.let(
            CELL_MARK, "+".join(f"(ROW()={r + 1})*(" + "+".join(p) + ")" for r, p in rows.items())
        )

    # -- text as `check` reads it -----------------------------------------------------------
    @staticmethod
    def text(ref: str) -> str:
        """The cell as `clean_text` reads it: whitespace runs one space, trimmed."""
        inner = _nest(f'{ref}&""', ((s, '" "') for s in _SPACES))
        inner = _nest(inner, ((xl_str(c), '""') for c in _INVISIBLE))
        return f"TRIM(CLEAN({inner}))"

    def once(self, r: _Rows, what: str, expr: str) -> str:
        """A name of flavour `r` that helpers and counts share: defined the first time."""
        name = r.n(what)
        if name not in self.c.names:
            r.let(what, expr)
        return name

    def texts(self, r: _Rows) -> dict[str, str]:
        """Every indicator column as text, in flavour `r` (numbers as the digits shown)."""
        return {
            k: self.once(
                r, f"tx_{k}", f'TRIM({r.ref(k)}&"")' if k in _NUMBER_KEYS else self.text(r.ref(k))
            )
            for k in self.spec.indicator_keys
        }

    def placeholder(self, r: _Rows, key: str, tx: str) -> str:
        """1 when a target or actual value is a placeholder (XX, *, —, 无 …); no arrays."""
        if r.n(f"{key}_ph") in self.c.names:
            return r.n(f"{key}_ph")
        words = sorted({nfkc_bare(p, "") for p in self.spec.placeholders} - {""})
        bare = r.let(
            f"{key}_h",
            _nest(f'SUBSTITUTE({tx}," ","")', _fullwidth(_PLACEHOLDER_CHARS + "".join(words))),
        )
        only_marks = f"(LEN({_drop(bare, _PLACEHOLDER_CHARS)})=0)"
        listed = _pick(bare, dict.fromkeys(words, 1))
        return r.let(f"{key}_ph", _bool(f"(LEN({bare})>0)*({only_marks}+{listed}>0)"))

    # -- the helper cells of a row (names on one row: IF allowed) ---------------------------
    def helpers(self, r: _Rows) -> None:
        tx = self.texts(r)
        ind = f"({'+'.join(f'LEN({tx[k]})' for k in self.spec.indicator_keys if k not in _PRINTED)}>0)"
        lab = r.helper("lab")
        l1, l2 = f"MOD({lab},100)", f"INT({lab}/100)"
        own = self.owner(l2)
        under = f"IF({ind},1+IF({own}>0,{own},{l1}),0)"
        status, reason = self.status(r, tx["status"]), self.no_reason(r, tx["reason"])
        values: dict[str, str] = {
            "lab": f"{self.label(r, 'level1', tx['level1'])}"
            f"+100*{self.label(r, 'level2', tx['level2'])}",
            "st": f"{status}+10*{reason}+100*{under}",
        }
        if self.spec.scored:
            placeholder = {k: self.placeholder(r, k, tx[k]) for k in ("target", "actual")}
            values["tr"] = self.after_sign(r, "target", self.direction(r, tx))
            values["ar"] = self.after_sign(r, "actual")
            values["t"] = self.target(r, tx, placeholder["target"])
            values["a"] = self.actual(r, tx, placeholder["actual"])
        for key, expr in values.items():
            name = r.let(f"h_{key}", expr)
            self.c.helpers.append(Helper(key, self.helper_col[key], name, HELPERS[key][1]))

    def label(self, r: _Rows, level: str, tx: str) -> str:
        """The index of the label among the level's labels (0: unknown), after spaces and a
        score suffix such as （50分） are dropped (reader.canonical_label)."""
        bare = r.let(f"{level}_s", f'SUBSTITUTE({tx}," ","")')
        norm = r.let(f"{level}_b", f'SUBSTITUTE(SUBSTITUTE({bare},"（","("),"）",")")')
        opens = f'MAX(1,LEN({norm})-LEN(SUBSTITUTE({norm},"(","")))'
        last = r.let(f"{level}_p", f'FIND(CHAR(1),SUBSTITUTE({norm},"(",CHAR(1),{opens})&CHAR(1))')
        inner = r.let(f"{level}_i", f"MID({norm},{last}+1,MAX(0,LEN({norm})-{last}-2))")
        # digits with at most one dot, not first or last (normalize: \d+(\.\d+)?)
        digits = _drop(f'SUBSTITUTE({inner},".","",1)', _DIGITS + _WIDE_DIGITS)
        suffix = r.let(
            f"{level}_x",
            f'AND({last}<=LEN({norm}),RIGHT({norm},2)="分)",LEN({inner})>0,LEN({digits})=0,'
            f'LEFT({inner},1)<>".",RIGHT({inner},1)<>".")',
        )
        key = r.let(f"{level}_k", f"IF({suffix},LEFT({bare},{last}-1),{bare})")
        if level == "level1":
            order = {x.label: i + 1 for i, x in enumerate(self.spec.level1)}
        else:
            flat = [y for x in self.spec.level1 for y in x.level2]
            order = {y: i + 1 for i, y in enumerate(flat)}
        accepted = accepted_labels(self.spec, level)
        return _lookup(key, {t: order[lab] for t, lab in accepted.items()})

    def owner(self, idx2: str) -> str:
        """The 一级 index a 二级 index belongs to (the 二级 of one 一级 are consecutive)."""
        parts, start = [], 1
        for i, x in enumerate(self.spec.level1):
            end = start + len(x.level2) - 1
            parts.append(f"({idx2}>={start})*({idx2}<={end})*{i + 1}")
            start = end + 1
        return "(" + "+".join(parts) + ")"

    def status(self, r: _Rows, tx: str) -> str:
        """The status index (1 done, 0 unknown) after spaces and trailing stops (read._status)."""
        bare = r.let("st_s", f'SUBSTITUTE({tx}," ","")')
        cut = r.let("st_c", _drop(bare, _STATUS_STOPS))
        order = {s: i + 1 for i, s in enumerate(self.spec.statuses)}
        table = {t: order[s] for t, s in accepted_statuses(self.spec).items()}
        # every stop was at the end: what is left is how the text begins
        return f"IF(EXACT(LEFT({bare},LEN({cut})),{cut}),{_lookup(cut, table)},0)"

    def empty_reasons(self) -> list[str]:
        reasons = getattr(self.spec, "empty_reasons", ())
        return sorted({nfkc_bare(x, _REASON_STOPS) for x in reasons} - {""})

    def no_reason(self, r: _Rows, tx: str) -> str:
        """1 when the 偏差原因 gives no reason: blank, or one of the spec's empty reasons
        (normalize.is_no_reason)."""
        empty = self.empty_reasons()
        bare = r.let("rs_s", _nest(f'SUBSTITUTE({tx}," ","")', _fullwidth("".join(empty))))
        cut = r.let("rs_c", _drop(bare, _REASON_STOPS))
        said = _lookup(cut, dict.fromkeys(empty, 1))
        return f"IF(LEN({bare})=0,1,IF(EXACT(LEFT({bare},LEN({cut})),{cut}),{said},0))"

    def after_sign(self, r: _Rows, key: str, direction: str | None = None) -> str:
        """Helper tr / ar: a sign code, then the text after the value's own sign. The code is
        the value's own sign, or for the target `direction`, the one it is scored by."""
        wide = ((xl_str(a), xl_str(b)) for a, b in _WIDE.items())
        q = r.let(f"{key}_q", f"TRIM(CLEAN({_nest(self.text(r.ref(key)), wide)}))")
        two = r.let(f"{key}_c2", _lookup(f"LEFT({q},2)", _SIGNS_2))
        one = r.let(f"{key}_c1", _lookup(f"LEFT({q},1)", _SIGNS_1))
        sign = r.let(f"{key}_sg", f"IF({two}>0,{two},{one})")
        rest = f"MID({q},1+IF({two}>0,2,{one}>0),300)"
        if direction is None:
            return f"{sign}&{rest}"
        return f"IF({direction}>0,{direction},IF({sign}>0,{sign},1))&{rest}"

    def direction(self, r: _Rows, tx: dict[str, str]) -> str:
        """record.Indicator.sign as a code: the 指标性质 column, else the target's own sign
        (0 here: `after_sign` adds it), else ≤ (3) for a cost indicator."""
        own = f"IF({r.n('target_sg')}>0,0,IF({self.cost(r, tx)},3,0))"
        if "sign" not in self.keys:
            return own
        column = _lookup(tx["sign"], _SIGN_COLUMN)
        return f"IF({column}>0,{column},{own})"

    def parsed(self, r: _Rows, key: str) -> tuple[str, str, str]:
        """(ok, number, unit) of the text after the sign in helper tr/ar: ok when it is a
        number (digits, one dot inside) and a unit `check` takes alike."""
        h = r.helper(key[0] + "r")
        rest = r.let(f"{key}_r", f"MID({h},2,300)")
        unit = r.let(f"{key}_u", _drop(rest, _DIGITS + "."))
        n = r.let(f"{key}_d", f"(LEN({rest})-LEN({unit}))")
        head = r.let(f"{key}_n", f"LEFT({rest},{n})")
        ok = r.let(
            f"{key}_ok",
            f"AND({n}>0,{n}<={MAX_DIGITS},EXACT(RIGHT({rest},LEN({unit})),{unit}),"
            f'LEFT({rest},1)<>".",RIGHT({head},1)<>".",'
            f'LEN({head})-LEN(SUBSTITUTE({head},".",""))<=1,LEN({unit})<=8,'
            f'NOT({_contains_any(unit, _NOT_IN_UNIT)}),LEFT({unit},1)<>"年",'
            f"NOT(ISNUMBER({r.ref(key)})))",
        )
        number = f'VALUE("0"&SUBSTITUTE({head},".",""))/10^MAX(0,{n}-FIND(".",{head}&"."))'
        return ok, number, unit

    def target(self, r: _Rows, tx: dict[str, str], placeholder: str) -> str:
        """Helper t: the target as a number, or -1 (qualitative), or -2 (only `check` parses it)."""
        q = r.n("target_q")
        qualitative = [
            f"LEN({tx['target']})=0",
            f"{placeholder}=1",
            f'ISNUMBER(FIND("定性",{q}))',
            f"NOT({_contains_any(q, _DIGITS)})",
        ]
        if "sign" in self.keys:
            qualitative.append(f'EXACT({tx["sign"]},"定性")')
        ok, number, _ = self.parsed(r, "target")
        return f"IF(OR({','.join(qualitative)}),-1,IF({ok},{number},-2))"

    def actual(self, r: _Rows, tx: dict[str, str], placeholder: str) -> str:
        """Helper a: the actual value as a number, -1 (none: the row is not scored), or -2."""
        q = r.n("actual_q")
        none = (
            f'OR(LEN({tx["actual"]})=0,{placeholder}=1,ISNUMBER(FIND("定性",{q})),'
            f"NOT({_contains_any(q, _DIGITS)}))"
        )
        ok, number, unit = self.parsed(r, "actual")
        t, tr = r.helper("t"), r.helper("tr")
        # a percentage target: its own unit %, or none and % in the 度量单位 column (read.py)
        own = r.let("t_u", _drop(f"MID({tr},2,300)", _DIGITS + "."))
        percent = f'EXACT({own},"%")'
        if "unit" in self.keys:
            column = tx["unit"]
            percent = (
                f'OR({percent},AND(LEN({own})=0,OR(EXACT({column},"%"),EXACT({column},"％"))))'
            )
        percent = r.let("t_pc", f"AND({t}>=0,{percent})")
        share_max = getattr(self.spec, "share_max", None)
        if share_max is None:
            return f"IF({none},-1,IF({ok},{number},-2))"
        # read._share: a bare number up to share_max against a percentage target is a share
        # (0.96 is 96 %); a number cell reads so too there (0.96 or 96 % alike), else its
        # number format decides, which only `check` sees
        bare = f'AND(LEFT({r.helper("ar")},1)="0",LEN({unit})=0)'
        value = r.let("a_v", number)
        shared = f"IF(AND({percent},{bare},{value}<={share_max:g}),100,1)"
        a = r.ref("actual")
        cell = f"AND(ISNUMBER({a}),{percent},N({a})>=0,N({a})<={share_max:g})"
        return f"IF({none},-1,IF({ok},{value}*{shared},IF({cell},N({a})*100,-2)))"

    # -- counts (both flavours: no IF, nothing that can fail) -------------------------------
    def counts(self, r: _Rows) -> dict[str, str]:
        """Every rule of the indicator rows; the count name of each column."""
        spec, keys = self.spec, self.keys
        tx = self.texts(r)
        bl = {k: f"(LEN({tx[k]})=0)" for k in spec.indicator_keys}
        # a row the reader takes (helper st; blank on a row inserted after issue: not checked)
        packed = r.helper("st")
        ind = r.let("ind", _bool(f"ISNUMBER({packed})*({packed}>=100)"))
        idx1, idx2 = self.levels(r)
        own2 = r.let("own2", self.owner(idx2))
        st = r.let("st", f"MOD({packed},10)")
        noreason = r.let("nr", f"MOD(INT({packed}/10),10)")
        counts: dict[str, list[str]] = {k: [] for k in spec.indicator_keys}
        for k in _REQUIRED:
            counts[k].append(bl[k])  # E401
        counts["level1"].append(f"(1-{bl['level1']})*({idx1}=0)")  # E402
        e403 = f"(({idx2}=0)+({idx2}>0)*({idx1}>0)*({own2}<>{idx1}))"
        counts["level2"].append(f"(1-{bl['level2']})*{e403}")  # E403
        counts["status"].append(f"(1-{bl['status']})*({st}=0)")  # E404
        if "sign" in keys:  # E413
            known = _pick(tx["sign"], dict.fromkeys(spec.signs, 1))
            counts["sign"].append(f"(1-{bl['sign']})*({known}=0)")
        for k in ("target", "actual"):
            counts[k].append(self.placeholder(r, k, tx[k]))  # E407
        columns = {c.key: c for c in spec.indicator_columns}
        extra = [c.key for c in spec.indicator_columns if c.extra]  # kind = "text" columns
        for k in [*_TEXT_KEYS, *extra]:  # E205
            if k in keys:
                counts[k].append(_bool(f"LEN({tx[k]})>{columns[k].max_length}"))
        counts["reason"].append(f"({st}>1)*{noreason}")  # E405: not done, no reason
        if spec.scored:
            self.scores(r, tx, st, noreason, counts)
        return {
            k: r.let(f"n_{k}", f"{ind}*(" + "+".join(parts) + ")")
            for k, parts in counts.items()
            if parts
        }

    def scores(
        self, r: _Rows, tx: dict[str, str], st: str, noreason: str, counts: dict[str, list[str]]
    ) -> None:
        """E203, E502, E504, E505, E507, E508, E510 on the weight and score of each row."""
        spec = self.spec
        tol = spec.score_tolerance
        w_ref, s_ref = r.ref("weight"), r.ref("score")
        # a number in range is what `check` reads; anything else it reads as no number
        w_ok = r.let("w_ok", _bool(f"ISNUMBER({w_ref})*({w_ref}>=0)*({w_ref}<={MAX_NUMBER})"))
        s_ok = r.let("s_ok", _bool(f"ISNUMBER({s_ref})*({s_ref}>=0)*({s_ref}<={MAX_NUMBER})"))
        w = r.let("w", _value(w_ref))
        s = r.let("s", _value(s_ref))
        counts["weight"].append(_out_of_range(w_ref))  # E203
        counts["score"].append(_out_of_range(s_ref))
        weighted = r.let("wv", f"({w_ok}*({w}>0))")  # score.weights: a weight above 0
        counts["weight"].append(f"(1-{weighted})")  # E502
        e504 = r.let("e504", _bool(f"{s_ok}*{w_ok}*({s}>{w}+1E-9)"))
        counts["score"].append(e504)
        counts["score"].append(f"(1-{s_ok})*{w_ok}")  # E510
        counts["reason"].append(  # E508
            _bool(f"{s_ok}*{w_ok}*({s}<{w}-1E-9)*({st}=1)") + f"*{noreason}"
        )
        t, a = r.helper("t"), r.helper("a")
        sg = r.let("sgn", f'VALUE(LEFT({r.helper("tr")}&"1",1))')  # the direction (helper tr)
        share = r.let("sh", self.share(sg, t, a))
        computed = r.let("cmp", f"ROUND({share}*{w},{spec.round_digits})")
        counts["score"].append(  # E505
            _bool(f"{s_ok}*(1-{e504})*{weighted}*({t}>=0)*({a}>=0)*(ABS({s}-{computed})>{tol})")
        )
        bands = [spec.qualitative_bands[x] for x in spec.statuses]
        lo = "(" + "+".join(f"({st}={i + 1})*{b[0]:g}" for i, b in enumerate(bands)) + ")"
        hi = "(" + "+".join(f"({st}={i + 1})*{b[1]:g}" for i, b in enumerate(bands)) + ")"
        outside = f"(({s}<{lo}*{w}-{tol})+({s}>{hi}*{w}+{tol})>0)"
        counts["score"].append(  # E507
            _bool(f"{s_ok}*(1-{e504})*{weighted}*({t}=-1)*({st}>0)*{outside}")
        )

    def levels(self, r: _Rows) -> tuple[str, str]:
        """The 一级 and 二级 indexes read (helper lab), in flavour `r`."""
        lab = r.helper("lab")
        return self.once(r, "l1", f"MOD({lab},100)"), self.once(r, "l2", f"INT({lab}/100)")

    def cost(self, r: _Rows, tx: dict[str, str]) -> str:
        """record.Indicator.is_cost: a 成本 label read, else 成本 in the text as typed."""
        parts = []
        for level, idx, labels in (
            ("level1", self.levels(r)[0], [x.label for x in self.spec.level1]),
            ("level2", self.levels(r)[1], [y for x in self.spec.level1 for y in x.level2]),
        ):
            costly = "+".join(f"({idx}={i + 1})" for i, lab in enumerate(labels) if "成本" in lab)
            parts.append(f'({costly or 0})+({idx}=0)*ISNUMBER(FIND("成本",{tx[level]}))')
        return f"({'+'.join(parts)}>0)"

    def share(self, sg: str, t: str, a: str) -> str:
        """score.share_quantitative as arithmetic: the share of the weight earned."""
        safe_t = f"({t}+({t}=0))"
        safe_a = f"({a}+({a}=0))"
        # above a ≤ target: "ratio" target ÷ actual, "linear" falling to 0 at twice the target
        linear = f"(2-{a}/{safe_t})"
        over = f"{t}/{safe_a}" if self.spec.reverse_rule == "ratio" else f"({linear}>0)*{linear}"
        reverse = f"(({a}<={t})+({a}>{t})*({t}>0)*{over})"
        positive = f"(({a}>={t})+({a}<{t})*({t}>0)*{a}/{safe_t})"
        rev = f"(({sg}=3)+({sg}=4))"
        eq0 = f"({sg}=5)*({t}=0)"
        return f"({rev}*{reverse}+(1-{rev})*({eq0}*({a}=0)+(1-{eq0})*{positive}))"

    # -- the whole table ------------------------------------------------------------------------
    def table(self) -> None:
        """E414, E406 (on the 一级 header), E501 (the weight total), E503 (the 分值 header), by
        the helper column st: 100 × (1 + the 一级 a row counts under) and more; below 100, no
        indicator."""
        spec, lay = self.spec, self.lay
        under = _Rows(self, ROWS).helper("st")

        def level(k: int) -> str:  # the rows counted under 一级 k (1-based), as COUNTIFS criteria
            return f'{under},">={(k + 1) * 100}",{under},"<{(k + 2) * 100}"'

        # A filled row without helper cells was inserted after issue (protection removed:
        # W016). The sheet cannot say under which 一级 it counts, so the table rules stand aside.
        content = [k for k in spec.indicator_keys if k not in _PRINTED]
        filled = "(" + "+".join(f"LEN({ROWS}tx_{k})" for k in content) + ">0)"
        inserted = self.let(f"{CELL}inserted", f"SUMPRODUCT({filled}*(ISNUMBER({under})=FALSE))")
        rows = self.let(f"{CELL}rows", f'COUNTIF({under},">=100")+{inserted}')
        # E406 for a required 一级 only (`required = false`: its absence is no error)
        missing = "+".join(
            f"(COUNTIFS({level(i + 1)})=0)" for i, l1 in enumerate(spec.level1) if l1.required
        )
        missing = missing or "0"
        col = lay.indicator_cols["level1"]
        header = span(lay.indicators_header_row, col, col)
        self.single("t_cover", f"({rows}=0)+({rows}>0)*({inserted}=0)*({missing})", header)
        if not spec.scored:
            return
        tol = spec.score_tolerance
        weights = _Rows(self, ROWS).ref("weight")
        valid = f'{weights},">=0",{weights},"<={MAX_NUMBER}"'
        expected = spec.score_total - spec.exec_weight
        self.single(
            "t_wsum",
            f'({rows}>0)*({inserted}=0)*(ABS(SUMIFS({weights},{under},">=100",{weights},">0",'
            f'{weights},"<={MAX_NUMBER}")-{expected:g})>{tol})',
            contract_names(lay)["pe_weight_total"],
        )
        # E503 for a "fixed" 一级 only: a "principle" one gives a warning (W512), never counted,
        # and a "free" one nothing; without a fixed 一级 the 分值 header has no mark
        parts = [
            f"(COUNTIFS({level(i + 1)})>0)*"
            f"(ABS(SUMIFS({weights},{level(i + 1)},{valid})-{l1.weight:g})>{tol})"
            for i, l1 in enumerate(spec.level1)
            if l1.weight_rule == "fixed"
        ]
        # ... and each weighted 二级 of a "fixed" 一级 (`{ label = …, weight = … }`), by the
        # 二级 read (helper lab: 100 × its index in the taxonomy)
        lab = _Rows(self, ROWS).helper("lab")
        flat = [y for x in spec.level1 for y in x.level2]
        ok = f"ISNUMBER({weights})*({weights}>=0)*({weights}<={MAX_NUMBER})"
        for l1 in spec.level1:
            if l1.weight_rule != "fixed":
                continue
            for l2, w in l1.level2_weights:
                rows2 = f"(INT({lab}/100)={flat.index(l2) + 1})*({under}>=100)"
                got = f"SUMPRODUCT({rows2}*{_value(weights)}*{ok})"
                parts.append(f"(SUMPRODUCT({rows2}*1)>0)*(ABS({got}-{w:g})>{tol})")
        if parts:
            col = lay.indicator_cols["weight"]
            self.single(
                "t_l1w",
                f"({inserted}=0)*(" + "+".join(parts) + ")",
                span(lay.indicators_header_row, col, col),
            )

    def single(self, what: str, expr: str, area: Area) -> str:
        """A count on one cell: defined, added to the 自检 and marked on that cell."""
        name = self.let(f"{CELL}{what}", f"({expr})")
        self.c.cells.append((name, area.anchor()))
        return name

    # -- single cells ---------------------------------------------------------------------------
    def header(self) -> None:
        """E101 (blank), E102 (year), E205 (length) on the header, goals and footer."""
        spec, lay = self.spec, self.lay
        for f in spec.header:
            area = lay.header[f.name][1]
            ref = self.cell(area)
            text = self.text(ref)
            parts = []
            if f.required:
                parts.append(f"(LEN({text})=0)")
            if f.type == "year":
                lo, hi = YEARS
                bad = (
                    f"(ISNUMBER({ref})=FALSE)+(N({ref})<>INT(N({ref})))"
                    f"+(N({ref})<{lo})+(N({ref})>{hi})"
                )
                parts.append(f"(LEN({text})>0)*(({bad})>0)")
            else:
                parts.append(f"(LEN({text})>{f.max_length})")
            self.single(f"h_{f.name}", "+".join(parts), area)
        g = spec.goals
        for name, area in (("goal_expected", lay.goal_expected), ("goal_actual", lay.goal_actual)):
            if g is not None and area is not None:
                self.single(f"h_{name}", f"LEN({self.text(self.cell(area))})>{g.max_length}", area)
        for f in spec.footer:
            area = lay.footer[f.name][1]
            self.single(f"h_{f.name}", f"LEN({self.text(self.cell(area))})>{f.max_length}", area)

    def funds(self) -> None:
        """E203, E301, E302, E303, E304 on the fund block; W305 (orange, not counted)."""
        spec, lay = self.spec, self.lay
        tol = spec.amount_tolerance
        amounts = [c.key for c in spec.amount_columns]
        valid: dict[tuple[str, str], tuple[str, str]] = {}
        for r in spec.source_rows:
            for col in amounts:
                ref = self.cell(lay.fund_cell(r.key, col))
                ok = f"ISNUMBER({ref})*({ref}>=0)*({ref}<={MAX_NUMBER})"
                valid[(r.key, col)] = (f"({ok})", f"N({ref})*{ok}")
        totals = {}
        for col in amounts:
            any_ = "+".join(valid[(r.key, col)][0] for r in spec.source_rows)
            total = "+".join(valid[(r.key, col)][1] for r in spec.source_rows)
            totals[col] = (
                self.let(f"{CELL}f_{col}_any", f"({any_})"),
                self.let(f"{CELL}f_{col}_sum", f"ROUND({total},6)"),
            )
        for r in spec.source_rows:
            for col in amounts:
                ref = self.cell(lay.fund_cell(r.key, col))
                parts = [_out_of_range(ref)]  # E203
                if col == "spent":  # E301: `check` takes a missing budget as 0
                    ok, value = valid[(r.key, "spent")]
                    _, budget = valid[(r.key, "budget")]
                    parts.append(f"{ok}*(({value})-({budget})>{tol})")
                self.single(f"f_{r.key}_{col}", "+".join(parts), lay.fund_cell(r.key, col))
        spent_any, spent_sum = totals["spent"]
        budget_any, budget_sum = totals["budget"]
        first = lay.fund_rows[spec.source_rows[0].key]
        last = lay.fund_rows[spec.source_rows[-1].key]
        for col in amounts:
            area = lay.fund_cell("total", col)
            ref = self.cell(area)
            c0 = lay.fund_cols[col][0]
            sources = f"{self.sheet}!{Area(first, c0, last, c0).a1()}"
            # E302: a number typed over the total's formula (which gives this very sum)
            parts = [f"ISNUMBER({ref})*(ABS(N({ref})-ROUND(SUM({sources}),6))>{tol})"]
            if col == "budget":  # E303
                parts.append(f"(1-({budget_any}>0)*({budget_sum}>0))")
            if col == "spent":  # E304, and E301 on the total
                parts.append(f"({spent_any}=0)")
                parts.append(f"({spent_any}>0)*({spent_sum}-{budget_sum}>{tol})")
            self.single(f"f_total_{col}", "+".join(parts), area)
        reason = spec.fund_column("exec_reason")
        if reason is not None:
            area = lay.fund_cell("total", reason.key)
            text = self.text(self.cell(area))
            self.single(f"f_{reason.key}", f"LEN({text})>{reason.max_length}", area)
            rate = self.cell(lay.fund_cell("total", spec.fund_column("rate").key))
            bare = self.let(
                f"{CELL}f_{reason.key}_b", _drop(f'SUBSTITUTE({text}," ","")', _REASON_STOPS)
            )
            said = _pick(bare, dict.fromkeys(self.empty_reasons(), 1))
            self.c.warnings.append(  # W305: low execution without a reason
                Mark(
                    (area.anchor(),),
                    f"=AND(ISNUMBER({rate}),N({rate})<{spec.exec_reason_below:g},"
                    f"OR(LEN({bare})=0,{said}>0))",
                    "warn",
                )
            )

    def stated(self) -> None:
        """E506 on 执行率 and 执行率得分 typed over their formulas, each compared with what its
        formula gives (from the total row, which is what `check` computes unless E302)."""
        spec, lay = self.spec, self.lay
        tol = spec.score_tolerance
        budget = self.cell(lay.fund_cell("total", "budget"))
        spent = self.cell(lay.fund_cell("total", "spent"))
        known = f"ISNUMBER({budget})*ISNUMBER({spent})*(N({budget})>0)"
        computed = f"N({spent})/(N({budget})+(N({budget})=0))"
        rate_area = lay.fund_cell("total", spec.fund_column("rate").key)
        rate = self.cell(rate_area)
        self.single(
            "s_rate",
            f"{known}*ISNUMBER({rate})*(ABS(N({rate})-{computed})*100>{tol})",
            rate_area,
        )
        score = spec.fund_column("exec_score")
        if score is None:
            return
        # the score's formula takes the 执行率 cell, typed over or not: compared with what it gives
        area = lay.fund_cell("total", score.key)
        ref = self.cell(area)
        exec_score = f"ROUND(MIN(MAX(N({rate}),0),1)*{spec.exec_weight:g},{spec.round_digits})"
        self.single(
            "s_exec",
            f"{known}*ISNUMBER({rate})*ISNUMBER({ref})*(ABS(N({ref})-{exec_score})>{tol})",
            area,
        )


class _DepartmentBuilder(_Builder):
    """The 自检 of a department form (部门整体): its rows are the office's, locked, so only the
    department's cells are checked: the header (E101, E102, E205), each 自评得分 (E510 blank or
    not a number, E203 out of range, E504 above the row's 分值), each 扣分原因 (E508 missing
    below the 分值, E205 too long) and the 合计 typed over (E506). One helper cell a row:
    whether the 扣分原因 gives none (an IF, which the whole-column names may not hold)."""

    def __init__(self, check: SheetCheck) -> None:
        super().__init__(check)
        self.helper_col = {"nr": self.lay.ncols} if "reason" in self.keys else {}

    def build(self) -> None:
        row = _Rows(self, ROW)
        if "reason" in self.keys:
            tx = self.texts(row)["reason"]
            name = row.let("h_nr", self.no_reason(row, tx))
            self.c.helpers.append(Helper("nr", self.helper_col["nr"], name, 1))
        table = self.counts(_Rows(self, ROWS))
        one = self.counts(row)
        self.c.columns = {k: (table[k], one[k]) for k in table}
        self.header()
        self.total()
        self.dispatch()

    def counts(self, r: _Rows) -> dict[str, str]:
        w_ref, s_ref = r.ref("weight"), r.ref("score")
        s_ok = r.let("s_ok", _bool(f"ISNUMBER({s_ref})*({s_ref}>=0)*({s_ref}<={MAX_NUMBER})"))
        w, s = r.let("w", _value(w_ref)), r.let("s", _value(s_ref))
        score = [
            _out_of_range(s_ref),  # E203
            _bool(f"{s_ok}*({s}>{w}+1E-9)"),  # E504
            f"(1-{s_ok})",  # E510
        ]
        out = {"score": r.let("n_score", "(" + "+".join(score) + ")")}
        if "reason" in self.keys:
            tx = self.texts(r)["reason"]
            limit = next(c.max_length for c in self.spec.indicator_columns if c.key == "reason")
            reason = [
                _bool(f"{s_ok}*({s}<{w}-1E-9)") + f"*{r.helper('nr')}",  # E508
                _bool(f"LEN({tx})>{limit}"),  # E205
            ]
            out["reason"] = r.let("n_reason", "(" + "+".join(reason) + ")")
        return out

    def total(self) -> None:
        """E506: a 合计 typed over its formula, compared with what the formula gives."""
        lay, spec = self.lay, self.spec
        area = contract_names(lay)["pe_total_score"]
        ref = self.cell(area)
        # what the formula gives: the numbers typed, whatever they are (`check` likewise)
        scores = _Rows(self, ROWS).ref("score")
        self.single(
            "s_total",
            f"ISNUMBER({ref})*(ABS(N({ref})-ROUND(SUM({scores}),2))>{spec.score_tolerance})",
            area,
        )


def too_long(check: SheetCheck) -> list[tuple[str, int]]:
    """(name or cell, length) of every formula longer than Excel takes (none, tests say)."""
    out = [(n, len(f)) for n, f in check.names.items() if len(f) > MAX_FORMULA_CHARS]
    out += [
        (m.areas[0].a1(), len(m.formula)) for m in check.marks if len(m.formula) > MAX_FORMULA_CHARS
    ]
    if len(check.count_formula) > MAX_FORMULA_CHARS:
        out.append(("pe_selfcheck", len(check.count_formula)))
    return out
