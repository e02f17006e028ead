"""What the sandbox departments write: submitted applications and grievances, holds on
bookable inventory (`bookables.py`: bus seats, parcels, buses on hire, darshan, sevas, rooms,
prasadam, halls, tankers, septic cleaning, meal sponsorships), the bookings they become and
their cancellation, and bill payments (`payments.py`).

State lives per app (never in the shared, cached `world()`), in memory. The sandbox is one
asyncio process, and nothing here awaits: every check-and-change (is the key new? is there
capacity? take it) runs to completion before another request is looked at, so two requests
can never both take the last seat (or pay the same dues twice).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mitra.departments.references import make_reference
from mitra.departments.sandbox.bookables import (
    INVENTORY_KINDS,
    LIST_LIMIT,
    ROOMS,
    ROOMS_DEFAULT,
    SEVA_DAILY_QUOTA,
    Bookable,
    Bookables,
)
from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import Locality, Record, text
from mitra.departments.sandbox.payments import RECEIPT_PREFIXES, apply_payment
from mitra.departments.sandbox.people import mask
from mitra.departments.sandbox.places import (
    cmrf_cell_ref,
    collectorate_ref,
    discom_ref,
    municipal_ref,
    secretariat_ref,
    tahsildar_ref,
)
from mitra.departments.sandbox.refusals import WriteError
from mitra.departments.sandbox.timeline import IST
from mitra.departments.sandbox.world import World

__all__ = [
    "HOLD_TTL",
    "INVENTORY_KINDS",
    "ROOMS",
    "ROOMS_DEFAULT",
    "SEVA_DAILY_QUOTA",
    "Desk",
    "WriteError",
]

HOLD_TTL = timedelta(minutes=10)


def fingerprint(body: object) -> str:
    text_ = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text_.encode()).hexdigest()


@dataclass
class _Remembered:
    fingerprint: str
    answer: Record


def _iso(moment: datetime) -> str:
    return moment.astimezone(IST).replace(microsecond=0).isoformat()


@dataclass
class Hold:
    hold_id: str
    department: str
    key: tuple[str, str, str]
    quantity: int
    expires_at: datetime
    label: dict[str, str]
    unit_price: int
    status: str = "held"  # held → confirmed | released | expired
    booking_id: str | None = None

    def record(self) -> Record:
        kind, id_, day = self.key
        return {
            "hold_id": self.hold_id,
            "status": self.status,
            "item": {"kind": kind, "id": id_, "date": day},
            "label": dict(self.label),
            "quantity": self.quantity,
            "unit_price_paise": self.unit_price,
            "amount_paise": self.quantity * self.unit_price,
            "expires_at": _iso(self.expires_at),
            "booking_id": self.booking_id,
        }


@dataclass
class Booking:
    """A confirmed hold; cancelling it gives its capacity back."""

    booking_id: str
    hold: Hold
    confirmed_at: datetime
    status: str = "confirmed"  # confirmed → cancelled
    cancelled_at: datetime | None = None

    def record(self) -> Record:
        hold = self.hold
        kind, id_, day = hold.key
        return {
            "booking_id": self.booking_id,
            "hold_id": hold.hold_id,
            "status": self.status,
            "item": {"kind": kind, "id": id_, "date": day},
            "label": dict(hold.label),
            "quantity": hold.quantity,
            "unit_price_paise": hold.unit_price,
            "amount_paise": hold.quantity * hold.unit_price,
            "confirmed_at": _iso(self.confirmed_at),
            "cancelled_at": _iso(self.cancelled_at) if self.cancelled_at else None,
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
    _bookings: dict[str, Booking] = field(default_factory=dict)
    accounts: dict[tuple[str, str], Record] = field(default_factory=dict)
    """Accounts paid through this desk: the world's record, copied, with the payments."""
    documents: dict[str, dict[str, Record]] = field(default_factory=dict)
    """Receipt documents of those payments, by kind and identifier."""
    _credit: dict[tuple[str, str], int] = field(default_factory=dict)
    _payment_references: dict[tuple[str, str], str] = field(default_factory=dict)
    _receipt_serials: dict[str, int] = field(default_factory=dict)
    bookables: Bookables = field(init=False)

    def __post_init__(self) -> None:
        self.bookables = Bookables(self.world)

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

    def _item(self, department: str, kind: str, id_: str) -> Bookable:
        """The item, refusing a kind this department does not sell."""
        if INVENTORY_KINDS.get(kind) != department:
            raise WriteError("unsupported", f"{department} sells no {kind!r}")
        return self.bookables.item(kind, id_)

    def _capacity(self, item: Bookable, day: date) -> int:
        override = self.capacities.get((item.kind, item.id))
        return override if override is not None else item.capacity(day)

    def capacity(self, department: str, kind: str, id_: str, day: date) -> int:
        """Seats, tickets, rooms, trips … of an item on a day, from the sandbox's data;
        refuses an item this department does not sell."""
        return self._capacity(self._item(department, kind, id_), day)

    def _expire(self) -> None:
        """Give back what expired holds took (by the sandbox's clock)."""
        now = self.now()
        for hold in self._holds.values():
            if hold.status == "held" and hold.expires_at <= now:
                hold.status = "expired"
                self._taken[hold.key] -= hold.quantity

    def _offer(self, item: Bookable, day: date) -> Record:
        capacity = self._capacity(item, day)
        taken = self._taken.get((item.kind, item.id, day.isoformat()), 0)
        return {
            "kind": item.kind,
            "id": item.id,
            "date": day.isoformat(),
            "label": dict(item.label),
            "capacity": capacity,
            "available": max(0, capacity - taken),
            "unit_price_paise": item.unit_price,
            "details": item.details(day),
        }

    def inventory(self, department: str, kind: str, id_: str, day: date) -> Record:
        item = self._item(department, kind, id_)
        self._expire()
        offer = self._offer(item, day)
        return {
            "item": {"kind": item.kind, "id": item.id, "date": offer["date"]},
            "label": offer["label"],
            "capacity": offer["capacity"],
            "available": offer["available"],
            "unit_price_paise": offer["unit_price_paise"],
            "details": offer["details"],
        }

    def listing(
        self,
        department: str,
        kind: str,
        day: date,
        *,
        place: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        band: str | None = None,
    ) -> Record:
        """The items of `kind` at a place (or on a route) on a day: at most `LIST_LIMIT`, in
        the order a chat offers them; `total` says how many matched."""
        if INVENTORY_KINDS.get(kind) != department:
            raise WriteError("unsupported", f"{department} sells no {kind!r}")
        items = self.bookables.listing(kind, place=place, from_=from_, to=to, band=band)
        self._expire()
        return {
            "kind": kind,
            "date": day.isoformat(),
            "items": [self._offer(item, day) for item in items[:LIST_LIMIT]],
            "total": len(items),
        }

    def hold(self, department: str, item: Mapping[str, Any], quantity: int) -> Record:
        """Take `quantity` or refuse with `sold_out`; check and take with no await between."""
        day: date = item["date"]
        if day < self.now().astimezone(IST).date():
            raise WriteError("invalid", "that date has passed")
        bookable = self._item(department, item["kind"], item["id"])
        capacity = self._capacity(bookable, day)
        self._expire()
        key = (bookable.kind, bookable.id, day.isoformat())
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
            label=dict(bookable.label),
            unit_price=bookable.unit_price,
        )
        self._holds[hold.hold_id] = hold
        return hold.record()

    def _hold(self, department: str, hold_id: str) -> Hold:
        self._expire()
        hold = self._holds.get(hold_id.upper())
        if hold is None or hold.department != department:
            raise WriteError("not_found", "no such hold")
        return hold

    def hold_status(self, department: str, hold_id: str) -> Record:
        return self._hold(department, hold_id).record()

    def confirm(self, department: str, hold_id: str) -> Record:
        hold = self._hold(department, hold_id)
        if hold.status == "expired":
            raise WriteError("expired", "the hold expired; its capacity was given back")
        if hold.status == "released":
            raise WriteError("conflict", "the hold was released")
        if hold.status == "held":
            now = self.now()
            moment = now.astimezone(IST)
            prefix = f"BKG-{department}"
            hold.booking_id = make_reference(
                prefix, moment.year, self._serial(prefix, moment.year, {})
            )
            hold.status = "confirmed"
            self._bookings[hold.booking_id] = Booking(hold.booking_id, hold, now)
        return hold.record()

    def release(self, department: str, hold_id: str) -> Record:
        hold = self._hold(department, hold_id)
        if hold.status == "confirmed":
            raise WriteError("conflict", "a confirmed booking cannot be released as a hold")
        if hold.status == "held":
            hold.status = "released"
            self._taken[hold.key] -= hold.quantity
        return hold.record()

    # ----- bookings -----

    def _booking(self, department: str, booking_id: str) -> Booking:
        booking = self._bookings.get(booking_id.upper())
        if booking is None or booking.hold.department != department:
            raise WriteError("not_found", "no such booking")
        return booking

    def booking(self, department: str, booking_id: str) -> Record:
        return self._booking(department, booking_id).record()

    def cancel(self, department: str, booking_id: str) -> Record:
        """Cancel a booking and give its capacity back; cancelling again answers the same.
        A booking whose date has passed cannot be cancelled (`conflict`)."""
        booking = self._booking(department, booking_id)
        if booking.status == "cancelled":
            return booking.record()
        hold = booking.hold
        if date.fromisoformat(hold.key[2]) < self.now().astimezone(IST).date():
            raise WriteError("conflict", "the booking's date has passed")
        booking.status = "cancelled"
        booking.cancelled_at = self.now()
        self._taken[hold.key] -= hold.quantity
        return booking.record()

    # ----- bill payments -----

    def account(self, kind: str, number: str) -> Record | None:
        """The account as it stands: the world's, or this desk's copy once paid here."""
        return self.accounts.get((kind, number)) or self.world.accounts.get(kind, {}).get(number)

    def document(self, kind: str, identifier: str) -> Record | None:
        """A receipt document of a payment made here."""
        return self.documents.get(kind, {}).get(identifier)

    def pay(self, department: str, kind: str, number: str, body: Mapping[str, Any]) -> Record:
        """Pay `amount_paise` of the account's dues: refuses more than is due (`invalid`) and
        a payment reference already credited (`conflict`); the caller makes it idempotent."""
        account = self.account(kind, number)
        if account is None or account["department"] != department:
            raise WriteError("not_found", f"no such {kind} account")
        amount = int(body["amount_paise"])
        due = int(account["dues"]["amount"])
        if amount > due:
            raise WriteError(
                "invalid",
                f"the amount is more than the dues ({due} paise)" if due else "nothing is due",
            )
        reference = str(body["payment_reference"])
        credited = self._payment_references.get((department, reference))
        if credited is not None:
            raise WriteError(
                "conflict", f"that payment reference was already credited ({credited})"
            )
        key = (kind, number)
        if key not in self.accounts:
            self.accounts[key] = copy.deepcopy(account)
        account = self.accounts[key]
        paid_at: datetime = body["paid_at"]
        paid = _iso(paid_at)
        receipt = self._receipt(kind, account)
        payment = {"receipt": receipt, "paid_at": paid, "amount": amount, "channel": "mitra"}
        unpaid = sorted(
            (b for b in account["bills"] if not b["paid"]),
            key=lambda b: (b["due_date"], b["issued_on"]),
        )
        self._credit[key], settled = apply_payment(
            account, amount, self._credit.get(key, 0), payment
        )
        self._payment_references[(department, reference)] = receipt
        period = ", ".join(b["period"] for b in settled) or (unpaid[0]["period"] if unpaid else "")
        self._receipt_document(kind, account, receipt, payment, period)
        return {
            "receipt_number": receipt,
            "account_kind": kind,
            "account_number": number,
            "amount_paise": amount,
            "paid_at": paid,
            "payment_reference": reference,
            "dues_after_paise": account["dues"]["amount"],
        }

    def _receipt(self, kind: str, account: Record) -> str:
        """The next receipt number in the department's series, after every one issued."""
        year = self.now().astimezone(IST).year
        if kind == "electricity":
            prefix, width = f"ER{year % 100:02d}", 8
        elif kind == "property_tax":
            prefix, width = f"PTR-{account['provider']['code']}-{year}-", 6
        else:
            prefix, width = RECEIPT_PREFIXES[kind], 8
        last = self._receipt_serials.get(prefix)
        if last is None:
            issued = [
                p["receipt"]
                for accounts in self.world.accounts.values()
                for a in accounts.values()
                for p in a["payments"]
            ]
            last = max(
                (
                    int(r[len(prefix) :])
                    for r in issued
                    if r.startswith(prefix) and r[len(prefix) :].isdigit()
                ),
                default=122,
            )
        self._receipt_serials[prefix] = last + 1
        return f"{prefix}{last + 1:0{width}d}"

    def _receipt_document(
        self, kind: str, account: Record, receipt: str, payment: Record, period: str
    ) -> None:
        """Electricity and property tax payments have receipt documents, as in the world."""
        common = {
            "receipt_number": receipt,
            "period": period,
            "amount": payment["amount"],
            "paid_at": payment["paid_at"],
            "channel": payment["channel"],
        }
        if kind == "electricity":
            document_kind = "electricity_receipt"
            title = text("Electricity bill payment receipt", "విద్యుత్ బిల్లు చెల్లింపు రసీదు")
            data = {
                "service_number": account["number"],
                "discom": account["provider"],
                "consumer": account["holder"],
                **common,
            }
        elif kind == "property_tax":
            document_kind = "property_tax_receipt"
            title = text("Property tax receipt", "ఆస్తి పన్ను రసీదు")
            data = {
                "assessment_number": account["number"],
                "ulb": account["provider"],
                "payer": account["holder"],
                **common,
            }
        else:
            return
        self.documents.setdefault(document_kind, {})[receipt] = {
            "kind": document_kind,
            "identifier": receipt,
            "department": account["department"],
            "title": title,
            "issued_on": self.now().astimezone(IST).date().isoformat(),
            "data": data,
        }
