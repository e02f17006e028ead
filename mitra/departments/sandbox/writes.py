"""What the sandbox departments write: submitted applications and grievances, and holds on
bookable inventory (bus seats, darshan, sevas, rooms).

State lives per app (never in the shared, cached `world()`), in memory. The sandbox is one
asyncio process, and nothing here awaits: every check-and-change (is the key new? is there
capacity? take it) runs to completion before another request is looked at, so two requests
can never both take the last seat.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mitra.departments.references import make_reference
from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import Locality, Record, text
from mitra.departments.sandbox.people import mask
from mitra.departments.sandbox.places import (
    cmrf_cell_ref,
    collectorate_ref,
    discom_ref,
    municipal_ref,
    secretariat_ref,
    tahsildar_ref,
)
from mitra.departments.sandbox.timeline import IST
from mitra.departments.sandbox.world import World

HOLD_TTL = timedelta(minutes=10)
INVENTORY_KINDS = {"bus_seat": "RTC", "darshan": "END", "seva": "END", "room": "END"}
"""Which department sells each kind of inventory."""
SEVA_DAILY_QUOTA = 50  # as `temple_calendar` publishes
ROOMS = {"non_ac": 40}  # rooms of a type per temple per night (others: ROOMS_DEFAULT)
ROOMS_DEFAULT = 20


class WriteError(Exception):
    """A refusal in the contract's error shape (`code` picks the HTTP status)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def fingerprint(body: object) -> str:
    text_ = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text_.encode()).hexdigest()


@dataclass
class _Remembered:
    fingerprint: str
    answer: Record


@dataclass
class Hold:
    hold_id: str
    department: str
    key: tuple[str, str, str]
    quantity: int
    expires_at: datetime
    status: str = "held"  # held → confirmed | released | expired
    booking_id: str | None = None

    def record(self) -> Record:
        kind, id_, day = self.key
        return {
            "hold_id": self.hold_id,
            "status": self.status,
            "item": {"kind": kind, "id": id_, "date": day},
            "quantity": self.quantity,
            "expires_at": self.expires_at.astimezone(IST).replace(microsecond=0).isoformat(),
            "booking_id": self.booking_id,
        }


