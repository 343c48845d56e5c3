"""Benchmark `perfeval-xl collect` (and `template --roster`) against what users write instead.

    python benchmarks/bench_collect.py [--n N[,N…]] [--repeat R] [--naive-repeat R]
                                       [--what collect|template|feedback]

For each N, generates N filled workbooks once into a temporary folder (national-2020 mostly,
5–20 indicators, about 30 % with one typical error, one in ten saved by LibreOffice, 1 % bad
files), then times, each as its own process and each right after the inbox was read once (`warm`: the
same page cache for every way):

- `collect` end to end (summary written), a first run: the summary and any store beside it
  (`summary-N.sqlite` and its -wal, -shm, .lock) removed before, so nothing is known yet;
- `collect` again over the unchanged inbox right after, nothing removed: what a clerk who
  collects twice a day waits the second time (the store, once there, makes it fast);
- the script a user would write with python-calamine and pandas (CALAMINE): every `pe_*` name's
  cells into two DataFrames, one .xlsx; it checks nothing, so it is what collect's checks and
  summary are weighed against;
- the unzip floor (FLOOR): every member of every workbook inflated, in 2 processes, nothing
  else; no reader of .xlsx can be faster (with as many processes: collect uses every core);
- the naive openpyxl loop (NAIVE: `load_workbook`, the contract names' cells), unless
  `--naive-repeat 0` (it takes 18 min at N = 10,000).

Prints the medians as one Markdown table: wall time, workbooks/s and the peak resident set of
the largest process of each run (collect's pool workers included, as
`getrusage(RUSAGE_CHILDREN)` sees them), with the ratios: first collect vs calamine+pandas and
vs the unzip floor, second collect vs first. With several N, also how much collect's first-run
peak grew per workbook, beside what one record takes in memory as collect keeps it.

`--what feedback` fills every workbook with one of the typical errors, then times `collect`
with a roster, and the same with `--feedback DIR`, in the same run: the difference is what
writing the returned workbooks (and the lists and .zip files) costs, beside `template --roster`
writing as many blank templates.

Generating an inbox takes about 35 s (the 200 distinct fills), then about 5 s per 1,000
workbooks: N = 100,000 in about 10 minutes and 2.7 GB of temporary space; `--keep-inboxes DIR`
keeps them there for the next run.
The standard library and the project; `--what collect` also needs the `bench` extra
(python-calamine and pandas) for its calamine+pandas way.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Runs a command, then prints its wall time and the peak RSS of its largest process (KiB), on
#: the last line, after what the command printed (the baselines print what they read).
WRAPPER = r"""
import resource, subprocess, sys, time, json
t = time.perf_counter()
rc = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - t
print("\n" + json.dumps({"rc": rc, "wall": wall,
                         "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

#: The naive baseline: openpyxl's normal load, then every contract name's cells.
NAIVE = r"""
import io, sys, warnings
from pathlib import Path
import openpyxl
warnings.simplefilter("ignore")
n = 0
for path in sorted(Path(sys.argv[1]).iterdir()):
    try:
        wb = openpyxl.load_workbook(path)
    except Exception:
        continue
    values = {}
    for name, dn in wb.defined_names.items():
        if not name.startswith("pe_"):
            continue
        for sheet, ref in dn.destinations:
            cells = wb[sheet][ref.replace("$", "")]
            values[name] = cells
    wb.close()
    n += 1
print(n)
"""

#: What a user would write instead of collect: python-calamine reads the cells, but has no
#: defined names, so they come from xl/workbook.xml by a regular expression; one row per
#: workbook (the single-cell names), one per indicator (the `pe_ind_*` names are column ranges,
#: one cell per indicator row, kept when not empty), two DataFrames into one .xlsx by pandas'
#: default engine, the indicators on as many sheets as Excel's row limit needs (at N = 100,000
#: they are 1.1 million). Files that fail are skipped, nothing is checked. Prints the workbooks
#: and the indicator rows read, so that the harness can tell that it really read them.
CALAMINE = r"""
import re, sys, zipfile
from pathlib import Path
import pandas as pd
from python_calamine import CalamineWorkbook

NAME = re.compile(r'<definedName\b[^>]*\bname="(pe_[^"]+)"[^>]*>([^<]+)</definedName>')
REF = re.compile(r"^'?(.+?)'?!\$([A-Z]+)\$(\d+)(?::\$([A-Z]+)\$(\d+))?$")


def column(letters):
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def cell(grid, row, col):
    return grid[row][col] if row < len(grid) and col < len(grid[row]) else ""


books, indicators = [], []
for path in sorted(Path(sys.argv[1]).glob("*.xlsx")):
    try:
        with zipfile.ZipFile(path) as z:
            names = NAME.findall(z.read("xl/workbook.xml").decode("utf-8"))
        book, columns, grids = {"file": path.name}, {}, {}
        with CalamineWorkbook.from_path(str(path)) as wb:
            for name, ref in names:
                m = REF.match(ref.strip())
                if m is None:
                    continue
                sheet, c1, r1, c2, r2 = m.groups()
                if sheet not in grids:
                    grids[sheet] = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
                grid = grids[sheet]
                if c2 is None:
                    book[name[3:]] = cell(grid, int(r1) - 1, column(c1))
                elif name.startswith("pe_ind_") and c1 == c2:
                    rows = range(int(r1) - 1, int(r2))
                    columns[name[7:]] = [cell(grid, r, column(c1)) for r in rows]
    except Exception:
        continue
    books.append(book)
    for i, values in enumerate(zip(*columns.values())):
        if any(v not in ("", None) for v in values):
            indicators.append({"file": path.name, "row": i + 1, **dict(zip(columns, values))})

# A sheet holds 1,048,576 rows (pandas refuses more): the indicators continue on more sheets.
ROWS = 1_048_575
with pd.ExcelWriter(sys.argv[2]) as writer:
    pd.DataFrame(books).to_excel(writer, sheet_name="projects", index=False)
    table = pd.DataFrame(indicators)
    for part, start in enumerate(range(0, max(len(table), 1), ROWS)):
        name = "indicators" if part == 0 else f"indicators{part + 1}"
        table.iloc[start : start + ROWS].to_excel(writer, sheet_name=name, index=False)
print(len(books), len(indicators))
"""

#: The unzip floor: every member of every workbook inflated, in 2 processes, files that fail
#: skipped, nothing else; any reader of .xlsx does at least this. `fork`, because the workers
#: of a `-c` script cannot import it (`spawn` would not find `inflate`). Prints the workbooks
#: read and the bytes inflated.
FLOOR = r"""
import multiprocessing, sys, zipfile
from pathlib import Path


def inflate(path):
    try:
        with zipfile.ZipFile(path) as z:
            return sum(len(z.read(info)) for info in z.infolist())
    except Exception:
        return -1


if __name__ == "__main__":
    paths = sorted(Path(sys.argv[1]).glob("*.xlsx"))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        sizes = [s for s in pool.imap_unordered(inflate, paths, chunksize=32) if s >= 0]
    print(len(sizes), sum(sizes))
"""

#: (一级, 二级, target, actual) patterns; an actual meets its target without exceeding 130 %.
OUTPUTS = [
    ("数量指标", "≥{n}次", lambda rng, n: f"{rng.randint(n, n + n // 5)}次"),
    ("质量指标", "≥95%", lambda rng, n: f"{rng.randint(95, 100)}%"),
    ("时效指标", "≤{n}天", lambda rng, n: f"{rng.randint(max(1, n // 2), n)}天"),
    ("成本指标", "≤{n}万元", lambda rng, n: f"{rng.randint(max(1, n * 4 // 5), n)}万元"),
]
EFFECTS = [
    ("社会效益指标", "定性：明显提升", lambda rng, n: "明显提升"),
    ("经济效益指标", "≥{n}万元", lambda rng, n: f"{rng.randint(n, n + n // 5)}万元"),
]
SATISFACTION = ("服务对象满意度指标", "≥90%", lambda rng, n: f"{rng.randint(90, 100)}%")
#: The national weights of each 一级 (the indicators under it share it).
WEIGHTS = {"产出指标": 50, "效益指标": 30, "满意度指标": 10}


def _indicator_rows(rng: random.Random, count: int) -> list[dict]:
    """`count` indicators, every 一级 present, weights adding up per 一级, each scored in full
    (its actual meets its target), as a unit that filled the form correctly would write."""
    picks = [("产出指标", OUTPUTS[0]), ("效益指标", EFFECTS[0]), ("满意度指标", SATISFACTION)]
    for _ in range(count - len(picks)):
        level1 = rng.choice(["产出指标", "产出指标", "效益指标"])
        picks.append((level1, rng.choice(OUTPUTS if level1 == "产出指标" else EFFECTS)))
    picks.sort(key=lambda p: list(WEIGHTS).index(p[0]))
    rows = []
    for level1, (level2, target, actual) in picks:
        n = rng.randint(5, 50)
        rows.append(
            {
                "level1": level1,
                "level2": level2,
                "name": f"指标{len(rows) + 1}",
                "target": target.format(n=n),
                "actual": actual(rng, n),
                "status": "已完成",
            }
        )
    for level1, total in WEIGHTS.items():
        mine = [r for r in rows if r["level1"] == level1]
        share = round(total / len(mine), 2)
        for r in mine:
            r["weight"] = share
        mine[-1]["weight"] = round(total - share * (len(mine) - 1), 2)
    for r in rows:
        r["score"] = r["weight"]
    return rows


def _variant(rng: random.Random, index: int, flawed: bool = False) -> tuple[str, dict, list[dict]]:
    """One filled form's values: form, header and funds, indicators; about 30 % with one
    error of the kinds units make (every one when `flawed`), the rest clean."""
    form = "national-2020" if rng.random() < 0.8 else rng.choice(["sichuan-2022", "sichuan-2023"])
    budget = rng.choice([20, 50, 100, 114.56, 300])
    spent = round(budget * rng.uniform(0.9, 1.0), 2)
    values = {
        "project_name": f"基准项目{index:05d}",
        "project_code": f"P-{index:05d}",
        "year": 2022,
        "dept_name": "中共攀枝花市仁和区委宣传部",
        "dept_code": f"1091{index % 50:02d}",
        "unit_name": "攀枝花市区委宣传部",
        "goal_expected": "与主流媒体合作宣传",
        "goal_actual": "各项任务均已完成",
        "fund_fiscal_budget": budget,
        "fund_fiscal_spent": spent,
    }
    rows = _indicator_rows(rng, rng.randint(5, 20))
    if form == "sichuan-2023":
        for row in rows:
            row["sign"] = "定性" if "定性" in row["target"] else row["target"][:1]
    error = rng.random() * (0.3 if flawed else 1.0)
    if error < 0.1:
        values["fund_fiscal_spent"] = budget * 1.5  # spent over budget
    elif error < 0.2:
        rows[0]["score"] = 999  # score over weight
    elif error < 0.25:
        values["year"] = "二〇二二"  # a year in words
    elif error < 0.3:
        rows[-1]["status"] = None  # a missing status
    return form, values, rows


def fill_template(template: bytes, form: str, values: dict, rows: list[dict]) -> bytes:
    """The template with `values` and the indicator `rows` typed into its input cells by
    contract name, as a unit types them (also used by bench_serve.py)."""
    import openpyxl

    from perfeval_xl import load_spec

    wb = openpyxl.load_workbook(io.BytesIO(template))

    def cell(name: str, offset: int = 0):
        sheet, ref = next(wb.defined_names[name].destinations)
        return wb[sheet][ref.replace("$", "").split(":")[0]].offset(row=offset)

    spec = load_spec(form)
    for name, value in values.items():
        cell(f"pe_{name}").value = value
    for i, row in enumerate(rows):
        for key, value in row.items():
            if not spec.scored and key in ("weight", "score"):
                continue
            if f"pe_ind_{key}" in wb.defined_names:
                cell(f"pe_ind_{key}", i).value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _renamed(data: bytes, old: str, new: str, index: int) -> bytes:
    """The same workbook with the project name (an inline string of the form sheet) replaced,
    and its own selected cell (`_selected`)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(f"<t>{old}</t>".encode(), f"<t>{new}</t>".encode(), 1)
                body = _selected(body, index)
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _selected(sheet: bytes, index: int) -> bytes:
    """The sheet with the cell selected when it was saved moved: every program saves the
    selection, so a unit's file differs from the template there too."""
    cell = f"{'BCDEFGHIJ'[index % 9]}{index * 7 % 35 + 1}".encode()
    return re.sub(
        rb'activeCell="[A-Z]+[0-9]+"( activeCellId="0")? sqref="[A-Z]+[0-9]+"',
        b'activeCell="%s"\\1 sqref="%s"' % (cell, cell),
        sheet,
        count=1,
    )


#: Workbooks filled and saved by LibreOffice (see tests/data/README.md), with a piece of each
#: one's project name: another cell layout of the same contract (shared strings, LibreOffice's
#: styles), as units' files come back from WPS, Excel or LibreOffice.
LIBREOFFICE_SAVED = {
    "national-2020.xlsx": "年媒体合作项目",
    "sichuan-2022.xlsx": "重要外宣产品专项",
    "sichuan-2023.xlsx": "创建全国文明城市",
}
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _libreoffice_copy(data: bytes, fragment: str, index: int, rng: random.Random) -> bytes:
    """A LibreOffice-saved workbook as another unit's: its own project name (in the shared
    strings) and its own 全年执行数 (in the sheet), so that no two files share the form sheet."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        book = src.read("xl/workbook.xml").decode()
        ref = re.search(r'name="pe_fund_fiscal_spent"[^>]*>[^<]*!\$([A-Z]+)\$(\d+)<', book)
        assert ref is not None, "no pe_fund_fiscal_spent in a LibreOffice-saved workbook"
        cell = f"{ref.group(1)}{ref.group(2)}"
        spent = f"{rng.uniform(90, 114.56):.2f}"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                if info.filename == "xl/sharedStrings.xml":
                    body = body.replace(
                        f"{fragment}</t>".encode(), f"{fragment}{index:05d}</t>".encode(), 1
                    )
                elif info.filename == "xl/worksheets/sheet1.xml":
                    body = re.sub(
                        rf'(<c r="{cell}"[^>]*><v>)[^<]*(</v>)'.encode(),
                        rb"\g<1>" + spent.encode() + rb"\g<2>",
                        body,
                        count=1,
                    )
                    body = _selected(body, index)
                dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def make_inbox(folder: Path, n: int, seed: int = 7, flawed: bool = False) -> None:
    """N files: up to 200 distinct fills, then copies with their own project names (one in ten
    a LibreOffice-saved workbook, when tests/data has them); 1 % bad. `flawed`: every fill with
    an error (`_variant`)."""
    from perfeval_xl import build_template, load_spec

    rng = random.Random(seed)
    templates = {
        f: build_template(load_spec(f)) for f in ("national-2020", "sichuan-2022", "sichuan-2023")
    }
    distinct = min(n, 200)
    variants = []
    for i in range(distinct):
        form, values, rows = _variant(rng, i, flawed)
        variants.append(
            (values["project_name"], fill_template(templates[form], form, values, rows))
        )
    good = variants[0][1]
    bad = [
        b"",
        rng.randbytes(4096),
        good[: len(good) // 2],
        bytes.fromhex("d0cf11e0a1b11ae1") + bytes(2048),
    ]
    saved = [(DATA / name, piece) for name, piece in LIBREOFFICE_SAVED.items()]
    saved = [(path.read_bytes(), piece) for path, piece in saved if path.is_file()]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        if i % 100 == 99:
            data = bad[(i // 100) % len(bad)]
        elif i % 10 == 5 and saved:
            base, piece = saved[(i // 10) % len(saved)]
            data = _libreoffice_copy(base, piece, i, rng)
        elif i < distinct:
            data = variants[i][1]
        else:
            old, base = variants[i % distinct]
            data = _renamed(base, old, f"基准项目{i:05d}", i)
        (folder / f"unit{i:05d}.xlsx").write_bytes(data)


def make_roster(path: Path, n: int, *, as_inbox: bool = False) -> None:
    """N roster rows with a budget to issue; `as_inbox`: each as `make_inbox` fills project i
    (its department code, and no budget: the inbox's budgets vary)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        head = ["dept_code", "dept_name", "unit_name", "project_name", "year"]
        w.writerow(head if as_inbox else [*head, "fund_fiscal_budget"])
        for i in range(n):
            if as_inbox:
                dept = [f"1091{i % 50:02d}", "中共攀枝花市仁和区委宣传部"]
                w.writerow([*dept, "攀枝花市区委宣传部", f"基准项目{i:05d}", 2022])
            else:
                w.writerow(
                    ["109101", "宣传部", "攀枝花市区委宣传部", f"基准项目{i:05d}", 2022, 100]
                )


def run(cmd: list[str], cwd: Path) -> dict:
    """Run `cmd` under WRAPPER in `cwd`: a folder of the benchmark's own, because `python -m`
    and `-c` put the current folder first on the import path, and a source checkout there
    (without its package data) would be imported instead of the installed package. `out` is
    what the command printed."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd], check=True, capture_output=True, text=True, cwd=cwd
    )
    *printed, last = done.stdout.strip().splitlines()
    errors = done.stderr.strip().splitlines()
    return {
        **json.loads(last),
        "out": "\n".join(printed).strip(),
        "err": errors[-1] if errors else "",
    }


@dataclass
class Timing:
    """The medians of one way's runs: wall time (s) and peak RSS of the largest process (MB);
    every run's exit code, and what the last run printed."""

    wall: float
    rss_mb: float
    rcs: list[int]
    out: str
    err: str = ""  # the last line the last run wrote on stderr (why it failed)


def warm(inbox: Path) -> None:
    """Read every file of the inbox once, untimed, so that each way starts with the same page
    cache. Measured at N = 10,000 on this machine: collect took 21.3–21.6 s after the cache was
    dropped and 18.4–18.6 s with the inbox cached. Every way read whatever the way before it
    had left cached, and collect, timed first, was the one that read from disk. An inbox larger
    than the page cache is read from disk by every way alike."""
    for path in sorted(inbox.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass


def median_sequence(
    cmds: list[list[str]],
    repeat: int,
    cwd: Path,
    before: Callable[[], None] | None = None,
    inbox: Path | None = None,
) -> list[Timing]:
    """Each repeat: `before`, then every command in order, each timed as its own process (the
    `inbox` read just before it: `warm`); the medians of each command. For commands that need
    the one before them: collect's second run over an inbox is only a second run right after a
    first."""
    got: list[list[dict]] = [[] for _ in cmds]
    for _ in range(repeat):
        if before is not None:
            before()
        for runs, cmd in zip(got, cmds, strict=True):
            if inbox is not None:
                warm(inbox)
            runs.append(run(cmd, cwd))
    return [
        Timing(
            statistics.median(r["wall"] for r in runs),
            statistics.median(r["rss_kib"] for r in runs) / 1024,
            [r["rc"] for r in runs],
            runs[-1]["out"],
            runs[-1]["err"],
        )
        for runs in got
    ]


def median_runs(
    cmd: list[str],
    repeat: int,
    cwd: Path,
    before: Callable[[], None] | None = None,
    inbox: Path | None = None,
) -> Timing:
    return median_sequence([cmd], repeat, cwd, before, inbox)[0]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


#: Measures, in its own process, what the records of `collect` take in memory: a sample of
#: the inbox is checked, pickled as workers send them, and unpickled under tracemalloc.
RECORD_SIZE = r"""
import pickle, sys, tracemalloc
from pathlib import Path
from perfeval_xl.office.collect import check_item, find_items
items, _ = find_items(Path(sys.argv[1]), set())
sent = [pickle.dumps(check_item(i)) for i in items[: int(sys.argv[2])]]
tracemalloc.start()
got = [pickle.loads(b) for b in sent]
print(tracemalloc.get_traced_memory()[0] / len(got) / 1024)
"""


def record_kib(inbox: Path, sample: int = 300) -> float:
    out = subprocess.run(
        [sys.executable, "-c", RECORD_SIZE, str(inbox), str(sample)],
        check=True,
        capture_output=True,
        text=True,
        cwd=inbox.parent,  # as in `run`
    ).stdout
    return float(out.strip().splitlines()[-1])


def _counts(way: str, timing: Timing) -> tuple[int, int] | None:
    """The two numbers a baseline printed last (what it read), or None when it failed (it is
    then shown failed, with why, and weighs in no ratio)."""
    try:
        first, second = (int(x) for x in timing.out.splitlines()[-1].split())
    except (IndexError, ValueError):
        print(f"{way} failed (exit codes {timing.rcs}): {timing.err}", file=sys.stderr)
        return None
    if not first:
        sys.exit(f"{way} read no workbook")
    return first, second


def inbox_for(n: int, tmp: Path, keep: Path | None) -> Path:
    """The benchmark's inbox of N workbooks: generated into `tmp`, or, with `keep`, into that
    folder once and used again by later runs (generating 100,000 takes about 10 minutes). A
    kept inbox is used only when this very script and package made it (`.done` beside it
    says which); else it is made again."""
    from perfeval_xl import __version__

    folder = (keep or tmp) / f"inbox-{n}"
    made_by = f"{__version__} {hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"
    done = folder.with_name(f"{folder.name}.done")
    if keep is not None and done.is_file() and done.read_text() == made_by:
        print(f"using the {n} workbooks kept in {folder}", file=sys.stderr)
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    t = time.perf_counter()
    make_inbox(folder, n)
    print(f"generated {n} workbooks in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if keep is not None:
        done.write_text(made_by)
    return folder


def bench_collect(
    sizes: list[int], repeat: int, naive_repeat: int, tmp: Path, keep: Path | None = None
) -> None:
    rows = []
    for n in sizes:
        inbox = inbox_for(n, tmp, keep)
        summary = tmp / f"summary-{n}.xlsx"
        collect = [
            sys.executable, "-m", "perfeval_xl", "collect", str(inbox), "-o", str(summary), "-q"
        ]  # fmt: skip
        table = tmp / f"calamine-{n}.xlsx"
        calamine = [sys.executable, "-c", CALAMINE, str(inbox), str(table)]
        floor = [sys.executable, "-c", FLOOR, str(inbox)]
        naive = [sys.executable, "-c", NAIVE, str(inbox)]

        def clean(summary: Path = summary) -> None:
            """No summary, and no store beside it (`summary-N.sqlite`, its -wal, -shm and
            .lock): what collect keeps between runs would make a first run a second one."""
            summary.unlink(missing_ok=True)
            for path in summary.parent.glob(f"{summary.stem}.sqlite*"):
                path.unlink()

        def clean_table(table: Path = table) -> None:
            table.unlink(missing_ok=True)

        first, second = median_sequence([collect, collect], repeat, tmp, clean, inbox)
        if not summary.exists():
            sys.exit(f"collect wrote no summary (exit codes {first.rcs}, {second.rcs})")
        cal = median_runs(calamine, repeat, tmp, clean_table, inbox)
        cal_read = _counts("the calamine+pandas script", cal)
        if cal_read is not None and not table.exists():
            sys.exit(f"the calamine+pandas script wrote no table (exit codes {cal.rcs})")
        flo = median_runs(floor, repeat, tmp, inbox=inbox)
        flo_read = _counts("the unzip floor", flo)
        if flo_read is None:
            sys.exit("the unzip floor failed")
        nai = median_runs(naive, naive_repeat, tmp, inbox=inbox) if naive_repeat else None
        # only the memory-growth line needs it, from the largest inbox
        kib = record_kib(inbox) if len(sizes) > 1 and n == sizes[-1] else None
        rows.append((n, first, second, cal, cal_read, flo, flo_read, nai, kib))
        if keep is None:
            shutil.rmtree(inbox)

    if not naive_repeat:
        note = ", the naive loop skipped"
    elif naive_repeat != repeat:
        note = f" ({naive_repeat} of the naive loop)"
    else:
        note = ""
    print(f"\nMedians of {repeat} runs of each way{note}, {machine()}\n")
    print("| N | way | wall time | workbooks/s | peak RSS (largest process) |")
    print("|---|---|---|---|---|")
    for n, first, second, cal, cal_read, flo, (read, inflated), nai, _ in rows:
        if cal_read is None:
            what = f"failed: {cal.err}"
        else:
            what = f"{cal_read[0]:,} workbooks, {cal_read[1]:,} indicator rows read"
        ways = [
            ("`perfeval-xl collect`, first run (end to end, summary and store written)", first),
            ("`perfeval-xl collect`, second run (inbox unchanged, store kept)", second),
            (
                f"calamine+pandas script (`pe_*` cells to 2 DataFrames, .xlsx, no checks; {what})",
                cal,
            ),
            (
                f"unzip floor (every member inflated, 2 processes; {read:,} workbooks, "
                f"{inflated / 1e6:,.0f} MB)",
                flo,
            ),
        ]
        if nai is not None:
            ways.append(("naive openpyxl loop (`load_workbook` + contract names)", nai))
        for way, t in ways:
            print(f"| {n:,} | {way} | {t.wall:.2f} s | {n / t.wall:,.0f} | {t.rss_mb:.0f} MB |")
        ratios = (
            []
            if cal_read is None
            else [("first collect vs calamine+pandas (calamine ÷ collect)", cal.wall / first.wall)]
        )
        ratios += [
            ("first collect vs unzip floor (collect ÷ floor)", first.wall / flo.wall),
            ("second collect vs first (first ÷ second)", first.wall / second.wall),
        ]
        if nai is not None:
            ratios.append(
                ("first collect vs naive openpyxl (naive ÷ collect)", nai.wall / first.wall)
            )
        for way, ratio in ratios:
            print(f"| {n:,} | ratio: {way} | | **{ratio:.2f}×** | |")
    if len(rows) > 1:
        from perfeval_xl.office.collect import SPILL_MIN_INPUTS

        print()
        for (n1, first1, *_), (n2, first2, *_) in itertools.pairwise(rows):
            rss1, rss2 = first1.rss_mb, first2.rss_mb
            growth = (rss2 - rss1) * 1024 / (n2 - n1)
            print(
                f"Peak RSS of collect's first run grew {rss2 - rss1:.0f} MB from N = {n1:,} to "
                f"N = {n2:,}: {growth:.1f} KB a workbook."
            )
        print(
            f"One reading with its record in memory takes {rows[-1][-1]:.1f} KB; from "
            f"{SPILL_MIN_INPUTS:,} inputs on, collect keeps records on disk (`office/spill.py`)."
        )


def bench_template(n: int, repeat: int, tmp: Path) -> None:
    roster = tmp / "roster.csv"
    make_roster(roster, n)
    outbox = tmp / "outbox"
    cmd = [
        sys.executable,
        "-m",
        "perfeval_xl",
        "template",
        "--roster",
        str(roster),
        "-o",
        str(outbox),
    ]

    def clean() -> None:
        shutil.rmtree(outbox, ignore_errors=True)

    got = median_runs(cmd, repeat, tmp, clean)
    wall, rss, rcs = got.wall, got.rss_mb, got.rcs
    made = len(list(outbox.glob("**/*.xlsx")))
    print(f"\nN = {n:,} roster rows, median of {repeat} runs, {machine()}\n")
    print("| way | wall time | workbooks/s | peak RSS (largest process) |")
    print("|---|---|---|---|")
    print(
        f"| `perfeval-xl template --roster` ({made:,} written, exit {rcs[-1]}) | {wall:.2f} s "
        f"| {n / wall:,.0f} | {rss:.0f} MB |"
    )


def bench_feedback(n: int, repeat: int, tmp: Path) -> None:
    inbox, roster = tmp / "inbox", tmp / "roster.csv"
    make_inbox(inbox, n, flawed=True)
    make_roster(roster, n, as_inbox=True)
    summary, returned, outbox = tmp / "summary.xlsx", tmp / "returned", tmp / "outbox"
    base = [sys.executable, "-m", "perfeval_xl", "collect", str(inbox), "-o", str(summary)]
    base += ["--roster", str(roster), "-q"]
    with_feedback = [*base, "--feedback", str(returned), "--review-date", "2023-03-01"]
    template = [sys.executable, "-m", "perfeval_xl", "template", "--roster", str(roster)]
    template += ["-o", str(outbox), "-q"]

    def clean() -> None:
        summary.unlink(missing_ok=True)
        shutil.rmtree(returned, ignore_errors=True)
        shutil.rmtree(outbox, ignore_errors=True)

    # alternating, so that a slow spell of the machine weighs on both alike
    walls: dict[str, list[float]] = {"collect": [], "feedback": [], "template": []}
    made = zips = 0
    for _ in range(repeat):
        for key, cmd in (("collect", base), ("feedback", with_feedback), ("template", template)):
            clean()
            walls[key].append(run(cmd, tmp)["wall"])
            if key == "feedback":
                made = sum(1 for p in returned.glob("*/*/*.xlsx"))  # <部门>/<单位>/<项目>.xlsx
                zips = len(list(returned.glob("*.zip")))
    if not made:
        sys.exit("collect --feedback wrote no returned workbook")
    c, f, t = (statistics.median(walls[k]) for k in ("collect", "feedback", "template"))
    print(
        f"\nN = {n:,} workbooks, every one with a finding; median of {repeat} runs, {machine()}\n"
    )
    print("| way | wall time | returned workbooks/s |")
    print("|---|---|---|")
    print(f"| `collect --roster` | {c:.2f} s | |")
    print(
        f"| `collect --roster --feedback DIR` ({made:,} returned workbooks, {zips} .zip) | {f:.2f} s | |"
    )
    print(f"| the feedback step (difference) | {f - c:.2f} s | {made / max(f - c, 1e-9):,.0f} |")
    print(
        f"| `template --roster` ({n:,} blank templates: the baseline) | {t:.2f} s | {n / t:,.0f} |"
    )
    print(f"| feedback step ÷ templates, per workbook | | **{(f - c) / made / (t / n):.2f}×** |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--n",
        default="1000",
        help="workbooks (or roster rows); several, comma-separated, to see how memory grows",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument(
        "--naive-repeat",
        type=int,
        help="runs of the naive openpyxl baseline (default: --repeat); 0 skips it: it takes "
        "18 min at N = 10,000",
    )
    ap.add_argument("--what", choices=["collect", "template", "feedback"], default="collect")
    ap.add_argument(
        "--keep-inboxes",
        type=Path,
        metavar="DIR",
        help="keep the generated inboxes in DIR and use them again in later runs (collect only)",
    )
    args = ap.parse_args()
    sizes = [int(x) for x in args.n.split(",")]
    naive_repeat = args.repeat if args.naive_repeat is None else args.naive_repeat
    with tempfile.TemporaryDirectory(prefix="perfeval-bench-") as tmp:
        if args.what == "collect":
            bench_collect(sizes, args.repeat, naive_repeat, Path(tmp), args.keep_inboxes)
        elif args.what == "feedback":
            for n in sizes:
                bench_feedback(n, args.repeat, Path(tmp) / f"n{n}")
        else:
            for n in sizes:
                bench_template(n, args.repeat, Path(tmp))
    again = f" --naive-repeat {naive_repeat}" if naive_repeat != args.repeat else ""
    extra = "pip install '.[bench]' && " if args.what == "collect" else ""
    print(
        f"\nReproduce: `{extra}python benchmarks/bench_collect.py --n {args.n} "
        f"--repeat {args.repeat}{again} --what {args.what}`"
    )


if __name__ == "__main__":
    main()
