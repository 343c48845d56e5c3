"""Turn what people type or paste into form cells into values, and say what had to be repaired.

Units fill the forms by hand, in Excel, WPS or LibreOffice, and paste from Word documents, web
pages and their accounting software. So a 预算数 arrives as "１００万元", "1,234.5", "¥100" or
the number 100 stored as text, and a 年度指标值 as "满意度≥90%" or "不少于12次". Reading those
silently would hide mistakes, refusing them would bury the office in trivial findings: every
function here returns the value it read *and* a bilingual note of the repair, so the checks can
report it as a warning and the reviewer can see exactly what was understood.

Pure functions over the cell values openpyxl gives (None, str, int, float, bool, datetime, date,
time, timedelta); standard library only.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from numbers import Real
from typing import Any

from ..errors import Text

__all__ = [
    "DEFAULT_PLACEHOLDERS",
    "YEAR_RANGE",
    "Parsed",
    "Target",
    "clean_text",
    "is_blank",
    "is_no_reason",
    "is_percent_format",
    "parse_amount",
    "parse_number",
    "parse_target",
    "parse_year",
]

DEFAULT_PLACEHOLDERS: tuple[str, ...] = ("XX", "xx", "X", "*", "**", "—", "——", "-", "/", "无")
"""Texts that stand for "to be filled in" rather than a target (domain check 8)."""

YEAR_RANGE = (2000, 2100)
"""Years a form can plausibly be about; anything else is a typing mistake."""

# Invisible characters that come with text pasted from Word or web pages; they are not
# whitespace for `str.split`, so they would survive stripping and break comparisons.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")  # str patterns are Unicode-aware: \u3000, NBSP, \t, \r, \n included
_SHOWN_MAX = 40  # characters of a raw value quoted in a message

_EXCEL_ERROR = re.compile(
    r"#(?:N/A|VALUE!|REF!|DIV/0!|NUM!|NAME\?|NULL!|SPILL!|CALC!|GETTING_DATA)"
)
# A number as people write it, after NFKC (so full-width digits, "，" and "．" are ASCII by now).
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# The same characters with commas anywhere: a misplaced separator or a decimal comma.
_LOOSE_NUM = re.compile(r"[+-]?(?:¥|RMB)?[+-]?[\d,]*\d[\d,]*(?:\.\d*)?(?:万元|万|元|分)?", re.I)
_PLAIN = re.compile(r"\s*[+-]?\d+(?:\.\d+)?\s*", re.ASCII)  # "100", " 12.5 ": only stored as text


def is_blank(value: object) -> bool:
    """An empty cell: nothing, or only whitespace (what a unit sees as empty is empty)."""
    return value is None or (isinstance(value, str) and not value.strip())


def is_no_reason(value: object, empty_reasons: tuple[str, ...]) -> bool:
    """A 偏差原因 that gives no reason: blank, or one of the spec's `empty_reasons` (无, 0, 同上 …)
    compared after NFKC, without spaces and trailing stops ("无。" is 无)."""
    text = clean_text(value)
    if text is None:
        return True
    return _bare(text) in _empty_reason_set(tuple(empty_reasons))


def _bare(text: str) -> str:
    return _TRAILING_STOP.sub("", unicodedata.normalize("NFKC", text).replace(" ", ""))


@lru_cache(maxsize=16)
def _empty_reason_set(empty_reasons: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_bare(r) for r in empty_reasons)


#: Parts of a number format that do not show: quoted text, escaped characters, [colour] tags.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def is_percent_format(fmt: str | None) -> bool:
    """True for an Excel number format that shows a number as a percentage (`0%`, `0.00%`).

    Excel and WPS store `96%` typed into a cell as 0.96 with such a format: the number alone
    would be read as 0.96 of whatever the target counts."""
    return bool(fmt) and "%" in _FORMAT_LITERALS.sub("", fmt)


@dataclass(frozen=True)
class Parsed:
    """The value read from one cell, with what had to be repaired or why it could not be read.

    `repair` is set whenever the cell did not hold a plain number (the value is still good);
    `error` is set when nothing could be read (the value is None then). Both are `Text` so the
    checks can turn them into findings in the user's language.
    """

    value: float | None
    repair: Text | None = None
    error: Text | None = None

    @property
    def blank(self) -> bool:
        """True when the cell was empty or held only whitespace: nothing to read, nothing wrong."""
        return self.value is None and self.error is None


@dataclass(frozen=True, slots=True)
class Target:
    """A 年度指标值 (indicator target) split into what the scoring needs.

    Scoring compares the actual value with `number` in the direction of `sign` (domain section 3);
    a target with no number is scored by status, and only when it says 定性 on purpose.
    """

    text: str
    sign: str | None
    number: float | None
    unit: str
    percent: bool
    qualitative: bool
    placeholder: bool

    def __reduce__(self) -> tuple:
        # constructor arguments, texts shared: see record.Field.__reduce__
        return (
            _target,
            (
                self.text,
                self.sign,
                self.number,
                self.unit,
                self.percent,
                self.qualitative,
                self.placeholder,
            ),
        )

    @property
    def quantitative(self) -> bool:
        """True when the target gives one quantity to score against."""
        return self.number is not None and not self.qualitative and not self.placeholder


def parse_amount(raw: object) -> Parsed:
    """Read an amount in 万元 (the unit of every money cell on the forms).

    Accepts numbers, and text with full-width digits, spaces, a leading ¥/￥/RMB, thousands
    separators and a trailing 万元/万 (kept as is) or 元 (divided by 10,000, since the cell is in
    万元). Negative amounts are returned: whether they are allowed is the checks' business.
    """
    return _parse(raw, _AMOUNT)


def parse_number(raw: object) -> Parsed:
    """Read a plain number such as a weight (分值/权重) or a score (得分); a trailing 分 is allowed."""
    return _parse(raw, _NUMBER)


def parse_year(raw: object) -> Parsed:
    """Read a 年度: a whole number in YEAR_RANGE, typed as 2022, "２０２２", "2022年" or "2022年度"."""
    low, high = YEAR_RANGE
    if isinstance(raw, str):
        text = _squeeze(raw)
        if not text:
            return Parsed(None)
        digits = text.removesuffix("年度").removesuffix("年")
        if not re.fullmatch(r"\d{4}", digits, re.ASCII):
            return _error(f"{_shown(raw)} 不是年度", f"{_shown(raw)} is not a year")
        value = float(digits)
        repair = _repair(raw, value, _PLAIN.fullmatch(raw) is not None)
    else:
        parsed = _parse(raw, _YEAR)
        if parsed.value is None:
            return parsed
        value, repair = parsed.value, None
        if not value.is_integer():
            return _error(f"{_fmt(value)} 不是整数年度", f"{_fmt(value)} is not a whole year")
    if not low <= value <= high:
        return _error(
            f"{_shown(raw)} 不在 {low}–{high} 之间",
            f"{_shown(raw)} is not between {low} and {high}",
        )
    return Parsed(value, repair=repair)


def clean_text(raw: object) -> str | None:
    """A cell as text: stripped, whitespace runs made one space; None when blank.

    The text is otherwise kept as typed (no NFKC), because names and codes are shown back to the
    user and compared with rosters. Whole floats lose their ".0": Excel stores a code typed as a
    number (109101) as 109101.0. Booleans read as Excel shows them (TRUE/FALSE), and a date
    without a time of day as YYYY-MM-DD.
    """
    if raw is None:
        return None
    if type(raw) is str:
        got = _CLEANED.get(raw, raw)
        if got is not raw:
            return got
        text = raw
    elif isinstance(raw, bool):
        text = "TRUE" if raw else "FALSE"
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    elif isinstance(raw, datetime) and raw.time() == time(0) and raw.tzinfo is None:
        text = raw.date().isoformat()
    elif isinstance(raw, datetime):
        text = raw.isoformat(sep=" ")
    elif isinstance(raw, (date, time)):
        text = raw.isoformat()
    else:
        text = str(raw)
    cleaned = _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip() or None
    if type(raw) is str and len(raw) <= _CLEANED_TEXT_MAX and len(_CLEANED) < _CLEANED_MAX:
        _CLEANED[raw] = cleaned
    return cleaned


#: Short texts already cleaned (`clean_text`), to their cleaned form: a batch of files repeats
#: its labels, statuses and units in every file. Bounded in count and length.
_CLEANED: dict[str, str | None] = {}
_CLEANED_MAX = 20_000
_CLEANED_TEXT_MAX = 64


# --- numbers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """What a field holds: its name in messages, and the suffixes and prefixes it accepts."""

    zh: str
    en: str
    units: dict[str, Decimal]  # trailing word -> divisor into the field's unit
    currency: bool  # a leading ¥ / RMB is allowed


_AMOUNT = _Kind(
    "金额", "an amount", {"万元": Decimal(1), "万": Decimal(1), "元": Decimal(10000)}, True
)
_NUMBER = _Kind("数字", "a number", {"分": Decimal(1)}, False)
_YEAR = _Kind("年度", "a year", {}, False)


def _parse(raw: object, kind: _Kind) -> Parsed:
    """Dispatch on the cell's Python type (what openpyxl gives for it)."""
    if raw is None:
        return Parsed(None)
    if isinstance(raw, bool):  # before numbers: bool is an int
        shown = "TRUE" if raw else "FALSE"
        return _error(
            f"{shown} 是逻辑值，不是{kind.zh}", f"{shown} is a logical value, not {kind.en}"
        )
    if isinstance(raw, (datetime, date)):
        return _error(
            f"{clean_text(raw)} 是日期，不是{kind.zh}",
            f"{clean_text(raw)} is a date, not {kind.en}",
        )
    if isinstance(raw, (time, timedelta)):
        return _error(f"{raw} 是时间，不是{kind.zh}", f"{raw} is a time, not {kind.en}")
    if isinstance(raw, (Real, Decimal)):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        except ValueError:  # Decimal("sNaN") refuses to become a float
            value = math.nan
        if not math.isfinite(value):
            return _error(f"{_shown(raw)} 不是有限的数字", f"{_shown(raw)} is not a finite number")
        return Parsed(value)
    if isinstance(raw, str):
        return _parse_text(raw, kind)
    return _error(f"{_shown(raw)} 不是数字", f"{_shown(raw)} is not a number")


