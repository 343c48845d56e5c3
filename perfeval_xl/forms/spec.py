"""Form specs: one TOML file per form profile drives the generator, the reader and the checks.

A spec says what a form asks (header fields, fund rows and columns, indicator columns), which
labels are allowed (the indicator taxonomy, statuses), and the parameters of scoring and checks.
Adding a province's form means adding a file to `workbook_templates/`, not code, so every mistake
in a spec must be reported with the file and the key, in the users' language.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import OutputError, SpecError, SpecErrors, Text
from ..fileio import read_small_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_FORM = "national-2020"

#: What a form is (`[form] kind`): one 项目支出绩效自评表 per project, or the 部门整体支出绩效自评表
#: a department fills once a year (its rows pre-printed by the finance office, `[[items]]`).
FORM_KINDS = ("project", "department")
#: Header fields every form must have: the reader and the summary rely on them.
REQUIRED_HEADER = ("project_name", "project_code", "year", "dept_name", "dept_code", "unit_name")
#: ... and those of a department form (部门整体: no project, no 实施单位).
REQUIRED_DEPARTMENT_HEADER = ("dept_name", "dept_code", "year")
HEADER_TYPES = ("text", "code", "year")
#: Where a header field may go besides the top (`after`): between the fund block and 年度总体目标
#: ("funds"), or between 年度总体目标 and the indicator table ("goals").
HEADER_PLACES = ("funds", "goals")
#: Most lines a header text block may ask (`lines`): Excel's rows are at most 409 points high.
HEADER_LINES_MAX = 20
FUND_KINDS = ("amount", "rate", "exec_weight", "exec_score", "exec_reason")
#: Indicator columns with a meaning in the contract (`pe_ind_<key>`).
INDICATOR_KEYS = (
    "level1",
    "level2",
    "name",
    "sign",
    "target",
    "unit",
    "actual",
    "status",
    "weight",
    "score",
    "reason",
)
#: The `kind` that declares an indicator column beyond INDICATOR_KEYS: free text the unit types
#: (指标解释, 评分标准, 改进措施 …), read, length-checked and summarised, with no other meaning.
#: A key outside INDICATOR_KEYS without it is an error, so a typo (`reasn`) is still caught.
INDICATOR_TEXT_KIND = "text"
INDICATOR_KINDS = (INDICATOR_TEXT_KIND,)
#: Longest key of an extra indicator column (its name is `pe_ind_<key>`).
INDICATOR_KEY_MAX = 32
REQUIRED_INDICATOR_KEYS = ("level1", "level2", "name", "target", "actual", "status", "reason")
#: A department form's table: the office's rows (一级 / 二级 / 三级 / 分值) and the 自评得分.
REQUIRED_DEPARTMENT_KEYS = ("level1", "level2", "name", "weight", "score")
SCORED_INDICATOR_KEYS = ("weight", "score")
REVERSE_RULES = ("linear", "ratio")

#: 偏差原因 texts that give no reason (compared without spaces and trailing stops, after NFKC):
#: units write them to fill the cell, and a reviewer reads them as no reason at all.
DEFAULT_EMPTY_REASONS: tuple[str, ...] = ("无", "0", "/", "—", "——", "-", "见上", "同上", "略")

#: A department form has no 完成状态 column: its statuses and bands (which nothing reads) default
#: to the national ones rather than being asked for.
DEFAULT_STATUSES: tuple[str, ...] = ("已完成", "部分完成", "未完成")
DEFAULT_BANDS: dict[str, list[float]] = {
    "已完成": [0.8, 1.0],
    "部分完成": [0.6, 0.8],
    "未完成": [0.0, 0.6],
}

#: Limits on any spec, built-in, the office's or embedded in a unit's workbook (which the unit
#: controls, so it is read as untrusted data): real specs are a few KB with short labels.
MAX_SPEC_BYTES = 256 * 1024
MAX_SPEC_STRING = 2000
MAX_SPEC_ARRAY = 500
MAX_SPEC_DEPTH = 6
#: Control characters a spec's text may not hold (tab and line break are text).
_SPEC_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

_IDENT = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_FORM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_BAD_SHEET_CHARS = set("[]:*?/\\")


@dataclass(frozen=True)
class HeaderField:
    """A single-cell field of the header area (项目名称, 主管部门代码, 年度 …), or a free-text
    block there (项目实施内容及过程概述: `lines` > 1, a tall wrapping cell)."""

    name: str
    label: str
    type: str
    span: str
    max_length: int
    required: bool
    help: str
    #: lines of text the cell is high (1: an ordinary row); above 1 only for full-width text
    lines: int = 1
    #: where the field goes: "" at the top with the others, "funds" after the fund block,
    #: "goals" after 年度总体目标 (`HEADER_PLACES`)
    after: str = ""


@dataclass(frozen=True)
class FundRow:
    """A row of the fund block: `total` first, then the sources (财政拨款, 上年结转 …)."""

    key: str
    label: str
    short: str


@dataclass(frozen=True)
class FundColumn:
    """A column of the fund block; `kind` says whether units type it or the sheet computes it."""

    key: str
    label: str
    kind: str
    max_length: int


@dataclass(frozen=True)
class Goals:
    """The 年度总体目标 block: expected goal and what was achieved, free text."""

    label: str
    expected_label: str
    actual_label: str
    max_length: int


@dataclass(frozen=True)
class IndicatorColumn:
    """A column of the indicator table (`pe_ind_<key>`): one of INDICATOR_KEYS, or an extra
    free-text column (`kind = "text"`: 指标解释, 改进措施 …) with a key of its own."""

    key: str
    label: str
    width: float
    max_length: int
    #: "" for a column of INDICATOR_KEYS, INDICATOR_TEXT_KIND for an extra free-text column
    kind: str = ""
    #: the input prompt of an extra column (INDICATOR_KEYS have theirs in the generator)
    help: str = ""

    @property
    def extra(self) -> bool:
        """An extra free-text column, beyond INDICATOR_KEYS."""
        return self.kind == INDICATOR_TEXT_KIND


@dataclass(frozen=True)
class FooterField:
    """A free-text field under the indicator table (评价结论, 存在问题 …)."""

    name: str
    label: str
    max_length: int
    help: str


#: How far the indicator weights of a 一级 may stray from its weight (`weight_rule`): "fixed"
#: (an error, E503), "principle" (a warning, W512: 财预〔2020〕10号 sets the weights 原则上 and lets
#: them be adjusted in special cases), "free" (weights set per project, nothing said).
WEIGHT_RULES = ("fixed", "principle", "free")


@dataclass(frozen=True)
class Level1:
    """A 一级指标 with its weight and its allowed 二级指标.

    `required`: a form without any indicator under it is an error (E406); real forms leave
    out 满意度 (青神 2023), so a spec may make a 一级 optional. `weight_rule`: one of
    WEIGHT_RULES, the entry's own or `[scoring] level1_weight_rule`."""

    label: str
    weight: float
    level2: tuple[str, ...]
    required: bool = True
    weight_rule: str = "principle"
    #: the 二级 given a weight of their own (`{ label = "基础信息", weight = 3 }`), in order:
    #: the indicator 分值 under each must add up to it, by this 一级's `weight_rule`
    level2_weights: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Item:
    """A pre-printed row of the indicator table (`[[items]]`): the 一级 / 二级 / 三级 and 分值 the
    finance office sets, with the office's text for extra columns (指标解释, 评分标准)."""

    level1: str
    level2: str
    name: str
    weight: float
    #: (extra column key, text), in the spec's column order
    texts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Grade:
    """A grade (优 / 良 / 中 / 差) and the lowest 总分 that earns it."""

    label: str
    min: float


