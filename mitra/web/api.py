"""The REST API for department systems and tools: `/api/v1/…`, authenticated by API keys
(`Authorization: Bearer mk_…`) limited to a department and to scopes. Documented at
/api/docs (OpenAPI). The same actions as `mitra case …` and the console (mitra.cases.actions).

Errors: 401 no or unknown key; 403 a scope the key lacks, or an action not for officers;
404 a case outside the key's department (whether or not it exists); 409 an action the case's
status does not allow; 422 a malformed request or a missing reason.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import psycopg
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, Field

from mitra import handover
from mitra.cases import actions, apikeys, grievances
from mitra.cases.apikeys import ApiKey
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import CaseError
from mitra.cases.store import Actor, Scope
from mitra.console import audit
from mitra.handover import HandoverError

T = TypeVar("T")
# Dependencies are given as defaults: the routes are made inside a function, and FastAPI
# cannot resolve `Annotated[…, Depends(local)]` from postponed annotations.
AUTHORIZATION = Header(default=None, description="Bearer mk_…")

STATUS_OF = {"not_found": 404, "illegal": 409, "invalid": 422, "forbidden": 403, "unavailable": 503}


class Photo(BaseModel):
    mime_type: Literal["image/jpeg", "image/png", "image/webp"]
    data_base64: str = Field(max_length=7_000_000, description="At most 5 MB once decoded.")


class ActionRequest(BaseModel):
    action: Literal["review", "return", "approve", "reject", "start", "resolve"]
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="Required to return (what information is needed), to reject (why) and to "
        "resolve a grievance (what was done: the citizen reads it).",
    )
    photo: Photo | None = Field(
        default=None, description="Resolving a grievance: an optional photo of it fixed."
    )
    officer: str | None = Field(
        default=None,
        max_length=120,
        description="The officer who decided, in the department's system: printed on the "
        "certificate an approval issues.",
    )


class EscalateRequest(BaseModel):
    note: str = Field(min_length=3, max_length=2000, description="Why the office above.")
    officer: str | None = Field(default=None, max_length=120)


class AssignRequest(BaseModel):
    officer: str = Field(
        max_length=100, description="A console username of the case's department; empty: nobody."
    )


class RevokeRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


class Reply(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    officer: str = Field(min_length=1, max_length=120, description="Shown to the citizen.")


class HandBack(BaseModel):
    officer: str = Field(min_length=1, max_length=120)


class Problem(BaseModel):
    detail: str


def case_api(pool: Callable[[], ConnectionPool], desk: Callable[[], CaseDesk]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["cases"])

    async def in_db(work: Callable[[psycopg.Connection[Any]], T]) -> T:
        def run() -> T:
            with pool().connection() as conn, conn.transaction():
                return work(conn)

        try:
            return await asyncio.to_thread(run)
        except CaseError as exc:
            raise HTTPException(STATUS_OF.get(exc.kind, 400), exc.message) from None

    async def key(authorization: str | None = AUTHORIZATION) -> ApiKey:
        token = (authorization or "").removeprefix("Bearer ").strip()
        found = await in_db(lambda conn: apikeys.authenticate(conn, token)) if token else None
        if found is None:
            raise HTTPException(401, "a valid API key is required (Authorization: Bearer mk_…)")
        return found

    def need(scope: str) -> Callable[..., Any]:
        async def check(api_key: ApiKey = Depends(key)) -> ApiKey:  # noqa: B008
            if not api_key.allows(scope):
                raise HTTPException(403, f"this key lacks the {scope} scope")
            return api_key

        return check

    def scope_of(api_key: ApiKey) -> Scope:
        return Scope(department=api_key.department)

    def audited(
        request: Request,
        api_key: ApiKey,
        action: str,
        target: str,
        work: Callable[[psycopg.Connection[Any]], T],
    ) -> Callable[[psycopg.Connection[Any]], T]:
        """`work`, and its line in the audit trail (who, what, when, from where), in one
        transaction."""

        def run(conn: psycopg.Connection[Any]) -> T:
            done = work(conn)
            ip = request.client.host if request.client else None
            audit.record(conn, f"api:{api_key.name}", action, target.upper(), ip, None)
            return done

        return run

    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
    }

    @router.get("/cases", responses=errors)
    async def list_cases(
        api_key: ApiKey = Depends(need("cases:read")),  # noqa: B008
        status: str | None = None,
        service: Annotated[str | None, Query(pattern=r"^[A-Z]{3}-\d{2}$")] = None,
        overdue: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The key's department's cases, soonest due first."""
        items = await in_db(
            lambda conn: actions.queue(
                conn,
                desk(),
                scope_of(api_key),
                status=status,
                service=service,
                overdue=overdue,
                limit=limit,
                offset=offset,
            )
        )
        return {"cases": items, "limit": limit, "offset": offset}

    @router.get("/cases/{reference}", responses=errors)
    async def get_case(
        reference: str,
        api_key: ApiKey = Depends(need("cases:read")),  # noqa: B008
    ) -> dict[str, Any]:
        """One case: the applicant, their answers, the office ladder, the history and the
        actions its status allows."""
        return await in_db(lambda conn: actions.detail(conn, desk(), reference, scope_of(api_key)))

    @router.post(
        "/cases/{reference}/actions",
        responses={**errors, 409: {"model": Problem}, 422: {"model": Problem}},
    )
    async def act(
        request: Request,
        reference: str,
        body: ActionRequest,
        api_key: ApiKey = Depends(need("cases:write")),  # noqa: B008
    ) -> dict[str, Any]:
        """Review, return for information, approve (which issues the signed document) or
        reject a case; the citizen is told in the chat in the same transaction. Department
        systems push their own officers' decisions here."""
        actor = (
            Actor("officer", body.officer.strip(), via=f"api:{api_key.name}")
            if body.officer and body.officer.strip()
            else Actor("api", api_key.name)
        )
        photo = None
        if body.photo is not None:
            try:
                photo = (
                    body.photo.mime_type,
                    base64.b64decode(body.photo.data_base64, validate=True),
                )
            except binascii.Error:
                raise HTTPException(422, "photo.data_base64 is not base64") from None
        return await in_db(
            audited(
                request,
                api_key,
                f"case_{body.action}",
                reference,
                lambda conn: actions.act(
                    conn, desk(), reference, body.action, actor, scope_of(api_key), body.note, photo
                ),
            )
        )

    @router.post("/cases/{reference}/escalate", responses={**errors, 409: {"model": Problem}})
    async def escalate(
        request: Request,
        reference: str,
        body: EscalateRequest,
        api_key: ApiKey = Depends(need("cases:write")),  # noqa: B008
    ) -> dict[str, Any]:
        """Raise an open case to the next office up its ladder now (the citizen is told)."""
        actor = (
            Actor("officer", body.officer.strip(), via=f"api:{api_key.name}")
            if body.officer and body.officer.strip()
            else Actor("api", api_key.name)
        )
        return await in_db(
            audited(
                request,
                api_key,
                "case_escalate",
                reference,
                lambda conn: actions.escalate(
                    conn, desk(), reference, actor, scope_of(api_key), body.note
                ),
            )
        )

    @router.post("/cases/{reference}/assign", responses={**errors, 422: {"model": Problem}})
    async def assign(
        request: Request,
        reference: str,
        body: AssignRequest,
        api_key: ApiKey = Depends(need("cases:write")),  # noqa: B008
    ) -> dict[str, Any]:
        """Give a case to one officer of its department (the console's queue shows who)."""
        return await in_db(
            audited(
                request,
                api_key,
                "case_assign",
                reference,
                lambda conn: actions.assign(
                    conn,
                    desk(),
                    reference,
                    body.officer,
                    Actor("api", api_key.name),
                    scope_of(api_key),
                ),
            )
        )

    @router.get("/cases/{reference}/attachments/{attachment_id}", responses=errors)
    async def get_attachment(
        reference: str,
        attachment_id: int,
        api_key: ApiKey = Depends(need("cases:read")),  # noqa: B008
    ) -> Response:
        """A photo, voice note or file sent with the case (or an officer's after photo)."""
        mime, data = await in_db(
            lambda conn: actions.attachment(
                conn, desk(), reference, attachment_id, scope_of(api_key)
            )
        )
        return Response(
            data,
            media_type=mime,
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/stats/grievances", responses=errors)
    async def grievance_stats(
        api_key: ApiKey = Depends(need("cases:read")),  # noqa: B008
    ) -> dict[str, Any]:
        """Per office: grievances resolved, resolved in time, reopened, and the citizens'
        ratings (count, average, stars 1–5)."""
        offices = await in_db(lambda conn: grievances.office_ratings(conn, scope_of(api_key)))
        return {"offices": offices}

    @router.post("/documents/{document_id}/revoke", responses=errors, tags=["documents"])
    async def revoke(
        document_id: str,
        body: RevokeRequest,
        api_key: ApiKey = Depends(need("documents:revoke")),  # noqa: B008
    ) -> dict[str, Any]:
        """Revoke an issued document: its verification page says so from this moment."""
        return await in_db(
            lambda conn: actions.revoke_document(
                conn, document_id, body.reason, scope_of(api_key), Actor("api", api_key.name)
            )
        )

    conversations = need("conversations")

    async def in_handover(work: Callable[[psycopg.Connection[Any]], T]) -> T:
        try:
            return await in_db(work)
        except HandoverError as exc:
            status = {"not_found": 404, "closed": 409, "outside_window": 409}.get(exc.kind, 422)
            raise HTTPException(status, exc.message) from None

    @router.get("/handovers", tags=["conversations"], responses=errors)
    async def list_handovers(
        api_key: ApiKey = Depends(conversations),  # noqa: B008
    ) -> dict[str, Any]:
        """Citizens waiting for (or talking to) an officer of the key's department."""
        return {"handovers": await in_db(lambda c: handover.queue(c, api_key.department))}

    @router.get("/handovers/{handover_id}", tags=["conversations"], responses=errors)
    async def get_handover(
        handover_id: int,
        api_key: ApiKey = Depends(conversations),  # noqa: B008
    ) -> dict[str, Any]:
        """The conversation: what the citizen and Mitra said, oldest first."""
        return await in_handover(
            lambda c: handover.conversation(c, desk().cipher, handover_id, api_key.department)
        )

    @router.post("/handovers/{handover_id}/reply", tags=["conversations"], responses=errors)
    async def reply_handover(
        handover_id: int,
        body: Reply,
        api_key: ApiKey = Depends(conversations),  # noqa: B008
    ) -> dict[str, Any]:
        """Send the citizen a message over WhatsApp (inside the 24-hour window)."""
        return await in_handover(
            lambda c: handover.reply(
                c, desk().cipher, handover_id, api_key.department, body.officer, body.text
            )
        )

    @router.post("/handovers/{handover_id}/close", tags=["conversations"], responses=errors)
    async def close_handover(
        handover_id: int,
        body: HandBack,
        api_key: ApiKey = Depends(conversations),  # noqa: B008
    ) -> dict[str, Any]:
        """Hand the citizen back to the bot, which tells them so."""
        return await in_handover(
            lambda c: handover.hand_back(
                c, desk().cipher, handover_id, api_key.department, f"officer:{body.officer}"
            )
        )

    return router
