"""Templates for a roster: the office's outbox (`template --roster`, and the demo).

One pre-filled template per roster row, named by the roster's template stems, built on every
core; before anything is written the clerk is told what will be replaced and which earlier
templates of ours this roster no longer produces (`Outbox`). An office-stage module: it reads
the roster (`roster`) and builds with the template stage (`generate`).
"""

from __future__ import annotations

import os
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import OutputError, Text
from ..fileio import write_output
from ..forms.spec import Spec
from ..template.generate import DEFAULT_PASSWORD, PROP_FORM_ID, build_template
from ..workers import pool
from .roster import load_roster, template_file_stems


@dataclass
class Outbox:
    """What `template --roster` is about to do in its output folder, told to the clerk before
    anything is written (`on_plan`): the roster's warnings, the files it replaces, and the
    `.xlsx` files there that this roster does not produce."""

    outdir: Path
    #: the templates to write, in roster order
    paths: list[Path]
    #: what the roster's reading had to say (columns ignored)
    warnings: list[Any]
    #: files of those names already in the folder: replaced (each atomically)
    replaced: list[Path]
    #: unfilled templates of ours this roster does not produce (an earlier roster's): `clean`
    #: removes them
    old_templates: list[Path]
    #: other `.xlsx` files this roster does not produce (a clerk's, a unit's filled copy, a
    #: summary): never removed
    others: list[Path]
    #: the old templates removed (with `clean`, once the new ones are written)
    removed: list[Path] = field(default_factory=list)


def write_roster_templates(
    roster: Path | str,
    outdir: Path | str,
    spec: Spec,
    *,
    password: str = DEFAULT_PASSWORD,
    indicator_rows: int | None = None,
    key: bytes | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_plan: Callable[[Outbox], None] | None = None,
    clean: bool = False,
) -> list[Path]:
    """Write one pre-filled template per roster row into `outdir`, named
    `<dept_code>_<unit>_<project>.xlsx` (made safe for Windows and unique).

    The roster is read and checked completely, and every workbook built in memory, before the
    first file is written: a bad roster leaves no partial output. Existing files of the same
    name are replaced (each atomically). Nothing else in `outdir` is touched unless `clean`.

    Args:
        progress: called with the number of workbooks just built, for a progress bar.
        on_total: called once with the number of workbooks to build, once the roster is read.
        on_plan: called once, before `on_total`, with what will happen in `outdir` (the
            roster's warnings, the files replaced, the other `.xlsx` files); `removed` is filled
            in when the templates are written.
        clean: once the new templates are written, remove the old ones (`Outbox.old_templates`:
            unfilled templates of ours this roster does not produce). Other files stay.

    Raises:
        RosterError / RosterErrors: the roster is wrong (nothing is written).
        OutputError: `outdir` cannot be created or written, or an old template not removed.
    """

    loaded = load_roster(roster, spec)
    rows = loaded.rows
    outdir = Path(outdir)
    paths = [outdir / f"{stem}.xlsx" for stem in template_file_stems(rows)]
    plan = _survey(outdir, paths, loaded.warnings)
    if on_plan is not None:
        on_plan(plan)
    if on_total is not None:
        on_total(len(rows))
    job = partial(build_template, spec, password=password, indicator_rows=indicator_rows, key=key)
    built = list(zip(paths, _build_all(job, [row.values for row in rows], progress), strict=True))
    _make_dir(outdir)
    for path, data in built:
        write_output(path, data)
    if clean:
        for path in plan.old_templates:
            if _unfilled_template(path):  # asked again: it may have been opened and saved since
                _remove(path)
                plan.removed.append(path)
    return [path for path, _ in built]


def _unfilled_template(path: Path) -> bool:
    """Whether the file is a template this tool wrote that no one has saved since: the form
    id among its custom properties (`PROP_FORM_ID`), and the core properties as written
    (last saved by perfeval-xl, modified when created). Excel, WPS and LibreOffice update
    those on saving, so a unit's filled copy is never taken for a blank template."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        with zipfile.ZipFile(path) as z:
            parts = {i.filename: i for i in z.infolist()}
            custom, core = parts.get("docProps/custom.xml"), parts.get("docProps/core.xml")
            if custom is None or core is None or max(custom.file_size, core.file_size) > _PROPS:
                return False
            custom_xml, core_xml = z.read(custom), z.read(core)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        return False
    if f'name="{PROP_FORM_ID}"'.encode() not in custom_xml:
        return False
    times = re.findall(rb"<dcterms:(created|modified)\b[^>]*>([^<]*)<", core_xml)
    return (
        b"<cp:lastModifiedBy>perfeval-xl</cp:lastModifiedBy>" in core_xml
        and len(times) == 2
        and times[0][1] == times[1][1]
    )


#: Largest document-properties part read to recognise a template (ours are under 2 KB).
_PROPS = 64 * 1024


def _survey(outdir: Path, paths: list[Path], warnings: list[Any]) -> Outbox:
    """What is in `outdir` already: the files about to be replaced, and the `.xlsx` files this
    roster does not produce, split into old templates of ours and everything else. A name is
    compared as a case-insensitive file system sees it, so a file that may be one of the new
    templates is never counted as old (nor removed)."""
    replaced = [p for p in paths if p.exists()]
    new = {_name_key(p.name) for p in paths}
    old: list[Path] = []
    others: list[Path] = []
    try:
        entries = sorted(outdir.iterdir()) if outdir.is_dir() else []
    except OSError:
        entries = []  # an unreadable folder fails when it is written to
    for entry in entries:
        name = entry.name
        if not name.lower().endswith(".xlsx") or name.startswith("~$"):
            continue  # not a workbook, or Excel's lock file for an open one
        if _name_key(name) in new or entry.is_dir():
            continue
        (old if _unfilled_template(entry) else others).append(entry)
    return Outbox(outdir, paths, warnings, replaced, old, others)


def _name_key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(
            path,
            Text(
                f"无法删除旧模板（{exc.strerror}）；新模板已全部写入",
                f"cannot remove the old template ({exc.strerror}); the new templates are written",
            ),
        ) from None


def _build_all(
    job: Callable[[dict[str, Any]], bytes],
    values: list[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> list[bytes]:
    """Build every workbook, in order, on all cores for a real roster (a workbook takes
    ~15-30 ms); `progress(1)` after each."""
    done = progress or (lambda n: None)
    workers = os.cpu_count() or 1
    if workers == 1 or len(values) < 16:
        out = []
        for v in values:
            out.append(job(v))
            done(1)
        return out
    out = []
    with pool(workers) as executor:
        # map yields in the order of `values`, each result as soon as it and those before it
        # are done: the bar moves while the pool works
        for data in executor.map(job, values, chunksize=max(1, len(values) // (workers * 8))):
            out.append(data)
            done(1)
    return out


def _make_dir(outdir: Path) -> None:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(outdir, Text("不是文件夹", "not a folder")) from None
    except OSError as exc:
        raise OutputError(
            outdir, Text(f"无法创建文件夹（{exc.strerror}）", f"cannot create ({exc.strerror})")
        ) from None
