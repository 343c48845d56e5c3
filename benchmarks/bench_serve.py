"""Benchmark `perfeval-xl serve` under a burst of uploads: every unit uploads at once.

    python benchmarks/bench_serve.py [--n N] [--concurrency C] [--repeat R] [--solo K]

Builds, in a temporary folder, a roster of N 实施单位 with one project each, and one real
filled workbook per unit: the project's pre-filled template (`build_template` with its roster
row), its input cells filled with openpyxl, clean (it passes every check). Then, R times, each
on a new workspace:

- starts the real server as its own process (`python -m perfeval_xl serve WS --roster R
  --port P`, worker processes on every core, as an office runs it) and waits until it answers;
- opens each unit's page (its link from WS/links.csv) for the page's CSRF token: not timed;
- fires the N uploads, one per unit, each from its own link, at most C at a time (httpx,
  asyncio): each is timed from its request's start to its whole answer, and the burst from the
  first request's start to the last answer;
- checks every answer (HTTP 200, "已收下，通过检查", the unit's project named), then that the
  ledger (WS/uploads.sqlite) has N accepted rows, one per unit, and the inbox N files with the
  bytes sent (SHA-256);
- times K more uploads one at a time (the first unit's, again; the server warm and idle): what
  one unit waits when nobody else uploads;
- stops the server (SIGTERM).

Prints the medians over the R runs of each run's figures as one Markdown table (wall time of
the burst, uploads/s, latency p50 / p95 / max: nearest rank), with the machine and the target.
Any wrong answer or missing file ends it with exit 1. Timing is printed, never asserted.
Needs the `web` extra and httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import math
import os
import platform
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_collect import fill_template  # this folder: the same filling as its inboxes

from perfeval_xl import DEFAULT_FORM, build_template, load_spec
from perfeval_xl.office.roster import load_roster

TARGET = "target: p95 ≤ 1 s for one workbook on 2 cores"

ROSTER_COLUMNS = (
    "dept_code",
    "dept_name",
    "unit_name",
    "project_name",
    "project_code",
    "year",
    "fund_fiscal_budget",
)

#: What each unit types into its template (the issued values come from the roster).
TYPED = {
    "goal_expected": "与主流媒体合作宣传本地发展成就",
    "goal_actual": "各媒体发布任务均已完成",
    "fund_fiscal_spent": 95,
}
INDICATORS = [
    {
        "level1": "产出指标",
        "level2": "数量指标",
        "name": "媒体报道",
        "target": "≥12次",
        "actual": "15次",
        "status": "已完成",
        "weight": 20,
        "score": 20,
    },
    {
        "level1": "产出指标",
        "level2": "质量指标",
        "name": "发布合格率",
        "target": "≥95%",
        "actual": "100%",
        "status": "已完成",
        "weight": 20,
        "score": 20,
    },
    {
        "level1": "产出指标",
        "level2": "成本指标",
        "name": "合作经费",
        "target": "≤100万元",
        "actual": "95万元",
        "status": "已完成",
        "weight": 10,
        "score": 10,
    },
    {
        "level1": "效益指标",
        "level2": "社会效益指标",
        "name": "城市形象",
        "target": "定性：明显提升",
        "actual": "明显提升",
        "status": "已完成",
        "weight": 30,
        "score": 30,
    },
    {
        "level1": "满意度指标",
        "level2": "服务对象满意度指标",
        "name": "公众满意度",
        "target": "≥90%",
        "actual": "95%",
        "status": "已完成",
        "weight": 10,
        "score": 10,
    },
]

#: Seconds the server may take to answer after it is started, and an upload to be answered.
START_TIMEOUT = 60.0
UPLOAD_TIMEOUT = 300.0


class Failed(Exception):
    """A wrong answer, a missing file or a server that did not start: the run is not valid."""


@dataclass
class Unit:
    dept_code: str
    unit_name: str
    project_name: str
    workbook: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.workbook).hexdigest()


@dataclass
class Run:
    wall: float
    latencies: list[float]
    solo: list[float]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall


# -- the units and their workbooks ------------------------------------------------------------
def write_roster(path: Path, n: int) -> None:
    """N units in N // 10 + 1 departments, one project each."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(ROSTER_COLUMNS)
        for i in range(n):
            dept = 109101 + i // 10
            out.writerow(
                [
                    dept,
                    f"测试主管部门{dept}",
                    f"测试实施单位{i + 1:03d}",
                    f"2022年测试项目{i + 1:03d}",
                    f"P-2022-{i + 1:03d}",
                    2022,
                    100,
                ]
            )


def filled_workbook(values: dict) -> bytes:
    """The project's pre-filled template with its input cells typed in by contract name."""
    return fill_template(build_template(load_spec(), values), DEFAULT_FORM, TYPED, INDICATORS)