def _parse_text(raw: str, kind: _Kind) -> Parsed:
    """Read a number typed or pasted as text; every accepted deviation is reported as a repair."""
    text = _squeeze(raw)
    if not text:
        return Parsed(None)
    shown = _shown(raw)
    if _EXCEL_ERROR.fullmatch(text.upper()):
        return _error(
            f"{shown} 是 Excel 错误值（公式出错）",
            f"{shown} is an Excel error value (a formula failed)",
        )
    if "%" in text:
        return _error(
            f"{shown} 是百分比，应填{kind.zh}",
            f"{shown} is a percentage; {kind.en} was expected",
        )
    units = "|".join(sorted(kind.units, key=len, reverse=True))
    currency = r"(?P<currency>¥|RMB)?" if kind.currency else ""
    pattern = rf"(?P<s1>[+-]?){currency}(?P<s2>[+-]?)(?P<num>{_NUM})(?P<unit>{units})?"
    match = re.fullmatch(pattern, text, re.ASCII | re.IGNORECASE)
    if match is None or (match["s1"] and match["s2"]):
        if "," in text and _LOOSE_NUM.fullmatch(text):
            return _error(
                f'{shown} 的千位分隔符位置不对（小数点请用 "."）',
                f'{shown} has a thousands separator in the wrong place (use "." for decimals)',
            )
        return _error(f"{shown} 不是数字", f"{shown} is not a number")
    sign = "-" if "-" in (match["s1"], match["s2"]) else ""
    try:
        number = Decimal(sign + match["num"].replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return _error(f"{shown} 不是数字", f"{shown} is not a number")
    unit = match["unit"] or ""
    divisor = kind.units.get(unit, Decimal(1))
    value = float(number / divisor)
    if not math.isfinite(value):
        return _error(f"{shown} 不是有限的数字", f"{shown} is not a finite number")
    if divisor != 1:
        return Parsed(
            value,
            repair=Text(
                f"{shown} 按 {_fmt(value)} 读取（元换算为万元）",
                f"{shown} read as {_fmt(value)} (yuan converted to 万元)",
            ),
        )
    return Parsed(value, repair=_repair(raw, value, _PLAIN.fullmatch(raw) is not None))


def _repair(raw: str, value: float, plain: bool) -> Text:
    """Say how a text cell was read; a bare number in text form gets the name Excel users know."""
    shown = _shown(raw)
    if plain:
        return Text(
            f"{shown} 是文本格式的数字，按 {_fmt(value)} 读取",
            f"{shown} is a number stored as text, read as {_fmt(value)}",
        )
    return Text(f"{shown} 按 {_fmt(value)} 读取", f"{shown} read as {_fmt(value)}")


def _error(zh: str, en: str) -> Parsed:
    return Parsed(None, error=Text(zh, en))


def _squeeze(raw: str) -> str:
    """NFKC (full-width digits and signs to ASCII) with every space and invisible character gone."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", raw)).replace("\u2212", "-")
    return _SPACES.sub("", text)


def _shown(raw: object) -> str:
    """The raw value as quoted in a message: text in quotes, on one line, cut if long."""
    text = raw if isinstance(raw, str) else _fmt(raw) if isinstance(raw, float) else str(raw)
    text = re.sub(r"[\r\n\t]", " ", text)
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 1] + "…"
    return f'"{text}"' if isinstance(raw, str) else text


def _fmt(value: float) -> str:
    """100.0 as 100, 114.56 as 114.56, 1234567.89 in full (plain :g would round it)."""
    return f"{value:.15g}"


# --- targets -----------------------------------------------------------------------------------

_SIGN_WORDS: dict[str, tuple[str, ...]] = {
    "≥": ("≥", "≧", "⩾", ">=", "不少于", "不低于", "大于等于", "大于或等于", "达到", "至少"),
    ">": (">", "大于", "高于", "超过", "多于"),
    "≤": ("≤", "≦", "⩽", "<=", "不超过", "不高于", "不大于", "小于等于", "小于或等于", "控制在"),
    "<": ("<", "小于", "低于", "少于"),
    "=": ("=", "等于"),
}
_SIGN_OF = {word: sign for sign, words in _SIGN_WORDS.items() for word in words}
_TAIL_SIGN = {"及以上": "≥", "以上": "≥", "及以下": "≤", "以下": "≤", "以内": "≤"}
_DIRECTION = {"≥": 1, ">": 1, "≤": -1, "<": -1, "=": 0}
# Longest words first, so that "大于等于" is not read as "大于" followed by a stray "等于".
_SIGN_ALT = "|".join(re.escape(w) for w in sorted(_SIGN_OF, key=len, reverse=True))
_TAIL_ALT = "|".join(sorted(_TAIL_SIGN, key=len, reverse=True))
# label, sign, one number, a short unit, a trailing 以上/以内: the whole text or nothing. The lazy
# label makes the sign word win over the label ("满意度不低于" is label 满意度 + 不低于). A unit
# may not hold digits or sentence punctuation: those mean more than one quantity or a sentence.
_TARGET = re.compile(
    rf"(?P<label>[^\d≥≧⩾≤≦⩽<>=]*?)\s*(?P<sign>{_SIGN_ALT})?\s*"
    rf"(?P<num>-?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)\s*"
    rf"(?P<unit>[^\d\s,;:。，；：、≥≧⩾≤≦⩽<>=]{{0,8}}?)\s*(?P<tail>{_TAIL_ALT})?"
)
_PLACEHOLDER_CHARS = re.compile(r"[Xx*—\-/–―]+")  # after NFKC: ／ is /, ＊ is *, Ｘ is X
_TRAILING_STOP = re.compile(r"[。.;；,，]+$")


def parse_target(
    raw: object, placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS
) -> Target | None:
    """Split a 年度指标值 into sign, number and unit; None when the cell is blank.

    Only a text that is one quantity as a whole counts as quantified ("满意度≥90%", "不少于12次",
    "控制在100万元以内"); a sentence with several numbers or a date range is not, so the checks
    can ask for a quantified target (domain check 8) instead of scoring against a wrong number.
    """
    cleaned = clean_text(raw)
    if cleaned is None:
        return None
    return _parse_target_text(cleaned, tuple(placeholders))


@lru_cache(maxsize=4096)
def _parse_target_text(cleaned: str, placeholders: tuple[str, ...]) -> Target:
    # Targets repeat across a batch ("≥95%", "≥90%"); a Target is frozen, so one can be shared.
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", cleaned)).strip()
    empty = Target(text, None, None, "", False, False, False)
    if _is_placeholder(text, placeholders):
        return Target(text, None, None, "", False, False, True)
    if "定性" in text:
        return Target(text, None, None, "", False, True, False)
    match = _TARGET.fullmatch(_TRAILING_STOP.sub("", text))
    if match is None:
        return empty
    number = float(match["num"].replace(",", ""))
    if not math.isfinite(number):
        return empty  # 400 digits are not a quantity anyone set as a target
    unit = match["unit"]
    if unit.startswith("年") and re.fullmatch(r"(19|20)\d\d|2100", match["num"]):
        return empty  # "2022年底前" is a date, not 2022 units of 年底前
    sign = _SIGN_OF.get(match["sign"] or "")
    tail = _TAIL_SIGN.get(match["tail"] or "")
    if tail is not None:
        if sign is not None and _DIRECTION[sign] != _DIRECTION[tail]:
            return empty  # "不低于90%以下" contradicts itself: ask the unit rather than guess
        sign = sign or tail
    return Target(text, sign, number, unit, unit == "%", False, False)


def _is_placeholder(text: str, placeholders: tuple[str, ...]) -> bool:
    """The whole text stands for "not filled in yet" (compared without spaces, after NFKC)."""
    bare = text.replace(" ", "")
    return bare in _placeholder_set(placeholders) or _PLACEHOLDER_CHARS.fullmatch(bare) is not None


@lru_cache(maxsize=16)
def _placeholder_set(placeholders: tuple[str, ...]) -> frozenset[str]:
    return frozenset(unicodedata.normalize("NFKC", p).replace(" ", "") for p in placeholders)


def _target(
    text: str,
    sign: str | None,
    number: float | None,
    unit: str,
    percent: bool,
    qualitative: bool,
    placeholder: bool,
) -> Target:
    # A target's text and unit repeat across the records collect receives (≥95%, 次).
    return Target(
        shared_text(text), sign, number, shared_text(unit), percent, qualitative, placeholder
    )


#: Texts up to this long are shared between records when they arrive (`shared_text`).
SHARED_TEXT_MAX = 24


def shared_text(value: Any) -> Any:
    """The one copy of a short text in this process (anything else as it is).

    `collect`'s parent receives every record from its workers; each arrives with its own copy
    of the field names, sheet names, cell references and labels (已完成, 产出指标, ≥95% …),
    which were a third of a record's memory. Records, their fields, targets and scores are
    rebuilt through this when unpickled, so 10,000 records share one copy of each."""
    if type(value) is str and len(value) <= SHARED_TEXT_MAX and _SHARING[0]:
        return sys.intern(value)
    return value


#: Whether records being unpickled share their texts (`unshared`).
_SHARING = [True]


def sharing() -> bool:
    """False while records are read back for one use (`unshared`)."""
    return _SHARING[0]


@contextmanager
def unshared() -> Iterator[None]:
    """Unpickle records without sharing their texts and fields: for a record read back from
    disk for one pass and dropped (`office.spill`), sharing saves no memory and cost a quarter
    of the unpickling (measured: 0.41 against 0.31 ms a record)."""
    before = _SHARING[0]
    _SHARING[0] = False
    try:
        yield
    finally:
        _SHARING[0] = before
