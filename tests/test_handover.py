"""Talking to an officer, on the production path: while an officer has the citizen, the bot
says nothing at all — whatever the citizen sends; the officer's replies reach them over
WhatsApp; the officer, the citizen ("menu") or a timeout hands them back, and the bot says so
once and answers again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mitra import handover
from mitra.cases import apikeys
from tests.harness import Chat, body_text, running_mitra


async def turn(chat: Chat, db: Any, wa_id: str, **spec: Any) -> list[Any]:
    before = len(chat.received(wa_id))
    assert (await chat.fake.simulate({"wa_id": wa_id, **spec})).status == 200
    await chat.settled(db)
    return chat.received(wa_id)[before:]


async def to_an_officer(chat: Chat, db: Any, wa_id: str, department: str = "MUN") -> None:
    await turn(chat, db, wa_id, text="Hi")
    await turn(chat, db, wa_id, reply_id="lang:en", reply_title="English", list=False)
    [ask] = await turn(chat, db, wa_id, text="talk to an officer")
    assert "Which department's officer" in body_text(ask)
    [queued] = await turn(
        chat, db, wa_id, reply_id=f"opt:department:{department}", reply_title="x", list=True
    )
    assert "queue for an officer" in body_text(queued)


@pytest.mark.slow
async def test_the_bot_is_silent_while_an_officer_has_the_citizen(settings: Any, db: Any) -> None:
    wa_id = "919844400001"
    async with running_mitra(settings) as chat:
        api = chat.mitra_http
        await to_an_officer(chat, db, wa_id)
        municipal = {
            "Authorization": "Bearer "
            + apikeys.create_key(db, "municipal-desk", "MUN", ["conversations"])
        }
        energy = {
            "Authorization": "Bearer "
            + apikeys.create_key(db, "energy-desk", "ENG", ["conversations"])
        }
        db.commit()

        # Anything the citizen sends — text, a service code, a search, help, a tap on an old
        # menu, a location — gets no answer from the bot.
        silent = [
            {"text": "The drain on my street is overflowing for a week"},
            {"text": "REV-01"},
            {"text": "help"},
            {"text": "income certificate"},
            {"reply_id": "dept:REV", "reply_title": "Revenue", "list": True},
            {"location": {"latitude": 16.3, "longitude": 80.44}},
        ]
        for spec in silent:
            assert await turn(chat, db, wa_id, **spec) == [], spec

        [waiting] = (await api.get("/api/v1/handovers", headers=municipal)).json()["handovers"]
        assert waiting["department"] == "MUN" and waiting["status"] == "waiting"
        assert (await api.get("/api/v1/handovers", headers=energy)).json()["handovers"] == []
        hid = waiting["id"]
        assert (await api.get(f"/api/v1/handovers/{hid}", headers=energy)).status_code == 404
        talk = (await api.get(f"/api/v1/handovers/{hid}", headers=municipal)).json()
        said = [m["text"] for m in talk["messages"] if m["from"] == "citizen"]
        assert "The drain on my street is overflowing for a week" in said

        before = len(chat.received(wa_id))
        r = await api.post(
            f"/api/v1/handovers/{hid}/reply",
            json={"officer": "S. Rani, GMC", "text": "Sorry! A team will clear it today."},
            headers=municipal,
        )
        assert r.status_code == 200
        await chat.settled(db)
        [answer] = chat.received(wa_id)[before:]
        assert body_text(answer) == "S. Rani, GMC: Sorry! A team will clear it today."
        assert await turn(chat, db, wa_id, text="Thank you madam") == []  # still the officer's

        r = await api.post(
            f"/api/v1/handovers/{hid}/close", json={"officer": "S. Rani"}, headers=municipal
        )
        assert r.status_code == 200
        await chat.settled(db)
        back = "\n".join(body_text(m) for m in chat.received(wa_id)[before + 1 :])
        assert back.count("You are back with the Mitra assistant") == 1
        # Handed back: the bot answers again, and the officer can no longer write.
        assert await turn(chat, db, wa_id, text="help") != []
        late = await api.post(
            f"/api/v1/handovers/{hid}/reply",
            json={"officer": "S. Rani", "text": "One more thing"},
            headers=municipal,
        )
        assert late.status_code == 409


@pytest.mark.slow
async def test_the_citizen_can_leave_and_a_silent_queue_times_out(
    settings: Any, db: Any, cipher: Any
) -> None:
    async with running_mitra(settings) as chat:
        leaver, waiter = "919844400002", "919844400003"
        await to_an_officer(chat, db, leaver, "ENG")
        said = "\n".join(body_text(m) for m in await turn(chat, db, leaver, text="menu"))
        assert "You have left the chat with the officer" in said
        row = db.execute("SELECT status, closed_by FROM handovers").fetchone()
        db.commit()
        assert (row["status"], row["closed_by"]) == ("closed", "citizen")

        await to_an_officer(chat, db, waiter, "RTC")
        assert await turn(chat, db, waiter, text="When is the next bus to Ongole?") == []
        db.execute("UPDATE handovers SET last_activity_at = now() - interval '2 hours'")
        db.commit()
        assert handover.time_out(db, cipher, timedelta(minutes=30)) == 1
        await chat.settled(db)
        told = body_text(chat.received(waiter)[-2])
        assert "No officer could answer in time" in told
        assert handover.time_out(db, cipher, timedelta(minutes=30)) == 0  # once