@dataclass(frozen=True)
class Spec:
    """A validated form spec. Built only by `load_spec`; all fields are read-only."""

    path: str
    id: str
    version: int
    title: str
    description: str
    sheet: str
    amount_unit: str
    scored: bool
    indicator_rows: int
    header: tuple[HeaderField, ...]
    funds_label: str
    #: empty when the form has no `[funds]` block (then no 执行率 and `exec_weight` 0)
    fund_rows: tuple[FundRow, ...]
    fund_columns: tuple[FundColumn, ...]
    #: None when the form has no `[goals]` block (department forms only)
    goals: Goals | None
    indicators_label: str
    indicators_total_label: str
    indicator_columns: tuple[IndicatorColumn, ...]
    signs: tuple[str, ...]
    footer: tuple[FooterField, ...]
    level1: tuple[Level1, ...]
    statuses: tuple[str, ...]
    level1_aliases: dict[str, str]
    level2_aliases: dict[str, str]
    #: what units type for a status (完成, 基本完成 …) -> the status it means (read with W204)
    status_aliases: dict[str, str]
    score_total: float
    exec_weight: float
    qualitative_bands: dict[str, tuple[float, float]]
    qualitative_points: dict[str, float]
    #: the weight rule of `[[taxonomy.level1]]` entries that give none (each Level1 holds its own)
    level1_weight_rule: str
    reverse_rule: str
    over_achievement: float
    round_digits: int
    grades: tuple[Grade, ...]
    amount_tolerance: float
    score_tolerance: float
    exec_reason_below: float
    satisfaction_min: float
    placeholders: tuple[str, ...]
    #: reasons that say nothing (无, 同上 …): an unmet indicator with one has no reason
    empty_reasons: tuple[str, ...]
    #: plausibility warnings (W306, W307, W511, W415), see `_checks`
    budget_cut_min: float
    amount_max: float
    amount_ratio_max: float
    full_marks_exec_below: float
    #: a bare number up to this against a percentage target is read as a share (0.96 → 96 %)
    share_max: float
    #: other headers a roster may give a column (`[roster.aliases]`): field name -> aliases,
    #: the headers of budget-system exports (部门编码 for dept_code …)
    roster_aliases: dict[str, tuple[str, ...]]
    #: the TOML text the spec was read from: embedded in every template made from it, so a
    #: workbook can be read where its form is not installed
    source: bytes
    #: one of FORM_KINDS
    kind: str = "project"
    #: the pre-printed rows (`[[items]]`); a department form's table has exactly these rows
    items: tuple[Item, ...] = ()
    #: `[publish] title`: the heading of each project's table in a published annex (`publish`),
    #: `{year}` replaced by the year; empty: "{year}年" + the form's title
    publish_title: str = ""
    #: `[publish] identify`: labels a Word table shows only when it is this form (年初预算数,
    #: 分值 …): a published annex is read by the form whose labels it shows most (`annexread`)
    annex_labels: tuple[str, ...] = ()

    def annex_title(self, year: Any) -> str:
        """The heading of a project's table in a published annex, for `year` (may be None)."""
        text = self.publish_title or "{year}年" + self.title
        shown = str(year) if year not in (None, "") else ""
        return text.replace("{year}", shown).strip()

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A built-in form travels between processes by its id: every record a `collect` worker
        # sends back holds its spec, and the whole spec would be a third of each message.
        # Any other spec travels as its text, parsed once per process (`_parsed`).
        if self.id in _builtin_ids() and _load_builtin(self.id) is self:
            return (_load_builtin, (self.id,))
        return (_parsed, (self.source, self.path))

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the spec's text: names exactly the form a workbook was made from."""
        return hashlib.sha256(self.source).hexdigest()

    def same_rules(self, other: Spec) -> bool:
        """Whether `other` asks and checks exactly what this spec does (its comments, layout of
        the text and file name aside). How the form is printed in an annex (`[publish]`) is no
        rule: a template issued before a title was added is still the same form."""
        same = replace(
            other,
            path=self.path,
            source=self.source,
            publish_title=self.publish_title,
            annex_labels=self.annex_labels,
        )
        return same == self

    @property
    def department(self) -> bool:
        """A 部门整体支出绩效自评表 (`kind = "department"`), not a project's form."""
        return self.kind == "department"

    @property
    def has_funds(self) -> bool:
        """Whether the form has a fund block (and so a 执行率)."""
        return bool(self.fund_rows)

    @cached_property
    def level2_weight(self) -> dict[str, float]:
        """The weight of each weighted 二级 (`{ label = …, weight = … }` in the taxonomy)."""
        return {l2: w for x in self.level1 for l2, w in x.level2_weights}

    @property
    def source_rows(self) -> tuple[FundRow, ...]:
        """Fund rows other than the total (其中 …)."""
        return self.fund_rows[1:]

    @cached_property
    def source_fund_names(self) -> dict[str, tuple[str, ...]]:
        """Per amount column, the field names of its sources (`fund_<row>_<col>`): a total
        sums them, and a summary of 10,000 projects asks for totals 160,000 times."""
        return {
            c.key: tuple(f"fund_{r.key}_{c.key}" for r in self.source_rows)
            for c in self.amount_columns
        }

    @property
    def amount_columns(self) -> tuple[FundColumn, ...]:
        """Fund columns that hold money typed by units or issued by the office."""
        return tuple(c for c in self.fund_columns if c.kind == "amount")

    @property
    def indicator_keys(self) -> tuple[str, ...]:
        """Keys of the indicator columns, in sheet order."""
        return tuple(c.key for c in self.indicator_columns)

    @property
    def complete_status(self) -> str:
        """The status that means 'target met' (the first of the list, 已完成)."""
        return self.statuses[0]

    @cached_property
    def level1_of(self) -> dict[str, str]:
        """The 一级 each 二级 belongs to (二级 labels are unique across the taxonomy)."""
        return {l2: x.label for x in self.level1 for l2 in x.level2}

    def fund_column(self, kind: str) -> FundColumn | None:
        """The first fund column of `kind`, or None where the form has none."""
        return next((c for c in self.fund_columns if c.kind == kind), None)

    def header_field(self, name: str) -> HeaderField:
        """The header field called `name` (KeyError if the form has none)."""
        for f in self.header:
            if f.name == name:
                return f
        raise KeyError(name)


def issuable_fields(spec: Spec) -> dict[str, str]:
    """Contract names (without `pe_`) the office may pre-fill, with their Chinese labels.

    The office knows the project, its department, unit, year and expected goal, and the budget by
    source; what was spent and achieved is the unit's to report, so it is never issued.
    """
    return _issuable(spec.header, spec.goals, spec.fund_rows, spec.fund_columns)


