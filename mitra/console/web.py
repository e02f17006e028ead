"""The officers' console pages under /console: sign in, the queue of cases in the officer's
scope, a case with its answers, attachments, history and the actions its status allows, and
the audit trail. Server-rendered (Jinja2, autoescaped), no scripts from anywhere else.

Every page asks the database through the officer's `Scope`: a case outside it is 404, exactly
as if it did not exist. Every form carries the session's CSRF token. Every action is in the
audit trail with who, what, when and from where. The actions are mitra.cases.actions, the same
as the REST API and `mitra case`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg_pool import ConnectionPool

from mitra import handover, media
from mitra.cases import actions
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import STATUSES, CaseError
from mitra.cases.store import Actor
from mitra.catalogue import switches
from mitra.console import accounts, audit, charts, sessions
from mitra.console.accounts import AuthError
from mitra.console.i18n import LANGUAGES, translator
from mitra.console.sessions import COOKIE, Signed
from mitra.crypto import FieldCipher
from mitra.handover import HandoverError

T = TypeVar("T")
PREFIX = "/console"
LOGIN_COOKIE = "mitra_console_login"  # the sign-in form's CSRF (double submit)
LANG_COOKIE = "mitra_console_lang"
FONT_DIR = Path(__file__).resolve().parent.parent / "documents" / "fonts"
FONTS = frozenset(
    {
        "NotoSans-Regular.ttf",
        "NotoSans-Bold.ttf",
        "NotoSansTelugu-Regular.ttf",
        "NotoSansTelugu-Bold.ttf",
    }
)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
IST = timezone(timedelta(hours=5, minutes=30))


def actor_of(officer: accounts.Officer) -> Actor:
    """Who the case history and the citizen's messages name for a console action."""
    return Actor("officer", officer.display_name, via=f"console:{officer.username}")


