"""The benchmark script keeps working (it is how the README's figures are made): a small run
prints the tables, the ratio and the memory growth line. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_collect.py"


def run(*args: str, stderr: list[str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    if stderr is not None:
        stderr.append(done.stderr)
    return done.stdout


def test_collect_benchmark_prints_both_sizes_the_ratio_and_the_growth(tmp_path: Path) -> None:
    kept = tmp_path / "inboxes"
    kept.mkdir()
    said: list[str] = []
    out = run("--n", "30,60", "--repeat", "1", "--keep-inboxes", str(kept), stderr=said)
    assert "generated 30 workbooks" in said[0] and "generated 60 workbooks" in said[0]
    for n in ("30", "60"):
        for way in (
            r"`perfeval-xl collect`, first run",
            r"`perfeval-xl collect`, second run",
            r"calamine\+pandas script .*\d+ workbooks, [\d,]+ indicator rows read",
            r"unzip floor .*\d+ workbooks",
            r"naive openpyxl loop",
        ):
            assert re.search(rf"\| {n} \| {way}.*\| [\d.]+ s \| [\d,]+ \| \d+ MB \|", out), way
        for ratio in ("first collect vs calamine", "first collect vs unzip floor", "second"):
            assert re.search(rf"\| {n} \| ratio: {ratio}.*\| \| \*\*[\d.]+×\*\* \| \|", out)
    assert re.search(r"grew -?\d+ MB from N = 30 to N = 60: -?[\d.]+ KB a workbook\.", out)
    assert re.search(r"One reading with its record in memory takes [\d.]+ KB; from 1,000", out)
    assert "--n 30,60 --repeat 1 --what collect" in out
    # the kept inbox is used again, and only when this script made it
    assert len(list((kept / "inbox-30").glob("*.xlsx"))) == 30
    again = ("--n", "30", "--repeat", "1", "--naive-repeat", "0", "--keep-inboxes", str(kept))
    run(*again, stderr=said)
    assert "using the 30 workbooks kept" in said[1] and "generated" not in said[1]
    (kept / "inbox-30.done").write_text("another version")
    run(*again, stderr=said)
    assert "generated 30 workbooks" in said[2]


def test_template_benchmark_writes_every_workbook():
    out = run("--n", "20", "--repeat", "1", "--what", "template")
    assert "`perfeval-xl template --roster` (20 written, exit 0)" in out


def test_feedback_benchmark_returns_every_flawed_workbook_and_prints_the_ratio():
    out = run("--n", "12", "--repeat", "1", "--what", "feedback")
    assert re.search(
        r"\| `collect --roster --feedback DIR` \(12 returned workbooks, \d+ \.zip\) \|", out
    )
    assert re.search(r"\| the feedback step \(difference\) \| -?[\d.]+ s \| [\d,-]+ \|", out)
    assert re.search(r"\| feedback step ÷ templates, per workbook \| \| \*\*-?[\d.]+×\*\* \|", out)
    assert "--n 12 --repeat 1 --what feedback" in out
