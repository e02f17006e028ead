"""Money on the production path: a donation made in the chat, paid on the sandbox gateway's
page, confirmed by its signed callback — delivered ten times, out of order, forged, or lost
and found by reconciliation — and a verified receipt in the chat exactly once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_pdf
from mitra.payments.reconcile import reconcile_round
from mitra.payments.sandbox import SandboxGateway
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, PAYMENT_SECRET, PHONE_NUMBER_ID
from tests.harness import GRAPH_BASE, Chat, body_text, eventually, running_mitra

URL = re.compile(r"https?://\S+/pay/\S+")


async def turn(chat: Chat, db: Any, wa_id: str, **spec: Any) -> list[Any]:
    before = len(chat.received(wa_id))
    sent = await chat.fake.simulate({"wa_id": wa_id, **spec})
    assert sent.status == 200
    await chat.settled(db)
    return chat.received(wa_id)[before:]


async def donate(chat: Chat, db: Any, wa_id: str, rupees: str = "1116", pan: bool = True) -> str:
    """A citizen gives to Srisailam's e-hundi; returns the payment link they got."""
    await turn(chat, db, wa_id, text="Hi")
    await turn(chat, db, wa_id, reply_id="lang:en", reply_title="English", list=False)
    await turn(chat, db, wa_id, text="END-22")
    await turn(chat, db, wa_id, reply_id="opt:temple:srisailam", reply_title="Srisailam", list=True)
    await turn(chat, db, wa_id, text=rupees)
    if pan:
        await turn(
            chat, db, wa_id, reply_id="opt:exemption:80g", reply_title="Yes, 80G", list=False
        )
        await turn(chat, db, wa_id, text="ABCPK1234F")
    else:
        await turn(chat, db, wa_id, reply_id="opt:exemption:none", reply_title="No", list=False)
    [button] = await turn(chat, db, wa_id, reply_id="opt:sure:yes", reply_title="Yes", list=False)
    assert button.body["interactive"]["type"] == "cta_url", body_text(button)
    assert "Tap below to pay ₹" in body_text(button)
    return str(button.body["interactive"]["action"]["parameters"]["url"])


async def settled_payments(chat: Chat, db: Any) -> None:
    def idle() -> bool:
        row = db.execute(
            "SELECT (SELECT count(*) FROM payments WHERE fulfilment IN"
            "   ('pending', 'running', 'expire', 'cancel'))"
            " + (SELECT count(*) FROM document_deliveries WHERE status <> 'done') AS busy"
        ).fetchone()
        db.commit()
        return int(row["busy"]) == 0

    await eventually(idle, what="payments to be fulfilled")
    await chat.settled(db)


def receipts(chat: Chat, wa_id: str) -> list[Any]:
    return [m for m in chat.received(wa_id) if m.body.get("type") == "document"]


@pytest.mark.slow
async def test_a_donation_paid_once_with_a_verified_80g_receipt_whatever_the_callbacks_do(
    settings: Any, db: Any, cipher: Any
) -> None:
    wa_id = "919822200001"
    async with running_mitra(settings) as chat:
        link = await donate(chat, db, wa_id)
        payment = db.execute("SELECT * FROM payments").fetchone()
        db.commit()
        assert payment["amount_paise"] == 111_600 and payment["status"] == "created"
        assert payment["purpose"] == "donation" and link == payment["link_url"]
        assert b"ABCPK1234F" not in bytes(payment["details_enc"])  # the PAN is encrypted

        # Forged callbacks change nothing: no signature, a wrong one, a wrong secret.
        failed = await chat.settle(link, "failed")  # a failed attempt first; they try again
        assert (await chat.call_back(failed["event"])).json()["outcome"] == "ignored"
        paid = await chat.settle(link, "paid")
        event = paid["event"]
        forged = {**event, "amount_paise": 1}
        r = await chat.mitra_http.post("/payments/callbacks/sandbox", json=event)
        assert r.status_code == 401
        assert (await chat.call_back(event, secret="not-the-secret")).status_code == 403
        r = await chat.mitra_http.post(
            "/payments/callbacks/sandbox",
            content=b"{not json",
            headers={"x-sandbox-signature": "sha256=00"},
        )
        assert r.status_code == 403
        # Signed, but for another amount than asked: held for an operator, never fulfilled.
        assert (await chat.call_back(forged)).json()["outcome"] == "mismatch"
        row = db.execute("SELECT status FROM payments").fetchone()
        db.commit()
        assert row["status"] == "created"

        # The genuine callback, ten times: captured and fulfilled once.
        genuine = {**event, "event_id": event["event_id"] + "-genuine"}
        outcomes = [(await chat.call_back(genuine)).json()["outcome"] for _ in range(10)]
        assert outcomes == ["applied"] + ["duplicate"] * 9
        # A late "cancelled" after the capture changes nothing.
        late = {**event, "event_id": "sbe_late", "state": "cancelled", "amount_paise": 0}
        assert (await chat.call_back(late)).json()["outcome"] == "ignored"

        await settled_payments(chat, db)
        row = db.execute("SELECT status, fulfilment, receipt_document_id FROM payments").fetchone()
        db.commit()
        assert (row["status"], row["fulfilment"]) == ("captured", "done")
        [receipt] = receipts(chat, wa_id)
        texts = "\n".join(body_text(m) for m in chat.received(wa_id))
        assert "Payment of ₹1,116 received for E-hundi donation" in texts
        assert texts.count("received for E-hundi donation") == 1

        graph = GraphClient(GRAPH_BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [chat.graph_http])
        info = await graph.media_info(receipt.body["document"]["id"])
        pdf = await graph.download(info["url"])
        keys = PublicKeys.from_json((await chat.mitra_http.get("/verify/keys.json")).content)
        checked = verify_pdf(pdf, keys)
        assert checked.ok and checked.facts is not None
        rows = {f["label"]["en"]: f["value"] for f in checked.facts["facts"]}
        assert rows["Amount received"]["en"] == "₹1,116"
        assert rows["Donor's PAN (for 80G)"]["en"] == "ABCPK1234F"
        assert rows["Temple"]["te"] == "శ్రీశైలం"
        assert checked.facts["kind"] == "e_hundi_receipt"


