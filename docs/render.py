"""Render what the workbooks look like when printed: page 1 of each built-in form's template and
of a department summary, and pages 1 and 2 of a workbook returned to its unit (its 审核意见 and
its marked form), as PNG images in docs/ (about 100 dpi, A4 landscape); and page 1 of the annex
the department publishes (`publish`, the demo's 附件2.docx) as docs/annex-page1.png (80 dpi).

    .venv/bin/python docs/render.py      # docs/<form>.png, docs/summary.png, docs/returned-*.png
    .venv/bin/python docs/render.py --outdir /tmp/r --keep-pdf

Each template is issued from the first row of the built-in sample roster (the blue cells are
pre-filled by the office, the yellow ones are empty); the summary is the demo's (`perfeval-xl
demo`), and so are the returned workbook (its 创建全国文明城市, reviewed on a fixed date) and the
annex (the seed's three projects, published with their errors as the seed document has them).
LibreOffice prints them to PDF (`soffice --headless --convert-to pdf`, private profile,
killed after a time limit) and poppler's `pdftoppm` turns page 1 into a PNG. Needs the package
installed, `soffice` and `pdftoppm` (Debian: libreoffice-calc, libreoffice-writer,
fonts-noto-cjk, poppler-utils).
Standard library and perfeval_xl only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from perfeval_xl import build_template, builtin_forms, load_spec, read_roster, run_demo
from perfeval_xl.demo import DEMO_CONTACT, DEMO_FORM
from perfeval_xl.office.feedback import write_feedback
from perfeval_xl.office.summary import write_summary
from perfeval_xl.samples import sample_roster_path

DPI = 100
TIMEOUT = 180
#: The summary's 生成时间, fixed so that the picture changes only when the layout does.
GENERATED = datetime(2023, 1, 10, 8, 0)
#: Which pages of a workbook become which pictures (default: page 1, named as the workbook).
PAGES = {"returned": {1: "returned-review", 2: "returned-form"}, "annex": {1: "annex-page1"}}
#: Resolution of the pictures that are not DPI: a portrait A4 page of the annex.
DPIS = {"annex": 80}
#: The demo project whose returned workbook is pictured.
RETURNED_PROJECT = "创建全国文明城市"


def need(program: str) -> str:
    exe = shutil.which(program)
    if exe is None:
        sys.exit(f"render.py: {program} not found (apt-get install libreoffice-calc poppler-utils)")
    return exe


def run(cmd: list[str], timeout: float = TIMEOUT) -> str:
    """Run a program in its own process group; kill the whole group on timeout."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        sys.exit(
            f"render.py: {cmd[0]} timed out after {timeout:g}s: {out.decode(errors='replace')}"
        )
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"render.py: {' '.join(cmd)} exited {proc.returncode}: {text}")
    return text


def workbooks(tmp: Path) -> list[Path]:
    """One issued template per built-in form, the demo's department summary, its returned
    workbook and its published annex (附件2.docx)."""
    out = []
    for form in builtin_forms():
        spec = load_spec(form)
        with sample_roster_path() as roster:
            issued = read_roster(roster, spec)[0].values
        path = tmp / f"{form}.xlsx"
        path.write_bytes(build_template(spec, issued))
        out.append(path)
    here = Path.cwd()
    os.chdir(tmp)  # the summary names its inbox as given: "demo/inbox", not a temporary path
    try:
        demo = run_demo("demo")
    finally:
        os.chdir(here)
    out.append(write_summary(demo.collection, tmp / "summary.xlsx", generated=GENERATED))
    back = write_feedback(
        demo.collection,
        tmp / "returned",
        roster_spec=load_spec(DEMO_FORM),
        contact=DEMO_CONTACT,
        review_date=GENERATED.date(),
    )
    [book] = [p for p in back.written if p.suffix == ".xlsx" and RETURNED_PROJECT in p.name]
    out.append(Path(shutil.copy(book, tmp / "returned.xlsx")))
    out.append(Path(shutil.copy(tmp / demo.annex, tmp / "annex.docx")))
    return out


def render(outdir: Path, keep_pdf: bool = False) -> list[Path]:
    """Write `<name>.png` (page 1, or the pages `PAGES` names) for every workbook and the
    annex into `outdir`; return the PNGs."""
    soffice, pdftoppm = need("soffice"), need("pdftoppm")
    outdir.mkdir(parents=True, exist_ok=True)
    pngs = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        books = workbooks(tmp)
        profile = (tmp / "profile").resolve().as_uri()
        pdfdir = outdir if keep_pdf else tmp / "pdf"
        run(
            [
                soffice,
                f"-env:UserInstallation={profile}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(pdfdir),
                *map(str, books),
            ]
        )
        for book in books:
            pdf = pdfdir / f"{book.stem}.pdf"
            if not pdf.exists():
                sys.exit(f"render.py: LibreOffice did not print {book.name}")
            for page, name in PAGES.get(book.stem, {1: book.stem}).items():
                png = outdir / f"{name}.png"
                dpi = DPIS.get(book.stem, DPI)
                one = ["-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile"]
                run([pdftoppm, *one, str(pdf), str(png.with_suffix(""))])
                pngs.append(png)
                print(f"{png} ({png.stat().st_size // 1024} KB)")
    return pngs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--keep-pdf", action="store_true", help="keep the PDFs beside the PNGs")
    args = parser.parse_args()
    render(args.outdir, args.keep_pdf)


if __name__ == "__main__":
    main()