def make_units(roster: Path) -> list[Unit]:
    """Each roster row's unit with its filled workbook (built on every core)."""
    rows = load_roster(roster, load_spec()).rows
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        books = list(pool.map(filled_workbook, [r.values for r in rows]))
    return [
        Unit(
            str(r.values["dept_code"]),
            str(r.values["unit_name"]),
            str(r.values["project_name"]),
            book,
        )
        for r, book in zip(rows, books, strict=True)
    ]


# -- the server ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ws: Path, roster: Path, cwd: Path) -> tuple[subprocess.Popen, str]:
    """The real server on a free port, in a process group of its own: (process, base URL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PERFEVAL_XL_FORMS"}
    log = open(cwd / f"serve-{port}.log", "wb")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfeval_xl", "serve", str(ws), "--roster", str(roster),
         "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = (cwd / f"serve-{port}.log").read_text(errors="replace")
            raise Failed(f"the server ended at start (exit {proc.returncode}):\n{text}")
        try:
            if httpx.get(base + "/", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    stop_server(proc)
    raise Failed(f"the server did not answer within {START_TIMEOUT:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def read_links(ws: Path) -> dict[tuple[str, str], str]:
    """(主管部门代码, 实施单位) -> the unit's path on the server (/u/<token>)."""
    text = (ws / "links.csv").read_text(encoding="utf-8-sig")
    return {
        (r["主管部门代码"], r["实施单位"]): "/u/" + r["link"].rstrip("/").rsplit("/", 1)[1]
        for r in csv.DictReader(io.StringIO(text))
    }


# -- one run -------------------------------------------------------------------------------------
async def _upload(client: httpx.AsyncClient, path: str, csrf: str, unit: Unit) -> httpx.Response:
    return await client.post(
        f"{path}/upload",
        data={"csrf": csrf},
        files={"file": (f"{unit.project_name}.xlsx", unit.workbook, "application/octet-stream")},
    )


def _check_answer(got: httpx.Response, unit: Unit) -> None:
    if got.status_code != 200:
        raise Failed(f"{unit.unit_name}: HTTP {got.status_code}\n{got.text[:2000]}")
    for text in ("已收下，通过检查", f"项目「{unit.project_name}」", unit.unit_name):
        if text not in got.text:
            raise Failed(f"{unit.unit_name}: the answer lacks {text!r}\n{got.text[:2000]}")


async def _burst(
    base: str, units: list[Unit], links: dict, concurrency: int
) -> tuple[Run, list[tuple[str, str]]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=UPLOAD_TIMEOUT) as client:
        tokens = []
        for unit in units:  # each unit's page, for its CSRF token: not timed
            path = links[(unit.dept_code, unit.unit_name)]
            page = await client.get(path)
            found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            if page.status_code != 200 or found is None:
                raise Failed(f"{unit.unit_name}: its page answered {page.status_code}")
            tokens.append((path, found.group(1)))

        gate = asyncio.Semaphore(concurrency)

        async def one(unit: Unit, path: str, csrf: str) -> float:
            async with gate:
                t = time.perf_counter()
                got = await _upload(client, path, csrf, unit)
                took = time.perf_counter() - t
            _check_answer(got, unit)
            return took

        t0 = time.perf_counter()
        latencies = await asyncio.gather(
            *(one(u, path, csrf) for u, (path, csrf) in zip(units, tokens, strict=True))
        )
        wall = time.perf_counter() - t0
        return Run(wall, list(latencies), []), tokens


async def _solo(base: str, unit: Unit, path: str, csrf: str, k: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=UPLOAD_TIMEOUT) as client:
        for _ in range(k):
            t = time.perf_counter()
            got = await _upload(client, path, csrf, unit)
            out.append(time.perf_counter() - t)
            _check_answer(got, unit)
    return out


def check_workspace(ws: Path, units: list[Unit]) -> None:
    """N accepted ledger rows, one per unit, each with its file in the inbox, bytes as sent."""
    db = sqlite3.connect(f"file:{ws / 'uploads.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT dept_code, unit_name, stored_path, sha256 FROM uploads WHERE accepted = 1"
        ).fetchall()
        total = db.execute("SELECT count(*) FROM uploads").fetchone()[0]
    finally:
        db.close()
    if len(rows) != len(units) or total != len(units):
        raise Failed(f"the ledger has {len(rows)} accepted rows of {total}, not {len(units)}")
    want = {(u.dept_code, u.unit_name): u.sha256 for u in units}
    got = {(d, n): s for d, n, _, s in rows}
    if got != want:
        raise Failed("the ledger's units or SHA-256 differ from the uploads sent")
    files = [p for p in (ws / "inbox").rglob("*") if p.is_file()]
    if len(files) != len(units):
        raise Failed(f"the inbox has {len(files)} files, not {len(units)}")
    for _, _, stored, sha in rows:
        if hashlib.sha256((ws / stored).read_bytes()).hexdigest() != sha:
            raise Failed(f"{stored}: not the bytes sent")


