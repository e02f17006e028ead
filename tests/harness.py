"""An in-process Mitra: the real app, the real worker and the fake Graph API, talking HTTP
through in-process transports. Tests read it like a chat: `await chat.say(wa, "Hi")`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from mitra.config import Settings
from mitra.departments.sandbox import create_sandbox_app
from mitra.departments.sandbox_client import sandbox_client
from mitra.identity import EkycDesk, HttpEkycProvider, create_ekyc_sandbox_app
from mitra.jobs.worker import Worker
from mitra.payments.sandbox import SIGNATURE_HEADER, create_payment_gateway_app, sign
from mitra.web.app import WEBHOOK_PATH, create_web
from mitra.whatsapp.fake_graph import FakeGraph, FakeGraphConfig, SentMessage, create_fake_graph_app
from tests.conftest import ACCESS_TOKEN, APP_SECRET, PAYMENT_SECRET, PHONE_NUMBER_ID
from tests.identity.ekyc_helpers import serving

MITRA_BASE = "http://mitra.test"
GRAPH_BASE = "http://fake-graph.test"


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def body_text(m: SentMessage) -> str:
    b = m.body
    if b.get("type") == "text":
        return str(b["text"]["body"])
    if b.get("type") == "interactive":
        inter = b["interactive"]
        text = str(inter["body"]["text"])
        if inter.get("type") == "cta_url":  # a link button: its words are read too
            text += "\n" + str(inter["action"]["parameters"]["display_text"])
        return text
    return ""


def choices(m: SentMessage) -> list[tuple[str, str]]:
    """(id, title) of the buttons or list rows offered in a message."""
    inter = m.body.get("interactive") or {}
    if inter.get("type") == "button":
        return [(b["reply"]["id"], b["reply"]["title"]) for b in inter["action"]["buttons"]]
    if inter.get("type") == "list":
        return [(r["id"], r["title"]) for s in inter["action"]["sections"] for r in s["rows"]]
    return []


@dataclass
class Chat:
    fake: FakeGraph
    worker: Worker
    mitra_http: httpx.AsyncClient
    sandbox: Any = None  # the sandbox department systems' app (to inject faults)
    graph_http: Any = None  # an HTTP client to the fake Graph API (to download media)
    gateway_url: str = ""  # the sandbox payment gateway

    async def settle(self, link_url: str, state: str = "paid") -> dict[str, Any]:
        """Act on a payment page as the citizen would (pay / fail / cancel); return the event
        the gateway would call back with (None if nothing changed)."""
        link_id = link_url.rstrip("/").rsplit("/", 1)[-1]
        async with httpx.AsyncClient(base_url=self.gateway_url) as http:
            r = await http.post(f"/_sandbox/links/{link_id}/settle", json={"state": state})
            assert r.status_code == 200, r.text
            return dict(r.json())

    async def call_back(
        self, event: dict[str, Any], *, secret: str = PAYMENT_SECRET
    ) -> httpx.Response:
        """Deliver a gateway callback to Mitra, signed as the sandbox gateway signs."""
        body = orjson.dumps(event)
        return await self.mitra_http.post(
            "/payments/callbacks/sandbox",
            content=body,
            headers={"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)},
        )

    async def department_fault(self, department: str, mode: str, count: int | None = None) -> None:
        transport = httpx.ASGITransport(app=self.sandbox)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
            body: dict[str, Any] = {"department": department, "mode": mode}
            if count is not None:
                body["count"] = count
            r = await c.post("/_sandbox/faults", json=body)
            assert r.status_code < 300, r.text

    def received(self, wa_id: str) -> list[SentMessage]:
        return self.fake.sent(to=wa_id)

    async def say(self, wa_id: str, text: str, *, expect: int = 1) -> list[SentMessage]:
        """The citizen sends text; wait for `expect` new replies and return them."""
        before = len(self.received(wa_id))
        sim = await self.fake.simulate_text(wa_id, text)
        assert sim.status == 200
        return await self.replies_after(wa_id, before, expect)

    async def tap(
        self, wa_id: str, reply_id: str, title: str, *, list_reply: bool, expect: int = 1
    ) -> list[SentMessage]:
        before = len(self.received(wa_id))
        sim = await self.fake.simulate_reply(wa_id, reply_id, title, list_reply=list_reply)
        assert sim.status == 200
        return await self.replies_after(wa_id, before, expect)

    async def replies_after(self, wa_id: str, before: int, expect: int) -> list[SentMessage]:
        await eventually(
            lambda: len(self.received(wa_id)) >= before + expect, what=f"{expect} replies"
        )
        return self.received(wa_id)[before:]

    async def settled(self, db: Any) -> None:
        """Wait until every stored delivery is split, every event processed, every department
        call answered, every document and photo due now uploaded and every reply sent: after
        this, nothing more will reach the fake unless something new arrives (or a failed
        upload's retry comes due)."""

        def idle() -> bool:
            row = db.execute(
                "SELECT (SELECT count(*) FROM webhook_deliveries WHERE split_at IS NULL)"
                " + (SELECT count(*) FROM inbound_events WHERE processed_at IS NULL)"
                " + (SELECT count(*) FROM outbound_messages WHERE status IN ('queued', 'sending'))"
                " + (SELECT count(*) FROM effects WHERE status IN ('queued', 'running'))"
                " + (SELECT count(*) FROM document_deliveries"
                "    WHERE status IN ('queued', 'uploading') AND not_before <= now())"
                " + (SELECT count(*) FROM media_deliveries"
                "    WHERE status IN ('queued', 'uploading') AND not_before <= now())"
                " AS busy"
            ).fetchone()
            db.commit()
            return int(row["busy"]) == 0

        await eventually(idle, what="the pipeline to settle")

    async def post(self, payload: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.mitra_http.post(WEBHOOK_PATH, content=payload, headers=headers)


@contextlib.asynccontextmanager
async def running_mitra(
    settings: Settings,
    *,
    sandbox: dict[str, Any] | None = None,
    now: Callable[[], datetime] | None = None,
    **fake_options: Any,
) -> AsyncIterator[Chat]:
    """`sandbox`: options of the sandbox departments (clock, capacities); `now`: the worker's
    clock (the conversation's "today"), real time by default."""
    # The sandbox payment gateway over real HTTP (Mitra calls it synchronously). It does not
    # call back by itself here: tests settle a link and deliver the signed callback
    # (`Chat.pay`), so they can also repeat, reorder or forge it.
    gateway_app = create_payment_gateway_app(secret=PAYMENT_SECRET, callback_url=None)
    with serving(gateway_app) as gateway_url:
        async with _running_mitra(
            settings, gateway_url, sandbox or {}, now, **fake_options
        ) as chat:
            yield chat


@contextlib.asynccontextmanager
async def _running_mitra(
    settings: Settings,
    gateway_url: str,
    sandbox_options: dict[str, Any],
    now: Callable[[], datetime] | None,
    **fake_options: Any,
) -> AsyncIterator[Chat]:
    settings = settings.model_copy(
        update={"graph_api_url": GRAPH_BASE, "payment_gateway_url": gateway_url}
    )
    web = create_web(settings)
    async with web.app.router.lifespan_context(web.app):
        mitra_http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web.asgi), base_url=MITRA_BASE
        )
        fake = create_fake_graph_app(
            FakeGraphConfig(
                phone_number_id=PHONE_NUMBER_ID,
                access_token=ACCESS_TOKEN,
                app_secret=APP_SECRET,
                webhook_url=MITRA_BASE + WEBHOOK_PATH,
                **fake_options,
            ),
            http=mitra_http,
        )
        await fake.start()
        graph_http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake.app), base_url=GRAPH_BASE
        )
        try:
            sandbox = create_sandbox_app(**sandbox_options)
            # The e-KYC sandbox over real HTTP (the processor calls it synchronously).
            # Every example may use the same sample Aadhaar number: no hourly OTP limit here
            # (tests/identity checks the limit itself).
            desk = EkycDesk(max_otp_requests=1_000_000)
            with serving(create_ekyc_sandbox_app(desk=desk)) as ekyc_url:
                ekyc = HttpEkycProvider(ekyc_url, "")
                async with sandbox_client(sandbox) as departments:
                    worker = Worker(
                        settings,
                        http=graph_http,
                        departments=departments,
                        ekyc=ekyc,
                        **({"now": now} if now is not None else {}),
                    )
                    async with _running(worker):
                        yield Chat(fake, worker, mitra_http, sandbox, graph_http, gateway_url)
                    # Fitness: nothing Mitra sent in any test broke WhatsApp's limits.
                    invalid = {c: n for c, n in fake.stats.rejected.items() if c in (100, 131009)}
                    assert not invalid, f"Mitra sent invalid payloads: {invalid}"
        finally:
            await fake.aclose()
            await graph_http.aclose()
            await mitra_http.aclose()


@contextlib.asynccontextmanager
async def _running(worker: Worker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