def _issuable(
    header: tuple[HeaderField, ...],
    goals: Goals | None,
    fund_rows: tuple[FundRow, ...],
    fund_columns: tuple[FundColumn, ...],
) -> dict[str, str]:
    fields = {f.name: f.label for f in header}
    if goals is not None:
        fields["goal_expected"] = goals.expected_label
    for r in fund_rows[1:]:
        for c in fund_columns:
            if c.kind == "amount" and c.key != "spent":
                fields[f"fund_{r.key}_{c.key}"] = f"{r.short}{c.label}"
    return fields


def roster_key(text: str) -> str:
    """A roster header as it is matched: NFKC, case, spaces, `：()（）_-—·` and a leading `pe`
    do not count (`PE_Dept_Code`, `dept code` and `deptcode` are one header)."""
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    text = re.sub(r"[\s:：·\-—_()（）]", "", text)
    return text.removeprefix("pe")


def builtin_forms() -> list[str]:
    """Ids of the forms shipped with the package, sorted."""
    return list(_builtin_ids())


@cache
def _builtin_ids() -> tuple[str, ...]:
    # The package's files do not change while it runs; every workbook read asks for its form.
    return tuple(
        sorted(p.name[: -len(".toml")] for p in _builtin_dir().iterdir() if _is_spec(p.name))
    )


def load_spec(form: str | Path = DEFAULT_FORM) -> Spec:
    """Load and validate a spec.

    Args:
        form: a built-in form id (`national-2020`) or the path of a `.toml` file.

    Returns:
        The validated `Spec`.

    Raises:
        SpecError: the form is unknown, the file unreadable, or a key is missing or wrong.
    """
    text = str(form)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        return _load_file(Path(text))
    if text not in _builtin_ids():
        raise SpecError(
            text,
            "",
            Text(
                f"没有这种表式；可选：{'、'.join(builtin_forms())}，或给出 .toml 文件路径",
                f"unknown form; choose one of {', '.join(builtin_forms())} or give a .toml path",
            ),
        )
    return _load_builtin(text)


@cache
def _load_builtin(form_id: str) -> Spec:
    # Built-in specs never change while the process runs, and every workbook of a batch needs one.
    entry = _builtin_dir().joinpath(f"{form_id}.toml")
    return parse_spec(entry.read_bytes(), f"workbook_templates/{form_id}.toml")


def _load_file(path: Path) -> Spec:
    try:
        # a regular file of at most the largest spec: an option may name a FIFO or /dev/zero
        data = read_small_file(path, MAX_SPEC_BYTES, Text("表式文件", "spec file"))
    except OutputError as exc:
        raise SpecError(path, "", exc.text) from None
    return parse_spec(data, str(path))


#: The environment variable naming the office's forms folder (as `--forms DIR` does; the
#: command line reads it).
FORMS_ENV = "PERFEVAL_XL_FORMS"


@dataclass(frozen=True)
class FormSet:
    """The forms a run knows: the office's own (`--forms DIR`, a folder of `.toml`) before the
    built-in ones. A workbook names its form by id and version; `find` answers with the office's
    spec first, so an office that changes a built-in form (same id and version) is obeyed.

    Built only by `load_forms`. Travels to `collect` workers with its specs (a few KB each).
    """

    folder: str | None = None
    specs: tuple[Spec, ...] = ()
    #: files of the folder that are not valid specs, each as its SpecError (for `forms`)
    problems: tuple[SpecError, ...] = ()

    def __reduce__(self) -> tuple:
        # a SpecError does not pickle; workers need only the specs
        return (FormSet, (self.folder, self.specs, ()))

    def find(self, form_id: str, version: int | None) -> Spec | None:
        """The spec of exactly `form_id` version `version`: the office's, else built-in."""
        for s in self.specs:
            if s.id == form_id and s.version == version:
                return s
        if form_id in _builtin_ids():
            s = _load_builtin(form_id)
            if s.version == version:
                return s
        return None

    def newest(self, form_id: str) -> Spec | None:
        """A spec of `form_id` in any version (the office's newest, else built-in), for a
        workbook whose own version is known nowhere: it is read by name (W010)."""
        own = [s for s in self.specs if s.id == form_id]
        if own:
            return max(own, key=lambda s: s.version)
        return _load_builtin(form_id) if form_id in _builtin_ids() else None

    def get(self, form: str | Path) -> Spec:
        """A form as `template --form` names it: a `.toml` path, an id of the office's folder
        (its newest version), or a built-in id.

        Raises:
            SpecError: the form is known nowhere, or its file is not a valid spec.
        """
        text = str(form)
        if not (text.endswith(".toml") or "/" in text or "\\" in text):
            own = self.newest(text) if any(s.id == text for s in self.specs) else None
            if own is not None:
                return own
            if text not in _builtin_ids():
                known = sorted({*(s.id for s in self.specs), *_builtin_ids()})
                raise SpecError(
                    text,
                    "",
                    Text(
                        f"没有这种表式；可选：{'、'.join(known)}，或给出 .toml 文件路径",
                        f"unknown form; choose one of {', '.join(known)} or give a .toml path",
                    ),
                )
        return load_spec(text)

    def listed(self) -> list[tuple[Spec, str]]:
        """Every form, with where it comes from (the folder's file, or "built-in"); an office
        spec that replaces a built-in one of the same id and version hides it."""
        own = {(s.id, s.version) for s in self.specs}
        out = [(s, s.path) for s in self.specs]
        for form_id in _builtin_ids():
            s = _load_builtin(form_id)
            if (s.id, s.version) not in own:
                out.append((s, "built-in"))
        return sorted(out, key=lambda x: (x[0].id, x[0].version))


BUILTIN_FORMS = FormSet()


def load_forms(folder: Path | str | None = None) -> FormSet:
    """The office's forms in `folder` (every `*.toml` directly in it) before the built-in ones.

    A file that is not a valid spec, or repeats the id and version of an earlier file, is kept
    in `problems` and left out: one broken file must not stop a year's collection.

    Raises:
        SpecError: `folder` is not a readable folder.
    """
    if folder is None:
        return BUILTIN_FORMS
    root = Path(folder)
    try:
        names = sorted(p for p in root.iterdir() if _is_spec(p.name))
    except OSError as exc:
        why = Text("不是文件夹", "not a folder") if root.exists() and not root.is_dir() else None
        raise SpecError(
            root,
            "",
            why
            or Text(
                f"无法读取表式文件夹（{exc.strerror}）",
                f"cannot read the forms folder ({exc.strerror})",
            ),
        ) from None
    specs: list[Spec] = []
    problems: list[SpecError] = []
    for path in names:
        try:
            spec = _load_file(path)
        except SpecError as exc:
            problems.append(exc)
            continue
        twin = next((s for s in specs if (s.id, s.version) == (spec.id, spec.version)), None)
        if twin is not None:
            problems.append(
                SpecError(
                    path,
                    "form.id",
                    Text(
                        f"与 {twin.path} 的表式 id 和版本相同（{spec.id} 第 {spec.version} 版），未使用",
                        f"same id and version as {twin.path} ({spec.id} v{spec.version}): not used",
                    ),
                )
            )
            continue
        specs.append(spec)
    return FormSet(str(root), tuple(specs), tuple(problems))


