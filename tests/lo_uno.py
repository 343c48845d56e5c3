"""One headless LibreOffice for a test module, driven through UNO by tests/uno_calc.py.

`Office` starts `soffice --accept=pipe,…` with a private profile in its own process group. Each
`run()` passes a batch of jobs as JSON to `/usr/bin/python3 tests/uno_calc.py` (python3-uno is
built for Debian's Python, not for the virtualenv), which types into the workbooks and saves
them through LibreOffice. When an answer does not come within the time limit, the script and
the whole soffice process group are killed and the test fails with what soffice printed; a job
LibreOffice could not do fails the test with LibreOffice's own message. `stop()` (the fixture's
teardown) kills the group too: no soffice is ever left running.

Where soffice or python3-uno is missing the tests skip, except in CI (CI=true), where that is a
failure (the same rule as tests/soffice.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from soffice import soffice_or_skip

UNO_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("uno_calc.py")
#: Seconds for soffice to start and answer, and for one batch of jobs.
START_TIMEOUT = 60
RUN_TIMEOUT = 120


def uno_python_or_skip() -> str:
    """Debian's Python with python3-uno; skips locally, fails in CI, where it is missing."""
    try:
        ok = (
            subprocess.run(
                [UNO_PYTHON, "-c", "import uno"], capture_output=True, timeout=30
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if ok:
        return UNO_PYTHON
    if os.environ.get("CI"):
        pytest.fail(f"{UNO_PYTHON} cannot import uno, but CI installs python3-uno (see .ci/run)")
    pytest.skip(f"python3-uno is not installed for {UNO_PYTHON}; apt-get install python3-uno")


def soffice_version() -> str:
    """`soffice --version`'s first line, e.g. "LibreOffice 7.4.7.2 40(Build:2)"."""
    out = subprocess.run(
        [soffice_or_skip(), "--version"], capture_output=True, text=True, timeout=60
    ).stdout
    return out.strip().splitlines()[0] if out.strip() else "unknown"


class Office:
    """A headless soffice with a private profile, listening on a private pipe."""

    def __init__(self, workdir: Path) -> None:
        self.exe = soffice_or_skip()
        self.python = uno_python_or_skip()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.pipe = f"perfeval_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.log = workdir / "soffice.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"uno:pipe,name={self.pipe};urp;StarOffice.ComponentContext"

    def start(self) -> Office:
        profile = (self.workdir / "profile").resolve().as_uri()
        cmd = [
            self.exe,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            "--nolockcheck",
            f"--accept=pipe,name={self.pipe};urp;StarOffice.ComponentContext",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def run(self, jobs: list[dict], timeout: float = RUN_TIMEOUT) -> list[dict]:
        """Run jobs (see tests/uno_calc.py); each job's `info`. Fails the test on any error."""
        results = self.answers(jobs, timeout)
        for job, result in zip(jobs, results, strict=True):
            if not result["ok"]:
                pytest.fail(
                    f"LibreOffice failed on {job['open']}: {result['error']}; "
                    f"soffice said: {self.output()!r}"
                )
        return [r["info"] for r in results]

    def answers(self, jobs: list[dict], timeout: float = RUN_TIMEOUT) -> list[dict]:
        """Run jobs; each job's answer, failed ones included ({"ok": False, "error": …})."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        request = {"connect": self.url, "connect_timeout": START_TIMEOUT, "jobs": jobs}
        proc = subprocess.Popen(
            [self.python, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(json.dumps(request).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            self.stop()
            pytest.fail(
                f"LibreOffice did not finish within {timeout:g}s; soffice killed. "
                f"soffice said: {self.output()!r}; uno_calc said: {err.decode(errors='replace')!r}"
            )
        if proc.returncode != 0:
            pytest.fail(
                f"uno_calc.py exit {proc.returncode}: {err.decode(errors='replace')}; "
                f"soffice said: {self.output()!r}"
            )
        return json.loads(out)["results"]

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace").strip()
        except OSError:
            return ""

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        """Kill soffice's whole process group (soffice is a script that starts oosplash and
        soffice.bin) and wait until none of them is left."""
        if self.proc is None:
            return
        _kill_group(self.proc)
        self.proc = None


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` still exists (zombies not yet reaped count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
