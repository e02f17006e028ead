"""Payments in PostgreSQL: made from the chat, settled by the gateway's callbacks (or by
reconciliation), exactly once whatever arrives twice, late or out of order.

State of a payment: created → captured | expired; captured → refunded | partially_refunded.
A `failed` attempt leaves it created (the citizen may try again on the same page). Capture
queues its *fulfilment* (`fulfilment = 'pending'`): the worker then gives what was paid for
(mitra.payments.fulfil). A capture of a payment we had given up on (expired) is still taken:
the fulfilment gives the service if it still can, and refunds otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg

from mitra.cases.store import IST, next_serial
from mitra.catalogue.loader import Catalogue
from mitra.crypto import FieldCipher
from mitra.departments.references import make_reference
from mitra.payments.port import GatewayEvent, PaymentGateway

PAYMENTS_CHANNEL = "mitra_payments"
MAX_AMOUNT_PAISE = 10_000_000_00  # ₹1 crore: anything above is a catalogue or input error


class PaymentError(Exception):
    """`kind`: invalid (nothing to pay, a bad amount) | not_found | unavailable."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Made:
    reference: str
    url: str
    amount_paise: int
    expires_at: datetime

    def as_result(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "url": self.url,
            "amount_paise": self.amount_paise,
            "expires_at": self.expires_at.astimezone(IST).isoformat(),
        }


def create(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    gateway: PaymentGateway,
    catalogue: Catalogue,
    *,
    citizen_id: int,
    effect_id: str,
    args: dict[str, Any],
    now: datetime,
    link_minutes: int,
) -> Made:
    """A payment and its link, for the chat's pay step. Idempotent on the effect id, and the
    gateway's link on the payment reference, so a retry makes nothing twice."""
    existing = conn.execute(
        "SELECT reference, link_url, amount_paise, expires_at FROM payments WHERE effect_id = %s",
        (effect_id,),
    ).fetchone()
    if existing is not None:
        return Made(
            existing["reference"],
            existing["link_url"] or "",
            existing["amount_paise"],
            existing["expires_at"],
        )
    service = catalogue.service(str(args.get("service")), int(args.get("version") or 0))
    if service is None:
        raise PaymentError("invalid", "no such service")
    purpose = str(args.get("purpose"))
    hold = orjson.loads(args.get("hold") or "{}") or {}
    account = orjson.loads(args.get("account") or "{}") or {}
    try:
        amount = int(str(args.get("amount") or "").strip())
    except ValueError:
        raise PaymentError("invalid", "the amount is not a number of paise") from None
    if purpose == "booking":
        if not hold.get("hold_id"):
            raise PaymentError("invalid", "a booking payment needs its hold")
        amount = int(hold.get("amount_paise") or amount)  # the department's price wins
    free = purpose == "booking" and amount == 0  # a free darshan is still a booking
    if not (0 < amount <= MAX_AMOUNT_PAISE or free):
        raise PaymentError("invalid", "nothing to pay" if amount <= 0 else "amount too large")
    expires = now + timedelta(minutes=link_minutes)
    if hold.get("expires_at"):
        # The link lasts no longer than the hold, by the department's clock if ours agrees;
        # if the clocks disagree (the hold looks expired already), the usual time, and a
        # payment after the hold is gone is refunded by fulfilment.
        remaining = datetime.fromisoformat(str(hold["expires_at"])) - now
        if remaining > timedelta(0):
            expires = now + min(timedelta(minutes=link_minutes), remaining)
    year = now.astimezone(IST).year
    reference = make_reference("PAY", year, next_serial(conn, "PAY", year))
    details = {
        "language": args.get("language") or "te",
        "description": args.get("description") or service.title.en,
        "account": account,
        "hold": hold,
        "refund": orjson.loads(args.get("refund") or "null"),
        "answers": orjson.loads(args.get("answers") or "{}"),
        "results": orjson.loads(args.get("results") or "{}"),
    }
    row = conn.execute(
        "INSERT INTO payments (reference, citizen_id, effect_id, service, service_version,"
        " department, purpose, purpose_ref, details_enc, amount_paise, gateway, expires_at,"
        " created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            reference,
            citizen_id,
            effect_id,
            service.code,
            service.version,
            service.department,
            purpose,
            hold.get("hold_id") or account.get("number"),
            cipher.encrypt(orjson.dumps(details), context=b"payment_details"),
            amount,
            "none" if free else gateway.name,
            expires,
            now,
            now,
        ),
    ).fetchone()
    assert row is not None
    if free:
        # Nothing to pay: taken at once, and fulfilled (the hold confirmed) like any payment.
        conn.execute(
            "UPDATE payments SET status = 'captured', captured_at = %s, fulfilment = 'pending',"
            " fulfil_after = %s WHERE id = %s",
            (now, now, row["id"]),
        )
        conn.execute(f"SELECT pg_notify('{PAYMENTS_CHANNEL}', '')")
    url = ""
    if not free:
        # Inside the transaction on purpose: if the link cannot be made, no payment is left
        # behind; if the transaction fails after the link was made, the retry gets the same
        # link (the gateway is idempotent on the reference).
        link = gateway.create_link(
            reference=reference,
            amount_paise=amount,
            description=f"{service.title.en} · {reference}",
            expires_at=expires,
        )
        url = link.url
        conn.execute(
            "UPDATE payments SET link_id = %s, link_url = %s WHERE id = %s",
            (link.link_id, link.url, row["id"]),
        )
    if purpose == "booking":
        item = hold.get("item") or {}
        conn.execute(
            "INSERT INTO bookings (payment_id, citizen_id, department, service, hold_id, item,"
            " quantity) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                row["id"],
                citizen_id,
                service.department,
                service.code,
                hold["hold_id"],
                orjson.dumps({**item, "label": hold.get("label")}).decode(),
                int(hold.get("quantity") or 1),
            ),
        )
    return Made(reference, url, amount, expires)


