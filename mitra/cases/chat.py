"""What the chat does with cases, as platform operations run by the worker for the citizen
who asks (mitra.jobs.platform_calls): submit, look up, withdraw, answer a returned case, list
their cases and documents, and put a document in their chat.

A case is only ever shown to the citizen who made it: a reference number is guessable, the
person behind it is not for anyone else to see.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from mitra.cases import store
from mitra.cases.delivery import deliver
from mitra.cases.lifecycle import OPEN, CaseError
from mitra.cases.notify import Notifier
from mitra.cases.views import application_view
from mitra.catalogue.loader import Catalogue
from mitra.crypto import FieldCipher


def submit(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    catalogue: Catalogue,
    citizen_id: int,
    effect_id: str,
    args: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    service = catalogue.service(str(args.get("service")), int(args.get("version") or 0))
    if service is None:
        raise CaseError("invalid", "no such service")
    person = conn.execute(
        "SELECT profile_name_enc FROM citizens WHERE id = %s", (citizen_id,)
    ).fetchone()
    profile = (
        cipher.decrypt(bytes(person["profile_name_enc"]), context=b"profile_name")
        if person is not None and person["profile_name_enc"]
        else None
    )
    submitted = store.submit(
        conn,
        cipher,
        citizen_id=citizen_id,
        effect_id=effect_id,
        service=service,
        language=str(args.get("language") or "te"),
        answers=orjson.loads(args.get("answers") or "{}"),
        choices=orjson.loads(args.get("choices") or "{}"),
        area=orjson.loads(args.get("area") or "{}"),
        profile_name=profile,
        now=now or datetime.now(UTC),
        department=str(args.get("department") or "") or None,
        attachments=[int(a) for a in orjson.loads(args.get("attachments") or "[]")],
    )
    return submitted.as_result()


def view(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    catalogue: Catalogue,
    case: dict[str, Any],
) -> dict[str, Any]:
    applicant = store.private(cipher, conn, case["id"])["applicant"]
    return application_view(
        case,
        store.history(conn, case["id"]),
        store.service_of(catalogue, case),
        str(applicant.get("name") or ""),
    )


def lookup(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    catalogue: Catalogue,
    citizen_id: int,
    reference: str,
) -> dict[str, Any] | None:
    """The citizen's own case as an Application; None when Mitra holds no case by that
    number (the department may); CaseError(not_found) when it is someone else's."""
    case = store.find(conn, reference)
    if case is None:
        return None
    if case["citizen_id"] != citizen_id:
        raise CaseError("not_found", "not this citizen's case")
    return view(conn, cipher, catalogue, case)


def withdraw(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    catalogue: Catalogue,
    notifier: Notifier,
    citizen_id: int,
    reference: str,
) -> dict[str, Any]:
    changed = store.act(
        conn,
        reference,
        "withdraw",
        store.CITIZEN,
        citizen_id=citizen_id,
        after=notifier.after,
    )
    return view(conn, cipher, catalogue, changed.case)


def answer(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    catalogue: Catalogue,
    notifier: Notifier,
    citizen_id: int,
    reference: str,
    text: str,
) -> dict[str, Any]:
    if not text.strip():
        raise CaseError("invalid", "an empty answer")
    now = datetime.now(UTC)
    changed = store.act(
        conn,
        reference,
        "answer",
        store.CITIZEN,
        citizen_id=citizen_id,
        now=now,
        after=notifier.after,
    )
    store.record_answer(conn, cipher, changed.case["id"], text, now)
    return view(conn, cipher, catalogue, changed.case)


def my_cases(
    conn: psycopg.Connection[Any], catalogue: Catalogue, citizen_id: int
) -> list[dict[str, Any]]:
    """The citizen's cases, newest first, summarised like my_requests' other entries."""
    rows = conn.execute(
        "SELECT reference, service, service_version, status, due_at, updated_at, created_at"
        " FROM cases WHERE citizen_id = %s ORDER BY created_at DESC LIMIT 50",
        (citizen_id,),
    ).fetchall()
    out = []
    for r in rows:
        service = catalogue.service(r["service"], r["service_version"]) or catalogue.service(
            r["service"]
        )
        out.append(
            {
                "reference": r["reference"],
                "what": {"en": service.title.en, "te": service.title.te}
                if service
                else {"en": r["service"], "te": r["service"]},
                "status": r["status"],
                "at": r["updated_at"].isoformat(),
                "expected_by": store.ist_day(r["due_at"]).isoformat()
                if r["status"] in OPEN
                else None,
            }
        )
    return out


def my_requests(cases: list[dict[str, Any]], looked_up: list[dict[str, Any]]) -> dict[str, Any]:
    """GEN-03's answer: the citizen's own cases first, then numbers they looked up at
    departments (at most ten), and the cases waiting on them (returned) or still open."""
    made_here = {c["reference"] for c in cases}
    requests = [
        {
            "number": c["reference"],
            "title": c["what"],
            "status": c["status"],
            "checked_at": c["at"],
            "expected_by": c["expected_by"],
        }
        for c in cases
    ] + [r for r in looked_up if r["number"] not in made_here]
    return {
        "requests": requests[:10],
        "returned": [c for c in cases if c["status"] == "returned"],
        "open": [c for c in cases if c["status"] in OPEN],
    }


def my_documents(conn: psycopg.Connection[Any], citizen_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, kind, reference, title, issued_at, valid_until, revoked_at FROM documents"
        " WHERE citizen_id = %s ORDER BY issued_at DESC LIMIT 30",
        (citizen_id,),
    ).fetchall()
    return [
        {
            "id": r["id"],
            "kind": r["kind"],
            "reference": r["reference"],
            "title": r["title"],
            "issued_on": store.ist_day(r["issued_at"]).isoformat(),
            "valid_until": store.ist_day(r["valid_until"]).isoformat()
            if r["valid_until"]
            else None,
            "status": "revoked" if r["revoked_at"] else "valid",
        }
        for r in rows
    ]


def send_document(
    conn: psycopg.Connection[Any], citizen_id: int, document_id: str
) -> dict[str, Any]:
    """Queue the document for the citizen's chat (only their own, and not a revoked one)."""
    row = conn.execute(
        "SELECT id, title, reference, revoked_at FROM documents WHERE id = %s AND citizen_id = %s",
        (document_id, citizen_id),
    ).fetchone()
    if row is None:
        raise CaseError("not_found", "no such document of this citizen")
    if row["revoked_at"] is not None:
        raise CaseError("invalid", "that document was revoked")
    deliver(conn, row["id"], citizen_id)
    return {"id": row["id"], "title": row["title"], "reference": row["reference"]}
