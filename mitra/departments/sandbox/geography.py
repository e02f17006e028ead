"""Districts, mandals, villages and wards, and the offices and places found in them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geo import distance_m, scatter

WARDS_PER_TOWN = 6
VILLAGES_PER_MANDAL = 3

Record = dict[str, Any]


def text(en: str, te: str) -> dict[str, str]:
    return {"en": en, "te": te}


def named(code: str, name: dict[str, str]) -> Record:
    return {"code": code, "name": dict(name)}


def location(lat: float, lon: float) -> dict[str, float]:
    return {"lat": lat, "lon": lon}


@dataclass
class Locality:
    """A village or an urban ward: the unit citizens, accounts and offices are placed in."""

    code: str
    name: dict[str, str]
    lat: float
    lon: float
    urban: bool
    mandal: Mandal

    @property
    def district(self) -> District:
        return self.mandal.district

    def area(self) -> Record:
        area = {
            "district": self.district.named(),
            "mandal": self.mandal.named(),
            ("ward" if self.urban else "village"): named(self.code, self.name),
        }
        return area

    def record(self) -> Record:
        return {
            "code": self.code,
            "name": dict(self.name),
            "location": location(self.lat, self.lon),
        }


@dataclass
class Mandal:
    code: str
    name: dict[str, str]
    lat: float
    lon: float
    district: District
    is_headquarters: bool
    localities: list[Locality] = field(default_factory=list)

    def named(self) -> Record:
        return named(self.code, self.name)

    def area(self) -> Record:
        return {"district": self.district.named(), "mandal": self.named()}

    @property
    def villages(self) -> list[Locality]:
        return [x for x in self.localities if not x.urban]

    @property
    def wards(self) -> list[Locality]:
        return [x for x in self.localities if x.urban]


@dataclass
class District:
    code: str
    name: dict[str, str]
    short_name: dict[str, str]
    hq_name: dict[str, str]
    lat: float
    lon: float
    std: str
    discom: str
    circle: int
    ulb: Record | None
    mandals: list[Mandal] = field(default_factory=list)

    def named(self) -> Record:
        return named(self.code, self.name)

    def record(self) -> Record:
        return {
            "code": self.code,
            "name": dict(self.name),
            "short_name": dict(self.short_name),
            "headquarters": {"name": dict(self.hq_name), "location": location(self.lat, self.lon)},
            "discom": self.discom,
        }

    @property
    def localities(self) -> list[Locality]:
        return [x for m in self.mandals for x in m.localities]

    @property
    def wards(self) -> list[Locality]:
        return [x for m in self.mandals for x in m.wards]

    @property
    def villages(self) -> list[Locality]:
        return [x for m in self.mandals for x in m.villages]

    def phone(self, rng: random.Random) -> str:
        """A plausible landline in the headquarters' STD area: 0863-2234567."""
        digits = 11 - len(self.std)
        return f"{self.std}-2{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


def build_districts(rng: random.Random) -> list[District]:
    pool = load("names")["villages"]
    districts = []
    for raw in load("geography")["districts"]:
        lat, lon = raw["location"]
        district = District(
            code=raw["code"],
            name=raw["name"],
            short_name=raw.get("short_name", raw["name"]),
            hq_name=raw["hq"],
            lat=lat,
            lon=lon,
            std=raw["std"],
            discom=raw["discom"],
            circle=raw["circle"],
            ulb=raw["ulb"],
        )
        for index, (en, te, mlat, mlon) in enumerate(raw["mandals"], start=1):
            mandal = Mandal(
                code=f"{district.code}{index:02d}",
                name=text(en, te),
                lat=mlat,
                lon=mlon,
                district=district,
                is_headquarters=index == 1,
            )
            _add_localities(rng, mandal, pool)
            district.mandals.append(mandal)
        districts.append(district)
    return districts


def _add_localities(rng: random.Random, mandal: Mandal, pool: list[list[str]]) -> None:
    town = mandal.is_headquarters and mandal.district.ulb is not None
    if town:
        # The headquarters town in wards; ward 1 is at the town's centre.
        for ward in range(1, WARDS_PER_TOWN + 1):
            lat, lon = (
                (mandal.lat, mandal.lon)
                if ward == 1
                else scatter(rng, mandal.lat, mandal.lon, 0.8, 3.0)
            )
            mandal.localities.append(
                Locality(
                    code=f"{mandal.code}W{ward:02d}",
                    name=text(
                        f"{mandal.district.hq_name['en']} Ward {ward}",
                        f"{mandal.district.hq_name['te']} వార్డు {ward}",
                    ),
                    lat=lat,
                    lon=lon,
                    urban=True,
                    mandal=mandal,
                )
            )
        names = rng.sample(pool, 2)
        first = 1
    else:
        # The mandal's headquarters village carries the mandal's name, at its centre.
        mandal.localities.append(
            Locality(f"{mandal.code}01", dict(mandal.name), mandal.lat, mandal.lon, False, mandal)
        )
        names = rng.sample(pool, VILLAGES_PER_MANDAL)
        first = 2
    for number, (en, te) in enumerate(names, start=first):
        lat, lon = scatter(rng, mandal.lat, mandal.lon, 2.5 if town else 2.0, 7.0)
        mandal.localities.append(
            Locality(f"{mandal.code}{number:02d}", text(en, te), lat, lon, False, mandal)
        )


def nearest_locality(localities: list[Locality], lat: float, lon: float) -> tuple[Locality, float]:
    best = min(localities, key=lambda x: distance_m(lat, lon, x.lat, x.lon))
    return best, distance_m(lat, lon, best.lat, best.lon)
