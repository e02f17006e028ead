"""What the chat does with payments and bookings, as platform operations run by the worker
for the citizen who asks: make a payment link, list their bookings, cancel one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from mitra.catalogue.loader import Catalogue
from mitra.conversation.render import money
from mitra.crypto import FieldCipher
from mitra.payments import store
from mitra.payments.fulfil import refund_due
from mitra.payments.port import PaymentGateway


def create_payment(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    gateway: PaymentGateway,
    catalogue: Catalogue,
    citizen_id: int,
    effect_id: str,
    args: dict[str, Any],
    link_minutes: int,
) -> dict[str, Any]:
    made = store.create(
        conn,
        cipher,
        gateway,
        catalogue,
        citizen_id=citizen_id,
        effect_id=effect_id,
        args=args,
        now=datetime.now(UTC),
        link_minutes=link_minutes,
    )
    return made.as_result()


def my_bookings(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    citizen_id: int,
    *,
    department: str | None = None,
) -> dict[str, Any]:
    """The citizen's confirmed bookings still to come, newest first, with what cancelling
    each would refund now."""
    rows = conn.execute(
        "SELECT b.booking_id, b.item, b.quantity, b.service, p.amount_paise, p.details_enc"
        " FROM bookings b JOIN payments p ON p.id = b.payment_id"
        " WHERE b.citizen_id = %s AND b.status = 'confirmed' AND b.booking_id IS NOT NULL"
        " AND (%s::text IS NULL OR b.department = %s)"
        " ORDER BY b.created_at DESC LIMIT 20",
        (citizen_id, department, department),
    ).fetchall()
    now = datetime.now(UTC)
    out = []
    for r in rows:
        item = r["item"] if isinstance(r["item"], dict) else orjson.loads(r["item"])
        rule = store.details(cipher, dict(r)).get("refund")
        refund = refund_due(r["amount_paise"], rule, item, now)
        out.append(
            {
                "booking_id": r["booking_id"],
                "label": item.get("label") or {"en": r["service"], "te": r["service"]},
                "date": item.get("date"),
                "quantity": r["quantity"],
                "paid_paise": r["amount_paise"],
                "refund_paise": refund,
                "refund": money(refund),
            }
        )
    return {"bookings": out, "has_bookings": "yes" if out else "no"}


def cancel_booking(
    conn: psycopg.Connection[Any], cipher: FieldCipher, citizen_id: int, booking_id: str
) -> dict[str, Any]:
    """Ask for a booking to be cancelled: the worker cancels it at the department, refunds by
    the service's rule and tells the citizen. Only their own, confirmed booking."""
    row = conn.execute(
        "SELECT b.id, b.item, b.payment_id, p.amount_paise, p.details_enc FROM bookings b"
        " JOIN payments p ON p.id = b.payment_id"
        " WHERE b.booking_id = %s AND b.citizen_id = %s AND b.status = 'confirmed' FOR UPDATE",
        (booking_id.strip().upper(), citizen_id),
    ).fetchone()
    if row is None:
        raise store.PaymentError("not_found", "no such confirmed booking of this citizen")
    item = row["item"] if isinstance(row["item"], dict) else orjson.loads(row["item"])
    rule = store.details(cipher, dict(row)).get("refund")
    refund = refund_due(row["amount_paise"], rule, item, datetime.now(UTC))
    conn.execute(
        "UPDATE bookings SET status = 'cancelling', updated_at = now() WHERE id = %s", (row["id"],)
    )
    conn.execute(
        "UPDATE payments SET fulfilment = 'cancel', fulfil_after = now() WHERE id = %s",
        (row["payment_id"],),
    )
    conn.execute(f"SELECT pg_notify('{store.PAYMENTS_CHANNEL}', '')")
    return {
        "booking_id": booking_id.strip().upper(),
        "refund_paise": refund,
        "refund": money(refund),
    }
