"""The fake Graph API answers like Meta: auth, limits, throughput, statuses, media, citizens.

The fake runs in-process behind `httpx.ASGITransport`; its webhook POSTs go to a recorder
(an `httpx.MockTransport`) that checks every signature over the bytes it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from mitra.whatsapp.fake_graph import FakeGraph, FakeGraphConfig, create_fake_graph_app
from mitra.whatsapp.signature import HEADER, signature_matches

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-fake-token-0123456789"
APP_SECRET = "fake-app-secret"
WEBHOOK_URL = "http://mitra.test/webhooks/whatsapp"
RAVI = "919876543210"
LAKSHMI = "919123456789"


class FrozenClock:
    """A clock that only moves when told, so throughput and expiry are deterministic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class WebhookRecorder:
    """Plays Mitra's webhook: records each POST and whether its signature matched."""

    fail_first: int = 0  # answer 500 to this many POSTs first
    bodies: list[bytes] = field(default_factory=list)
    signatures_ok: list[bool] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return httpx.Response(500)
        body = request.content
        self.bodies.append(body)
        self.signatures_ok.append(
            signature_matches(body, request.headers.get(HEADER, ""), APP_SECRET)
        )
        return httpx.Response(200)

    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

    def statuses(self) -> list[dict[str, Any]]:
        return [
            status
            for envelope in self.envelopes()
            for entry in envelope["entry"]
            for change in entry["changes"]
            for status in change["value"].get("statuses", [])
        ]


@dataclass
class Harness:
    fake: FakeGraph
    graph: httpx.AsyncClient  # Mitra's side: talks to the fake
    webhook: WebhookRecorder
    clock: FrozenClock

    async def send(self, body: dict[str, Any], token: str = TOKEN) -> httpx.Response:
        return await self.graph.post(
            f"/{PHONE_NUMBER_ID}/messages",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )


@contextlib.asynccontextmanager
async def fake_graph(
    *, webhook: WebhookRecorder | None = None, **config: Any
) -> AsyncIterator[Harness]:
    recorder = webhook or WebhookRecorder()
    clock = FrozenClock()
    settings: dict[str, Any] = {"webhook_url": WEBHOOK_URL, "clock": clock} | config
    webhook_http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.handle))
    fake = create_fake_graph_app(
        FakeGraphConfig(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=TOKEN,
            app_secret=APP_SECRET,
            **settings,
        ),
        http=webhook_http,
    )
    graph = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake.app), base_url="http://graph.test"
    )
    try:
        yield Harness(fake, graph, recorder, clock)
    finally:
        await graph.aclose()
        await fake.aclose()
        await webhook_http.aclose()


def text(to: str, body: str, **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body, "preview_url": False},
        **extra,
    }


def list_message(to: str, rows: int) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Services"},
            "body": {"text": "What do you need?"},
            "footer": {"text": "Mitra"},
            "action": {
                "button": "Choose",
                "sections": [
                    {
                        "title": "Certificates",
                        "rows": [
                            {"id": f"svc-{i}", "title": f"Service {i}", "description": "…"}
                            for i in range(rows)
                        ],
                    }
                ],
            },
        },
    }


def buttons(to: str, *titles: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Choose a language"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": f"b{i}", "title": title}}
                    for i, title in enumerate(titles)
                ]
            },
        },
    }


def error_code(response: httpx.Response) -> int:
    return int(response.json()["error"]["code"])


async def test_graph_calls_need_the_access_token() -> None:
    async with fake_graph() as h:
        missing = await h.graph.post(f"/{PHONE_NUMBER_ID}/messages", json=text(RAVI, "Hi"))
        wrong = await h.send(text(RAVI, "Hi"), token="not-the-token")
        media = await h.graph.get("/1234567890")

        for response in (missing, wrong, media):
            assert response.status_code == 401
            assert error_code(response) == 190
        assert h.fake.sent() == []
        assert (await h.graph.get("/_fake/stats")).status_code == 200


