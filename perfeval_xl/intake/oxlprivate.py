"""openpyxl's private reader parts that perfeval-xl uses, all of them, behind this one module.

`fastread` parses a formula cell with openpyxl's own worksheet parser, so a formula reads
exactly as openpyxl's full load has it; `read` finds the workbook part through openpyxl's
manifest lookup, to read the defined names a second time (openpyxl keeps one of each). Both
live in private modules (`openpyxl.worksheet._reader`, `openpyxl.reader.excel`) that an
openpyxl release may change without notice: `PRIVATE_USES` lists what is used, and
tests/test_package_flow.py fails loudly when one of them is gone or behaves otherwise, and when
any other module of the package imports a private openpyxl module. (`template.xlsxpost` is the
same for xlsxwriter.)
"""

from __future__ import annotations

from typing import Any

from openpyxl.reader.excel import _find_workbook_part
from openpyxl.worksheet._reader import WorkSheetParser

#: The private names used, by where they come from: what an openpyxl upgrade must keep.
PRIVATE_USES = {
    "openpyxl.worksheet._reader": ("WorkSheetParser", "WorkSheetParser.parse_formula"),
    "openpyxl.reader.excel": ("_find_workbook_part",),
}


def formula_parser() -> WorkSheetParser:
    """A worksheet parser used only for `parse_formula(cell element)` (no sheet, no strings)."""
    return WorkSheetParser(None, [])


def workbook_part(manifest: Any) -> str:
    """The workbook part's name inside the package (`xl/workbook.xml`), as openpyxl finds it."""
    return _find_workbook_part(manifest).PartName[1:]
