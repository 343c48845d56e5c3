"""Run headless LibreOffice for tests: a private profile per call, a time limit, no leftovers.

Tests that need LibreOffice skip where it is missing, except in CI (CI=true), where a missing
`soffice` is a failure: CI installs it, and a silently skipped round trip would test nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

TIMEOUT = 180


def soffice_or_skip() -> str:
    """Path of `soffice`; skips the test locally, fails it in CI, where it is missing."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("soffice not found, but CI must run the LibreOffice tests (see .ci/run)")
    pytest.skip("LibreOffice (soffice) is not installed; apt-get install libreoffice-calc")


def tool_or_skip(name: str, package: str = "poppler-utils") -> str:
    """Path of a helper program (pdfinfo, pdftoppm …): skipped locally, a failure in CI."""
    exe = shutil.which(name)
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail(f"{name} not found, but CI installs {package}")
    pytest.skip(f"{name} ({package}) is not installed")


def convert(files: list[Path], to: str, outdir: Path, profile: Path) -> list[Path]:
    """Convert `files` with `soffice --convert-to to`; return the outputs, in order.

    A conversion that does not finish within TIMEOUT seconds kills the whole process group and
    fails the test with what the program printed.
    """
    exe = soffice_or_skip()
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        exe,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        to,
        "--outdir",
        str(outdir),
        *map(str, files),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"soffice timed out after {TIMEOUT}s: {out.decode(errors='replace')}")
    ext = to.split(":")[0]
    results = [outdir / f"{Path(f).stem}.{ext}" for f in files]
    missing = [p for p in results if not p.exists()]
    if proc.returncode != 0 or missing:
        pytest.fail(
            f"soffice exit {proc.returncode}, missing {missing}: {out.decode(errors='replace')}"
        )
    return results
