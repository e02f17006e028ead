"""A wire-compatible fake of the WhatsApp Cloud (Graph) API, for tests, the demo and the bench.

It answers the calls `graph.GraphClient` makes exactly as Meta would — the same success and
error bodies, the same codes — and plays Meta's side of the webhook: every accepted message
produces `sent`, `delivered` and `read` statuses, batched into signed POSTs to the webhook.
It holds Meta's limits too: the number's throughput (a token bucket, error 130429 beyond it)
and the message limits of `messages.validate` (error 131009 or 100), so a message the fake
accepts is one Meta would accept. Templates are checked against the approved ones (by default
the registry in `mitra.whatsapp.templates`): an unknown name or language is error 132001, a
wrong number of body parameters 132000, a parameter with a new-line, a tab or a run of
spaces 132018.

Control endpoints under `/_fake/` (no token needed) let a test or a demo play a citizen
(`POST /_fake/simulate`), read what was sent (`GET /_fake/messages`), make the next sends fail
(`POST /_fake/errors`) and count (`GET /_fake/stats`). The same controls exist as methods on
`FakeGraph`.

Each citizen's side of the conversation is kept as a transcript (`events`, `wait_for_events`):
what they sent and whether Mitra got it and read it, what Mitra sent them and the statuses
that reached Mitra's webhook. The citizen simulator (`mitra.simulator`) draws it as a chat.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import heapq
import hmac
import json
import logging
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from mitra.whatsapp import envelopes, limits
from mitra.whatsapp.signature import HEADER, sign

if TYPE_CHECKING:
    from mitra.whatsapp.templates import TemplateRegistry

log = logging.getLogger(__name__)

# What Meta says for each code; the text is for humans only (clients branch on the code).
_ERROR_TEXT: dict[int, str] = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "(#4) Application request limit reached",
    10: "(#10) Application does not have permission for this action",
    100: "(#100) Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    80007: "(#80007) Rate limit issues",
    130429: "(#130429) Rate limit hit",
    131000: "Something went wrong",
    131008: "(#131008) Required parameter is missing",
    131009: "(#131009) Parameter value is not valid",
    131016: "(#131016) Service unavailable",
    131026: "(#131026) Message undeliverable",
    131047: "(#131047) Re-engagement message",
    131049: "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "(#131050) User has stopped marketing messages",
    131053: "(#131053) Media upload error",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
    132018: "(#132018) There was an issue with the parameters in your template.",
}


def _approved_templates() -> TemplateRegistry:
    from mitra.whatsapp.templates import load_registry

    return load_registry()


@dataclass
class FakeGraphConfig:
    phone_number_id: str
    access_token: str
    app_secret: str
    webhook_url: str | None
    rate: float = 80.0  # messages per second for the number; burst = rate
    status_delay: float = 0.05  # seconds between status stages and between webhook batches
    report_read: bool = True  # whether citizens "read" what they receive
    display_phone_number: str = envelopes.DEFAULT_DISPLAY_NUMBER
    waba_id: str = envelopes.DEFAULT_WABA_ID
    # The approved templates: the registry (name, languages, parameter count are checked), or
    # just a set of names, or None to accept any.
    templates: TemplateRegistry | set[str] | None = field(default_factory=_approved_templates)
    media_url_ttl: float = 300.0  # media download URLs expire like Meta's (5 minutes)
    webhook_attempts: int = 4  # a failed webhook POST is retried, then dropped and counted
    webhook_retry_delay: float = 0.2  # doubling between attempts
    public_url: str | None = None  # base of media URLs; default: the URL the request came to
    verified_name: str = "Mitra"  # the business's verified name, as citizens see it
    transcript_events: int = 100_000  # the citizens' transcripts keep this many latest events
    clock: Callable[[], float] = time.monotonic  # for throughput, status timing, URL expiry


@dataclass
class SentMessage:
    """One message the fake accepted, and the statuses that reached the webhook so far."""

    to: str
    wamid: str
    body: dict[str, Any]
    at: float  # unix time of acceptance
    callback_data: str | None = None
    statuses: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "wamid": self.wamid,
            "body": self.body,
            "at": self.at,
            "callback_data": self.callback_data,
            "statuses": list(self.statuses),
        }


@dataclass(frozen=True)
class MediaItem:
    id: str
    data: bytes
    mime_type: str
    sha256: str
    filename: str | None


@dataclass(frozen=True)
class ChatEvent:
    """One thing in a citizen's transcript, numbered in the order it happened.

    kind "in": the citizen sent `data["message"]` (the webhook's message object) as
    `data["name"]`; "out": Mitra sent `data["body"]` (the Graph API payload) as
    `data["wamid"]`; "status": `data["wamid"]` reached `data["state"]`: for Mitra's
    messages the statuses posted to its webhook (sent, delivered, read), for the citizen's
    "delivered" (Mitra's webhook took it), "failed" (it did not) and "read" (Mitra marked
    it read); "typing": Mitra shows the typing indicator; "reset": the transcript was
    cleared."""

    seq: int
    kind: str
    wa_id: str
    at: float  # unix time
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "wa_id": self.wa_id, "at": self.at, **self.data}


@dataclass(frozen=True)
class SimulatedInbound:
    """A citizen's message the fake posted to the webhook; `status` is None if unreachable."""

    wamid: str
    status: int | None


@dataclass
class FakeGraphStats:
    accepted: int = 0
    rejected: Counter[int] = field(default_factory=Counter)  # by error code
    marked_read: int = 0
    webhooks_posted: int = 0
    webhook_failures: int = 0
    statuses_posted: int = 0
    statuses_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": {str(code): n for code, n in sorted(self.rejected.items())},
            "marked_read": self.marked_read,
            "webhooks_posted": self.webhooks_posted,
            "webhook_failures": self.webhook_failures,
            "statuses_posted": self.statuses_posted,
            "statuses_dropped": self.statuses_dropped,
        }


