"""Accounts with bills and dues: electricity services, municipal assessments, water
connections, trade licences, vacant land, advertisement, bus passes — and their receipts."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import District, Locality, Record, named, text
from mitra.departments.sandbox.numbering import Sequences
from mitra.departments.sandbox.people import Person, person
from mitra.departments.sandbox.places import discom_ref
from mitra.departments.sandbox.tariff import estimate
from mitra.departments.sandbox.timeline import AS_OF, at, financial_year, month_start

CONSUMERS_PER_DISTRICT = 16
ASSESSMENTS_PER_ULB = 12
WATER_PER_ULB = 8
LICENCES_PER_ULB = 4
VACANT_PER_ULB = 2
PASSES_PER_DISTRICT = 4
BIG_CITIES = frozenset({"GVMC", "VMC", "GMC", "TMC", "NMC", "KMC"})


class Ledgers:
    """All accounts by kind and number, and the receipts their payments produced."""

    def __init__(self, seq: Sequences) -> None:
        self.seq = seq
        self.accounts: dict[str, dict[str, Record]] = {
            kind: {}
            for kind in (
                "electricity",
                "property_tax",
                "water",
                "trade_licence",
                "vacant_land",
                "advertisement",
                "bus_pass",
            )
        }
        self.electricity_receipts: dict[str, Record] = {}
        self.property_tax_receipts: dict[str, Record] = {}

    def receipt(self, prefix: str) -> str:
        """A receipt number for payments that have no receipt document of their own."""
        return f"{prefix}{self.seq.take(prefix, start=10_000_123, max_step=9):08d}"


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _bill(
    id_: str, period: str, issued: date, due: date, amount: int, units: int | None, paid: bool
) -> Record:
    return {
        "id": id_,
        "period": period,
        "issued_on": issued.isoformat(),
        "due_date": due.isoformat(),
        "amount": amount,
        "units": units,
        "paid": paid,
    }


def _paid_at(rng: random.Random, bill: Record) -> str:
    issued = date.fromisoformat(bill["issued_on"])
    due = date.fromisoformat(bill["due_date"])
    day = issued + timedelta(
        days=rng.randint(1, max(1, min((due - issued).days, (AS_OF - issued).days - 1)))
    )
    return at(day, rng.randint(8, 20), rng.choice((0, 15, 30, 45)))


def _dues(parts: list[tuple[str, int]], due_date: str | None, overdue: bool) -> Record:
    breakdown: list[Record] = [
        {"head": head, "amount": amount} for head, amount in parts if amount > 0
    ]
    amount = sum(amount for _, amount in parts if amount > 0)
    return {
        "amount": amount,
        "due_date": due_date if amount else None,
        "status": "none" if amount == 0 else ("overdue" if overdue else "due"),
        "breakdown": breakdown,
    }


def _account(
    kind: str,
    number: str,
    department: str,
    provider: Record,
    holder: Person,
    category: str,
    status: str,
    locality: Locality,
    dues: Record,
    bills: list[Record],
    payments: list[Record],
    details: dict[str, Any],
) -> Record:
    return {
        "kind": kind,
        "number": number,
        "department": department,
        "provider": provider,
        "holder": holder.masked(),
        "category": category,
        "status": status,
        "address": locality.area(),
        "dues": dues,
        "bills": sorted(bills, key=lambda b: b["issued_on"], reverse=True),
        "payments": sorted(payments, key=lambda p: p["paid_at"], reverse=True),
        "details": details,
    }


def _unpaid_split(bills: list[Record]) -> tuple[list[Record], list[Record]]:
    """Unpaid bills: (overdue, not yet due)."""
    unpaid = [b for b in bills if not b["paid"]]
    overdue = [b for b in unpaid if date.fromisoformat(b["due_date"]) < AS_OF]
    return overdue, [b for b in unpaid if b not in overdue]


def build_ledgers(rng: random.Random, districts: list[District], seq: Sequences) -> Ledgers:
    ledgers = Ledgers(seq)
    in_circle: dict[int, int] = {}
    for district in districts:
        in_circle[district.circle] = in_circle.get(district.circle, 0) + 1
        _electricity(rng, ledgers, district, in_circle[district.circle])
        _bus_passes(rng, ledgers, district)
    ulb_number = 1000
    for district in districts:
        if district.ulb is None:
            continue
        ulb_number += 1
        _property_tax(rng, ledgers, district, ulb_number)
        _water(rng, ledgers, district)
        _trade_licences(rng, ledgers, district)
        _vacant_land(rng, ledgers, district)
        _advertisement(rng, ledgers, district)
    return ledgers


# ----- electricity -----

_SEASON = {
    1: 0.9,
    2: 0.95,
    3: 1.15,
    4: 1.35,
    5: 1.5,
    6: 1.35,
    7: 1.1,
    8: 1.05,
    9: 1.05,
    10: 1.0,
    11: 0.9,
    12: 0.85,
}
_BASE_UNITS = {
    "domestic": (70, 260),
    "commercial": (120, 700),
    "industrial": (600, 2500),
    "agriculture": (250, 900),
}
_LOAD_WATTS = {
    "domestic": (1000, 5000),
    "commercial": (2000, 10000),
    "industrial": (10000, 40000),
    "agriculture": (3730, 5600),
}


def _electricity(rng: random.Random, ledgers: Ledgers, district: District, position: int) -> None:
    """Consumers of one district; `position` is the district's place in its circle, so
    section codes (3 digits: position, mandal) are unique within the circle."""
    energy = load("energy")
    discom = energy["discoms"][district.discom]
    circle_en, circle_te = discom["circles"][district.circle]
    circle = named(str(district.circle), text(f"{circle_en} Circle", f"{circle_te} సర్కిల్"))
    provider = named(district.discom, discom["name"])
    accounts = ledgers.accounts["electricity"]
    for index in range(CONSUMERS_PER_DISTRICT):
        # The first consumer lives in the headquarters mandal (section x01).
        locality = rng.choice(district.mandals[0].localities if index == 0 else district.localities)
        section = position * 100 + int(locality.mandal.code[-2:])
        serial = ledgers.seq.take(
            ("ELE", district.circle, section), start=12_345_678, max_step=99_999
        )
        number = f"{district.circle}{section}{serial:08d}"
        category = _pick(
            rng,
            {"domestic": 70, "commercial": 16, "industrial": 4, "agriculture": 10}
            if not locality.urban
            else {"domestic": 72, "commercial": 24, "industrial": 4},
        )
        holder = person(rng)
        behaviour = _pick(rng, {"paid_up": 45, "current": 35, "arrears": 16, "disconnected": 4})
        unpaid_count = {
            "paid_up": 0,
            "current": 1,
            "arrears": rng.randint(2, 3),
            "disconnected": 5,
        }[behaviour]
        base = rng.randint(*_BASE_UNITS[category])
        bills: list[Record] = []
        for back in range(6, 0, -1):
            period_start = month_start(AS_OF, back)
            issued = month_start(AS_OF, back - 1) + timedelta(days=4)
            due = issued + timedelta(days=14)
            units = max(0, round(base * _SEASON[period_start.month] * rng.uniform(0.85, 1.15)))
            amount = estimate(category, units)["total"]
            bills.append(
                _bill(
                    f"{number}-{period_start:%Y%m}",
                    f"{period_start:%Y-%m}",
                    issued,
                    due,
                    amount,
                    units,
                    paid=back > unpaid_count,
                )
            )
        payments = []
        channels = {"online": 45, "mitra": 20, "counter": 30, "auto_debit": 5}
        for bill in bills:
            if not bill["paid"] or bill["amount"] == 0:
                continue
            paid_at = _paid_at(rng, bill)
            year = paid_at[2:4]
            receipt = f"ER{year}{ledgers.seq.take(('ER', year), start=12_345, max_step=9):08d}"
            channel = _pick(rng, channels)
            payments.append(
                {
                    "receipt": receipt,
                    "paid_at": paid_at,
                    "amount": bill["amount"],
                    "channel": channel,
                }
            )
            ledgers.electricity_receipts[receipt] = {
                "kind": "electricity_receipt",
                "identifier": receipt,
                "department": "ENG",
                "title": text("Electricity bill payment receipt", "విద్యుత్ బిల్లు చెల్లింపు రసీదు"),
                "issued_on": paid_at[:10],
                "data": {
                    "receipt_number": receipt,
                    "service_number": number,
                    "discom": provider,
                    "consumer": holder.masked(),
                    "period": bill["period"],
                    "amount": bill["amount"],
                    "paid_at": paid_at,
                    "channel": channel,
                },
            }
        overdue, current = _unpaid_split(bills)
        arrears = sum(b["amount"] for b in overdue)
        late_fee = max(2500, arrears * 15 // 1000) if arrears else 0
        latest_unpaid = max((b["due_date"] for b in overdue + current), default=None)
        dues = _dues(
            [
                ("current_bill", sum(b["amount"] for b in current)),
                ("arrears", arrears),
                ("late_fee", late_fee),
            ],
            latest_unpaid,
            overdue=bool(overdue),
        )
        low, high = _LOAD_WATTS[category]
        load_watts = rng.randrange(low, high + 1, 250)
        accounts[number] = _account(
            "electricity",
            number,
            "ENG",
            provider,
            holder,
            category,
            "disconnected" if behaviour == "disconnected" else "active",
            locality,
            dues,
            bills,
            payments,
            {
                "discom": district.discom,
                "circle": circle,
                "section_office": discom_ref(locality.mandal),
                "tariff": dict(energy["tariff"][category]["name"]),
                "load_watts": load_watts,
                "phase": 3 if category in ("industrial", "agriculture") or load_watts > 7500 else 1,
                "meter_number": f"{district.discom[2]}M{rng.randrange(10**7, 10**8)}",
            },
        )


# ----- municipal -----


def _ulb(district: District) -> tuple[str, Record]:
    assert district.ulb is not None
    return district.ulb["code"], named(district.ulb["code"], district.ulb["name"])


def _town_ward(rng: random.Random, district: District) -> Locality:
    wards = district.mandals[0].wards
    return rng.choice(wards)


def _half_years() -> list[tuple[str, date, date]]:
    """The last four half-years: (period, issued, due) — H1 due 30 June, H2 due 31 December."""
    periods = []
    for start_year in (AS_OF.year - 1, AS_OF.year):
        fy = f"{start_year}-{(start_year + 1) % 100:02d}"
        periods.append((f"{fy}/1", date(start_year, 4, 1), date(start_year, 6, 30)))
        periods.append((f"{fy}/2", date(start_year, 10, 1), date(start_year, 12, 31)))
    return [p for p in periods if p[1] <= AS_OF]


def _months_overdue(due: str) -> int:
    d = date.fromisoformat(due)
    return max(0, (AS_OF.year - d.year) * 12 + AS_OF.month - d.month)


def _property_tax(
    rng: random.Random, ledgers: Ledgers, district: District, ulb_number: int
) -> None:
    ulb_code, provider = _ulb(district)
    accounts = ledgers.accounts["property_tax"]
    for _ in range(ASSESSMENTS_PER_ULB):
        number = f"{ulb_number}{ledgers.seq.take(('PT', ulb_code)):06d}"
        ward = _town_ward(rng, district)
        holder = person(rng)
        category = _pick(rng, {"residential": 70, "commercial": 20, "mixed": 10})
        tax_range = {
            "residential": (60000, 600000),
            "commercial": (300000, 3000000),
            "mixed": (150000, 1200000),
        }
        tax = rng.randrange(*tax_range[category], 100)
        cess = tax * 8 // 100
        behaviour = _pick(rng, {"current": 65, "arrears": 20, "paid_up": 15})
        bills, payments = [], []
        for period, issued, due in _half_years():
            latest = due >= AS_OF
            paid = behaviour == "paid_up" or not (
                latest or (behaviour == "arrears" and _months_overdue(due.isoformat()) < 6)
            )
            bill = _bill(f"{number}-{period}", period, issued, due, tax + cess, None, paid)
            bills.append(bill)
            if paid:
                paid_at = _paid_at(rng, bill)
                serial = ledgers.seq.take(("PTR", ulb_code, paid_at[:4]), max_step=5)
                receipt = f"PTR-{ulb_code}-{paid_at[:4]}-{serial:06d}"
                channel = _pick(rng, {"online": 40, "mitra": 25, "counter": 35})
                payments.append(
                    {
                        "receipt": receipt,
                        "paid_at": paid_at,
                        "amount": bill["amount"],
                        "channel": channel,
                    }
                )
                ledgers.property_tax_receipts[receipt] = {
                    "kind": "property_tax_receipt",
                    "identifier": receipt,
                    "department": "MUN",
                    "title": text("Property tax receipt", "ఆస్తి పన్ను రసీదు"),
                    "issued_on": paid_at[:10],
                    "data": {
                        "receipt_number": receipt,
                        "assessment_number": number,
                        "ulb": provider,
                        "payer": holder.masked(),
                        "period": period,
                        "amount": bill["amount"],
                        "paid_at": paid_at,
                        "channel": channel,
                    },
                }
        overdue, current = _unpaid_split(bills)
        unpaid = overdue + current
        penalty = sum(tax * 2 * _months_overdue(b["due_date"]) // 100 for b in overdue)
        dues = _dues(
            [
                ("property_tax", tax * len(unpaid)),
                ("library_cess", cess * len(unpaid)),
                ("penalty", penalty),
            ],
            max((b["due_date"] for b in unpaid), default=None),
            overdue=bool(overdue),
        )
        plinth = rng.randint(55, 420)
        accounts[number] = _account(
            "property_tax",
            number,
            "MUN",
            provider,
            holder,
            category,
            "active",
            ward,
            dues,
            bills,
            payments,
            {
                "plinth_area_sqm": plinth,
                "floors": rng.randint(1, 3),
                "annual_rental_value": tax * 2 * 100 // 22,
                "half_year_tax": tax,
            },
        )


def _monthly_bills(
    rng: random.Random, number: str, amount: int, unpaid_count: int, months: int = 6
) -> list[Record]:
    bills = []
    for back in range(months, 0, -1):
        start = month_start(AS_OF, back)
        issued = month_start(AS_OF, back - 1)
        bills.append(
            _bill(
                f"{number}-{start:%Y%m}",
                f"{start:%Y-%m}",
                issued,
                issued + timedelta(days=24),
                amount,
                None,
                back > unpaid_count,
            )
        )
    return bills


def _simple_payments(
    rng: random.Random, ledgers: Ledgers, prefix: str, bills: list[Record]
) -> list[Record]:
    payments = []
    for bill in bills:
        if bill["paid"]:
            paid_at = _paid_at(rng, bill)
            payments.append(
                {
                    "receipt": ledgers.receipt(prefix),
                    "paid_at": paid_at,
                    "amount": bill["amount"],
                    "channel": _pick(rng, {"online": 40, "mitra": 25, "counter": 35}),
                }
            )
    return payments


def _water(rng: random.Random, ledgers: Ledgers, district: District) -> None:
    ulb_code, provider = _ulb(district)
    for _ in range(WATER_PER_ULB):
        number = f"WC-{ulb_code}-{ledgers.seq.take(('WC', ulb_code)):06d}"
        category = _pick(rng, {"domestic": 80, "commercial": 20})
        pipe = 25 if category == "commercial" else rng.choice((15, 15, 20))
        monthly = {15: 15000, 20: 25000, 25: rng.choice((60000, 80000, 100000))}[pipe]
        unpaid = _pick(rng, {"0": 25, "1": 60, "3": 15})
        bills = _monthly_bills(rng, number, monthly, int(unpaid))
        overdue, current = _unpaid_split(bills)
        dues = _dues(
            [
                ("water_charges", sum(b["amount"] for b in current)),
                ("arrears", sum(b["amount"] for b in overdue)),
            ],
            max((b["due_date"] for b in overdue + current), default=None),
            overdue=bool(overdue),
        )
        ledgers.accounts["water"][number] = _account(
            "water",
            number,
            "MUN",
            provider,
            person(rng),
            category,
            "active",
            _town_ward(rng, district),
            dues,
            bills,
            _simple_payments(rng, ledgers, "WCR", bills),
            {
                "pipe_size_mm": pipe,
                "metered": category == "commercial" or rng.random() < 0.3,
                "monthly_charge": monthly,
            },
        )


def _yearly_bills(number: str, amount: int, renewed: bool) -> list[Record]:
    bills = []
    for year in (AS_OF.year - 1, AS_OF.year):
        fy = financial_year(date(year, 4, 1))
        bills.append(
            _bill(
                f"{number}-{fy}",
                fy,
                date(year, 4, 1),
                date(year, 4, 30),
                amount,
                None,
                renewed or year < AS_OF.year,
            )
        )
    return bills


def _trade_licences(rng: random.Random, ledgers: Ledgers, district: District) -> None:
    ulb_code, provider = _ulb(district)
    trades = load("names")["trades"]
    for _ in range(LICENCES_PER_ULB):
        number = f"TL-{ulb_code}-{ledgers.seq.take(('TL', ulb_code)):06d}"
        code, en, te, fee = rng.choice(trades)
        renewed = rng.random() < 0.7
        bills = _yearly_bills(number, fee, renewed)
        penalty = fee // 4 if not renewed else 0
        dues = _dues(
            [("licence_fee", 0 if renewed else fee), ("penalty", penalty)],
            None if renewed else bills[-1]["due_date"],
            overdue=not renewed,
        )
        ledgers.accounts["trade_licence"][number] = _account(
            "trade_licence",
            number,
            "MUN",
            provider,
            person(rng),
            code,
            "active" if renewed else "expired",
            _town_ward(rng, district),
            dues,
            bills,
            _simple_payments(rng, ledgers, "TLR", bills),
            {
                "trade": text(en, te),
                "valid_until": date(AS_OF.year + (1 if renewed else 0), 3, 31).isoformat(),
                "annual_fee": fee,
            },
        )


def _vacant_land(rng: random.Random, ledgers: Ledgers, district: District) -> None:
    ulb_code, provider = _ulb(district)
    for _ in range(VACANT_PER_ULB):
        number = f"VLT-{ulb_code}-{ledgers.seq.take(('VLT', ulb_code)):06d}"
        tax = rng.randrange(50000, 500000, 100)
        arrears = rng.random() < 0.5
        bills = []
        for period, issued, due in _half_years():
            latest = due >= AS_OF
            paid = not (latest or (arrears and _months_overdue(due.isoformat()) < 6))
            bills.append(_bill(f"{number}-{period}", period, issued, due, tax, None, paid))
        overdue, current = _unpaid_split(bills)
        penalty = sum(tax * 2 * _months_overdue(b["due_date"]) // 100 for b in overdue)
        dues = _dues(
            [("vacant_land_tax", tax * len(overdue + current)), ("penalty", penalty)],
            max((b["due_date"] for b in overdue + current), default=None),
            overdue=bool(overdue),
        )
        ledgers.accounts["vacant_land"][number] = _account(
            "vacant_land",
            number,
            "MUN",
            provider,
            person(rng),
            "vacant_land",
            "active",
            _town_ward(rng, district),
            dues,
            bills,
            _simple_payments(rng, ledgers, "VLR", bills),
            {"extent_sqm": rng.randrange(150, 1000, 5), "half_year_tax": tax},
        )


def _advertisement(rng: random.Random, ledgers: Ledgers, district: District) -> None:
    ulb_code, provider = _ulb(district)
    count = 2 if ulb_code in BIG_CITIES else 1
    for _ in range(count):
        number = f"ADV-{ulb_code}-{ledgers.seq.take(('ADV', ulb_code)):05d}"
        hoardings = rng.randint(1, 4)
        area = rng.randrange(100, 600, 20)
        tax = area * hoardings * 3000
        paid = rng.random() < 0.6
        bills = _yearly_bills(number, tax, paid)
        dues = _dues(
            [("advertisement_tax", 0 if paid else tax), ("penalty", 0 if paid else tax // 10)],
            None if paid else bills[-1]["due_date"],
            overdue=not paid,
        )
        ledgers.accounts["advertisement"][number] = _account(
            "advertisement",
            number,
            "MUN",
            provider,
            person(rng),
            "hoarding",
            "active",
            _town_ward(rng, district),
            dues,
            bills,
            _simple_payments(rng, ledgers, "ADR", bills),
            {"hoardings": hoardings, "area_sqft": area, "annual_tax": tax},
        )


# ----- APSRTC passes -----


def _bus_passes(rng: random.Random, ledgers: Ledgers, district: District) -> None:
    passes = load("transport")["passes"]
    depot = named(
        f"DEP-{district.code}",
        text(f"{district.hq_name['en']} Depot", f"{district.hq_name['te']} డిపో"),
    )
    villages = [v for v in district.villages if not v.mandal.is_headquarters] or district.villages
    for _ in range(PASSES_PER_DISTRICT):
        category = _pick(rng, {"student": 75, "general": 25})
        prefix = "SP" if category == "student" else "GP"
        number = f"{prefix}{AS_OF.year % 100}{ledgers.seq.take(prefix):06d}"
        village = rng.choice(villages)
        fare = passes[category]["monthly_fare"]
        active = rng.random() < 0.7
        bills = []
        for back in range(2, -1 if active else 0, -1):
            start = month_start(AS_OF, back)
            issued = start - timedelta(days=7)
            bills.append(
                _bill(
                    f"{number}-{start:%Y%m}",
                    f"{start:%Y-%m}",
                    issued,
                    start,
                    fare,
                    None,
                    back > 0 or active,
                )
            )
        if not active:
            start = month_start(AS_OF)
            bills.append(
                _bill(
                    f"{number}-{start:%Y%m}",
                    f"{start:%Y-%m}",
                    start - timedelta(days=7),
                    start,
                    fare,
                    None,
                    False,
                )
            )
        valid_until = (
            month_start(AS_OF, -1) - timedelta(days=1)
            if active
            else month_start(AS_OF) - timedelta(days=1)
        )
        overdue, current = _unpaid_split(bills)
        dues = _dues(
            [("pass_fare", sum(b["amount"] for b in overdue + current))],
            max((b["due_date"] for b in overdue + current), default=None),
            overdue=bool(overdue),
        )
        ledgers.accounts["bus_pass"][number] = _account(
            "bus_pass",
            number,
            "RTC",
            depot,
            person(rng),
            category,
            "active" if active else "expired",
            village,
            dues,
            bills,
            _simple_payments(rng, ledgers, "BPR", bills),
            {
                "route_from": dict(village.name),
                "route_to": dict(district.hq_name),
                "valid_from": month_start(valid_until).isoformat(),
                "valid_until": valid_until.isoformat(),
                "monthly_fare": fare,
            },
        )
