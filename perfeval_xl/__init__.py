"""perfeval-xl: 项目支出绩效自评 through Excel.

The data flow is spec -> template -> filled workbook -> record -> findings + scores -> summary.
This package is a library first; `perfeval_xl.cli` is a thin command line over it.
"""

from . import _xmlsetup  # noqa: F401  (before openpyxl is imported: see there)
from ._version import __version__
from .checks import CheckResult, check_record, check_workbook
from .demo import run_demo
from .errors import (
    OutputError,
    PerfevalError,
    RosterError,
    RosterErrors,
    SpecError,
    SpecErrors,
    Text,
)
from .feedback import FeedbackResult, write_feedback
from .findings import RULES, Finding
from .generate import (
    DEFAULT_PASSWORD,
    build_template,
    issuable_fields,
    write_roster_templates,
    write_template,
)
from .layout import contract_names, make_layout
from .read import ReadResult, read_workbook
from .record import Record
from .roster import load_roster, read_roster
from .samples import sample_roster_path, seed_projects
from .spec import DEFAULT_FORM, FormSet, Spec, builtin_forms, load_forms, load_spec, parse_spec

__all__ = [
    "DEFAULT_FORM",
    "DEFAULT_PASSWORD",
    "RULES",
    "CheckResult",
    "FeedbackResult",
    "Finding",
    "FormSet",
    "OutputError",
    "PerfevalError",
    "ReadResult",
    "Record",
    "RosterError",
    "RosterErrors",
    "Spec",
    "SpecError",
    "SpecErrors",
    "Text",
    "__version__",
    "build_template",
    "builtin_forms",
    "check_record",
    "check_workbook",
    "contract_names",
    "issuable_fields",
    "load_forms",
    "load_roster",
    "load_spec",
    "make_layout",
    "parse_spec",
    "read_roster",
    "read_workbook",
    "run_demo",
    "sample_roster_path",
    "seed_projects",
    "write_feedback",
    "write_roster_templates",
    "write_template",
]
