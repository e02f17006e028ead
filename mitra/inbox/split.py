"""Splitting stored deliveries into single updates, each taking effect once.

One transaction takes a batch of unsplit deliveries, parses them, finds or creates the
citizens, inserts each message once (the wamid is unique), applies each status once (the
(wamid, status) pair is unique) to its outbound message, marks the deliveries split and wakes
the processors. Only one splitter runs at a time across all workers (a transaction-level
advisory lock), which keeps inbound event ids in arrival order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg

from mitra.crypto import FieldCipher
from mitra.whatsapp.events import InboundMessage, Sender, StatusUpdate, event_to_dict
from mitra.whatsapp.parse import MalformedWebhook, parse_envelope

log = logging.getLogger(__name__)

SPLITTER_LOCK = 0x6D697472_0001  # "mitr" + 1
INBOUND_CHANNEL = "mitra_inbound"
OUTBOX_CHANNEL = "mitra_outbox"
CALLBACK_PREFIX = "ob:"

# A status only ever moves forward; `failed` is terminal (shared/WHATSAPP.md).
STATUS_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 9}


@dataclass
class SplitResult:
    deliveries: int = 0
    messages: int = 0
    duplicates: int = 0
    statuses: int = 0
    malformed: int = 0
    citizens: set[int] = field(default_factory=set)


def citizen_hashes(cipher: FieldCipher, sender: Sender) -> tuple[bytes | None, bytes | None]:
    user_hash = cipher.lookup_hash(sender.user_id, kind="user_id") if sender.user_id else None
    wa_hash = cipher.lookup_hash(sender.wa_id, kind="wa_id") if sender.wa_id else None
    return user_hash, wa_hash


def resolve_citizens(
    conn: psycopg.Connection[Any], cipher: FieldCipher, senders: list[Sender]
) -> dict[str, int]:
    """Map each sender's key to a citizen id, creating citizens as needed.

    Citizens are keyed by the business-scoped user id when present, else by wa_id; a citizen
    first seen by wa_id who later arrives with a user id keeps one record.
    """
    by_key: dict[str, Sender] = {}
    for s in senders:
        by_key.setdefault(s.key, s)
    hashes = {key: citizen_hashes(cipher, s) for key, s in by_key.items()}
    user_hashes = [u for u, _ in hashes.values() if u]
    wa_hashes = [w for _, w in hashes.values() if w]
    rows = conn.execute(
        "SELECT id, user_id_hash, wa_id_hash FROM citizens"
        " WHERE user_id_hash = ANY(%s) OR wa_id_hash = ANY(%s)",
        (user_hashes, wa_hashes),
    ).fetchall()
    by_user = {bytes(r["user_id_hash"]): r for r in rows if r["user_id_hash"]}
    by_wa = {bytes(r["wa_id_hash"]): r for r in rows if r["wa_id_hash"]}

    ids: dict[str, int] = {}
    for key, sender in by_key.items():
        user_hash, wa_hash = hashes[key]
        row = (by_user.get(user_hash) if user_hash else None) or (
            by_wa.get(wa_hash) if wa_hash else None
        )
        if row is None:
            created = conn.execute(
                "INSERT INTO citizens (user_id_hash, wa_id_hash, user_id_enc, wa_id_enc,"
                " profile_name_enc) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (
                    user_hash,
                    wa_hash,
                    cipher.encrypt(sender.user_id, context=b"user_id") if sender.user_id else None,
                    cipher.encrypt(sender.wa_id, context=b"wa_id") if sender.wa_id else None,
                    cipher.encrypt(sender.profile_name, context=b"profile_name")
                    if sender.profile_name
                    else None,
                ),
            ).fetchone()
            assert created is not None
            citizen_id = int(created["id"])
            if user_hash:
                by_user[user_hash] = {"id": citizen_id, "user_id_hash": user_hash}
            if wa_hash:
                by_wa[wa_hash] = {"id": citizen_id, "wa_id_hash": wa_hash}
        else:
            citizen_id = int(row["id"])
            # Learn the identifier we did not have (a user id appearing for a known number).
            if user_hash and not row["user_id_hash"]:
                conn.execute(
                    "UPDATE citizens SET user_id_hash = %s, user_id_enc = %s WHERE id = %s",
                    (
                        user_hash,
                        cipher.encrypt(sender.user_id or "", context=b"user_id"),
                        citizen_id,
                    ),
                )
                row["user_id_hash"] = user_hash
            if wa_hash and not row["wa_id_hash"]:
                conn.execute(
                    "UPDATE citizens SET wa_id_hash = %s, wa_id_enc = %s WHERE id = %s",
                    (wa_hash, cipher.encrypt(sender.wa_id or "", context=b"wa_id"), citizen_id),
                )
                row["wa_id_hash"] = wa_hash
        ids[key] = citizen_id
    return ids


def _apply_statuses(
    conn: psycopg.Connection[Any], statuses: list[StatusUpdate], result: SplitResult
) -> None:
    rows = []
    for s in statuses:
        outbound_id = None
        if s.callback_data and s.callback_data.startswith(CALLBACK_PREFIX):
            tail = s.callback_data[len(CALLBACK_PREFIX) :]
            outbound_id = int(tail) if tail.isdigit() else None
        rows.append((s, outbound_id))
    # Lock the outbound rows these statuses touch in id order (as the sender does when it
    # records outcomes) so the two never deadlock.
    conn.execute(
        "SELECT id FROM outbound_messages WHERE wamid = ANY(%s) OR id = ANY(%s)"
        " ORDER BY id FOR UPDATE",
        ([s.wamid for s, _ in rows], [oid for _, oid in rows if oid is not None]),
    )
    # Record each (wamid, status) once; only newly recorded ones take effect.
    fresh: list[tuple[StatusUpdate, int | None]] = []
    for s, outbound_id in rows:
        inserted = conn.execute(
            "INSERT INTO message_statuses (wamid, status, outbound_id, status_at, errors)"
            " VALUES (%s, %s, (SELECT id FROM outbound_messages WHERE id = %s), %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING wamid",
            (
                s.wamid,
                s.status,
                outbound_id,
                s.at,
                orjson.dumps(s.errors).decode() if s.errors else None,
            ),
        ).fetchone()
        if inserted:
            fresh.append((s, outbound_id))
    for s, outbound_id in fresh:
        rank = STATUS_RANK.get(s.status)
        if rank is None:  # e.g. "played": recorded, no state change
            continue
        code = s.errors[0].get("code") if s.errors else None
        conn.execute(
            """
            UPDATE outbound_messages SET
              wamid = coalesce(wamid, %(wamid)s),
              status = CASE WHEN status <> 'failed' AND %(rank)s > (CASE status
                  WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2
                  WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 ELSE 9 END)
                THEN %(status)s ELSE status END,
              sent_at = coalesce(sent_at, %(at)s),
              delivered_at = CASE WHEN %(status)s IN ('delivered', 'read')
                THEN coalesce(delivered_at, %(at)s) ELSE delivered_at END,
              read_at = CASE WHEN %(status)s = 'read'
                THEN coalesce(read_at, %(at)s) ELSE read_at END,
              failed_at = CASE WHEN %(status)s = 'failed' THEN %(at)s ELSE failed_at END,
              error_code = CASE WHEN %(status)s = 'failed' THEN %(code)s ELSE error_code END
            WHERE (wamid = %(wamid)s OR (id = %(id)s AND (wamid IS NULL OR wamid = %(wamid)s)))
              AND status NOT IN ('abandoned')
            """,
            {
                "wamid": s.wamid,
                "rank": rank,
                "status": s.status,
                "at": s.at,
                "code": code,
                "id": outbound_id,
            },
        )
    result.statuses += len(fresh)


def split_pending(
    conn: psycopg.Connection[Any], cipher: FieldCipher, *, batch: int = 200
) -> SplitResult:
    """Split up to `batch` stored deliveries in one transaction. Commits."""
    result = SplitResult()
    with conn.transaction():
        locked = conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s) AS ok", (SPLITTER_LOCK,)
        ).fetchone()
        if not locked or not locked["ok"]:
            return result
        deliveries = conn.execute(
            "SELECT id, body_enc FROM webhook_deliveries WHERE split_at IS NULL"
            " ORDER BY id LIMIT %s",
            (batch,),
        ).fetchall()
        if not deliveries:
            return result
        messages: list[tuple[int, InboundMessage]] = []
        statuses: list[StatusUpdate] = []
        malformed: list[tuple[int, str]] = []
        for d in deliveries:
            try:
                body = cipher.decrypt_bytes(bytes(d["body_enc"]), context=b"webhook")
                updates = parse_envelope(orjson.loads(body))
            except (MalformedWebhook, orjson.JSONDecodeError) as exc:
                malformed.append((d["id"], str(exc)[:500]))
                continue
            for u in updates:
                if isinstance(u, InboundMessage):
                    messages.append((d["id"], u))
                else:
                    statuses.append(u)
        result.deliveries = len(deliveries)
        result.malformed = len(malformed)

        if messages:
            ids = resolve_citizens(conn, cipher, [m.sender for _, m in messages])
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO inbound_events (citizen_id, delivery_id, wamid, kind, sent_at,"
                    " payload_enc) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (wamid) DO NOTHING RETURNING citizen_id, sent_at",
                    [
                        (
                            ids[m.sender.key],
                            delivery_id,
                            m.wamid,
                            m.kind,
                            m.sent_at,
                            cipher.encrypt(
                                orjson.dumps(event_to_dict(m)).decode(), context=b"inbound_event"
                            ),
                        )
                        for delivery_id, m in messages
                    ],
                    returning=True,
                )
                latest: dict[int, datetime] = {}
                while True:
                    row = cur.fetchone()
                    if row is not None:
                        result.messages += 1
                        cid, at = row["citizen_id"], row["sent_at"]
                        latest[cid] = max(at, latest.get(cid, at))
                    if not cur.nextset():
                        break
            result.duplicates = len(messages) - result.messages
            inserted_citizens = sorted(latest)
            result.citizens = set(inserted_citizens)
            if inserted_citizens:
                conn.execute(
                    "UPDATE citizens c SET has_pending = true,"
                    " pending_since = coalesce(c.pending_since, now()),"
                    " last_inbound_at = greatest(c.last_inbound_at, v.at)"
                    " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) WHERE c.id = v.id",
                    (inserted_citizens, [latest[c] for c in inserted_citizens]),
                )
                conn.execute(f"SELECT pg_notify('{INBOUND_CHANNEL}', '')")
        if statuses:
            _apply_statuses(conn, statuses, result)
        conn.execute(
            "UPDATE webhook_deliveries SET split_at = now() WHERE id = ANY(%s)",
            ([d["id"] for d in deliveries],),
        )
        for delivery_id, reason in malformed:
            log.warning("delivery %s could not be split: %s", delivery_id, reason)
            conn.execute(
                "UPDATE webhook_deliveries SET split_error = %s WHERE id = %s",
                (reason, delivery_id),
            )
    return result
