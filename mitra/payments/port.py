"""The payment-gateway port: what Mitra needs from a gateway, in its own small types.

A gateway is called synchronously (from worker threads and the web process's thread pool),
with short timeouts; every call that creates or moves money carries an idempotency key so a
retry cannot charge or refund twice. Amounts are integer paise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

LinkState = Literal["created", "paid", "failed", "expired", "cancelled"]


@dataclass(frozen=True)
class PaymentLink:
    """A hosted payment page for one payment: where the citizen pays."""

    link_id: str  # the gateway's id for the link (or order)
    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class LinkStatus:
    """What the gateway says about a link now (for reconciliation)."""

    link_id: str
    state: LinkState
    payment_id: str | None  # the gateway's id of the captured payment, once paid
    amount_paid_paise: int


@dataclass(frozen=True)
class GatewayEvent:
    """One verified callback. `event_id` is unique per event at the gateway: the same event
    delivered twice has the same id."""

    event_id: str
    link_id: str
    state: LinkState
    payment_id: str | None
    amount_paise: int
    at: datetime


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount_paise: int
    state: Literal["pending", "processed", "failed"]


class GatewayError(Exception):
    """A call to the gateway failed: `kind` is unavailable (retry later) | invalid (a bug or a
    refused request; do not retry) | not_found."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class CallbackRejected(Exception):
    """A callback that must change nothing: `status` 401 (no signature), 403 (wrong
    signature) or 400 (not a payment event we understand)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PaymentGateway(Protocol):
    name: str

    def create_link(
        self,
        *,
        reference: str,
        amount_paise: int,
        description: str,
        expires_at: datetime,
        customer_name: str | None = None,
    ) -> PaymentLink:
        """A payment page for `amount_paise`; `reference` (Mitra's payment reference) is the
        idempotency key: asking again returns the same link."""
        ...

    def fetch(self, link_id: str) -> LinkStatus: ...

    def refund(self, payment_id: str, amount_paise: int, *, key: str) -> Refund:
        """Refund part or all of a captured payment; `key` makes a retry refund once."""
        ...

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Verify the signature over the raw body, then parse; CallbackRejected otherwise."""
        ...
