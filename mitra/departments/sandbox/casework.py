"""Applications and grievances in every state of their lives, with histories that make
sense (received at a secretariat, verified in the field, decided at the tahsildar's office),
and the revenue certificates that issued applications produced."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mitra.departments.references import make_reference
from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.geography import District, Locality, Record, named, text
from mitra.departments.sandbox.land import Parcel, extent
from mitra.departments.sandbox.numbering import Sequences
from mitra.departments.sandbox.people import Person, person
from mitra.departments.sandbox.places import (
    cmrf_cell_ref,
    collectorate_ref,
    discom_ref,
    municipal_ref,
    secretariat_ref,
    tahsildar_ref,
)
from mitra.departments.sandbox.timeline import AS_OF, IST

APPLICATIONS_PER_KIND = 16
REVENUE_CERTIFICATE_APPLICATIONS = 64
EXTRA_CERTIFICATES_PER_DISTRICT = 3
GRIEVANCES = {
    "REV": 20,
    "MUN": 48,
    "ENG": 48,
    "RTC": 16,
    "END": 14,
    "ANC": 14,
    "CMR": 10,
    "GEN": 20,
}

_FINAL_WEIGHTS = {
    "submitted": 14,
    "in_review": 24,
    "approved": 9,
    "issued": 30,
    "returned": 9,
    "rejected": 8,
    "withdrawn": 6,
}
_GRIEVANCE_WEIGHTS = {
    "registered": 10,
    "assigned": 15,
    "in_progress": 20,
    "resolved": 22,
    "closed": 23,
    "reopened": 5,
    "rejected": 5,
}


@dataclass
class Casework:
    applications: dict[str, Record]
    grievances: dict[str, Record]
    certificates: dict[str, Record]


@dataclass
class _Context:
    rng: random.Random
    seq: Sequences
    districts: list[District]
    parcels: list[Parcel]
    bus_stations: dict[str, Record]  # district code → office
    places: dict[str, dict[str, Record]]
    services: dict[str, Any]
    certificates: dict[str, Record]


def build_casework(
    rng: random.Random,
    seq: Sequences,
    districts: list[District],
    parcels: dict[str, Parcel],
    places: dict[str, dict[str, Record]],
) -> Casework:
    bus_stations: dict[str, Record] = {}
    for place in places["bus_station"].values():
        bus_stations.setdefault(place["address"]["district"]["code"], place)
    ctx = _Context(
        rng=rng,
        seq=seq,
        districts=districts,
        parcels=list(parcels.values()),
        bus_stations={
            code: {"type": "bus_station", "id": p["id"], "name": p["name"]}
            for code, p in bus_stations.items()
        },
        places=places,
        services=load("services"),
        certificates={},
    )
    # The contract's example certificate (INC-TPT-2026-000123) is the first one issued.
    tirupati = next(d for d in districts if d.code == "TPT")
    _certificate(ctx, "REV-01", person(rng), tirupati.localities[0], date(AS_OF.year, 2, 10))
    applications: dict[str, Record] = {}
    for kind, spec in ctx.services["application_kinds"].items():
        count = (
            REVENUE_CERTIFICATE_APPLICATIONS
            if kind == "revenue_certificate"
            else APPLICATIONS_PER_KIND
        )
        for index in range(count):
            application = _application(ctx, kind, spec, index)
            applications[application["reference"]] = application
    for district in districts:
        for _ in range(EXTRA_CERTIFICATES_PER_DISTRICT):
            service_code = rng.choice(
                [c for c, s in ctx.services["services"].items() if "certificate" in s]
            )
            issued = AS_OF - timedelta(days=rng.randint(20, 700))
            _certificate(ctx, service_code, person(rng), rng.choice(district.localities), issued)
    grievances: dict[str, Record] = {}
    for department, count in GRIEVANCES.items():
        for _ in range(count):
            grievance = _grievance(ctx, department)
            grievances[grievance["reference"]] = grievance
    return Casework(applications, grievances, ctx.certificates)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


_RECORDS_END = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 18, 0, tzinfo=IST)


def _in_office_hours(moments: list[datetime]) -> list[datetime]:
    """Moments moved into office hours (10:00-17:59, to the minute), still in order and
    none after the records' end."""
    placed: list[datetime] = []
    for moment in moments:
        moment = moment.replace(second=0, microsecond=0)
        if moment.hour < 10:
            moment = moment.replace(hour=10 + moment.hour % 3)
        elif moment.hour >= 18:
            moment = (moment + timedelta(days=1)).replace(hour=10 + moment.hour % 3)
        if placed and moment <= placed[-1]:
            moment = placed[-1] + timedelta(minutes=17)
        placed.append(moment)
    overshoot = placed[-1] - _RECORDS_END
    if overshoot > timedelta(0):
        placed = [m - timedelta(days=overshoot.days + 1) for m in placed]
    return placed


