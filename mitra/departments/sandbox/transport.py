"""APSRTC: daily services between the major towns (both directions), fares and seats, and
where a service is now."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geo import distance_m, interpolate
from mitra.departments.sandbox.geography import Record, location, named, text
from mitra.departments.sandbox.timeline import IST

MAX_ROAD_KM = 800


@dataclass(frozen=True)
class Town:
    code: str
    name: dict[str, str]
    district: str
    lat: float
    lon: float

    def record(self) -> Record:
        return {
            "code": self.code,
            "name": dict(self.name),
            "district": self.district,
            "location": location(self.lat, self.lon),
        }


@dataclass(frozen=True)
class ServiceClass:
    code: str
    name: dict[str, str]
    paise_per_km: int
    kmph: int
    seats: int
    air_conditioned: bool


@dataclass(frozen=True)
class BusService:
    number: str
    origin: Town
    destination: Town
    service_class: ServiceClass
    departs: str  # HH:MM, daily
    distance_km: int

    @property
    def duration_min(self) -> int:
        return round(self.distance_km / self.service_class.kmph * 60)

    @property
    def fare(self) -> int:
        """Fare in paise, rounded up to the next ₹5 as conductors do."""
        rupees = self.distance_km * self.service_class.paise_per_km / 100
        return int(-(-rupees // 5) * 5) * 100

    def departure(self, day: date) -> datetime:
        hour, minute = map(int, self.departs.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST)

    def seats_available(self, day: date) -> int:
        """Deterministic per service and date; fuller near departure and at weekends."""
        rng = random.Random(f"seats:{self.number}:{day.isoformat()}")
        booked = rng.randint(0, self.service_class.seats)
        if day.weekday() >= 4:
            booked = min(self.service_class.seats, booked + self.service_class.seats // 4)
        return self.service_class.seats - booked

    def delay_min(self, day: date) -> int:
        return random.Random(f"delay:{self.number}:{day.isoformat()}").choice(
            [0, 0, 0, 5, 10, 15, 25]
        )

    def summary(self, day: date) -> Record:
        departs = self.departure(day)
        return {
            "service_number": self.number,
            "service_class": named(self.service_class.code, self.service_class.name),
            "departs_at": departs.isoformat(),
            "arrives_at": (departs + timedelta(minutes=self.duration_min)).isoformat(),
            "duration_min": self.duration_min,
            "distance_km": self.distance_km,
            "fare": self.fare,
            "seats_total": self.service_class.seats,
            "seats_available": self.seats_available(day),
            "air_conditioned": self.service_class.air_conditioned,
        }


@dataclass
class Network:
    towns: dict[str, Town]
    classes: dict[str, ServiceClass]
    services: dict[str, BusService]

    def town(self, text_: str) -> Town | None:
        """A town by code or English name, any case."""
        key = text_.strip().upper()
        if key in self.towns:
            return self.towns[key]
        for town in self.towns.values():
            if town.name["en"].upper() == key:
                return town
        return None

    def between(self, origin: Town, destination: Town) -> list[BusService]:
        return sorted(
            (
                s
                for s in self.services.values()
                if s.origin == origin and s.destination == destination
            ),
            key=lambda s: s.departs,
        )

    def location(self, service: BusService, now: datetime) -> dict[str, Any]:
        """Where the service's current (or next) run is at `now`."""
        today = now.astimezone(IST).date()
        run_day = today
        for day in (today - timedelta(days=1), today):
            start = service.departure(day) + timedelta(minutes=service.delay_min(day))
            if start <= now <= start + timedelta(minutes=service.duration_min):
                run_day = day
        delay = service.delay_min(run_day)
        start = service.departure(run_day) + timedelta(minutes=delay)
        end = start + timedelta(minutes=service.duration_min)
        o, d = service.origin, service.destination
        if now < start:
            status, (lat, lon) = "not_started", (o.lat, o.lon)
        elif now > end:
            status, (lat, lon) = "arrived", (d.lat, d.lon)
        else:
            fraction = (now - start) / (end - start)
            status, (lat, lon) = "running", interpolate(o.lat, o.lon, d.lat, d.lon, fraction)
        return {
            "service_number": service.number,
            "from": o.record(),
            "to": d.record(),
            "status": status,
            "departs_at": service.departure(run_day).isoformat(),
            "location": location(lat, lon),
            "delay_min": delay,
            "as_of": now.astimezone(IST).replace(microsecond=0).isoformat(),
        }


def build_network(rng: random.Random) -> Network:
    data = load("transport")
    towns = {
        code: Town(code, text(en, te), district, lat, lon)
        for code, en, te, district, lat, lon, *_ in data["towns"]
    }
    classes = {
        code: ServiceClass(code, text(en, te), paise, kmph, seats, ac)
        for code, en, te, paise, kmph, seats, ac in data["classes"]
    }
    services: dict[str, BusService] = {}
    number = 1000
    codes = list(towns)
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            km = round(
                distance_m(towns[a].lat, towns[a].lon, towns[b].lat, towns[b].lon)
                / 1000
                * data["road_factor"]
            )
            if km > MAX_ROAD_KM:
                continue
            if km <= 160:
                mix, count, first, last = ["express", "ultra_deluxe", "express", "indra"], 10, 5, 21
            elif km <= 380:
                mix, count, first, last = (
                    ["ultra_deluxe", "super_luxury", "express", "indra", "amaravati"],
                    6,
                    5,
                    23,
                )
            elif km <= 560:
                mix, count, first, last = (
                    ["super_luxury", "indra", "amaravati", "night_rider"],
                    4,
                    6,
                    23,
                )
            else:
                mix, count, first, last = ["super_luxury", "amaravati", "night_rider"], 3, 16, 23
            for origin, destination in ((a, b), (b, a)):
                minutes = sorted(rng.sample(range(first * 60, last * 60, 15), count))
                for k, start in enumerate(minutes):
                    number += rng.randint(1, 9)
                    service = BusService(
                        number=str(number),
                        origin=towns[origin],
                        destination=towns[destination],
                        service_class=classes[mix[k % len(mix)]],
                        departs=f"{start // 60:02d}:{start % 60:02d}",
                        distance_km=km,
                    )
                    services[service.number] = service
    return Network(towns, classes, services)