@dataclass
class Desk:
    """One sandbox's writable state: what was submitted, what is held, what keys were seen."""

    world: World
    now: Callable[[], datetime]
    hold_ttl: timedelta = HOLD_TTL
    capacities: Mapping[tuple[str, str], int] = field(default_factory=dict)
    applications: dict[str, Record] = field(default_factory=dict)
    grievances: dict[str, Record] = field(default_factory=dict)
    _keys: dict[tuple[str, str, str], _Remembered] = field(default_factory=dict)
    _serials: dict[tuple[str, int], int] = field(default_factory=dict)
    _taken: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _holds: dict[str, Hold] = field(default_factory=dict)

    # ----- idempotency -----

    def once(
        self, department: str, operation: str, key: str, body: object, make: Callable[[], Record]
    ) -> Record:
        """`make()`'s answer, made at most once per (department, operation, key): the same key
        with the same body replays the first answer; with another body it is a `conflict`.
        Refusals are not remembered, so a key may be reused after one."""
        print_ = fingerprint(body)
        seen = self._keys.get((department, operation, key))
        if seen is not None:
            if seen.fingerprint != print_:
                raise WriteError(
                    "conflict", "that Idempotency-Key was already used with a different request"
                )
            return seen.answer
        answer = make()
        self._keys[(department, operation, key)] = _Remembered(print_, answer)
        return answer

    def _serial(self, prefix: str, year: int, issued: Mapping[str, Any]) -> int:
        """The next serial after every reference already issued with this prefix and year."""
        last = self._serials.get((prefix, year))
        if last is None:
            start = f"{prefix}-{year:04d}-"
            last = max(
                (int(r[len(start) : len(start) + 6]) for r in issued if r.startswith(start)),
                default=122,
            )
        self._serials[(prefix, year)] = last + 1
        return last + 1

    def _stamp(self) -> tuple[datetime, str]:
        moment = self.now().astimezone(IST).replace(microsecond=0)
        return moment, moment.isoformat()

    # ----- applications -----

    def submit_application(self, department: str, body: Record) -> Record:
        services = load("services")
        code = body["service_code"]
        if code not in services["services"]:
            raise WriteError("invalid", f"no service {code!r}")
        kinds = [
            (name, spec)
            for name, spec in services["application_kinds"].items()
            if code in spec["services"] and spec["department"] == department and spec["prefix"]
        ]
        if not kinds:
            raise WriteError("unsupported", f"{department} takes no applications for {code}")
        kind, spec = kinds[0]
        service = services["services"][code]
        applicant = body["applicant"]
        locality = self._locality(applicant["address"])
        received = self._office(body.get("office"), spec["received"], locality)
        moment, at = self._stamp()
        reference = make_reference(
            spec["prefix"],
            moment.year,
            self._serial(
                spec["prefix"], moment.year, {**self.world.applications, **self.applications}
            ),
        )
        record: Record = {
            "reference": reference,
            "kind": kind,
            "department": department,
            "service_code": code,
            "service": text(service["en"], service["te"]),
            # The sandbox does not transliterate: the name is masked as given, in both fields.
            "applicant": {"en": mask(applicant["name"]), "te": mask(applicant["name"])},
            "status": "submitted",
            "submitted_at": at,
            "updated_at": at,
            "expected_by": (moment.date() + timedelta(days=service["sla_days"])).isoformat(),
            "office": received,
            "area": locality.area(),
            "history": [
                {
                    "status": "submitted",
                    "at": at,
                    "office": received,
                    "note": "application_received",
                }
            ],
            "next_step": "await_review",
            # The answers stay with the department: they may hold personal data.
            "details": {},
            "documents": [],
        }
        self.applications[reference] = record
        return record

    def _locality(self, address: Mapping[str, Any]) -> Locality:
        district = self.world.district_index.get(str(address["district"]).upper())
        if district is None:
            raise WriteError("invalid", "no such district")
        mandal = next((m for m in district.mandals if m.code == address["mandal"].upper()), None)
        if mandal is None:
            raise WriteError("invalid", "no such mandal in that district")
        wanted = address.get("village") or address.get("ward")
        if not wanted or (address.get("village") and address.get("ward")):
            raise WriteError("invalid", "give the village or the ward (one of them)")
        found = next((x for x in mandal.localities if x.code == str(wanted).upper()), None)
        if found is None or found.urban != bool(address.get("ward")):
            raise WriteError("invalid", "no such village or ward in that mandal")
        return found

    def _nearest_office(self, type_: str, lat: float, lon: float) -> Record:
        place, _ = self.world.nearest(type_, lat, lon, 1)[0]
        return {"type": type_, "id": place["id"], "name": place["name"]}

    def _office(self, chosen: Mapping[str, Any] | None, role: str, locality: Locality) -> Record:
        if chosen:
            place = self.world.places.get(chosen["type"], {}).get(chosen["id"])
            if place is None:
                raise WriteError("invalid", "no such office")
            return {"type": place["type"], "id": place["id"], "name": place["name"]}
        if role in ("secretariat", "ward_secretariat"):
            return secretariat_ref(locality)
        if role == "tahsildar_office":
            return tahsildar_ref(locality.mandal)
        if role == "discom_office":
            return discom_ref(locality.mandal)
        if role == "municipal_office":
            office = municipal_ref(locality.district)
            if office is None:
                raise WriteError("invalid", "that district has no municipal body here")
            return office
        if role == "bus_station":
            return self._nearest_office("bus_station", locality.lat, locality.lon)
        return cmrf_cell_ref()

    # ----- grievances -----

    def submit_grievance(self, department: str, body: Record) -> Record:
        categories = load("services")["grievance_categories"].get(department, {})
        category = body["category"]
        if category not in categories:
            raise WriteError("invalid", f"{department} has no grievance category {category!r}")
        spec = categories[category]
        lat, lon = body["location"]["lat"], body["location"]["lon"]
        hit = self.world.locate(lat, lon)
        if hit is None:
            raise WriteError("invalid", "that point is outside the state")
        locality, _ = hit
        area = locality.area()
        if department == "ENG":
            office = discom_ref(locality.mandal)
        elif department in ("REV", "MUN"):
            office = secretariat_ref(locality)
        elif department in ("RTC", "END", "ANC"):
            type_ = {"RTC": "bus_station", "END": "temple", "ANC": "anna_canteen"}[department]
            office = self._nearest_office(type_, lat, lon)
        elif department == "CMR":
            office = cmrf_cell_ref()
        else:
            office = collectorate_ref(locality.district)
        moment, at = self._stamp()
        prefix = f"GRV-{department}"
        reference = make_reference(
            prefix,
            moment.year,
            self._serial(prefix, moment.year, {**self.world.grievances, **self.grievances}),
        )
        record: Record = {
            "reference": reference,
            "department": department,
            "category": category,
            "category_name": text(spec["en"], spec["te"]),
            "status": "registered",
            "priority": spec.get("priority") or "normal",
            "registered_at": at,
            "updated_at": at,
            "expected_by": (moment.date() + timedelta(days=spec["sla_days"])).isoformat(),
            "office": office,
            "area": area,
            "history": [
                {"status": "registered", "at": at, "office": office, "note": "complaint_registered"}
            ],
            "next_step": "await_resolution",
        }
        self.grievances[reference] = record
        return record

    # ----- inventory and holds -----

    def capacity(self, department: str, kind: str, id_: str, day: date) -> int:
        """Seats, tickets or rooms of an item on a day, from the sandbox's data; refuses an
        item this department does not sell."""
        if INVENTORY_KINDS.get(kind) != department:
            raise WriteError("unsupported", f"{department} sells no {kind!r}")
        override = self.capacities.get((kind, id_))
        if override is not None:
            return override
        if kind == "bus_seat":
            service = self.world.network.services.get(id_)
            if service is None:
                raise WriteError("not_found", "no such bus service")
            return service.seats_available(day)
        temple_id, _, code = id_.partition(".")
        temple = next((t for t in load("temples")["temples"] if t["id"] == temple_id), None)
        if temple is None:
            raise WriteError("not_found", "no such temple")
        if kind == "darshan":
            quota = next((row[4] for row in temple["darshan"] if row[0] == code), None)
            if quota is None:
                raise WriteError("not_found", "no such darshan at that temple")
            return int(quota)
        rows = temple["sevas"] if kind == "seva" else temple["rooms"]
        if not any(row[0] == code for row in rows):
            raise WriteError("not_found", f"no such {kind} at that temple")
        return SEVA_DAILY_QUOTA if kind == "seva" else ROOMS.get(code, ROOMS_DEFAULT)

    def _expire(self) -> None:
        """Give back what expired holds took (by the sandbox's clock)."""
        now = self.now()
        for hold in self._holds.values():
            if hold.status == "held" and hold.expires_at <= now:
                hold.status = "expired"
                self._taken[hold.key] -= hold.quantity

    def inventory(self, department: str, kind: str, id_: str, day: date) -> Record:
        capacity = self.capacity(department, kind, id_, day)
        self._expire()
        taken = self._taken.get((kind, id_, day.isoformat()), 0)
        return {
            "item": {"kind": kind, "id": id_, "date": day.isoformat()},
            "capacity": capacity,
            "available": max(0, capacity - taken),
        }

    def hold(self, department: str, item: Mapping[str, Any], quantity: int) -> Record:
        """Take `quantity` or refuse with `sold_out`; check and take with no await between."""
        day: date = item["date"]
        if day < self.now().astimezone(IST).date():
            raise WriteError("invalid", "that date has passed")
        kind, id_ = item["kind"], item["id"]
        capacity = self.capacity(department, kind, id_, day)
        self._expire()
        key = (kind, id_, day.isoformat())
        taken = self._taken.get(key, 0)
        if capacity - taken < quantity:
            raise WriteError("sold_out", f"only {max(0, capacity - taken)} left")
        self._taken[key] = taken + quantity
        hold = Hold(
            hold_id=f"HLD-{department}-{len(self._holds) + 1:08d}",
            department=department,
            key=key,
            quantity=quantity,
            expires_at=self.now() + self.hold_ttl,
        )
        self._holds[hold.hold_id] = hold
        return hold.record()

    def _hold(self, department: str, hold_id: str) -> Hold:
        self._expire()
        hold = self._holds.get(hold_id.upper())
        if hold is None or hold.department != department:
            raise WriteError("not_found", "no such hold")
        return hold

    def confirm(self, department: str, hold_id: str) -> Record:
        hold = self._hold(department, hold_id)
        if hold.status == "expired":
            raise WriteError("expired", "the hold expired; its capacity was given back")
        if hold.status == "released":
            raise WriteError("conflict", "the hold was released")
        if hold.status == "held":
            moment = self.now().astimezone(IST)
            prefix = f"BKG-{department}"
            hold.booking_id = make_reference(
                prefix, moment.year, self._serial(prefix, moment.year, {})
            )
            hold.status = "confirmed"
        return hold.record()

    def release(self, department: str, hold_id: str) -> Record:
        hold = self._hold(department, hold_id)
        if hold.status == "confirmed":
            raise WriteError("conflict", "a confirmed booking cannot be released as a hold")
        if hold.status == "held":
            hold.status = "released"
            self._taken[hold.key] -= hold.quantity
        return hold.record()
