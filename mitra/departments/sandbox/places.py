"""Offices and public places: secretariats, tahsildar and municipal offices, discom section
offices, bus stations, Anna Canteens and temples — each with contacts and timings."""

from __future__ import annotations

import random
from typing import Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geo import scatter
from mitra.departments.sandbox.geography import (
    District,
    Locality,
    Mandal,
    Record,
    location,
    nearest_locality,
    text,
)

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKING_DAYS = ALL_DAYS[:6]


def timing(label: str, days: list[str], opens: str, closes: str) -> Record:
    return {"label": label, "days": list(days), "opens": opens, "closes": closes}


def office(type_: str, id_: str, name: dict[str, str]) -> Record:
    """An `Office` reference as applications and grievances carry it."""
    return {"type": type_, "id": id_, "name": dict(name)}


# ----- names, shared with the records that refer to these offices -----


def secretariat_ref(locality: Locality) -> Record:
    if locality.urban:
        return office(
            "ward_secretariat",
            f"WS-{locality.code}",
            text(f"{locality.name['en']} Secretariat", f"{locality.name['te']} సచివాలయం"),
        )
    return office(
        "village_secretariat",
        f"VS-{locality.code}",
        text(f"{locality.name['en']} Village Secretariat", f"{locality.name['te']} గ్రామ సచివాలయం"),
    )


def tahsildar_ref(mandal: Mandal) -> Record:
    return office(
        "tahsildar_office",
        f"TO-{mandal.code}",
        text(f"Tahsildar Office, {mandal.name['en']}", f"తహసీల్దార్ కార్యాలయం, {mandal.name['te']}"),
    )


def discom_ref(mandal: Mandal) -> Record:
    return office(
        "discom_office",
        f"DO-{mandal.code}",
        text(
            f"{mandal.district.discom} Section Office, {mandal.name['en']}",
            f"విద్యుత్ సెక్షన్ కార్యాలయం, {mandal.name['te']}",
        ),
    )


def municipal_ref(district: District) -> Record | None:
    if district.ulb is None:
        return None
    return office("municipal_office", f"MO-{district.ulb['code']}", district.ulb["name"])


def bus_station_ref(code: str, name: dict[str, str]) -> Record:
    return office("bus_station", f"BS-{code}", name)


def cmrf_cell_ref() -> Record:
    return office(
        "cmrf_cell",
        "CMRF-CELL",
        text("CMRF Cell, AP Secretariat, Velagapudi", "సీఎంఆర్ఎఫ్ విభాగం, ఏపీ సచివాలయం, వెలగపూడి"),
    )


def collectorate_ref(district: District) -> Record:
    return office(
        "collectorate",
        f"COL-{district.code}",
        text(f"Collectorate, {district.hq_name['en']}", f"కలెక్టరేట్, {district.hq_name['te']}"),
    )


# ----- building the places -----


def _place(
    type_: str,
    ref: Record,
    department: str,
    lat: float,
    lon: float,
    address: Record,
    phones: list[str],
    timings: list[Record],
    details: dict[str, Any] | None = None,
    email: str | None = None,
) -> Record:
    place = {
        "type": type_,
        "id": ref["id"],
        "department": department,
        "name": dict(ref["name"]),
        "location": location(lat, lon),
        "address": address,
        "phones": phones,
        "timings": timings,
        "details": details or {},
    }
    if email:
        place["email"] = email
    return place


