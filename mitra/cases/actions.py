"""What officers and department systems do with cases — one implementation behind the REST API,
the `mitra case` commands and the console. Every function takes the caller's `Scope`: outside
it, a case does not exist (not_found, never "forbidden", so a guessed reference tells nothing).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from mitra import media
from mitra.cases import store
from mitra.cases.delivery import deliver_image
from mitra.cases.desk import CaseDesk
from mitra.cases.grievances import grievance_view
from mitra.cases.lifecycle import OPEN, CaseError, allowed
from mitra.cases.sla import raise_case
from mitra.cases.store import Actor, Scope
from mitra.cases.views import application_view
from mitra.conversation.locale import t

OFFICER_FIELDS = ("kyc",)  # answers that are identity records: shown as last 4 only


def summary(case: dict[str, Any], desk: CaseDesk, now: datetime) -> dict[str, Any]:
    service = store.service_of(desk.catalogue, case)
    open_ = case["status"] in OPEN
    grievance = (
        {
            "priority": case["priority"],
            "sla_hours": case["sla_hours"],
            "reports": case["reports"],
            "rating": case["rating"],
        }
        if case["pattern"] == "grievance"
        else {}
    )
    return {
        "pattern": case["pattern"],
        **grievance,
        "reference": case["reference"],
        "department": case["department"],
        "service": case["service"],
        "service_title": {"en": service.title.en, "te": service.title.te} if service else None,
        "status": case["status"],
        "office_id": case["office_id"],
        "assignee": case["assignee"],
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
    since: datetime | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = store.listing(
        conn,
        scope,
        status=status,
        service=service,
        overdue=overdue,
        limit=limit,
        offset=offset,
        since=since,
        newest_first=newest_first,
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
        "actions": [a for a in allowed(case["status"], "officer", case["pattern"]) if a != "issue"],
        "attachments": attachments(conn, case["id"]),
        "resolution": case["resolution"],
        "feedback": (record.get("feedback") or {}).get("text"),
        "citizen_view": (
            grievance_view(case, events, service)
            if case["pattern"] == "grievance"
            else application_view(case, events, service, str(applicant.get("name") or ""))
        ),
    }


def attachments(conn: psycopg.Connection[Any], case_id: int) -> list[dict[str, Any]]:
    """What the citizen sent with the case (and the officer's after photos): no bytes."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT id, kind, mime_type, size, sha256, origin, created_at FROM media"
            " WHERE case_id = %s ORDER BY id",
            (case_id,),
        ).fetchall()
    ]


def attachment(
    conn: psycopg.Connection[Any], desk: CaseDesk, reference: str, media_row: int, scope: Scope
) -> tuple[str, bytes]:
    """One attachment's type and bytes, for an officer whose scope holds the case."""
    case = store.find(conn, reference, scope)
    row = (
        conn.execute(
            "SELECT mime_type, data_enc FROM media WHERE id = %s AND case_id = %s",
            (media_row, case["id"]),
        ).fetchone()
        if case is not None
        else None
    )
    if row is None:
        raise CaseError("not_found", "no such attachment")
    return row["mime_type"], desk.cipher.decrypt_bytes(bytes(row["data_enc"]), context=b"media")


def act(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    reference: str,
    action: str,
    actor: Actor,
    scope: Scope,
    note: str | None = None,
    photo: tuple[str, bytes] | None = None,
) -> dict[str, Any]:
    """Take an action (in the caller's transaction) and return the case as it is now. A
    grievance's resolution may carry an "after" photo (mime type, bytes): it is kept with the
    case and sent to the citizen after the resolution message."""
    if photo is not None and action != "resolve":
        raise CaseError("invalid", "only a resolution carries a photo")
    if photo is not None and (
        media.kind_of(photo[0]) != "image" or len(photo[1]) > media.MAX_BYTES["image"]
    ):
        raise CaseError("invalid", "the photo must be a JPEG, PNG or WebP image of at most 5 MB")
    if action == "issue":
        raise CaseError("invalid", "documents are issued by approving the case")
    if action == "approve":
        case = store.find(conn, reference, scope)
        service = store.service_of(desk.catalogue, case) if case else None
        if service is not None and service.document is not None and desk.signer is None:
            raise CaseError(
                "unavailable", "documents cannot be signed: MITRA_DOCUMENT_SIGNING_KEY is not set"
            )
    changed = store.act(
        conn, reference, action, actor, note=note, scope=scope, after=desk.notifier.after
    )
    if photo is not None:
        _after_photo(conn, desk, changed.case, photo)
    return detail(conn, desk, reference, scope)


