"""A citizen's message through the real pipeline: webhook → store → split → process →
outbox → sender → (fake) Graph API, and statuses back."""

from __future__ import annotations

import time
from typing import Any

import orjson

from mitra.whatsapp import envelopes
from mitra.whatsapp.signature import sign
from tests.conftest import APP_SECRET, PHONE_NUMBER_ID
from tests.harness import body_text, choices, eventually, running_mitra

LAKSHMI = "919876543210"
RAVI = "919849012345"


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {"X-Hub-Signature-256": sign(body, APP_SECRET), "content-type": "application/json"}


async def test_hi_then_telugu_gives_the_department_menu_in_telugu(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat:
        # Citizen says Hi; Mitra explains what it keeps and why, and offers languages.
        [consent] = await chat.say(LAKSHMI, "Hi")
        assert "DPDP" in body_text(consent)
        assert [title for _, title in choices(consent)] == ["తెలుగు", "English"]

        # Citizen picks తెలుగు; Mitra lists the departments in Telugu.
        [menu] = await chat.tap(LAKSHMI, "lang:te", "తెలుగు", list_reply=False)
        titles = [title for _, title in choices(menu)]
        assert "రెవెన్యూ" in titles and "విద్యుత్" in titles and len(titles) == 8

        # The choice is remembered: "menu" later answers in Telugu without asking again.
        [again] = await chat.say(LAKSHMI, "menu")
        assert choices(again) == choices(menu)

    row = db.execute("SELECT language, consent_at FROM citizens").fetchone()
    assert row["language"] == "te" and row["consent_at"] is not None


async def test_the_same_message_delivered_three_times_is_answered_once(
    settings: Any, db: Any
) -> None:
    async with running_mitra(settings) as chat:
        payload = envelopes.text_envelope(LAKSHMI, "Hi", phone_number_id=PHONE_NUMBER_ID)
        body, headers = signed(payload)
        for _ in range(3):
            assert (await chat.post(body, headers)).status_code == 200
        # And once more inside a batch with a new message from someone else.
        batch = envelopes.envelope(
            [
                payload["entry"][0]["changes"][0]["value"],
                envelopes.text_envelope(RAVI, "Hi", phone_number_id=PHONE_NUMBER_ID)["entry"][0][
                    "changes"
                ][0]["value"],
            ]
        )
        body, headers = signed(batch)
        assert (await chat.post(body, headers)).status_code == 200
        await eventually(lambda: len(chat.received(RAVI)) == 1, what="Ravi's reply")
        await chat.settled(db)
        assert len(chat.received(LAKSHMI)) == 1
    assert db.execute("SELECT count(*) AS n FROM inbound_events").fetchone()["n"] == 2


async def test_a_batch_from_many_citizens_answers_each_of_them(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat:
        citizens = [f"9190000{i:05d}" for i in range(40)]
        values = [
            envelopes.text_envelope(wa, "Hi", phone_number_id=PHONE_NUMBER_ID)["entry"][0][
                "changes"
            ][0]["value"]
            for wa in citizens
        ]
        body, headers = signed(envelopes.envelope(values))
        assert (await chat.post(body, headers)).status_code == 200
        await eventually(
            lambda: all(len(chat.received(wa)) == 1 for wa in citizens),
            what="every citizen answered",
        )


async def test_a_message_type_mitra_cannot_read_gets_a_polite_reply(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat:
        await chat.say(LAKSHMI, "Hi")
        await chat.tap(LAKSHMI, "lang:en", "English", list_reply=False)
        sticker = envelopes.envelope(
            [
                envelopes.messages_value(
                    [envelopes.contact(LAKSHMI, "Lakshmi")],
                    [
                        envelopes.message(
                            "sticker",
                            {
                                "id": "1234",
                                "mime_type": "image/webp",
                                "sha256": "abc",
                                "animated": False,
                            },
                            wa_id=LAKSHMI,
                        )
                    ],
                    phone_number_id=PHONE_NUMBER_ID,
                )
            ]
        )
        body, headers = signed(sticker)
        before = len(chat.received(LAKSHMI))
        assert (await chat.post(body, headers)).status_code == 200
        [reply] = await chat.replies_after(LAKSHMI, before, 1)
        assert "cannot read that kind of message" in body_text(reply)


async def test_messages_older_than_the_stale_age_are_recorded_not_answered(
    settings: Any, db: Any
) -> None:
    async with running_mitra(settings) as chat:
        old = int(time.time()) - settings.stale_message_age - 60
        body, headers = signed(
            envelopes.text_envelope(LAKSHMI, "Hi", phone_number_id=PHONE_NUMBER_ID, timestamp=old)
        )
        assert (await chat.post(body, headers)).status_code == 200

        def recorded() -> bool:
            row = db.execute("SELECT outcome FROM inbound_events").fetchone()
            db.commit()
            return row is not None and row["outcome"] == "stale"

        await eventually(recorded, what="the stale message to be recorded")
        await chat.settled(db)
        assert chat.received(LAKSHMI) == []


async def test_statuses_reach_the_outbox_and_only_move_forward(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat:
        [consent] = await chat.say(LAKSHMI, "Hi")

        def status() -> str:
            row = db.execute(
                "SELECT status, wamid, delivered_at, read_at FROM outbound_messages"
            ).fetchone()
            db.commit()
            return str(row["status"])

        await eventually(lambda: status() == "read", what="the fake's statuses to arrive")
        row = db.execute("SELECT wamid, delivered_at, read_at FROM outbound_messages").fetchone()
        assert row["wamid"] == consent.wamid and row["delivered_at"] and row["read_at"]

        # A late "delivered", twice, after "read": recorded once, and the state stays "read".
        late = [
            envelopes.status(consent.wamid, "delivered", recipient_id=LAKSHMI),
            envelopes.status(consent.wamid, "delivered", recipient_id=LAKSHMI),
        ]
        body, headers = signed(
            envelopes.envelope([envelopes.statuses_value(late, phone_number_id=PHONE_NUMBER_ID)])
        )
        assert (await chat.post(body, headers)).status_code == 200
        await chat.settled(db)
        assert status() == "read"
    n = db.execute("SELECT count(*) AS n FROM message_statuses").fetchone()["n"]
    assert n == 3  # sent, delivered, read: each once, however often it arrived


async def test_a_bug_in_the_engine_gets_an_apology_not_silence_or_a_trace(
    settings: Any, db: Any, monkeypatch: Any
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr("mitra.inbox.process.handle", broken)
    async with running_mitra(settings) as chat:
        [reply] = await chat.say(LAKSHMI, "Hi")
        assert "పొరపాటు" in body_text(reply)
        assert "Traceback" not in body_text(reply) and "bug" not in body_text(reply)
        # The citizen's queue is not blocked: the next message is handled too.
        [again] = await chat.say(LAKSHMI, "Hi")
        assert "పొరపాటు" in body_text(again)


async def test_a_status_check_goes_to_the_department_and_back_through_the_real_path(
    settings: Any, db: Any
) -> None:
    async with running_mitra(settings) as chat:
        await chat.say(LAKSHMI, "Hi")
        await chat.tap(LAKSHMI, "lang:en", "English", list_reply=False)
        [ask] = await chat.say(LAKSHMI, "ENG-06")
        assert "application number" in body_text(ask)
        [answer] = await chat.say(LAKSHMI, "ENG-2026-000123-K")
        assert "Status: Under review" in body_text(answer)
    effect = db.execute("SELECT status, error FROM effects").fetchone()
    assert effect["status"] == "done" and effect["error"] is None
    steps = db.execute(
        "SELECT step, outcome FROM conversation_steps WHERE service = 'ENG-06' ORDER BY id"
    ).fetchall()
    assert ("find", "looked_up") in [(s["step"], s["outcome"]) for s in steps]


async def test_a_department_that_is_down_is_said_plainly_and_the_answer_comes_later(
    settings: Any, db: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("mitra.conversation.engine.NOTIFY_RETRY_SECONDS", 0.5)
    async with running_mitra(settings) as chat:
        await chat.say(LAKSHMI, "Hi")
        await chat.tap(LAKSHMI, "lang:en", "English", list_reply=False)
        await chat.say(LAKSHMI, "ENG-06")
        # Energy's system answers 503 to every attempt of this call (the client retries twice).
        await chat.department_fault("ENG", "down", count=3)
        [down] = await chat.say(LAKSHMI, "ENG-2026-000123-K")
        assert "not answering right now" in body_text(down)
        assert ("nav:notify", "Notify me") in choices(down)
        # The citizen asks to be told; when the department is back, the answer arrives.
        [promise, answer] = await chat.tap(
            LAKSHMI, "nav:notify", "Notify me", list_reply=False, expect=2
        )
        assert "as soon as" in body_text(promise)
        assert "Status: Under review" in body_text(answer)


async def test_a_delivery_the_splitter_cannot_handle_is_set_aside_not_blocking_others(
    settings: Any, db: Any, monkeypatch: Any
) -> None:
    import mitra.inbox.split as split

    real = split.resolve_citizens

    def bug_for_one_citizen(conn: Any, cipher: Any, senders: Any) -> Any:
        if any(s.wa_id == "919000000666" for s in senders):
            raise RuntimeError("a bug that only this delivery triggers")
        return real(conn, cipher, senders)

    monkeypatch.setattr(split, "resolve_citizens", bug_for_one_citizen)
    async with running_mitra(settings) as chat:
        poison, headers = signed(
            envelopes.text_envelope("919000000666", "Hi", phone_number_id=PHONE_NUMBER_ID)
        )
        assert (await chat.post(poison, headers)).status_code == 200
        [reply] = await chat.say(LAKSHMI, "Hi")
        assert "DPDP" in body_text(reply)
        await chat.settled(db)
    row = db.execute(
        "SELECT split_error FROM webhook_deliveries WHERE split_error IS NOT NULL"
    ).fetchone()
    assert "a bug that only this delivery triggers" in row["split_error"]
