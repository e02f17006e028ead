"""What the sandbox departments sell by the day: every bookable item with its label, unit
price, daily capacity and details, and the listings a chat offers (the halls of a municipal
body, the darshan types of a temple, the buses between two towns).

Ids per kind (the README has capacities and prices): `bus_seat` a service number (`1009`);
`parcel` `<service>.<band>` (`1009.small`); `bus_hire` a depot (`DEP-GNT`); `darshan`, `seva`,
`room`, `prasadam` `<temple>.<code>` (`srisailam.sarva`, `srisailam.laddu`); `hall`
`<ULB>.hall<n>` (`GMC.hall1`); `tanker` and `septic` `<ULB>.tanker` / `<ULB>.septic`;
`meal_sponsorship` a canteen (`ANC-GNT-01`).

The halls of each body, their fees and each body's tanker price come from a random stream
of their own (`STREAM`), never from the world's streams, so adding them changed nothing else.
Ids are matched without regard to case; answers carry the canonical id.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import Record, named, text
from mitra.departments.sandbox.refusals import WriteError
from mitra.departments.sandbox.transport import BusService
from mitra.departments.sandbox.world import SEED, World

INVENTORY_KINDS = {
    "bus_seat": "RTC",
    "parcel": "RTC",
    "bus_hire": "RTC",
    "darshan": "END",
    "seva": "END",
    "room": "END",
    "prasadam": "END",
    "hall": "MUN",
    "tanker": "MUN",
    "septic": "MUN",
    "meal_sponsorship": "ANC",
}
"""Which department sells each kind of inventory."""
ROUTE_KINDS = frozenset({"bus_seat", "parcel"})
"""Kinds listed by route (`from`, `to`); the others by `place`."""
SEVA_DAILY_QUOTA = 50  # as `temple_calendar` publishes
ROOMS = {"non_ac": 40}  # rooms of a type per temple per night (others: ROOMS_DEFAULT)
ROOMS_DEFAULT = 20
LIST_LIMIT = 20
STREAM = f"{SEED}:bookables"
"""The seed of the bookables' own random stream."""

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Bookable:
    """One item sold by the day. `capacity(day)` is before any holds; `details(day)` are
    the facts a chat shows (times on that day for a bus)."""

    kind: str
    id: str
    label: dict[str, str]
    unit_price: int
    capacity: Callable[[date], int]
    details: Callable[[date], Record]


def _fixed(n: int) -> Callable[[date], int]:
    return lambda day: n


def _static(details: Record) -> Callable[[date], Record]:
    return lambda day: details


