"""The intranet pages of `perfeval-xl serve`: each unit's own page behind its link.

A unit opens its link, sees its projects from the roster with their status (未报送 / 已报送，
有 N 个错误 / 通过), downloads each project's pre-filled template, and uploads its filled
workbook (or a .zip of them); the page then shows at once every finding with its cell and the
score, as `collect` will see them.

Security (docs/security.md): a link is found by its token's SHA-256; a wrong one answers 404
after a delay, and too many wrong ones from one address answer 429; every upload form carries
a CSRF token bound to its link; an upload is read against a size limit as it streams in,
written to the workspace's own temporary folder under a name of ours, passed through the same
gate as `collect` before anything parses it, and acknowledged only once it is on disk and in
the ledger. Pages are rendered on the server (Jinja2, autoescaped); the one style sheet and
the one script are files of this package: an intranet has no internet.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import socket
import sys
import time
import traceback
from collections import defaultdict, deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import OutputError, Text
from ..findings import RULES
from ..forms.spec import BUILTIN_FORMS, FormSet, Spec
from ..template.generate import build_template
from .office import attachment, office_routes
from .status import project_status
from .upload import UPLOAD_SUFFIXES, Checked, check_upload, roster_row
from .workspace import Unit, Workspace, cell_text, token_digest

#: Default largest upload, in MiB (`serve --max-upload-mb`).
MAX_UPLOAD_MB = 20
#: Seconds a wrong link waits before its 404: guessing links costs time.
WRONG_LINK_DELAY = 0.5
#: Wrong links one address may try in a minute before it gets 429.
WRONG_LINKS_PER_MINUTE = 20
#: Uploads one link may make in a minute.
UPLOADS_PER_MINUTE = 30

STATIC = Path(__file__).with_name("static")


class TooLarge(Exception):
    """The request body passed the upload limit."""


@dataclass
class Settings:
    """What `serve` was started with."""

    workspace: Workspace
    units: list[Unit]
    #: token digest -> unit
    links: dict[bytes, Unit]
    spec: Spec
    #: the roster file: the office's summary is collected against it
    roster: Path | None = None
    forms: FormSet = BUILTIN_FORMS
    key: bytes | None = None
    max_upload: int = MAX_UPLOAD_MB * 1024 * 1024
    #: worker processes that check uploads (None: a thread of this process, as in tests)
    pool: Executor | None = None
    #: signs CSRF tokens; new at every start (a page loaded before a restart is reloaded)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


class _Window:
    """Events per key in the last minute (rate limits)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: dict[Any, deque[float]] = defaultdict(deque)

    def allow(self, key: Any) -> bool:
        now = time.monotonic()
        q = self.seen[key]
        while q and q[0] < now - 60:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


