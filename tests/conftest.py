"""Shared fixtures: workbooks are built with the project's own generator, never committed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from lo_uno import Office, group_alive

from perfeval_xl import build_template, builtin_forms, load_spec

#: The project forms (项目支出绩效自评表). The department form (部门整体, department-2023) has no
#: funds, targets, statuses or indicator rows to type: the fixtures' filled values do not apply
#: to it, and tests/test_department_form.py covers it end to end.
#: The store's key (`store.cache_key`) lives in a folder of the test run's own, never in the
#: home folder of whoever runs the tests; the commands the tests start inherit it.
os.environ.setdefault("PERFEVAL_XL_HOME", tempfile.mkdtemp(prefix="perfeval-home-"))

FORMS = [f for f in builtin_forms() if not load_spec(f).department]
DEPARTMENT_FORMS = [f for f in builtin_forms() if load_spec(f).department]


@pytest.fixture(params=FORMS)
def form_id(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def lo_profile(tmp_path: Path) -> Path:
    """A private LibreOffice profile, so parallel or repeated runs never share state."""
    return tmp_path / "lo-profile"


@pytest.fixture(scope="session")
def templates() -> dict[str, bytes]:
    """One blank template per built-in form."""
    return {f: build_template(load_spec(f)) for f in FORMS + DEPARTMENT_FORMS}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory):
    """One headless soffice for a test module (tests/lo_uno.py); its whole process group is
    killed at the end. Skips locally where soffice or python3-uno is missing, fails in CI."""
    office = Office(tmp_path_factory.mktemp("office")).start()
    pgid = office.pgid
    yield office
    office.stop()
    assert not group_alive(pgid), "soffice left running"
