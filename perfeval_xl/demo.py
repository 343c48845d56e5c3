"""The demo: the main job on built-in data, so a fresh install shows what the tool does.

Until `collect` exists, the main job is issuing templates: one pre-filled workbook per project of
the seed form (区委宣传部, 2022), for every built-in form, plus the roster they came from.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .generate import DEFAULT_PASSWORD, write_roster_templates
from .samples import sample_roster_path
from .spec import builtin_forms, load_spec


def run_demo(outdir: Path | str, *, password: str = DEFAULT_PASSWORD) -> list[Path]:
    """Write `roster.csv` and `<form>/<dept>_<unit>_<project>.xlsx` for every built-in form.

    Returns:
        The paths written, roster first.
    """
    outdir = Path(outdir)
    written: list[Path] = []
    with sample_roster_path() as roster:
        for form in builtin_forms():
            written += write_roster_templates(
                roster, outdir / form, load_spec(form), password=password
            )
        outdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(roster, outdir / "roster.csv")
    return [outdir / "roster.csv", *written]
