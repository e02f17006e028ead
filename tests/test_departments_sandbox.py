"""The sandbox's Andhra Pradesh looks like Andhra Pradesh and is the same every time: the
26 districts with Telugu names, three discoms told apart by service number, the seven
temples, buses both ways, money in integer paise — and the same records on every machine."""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest

from mitra.departments.client import DepartmentClient
from mitra.departments.routing import default_routing
from mitra.departments.sandbox import create_sandbox_app, samples, sandbox_endpoints
from mitra.departments.sandbox.geo import distance_m
from mitra.departments.sandbox.records import PARCELS_AS_OF
from mitra.departments.sandbox.timeline import AS_OF, IST
from mitra.departments.sandbox.world import World, build_world, digest, world

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=IST)

DISTRICTS = [
    "Srikakulam", "Parvathipuram Manyam", "Vizianagaram", "Visakhapatnam", "Alluri Sitharama Raju",
    "Anakapalli", "Kakinada", "East Godavari", "Konaseema", "Eluru", "West Godavari", "NTR",
    "Krishna", "Palnadu", "Guntur", "Bapatla", "Prakasam", "Sri Potti Sriramulu Nellore", "Kurnool",
    "Nandyal", "Anantapuramu", "Sri Sathya Sai", "YSR Kadapa", "Annamayya", "Tirupati", "Chittoor",
]  # fmt: skip
TEMPLE_TOWNS = [
    "Srisailam",
    "Vijayawada",
    "Simhachalam",
    "Annavaram",
    "Srikalahasti",
    "Dwaraka Tirumala",
    "Kanipakam",
]
DISCOM_BY_FIRST_DIGIT = {"1": "APEPDCL", "2": "APCPDCL", "3": "APSPDCL"}
FLOAT_KEYS = {"lat", "lon", "x_m", "y_m", "horse_power"}


def telugu(text: str) -> bool:
    return any("\u0c00" <= ch <= "\u0c7f" for ch in text)


def walk(value: object, key: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)
    else:
        yield key, value


@pytest.fixture(scope="module")
def w() -> World:
    return world()


@pytest.fixture(scope="module")
def fingerprint(w: World) -> str:
    return digest(w)


@pytest.fixture
async def client() -> AsyncIterator[DepartmentClient]:
    app = create_sandbox_app(clock=lambda: NOW)
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), transport=httpx.ASGITransport(app=app)
    ) as c:
        yield c


def test_the_26_districts_of_andhra_pradesh_with_telugu_names(w: World) -> None:
    assert [d.name["en"] for d in w.districts] == DISTRICTS
    for district in w.districts:
        assert telugu(district.name["te"]) and telugu(district.hq_name["te"]), district.code
        assert len(district.short_name["en"]) <= 24, "a WhatsApp list row holds 24 characters"
        assert 12.5 < district.lat < 19.2 and 76.7 < district.lon < 84.8, district.code
        assert len(district.mandals) >= 3
        for mandal in district.mandals:
            assert telugu(mandal.name["te"])
            for locality in mandal.localities:
                assert distance_m(mandal.lat, mandal.lon, locality.lat, locality.lon) < 10_000


def test_each_discom_is_told_apart_by_the_service_number(w: World) -> None:
    accounts = w.accounts["electricity"].values()
    pattern = default_routing().route("accounts", "electricity")
    assert {a["details"]["discom"] for a in accounts} == {"APEPDCL", "APCPDCL", "APSPDCL"}
    for account in accounts:
        assert pattern.matches(account["number"])
        assert (
            DISCOM_BY_FIRST_DIGIT[account["number"][0]]
            == account["details"]["discom"]
            == account["provider"]["code"]
        )
        assert account["number"][:2] == account["details"]["circle"]["code"]
        district = w.district_index[account["address"]["district"]["code"]]
        assert district.discom == account["details"]["discom"]


def test_the_seven_temples_in_catalogue_order(w: World) -> None:
    temples = w.places["temple"]
    assert [t["details"]["town"]["en"].split(" ")[0] for t in temples.values()] == [
        t.split(" ")[0] for t in TEMPLE_TOWNS
    ]


async def test_the_temple_calendar_lists_what_can_be_booked(client: DepartmentClient) -> None:
    answer = await client.info("temple_calendar")
    temples = answer["data"]["temples"]
    assert len(temples) == 7
    for temple in temples:
        assert temple["darshan"] and temple["sevas"] and temple["rooms"] and temple["festivals"]
        assert any(d["price"] == 0 for d in temple["darshan"]), "free darshan is always offered"
        assert telugu(temple["name"]["te"])


def test_buses_run_both_ways_between_the_major_towns(w: World) -> None:
    network = w.network
    assert len(network.towns) == 12
    pairs = {(s.origin.code, s.destination.code) for s in network.services.values()}
    assert all((b, a) in pairs for a, b in pairs)
    assert ("VJA", "VSP") in pairs and ("TPT", "VJA") in pairs
    for town in network.towns:
        assert any(town == a for a, _ in pairs), town
    for service in network.services.values():
        assert isinstance(service.fare, int) and service.fare % 500 == 0, "fares are whole ₹5"
        assert 0 <= service.seats_available(AS_OF) <= service.service_class.seats