def _office_for(ctx: _Context, role: str, locality: Locality) -> Record:
    mandal = locality.mandal
    district = locality.district
    if role in ("secretariat", "ward_secretariat"):
        return secretariat_ref(locality)
    if role == "tahsildar_office":
        return tahsildar_ref(mandal)
    if role == "municipal_office":
        office = municipal_ref(district)
        assert office is not None
        return office
    if role == "discom_office":
        return discom_ref(mandal)
    if role == "bus_station":
        return ctx.bus_stations[district.code]
    if role == "cmrf_cell":
        return cmrf_cell_ref()
    raise ValueError(f"unknown office role {role}")


# ----- applications -----

_REVIEW_NOTE = {
    "REV": "field_verification_done",
    "ENG": "site_inspected",
    "building_permission": "site_inspected",
}
_APPROVE_NOTE = {"ENG": "estimate_sanctioned", "CMR": "funds_sanctioned"}
_ISSUE_NOTE = {
    "revenue_certificate": "certificate_signed",
    "mutation": "mutation_recorded",
    "passbook": "passbook_dispatched",
    "land_conversion": "order_issued",
    "house_site_patta": "order_issued",
    "crop_loss": "relief_credited",
    "municipal": "order_issued",
    "building_permission": "permission_granted",
    "trade_licence": "licence_issued",
    "energy": "connection_released",
    "rooftop_solar": "plant_commissioned",
    "pump_set": "connection_released",
    "bus_pass": "pass_printed",
    "cmrf_assistance": "cheque_dispatched",
    "letter_of_credit": "letter_sent_to_hospital",
    "cmrf_cheque": "cheque_dispatched",
}
_ISSUED_NEXT = {
    "revenue_certificate": "download_document",
    "mutation": "download_document",
    "passbook": "collect_at_office",
    "land_conversion": "download_document",
    "house_site_patta": "collect_at_office",
    "bus_pass": "collect_at_office",
    "cmrf_assistance": "present_cheque_at_bank",
    "cmrf_cheque": "present_cheque_at_bank",
    "letter_of_credit": "present_letter_at_hospital",
}
_APPROVED_NEXT = {
    "energy": "pay_fee",
    "pump_set": "pay_fee",
    "rooftop_solar": "await_installation",
    "cmrf_assistance": "await_payment",
    "letter_of_credit": "await_issue",
    "bus_pass": "collect_at_office",
}


def _next_step(kind: str, department: str, status: str, service_code: str) -> str:
    if status == "submitted":
        return "await_review"
    if status == "in_review":
        if department == "REV":
            return "await_field_verification"
        if department == "ENG" or kind == "building_permission":
            return "await_inspection"
        return "await_decision"
    if status == "approved":
        return _APPROVED_NEXT.get(kind, "await_issue")
    if status == "issued":
        if kind == "revenue_certificate" and service_code == "REV-25":
            return "none"
        return _ISSUED_NEXT.get(kind, "none")
    if status == "returned":
        return "submit_documents"
    if status == "rejected":
        return (
            "reapply"
            if kind in ("revenue_certificate", "bus_pass", "trade_licence")
            else "contact_office"
        )
    return "none"


def _path(rng: random.Random, final: str) -> list[str]:
    """The statuses after `submitted`, ending in `final`."""
    if final == "submitted":
        return []
    if final == "withdrawn":
        return ["in_review", "withdrawn"] if rng.random() < 0.5 else ["withdrawn"]
    if final == "returned":
        return ["in_review", "returned"]
    tail = {
        "in_review": [],
        "approved": ["approved"],
        "issued": ["approved", "issued"],
        "rejected": ["rejected"],
    }
    steps = ["in_review", *tail[final]]
    if rng.random() < 0.15:  # sent back once for a document, then resubmitted
        steps = ["in_review", "returned", "resubmitted", "in_review", *tail[final]]
    return steps


