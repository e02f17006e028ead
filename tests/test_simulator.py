"""The citizen simulator's HTTP side: what a simulated citizen does becomes a signed webhook
through Mitra's real pipeline; the transcript (replies, ticks, typing) streams back as
server-sent events that resume where they left off; bad input is refused and changes nothing;
a reset makes Mitra meet the citizen afresh; media is served safely.

The simulator routes are mounted on their own small app around the harness's fake Graph API
(whose webhook is the real Mitra app and worker), and served by uvicorn on this test's event
loop, so the event stream is read over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from mitra.demo import _QuietServer
from mitra.departments.gazetteer import Gazetteer
from mitra.departments.sandbox import create_sandbox_app
from mitra.departments.sandbox_client import sandbox_client
from mitra.simulator.views import inbound_view, outbound_view
from mitra.simulator.web import simulator_routes
from mitra.web.app import cipher_for, sync_pool_for
from mitra.whatsapp import messages
from mitra.whatsapp.fake_graph import FakeGraph, FakeGraphConfig, MediaItem
from tests.demo_process import free_port, running_demo
from tests.harness import Chat, eventually, running_mitra

CITIZEN = "919800000011"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


@contextlib.asynccontextmanager
async def simulator(settings: Any, chat: Chat, places: Any = None) -> AsyncIterator[str]:
    """The simulator's routes over the harness's fake, served on this loop; yields its URL."""
    app = FastAPI()
    pool = sync_pool_for(settings)
    app.include_router(simulator_routes(chat.fake, lambda: pool, cipher_for(settings), places))
    port = free_port()
    server = _QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no start event
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await asyncio.to_thread(pool.close)


def events(fake: FakeGraph, kind: str | None = None) -> list[dict[str, Any]]:
    return [e.to_json() for e in fake.events(0, CITIZEN) if kind is None or e.kind == kind]


async def said(http: httpx.AsyncClient, chat: Chat, db: Any, **what: Any) -> list[dict]:
    """The citizen does `what` in the simulator; Mitra's views in answer, once it settles."""
    before = chat.fake.last_event
    r = await http.post("/simulator/api/send", json={"wa_id": CITIZEN, "name": "Sita", **what})
    assert r.status_code == 200, r.text
    assert r.json()["delivered"] is True
    await chat.settled(db)
    await eventually(lambda: any(e.kind == "out" for e in chat.fake.events(before, CITIZEN)))
    listing = await http.get(
        "/simulator/api/transcript", params={"wa_id": CITIZEN, "after": before}
    )
    return [e["view"] for e in listing.json()["events"] if e["kind"] == "out"]


