"""Writes over the adapter contract: submitted applications and grievances are idempotent
by key and readable afterwards; holds never oversell, even under 200 concurrent requests
through the real client, and released or expired holds give their capacity back. Every
answer validates against the contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from mitra.departments.client import DepartmentClient, DepartmentError
from mitra.departments.references import check_letter_ok
from mitra.departments.routing import default_routing
from mitra.departments.sandbox import create_sandbox_app, sandbox_endpoints
from mitra.departments.sandbox.timeline import IST
from tests.test_departments_contract import Recorder, assert_valid, template_for
from tests.test_departments_contract import response_schema as schema_for

DAY = "2026-11-20"
SPARSHA = {"kind": "darshan", "id": "srisailam.sparsha", "date": DAY}
APPLICATION = {
    "service_code": "REV-01",
    "applicant": {
        "name": "Koteswara Rao",
        "mobile": "9876543210",
        "address": {"district": "GNT", "mandal": "GNT02", "village": "GNT0201"},
    },
    "answers": {"annual_income": 9_000_000, "purpose": "scholarship"},
}
GRIEVANCE = {
    "category": "no_power",
    "description": "No power in our street since the morning",
    "location": {"lat": 16.3, "lon": 80.45},
    "photos": ["media:wamid.123"],
    "mobile": "9876543210",
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 16, 12, 0, tzinfo=IST)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder(clock: Clock) -> Recorder:
    app = create_sandbox_app(clock=clock, capacities={("darshan", "srisailam.sparsha"): 5})
    return Recorder(httpx.ASGITransport(app=app))


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[DepartmentClient]:
    async with DepartmentClient(sandbox_endpoints("http://sandbox"), transport=recorder) as c:
        yield c


def assert_every_answer_in_the_contract(recorder: Recorder) -> None:
    for request, response, body in recorder.exchanges:
        path = "/" + request.url.path.split("/", 2)[2]
        template = template_for(path)
        if request.method == "POST" and path in ("/v1/applications", "/v1/grievances", "/v1/holds"):
            template = path
        schema = schema_for(template, response.status_code, request.method.lower())
        assert_valid(schema, body, f"{request.method} {request.url}")


async def test_the_same_key_submits_one_application(
    client: DepartmentClient, recorder: Recorder
) -> None:
    first = await client.submit_application("REV", APPLICATION, "key-1")
    again = await client.submit_application("REV", APPLICATION, "key-1")
    assert again == first
    reference = first["reference"]
    assert reference.startswith("REV-2026-") and check_letter_ok(reference)
    assert default_routing().route("applications", "revenue_certificate").matches(reference)
    assert first["status"] == "submitted" and first["expected_by"] == "2026-11-23"
    assert first["history"][0]["note"] == "application_received"
    assert "9876543210" not in str(first) and first["applicant"]["en"] == "K***** Rao"
    assert await client.application(reference) == first
    other = await client.submit_application("REV", APPLICATION, "key-2")
    assert other["reference"] != reference
    replays = [r.headers.get("Idempotent-Replayed") for _, r, _ in recorder.exchanges[:3]]
    assert replays == [None, "true", None]
    assert_every_answer_in_the_contract(recorder)


async def test_a_key_reused_with_another_body_is_a_conflict(
    client: DepartmentClient, recorder: Recorder
) -> None:
    await client.submit_application("REV", APPLICATION, "key-1")
    with pytest.raises(DepartmentError) as caught:
        await client.submit_application("REV", {**APPLICATION, "service_code": "REV-05"}, "key-1")
    assert caught.value.kind == "conflict" and caught.value.http_status == 409
    assert len(recorder.exchanges) == 2  # a 4xx is never retried
    assert_every_answer_in_the_contract(recorder)


@pytest.mark.parametrize(
    ("department", "change", "code"),
    [
        ("REV", {"service_code": "ENG-05"}, "unsupported"),
        ("REV", {"service_code": "XYZ-01"}, "invalid"),
        ("REV", {"applicant": {**APPLICATION["applicant"], "mobile": "12345"}}, "invalid"),
        (
            "REV",
            {
                "applicant": {
                    **APPLICATION["applicant"],
                    "address": {"district": "GNT", "mandal": "GNT02", "village": "KRN0101"},
                }
            },
            "invalid",
        ),
        ("ENG", {}, "unsupported"),
    ],
)
async def test_bad_applications_are_refused(
    client: DepartmentClient, department: str, change: dict[str, Any], code: str
) -> None:
    with pytest.raises(DepartmentError) as caught:
        await client.submit_application(department, {**APPLICATION, **change}, "key-x")
    assert caught.value.code == code


async def test_a_write_without_a_key_is_refused_before_any_http(
    client: DepartmentClient, recorder: Recorder
) -> None:
    with pytest.raises(DepartmentError) as caught:
        await client.submit_application("REV", APPLICATION, " ")
    assert caught.value.kind == "invalid" and not recorder.exchanges


async def test_the_same_key_registers_one_grievance_readable_after(
    client: DepartmentClient, recorder: Recorder
) -> None:
    first = await client.submit_grievance("ENG", GRIEVANCE, "g-1")
    assert await client.submit_grievance("ENG", GRIEVANCE, "g-1") == first
    reference = first["reference"]
    assert reference.startswith("GRV-ENG-2026-") and check_letter_ok(reference)
    assert first["status"] == "registered" and first["office"]["type"] == "discom_office"
    assert first["area"]["district"]["code"] == "GNT"
    assert await client.grievance(reference) == first
    with pytest.raises(DepartmentError) as caught:
        await client.submit_grievance("ENG", {**GRIEVANCE, "category": "voltage"}, "g-1")
    assert caught.value.kind == "conflict"
    with pytest.raises(DepartmentError) as caught:
        await client.submit_grievance("ENG", {**GRIEVANCE, "category": "garbage"}, "g-2")
    assert caught.value.kind == "invalid"
    assert_every_answer_in_the_contract(recorder)


async def test_two_hundred_concurrent_holds_never_oversell(
    client: DepartmentClient, recorder: Recorder
) -> None:
    inventory = await client.inventory("END", "darshan", "srisailam.sparsha", DAY)
    assert {k: inventory[k] for k in ("item", "capacity", "available", "unit_price_paise")} == {
        "item": SPARSHA,
        "capacity": 5,
        "available": 5,
        "unit_price_paise": 50000,
    }
    assert inventory["label"] == {"en": "Sparsha darshan, Srisailam", "te": "స్పర్శ దర్శనం, శ్రీశైలం"}

    async def attempt(n: int) -> dict[str, Any] | DepartmentError:
        try:
            return await client.hold("END", {"item": SPARSHA, "quantity": 1}, f"hold-{n}")
        except DepartmentError as exc:
            return exc

    results = await asyncio.gather(*(attempt(n) for n in range(200)))
    held = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, DepartmentError)]
    assert len(held) == 5 and len({h["hold_id"] for h in held}) == 5
    assert len(refused) == 195 and {e.kind for e in refused} == {"sold_out"}
    inventory = await client.inventory("END", "darshan", "srisailam.sparsha", DAY)
    assert inventory["available"] == 0

    released = await client.release_hold("END", held[0]["hold_id"])
    assert released["status"] == "released"
    assert await client.release_hold("END", held[0]["hold_id"]) == released  # idempotent
    inventory = await client.inventory("END", "darshan", "srisailam.sparsha", DAY)
    assert inventory["available"] == 1

    assert {h["amount_paise"] for h in held} == {50000}
    booked = await client.confirm_hold("END", held[1]["hold_id"])
    assert booked["status"] == "confirmed" and booked["booking_id"].startswith("BKG-END-2026-")
    assert await client.confirm_hold("END", held[1]["hold_id"]) == booked  # idempotent
    with pytest.raises(DepartmentError) as caught:
        await client.release_hold("END", held[1]["hold_id"])
    assert caught.value.kind == "conflict"
    with pytest.raises(DepartmentError) as caught:
        await client.confirm_hold("END", held[0]["hold_id"])
    assert caught.value.kind == "conflict"
    assert_every_answer_in_the_contract(recorder)


async def test_an_expired_hold_gives_its_capacity_back(
    client: DepartmentClient, recorder: Recorder, clock: Clock
) -> None:
    hold = await client.hold("END", {"item": SPARSHA, "quantity": 5}, "k")
    assert hold["expires_at"] == "2026-11-16T12:10:00+05:30"
    with pytest.raises(DepartmentError) as caught:
        await client.hold("END", {"item": SPARSHA, "quantity": 1}, "k2")
    assert caught.value.kind == "sold_out" and caught.value.http_status == 409
    clock.now += timedelta(minutes=9, seconds=59)
    assert (await client.inventory("END", "darshan", SPARSHA["id"], DAY))["available"] == 0
    clock.now += timedelta(seconds=1)
    assert (await client.inventory("END", "darshan", SPARSHA["id"], DAY))["available"] == 5
    with pytest.raises(DepartmentError) as caught:
        await client.confirm_hold("END", hold["hold_id"])
    assert caught.value.kind == "expired" and caught.value.http_status == 410
    assert (await client.release_hold("END", hold["hold_id"]))["status"] == "expired"
    assert (await client.hold("END", {"item": SPARSHA, "quantity": 5}, "k3"))["quantity"] == 5
    assert_every_answer_in_the_contract(recorder)


async def test_the_hold_lifetime_is_configurable(clock: Clock) -> None:
    app = create_sandbox_app(clock=clock, hold_ttl=timedelta(minutes=2))
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), transport=httpx.ASGITransport(app=app)
    ) as client:
        hold = await client.hold("END", {"item": SPARSHA, "quantity": 1}, "k")
    assert hold["expires_at"] == "2026-11-16T12:02:00+05:30"


async def test_capacity_comes_from_the_sandbox_data(client: DepartmentClient) -> None:
    darshan = await client.inventory("END", "darshan", "srisailam.sarva", DAY)
    assert darshan["capacity"] == 600
    seva = await client.inventory("END", "seva", "srisailam.rudrabhishekam", DAY)
    assert seva["capacity"] == 50
    room = await client.inventory("END", "room", "srisailam.non_ac", DAY)
    assert room["capacity"] == 40
    for department, kind, id_, code in [
        ("END", "darshan", "srisailam.nothing", "not_found"),
        ("RTC", "darshan", "srisailam.sarva", "unsupported"),
        ("RTC", "bus_seat", "99999", "not_found"),
    ]:
        with pytest.raises(DepartmentError) as caught:
            await client.inventory(department, kind, id_, DAY)
        assert caught.value.code == code


async def test_bus_seats_are_the_seats_bus_search_shows(client: DepartmentClient) -> None:
    search = await client.info("bus_search", from_="VJA", to="VSP", date=DAY)
    service = search["data"]["services"][0]
    inventory = await client.inventory("RTC", "bus_seat", service["service_number"], DAY)
    assert inventory["capacity"] == service["seats_available"]
    hold = await client.hold(
        "RTC",
        {"item": {"kind": "bus_seat", "id": service["service_number"], "date": DAY}, "quantity": 2},
        "bus-1",
    )
    assert hold["status"] == "held"
    after = await client.inventory("RTC", "bus_seat", service["service_number"], DAY)
    assert after["available"] == inventory["available"] - 2


async def test_writes_are_retried_on_5xx_with_the_same_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "x"}})
        return httpx.Response(201, json={"reference": "REV-2026-000123-K"})

    async def no_sleep(_: float) -> None:
        return None

    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"),
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
    ) as client:
        answer = await client.submit_application("REV", APPLICATION, "same-key")
    assert answer["reference"] == "REV-2026-000123-K"
    assert [r.headers["Idempotency-Key"] for r in seen] == ["same-key", "same-key"]
    assert all(r.method == "POST" for r in seen)


def test_the_contract_documents_the_write_errors() -> None:
    from mitra.departments.client import load_contract

    contract = load_contract()
    codes = contract["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert {"conflict", "sold_out", "expired"} <= set(codes["code"]["enum"])
    for path in ("/v1/applications", "/v1/grievances", "/v1/holds"):
        post = contract["paths"][path]["post"]
        assert {"201", "409"} <= set(post["responses"]), path
        assert {"$ref": "#/components/parameters/IdempotencyKey"} in post["parameters"]
