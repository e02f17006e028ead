"""Payment gateways' callbacks: `POST /payments/callbacks/{gateway}`.

The signature over the raw body is checked first (401 missing, 403 wrong, 400 not a payment
event: nothing changes); then the event is applied once (mitra.payments.store.apply_event) and
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
            return JSONResponse({"detail": exc.reason}, status_code=exc.status)

        def apply() -> str:
            with pool().connection() as conn:
                return apply_event(conn, gateway.name, event)

        outcome = await asyncio.to_thread(apply)
        if outcome in ("unknown_link", "mismatch"):
            log.warning("payment callback %s: %s", event.event_id, outcome)
        return JSONResponse({"outcome": outcome})

    return router