def _application(ctx: _Context, kind: str, spec: Record, index: int) -> Record:
    rng = ctx.rng
    department = spec["department"]
    service_code = spec["services"][index % len(spec["services"])]
    service = ctx.services["services"][service_code]
    sla = service["sla_days"]
    urban_only = department == "MUN"
    districts = [d for d in ctx.districts if d.ulb is not None] if urban_only else ctx.districts
    parcel: Parcel | None = None
    if kind in ("mutation", "passbook", "land_conversion", "crop_loss"):
        parcel = rng.choice(ctx.parcels)
        locality = parcel.village
    else:
        district = rng.choice(districts)
        pool = district.wards if urban_only else district.localities
        locality = rng.choice(pool)
    applicant = parcel.khata.pattadar if parcel is not None and kind != "mutation" else person(rng)
    # A cheque number exists only once the cheque is sanctioned.
    final = _pick(rng, {"approved": 25, "issued": 75} if kind == "cmrf_cheque" else _FINAL_WEIGHTS)
    steps = _path(rng, final)
    gaps = [timedelta(hours=rng.uniform(6, max(12, sla * 24 / 3))) for _ in steps]
    lead = timedelta(
        days=rng.uniform(0.5, 40 if final in ("issued", "rejected", "withdrawn") else sla * 0.8)
    )
    start = (
        datetime(AS_OF.year, AS_OF.month, AS_OF.day, 17, 30, tzinfo=IST)
        - lead
        - sum(gaps, timedelta())
    )
    moments = _in_office_hours(
        [start, *(start + sum(gaps[: i + 1], timedelta()) for i in range(len(gaps)))]
    )
    submitted = moments[0]
    year = submitted.year
    if spec["prefix"]:
        reference = make_reference(
            spec["prefix"], year, ctx.seq.take(("APP", spec["prefix"], year))
        )
    else:  # CMRF cheques are known by the cheque's number
        reference = f"{ctx.seq.take('CHEQUE', start=402318, max_step=977):06d}"
    received = _office_for(ctx, spec["received"], locality)
    decided = _office_for(ctx, spec["decided"], locality)
    history: list[Record] = [
        {
            "status": "submitted",
            "at": _stamp(submitted),
            "office": received,
            "note": "application_received",
        }
    ]
    moment = submitted
    for step, moment in zip(steps, moments[1:], strict=True):
        status = "submitted" if step == "resubmitted" else step
        note, office = {
            "in_review": (
                _REVIEW_NOTE.get(kind, _REVIEW_NOTE.get(department, "documents_verified")),
                decided,
            ),
            "approved": (_APPROVE_NOTE.get(department, "approved"), decided),
            "issued": (_issue_note(kind, service_code), decided),
            "returned": ("returned_for_documents", decided),
            "resubmitted": ("resubmitted", received),
            "rejected": (
                rng.choice(["rejected_not_eligible", "rejected_documents_invalid"]),
                decided,
            ),
            "withdrawn": ("withdrawn_by_applicant", received),
        }[step]
        history.append({"status": status, "at": _stamp(moment), "office": office, "note": note})
    status = history[-1]["status"]
    open_ = status in ("submitted", "in_review", "returned", "approved")
    documents: list[Record] = []
    details = _details(ctx, kind, service_code, locality, parcel)
    if status == "issued" and "certificate" in service:
        number = _certificate(ctx, service_code, applicant, locality, moment.date(), decided)
        documents.append({"kind": "revenue_certificate", "identifier": number})
    if status == "issued" and kind == "mutation" and parcel is not None:
        documents.append(
            {
                "kind": "1b",
                "identifier": parcel.survey_id,
                "params": {"village": parcel.village.code},
            }
        )
    return {
        "reference": reference,
        "kind": kind,
        "department": department,
        "service_code": service_code,
        "service": text(service["en"], service["te"]),
        "applicant": applicant.masked(),
        "status": status,
        "submitted_at": history[0]["at"],
        "updated_at": history[-1]["at"],
        "expected_by": (submitted.date() + timedelta(days=sla)).isoformat() if open_ else None,
        "office": history[-1]["office"],
        "area": locality.area(),
        "history": history,
        "next_step": _next_step(kind, department, status, service_code),
        "details": details,
        "documents": documents,
    }


def _issue_note(kind: str, service_code: str) -> str:
    if service_code in ("REV-14", "REV-15", "REV-25"):
        return "order_issued"
    return _ISSUE_NOTE.get(kind, "approved")


