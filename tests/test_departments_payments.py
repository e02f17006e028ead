"""Bill payments over the adapter contract: one Idempotency-Key pays once, more than the dues
is refused, and afterwards the account shows the reduced dues, the bills paid and the
payment in its history (with a receipt document where the department issues one). The
shared sandbox world never changes. Every answer validates against the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from mitra.departments.client import DepartmentClient, DepartmentError
from mitra.departments.sandbox import create_sandbox_app, sandbox_endpoints
from mitra.departments.sandbox.payments import allocate
from mitra.departments.sandbox.timeline import IST
from mitra.departments.sandbox.world import world
from tests.test_departments_contract import Recorder, assert_valid, response_schema

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=IST)
PAID_AT = "2026-11-16T11:58:00+05:30"
# Accounts of the sandbox world (`mitra sandbox samples` lists more).
ARREARS = "1110412345678"  # electricity: current bill, arrears and a late fee
PROPERTY = "1001000131"  # Srikakulam property tax: two half-years unpaid and a penalty
LICENCE = "TL-AMC-000183"  # a trade licence that expired unpaid


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(httpx.ASGITransport(app=create_sandbox_app(clock=lambda: NOW)))


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[DepartmentClient]:
    async with DepartmentClient(sandbox_endpoints("http://sandbox"), transport=recorder) as c:
        yield c


def assert_answers_in_the_contract(recorder: Recorder) -> None:
    payments = "/v1/accounts/{kind}/{number}/payments"
    for request, response, body in recorder.exchanges:
        path = "/" + request.url.path.split("/", 2)[2]
        if request.method == "POST":
            template = payments
        elif path.startswith("/v1/accounts/"):
            template = "/v1/accounts/{kind}/{number}"
        else:
            template = "/v1/documents/{kind}/{identifier}"
        schema = response_schema(template, response.status_code, request.method.lower())
        assert_valid(schema, body, f"{request.method} {request.url}")


def _heads(account: dict[str, Any]) -> dict[str, int]:
    return {row["head"]: row["amount"] for row in account["dues"]["breakdown"]}


async def test_paying_twice_with_one_key_pays_once(
    client: DepartmentClient, recorder: Recorder
) -> None:
    before = await client.account("electricity", ARREARS)
    due = before["dues"]["amount"]
    assert due == 906_818 and before["dues"]["status"] == "overdue"
    args = ("electricity", ARREARS, due, "pay_Nx81", PAID_AT)
    receipt = await client.pay_account(*args, "key-1")
    assert receipt == {
        "receipt_number": receipt["receipt_number"],
        "account_kind": "electricity",
        "account_number": ARREARS,
        "amount_paise": due,
        "paid_at": PAID_AT,
        "payment_reference": "pay_Nx81",
        "dues_after_paise": 0,
    }
    assert receipt["receipt_number"].startswith("ER26")
    assert await client.pay_account(*args, "key-1") == receipt
    replays = [r.headers.get("Idempotent-Replayed") for _, r, _ in recorder.exchanges[1:3]]
    assert replays == [None, "true"]

    after = await client.account("electricity", ARREARS)
    assert after["dues"] == {"amount": 0, "due_date": None, "status": "none", "breakdown": []}
    assert all(bill["paid"] for bill in after["bills"])
    assert len(after["payments"]) == len(before["payments"]) + 1
    assert after["payments"][0] == {
        "receipt": receipt["receipt_number"],
        "paid_at": PAID_AT,
        "amount": due,
        "channel": "mitra",
    }
    # Nothing is due now, so a new payment (another key) is refused.
    with pytest.raises(DepartmentError) as caught:
        await client.pay_account("electricity", ARREARS, 100, "pay_Nx82", PAID_AT, "key-2")
    assert (caught.value.kind, caught.value.http_status) == ("invalid", 400)
    # The receipt is a document, as the world's electricity receipts are.
    document = await client.document("electricity_receipt", receipt["receipt_number"])
    assert document["data"]["service_number"] == ARREARS
    assert document["data"]["amount"] == due and document["data"]["channel"] == "mitra"
    assert document["data"]["period"] == "2026-09, 2026-10"
    assert_answers_in_the_contract(recorder)


async def test_more_than_the_dues_is_refused_and_nothing_changes(
    client: DepartmentClient, recorder: Recorder
) -> None:
    before = await client.account("property_tax", PROPERTY)
    due = before["dues"]["amount"]
    with pytest.raises(DepartmentError) as caught:
        await client.pay_account("property_tax", PROPERTY, due + 1, "pay_1", PAID_AT, "k")
    assert (caught.value.kind, caught.value.http_status) == ("invalid", 400)
    assert await client.account("property_tax", PROPERTY) == before
    # A refusal is not remembered: the same key may pay the right amount afterwards.
    receipt = await client.pay_account("property_tax", PROPERTY, due, "pay_1", PAID_AT, "k")
    assert receipt["dues_after_paise"] == 0
    assert receipt["receipt_number"].startswith("PTR-SKL-2026-")  # Srikakulam's series
    issued = world().documents["property_tax_receipt"]
    assert receipt["receipt_number"] not in issued
    assert receipt["receipt_number"] > max(r for r in issued if r.startswith("PTR-SKL-2026-"))
    document = await client.document("property_tax_receipt", receipt["receipt_number"])
    assert document["data"]["assessment_number"] == PROPERTY
    assert document["data"]["period"] == "2026-27/1, 2026-27/2"
    with pytest.raises(DepartmentError) as caught:
        await client.pay_account("water", "WC-AKP-000123", 1, "pay_2", PAID_AT, "k2")
    assert caught.value.kind == "invalid"  # nothing due on that connection
    assert_answers_in_the_contract(recorder)


async def test_a_part_payment_settles_fees_then_arrears_and_reduces_the_dues(
    client: DepartmentClient, recorder: Recorder
) -> None:
    before = await client.account("electricity", ARREARS)
    heads = _heads(before)
    assert heads == {"current_bill": 486_901, "arrears": 413_712, "late_fee": 6_205}
    part = heads["late_fee"] + heads["arrears"]
    receipt = await client.pay_account("electricity", ARREARS, part, "pay_a", PAID_AT, "a")
    assert receipt["dues_after_paise"] == heads["current_bill"]
    after = await client.account("electricity", ARREARS)
    assert after["dues"] == {
        "amount": heads["current_bill"],
        "due_date": "2026-11-19",
        "status": "due",
        "breakdown": [{"head": "current_bill", "amount": heads["current_bill"]}],
    }
    paid = {bill["period"]: bill["paid"] for bill in after["bills"]}
    assert paid["2026-09"] and not paid["2026-10"]
    # Less than a whole bill reduces the dues and settles no bill.
    receipt = await client.pay_account("electricity", ARREARS, 1_000, "pay_b", PAID_AT, "b")
    assert receipt["dues_after_paise"] == heads["current_bill"] - 1_000
    after = await client.account("electricity", ARREARS)
    assert after["dues"]["amount"] == heads["current_bill"] - 1_000
    assert not {bill["period"]: bill["paid"] for bill in after["bills"]}["2026-10"]
    assert [p["receipt"] for p in after["payments"][:2]] == sorted(
        [p["receipt"] for p in after["payments"][:2]], reverse=True
    )
    assert_answers_in_the_contract(recorder)


async def test_property_tax_and_cess_go_down_together(
    client: DepartmentClient, recorder: Recorder
) -> None:
    before = await client.account("property_tax", PROPERTY)
    heads = _heads(before)
    half_year = before["details"]["half_year_tax"]
    bill = next(b for b in before["bills"] if b["period"] == "2026-27/1")
    amount = heads["penalty"] + bill["amount"]
    await client.pay_account("property_tax", PROPERTY, amount, "pay_p", PAID_AT, "p")
    after = await client.account("property_tax", PROPERTY)
    assert _heads(after) == {
        "property_tax": heads["property_tax"] - half_year,
        "library_cess": heads["library_cess"] - (bill["amount"] - half_year),
    }
    assert after["dues"]["status"] == "due" and after["dues"]["due_date"] == "2026-12-31"
    assert next(b for b in after["bills"] if b["period"] == "2026-27/1")["paid"]
    assert_answers_in_the_contract(recorder)


async def test_paying_an_expired_licence_in_full_renews_it(client: DepartmentClient) -> None:
    before = await client.account("trade_licence", LICENCE)
    assert before["status"] == "expired"
    await client.pay_account(
        "trade_licence", LICENCE, before["dues"]["amount"], "pay_t", PAID_AT, "t"
    )
    after = await client.account("trade_licence", LICENCE)
    assert after["status"] == "active" and after["details"]["valid_until"] == "2027-03-31"
    assert after["payments"][0]["receipt"].startswith("TLR")


async def test_a_payment_reference_is_credited_once_and_a_key_means_one_payment(
    client: DepartmentClient,
) -> None:
    await client.pay_account("electricity", ARREARS, 10_000, "pay_same", PAID_AT, "k-1")
    with pytest.raises(DepartmentError) as caught:  # the same money under another key
        await client.pay_account("electricity", ARREARS, 10_000, "pay_same", PAID_AT, "k-2")
    assert (caught.value.kind, caught.value.http_status) == ("conflict", 409)
    with pytest.raises(DepartmentError) as caught:  # the same key for another payment
        await client.pay_account("electricity", ARREARS, 20_000, "pay_other", PAID_AT, "k-1")
    assert caught.value.kind == "conflict"
    account = await client.account("electricity", ARREARS)
    assert account["dues"]["amount"] == 906_818 - 10_000


async def test_the_shared_world_is_not_changed_by_a_payment(client: DepartmentClient) -> None:
    await client.pay_account("electricity", ARREARS, 906_818, "pay_w", PAID_AT, "w")
    assert world().accounts["electricity"][ARREARS]["dues"]["amount"] == 906_818
    fresh = create_sandbox_app(clock=lambda: NOW)
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), transport=httpx.ASGITransport(app=fresh)
    ) as other:
        assert (await other.account("electricity", ARREARS))["dues"]["amount"] == 906_818


async def test_payments_that_cannot_be_right_are_refused_before_any_http(
    client: DepartmentClient, recorder: Recorder
) -> None:
    naive = datetime(2026, 11, 16, 12, 0)
    for args, code in [
        (("electricity", ARREARS, 0, "r", PAID_AT, "k"), "amount"),
        (("electricity", ARREARS, 10.5, "r", PAID_AT, "k"), "amount"),
        (("electricity", ARREARS, True, "r", PAID_AT, "k"), "amount"),
        (("electricity", ARREARS, 100, "r", naive, "k"), "paid_at"),
        (("electricity", "12345", 100, "r", PAID_AT, "k"), "malformed_identifier"),
        (("electricity", ARREARS, 100, "r", PAID_AT, " "), "idempotency_key"),
    ]:
        with pytest.raises(DepartmentError) as caught:
            await client.pay_account(*args)  # type: ignore[arg-type]
        assert (caught.value.kind, caught.value.code) == ("invalid", code), args
    assert not recorder.exchanges
    # A time-zone-aware datetime is sent as ISO 8601, and the account routes to MUN.
    await client.pay_account(
        "water", "WC-AKP-000160", 15_000, "pay_dt", datetime(2026, 11, 16, 9, tzinfo=IST), "dt"
    )
    request = recorder.exchanges[-1][0]
    assert request.url.path == "/MUN/v1/accounts/water/WC-AKP-000160/payments"
    assert b'"paid_at":"2026-11-16T09:00:00+05:30"' in request.content.replace(b" ", b"")


async def test_the_sandbox_refuses_a_malformed_payment_body(recorder: Recorder) -> None:
    async with httpx.AsyncClient(transport=recorder, base_url="http://sandbox") as http:
        for body in (
            {"amount_paise": "100", "payment_reference": "r", "paid_at": PAID_AT},
            {"amount_paise": 100, "payment_reference": "r", "paid_at": "2026-11-16T11:58:00"},
            {"amount_paise": 100, "payment_reference": "", "paid_at": PAID_AT},
            {"amount_paise": 100, "payment_reference": "r", "paid_at": PAID_AT, "x": 1},
        ):
            response = await http.post(
                f"/ENG/v1/accounts/electricity/{ARREARS}/payments",
                json=body,
                headers={"Authorization": "Bearer sandbox-ENG", "Idempotency-Key": "m"},
            )
            assert response.status_code == 400, body
        response = await http.post(
            "/MUN/v1/accounts/electricity/1110412345678/payments",
            json={"amount_paise": 100, "payment_reference": "r", "paid_at": PAID_AT},
            headers={"Authorization": "Bearer sandbox-MUN", "Idempotency-Key": "m"},
        )
        assert response.json()["error"]["code"] == "unsupported"
    assert_answers_in_the_contract(recorder)


@pytest.mark.parametrize(
    ("breakdown", "amount", "left", "to_bills"),
    [
        (
            [("current_bill", 500), ("arrears", 300), ("late_fee", 25)],
            100,
            [("current_bill", 500), ("arrears", 225)],
            75,
        ),
        (
            [("property_tax", 1000), ("library_cess", 80), ("penalty", 20)],
            560,
            [("property_tax", 500), ("library_cess", 40)],
            540,
        ),
        (
            [("property_tax", 3), ("library_cess", 3)],
            1,
            [("property_tax", 2), ("library_cess", 3)],
            1,
        ),
        ([("pass_fare", 150000)], 150000, [], 150000),
    ],
)
def test_a_payment_is_shared_fees_first_then_arrears_then_in_proportion(
    breakdown: list[tuple[str, int]], amount: int, left: list[tuple[str, int]], to_bills: int
) -> None:
    rows = [{"head": h, "amount": a} for h, a in breakdown]
    remaining, paid_to_bills = allocate(rows, amount)
    assert [(r["head"], r["amount"]) for r in remaining] == left
    assert paid_to_bills == to_bills
    assert sum(r["amount"] for r in remaining) == sum(a for _, a in breakdown) - amount