def _ist(value: Any) -> str:
    """An ISO time (or datetime) as Indian time, to the minute: what officers read."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M")


def _answer(value: Any) -> str:
    """A shared pin as coordinates; anything else as text."""
    if isinstance(value, dict) and "latitude" in value:
        return f"📍 {value['latitude']:.5f}, {value['longitude']:.5f}"
    if isinstance(value, dict) and "text" in value:
        return str(value["text"])
    return str(value)


TEMPLATES.filters["ist"] = _ist
TEMPLATES.filters["answer"] = _answer
STATUS_OF = {"not_found": 404, "illegal": 409, "invalid": 422, "forbidden": 403, "unavailable": 503}
LOGIN_MESSAGES = {
    "bad_credentials": "Wrong username or password.",
    "locked": "This account is locked for 15 minutes after too many wrong passwords.",
    "throttled": "Too many failed sign-ins from this address. Please wait a few minutes.",
    "second_factor": "Enter the 6-digit code from your authenticator app.",
}


def console_routes(
    pool: Callable[[], ConnectionPool],
    desk: Callable[[], CaseDesk],
    cipher: FieldCipher,
    secure: bool,
) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    async def in_db(work: Callable[[psycopg.Connection[Any]], T]) -> T:
        def run() -> T:
            with pool().connection() as conn, conn.transaction():
                return work(conn)

        return await asyncio.to_thread(run)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = request.cookies.get(LANG_COOKIE, "en")
        lang = lang if lang in LANGUAGES else "en"
        html = TEMPLATES.get_template(name).render(lang=lang, _=translator(lang), **context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
            " font-src 'self';"
            " form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def ip_of(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def signed_in(request: Request, *, changing_password: bool = False) -> Signed:
        token = request.cookies.get(COOKIE)
        signed = await in_db(lambda conn: sessions.current(conn, token))
        if signed is None:
            raise HTTPException(303, headers={"Location": f"{PREFIX}/login"})
        if signed.officer.must_change_password and not changing_password:
            # A temporary password opens one page only: the one that replaces it.
            raise HTTPException(303, headers={"Location": f"{PREFIX}/password"})
        return signed

    def check_csrf(signed: Signed, sent: str | None) -> None:
        if not sessions.csrf_ok(signed, sent):
            raise HTTPException(403, "the form is out of date: reload the page and try again")

    async def acting(request: Request, csrf: str) -> Signed:
        """A signed-in officer posting a form of theirs, who may act (auditors only read)."""
        signed = await signed_in(request)
        check_csrf(signed, csrf)
        if not signed.officer.can_act:
            raise HTTPException(403, "auditors read; they do not act")
        return signed

    @router.get("/fonts/{name}")
    async def font(name: str) -> Response:
        """The Noto fonts shipped for documents, so Telugu shows on any office machine (no
        font CDN; the state's network may be closed)."""
        if name not in FONTS:
            raise HTTPException(404, "no such font")
        data = await asyncio.to_thread((FONT_DIR / name).read_bytes)
        return Response(
            data, media_type="font/ttf", headers={"Cache-Control": "public, max-age=604800"}
        )

    @router.get("/language/{lang}")
    async def language(request: Request, lang: str) -> RedirectResponse:
        """English or Telugu pages, remembered by this browser."""
        back = request.headers.get("referer", "")
        path = urlsplit(back).path if back else ""
        response = RedirectResponse(path if path.startswith(PREFIX) else f"{PREFIX}/", 303)
        if lang in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, lang, samesite="strict", secure=secure, path=PREFIX, max_age=31536000
            )
        return response

    @router.get("/login")
    async def login_form(request: Request) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", csrf=token, message=None)
        response.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure, path=PREFIX
        )
        return response

    @router.post("/login", response_model=None)
    async def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        code: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        if not expected or not secrets.compare_digest(expected, csrf):
            return page(
                request, "login.html", 403, csrf=expected, message="Reload the page and sign in."
            )
        ip = ip_of(request)

        def attempt(conn: psycopg.Connection[Any]) -> tuple[str | None, str | None]:
            officer = accounts.authenticate(conn, cipher, username, password, code, ip)
            if isinstance(officer, AuthError):
                return None, officer.kind  # committed: the failure counts and is in the trail
            return sessions.start(conn, officer, ip), None

        token, problem = await in_db(attempt)
        if token is None:
            status = 429 if problem == "throttled" else 401
            return page(
                request,
                "login.html",
                status,
                csrf=expected,
                message=LOGIN_MESSAGES.get(problem or "", ""),
            )
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=secure, path=PREFIX
        )
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    @router.get("/password")
    async def password_form(request: Request) -> HTMLResponse:
        signed = await signed_in(request, changing_password=True)
        return page(request, "password.html", signed=signed, message=None)

    @router.post("/password", response_model=None)
    async def change_password(
        request: Request,
        current: str = Form(""),
        new: str = Form(""),
        again: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        signed = await signed_in(request, changing_password=True)
        check_csrf(signed, csrf)
        if new != again:
            return page(
                request,
                "password.html",
                422,
                signed=signed,
                message="The two new passwords differ.",
            )
        ip = ip_of(request)

        def change(conn: psycopg.Connection[Any]) -> str | None:
            try:
                accounts.change_password(conn, signed.officer, current, new, ip)
            except AuthError as exc:
                return str(exc)
            return None

        problem = await in_db(change)
        if problem is not None:
            return page(request, "password.html", 422, signed=signed, message=problem)
        return RedirectResponse(f"{PREFIX}/", status_code=303)

    @router.post("/logout")
    async def logout(request: Request, csrf: str = Form("")) -> RedirectResponse:
        signed = await signed_in(request, changing_password=True)
        check_csrf(signed, csrf)
        token = request.cookies.get(COOKIE)

        def out(conn: psycopg.Connection[Any]) -> None:
            sessions.end(conn, token)
            audit.record(conn, signed.officer.label, "logout", None, ip_of(request), None)

        await in_db(out)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @router.get("/")
    async def queue(
        request: Request,
        status: str | None = None,
        service: str | None = None,
        sla: str | None = None,
        since: str | None = None,
        sort: str | None = None,
    ) -> HTMLResponse:
        signed = await signed_in(request)
        scope = accounts.scope_of(signed.officer)
        wanted = status if status in STATUSES else None
        code = service.strip().upper() if service else None
        overdue = {"overdue": True, "on_time": False}.get(sla or "")
        try:
            start = datetime.combine(date.fromisoformat(since), time(0), IST) if since else None
        except ValueError:
            start = None  # a date the browser could not have sent: no filter

        def read(conn: psycopg.Connection[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
            items = actions.queue(
                conn,
                desk(),
                scope,
                status=wanted,
                service=code,
                overdue=overdue,
                limit=200,
                since=start,
                newest_first=sort == "newest",
            )
            where, params = scope.where()
            counts = conn.execute(
                f"SELECT c.status, count(*) AS n FROM cases c WHERE {where}"
                " GROUP BY c.status ORDER BY c.status",
                params,
            ).fetchall()
            return items, [dict(r) for r in counts]

        items, counts = await in_db(read)
        return page(
            request,
            "queue.html",
            signed=signed,
            items=items,
            counts=counts,
            chosen=wanted,
            service=code or "",
            sla=sla or "",
            since=start.date().isoformat() if start else "",
            sort=sort or "",
            statuses=STATUSES,
        )

    @router.get("/cases/{reference}")
    async def case_page(request: Request, reference: str) -> HTMLResponse:
        signed = await signed_in(request)
        scope = accounts.scope_of(signed.officer)

        def read(conn: psycopg.Connection[Any]) -> tuple[dict[str, Any], list[Any]]:
            case = actions.detail(conn, desk(), reference, scope)
            officers = conn.execute(
                "SELECT username, display_name FROM officers WHERE department = %s"
                " AND role IN ('officer', 'head') AND disabled_at IS NULL ORDER BY display_name",
                (case["department"],),
            ).fetchall()
            return case, [dict(o) for o in officers]

        try:
            case, officers = await in_db(read)
        except CaseError as exc:
            raise HTTPException(STATUS_OF.get(exc.kind, 400), exc.message) from None
        return page(request, "case.html", signed=signed, case=case, officers=officers, message=None)

    @router.post("/cases/{reference}/act", response_model=None)
    async def act(
        request: Request,
        reference: str,
        action: str = Form(""),
        note: str = Form(""),
        csrf: str = Form(""),
        photo: UploadFile | None = None,
    ) -> Response:
        signed = await acting(request, csrf)
        officer, scope, ip = signed.officer, accounts.scope_of(signed.officer), ip_of(request)
        actor = actor_of(officer)
        after = None
        if photo is not None and photo.filename:
            data = await photo.read(media.MAX_BYTES["image"] + 1)
            after = (photo.content_type or "", data)

        def do(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            done = actions.act(conn, desk(), reference, action, actor, scope, note or None, after)
            audit.record(conn, officer.label, f"case_{action}", done["reference"], ip, None)
            return done

        try:
            await in_db(do)
        except CaseError as exc:
            if exc.kind == "not_found":
                raise HTTPException(404, exc.message) from None
            case = await in_db(lambda conn: actions.detail(conn, desk(), reference, scope))
            return page(
                request,
                "case.html",
                STATUS_OF.get(exc.kind, 400),
                signed=signed,
                case=case,
                message=exc.message,
            )
        return RedirectResponse(f"{PREFIX}/cases/{reference.strip().upper()}", status_code=303)

    @router.post("/cases/{reference}/escalate", response_model=None)
    async def escalate(
        request: Request, reference: str, note: str = Form(""), csrf: str = Form("")
    ) -> Response:
        signed = await acting(request, csrf)
        officer, scope, ip = signed.officer, accounts.scope_of(signed.officer), ip_of(request)
        actor = actor_of(officer)

        def up(conn: psycopg.Connection[Any]) -> None:
            done = actions.escalate(conn, desk(), reference, actor, scope, note or None)
            audit.record(conn, officer.label, "case_escalate", done["reference"], ip, None)

        await case_action(up)
        # Raised above an office-level officer's scope: back to the queue.
        return RedirectResponse(f"{PREFIX}/", status_code=303)

    @router.post("/cases/{reference}/assign", response_model=None)
    async def assign(
        request: Request, reference: str, officer: str = Form(""), csrf: str = Form("")
    ) -> Response:
        signed = await acting(request, csrf)
        me, scope, ip = signed.officer, accounts.scope_of(signed.officer), ip_of(request)
        actor = actor_of(me)

        def give(conn: psycopg.Connection[Any]) -> None:
            done = actions.assign(conn, desk(), reference, officer, actor, scope)
            audit.record(conn, me.label, "case_assign", done["reference"], ip, {"to": officer})

        await case_action(give)
        return RedirectResponse(f"{PREFIX}/cases/{reference.strip().upper()}", status_code=303)

    async def case_action(work: Callable[[psycopg.Connection[Any]], None]) -> None:
        """Run an action; a refusal is an HTTP error with its reason (404 outside the scope)."""
        try:
            await in_db(work)
        except CaseError as exc:
            raise HTTPException(STATUS_OF.get(exc.kind, 400), exc.message) from None

    @router.get("/cases/{reference}/document.pdf")
    async def document(request: Request, reference: str) -> Response:
        signed = await signed_in(request)
        scope = accounts.scope_of(signed.officer)
        try:
            name, pdf = await in_db(
                lambda conn: actions.document_pdf(conn, desk(), reference, scope)
            )
        except CaseError as exc:
            raise HTTPException(404, exc.message) from None
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "private, no-store",
            },
        )

    @router.get("/cases/{reference}/attachments/{attachment_id}")
    async def attachment(request: Request, reference: str, attachment_id: int) -> Response:
        signed = await signed_in(request)
        scope = accounts.scope_of(signed.officer)
        try:
            mime, data = await in_db(
                lambda conn: actions.attachment(conn, desk(), reference, attachment_id, scope)
            )
        except CaseError as exc:
            raise HTTPException(404, exc.message) from None
        return Response(
            data,
            media_type=mime,
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )

    # ---- conversations: citizens who asked for an officer (mitra.handover) ----------------

    def department_of(signed: Signed) -> str | None:
        """Handovers belong to a department: officers and heads see theirs, admins all."""
        return None if signed.officer.role in ("admin", "auditor") else signed.officer.department

    async def in_handover(work: Callable[[psycopg.Connection[Any]], T]) -> T:
        try:
            return await in_db(work)
        except HandoverError as exc:
            status = {"not_found": 404, "closed": 409, "outside_window": 409}.get(exc.kind, 422)
            raise HTTPException(status, exc.message) from None

    @router.get("/conversations")
    async def conversations(request: Request) -> HTMLResponse:
        signed = await signed_in(request)
        waiting = await in_db(lambda conn: handover.queue(conn, department_of(signed)))
        return page(
            request, "conversations.html", signed=signed, waiting=waiting, talk=None, message=None
        )

    @router.get("/conversations/{handover_id}")
    async def conversation(request: Request, handover_id: int) -> HTMLResponse:
        signed = await signed_in(request)
        dept = department_of(signed)

        def read(conn: psycopg.Connection[Any]) -> tuple[Any, Any]:
            return handover.queue(conn, dept), handover.conversation(
                conn, cipher, handover_id, dept
            )

        waiting, talk = await in_handover(read)
        return page(
            request, "conversations.html", signed=signed, waiting=waiting, talk=talk, message=None
        )

    @router.post("/conversations/{handover_id}/reply", response_model=None)
    async def reply(
        request: Request, handover_id: int, text: str = Form(""), csrf: str = Form("")
    ) -> Response:
        signed = await acting(request, csrf)
        officer, dept, ip = signed.officer, department_of(signed), ip_of(request)

        def send(conn: psycopg.Connection[Any]) -> None:
            handover.reply(conn, cipher, handover_id, dept, officer.display_name, text)
            audit.record(conn, officer.label, "handover_reply", str(handover_id), ip, None)

        await in_handover(send)
        return RedirectResponse(f"{PREFIX}/conversations/{handover_id}", status_code=303)

    @router.post("/conversations/{handover_id}/close", response_model=None)
    async def hand_back(request: Request, handover_id: int, csrf: str = Form("")) -> Response:
        signed = await acting(request, csrf)
        officer, dept, ip = signed.officer, department_of(signed), ip_of(request)

        def close(conn: psycopg.Connection[Any]) -> None:
            handover.hand_back(conn, cipher, handover_id, dept, f"officer:{officer.username}")
            audit.record(conn, officer.label, "handover_close", str(handover_id), ip, None)

        await in_handover(close)
        return RedirectResponse(f"{PREFIX}/conversations", status_code=303)

    # ---- the dashboard: the officer's scope in charts ---------------------------------------

    @router.get("/dashboard")
    async def dashboard(request: Request) -> HTMLResponse:
        signed = await signed_in(request)
        scope = accounts.scope_of(signed.officer)
        _ = translator(request.cookies.get(LANG_COOKIE, "en"))
        figures = await in_db(lambda conn: charts.figures(conn, scope, desk().catalogue, _))
        return page(request, "dashboard.html", signed=signed, charts=figures)

    # ---- the catalogue: services, their patterns and versions, switched on or off ----------

    @router.get("/catalogue")
    async def catalogue_page(request: Request) -> HTMLResponse:
        signed = await signed_in(request)
        off = await in_db(switches.switched_off)
        catalogue = desk().catalogue
        departments = [
            (d, [s for s in catalogue.services_of(d.code) if s.enabled])
            for d in sorted(catalogue.departments, key=lambda d: d.order)
        ]
        return page(request, "catalogue.html", signed=signed, departments=departments, off=off)

    @router.post("/catalogue/{code}/switch", response_model=None)
    async def switch_service(
        request: Request,
        code: str,
        enabled: str = Form(""),
        reason: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        signed = await signed_in(request)
        check_csrf(signed, csrf)
        if signed.officer.role != "admin":
            raise HTTPException(403, "only an administrator switches services")
        service = desk().catalogue.service(code)
        if service is None or enabled not in ("on", "off"):
            raise HTTPException(422, "a service code, and on or off")
        officer, ip = signed.officer, ip_of(request)

        def flip(conn: psycopg.Connection[Any]) -> None:
            switches.switch(conn, service.code, enabled == "on", officer.label, reason or None)
            details = {"enabled": enabled == "on", "reason": reason or None}
            audit.record(conn, officer.label, "service_switch", service.code, ip, details)

        await in_db(flip)
        return RedirectResponse(f"{PREFIX}/catalogue#{service.code}", status_code=303)

    @router.get("/audit")
    async def audit_page(
        request: Request, actor: str | None = None, action: str | None = None
    ) -> HTMLResponse:
        signed = await signed_in(request)
        if signed.officer.role not in ("admin", "auditor"):
            raise HTTPException(404, "not found")
        rows = await in_db(lambda conn: audit.search(conn, actor=actor, action=action))
        return page(
            request, "audit.html", signed=signed, rows=rows, actor=actor or "", action=action or ""
        )

    return router
