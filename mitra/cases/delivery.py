"""Putting issued documents into citizens' chats: upload the PDF to the Graph API (once; the
media id is reused while WhatsApp keeps it), then queue a document message in the outbox.

The upload is HTTP and happens outside any transaction; the claim and the enqueue are each one
transaction. A worker that dies mid-upload leaves the delivery `uploading`; it is queued again
after a while (an extra upload costs nothing but bandwidth; the message is queued once, because
queuing and marking the delivery done commit together).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from mitra.conversation.locale import t
from mitra.crypto import FieldCipher
from mitra.outbox.queue import PRIORITY_NOTIFICATION, enqueue
from mitra.whatsapp import messages
from mitra.whatsapp.graph import GraphClient, GraphError

log = logging.getLogger(__name__)

DOCUMENTS_CHANNEL = "mitra_documents"
MEDIA_REUSE = timedelta(days=25)  # uploaded media live 30 days at Meta
MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Pending:
    id: int
    document_id: str
    citizen_id: int
    language: str
    title: dict[str, str]
    reference: str
    media_id: str | None
    pdf: bytes | None  # only when it must be uploaded


def deliver(conn: psycopg.Connection[Any], document_id: str, citizen_id: int) -> None:
    """Queue a document for a citizen's chat (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO document_deliveries (document_id, citizen_id) VALUES (%s, %s)",
        (document_id, citizen_id),
    )
    conn.execute(f"SELECT pg_notify('{DOCUMENTS_CHANNEL}', '')")


def claim(conn: psycopg.Connection[Any], cipher: FieldCipher, batch: int = 8) -> list[Pending]:
    with conn.transaction():
        conn.execute(
            "UPDATE document_deliveries SET status = 'queued' WHERE status = 'uploading'"
            " AND not_before < now() - make_interval(secs => %s)",
            (STUCK_AFTER.total_seconds(),),
        )
        rows = conn.execute(
            "UPDATE document_deliveries d SET status = 'uploading', attempts = attempts + 1,"
            " not_before = now()"
            " WHERE d.id IN (SELECT id FROM document_deliveries WHERE status = 'queued'"
            "   AND not_before <= now() ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING d.id, d.document_id, d.citizen_id",
            (batch,),
        ).fetchall()
        pending = []
        for r in rows:
            doc = conn.execute(
                "SELECT d.title, d.reference, d.media_id, d.pdf_enc,"
                " d.media_uploaded_at > now() - make_interval(secs => %s) AS fresh,"
                " c.language FROM documents d JOIN citizens c ON c.id = %s WHERE d.id = %s",
                (MEDIA_REUSE.total_seconds(), r["citizen_id"], r["document_id"]),
            ).fetchone()
            assert doc is not None
            reuse = doc["media_id"] is not None and doc["fresh"]
            pending.append(
                Pending(
                    r["id"],
                    r["document_id"],
                    r["citizen_id"],
                    doc["language"] or "te",
                    doc["title"],
                    doc["reference"],
                    doc["media_id"] if reuse else None,
                    None
                    if reuse
                    else cipher.decrypt_bytes(bytes(doc["pdf_enc"]), context=b"document_pdf"),
                )
            )
    return pending


def filename(p: Pending) -> str:
    kind = "".join(c if c.isalnum() else "-" for c in p.title.get("en", "document")).strip("-")
    return f"{kind}-{p.reference}.pdf"


async def deliver_round(
    conn: psycopg.Connection[Any], cipher: FieldCipher, graph: GraphClient
) -> int:
    pending = await asyncio.to_thread(claim, conn, cipher)
    for p in pending:
        media_id = p.media_id
        if media_id is None:
            assert p.pdf is not None
            try:
                media_id = await graph.upload_media(p.pdf, "application/pdf", filename(p))
            except GraphError as exc:
                log.warning("document %s: upload failed: %s", p.document_id, exc)
                await asyncio.to_thread(_failed, conn, p, str(exc))
                continue
        await asyncio.to_thread(_queue, conn, cipher, p, media_id, p.media_id is None)
    return len(pending)


def _queue(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    p: Pending,
    media_id: str,
    uploaded: bool,
) -> None:
    caption = t(
        p.language,
        "document_caption",
        document=p.title.get(p.language) or "",
        reference=p.reference,
    )
    with conn.transaction():
        if uploaded:
            conn.execute(
                "UPDATE documents SET media_id = %s, media_uploaded_at = now() WHERE id = %s",
                (media_id, p.document_id),
            )
        enqueue(
            conn,
            cipher,
            [
                (
                    p.citizen_id,
                    messages.document(media_id=media_id, filename=filename(p), caption=caption),
                    None,
                )
            ],
            priority=PRIORITY_NOTIFICATION,
        )
        conn.execute("UPDATE document_deliveries SET status = 'done' WHERE id = %s", (p.id,))


