"""Registers that documents are issued from: births, deaths and marriages (municipal),
temple bookings, bus tickets, APSRTC parcels and donation receipts."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import District, Record, named, text
from mitra.departments.sandbox.numbering import Sequences
from mitra.departments.sandbox.people import person
from mitra.departments.sandbox.places import bus_station_ref
from mitra.departments.sandbox.timeline import AS_OF, IST, at
from mitra.departments.sandbox.transport import BusService, Network

BIRTHS_PER_ULB = 4
DEATHS_PER_ULB = 2
MARRIAGES_PER_ULB = 2
TEMPLE_BOOKINGS = 120
BUS_TICKETS = 120
PARCELS = 150
# Parcel scans are recorded up to this time on AS_OF; later ones have not happened yet.
PARCELS_AS_OF = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 10, 0, tzinfo=IST)
DONATIONS = {"END": 40, "ANC": 30, "CMR": 30}


def _document(
    kind: str,
    identifier: str,
    department: str,
    title: dict[str, str],
    issued: date | None,
    data: Record,
) -> Record:
    return {
        "kind": kind,
        "identifier": identifier,
        "department": department,
        "title": title,
        "issued_on": issued.isoformat() if issued else None,
        "data": data,
    }


def _first_in_last_year(rng: random.Random) -> date:
    """A date early enough last year that registration falls last year too: each
    register's first entry is `X-<last year>-<ULB>-000123`, as in the contract's examples."""
    return date(AS_OF.year - 1, rng.randint(1, 11), rng.randint(1, 28))


def build_civil_registration(
    rng: random.Random, seq: Sequences, districts: list[District]
) -> dict[str, dict[str, Record]]:
    hospitals = load("names")["hospitals"]
    out: dict[str, dict[str, Record]] = {"birth": {}, "death": {}, "marriage": {}}
    for district in districts:
        if district.ulb is None:
            continue
        ulb = district.ulb["code"]
        unit = named(ulb, district.ulb["name"])
        hq = district.hq_name

        def place(hq: dict[str, str] = hq) -> dict[str, str]:
            en, te = rng.choice(hospitals[:3])
            return text(f"{en}, {hq['en']}", f"{te}, {hq['te']}")

        for index in range(BIRTHS_PER_ULB):
            born = (
                _first_in_last_year(rng)
                if index == 0
                else AS_OF - timedelta(days=rng.randint(20, 900))
            )
            registered = born + timedelta(days=rng.randint(2, 20))
            number = f"B-{registered.year}-{ulb}-{seq.take(('B', ulb, registered.year)):06d}"
            child = person(rng)
            out["birth"][number] = _document(
                "birth",
                number,
                "MUN",
                text("Birth certificate", "జనన ధృవీకరణ పత్రం"),
                registered,
                {
                    "registration_number": number,
                    "registered_on": registered.isoformat(),
                    "name": child.masked(),
                    "sex": child.sex,
                    "date_of_birth": born.isoformat(),
                    "place_of_birth": place(),
                    "mother": person(rng, "female").masked(),
                    "father": person(rng, "male").masked(),
                    "registration_unit": unit,
                },
            )
        for index in range(DEATHS_PER_ULB):
            died = (
                _first_in_last_year(rng)
                if index == 0
                else AS_OF - timedelta(days=rng.randint(10, 900))
            )
            registered = died + timedelta(days=rng.randint(1, 15))
            number = f"D-{registered.year}-{ulb}-{seq.take(('D', ulb, registered.year)):06d}"
            deceased = person(rng)
            out["death"][number] = _document(
                "death",
                number,
                "MUN",
                text("Death certificate", "మరణ ధృవీకరణ పత్రం"),
                registered,
                {
                    "registration_number": number,
                    "registered_on": registered.isoformat(),
                    "name": deceased.masked(),
                    "sex": deceased.sex,
                    "age_years": rng.randint(45, 95),
                    "date_of_death": died.isoformat(),
                    "place_of_death": place(),
                    "registration_unit": unit,
                },
            )
        for index in range(MARRIAGES_PER_ULB):
            married = (
                _first_in_last_year(rng)
                if index == 0
                else AS_OF - timedelta(days=rng.randint(30, 1200))
            )
            registered = married + timedelta(days=rng.randint(5, 20))
            number = f"M-{registered.year}-{ulb}-{seq.take(('M', ulb, registered.year)):06d}"
            out["marriage"][number] = _document(
                "marriage",
                number,
                "MUN",
                text("Marriage registration certificate", "వివాహ నమోదు ధృవీకరణ పత్రం"),
                registered,
                {
                    "registration_number": number,
                    "registered_on": registered.isoformat(),
                    "husband": person(rng, "male").masked(),
                    "wife": person(rng, "female").masked(),
                    "date_of_marriage": married.isoformat(),
                    "place_of_marriage": text(f"{hq['en']}", f"{hq['te']}"),
                    "registration_unit": unit,
                },
            )
    return out


_SLOTS = ["06:00-08:00", "08:00-10:00", "10:00-12:00", "14:00-16:00", "16:00-18:00", "18:00-20:00"]
_LADDU = ("laddu", "Laddu prasadam", "లడ్డు ప్రసాదం", 2500)


def build_temple_bookings(rng: random.Random, seq: Sequences) -> dict[str, Record]:
    temples = load("temples")["temples"]
    bookings: dict[str, Record] = {}
    for index in range(TEMPLE_BOOKINGS):
        # The first booking is the contract's example: Kanaka Durga, this month.
        temple = (
            next(t for t in temples if t["code"] == "KDG") if index == 0 else rng.choice(temples)
        )
        day = AS_OF + timedelta(days=rng.randint(0, 10) if index == 0 else rng.randint(-20, 40))
        booking_type = rng.choices(
            ["darshan", "seva", "accommodation", "prasadam"], weights=[50, 28, 15, 7]
        )[0]
        slot: str | None = None
        if booking_type == "darshan":
            code, en, te, price, _quota = rng.choice(temple["darshan"])
            slot = rng.choice(_SLOTS)
        elif booking_type == "seva":
            code, en, te, price, slot = rng.choice(temple["sevas"])
        elif booking_type == "accommodation":
            code, en, te, price, _capacity = rng.choice(temple["rooms"])
        else:
            code, en, te, price = _LADDU
        persons = rng.randint(1, 2) if booking_type == "accommodation" else rng.randint(1, 5)
        month_key = day.strftime("%y%m")
        serial = seq.take(("TB", temple["code"], month_key), max_step=3)
        number = f"{temple['code']}-{month_key}{serial:04d}"
        cancelled = rng.random() < 0.08
        status = "cancelled" if cancelled else ("used" if day < AS_OF else "confirmed")
        data: Record = {
            "booking_number": number,
            "temple": named(temple["id"], temple["name"]),
            "booking_type": booking_type,
            "item": named(code, text(en, te)),
            "date": day.isoformat(),
            "persons": persons,
            "amount": price * (1 if booking_type == "accommodation" else persons),
            "status": status,
            "booked_by": person(rng).masked(),
        }
        if slot:
            data["slot"] = slot
        bookings[number] = _document(
            "temple_booking",
            number,
            "END",
            text("Temple booking", "ఆలయ బుకింగ్"),
            day - timedelta(days=rng.randint(1, 20)),
            data,
        )
    return bookings


def build_bus_tickets(rng: random.Random, seq: Sequences, network: Network) -> dict[str, Record]:
    services = sorted(network.services.values(), key=lambda s: s.number)
    tickets: dict[str, Record] = {}
    for index in range(BUS_TICKETS):
        service = rng.choice(services)
        day = AS_OF + timedelta(days=rng.randint(0, 10) if index == 0 else rng.randint(-15, 25))
        seats = rng.randint(1, 3)
        first_seat = rng.randint(1, service.service_class.seats - seats + 1)
        month_key = day.strftime("%y%m")
        pnr = f"T{month_key}{seq.take(('PNR', month_key), max_step=9):05d}"
        summary = service.summary(day)
        cancelled = rng.random() < 0.08
        tickets[pnr] = _document(
            "bus_ticket",
            pnr,
            "RTC",
            text("APSRTC e-ticket", "ఏపీఎస్ఆర్టీసీ ఈ-టికెట్"),
            day - timedelta(days=rng.randint(0, 20)),
            {
                "pnr": pnr,
                "service_number": service.number,
                "service_class": summary["service_class"],
                "from": named(service.origin.code, service.origin.name),
                "to": named(service.destination.code, service.destination.name),
                "journey_date": day.isoformat(),
                "departs_at": summary["departs_at"],
                "arrives_at": summary["arrives_at"],
                "seats": [str(first_seat + k) for k in range(seats)],
                "fare": service.fare * seats,
                "status": "cancelled" if cancelled else ("travelled" if day < AS_OF else "booked"),
                "passenger": person(rng).masked(),
            },
        )
    return tickets


def _next_departure(services: list[BusService], after: datetime) -> tuple[BusService, datetime]:
    """The first of `services` (sorted by departure time) leaving at or after `after`."""
    for day in (after.date(), after.date() + timedelta(days=1)):
        for service in services:
            departs = service.departure(day)
            if departs >= after:
                return service, departs
    raise ValueError("a route with no daily service")  # pragma: no cover - every route has one


def _at_the_counter(rng: random.Random, reached: datetime) -> datetime:
    """A moment within three days after `reached` while the parcel counter is open
    (06:00–22:00): when the receiver collects the parcel, or the station returns it."""
    collected = reached + timedelta(minutes=rng.randint(30, 72 * 60))
    if collected.hour < 6 or collected.hour >= 22:
        morning = collected.date() + timedelta(days=1 if collected.hour >= 22 else 0)
        opens = datetime(morning.year, morning.month, morning.day, 6, 0, tzinfo=IST)
        collected = opens + timedelta(minutes=rng.randint(0, 180))
    return collected


def _parcel_charges(weight_grams: int, distance_km: int) -> int:
    """Paise: the rate per started kilogram for the distance, never below the minimum."""
    rates = load("transport")["parcels"]
    per_kg = next(rate for up_to, rate in rates["per_kg"] if distance_km <= up_to)
    return max(rates["minimum_charge"], math.ceil(weight_grams / 1000) * per_kg)


def _parcel_weight(rng: random.Random) -> int:
    """Grams: mostly packets and boxes, a few heavy consignments."""
    band = rng.choices(["packet", "box", "heavy"], weights=[45, 45, 10])[0]
    low, high = {"packet": (1, 20), "box": (21, 200), "heavy": (201, 500)}[band]
    return rng.randint(low, high) * 100


def build_parcels(rng: random.Random, seq: Sequences, network: Network) -> dict[str, Record]:
    """APSRTC parcel (cargo) bookings between the bus stations of the network's towns, with
    their scans up to `PARCELS_AS_OF`: booked at the origin counter, loaded on a bus, at the
    destination station, then collected by the receiver or, left uncollected for a week,
    returned to the sender. AWB numbers climb with booking time within each month.

    (Land parcels are something else: see `land.py`.)"""
    station_names = {
        code: text(station_en, station_te)
        for code, _en, _te, _district, _lat, _lon, station_en, station_te in load("transport")[
            "towns"
        ]
    }
    routes: dict[tuple[str, str], list[BusService]] = {}
    for service in sorted(network.services.values(), key=lambda s: (s.departs, s.number)):
        routes.setdefault((service.origin.code, service.destination.code), []).append(service)
    pairs = sorted(routes)
    drafts: list[tuple[datetime, Record]] = []
    for _ in range(PARCELS):
        # A third booked in the last four days, so that some are still on their way.
        days_back = rng.randint(0, 3) if rng.random() < 0.35 else rng.randint(0, 45)
        day = AS_OF - timedelta(days=days_back)
        hour = rng.randint(6, PARCELS_AS_OF.hour - 1) if days_back == 0 else rng.randint(7, 20)
        booked_at = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=IST)
        origin, destination = rng.choice(pairs)
        services = routes[(origin, destination)]
        weight = _parcel_weight(rng)
        sender, receiver = person(rng).masked(), person(rng).masked()
        # Loaded on the first bus an hour or more after booking; one in ten misses it.
        planned, departs = _next_departure(services, booked_at + timedelta(hours=1))
        unloading = timedelta(minutes=rng.randint(20, 90))
        expected_by = (departs + timedelta(minutes=planned.duration_min) + unloading).date()
        service = planned
        if rng.random() < 0.1:
            service, departs = _next_departure(services, departs + timedelta(hours=6))
        reached = departs + timedelta(minutes=service.duration_min) + unloading
        events = [
            ("booked", booked_at, origin),
            ("in_transit", departs, origin),
            ("at_destination", reached, destination),
        ]
        if rng.random() < 0.05:
            unclaimed = _at_the_counter(rng, reached + timedelta(days=7))
            events.append(("returned_to_sender", unclaimed, origin))
        else:
            events.append(("delivered", _at_the_counter(rng, reached), destination))
        history = [
            {"status": status, "at": moment.isoformat(), "place": dict(station_names[town])}
            for status, moment, town in events
            if moment <= PARCELS_AS_OF
        ]
        data: Record = {
            "status": history[-1]["status"],
            "origin": bus_station_ref(origin, station_names[origin]),
            "destination": bus_station_ref(destination, station_names[destination]),
            "booked_at": booked_at.isoformat(),
            "expected_by": expected_by.isoformat(),
            "weight_grams": weight,
            "charges": _parcel_charges(weight, service.distance_km),
            "sender": sender,
            "receiver": receiver,
            "history": history,
        }
        if len(history) > 1:
            data["service_number"] = service.number
        drafts.append((booked_at, data))
    parcels: dict[str, Record] = {}
    for booked_at, data in sorted(drafts, key=lambda draft: draft[0]):
        month_key = booked_at.strftime("%y%m")
        awb = f"P{month_key}{seq.take(('AWB', month_key), max_step=9):06d}"
        parcels[awb] = _document(
            "parcel",
            awb,
            "RTC",
            text("APSRTC cargo parcel", "ఏపీఎస్ఆర్టీసీ కార్గో పార్సిల్"),
            booked_at.date(),
            {"awb_number": awb, **data},
        )
    return parcels


def build_donations(rng: random.Random, seq: Sequences) -> dict[str, Record]:
    temples = load("temples")["temples"]
    receipts: dict[str, Record] = {}
    for department, count in DONATIONS.items():
        for index in range(count):
            day = AS_OF - timedelta(days=rng.randint(0, 120) if index == 0 else rng.randint(0, 400))
            number = f"{department}-DR-{day.year}-{seq.take(('DR', department, day.year)):06d}"
            if department == "END":
                temple = rng.choice(temples)
                if rng.random() < 0.5:
                    purpose = named(
                        f"hundi:{temple['id']}",
                        text(f"e-Hundi, {temple['town']['en']}", f"ఈ-హుండీ, {temple['town']['te']}"),
                    )
                else:
                    purpose = named(
                        f"annadanam:{temple['id']}",
                        text(
                            f"Annadanam, {temple['town']['en']}", f"అన్నదానం, {temple['town']['te']}"
                        ),
                    )
                amount = rng.choice([11600, 51600, 100000, 250000, 500000, 1000000])
                exempt = rng.random() < 0.5
            elif department == "ANC":
                meals = rng.choice([100, 200, 500, 1000])
                purpose = named(
                    "meals", text(f"{meals} meals at Anna Canteens", f"అన్న క్యాంటీన్లలో {meals} భోజనాలు")
                )
                amount = meals * 500  # ₹5 a meal
                exempt = rng.random() < 0.5
            else:
                purpose = named("cmrf", text("Chief Minister's Relief Fund", "ముఖ్యమంత్రి సహాయ నిధి"))
                amount = rng.choice([100000, 500000, 1000000, 2500000, 10000000])
                exempt = True
            receipts[number] = _document(
                "donation_receipt",
                number,
                department,
                text("Donation receipt", "విరాళం రసీదు"),
                day,
                {
                    "receipt_number": number,
                    "purpose": purpose,
                    "donor": person(rng).masked(),
                    "amount": amount,
                    "received_at": at(day, rng.randint(7, 21), rng.choice((0, 15, 30, 45))),
                    "section_80g": exempt,
                },
            )
    return receipts
