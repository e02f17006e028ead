"""Answers to `GET /v1/info/{topic}`: each function takes the world, the query parameters
and the current time, and returns the topic's `data` or raises `InfoError`."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import Record, named, text
from mitra.departments.sandbox.places import timing
from mitra.departments.sandbox.tariff import CATEGORIES, estimate
from mitra.departments.sandbox.timeline import IST

if TYPE_CHECKING:
    from mitra.departments.sandbox.world import World

OUTAGE_DAYS = 7


class InfoError(Exception):
    """A topic could not be answered: `code` is `invalid` (400) or `not_found` (404)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


Params = Mapping[str, str]


def _required(params: Params, name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise InfoError("invalid", f"the {name!r} parameter is required")
    return value


def _integer(params: Params, name: str, *, required: bool = False) -> int | None:
    raw = params.get(name, "").strip()
    if not raw:
        if required:
            raise InfoError("invalid", f"the {name!r} parameter is required")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InfoError("invalid", f"{name!r} must be a whole number") from None
    if value < 0:
        raise InfoError("invalid", f"{name!r} must not be negative")
    return value


def planned_outages(world: World, params: Params, now: datetime) -> Record:
    """Outages over the next week, drawn per district and day so any date has some."""
    district_code = params.get("district", "").strip().upper()
    mandal_code = params.get("mandal", "").strip().upper()
    districts = world.districts
    if district_code:
        if district_code not in world.district_index:
            raise InfoError("not_found", "no such district")
        districts = [world.district_index[district_code]]
    today = now.astimezone(IST).date()
    reasons = load("energy")["outage_reasons"]
    outages = []
    for district in districts:
        draws = []
        for offset in range(OUTAGE_DAYS):
            day = today + timedelta(days=offset)
            rng = random.Random(f"outage:{district.code}:{day.isoformat()}")
            draws.append((rng.random(), day, rng))
        # Most weeks bring two or three planned cuts to a district, never none.
        chosen = [d for d in draws if d[0] <= 0.4] or [min(draws, key=lambda d: d[0])]
        for _, day, rng in chosen:
            mandal = rng.choice(district.mandals)
            if mandal_code and mandal.code != mandal_code:
                continue
            start_hour, hours = rng.choice([(9, 4), (10, 4), (14, 3), (7, 2)])
            start = datetime(day.year, day.month, day.day, start_hour, 0, tzinfo=IST)
            areas = rng.sample(mandal.localities, min(len(mandal.localities), rng.randint(1, 3)))
            outages.append(
                {
                    "id": f"OUT-{district.code}-{day:%Y%m%d}",
                    "district": district.named(),
                    "mandal": mandal.named(),
                    "areas": [named(a.code, a.name) for a in areas],
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=hours)).isoformat(),
                    "reason": rng.choice(reasons),
                    "feeder": f"11kV {mandal.name['en']}-{rng.randint(1, 6)}",
                }
            )
    outages.sort(key=lambda o: (o["starts_at"], o["id"]))
    return {"outages": outages}


def temple_calendar(world: World, params: Params, now: datetime) -> Record:
    wanted = params.get("temple", "").strip().lower()
    temples = load("temples")["temples"]
    if wanted:
        temples = [t for t in temples if wanted in (t["id"], t["code"].lower())]
        if not temples:
            raise InfoError("not_found", "no such temple")
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    answer = []
    for t in temples:
        answer.append(
            {
                "id": t["id"],
                "code": t["code"],
                "name": t["name"],
                "town": t["town"],
                "district": world.district_index[t["district"]].named(),
                "timings": [
                    timing(label, days, opens, closes) for label, opens, closes in t["timings"]
                ],
                "darshan": [
                    {"code": c, "name": text(en, te), "price": price, "daily_quota": quota}
                    for c, en, te, price, quota in t["darshan"]
                ],
                "sevas": [
                    {
                        "code": c,
                        "name": text(en, te),
                        "price": price,
                        "time": time_,
                        "daily_quota": 50,
                    }
                    for c, en, te, price, time_ in t["sevas"]
                ],
                "rooms": [
                    {
                        "code": c,
                        "name": text(en, te),
                        "price": price,
                        "capacity": capacity,
                        "rooms": 40 if c == "non_ac" else 20,
                    }
                    for c, en, te, price, capacity in t["rooms"]
                ],
                "festivals": [
                    {"name": text(en, te), "starts_on": start, "ends_on": end}
                    for en, te, start, end in t["festivals"]
                ],
            }
        )
    return {"temples": answer}


