"""Every service's example conversations again, this time as a citizen on WhatsApp: signed
webhooks into the real app, the real worker, department calls over the adapter contract to the
sandbox, replies through the (fake) Graph API. What `mitra catalog test` checks with the
engine alone must also hold on the production path."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import psycopg
import pytest

from mitra.catalogue.examples import EXAMPLE_NOW
from mitra.catalogue.loader import load_catalogue
from mitra.catalogue.schema import Example, Service
from tests.harness import Chat, body_text, choices, running_mitra

CATALOGUE = load_catalogue()
CITIZENS = itertools.count(919_700_000_000)


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 8
VOICE = b"OggS\x00\x02" + bytes(range(256)) * 16


def media_spec(kind: str, problem: str | None) -> dict[str, Any]:
    """What a citizen's phone sends for an example's media turn (and, for `problem`, a file
    Mitra must refuse when it fetches it)."""
    data, mime = (VOICE, "audio/ogg; codecs=opus") if kind == "audio" else (JPEG, "image/jpeg")
    if problem == "wrong_type":
        data, mime = b"PK\x03\x04 not a photo", "application/zip"
    if problem == "too_large":
        data = JPEG + bytes(5 * 1024 * 1024)
    spec: dict[str, Any] = {
        "type": kind,
        "mime_type": mime,
        "data_base64": base64.b64encode(data).decode(),
    }
    if problem == "expired":
        spec["expired"] = True
    return spec


def _said(messages: list[Any]) -> tuple[str, dict[str, str]]:
    text = "\n".join(body_text(m) + "\n" + "\n".join(t for _, t in choices(m)) for m in messages)
    return text, {i: t for m in messages for i, t in choices(m)}


async def _turn(chat: Chat, db: Any, wa_id: str, spec: dict[str, Any]) -> list[Any]:
    before = len(chat.received(wa_id))
    sent = await chat.fake.simulate({"wa_id": wa_id, **spec})
    assert sent.status == 200
    await chat.settled(db)
    return chat.received(wa_id)[before:]


async def _run(
    chat: Chat, db: Any, service: Service, example: Example, *, renumber: bool = True
) -> None:
    # Each example numbers its applications from the start, as `mitra catalog test` does.
    if renumber:
        for attempt in range(5):
            try:
                db.execute(
                    "TRUNCATE bookings, refunds, payment_events, payments, document_deliveries,"
                    " documents, media_deliveries, media, case_followers, case_events, cases,"
                    " case_serials CASCADE"
                )
                db.commit()
                break
            except psycopg.errors.DeadlockDetected:
                # The running worker's loops touch these tables every tick: try again.
                db.rollback()
                if attempt == 4:
                    raise
    wa_id = str(next(CITIZENS))
    await _turn(chat, db, wa_id, {"text": "Hi"})
    label = "తెలుగు" if example.language == "te" else "English"
    await _turn(
        chat,
        db,
        wa_id,
        {"reply_id": f"lang:{example.language}", "reply_title": label, "list": False},
    )
    offers: dict[str, str] = {}
    for i, turn in enumerate(example.turns, 1):
        if turn.citizen is not None:
            spec: dict[str, Any] = {"text": turn.citizen}
        elif turn.tap is not None:
            assert turn.tap in offers, f"turn {i}: {turn.tap} was not offered"
            spec = {"reply_id": turn.tap, "reply_title": offers[turn.tap], "list": True}
        elif turn.media is not None:
            spec = {"media": media_spec(turn.media, turn.media_problem)}
        else:
            assert turn.location is not None
            spec = {"location": {"latitude": turn.location[0], "longitude": turn.location[1]}}
        replies = await _turn(chat, db, wa_id, spec)
        said, offers = _said(replies)
        assert replies, f"{service.code} turn {i}: no reply"
        for expected in turn.expect:
            assert expected.casefold() in said.casefold(), (
                f"{service.code} turn {i}: {expected!r} not in {said!r}"
            )
        for choice in turn.expect_choices:
            assert choice in offers, f"{service.code} turn {i}: {choice!r} not offered"


@pytest.mark.slow
@pytest.mark.parametrize("department", [d.code for d in CATALOGUE.departments])
async def test_every_example_of_a_department_over_whatsapp(
    settings: Any, db: Any, department: str
) -> None:
    services = CATALOGUE.services_of(department)
    # On the examples' day, like `mitra catalog test`: "tomorrow" and the sandbox agree.
    async with running_mitra(
        settings, sandbox={"clock": lambda: EXAMPLE_NOW}, now=lambda: EXAMPLE_NOW
    ) as chat:
        for service in services:
            for example in service.examples:
                await _run(chat, db, service, example)
