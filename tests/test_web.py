"""The web intake (`perfeval-xl serve`) over HTTP: Starlette's TestClient against the real app,
real workbooks, a real workspace on disk (inbox, ledger, links.csv).

Each security rule of docs/security.md has a test here; the browser test is test_web_browser.py.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import zipfile
from pathlib import Path

import openpyxl
import pytest
from helpers import HEADER, filled, run_cli

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from perfeval_xl.forms.spec import load_spec
from perfeval_xl.office.roster import load_roster
from perfeval_xl.web.app import Settings, create_app
from perfeval_xl.web.workspace import Workspace, units_of

PASSWORD = "财政-口令-2022"
ROSTER = (
    "dept_code,dept_name,unit_name,project_name,project_code,year,fund_fiscal_budget\n"
    f"109101,{HEADER['dept_name']},{HEADER['unit_name']},{HEADER['project_name']},"
    f"{HEADER['project_code']},2022,100\n"
    f"109101,{HEADER['dept_name']},{HEADER['unit_name']},创建全国文明城市,P-2022-002,2022,114.56\n"
    "109101,中共攀枝花市仁和区委宣传部,仁和区融媒体中心,融媒体建设,P-2022-009,2022,50\n"
)


@pytest.fixture
def served(tmp_path: Path):
    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    spec = load_spec()
    units = units_of(load_roster(roster, spec).rows)
    ws = Workspace(tmp_path / "ws")
    ws.lock()
    links = ws.links(units, "http://testserver")
    ws.set_password(PASSWORD)
    settings = Settings(ws, units, links, spec, roster=roster, max_upload=2 * 1024 * 1024)
    client = TestClient(create_app(settings))
    yield client, ws, _links(ws)
    ws.close()


def _links(ws: Workspace) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO((ws.root / "links.csv").read_text(encoding="utf-8-sig")))
    return {r["实施单位"]: r["link"].replace("http://testserver", "") for r in rows}


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def _upload(client: TestClient, link: str, path: Path, name: str | None = None, **extra):
    page = client.get(link).text
    return client.post(
        f"{link}/upload",
        data={"csrf": _csrf(page), **extra},
        files={"file": (name or path.name, path.read_bytes(), "application/octet-stream")},
    )


def _dir(path: Path) -> Path:
    path.mkdir()
    return path


def _ledger(ws: Workspace) -> list[tuple]:
    db = sqlite3.connect(ws.root / "uploads.sqlite")
    return db.execute(
        "SELECT unit_name, accepted, project_name, errors, stored_path FROM uploads ORDER BY id"
    ).fetchall()


def test_each_unit_gets_a_link_of_its_own(served) -> None:
    client, _, links = served
    assert set(links) == {HEADER["unit_name"], "仁和区融媒体中心"}
    tokens = [link.rsplit("/", 1)[1] for link in links.values()]
    assert all(len(t) >= 32 for t in tokens) and len(set(tokens)) == 2  # 192 bits each
    page = client.get(links[HEADER["unit_name"]])
    assert page.status_code == 200
    assert HEADER["project_name"] in page.text and "创建全国文明城市" in page.text
    assert "融媒体建设" not in page.text  # another unit's project
    assert page.text.count("未报送") == 2


def test_a_wrong_or_forged_link_shows_nothing(served) -> None:
    client, _, links = served
    real = links[HEADER["unit_name"]]
    for bad in (real[:-1] + ("A" if real[-1] != "A" else "B"), "/u/x", real + "x"):
        got = client.get(bad)
        assert got.status_code == 404
        assert HEADER["project_name"] not in got.text and "csrf" not in got.text
    got = client.post(real[:-2] + "zz/upload", data={"csrf": "0"})
    assert got.status_code == 404


def test_too_many_wrong_links_from_one_address_are_refused(served, monkeypatch) -> None:
    import perfeval_xl.web.app as web

    monkeypatch.setattr(web, "WRONG_LINK_DELAY", 0)
    client, _, _ = served
    codes = [client.get(f"/u/guess{i}").status_code for i in range(web.WRONG_LINKS_PER_MINUTE + 3)]
    assert codes[: web.WRONG_LINKS_PER_MINUTE] == [404] * web.WRONG_LINKS_PER_MINUTE
    assert codes[-1] == 429


def test_the_template_downloaded_is_the_projects_own(served) -> None:
    client, _, links = served
    got = client.get(links[HEADER["unit_name"]] + "/template/2")
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(got.content))
    values = {c.value for row in wb.worksheets[0].iter_rows() for c in row}
    assert "创建全国文明城市" in values and "P-2022-002" in values
    assert client.get(links[HEADER["unit_name"]] + "/template/9").status_code == 404


def test_spending_over_budget_is_shown_at_once_with_its_cell(served, tmp_path: Path) -> None:
    client, ws, links = served
    link = links[HEADER["unit_name"]]
    path = filled(tmp_path, fund_fiscal_spent=120)
    got = _upload(client, link, path, "我们的自评表.xlsx")
    assert got.status_code == 200
    row = re.search(r'<tr class="error">(.*?)</tr>', got.text, re.S).group(1)
    assert "E301" in row and re.search(r"<td>[^<>!]+![A-Z]+[0-9]+</td>", row)  # with its cell
    assert "已收下，但有" in got.text and "改正方法" in got.text
    assert "已报送，有" in got.text
    ((unit, accepted, project, errors, stored),) = _ledger(ws)
    assert (unit, accepted, project) == (HEADER["unit_name"], 1, HEADER["project_name"])
    assert errors >= 1
    kept = ws.root / stored
    assert kept.read_bytes() == path.read_bytes()
    assert kept.parent == ws.inbox / "109101" / HEADER["unit_name"]
    assert "我们的自评表" not in kept.name  # the unit's file name is never a path


def test_a_corrected_upload_passes(served, tmp_path: Path) -> None:
    client, ws, links = served
    link = links[HEADER["unit_name"]]
    _upload(client, link, filled(_dir(tmp_path / "a"), fund_fiscal_spent=120))
    got = _upload(client, link, filled(_dir(tmp_path / "b")))
    assert "已收下，通过检查" in got.text, got.text
    assert "通过" in got.text and got.text.count("未报送") == 1
    assert len(list(ws.inbox.rglob("*.xlsx"))) == 2  # every version kept


def test_another_units_project_is_refused_saying_whose(served, tmp_path: Path) -> None:
    client, ws, links = served
    path = filled(tmp_path)  # 攀枝花市区委宣传部's project
    got = _upload(client, links["仁和区融媒体中心"], path)
    assert got.status_code == 422
    assert f"这是「{HEADER['unit_name']}」的项目" in got.text
    assert not list(ws.inbox.rglob("*.xlsx"))
    assert _ledger(ws)[0][1] == 0


def test_a_project_of_no_unit_is_refused(served, tmp_path: Path) -> None:
    client, ws, links = served
    path = filled(tmp_path, project_name="名册外项目", project_code="P-X")
    got = _upload(client, links[HEADER["unit_name"]], path)
    assert got.status_code == 422 and "名册中没有这个项目" in got.text
    assert not list(ws.inbox.rglob("*.xlsx"))


def test_what_is_no_workbook_gets_its_finding_and_is_not_kept(served, tmp_path: Path) -> None:
    client, ws, links = served
    bad = tmp_path / "表.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    got = _upload(client, links[HEADER["unit_name"]], bad)
    assert got.status_code == 422 and "没有读到任何自评表" in got.text and "E00" in got.text
    other = tmp_path / "a.pdf"
    other.write_bytes(b"%PDF-1.4")
    got = _upload(client, links[HEADER["unit_name"]], other)
    assert got.status_code == 400 and ".xlsx" in got.text
    assert not list(ws.inbox.rglob("*.*"))


def test_a_zip_of_workbooks_is_read_member_by_member(served, tmp_path: Path) -> None:
    client, ws, links = served
    archive = tmp_path / "报送.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(filled(_dir(tmp_path / "a")), "一.xlsx")
        second = filled(
            _dir(tmp_path / "b"), project_name="创建全国文明城市", project_code="P-2022-002"
        )
        z.write(second, "二.xlsx")
    got = _upload(client, links[HEADER["unit_name"]], archive)
    assert got.status_code == 200, got.text
    assert "未报送" not in got.text
    assert len(_ledger(ws)) == 2


def test_an_upload_over_the_limit_is_refused_before_it_is_read(served, tmp_path: Path) -> None:
    client, ws, links = served
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK" + b"\0" * (3 * 1024 * 1024))
    got = _upload(client, links[HEADER["unit_name"]], big)
    assert got.status_code == 413 and "文件超过 2 MB" in got.text
    assert not list(ws.inbox.rglob("*.*")) and not list(ws.tmp.iterdir())


def test_an_upload_without_the_forms_csrf_token_is_refused(served, tmp_path: Path) -> None:
    client, ws, links = served
    link = links[HEADER["unit_name"]]
    path = filled(tmp_path)
    for token in ("", "0" * 64):
        got = client.post(
            f"{link}/upload", data={"csrf": token}, files={"file": ("a.xlsx", path.read_bytes())}
        )
        assert got.status_code == 403
    # the token of another unit's page does not serve either
    other = _csrf(client.get(links["仁和区融媒体中心"]).text)
    got = client.post(
        f"{link}/upload", data={"csrf": other}, files={"file": ("a.xlsx", path.read_bytes())}
    )
    assert got.status_code == 403
    assert not list(ws.inbox.rglob("*.*"))


def test_pages_carry_the_security_headers_and_the_assets_are_ours(served) -> None:
    client, _, links = served
    page = client.get(links[HEADER["unit_name"]])
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "http://" not in page.text.replace("http://testserver", "")
    assert "https://" not in page.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/upload.js").status_code == 200


def test_unit_text_is_escaped_in_the_page(served, tmp_path: Path) -> None:
    client, _, links = served
    path = filled(tmp_path, goal_actual="<script>alert(1)</script>", fund_fiscal_spent=120)
    got = _upload(client, links[HEADER["unit_name"]], path, "<img src=x onerror=alert(1)>.xlsx")
    assert "<script>alert(1)" not in got.text and "<img src=x" not in got.text


def test_links_are_kept_across_starts_and_one_can_be_replaced(tmp_path: Path) -> None:
    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    ws_dir = tmp_path / "ws"
    ws = Workspace(ws_dir)
    ws.lock()
    units = units_of(load_roster(roster, load_spec()).rows)
    ws.links(units, "http://h:1")
    ws.close()
    before = (ws_dir / "links.csv").read_bytes()
    got = run_cli("serve", str(ws_dir), "--roster", str(roster), "--new-link", "仁和区融媒体中心",
                  cwd=tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stderr
    after = (ws_dir / "links.csv").read_text(encoding="utf-8-sig")
    old = [line.split("/u/")[-1] for line in before.decode("utf-8-sig").splitlines()]
    new = [line.split("/u/")[-1] for line in after.splitlines()]
    assert old[1] == new[1]  # the other unit's link is kept
    assert old[2] != new[2] and new[2] in got.stdout


def test_a_second_server_on_one_workspace_is_refused(tmp_path: Path) -> None:
    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    ws.lock()
    try:
        got = run_cli("serve", str(tmp_path / "ws"), "--roster", str(roster), "--new-link", "x",
                      cwd=tmp_path)  # fmt: skip
        assert got.returncode == 1
        assert "已有另一个 perfeval-xl serve 在使用这个工作区" in got.stderr
        assert "Traceback" not in got.stderr
    finally:
        ws.close()


# -- the office's pages ------------------------------------------------------------------------
def _login(client: TestClient, password: str = PASSWORD):
    form = client.get("/office/login").text
    token = re.search(r'name="login_csrf" value="([^"]+)"', form).group(1)
    return client.post(
        "/office/login",
        data={"login_csrf": token, "password": password},
        follow_redirects=False,
    )


def _office_csrf(client: TestClient) -> str:
    return _csrf(client.get("/office").text)


def test_the_office_pages_need_the_password(served) -> None:
    client, _, _ = served
    for path in ("/office", "/office/findings", "/office/uploads", "/office/links.csv"):
        got = client.get(path, follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"] == "/office/login"
    assert client.post("/office/summary", follow_redirects=False).status_code == 303
    got = _login(client, "wrong")
    assert got.status_code == 401 and "密码不正确" in got.text
    assert "perfeval_office" not in client.cookies
    got = _login(client)
    assert got.status_code == 303 and got.headers["location"] == "/office"
    cookie = next(c for c in got.headers.get_list("set-cookie") if "perfeval_office=" in c)
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/office" in low
    assert client.get("/office").status_code == 200


def test_a_login_without_its_forms_token_is_refused(served) -> None:
    client, _, _ = served
    got = client.post("/office/login", data={"login_csrf": "x", "password": PASSWORD})
    assert got.status_code == 403
    assert "perfeval_office" not in client.cookies


def test_logins_are_rate_limited(served) -> None:
    import perfeval_xl.web.office as office

    client, _, _ = served
    codes = [_login(client, "wrong").status_code for _ in range(office.LOGINS_PER_MINUTE + 1)]
    assert codes[:-1] == [401] * office.LOGINS_PER_MINUTE and codes[-1] == 429


def test_the_office_sees_who_has_reported_and_their_findings(served, tmp_path: Path) -> None:
    client, _, links = served
    _upload(client, links[HEADER["unit_name"]], filled(tmp_path, fund_fiscal_spent=120))
    _upload(client, links["仁和区融媒体中心"], filled(_dir(tmp_path / "x")))  # refused
    _login(client)
    page = client.get("/office").text
    row = re.search(r"<tr><td>中共攀枝花市仁和区委宣传部</td>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["3", "1", "2", "1"]
    got = client.get("/office/findings", params={"severity": "error"}).text
    assert "E301" in got and "warning" not in re.findall(r'<tr class="(\w+)">', got)
    assert "E301" not in client.get("/office/findings", params={"code": "W999"}).text
    history = client.get("/office/uploads", params={"unit": "仁和区融媒体中心"}).text
    body = history.split("<tbody>")[1]
    assert body.count("<tr>") == 1 and "未收下" in body and "national-2020.xlsx" in body
    csv_text = client.get("/office/links.csv").content.decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "主管部门代码,主管部门,实施单位,link"


def test_the_summary_is_built_from_the_workspace(served, tmp_path: Path) -> None:
    client, ws, links = served
    _upload(client, links[HEADER["unit_name"]], filled(tmp_path))
    _login(client)
    assert client.post("/office/summary", data={"csrf": "0" * 64}).status_code == 403
    got = client.post("/office/summary", data={"csrf": _office_csrf(client)})
    assert got.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(got.content))
    rows = list(wb["项目明细"].iter_rows(values_only=True))
    head = rows[0]
    projects = [dict(zip(head, r, strict=False)) for r in rows[1:] if r[0] is not None]
    spent = {p.get("项目名称"): p.get("执行数合计") for p in projects}
    assert spent[HEADER["project_name"]] == 95
    assert len(list((ws.root / "outputs").glob("汇总-*.xlsx"))) == 1


def test_logging_out_ends_the_session(served) -> None:
    client, _, _ = served
    _login(client)
    token = _office_csrf(client)
    client.post("/office/logout", data={"csrf": token})
    assert client.get("/office", follow_redirects=False).status_code == 303


def test_the_unit_downloads_its_workbook_back_marked(served, tmp_path: Path) -> None:
    client, _, links = served
    link = links[HEADER["unit_name"]]
    got = _upload(client, link, filled(tmp_path, fund_fiscal_spent=120))
    href = re.search(r'href="(/u/[^"]+/returned/\d+)"', got.text).group(1)
    back = client.get(href)
    assert back.status_code == 200 and "attachment" in back.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(back.content))
    assert wb.sheetnames[0] == "审核意见"
    review = " ".join(str(c.value) for row in wb["审核意见"].iter_rows() for c in row if c.value)
    assert "执行数" in review and HEADER["project_name"] in review
    # the same upload through another unit's link is no different from none
    other = links["仁和区融媒体中心"] + "/returned/" + href.rsplit("/", 1)[1]
    assert client.get(other).status_code == 404
    # a project without problems has no returned workbook and no link
    got = _upload(client, link, filled(_dir(tmp_path / "ok")))
    assert "/returned/" not in got.text


def test_no_score_is_shown_beside_errors(served, tmp_path: Path) -> None:
    """Spending over budget caps 执行率得分 at full marks: a 100 beside E301 is no score a
    reviewer would sign, so none is shown (nor kept in the ledger) until the errors are fixed."""
    client, ws, links = served
    got = _upload(client, links[HEADER["unit_name"]], filled(tmp_path, fund_fiscal_spent=120))
    assert "改正全部错误后才计算得分" in got.text and "自评得分" not in got.text
    assert ws.uploads()[0]["score"] is None
    got = _upload(client, links[HEADER["unit_name"]], filled(_dir(tmp_path / "ok")))
    assert re.search(r"自评得分 <b>\d+\.\d\d</b>", got.text)
    assert ws.uploads()[0]["score"] is not None
    page = client.get(links[HEADER["unit_name"]]).text
    assert re.search(r"最近上传 \d{4}-\d\d-\d\d \d\d:\d\d</small>", page)
    assert '<td class="num">100</td>' in page and '<td class="num">114.56</td>' in page


def test_the_office_downloads_the_returned_workbooks_and_the_annex(served, tmp_path: Path) -> None:
    client, ws, links = served
    _upload(client, links[HEADER["unit_name"]], filled(tmp_path, fund_fiscal_spent=120))
    _login(client)
    token = _office_csrf(client)
    got = client.post("/office/feedback", data={"csrf": token})
    assert got.status_code == 200
    outer = zipfile.ZipFile(io.BytesIO(got.content))
    names = outer.namelist()
    assert "未报送.xlsx" in names  # the 催报 list: the two projects not received
    dept_zip = next(n for n in names if n.startswith("109101_") and n.endswith(".zip"))
    inner = zipfile.ZipFile(io.BytesIO(outer.read(dept_zip))).namelist()
    assert any(n.endswith(".xlsx") and HEADER["unit_name"] in n for n in inner), inner
    # the annex refuses a project with errors, naming it, and publishes it when asked to
    got = client.post("/office/annex", data={"csrf": token})
    assert got.status_code == 409
    assert HEADER["project_name"] in got.text and "仍然生成" in got.text
    assert not list((ws.root / "outputs").glob("附件2-*.docx"))
    got = client.post("/office/annex", data={"csrf": token, "include_errors": "1"})
    assert got.status_code == 200 and got.content[:2] == b"PK"
    import docx

    text = "\n".join(
        c.text for t in docx.Document(io.BytesIO(got.content)).tables for r in t.rows
        for c in r.cells
    )  # fmt: skip
    assert HEADER["project_name"] in text
    assert client.post("/office/annex", data={"csrf": "x"}).status_code == 403


def test_uploads_through_one_link_are_rate_limited(tmp_path: Path, monkeypatch) -> None:
    import perfeval_xl.web.app as web

    monkeypatch.setattr(web, "UPLOADS_PER_MINUTE", 2)
    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    spec = load_spec()
    units = units_of(load_roster(roster, spec).rows)
    ws = Workspace(tmp_path / "ws")
    ws.lock()
    try:
        links = ws.links(units, "http://testserver")
        client = TestClient(create_app(Settings(ws, units, links, spec, roster=roster)))
        link = _links(ws)[HEADER["unit_name"]]
        path = filled(tmp_path)
        codes = [_upload(client, link, path).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        # another unit's link is not held back by this one's
        other = _links(ws)["仁和区融媒体中心"]
        assert _upload(client, other, path).status_code == 422  # refused on its merits
    finally:
        ws.close()


def test_serving_beyond_this_computer_warns(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfeval_xl", "serve", str(tmp_path / "ws"), "--roster",
         str(roster), "--host", "0.0.0.0", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "ws" / "links.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    err_text = err.decode("utf-8", "replace")
    assert "警告：服务对 0.0.0.0 开放" in err_text and "防火墙" in err_text
    text = out.decode("utf-8", "replace")
    assert "财政部门登录密码：" in text  # made and shown once, at the first start
    password = text.split("财政部门登录密码：", 1)[1].split("（", 1)[0]
    assert len(password) >= 16
    assert password not in (tmp_path / "ws" / "office-password.scrypt").read_text()


def test_the_office_builds_through_the_workspaces_store(served, tmp_path: Path) -> None:
    """The buttons collect through WORKSPACE/汇总.sqlite: a second build reads only what
    came since, and the store is the one `collect --store` would keep."""
    client, ws, links = served
    _upload(client, links[HEADER["unit_name"]], filled(tmp_path))
    _login(client)
    token = _office_csrf(client)
    assert client.post("/office/summary", data={"csrf": token}).status_code == 200
    assert client.post("/office/summary", data={"csrf": token}).status_code == 200
    db = sqlite3.connect(ws.root / "汇总.sqlite")
    runs = db.execute("SELECT read, reused FROM runs WHERE finished IS NOT NULL ORDER BY id")
    assert runs.fetchall() == [(1, 0), (0, 1)]
    kept = db.execute("SELECT source FROM files").fetchall()
    assert [Path(k[0]).name for k in kept] == [p.name for p in ws.inbox.rglob("*.xlsx")]


def test_a_failure_of_ours_gets_a_sentence_not_a_traceback(
    served, tmp_path: Path, monkeypatch, capsys
) -> None:
    import perfeval_xl.web.app as web

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(web, "check_upload", broken)
    client, ws, links = served
    client = TestClient(client.app, raise_server_exceptions=False)
    got = _upload(client, links[HEADER["unit_name"]], filled(tmp_path))
    assert got.status_code == 500
    assert "处理时出错，文件未收下" in got.text and "Traceback" not in got.text
    assert "RuntimeError: a bug" in capsys.readouterr().err  # for the office's window
    assert not list(ws.inbox.rglob("*.*")) and not list(ws.tmp.iterdir())


def test_a_port_in_use_and_an_empty_password_file_get_a_sentence(tmp_path: Path) -> None:
    import socket

    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        got = run_cli(
            "serve", str(tmp_path / "ws"), "--roster", str(roster), "--port", str(port),
            cwd=tmp_path,
        )  # fmt: skip
    assert got.returncode == 1 and "端口可能已被占用" in got.stderr
    assert "Traceback" not in got.stderr and not (tmp_path / "ws" / "links.csv").exists()
    empty = tmp_path / "密码.txt"
    empty.write_text("\n", encoding="utf-8")
    got = run_cli(
        "serve", str(tmp_path / "ws"), "--roster", str(roster), "--office-password-file",
        str(empty), cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 1 and "密码文件是空的" in got.stderr
