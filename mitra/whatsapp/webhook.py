"""The webhook endpoint Meta calls: `GET` (subscription handshake) and `POST` (updates).

The POST handler does only what acknowledging safely needs: check the size, check the
signature over the raw bytes, check that the body is a readable WhatsApp envelope (so a
malformed one is refused with 400 instead of acknowledged and lost), and hand the bytes to
`store` (which returns once they are committed). The splitter turns them into events later;
business logic never runs in the request (shared/DESIGN.md, invariant 1).

It is a plain ASGI application rather than a framework route: it is the hottest path in the
system (Meta sends up to ~4,000 webhooks/s per upgraded number) and the framework's request
and response objects cost more than everything the handler itself does
(`mitra bench ingest` measures it against a bare endpoint).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from mitra.whatsapp.parse import MalformedWebhook, parse_envelope
from mitra.whatsapp.signature import HEADER, signature_matches

log = logging.getLogger(__name__)

Store = Callable[[bytes], Awaitable[None]]
_SIGNATURE = HEADER.lower().encode()
_JSON = [(b"content-type", b"application/json")]


class WhatsAppWebhook:
    """`GET` handshake and `POST` updates for one business number's webhook."""

    def __init__(self, *, app_secret: str, verify_token: str, max_bytes: int, store: Store) -> None:
        self.app_secret = app_secret
        self.verify_token = verify_token.encode()
        self.max_bytes = max_bytes
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST":
            status, body, headers = await self._receive(scope, receive)
        elif method in ("GET", "HEAD"):
            status, body, headers = self._handshake(scope)
        else:
            status, body, headers = _refusal(405, "use GET or POST")
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _handshake(self, scope: Scope) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (params.get("hub.verify_token") or [""])[0].encode()
        if (params.get("hub.mode") or [""])[0] == "subscribe" and hmac.compare_digest(
            token, self.verify_token
        ):
            challenge = (params.get("hub.challenge") or [""])[0].encode()
            return 200, challenge, [(b"content-type", b"text/plain; charset=utf-8")]
        return _refusal(403, "verification token does not match")

    async def _receive(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        signature: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                return _refusal(413, f"body larger than {self.max_bytes} bytes")
            if name == _SIGNATURE:
                signature = value
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _refusal(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return _refusal(413, f"body larger than {self.max_bytes} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)

        if not signature:
            return _refusal(401, f"missing {HEADER} header")
        if not signature_matches(body, signature.decode("latin-1"), self.app_secret):
            return _refusal(403, "signature does not match the body")
        try:
            # Parsed here only to refuse what the splitter could not read (a few µs per
            # update); the events themselves are built again by the splitter.
            parse_envelope(orjson.loads(body))
        except orjson.JSONDecodeError:
            return _refusal(400, "body is not JSON")
        except MalformedWebhook as exc:
            return _refusal(400, f"not a readable WhatsApp webhook: {exc}")
        try:
            await self.store(body)
        except Exception:
            # Meta retries non-200 answers; nothing was acknowledged.
            log.exception("could not store a webhook delivery")
            return _refusal(503, "could not store the update; retry later")
        return 200, b"", []


def _refusal(status: int, reason: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    return status, orjson.dumps({"error": reason}), _JSON
