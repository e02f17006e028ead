"""Land records by village and survey number: adangal (village account), 1-B (record of
rights, by khata) and the FMB (field measurement) sketch."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import District, Locality, Record, named, text
from mitra.departments.sandbox.people import Person, person
from mitra.departments.sandbox.timeline import AS_OF, financial_year

PARCELS_PER_VILLAGE = 3
SQ_M_PER_CENT = 40.4686  # 1 acre = 100 cents = 4,046.86 m²


def extent(cents: int) -> Record:
    return {
        "acres": cents // 100,
        "cents": cents % 100,
        "square_metres": round(cents * SQ_M_PER_CENT),
    }


def survey_key(village: str, survey_id: str) -> str:
    return f"{village}:{survey_id}"


@dataclass
class Parcel:
    village: Locality
    survey_number: str  # as on paper: 123/2A
    cents: int
    classification: str
    water_source: str
    khata: Khata
    crops: list[tuple[str, str, str]]
    tenant: Person | None

    @property
    def survey_id(self) -> str:  # as in a URL: 123-2A
        return self.survey_number.replace("/", "-")

    def base(self) -> Record:
        return {
            "survey_number": self.survey_number,
            "village": named(self.village.code, self.village.name),
            "mandal": self.village.mandal.named(),
            "district": self.village.district.named(),
            "khata_number": self.khata.number,
            "pattadar": self.khata.pattadar.masked(),
            "extent": extent(self.cents),
            "classification": self.classification,
            "water_source": self.water_source,
        }


@dataclass
class Khata:
    number: str
    pattadar: Person
    relation: Person
    acquired_by: str
    parcels: list[Parcel] = field(default_factory=list)


_CROPS = {
    "wet": (["paddy"], ["paddy", "black_gram", "maize"]),
    "dry": (
        ["cotton", "chilli", "red_gram", "groundnut", "maize"],
        ["groundnut", "black_gram", "maize"],
    ),
    "garden": (["mango", "banana", "sugarcane"], None),
}


def build_land(rng: random.Random, districts: list[District]) -> dict[str, Parcel]:
    """Parcels by `survey_key(village code, survey id)`."""
    crops = {c[0]: c for c in load("names")["crops"]}
    parcels: dict[str, Parcel] = {}
    for district in districts:
        for village in district.villages:
            numbers: set[str] = set()
            khatas = [
                Khata(
                    number=str(rng.randint(1, 1800)),
                    pattadar=person(rng),
                    relation=person(rng, "male"),
                    acquired_by=rng.choice(
                        [
                            "inheritance",
                            "inheritance",
                            "purchase",
                            "partition",
                            "gift",
                            "government_assignment",
                        ]
                    ),
                )
                for _ in range(2)
            ]
            if khatas[0].number == khatas[1].number:
                khatas[1].number = str(int(khatas[1].number) + 1)
            for index in range(PARCELS_PER_VILLAGE):
                # The contract's example (123/2A in village GNT0201, Tenali) exists.
                pinned = index == 0 and village.code == f"{district.code}0201"
                number = "123/2A" if pinned else _survey_number(rng)
                while number in numbers:
                    number = _survey_number(rng)
                numbers.add(number)
                classification = rng.choice(["wet", "wet", "dry", "dry", "dry", "garden"])
                water = {
                    "wet": "canal",
                    "dry": rng.choice(["rainfed", "borewell", "tank"]),
                    "garden": "borewell",
                }[classification]
                kharif, rabi = _CROPS[classification]
                chosen = [crops[rng.choice(kharif)]]
                chosen.append(crops[rng.choice(rabi)] if rabi else chosen[0])
                khata = khatas[0 if index < 2 else 1]
                parcel = Parcel(
                    village=village,
                    survey_number=number,
                    cents=rng.randrange(25, 650, 5),
                    classification=classification,
                    water_source=water,
                    khata=khata,
                    crops=[(c[0], c[1], c[2]) for c in chosen],
                    tenant=person(rng) if rng.random() < 0.25 else None,
                )
                khata.parcels.append(parcel)
                parcels[survey_key(village.code, parcel.survey_id)] = parcel
    return parcels


def _survey_number(rng: random.Random) -> str:
    base = str(rng.randint(1, 480))
    roll = rng.random()
    if roll < 0.45:
        return base
    if roll < 0.8:
        return f"{base}/{rng.randint(1, 6)}"
    return f"{base}/{rng.randint(1, 4)}{rng.choice('ABC')}"


def adangal(parcel: Parcel) -> Record:
    cultivator = (parcel.tenant or parcel.khata.pattadar).masked()
    this_year = financial_year(AS_OF)
    last_year = financial_year(AS_OF.replace(year=AS_OF.year - 1))
    rows: list[dict[str, Any]] = []
    for year in (last_year, this_year):
        for season, (code, en, te) in zip(("kharif", "rabi"), parcel.crops, strict=True):
            if year == this_year and season == "rabi" and AS_OF.month < 12:
                continue  # this year's rabi is not yet entered
            rows.append(
                {
                    "year": year,
                    "season": season,
                    "crop": named(code, text(en, te)),
                    "extent": extent(parcel.cents),
                    "cultivator": cultivator,
                }
            )
    return {
        "kind": "adangal",
        "identifier": parcel.survey_id,
        "department": "REV",
        "title": text("Adangal (village account) extract", "అడంగల్ (గ్రామ ఖాతా) నకలు"),
        "issued_on": AS_OF.isoformat(),
        "data": {**parcel.base(), "cultivation": rows},
    }


def record_of_rights(parcel: Parcel) -> Record:
    khata = parcel.khata
    total = sum(p.cents for p in khata.parcels)
    return {
        "kind": "1b",
        "identifier": parcel.survey_id,
        "department": "REV",
        "title": text("1-B (record of rights) extract", "1-బి (హక్కుల రికార్డు) నకలు"),
        "issued_on": AS_OF.isoformat(),
        "data": {
            "khata_number": khata.number,
            "village": named(parcel.village.code, parcel.village.name),
            "mandal": parcel.village.mandal.named(),
            "district": parcel.village.district.named(),
            "pattadar": khata.pattadar.masked(),
            "relation": khata.relation.masked(),
            "acquired_by": khata.acquired_by,
            "holdings": [
                {
                    "survey_number": p.survey_number,
                    "extent": extent(p.cents),
                    "classification": p.classification,
                }
                for p in khata.parcels
            ],
            "total_extent": extent(total),
            # Land revenue is nominal: a few rupees an acre, more for wet land.
            "land_revenue": sum(
                p.cents * (50 if p.classification == "wet" else 25) for p in khata.parcels
            ),
        },
    }


def field_measurement(parcel: Parcel, neighbours: list[str]) -> Record:
    area = parcel.cents * SQ_M_PER_CENT
    aspect = 0.6 + (int(parcel.survey_number.split("/")[0]) % 9) / 10  # stable per parcel
    width = math.sqrt(area * aspect)
    height = area / width
    skew = round(width * 0.08, 1)
    vertices = [
        {"x_m": 0.0, "y_m": 0.0},
        {"x_m": round(width, 1), "y_m": 0.0},
        {"x_m": round(width + skew, 1), "y_m": round(height, 1)},
        {"x_m": skew, "y_m": round(height, 1)},
    ]
    sides = ["north", "east", "south", "west"]
    boundaries: dict[str, Record] = {}
    others = [n for n in neighbours if n != parcel.survey_number]
    for i, side in enumerate(sides):
        if i < len(others):
            boundaries[side] = {"kind": "survey", "survey_number": others[i]}
        else:
            boundaries[side] = {"kind": ("road", "canal", "stream", "village_boundary")[i % 4]}
    return {
        "kind": "fmb",
        "identifier": parcel.survey_id,
        "department": "REV",
        "title": text("Field measurement book (FMB) sketch", "ఎఫ్ఎంబీ (క్షేత్ర కొలతల) స్కెచ్"),
        "issued_on": AS_OF.isoformat(),
        "data": {
            "survey_number": parcel.survey_number,
            "village": named(parcel.village.code, parcel.village.name),
            "mandal": parcel.village.mandal.named(),
            "district": parcel.village.district.named(),
            "extent": extent(parcel.cents),
            "scale": "1:5000",
            "boundaries": boundaries,
            "vertices": vertices,
        },
    }
