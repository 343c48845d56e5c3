"""perfeval-xl: 项目支出绩效自评 through Excel.

The data flow is spec -> template -> filled workbook -> record -> findings + scores -> summary.
This package is a library first; `perfeval_xl.cli` is a thin command line over it.
"""

from . import _xmlsetup  # noqa: F401  (before openpyxl is imported: see there)
from ._version import __version__
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
from .findings import RULES, Finding
from .forms.layout import contract_names, make_layout
from .forms.spec import (
    DEFAULT_FORM,
    FormSet,
    Spec,
    builtin_forms,
    load_forms,
    load_spec,
    parse_spec,
)
from .intake.read import ReadResult, read_workbook
from .intake.record import Record
from .office.feedback import FeedbackResult, write_feedback
from .office.outbox import write_roster_templates
from .office.roster import load_roster, read_roster
from .review.checks import CheckResult, check_record, check_workbook
from .samples import sample_roster_path, seed_projects
from .template.generate import (
    DEFAULT_PASSWORD,
    build_template,
    issuable_fields,
    write_template,
)

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
