"""Paying an account's dues: how a payment is shared among the heads of the dues, which bills
it settles, and what the account shows afterwards (dues, bills, payment history, a renewed
licence or pass). Pure functions over an account record the desk owns (a copy of the
world's), so the shared world never changes.

A payment settles late fees and penalties first, then arrears, then the remaining heads in
proportion to their amounts (property tax and its library cess together). What is paid
beyond fees is credit towards the bills, which are marked paid oldest first as the credit
covers each one whole.
"""

from __future__ import annotations

from datetime import date, timedelta

from mitra.departments.sandbox.geography import Record
from mitra.departments.sandbox.timeline import AS_OF, month_start

FEES = ("late_fee", "penalty")
FIRST = (*FEES, "arrears")
RECEIPT_PREFIXES = {
    "water": "WCR",
    "trade_licence": "TLR",
    "vacant_land": "VLR",
    "advertisement": "ADR",
    "bus_pass": "BPR",
}
"""Receipt prefixes (then 8 digits) of the accounts whose receipts are not documents."""


def allocate(breakdown: list[Record], amount: int) -> tuple[list[Record], int]:
    """The breakdown left after paying `amount` (at most its total), and how much of the
    amount went towards bills (everything but fees)."""
    left = {row["head"]: int(row["amount"]) for row in breakdown}
    remaining = amount
    to_bills = 0
    for head in FIRST:
        if head in left and remaining:
            paid = min(remaining, left[head])
            left[head] -= paid
            remaining -= paid
            to_bills += 0 if head in FEES else paid
    rest = [head for head in left if head not in FIRST and left[head] > 0]
    total = sum(left[head] for head in rest)
    pay = min(remaining, total)
    if pay:
        shares = {head: pay * left[head] // total for head in rest}
        short = pay - sum(shares.values())
        # Largest remainders first take the paise the floor left over.
        for head in sorted(rest, key=lambda h: -(pay * left[h] % total))[:short]:
            shares[head] += 1
        for head in rest:
            left[head] -= shares[head]
        to_bills += pay
    return [
        {"head": row["head"], "amount": left[row["head"]]}
        for row in breakdown
        if left[row["head"]] > 0
    ], to_bills


def apply_payment(
    account: Record, amount: int, credit: int, payment: Record
) -> tuple[int, list[Record]]:
    """Pay `amount` on `account` (changed in place) and record `payment` in its history.
    `credit` is what earlier payments left towards the next unpaid bill; returns the credit
    left now and the bills this payment settled."""
    dues = account["dues"]
    breakdown, to_bills = allocate(dues["breakdown"], amount)
    credit += to_bills
    settled = []
    for bill in sorted(
        (b for b in account["bills"] if not b["paid"]),
        key=lambda b: (b["due_date"], b["issued_on"]),
    ):
        if bill["amount"] > credit:
            break
        credit -= bill["amount"]
        bill["paid"] = True
        settled.append(bill)
    total = sum(row["amount"] for row in breakdown)
    unpaid = [b for b in account["bills"] if not b["paid"]]
    if total == 0:
        account["dues"] = {"amount": 0, "due_date": None, "status": "none", "breakdown": []}
        _renew(account)
    else:
        overdue = any(date.fromisoformat(b["due_date"]) < AS_OF for b in unpaid) or any(
            row["head"] in FEES for row in breakdown
        )
        account["dues"] = {
            "amount": total,
            "due_date": max((b["due_date"] for b in unpaid), default=dues["due_date"]),
            "status": "overdue" if overdue else "due",
            "breakdown": breakdown,
        }
    account["payments"] = sorted(
        [payment, *account["payments"]], key=lambda p: p["paid_at"], reverse=True
    )
    return credit, settled


def _renew(account: Record) -> None:
    """A licence or pass whose dues are paid is valid again, as the world shows renewed ones."""
    details = account["details"]
    if account["kind"] == "trade_licence" and account["status"] == "expired":
        account["status"] = "active"
        details["valid_until"] = date(AS_OF.year + (AS_OF.month >= 4), 3, 31).isoformat()
    elif account["kind"] == "bus_pass" and account["status"] == "expired":
        account["status"] = "active"
        details["valid_from"] = month_start(AS_OF).isoformat()
        details["valid_until"] = (month_start(AS_OF, -1) - timedelta(days=1)).isoformat()