def _after_photo(
    conn: psycopg.Connection[Any], desk: CaseDesk, case: dict[str, Any], photo: tuple[str, bytes]
) -> None:
    mime, data = photo
    fetched = media.Fetched(
        f"officer:{uuid.uuid4().hex}", "image", mime, hashlib.sha256(data).hexdigest(), data
    )
    kept = media.store(conn, desk.cipher, case["citizen_id"], fetched)
    conn.execute(
        "UPDATE media SET case_id = %s, origin = 'officer' WHERE id = %s",
        (case["id"], kept["stored"]),
    )
    row = conn.execute(
        "SELECT language FROM citizens WHERE id = %s", (case["citizen_id"],)
    ).fetchone()
    lang = (row["language"] if row else None) or "te"
    deliver_image(
        conn,
        kept["stored"],
        case["citizen_id"],
        t(lang, "grievance_after_photo", reference=case["reference"]),
    )


def document_pdf(
    conn: psycopg.Connection[Any], desk: CaseDesk, reference: str, scope: Scope
) -> tuple[str, bytes]:
    """The signed PDF a case's approval issued: (its file name, its bytes), in scope only."""
    case = store.find(conn, reference, scope)
    row = (
        conn.execute(
            "SELECT id, reference, pdf_enc FROM documents WHERE id = %s AND case_id = %s",
            (case["document_id"], case["id"]),
        ).fetchone()
        if case is not None and case["document_id"]
        else None
    )
    if row is None:
        raise CaseError("not_found", "no document for that case")
    pdf = desk.cipher.decrypt_bytes(bytes(row["pdf_enc"]), context=b"document_pdf")
    return f"{row['reference']}-{row['id']}.pdf", pdf


def escalate(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    reference: str,
    actor: Actor,
    scope: Scope,
    note: str | None,
) -> dict[str, Any]:
    """Raise an open case to the next office up its ladder before the clock does (a case this
    office cannot decide). The citizen is told; the office above gets a fresh clock."""
    case = store.find(conn, reference, scope, lock=True)
    if case is None:
        raise CaseError("not_found", f"no case {reference.strip().upper()}")
    if case["status"] not in OPEN:
        raise CaseError("illegal", f"a case that is {case['status'].replace('_', ' ')} stays")
    if not (note and note.strip()):
        raise CaseError("invalid", "escalating needs a reason")
    if case["level"] + 1 >= len(case["offices"]):
        raise CaseError("illegal", "it is already at the top of its ladder")
    raise_case(conn, desk.notifier, case, actor, note.strip()[:2000], datetime.now(UTC))
    return detail(conn, desk, reference, Scope())


def assign(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    reference: str,
    username: str,
    actor: Actor,
    scope: Scope,
) -> dict[str, Any]:
    """Give a case to one officer of its department (empty: to nobody). Its status and clock
    do not change; the queue shows who has it."""
    case = store.find(conn, reference, scope, lock=True)
    if case is None:
        raise CaseError("not_found", f"no case {reference.strip().upper()}")
    name = username.strip().lower() or None
    if name is not None:
        officer = conn.execute(
            "SELECT username FROM officers WHERE username = %s AND disabled_at IS NULL"
            " AND role IN ('officer', 'head') AND department = %s",
            (name, case["department"]),
        ).fetchone()
        if officer is None:
            raise CaseError("invalid", f"{name} is not an officer of {case['department']}")
    conn.execute("UPDATE cases SET assignee = %s WHERE id = %s", (name, case["id"]))
    store._event(
        conn,
        case["id"],
        "assign",
        case["status"],
        case["status"],
        actor,
        case["office_id"],
        f"to {name}" if name else "unassigned",
        datetime.now(UTC),
    )
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
