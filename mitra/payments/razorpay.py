"""`PaymentGateway` over Razorpay's REST API (v1): Standard Payment Links, refunds, webhooks.

Every call is synchronous (`httpx.Client`, ~10 s timeout), authenticated with HTTP Basic auth
(`key_id:key_secret`, https://razorpay.com/docs/api/authentication/), JSON in and out:

    POST {base}/payment_links                    create a link
         https://razorpay.com/docs/api/payments/payment-links/create-standard/
    GET  {base}/payment_links?reference_id=…     find the link a reference already made
         https://razorpay.com/docs/api/payments/payment-links/fetch-all-standard/
    GET  {base}/payment_links/{plink_id}         the link now (reconciliation)
         https://razorpay.com/docs/api/payments/payment-links/fetch-id-standard/
    GET  {base}/payments/{pay_id}/refunds?count=100   refunds already made (dedupe by key)
         https://razorpay.com/docs/api/refunds/fetch-multiple-refund-payment/
    POST {base}/payments/{pay_id}/refund         refund, with `X-Refund-Idempotency: <key>`
         https://razorpay.com/docs/api/refunds/create-normal/
         https://razorpay.com/docs/api/refunds/normal-refunds-idempotent/

`{base}` is `https://api.razorpay.com/v1`. Webhooks (https://razorpay.com/docs/webhooks/):

    X-Razorpay-Signature  hex HMAC-SHA256 of the raw body, keyed with the webhook secret (not the
                          key secret): https://razorpay.com/docs/webhooks/validate-test/
    X-Razorpay-Event-Id   the same for every delivery of one event (Razorpay retries for 24 h)
    events read: payment_link.paid / .expired / .cancelled
                 (https://razorpay.com/docs/webhooks/payment-links/) and payment.failed
                 (https://razorpay.com/docs/webhooks/payments/); anything else is refused (400).

Idempotency. A link's `reference_id` is Mitra's payment reference, unique at Razorpay: creating
again answers 400 ("payment link creation with reference ID already attempted"), and the adapter
then lists links by `reference_id` and returns the one that exists. A refund sends the key as
`X-Refund-Idempotency` (made to fit Razorpay's rule: at least 10 characters of letters, digits,
`-` and `_`), as `receipt` and in `notes.mitra_refund_key`; before refunding, the payment's
refunds are listed and one with that receipt or note is returned instead of refunding again.

Expiry. Razorpay refuses an `expire_by` less than 15 minutes ahead or more than six months after
creation, so `expires_at` is clamped into [now + 16 min, now + 180 days]; the `PaymentLink`
returned carries the expiry Razorpay actually set.

Errors. Network errors, timeouts, 409 (a retry while the first is still being processed), 429
and 5xx are `unavailable`; 401 (or Razorpay's "api key … invalid") is `invalid: bad
credentials`; 404 and 400 "The id provided does not exist" are `not_found`; any other 4xx is
`invalid` with Razorpay's error description. Request bodies are never logged, and neither secret
appears in a repr, a log line or an exception (httpx errors are not chained: they hold the
request and its Authorization header).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson

from mitra.payments.port import (
    CallbackRejected,
    GatewayError,
    GatewayEvent,
    LinkState,
    LinkStatus,
    PaymentLink,
    Refund,
)

log = logging.getLogger(__name__)

BASE_URL = "https://api.razorpay.com/v1"
SIGNATURE_HEADER = "x-razorpay-signature"
EVENT_ID_HEADER = "x-razorpay-event-id"
IDEMPOTENCY_HEADER = "X-Refund-Idempotency"

MIN_EXPIRY = timedelta(minutes=16)  # Razorpay: "at least 15 minutes in future"
MAX_EXPIRY = timedelta(days=180)  # Razorpay: "cannot exceed more than six months"
MAX_REFERENCE = 40  # Razorpay: reference_id "maximum character limit supported is 40"
MAX_DESCRIPTION = 2048
MAX_RECEIPT = 40
MAX_NOTE = 256

_LINK_STATES: dict[str, LinkState] = {
    "created": "created",
    "partially_paid": "created",  # still payable; amount_paid says how much came in
    "paid": "paid",
    "expired": "expired",
    "cancelled": "cancelled",
}
_LINK_EVENTS: dict[str, LinkState] = {
    "payment_link.paid": "paid",
    "payment_link.expired": "expired",
    "payment_link.cancelled": "cancelled",
}
_REFUND_STATES: dict[str, Literal["pending", "processed", "failed"]] = {
    "pending": "pending",
    "created": "pending",
    "processed": "processed",
    "failed": "failed",
}
_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{10,64}")
_PAYMENT_LINK_DESCRIPTION = re.compile(r"#([A-Za-z0-9]{6,40})")


class RazorpayGateway:
    """Razorpay, with the API key pair (`key_id`, `key_secret`) from the Dashboard and the
    `webhook_secret` set on the webhook (a different secret).

    Pass `client` to share a connection pool (or, in tests, a mock transport); otherwise the
    gateway makes its own and `close()` closes it. `callback_url`, if set, is where Razorpay
    sends the citizen's browser after paying (`callback_method: get`). `clock` is for tests.
    """

    name = "razorpay"

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        client: httpx.Client | None = None,
        base_url: str = BASE_URL,
        timeout: float = 10.0,
        callback_url: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not key_id or not key_secret or not webhook_secret:
            raise ValueError("Razorpay needs key_id, key_secret and webhook_secret")
        self._key_id = key_id
        self._auth = httpx.BasicAuth(key_id, key_secret)
        self._webhook_key = webhook_secret.encode()
        self._secrets = (key_secret, webhook_secret)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._callback_url = callback_url
        self._clock = clock or (lambda: datetime.now(UTC))
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"RazorpayGateway(key_id={self._key_id!r}, base_url={self._base_url!r})"

    # -- links -------------------------------------------------------------------------------

    def create_link(
        self,
        *,
        reference: str,
        amount_paise: int,
        description: str,
        expires_at: datetime,
        customer_name: str | None = None,
    ) -> PaymentLink:
        if not reference or len(reference) > MAX_REFERENCE:
            raise GatewayError("invalid", f"reference must be 1 to {MAX_REFERENCE} characters")
        if isinstance(amount_paise, bool) or not isinstance(amount_paise, int) or amount_paise <= 0:
            raise GatewayError("invalid", "amount_paise must be a positive integer")
        body: dict[str, Any] = {
            "amount": amount_paise,
            "currency": "INR",
            "accept_partial": False,
            "reference_id": reference,
            "description": description[:MAX_DESCRIPTION],
            "expire_by": self._expire_by(expires_at),
            "notify": {"sms": False, "email": False},
            "reminder_enable": False,
        }
        if customer_name:
            body["customer"] = {"name": customer_name}
        if self._callback_url:
            body["callback_url"] = self._callback_url
            body["callback_method"] = "get"
        try:
            link = self._call("POST", "/payment_links", json=body)
        except GatewayError as error:
            if error.kind != "invalid" or not _is_duplicate_reference(error.detail):
                raise
            link = self._existing_link(reference, amount_paise)
        return _payment_link(link)

    def fetch(self, link_id: str) -> LinkStatus:
        _check_id(link_id, "link id")
        link = self._call("GET", f"/payment_links/{link_id}")
        status = link.get("status")
        state = _LINK_STATES.get(status) if isinstance(status, str) else None
        if state is None:
            raise GatewayError("unavailable", "unknown payment link status")
        try:
            return LinkStatus(
                link_id=_text(link, "id"),
                state=state,
                payment_id=_captured_payment(link.get("payments")),
                amount_paid_paise=_paise(link.get("amount_paid")),
            )
        except (KeyError, TypeError):
            raise GatewayError("unavailable", "malformed payment link") from None

    # -- refunds -----------------------------------------------------------------------------

    def refund(self, payment_id: str, amount_paise: int, *, key: str) -> Refund:
        _check_id(payment_id, "payment id")
        if isinstance(amount_paise, bool) or not isinstance(amount_paise, int) or amount_paise <= 0:
            raise GatewayError("invalid", "amount_paise must be a positive integer")
        if not key:
            raise GatewayError("invalid", "a refund needs a key")
        receipt = _receipt(key)
        made = self._refund_made(payment_id, key, receipt)
        if made is not None:
            refund = _refund(made)
            if refund.amount_paise != amount_paise:
                raise GatewayError("invalid", "this refund key was used for another amount")
            return refund
        body: dict[str, Any] = {"amount": amount_paise, "receipt": receipt}
        if len(key) <= MAX_NOTE:
            body["notes"] = {"mitra_refund_key": key}
        done = self._call(
            "POST",
            f"/payments/{payment_id}/refund",
            json=body,
            headers={IDEMPOTENCY_HEADER: idempotency_key(key)},
        )
        return _refund(done)

    def _refund_made(self, payment_id: str, key: str, receipt: str) -> dict[str, Any] | None:
        listed = self._call("GET", f"/payments/{payment_id}/refunds", params={"count": 100})
        items = listed.get("items")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            notes = item.get("notes")
            noted = notes.get("mitra_refund_key") if isinstance(notes, dict) else None
            if item.get("receipt") == receipt or noted == key:
                return item
        return None

    # -- callbacks ---------------------------------------------------------------------------

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        given = {name.lower(): value for name, value in headers.items()}
        signature = (given.get(SIGNATURE_HEADER) or "").strip()
        if not signature:
            raise CallbackRejected(401, "missing X-Razorpay-Signature")
        expected = hmac.new(self._webhook_key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRejected(403, "bad X-Razorpay-Signature")
        event_id = (given.get(EVENT_ID_HEADER) or "").strip()
        try:
            event = orjson.loads(body)
            parsed = self._event(event)
            if parsed is None:
                raise CallbackRejected(400, "not a payment event")
            link_id, state, payment_id, amount = parsed
            created = event.get("created_at")
            return GatewayEvent(
                event_id=event_id or "sha256:" + hashlib.sha256(body).hexdigest(),
                link_id=link_id,
                state=state,
                payment_id=payment_id,
                amount_paise=amount,
                at=_moment(created) if _is_int(created) else self._clock(),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError, OSError):
            raise CallbackRejected(400, "not a payment event") from None

    def _event(self, event: Any) -> tuple[str, LinkState, str | None, int] | None:
        """(link_id, state, payment_id, amount_paise) of a payment-link event, else None."""
        if not isinstance(event, dict) or event.get("entity", "event") != "event":
            return None
        name = event.get("event")
        payload = event.get("payload")
        if not isinstance(name, str) or not isinstance(payload, dict):
            return None
        link = _entity(payload, "payment_link")
        payment = _entity(payload, "payment")
        if name in _LINK_EVENTS:
            if link is None:
                return None
            state = _LINK_EVENTS[name]
            payment_id = None
            if state == "paid":
                paid = payment if payment and payment.get("status") == "captured" else None
                payment_id = _text(paid, "id") if paid else _captured_payment(link.get("payments"))
            return _text(link, "id"), state, payment_id, _paise(link.get("amount_paid"))
        if name == "payment.failed" and payment is not None:
            # A failed attempt leaves the link payable (the citizen can try again). The payment
            # entity names its link only in its description, "#<plink id without the prefix>".
            if link is not None:
                return _text(link, "id"), "failed", None, 0
            found = _PAYMENT_LINK_DESCRIPTION.fullmatch(str(payment.get("description") or ""))
            if found is None:
                return None
            return "plink_" + found.group(1), "failed", None, 0
        return None

    # -- plumbing ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> RazorpayGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _expire_by(self, expires_at: datetime) -> int:
        if expires_at.tzinfo is None:
            raise GatewayError("invalid", "expires_at must carry a time zone")
        now = self._clock()
        wanted = min(max(expires_at, now + MIN_EXPIRY), now + MAX_EXPIRY)
        return int(-(-wanted.timestamp() // 1))  # whole seconds, rounded up

    def _existing_link(self, reference: str, amount_paise: int) -> dict[str, Any]:
        listed = self._call("GET", "/payment_links", params={"reference_id": reference})
        links = listed.get("payment_links")
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("reference_id") == reference:
                if link.get("amount") != amount_paise:
                    raise GatewayError("invalid", "this reference has a link for another amount")
                return link
        # Razorpay says the reference is taken but does not list it (yet): try again later.
        raise GatewayError("unavailable", "reference taken but its link is not listed")

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self._client.request(
                method,
                self._base_url + path,
                json=json,
                params=params,
                headers=headers,
                auth=self._auth,
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            # `from None`: the httpx exception holds the request, Authorization header and all.
            raise GatewayError("unavailable", type(exc).__name__) from None
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if 200 <= status < 300:
            if not isinstance(answer, dict):
                raise GatewayError("unavailable", f"HTTP {status} without a JSON object")
            return answer
        description = self._scrubbed(_description(answer))
        if status == 401 or (status < 500 and "api key" in description.lower()):
            log.warning("Razorpay refused our API key (HTTP %s)", status)
            raise GatewayError("invalid", "bad credentials")
        if status in (409, 429) or status >= 500:
            raise GatewayError("unavailable", f"HTTP {status}")
        if status == 404 or "does not exist" in description.lower():
            raise GatewayError("not_found", description)
        raise GatewayError("invalid", description or f"HTTP {status}")

    def _scrubbed(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def idempotency_key(key: str) -> str:
    """Mitra's refund key as an `X-Refund-Idempotency` value: kept when it already fits
    Razorpay's rule (10+ of A-Z a-z 0-9 - _), else a digest of it (the same key, the same
    value)."""
    if _IDEMPOTENCY_KEY.fullmatch(key):
        return key
    return "mitra-" + hashlib.sha256(key.encode()).hexdigest()[:48]


def _receipt(key: str) -> str:
    if len(key) <= MAX_RECEIPT:
        return key
    return "mitra-" + hashlib.sha256(key.encode()).hexdigest()[: MAX_RECEIPT - 6]


def _is_duplicate_reference(detail: str) -> bool:
    text = detail.lower()
    return "reference" in text and any(
        word in text for word in ("already", "exist", "attempted", "duplicate", "unique")
    )


def _payment_link(link: dict[str, Any]) -> PaymentLink:
    try:
        expire_by = _paise(link.get("expire_by"))
        return PaymentLink(
            link_id=_text(link, "id"),
            url=_text(link, "short_url"),
            expires_at=_moment(expire_by) if expire_by else None,
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise GatewayError("unavailable", "malformed payment link") from None


def _refund(refund: dict[str, Any]) -> Refund:
    status = refund.get("status")
    try:
        return Refund(
            refund_id=_text(refund, "id"),
            amount_paise=_paise(refund.get("amount")),
            state=_REFUND_STATES.get(status, "pending") if isinstance(status, str) else "pending",
        )
    except (KeyError, TypeError):
        raise GatewayError("unavailable", "malformed refund") from None


def _captured_payment(payments: Any) -> str | None:
    """The latest captured payment in a link's `payments` (null until one is captured)."""
    captured = [
        p
        for p in (payments if isinstance(payments, list) else [])
        if isinstance(p, dict) and p.get("status") == "captured" and p.get("payment_id")
    ]
    if not captured:
        return None
    latest = max(captured, key=lambda p: p.get("created_at") or 0)
    return str(latest["payment_id"])


def _entity(payload: dict[str, Any], name: str) -> dict[str, Any] | None:
    wrapper = payload.get(name)
    entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
    return entity if isinstance(entity, dict) else None


def _description(answer: Any) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    text = error.get("description") if isinstance(error, dict) else None
    return " ".join(text.split())[:300] if isinstance(text, str) else ""


def _check_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise GatewayError("invalid", f"malformed {what}")


def _text(entity: dict[str, Any], key: str) -> str:
    value = entity[key]
    if not isinstance(value, str) or not value:
        raise TypeError(key)
    return value


def _paise(value: Any) -> int:
    """A non-negative integer field (amounts, unix times); 0 when absent or not one."""
    return value if _is_int(value) and value > 0 else 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _moment(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
