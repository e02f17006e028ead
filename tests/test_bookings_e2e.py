"""Bookings on the production path: two hundred citizens at once after the last five darshan
tickets of a day. Exactly five get a hold and a payment link; the others are told politely;
every payment ends captured for a confirmed booking or refunded — including one paid after
its hold had expired and its ticket had gone to someone else."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from mitra.departments.sandbox.timeline import IST
from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_pdf
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.harness import GRAPH_BASE, Chat, body_text, eventually, running_mitra

SEATS = 5
CITIZENS = 200
ITEM = ("darshan", "srisailam.sheeghra")
numbers = itertools.count(919_833_000_000)


class Clock:
    """The sandbox departments' clock, moved by the test (holds expire by it)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(IST) + self.offset


async def say(chat: Chat, wa_id: str, **spec: Any) -> list[Any]:
    """One citizen's message and the replies it gets (each citizen waits for their own)."""
    before = len(chat.received(wa_id))
    sent = await chat.fake.simulate({"wa_id": wa_id, **spec})
    assert sent.status == 200
    await eventually(lambda: len(chat.received(wa_id)) > before, timeout=60, what=f"{wa_id}")
    await asyncio.sleep(0.05)  # a second reply of the same turn, if any
    return chat.received(wa_id)[before:]


async def try_to_book(chat: Chat, wa_id: str) -> str | None:
    """Ask for one sheeghra darshan ticket for tomorrow; the payment link, or None."""
    await say(chat, wa_id, text="Hi")
    await say(chat, wa_id, reply_id="lang:en", reply_title="English")
    await say(chat, wa_id, text="END-01")
    await say(chat, wa_id, text="tomorrow")
    await say(chat, wa_id, reply_id="opt:darshan:srisailam.sheeghra", reply_title="x", list=True)
    before = len(chat.received(wa_id))
    assert (await chat.fake.simulate({"wa_id": wa_id, "text": "1"})).status == 200

    def answered() -> bool:
        said = "\n".join(body_text(m) for m in chat.received(wa_id)[before:])
        return "Held for you" in said or "tickets left" in said

    await eventually(answered, timeout=60, what=f"{wa_id}'s hold")
    said = "\n".join(body_text(m) for m in chat.received(wa_id)[before:])
    if "Held for you" not in said:
        assert "there are not 1 tickets left" in said, said
        return None
    [link] = await say(chat, wa_id, reply_id="opt:sure:yes", reply_title="Yes")
    return str(link.body["interactive"]["action"]["parameters"]["url"])


async def pay(chat: Chat, link: str) -> None:
    event = (await chat.settle(link, "paid"))["event"]
    assert (await chat.call_back(event)).json()["outcome"] == "applied"


async def all_fulfilled(chat: Chat, db: Any) -> None:
    def idle() -> bool:
        row = db.execute(
            "SELECT (SELECT count(*) FROM payments WHERE fulfilment IN"
            "   ('pending', 'running', 'cancel'))"
            " + (SELECT count(*) FROM document_deliveries WHERE status <> 'done') AS busy"
        ).fetchone()
        db.commit()
        return int(row["busy"]) == 0

    await eventually(idle, timeout=30, what="payments to be fulfilled")
    await chat.settled(db)