def apply_event(conn: psycopg.Connection[Any], gateway: str, event: GatewayEvent) -> str:
    """Take one verified gateway event into account, once. Returns what it did: applied,
    duplicate, ignored (it changes nothing now), unknown_link or mismatch (paid a different
    amount: held for an operator, never fulfilled)."""
    with conn.transaction():
        recorded = conn.execute(
            "INSERT INTO payment_events (gateway, event_id, state, amount_paise, outcome)"
            " VALUES (%s, %s, %s, %s, 'pending') ON CONFLICT DO NOTHING RETURNING id",
            (gateway, event.event_id, event.state, event.amount_paise),
        ).fetchone()
        if recorded is None:
            return "duplicate"
        payment = conn.execute(
            "SELECT id, status, amount_paise FROM payments WHERE gateway = %s AND link_id = %s"
            " FOR UPDATE",
            (gateway, event.link_id),
        ).fetchone()
        outcome = _apply(conn, payment, event)
        conn.execute(
            "UPDATE payment_events SET outcome = %s, payment_id = %s WHERE id = %s",
            (outcome, payment["id"] if payment else None, recorded["id"]),
        )
    return outcome


def _apply(
    conn: psycopg.Connection[Any], payment: dict[str, Any] | None, event: GatewayEvent
) -> str:
    if payment is None:
        return "unknown_link"
    status = payment["status"]
    if event.state == "paid":
        if status not in ("created", "expired"):
            return "ignored"  # captured already (or refunded since): nothing to do twice
        if event.amount_paise != payment["amount_paise"]:
            conn.execute(
                "UPDATE payments SET fulfil_error = %s, updated_at = now() WHERE id = %s",
                (
                    f"paid {event.amount_paise} paise, expected {payment['amount_paise']}",
                    payment["id"],
                ),
            )
            return "mismatch"
        conn.execute(
            "UPDATE payments SET status = 'captured', captured_at = %s, gateway_payment_id = %s,"
            " fulfilment = 'pending', fulfil_after = now(), updated_at = now() WHERE id = %s",
            (event.at, event.payment_id, payment["id"]),
        )
        conn.execute(f"SELECT pg_notify('{PAYMENTS_CHANNEL}', '')")
        return "applied"
    if event.state in ("expired", "cancelled") and status == "created":
        conn.execute(
            "UPDATE payments SET status = 'expired', fulfilment = 'expire', fulfil_after = now(),"
            " updated_at = now() WHERE id = %s",
            (payment["id"],),
        )
        conn.execute(f"SELECT pg_notify('{PAYMENTS_CHANNEL}', '')")
        return "applied"
    return "ignored"  # a failed attempt (they may try again), or news older than what we know


def reconcile_candidates(
    conn: psycopg.Connection[Any], older_than: timedelta, batch: int = 50
) -> list[dict[str, Any]]:
    """Payments still waiting on the gateway a while after they were made, or past expiry."""
    rows = conn.execute(
        "SELECT id, gateway, link_id FROM payments WHERE status = 'created'"
        " AND link_id IS NOT NULL"
        " AND (created_at < now() - make_interval(secs => %s) OR expires_at < now())"
        " ORDER BY created_at LIMIT %s",
        (older_than.total_seconds(), batch),
    ).fetchall()
    return [dict(r) for r in rows]


def details(cipher: FieldCipher, row: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(
        cipher.decrypt(bytes(row["details_enc"]), context=b"payment_details")
    )
    return value