def _builtin_dir() -> Any:
    return resources.files("perfeval_xl.workbook_templates")


def _is_spec(name: str) -> bool:
    return name.endswith(".toml") and not name.startswith(("_", "."))


def parse_spec(data: bytes, path: str) -> Spec:
    """Parse and validate spec text; `path` is only used to name the file in errors.

    The same limits apply to every spec (`MAX_SPEC_BYTES`, `MAX_SPEC_STRING`,
    `MAX_SPEC_ARRAY`, `MAX_SPEC_DEPTH`, no control characters), because a spec embedded in a
    unit's workbook is the unit's data like any cell."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            path,
            "",
            Text(
                f"表式文件超过 {MAX_SPEC_BYTES // 1024} KB，不是表式",
                f"larger than {MAX_SPEC_BYTES // 1024} KB: not a spec",
            ),
        )
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(path, "", Text("表式文件须为 UTF-8 编码", "spec must be UTF-8")) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(
            path, "", Text(f"TOML 语法错误：{exc}", f"TOML syntax error: {exc}")
        ) from None
    _within_limits(raw, path, "", 0)
    return _Builder(path, data).build(raw)


@cache
def _parsed(data: bytes, path: str) -> Spec:
    """`parse_spec`, once per text and process: 10,000 workbooks of one office form, or with
    one embedded spec, parse it once (and a pickled spec arrives as this call)."""
    return parse_spec(data, path)


def _within_limits(value: Any, path: str, key: str, depth: int) -> None:
    """Refuse a spec whose size or text no real form has, before any of it is used."""
    if depth > MAX_SPEC_DEPTH:
        raise SpecError(path, key, Text("嵌套层数过多", "nested too deeply"))
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{key}.{k}" if key else str(k)
            _within_limits(str(k), path, sub, depth + 1)
            _within_limits(v, path, sub, depth + 1)
    elif isinstance(value, list):
        if len(value) > MAX_SPEC_ARRAY:
            raise SpecError(
                path,
                key,
                Text(f"超过 {MAX_SPEC_ARRAY} 项", f"more than {MAX_SPEC_ARRAY} entries"),
            )
        for i, v in enumerate(value):
            _within_limits(v, path, f"{key}[{i}]", depth + 1)
    elif isinstance(value, str):
        if len(value) > MAX_SPEC_STRING:
            raise SpecError(
                path,
                key,
                Text(
                    f"文字超过 {MAX_SPEC_STRING} 个字符", f"text over {MAX_SPEC_STRING} characters"
                ),
            )
        if _SPEC_CONTROL.search(value):
            raise SpecError(
                path,
                key,
                Text("含控制字符或文字方向控制符", "holds a control or text-direction character"),
            )


class _Table:
    """Typed access to one TOML table that remembers its key path and reports unknown keys."""

    def __init__(self, data: Any, path: str, key: str) -> None:
        self.path = path
        self.key = key
        if not isinstance(data, dict):
            self.fail(Text("应为表（table）", "must be a table"))
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def fail(self, text: Text, sub: str | None = None) -> None:
        key = f"{self.key}.{sub}" if sub and self.key else (sub or self.key)
        raise SpecError(self.path, key, text)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., check=None) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is ...:
                self.fail(Text("缺少此项", "missing"), name)
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are ints in Python; a number field must not accept `true`.
        if isinstance(value, bool) and bool not in kinds:
            value = None
        if not isinstance(value, kinds):
            want = "/".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.fail(Text(f"类型应为 {want}", f"must be {want}"), name)
        if check is not None:
            problem = check(value)
            if problem:
                self.fail(problem, name)
        return value

    def text(self, name: str, default: Any = ..., check=None) -> str:
        value = self.get(name, str, default, check)
        if value is not None and isinstance(value, str) and not value.strip() and default is ...:
            self.fail(Text("不能为空", "must not be empty"), name)
        return value

    def number(self, name: str, default: Any = ..., lo: float | None = None) -> float:
        value = self.get(name, (int, float), default)
        if lo is not None and value is not None and value < lo:
            self.fail(Text(f"不能小于 {lo}", f"must be ≥ {lo}"), name)
        return float(value) if value is not None else value

    def integer(self, name: str, default: Any = ..., lo: int = 0, hi: int = 10**9) -> int:
        value = self.get(name, int, default)
        if not lo <= value <= hi:
            self.fail(Text(f"应在 {lo} 到 {hi} 之间", f"must be between {lo} and {hi}"), name)
        return value

    def table(self, name: str) -> _Table:
        return _Table(self.get(name, dict), self.path, self._sub(name))

    def tables(self, name: str, default: Any = ...) -> list[_Table]:
        items = self.get(name, list, default)
        if items is None:
            return []
        return [_Table(item, self.path, f"{self._sub(name)}[{i}]") for i, item in enumerate(items)]

    def strings(self, name: str, default: Any = ...) -> tuple[str, ...]:
        items = self.get(name, list, default)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                self.fail(Text("应为非空文本", "must be a non-empty string"), f"{name}[{i}]")
        return tuple(items)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            known = ", ".join(sorted(self.seen))
            self.fail(
                Text(
                    f"未知的键（拼写错误？）：{', '.join(unknown)}（可用：{known}）",
                    f"unknown key: {', '.join(unknown)} (known: {known})",
                )
            )

    def _sub(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name


_TYPE_NAMES = {
    str: "文本",
    int: "整数",
    float: "数字",
    bool: "true/false",
    list: "数组",
    dict: "表",
}


def _one_of(options: tuple[str, ...]):
    def check(value: str) -> Text | None:
        if value in options:
            return None
        return Text(f"应为 {' / '.join(options)} 之一", f"must be one of {', '.join(options)}")

    return check


def _ident(value: str) -> Text | None:
    if _IDENT.match(value):
        return None
    return Text(
        "只能用小写字母、数字和下划线，以字母开头",
        "lowercase letters, digits and _ only, letter first",
    )


def _sheet_name(value: str) -> Text | None:
    if 0 < len(value) <= 31 and not (_BAD_SHEET_CHARS & set(value)) and value[0] != "'":
        return None
    return Text(
        "工作表名须为 1–31 个字符，且不含 []:*?/\\",
        "sheet name must be 1-31 characters without []:*?/\\",
    )


def _unique(table: _Table, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            table.fail(Text(f"重复：{value}", f"duplicate: {value}"), key)
        seen.add(value)


def _statuses_only(t: _Table, table: dict, statuses: tuple[str, ...], key: str) -> None:
    """A per-status table may name only the spec's statuses (a typo would be silently unused)."""
    extra = set(table) - set(statuses)
    if extra:
        t.fail(
            Text(
                f"未定义的完成状态：{', '.join(sorted(extra))}",
                f"unknown status: {', '.join(sorted(extra))}",
            ),
            key,
        )


class _Skip(Exception):
    """A part of the spec whose mistakes are already reported: what depends on it is not
    checked, so one mistake is not reported again as the next one's cause."""


#: The top-level tables of a spec.
_SECTIONS = (
    "form",
    "header",
    "funds",
    "goals",
    "indicators",
    "footer",
    "taxonomy",
    "scoring",
    "checks",
    "roster",
    "items",
    "publish",
)


