"""Payment gateways' callbacks: `POST /payments/callbacks/{gateway}`.

The signature over the raw body is checked first: 401 when it is missing, 403 when it is
wrong, and nothing changes. A signed event Mitra does not act on is acknowledged with 200 and
changes nothing. Then the event is applied once (mitra.payments.store.apply_event) and
answered 200 — also for a duplicate or an event about a link we do not know, so the gateway
stops retrying; what happened is recorded in `payment_events`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from mitra.payments.port import CallbackRejected
from mitra.payments.store import apply_event

log = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 256 * 1024


def payment_callbacks(pool: Callable[[], ConnectionPool], gateway: Any) -> APIRouter:
    router = APIRouter(prefix="/payments", tags=["payments"])

    @router.post("/callbacks/{name}")
    async def callback(name: str, request: Request) -> JSONResponse:
        if gateway is None or name != gateway.name:
            return JSONResponse({"detail": "no such payment gateway here"}, status_code=404)
        body = await request.body()
        if len(body) > MAX_CALLBACK_BYTES:
            return JSONResponse({"detail": "too large"}, status_code=413)
        try:
            event = gateway.parse_callback(body, {k.lower(): v for k, v in request.headers.items()})
        except CallbackRejected as exc:
            log.warning("payment callback refused: %s", exc.reason)
            if exc.status == 400:
                # Signed by the gateway but not an event we act on: acknowledged, or a gateway
                # such as Razorpay keeps retrying and finally switches the webhook off.
                return JSONResponse({"outcome": "not_a_payment_event"})
            return JSONResponse({"detail": exc.reason}, status_code=exc.status)

        def apply() -> str:
            with pool().connection() as conn:
                return apply_event(conn, gateway.name, event)

        outcome = await asyncio.to_thread(apply)
        if outcome in ("unknown_link", "mismatch"):
            log.warning("payment callback %s: %s", event.event_id, outcome)
        return JSONResponse({"outcome": outcome})

    return router
