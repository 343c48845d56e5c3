"""The office's pages of `perfeval-xl serve`, behind its password.

报送情况 per department (应报 / 已报 / 未报 / 有错误) and per unit, the findings of every
project's latest upload with filters, every upload's history, the units' links, and buttons
that build from the workspace's inbox, as the commands would: the department summary workbook
(`collect`), the returned workbooks of every unit (`feedback`: each department's .zip and the
催报 list, in one .zip) and the disclosure annex (`publish`).

The session is a random id in a cookie that is HttpOnly, SameSite=Strict and limited to
/office; the server keeps only its SHA-256 and expiry, in memory (a restart logs the office
out). Every form carries a CSRF token bound to the session (the login form: a cookie of its
own, sent back in the form). Logins are rate-limited per address.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import PerfevalError
from ..fileio import write_output
from .status import department_status, departments, project_status
from .workspace import LINKS_FILE

if TYPE_CHECKING:
    from .app import Settings

SESSION_COOKIE = "perfeval_office"
LOGIN_COOKIE = "perfeval_login"
#: How long an office session lasts without a new login.
SESSION_SECONDS = 8 * 3600
#: Logins one address may try in a minute.
LOGINS_PER_MINUTE = 10


def office_routes(settings: Settings, page: Callable[..., Response], window: Any) -> list[Route]:
    """The routes under /office (`window`: the rate limit class of `app`)."""
    sessions: dict[bytes, float] = {}
    logins = window(LOGINS_PER_MINUTE)

    def session_of(request: Request) -> bytes | None:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        key = hashlib.sha256(sid.encode()).digest()
        expiry = sessions.get(key)
        if expiry is None or expiry < time.time():
            sessions.pop(key, None)
            return None
        return key

    def csrf(session: bytes) -> str:
        return hmac.new(settings.secret, b"office\0" + session, "sha256").hexdigest()

    async def checked_form(request: Request, session: bytes) -> Any | None:
        form = await request.form(max_files=0, max_fields=10)
        if not hmac.compare_digest(str(form.get("csrf") or ""), csrf(session)):
            return None
        return form

    def to_login() -> Response:
        return RedirectResponse("/office/login", status_code=303)

    def expired() -> Response:
        return page(
            "message.html",
            403,
            title="页面已过期",
            text="页面已过期（或服务已重启），请刷新后重试。",
        )

    async def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = page("office_login.html", login_csrf=token, failed=False)
        _cookie(response, LOGIN_COOKIE, token, "/office/login", 600)
        return response

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if not logins.allow(client):
            return page(
                "message.html", 429, title="请稍后再试", text="登录尝试过于频繁，请稍后再试。"
            )
        form = await request.form(max_files=0, max_fields=4)
        sent = str(form.get("login_csrf") or "")
        cookie = request.cookies.get(LOGIN_COOKIE) or ""
        if not cookie or not hmac.compare_digest(sent, cookie):
            return expired()
        password = str(form.get("password") or "")
        if not await run_in_threadpool(settings.workspace.check_password, password):
            token = secrets.token_urlsafe(24)
            response = page("office_login.html", 401, login_csrf=token, failed=True)
            _cookie(response, LOGIN_COOKIE, token, "/office/login", 600)
            return response
        sid = secrets.token_urlsafe(32)
        sessions[hashlib.sha256(sid.encode()).digest()] = time.time() + SESSION_SECONDS
        response = RedirectResponse("/office", status_code=303)
        _cookie(response, SESSION_COOKIE, sid, "/office", SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/office/login")
        return response

    async def logout(request: Request) -> Response:
        session = session_of(request)
        if session is not None and await checked_form(request, session) is not None:
            sessions.pop(session, None)
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/office")
        return response

    async def dashboard(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        ws = settings.workspace
        units = [(u, project_status(ws, u)) for u in settings.units]
        return page(
            "office.html",
            csrf=csrf(session),
            departments=department_status(units),
            units=units,
            uploads=ws.upload_count(),
            summaries=_summaries(ws.root / "outputs"),
        )

    async def findings(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        q = request.query_params
        dept, severity, code = q.get("dept", ""), q.get("severity", ""), q.get("code", "").upper()
        rows = []
        seen: set[tuple[str, str, str]] = set()
        for up in settings.workspace.uploads("accepted = 1 AND project_name IS NOT NULL"):
            key = (up["dept_code"], up["unit_name"], up["project_code"] or up["project_name"])
            if key in seen:
                continue  # an older upload of the project: its latest one counts
            seen.add(key)
            if dept and up["dept_code"] != dept:
                continue
            for f_code, f_severity, sheet, cell, zh, _en in json.loads(up["findings"]):
                if (severity and f_severity != severity) or (code and f_code != code):
                    continue
                rows.append((up, f_code, f_severity, sheet, cell, zh))
        return page(
            "office_findings.html",
            csrf=csrf(session),
            rows=rows,
            departments=departments(settings.units),  # the filter's choices
            dept=dept,
            severity=severity,
            code=code,
        )

    async def uploads(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        unit = request.query_params.get("unit", "")
        rows = (
            settings.workspace.uploads("unit_name = ?", (unit,))
            if unit
            else settings.workspace.uploads()
        )
        return page("office_uploads.html", csrf=csrf(session), rows=rows, unit=unit)

    async def links(request: Request) -> Response:
        if session_of(request) is None:
            return to_login()
        return attachment((settings.workspace.root / LINKS_FILE).read_bytes(), LINKS_FILE)

    async def summary(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        if await checked_form(request, session) is None:
            return expired()
        path = await run_in_threadpool(_build_summary, settings)
        return attachment(path.read_bytes(), path.name)

    async def feedback(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        if await checked_form(request, session) is None:
            return expired()
        path = await run_in_threadpool(_build_feedback, settings)
        return attachment(path.read_bytes(), path.name)

    async def annex(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        form = await checked_form(request, session)
        if form is None:
            return expired()
        try:
            path = await run_in_threadpool(
                _build_annex, settings, form.get("include_errors") == "1"
            )
        except PerfevalError as exc:
            refused = getattr(exc, "refused", ())
            return page(
                "office_refused.html",
                409,
                csrf=csrf(session),
                text=exc.render("zh"),
                refused=refused,
            )
        return attachment(path.read_bytes(), path.name)

    return [
        Route("/office/feedback", feedback, methods=["POST"]),
        Route("/office/annex", annex, methods=["POST"]),
        Route("/office/login", login_form),
        Route("/office/login", login, methods=["POST"]),
        Route("/office/logout", logout, methods=["POST"]),
        Route("/office", dashboard),
        Route("/office/findings", findings),
        Route("/office/uploads", uploads),
        Route("/office/links.csv", links),
        Route("/office/summary", summary, methods=["POST"]),
    ]


#: The workspace's store (`office.store`), beside the inbox: what the buttons collect is kept
#: there, so a second build reads only the uploads that came since.
STORE_FILE = "汇总.sqlite"


@contextlib.contextmanager
def _collected(settings: Settings) -> Iterator[tuple[Any, Any]]:
    """The workspace's inbox collected against the roster, as `collect` does it, through the
    workspace's store: (the collection, the store, open until the caller is done)."""
    from ..office import store as store_mod
    from ..office.collect import collect

    ws = settings.workspace
    path = ws.root / STORE_FILE
    store = store_mod.open_store(path)  # another build holds it: this one waits
    try:
        run = store.start(
            ws.inbox,
            store_mod.side_files(path),
            store_mod.rules_fingerprint(settings.forms, settings.key),
            options=(store_mod.file_sha256(settings.roster), settings.spec.digest),
        )
        coll = collect(
            ws.inbox,
            roster=settings.roster,
            roster_spec=settings.spec,
            key=settings.key,
            forms=settings.forms,
            workers=1,
            **run.hooks(),
        )
        yield coll, store
        store.finish(coll, run)
    finally:
        store.close()


