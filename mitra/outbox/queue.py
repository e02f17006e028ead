"""Putting messages in the outbox, in the caller's transaction (shared/DESIGN.md, invariant 4).

A message is queued in the same transaction as the state change that caused it; the sender
only ever sees committed rows, so a rolled-back change never speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from mitra.crypto import FieldCipher
from mitra.whatsapp.messages import OutboundMessage

OUTBOX_CHANNEL = "mitra_outbox"
PRIORITY_REPLY = 0
PRIORITY_NOTIFICATION = 5
PRIORITY_BULK = 9


def encode_payload(cipher: FieldCipher, message: OutboundMessage) -> bytes:
    return cipher.encrypt(orjson.dumps(message.payload).decode(), context=b"outbound")


def decode_payload(cipher: FieldCipher, blob: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads(cipher.decrypt(blob, context=b"outbound"))
    return payload


def enqueue(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    rows: Sequence[tuple[int, OutboundMessage, int | None]],
    *,
    priority: int = PRIORITY_REPLY,
) -> None:
    """Queue (citizen_id, message, in_reply_to event id) rows and wake the senders."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO outbound_messages (citizen_id, priority, kind, payload_enc, in_reply_to)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (citizen_id, priority, message.kind, encode_payload(cipher, message), in_reply_to)
                for citizen_id, message, in_reply_to in rows
            ],
        )
    conn.execute(f"SELECT pg_notify('{OUTBOX_CHANNEL}', '')")