def build_places(
    rng: random.Random, districts: list[District], departments: dict[str, str]
) -> dict[str, dict[str, Record]]:
    """Every place, by type then id. `departments` maps a place type to its department."""
    places: dict[str, dict[str, Record]] = {t: {} for t in departments}

    def add(place: Record) -> None:
        places[place["type"]][place["id"]] = place

    secretariat_hours = [
        timing("office_hours", WORKING_DAYS, "10:00", "17:00"),
        timing("public_hours", WORKING_DAYS[:5], "15:00", "17:00"),
    ]
    for district in districts:
        for mandal in district.mandals:
            for locality in mandal.localities:
                ref = secretariat_ref(locality)
                lat, lon = scatter(rng, locality.lat, locality.lon, 0.05, 0.3)
                add(
                    _place(
                        ref["type"],
                        ref,
                        departments[ref["type"]],
                        lat,
                        lon,
                        locality.area(),
                        [district.phone(rng)],
                        secretariat_hours,
                        {
                            "officer": "ward_admin_secretary"
                            if locality.urban
                            else "panchayat_secretary"
                        },
                    )
                )
            centre = mandal.localities[0]
            ref = tahsildar_ref(mandal)
            lat, lon = scatter(rng, mandal.lat, mandal.lon, 0.1, 0.6)
            add(
                _place(
                    "tahsildar_office",
                    ref,
                    departments["tahsildar_office"],
                    lat,
                    lon,
                    centre.area(),
                    [district.phone(rng), district.phone(rng)],
                    [
                        timing("office_hours", WORKING_DAYS, "10:30", "17:00"),
                        timing("public_hours", ["mon"], "10:00", "13:00"),
                    ],
                    {"officer": "tahsildar"},
                    email=f"tahsildar-{mandal.code.lower()}@sandbox.invalid",
                )
            )
            ref = discom_ref(mandal)
            lat, lon = scatter(rng, mandal.lat, mandal.lon, 0.1, 0.8)
            add(
                _place(
                    "discom_office",
                    ref,
                    departments["discom_office"],
                    lat,
                    lon,
                    centre.area(),
                    [district.phone(rng)],
                    [
                        timing("office_hours", WORKING_DAYS, "10:00", "17:00"),
                        timing("complaints", ALL_DAYS, "00:00", "23:59"),
                    ],
                    {"officer": "assistant_engineer", "discom": district.discom},
                )
            )
        municipal = municipal_ref(district)
        if municipal is not None:
            lat, lon = scatter(rng, district.lat, district.lon, 0.2, 1.0)
            add(
                _place(
                    "municipal_office",
                    municipal,
                    departments["municipal_office"],
                    lat,
                    lon,
                    district.mandals[0].localities[0].area(),
                    [district.phone(rng), district.phone(rng)],
                    [
                        timing("office_hours", WORKING_DAYS, "10:00", "17:30"),
                        timing("public_hours", ["mon"], "10:00", "13:00"),
                    ],
                    {"officer": "municipal_commissioner"},
                    email=f"commissioner-{district.ulb['code'].lower()}@sandbox.invalid"
                    if district.ulb
                    else None,
                )
            )
    _add_bus_stations(rng, districts, departments, add)
    _add_canteens(rng, districts, departments, add)
    _add_temples(rng, districts, departments, add)
    return places


def _area_in(district: District, lat: float, lon: float) -> Record:
    locality, _ = nearest_locality(district.localities, lat, lon)
    return locality.area()


def _add_bus_stations(
    rng: random.Random, districts: list[District], departments: dict[str, str], add: Any
) -> None:
    by_code = {d.code: d for d in districts}
    hours = [
        timing("enquiry", ALL_DAYS, "00:00", "23:59"),
        timing("counter_hours", ALL_DAYS, "06:00", "22:00"),
    ]
    served = set()
    for code, en, te, district_code, lat, lon, station_en, station_te in load("transport")["towns"]:
        district = by_code[district_code]
        served.add(district_code)
        add(
            _place(
                "bus_station",
                bus_station_ref(code, text(station_en, station_te)),
                departments["bus_station"],
                lat,
                lon,
                _area_in(district, lat, lon),
                [district.phone(rng), district.phone(rng)],
                hours,
                {"town": code, "town_name": text(en, te)},
            )
        )
    for district in districts:
        if district.code in served:
            continue
        lat, lon = scatter(rng, district.lat, district.lon, 0.3, 1.2)
        name = text(f"{district.hq_name['en']} Bus Station", f"{district.hq_name['te']} బస్ స్టేషన్")
        add(
            _place(
                "bus_station",
                bus_station_ref(district.code, name),
                departments["bus_station"],
                lat,
                lon,
                _area_in(district, lat, lon),
                [district.phone(rng)],
                hours,
                {"town": None, "town_name": dict(district.hq_name)},
            )
        )