def _details(
    ctx: _Context, kind: str, service_code: str, locality: Locality, parcel: Parcel | None
) -> dict[str, Any]:
    rng = ctx.rng
    district = locality.district
    land = (
        {
            "survey_number": parcel.survey_number,
            "village": named(parcel.village.code, parcel.village.name),
        }
        if parcel is not None
        else {}
    )
    if kind == "revenue_certificate":
        return {
            "purpose": rng.choice(
                ["education", "employment", "scholarship", "welfare_scheme", "bank_loan"]
            )
        }
    if kind == "mutation":
        return {**land, "transaction": rng.choice(["sale", "inheritance", "partition", "gift"])}
    if kind == "passbook":
        return {**land, "khata_number": parcel.khata.number if parcel else None}
    if kind == "land_conversion":
        return {
            **land,
            "extent": extent(parcel.cents if parcel else 50),
            "to_use": rng.choice(["residential", "commercial", "industrial"]),
        }
    if kind == "house_site_patta":
        return {"extent_sq_yards": rng.choice([50, 60, 72])}
    if kind == "crop_loss":
        crop = parcel.crops[0] if parcel else ("paddy", "Paddy", "వరి")
        cents = parcel.cents if parcel else 100
        return {
            **land,
            "crop": named(crop[0], text(crop[1], crop[2])),
            "event": rng.choice(["cyclone", "flood", "drought", "unseasonal_rain"]),
            "extent": extent(cents),
            # ₹100–₹250 a cent, i.e. ₹10,000–₹25,000 an acre
            "relief_amount": cents * rng.choice([250, 150, 100]) * 100,
        }
    if kind in ("municipal", "building_permission", "trade_licence"):
        assert district.ulb is not None
        base: dict[str, Any] = {"ulb": named(district.ulb["code"], district.ulb["name"])}
        if kind == "building_permission":
            return {
                **base,
                "plot_area_sqm": rng.randrange(100, 600, 10),
                "floors": rng.randint(1, 4),
                "use": rng.choice(["residential", "commercial"]),
            }
        if kind == "trade_licence":
            code, en, te, fee = rng.choice(load("names")["trades"])
            return {**base, "trade": named(code, text(en, te)), "fee": fee}
        if service_code == "MUN-22":
            return {**base, "species": rng.choice(["dog", "cat"])}
        return base
    if kind in ("energy", "rooftop_solar", "pump_set"):
        base = {"discom": district.discom}
        if kind == "rooftop_solar":
            kw = rng.choice([1, 2, 3, 3, 5])
            subsidy = min(kw, 2) * 3_000_000 + (1_800_000 if kw >= 3 else 0)
            return {**base, "capacity_kw": kw, "subsidy": subsidy}
        if kind == "pump_set":
            return {**base, "horse_power": rng.choice([3, 5, 5, 7.5])}
        return {
            **base,
            "category": rng.choice(["domestic", "domestic", "commercial"]),
            "load_watts": rng.randrange(1000, 7500, 500),
        }
    if kind == "bus_pass":
        hq = district.hq_name
        kind_ = {"RTC-05": "student", "RTC-08": "general", "RTC-09": "senior_citizen"}[service_code]
        return {"pass_type": kind_, "route_from": dict(locality.name), "route_to": dict(hq)}
    if kind in ("cmrf_assistance", "letter_of_credit", "cmrf_cheque"):
        words = load("names")
        hospital_en, hospital_te = rng.choice(words["hospitals"])
        code, en, te = rng.choice(words["ailments"])
        amount = rng.randrange(5_000_000, 50_000_000, 500_000)
        details: dict[str, Any] = {
            "hospital": text(
                f"{hospital_en}, {district.hq_name['en']}",
                f"{hospital_te}, {district.hq_name['te']}",
            ),
            "ailment": named(code, text(en, te)),
            "amount": amount,
        }
        if kind == "cmrf_cheque":
            details["bank"] = text("State Bank of India", "స్టేట్ బ్యాంక్ ఆఫ్ ఇండియా")
        return details
    return {}


# ----- revenue certificates -----

_VALIDITY_DAYS = {"INC": 365, "EWS": 365, "AGI": 365, "SMF": 365 * 5, "RES": 365 * 3}


def _certificate(
    ctx: _Context,
    service_code: str,
    holder: Person,
    locality: Locality,
    issued: date,
    office: Record | None = None,
) -> str:
    rng = ctx.rng
    service = ctx.services["services"][service_code]
    prefix = service["certificate"]
    district = locality.district
    serial = ctx.seq.take(("CERT", prefix, district.code, issued.year))
    number = f"{prefix}-{district.code}-{issued.year}-{serial:06d}"
    particulars: dict[str, Any] = {}
    if prefix in ("INC", "EWS", "AGI"):
        particulars["annual_income"] = rng.randrange(3_000_000, 80_000_000, 100_000)
    if prefix == "SMF":
        cents = rng.randrange(50, 500, 5)
        particulars["farmer_class"] = "marginal" if cents < 250 else "small"
        particulars["extent"] = extent(cents)
    validity = _VALIDITY_DAYS.get(prefix)
    ctx.certificates[number] = {
        "kind": "revenue_certificate",
        "identifier": number,
        "department": "REV",
        "title": text(service["en"], service["te"]),
        "issued_on": issued.isoformat(),
        "data": {
            "certificate_number": number,
            "service_code": service_code,
            "holder": holder.masked(),
            "relation": person(rng, "male").masked(),
            "area": locality.area(),
            "issued_by": office or tahsildar_ref(locality.mandal),
            "valid_until": (issued + timedelta(days=validity)).isoformat() if validity else None,
            "status": "revoked" if rng.random() < 0.03 else "valid",
            "particulars": particulars,
        },
    }
    return number


