"""The demo: the whole workflow on built-in data, so a fresh install shows what the tool does.

roster → pre-filled templates (the office) → filled copies with the seed's own figures and
indicators (the units) → collect → department summary and the workbooks returned to the units,
marked, and the annex the department publishes (附件2.docx, `publish`). The seed is the 2022
form of 攀枝花市仁和区 (区委宣传部, three projects), filled in exactly as the paper has it,
including what a reviewer would object to.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fileio import write_output
from .forms.spec import load_spec
from .office.collect import Collection, collect
from .office.feedback import FeedbackResult, write_feedback
from .office.outbox import write_roster_templates
from .samples import sample_roster_path, seed_projects
from .template.generate import DEFAULT_PASSWORD

DEMO_FORM = "sichuan-2022"
SUMMARY_NAME = "2022汇总.xlsx"
#: The published annex (`publish`): the seed document is this annex.
ANNEX_NAME = "附件2.docx"
#: The folder of the workbooks returned to the units (`feedback`).
RETURNED_NAME = "退回"
#: The office's contact line on the demo's 审核意见 sheets.
DEMO_CONTACT = "仁和区财政局绩效管理股（演示）0812-0000000"


@dataclass
class DemoResult:
    """What the demo wrote, and the collection it summarised."""

    roster: Path
    templates: list[Path]
    filled: list[Path]
    summary: Path
    collection: Collection
    #: what `feedback.write_feedback` wrote into `outdir/退回`
    returned: FeedbackResult
    #: the published annex (`publish.write_annex`), `outdir/附件2.docx`
    annex: Path


def fill_template(data: bytes, values: dict[str, Any], indicators: list[dict[str, Any]]) -> bytes:
    """Type values into a template by contract name, as a unit would (openpyxl).

    Only the demo fills workbooks: units fill them in Excel, WPS or LibreOffice.
    """
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))

    def cell(name: str, offset: int = 0):
        sheet, ref = next(wb.defined_names[name].destinations)
        return wb[sheet][ref.replace("$", "").split(":")[0]].offset(row=offset)

    for name, value in values.items():
        cell(f"pe_{name}").value = value
    for i, row in enumerate(indicators):
        for key, value in row.items():
            cell(f"pe_ind_{key}", i).value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run_demo(outdir: Path | str, *, password: str = DEFAULT_PASSWORD) -> DemoResult:
    """Write `roster.csv`, `outbox/` (templates), `inbox/` (filled), the summary, `退回/` (the
    workbooks returned to the units) and `附件2.docx` (the published annex) in `outdir`.

    The annex is published with `include_errors`: each of the seed's three projects has two
    errors, as the paper has them (E403: 社会效益指标 under the merged 完成指标 cell; E405: the
    成本 indicator 未完成 without a 偏差原因), and the seed document is that very annex, published
    with them."""
    from .office.publish import write_annex
    from .office.summary import write_summary

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    spec = load_spec(DEMO_FORM)
    roster = outdir / "roster.csv"
    with sample_roster_path() as source:
        shutil.copyfile(source, roster)
    templates = write_roster_templates(roster, outdir / "outbox", spec, password=password)
    inbox = outdir / "inbox"
    inbox.mkdir(exist_ok=True)
    filled = []
    for template, project in zip(templates, seed_projects(), strict=True):
        values = {
            "fund_fiscal_spent": project["fund_fiscal_spent"],
            "goal_actual": project["goal_actual"],
        }
        data = fill_template(template.read_bytes(), values, project["indicators"])
        target = inbox / template.name
        write_output(target, data)
        filled.append(target)
    coll = collect(inbox, roster=roster, roster_spec=spec)
    summary = write_summary(coll, outdir / SUMMARY_NAME)
    returned = write_feedback(
        coll, outdir / RETURNED_NAME, roster_spec=spec, contact=DEMO_CONTACT, password=password
    )
    annex = write_annex(coll, outdir / ANNEX_NAME, include_errors=True).path
    return DemoResult(roster, templates, filled, summary, coll, returned, annex)
