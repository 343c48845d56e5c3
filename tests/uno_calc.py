"""Type into workbooks with LibreOffice itself, through its UNO API, as a unit's clerk would.

Run by Debian's `/usr/bin/python3` (package python3-uno), not by the tests' virtualenv: the
`uno` module is built for the system Python. The tests start one headless `soffice` listening on
a private pipe (tests/lo_uno.py) and run this script as a subprocess for each batch of jobs.

Reads one JSON request on stdin and writes one JSON answer on stdout:

    request = {"connect": "uno:pipe,name=…;urp;StarOffice.ComponentContext",
               "connect_timeout": 30, "jobs": [job, …]}
    job     = {"open": path, "steps": [step, …], "save": path | null, "pdf": path | null}
    step    = {"op": "type", "values": {name: value | [value, …]}, "force": false}
              {"op": "unprotect" | "protect", "sheet": name, "password": text}
              {"op": "insert_rows", "name": contract name, "before": k, "count": n}
              {"op": "insert_cells", "name": contract name, "before": k}
              {"op": "copy", "source": [name, k], "target": [name, k]}
              {"op": "percent", "name": contract name, "row": k}
              {"op": "read", "names": [name, …]}
    answer  = {"results": [{"ok": true, "info": {…}} | {"ok": false, "error": text}, …]}

`type` finds each cell by its defined name (`doc.NamedRanges`), a list filling the rows of a
column name from the top (None skips a cell); text goes in with `setString` (a dropdown value is
typed as the list's text), numbers with `setValue`. Typing into a locked cell of a protected
sheet is refused (a person could not) unless `force` is set: the API itself does not care.
`percent` gives row k of a named column Excel's percent format (0.96 shows as 96%), as typing
"96%" into it or pasting from another workbook does. `insert_rows` inserts whole sheet rows before row k of a named column; `insert_cells` inserts
one cell there, shifting only that column down; `copy` copies one cell over another with its
attributes, as a paste does. `save` stores the
workbook as .xlsx with the filter "Calc MS Excel 2007 XML", `pdf` prints it with
"calc_pdf_Export". `read` puts what each named cell shows now (column 0 of the name's range, top
to bottom) in `info["values"]`, and every cell note (comment) in `info["notes"]`: read first,
it is what the file shows on opening, before anything recalculates. `info` tells what LibreOffice holds after the steps (sheets, protection,
names), for the tests and for docs/compatibility.md. A job that fails answers with
LibreOffice's own message; the other jobs still run.
"""

import json
import os
import sys
import time

import uno
from com.sun.star.beans import PropertyValue

XLSX_FILTER = "Calc MS Excel 2007 XML"
PDF_FILTER = "calc_pdf_Export"


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def file_url(path):
    return uno.systemPathToFileUrl(os.path.abspath(path))


def connect(url, timeout):
    """The office's component context; soffice may still be starting, so retry until timeout."""
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(url)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def message(exc):
    """LibreOffice's own words: UNO exceptions carry them in .Message."""
    text = getattr(exc, "Message", None) or str(exc)
    return f"{type(exc).__name__}: {' '.join(str(text).split())}"


def named(doc, name):
    if not doc.NamedRanges.hasByName(name):
        raise KeyError(f"no defined name {name}")
    return doc.NamedRanges.getByName(name).getReferredCells()


def type_values(doc, values, force):
    for name, value in values.items():
        cells = named(doc, name)
        rows = value if isinstance(value, list) else [value]
        for i, v in enumerate(rows):
            if v is None:
                continue
            cell = cells.getCellByPosition(0, i)
            sheet = cells.getSpreadsheet()
            if not force and sheet.isProtected() and cell.CellProtection.IsLocked:
                addr = cell.getCellAddress()
                raise PermissionError(
                    f"{name}[{i}] (row {addr.Row + 1}, column {addr.Column + 1}) is locked: "
                    "a person could not type there"
                )
            if isinstance(v, str):
                cell.setString(v)
            else:
                cell.setValue(v)


def insert_rows(doc, name, before, count):
    cells = named(doc, name)
    row = cells.getRangeAddress().StartRow + before
    cells.getSpreadsheet().Rows.insertByIndex(row, count)


def insert_cell(doc, name, before):
    cells = named(doc, name)
    address = cells.getCellByPosition(0, before).getRangeAddress()
    down = uno.Enum("com.sun.star.sheet.CellInsertMode", "DOWN")
    cells.getSpreadsheet().insertCells(address, down)


