"""What xlsxwriter cannot write itself, or writes slowly: its private steps overridden, here only.

xlsxwriter has no workbook *structure* protection (its author declined to add it), writes a
cached result with every formula, and prepares every formula and defined name with dozens of
regular expressions. Re-saving through openpyxl would drop validations and cached values, and
post-processing the finished zip costs a second compression of every part (a quarter of a
template's time). So `FormBook` and `FormSheet` override four private methods of xlsxwriter;
tests/test_selfcheck_parity.py and tests/test_generate.py fail loudly should xlsxwriter rename
any of them (`PRIVATE_STEPS`).
"""

from __future__ import annotations

import io
import re
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

#: The private methods of xlsxwriter overridden here, by class.
PRIVATE_STEPS = {
    xlsxwriter.Workbook: ("_write_book_views", "define_name"),
    Format: ("_get_xf_index",),
    Worksheet: ("_prepare_formula", "_assemble_xml_file"),
    Worksheet.__mro__[1]: ("_xml_formula_element",),  # xmlwriter.XMLwriter
}


def legacy_password_hash(password: str) -> str:
    """The 16-bit password verifier of ECMA-376 Part 4 §14.7.1 (workbookPassword), as hex.

    It is weak by design of the format: protection prevents mistakes, not attacks.
    """
    digest = 0
    for char in reversed(password):
        digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
        digest ^= ord(char)
    digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
    digest ^= len(password)
    digest ^= 0xCE4B
    return f"{digest:X}"


class FormBook(xlsxwriter.Workbook):
    """xlsxwriter's workbook with structure protection, and defined names checked once.

    `protect_structure(password)` adds `<workbookProtection lockStructure="1">` (sheets can then
    not be added, deleted, renamed, moved or unhidden without the password), where CT_Workbook's
    sequence puts it: after workbookPr, before bookViews. A template defines some two hundred
    names, the same ones in every workbook of a form: each (name, formula) is checked by
    xlsxwriter once per process and then reused."""

    _structure: str | None = None

    def protect_structure(self, password: str) -> None:
        self._structure = password

    def number_styles(self, formats: list[Any]) -> None:
        """Give `formats` their style numbers now, in this order. xlsxwriter numbers a format
        when a cell using it is first written out, so a sheet's style numbers depended on what
        the sheets before it used: the instruction and list sheets, the same in every workbook
        of a form, came out as different bytes, and the reader parsed each anew."""
        for f in formats:
            f._get_xf_index()

    def _write_book_views(self) -> None:
        if self._structure is not None:
            attrs: list[tuple[str, Any]] = []
            if self._structure:
                attrs.append(("workbookPassword", legacy_password_hash(self._structure)))
            attrs.append(("lockStructure", 1))
            self._xml_empty_tag("workbookProtection", attrs)
        super()._write_book_views()

    def define_name(self, name: str, formula: str) -> int:
        key = (name, formula)
        entry = _NAMES.get(key)
        if entry is not None:
            self.defined_names.append(list(entry))
            return 0
        before = len(self.defined_names)
        rc = super().define_name(name, formula)
        if rc == 0 and len(self.defined_names) == before + 1:
            if len(_NAMES) >= 8192:
                _NAMES.clear()
            _NAMES[key] = tuple(self.defined_names[-1])
        return rc


_NAMES: dict[tuple[str, str], tuple] = {}


class FormSheet(Worksheet):
    """xlsxwriter's worksheet, preparing each formula once and, when `uncached`, writing no
    cached results.

    The form holds a helper cell per row and helper (selfcheck.HELPERS), each `=_pr_h_…`, and
    xlsxwriter runs some thirty regular expressions over every formula it is given, looking for
    functions newer than Excel 2010 to prefix: a third of the time a template took. A name has
    none to prefix, and every workbook of a form has the same other formulas: each is prepared
    once (a pure function of its text). Should xlsxwriter rename that private step, this
    override is never called and every formula goes the long way (tests say so).

    `uncached`: LibreOffice shows an xlsx's cached formula results as they are, and computes a
    formula only when it has none (measured: a cached 999 stays 999, a missing one is computed).
    A workbook written with values in its inputs (a returned workbook, feedback.py) has totals,
    rates and 自检 marks only a calculation knows, so its form sheet carries none. Excel and WPS
    recalculate on opening anyway (`fullCalcOnLoad`, which xlsxwriter always sets)."""

    uncached = False

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        if _JUST_A_NAME.fullmatch(formula):
            return formula[1:]
        key = (formula, expand_future_functions)
        got = _PREPARED.get(key)
        if got is None:
            got = super()._prepare_formula(formula, expand_future_functions)
            if len(_PREPARED) >= 4096:
                _PREPARED.clear()
            _PREPARED[key] = got
        return got

    def _xml_formula_element(self, formula: str, result: Any, attributes: Any = ()) -> None:
        if not self.uncached:
            super()._xml_formula_element(formula, result, attributes)
            return
        # the result's type goes with the result: a `t` without a `<v>` says nothing true
        attr = "".join(
            f' {key}="{self._escape_attributes(value)}"' for key, value in attributes if key != "t"
        )
        self.fh.write(f"<c{attr}><f>{self._escape_data(formula)}</f></c>")


_PREPARED: dict[tuple[str, bool], str] = {}
_JUST_A_NAME = re.compile(r"=_p[ars]_[a-z0-9_]+")


class CachedSheet(Worksheet):
    """A worksheet whose XML, once written, is reused for every workbook with the same
    `cache_key` in this process: the instruction and list sheets, which depend on the form
    alone. Only the XML is reused: every cell is still written, so the shared strings and
    styles are what they would be (the form writer writes these sheets first and numbers its
    styles first, `FormBook.number_styles`: their numbers are the same in every workbook of a
    form). tests/test_generate.py builds workbooks with the cache cold and warm: same bytes."""

    cache_key: tuple | None = None

    def _assemble_xml_file(self) -> None:
        key = self.cache_key
        fh = self.fh
        if key is None or not isinstance(fh, io.StringIO):
            super()._assemble_xml_file()
            return
        got = _SHEET_XML.get(key)
        if got is not None:
            fh.write(got)
            return
        start = fh.tell()
        super()._assemble_xml_file()
        if len(_SHEET_XML) >= 64:
            _SHEET_XML.clear()
        _SHEET_XML[key] = fh.getvalue()[start:]


_SHEET_XML: dict[tuple, str] = {}