def _outputs(settings: Settings) -> Path:
    out = settings.workspace.root / "outputs"
    out.mkdir(exist_ok=True)
    return out


def _build_summary(settings: Settings) -> Path:
    """The summary workbook, written into `outputs/` (a new file each time: 汇总-<time>.xlsx)."""
    from ..office.history import history
    from ..office.summary import write_summary

    path = _outputs(settings) / f"汇总-{datetime.now():%Y%m%d-%H%M%S}.xlsx"
    with _collected(settings) as (coll, store):
        return write_summary(
            coll,
            path,
            history=history(coll, store, None),  # 同比, when the store holds last year
            received=store.received_times(),
        )


def _build_feedback(settings: Settings) -> Path:
    """The returned workbooks (`feedback`) into `outputs/退回-<time>/`, and one .zip of what the
    office sends: each department's .zip and the 催报 list (未报送.xlsx)."""
    from ..office.feedback import deterministic_zip, write_feedback

    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    folder = _outputs(settings) / f"退回-{stamp}"
    with _collected(settings) as (coll, _):
        write_feedback(
            coll,
            folder,
            roster_spec=settings.spec,
            key=settings.key,
            forms=settings.forms,
            workers=1,
        )
    members = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    path = folder.with_suffix(".zip")
    write_output(path, deterministic_zip(members))
    return path


def _build_annex(settings: Settings, include_errors: bool) -> Path:
    """The disclosure annex (`publish`) into `outputs/附件2-<time>.docx`; projects with errors
    are refused (PublishError naming them) unless `include_errors`."""
    from ..office.publish import write_annex

    path = _outputs(settings) / f"附件2-{datetime.now():%Y%m%d-%H%M%S}.docx"
    with _collected(settings) as (coll, _):
        return write_annex(coll, path, include_errors=include_errors).path


#: What a download is, by its name's suffix.
MEDIA_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".zip": "application/zip",
    ".csv": "text/csv; charset=utf-8",
}


def attachment(data: bytes, name: str) -> Response:
    """A file the browser saves as `name` (RFC 5987: a Chinese name arrives as it is), its
    type by its suffix. For the units' pages (`app`) and the office's."""
    return Response(
        data,
        media_type=MEDIA_TYPES[Path(name).suffix.lower()],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _summaries(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    made = [
        p for p in folder.iterdir() if p.is_file() and p.name[:3] in ("汇总-", "退回-", "附件2")
    ]
    return [p.name for p in sorted(made, key=lambda p: p.stat().st_mtime, reverse=True)[:5]]


def _cookie(response: Response, name: str, value: str, path: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="strict", secure=False
    )
