"""The public verification pages a document's QR code opens: `/verify/{id}` (a page in both
languages) and `/verify/{id}.json`, plus the published signing keys at `/verify/keys.json`.

They show what the document itself shows, nothing more, and whether it is genuine, current
(not expired) and not revoked. Revocation is read from the database on every request, so it
is immediate.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg_pool import ConnectionPool

from mitra.crypto import FieldCipher
from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_facts

DOCUMENT_ID = re.compile(r"^D[A-Z2-7]{20}$")
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
STATE = {"en": "Government of Andhra Pradesh", "te": "ఆంధ్రప్రదేశ్ ప్రభుత్వం"}
HEADINGS = {
    "valid": {
        "en": "Genuine and valid: issued by the Government of Andhra Pradesh.",
        "te": "నిజమైనది, చెల్లుబాటులో ఉంది: ఆంధ్రప్రదేశ్ ప్రభుత్వం జారీ చేసింది.",
    },
    "expired": {
        "en": "Genuine, but expired: its validity has ended.",
        "te": "నిజమైనది, కానీ గడువు ముగిసింది.",
    },
    "revoked": {
        "en": "Revoked: this document was withdrawn by the issuing office and is no longer valid.",
        "te": "రద్దు చేయబడింది: జారీ చేసిన కార్యాలయం ఈ పత్రాన్ని ఉపసంహరించింది, ఇది ఇక చెల్లదు.",
    },
    "not_found": {
        "en": "Not found: no document with this ID was issued. Treat the paper as not genuine.",
        "te": "దొరకలేదు: ఈ గుర్తింపు సంఖ్యతో ఏ పత్రమూ జారీ కాలేదు. దీన్ని నిజమైనదిగా పరిగణించవద్దు.",
    },
    "invalid": {
        "en": "Not valid: the record of this document does not verify.",
        "te": "చెల్లదు: ఈ పత్రం రికార్డు ధృవీకరణ కాలేదు.",
    },
}
TONE = {"valid": "valid", "expired": "expired"}


def verify_routes(
    pool: Callable[[], ConnectionPool], cipher: FieldCipher, keys: Callable[[], PublicKeys]
) -> APIRouter:
    router = APIRouter(prefix="/verify", tags=["verification"])

    def look_up(document_id: str) -> dict[str, Any]:
        if not DOCUMENT_ID.match(document_id):
            return {"status": "not_found", "document_id": document_id}
        with pool().connection() as conn:
            row: Any = conn.execute(
                "SELECT id, facts_enc, pdf_sha256, signature, key_id, valid_until, revoked_at,"
                " revoked_reason FROM documents WHERE id = %s",
                (document_id,),
            ).fetchone()
        if row is None:
            return {"status": "not_found", "document_id": document_id}
        facts = orjson.loads(
            cipher.decrypt_bytes(bytes(row["facts_enc"]), context=b"document_facts")
        )
        checked = verify_facts(facts, row["signature"], row["pdf_sha256"], keys())
        if not checked.ok:
            status = "invalid"
        elif row["revoked_at"] is not None:
            status = "revoked"
        elif row["valid_until"] is not None and row["valid_until"] < datetime.now(UTC):
            status = "expired"
        else:
            status = "valid"
        return {
            "status": status,
            "document_id": document_id,
            "facts": facts,
            "pdf_sha256": row["pdf_sha256"],
            "signature": row["signature"],
            "kid": row["key_id"],
            "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
            "revoked_reason": row["revoked_reason"],
        }

    @router.get("/keys.json")
    async def published_keys() -> Response:
        """The public keys that sign Mitra documents (Ed25519), for offline checks."""
        return Response(keys().to_json(), media_type="application/json")

    @router.get("/{document_id}.json")
    async def as_json(document_id: str) -> JSONResponse:
        """Whether the document is genuine, current and not revoked; its signed facts, the
        PDF's digest and the signature, so anyone can check them with the published keys."""
        found = await asyncio.to_thread(look_up, document_id)
        return JSONResponse(found, status_code=404 if found["status"] == "not_found" else 200)

    @router.get("/{document_id}", response_class=HTMLResponse)
    async def as_page(document_id: str, request: Request) -> HTMLResponse:
        found = await asyncio.to_thread(look_up, document_id)
        status = found["status"]
        html = TEMPLATES.get_template("verify.html").render(
            state=STATE,
            status=status,
            tone=TONE.get(status, "invalid"),
            heading=HEADINGS[status],
            note=(
                f"Reason: {found['revoked_reason']}"
                if status == "revoked" and found.get("revoked_reason")
                else None
            ),
            facts=found.get("facts") if status != "invalid" else None,
            keys_url=str(request.url_for("published_keys")),
        )
        return HTMLResponse(html, status_code=404 if status == "not_found" else 200)

    return router