def test_money_is_integer_paise_and_only_coordinates_are_fractional(w: World) -> None:
    everything = [w.accounts, w.applications, w.grievances, w.documents, w.places]
    for key, value in walk(everything):
        if isinstance(value, float):
            assert key in FLOAT_KEYS, key
        if key in (
            "amount",
            "fare",
            "price",
            "fee",
            "total",
            "subsidy",
            "annual_fee",
            "monthly_fare",
            "charges",
        ):
            assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, (
                key,
                value,
            )


def test_dues_add_up_from_their_breakdown(w: World) -> None:
    for accounts in w.accounts.values():
        for account in accounts.values():
            dues = account["dues"]
            assert dues["amount"] == sum(part["amount"] for part in dues["breakdown"])
            assert (dues["status"] == "none") == (dues["amount"] == 0)
            unpaid = [b for b in account["bills"] if not b["paid"]]
            assert bool(unpaid) == (dues["status"] != "none") or account["kind"] == "electricity"


def test_people_are_masked_everywhere(w: World) -> None:
    people = {
        "holder", "applicant", "pattadar", "relation", "payer", "consumer", "donor",
        "passenger", "booked_by", "cultivator", "name", "mother", "father", "husband", "wife",
        "sender", "receiver",
    }  # fmt: skip
    seen = 0

    def check(value: object) -> None:
        nonlocal seen
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in people and isinstance(inner, dict) and "*****" in inner.get("en", ""):
                    assert "*****" in inner["te"], inner
                    seen += 1
                elif key in people - {"name"}:
                    raise AssertionError(f"{key} is not masked: {inner!r}")
                check(inner)
        elif isinstance(value, list):
            for inner in value:
                check(inner)

    check([w.accounts, w.applications, w.documents])
    assert seen > 1000


def test_references_follow_the_contract_patterns(w: World) -> None:
    routing = default_routing()
    for reference, application in w.applications.items():
        route = routing.reference_route("applications", reference)
        assert (
            route.name == application["kind"]
            and route.department_for(reference) == application["department"]
        )
    for reference, grievance in w.grievances.items():
        assert (
            routing.reference_route("grievances", reference).department_for(reference)
            == grievance["department"]
        )
    for kind, documents in w.documents.items():
        route = routing.route("documents", kind)
        assert all(route.matches(identifier) for identifier in documents), kind


def test_histories_run_forward_and_end_before_the_records_date(w: World) -> None:
    end = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 18, 0, tzinfo=IST)
    for record in list(w.applications.values()) + list(w.grievances.values()):
        moments = [datetime.fromisoformat(step["at"]) for step in record["history"]]
        assert moments == sorted(moments) and moments[-1] <= end
        assert record["status"] == record["history"][-1]["status"]


def test_parcels_go_by_bus_between_bus_stations_and_their_scans_run_forward(w: World) -> None:
    parcels = w.documents["parcel"]
    assert 100 <= len(parcels) <= 200
    stations = w.places["bus_station"]
    routes = {(s.origin.code, s.destination.code) for s in w.network.services.values()}
    # Each state may follow only these (a parcel is collected, or returned after a week).
    follows = {
        "booked": {"in_transit"},
        "in_transit": {"at_destination"},
        "at_destination": {"delivered", "returned_to_sender"},
    }
    for awb, parcel in parcels.items():
        data = parcel["data"]
        origin, destination = data["origin"], data["destination"]
        assert origin["id"] != destination["id"], awb
        for end in (origin, destination):
            assert stations[end["id"]]["name"] == end["name"], awb
        assert (origin["id"][3:], destination["id"][3:]) in routes, awb
        assert parcel["issued_on"] == data["booked_at"][:10] <= data["expected_by"]
        assert isinstance(data["weight_grams"], int) and 0 < data["weight_grams"] <= 50_000
        assert data["charges"] >= 6000, "the minimum charge is ₹60"
        history = data["history"]
        moments = [datetime.fromisoformat(step["at"]) for step in history]
        assert moments == sorted(moments) and moments[-1] <= PARCELS_AS_OF, awb
        assert history[0] == {"status": "booked", "at": data["booked_at"], "place": origin["name"]}
        assert data["status"] == history[-1]["status"]
        for before, after in itertools.pairwise(history):
            assert after["status"] in follows[before["status"]], awb
        for step in history:
            at_origin = step["status"] in ("booked", "in_transit", "returned_to_sender")
            assert step["place"] == (origin if at_origin else destination)["name"], awb
        if len(history) > 1:
            service = w.network.services[data["service_number"]]
            assert (service.origin.code, service.destination.code) == (
                origin["id"][3:],
                destination["id"][3:],
            )
        else:
            assert "service_number" not in data


