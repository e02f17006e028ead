"""The ASGI application served by `mitra serve` (and by `mitra demo`)."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mitra import __version__
from mitra.cases.desk import CaseDesk
from mitra.config import Settings
from mitra.console.web import console_routes
from mitra.crypto import FieldCipher
from mitra.documents.signing import PublicKeys, load_signer
from mitra.inbox.deliveries import DeliveryWriter
from mitra.store.db import async_pool
from mitra.web.api import case_api
from mitra.web.payments import payment_callbacks
from mitra.web.verify import verify_routes
from mitra.whatsapp.webhook import WhatsAppWebhook

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/whatsapp"
FAKE_GRAPH_PREFIX = "/fake-graph"
SANDBOX_PREFIX = "/sandbox"


def cipher_for(settings: Settings) -> FieldCipher:
    return FieldCipher(settings.encryption_key_bytes, settings.lookup_key_bytes)


def sync_pool_for(settings: Settings) -> ConnectionPool:
    return ConnectionPool(
        settings.libpq_url,
        min_size=1,
        max_size=4,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=True,
    )


def published_keys(settings: Settings) -> PublicKeys:
    """The signing key's public half and earlier keys still honoured (rotation)."""
    keys = PublicKeys()
    if settings.document_signing_key:
        keys = keys.with_key(load_signer(settings.document_signing_key).public_key)
    for raw in filter(None, (k.strip() for k in settings.document_previous_keys.split(","))):
        keys = keys.with_key(Ed25519PublicKey.from_public_bytes(base64.b64decode(raw)))
    return keys


class WebhookFastPath:
    """Sends Meta's webhook straight to its handler, in front of FastAPI's middleware stack
    (which costs about a third of the CPU of a webhook request); everything else, lifespan
    included, goes to the FastAPI app. Measured in `mitra bench ingest`."""

    def __init__(self, app: FastAPI, webhook: WhatsAppWebhook, path: str) -> None:
        self.app = app
        self.webhook = webhook
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.webhook(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _tune_garbage_collector() -> None:
    """Freeze start-up objects and collect less often: the default thresholds make a full
    collection land in a webhook request every few thousand requests, which was the ingest
    p99 (72 ms → 13 ms measured)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_app(settings: Settings, *, fake_graph: Any = None) -> FastAPI:
    """Build the app. `fake_graph` (a mitra.whatsapp.fake_graph.FakeGraph) is mounted under
    /fake-graph when given: the demo points MITRA_GRAPH_API_URL there."""
    return create_web(settings, fake_graph=fake_graph).app


@dataclass
class Web:
    app: FastAPI
    asgi: WebhookFastPath


def create_web(settings: Settings, *, fake_graph: Any = None) -> Web:
    """The FastAPI app and the ASGI entry point to serve (the app behind the webhook fast
    path)."""
    cipher = cipher_for(settings)
    state: dict[str, Any] = {}

    async def store(body: bytes) -> None:
        await state["writer"].store(cipher.encrypt(body, context=b"webhook"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await async_pool(settings, min_size=2, max_size=8)
        writer = DeliveryWriter(pool)
        writer.start()
        # Officer and verification requests run the (sync) case code in threads.
        sync_pool = sync_pool_for(settings)
        state.update(pool=pool, writer=writer, sync_pool=sync_pool)
        _tune_garbage_collector()
        try:
            if fake_graph is not None:
                async with fake_graph.app.router.lifespan_context(fake_graph.app):
                    yield
            else:
                yield
        finally:
            if "departments" in state:
                await state["departments"].aclose()
            await writer.stop()
            await pool.close()
            await asyncio.to_thread(sync_pool.close)

    app = FastAPI(
        title="Mitra",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    webhook = WhatsAppWebhook(
        app_secret=settings.whatsapp_app_secret,
        verify_token=settings.whatsapp_verify_token,
        max_bytes=settings.webhook_max_bytes,
        store=store,
    )
    # Also routed inside the app, for anyone serving `create_app` without the fast path.
    app.router.routes.append(Route(WEBHOOK_PATH, webhook, methods=["GET", "HEAD", "POST"]))

    @app.get("/healthz", tags=["operations"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when the process is up and the database answers; 503 otherwise."""
        try:
            async with asyncio.timeout(2):
                async with state["pool"].connection() as conn:
                    await conn.execute("SELECT 1")
        except Exception as exc:
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    desk = CaseDesk.from_settings(settings, cipher)
    keys = published_keys(settings)
    app.include_router(case_api(lambda: state["sync_pool"], lambda: desk))
    app.include_router(verify_routes(lambda: state["sync_pool"], cipher, lambda: keys))
    app.include_router(payment_callbacks(lambda: state["sync_pool"], desk.gateway))
    app.include_router(
        console_routes(
            lambda: state["sync_pool"],
            lambda: desk,
            cipher,
            secure=settings.public_url.startswith("https://"),
        )
    )

    if fake_graph is not None:
        from mitra.simulator.web import PREFIX as SIMULATOR_PREFIX
        from mitra.simulator.web import simulator_routes, static_files

        async def places() -> list[dict[str, Any]]:
            """The map's places, through the departments' contract like the gazetteer."""
            if "gazetteer" not in state:
                from mitra.departments.gazetteer import Gazetteer
                from mitra.jobs.department_calls import client_from_settings

                state["departments"] = client_from_settings(settings)
                state["gazetteer"] = Gazetteer(state["departments"])
            return list(await state["gazetteer"].places())

        app.mount(SIMULATOR_PREFIX + "/static", static_files())
        app.include_router(simulator_routes(fake_graph, lambda: state["sync_pool"], cipher, places))
        app.mount(FAKE_GRAPH_PREFIX, fake_graph.app)
    if settings.departments == "sandbox":
        from mitra.departments.sandbox import create_sandbox_app
        from mitra.identity import create_ekyc_sandbox_app

        # Before /sandbox, which would otherwise take /sandbox/ekyc and /sandbox/pay.
        app.mount(SANDBOX_PREFIX + "/ekyc", create_ekyc_sandbox_app(token=settings.ekyc_token))
        if settings.payment_gateway == "sandbox" and settings.payment_webhook_secret:
            from mitra.payments.gateways import SANDBOX_PREFIX as PAY_PREFIX
            from mitra.payments.gateways import callback_url
            from mitra.payments.sandbox import create_payment_gateway_app

            app.mount(
                PAY_PREFIX,
                create_payment_gateway_app(
                    secret=settings.payment_webhook_secret,
                    callback_url=callback_url(settings, "sandbox"),
                ),
            )
        app.mount(SANDBOX_PREFIX, create_sandbox_app())
    return Web(app, WebhookFastPath(app, webhook, WEBHOOK_PATH))
