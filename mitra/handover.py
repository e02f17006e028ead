"""Talking to an officer: a citizen handed from the bot to a department's officers.

The chat opens a handover (GEN-12, or the "officer" command); from then on the engine says
nothing to that citizen (mitra.conversation.engine, state "handover") and their messages wait
for an officer, who reads the conversation and answers through the REST API (the console
later). The officer hands the citizen back — or, after `MITRA_HANDOVER_TIMEOUT` seconds with
no activity, the worker does — by queueing an event in the citizen's own order, so the bot
says it is back exactly once, after everything the officer sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from mitra.conversation.engine import EffectResult
from mitra.crypto import FieldCipher
from mitra.inbox.process import EFFECT_KIND
from mitra.inbox.split import INBOUND_CHANNEL
from mitra.outbox.queue import PRIORITY_REPLY, decode_payload, enqueue
from mitra.whatsapp import messages
from mitra.whatsapp.events import event_from_dict

WINDOW = timedelta(hours=24)


class HandoverError(Exception):
    """`kind`: not_found | closed | outside_window | invalid."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def open_handover(
    conn: psycopg.Connection[Any], citizen_id: int, department: str
) -> dict[str, Any]:
    """Open (or find the citizen's already open) handover to `department`."""
    department = department.strip().upper()
    if not department.isalpha() or len(department) != 3:
        raise HandoverError("invalid", "no such department")
    row = conn.execute(
        "INSERT INTO handovers (citizen_id, department) VALUES (%s, %s)"
        " ON CONFLICT (citizen_id) WHERE status <> 'closed' DO UPDATE"
        " SET last_activity_at = now() RETURNING id, department, status",
        (citizen_id, department),
    ).fetchone()
    assert row is not None
    return {"id": row["id"], "department": row["department"], "status": row["status"]}


def close_by_citizen(
    conn: psycopg.Connection[Any], citizen_id: int, handover_id: str
) -> dict[str, Any]:
    conn.execute(
        "UPDATE handovers SET status = 'closed', closed_at = now(), closed_by = 'citizen'"
        " WHERE id = %s AND citizen_id = %s AND status <> 'closed'",
        (int(handover_id) if handover_id.isdigit() else 0, citizen_id),
    )
    return {"closed": True}


def _find(
    conn: psycopg.Connection[Any], handover_id: int, department: str | None, *, lock: bool = True
) -> dict[str, Any]:
    row = conn.execute(
        "SELECT * FROM handovers WHERE id = %s AND (%s::text IS NULL OR department = %s)"
        + (" FOR UPDATE" if lock else ""),
        (handover_id, department, department),
    ).fetchone()
    if row is None:
        raise HandoverError("not_found", "no such handover")
    return dict(row)


def queue(conn: psycopg.Connection[Any], department: str | None) -> list[dict[str, Any]]:
    """Open handovers, oldest first (the officers' inbox)."""
    rows = conn.execute(
        "SELECT id, department, status, officer, opened_at, last_activity_at FROM handovers"
        " WHERE status <> 'closed' AND (%s::text IS NULL OR department = %s)"
        " ORDER BY opened_at LIMIT 200",
        (department, department),
    ).fetchall()
    return [
        {
            **dict(r),
            "opened_at": r["opened_at"].isoformat(),
            "last_activity_at": r["last_activity_at"].isoformat(),
        }
        for r in rows
    ]


def conversation(
    conn: psycopg.Connection[Any], cipher: FieldCipher, handover_id: int, department: str | None
) -> dict[str, Any]:
    """The handover and what was said since a little before it opened, oldest first."""
    h = _find(conn, handover_id, department, lock=False)
    since = h["opened_at"] - timedelta(minutes=30)
    said: list[tuple[datetime, str, str]] = []
    for e in conn.execute(
        "SELECT received_at, payload_enc FROM inbound_events WHERE citizen_id = %s"
        " AND kind <> %s AND received_at >= %s ORDER BY id",
        (h["citizen_id"], EFFECT_KIND, since),
    ).fetchall():
        data = orjson.loads(cipher.decrypt(bytes(e["payload_enc"]), context=b"inbound_event"))
        said.append((e["received_at"], "citizen", _readable(data)))
    for o in conn.execute(
        "SELECT created_at, payload_enc FROM outbound_messages WHERE citizen_id = %s"
        " AND created_at >= %s ORDER BY id",
        (h["citizen_id"], since),
    ).fetchall():
        payload = decode_payload(cipher, bytes(o["payload_enc"]))
        said.append((o["created_at"], "mitra", _outbound_text(payload)))
    said.sort(key=lambda x: x[0])
    return {
        "id": h["id"],
        "department": h["department"],
        "status": h["status"],
        "officer": h["officer"],
        "opened_at": h["opened_at"].isoformat(),
        "messages": [{"at": at.isoformat(), "from": who, "text": text} for at, who, text in said],
    }