@dataclass
class _InjectedError:
    code: int
    http_status: int
    remaining: int
    to: str | None


@dataclass(order=True)
class _PendingStatus:
    due: float
    seq: int
    message: SentMessage = field(compare=False)
    state: str = field(compare=False)


class _TokenBucket:
    """`rate` tokens per second, holding at most `rate` (one second of burst)."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._clock = clock
        self._tokens = rate
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class GraphRejection(Exception):
    """Internal: a request the fake answers with a Graph error body."""

    def __init__(self, code: int, http_status: int = 400, details: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.http_status = http_status
        self.details = details


class FakeGraph:
    """The fake's state and its ASGI app (`.app`). Use one event loop; no locks are needed."""

    def __init__(self, config: FakeGraphConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.stats = FakeGraphStats()
        self.reads: list[str] = []  # wamids marked read by the business
        self._sent: list[SentMessage] = []
        self._media: dict[str, MediaItem] = {}
        self._media_urls: dict[str, tuple[str, float]] = {}  # url token -> (media id, expiry)
        self._injected: list[_InjectedError] = []
        self._pending: list[_PendingStatus] = []  # a heap, earliest due first
        self._seq = 0
        self._bucket = _TokenBucket(config.rate, config.clock)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=5.0)
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._events: deque[ChatEvent] = deque(maxlen=config.transcript_events)
        self._event_seq = 0
        self._event_waiters: list[asyncio.Future[None]] = []
        self._inbound_to: dict[str, str] = {}  # the citizen's wamid -> their wa_id
        # Names this run of the fake: event numbers start again at 1 when it restarts.
        self.run = secrets.token_hex(4)
        self.app = Starlette(routes=self._routes(), lifespan=self._lifespan)

    # ---- Python API for tests and demos -------------------------------------------------

    def sent(self, to: str | None = None) -> list[SentMessage]:
        """Accepted messages, oldest first; only those to `to` if given."""
        return [m for m in self._sent if to is None or m.to == to]

    def inject_error(
        self, code: int, http_status: int = 400, count: int = 1, to: str | None = None
    ) -> None:
        """Make the next `count` sends (to `to` only, if given) fail with this error."""
        if count > 0:
            self._injected.append(_InjectedError(code, http_status, count, to))

    def clear(self) -> int:
        """Forget sent messages, reads and their pending statuses; returns how many were sent."""
        cleared = len(self._sent)
        self._sent.clear()
        self.reads.clear()
        self._pending.clear()
        self._events.clear()
        self._inbound_to.clear()
        return cleared

    def forget(self, wa_id: str) -> int:
        """Forget one citizen's transcript, the messages sent to them and their pending
        statuses (the simulator's "reset"); returns how many sent messages were forgotten."""
        before = len(self._sent)
        self._sent = [m for m in self._sent if m.to != wa_id]
        self._pending = [p for p in self._pending if p.message.to != wa_id]
        heapq.heapify(self._pending)
        kept = [e for e in self._events if e.wa_id != wa_id]
        self._events.clear()
        self._events.extend(kept)
        self._inbound_to = {w: to for w, to in self._inbound_to.items() if to != wa_id}
        self._record("reset", wa_id, {})
        return before - len(self._sent)

    def events(self, after: int = 0, wa_id: str | None = None) -> list[ChatEvent]:
        """The transcript's events numbered above `after`, oldest first (one citizen's if
        `wa_id` is given)."""
        return [e for e in self._events if e.seq > after and (wa_id is None or e.wa_id == wa_id)]

    @property
    def last_event(self) -> int:
        return self._event_seq

    async def wait_for_events(self, after: int) -> None:
        """Return once an event numbered above `after` exists (bound it with
        `asyncio.timeout`)."""
        while self._event_seq <= after:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._event_waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self._event_waiters.remove(waiter)

    def media(self, media_id: str) -> MediaItem | None:
        """A media item the fake holds: uploaded by Mitra or sent by a simulated citizen."""
        return self._media.get(media_id)

    def _record(self, kind: str, wa_id: str, data: dict[str, Any]) -> None:
        self._event_seq += 1
        self._events.append(ChatEvent(self._event_seq, kind, wa_id, time.time(), data))
        waiters, self._event_waiters = self._event_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def add_media(self, data: bytes, mime_type: str, filename: str | None = None) -> str:
        """Store a media item (as an upload would) and return its id."""
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self._media[media_id] = MediaItem(
            media_id, data, mime_type, hashlib.sha256(data).hexdigest(), filename
        )
        return media_id

    async def flush_statuses(self) -> int:
        """Post every queued status now, due or not, in order; returns how many were posted."""
        return await self._flush(everything=True)

    async def simulate(self, spec: Mapping[str, Any]) -> SimulatedInbound:
        """Post a citizen's message to the webhook; `spec` as for `POST /_fake/simulate`.

        Raises ValueError for a malformed spec, RuntimeError when there is no webhook.
        """
        if self.config.webhook_url is None:
            raise RuntimeError("the fake has no webhook_url to post to")
        wa_id = spec.get("wa_id")
        if not isinstance(wa_id, str) or not wa_id:
            raise ValueError("wa_id is required")
        kind, body, context = self._inbound_message(wa_id, spec)
        message = envelopes.message(kind, body, wa_id=wa_id, context_wamid=context)
        contact = envelopes.contact(wa_id, str(spec.get("name") or "Citizen"), spec.get("user_id"))
        payload = envelopes.envelope(
            [
                envelopes.messages_value(
                    [contact],
                    [message],
                    phone_number_id=self.config.phone_number_id,
                    display_phone_number=self.config.display_phone_number,
                )
            ],
            waba_id=self.config.waba_id,
        )
        name = str(spec.get("name") or "Citizen")
        self._inbound_to[message["id"]] = wa_id
        if len(self._inbound_to) > self.config.transcript_events:
            del self._inbound_to[next(iter(self._inbound_to))]
        self._record("in", wa_id, {"wamid": message["id"], "name": name, "message": message})
        status = await self._post_webhook(payload, attempts=1)
        ok = status is not None and 200 <= status < 300
        self._record(
            "status", wa_id, {"wamid": message["id"], "state": "delivered" if ok else "failed"}
        )
        return SimulatedInbound(wamid=message["id"], status=status)

    async def simulate_text(self, wa_id: str, text: str, name: str = "Citizen") -> SimulatedInbound:
        return await self.simulate({"wa_id": wa_id, "text": text, "name": name})

    async def simulate_reply(
        self, wa_id: str, reply_id: str, title: str, *, list_reply: bool = True
    ) -> SimulatedInbound:
        """The citizen taps a list row (or, with list_reply=False, a reply button)."""
        return await self.simulate(
            {"wa_id": wa_id, "reply_id": reply_id, "reply_title": title, "list": list_reply}
        )

    async def simulate_location(
        self, wa_id: str, latitude: float, longitude: float
    ) -> SimulatedInbound:
        return await self.simulate(
            {"wa_id": wa_id, "location": {"latitude": latitude, "longitude": longitude}}
        )

    async def start(self) -> None:
        """Start the status flusher (the app's lifespan does this under uvicorn)."""
        if self.config.webhook_url is not None and self._flusher is None:
            self._flusher = asyncio.create_task(self._run_flusher(), name="fake-graph-statuses")

    async def aclose(self) -> None:
        """Stop the flusher and close the webhook client if the fake created it."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._owns_http:
            await self._http.aclose()

    # ---- statuses and webhooks ------------------------------------------------------------

    def _queue_statuses(self, message: SentMessage) -> None:
        if self.config.webhook_url is None:
            return
        states = ["sent", "delivered"] + (["read"] if self.config.report_read else [])
        now = self.config.clock()
        for stage, state in enumerate(states):
            self._seq += 1
            due = now + stage * self.config.status_delay
            heapq.heappush(self._pending, _PendingStatus(due, self._seq, message, state))

    async def _run_flusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.status_delay)
            try:
                await self._flush(everything=False)
            except Exception:
                log.exception("fake graph: flushing statuses failed")

    async def _flush(self, *, everything: bool) -> int:
        posted = 0
        async with self._flush_lock:
            while True:
                now = self.config.clock()
                batch: list[_PendingStatus] = []
                while (
                    self._pending
                    and (everything or self._pending[0].due <= now)
                    and len(batch) < limits.WEBHOOK_UPDATES_PER_POST_MAX
                ):
                    batch.append(heapq.heappop(self._pending))
                if not batch:
                    return posted
                statuses = [
                    envelopes.status(
                        p.message.wamid,
                        p.state,
                        recipient_id=p.message.to,
                        callback_data=p.message.callback_data,
                    )
                    for p in batch
                ]
                payload = envelopes.envelope(
                    [
                        envelopes.statuses_value(
                            statuses,
                            phone_number_id=self.config.phone_number_id,
                            display_phone_number=self.config.display_phone_number,
                        )
                    ],
                    waba_id=self.config.waba_id,
                )
                status = await self._post_webhook(payload, attempts=self.config.webhook_attempts)
                if status is not None and 200 <= status < 300:
                    for p in batch:
                        p.message.statuses.append(p.state)
                        self._record(
                            "status", p.message.to, {"wamid": p.message.wamid, "state": p.state}
                        )
                    self.stats.statuses_posted += len(batch)
                    posted += len(batch)
                else:
                    self.stats.statuses_dropped += len(batch)

    async def _post_webhook(self, payload: dict[str, Any], *, attempts: int) -> int | None:
        """POST signed; retry non-2xx answers with doubling delays. Returns the last status."""
        url = self.config.webhook_url
        assert url is not None
        # Compact and ASCII-escaped like Meta's, and signed over exactly these bytes.
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "facebookexternalua",
            HEADER: sign(body, self.config.app_secret),
        }
        delay = self.config.webhook_retry_delay
        status: int | None = None
        for attempt in range(max(1, attempts)):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            try:
                response = await self._http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("fake graph: webhook POST failed: %s", exc)
                status = None
                continue
            status = response.status_code
            if response.is_success:
                self.stats.webhooks_posted += 1
                return status
        self.stats.webhook_failures += 1
        return status

    # ---- building citizens' messages ----------------------------------------------------

    def _inbound_message(
        self, wa_id: str, spec: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any], str | None]:
        """(type, type object, quoted wamid) of the message a `simulate` spec describes."""
        context = spec.get("context")
        if context is not None and not isinstance(context, str):
            raise ValueError("context must be a wamid")
        if isinstance(spec.get("text"), str):
            return "text", {"body": spec["text"]}, context
        if isinstance(spec.get("reply_id"), str):
            reply_id = spec["reply_id"]
            title = str(spec.get("reply_title") or reply_id)
            body = envelopes.interactive_reply_body(
                reply_id, title, list_reply=bool(spec.get("list", True))
            )
            if context is None:
                # A tap is always on one of our messages: quote the latest one to this citizen.
                ours = self.sent(wa_id)
                context = ours[-1].wamid if ours else None
            return "interactive", body, context
        location = spec.get("location")
        if isinstance(location, Mapping):
            try:
                place: dict[str, Any] = {
                    "latitude": float(location["latitude"]),
                    "longitude": float(location["longitude"]),
                }
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError("location needs numeric latitude and longitude") from exc
            for key in ("name", "address"):
                if isinstance(location.get(key), str):
                    place[key] = location[key]
            return "location", place, context
        media = spec.get("media")
        if isinstance(media, Mapping):
            kind = str(media.get("type") or "image")
            mime_type = str(media.get("mime_type") or "image/jpeg")
            try:
                data = base64.b64decode(str(media.get("data_base64") or ""), validate=True)
            except ValueError as exc:
                raise ValueError("media.data_base64 is not base64") from exc
            filename = media.get("filename") if isinstance(media.get("filename"), str) else None
            item = self._media[self.add_media(data, mime_type, filename)]
            obj: dict[str, Any] = {"id": item.id, "mime_type": mime_type, "sha256": item.sha256}
            if media.get("expired"):
                # Sent long ago: WhatsApp has let the media id go (ids live about 7 days).
                del self._media[item.id]
            if isinstance(media.get("caption"), str):
                obj["caption"] = media["caption"]
            if filename is not None and kind == "document":
                obj["filename"] = filename
            if kind == "audio" and media.get("voice"):
                obj["voice"] = True  # recorded in the chat, as WhatsApp marks voice notes
            return kind, obj, context
        raise ValueError("say what the citizen sends: text, reply_id, location or media")

    # ---- HTTP -------------------------------------------------------------------------------

    def _routes(self) -> list[BaseRoute]:
        graph: list[BaseRoute] = [
            Route("/{phone_number_id}/messages", self._post_message, methods=["POST"]),
            Route("/{phone_number_id}/media", self._post_media, methods=["POST"]),
            Route("/{object_id}", self._get_object, methods=["GET"]),
        ]
        control: list[BaseRoute] = [
            Route("/_fake/simulate", self._control_simulate, methods=["POST"]),
            Route("/_fake/messages", self._control_messages, methods=["GET", "DELETE"]),
            Route("/_fake/errors", self._control_errors, methods=["POST"]),
            Route("/_fake/stats", self._control_stats, methods=["GET"]),
            Route("/_fake/media/{media_id}", self._download_media, methods=["GET"]),
        ]
        # Graph URLs may carry the API version (https://graph.facebook.com/v25.0/...).
        return [*control, *graph, Mount("/v{version}", routes=graph)]

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.aclose()

    def _error(
        self, code: int, http_status: int = 400, details: str | None = None, *, count: bool = True
    ) -> JSONResponse:
        """`count`: a request Mitra got wrong (stats.rejected); not for asking about media
        WhatsApp no longer has, which is the citizen's old message, not Mitra's mistake."""
        if count:
            self.stats.rejected[code] += 1
        message = _ERROR_TEXT.get(code, f"(#{code}) Error")
        return JSONResponse(
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": details or message},
                    "fbtrace_id": "A" + secrets.token_urlsafe(16),
                }
            },
            status_code=http_status,
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.config.access_token.encode()
        )

    def _check_phone_number(self, request: Request) -> None:
        if not self._authorized(request):
            raise GraphRejection(190, 401)
        pnid = request.path_params["phone_number_id"]
        if pnid != self.config.phone_number_id:
            raise GraphRejection(
                100, 400, f"Unsupported post request. Object with ID '{pnid}' does not exist"
            )

    async def _post_message(self, request: Request) -> Response:
        try:
            self._check_phone_number(request)
            payload = await _json_object(request)
            return self._accept_message(payload)
        except ClientDisconnect:
            # The sender died mid-request: nothing was accepted, nothing to count.
            return Response(status_code=499)
        except GraphRejection as rejection:
            return self._error(rejection.code, rejection.http_status, rejection.details)

    def _accept_message(self, payload: dict[str, Any]) -> Response:
        if payload.get("messaging_product") != "whatsapp":
            raise GraphRejection(100, details="messaging_product must be 'whatsapp'")
        if payload.get("status") == "read":
            wamid = payload.get("message_id")
            if not isinstance(wamid, str) or not wamid:
                raise GraphRejection(100, details="The parameter message_id is required.")
            self._validate(payload)
            self.reads.append(wamid)
            self.stats.marked_read += 1
            citizen = self._inbound_to.get(wamid)
            if citizen is not None:
                self._record("status", citizen, {"wamid": wamid, "state": "read"})
                if payload.get("typing_indicator"):
                    self._record("typing", citizen, {"wamid": wamid})
            return JSONResponse({"success": True})

        to = payload.get("to") or payload.get("recipient")
        if not isinstance(to, str) or not to:
            raise GraphRejection(100, details="The parameter to is required.")
        wa_id = re.sub(r"\D", "", to) or to

        injected = self._take_injected(wa_id)
        if injected is not None:
            raise GraphRejection(injected.code, injected.http_status)
        self._validate(payload)
        if not self._bucket.take():
            raise GraphRejection(130429, details="Message throughput of the number exceeded")

        callback = payload.get("biz_opaque_callback_data")
        message = SentMessage(
            to=wa_id,
            wamid=envelopes.new_wamid(),
            body=payload,
            at=time.time(),
            callback_data=callback if isinstance(callback, str) else None,
        )
        self._sent.append(message)
        self.stats.accepted += 1
        self._record("out", wa_id, {"wamid": message.wamid, "body": payload})
        self._queue_statuses(message)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": message.wamid}],
            }
        )

    def _take_injected(self, wa_id: str) -> _InjectedError | None:
        for injected in self._injected:
            if injected.to is None or injected.to == wa_id:
                injected.remaining -= 1
                if injected.remaining <= 0:
                    self._injected.remove(injected)
                return injected
        return None

    def _validate(self, payload: dict[str, Any]) -> None:
        from mitra.whatsapp.messages import LimitExceeded, validate

        try:
            validate(payload)
        except LimitExceeded as exc:
            # Meta answers 131009 for interactive parts out of bounds, 100 for other params.
            code = 131009 if payload.get("type") == "interactive" else 100
            raise GraphRejection(code, details=str(exc)) from exc
        if payload.get("type") == "template" and self.config.templates is not None:
            self._check_template(payload["template"])

    def _check_template(self, template: dict[str, Any]) -> None:
        """Refuse a template Meta never approved, as Meta does (`validate` checked its shape)."""
        from mitra.whatsapp.templates import parameter_problem

        name, language = template["name"], template["language"]["code"]
        approved = self.config.templates
        if isinstance(approved, set | frozenset):
            if name not in approved:
                raise GraphRejection(132001, details=f"template name ({name}) does not exist")
            return
        registered = approved.get(name) if approved is not None else None
        if registered is None or language not in registered.bodies:
            raise GraphRejection(
                132001, details=f"template name ({name}) does not exist in {language}"
            )
        values = [
            parameter.get("text")
            for component in template.get("components", [])
            if component.get("type") == "body"
            for parameter in component.get("parameters", [])
        ]
        if len(values) != len(registered.parameters):
            raise GraphRejection(
                132000,
                details=f"body: number of localizable_params ({len(values)}) does not match "
                f"the expected number of params ({len(registered.parameters)})",
            )
        for number, value in enumerate(values, start=1):
            problem = parameter_problem(value)
            if problem is not None:
                raise GraphRejection(132018, details=f"body parameter {{{{{number}}}}} {problem}")

    async def _post_media(self, request: Request) -> Response:
        try:
            self._check_phone_number(request)
            content_type = request.headers.get("content-type", "")
            try:
                form = _parse_multipart(await request.body(), content_type)
            except ValueError as exc:
                raise GraphRejection(100, details=f"expected multipart/form-data: {exc}") from exc
            product = form.get("messaging_product")
            if product is None or product.data != b"whatsapp":
                raise GraphRejection(100, details="messaging_product must be 'whatsapp'")
            file = form.get("file")
            if file is None:
                raise GraphRejection(100, details="The parameter file is required.")
            kind_field = form.get("type")
            mime_type = (
                kind_field.data.decode() if kind_field is not None else file.content_type
            ) or "application/octet-stream"
            kind = mime_type.split("/")[0]
            allowed = limits.MEDIA_BYTES.get(kind, limits.DOCUMENT_BYTES)
            if len(file.data) > allowed:
                raise GraphRejection(131053, details=f"file larger than {allowed} bytes")
            return JSONResponse({"id": self.add_media(file.data, mime_type, file.filename)})
        except GraphRejection as rejection:
            return self._error(rejection.code, rejection.http_status, rejection.details)

    async def _get_object(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._error(190, 401)
        object_id = request.path_params["object_id"]
        if object_id == self.config.phone_number_id:
            return JSONResponse(
                {
                    "id": object_id,
                    "display_phone_number": self.config.display_phone_number,
                    "verified_name": self.config.verified_name,
                    "quality_rating": "GREEN",
                }
            )
        item = self._media.get(object_id)
        if item is None:
            return self._error(
                100,
                400,
                f"Unsupported get request. Object with ID '{object_id}' does not exist",
                count=False,
            )
        url_token = secrets.token_urlsafe(16)
        self._media_urls[url_token] = (item.id, self.config.clock() + self.config.media_url_ttl)
        base = (self.config.public_url or str(request.base_url)).rstrip("/")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{base}/_fake/media/{item.id}?token={url_token}",
                "mime_type": item.mime_type,
                "sha256": item.sha256,
                "file_size": len(item.data),
                "id": item.id,
            }
        )

    async def _download_media(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._error(190, 401)
        media_id = request.path_params["media_id"]
        grant = self._media_urls.get(request.query_params.get("token", ""))
        item = self._media.get(media_id)
        if grant is None or item is None or grant[0] != media_id:
            return Response(status_code=404)
        if self.config.clock() >= grant[1]:
            del self._media_urls[request.query_params["token"]]
            return Response(status_code=404)
        return Response(item.data, media_type=item.mime_type)

    async def _control_simulate(self, request: Request) -> Response:
        try:
            spec = await _json_object(request)
            result = await self.simulate(spec)
        except GraphRejection:
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except RuntimeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"wamid": result.wamid, "status": result.status})

    async def _control_messages(self, request: Request) -> Response:
        if request.method == "DELETE":
            return JSONResponse({"cleared": self.clear()})
        to = request.query_params.get("to")
        return JSONResponse([m.to_json() for m in self.sent(to)])

    async def _control_errors(self, request: Request) -> Response:
        try:
            spec = await _json_object(request)
        except GraphRejection:
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        code, http_status = spec.get("code"), spec.get("http_status", 400)
        count, to = spec.get("count", 1), spec.get("to")
        if not (
            isinstance(code, int)
            and isinstance(http_status, int)
            and isinstance(count, int)
            and (to is None or isinstance(to, str))
        ):
            return JSONResponse(
                {"error": "expected {code: int, http_status?: int, count?: int, to?: str}"},
                status_code=400,
            )
        self.inject_error(code, http_status, count, to)
        return JSONResponse({"code": code, "http_status": http_status, "count": count, "to": to})

    async def _control_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.to_json())


def create_fake_graph_app(
    config: FakeGraphConfig, *, http: httpx.AsyncClient | None = None
) -> FakeGraph:
    """The fake Graph API; `http` is the client it posts webhooks with (tests pass a mock)."""
    return FakeGraph(config, http=http)


def serve_fake_graph(config: FakeGraphConfig, host: str, port: int) -> None:
    """Run the fake under uvicorn until interrupted (the `mitra fake-graph` command)."""
    import uvicorn

    uvicorn.run(create_fake_graph_app(config).app, host=host, port=port, log_level="info")


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body())
    except ValueError as exc:
        raise GraphRejection(100, details="the body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise GraphRejection(100, details="the body must be a JSON object")
    return payload


@dataclass(frozen=True)
class _FormPart:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _parse_multipart(body: bytes, content_type: str) -> dict[str, _FormPart]:
    """The fields of a multipart/form-data body (kept dependency-free: uploads are rare)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError(f"content type is {content_type or 'missing'}")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise ValueError("no boundary")
    delimiter = b"\r\n--" + match.group(1).encode("latin-1")
    parts: dict[str, _FormPart] = {}
    # Each part sits between CRLF--boundary delimiters; the first chunk is the preamble.
    for chunk in (b"\r\n" + body).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part has no header block")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip():
                headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is not None:
            filename = _disposition_param(disposition, "filename")
            parts[name] = _FormPart(name, filename, headers.get("content-type"), data)
    return parts


def _disposition_param(disposition: str, key: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{key}=(?:"([^"]*)"|([^;\s]+))', disposition)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)