class Bookables:
    """Every bookable item of the sandbox, by kind and id, and how to list them."""

    def __init__(self, world: World) -> None:
        self._items: dict[str, dict[str, Bookable]] = {kind: {} for kind in INVENTORY_KINDS}
        # kind → place key (upper case) → ids in listing order
        self._by_place: dict[str, dict[str, list[str]]] = {kind: {} for kind in INVENTORY_KINDS}
        self._by_route: dict[tuple[str, str], list[BusService]] = {}
        self._network = world.network
        data = load("bookables")
        self._add_transport(world, data["transport"])
        self._add_temples(world, data["endowments"])
        self._add_municipal(world, data["municipal"])
        self._add_canteens(world, data["anna_canteen"])

    # ----- looking up and listing -----

    def item(self, kind: str, id_: str) -> Bookable:
        """The item, or `not_found`; the caller has checked that the department sells `kind`."""
        found = self._items[kind].get(id_.strip().upper())
        if found is None:
            raise WriteError("not_found", f"no such {kind} item")
        return found

    def listing(
        self,
        kind: str,
        *,
        place: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        band: str | None = None,
    ) -> list[Bookable]:
        """Every item of `kind` matching the filters, in the order a chat offers them."""
        if kind in ROUTE_KINDS:
            if not from_ or not to:
                raise WriteError("invalid", f"listing {kind} needs from and to (town codes)")
            origin, destination = self._network.town(from_), self._network.town(to)
            if origin is None or destination is None:
                raise WriteError("invalid", "from and to must be towns of bus_towns")
            services = self._network.between(origin, destination)
            if kind == "bus_seat":
                return [self._items[kind][s.number] for s in services]
            bands = self._bands if band is None else [b for b in self._bands if b == band.lower()]
            if band is not None and not bands:
                raise WriteError("invalid", f"no parcel band {band!r}")
            return [self._items[kind][f"{s.number}.{b}".upper()] for s in services for b in bands]
        items = self._items[kind]
        if place is None:
            return list(items.values())
        ids = self._by_place[kind].get(place.strip().upper())
        if ids is None:
            raise WriteError("not_found", f"no place {place!r} sells {kind}")
        return [items[i] for i in ids]

    def _add(self, item: Bookable, places: Iterable[str] = ()) -> None:
        self._items[item.kind][item.id.upper()] = item
        for key in dict.fromkeys(k.upper() for k in places):
            self._by_place[item.kind].setdefault(key.upper(), []).append(item.id.upper())

    # ----- APSRTC -----

    def _add_transport(self, world: World, data: Record) -> None:
        bands = data["parcel_bands"]
        self._bands = [b[0] for b in bands]
        rates = load("transport")["parcels"]
        for number in sorted(world.network.services):
            service = world.network.services[number]
            self._add(
                Bookable(
                    "bus_seat",
                    number,
                    _route_label(service, text(f"Service {number}", f"సర్వీసు {number}")),
                    service.fare,
                    service.seats_available,
                    _bus_details(service),
                )
            )
            per_kg = next(rate for up_to, rate in rates["per_kg"] if service.distance_km <= up_to)
            for code, en, te, grams, per_day in bands:
                charge = max(rates["minimum_charge"], math.ceil(grams / 1000) * per_kg)
                self._add(
                    Bookable(
                        "parcel",
                        f"{number}.{code}",
                        _route_label(service, text(en, te)),
                        charge,
                        _fixed(per_day),
                        _bus_details(service, {"band": code, "max_weight_grams": grams}),
                    )
                )
        hire = data["bus_hire"]
        bus_class = world.network.classes[hire["service_class"]]
        towns = {t.district: t.code for t in world.network.towns.values()}
        for district in world.districts:
            depot = f"DEP-{district.code}"
            name = text(f"{district.hq_name['en']} Depot", f"{district.hq_name['te']} డిపో")
            big = district.code in hire["big_city_depots"]
            per_day = hire["buses_per_day"]["big_city" if big else "default"]
            places = [depot, district.code] + (
                [towns[district.code]] if district.code in towns else []
            )
            self._add(
                Bookable(
                    "bus_hire",
                    depot,
                    text(
                        f"Bus on hire for a day, {name['en']}",
                        f"ఒక రోజుకు బస్సు అద్దె, {name['te']}",
                    ),
                    hire["minimum_paise"],
                    _fixed(per_day),
                    _static(
                        {
                            "depot": named(depot, name),
                            "service_class": named(bus_class.code, bus_class.name),
                            "seats": hire["seats"],
                            "rate_per_km_paise": hire["rate_per_km_paise"],
                            "minimum_paise": hire["minimum_paise"],
                            "km_included": hire["minimum_paise"] // hire["rate_per_km_paise"],
                        }
                    ),
                ),
                places,
            )

    # ----- Endowments -----

    def _add_temples(self, world: World, data: Record) -> None:
        for temple in load("temples")["temples"]:
            rows: list[tuple[str, list[Any], int, Record]] = []
            for code, en, te, price, quota in temple["darshan"]:
                rows.append(("darshan", [code, en, te, price], quota, {"daily_quota": quota}))
            for code, en, te, price, time in temple["sevas"]:
                rows.append(("seva", [code, en, te, price], SEVA_DAILY_QUOTA, {"time": time}))
            for code, en, te, price, persons in temple["rooms"]:
                per_night = ROOMS.get(code, ROOMS_DEFAULT)
                rows.append(("room", [code, en, te, price], per_night, {"persons": persons}))
            for code, en, te, price, per_day, grams in data["prasadam"].get(temple["id"], []):
                rows.append(("prasadam", [code, en, te, price], per_day, {"weight_grams": grams}))
            town = temple["town"]
            for kind, (code, en, te, price), per_day, extra in rows:
                self._add(
                    Bookable(
                        kind,
                        f"{temple['id']}.{code}",
                        text(f"{en}, {town['en']}", f"{te}, {town['te']}"),
                        int(price),
                        _fixed(int(per_day)),
                        _static({"temple": named(temple["id"], temple["name"]), **extra}),
                    ),
                    [temple["id"], temple["code"], temple["district"]],
                )

    # ----- Municipal Administration -----

    def _add_municipal(self, world: World, data: Record) -> None:
        rng = random.Random(STREAM)
        big_cities = set(data["big_cities"])
        halls, tanker, septic = data["halls"], data["tanker"], data["septic"]
        for district in world.districts:
            if district.ulb is None:
                continue
            code = district.ulb["code"]
            size = "big_city" if code in big_cities else "default"
            body = named(code, district.ulb["name"])
            town = district.hq_name
            places = [code, district.code, f"MO-{code}"]
            if code in big_cities:
                count = halls["per_body"]["big_city"]
            elif "Corporation" in district.ulb["name"]["en"]:
                count = halls["per_body"]["corporation"]
            else:
                count = halls["per_body"]["default"]
            wards = district.mandals[0].wards or district.localities
            for number, (en, te) in enumerate(rng.sample(halls["names"], count), start=1):
                ward = rng.choice(wards)
                fee = rng.randrange(
                    halls["fee_paise"][0], halls["fee_paise"][1] + 1, halls["fee_paise"][2]
                )
                self._add(
                    Bookable(
                        "hall",
                        f"{code}.hall{number}",
                        text(f"{en}, {town['en']}", f"{te}, {town['te']}"),
                        fee,
                        _fixed(halls["bookings_per_day"]),
                        _static(
                            {
                                "municipal_body": body,
                                "ward": named(ward.code, ward.name),
                                "guests": rng.choice(halls["guests"]),
                                "air_conditioned": rng.random() < halls["air_conditioned_share"],
                            }
                        ),
                    ),
                    places,
                )
            low, high, step = tanker["price_paise"]
            litres = tanker["litres"]
            self._add(
                Bookable(
                    "tanker",
                    f"{code}.tanker",
                    text(
                        f"Water tanker, {litres:,} litres, {town['en']}",
                        f"నీటి ట్యాంకర్, {litres:,} లీటర్లు, {town['te']}",
                    ),
                    rng.randrange(low, high + 1, step),
                    _fixed(tanker["trips_per_day"][size]),
                    _static({"municipal_body": body, "litres": litres}),
                ),
                places,
            )
            self._add(
                Bookable(
                    "septic",
                    f"{code}.septic",
                    text(
                        f"Septic tank cleaning, {town['en']}",
                        f"సెప్టిక్ ట్యాంక్ శుభ్రత, {town['te']}",
                    ),
                    septic["price_paise"],
                    _fixed(septic["slots_per_day"][size]),
                    _static({"municipal_body": body}),
                ),
                places,
            )

    # ----- Anna Canteens -----

    def _add_canteens(self, world: World, data: Record) -> None:
        spec = data["meal_sponsorship"]
        open_days = {_DAYS.index(d) for d in load("canteens")["days"]}
        per_day = spec["sponsors_per_day"]

        def capacity(day: date) -> int:
            return per_day if day.weekday() in open_days else 0

        for id_ in sorted(world.places["anna_canteen"]):
            canteen = world.places["anna_canteen"][id_]
            name = canteen["name"]
            meals = spec["meals"]
            self._add(
                Bookable(
                    "meal_sponsorship",
                    id_,
                    text(
                        f"Sponsor a day's {meals} meals, {name['en']}",
                        f"ఒక రోజు {meals} భోజనాల స్పాన్సర్, {name['te']}",
                    ),
                    spec["price_paise"],
                    capacity,
                    _static({"canteen": named(id_, name), "meals": meals}),
                ),
                [id_, id_[4:7]],  # the canteen, and its district's code (ANC-GNT-01 → GNT)
            )


def _route_label(service: BusService, what: dict[str, str]) -> dict[str, str]:
    o, d, c = service.origin.name, service.destination.name, service.service_class.name
    return text(
        f"{what['en']}, {o['en']} → {d['en']}, {c['en']}, {service.departs}",
        f"{what['te']}, {o['te']} → {d['te']}, {c['te']}, {service.departs}",
    )


def _bus_details(service: BusService, extra: Record | None = None) -> Callable[[date], Record]:
    def details(day: date) -> Record:
        departs = service.departure(day)
        return {
            "service_number": service.number,
            "from": named(service.origin.code, service.origin.name),
            "to": named(service.destination.code, service.destination.name),
            "service_class": named(service.service_class.code, service.service_class.name),
            "departs_at": departs.isoformat(),
            "arrives_at": (departs + timedelta(minutes=service.duration_min)).isoformat(),
            "distance_km": service.distance_km,
            "air_conditioned": service.service_class.air_conditioned,
            **(extra or {}),
        }

    return details