@pytest.mark.slow
async def test_the_last_seats_are_never_oversold_and_every_payment_ends_booked_or_refunded(
    settings: Any, db: Any
) -> None:
    clock = Clock()
    sandbox = {"clock": clock, "capacities": {ITEM: SEATS}}
    async with running_mitra(settings, sandbox=sandbox) as chat:
        citizens = [str(next(numbers)) for _ in range(CITIZENS)]
        links = await asyncio.gather(*(try_to_book(chat, wa) for wa in citizens))
        winners = [(wa, link) for wa, link in zip(citizens, links, strict=True) if link]
        assert len(winners) == SEATS  # exactly as many holds as seats, not one more
        payments = db.execute("SELECT count(*) AS n FROM payments").fetchone()
        db.commit()
        assert payments["n"] == SEATS  # the others were never asked to pay

        # Four pay in time.
        for _, link in winners[:-1]:
            await pay(chat, link)
        await all_fulfilled(chat, db)

        # The fifth waits too long: the hold expires, the ticket goes back on sale, and
        # another citizen books it and pays.
        clock.offset = timedelta(minutes=11)
        late_wa, late_link = winners[-1]
        newcomer = str(next(numbers))
        newcomer_link = await try_to_book(chat, newcomer)
        assert newcomer_link is not None
        await pay(chat, newcomer_link)
        await all_fulfilled(chat, db)
        # The late payment still arrives: it is taken, cannot be given, and is refunded.
        await pay(chat, late_link)
        await all_fulfilled(chat, db)

        rows = db.execute(
            "SELECT p.status, p.fulfilment, p.amount_paise, p.refunded_paise, b.status AS booked"
            " FROM payments p JOIN bookings b ON b.payment_id = p.id"
        ).fetchall()
        db.commit()
        outcomes = sorted((r["status"], r["fulfilment"], r["booked"]) for r in rows)
        assert outcomes == sorted(
            [("captured", "done", "confirmed")] * SEATS + [("refunded", "refunded", "failed")]
        )
        refunded = [r for r in rows if r["status"] == "refunded"]
        assert refunded[0]["refunded_paise"] == refunded[0]["amount_paise"] == 15_000
        late_said = "\n".join(body_text(m) for m in chat.received(late_wa))
        assert "is being refunded" in late_said and "Booking confirmed" not in late_said

        # Every confirmed booking has its verified e-ticket; the department sold exactly 5.
        tickets = [m for m in chat.fake.sent() if m.body.get("type") == "document"]
        assert len(tickets) == SEATS
        graph = GraphClient(GRAPH_BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [chat.graph_http])
        keys = PublicKeys.from_json((await chat.mitra_http.get("/verify/keys.json")).content)
        info = await graph.media_info(tickets[0].body["document"]["id"])
        checked = verify_pdf(await graph.download(info["url"]), keys)
        assert checked.ok and checked.facts is not None
        facts = {f["label"]["en"]: f["value"] for f in checked.facts["facts"]}
        assert facts["Darshan"]["en"] == "Sheeghra darshan, Srisailam"
        assert facts["Booking number"]["en"].startswith("BKG-END-")
        day = (datetime.now(IST) + timedelta(days=1)).date().isoformat()
        inventory = await chat.worker._departments.inventory("END", *ITEM, day)
        assert inventory["available"] == 0


@pytest.mark.slow
async def test_a_cancelled_booking_is_cancelled_at_the_department_and_refunded_by_its_rule(
    settings: Any, db: Any
) -> None:
    async with running_mitra(settings) as chat:
        wa_id = str(next(numbers))
        # Ten days ahead: END-01's rule gives 90% back up to 48 hours before.
        await say(chat, wa_id, text="Hi")
        await say(chat, wa_id, reply_id="lang:en", reply_title="English")
        await say(chat, wa_id, text="END-01")
        day = (datetime.now(IST) + timedelta(days=10)).date()
        await say(chat, wa_id, text=day.strftime("%d-%m-%Y"))
        await say(
            chat, wa_id, reply_id="opt:darshan:srisailam.sheeghra", reply_title="x", list=True
        )
        await say(chat, wa_id, text="2")  # ₹300 for two
        [link] = await say(chat, wa_id, reply_id="opt:sure:yes", reply_title="Yes")
        await pay(chat, str(link.body["interactive"]["action"]["parameters"]["url"]))
        await all_fulfilled(chat, db)
        booking = db.execute("SELECT booking_id, ticket_document_id FROM bookings").fetchone()
        db.commit()
        assert booking["booking_id"].startswith("BKG-END-")

        listed = await say(chat, wa_id, text="END-26")
        rows = listed[-1].body["interactive"]["action"]["sections"][0]["rows"]
        assert [r["id"] for r in rows] == [f"opt:booking:{booking['booking_id']}"]
        assert "₹270" in rows[0]["description"]  # 90% of ₹300
        [confirm] = await say(chat, wa_id, reply_id=rows[0]["id"], reply_title="x", list=True)
        assert "Refund now: ₹270 of ₹300 paid" in body_text(confirm)
        await say(chat, wa_id, reply_id="opt:sure:yes", reply_title="Yes")
        await all_fulfilled(chat, db)

        row = db.execute(
            "SELECT p.status, p.refunded_paise, b.status AS booked FROM payments p"
            " JOIN bookings b ON b.payment_id = p.id"
        ).fetchone()
        refund = db.execute("SELECT amount_paise, status FROM refunds").fetchone()
        ticket = db.execute(
            "SELECT revoked_at FROM documents WHERE id = %s", (booking["ticket_document_id"],)
        ).fetchone()
        db.commit()
        assert (row["status"], row["refunded_paise"], row["booked"]) == (
            "partially_refunded",
            27_000,
            "cancelled",
        )
        assert (refund["amount_paise"], refund["status"]) == (27_000, "processed")
        assert ticket["revoked_at"] is not None  # the e-ticket no longer verifies as valid
        said = "\n".join(body_text(m) for m in chat.received(wa_id))
        assert f"Booking {booking['booking_id']} is cancelled. Refund: ₹270" in said
        status = await chat.worker._departments.booking(booking["booking_id"])
        assert status["status"] == "cancelled"
        # Nothing left to cancel.
        said = "\n".join(body_text(m) for m in await say(chat, wa_id, text="END-26"))
        assert "BKG-END-" not in said
