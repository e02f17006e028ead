"""What officers and department systems do with cases — one implementation behind the REST API,
the `mitra case` commands and the console. Every function takes the caller's `Scope`: outside
it, a case does not exist (not_found, never "forbidden", so a guessed reference tells nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from mitra.cases import store
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import CaseError, allowed
from mitra.cases.store import Actor, Scope
from mitra.cases.views import application_view

OFFICER_FIELDS = ("kyc",)  # answers that are identity records: shown as last 4 only


def summary(case: dict[str, Any], desk: CaseDesk, now: datetime) -> dict[str, Any]:
    service = store.service_of(desk.catalogue, case)
    open_ = case["status"] in ("submitted", "in_review", "returned")
    return {
        "reference": case["reference"],
        "department": case["department"],
        "service": case["service"],
        "service_title": {"en": service.title.en, "te": service.title.te} if service else None,
        "status": case["status"],
        "office_id": case["office_id"],
        "level": case["offices"][case["level"]].get("level"),
        "district": case["district_code"],
        "mandal": case["mandal_code"],
        "submitted_at": case["created_at"].isoformat(),
        "updated_at": case["updated_at"].isoformat(),
        "due_at": case["due_at"].isoformat(),
        "overdue": open_ and case["due_at"] < now,
        "document_id": case["document_id"],
    }


def queue(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    scope: Scope,
    *,
    status: str | None = None,
    service: str | None = None,
    overdue: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = store.listing(
        conn, scope, status=status, service=service, overdue=overdue, limit=limit, offset=offset
    )
    return [summary(r, desk, now) for r in rows]


def detail(
    conn: psycopg.Connection[Any], desk: CaseDesk, reference: str, scope: Scope
) -> dict[str, Any]:
    case = store.find(conn, reference, scope)
    if case is None:
        raise CaseError("not_found", f"no case {reference.strip().upper()}")
    record = store.private(desk.cipher, conn, case["id"])
    applicant = record["applicant"]
    answers: dict[str, Any] = {}
    for k, v in (record.get("answers") or {}).items():
        if k in OFFICER_FIELDS and isinstance(v, dict):
            answers[k] = {"last4": v.get("last4"), "name": v.get("name")}
        elif isinstance(v, (str, int, float, dict)):
            answers[k] = v
    events = store.history(conn, case["id"])
    service = store.service_of(desk.catalogue, case)
    return {
        **summary(case, desk, datetime.now(UTC)),
        "applicant": {
            "name": applicant.get("name"),
            "aadhaar_last4": applicant.get("aadhaar_last4"),
            "identity_verified": bool(applicant.get("identity_token")),
        },
        "answers": answers,
        "choices": record.get("choices") or {},
        "replies": record.get("replies") or [],
        "place": record.get("place") or {},
        "offices": case["offices"],
        "question": case["question"],
        "reason": case["reason"],
        "history": [{**e, "at": e["at"].isoformat()} for e in events],
        "actions": [a for a in allowed(case["status"], "officer") if a != "issue"],
        "citizen_view": application_view(case, events, service, str(applicant.get("name") or "")),
    }


def act(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    reference: str,
    action: str,
    actor: Actor,
    scope: Scope,
    note: str | None = None,
) -> dict[str, Any]:
    """Take an action (in the caller's transaction) and return the case as it is now."""
    if action == "issue":
        raise CaseError("invalid", "documents are issued by approving the case")
    if action == "approve":
        case = store.find(conn, reference, scope)
        service = store.service_of(desk.catalogue, case) if case else None
        if service is not None and service.document is not None and desk.signer is None:
            raise CaseError(
                "unavailable", "documents cannot be signed: MITRA_DOCUMENT_SIGNING_KEY is not set"
            )
    store.act(conn, reference, action, actor, note=note, scope=scope, after=desk.notifier.after)
    return detail(conn, desk, reference, scope)


def revoke_document(
    conn: psycopg.Connection[Any], document_id: str, reason: str, scope: Scope, actor: Actor
) -> dict[str, Any]:
    if not reason.strip():
        raise CaseError("invalid", "revoking needs a reason")
    where, params = scope.where()
    row = conn.execute(
        "UPDATE documents d SET revoked_at = now(), revoked_reason = %s FROM cases c"
        f" WHERE d.id = %s AND c.id = d.case_id AND d.revoked_at IS NULL AND {where}"
        " RETURNING d.id, d.case_id, d.revoked_at",
        [reason.strip()[:500], document_id, *params],
    ).fetchone()
    if row is None:
        raise CaseError("not_found", "no such document in scope, or it is already revoked")
    conn.execute(
        "INSERT INTO case_events (case_id, action, from_status, to_status, actor, note)"
        " SELECT id, 'revoke_document', status, status, %s, %s FROM cases WHERE id = %s",
        (actor.label, f"{document_id}: {reason.strip()[:400]}", row["case_id"]),
    )
    return {"id": row["id"], "revoked_at": row["revoked_at"].isoformat()}
