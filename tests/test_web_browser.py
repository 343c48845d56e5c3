"""The web intake (`perfeval-xl serve`) in a real browser: the installed command started as a
process of its own, Debian's Chromium driven by Playwright, as a unit would use its page.

A unit opens its link, downloads a project's pre-filled template, fills it (openpyxl, by
contract name), uploads it through the page's own form and reads the findings with their
cells; a corrected copy then passes. A forged link and another unit's link show nothing of it.

Skips where /usr/bin/chromium or the playwright package is missing, except in CI (CI=true),
where that is a failure: a silently skipped browser test would test nothing. No browser is
ever downloaded: Playwright drives the system's Chromium.

The returned workbook is downloaded from the page, and the office, logged in on its own page,
sees the project's status change.

With PERFEVAL_XL_SCREENSHOTS=1 the test also writes the screenshots of docs/
(web-unit-errors.png, web-unit-passed.png, web-office.png); without it, it writes nothing in
the repository.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from helpers import HEADER, INDICATORS, fill, named_cell

CHROMIUM = Path("/usr/bin/chromium")
#: Chromium on a closed network: no GPU, no sandbox (containers), and none of its own
#: connections (updates, sync, QUIC), which the machine would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[1] / "docs"
VIEWPORT = {"width": 1366, "height": 768}
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

OTHER_PROJECT = "创建全国文明城市"
OTHER_UNIT = "仁和区融媒体中心"
OTHER_UNITS_PROJECT = "融媒体建设"
ROSTER = (
    "dept_code,dept_name,unit_name,project_name,project_code,year,fund_fiscal_budget\n"
    f"109101,{HEADER['dept_name']},{HEADER['unit_name']},{HEADER['project_name']},"
    f"{HEADER['project_code']},2022,100\n"
    f"109101,{HEADER['dept_name']},{HEADER['unit_name']},{OTHER_PROJECT},P-2022-002,2022,114.56\n"
    f"109101,中共攀枝花市仁和区委宣传部,{OTHER_UNIT},{OTHER_UNITS_PROJECT},P-2022-009,2022,50\n"
)
PASSWORD = "财政-2022-口令"
#: What a unit types into its template; the office issued the rest (name, codes, budget).
TYPED = {k: HEADER[k] for k in ("goal_expected", "goal_actual")}


def _missing(what: str) -> None:
    """Skip locally, fail in CI, where the browser test must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}, but CI must run the browser test (tests/test_web_browser.py)")
    pytest.skip(what)


