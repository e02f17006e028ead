"""Reconciliation: payments still waiting a while after they were made (a callback lost, a
gateway outage) are asked about at the gateway and settled as if its callback had come — with
an event id of our own, so a late real callback is then a harmless duplicate of the state."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from mitra.payments.port import GatewayError, GatewayEvent, PaymentGateway
from mitra.payments.store import apply_event, reconcile_candidates

log = logging.getLogger(__name__)


def reconcile_round(
    conn: psycopg.Connection[Any], gateway: PaymentGateway, older_than: timedelta
) -> dict[str, int]:
    counts = {"checked": 0, "applied": 0}
    with conn.transaction():
        candidates = reconcile_candidates(conn, older_than)
    for row in candidates:
        if row["gateway"] != gateway.name:
            continue
        counts["checked"] += 1
        try:
            status = gateway.fetch(row["link_id"])
        except GatewayError as exc:
            log.warning("reconcile %s: %s", row["link_id"], exc)
            continue
        if status.state == "created":
            continue  # still open at the gateway; expiry will settle it
        event = GatewayEvent(
            event_id=f"reconcile:{row['link_id']}:{status.state}",
            link_id=row["link_id"],
            state=status.state,
            payment_id=status.payment_id,
            amount_paise=status.amount_paid_paise,
            at=datetime.now(UTC),
        )
        if apply_event(conn, gateway.name, event) == "applied":
            counts["applied"] += 1
    return counts
