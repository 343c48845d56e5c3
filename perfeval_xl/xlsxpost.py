"""Post-processing of finished .xlsx bytes, for what xlsxwriter cannot write itself.

xlsxwriter has no workbook *structure* protection (its author declined to add it), and re-saving
through openpyxl would drop validations and cached values, so we add the one XML element to
`xl/workbook.xml` and copy every other zip member unchanged, keeping the output deterministic.
"""

from __future__ import annotations

import io
import re
import zipfile

_WORKBOOK_XML = "xl/workbook.xml"


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


def protect_structure(xlsx: bytes, password: str, *, uncached: str | None = None) -> bytes:
    """Return `xlsx` with `<workbookProtection lockStructure="1">` added to the workbook part.

    Sheets can then not be added, deleted, renamed, moved or unhidden without the password.
    `uncached` names a sheet part whose formulas lose their cached results (`drop_cached`).
    """
    attrs = f'workbookPassword="{legacy_password_hash(password)}" ' if password else ""
    element = f'<workbookProtection {attrs}lockStructure="1"/>'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == _WORKBOOK_XML:
                data = _insert_protection(data.decode("utf-8"), element).encode("utf-8")
            elif info.filename == uncached:
                data = drop_cached(data.decode("utf-8")).encode("utf-8")
            dst.writestr(info, data)
    return out.getvalue()


def _insert_protection(xml: str, element: str) -> str:
    # CT_Workbook's sequence puts workbookProtection right after workbookPr, before bookViews.
    if "<workbookProtection" in xml:
        raise ValueError("workbook.xml already has workbookProtection")
    new, count = re.subn(r"(<workbookPr\b[^>]*/>)", lambda m: m.group(1) + element, xml, count=1)
    if count == 0:
        new, count = re.subn(r"(<bookViews\b)", lambda m: element + m.group(1), xml, count=1)
    if count != 1:
        raise ValueError("workbook.xml has neither workbookPr nor bookViews")
    return new


#: A formula cell as xlsxwriter writes it: reference and style, the result's type, the formula,
#: the cached result.
_FORMULA_CELL = re.compile(
    r'(<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?)(?: t="[a-z]+")?>(<f>[^<]*</f>)<v>[^<]*</v>'
)


def drop_cached(xml: str) -> str:
    """A sheet's XML with no cached formula results.

    LibreOffice does not recalculate an xlsx on opening; it shows the cached results, and
    computes only a formula that has none (measured: a cached 999 stays 999, a missing one is
    computed). A workbook written with values already in its inputs (a returned workbook) has
    totals, rates and the 自检 marks that only a calculation knows, so it carries none. Excel
    and WPS recalculate on opening anyway (`fullCalcOnLoad`, which xlsxwriter always sets)."""
    return _FORMULA_CELL.sub(r"\1>\2", xml)
