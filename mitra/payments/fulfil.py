"""Giving what was paid for, once the money is in — run by the worker, for any citizen,
whether or not they are still in the conversation.

A captured payment is claimed (`fulfilment` pending → running, `SKIP LOCKED`), the
department is told (a bill credited, a hold confirmed into a booking) with the payment
reference as the idempotency key, and then, in one transaction: the receipt or e-ticket is
issued, the citizen's message queued, the PDF's delivery queued, and the fulfilment marked
done. If the department refuses for good (the hold expired and was sold), the payment is
refunded in full and the citizen told. If it is unavailable, the fulfilment is tried again
later. Expired payments release their hold; cancelled bookings are cancelled at the
department and refunded by the service's rule.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from mitra.cases.delivery import deliver
from mitra.cases.desk import CaseDesk
from mitra.cases.store import IST
from mitra.conversation.locale import t
from mitra.conversation.render import localized, money
from mitra.documents.model import Bilingual
from mitra.outbox.queue import PRIORITY_NOTIFICATION, enqueue
from mitra.payments import store
from mitra.payments.port import GatewayError, PaymentGateway
from mitra.whatsapp import messages

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=30)
STUCK_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 20
SIGNATORY = Bilingual("Authorised Signatory", "అధీకృత సంతకందారు")


@dataclass
class Claimed:
    row: dict[str, Any]
    details: dict[str, Any]


@dataclass
class Fulfiller:
    desk: CaseDesk
    gateway: PaymentGateway
    departments: Any  # mitra.departments.client.DepartmentClient

    async def round(self, conn: psycopg.Connection[Any]) -> int:
        claimed = await asyncio.to_thread(self._claim_with_kind, conn)
        for job, kind in claimed:
            try:
                await self._one(conn, job, kind)
            except Exception:
                log.exception("payment %s: fulfilment failed", job.row["reference"])
                await asyncio.to_thread(self._retry, conn, job, "internal error", kind)
        return len(claimed)

    def _claim_with_kind(self, conn: psycopg.Connection[Any]) -> list[tuple[Claimed, str]]:
        # What to do is decided before claiming overwrites `fulfilment` with 'running'.
        with conn.transaction():
            kinds = {
                r["id"]: r["fulfilment"]
                for r in conn.execute(
                    "SELECT id, fulfilment FROM payments WHERE fulfilment IN"
                    " ('pending', 'expire', 'cancel') AND fulfil_after <= now()"
                    " ORDER BY fulfil_after LIMIT 8 FOR UPDATE SKIP LOCKED"
                ).fetchall()
            }
            if not kinds:
                return []
            rows = conn.execute(
                "UPDATE payments SET fulfilment = 'running', fulfil_after = now(),"
                " fulfil_attempts = fulfil_attempts + 1 WHERE id = ANY(%s) RETURNING *",
                (list(kinds),),
            ).fetchall()
        return [
            (Claimed(dict(r), store.details(self.desk.cipher, dict(r))), kinds[r["id"]])
            for r in rows
        ]

    async def _one(self, conn: psycopg.Connection[Any], job: Claimed, kind: str) -> None:
        p, d = job.row, job.details
        department = p["department"]
        if kind == "expire":
            if p["purpose"] == "booking":
                await self._quietly(self.departments.release_hold(department, p["purpose_ref"]))
            await asyncio.to_thread(self._finish_expired, conn, job)
            return
        if kind == "cancel":
            await self._cancel(conn, job)
            return
        # pending: money is in; give the service.
        outcome: dict[str, Any] = {}
        try:
            if p["purpose"] == "bill":
                outcome = await self.departments.pay_account(
                    d["account"]["kind"],
                    d["account"]["number"],
                    p["amount_paise"],
                    p["reference"],
                    (p["captured_at"] or datetime.now(UTC)).isoformat(),
                    p["reference"],
                )
            elif p["purpose"] == "booking":
                outcome = await self.departments.confirm_hold(department, p["purpose_ref"])
        except Exception as exc:
            kind_of = getattr(exc, "kind", None) or "unavailable"
            if kind_of in ("unavailable", "unauthorized"):
                await asyncio.to_thread(self._retry, conn, job, str(exc), "pending")
                return
            # Refused for good (the hold expired and its seats went to someone else …).
            await asyncio.to_thread(self._refund_and_tell, conn, job, kind_of)
            return
        await asyncio.to_thread(self._complete, conn, job, outcome)

    async def _quietly(self, call: Any) -> None:
        try:
            await call
        except Exception as exc:  # an expired hold is given back by the department anyway
            log.info("releasing a hold: %s", exc)

    # ---- the transactions -------------------------------------------------------------

    def _complete(
        self, conn: psycopg.Connection[Any], job: Claimed, outcome: dict[str, Any]
    ) -> None:
        p, d = job.row, job.details
        now = datetime.now(UTC)
        service = self.desk.catalogue.service(p["service"], p["service_version"])
        lang = d.get("language") or "te"
        with conn.transaction():
            results = {
                **d.get("results", {}),
                "payment": {
                    "reference": p["reference"],
                    "amount_paise": p["amount_paise"],
                    "paid_at": (p["captured_at"] or now).astimezone(IST).isoformat(),
                    "gateway_payment_id": p["gateway_payment_id"],
                },
                "outcome": outcome,
            }
            document_id = None
            issuer = self.desk.issuer
            if service is not None and service.document is not None and issuer is not None:
                department = self.desk.catalogue.department(p["department"])
                name = department.name if department else None
                document_id = issuer.issue(
                    conn,
                    service=service,
                    answers=d.get("answers", {}),
                    results=results,
                    holder_name=self._holder(conn, p, d),
                    reference=str(outcome.get("booking_id") or p["reference"]),
                    office=(
                        p["department"],
                        {"en": name.en, "te": name.te} if name else {"en": "", "te": ""},
                    ),
                    officer=("Digitally signed", SIGNATORY),
                    citizen_id=p["citizen_id"],
                    payment_id=p["id"],
                    now=now,
                )
            conn.execute(
                "UPDATE payments SET fulfilment = 'done', receipt_document_id = %s,"
                " fulfil_error = NULL, updated_at = now() WHERE id = %s",
                (document_id, p["id"]),
            )
            if p["purpose"] == "booking":
                conn.execute(
                    "UPDATE bookings SET status = 'confirmed', booking_id = %s,"
                    " ticket_document_id = %s, updated_at = now() WHERE payment_id = %s",
                    (outcome.get("booking_id"), document_id, p["id"]),
                )
            title = service.title(lang) if service else p["service"]
            if p["purpose"] == "booking":
                label = localized((d.get("hold") or {}).get("label"), lang)
                text = t(
                    lang,
                    "booking_confirmed",
                    booking=str(outcome.get("booking_id") or ""),
                    what=label or title,
                    amount=money(p["amount_paise"]),
                )
            else:
                text = t(
                    lang,
                    "payment_received",
                    amount=money(p["amount_paise"]),
                    what=title,
                    reference=p["reference"],
                )
            self._tell(conn, p["citizen_id"], text)
            if document_id is not None:
                deliver(conn, document_id, p["citizen_id"])

    def _holder(self, conn: psycopg.Connection[Any], p: dict[str, Any], d: dict[str, Any]) -> str:
        answers = d.get("answers") or {}
        for key in ("name", "donor", "passenger", "devotee"):
            if isinstance(answers.get(key), str) and answers[key].strip():
                return str(answers[key]).strip()
        row = conn.execute(
            "SELECT profile_name_enc FROM citizens WHERE id = %s", (p["citizen_id"],)
        ).fetchone()
        if row is not None and row["profile_name_enc"]:
            return self.desk.cipher.decrypt(bytes(row["profile_name_enc"]), context=b"profile_name")
        return ""

    def _tell(self, conn: psycopg.Connection[Any], citizen_id: int, text: str) -> None:
        enqueue(
            conn,
            self.desk.cipher,
            [(citizen_id, messages.text(text), None)],
            priority=PRIORITY_NOTIFICATION,
        )

    def _retry(self, conn: psycopg.Connection[Any], job: Claimed, error: str, kind: str) -> None:
        with conn.transaction():
            conn.execute(
                "UPDATE payments SET fulfilment = %s, fulfil_error = %s,"
                " fulfil_after = now() + make_interval(secs => %s) WHERE id = %s",
                (
                    kind if job.row["fulfil_attempts"] < MAX_ATTEMPTS else "failed",
                    error[:500],
                    RETRY_AFTER.total_seconds() * min(job.row["fulfil_attempts"], 10),
                    job.row["id"],
                ),
            )

    def _refund(
        self, conn: psycopg.Connection[Any], p: dict[str, Any], amount: int, reason: str
    ) -> int:
        """Refund `amount` of a captured payment, once (the key is the payment and reason)."""
        if amount <= 0 or not p["gateway_payment_id"]:
            return 0
        key = f"{p['reference']}:{reason}"
        conn.execute(
            "INSERT INTO refunds (payment_id, key, amount_paise, reason) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (key) DO NOTHING",
            (p["id"], key, amount, reason),
        )
        done = self.gateway.refund(p["gateway_payment_id"], amount, key=key)
        conn.execute(
            "UPDATE refunds SET gateway_refund_id = %s, status = %s WHERE key = %s",
            (done.refund_id, done.state, key),
        )
        conn.execute(
            "UPDATE payments SET refunded_paise = refunded_paise + %s,"
            " status = CASE WHEN refunded_paise + %s >= amount_paise THEN 'refunded'"
            "   ELSE 'partially_refunded' END, updated_at = now() WHERE id = %s",
            (done.amount_paise, done.amount_paise, p["id"]),
        )
        return done.amount_paise

    def _refund_and_tell(self, conn: psycopg.Connection[Any], job: Claimed, why: str) -> None:
        p, d = job.row, job.details
        lang = d.get("language") or "te"
        try:
            with conn.transaction():
                refunded = self._refund(conn, p, p["amount_paise"], "not_fulfilled")
                conn.execute(
                    "UPDATE payments SET fulfilment = 'refunded', fulfil_error = %s WHERE id = %s",
                    (why, p["id"]),
                )
                conn.execute(
                    "UPDATE bookings SET status = 'failed', updated_at = now()"
                    " WHERE payment_id = %s",
                    (p["id"],),
                )
                self._tell(
                    conn,
                    p["citizen_id"],
                    t(lang, "payment_refunded_not_available", amount=money(refunded)),
                )
        except GatewayError as exc:
            self._retry(conn, job, f"refund: {exc}", "pending")

    def _finish_expired(self, conn: psycopg.Connection[Any], job: Claimed) -> None:
        with conn.transaction():
            conn.execute(
                "UPDATE payments SET fulfilment = NULL, updated_at = now() WHERE id = %s",
                (job.row["id"],),
            )
            conn.execute(
                "UPDATE bookings SET status = 'expired', updated_at = now()"
                " WHERE payment_id = %s AND status = 'held'",
                (job.row["id"],),
            )

    async def _cancel(self, conn: psycopg.Connection[Any], job: Claimed) -> None:
        p = job.row
        booking = await asyncio.to_thread(self._booking_of, conn, p["id"])
        try:
            await self.departments.cancel_booking(booking["booking_id"])
        except Exception as exc:
            kind_of = getattr(exc, "kind", None) or "unavailable"
            if kind_of in ("unavailable", "unauthorized"):
                await asyncio.to_thread(self._retry, conn, job, str(exc), "cancel")
                return
            await asyncio.to_thread(self._cancel_refused, conn, job, kind_of)
            return
        await asyncio.to_thread(self._cancelled, conn, job, booking)

    def _booking_of(self, conn: psycopg.Connection[Any], payment_id: int) -> dict[str, Any]:
        row = conn.execute("SELECT * FROM bookings WHERE payment_id = %s", (payment_id,)).fetchone()
        assert row is not None
        return dict(row)

    def _cancelled(
        self, conn: psycopg.Connection[Any], job: Claimed, booking: dict[str, Any]
    ) -> None:
        p, d = job.row, job.details
        lang = d.get("language") or "te"
        amount = refund_due(p["amount_paise"], d.get("refund"), booking["item"], datetime.now(UTC))
        try:
            with conn.transaction():
                refunded = self._refund(conn, p, amount, "cancelled")
                conn.execute(
                    "UPDATE payments SET fulfilment = 'done', updated_at = now() WHERE id = %s",
                    (p["id"],),
                )
                conn.execute(
                    "UPDATE bookings SET status = 'cancelled', updated_at = now() WHERE id = %s",
                    (booking["id"],),
                )
                if booking["ticket_document_id"]:
                    conn.execute(
                        "UPDATE documents SET revoked_at = now(), revoked_reason = 'cancelled'"
                        " WHERE id = %s AND revoked_at IS NULL",
                        (booking["ticket_document_id"],),
                    )
                self._tell(
                    conn,
                    p["citizen_id"],
                    t(
                        lang,
                        "booking_cancelled",
                        booking=booking["booking_id"] or "",
                        amount=money(refunded),
                    ),
                )
        except GatewayError as exc:
            self._retry(conn, job, f"refund: {exc}", "cancel")

    def _cancel_refused(self, conn: psycopg.Connection[Any], job: Claimed, why: str) -> None:
        p, d = job.row, job.details
        with conn.transaction():
            conn.execute(
                "UPDATE payments SET fulfilment = 'done', fulfil_error = %s WHERE id = %s",
                (f"cancel refused: {why}", p["id"]),
            )
            conn.execute(
                "UPDATE bookings SET status = 'confirmed', updated_at = now()"
                " WHERE payment_id = %s",
                (p["id"],),
            )
            self._tell(conn, p["citizen_id"], t(d.get("language") or "te", "booking_not_cancelled"))


def refund_due(paid: int, rule: dict[str, Any] | None, item: dict[str, Any], now: datetime) -> int:
    """What cancelling gives back: the rule's percent if at least `hours_before` the booked
    day starts (Indian time), else nothing."""
    if not rule or not rule.get("percent"):
        return 0
    day = str(item.get("date") or "")
    try:
        starts = datetime.fromisoformat(day).replace(tzinfo=IST)
    except ValueError:
        return 0
    if now > starts - timedelta(hours=int(rule.get("hours_before") or 0)):
        return 0
    return paid * int(rule["percent"]) // 100