@pytest.mark.slow
async def test_a_lost_callback_is_found_by_reconciliation_and_an_unpaid_link_expires(
    settings: Any, db: Any
) -> None:
    async with running_mitra(settings) as chat:
        paid_link = await donate(chat, db, "919822200002", pan=False)
        await chat.settle(paid_link, "paid")  # the gateway's callback never arrives
        open_link = await donate(chat, db, "919822200003", pan=False)
        gateway = SandboxGateway(chat.gateway_url, PAYMENT_SECRET)
        # Not old enough yet: nothing is looked at.
        assert reconcile_round(db, gateway, timedelta(minutes=10))["checked"] == 0
        found = reconcile_round(db, gateway, timedelta(seconds=0))
        assert found == {"checked": 2, "applied": 1}  # the other is still open at the gateway
        await settled_payments(chat, db)
        statuses = {
            r["link_url"]: r["status"]
            for r in db.execute("SELECT link_url, status FROM payments").fetchall()
        }
        db.commit()
        assert statuses[paid_link] == "captured" and statuses[open_link] == "created"
        assert len(receipts(chat, "919822200002")) == 1
        # The open one is cancelled at the gateway: reconciliation settles it as expired.
        await chat.settle(open_link, "cancelled")
        assert reconcile_round(db, gateway, timedelta(seconds=0))["applied"] == 1
        await settled_payments(chat, db)
        row = db.execute("SELECT status FROM payments WHERE link_url = %s", (open_link,)).fetchone()
        db.commit()
        assert row["status"] == "expired"
        assert receipts(chat, "919822200003") == []


async def test_the_sandbox_gateways_page_calls_back_signed_and_the_adapter_accepts_it() -> None:
    """The sandbox gateway itself: its hosted page settles a link and posts a callback signed
    with the shared secret, which the adapter verifies (a wrong secret would not)."""
    import httpx

    from mitra.payments.port import CallbackRejected
    from mitra.payments.sandbox import create_payment_gateway_app

    received: list[httpx.Request] = []

    def mitra(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"outcome": "applied"})

    callbacks = httpx.AsyncClient(transport=httpx.MockTransport(mitra))
    app = create_payment_gateway_app(
        secret=PAYMENT_SECRET,
        callback_url="http://mitra.test/payments/callbacks/sandbox",
        http=callbacks,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
    ) as gw:
        made = await gw.post(
            "/v1/links",
            json={
                "reference": "PAY-2026-500001-P",
                "amount_paise": 11_600,
                "description": "E-hundi",
                "expires_at": "2099-01-01T00:00:00+00:00",
            },
        )
        url = made.json()["url"]
        assert url.startswith("http://gw.test/pay/sbl_")
        page = await gw.get(url)
        assert "₹116" in page.text and 'data-state="created"' in page.text
        paid = await gw.post(url, data={"action": "paid"})
        assert 'data-state="paid"' in paid.text
        again = await gw.post(url, data={"action": "paid"})  # a second tap changes nothing
        assert 'data-state="paid"' in again.text
    await callbacks.aclose()

    [callback] = received
    headers = {k.lower(): v for k, v in callback.headers.items()}
    event = SandboxGateway("http://gw.test", PAYMENT_SECRET).parse_callback(
        callback.content, headers
    )
    assert (event.state, event.amount_paise) == ("paid", 11_600)
    with pytest.raises(CallbackRejected) as forged:
        SandboxGateway("http://gw.test", "another-secret").parse_callback(callback.content, headers)
    assert forged.value.status == 403
