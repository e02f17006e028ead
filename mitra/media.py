"""Media a citizen sends (a photo of a pothole, a voice note, a PDF), fetched from the Graph
API, checked and kept — encrypted — before the short-lived download URL is gone.

WhatsApp gives a media *id* in the webhook (it lives 7 days); `GET /{media-id}` gives a
download URL that works for 5 minutes. `fetch` asks for the URL, refuses a type or a size we
do not take before downloading, downloads, checks the bytes against the SHA-256 WhatsApp
states (and the webhook gave), and asks for a fresh URL once if the first one expired.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg

from mitra.crypto import FieldCipher
from mitra.whatsapp.graph import GraphClient, GraphError

MB = 1024 * 1024
ALLOWED: dict[str, frozenset[str]] = {
    "image": frozenset({"image/jpeg", "image/png", "image/webp"}),
    "audio": frozenset({"audio/ogg", "audio/mpeg", "audio/aac", "audio/amr", "audio/mp4"}),
    "document": frozenset({"application/pdf"}),
}
MAX_BYTES = {"image": 5 * MB, "audio": 16 * MB, "document": 10 * MB}


class MediaError(Exception):
    """`kind`: wrong_type | too_large | corrupt | expired | unavailable."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class Fetched:
    media_id: str
    kind: str
    mime_type: str
    sha256: str
    data: bytes


def kind_of(mime_type: str) -> str | None:
    base = mime_type.split(";")[0].strip().lower()
    return next((k for k, types in ALLOWED.items() if base in types), None)


async def fetch(
    graph: GraphClient,
    media_id: str,
    *,
    expected_sha256: str | None = None,
    max_bytes: dict[str, int] | None = None,
) -> Fetched:
    limits = max_bytes or MAX_BYTES
    for attempt in range(2):
        try:
            info = await graph.media_info(media_id)
        except GraphError as exc:
            raise MediaError(
                "expired" if exc.http_status in (400, 404) else "unavailable", str(exc)
            ) from None
        mime = str(info.get("mime_type") or "")
        kind = kind_of(mime)
        if kind is None:
            raise MediaError("wrong_type", mime or "unknown")
        size = int(info.get("file_size") or 0)
        if size > limits[kind]:
            raise MediaError("too_large", f"{size} bytes")
        try:
            data = await graph.download(str(info["url"]))
        except GraphError as exc:
            if exc.http_status == 404 and attempt == 0:
                continue  # the 5-minute URL ran out between the two calls: ask for a new one
            raise MediaError(
                "expired" if exc.http_status == 404 else "unavailable", str(exc)
            ) from None
        if len(data) > limits[kind]:
            raise MediaError("too_large", f"{len(data)} bytes")
        digest = hashlib.sha256(data).hexdigest()
        stated = {str(info.get("sha256") or digest).lower()}
        if expected_sha256:
            stated.add(expected_sha256.lower())
        if stated != {digest}:
            raise MediaError("corrupt", "SHA-256 does not match")
        return Fetched(media_id, kind, mime.split(";")[0].strip().lower(), digest, data)
    raise MediaError("expired", "the download URL expired twice")


def store(
    conn: psycopg.Connection[Any], cipher: FieldCipher, citizen_id: int, fetched: Fetched
) -> dict[str, Any]:
    """Keep the bytes, encrypted; the same media twice is kept once."""
    row = conn.execute(
        "INSERT INTO media (citizen_id, media_id, kind, mime_type, size, sha256, data_enc)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (citizen_id, media_id) DO UPDATE SET media_id = EXCLUDED.media_id"
        " RETURNING id",
        (
            citizen_id,
            fetched.media_id,
            fetched.kind,
            fetched.mime_type,
            len(fetched.data),
            fetched.sha256,
            cipher.encrypt(fetched.data, context=b"media"),
        ),
    ).fetchone()
    assert row is not None
    return {"stored": row["id"], "kind": fetched.kind, "size": len(fetched.data)}
