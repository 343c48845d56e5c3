"""The upload benchmark keeps working: a small burst against the real server prints its table,
the target and the machine, every answer and file checked (the script exits 1 otherwise). No
timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_serve.py"


def test_serve_benchmark_prints_its_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--n", "4", "--concurrency", "4", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "target: p95 ≤ 1 s for one workbook on 2 cores" in out
    assert re.search(r"\d+ CPUs .*Python 3\.\d+", out)
    assert "| N uploads | concurrency | wall time | throughput | p50 | p95 | max |" in out
    s = r"[\d.]+ s"
    assert re.search(rf"\| 4 \| 4 \| {s} \| [\d.]+ uploads/s \| {s} \| {s} \| {s} \|", out), out
    assert "4 answers HTTP 200 naming the unit's project, 4 accepted rows in the ledger" in out