class _Builder:
    """Validates raw TOML into a `Spec`, collecting every wrong key with its path: an office
    editing a spec sees all its mistakes in one run (`SpecErrors`), not one per run. Each
    section, and each entry of a list of tables, is checked on its own; what depends on a
    part with a mistake is left unchecked rather than reported again."""

    def __init__(self, path: str, source: bytes = b"") -> None:
        self.path = path
        self.source = source
        self.errors: list[SpecError] = []

    @contextmanager
    def _item(self) -> Iterator[None]:
        """Check one section or one entry; its first mistake is kept, the rest goes on."""
        try:
            yield
        except SpecError as exc:
            self.errors.append(exc)
        except _Skip:
            pass

    def _settle(self, mark: int) -> None:
        """After a list of entries: stop the section if an entry had a mistake (its checks
        across entries, such as duplicates or missing names, would only echo it)."""
        if len(self.errors) > mark:
            raise _Skip

    def build(self, raw: dict[str, Any]) -> Spec:
        top = _Table(raw, self.path, "")
        # a section skipped for a mistake elsewhere is not an unknown key
        top.seen.update(name for name in _SECTIONS if name != "roster" or "roster" in raw)
        fields: dict[str, Any] = {"path": self.path, "source": self.source}
        with self._item():
            fields.update(self._form(top.table("form")))
        # the funds and indicators depend on `scored`; a form table with a mistake elsewhere
        # still says it
        form_raw = raw.get("form")
        scored = fields.get("scored", isinstance(form_raw, dict) and form_raw.get("scored") is True)
        raw_kind = form_raw.get("kind") if isinstance(form_raw, dict) else None
        department = fields.get("kind", raw_kind) == "department"
        with self._item():
            fields["header"] = self._header(top, department)
        if "funds" in raw:
            with self._item():
                if department:
                    # 部门整体 forms have no fund block (寿县 2023); reading and scoring one
                    # with 执行率 is not built
                    top.fail(
                        Text(
                            '部门整体表式（kind = "department"）不能有 [funds]',
                            'a department form (kind = "department") has no [funds]',
                        ),
                        "funds",
                    )
                fields.update(self._funds(top.table("funds"), scored))
        else:
            fields.update({"funds_label": "", "fund_rows": (), "fund_columns": ()})
        if "goals" in raw or not department:
            with self._item():
                fields["goals"] = self._goals(top.table("goals"))
        else:
            fields["goals"] = None
        with self._item():
            fields.update(self._indicators(top.table("indicators"), scored, department))
        if "fund_columns" in fields and "indicator_columns" in fields:
            with self._item():
                if len(fields["fund_columns"]) + 1 > len(fields["indicator_columns"]):
                    # The sheet's grid is the indicator columns; the fund block must fit in it.
                    top.fail(
                        Text(
                            "资金列数须少于指标列数（表格按指标列排版）",
                            "fewer fund columns than indicator columns",
                        ),
                        "funds.columns",
                    )
        if "header" in fields:
            with self._item():
                fields["footer"] = self._footer(top, fields["header"])
        with self._item():
            fields.update(self._taxonomy(top.table("taxonomy"), department))
        if "level1" in fields:
            with self._item():
                fields.update(self._scoring(top.table("scoring"), fields, scored))
        if all(k in fields for k in ("level1", "indicator_columns", "score_total", "kind")):
            with self._item():
                fields["items"] = self._items(top, fields, raw.get("form", {}))
        with self._item():
            fields.update(self._checks(top.table("checks")))
        if all(k in fields for k in ("header", "goals", "fund_rows")):
            with self._item():
                fields["roster_aliases"] = self._roster(top, fields)
        if "publish" in raw:
            with self._item():
                fields.update(self._publish(top.table("publish")))
        with self._item():
            top.done()
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self.errors)
        if fields["kind"] == "department":
            fields["indicator_rows"] = len(fields["items"])
        return Spec(**fields)

    def _form(self, form: _Table) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "id": form.text("id", check=lambda v: None if _FORM_ID.match(v) else _BAD_ID),
            "version": form.integer("version", lo=1),
            "title": form.text("title"),
            "description": form.text("description", ""),
            "sheet": form.text("sheet", check=_sheet_name),
            "amount_unit": form.text("amount_unit", "万元"),
            "scored": form.get("scored", bool),
            "indicator_rows": form.integer("indicator_rows", 20, lo=1, hi=500),
            "kind": form.text("kind", "project", check=_one_of(FORM_KINDS)),
        }
        form.done()
        if fields["kind"] == "department" and not fields["scored"]:
            form.fail(
                Text(
                    '部门整体表式（kind = "department"）须 scored = true（有分值与自评得分）',
                    'a department form (kind = "department") needs scored = true',
                ),
                "scored",
            )
        if fields["sheet"].lower() in ("_lists", "_meta", "填报说明"):
            form.fail(Text("此工作表名由工具保留", "this sheet name is reserved"), "sheet")
        return fields

    def _roster(self, top: _Table, spec_fields: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        """`[roster.aliases]`: each key a field the roster may give, each alias a header no
        other field answers to (after `roster_key`), so a header always means one field."""
        if top.get("roster", dict, None) is None:
            return {}
        roster = top.table("roster")
        table = _Table(roster.get("aliases", dict, {}), self.path, "roster.aliases")
        roster.done()
        fields = _issuable(
            spec_fields["header"],
            spec_fields["goals"],
            spec_fields["fund_rows"],
            spec_fields["fund_columns"],
        )
        owner: dict[str, str] = {}
        for name, label in fields.items():
            owner.setdefault(roster_key(name), name)
            owner.setdefault(roster_key(label), name)
        aliases: dict[str, tuple[str, ...]] = {}
        for name in list(table.data):
            values = table.strings(name)
            if name not in fields:
                table.fail(
                    Text(
                        f"不是名册可用的列：{name}（可用：{', '.join(fields)}）",
                        f"not a roster column: {name} (known: {', '.join(fields)})",
                    ),
                    name,
                )
            for i, alias in enumerate(values):
                key = roster_key(alias)
                other = owner.get(key)
                if not key:
                    problem = Text("别名不能只有空格或标点", "an alias needs a letter or digit")
                elif other == name:
                    problem = Text(f"重复：{alias}", f"duplicate: {alias}")
                elif other is not None:
                    problem = Text(
                        f"「{alias}」已是 {other}（{fields[other]}）的列名",
                        f"'{alias}' already names {other} ({fields[other]})",
                    )
                else:
                    owner[key] = name
                    continue
                table.fail(problem, f"{name}[{i}]")
            aliases[name] = values
        table.done()
        return aliases

    def _header(self, top: _Table, department: bool = False) -> tuple[HeaderField, ...]:
        fields = []
        mark = len(self.errors)
        for t in top.tables("header"):
            with self._item():
                field = HeaderField(
                    name=t.text("name", check=_ident),
                    label=t.text("label"),
                    type=t.text("type", "text", check=_one_of(HEADER_TYPES)),
                    span=t.text("span", "full", check=_one_of(("full", "half"))),
                    max_length=t.integer("max_length", 100, lo=1, hi=32767),
                    required=t.get("required", bool, True),
                    help=t.text("help", ""),
                    lines=t.integer("lines", 1, lo=1, hi=HEADER_LINES_MAX),
                    after=t.text("after", "", check=_one_of(HEADER_PLACES)),
                )
                if field.lines > 1 and (field.span != "full" or field.type != "text"):
                    # a tall block wraps across the form's width; a code or year is one short line
                    t.fail(
                        Text(
                            'lines 大于 1 的字段须为 span = "full" 且 type = "text"',
                            'lines above 1 need span = "full" and type = "text"',
                        ),
                        "lines",
                    )
                fields.append(field)
                t.done()
        self._settle(mark)
        names = [f.name for f in fields]
        _unique(top, "header", names)
        required = REQUIRED_DEPARTMENT_HEADER if department else REQUIRED_HEADER
        missing = [n for n in required if n not in names]
        if missing:
            top.fail(
                Text(
                    f"缺少必需的表头字段：{', '.join(missing)}",
                    f"missing fields: {', '.join(missing)}",
                ),
                "header",
            )
        if next(f for f in fields if f.name == "year").type != "year":
            top.fail(
                Text('year 字段的 type 须为 "year"', 'field year must have type "year"'), "header"
            )
        return tuple(fields)

    def _funds(self, t: _Table, scored: bool) -> dict[str, Any]:
        rows = []
        mark = len(self.errors)
        for r in t.tables("rows"):
            with self._item():
                label = r.text("label")
                rows.append(FundRow(r.text("key", check=_ident), label, r.text("short", label)))
                r.done()
        self._settle(mark)
        cols = []
        mark = len(self.errors)
        for c in t.tables("columns"):
            with self._item():
                cols.append(
                    FundColumn(
                        key=c.text("key", check=_ident),
                        label=c.text("label"),
                        kind=c.text("kind", check=_one_of(FUND_KINDS)),
                        max_length=c.integer("max_length", 200, lo=1, hi=32767),
                    )
                )
                c.done()
        self._settle(mark)
        _unique(t, "rows", [r.key for r in rows])
        _unique(t, "columns", [c.key for c in cols])
        if len(rows) < 2 or rows[0].key != "total":
            t.fail(
                Text(
                    '第一行须为 key = "total"，其后至少一个资金来源',
                    'first row must be "total", then sources',
                ),
                "rows",
            )
        amounts = [c.key for c in cols if c.kind == "amount"]
        for need in ("budget", "spent"):
            if need not in amounts:
                t.fail(
                    Text(f'缺少 kind = "amount" 的 {need} 列', f'missing amount column "{need}"'),
                    "columns",
                )
        kinds = [c.kind for c in cols]
        if kinds.count("rate") != 1:
            t.fail(Text("须有且只有一个 rate 列", "exactly one rate column required"), "columns")
        for kind in ("exec_weight", "exec_score", "exec_reason"):
            if kinds.count(kind) > 1:
                t.fail(Text(f"{kind} 列最多一个", f"at most one {kind} column"), "columns")
        if scored != ("exec_score" in kinds):
            t.fail(
                Text(
                    "计分表式（scored = true）须有且仅计分表式可有 exec_score 列",
                    "exec_score column required exactly when the form is scored",
                ),
                "columns",
            )
        label = t.text("label")
        t.done()
        return {"funds_label": label, "fund_rows": tuple(rows), "fund_columns": tuple(cols)}

    def _goals(self, t: _Table) -> Goals:
        goals = Goals(
            label=t.text("label"),
            expected_label=t.text("expected_label"),
            actual_label=t.text("actual_label"),
            max_length=t.integer("max_length", 1000, lo=1, hi=32767),
        )
        t.done()
        return goals

    def _indicators(self, t: _Table, scored: bool, department: bool = False) -> dict[str, Any]:
        cols = []
        mark = len(self.errors)
        for c in t.tables("columns"):
            with self._item():
                key = c.text("key", check=_ident)
                kind = c.text("kind", "", check=_one_of(INDICATOR_KINDS))
                if key in INDICATOR_KEYS and kind:
                    c.fail(
                        Text(
                            f"{key} 是内置列，不能写 kind（kind 只用于额外的文字列）",
                            f"{key} is a built-in column: kind is only for extra text columns",
                        ),
                        "kind",
                    )
                if key not in INDICATOR_KEYS and not kind:
                    c.fail(
                        Text(
                            f"未知的指标列 {key}：应为 {' / '.join(INDICATOR_KEYS)} 之一，"
                            f'或写 kind = "{INDICATOR_TEXT_KIND}" 作为额外的文字列',
                            f"unknown column {key}: must be one of {', '.join(INDICATOR_KEYS)}, "
                            f'or an extra text column with kind = "{INDICATOR_TEXT_KIND}"',
                        ),
                        "key",
                    )
                if len(key) > INDICATOR_KEY_MAX:
                    c.fail(
                        Text(
                            f"不能超过 {INDICATOR_KEY_MAX} 个字符",
                            f"at most {INDICATOR_KEY_MAX} characters",
                        ),
                        "key",
                    )
                cols.append(
                    IndicatorColumn(
                        key=key,
                        label=c.text("label"),
                        width=c.number("width", 12, lo=1),
                        max_length=c.integer("max_length", 100, lo=1, hi=32767),
                        kind=kind,
                        # built-in columns have their prompts in the generator: `help` stays unknown
                        help=c.text("help", "") if kind else "",
                    )
                )
                c.done()
        self._settle(mark)
        keys = [c.key for c in cols]
        _unique(t, "columns", keys)
        if keys[:3] != ["level1", "level2", "name"]:
            # Every known form starts with the taxonomy; the total row's label relies on it.
            t.fail(
                Text(
                    "前三列须依次为 level1、level2、name",
                    "first columns must be level1, level2, name",
                ),
                "columns",
            )
        if department:
            needed: tuple[str, ...] = REQUIRED_DEPARTMENT_KEYS
        else:
            needed = REQUIRED_INDICATOR_KEYS + (SCORED_INDICATOR_KEYS if scored else ())
        missing = [k for k in needed if k not in keys]
        if missing:
            t.fail(
                Text(f"缺少指标列：{', '.join(missing)}", f"missing columns: {', '.join(missing)}"),
                "columns",
            )
        if not scored and any(k in keys for k in SCORED_INDICATOR_KEYS):
            t.fail(
                Text(
                    "不计分的表式不能有 weight/score 列", "unscored form cannot have weight/score"
                ),
                "columns",
            )
        signs = t.strings("signs", ()) if "sign" in keys else ()
        if "sign" in keys and not signs:
            t.fail(
                Text("有 sign 列时须给出 signs 列表", "signs list required with a sign column"),
                "signs",
            )
        result = {
            "indicators_label": t.text("label"),
            "indicators_total_label": t.text("total_label", "总分"),
            "indicator_columns": tuple(cols),
            "signs": signs,
        }
        t.done()
        return result

    def _footer(self, top: _Table, header: tuple[HeaderField, ...]) -> tuple[FooterField, ...]:
        fields = []
        mark = len(self.errors)
        for t in top.tables("footer", None):
            with self._item():
                fields.append(
                    FooterField(
                        name=t.text("name", check=_ident),
                        label=t.text("label"),
                        max_length=t.integer("max_length", 200, lo=1, hi=32767),
                        help=t.text("help", ""),
                    )
                )
                t.done()
        self._settle(mark)
        _unique(top, "footer", [f.name for f in fields] + [h.name for h in header])
        return tuple(fields)

    def _taxonomy(self, t: _Table, department: bool = False) -> dict[str, Any]:
        level1 = []
        mark = len(self.errors)
        for lt in t.tables("level1"):
            with self._item():
                label = lt.text("label")
                weight = lt.number("weight", lo=0)
                level2, weights = self._level2(lt, weight)
                level1.append(
                    Level1(
                        label,
                        weight,
                        level2,
                        required=lt.get("required", bool, True),
                        # "" until `_scoring` reads the form's default (`level1_weight_rule`)
                        weight_rule=lt.text("weight_rule", "", check=_one_of(WEIGHT_RULES)),
                        level2_weights=weights,
                    )
                )
                lt.done()
        self._settle(mark)
        if not level1:
            t.fail(Text("至少需要一个一级指标", "at least one level1 entry"), "level1")
        _unique(t, "level1", [x.label for x in level1])
        all_level2 = [l2 for x in level1 for l2 in x.level2]
        _unique(t, "level1[*].level2", all_level2)
        # a department form has no status column: its statuses only feed the [scoring] bands
        statuses = t.strings("statuses", DEFAULT_STATUSES if department else ...)
        if len(statuses) < 2:
            t.fail(
                Text("至少两个完成状态，第一个表示已完成", "at least two statuses, first = done"),
                "statuses",
            )
        _unique(t, "statuses", list(statuses))
        aliases = {}
        # each alias table maps to the labels (or statuses) it stands for, never to itself
        for name, canon, zh, en in (
            ("level1_aliases", [x.label for x in level1], "标签", "label"),
            ("level2_aliases", all_level2, "标签", "label"),
            ("status_aliases", list(statuses), "完成状态", "status"),
        ):
            table = t.get(name, dict, {})
            for alias, target in table.items():
                if not isinstance(target, str) or target not in canon:
                    t.fail(
                        Text(
                            f"别名须指向已定义的{zh}：{alias}",
                            f"alias must map to a {en}: {alias}",
                        ),
                        name,
                    )
                if alias in canon:
                    t.fail(
                        Text(f"别名不能与{zh}相同：{alias}", f"alias equals a {en}: {alias}"), name
                    )
            aliases[name] = dict(table)
        t.done()
        return {"level1": tuple(level1), "statuses": statuses, **aliases}

    def _level2(
        self, lt: _Table, weight: float
    ) -> tuple[tuple[str, ...], tuple[tuple[str, float], ...]]:
        """A 一级's `level2`: labels, or `{ label = "基础信息", weight = 3 }` tables giving a 二级 a
        weight of its own; weighted 二级 add up to the 一级's weight (all weighted) or stay
        below it (some)."""
        items = lt.get("level2", list)
        labels: list[str] = []
        weights: list[tuple[str, float]] = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                sub = _Table(item, self.path, f"{lt.key}.level2[{i}]")
                label = sub.text("label")
                weights.append((label, sub.number("weight", lo=0)))
                sub.done()
                labels.append(label)
            elif isinstance(item, str) and item.strip():
                labels.append(item)
            else:
                lt.fail(
                    Text(
                        "应为非空文本或 { label = …, weight = … }",
                        "must be a non-empty string or { label = …, weight = … }",
                    ),
                    f"level2[{i}]",
                )
        got = sum(w for _, w in weights)
        if weights and (
            got - weight > 1e-9 or (len(weights) == len(labels) and weight - got > 1e-9)
        ):
            lt.fail(
                Text(
                    f"二级指标分值之和 {got:g} 应{'等于' if len(weights) == len(labels) else '不超过'}"
                    f"一级指标分值 {weight:g}",
                    f"level2 weights add up to {got:g}, "
                    f"{'not' if len(weights) == len(labels) else 'above'} the level1 weight {weight:g}",
                ),
                "level2",
            )
        return tuple(labels), tuple(weights)

    def _scoring(self, t: _Table, fields: dict[str, Any], scored: bool) -> dict[str, Any]:
        total = t.number("total", lo=1)
        funds = bool(fields.get("fund_rows", True))
        # without a fund block there is no 执行率 to score
        exec_weight = t.number("exec_weight", ... if funds else 0.0, lo=0)
        if not funds and exec_weight:
            t.fail(
                Text(
                    f"表式没有 [funds]（无执行率），exec_weight 须为 0（现为 {exec_weight:g}）",
                    f"the form has no [funds] (no 执行率): exec_weight must be 0, not {exec_weight:g}",
                ),
                "exec_weight",
            )
        weights = sum(x.weight for x in fields["level1"])
        if abs(weights + exec_weight - total) > 1e-9:
            t.fail(
                Text(
                    f"一级指标权重之和 {weights:g} 加执行率分值 {exec_weight:g} 应等于 {total:g}",
                    f"level1 weights {weights:g} + exec_weight {exec_weight:g} != total {total:g}",
                ),
                "total",
            )
        department = fields.get("kind") == "department"
        raw_bands = t.get("qualitative_bands", dict, DEFAULT_BANDS if department else ...)
        bands: dict[str, tuple[float, float]] = {}
        for status in fields["statuses"]:
            band = raw_bands.get(status)
            ok = (
                isinstance(band, list)
                and len(band) == 2
                and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band)
                and 0 <= band[0] <= band[1] <= 1
            )
            if not ok:
                t.fail(
                    Text(
                        f"「{status}」须为 [下限, 上限]，0 ≤ 下限 ≤ 上限 ≤ 1",
                        f'"{status}" must be [low, high] within 0..1',
                    ),
                    "qualitative_bands",
                )
            bands[status] = (float(band[0]), float(band[1]))
        _statuses_only(t, raw_bands, fields["statuses"], "qualitative_bands")
        raw_points = t.get("qualitative_points", dict, {})
        points: dict[str, float] = {}
        for status, (lo, hi) in bands.items():
            # Without a reported score, a qualitative indicator gets this share of its weight.
            default = hi if status == fields["statuses"][0] else round((lo + hi) / 2, 6)
            point = raw_points.get(status, default)
            if (
                isinstance(point, bool)
                or not isinstance(point, (int, float))
                or not lo <= point <= hi
            ):
                t.fail(
                    Text(
                        f"「{status}」须为其区间 [{lo:g}, {hi:g}] 内的数",
                        f'"{status}" must be a number within its band [{lo:g}, {hi:g}]',
                    ),
                    "qualitative_points",
                )
            points[status] = float(point)
        _statuses_only(t, raw_points, fields["statuses"], "qualitative_points")
        grades = []
        mark = len(self.errors)
        for g in t.tables("grades"):
            with self._item():
                grades.append(Grade(g.text("label"), g.number("min", lo=0)))
                g.done()
        self._settle(mark)
        mins = [g.min for g in grades]
        if not grades or mins != sorted(mins, reverse=True) or mins[-1] != 0:
            t.fail(
                Text(
                    "等级须按下限从高到低排列，最后一级下限为 0", "grades must go down to min = 0"
                ),
                "grades",
            )
        # the default of `[[taxonomy.level1]]` entries without a `weight_rule` ("principle"
        # unless given); the old `level1_weights_fixed` still reads (true: "fixed", false:
        # "free"), so that specs copied before it was replaced load; both at once are refused
        old = t.get("level1_weights_fixed", bool, None)
        rule = t.text("level1_weight_rule", None, check=_one_of(WEIGHT_RULES))
        if old is not None and rule is not None:
            t.fail(
                Text(
                    "level1_weight_rule 与旧键 level1_weights_fixed 只能给出一个"
                    '（level1_weights_fixed = true 即 "fixed"，false 即 "free"）',
                    "give level1_weight_rule or the old level1_weights_fixed, not both "
                    '(level1_weights_fixed = true is "fixed", false is "free")',
                ),
                "level1_weight_rule",
            )
        if rule is None:
            rule = "principle" if old is None else ("fixed" if old else "free")
        result = {
            "score_total": total,
            "exec_weight": exec_weight,
            "qualitative_bands": bands,
            "qualitative_points": points,
            "level1": tuple(
                replace(x, weight_rule=x.weight_rule or rule) for x in fields["level1"]
            ),
            "level1_weight_rule": rule,
            "reverse_rule": t.text("reverse_rule", "linear", check=_one_of(REVERSE_RULES)),
            "over_achievement": t.number("over_achievement", 1.3, lo=1),
            "round_digits": t.integer("round_digits", 2, lo=0, hi=6),
            "grades": tuple(grades),
        }
        t.done()
        return result

    def _items(self, top: _Table, fields: dict[str, Any], form_raw: Any) -> tuple[Item, ...]:
        """`[[items]]`: the rows the finance office pre-prints (一级 / 二级 / 三级 / 分值, and the
        text of extra columns such as 指标解释 and 评分标准). A department form's table is
        exactly these rows; their 分值 add up to each weighted 二级, each 一级 and the total."""
        tables = top.tables("items", None)
        if fields["kind"] != "department":
            if tables:
                top.fail(
                    Text(
                        '[[items]] 只用于部门整体表式（kind = "department"）',
                        '[[items]] is for department forms (kind = "department") only',
                    ),
                    "items",
                )
            return ()
        if not tables:
            top.fail(
                Text(
                    "部门整体表式须以 [[items]] 列出财政部门预设的各项三级指标",
                    "a department form lists its pre-printed rows in [[items]]",
                ),
                "items",
            )
        level1 = {x.label: x for x in fields["level1"]}
        columns = {c.key: c for c in fields["indicator_columns"]}
        extra = [c for c in fields["indicator_columns"] if c.extra]
        items: list[Item] = []
        mark = len(self.errors)
        for t in tables:
            with self._item():
                l1 = t.text("level1")
                if l1 not in level1:
                    t.fail(
                        Text(
                            f"不是 [taxonomy] 的一级指标：{l1}（可用：{'、'.join(level1)}）",
                            f"not a level1 of [taxonomy]: {l1} (known: {', '.join(level1)})",
                        ),
                        "level1",
                    )
                l2 = t.text("level2")
                if l2 not in level1[l1].level2:
                    t.fail(
                        Text(
                            f"不是「{l1}」下的二级指标：{l2}（可用：{'、'.join(level1[l1].level2)}）",
                            f"not a level2 of {l1}: {l2} (known: {', '.join(level1[l1].level2)})",
                        ),
                        "level2",
                    )
                name = t.text("name")
                weight = t.number("weight", lo=0)
                texts = []
                for col in [columns["name"], *extra]:
                    value = name if col.key == "name" else t.text(col.key, "")
                    if len(value) > col.max_length:
                        t.fail(
                            Text(
                                f"超过「{col.label}」列的 {col.max_length} 字",
                                f"longer than the {col.max_length} characters of {col.label}",
                            ),
                            col.key,
                        )
                    if col.key != "name" and value:
                        texts.append((col.key, value))
                items.append(Item(l1, l2, name, weight, tuple(texts)))
                t.done()
        self._settle(mark)
        _unique(top, "items", [f"{x.level1}/{x.level2}/{x.name}" for x in items])
        groups = [(l2, w, "二级指标", "level2") for l2, w in self._level2_weights(fields)]
        groups += [(x.label, x.weight, "一级指标", "level1") for x in fields["level1"]]
        for label, want, zh, en in groups:
            got = sum(x.weight for x in items if getattr(x, en) == label)
            if abs(got - want) > 1e-6:
                top.fail(
                    Text(
                        f"{zh}「{label}」下各项分值之和为 {got:g}，应为 {want:g}",
                        f"the weights of the items under {en} {label} add up to {got:g}, "
                        f"not {want:g}",
                    ),
                    "items",
                )
        given = form_raw.get("indicator_rows") if isinstance(form_raw, dict) else None
        if given is not None and given != len(items):
            top.fail(
                Text(
                    f"部门整体表式的指标行即 [[items]] 的 {len(items)} 行：删去 indicator_rows"
                    "或使其相等",
                    f"a department form has the {len(items)} rows of [[items]]: drop "
                    "indicator_rows or make it equal",
                ),
                "form.indicator_rows",
            )
        return tuple(items)

    @staticmethod
    def _level2_weights(fields: dict[str, Any]) -> list[tuple[str, float]]:
        return [pair for x in fields["level1"] for pair in x.level2_weights]

    def _publish(self, t: _Table) -> dict[str, Any]:
        """`[publish]`: how the form is printed in a published annex, and how it is known there."""
        result = {
            "publish_title": t.text("title", ""),
            "annex_labels": t.strings("identify", ()),
        }
        t.done()
        return result

    def _checks(self, t: _Table) -> dict[str, Any]:
        result = {
            "amount_tolerance": t.number("amount_tolerance", 0.01, lo=0),
            "score_tolerance": t.number("score_tolerance", 0.1, lo=0),
            "exec_reason_below": t.number("exec_reason_below", 0.9, lo=0),
            "satisfaction_min": t.number("satisfaction_min", 0.9, lo=0),
            "placeholders": t.strings("placeholders", ()),
            "empty_reasons": t.strings("empty_reasons", DEFAULT_EMPTY_REASONS),
            # 全年预算数 cut by at least this share of 年初 to equal 全年执行数 (W306)
            "budget_cut_min": t.number("budget_cut_min", 0.2, lo=0),
            # 万元 amounts at or above this, or this many times another amount, look like 元 (W307)
            "amount_max": t.number("amount_max", 100_000, lo=0),
            "amount_ratio_max": t.number("amount_ratio_max", 10_000, lo=1),
            # every indicator at full marks while 执行率 is below this (W511)
            "full_marks_exec_below": t.number("full_marks_exec_below", 0.6, lo=0),
            "share_max": t.number("share_max", 1.5, lo=0),
        }
        t.done()
        return result


_BAD_ID = Text(
    "表式 id 只能用小写字母、数字和连字符", "form id: lowercase letters, digits and - only"
)