async def test_a_phone_number_id_that_is_not_ours_is_refused() -> None:
    async with fake_graph() as h:
        response = await h.graph.post(
            "/999/messages", json=text(RAVI, "Hi"), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 400
        assert error_code(response) == 100


async def test_text_list_and_buttons_are_accepted_and_recorded() -> None:
    async with fake_graph() as h:
        bodies = [text(RAVI, "నమస్తే"), list_message(RAVI, 10), buttons(RAVI, "తెలుగు", "English")]
        responses = [await h.send(body) for body in bodies]

        for response in responses:
            assert response.status_code == 200
            answer = response.json()
            assert answer["messaging_product"] == "whatsapp"
            assert answer["contacts"] == [{"input": RAVI, "wa_id": RAVI}]
            assert answer["messages"][0]["id"].startswith("wamid.")
        sent = h.fake.sent(RAVI)
        assert [m.body for m in sent] == bodies
        assert [m.wamid for m in sent] == [r.json()["messages"][0]["id"] for r in responses]

        listed = (await h.graph.get("/_fake/messages", params={"to": RAVI})).json()
        assert [m["wamid"] for m in listed] == [m.wamid for m in sent]
        assert (await h.graph.get("/_fake/messages", params={"to": LAKSHMI})).json() == []


async def test_messages_over_whatsapps_limits_are_refused_and_not_recorded() -> None:
    async with fake_graph() as h:
        eleven_rows = await h.send(list_message(RAVI, 11))
        long_button = await h.send(buttons(RAVI, "x" * 21))
        long_text = await h.send(text(RAVI, "x" * 4097))

        assert (eleven_rows.status_code, error_code(eleven_rows)) == (400, 131009)
        assert (long_button.status_code, error_code(long_button)) == (400, 131009)
        assert (long_text.status_code, error_code(long_text)) == (400, 100)
        error = eleven_rows.json()["error"]
        assert error["type"] == "OAuthException"
        assert error["error_data"]["details"]
        assert error["fbtrace_id"]
        assert h.fake.sent() == []
        assert h.fake.stats.rejected == {131009: 2, 100: 1}


async def test_a_burst_beyond_the_numbers_throughput_gets_130429() -> None:
    async with fake_graph(rate=5) as h:
        burst = [await h.send(text(RAVI, f"message {i}")) for i in range(20)]

        assert [r.status_code for r in burst] == [200] * 5 + [400] * 15
        assert {error_code(r) for r in burst[5:]} == {130429}
        assert len(h.fake.sent()) == 5

        h.clock.advance(1.0)  # a second later the bucket is full again
        again = [await h.send(text(RAVI, f"later {i}")) for i in range(6)]
        assert [r.status_code for r in again] == [200] * 5 + [400]


async def test_an_injected_pair_rate_limit_hits_one_citizen_only() -> None:
    async with fake_graph() as h:
        injected = await h.graph.post(
            "/_fake/errors", json={"code": 131056, "http_status": 400, "count": 2, "to": RAVI}
        )
        assert injected.status_code == 200

        to_ravi = await h.send(text(RAVI, "one"))
        to_lakshmi = await h.send(text(LAKSHMI, "one"))
        to_ravi_again = await h.send(text(RAVI, "two"))
        to_ravi_later = await h.send(text(RAVI, "three"))

        assert error_code(to_ravi) == 131056
        assert to_lakshmi.status_code == 200
        assert error_code(to_ravi_again) == 131056
        assert to_ravi_later.status_code == 200
        assert [m.to for m in h.fake.sent()] == [LAKSHMI, RAVI]


async def test_statuses_reach_the_webhook_signed_batched_and_in_order() -> None:
    async with fake_graph() as h:
        first = await h.send(text(RAVI, "Your certificate is ready", biz_opaque_callback_data="c1"))
        second = await h.send(text(LAKSHMI, "Hi", biz_opaque_callback_data="c2"))
        wamids = [r.json()["messages"][0]["id"] for r in (first, second)]

        assert await h.fake.flush_statuses() == 6

        assert len(h.webhook.bodies) == 1  # one batch
        assert h.webhook.signatures_ok == [True]
        [envelope] = h.webhook.envelopes()
        assert envelope["object"] == "whatsapp_business_account"
        value = envelope["entry"][0]["changes"][0]["value"]
        assert value["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
        statuses = value["statuses"]
        for wamid, recipient, callback in zip(wamids, [RAVI, LAKSHMI], ["c1", "c2"], strict=True):
            mine = [s for s in statuses if s["id"] == wamid]
            assert [s["status"] for s in mine] == ["sent", "delivered", "read"]
            assert {s["recipient_id"] for s in mine} == {recipient}
            assert {s["biz_opaque_callback_data"] for s in mine} == {callback}
        assert [m.statuses for m in h.fake.sent()] == [["sent", "delivered", "read"]] * 2
        assert await h.fake.flush_statuses() == 0


async def test_citizens_who_do_not_read_leave_messages_delivered() -> None:
    async with fake_graph(report_read=False) as h:
        await h.send(text(RAVI, "Hi"))
        await h.fake.flush_statuses()
        assert [s["status"] for s in h.webhook.statuses()] == ["sent", "delivered"]


async def test_the_app_lifespan_runs_the_status_flusher() -> None:
    async with fake_graph(status_delay=0.01, clock=asyncio.get_running_loop().time) as h:
        async with h.fake.app.router.lifespan_context(h.fake.app):
            await h.send(text(RAVI, "Hi"))
            for _ in range(100):
                if len(h.webhook.statuses()) == 3:
                    break
                await asyncio.sleep(0.01)
        assert [s["status"] for s in h.webhook.statuses()] == ["sent", "delivered", "read"]
        assert all(h.webhook.signatures_ok)


async def test_a_failing_webhook_is_retried_then_the_batch_is_dropped() -> None:
    flaky = WebhookRecorder(fail_first=1)
    async with fake_graph(webhook=flaky, webhook_retry_delay=0.001) as h:
        await h.send(text(RAVI, "Hi"))
        assert await h.fake.flush_statuses() == 3
        assert h.fake.stats.webhooks_posted == 1
        assert h.fake.stats.webhook_failures == 0

    down = WebhookRecorder(fail_first=100)
    async with fake_graph(webhook=down, webhook_attempts=3, webhook_retry_delay=0.001) as h:
        await h.send(text(RAVI, "Hi"))
        assert await h.fake.flush_statuses() == 0
        stats = (await h.graph.get("/_fake/stats")).json()
        assert stats["webhook_failures"] == 1
        assert stats["statuses_dropped"] == 3
        assert down.fail_first == 97  # three attempts
        assert h.fake.sent()[0].statuses == []


async def test_without_a_webhook_no_statuses_are_sent() -> None:
    async with fake_graph(webhook_url=None) as h:
        assert (await h.send(text(RAVI, "Hi"))).status_code == 200
        assert await h.fake.flush_statuses() == 0
        assert h.webhook.bodies == []


async def test_mark_read_is_recorded_not_sent() -> None:
    async with fake_graph() as h:
        response = await h.send(
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "wamid.CITIZEN1",
                "typing_indicator": {"type": "text"},
            }
        )
        assert response.json() == {"success": True}
        assert h.fake.reads == ["wamid.CITIZEN1"]
        assert h.fake.sent() == []


async def test_only_approved_templates_are_accepted() -> None:
    async with fake_graph(templates={"certificate_ready"}) as h:

        def template(name: str) -> dict[str, Any]:
            return {
                "messaging_product": "whatsapp",
                "to": RAVI,
                "type": "template",
                "template": {"name": name, "language": {"code": "te"}},
            }

        assert (await h.send(template("certificate_ready"))).status_code == 200
        assert error_code(await h.send(template("unknown_template"))) == 132001


async def test_a_versioned_graph_path_works_too() -> None:
    async with fake_graph() as h:
        response = await h.graph.post(
            f"/v25.0/{PHONE_NUMBER_ID}/messages",
            json=text(RAVI, "Hi"),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 200


async def test_media_upload_info_download_and_expiry() -> None:
    pdf = b"%PDF-1.7\r\n\x00\xff binary \r\n--not-a-boundary\r\n"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with fake_graph() as h:
        uploaded = await h.graph.post(
            f"/{PHONE_NUMBER_ID}/media",
            data={"messaging_product": "whatsapp", "type": "application/pdf"},
            files={"file": ("certificate.pdf", pdf, "application/pdf")},
            headers=auth,
        )
        media_id = uploaded.json()["id"]

        info = (await h.graph.get(f"/{media_id}", headers=auth)).json()
        assert info["id"] == media_id
        assert info["mime_type"] == "application/pdf"
        assert info["file_size"] == len(pdf)
        assert info["messaging_product"] == "whatsapp"

        assert (await h.graph.get(info["url"])).status_code == 401
        downloaded = await h.graph.get(info["url"], headers=auth)
        assert downloaded.content == pdf

        h.clock.advance(301)
        assert (await h.graph.get(info["url"], headers=auth)).status_code == 404
        fresh = (await h.graph.get(f"/{media_id}", headers=auth)).json()["url"]
        assert (await h.graph.get(fresh, headers=auth)).content == pdf

        unknown = await h.graph.get("/424242", headers=auth)
        assert (unknown.status_code, error_code(unknown)) == (400, 100)


async def test_simulate_posts_a_signed_text_envelope_to_the_webhook() -> None:
    async with fake_graph() as h:
        response = await h.graph.post(
            "/_fake/simulate", json={"wa_id": RAVI, "name": "Ravi", "text": "హలో"}
        )

        assert response.status_code == 200
        result = response.json()
        assert result["status"] == 200
        assert h.webhook.signatures_ok == [True]
        assert b"\\u0c39" in h.webhook.bodies[0]  # non-ASCII escaped, as Meta sends it
        value = h.webhook.envelopes()[0]["entry"][0]["changes"][0]["value"]
        assert value["contacts"][0] == {"profile": {"name": "Ravi"}, "wa_id": RAVI}
        [message] = value["messages"]
        assert message["id"] == result["wamid"]
        assert message["from"] == RAVI
        assert (message["type"], message["text"]) == ("text", {"body": "హలో"})


async def test_simulated_taps_quote_the_message_they_answer() -> None:
    async with fake_graph() as h:
        menu = await h.send(list_message(RAVI, 3))
        await h.fake.simulate_reply(RAVI, "svc-1", "Service 1")
        await h.fake.simulate_location(RAVI, 17.385, 78.4867)

        reply, location = [
            envelope["entry"][0]["changes"][0]["value"]["messages"][0]
            for envelope in h.webhook.envelopes()
        ]
        assert reply["interactive"] == {
            "type": "list_reply",
            "list_reply": {"id": "svc-1", "title": "Service 1"},
        }
        assert reply["context"]["id"] == menu.json()["messages"][0]["id"]
        assert location["location"] == {"latitude": 17.385, "longitude": 78.4867}


async def test_control_endpoints_clear_and_count() -> None:
    async with fake_graph() as h:
        await h.send(text(RAVI, "Hi"))
        h.fake.inject_error(131047)
        await h.send(text(RAVI, "Hi again"))

        stats = (await h.graph.get("/_fake/stats")).json()
        assert stats["accepted"] == 1
        assert stats["rejected"] == {"131047": 1}
        assert (await h.graph.delete("/_fake/messages")).json() == {"cleared": 1}
        assert h.fake.sent() == []
        assert (await h.graph.post("/_fake/simulate", json={"wa_id": RAVI})).status_code == 400