def one_run(units: list[Unit], roster: Path, root: Path, i: int, args) -> Run:
    ws = root / f"ws-{i}"
    proc, base = start_server(ws, roster, root)
    try:
        links = read_links(ws)
        run, tokens = asyncio.run(_burst(base, units, links, args.concurrency))
        check_workspace(ws, units)
        if args.solo:
            run.solo = asyncio.run(_solo(base, units[0], *tokens[0], args.solo))
    finally:
        stop_server(proc)
    return run


# -- the report ----------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs (os.cpu_count), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def checks_alone(units: list[Unit], root: Path) -> float:
    """The baseline: the same workbooks checked in this process, one after another, by the
    function a server's worker runs (`collect.check_inputs`): no HTTP, no saving, one core."""
    from datetime import datetime

    from perfeval_xl.office.collect import Item, check_inputs

    folder = root / "alone"
    folder.mkdir(exist_ok=True)
    items = []
    for i, unit in enumerate(units):
        path = folder / f"{i}.xlsx"
        path.write_bytes(unit.workbook)
        items.append(Item(path.name, str(path), None, datetime.now()))
    check_inputs(items[0])  # the forms loaded, as in a warm worker
    t = time.perf_counter()
    for item in items:
        check_inputs(item)
    return time.perf_counter() - t


def report(runs: list[Run], args, built: float, alone: list[float]) -> None:
    med = statistics.median
    print(f"\n{TARGET}")
    print(f"machine: {machine()}")
    print(
        f"workbooks: {args.n} filled, one per unit, {args.size_kb:.0f} KB each "
        f"(built in {built:.1f} s); medians of {len(runs)} run(s), each on a new workspace "
        f"and a newly started server\n"
    )
    print("| N uploads | concurrency | wall time | throughput | p50 | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.n} | {args.concurrency} | {med(r.wall for r in runs):.2f} s "
        f"| {med(r.throughput for r in runs):.1f} uploads/s "
        f"| {med(percentile(r.latencies, 50) for r in runs):.2f} s "
        f"| {med(percentile(r.latencies, 95) for r in runs):.2f} s "
        f"| {med(max(r.latencies) for r in runs):.2f} s |"
    )
    if args.solo:
        solo = [r.solo for r in runs]
        print(
            f"| {args.solo} one at a time (after the burst) | 1 "
            f"| {med(sum(s) for s in solo):.2f} s "
            f"| {med(len(s) / sum(s) for s in solo):.1f} uploads/s "
            f"| {med(percentile(s, 50) for s in solo):.2f} s "
            f"| {med(percentile(s, 95) for s in solo):.2f} s "
            f"| {med(max(s) for s in solo):.2f} s |"
        )
    base = med(alone)
    print(
        f"| {args.n} checked in one process, one after another (baseline: `check_inputs`, "
        f"no HTTP, no saving) | 1 | {base:.2f} s | {args.n / base:.1f} uploads/s | | | |"
    )
    print(
        f"\nratio: burst wall time ÷ baseline = **{med(r.wall for r in runs) / base:.2f}×** "
        "(what the web adds, HTTP, multipart, fsync, ledger and page, less what checking on "
        "every core saves)"
    )
    print(
        f"\nchecked in every run: {args.n} answers HTTP 200 naming the unit's project, "
        f"{args.n} accepted rows in the ledger, {args.n} files in the inbox with the bytes sent"
    )
    print(
        f"rerun: python benchmarks/bench_serve.py --n {args.n} "
        f"--concurrency {args.concurrency} --repeat {args.repeat} --solo {args.solo}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="units, one upload each (default 50)")
    ap.add_argument("--concurrency", type=int, default=50, help="uploads at a time (default 50)")
    ap.add_argument("--repeat", type=int, default=3, help="runs; medians printed (default 3)")
    ap.add_argument(
        "--solo", type=int, default=5, help="uploads timed one at a time after the burst (5)"
    )
    args = ap.parse_args()
    if args.n < 1 or args.concurrency < 1 or args.repeat < 1 or args.solo < 0:
        ap.error("--n, --concurrency and --repeat must be at least 1, --solo at least 0")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp)
        roster = root / "名册.csv"
        write_roster(roster, args.n)
        t = time.perf_counter()
        units = make_units(roster)
        built = time.perf_counter() - t
        args.size_kb = statistics.mean(len(u.workbook) for u in units) / 1024
        print(f"built {args.n} workbooks in {built:.1f} s", file=sys.stderr)
        runs = []
        try:
            for i in range(args.repeat):
                runs.append(one_run(units, roster, root, i, args))
                r = runs[-1]
                print(
                    f"run {i + 1}: {r.wall:.2f} s, p95 {percentile(r.latencies, 95):.2f} s",
                    file=sys.stderr,
                )
        except Failed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            sys.exit(1)
        alone = [checks_alone(units, root) for _ in range(args.repeat)]
    report(runs, args, built, alone)


if __name__ == "__main__":
    main()
