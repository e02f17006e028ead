"""The sandbox payment gateway: a stand-in for a real one, served under `/sandbox/pay` in the
demo, with a hosted payment page (pay / fail / abandon) and HMAC-signed callbacks — and
`SandboxGateway`, the adapter Mitra uses to talk to it (the same port as Razorpay's).

API (JSON, bearer token optional):
  POST /v1/links {reference, amount_paise, description, expires_at, customer_name?}
       → 201 {link_id, url, state, expires_at}  (the same reference answers the same link)
  GET  /v1/links/{link_id} → {link_id, state, payment_id, amount_paid_paise}
  POST /v1/payments/{payment_id}/refunds {amount_paise, key}
       → {refund_id, amount_paise, state}  (the same key refunds once; over-refund is 400)
Page: GET /pay/{link_id} shows the amount with Pay, Fail and Cancel buttons; POST /pay/{link_id}
settles it and calls back `callback_url` with `X-Sandbox-Signature: sha256=<hex HMAC of the raw
body with the shared secret>`, body {event_id, link_id, state, payment_id, amount_paise, at}.
`POST /_sandbox/links/{link_id}/settle {state}` settles without a browser (tests, `mitra chat`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from mitra.payments.port import (
    CallbackRejected,
    GatewayError,
    GatewayEvent,
    LinkStatus,
    PaymentLink,
    Refund,
)

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "x-sandbox-signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Link:
    link_id: str
    reference: str
    amount_paise: int
    description: str
    expires_at: datetime
    customer_name: str | None
    state: str = "created"
    payment_id: str | None = None
    refunded_paise: int = 0


@dataclass
class GatewayDesk:
    """The sandbox gateway's books, in memory."""

    secret: str
    callback_url: str | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    links: dict[str, _Link] = field(default_factory=dict)
    by_reference: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → refund
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, body: Mapping[str, Any]) -> _Link:
        reference = str(body["reference"])
        amount = int(body["amount_paise"])
        if amount <= 0:
            raise ValueError("amount_paise must be positive")
        with self._lock:
            existing = self.by_reference.get(reference)
            if existing is not None:
                return self.links[existing]
            link = _Link(
                link_id="sbl_" + secrets.token_hex(8),
                reference=reference,
                amount_paise=amount,
                description=str(body.get("description") or "")[:200],
                expires_at=datetime.fromisoformat(str(body["expires_at"])),
                customer_name=body.get("customer_name"),
            )
            self.links[link.link_id] = link
            self.by_reference[reference] = link.link_id
            return link

    def current(self, link: _Link) -> _Link:
        if link.state == "created" and self.clock() >= link.expires_at:
            link.state = "expired"
        return link

    def settle(self, link_id: str, state: str) -> tuple[_Link, dict[str, Any] | None]:
        """Pay or fail a link (as the hosted page does); the event to call back, if any."""
        with self._lock:
            link = self.links.get(link_id)
            if link is None:
                raise KeyError(link_id)
            link = self.current(link)
            if link.state != "created" or state not in ("paid", "failed", "cancelled"):
                return link, None
            if state == "paid":
                link.state = "paid"
                link.payment_id = "sbp_" + secrets.token_hex(8)
            elif state == "cancelled":
                link.state = "cancelled"
            event = {
                "event_id": "sbe_" + secrets.token_hex(8),
                "link_id": link.link_id,
                "state": state,
                "payment_id": link.payment_id,
                "amount_paise": link.amount_paise if state == "paid" else 0,
                "at": self.clock().isoformat(),
            }
            return link, event

    def refund(self, payment_id: str, amount: int, key: str) -> dict[str, Any]:
        with self._lock:
            if key in self.refunds:
                return self.refunds[key]
            link = next((x for x in self.links.values() if x.payment_id == payment_id), None)
            if link is None:
                raise KeyError(payment_id)
            if amount <= 0 or link.refunded_paise + amount > link.amount_paise:
                raise ValueError("more than was paid")
            link.refunded_paise += amount
            refund = {
                "refund_id": "sbr_" + secrets.token_hex(8),
                "amount_paise": amount,
                "state": "processed",
            }
            self.refunds[key] = refund
            return refund


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Pay · Sandbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}}
.amount{{font-size:2rem;font-weight:700}} button{{display:block;width:100%;margin:.5rem 0;
padding:.9rem;font-size:1.1rem;border-radius:.5rem;border:0}} .pay{{background:#1a7f37;color:#fff}}
.fail{{background:#b42318;color:#fff}} .cancel{{background:#e5e7eb}}</style></head><body>
<p>Sandbox payment gateway — no real money moves.</p>
<h1 class="amount" data-amount="{amount_paise}">₹{rupees}</h1><p>{description}</p>
<p>Payment {reference} · <span data-state="{state}">{state_text}</span></p>
{form}</body></html>"""
FORM = """<form method="post"><button class="pay" name="action" value="paid">Pay ₹{rupees}</button>
<button class="fail" name="action" value="failed">Make it fail</button>
<button class="cancel" name="action" value="cancelled">Cancel</button></form>"""
STATE_TEXT = {
    "created": "waiting for payment",
    "paid": "paid — you can go back to WhatsApp; your receipt arrives there",
    "failed": "the payment failed — go back to WhatsApp to try again",
    "cancelled": "cancelled",
    "expired": "this payment link has expired",
}


def create_payment_gateway_app(
    *,
    secret: str,
    callback_url: str | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The sandbox gateway's web app. `http` sends the callbacks (tests pass an in-process
    client); callbacks are retried a few times, like a real gateway's."""
    desk = GatewayDesk(secret=secret, callback_url=callback_url)
    if clock is not None:
        desk.clock = clock

    async def call_back(event: dict[str, Any]) -> None:
        if desk.callback_url is None:
            return
        body = orjson.dumps(event)
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(desk.secret, body)}
        http_client = http
        owned = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(timeout=10)
        try:
            for attempt in range(4):
                try:
                    response = await http_client.post(
                        desk.callback_url, content=body, headers=headers
                    )
                    if response.status_code < 500:
                        return
                except httpx.HTTPError as exc:
                    log.warning("sandbox gateway: callback failed (%s)", type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        finally:
            if owned:
                await http_client.aclose()

    def rupees(paise: int) -> str:
        from mitra.conversation.render import money

        return money(paise).lstrip("₹")

    async def create(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            link = desk.create(body)
        except (KeyError, ValueError, TypeError, orjson.JSONDecodeError) as exc:
            return JSONResponse({"error": "invalid", "detail": str(exc)}, status_code=400)
        # The page lives beside this API, under whatever prefix the app is mounted at.
        base = str(request.url).split("?")[0].rsplit("/v1/links", 1)[0]
        return JSONResponse(
            {
                "link_id": link.link_id,
                "url": f"{base}/pay/{link.link_id}",
                "state": desk.current(link).state,
                "expires_at": link.expires_at.isoformat(),
            },
            status_code=201,
        )

    async def get_link(request: Request) -> Response:
        link = desk.links.get(request.path_params["link_id"])
        if link is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        link = desk.current(link)
        return JSONResponse(
            {
                "link_id": link.link_id,
                "state": link.state,
                "payment_id": link.payment_id,
                "amount_paid_paise": link.amount_paise if link.state == "paid" else 0,
            }
        )

    async def refund(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            done = desk.refund(
                request.path_params["payment_id"], int(body["amount_paise"]), str(body["key"])
            )
        except KeyError:
            return JSONResponse({"error": "not_found"}, status_code=404)
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            return JSONResponse({"error": "invalid", "detail": str(exc)}, status_code=400)
        return JSONResponse(done)

    def page(link: _Link) -> HTMLResponse:
        link = desk.current(link)
        return HTMLResponse(
            PAGE.format(
                amount_paise=link.amount_paise,
                rupees=rupees(link.amount_paise),
                description=html.escape(link.description),
                reference=html.escape(link.reference),
                state=link.state,
                state_text=STATE_TEXT[link.state],
                form=FORM.format(rupees=rupees(link.amount_paise))
                if link.state == "created"
                else "",
            )
        )

    async def show(request: Request) -> Response:
        link = desk.links.get(request.path_params["link_id"])
        if link is None:
            return HTMLResponse("<p>No such payment.</p>", status_code=404)
        return page(link)

    async def settle(state: str, link_id: str) -> tuple[_Link, dict[str, Any] | None]:
        link, event = desk.settle(link_id, state)
        if event is not None:
            await call_back(event)
        return link, event

    async def submit(request: Request) -> Response:
        form = await request.form()
        try:
            link, _ = await settle(str(form.get("action") or ""), request.path_params["link_id"])
        except KeyError:
            return HTMLResponse("<p>No such payment.</p>", status_code=404)
        return page(link)

    async def settle_api(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            link, event = await settle(str(body.get("state")), request.path_params["link_id"])
        except KeyError:
            return JSONResponse({"error": "not_found"}, status_code=404)
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "invalid"}, status_code=400)
        return JSONResponse({"state": link.state, "event": event})

    app = Starlette(
        routes=[
            Route("/v1/links", create, methods=["POST"]),
            Route("/v1/links/{link_id}", get_link, methods=["GET"]),
            Route("/v1/payments/{payment_id}/refunds", refund, methods=["POST"]),
            Route("/pay/{link_id}", show, methods=["GET"]),
            Route("/pay/{link_id}", submit, methods=["POST"]),
            Route("/_sandbox/links/{link_id}/settle", settle_api, methods=["POST"]),
        ]
    )
    app.state.desk = desk
    return app


class SandboxGateway:
    """The adapter for the sandbox gateway (port: mitra.payments.port.PaymentGateway)."""

    name = "sandbox"

    def __init__(
        self, base_url: str, secret: str, *, client: httpx.Client | None = None, timeout: float = 10
    ) -> None:
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._client = client or httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"SandboxGateway({self._base!r})"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._client.request(method, self._base + path, json=body)
        except httpx.HTTPError as exc:
            raise GatewayError("unavailable", type(exc).__name__) from None
        if response.status_code >= 500:
            raise GatewayError("unavailable", f"HTTP {response.status_code}")
        if response.status_code == 404:
            raise GatewayError("not_found")
        if response.status_code >= 400:
            raise GatewayError("invalid", response.text[:200])
        answer: dict[str, Any] = response.json()
        return answer

    def create_link(
        self,
        *,
        reference: str,
        amount_paise: int,
        description: str,
        expires_at: datetime,
        customer_name: str | None = None,
    ) -> PaymentLink:
        answer = self._call(
            "POST",
            "/v1/links",
            {
                "reference": reference,
                "amount_paise": amount_paise,
                "description": description,
                "expires_at": expires_at.isoformat(),
                "customer_name": customer_name,
            },
        )
        return PaymentLink(
            answer["link_id"], answer["url"], datetime.fromisoformat(answer["expires_at"])
        )

    def fetch(self, link_id: str) -> LinkStatus:
        a = self._call("GET", f"/v1/links/{link_id}")
        return LinkStatus(a["link_id"], a["state"], a["payment_id"], int(a["amount_paid_paise"]))

    def refund(self, payment_id: str, amount_paise: int, *, key: str) -> Refund:
        a = self._call(
            "POST", f"/v1/payments/{payment_id}/refunds", {"amount_paise": amount_paise, "key": key}
        )
        return Refund(a["refund_id"], int(a["amount_paise"]), a["state"])

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise CallbackRejected(401, f"missing {SIGNATURE_HEADER}")
        if not hmac.compare_digest(given, sign(self._secret, body)):
            raise CallbackRejected(403, "bad signature")
        try:
            e = orjson.loads(body)
            return GatewayEvent(
                event_id=str(e["event_id"]),
                link_id=str(e["link_id"]),
                state=e["state"],
                payment_id=e.get("payment_id"),
                amount_paise=int(e.get("amount_paise") or 0),
                at=datetime.fromisoformat(str(e["at"])),
            )
        except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
            raise CallbackRejected(400, "not a payment event") from None
