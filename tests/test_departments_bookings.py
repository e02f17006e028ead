"""Bookable inventory beyond bus seats and temples: every kind is priced and labelled,
listings offer what a chat can show (halls of a municipal body, darshan types of a temple,
buses between two towns), holds never oversell the new kinds either, holds and bookings
can be read at every stage, and cancelling a booking gives its capacity back once. Every
answer validates against the contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from mitra.departments.client import DepartmentClient, DepartmentError, load_contract
from mitra.departments.sandbox import create_sandbox_app, sandbox_endpoints
from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.timeline import IST
from mitra.departments.sandbox.world import world
from tests.test_departments_contract import Recorder
from tests.test_departments_writes import assert_every_answer_in_the_contract

DAY = "2026-11-20"  # a Friday
SUNDAY = "2026-11-22"
HALL = {"kind": "hall", "id": "GMC.hall1", "date": DAY}
ROUTING = load_contract()["x-mitra-routing"]["inventory"]


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
    return Recorder(httpx.ASGITransport(app=create_sandbox_app(clock=clock)))


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[DepartmentClient]:
    async with DepartmentClient(sandbox_endpoints("http://sandbox"), transport=recorder) as c:
        yield c


def _temple(temple_id: str) -> dict[str, Any]:
    return next(t for t in load("temples")["temples"] if t["id"] == temple_id)


# ----- listings and prices -----


async def test_the_halls_of_a_municipal_body_are_listed_with_fees(
    client: DepartmentClient, recorder: Recorder
) -> None:
    listing = await client.inventory_list("hall", DAY, place="GMC")
    assert listing["kind"] == "hall" and listing["date"] == DAY
    halls = listing["items"]
    assert 2 <= len(halls) <= 4 and listing["total"] == len(halls)
    assert [h["id"] for h in halls] == [f"GMC.hall{n}" for n in range(1, len(halls) + 1)]
    for hall in halls:
        assert hall["kind"] == "hall" and hall["date"] == DAY
        assert hall["capacity"] == hall["available"] == 1
        assert 500_000 <= hall["unit_price_paise"] <= 1_500_000
        assert hall["unit_price_paise"] % 50_000 == 0
        assert hall["label"]["en"].endswith(", Guntur")
        assert hall["label"]["te"].endswith(", గుంటూరు")
        assert hall["details"]["municipal_body"]["code"] == "GMC"
        assert hall["details"]["ward"]["code"].startswith("GNT01W")
    # The district code, the body's office and any case find the same halls.
    for place in ("GNT", "MO-GMC", "gmc"):
        assert (await client.inventory_list("hall", DAY, place=place))["items"] == halls
    # Every municipal body has two to four halls, and a district without one has none.
    for district in world().districts:
        if district.ulb is None:
            continue
        count = (await client.inventory_list("hall", DAY, place=district.ulb["code"]))["total"]
        assert 2 <= count <= 4, district.code
    assert_every_answer_in_the_contract(recorder)


async def test_the_darshan_types_of_a_temple_carry_its_prices_and_quotas(
    client: DepartmentClient, recorder: Recorder
) -> None:
    calendar = await client.info("temple_calendar", temple="srisailam")
    published = calendar["data"]["temples"][0]
    listing = await client.inventory_list("darshan", DAY, place="srisailam")
    assert [(i["id"], i["unit_price_paise"], i["capacity"]) for i in listing["items"]] == [
        (f"srisailam.{d['code']}", d["price"], d["daily_quota"]) for d in published["darshan"]
    ]
    assert listing["items"][0]["label"] == {
        "en": "Sarva darshan, Srisailam",
        "te": "సర్వ దర్శనం, శ్రీశైలం",
    }
    assert (await client.inventory_list("darshan", DAY, place="SSM"))["items"] == listing["items"]
    sevas = (await client.inventory_list("seva", DAY, place="srisailam"))["items"]
    assert [(s["unit_price_paise"], s["details"]["time"]) for s in sevas] == [
        (s["price"], s["time"]) for s in published["sevas"]
    ]
    rooms = (await client.inventory_list("room", DAY, place="srisailam"))["items"]
    assert [r["unit_price_paise"] for r in rooms] == [r["price"] for r in published["rooms"]]
    assert_every_answer_in_the_contract(recorder)


async def test_the_buses_between_two_towns_are_the_ones_bus_search_shows(
    client: DepartmentClient, recorder: Recorder
) -> None:
    search = (await client.info("bus_search", from_="VJA", to="VSP", date=DAY))["data"]
    listing = await client.inventory_list("bus_seat", DAY, from_="VJA", to="VSP")
    assert [
        (i["id"], i["unit_price_paise"], i["capacity"], i["details"]["departs_at"])
        for i in listing["items"]
    ] == [
        (s["service_number"], s["fare"], s["seats_available"], s["departs_at"])
        for s in search["services"]
    ]
    first = listing["items"][0]
    assert first["label"]["en"].startswith(f"Service {first['id']}, Vijayawada → Visakhapatnam")
    parcels = await client.inventory_list("parcel", DAY, from_="VJA", to="VSP", band="large")
    assert [p["id"] for p in parcels["items"]] == [f"{i['id']}.large" for i in listing["items"]]
    assert all(p["details"]["max_weight_grams"] == 50_000 for p in parcels["items"])
    assert_every_answer_in_the_contract(recorder)


async def test_a_listing_holds_at_most_twenty_items_and_says_how_many_matched(
    client: DepartmentClient,
) -> None:
    everything = await client.inventory_list("meal_sponsorship", DAY)
    canteens = world().places["anna_canteen"]
    assert everything["total"] == len(canteens) > 20 and len(everything["items"]) == 20
    parcels = await client.inventory_list("parcel", DAY, from_="VJA", to="GNT")
    assert parcels["total"] == 30 and len(parcels["items"]) == 20


async def test_every_kind_is_priced_and_labelled(client: DepartmentClient) -> None:
    prices = {}
    for kind, entry in ROUTING.items():
        answer = await client.inventory(entry["departments"][0], kind, entry["example"], DAY)
        assert answer["item"] == {"kind": kind, "id": entry["example"], "date": DAY}
        assert answer["label"]["en"] and answer["label"]["te"], kind
        assert answer["label"]["en"] != answer["label"]["te"], kind
        assert isinstance(answer["unit_price_paise"], int), kind
        prices[kind] = answer["unit_price_paise"]
    service = world().network.services["1009"]
    assert prices["bus_seat"] == service.fare
    rates = load("transport")["parcels"]
    per_kg = next(rate for up_to, rate in rates["per_kg"] if service.distance_km <= up_to)
    assert prices["parcel"] == max(rates["minimum_charge"], 5 * per_kg)
    srisailam = _temple("srisailam")
    assert prices["darshan"] == srisailam["darshan"][0][3] == 0
    assert prices["seva"] == srisailam["sevas"][0][3]
    assert prices["room"] == srisailam["rooms"][0][3]
    assert prices["prasadam"] == 2500
    assert prices["bus_hire"] == 1_200_000
    assert 60_000 <= prices["tanker"] <= 120_000 and prices["tanker"] % 5_000 == 0
    assert prices["septic"] == 250_000
    assert prices["meal_sponsorship"] == 1_500_000


async def test_capacities_per_day_follow_the_data(client: DepartmentClient) -> None:
    tanker = await client.inventory("MUN", "tanker", "GMC.tanker", DAY)
    assert tanker["capacity"] == 30 and tanker["details"]["litres"] == 5000  # a big city
    assert (await client.inventory("MUN", "tanker", "ELR.tanker", DAY))["capacity"] == 20
    assert (await client.inventory("MUN", "septic", "ELR.septic", DAY))["capacity"] == 6
    assert (await client.inventory("RTC", "bus_hire", "DEP-ELR", DAY))["capacity"] == 3
    assert (await client.inventory("END", "prasadam", "srisailam.laddu", DAY))["capacity"] == 5000
    assert (await client.inventory("RTC", "parcel", "1009.small", DAY))["capacity"] == 30
    # Anna Canteens are closed on Sundays: nothing to sponsor.
    sunday = await client.inventory("ANC", "meal_sponsorship", "ANC-GNT-01", SUNDAY)
    assert sunday["capacity"] == sunday["available"] == 0
    with pytest.raises(DepartmentError) as caught:
        await client.hold(
            "ANC",
            {"item": {"kind": "meal_sponsorship", "id": "ANC-GNT-01", "date": SUNDAY}},
            "sunday",
        )
    assert caught.value.kind == "sold_out"


async def test_listings_that_cannot_be_right_are_refused_before_any_http(
    client: DepartmentClient, recorder: Recorder
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("bus_seat", {"from_": "VJA"}, "missing_parameter"),
        ("parcel", {"to": "VSP"}, "missing_parameter"),
        ("bus_seat", {"place": "VJA", "from_": "VJA", "to": "VSP"}, "invalid"),
        ("hall", {"from_": "VJA"}, "invalid"),
        ("darshan", {"band": "small"}, "invalid"),
        ("gold_coin", {}, "unknown_kind"),
    ]
    for kind, params, code in cases:
        with pytest.raises(DepartmentError) as caught:
            await client.inventory_list(kind, DAY, **params)
        assert (caught.value.kind, caught.value.code) == ("invalid", code), kind
    assert not recorder.exchanges
    with pytest.raises(DepartmentError) as caught:
        await client.inventory_list("hall", DAY, place="Narnia")
    assert caught.value.kind == "not_found"


# ----- holds never oversell -----


async def test_two_hundred_concurrent_holds_take_a_hall_once_and_a_tankers_trips_exactly(
    client: DepartmentClient, recorder: Recorder
) -> None:
    tanker = {"kind": "tanker", "id": "GMC.tanker", "date": DAY}
    sponsorship = {"kind": "meal_sponsorship", "id": "ANC-GNT-01", "date": DAY}

    async def attempt(n: int) -> tuple[str, dict[str, Any] | DepartmentError]:
        department, item = [("MUN", HALL), ("MUN", tanker), ("ANC", sponsorship)][n % 3]
        try:
            return item["kind"], await client.hold(
                department, {"item": item, "quantity": 1}, f"hold-{n}"
            )
        except DepartmentError as exc:
            return item["kind"], exc

    results = await asyncio.gather(*(attempt(n) for n in range(600)))
    for kind, capacity in (("hall", 1), ("tanker", 30), ("meal_sponsorship", 1)):
        mine = [r for k, r in results if k == kind]
        held = [r for r in mine if isinstance(r, dict)]
        refused = [r for r in mine if isinstance(r, DepartmentError)]
        assert len(mine) == 200
        assert len(held) == capacity and len({h["hold_id"] for h in held}) == capacity, kind
        assert {e.kind for e in refused} == {"sold_out"}, kind
    assert (await client.inventory("MUN", "hall", "GMC.hall1", DAY))["available"] == 0
    assert (await client.inventory("MUN", "tanker", "GMC.tanker", DAY))["available"] == 0
    listing = await client.inventory_list("hall", DAY, place="GMC")
    assert [h["available"] for h in listing["items"]][:2] == [0, 1]
    assert_every_answer_in_the_contract(recorder)


async def test_the_same_item_in_another_case_is_the_same_capacity(
    client: DepartmentClient,
) -> None:
    await client.hold("MUN", {"item": HALL}, "upper")
    with pytest.raises(DepartmentError) as caught:
        await client.hold("MUN", {"item": {**HALL, "id": "gmc.HALL1"}}, "lower")
    assert caught.value.kind == "sold_out"


# ----- holds and bookings, read at every stage -----


async def test_a_hold_can_be_read_while_held_confirmed_released_and_expired(
    client: DepartmentClient, recorder: Recorder, clock: Clock
) -> None:
    price = (await client.inventory("MUN", "tanker", "GMC.tanker", DAY))["unit_price_paise"]
    item = {"kind": "tanker", "id": "GMC.tanker", "date": DAY}
    held = await client.hold("MUN", {"item": item, "quantity": 3}, "t-1")
    assert held["amount_paise"] == 3 * price and held["unit_price_paise"] == price
    assert held["label"]["en"] == "Water tanker, 5,000 litres, Guntur"
    assert await client.hold_status(held["hold_id"]) == held
    assert await client.hold_status(held["hold_id"].lower()) == held  # typed in any case

    booked = await client.confirm_hold("MUN", held["hold_id"])
    status = await client.hold_status(held["hold_id"])
    assert status == booked and status["status"] == "confirmed" and status["booking_id"]

    other = await client.hold("MUN", {"item": item}, "t-2")
    await client.release_hold("MUN", other["hold_id"])
    assert (await client.hold_status(other["hold_id"]))["status"] == "released"

    late = await client.hold("MUN", {"item": item, "quantity": 2}, "t-3")
    clock.now += timedelta(minutes=10)
    expired = await client.hold_status(late["hold_id"])
    assert expired["status"] == "expired" and expired["amount_paise"] == 2 * price

    with pytest.raises(DepartmentError) as caught:
        await client.hold_status("HLD-MUN-00000099")
    assert caught.value.kind == "not_found"
    with pytest.raises(DepartmentError) as caught:  # a hold is read from its own department
        await client.hold_status(held["hold_id"], department="END")
    assert caught.value.kind == "not_found"
    assert_every_answer_in_the_contract(recorder)


async def test_cancelling_a_booking_gives_its_capacity_back_once(
    client: DepartmentClient, recorder: Recorder
) -> None:
    hold = await client.hold("MUN", {"item": HALL}, "hall-1")
    booked = await client.confirm_hold("MUN", hold["hold_id"])
    booking_id = booked["booking_id"]
    assert booking_id.startswith("BKG-MUN-2026-")
    booking = await client.booking(booking_id)
    assert booking == {
        "booking_id": booking_id,
        "hold_id": hold["hold_id"],
        "status": "confirmed",
        "item": HALL,
        "label": hold["label"],
        "quantity": 1,
        "unit_price_paise": hold["unit_price_paise"],
        "amount_paise": hold["unit_price_paise"],
        "confirmed_at": "2026-11-16T12:00:00+05:30",
        "cancelled_at": None,
    }
    with pytest.raises(DepartmentError) as caught:
        await client.hold("MUN", {"item": HALL}, "hall-2")
    assert caught.value.kind == "sold_out"

    cancelled = await client.cancel_booking(booking_id)
    assert cancelled == {
        **booking,
        "status": "cancelled",
        "cancelled_at": "2026-11-16T12:00:00+05:30",
    }
    assert await client.cancel_booking(booking_id) == cancelled  # idempotent
    assert await client.booking(booking_id) == cancelled
    assert (await client.inventory("MUN", "hall", "GMC.hall1", DAY))["available"] == 1
    again = await client.hold("MUN", {"item": HALL}, "hall-3")
    assert (await client.inventory("MUN", "hall", "GMC.hall1", DAY))["available"] == 0
    assert again["status"] == "held"
    with pytest.raises(DepartmentError) as caught:
        await client.booking("BKG-MUN-2026-000999-P")
    assert caught.value.kind == "not_found"
    assert_every_answer_in_the_contract(recorder)


async def test_a_booking_whose_date_has_passed_cannot_be_cancelled(
    client: DepartmentClient, recorder: Recorder, clock: Clock
) -> None:
    item = {"kind": "prasadam", "id": "annavaram.ravva_prasadam", "date": DAY}
    hold = await client.hold("END", {"item": item, "quantity": 10}, "p-1")
    assert hold["amount_paise"] == 10 * 2000
    booking_id = (await client.confirm_hold("END", hold["hold_id"]))["booking_id"]
    clock.now = datetime(2026, 11, 20, 23, 59, tzinfo=IST)  # the day itself: still possible
    other = await client.hold("END", {"item": item}, "p-2")
    other_id = (await client.confirm_hold("END", other["hold_id"]))["booking_id"]
    clock.now = datetime(2026, 11, 21, 0, 1, tzinfo=IST)
    with pytest.raises(DepartmentError) as caught:
        await client.cancel_booking(booking_id)
    assert (caught.value.kind, caught.value.http_status) == ("conflict", 409)
    assert (await client.booking(booking_id))["status"] == "confirmed"
    clock.now = datetime(2026, 11, 20, 23, 59, tzinfo=IST)
    assert (await client.cancel_booking(other_id))["status"] == "cancelled"
    clock.now = datetime(2026, 11, 22, 9, 0, tzinfo=IST)
    # Cancelled before the date passed: asking again still answers the cancellation.
    assert (await client.cancel_booking(other_id))["status"] == "cancelled"
    assert_every_answer_in_the_contract(recorder)


async def test_hold_and_booking_ids_route_by_their_department_and_are_checked(
    client: DepartmentClient, recorder: Recorder
) -> None:
    for call, identifier, code in [
        (client.booking, "BKG-END-2026-000123-A", "bad_check_letter"),
        (client.cancel_booking, "BKG-XYZ-2026-000123-K", "malformed_identifier"),
        (client.hold_status, "HLD-END-12", "malformed_identifier"),
        (client.hold_status, "HLD-ENG-00000001", "malformed_identifier"),
    ]:
        with pytest.raises(DepartmentError) as caught:
            await call(identifier)
        assert (caught.value.kind, caught.value.code) == ("invalid", code), identifier
    assert not recorder.exchanges
    with pytest.raises(DepartmentError):
        await client.booking(" bkg-end-2026-000123-k ")  # normalised, then asked of END
    assert [r.url.path for r, _, _ in recorder.exchanges] == [
        "/END/v1/bookings/BKG-END-2026-000123-K"
    ]


async def test_every_new_kind_can_be_held_confirmed_and_cancelled(
    client: DepartmentClient, recorder: Recorder
) -> None:
    for n, (kind, entry) in enumerate(ROUTING.items()):
        department = entry["departments"][0]
        item = {"kind": kind, "id": entry["example"], "date": DAY}
        before = await client.inventory(department, kind, entry["example"], DAY)
        if before["available"] == 0:
            continue
        hold = await client.hold(department, {"item": item}, f"k-{n}")
        assert hold["amount_paise"] == before["unit_price_paise"], kind
        booking_id = (await client.confirm_hold(department, hold["hold_id"]))["booking_id"]
        assert booking_id.startswith(f"BKG-{department}-"), kind
        during = await client.inventory(department, kind, entry["example"], DAY)
        assert during["available"] == before["available"] - 1, kind
        await client.cancel_booking(booking_id)
        after = await client.inventory(department, kind, entry["example"], DAY)
        assert after["available"] == before["available"], kind
    assert_every_answer_in_the_contract(recorder)


def test_parcel_band_prices_rise_with_weight_and_distance() -> None:
    from mitra.departments.sandbox.bookables import Bookables

    bookables = Bookables(world())
    rates = load("transport")["parcels"]
    for service_number in ("1009", "1086"):
        service = world().network.services.get(service_number)
        if service is None:
            continue
        per_kg = next(r for up_to, r in rates["per_kg"] if service.distance_km <= up_to)
        prices = [
            bookables.item("parcel", f"{service_number}.{band}").unit_price
            for band in ("small", "medium", "large")
        ]
        assert prices == sorted(prices)
        assert prices[-1] == max(rates["minimum_charge"], 50 * per_kg)