async def test_a_citizen_in_the_simulator_talks_to_mitra(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat, simulator(settings, chat) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            views = await said(http, chat, db, text="Hi")
            assert views[0]["kind"] == "buttons"
            assert [b["id"] for b in views[0]["buttons"]] == ["lang:te", "lang:en"]
            # Mitra stored it from a webhook whose signature it checked, and answered it.
            stored = db.execute("SELECT count(*) AS n FROM webhook_deliveries").fetchone()
            assert stored["n"] >= 1
            views = await said(
                http, chat, db, reply_id="lang:en", reply_title="English", list=False
            )
            menu = views[-1]
            assert menu["kind"] == "list"
            assert "dept:END" in [r["id"] for s in menu["sections"] for r in s["rows"]]
            views = await said(http, chat, db, reply_id="dept:END", reply_title="Temples")
            assert views[-1]["kind"] == "list"

            # The citizen's side: what they sent, with its ticks; Mitra's, with its statuses.
            sent = events(chat.fake, "in")
            assert [e["message"]["type"] for e in sent] == ["text", "interactive", "interactive"]
            assert sent[1]["message"]["interactive"]["button_reply"]["id"] == "lang:en"
            assert sent[2]["message"]["interactive"]["list_reply"]["id"] == "dept:END"
            states = {(e["wamid"], e["state"]) for e in events(chat.fake, "status")}
            for e in sent:
                assert (e["wamid"], "delivered") in states
            first_reply = events(chat.fake, "out")[0]["wamid"]
            await chat.fake.flush_statuses()
            reported = {
                e["state"] for e in events(chat.fake, "status") if e["wamid"] == first_reply
            }
            assert reported == {"sent", "delivered", "read"}


async def test_the_event_stream_is_live_and_resumes(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat, simulator(settings, chat) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            await said(http, chat, db, text="Hi")
            first = await read_stream(http, {"wa_id": CITIZEN}, until=lambda e: e["kind"] == "out")
            assert first[0]["kind"] == "in" and first[0]["view"] == {"kind": "text", "text": "Hi"}
            assert any(e["kind"] == "out" for e in first)
            last_seen = first[-1]["seq"]
            # Live: the next message arrives on an open stream.
            streamed = asyncio.create_task(
                read_stream(
                    http,
                    {"wa_id": CITIZEN},
                    headers={"Last-Event-ID": str(last_seen)},
                    until=lambda e: e["kind"] == "out",
                )
            )
            await asyncio.sleep(0.3)
            r = await http.post(
                "/simulator/api/send",
                json={
                    "wa_id": CITIZEN,
                    "reply_id": "lang:te",
                    "reply_title": "తెలుగు",
                    "list": False,
                },
            )
            assert r.status_code == 200
            resumed = await asyncio.wait_for(streamed, 30)
            # Resumed after what it had seen: nothing repeated, nothing missed.
            assert all(e["seq"] > last_seen for e in resumed)
            (tapped,) = [e for e in resumed if e["kind"] == "in"]
            assert tapped["view"] == {"kind": "reply", "text": "తెలుగు"}
            seqs = [e["seq"] for e in resumed]
            assert seqs == sorted(set(seqs))
            # Another citizen's events are not in this citizen's stream.
            await http.post("/simulator/api/send", json={"wa_id": "919800000012", "text": "Hi"})
            await chat.settled(db)
            mine = await read_stream(
                http, {"wa_id": CITIZEN, "after": 0}, until=lambda e: e["seq"] >= seqs[-1]
            )
            assert {e["wa_id"] for e in mine} == {CITIZEN}
            # A browser back from a restarted demo is told, then given the new transcript.
            again = await read_stream(
                http,
                {"wa_id": CITIZEN},
                headers={"Last-Event-ID": "0ld0ld00.9999"},
                until=lambda e: e["kind"] == "out",
            )
            assert again[0]["kind"] == "restart"
            assert again[1]["kind"] == "in" and again[1]["view"]["text"] == "Hi"
            refused = await http.get("/simulator/api/events", params={"wa_id": "not-a-number"})
            assert refused.status_code == 422


async def read_stream(
    http: httpx.AsyncClient,
    params: dict[str, Any],
    *,
    until: Any,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Read the event stream until an event satisfies `until`; every event read so far."""
    got: list[dict[str, Any]] = []
    async with http.stream(
        "GET", "/simulator/api/events", params=params, headers=headers or {}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        ids: list[str] = []
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                ids.append(line[3:].strip())
            elif line.startswith("data:"):
                event = json.loads(line[5:].strip())
                assert ids and ids[-1].endswith(f".{event['seq']}"), "each event carries its id"
                got.append(event)
                if until(event):
                    return got
    raise AssertionError("the stream ended")


BAD = [
    ({"text": "Hi"}, "wa_id"),
    ({"wa_id": "abc", "text": "Hi"}, "wa_id"),
    ({"wa_id": "0919800000011", "text": "Hi"}, "wa_id"),
    ({"wa_id": CITIZEN}, "exactly one"),
    ({"wa_id": CITIZEN, "text": "Hi", "location": {"latitude": 1, "longitude": 2}}, "exactly one"),
    ({"wa_id": CITIZEN, "text": "   "}, "empty"),
    ({"wa_id": CITIZEN, "location": {"latitude": 200, "longitude": 80}}, "latitude"),
    ({"wa_id": CITIZEN, "location": {"latitude": "north", "longitude": 80}}, "latitude"),
    (
        {
            "wa_id": CITIZEN,
            "media": {"type": "image", "mime_type": "image/jpeg", "data_base64": "@@"},
        },
        "base64",
    ),
    (
        {"wa_id": CITIZEN, "media": {"type": "exe", "mime_type": "x/y", "data_base64": "AAAA"}},
        "type",
    ),
    ({"wa_id": CITIZEN, "text": "x" * 5000}, "text"),
]


async def test_bad_input_is_refused_and_changes_nothing(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat, simulator(settings, chat) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            for body, reason in BAD:
                r = await http.post("/simulator/api/send", json=body)
                assert r.status_code == 422, (body, r.text)
                assert reason in r.text, (reason, r.text)
            r = await http.post(
                "/simulator/api/send", content=b"not json", headers={"content-type": "text/plain"}
            )
            assert r.status_code == 422
            assert (
                await http.post("/simulator/api/reset", json={"wa_id": "12"})
            ).status_code == 422
            assert chat.fake.last_event == 0, "nothing reached the transcript"
            stored = db.execute("SELECT count(*) AS n FROM webhook_deliveries").fetchone()
            assert stored["n"] == 0, "nothing reached Mitra"


async def test_reset_makes_mitra_meet_the_citizen_afresh(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat, simulator(settings, chat) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await said(http, chat, db, text="Hi")
            await said(http, chat, db, reply_id="lang:te", reply_title="తెలుగు", list=False)
            await said(http, chat, db, text="END-22")  # in the middle of a service
            row = db.execute("SELECT language, consent_at, session_enc FROM citizens").fetchone()
            assert row["language"] == "te" and row["consent_at"] is not None

            r = await http.post("/simulator/api/reset", json={"wa_id": CITIZEN})
            assert r.status_code == 200 and r.json()["known"] is True
            assert [e["kind"] for e in events(chat.fake)] == ["reset"]
            assert chat.received(CITIZEN) == []
            row = db.execute("SELECT language, consent_at, session_enc FROM citizens").fetchone()
            db.commit()
            assert row == {"language": None, "consent_at": None, "session_enc": None}

            views = await said(http, chat, db, text="Hi")
            assert [b["id"] for b in views[0]["buttons"]] == ["lang:te", "lang:en"]
            assert "Choose your language to agree" in views[0]["text"]

            stranger = await http.post("/simulator/api/reset", json={"wa_id": "919800000099"})
            assert stranger.status_code == 200 and stranger.json()["known"] is False


async def test_media_in_the_chat_is_served_safely(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat, simulator(settings, chat) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            photo = {"type": "image", "mime_type": "image/jpeg", "filename": "pothole.jpg"}
            r = await http.post(
                "/simulator/api/send",
                json={
                    "wa_id": CITIZEN,
                    "media": {**photo, "data_base64": base64.b64encode(JPEG).decode()},
                },
            )
            assert r.status_code == 200
            (sent,) = [e for e in chat.fake.events(0, CITIZEN) if e.kind == "in"]
            listing = (
                await http.get("/simulator/api/transcript", params={"wa_id": CITIZEN})
            ).json()
            view = listing["events"][0]["view"]
            assert view["kind"] == "image" and view["media"]["size"] == len(JPEG)
            got = await http.get(view["media"]["url"])
            assert got.content == JPEG
            assert got.headers["content-type"] == "image/jpeg"
            assert got.headers["content-disposition"].startswith("inline")
            assert got.headers["x-content-type-options"] == "nosniff"
            assert sent.data["message"]["image"]["sha256"]

            # A page a "citizen" uploads is never served as a page of this origin.
            page = chat.fake.add_media(b"<script>alert(1)</script>", "text/html", "x.html")
            got = await http.get(f"/simulator/media/{page}")
            assert got.headers["content-type"] == "application/octet-stream"
            assert got.headers["content-disposition"].startswith("attachment")
            # A PDF opens in the browser; ?download=1 saves it.
            pdf = chat.fake.add_media(b"%PDF-1.7 ...", "application/pdf", "receipt.pdf")
            got = await http.get(f"/simulator/media/{pdf}")
            assert got.headers["content-type"] == "application/pdf"
            assert 'filename="receipt.pdf"' in got.headers["content-disposition"]
            got = await http.get(f"/simulator/media/{pdf}", params={"download": 1})
            assert got.headers["content-disposition"].startswith("attachment")
            assert (await http.get("/simulator/media/123")).status_code == 404

            # A voice note is sent as one.
            voice = {
                "type": "audio",
                "mime_type": "audio/ogg",
                "voice": True,
                "data_base64": "T2dnUw==",
            }
            assert (
                await http.post("/simulator/api/send", json={"wa_id": CITIZEN, "media": voice})
            ).status_code == 200
            note = [e for e in chat.fake.events(0, CITIZEN) if e.kind == "in"][-1]
            assert note.data["message"]["audio"]["voice"] is True


async def test_the_map_shows_the_states_places(settings: Any, db: Any) -> None:
    async with sandbox_client(create_sandbox_app()) as departments:
        gazetteer = Gazetteer(departments)

        async def broken() -> list[dict[str, Any]]:
            raise httpx.ConnectError("department systems unreachable")

        async with running_mitra(settings) as chat:
            async with simulator(settings, chat, gazetteer.places) as url:
                places = (await httpx.AsyncClient(base_url=url).get("/simulator/api/places")).json()
            assert len(places["places"]) > 100
            tenali = [p for p in places["places"] if p["name"]["en"] == "Tenali"]
            assert tenali and {"lat", "lon"} <= set(tenali[0]["location"])
            async with simulator(settings, chat, broken) as url:
                r = await httpx.AsyncClient(base_url=url).get("/simulator/api/places")
            assert r.status_code == 200 and r.json() == {"places": []}


async def test_the_page_escapes_and_locks_down(settings: Any, db: Any) -> None:
    async with running_mitra(settings) as chat:
        chat.fake.config.verified_name = "<script>alert('x')</script>"
        async with simulator(settings, chat) as url:
            r = await httpx.AsyncClient(base_url=url).get("/simulator")
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text
        policy = r.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


# ---- views: each WhatsApp message as the phone shows it -------------------------------------


def media_of(media_id: str) -> MediaItem | None:
    if media_id == "77":
        return MediaItem("77", b"%PDF-1.7", "application/pdf", "abc", "certificate.pdf")
    return None


def shown(message: messages.OutboundMessage) -> dict[str, Any]:
    return outbound_view(message.payload, lambda i: f"/m/{i}", media_of)


def test_every_message_mitra_sends_has_a_view() -> None:
    assert shown(messages.text("*Hello*")) == {"kind": "text", "text": "*Hello*"}
    view = shown(messages.reply_buttons("Pick", [("a", "A"), ("b", "B")], footer="f"))
    assert view["kind"] == "buttons" and view["buttons"][1] == {"id": "b", "title": "B"}
    assert view["footer"] == "f"
    view = shown(
        messages.list_message(
            "Which?",
            "Choose",
            [("Section", [("r1", "Row 1", "about row 1"), ("r2", "Row 2", None)])],
        )
    )
    assert view["kind"] == "list" and view["button"] == "Choose"
    assert view["sections"][0]["rows"][0] == {
        "id": "r1",
        "title": "Row 1",
        "description": "about row 1",
    }
    view = shown(messages.cta_url("Pay here", "Pay now", "https://pay.example/l/1"))
    assert view["link"] == {"label": "Pay now", "url": "https://pay.example/l/1"}
    assert shown(messages.location_request("Where?"))["kind"] == "location_request"
    view = shown(messages.document(media_id="77", caption="Your certificate"))
    assert view["media"]["url"] == "/m/77" and view["media"]["filename"] == "certificate.pdf"
    assert view["media"]["mime_type"] == "application/pdf" and view["media"]["size"] == 8
    assert view["media"]["verify_url"] is None, "not a Mitra document: no QR code to follow"
    gone = shown(messages.document(media_id="78", filename="old.pdf"))
    assert gone["media"]["url"] is None and gone["media"]["filename"] == "old.pdf"
    assert shown(messages.image(link="https://x.example/p.jpg"))["media"]["url"].startswith("https")
    assert shown(messages.location(16.3, 80.4, name="Office"))["location"]["name"] == "Office"
    unknown = outbound_view({"type": "reaction", "reaction": {}}, str, media_of)
    assert unknown["kind"] == "unknown"


def test_a_template_shows_its_approved_words() -> None:
    from mitra.whatsapp.templates import load_registry

    registry = load_registry()
    params = {
        "reference": "REV-2026-000001-X",
        "service": "Income certificate",
        "status": "approved",
        "next_step": "none",
    }
    view = shown(registry.build("case_status_update", "en", params))
    assert view["kind"] == "template"
    assert view["text"] == registry.render_text("case_status_update", "en", params)


def test_what_the_citizen_sent_has_a_view() -> None:
    def seen(message: dict[str, Any]) -> dict[str, Any]:
        return inbound_view(message, lambda i: f"/m/{i}", media_of)

    assert seen({"type": "text", "text": {"body": "Hi"}})["text"] == "Hi"
    tap = {
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": "x", "title": "Row"}},
    }
    assert seen(tap) == {"kind": "reply", "text": "Row"}
    button = {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "Yes"}},
    }
    assert seen(button)["text"] == "Yes"
    assert (
        seen({"type": "location", "location": {"latitude": 1, "longitude": 2}})["kind"]
        == "location"
    )
    assert seen({"type": "image", "image": {"id": "77"}})["media"]["url"] == "/m/77"


@pytest.mark.parametrize("state", ["delivered", "failed"])
async def test_the_transcript_says_whether_mitra_took_a_message(state: str) -> None:
    """The citizen's ✓✓ means Mitra's webhook answered 2xx; otherwise the message failed."""

    def webhook(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if state == "delivered" else 503)

    fake = FakeGraph(
        FakeGraphConfig("1", "t", "s", "http://mitra.test/webhook"),
        http=httpx.AsyncClient(transport=httpx.MockTransport(webhook)),
    )
    result = await fake.simulate({"wa_id": CITIZEN, "text": "Hi"})
    kinds = [(e.kind, e.data.get("state")) for e in fake.events()]
    assert kinds == [("in", None), ("status", state)]
    assert fake.events()[1].data["wamid"] == result.wamid
    # Mitra marks it read (with the typing indicator): the transcript says so.
    mark = messages.mark_read_body(result.wamid)
    fake._accept_message(mark)
    assert [(e.kind, e.data.get("state")) for e in fake.events(2)] == [
        ("status", "read"),
        ("typing", None),
    ]
    waiting = asyncio.create_task(fake.wait_for_events(fake.last_event))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    fake.forget(CITIZEN)
    await asyncio.wait_for(waiting, 5)
    assert [e.kind for e in fake.events()] == ["reset"]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fake.wait_for_events(fake.last_event), 0.05)
    await fake.aclose()


@pytest.mark.slow
def test_the_demo_stops_on_ctrl_c_with_a_chat_open(settings: Any, db: Any, tmp_path: Any) -> None:
    """An open simulator page holds an event stream; Ctrl+C still stops the demo (within
    `running_demo`'s 20 s, or it fails) and the stream is closed by the server."""
    opened = threading.Event()
    ended = threading.Event()

    def follow(url: str) -> None:
        with httpx.stream("GET", f"{url}/simulator/api/events", timeout=60) as response:
            assert response.status_code == 200
            opened.set()
            with contextlib.suppress(httpx.HTTPError):
                for _ in response.iter_lines():
                    pass
        ended.set()

    with running_demo(settings.database_url, tmp_path / "demo") as url:
        follower = threading.Thread(target=follow, args=(url,), daemon=True)
        follower.start()
        assert opened.wait(30), "the event stream opened"
    assert ended.wait(10), "the server closed the stream when it stopped"