def test_the_same_seed_books_the_same_parcels_numbered_in_booking_order(w: World) -> None:
    parcels = w.documents["parcel"]
    assert build_world().documents["parcel"] == parcels
    booked = [p["data"]["booked_at"] for p in parcels.values()]
    assert list(parcels) == sorted(parcels) and booked == sorted(booked)
    for month in {awb[1:5] for awb in parcels}:
        assert min(awb for awb in parcels if awb[1:5] == month) == f"P{month}000123"


def test_the_same_seed_builds_the_same_world(fingerprint: str) -> None:
    assert digest(build_world()) == fingerprint


def test_another_process_with_other_hash_seeds_builds_the_same_world(fingerprint: str) -> None:
    code = (
        "from mitra.departments.sandbox.world import build_world, digest\n"
        "print(digest(build_world()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == fingerprint


async def test_nearest_places_come_nearest_first(client: DepartmentClient, w: World) -> None:
    guntur = w.district_index["GNT"]
    for type_ in (
        "anna_canteen",
        "village_secretariat",
        "ward_secretariat",
        "tahsildar_office",
        "bus_station",
        "temple",
    ):
        answer = await client.nearest(type_, guntur.lat, guntur.lon, limit=5)
        distances = [p["distance_m"] for p in answer["places"]]
        assert len(distances) == 5 and distances == sorted(distances), type_


async def test_locating_each_district_headquarters_finds_that_district(
    client: DepartmentClient, w: World
) -> None:
    for district in w.districts:
        answer = await client.locate(district.lat, district.lon)
        assert answer["district"]["code"] == district.code
        assert answer["mandal"]["code"] == district.mandals[0].code
        assert answer["distance_m"] == 0


async def test_every_sample_identifier_resolves(client: DepartmentClient) -> None:
    groups = samples()
    assert {
        "accounts/electricity",
        "applications/mutation",
        "grievances",
        "documents/adangal",
        "info/bus_search",
    } <= set(groups)
    count = 0
    for items in groups.values():
        for sample in items:
            answer = await getattr(client, sample["operation"])(**sample["args"])
            assert answer and sample["shows"]
            count += 1
    assert count > 100


async def test_a_bus_is_somewhere_between_its_towns_while_running(w: World) -> None:
    service = next(s for s in w.network.services.values() if s.duration_min > 180)
    day = AS_OF + timedelta(days=3)
    start = service.departure(day) + timedelta(minutes=service.delay_min(day))
    moments = {
        "not_started": start - timedelta(minutes=30),
        "running": start + timedelta(minutes=service.duration_min // 2),
        "arrived": start + timedelta(minutes=service.duration_min + 30),
    }
    for status, moment in moments.items():
        app = create_sandbox_app(clock=functools.partial(lambda at: at, moment))
        async with DepartmentClient(
            sandbox_endpoints("http://sandbox"), transport=httpx.ASGITransport(app=app)
        ) as c:
            answer = (await c.info("bus_location", service=service.number))["data"]
        assert answer["status"] == status
        if status == "running":
            here = answer["location"]
            whole = distance_m(
                service.origin.lat,
                service.origin.lon,
                service.destination.lat,
                service.destination.lon,
            )
            assert (
                distance_m(service.origin.lat, service.origin.lon, here["lat"], here["lon"]) < whole
            )


async def test_a_bill_estimate_is_charged_slab_by_slab(client: DepartmentClient) -> None:
    data = (await client.info("bill_estimate", category="domestic", units=150))["data"]
    assert [s["units"] for s in data["slabs"]] == [30, 45, 50, 25]
    assert data["energy_charges"] == 30 * 190 + 45 * 300 + 50 * 450 + 25 * 600
    assert (
        data["total"]
        == data["energy_charges"]
        + data["fixed_charge"]
        + data["customer_charge"]
        + data["electricity_duty"]
    )


async def test_planned_outages_are_the_same_for_the_same_day_and_cover_the_next_week(
    client: DepartmentClient,
) -> None:
    first = await client.info("planned_outages", district="GNT")
    again = await client.info("planned_outages", district="GNT")
    assert first == again and first["data"]["outages"], "a district always has some planned work"
    days = {
        date.fromisoformat(o["starts_at"][:10])
        for o in (await client.info("planned_outages"))["data"]["outages"]
    }
    assert days and min(days) >= NOW.date() and max(days) < NOW.date() + timedelta(days=7)


async def test_schemes_follow_age_income_and_category(client: DepartmentClient) -> None:
    elder = {
        s["code"]
        for s in (await client.info("schemes", age=67, income=8_000_000))["data"]["schemes"]
    }
    student = {
        s["code"]
        for s in (await client.info("schemes", age=20, category="student,sc"))["data"]["schemes"]
    }
    assert "ntr_bharosa_old_age" in elder and "post_matric_scholarship" not in elder
    assert "post_matric_scholarship" in student and "ntr_bharosa_old_age" not in student
