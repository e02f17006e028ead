"""Lookups Mitra answers from its own records about the citizen who asks: what it holds about
them (GEN-09, India's DPDP Act 2023) and whether a message really came from this number to
them (GEN-06, against impersonation). They run in the worker like department calls and their
answers come back as the citizen's events, but they never leave Mitra and only ever read the
asking citizen's own rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from mitra import handover
from mitra.cases import chat, grievances
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import CaseError
from mitra.catalogue.schema import PLATFORM_OPERATIONS
from mitra.crypto import FieldCipher
from mitra.outbox.queue import decode_payload
from mitra.payments import chat as payments_chat
from mitra.payments.port import GatewayError
from mitra.payments.store import PaymentError

RECENT_MESSAGES = 2000  # how far back "did you send me this?" looks
MIN_MATCH = 20  # characters of a forwarded message needed to compare a part of it


class PlatformLookupError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def is_platform(operation: str) -> bool:
    return operation in PLATFORM_OPERATIONS


def answer(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    citizen_id: int,
    operation: str,
    args: dict[str, Any],
    *,
    effect_id: str = "",
    desk: CaseDesk | None = None,
    department: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`now`: the worker's clock (tests and examples run on a fixed day)."""
    if operation == "my_data":
        return my_data(conn, cipher, citizen_id)
    if operation == "verify_message":
        return verify_message(conn, cipher, citizen_id, str(args.get("text") or ""))
    if operation in ("open_handover", "close_handover"):
        try:
            if operation == "open_handover":
                return handover.open_handover(conn, citizen_id, str(args.get("department") or ""))
            return handover.close_by_citizen(conn, citizen_id, str(args.get("id") or ""))
        except handover.HandoverError as exc:
            raise PlatformLookupError("invalid") from exc
    if desk is None and operation == "my_requests":
        return {"requests": my_lookups(conn, cipher, citizen_id, ("application", "grievance"))}
    if desk is None and operation == "my_documents":
        return {"documents": my_lookups(conn, cipher, citizen_id, ("document",))}
    if operation in PAYMENT_OPERATIONS:
        if desk is None or desk.gateway is None:
            raise PlatformLookupError("unavailable")
        try:
            return _payment_operation(
                conn, desk, citizen_id, operation, args, effect_id, department
            )
        except PaymentError as exc:
            raise PlatformLookupError(exc.kind) from exc
        except GatewayError as exc:
            raise PlatformLookupError("unavailable") from exc
    if operation in CASE_OPERATIONS:
        if desk is None:
            raise PlatformLookupError("unavailable")
        try:
            return _case_operation(
                conn, desk, citizen_id, operation, args, effect_id, now or datetime.now(UTC)
            )
        except CaseError as exc:
            raise PlatformLookupError(
                "not_found" if exc.kind in ("not_found", "illegal") else "invalid"
            ) from exc
    raise PlatformLookupError("invalid")


CASE_OPERATIONS = (
    "grievance",
    "similar_grievances",
    "join_grievance",
    "rate_grievance",
    "my_grievances",
    "submit_case",
    "withdraw_case",
    "answer_case",
    "send_document",
    "my_requests",
    "my_documents",
    "application",
)


def _case_operation(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    citizen_id: int,
    operation: str,
    args: dict[str, Any],
    effect_id: str,
    now: datetime,
) -> dict[str, Any]:
    cipher, catalogue = desk.cipher, desk.catalogue
    reference = str(args.get("reference") or "")
    if operation == "submit_case":
        return chat.submit(conn, cipher, catalogue, citizen_id, effect_id, args, now)
    if operation == "withdraw_case":
        return chat.withdraw(conn, cipher, catalogue, desk.notifier, citizen_id, reference)
    if operation == "answer_case":
        return chat.answer(
            conn, cipher, catalogue, desk.notifier, citizen_id, reference, str(args.get("text"))
        )
    if operation == "send_document":
        return chat.send_document(conn, citizen_id, str(args.get("document") or ""))
    if operation == "application":
        found = chat.lookup(conn, cipher, catalogue, citizen_id, reference)
        if found is None:
            raise NotMitras()
        return found
    if operation == "grievance":
        found = grievances.lookup(conn, catalogue, citizen_id, reference)
        if found is None:
            raise NotMitras()
        return found
    if operation == "similar_grievances":
        try:
            lat, lon = float(args["lat"]), float(args["lon"])
        except (KeyError, ValueError):
            raise CaseError("invalid", "no position") from None
        return grievances.similar(conn, str(args.get("service") or ""), lat, lon, now)
    if operation == "join_grievance":
        return grievances.join(conn, citizen_id, reference, now)
    if operation == "rate_grievance":
        return grievances.rate(
            conn, cipher, catalogue, desk.notifier, citizen_id, args, desk.reopen_within, now
        )
    if operation == "my_grievances":
        return grievances.mine(conn, catalogue, citizen_id)
    if operation == "my_requests":
        return chat.my_requests(
            chat.my_cases(conn, catalogue, citizen_id),
            my_lookups(conn, cipher, citizen_id, ("application", "grievance")),
        )
    # my_documents: what Mitra issued them, then documents they looked up at departments.
    issued = chat.my_documents(conn, citizen_id)
    return {
        "issued": issued,
        "has_issued": "yes" if issued else "no",
        "documents": my_lookups(conn, cipher, citizen_id, ("document",)),
    }


PAYMENT_OPERATIONS = ("create_payment", "my_bookings", "cancel_booking")