def copy_cell(doc, source, target):
    src = named(doc, source[0]).getCellByPosition(0, source[1])
    dst = named(doc, target[0]).getCellByPosition(0, target[1])
    dst.getSpreadsheet().copyRange(dst.getCellAddress(), src.getRangeAddress())


def percent_format(doc, name, row):
    from com.sun.star.lang import Locale

    percent = uno.getConstantByName("com.sun.star.util.NumberFormat.PERCENT")
    cell = named(doc, name).getCellByPosition(0, row)
    cell.NumberFormat = doc.getNumberFormats().getStandardFormat(percent, Locale())


def read_values(doc, names, out):
    values = out.setdefault("values", {})
    for name in names:
        cells = named(doc, name)
        rows = cells.getRows().getCount()
        values[name] = [cells.getCellByPosition(0, i).getString() for i in range(rows)]


def notes(doc):
    """Every cell note: "sheet!A1" -> its text."""
    out = {}
    for i in range(doc.Sheets.Count):
        sheet = doc.Sheets.getByIndex(i)
        annotations = sheet.getAnnotations()
        for k in range(annotations.getCount()):
            note = annotations.getByIndex(k)
            addr = note.getPosition()
            cell = sheet.getCellByPosition(addr.Column, addr.Row)
            out[f"{sheet.Name}!{cell.AbsoluteName.split('.')[-1].replace('$', '')}"] = (
                note.getString()
            )
    return out


def info(doc):
    sheets = doc.Sheets
    out = {"sheets": [], "structure_protected": bool(doc.isProtected()), "names": {}}
    for i in range(sheets.Count):
        s = sheets.getByIndex(i)
        out["sheets"].append(
            {"name": s.Name, "protected": bool(s.isProtected()), "visible": bool(s.IsVisible)}
        )
    for name in doc.NamedRanges.ElementNames:
        out["names"][name] = doc.NamedRanges.getByName(name).getContent()
    return out


def run_job(ctx, desktop, job):
    url = file_url(job["open"])
    doc = desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
    if doc is None:
        # Headless, LibreOffice asks nobody and says nothing: loadComponentFromURL returns no
        # document. Say at least what its type detection made of the file.
        detection = ctx.ServiceManager.createInstanceWithContext(
            "com.sun.star.document.TypeDetection", ctx
        )
        kind = detection.queryTypeByURL(url) or "none"
        raise OSError(
            f"LibreOffice could not open the file (loadComponentFromURL returned no document; "
            f"type detection: {kind})"
        )
    try:
        if not doc.supportsService("com.sun.star.sheet.SpreadsheetDocument"):
            raise TypeError(f"LibreOffice opened {job['open']} as something else than a workbook")
        seen = {}
        for step in job.get("steps", []):
            op = step["op"]
            if op == "type":
                type_values(doc, step["values"], step.get("force", False))
            elif op == "unprotect":
                doc.Sheets.getByName(step["sheet"]).unprotect(step["password"])
            elif op == "protect":
                doc.Sheets.getByName(step["sheet"]).protect(step["password"])
            elif op == "insert_rows":
                insert_rows(doc, step["name"], step["before"], step.get("count", 1))
            elif op == "insert_cells":
                insert_cell(doc, step["name"], step["before"])
            elif op == "copy":
                copy_cell(doc, step["source"], step["target"])
            elif op == "percent":
                percent_format(doc, step["name"], step["row"])
            elif op == "read":
                read_values(doc, step["names"], seen)
                seen["notes"] = notes(doc)
            else:
                raise ValueError(f"unknown step {op!r}")
        result = {**info(doc), **seen}
        if job.get("save"):
            target = file_url(job["save"])
            doc.storeToURL(target, (prop("FilterName", XLSX_FILTER),))
        if job.get("pdf"):
            target = file_url(job["pdf"])
            doc.storeToURL(target, (prop("FilterName", PDF_FILTER),))
        return result
    finally:
        doc.close(True)


def main():
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    ctx = connect(request["connect"], request.get("connect_timeout", 30))
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    results = []
    for job in request["jobs"]:
        try:
            results.append({"ok": True, "info": run_job(ctx, desktop, job)})
        except Exception as exc:  # noqa: BLE001 - any failure is the job's answer
            results.append({"ok": False, "error": message(exc)})
    sys.stdout.buffer.write(json.dumps({"results": results}, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main()