def _readable(data: dict[str, Any]) -> str:
    if data.get("redacted"):
        return "[an identity number, not kept]"
    try:
        event = event_from_dict(data)
    except Exception:
        return "[a message]"
    body = getattr(event, "body", None)
    for attribute in ("text", "title"):
        value = getattr(body, attribute, None)
        if isinstance(value, str):
            return value
    return f"[{getattr(event, 'kind', 'message')}]"


def _outbound_text(payload: dict[str, Any]) -> str:
    if payload.get("type") == "text":
        return str(payload["text"]["body"])
    inter = payload.get("interactive") or {}
    if inter:
        return str((inter.get("body") or {}).get("text", ""))
    return f"[{payload.get('type', 'message')}]"


def reply(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    handover_id: int,
    department: str | None,
    officer: str,
    text: str,
) -> dict[str, Any]:
    """An officer's message to the citizen, over WhatsApp (free-form: only inside the 24-hour
    window since the citizen last wrote)."""
    text = text.strip()
    if not text or len(text) > 4000:
        raise HandoverError("invalid", "a reply is 1 to 4,000 characters")
    h = _find(conn, handover_id, department)
    if h["status"] == "closed":
        raise HandoverError("closed", "this conversation was handed back to the bot")
    person = conn.execute(
        "SELECT last_inbound_at FROM citizens WHERE id = %s", (h["citizen_id"],)
    ).fetchone()
    now = datetime.now(UTC)
    last = person["last_inbound_at"] if person is not None else None
    if last is None or now - last > WINDOW:
        raise HandoverError(
            "outside_window",
            "the citizen last wrote more than 24 hours ago: WhatsApp allows only approved"
            " templates now",
        )
    message = messages.text(f"{officer}: {text}")
    enqueue(conn, cipher, [(h["citizen_id"], message, None)], priority=PRIORITY_REPLY)
    conn.execute(
        "UPDATE handovers SET status = 'active', officer = coalesce(officer, %s),"
        " taken_at = coalesce(taken_at, now()), last_activity_at = now() WHERE id = %s",
        (officer, handover_id),
    )
    return {"id": handover_id, "sent": True}


def hand_back(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    handover_id: int,
    department: str | None,
    by: str,
) -> dict[str, Any]:
    """Close it and tell the engine, in the citizen's order, that the bot answers again."""
    h = _find(conn, handover_id, department)
    if h["status"] == "closed":
        return {"id": handover_id, "status": "closed"}
    conn.execute(
        "UPDATE handovers SET status = 'closed', closed_at = now(), closed_by = %s WHERE id = %s",
        (by, handover_id),
    )
    event = EffectResult(f"handover:{handover_id}", ok=True, data={"by": by})
    conn.execute(
        "INSERT INTO inbound_events (citizen_id, wamid, kind, sent_at, payload_enc)"
        " VALUES (%s, %s, %s, now(), %s) ON CONFLICT (wamid) DO NOTHING",
        (
            h["citizen_id"],
            f"handover-closed:{handover_id}",
            EFFECT_KIND,
            cipher.encrypt(orjson.dumps(event.to_dict()), context=b"inbound_event"),
        ),
    )
    conn.execute(
        "UPDATE citizens SET has_pending = true, pending_since = coalesce(pending_since, now())"
        " WHERE id = %s",
        (h["citizen_id"],),
    )
    conn.execute(f"SELECT pg_notify('{INBOUND_CHANNEL}', '')")
    return {"id": handover_id, "status": "closed"}


def time_out(conn: psycopg.Connection[Any], cipher: FieldCipher, idle: timedelta) -> int:
    """Hand back every handover with no activity for `idle`. Commits."""
    with conn.transaction():
        stale = conn.execute(
            "SELECT id FROM handovers WHERE status <> 'closed'"
            " AND last_activity_at < now() - make_interval(secs => %s)"
            " ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED",
            (idle.total_seconds(),),
        ).fetchall()
        for row in stale:
            hand_back(conn, cipher, row["id"], None, "timeout")
    return len(stale)