def _add_canteens(
    rng: random.Random, districts: list[District], departments: dict[str, str], add: Any
) -> None:
    menu = load("canteens")
    counts = menu["per_district"]
    hours = [
        timing(meal, menu["days"], *menu["timings"][meal])
        for meal in ("breakfast", "lunch", "dinner")
    ]
    for district in districts:
        town = district.mandals[0].localities[: max(1, len(district.mandals[0].wards))]
        for number in range(1, counts.get(district.code, counts["default"]) + 1):
            near = town[(number - 1) % len(town)]
            lat, lon = scatter(rng, near.lat, near.lon, 0.2, 1.0)
            ref = office(
                "anna_canteen",
                f"ANC-{district.code}-{number:02d}",
                text(
                    f"Anna Canteen {number}, {district.hq_name['en']}",
                    f"అన్న క్యాంటీన్ {number}, {district.hq_name['te']}",
                ),
            )
            add(
                _place(
                    "anna_canteen",
                    ref,
                    departments["anna_canteen"],
                    lat,
                    lon,
                    near.area(),
                    [district.phone(rng)],
                    hours,
                    {
                        "price_per_meal": menu["price_per_meal"],
                        "seats": rng.choice([60, 80, 100, 120]),
                    },
                )
            )


def _add_temples(
    rng: random.Random, districts: list[District], departments: dict[str, str], add: Any
) -> None:
    by_code = {d.code: d for d in districts}
    for temple in load("temples")["temples"]:
        district = by_code[temple["district"]]
        lat, lon = temple["location"]
        std = temple["std"]
        digits = 11 - len(std)
        phones = [f"{std}-2{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}" for _ in range(2)]
        add(
            _place(
                "temple",
                office("temple", temple["id"], temple["name"]),
                departments["temple"],
                lat,
                lon,
                _area_in(district, lat, lon),
                phones,
                [
                    timing(label, ALL_DAYS, opens, closes)
                    for label, opens, closes in temple["timings"]
                ],
                {"code": temple["code"], "town": dict(temple["town"])},
                email=f"eo-{temple['id']}@sandbox.invalid",
            )
        )


def rtc_region_ref(district: District) -> Record:
    return office(
        "rtc_region",
        f"RM-{district.code}",
        text(
            f"APSRTC Regional Manager, {district.hq_name['en']}",
            f"ఏపీఎస్‌ఆర్టీసీ రీజనల్ మేనేజర్, {district.hq_name['te']}",
        ),
    )


def covering_offices(locality: Locality, depot: Record | None = None) -> dict[str, list[Record]]:
    """For each department, the offices whose jurisdiction covers `locality`, nearest first:
    the ladder an application climbs when it is escalated (local → mandal → district → state)."""

    def rung(level: str, ref: Record | None) -> list[Record]:
        return [] if ref is None else [{**ref, "level": level}]

    local = secretariat_ref(locality)
    mandal, district = locality.mandal, locality.district
    collectorate = collectorate_ref(district)
    return {
        "REV": [
            *rung("local", local),
            *rung("mandal", tahsildar_ref(mandal)),
            *rung("district", collectorate),
        ],
        "MUN": [
            *rung("local", local),
            *rung("district", municipal_ref(district) or collectorate),
        ],
        "ENG": [*rung("mandal", discom_ref(mandal)), *rung("district", collectorate)],
        "RTC": [*rung("local", depot), *rung("district", rtc_region_ref(district))],
        "ANC": [*rung("local", local), *rung("district", municipal_ref(district) or collectorate)],
        "CMR": rung("state", cmrf_cell_ref()),
        "END": [*rung("district", collectorate)],
        "GEN": [*rung("local", local), *rung("district", collectorate)],
    }
