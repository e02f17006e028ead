"""`RazorpayGateway` against recorded Razorpay request/response shapes (tests/payments/razorpay/,
sources in its README), served by `httpx.MockTransport`: the requests Mitra makes (method, path,
Basic auth, JSON body, idempotency header) and how the answers and webhooks are read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mitra.payments.port import (
    CallbackRejected,
    GatewayError,
    GatewayEvent,
    LinkStatus,
    PaymentGateway,
    PaymentLink,
    Refund,
)
from mitra.payments.razorpay import RazorpayGateway, idempotency_key

RECORDED = Path(__file__).parent / "razorpay"
NOW = datetime(2024, 6, 3, 7, 33, 20, tzinfo=UTC)  # 1717400000
KEY_ID = "rzp_test_MitraKey00001"
KEY_SECRET = "ks-7d1f0c9e2b4a-key-secret"
WEBHOOK_SECRET = "whs-3e8a5b1c9d07-webhook-secret"
BASIC = "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
API = "https://api.razorpay.com/v1"

REFERENCE = "MIT-PAY-0001234"
LINK_ID = "plink_Oa1b2C3d4E5f6G"
PAYMENT_ID = "pay_Oa1cZk4LmNoPqR"
DESCRIPTION = "Property tax, Guntur, 2024-25 first half"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_bytes())


def raw(name: str) -> bytes:
    return (RECORDED / f"{name}.json").read_bytes()


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


Answer = httpx.Response | Exception


@dataclass
class FakeRazorpay:
    """Answers each (method, path) from a queue of recorded responses; keeps every request."""

    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.answers.setdefault((method, "/v1" + path), []).extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.answers.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(404, json={"error": {"description": "no route in the fake"}})
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, "/v1" + path)]


def ok(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=recorded(name))


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def razorpay() -> FakeRazorpay:
    return FakeRazorpay()


def make_gateway(razorpay: FakeRazorpay, **options: Any) -> RazorpayGateway:
    client = httpx.Client(transport=httpx.MockTransport(razorpay.handle))
    return RazorpayGateway(
        key_id=KEY_ID,
        key_secret=KEY_SECRET,
        webhook_secret=WEBHOOK_SECRET,
        client=client,
        clock=lambda: NOW,
        **options,
    )


@pytest.fixture
def gateway(razorpay: FakeRazorpay) -> Iterator[RazorpayGateway]:
    with make_gateway(razorpay) as made:
        yield made


def test_it_is_a_payment_gateway(gateway: RazorpayGateway) -> None:
    port: PaymentGateway = gateway
    assert port.name == "razorpay"


# -- create_link ------------------------------------------------------------------------------


def test_create_link_posts_the_documented_body(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("POST", "/payment_links", ok("payment_link_created"))

    link = gateway.create_link(
        reference=REFERENCE,
        amount_paise=25000,
        description=DESCRIPTION,
        expires_at=NOW + timedelta(hours=1),
        customer_name="Lakshmi Devi",
    )

    assert link == PaymentLink(
        link_id=LINK_ID,
        url="https://rzp.io/i/nxrHnLJ",
        expires_at=datetime.fromtimestamp(1717403600, UTC),
    )
    [request] = razorpay.requests
    assert request.method == "POST"
    assert str(request.url) == f"{API}/payment_links"
    assert request.headers["authorization"] == BASIC
    assert request.headers["content-type"] == "application/json"
    assert request.extensions["timeout"]["read"] == 10.0
    assert body_of(request) == {
        "amount": 25000,
        "currency": "INR",
        "accept_partial": False,
        "reference_id": REFERENCE,
        "description": DESCRIPTION,
        "expire_by": 1717403600,
        "customer": {"name": "Lakshmi Devi"},
        "notify": {"sms": False, "email": False},
        "reminder_enable": False,
    }


def test_create_link_without_a_name_and_with_a_callback_url(razorpay: FakeRazorpay) -> None:
    razorpay.on("POST", "/payment_links", ok("payment_link_created"))
    with make_gateway(razorpay, callback_url="https://mitra.example/pay/done") as gateway:
        gateway.create_link(
            reference=REFERENCE,
            amount_paise=25000,
            description=DESCRIPTION,
            expires_at=NOW + timedelta(hours=1),
        )
    sent = body_of(razorpay.requests[0])
    assert "customer" not in sent
    assert sent["callback_url"] == "https://mitra.example/pay/done"
    assert sent["callback_method"] == "get"


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        (NOW + timedelta(minutes=5), NOW + timedelta(minutes=16)),  # Razorpay's 15-minute floor
        (NOW - timedelta(hours=1), NOW + timedelta(minutes=16)),
        (NOW + timedelta(minutes=16, seconds=1), NOW + timedelta(minutes=16, seconds=1)),
        (NOW + timedelta(days=2), NOW + timedelta(days=2)),
        (NOW + timedelta(days=400), NOW + timedelta(days=180)),  # and its six-month ceiling
        (NOW + timedelta(hours=1, microseconds=1), NOW + timedelta(hours=1, seconds=1)),
    ],
)
def test_expire_by_is_clamped_into_what_razorpay_accepts(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, asked: datetime, sent: datetime
) -> None:
    razorpay.on("POST", "/payment_links", ok("payment_link_created"))
    gateway.create_link(
        reference=REFERENCE, amount_paise=25000, description=DESCRIPTION, expires_at=asked
    )
    assert body_of(razorpay.requests[0])["expire_by"] == int(sent.timestamp())


def test_creating_the_same_reference_again_returns_the_existing_link(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("POST", "/payment_links", ok("payment_link_created"))
    razorpay.on("POST", "/payment_links", ok("error_reference_attempted", 400))
    razorpay.on("GET", "/payment_links", ok("payment_link_collection"))
    ask: dict[str, Any] = {
        "reference": REFERENCE,
        "amount_paise": 25000,
        "description": DESCRIPTION,
        "expires_at": NOW + timedelta(hours=1),
    }

    first = gateway.create_link(**ask)
    again = gateway.create_link(**ask)

    assert again == first
    assert [(r.method, r.url.path) for r in razorpay.requests] == [
        ("POST", "/v1/payment_links"),
        ("POST", "/v1/payment_links"),
        ("GET", "/v1/payment_links"),
    ]
    lookup = razorpay.requests[2]
    assert dict(lookup.url.params) == {"reference_id": REFERENCE}
    assert lookup.headers["authorization"] == BASIC


def test_a_reference_with_a_link_for_another_amount_is_refused(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("POST", "/payment_links", ok("error_reference_attempted", 400))
    razorpay.on("GET", "/payment_links", ok("payment_link_collection"))
    with pytest.raises(GatewayError) as refused:
        gateway.create_link(
            reference=REFERENCE,
            amount_paise=30000,
            description=DESCRIPTION,
            expires_at=NOW + timedelta(hours=1),
        )
    assert refused.value.kind == "invalid"


def test_a_taken_reference_that_is_not_listed_yet_is_retried_later(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("POST", "/payment_links", ok("error_reference_attempted", 400))
    razorpay.on("GET", "/payment_links", ok("payment_link_collection_empty"))
    with pytest.raises(GatewayError) as refused:
        gateway.create_link(
            reference=REFERENCE,
            amount_paise=25000,
            description=DESCRIPTION,
            expires_at=NOW + timedelta(hours=1),
        )
    assert refused.value.kind == "unavailable"


def test_another_400_on_create_is_invalid_with_razorpays_description(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("POST", "/payment_links", ok("error_expire_by_too_soon", 400))
    with pytest.raises(GatewayError) as refused:
        gateway.create_link(
            reference=REFERENCE,
            amount_paise=25000,
            description=DESCRIPTION,
            expires_at=NOW + timedelta(hours=1),
        )
    assert refused.value.kind == "invalid"
    assert refused.value.detail == "timestamp must be atleast 15 minutes in future"
    assert len(razorpay.requests) == 1  # no lookup: not a reference clash


@pytest.mark.parametrize(
    "ask",
    [
        {"reference": "R" * 41},  # Razorpay's reference_id is at most 40 characters
        {"reference": ""},
        {"amount_paise": 0},
        {"amount_paise": -100},
        {"expires_at": datetime(2024, 6, 3, 9, 0)},  # naive: which zone?
    ],
)
def test_requests_razorpay_would_refuse_are_refused_before_sending(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, ask: dict[str, Any]
) -> None:
    full: dict[str, Any] = {
        "reference": REFERENCE,
        "amount_paise": 25000,
        "description": DESCRIPTION,
        "expires_at": NOW + timedelta(hours=1),
    } | ask
    with pytest.raises(GatewayError) as refused:
        gateway.create_link(**full)
    assert refused.value.kind == "invalid"
    assert razorpay.requests == []


# -- fetch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recording", "expected"),
    [
        ("payment_link_created", LinkStatus(LINK_ID, "created", None, 0)),
        (
            "payment_link_partially_paid",
            LinkStatus(LINK_ID, "created", "pay_Oa1cAb1Cd2Ef3G", 10000),
        ),
        ("payment_link_paid", LinkStatus(LINK_ID, "paid", PAYMENT_ID, 25000)),
        ("payment_link_expired", LinkStatus(LINK_ID, "expired", None, 0)),
        ("payment_link_cancelled", LinkStatus(LINK_ID, "cancelled", None, 0)),
    ],
)
def test_fetch_reads_each_link_state(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, recording: str, expected: LinkStatus
) -> None:
    razorpay.on("GET", f"/payment_links/{LINK_ID}", ok(recording))

    assert gateway.fetch(LINK_ID) == expected

    [request] = razorpay.requests
    assert request.method == "GET"
    assert str(request.url) == f"{API}/payment_links/{LINK_ID}"
    assert request.headers["authorization"] == BASIC


@pytest.mark.parametrize(
    "answer",
    [ok("error_id_does_not_exist", 400), httpx.Response(404, json={"error": {}})],
)
def test_fetch_of_an_unknown_link_is_not_found(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, answer: httpx.Response
) -> None:
    razorpay.on("GET", "/payment_links/plink_Zz9Zz9Zz9Zz9Zz", answer)
    with pytest.raises(GatewayError) as missing:
        gateway.fetch("plink_Zz9Zz9Zz9Zz9Zz")
    assert missing.value.kind == "not_found"


def test_fetch_of_a_status_we_do_not_know_is_unavailable(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    strange = recorded("payment_link_created") | {"status": "frozen"}
    razorpay.on("GET", f"/payment_links/{LINK_ID}", httpx.Response(200, json=strange))
    with pytest.raises(GatewayError) as unread:
        gateway.fetch(LINK_ID)
    assert unread.value.kind == "unavailable"


@pytest.mark.parametrize("link_id", ["", "../payments/pay_x/refund", "plink_a?b=c", "plink a"])
def test_a_malformed_link_id_is_never_sent(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, link_id: str
) -> None:
    with pytest.raises(GatewayError) as refused:
        gateway.fetch(link_id)
    assert refused.value.kind == "invalid"
    assert razorpay.requests == []


# -- refund -----------------------------------------------------------------------------------


def test_a_full_refund_lists_refunds_then_posts_with_the_idempotency_header(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    key = "rf_MIT-PAY-0001234_1"  # already fits X-Refund-Idempotency: sent as it is
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", ok("refund_collection_empty"))
    razorpay.on("POST", f"/payments/{PAYMENT_ID}/refund", ok("refund_processed"))

    refund = gateway.refund(PAYMENT_ID, 25000, key=key)

    assert refund == Refund(refund_id="rfnd_Oa2dF5gH6jK7lM", amount_paise=25000, state="processed")
    listing, post = razorpay.requests
    assert str(listing.url) == f"{API}/payments/{PAYMENT_ID}/refunds?count=100"
    assert listing.headers["authorization"] == BASIC
    assert str(post.url) == f"{API}/payments/{PAYMENT_ID}/refund"
    assert post.headers["authorization"] == BASIC
    assert post.headers["x-refund-idempotency"] == key
    assert body_of(post) == {
        "amount": 25000,
        "receipt": key,
        "notes": {"mitra_refund_key": key},
    }


def test_a_partial_refund_with_a_key_razorpay_would_not_take_as_is(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    key = "refund:MIT-PAY-0001234:partial"  # ":" is not allowed in X-Refund-Idempotency
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", ok("refund_collection_empty"))
    razorpay.on("POST", f"/payments/{PAYMENT_ID}/refund", ok("refund_pending"))

    refund = gateway.refund(PAYMENT_ID, 10000, key=key)

    assert refund == Refund(refund_id="rfnd_Oa2eQ1wE2rT3yU", amount_paise=10000, state="pending")
    post = razorpay.sent("POST", f"/payments/{PAYMENT_ID}/refund")[0]
    header = post.headers["x-refund-idempotency"]
    assert header == idempotency_key(key) == idempotency_key(key)  # stable for the key
    assert header.startswith("mitra-") and 10 <= len(header) <= 64
    assert set(header) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    assert body_of(post) == {
        "amount": 10000,
        "receipt": key,
        "notes": {"mitra_refund_key": key},
    }


def test_a_repeated_key_returns_the_refund_already_made_without_refunding_again(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    key = "rf_MIT-PAY-0001234_1"
    razorpay.on(
        "GET",
        f"/payments/{PAYMENT_ID}/refunds",
        ok("refund_collection_empty"),
        ok("refund_collection"),  # the second time, our refund is there (found by receipt)
    )
    razorpay.on("POST", f"/payments/{PAYMENT_ID}/refund", ok("refund_processed"))

    first = gateway.refund(PAYMENT_ID, 25000, key=key)
    again = gateway.refund(PAYMENT_ID, 25000, key=key)

    assert again == first
    assert len(razorpay.sent("POST", f"/payments/{PAYMENT_ID}/refund")) == 1


def test_a_repeat_that_razorpay_does_not_list_yet_is_the_same_idempotent_request(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    key = "refund:MIT-PAY-0001234:partial"
    empty = "refund_collection_empty"
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", ok(empty), ok(empty))
    # Razorpay answers an idempotent retry with the refund it made the first time.
    razorpay.on(
        "POST", f"/payments/{PAYMENT_ID}/refund", ok("refund_pending"), ok("refund_pending")
    )

    first = gateway.refund(PAYMENT_ID, 10000, key=key)
    again = gateway.refund(PAYMENT_ID, 10000, key=key)

    assert again == first
    one, two = razorpay.sent("POST", f"/payments/{PAYMENT_ID}/refund")
    assert one.headers["x-refund-idempotency"] == two.headers["x-refund-idempotency"]
    assert one.content == two.content  # Razorpay requires the same body for the same key


def test_a_refund_found_by_its_note_counts_too(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    listed = recorded("refund_collection")
    listed["items"][1]["receipt"] = None
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", httpx.Response(200, json=listed))
    refund = gateway.refund(PAYMENT_ID, 25000, key="rf_MIT-PAY-0001234_1")
    assert refund.refund_id == "rfnd_Oa2dF5gH6jK7lM"
    assert razorpay.sent("POST", f"/payments/{PAYMENT_ID}/refund") == []


def test_a_key_reused_for_another_amount_is_refused(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", ok("refund_collection"))
    with pytest.raises(GatewayError) as refused:
        gateway.refund(PAYMENT_ID, 20000, key="rf_MIT-PAY-0001234_1")
    assert refused.value.kind == "invalid"
    assert razorpay.sent("POST", f"/payments/{PAYMENT_ID}/refund") == []


def test_a_long_key_becomes_a_short_receipt_and_header(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    key = "refund/" + "MIT-PAY-0001234/" * 5 + "citizen-asked"
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", ok("refund_collection_empty"))
    razorpay.on("POST", f"/payments/{PAYMENT_ID}/refund", ok("refund_pending"))
    gateway.refund(PAYMENT_ID, 10000, key=key)
    post = razorpay.sent("POST", f"/payments/{PAYMENT_ID}/refund")[0]
    sent = body_of(post)
    assert len(sent["receipt"]) == 40 and sent["receipt"].startswith("mitra-")
    assert sent["notes"] == {"mitra_refund_key": key}
    assert post.headers["x-refund-idempotency"] == idempotency_key(key)


@pytest.mark.parametrize(
    ("answer", "kind", "detail"),
    [
        (
            ok("error_refund_amount", 400),
            "invalid",
            "The refund amount provided is greater than amount captured.",
        ),
        (
            ok("error_idempotency_mismatch", 400),
            "invalid",
            "Different request with the same idempotency key has already been processed.",
        ),
        (httpx.Response(409, json={"error": {}}), "unavailable", "HTTP 409"),
    ],
)
def test_refund_errors(
    razorpay: FakeRazorpay,
    gateway: RazorpayGateway,
    answer: httpx.Response,
    kind: str,
    detail: str,
) -> None:
    razorpay.on("GET", f"/payments/{PAYMENT_ID}/refunds", ok("refund_collection_empty"))
    razorpay.on("POST", f"/payments/{PAYMENT_ID}/refund", answer)
    with pytest.raises(GatewayError) as failed:
        gateway.refund(PAYMENT_ID, 30000, key="rf_MIT-PAY-0001234_2")
    assert (failed.value.kind, failed.value.detail) == (kind, detail)


def test_refund_of_an_unknown_payment_is_not_found(
    razorpay: FakeRazorpay, gateway: RazorpayGateway
) -> None:
    razorpay.on("GET", "/payments/pay_Zz9Zz9Zz9Zz9Zz/refunds", ok("error_id_does_not_exist", 400))
    with pytest.raises(GatewayError) as missing:
        gateway.refund("pay_Zz9Zz9Zz9Zz9Zz", 100, key="rf_MIT-PAY-0001234_3")
    assert missing.value.kind == "not_found"


# -- parse_callback ---------------------------------------------------------------------------


def deliver(
    gateway: RazorpayGateway, name: str, event_id: str | None = "Oa3fEv3nT1dAbC"
) -> GatewayEvent:
    body = raw(name)
    headers = {"Content-Type": "application/json", "X-Razorpay-Signature": signed(body)}
    if event_id is not None:
        headers["X-Razorpay-Event-Id"] = event_id
    return gateway.parse_callback(body, headers)


def test_payment_link_paid(gateway: RazorpayGateway) -> None:
    assert deliver(gateway, "webhook_payment_link_paid") == GatewayEvent(
        event_id="Oa3fEv3nT1dAbC",
        link_id=LINK_ID,
        state="paid",
        payment_id=PAYMENT_ID,
        amount_paise=25000,
        at=datetime.fromtimestamp(1717400425, UTC),
    )


def test_payment_link_expired(gateway: RazorpayGateway) -> None:
    assert deliver(gateway, "webhook_payment_link_expired") == GatewayEvent(
        event_id="Oa3fEv3nT1dAbC",
        link_id=LINK_ID,
        state="expired",
        payment_id=None,
        amount_paise=0,
        at=datetime.fromtimestamp(1717403611, UTC),
    )


def test_payment_link_cancelled(gateway: RazorpayGateway) -> None:
    assert deliver(gateway, "webhook_payment_link_cancelled") == GatewayEvent(
        event_id="Oa3fEv3nT1dAbC",
        link_id=LINK_ID,
        state="cancelled",
        payment_id=None,
        amount_paise=0,
        at=datetime.fromtimestamp(1717401000, UTC),
    )


def test_payment_failed_on_a_link(gateway: RazorpayGateway) -> None:
    assert deliver(gateway, "webhook_payment_failed") == GatewayEvent(
        event_id="Oa3fEv3nT1dAbC",
        link_id=LINK_ID,  # from the payment's description, "#Oa1b2C3d4E5f6G"
        state="failed",
        payment_id=None,  # nothing was captured
        amount_paise=0,
        at=datetime.fromtimestamp(1717400201, UTC),
    )


def test_the_event_id_is_razorpays_and_the_same_on_redelivery(gateway: RazorpayGateway) -> None:
    first = deliver(gateway, "webhook_payment_link_paid", event_id="Oa3fEv3nT1dAbC")
    again = deliver(gateway, "webhook_payment_link_paid", event_id="Oa3fEv3nT1dAbC")
    assert first.event_id == again.event_id == "Oa3fEv3nT1dAbC"


def test_without_an_event_id_header_the_body_digest_stands_in(gateway: RazorpayGateway) -> None:
    event = deliver(gateway, "webhook_payment_link_paid", event_id=None)
    body = raw("webhook_payment_link_paid")
    assert event.event_id == "sha256:" + hashlib.sha256(body).hexdigest()
    assert deliver(gateway, "webhook_payment_link_paid", event_id=None).event_id == event.event_id


def test_header_names_are_matched_in_any_case(gateway: RazorpayGateway) -> None:
    body = raw("webhook_payment_link_paid")
    event = gateway.parse_callback(
        body, {"x-razorpay-signature": signed(body), "X-RAZORPAY-EVENT-ID": "Oa3fEv3nT1dAbC"}
    )
    assert (event.state, event.event_id) == ("paid", "Oa3fEv3nT1dAbC")


def test_our_hmac_matches_the_razorpay_sdks_known_answer(razorpay: FakeRazorpay) -> None:
    # razorpay-python signs this exact file with the secret "key_secret" as d60e67fd…: the
    # signature passes (else 403), then the event (payment.authorized) is not one of ours.
    client = httpx.Client(transport=httpx.MockTransport(razorpay.handle))
    gateway = RazorpayGateway(
        key_id=KEY_ID, key_secret=KEY_SECRET, webhook_secret="key_secret", client=client
    )
    body = raw("sdk_payment_authorized_webhook")
    sdk_signature = "d60e67fd884556c045e9be7dad57903e33efc7172c17c6e3ef77db42d2b366e9"
    with pytest.raises(CallbackRejected) as rejected:
        gateway.parse_callback(body, {"X-Razorpay-Signature": sdk_signature})
    assert (rejected.value.status, rejected.value.reason) == (400, "not a payment event")


@pytest.mark.parametrize("headers", [{}, {"X-Razorpay-Signature": ""}, {"X-Other": "x"}])
def test_a_callback_without_a_signature_is_401(
    gateway: RazorpayGateway, headers: dict[str, str]
) -> None:
    with pytest.raises(CallbackRejected) as rejected:
        gateway.parse_callback(raw("webhook_payment_link_paid"), headers)
    assert rejected.value.status == 401


@pytest.mark.parametrize(
    "signature",
    [
        "0" * 64,
        "not-hex-at-all",
        "सही",  # not even ASCII
        signed(raw("webhook_payment_link_paid"), KEY_SECRET),  # the API secret, not the webhook's
        "sha256=" + signed(raw("webhook_payment_link_paid")),  # Razorpay sends bare hex
    ],
)
def test_a_wrong_signature_is_403(gateway: RazorpayGateway, signature: str) -> None:
    with pytest.raises(CallbackRejected) as rejected:
        gateway.parse_callback(
            raw("webhook_payment_link_paid"), {"X-Razorpay-Signature": signature}
        )
    assert rejected.value.status == 403


def test_a_tampered_body_is_403(gateway: RazorpayGateway) -> None:
    body = raw("webhook_payment_link_paid")
    signature = signed(body)
    tampered = body.replace(b'"amount_paid": 25000', b'"amount_paid": 2500000', 1)
    assert tampered != body
    with pytest.raises(CallbackRejected) as rejected:
        gateway.parse_callback(tampered, {"X-Razorpay-Signature": signature})
    assert rejected.value.status == 403
    # Re-encoding the same JSON changes the bytes too: only the raw body verifies.
    reencoded = json.dumps(json.loads(body)).encode()
    with pytest.raises(CallbackRejected) as rejected:
        gateway.parse_callback(reencoded, {"X-Razorpay-Signature": signature})
    assert rejected.value.status == 403


@pytest.mark.parametrize(
    "body",
    [
        raw("webhook_payment_captured"),  # a real event, not one Mitra reads
        raw("webhook_payment_failed_not_a_link"),  # a failed payment of something else
        json.dumps(
            {"entity": "event", "event": "payment_link.partially_paid", "payload": {}}
        ).encode(),
        json.dumps({"entity": "event", "event": "payment_link.paid", "payload": {}}).encode(),
        b"[]",
        b"not json",
    ],
)
def test_a_signed_callback_that_is_not_a_payment_event_is_400(
    gateway: RazorpayGateway, body: bytes
) -> None:
    with pytest.raises(CallbackRejected) as rejected:
        gateway.parse_callback(body, {"X-Razorpay-Signature": signed(body)})
    assert (rejected.value.status, rejected.value.reason) == (400, "not a payment event")


# -- errors and secrets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ok("error_server", 500),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(503),
        httpx.Response(504),
        httpx.Response(429, json={"error": {"description": "Too many requests"}}),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.Response(200, text="<html>maintenance</html>"),
    ],
)
def test_outages_are_unavailable(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, answer: Answer
) -> None:
    razorpay.on("GET", f"/payment_links/{LINK_ID}", answer)
    with pytest.raises(GatewayError) as failed:
        gateway.fetch(LINK_ID)
    assert failed.value.kind == "unavailable"
    # No httpx exception rides along (it holds the request and its Authorization header).
    error = failed.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


@pytest.mark.parametrize(
    "answer",
    [ok("error_api_key_invalid", 401), ok("error_api_key_invalid", 400)],
)
def test_bad_credentials_are_invalid(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, answer: httpx.Response
) -> None:
    razorpay.on("GET", f"/payment_links/{LINK_ID}", answer)
    with pytest.raises(GatewayError) as failed:
        gateway.fetch(LINK_ID)
    assert (failed.value.kind, failed.value.detail) == ("invalid", "bad credentials")


def test_secrets_never_show(
    razorpay: FakeRazorpay, gateway: RazorpayGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = (KEY_SECRET, WEBHOOK_SECRET, BASIC.removeprefix("Basic "))
    assert all(secret not in repr(gateway) for secret in secrets)
    assert KEY_ID in repr(gateway)

    echo = {"error": {"description": f"bad field, you sent {KEY_SECRET} and {WEBHOOK_SECRET}"}}
    failures: list[Answer] = [
        ok("error_api_key_invalid", 401),
        ok("error_server", 500),
        httpx.Response(400, json=echo),
        httpx.ReadTimeout("timed out"),
    ]
    texts: list[str] = []
    for answer in failures:
        razorpay.on("GET", f"/payment_links/{LINK_ID}", answer)
        with pytest.raises(GatewayError) as failed:
            gateway.fetch(LINK_ID)
        texts += [str(failed.value), repr(failed.value), failed.value.detail]
    for body, headers in [
        (raw("webhook_payment_link_paid"), {}),
        (raw("webhook_payment_link_paid"), {"X-Razorpay-Signature": "0" * 64}),
        (b"not json", {"X-Razorpay-Signature": signed(b"not json")}),
    ]:
        with pytest.raises(CallbackRejected) as rejected:
            gateway.parse_callback(body, headers)
        texts += [str(rejected.value), repr(rejected.value)]
    texts += [record.getMessage() for record in caplog.records]

    assert "***" in " ".join(texts)  # the echoed secrets were scrubbed
    for text in texts:
        assert all(secret not in text for secret in secrets), text


def test_the_gateway_needs_all_three_secrets() -> None:
    with pytest.raises(ValueError):
        RazorpayGateway(key_id=KEY_ID, key_secret=KEY_SECRET, webhook_secret="")


def test_it_makes_and_closes_its_own_client_by_default() -> None:
    with RazorpayGateway(
        key_id=KEY_ID, key_secret=KEY_SECRET, webhook_secret=WEBHOOK_SECRET
    ) as gateway:
        assert repr(gateway) == f"RazorpayGateway(key_id={KEY_ID!r}, base_url={API!r})"
        client = gateway._client
        assert not client.is_closed
    assert client.is_closed


def test_a_shared_client_is_left_open(razorpay: FakeRazorpay) -> None:
    client = httpx.Client(transport=httpx.MockTransport(razorpay.handle))
    with RazorpayGateway(
        key_id=KEY_ID, key_secret=KEY_SECRET, webhook_secret=WEBHOOK_SECRET, client=client
    ):
        pass
    assert not client.is_closed