def create_app(settings: Settings) -> Starlette:
    """The ASGI application of `serve` (uvicorn runs it; tests drive it with TestClient)."""
    env = Environment(
        loader=PackageLoader("perfeval_xl.web", "templates"),
        autoescape=select_autoescape(default=True),
    )
    env.filters["when"] = _when
    env.filters["amount"] = _amount
    wrong = _Window(WRONG_LINKS_PER_MINUTE)
    uploads = _Window(UPLOADS_PER_MINUTE)
    lock = asyncio.Lock()  # one upload at a time writes the ledger and the inbox

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**values), status_code=status)

    async def unit_of(request: Request) -> Unit | Response:
        token = request.path_params["token"]
        unit = settings.links.get(token_digest(token))
        if unit is not None:
            return unit
        client = request.client.host if request.client else "?"
        if not wrong.allow(client):
            return page("message.html", 429, title="请稍后再试", text="尝试过于频繁，请稍后再试。")
        await asyncio.sleep(WRONG_LINK_DELAY)
        return _not_found(page)

    def csrf(unit: Unit) -> str:
        mac = hmac.new(settings.secret, b"upload\0" + unit.dept_code.encode() + b"\0", "sha256")
        mac.update(unit.unit_name.encode())
        return mac.hexdigest()

    def unit_page(
        request: Request, unit: Unit, checked: Checked | None = None, status: int = 200
    ) -> HTMLResponse:
        return page(
            "unit.html",
            status,
            unit=unit,
            projects=project_status(settings.workspace, unit),
            csrf=csrf(unit),
            checked=checked,
            token=request.path_params["token"],
            limit_mb=settings.max_upload // (1024 * 1024),
            rules=RULES,
        )

    async def home(request: Request) -> Response:
        return page(
            "message.html",
            title="绩效自评报送",
            text="请使用财政部门发给本单位的专用链接打开报送页面。",
        )

    async def unit_home(request: Request) -> Response:
        unit = await unit_of(request)
        if isinstance(unit, Response):
            return unit
        return unit_page(request, unit)

    async def template(request: Request) -> Response:
        unit = await unit_of(request)
        if isinstance(unit, Response):
            return unit
        try:
            row = unit.rows[int(request.path_params["n"]) - 1]
        except (ValueError, IndexError):
            return _not_found(page)
        data = await run_in_threadpool(build_template, settings.spec, row.values, key=settings.key)
        return attachment(data, f"{row.values.get('project_name') or '项目'}.xlsx")

    async def upload(request: Request) -> Response:
        unit = await unit_of(request)
        if isinstance(unit, Response):
            return unit
        if not uploads.allow(unit.key):
            return page(
                "message.html", 429, title="请稍后再试", text="上传过于频繁，请一分钟后再试。"
            )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_upload + 64 * 1024:
            return _too_large(request, unit, settings, unit_page)
        limited = Request(request.scope, _limited(request.receive, settings.max_upload + 64 * 1024))
        try:
            form = await limited.form(max_files=1, max_fields=4)
        except TooLarge:
            return _too_large(request, unit, settings, unit_page)
        try:
            if not hmac.compare_digest(str(form.get("csrf") or ""), csrf(unit)):
                return page(
                    "message.html",
                    403,
                    title="页面已过期",
                    text="页面已过期（或服务已重启），请刷新本页后重新上传。",
                )
            got = form.get("file")
            if got is None or isinstance(got, str) or not got.filename:
                return unit_page(
                    request, unit, _refused("（未选择文件）", "请先选择要上传的文件。"), 400
                )
            name = Path(got.filename.replace("\\", "/")).name[:200] or "upload"
            if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
                return unit_page(
                    request,
                    unit,
                    _refused(name, "只能上传 .xlsx 工作簿或装有工作簿的 .zip 压缩包。"),
                    400,
                )
            spooled = await run_in_threadpool(_spool, settings, got.file)
        finally:
            await form.close()
        if spooled is None:
            return _too_large(request, unit, settings, unit_page)
        temp, sha, size = spooled
        try:
            received = datetime.now().astimezone()
            job = partial(
                check_upload,
                temp,
                name,
                received,
                unit,
                settings.units,
                key=settings.key,
                forms=settings.forms,
            )
            if settings.pool is not None:  # on every core, as `collect` checks
                checked = await asyncio.get_running_loop().run_in_executor(settings.pool, job)
            else:
                checked = await run_in_threadpool(job)
            async with lock:  # one upload at a time moves into the inbox and the ledger
                await run_in_threadpool(_keep, settings, unit, checked, temp, sha, size, received)
        finally:
            temp.unlink(missing_ok=True)
        return unit_page(request, unit, checked, 200 if checked.accepted else 422)

    async def returned(request: Request) -> Response:
        unit = await unit_of(request)
        if isinstance(unit, Response):
            return unit
        try:
            row_id = int(request.path_params["upload"])
        except ValueError:
            return _not_found(page)
        rows = settings.workspace.uploads(
            "id = ? AND dept_code = ? AND unit_name = ? AND accepted = 1", (row_id, *unit.key)
        )
        if not rows or not rows[0]["stored_path"]:
            return _not_found(page)  # another unit's upload is no different from none
        data = await run_in_threadpool(_returned_workbook, settings, unit, rows[0])
        if data is None:
            return page(
                "message.html", 404, title="无需退回", text="这个项目没有问题，无需退回修改。"
            )
        return attachment(data, f"退回_{rows[0]['project_name'] or '项目'}.xlsx")

    routes = [
        Route("/", home),
        Route("/u/{token}/returned/{upload}", returned),
        Route("/u/{token}", unit_home),
        Route("/u/{token}/template/{n}", template),
        Route("/u/{token}/upload", upload, methods=["POST"]),
        *office_routes(settings, page, _Window),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    async def failed(request: Request, exc: Exception) -> Response:
        # a bug of ours: the office's terminal gets the traceback, the page a sentence
        traceback.print_exception(exc, file=sys.stderr)
        return page(
            "message.html",
            500,
            title="服务出错",
            text="处理时出错，文件未收下。请稍后重试；仍不行请联系财政部门（错误详情已记录在服务窗口中）。",
        )

    return Starlette(
        routes=routes,
        middleware=[Middleware(_SecurityHeaders)],
        exception_handlers={Exception: failed},
    )


class _SecurityHeaders:
    """Headers on every response: no sniffing, no framing, no referrer (a link's token stays
    in its page), nothing from elsewhere (`Content-Security-Policy`), nothing cached."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (
            b"content-security-policy",
            b"default-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'",
        ),
        (b"cache-control", b"no-store"),
    )

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def check_address(host: str, port: int) -> None:
    """Refuse, before anything is done, an address this computer cannot listen on (a port
    another program, or another serve, holds): uvicorn would say so only in English.

    Raises:
        OutputError: naming the address and what to do.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(infos[0][4])
    except OSError as exc:
        raise OutputError(
            Path(f"{host}:{port}"),
            Text(
                f"无法在此地址和端口上提供服务（{exc.strerror or exc}）：端口可能已被占用，"
                "可用 --port 换一个",
                f"cannot serve on this address and port ({exc.strerror or exc}): the port may "
                "be in use; choose another with --port",
            ),
        ) from None


def _spool(settings: Settings, source: Any) -> tuple[Path, str, int] | None:
    """Copy the upload into the workspace's temporary folder: (its file, SHA-256, size), or
    None (and nothing left) past the limit."""
    temp, fh = settings.workspace.temp_file()
    digest = hashlib.sha256()
    size = 0
    with fh:
        while block := source.read(1 << 20):
            size += len(block)
            if size > settings.max_upload:
                fh.close()
                temp.unlink(missing_ok=True)
                return None
            digest.update(block)
            fh.write(block)
    return temp, digest.hexdigest(), size


def _keep(
    settings: Settings,
    unit: Unit,
    checked: Checked,
    temp: Path,
    sha: str,
    size: int,
    received: datetime,
) -> None:
    """An accepted upload into the inbox (fsync), then every upload's ledger rows (one
    transaction): both are done before the page answers."""
    ws = settings.workspace
    stored = None
    if checked.accepted:
        stored = ws.keep(temp, unit, sha, Path(checked.name).suffix.lower(), received)
    base = {
        "received": received.isoformat(timespec="seconds"),
        "dept_code": unit.dept_code,
        "unit_name": unit.unit_name,
        "original_name": checked.name,
        "stored_path": stored.relative_to(ws.root).as_posix() if stored else None,
        "sha256": sha,
        "size": size,
        "accepted": int(checked.accepted),
    }
    rows = []
    projects = [(i, r) for i, r in enumerate(checked.results) if r.record is not None]
    if not checked.accepted or not projects:
        rows.append(
            {
                **base,
                "errors": checked.errors,
                "warnings": checked.warnings,
                "findings": checked.ledger_findings(),
            }
        )
    else:
        for _, r in projects:
            rec = r.record
            assert rec is not None
            complete = r.score is not None and r.score.complete
            rows.append(
                {
                    **base,
                    "project_name": cell_text(rec.value("project_name")),
                    "project_code": cell_text(rec.value("project_code")),
                    "errors": r.errors,
                    "warnings": r.warnings,
                    # a score beside errors is no score a reviewer would sign
                    "score": r.score.total if complete and r.score and not r.errors else None,
                    "grade": r.score.grade if complete and r.score and not r.errors else None,
                    "findings": Checked(checked.name, [r]).ledger_findings(),
                }
            )
    ids = ws.record(rows)
    if checked.accepted and projects:
        checked.ledger_ids = {i: row_id for (i, _), row_id in zip(projects, ids, strict=True)}


def _returned_workbook(settings: Settings, unit: Unit, row: Any) -> bytes | None:
    """The returned workbook of one upload's project (`feedback.returned_workbook`): the file
    kept in the inbox read again, its project's issued values from the roster."""
    from ..office.feedback import returned_workbook

    ws = settings.workspace
    path = ws.root / row["stored_path"]
    received = datetime.fromisoformat(row["received"])
    checked = check_upload(
        path, row["original_name"], received, unit, settings.units, key=settings.key,
        forms=settings.forms,
    )  # fmt: skip
    for result in checked.results:
        if result.record is None:
            continue
        name, code = (
            cell_text(result.record.value("project_name")),
            cell_text(result.record.value("project_code")),
        )
        if (name, code) != (row["project_name"], row["project_code"] or ""):
            continue
        found = roster_row(result, unit)
        issued = dict(found.values) if found is not None else {}
        return returned_workbook(
            result, issued, source=row["original_name"], key=settings.key, forms=settings.forms
        )
    return None


def _when(iso: str | None) -> str:
    """A ledger time as a clerk reads it: 2026-11-30 14:07."""
    if not iso:
        return ""
    try:
        return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M}"
    except ValueError:
        return iso


def _amount(value: Any) -> str:
    """An amount as the roster gives it, without a trailing .0 (100, 114.56)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _refused(name: str, text: str) -> Checked:
    return Checked(name, refused=Text(text, text))


def _too_large(request: Request, unit: Unit, settings: Settings, unit_page: Any) -> Response:
    mb = settings.max_upload // (1024 * 1024)
    return unit_page(
        request,
        unit,
        _refused("（文件过大）", f"文件超过 {mb} MB，未收下；请压缩图片或拆分后再传。"),
        413,
    )


def _not_found(page: Any) -> Response:
    return page(
        "message.html", 404, title="链接无效", text="链接无效或已更换；请向财政部门索取新链接。"
    )


def _limited(receive: Any, limit: int) -> Any:
    """`receive`, raising TooLarge once the body passes `limit` bytes."""
    seen = 0

    async def inner() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge
        return message

    return inner