# ----- grievances -----


def _grievance(ctx: _Context, department: str) -> Record:
    rng = ctx.rng
    categories = ctx.services["grievance_categories"][department]
    category = rng.choice(sorted(categories))
    spec = categories[category]
    district = rng.choice(
        [d for d in ctx.districts if d.ulb is not None] if department == "MUN" else ctx.districts
    )
    locality = rng.choice(district.wards if department == "MUN" else district.localities)
    area = locality.area()
    first: Record
    handler: Record
    if department == "ENG":
        first = handler = discom_ref(locality.mandal)
    elif department == "MUN":
        first, handler = secretariat_ref(locality), _office_for(ctx, "municipal_office", locality)
    elif department == "REV":
        first, handler = secretariat_ref(locality), tahsildar_ref(locality.mandal)
    elif department == "RTC":
        first = handler = ctx.bus_stations[district.code]
    elif department in ("END", "ANC"):
        place_type = "temple" if department == "END" else "anna_canteen"
        place = ctx.places[place_type][rng.choice(sorted(ctx.places[place_type]))]
        first = handler = {"type": place_type, "id": place["id"], "name": place["name"]}
        area = place["address"]
    elif department == "CMR":
        first = handler = cmrf_cell_ref()
    else:
        first, handler = collectorate_ref(district), tahsildar_ref(locality.mandal)
    final = _pick(rng, _GRIEVANCE_WEIGHTS)
    path = {
        "registered": [],
        "assigned": ["assigned"],
        "in_progress": ["assigned", "in_progress"],
        "resolved": ["assigned", "in_progress", "resolved"],
        "closed": ["assigned", "in_progress", "resolved", "closed"],
        "reopened": ["assigned", "in_progress", "resolved", "reopened"],
        "rejected": ["rejected"],
    }[final]
    sla = spec["sla_days"]
    gaps = [timedelta(hours=rng.uniform(1, max(3, sla * 24 / 4))) for _ in path]
    lead = timedelta(
        hours=rng.uniform(2, 24 * (30 if final in ("closed", "rejected") else max(1, sla)))
    )
    registered = (
        datetime(AS_OF.year, AS_OF.month, AS_OF.day, 18, 0, tzinfo=IST)
        - lead
        - sum(gaps, timedelta())
    )
    registered = registered.replace(second=0, microsecond=0)
    year = registered.year
    reference = make_reference(f"GRV-{department}", year, ctx.seq.take(("GRV", department, year)))
    history: list[Record] = [
        {
            "status": "registered",
            "at": _stamp(registered),
            "office": first,
            "note": "complaint_registered",
        }
    ]
    moment = registered
    notes = {
        "assigned": "assigned_to_officer",
        "in_progress": "work_in_progress",
        "resolved": "resolved_on_site",
        "closed": "closed_after_confirmation",
        "reopened": "reopened_by_citizen",
        "rejected": "rejected_duplicate",
    }
    for step, gap in zip(path, gaps, strict=True):
        moment = (moment + gap).replace(second=0, microsecond=0)
        history.append(
            {"status": step, "at": _stamp(moment), "office": handler, "note": notes[step]}
        )
    status = history[-1]["status"]
    next_step = {"resolved": "rate_resolution", "closed": "none", "rejected": "contact_office"}.get(
        status, "await_resolution"
    )
    return {
        "reference": reference,
        "department": department,
        "category": category,
        "category_name": text(spec["en"], spec["te"]),
        "status": status,
        "priority": spec.get("priority") or ("high" if rng.random() < 0.15 else "normal"),
        "registered_at": history[0]["at"],
        "updated_at": history[-1]["at"],
        "expected_by": (registered.date() + timedelta(days=sla)).isoformat(),
        "office": history[-1]["office"],
        "area": area,
        "history": history,
        "next_step": next_step,
    }