@pytest.fixture
def chromium():
    """A headless Chromium (the system's), closed at the end."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            # in Chinese, as a unit sees it: the file input's own label is the browser's
            # (选择文件 where Debian's chromium-l10n is installed; Chromium on Linux takes its
            # language from the environment, not from --lang)
            env={**os.environ, "LANGUAGE": "zh_CN"},
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Server:
    url: str
    workspace: Path
    #: 实施单位 -> its link, as links.csv gives it to the office
    links: dict[str, str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as got:
            return got.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """End the server and everything it started (its checking workers): its process group."""
    if proc.returncode is not None:  # ended and reaped already (it failed to start)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and not _ended(proc.pid):
        time.sleep(0.05)
    # Not reaped yet, the server still holds its group's id: whatever is left of the group (a
    # worker, or a server that did not stop) is ours, and ends now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


def _ended(pid: int) -> bool:
    """Whether the child `pid` has ended, without reaping it (WNOWAIT)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`perfeval-xl serve` as the office starts it, on a free port, outside the repository."""
    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    ws = tmp_path / "ws"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "PERFEVAL_XL_FORMS"}
    log = tmp_path / "serve.log"
    password = tmp_path / "密码.txt"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfeval_xl", "serve", str(ws), "--roster", str(roster),
             "--port", str(port), "--office-password-file", str(password)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, ended whole
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url + "/"):
            if proc.poll() is not None:
                pytest.fail(
                    f"serve ended ({proc.returncode}):\n{log.read_text('utf-8', 'replace')}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer in {START_TIMEOUT:.0f} s:\n{log.read_text()}")
            time.sleep(0.1)
        text = (ws / "links.csv").read_bytes()
        assert text.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
        rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
        assert list(rows[0]) == ["主管部门代码", "主管部门", "实施单位", "link"]
        links = {r["实施单位"]: r["link"] for r in rows}
        assert all(link.startswith(url + "/u/") for link in links.values())
        yield Server(url, ws, links)
    finally:
        _stop(proc)


def _filled(template: Path, dest: Path, spent: float) -> Path:
    """The downloaded template filled as a unit fills it: the issued header left as it came."""
    wb = openpyxl.load_workbook(template)
    assert named_cell(wb, "pe_project_name").value == HEADER["project_name"]
    assert named_cell(wb, "pe_fund_fiscal_budget").value == 100
    fill(wb, {**TYPED, "fund_fiscal_spent": spent}, INDICATORS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dest)
    return dest


def _spent_cell(path: Path) -> str:
    wb = openpyxl.load_workbook(path)
    cell = named_cell(wb, "pe_fund_fiscal_spent")
    return f"{cell.parent.title}!{cell.coordinate}"


def _screenshot(page, name: str) -> None:
    """A screenshot for docs/, only when asked (PERFEVAL_XL_SCREENSHOTS=1)."""
    if os.environ.get("PERFEVAL_XL_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / name), full_page=True)


def _upload(page, path: Path) -> None:
    page.set_input_files("#file", str(path))
    with page.expect_navigation():
        page.click("#upload button[type=submit]")


def _badge(page, project: str):
    return page.locator("table.projects tr", has_text=project).locator(".badge")


def test_a_unit_downloads_fills_uploads_and_corrects_in_a_browser(
    chromium, server: Server, tmp_path: Path
) -> None:
    context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True, locale="zh-CN")
    try:
        page = context.new_page()
        link = server.links[HEADER["unit_name"]]
        got = page.goto(link)
        assert got is not None and got.status == 200
        assert page.locator("h1").inner_text() == HEADER["unit_name"]
        for project in (HEADER["project_name"], OTHER_PROJECT):
            assert _badge(page, project).inner_text() == "未报送"
        assert OTHER_UNITS_PROJECT not in page.content()

        # the first project's template, as the browser saves it
        row = page.locator("table.projects tr", has_text=HEADER["project_name"])
        with page.expect_download() as info:
            row.get_by_role("link", name="下载模板").click()
        download = info.value
        assert download.suggested_filename == f"{HEADER['project_name']}.xlsx"
        template = tmp_path / "downloaded" / download.suggested_filename
        download.save_as(template)

        # spent over budget: accepted, with E301 at its cell
        over = _filled(template, tmp_path / "over" / download.suggested_filename, spent=120)
        _upload(page, over)
        result = page.locator("#result")
        assert "已收下，但有" in result.locator(".verdict").inner_text()
        e301 = [
            row.locator("td").all_inner_texts()
            for row in result.locator("table.findings tbody tr", has_text="E301").all()
        ]
        assert e301, result.inner_text()
        for cells in e301:
            assert cells[0] == "错误" and cells[3] == "E301", cells
            assert re.fullmatch(r"[^!\s]+![A-Z]+[0-9]+", cells[1]), cells  # 自评表!G9
            assert "改正方法" in cells[2], cells
        # the fiscal row's spent cell among them (the total row's too: it adds up to 120)
        assert _spent_cell(over) in [cells[1] for cells in e301]
        errors = result.locator("table.findings tr.error").count()
        badge = _badge(page, HEADER["project_name"]).inner_text()
        assert re.fullmatch(r"已报送，有 \d+ 个错误", badge), badge
        assert badge == f"已报送，有 {errors} 个错误"
        assert _badge(page, OTHER_PROJECT).inner_text() == "未报送"
        _screenshot(page, "web-unit-errors.png")

        # the workbook back, every problem marked: its first sheet says what to change
        with page.expect_download() as info:
            result.get_by_role("link", name="下载标好问题的工作簿").click()
        back = tmp_path / "back" / info.value.suggested_filename
        info.value.save_as(back)
        returned = openpyxl.load_workbook(back)
        assert returned.sheetnames[0] == "审核意见"
        review = " ".join(
            str(c.value) for r in returned["审核意见"].iter_rows() for c in r if c.value
        )
        assert "执行数" in review and HEADER["project_name"] in review

        # the office sees it at once
        office = context.new_page()
        office.goto(server.url + "/office")
        assert office.url.endswith("/office/login")
        office.fill("input[name=password]", PASSWORD)
        with office.expect_navigation():
            office.click("button[type=submit]")
        assert office.url.endswith("/office")
        line = office.locator("table.units tr", has_text=HEADER["project_name"])
        assert line.locator(".badge").inner_text() == badge
        _screenshot(office, "web-office.png")

        # the corrected copy passes
        fixed = _filled(template, tmp_path / "fixed" / download.suggested_filename, spent=95)
        _upload(page, fixed)
        assert "已收下，通过检查" in page.locator("#result .verdict").inner_text()
        assert page.locator("#result table.findings tr.error").count() == 0
        assert _badge(page, HEADER["project_name"]).inner_text() == "通过"
        assert _badge(page, OTHER_PROJECT).inner_text() == "未报送"
        _screenshot(page, "web-unit-passed.png")
        office.reload()
        line = office.locator("table.units tr", has_text=HEADER["project_name"])
        assert line.locator(".badge").inner_text() == "通过"
        departments = office.locator("table.departments tbody tr").first
        assert departments.locator("td").all_inner_texts()[2:] == ["3", "1", "2", "0"]
        kept = list((server.workspace / "inbox").rglob("*.xlsx"))
        assert len(kept) == 2  # both versions, on disk

        # a forged link: nothing of the unit
        forged = link[:-1] + ("A" if link[-1] != "A" else "B")
        got = page.goto(forged)
        assert got is not None and got.status == 404
        text = page.content()
        assert "链接无效" in text
        assert HEADER["project_name"] not in text and OTHER_PROJECT not in text
        assert page.locator("#file").count() == 0

        # another unit's link: its own project only
        got = page.goto(server.links[OTHER_UNIT])
        assert got is not None and got.status == 200
        text = page.content()
        assert OTHER_UNITS_PROJECT in text
        assert HEADER["project_name"] not in text and OTHER_PROJECT not in text
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [VIEWPORT, {"width": 390, "height": 844}])
def test_the_pages_fit_an_office_screen_and_a_phone(
    chromium, server: Server, viewport: dict
) -> None:
    """Nothing wider than the screen: a unit may open its link on a phone."""
    context = chromium.new_context(viewport=viewport, locale="zh-CN")
    try:
        page = context.new_page()
        for url in (server.links[HEADER["unit_name"]], server.url + "/office/login"):
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (url, width)
    finally:
        context.close()