def _payment_operation(
    conn: psycopg.Connection[Any],
    desk: CaseDesk,
    citizen_id: int,
    operation: str,
    args: dict[str, Any],
    effect_id: str,
    department: str | None,
) -> dict[str, Any]:
    if operation == "create_payment":
        return payments_chat.create_payment(
            conn,
            desk.cipher,
            desk.gateway,
            desk.catalogue,
            citizen_id,
            effect_id,
            args,
            desk.link_minutes,
        )
    if operation == "my_bookings":
        # A department's cancel service lists that department's bookings.
        only = department if department and department != "GEN" else None
        return payments_chat.my_bookings(conn, desk.cipher, citizen_id, department=only)
    return payments_chat.cancel_booking(
        conn, desk.cipher, citizen_id, str(args.get("booking") or "")
    )


class NotMitras(Exception):
    """An application reference Mitra holds no case for: ask the department."""


def my_lookups(
    conn: psycopg.Connection[Any], cipher: FieldCipher, citizen_id: int, operations: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The citizen's requests (or documents) Mitra has seen, newest first, one per number, with
    what the department said about it last time: applications and grievances they checked
    here (and, once cases exist, those they made here)."""
    rows = conn.execute(
        "SELECT f.args_enc, f.created_at, e.payload_enc FROM effects f"
        " JOIN inbound_events e ON e.wamid = 'effect:' || f.id"
        " WHERE f.citizen_id = %s AND f.status = 'done' AND f.error IS NULL"
        " AND f.operation = ANY(%s) ORDER BY f.created_at DESC LIMIT 200",
        (citizen_id, list(operations)),
    ).fetchall()
    return summarise_lookups(
        (
            orjson.loads(cipher.decrypt(bytes(row["args_enc"]), context=b"effect_args")),
            orjson.loads(cipher.decrypt(bytes(row["payload_enc"]), context=b"inbound_event")).get(
                "data"
            )
            or {},
            row["created_at"].isoformat(),
        )
        for row in rows
    )


def summarise_lookups(
    lookups: Iterable[tuple[dict[str, Any], dict[str, Any], str]],
) -> list[dict[str, Any]]:
    """(args, department answer, when), newest first → one entry per number, at most ten."""
    seen: dict[str, dict[str, Any]] = {}
    for args, data, at in lookups:
        number = str(args.get("reference") or args.get("identifier") or "").upper()
        if not number or number in seen:
            continue
        seen[number] = {
            "number": number,
            "title": data.get("service") or data.get("title") or data.get("category_name"),
            "status": data.get("status"),
            "checked_at": at,
        }
        if len(seen) == 10:
            break
    return list(seen.values())


def _masked_phone(wa_id: str) -> str:
    return "+" + wa_id[:2] + " " + "X" * max(0, len(wa_id) - 6) + wa_id[-4:]


def my_data(conn: psycopg.Connection[Any], cipher: FieldCipher, citizen_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT language, consent_at, created_at, wa_id_enc, profile_name_enc,"
        " (SELECT count(*) FROM inbound_events e WHERE e.citizen_id = c.id"
        "   AND e.kind <> 'effect_result') AS messages,"
        " (SELECT count(*) FROM outbound_messages o WHERE o.citizen_id = c.id) AS replies,"
        " (SELECT count(*) FROM effects f WHERE f.citizen_id = c.id) AS lookups"
        " FROM citizens c WHERE c.id = %s",
        (citizen_id,),
    ).fetchone()
    if row is None:
        raise PlatformLookupError("not_found")
    phone = cipher.decrypt(bytes(row["wa_id_enc"]), context=b"wa_id") if row["wa_id_enc"] else ""
    name = (
        cipher.decrypt(bytes(row["profile_name_enc"]), context=b"profile_name")
        if row["profile_name_enc"]
        else ""
    )
    return {
        "phone": _masked_phone(phone) if phone else "",
        "name": name,
        "language": {
            "te": {"en": "Telugu", "te": "తెలుగు"},
            "en": {"en": "English", "te": "ఇంగ్లీష్"},
        }.get(row["language"] or "", ""),
        "consent_at": row["consent_at"].isoformat() if row["consent_at"] else None,
        "since": row["created_at"].isoformat(),
        "messages": row["messages"],
        "replies": row["replies"],
        "lookups": row["lookups"],
    }


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    text = text.replace("\u200c", "").replace("\u200d", "")
    return re.sub(r"\s+", " ", re.sub(r"[*_~`]", "", text)).strip()


def texts_of(payload: dict[str, Any]) -> list[str]:
    """What a citizen could have read in one of our messages."""
    found: list[str] = []
    for path in (
        ("text", "body"),
        ("interactive", "body", "text"),
        ("document", "caption"),
        ("image", "caption"),
    ):
        value: Any = payload
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            found.append(value)
    return found


def verify_message(
    conn: psycopg.Connection[Any], cipher: FieldCipher, citizen_id: int, forwarded: str
) -> dict[str, Any]:
    if not _normalised(forwarded):
        raise PlatformLookupError("invalid")
    rows = conn.execute(
        "SELECT payload_enc, coalesce(sent_at, created_at) AS at FROM outbound_messages"
        " WHERE citizen_id = %s AND status IN ('sent', 'delivered', 'read')"
        " ORDER BY id DESC LIMIT %s",
        (citizen_id, RECENT_MESSAGES),
    ).fetchall()
    for row in rows:
        if matches(forwarded, texts_of(decode_payload(cipher, bytes(row["payload_enc"])))):
            return {"sent": "yes", "at": row["at"].isoformat()}
    return {"sent": "no", "at": None}


def matches(forwarded: str, ours: list[str]) -> bool:
    """Whether a forwarded text is one of our texts, or (long enough) a part of one."""
    wanted = _normalised(forwarded)
    for text in ours:
        mine = _normalised(text)
        if wanted and (wanted == mine or (len(wanted) >= MIN_MATCH and wanted in mine)):
            return True
    return False


__all__ = ["NotMitras", "PlatformLookupError", "answer", "is_platform"]
