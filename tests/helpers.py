"""Helpers for reading generated workbooks in tests."""

from __future__ import annotations

import io

import openpyxl


def open_xlsx(data: bytes, **kwargs) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data), **kwargs)


def named_cell(wb: openpyxl.Workbook, name: str):
    """The first cell a workbook-scoped defined name points at."""
    sheet, ref = next(wb.defined_names[name].destinations)
    return wb[sheet][ref.replace("$", "").split(":")[0]]


def fill(wb: openpyxl.Workbook, values: dict[str, object], indicators: list[dict]) -> None:
    """Type values into a template by contract name (openpyxl: for formula tests only)."""
    for name, value in values.items():
        named_cell(wb, f"pe_{name}").value = value
    for i, row in enumerate(indicators):
        for key, value in row.items():
            named_cell(wb, f"pe_ind_{key}").offset(row=i).value = value
