"""The webhook endpoint Meta calls: `GET` (subscription handshake) and `POST` (updates).

The POST handler does only what acknowledging safely needs: check the size, check the
signature over the raw bytes, check that the body is a readable WhatsApp envelope (so a
malformed one is refused with 400 instead of acknowledged and lost), and hand the bytes to
`store` (which returns once they are committed). The splitter turns them into events later;
business logic never runs in the request (shared/DESIGN.md, invariant 1).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mitra.whatsapp.parse import MalformedWebhook, parse_envelope
from mitra.whatsapp.signature import HEADER, signature_matches

log = logging.getLogger(__name__)

Store = Callable[[bytes], Awaitable[None]]


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def webhook_routes(
    *, app_secret: str, verify_token: str, max_bytes: int, store: Store, path: str
) -> list[Route]:
    async def handshake(request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token", "")
        if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode(), verify_token.encode()
        ):
            return PlainTextResponse(params.get("hub.challenge", ""))
        return _refuse(403, "verification token does not match")

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return _refuse(413, f"body larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                return _refuse(413, f"body larger than {max_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)

        signature = request.headers.get(HEADER)
        if not signature:
            return _refuse(401, f"missing {HEADER} header")
        if not signature_matches(body, signature, app_secret):
            return _refuse(403, "signature does not match the body")

        try:
            # Parsed here only to refuse what the splitter could not read (a few µs per
            # update); the events themselves are built again by the splitter.
            parse_envelope(orjson.loads(body))
        except orjson.JSONDecodeError:
            return _refuse(400, "body is not JSON")
        except MalformedWebhook as exc:
            return _refuse(400, f"not a readable WhatsApp webhook: {exc}")

        try:
            await store(body)
        except Exception:
            # Meta retries non-200 answers; nothing was acknowledged.
            log.exception("could not store a webhook delivery")
            return _refuse(503, "could not store the update; retry later")
        return Response(status_code=200)

    return [
        Route(path, handshake, methods=["GET"]),
        Route(path, receive, methods=["POST"]),
    ]
