"""perfeval-xl: 项目支出绩效自评 through Excel.

The data flow is spec -> template -> filled workbook -> record -> findings + scores -> summary.
This package is a library first; `perfeval_xl.cli` is a thin command line over it.
"""

from importlib import import_module
from typing import Any

from . import _xmlsetup  # noqa: F401  (before openpyxl is imported: see there)
from ._version import __version__
from .errors import (
    OutputError,
    PerfevalError,
    RosterError,
    RosterErrors,
    SpecError,
    SpecErrors,
    Text,
)

#: The rest of the public API, imported when first used (PEP 562): `perfeval-xl --help`,
#: `rules` or `serve` need not load openpyxl, xlsxwriter and python-docx first (0.7 s).
_LAZY = {
    "run_demo": ".demo",
    "RULES": ".findings",
    "Finding": ".findings",
    "contract_names": ".forms.layout",
    "make_layout": ".forms.layout",
    "DEFAULT_FORM": ".forms.spec",
    "FormSet": ".forms.spec",
    "Spec": ".forms.spec",
    "builtin_forms": ".forms.spec",
    "load_forms": ".forms.spec",
    "load_spec": ".forms.spec",
    "parse_spec": ".forms.spec",
    "ReadResult": ".intake.read",
    "read_workbook": ".intake.read",
    "Record": ".intake.record",
    "FeedbackResult": ".office.feedback",
    "write_feedback": ".office.feedback",
    "write_roster_templates": ".office.outbox",
    "load_roster": ".office.roster",
    "read_roster": ".office.roster",
    "CheckResult": ".review.checks",
    "check_record": ".review.checks",
    "check_workbook": ".review.checks",
    "sample_roster_path": ".samples",
    "seed_projects": ".samples",
    "DEFAULT_PASSWORD": ".template.generate",
    "build_template": ".template.generate",
    "issuable_fields": ".template.generate",
    "write_template": ".template.generate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