def canteen_menu(world: World, params: Params, now: datetime) -> Record:
    menu = load("canteens")
    data: Record = {
        "price_per_meal": menu["price_per_meal"],
        "timings": [
            timing(meal, menu["days"], *menu["timings"][meal])
            for meal in ("breakfast", "lunch", "dinner")
        ],
        "week": [
            {
                "day": day,
                "meals": [
                    {
                        "meal": meal,
                        "items": [named(item, menu["items"][item]) for item in menu[meal][day]],
                    }
                    for meal in ("breakfast", "lunch", "dinner")
                ],
            }
            for day in menu["days"]
        ],
    }
    wanted = params.get("canteen", "").strip().upper()
    if wanted:
        canteen = world.places["anna_canteen"].get(wanted)
        if canteen is None:
            raise InfoError("not_found", "no such canteen")
        data["canteen"] = named(canteen["id"], canteen["name"])
    return data


def documents_required(world: World, params: Params, now: datetime) -> Record:
    services = load("services")
    wanted = params.get("certificate", "").strip().upper()
    codes = [c for c, s in services["services"].items() if "documents" in s]
    if wanted:
        if wanted not in codes:
            raise InfoError("not_found", "no such certificate service")
        codes = [wanted]
    return {
        "certificates": [
            {
                "service_code": code,
                "name": text(services["services"][code]["en"], services["services"][code]["te"]),
                "fee": services["services"][code]["fee"],
                "sla_days": services["services"][code]["sla_days"],
                "documents": [
                    named(d, services["documents"][d])
                    for d in services["services"][code]["documents"]
                ],
            }
            for code in codes
        ]
    }


def bus_towns(world: World, params: Params, now: datetime) -> Record:
    return {"towns": [t.record() for t in world.network.towns.values()]}


def bus_search(world: World, params: Params, now: datetime) -> Record:
    origin = world.network.town(_required(params, "from"))
    destination = world.network.town(_required(params, "to"))
    if origin is None or destination is None:
        raise InfoError("invalid", "unknown town; see the bus_towns topic")
    try:
        day = date.fromisoformat(_required(params, "date"))
    except ValueError:
        raise InfoError("invalid", "date must be YYYY-MM-DD") from None
    return {
        "from": origin.record(),
        "to": destination.record(),
        "date": day.isoformat(),
        "services": [s.summary(day) for s in world.network.between(origin, destination)],
    }


def bus_location(world: World, params: Params, now: datetime) -> Record:
    service = world.network.services.get(_required(params, "service"))
    if service is None:
        raise InfoError("not_found", "no such service")
    return world.network.location(service, now)


def bill_estimate(world: World, params: Params, now: datetime) -> Record:
    category = _required(params, "category").lower()
    if category not in CATEGORIES:
        raise InfoError("invalid", f"category must be one of {', '.join(CATEGORIES)}")
    units = _integer(params, "units", required=True)
    assert units is not None
    return estimate(category, units)


def schemes(world: World, params: Params, now: datetime) -> Record:
    """Schemes a citizen may be eligible for; a rule that cannot be checked (nothing said
    about it) is given the benefit of the doubt."""
    age = _integer(params, "age")
    income = _integer(params, "income")
    raw_tags = params.get("category", "")
    tags = {t.strip().lower() for t in raw_tags.split(",") if t.strip()}
    district = params.get("district", "").strip().upper()
    matches = []
    for scheme in load("schemes")["schemes"]:
        if age is not None and not (scheme.get("min_age", 0) <= age <= scheme.get("max_age", 200)):
            continue
        if income is not None and income > scheme.get("max_income", income):
            continue
        if tags:
            if not set(scheme.get("requires_all", [])) <= tags:
                continue
            if scheme.get("requires_any") and not tags & set(scheme["requires_any"]):
                continue
        if district and scheme.get("districts") and district not in scheme["districts"]:
            continue
        matches.append(
            {
                "code": scheme["code"],
                "name": scheme["name"],
                "benefit": scheme["benefit"],
                "department": scheme["department"],
            }
        )
    return {"schemes": matches}


def energy_tips(world: World, params: Params, now: datetime) -> Record:
    return {"tips": [named(t["code"], text(t["en"], t["te"])) for t in load("energy")["tips"]]}


TOPICS: dict[str, Callable[[World, Params, datetime], dict[str, Any]]] = {
    "planned_outages": planned_outages,
    "temple_calendar": temple_calendar,
    "canteen_menu": canteen_menu,
    "documents_required": documents_required,
    "bus_towns": bus_towns,
    "bus_search": bus_search,
    "bus_location": bus_location,
    "bill_estimate": bill_estimate,
    "schemes": schemes,
    "energy_tips": energy_tips,
}
