"""Every bill, donation and booking service, on the production path, through to its receipt
or e-ticket: the service's first example that reaches the payment over signed webhooks, the
citizen paying on the sandbox gateway's page, the gateway's signed callback, the department
told (bill credited, hold confirmed), and the PDF delivered in the chat — downloaded from the
Graph API and verified, every fact on it filled in."""

from __future__ import annotations

from typing import Any

import pytest

from mitra.catalogue.examples import EXAMPLE_NOW
from mitra.catalogue.loader import load_catalogue
from mitra.catalogue.schema import Example, PayStep, Service
from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_pdf
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.harness import GRAPH_BASE, eventually, running_mitra
from tests.test_catalogue_whatsapp import _run as run_example

CATALOGUE = load_catalogue()
PAYING = [s for s in CATALOGUE.current.values() if any(isinstance(x, PayStep) for x in s.steps)]
FREE = "nothing to pay"


def paying_example(service: Service) -> Example:
    """The first example that ends at the payment link (or at a free booking)."""
    for example in service.examples:
        last = " ".join(example.turns[-1].expect)
        if "PAY-2026-5" in last or FREE in last.casefold() or "చెల్లించాల్సింది ఏమీ లేదు" in last:
            return example
    raise AssertionError(f"{service.code} has no example that reaches the payment")


def test_every_paying_service_has_an_example_that_reaches_the_payment() -> None:
    assert PAYING
    for service in PAYING:
        paying_example(service)
        assert service.document is not None, f"{service.code} issues no receipt or ticket"


@pytest.mark.slow
@pytest.mark.parametrize("department", sorted({s.department for s in PAYING}))
async def test_each_payment_reaches_a_verified_receipt_or_ticket_in_the_chat(
    settings: Any, db: Any, department: str
) -> None:
    services = [s for s in PAYING if s.department == department]
    async with running_mitra(
        settings, sandbox={"clock": lambda: EXAMPLE_NOW}, now=lambda: EXAMPLE_NOW
    ) as chat:
        graph = GraphClient(GRAPH_BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [chat.graph_http])
        keys = PublicKeys.from_json((await chat.mitra_http.get("/verify/keys.json")).content)
        for service in services:
            # Payment references stay unique, as at a real gateway (no renumbering).
            await run_example(chat, db, service, paying_example(service), renumber=False)
            payment = db.execute(
                "SELECT id, reference, link_url, citizen_id FROM payments ORDER BY id DESC LIMIT 1"
            ).fetchone()
            db.commit()
            assert payment is not None, service.code
            sent_before = len(chat.fake.sent())
            if payment["link_url"]:
                event = (await chat.settle(payment["link_url"], "paid"))["event"]
                assert event is not None, service.code
                outcome = (await chat.call_back(event)).json()["outcome"]
                assert outcome == "applied", (service.code, outcome)

            def fulfilled(payment_id: int = payment["id"], code: str = service.code) -> bool:
                row = db.execute(
                    "SELECT fulfilment, fulfil_error FROM payments WHERE id = %s", (payment_id,)
                ).fetchone()
                deliveries = db.execute(
                    "SELECT count(*) AS n FROM document_deliveries WHERE status <> 'done'"
                ).fetchone()
                db.commit()
                assert row["fulfilment"] not in ("refunded", "failed"), (code, row)
                return row["fulfilment"] == "done" and deliveries["n"] == 0

            await eventually(fulfilled, timeout=20, what=f"{service.code}'s fulfilment")
            await chat.settled(db)
            documents = [
                m for m in chat.fake.sent()[sent_before:] if m.body.get("type") == "document"
            ]
            assert len(documents) == 1, service.code
            info = await graph.media_info(documents[0].body["document"]["id"])
            checked = verify_pdf(await graph.download(info["url"]), keys)
            assert checked.ok and checked.facts is not None, service.code
            assert service.document is not None
            assert checked.facts["kind"] == service.document.kind
            for row in checked.facts["facts"]:
                for lang in ("en", "te"):
                    value = row["value"][lang] if isinstance(row["value"], dict) else row["value"]
                    assert value.strip() and "{" not in value, (service.code, row, lang)


CANCELLING = [
    s
    for s in CATALOGUE.current.values()
    if s.pattern == "cancel"
    and any(getattr(x, "operation", "") == "cancel_booking" for x in s.steps)
]


def booking_service_for(cancel: Service) -> Service:
    """A paid booking service of the same department, to have something to cancel."""
    for service in PAYING:
        if service.department == cancel.department and service.pattern == "booking":
            example = paying_example(service)
            if "PAY-2026-5" in " ".join(example.turns[-1].expect):
                return service
    raise AssertionError(f"no paid booking service to cancel with {cancel.code}")


@pytest.mark.slow
@pytest.mark.parametrize("code", sorted(s.code for s in CANCELLING))
async def test_each_cancel_service_cancels_a_paid_booking_at_the_department(
    settings: Any, db: Any, code: str
) -> None:
    cancel = CATALOGUE.service(code)
    assert cancel is not None
    booking_service = booking_service_for(cancel)
    async with running_mitra(
        settings, sandbox={"clock": lambda: EXAMPLE_NOW}, now=lambda: EXAMPLE_NOW
    ) as chat:
        await run_example(chat, db, booking_service, paying_example(booking_service))
        payment = db.execute(
            "SELECT id, link_url, citizen_id FROM payments ORDER BY id DESC LIMIT 1"
        ).fetchone()
        db.commit()
        event = (await chat.settle(payment["link_url"], "paid"))["event"]
        assert (await chat.call_back(event)).json()["outcome"] == "applied"

        def fulfilled() -> bool:
            row = db.execute(
                "SELECT fulfilment FROM payments WHERE id = %s", (payment["id"],)
            ).fetchone()
            db.commit()
            return row["fulfilment"] == "done"

        await eventually(fulfilled, timeout=20, what="the booking")
        booking = db.execute("SELECT booking_id FROM bookings").fetchone()
        db.commit()
        wa_id = chat.fake.sent()[-1].to

        async def say(**spec: Any) -> list[Any]:
            before = len(chat.received(wa_id))
            assert (await chat.fake.simulate({"wa_id": wa_id, **spec})).status == 200
            await chat.settled(db)
            return chat.received(wa_id)[before:]

        listed = (await say(text=code))[-1]
        rows = [r for s in listed.body["interactive"]["action"]["sections"] for r in s["rows"]]
        [row] = [r for r in rows if booking["booking_id"] in r["id"]]
        confirm = (await say(reply_id=row["id"], reply_title=row["title"], list=True))[-1]
        [yes] = [
            b["reply"]["id"]
            for b in confirm.body["interactive"]["action"]["buttons"]
            if b["reply"]["id"].endswith(":yes")
        ]
        await say(reply_id=yes, reply_title="Yes")

        def cancelled() -> bool:
            row = db.execute(
                "SELECT b.status, p.fulfilment FROM bookings b JOIN payments p"
                " ON p.id = b.payment_id"
            ).fetchone()
            db.commit()
            return (row["status"], row["fulfilment"]) == ("cancelled", "done")

        await eventually(cancelled, timeout=20, what=f"{code}'s cancellation")
        await chat.settled(db)
        at_department = await chat.worker._departments.booking(booking["booking_id"])
        assert at_department["status"] == "cancelled"
        said = " ".join(m.body.get("text", {}).get("body", "") for m in chat.received(wa_id))
        assert f"Booking {booking['booking_id']} is cancelled" in said or "రద్దు" in said
