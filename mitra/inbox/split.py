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


def _callback_id(s: StatusUpdate) -> int | None:
    if s.callback_data and s.callback_data.startswith(CALLBACK_PREFIX):
        tail = s.callback_data[len(CALLBACK_PREFIX) :]
        return int(tail) if tail.isdigit() else None
    return None


_RECORD_STATUSES = """
INSERT INTO message_statuses (wamid, status, outbound_id, status_at, errors)
SELECT v.wamid, v.status, o.id, v.at, v.errors::jsonb
FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[])
  AS v(wamid, status, oid, at, errors)
LEFT JOIN outbound_messages o ON o.id = v.oid
ON CONFLICT DO NOTHING RETURNING wamid, status
"""

# Statuses move an outbound message forward only; `failed` is terminal.
_APPLY = """
UPDATE outbound_messages o SET
  wamid = coalesce(o.wamid, v.wamid),
  status = CASE WHEN o.status <> 'failed' AND v.rank > (CASE o.status
      WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2
      WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 ELSE 9 END)
    THEN v.status ELSE o.status END,
  sent_at = coalesce(o.sent_at, v.sent_at),
  delivered_at = coalesce(o.delivered_at, v.delivered_at),
  read_at = coalesce(o.read_at, v.read_at),
  failed_at = coalesce(v.failed_at, o.failed_at),
  error_code = coalesce(v.code, o.error_code)
FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::int[], %s::timestamptz[],
            %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::int[])
  AS v(wamid, oid, status, rank, sent_at, delivered_at, read_at, failed_at, code)
WHERE o.status <> 'abandoned' AND {match}
"""
_BY_ID = _APPLY.format(match="o.id = v.oid AND (o.wamid IS NULL OR o.wamid = v.wamid)")
_BY_WAMID = _APPLY.format(match="v.oid IS NULL AND o.wamid = v.wamid")


@dataclass
class _Effect:
    """What the new statuses of one outbound message add up to."""

    wamid: str
    oid: int | None
    status: str = "queued"
    rank: int = -1
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    code: int | None = None

    def add(self, s: StatusUpdate) -> None:
        rank = STATUS_RANK[s.status]
        if rank > self.rank:
            self.rank, self.status = rank, s.status
        self.sent_at = min(filter(None, (self.sent_at, s.at)))
        if s.status in ("delivered", "read"):
            self.delivered_at = min(filter(None, (self.delivered_at, s.at)))
        if s.status == "read":
            self.read_at = min(filter(None, (self.read_at, s.at)))
        if s.status == "failed":
            self.failed_at = s.at
            code = s.errors[0].get("code") if s.errors else None
            self.code = code if isinstance(code, int) else None


def _apply_statuses(
    conn: psycopg.Connection[Any], statuses: list[StatusUpdate], result: SplitResult
) -> None:
    """Record each (wamid, status) once and apply the new ones, in a few set-based
    statements whatever the batch size (three statuses arrive for every reply sent)."""
    ids = [_callback_id(s) for s in statuses]
    # Lock the outbound rows these statuses touch in id order (as the sender does when it
    # records outcomes) so the two never deadlock.
    conn.execute(
        "SELECT id FROM outbound_messages WHERE wamid = ANY(%s) OR id = ANY(%s)"
        " ORDER BY id FOR UPDATE",
        ([s.wamid for s in statuses], [i for i in ids if i is not None]),
    )
    fresh = {
        (r["wamid"], r["status"])
        for r in conn.execute(
            _RECORD_STATUSES,
            (
                [s.wamid for s in statuses],
                [s.status for s in statuses],
                ids,
                [s.at for s in statuses],
                [orjson.dumps(s.errors).decode() if s.errors else None for s in statuses],
            ),
        ).fetchall()
    }
    effects: dict[str, _Effect] = {}
    for s, oid in zip(statuses, ids, strict=True):
        if (s.wamid, s.status) not in fresh or s.status not in STATUS_RANK:
            continue  # a duplicate, or a status such as "played" that changes nothing
        fresh.discard((s.wamid, s.status))  # the same status twice in one batch counts once
        effects.setdefault(s.wamid, _Effect(s.wamid, oid)).add(s)
        result.statuses += 1
    for statement, group in (
        (_BY_ID, [e for e in effects.values() if e.oid is not None]),
        (_BY_WAMID, [e for e in effects.values() if e.oid is None]),
    ):
        if group:
            conn.execute(
                statement,
                (
                    [e.wamid for e in group],
                    [e.oid for e in group],
                    [e.status for e in group],
                    [e.rank for e in group],
                    [e.sent_at for e in group],
                    [e.delivered_at for e in group],
                    [e.read_at for e in group],
                    [e.failed_at for e in group],
                    [e.code for e in group],
                ),
            )


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
            "UPDATE webhook_deliveries SET split_at = now(), body_enc = NULL WHERE id = ANY(%s)",
            ([d["id"] for d in deliveries],),
        )
        for delivery_id, reason in malformed:
            log.warning("delivery %s could not be split: %s", delivery_id, reason)
            conn.execute(
                "UPDATE webhook_deliveries SET split_error = %s WHERE id = %s",
                (reason, delivery_id),
            )
    return result


_CONFLICTS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def split_isolating_failures(
    conn: psycopg.Connection[Any], cipher: FieldCipher, *, batch: int = 200
) -> SplitResult:
    """Split a batch; if it fails for a reason other than a lock conflict or a lost
    connection (a delivery the splitter cannot handle: a bug), split one delivery at a time
    so that one bad delivery cannot hold up everyone behind it. The delivery that fails on its
    own is set aside (split, with `split_error` saying why) and logged for the operator; the
    raw body stays stored, so it can be split again once the bug is fixed."""
    try:
        return split_pending(conn, cipher, batch=batch)
    except (*_CONFLICTS, psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except Exception:
        log.exception("splitting a batch of deliveries failed; isolating the one that fails")
    try:
        return split_pending(conn, cipher, batch=1)
    except (*_CONFLICTS, psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        with conn.transaction():
            locked = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s) AS ok", (SPLITTER_LOCK,)
            ).fetchone()
            if locked and locked["ok"]:
                row = conn.execute(
                    "UPDATE webhook_deliveries SET split_at = now(), split_error = %s"
                    " WHERE id = (SELECT min(id) FROM webhook_deliveries WHERE split_at IS NULL)"
                    " RETURNING id",
                    (reason,),
                ).fetchone()
                if row is not None:
                    log.error("delivery %s set aside, not split: %s", row["id"], reason)
        return SplitResult(deliveries=1, malformed=1)