def _failed(conn: psycopg.Connection[Any], p: Pending, error: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE document_deliveries SET error = %s,"
            " status = CASE WHEN attempts >= %s THEN 'failed' ELSE 'queued' END,"
            " not_before = now() + make_interval(secs => 30 * attempts * attempts)"
            " WHERE id = %s",
            (error[:500], MAX_ATTEMPTS, p.id),
        )


# ---- an officer's "after" photo -------------------------------------------------------

MEDIA_DELIVERIES_CHANNEL = DOCUMENTS_CHANNEL  # the same worker loop wakes for both


@dataclass(frozen=True)
class PendingImage:
    id: int
    citizen_id: int
    caption: str
    mime_type: str
    data: bytes


def deliver_image(
    conn: psycopg.Connection[Any], media_row: int, citizen_id: int, caption: str
) -> None:
    """Queue a kept image (a resolved grievance's "after" photo) for a citizen's chat, in the
    caller's transaction."""
    conn.execute(
        "INSERT INTO media_deliveries (media_row, citizen_id, caption) VALUES (%s, %s, %s)",
        (media_row, citizen_id, caption[:1000]),
    )
    conn.execute(f"SELECT pg_notify('{MEDIA_DELIVERIES_CHANNEL}', '')")


def claim_images(
    conn: psycopg.Connection[Any], cipher: FieldCipher, batch: int = 8
) -> list[PendingImage]:
    # After photos are rare: look before taking row locks (and the media table) every tick.
    waiting = conn.execute(
        "SELECT 1 FROM media_deliveries WHERE status IN ('queued', 'uploading') LIMIT 1"
    ).fetchone()
    if waiting is None:
        return []
    with conn.transaction():
        conn.execute(
            "UPDATE media_deliveries SET status = 'queued' WHERE status = 'uploading'"
            " AND not_before < now() - make_interval(secs => %s)",
            (STUCK_AFTER.total_seconds(),),
        )
        rows = conn.execute(
            "UPDATE media_deliveries d SET status = 'uploading', attempts = attempts + 1,"
            " not_before = now()"
            " WHERE d.id IN (SELECT id FROM media_deliveries WHERE status = 'queued'"
            "   AND not_before <= now() ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING d.id, d.citizen_id, d.caption,"
            " (SELECT mime_type FROM media WHERE id = d.media_row) AS mime_type,"
            " (SELECT data_enc FROM media WHERE id = d.media_row) AS data_enc",
            (batch,),
        ).fetchall()
    return [
        PendingImage(
            r["id"],
            r["citizen_id"],
            r["caption"],
            r["mime_type"],
            cipher.decrypt_bytes(bytes(r["data_enc"]), context=b"media"),
        )
        for r in rows
    ]


async def deliver_images_round(
    conn: psycopg.Connection[Any], cipher: FieldCipher, graph: GraphClient
) -> int:
    pending = await asyncio.to_thread(claim_images, conn, cipher)
    for p in pending:
        try:
            media_id = await graph.upload_media(p.data, p.mime_type, f"after-{p.id}.jpg")
        except GraphError as exc:
            log.warning("image delivery %s: upload failed: %s", p.id, exc)
            await asyncio.to_thread(_image_failed, conn, p.id, str(exc))
            continue
        await asyncio.to_thread(_queue_image, conn, cipher, p, media_id)
    return len(pending)


def _queue_image(
    conn: psycopg.Connection[Any], cipher: FieldCipher, p: PendingImage, media_id: str
) -> None:
    with conn.transaction():
        enqueue(
            conn,
            cipher,
            [(p.citizen_id, messages.image(media_id=media_id, caption=p.caption), None)],
            priority=PRIORITY_NOTIFICATION,
        )
        conn.execute("UPDATE media_deliveries SET status = 'done' WHERE id = %s", (p.id,))


def _image_failed(conn: psycopg.Connection[Any], delivery_id: int, error: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE media_deliveries SET error = %s,"
            " status = CASE WHEN attempts >= %s THEN 'failed' ELSE 'queued' END,"
            " not_before = now() + make_interval(secs => 30 * attempts * attempts)"
            " WHERE id = %s",
            (error[:500], MAX_ATTEMPTS, delivery_id),
        )
