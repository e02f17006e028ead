"""Identifiers a tester can use against the sandbox, with what each one shows.

`samples()` groups them (`accounts/electricity`, `applications/mutation`, `info/bus_search`
…); every sample names the client method and its arguments, so
`await getattr(client, s["operation"])(**s["args"])` fetches it (the tests do exactly that).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.table import Table

from mitra.departments.routing import default_routing
from mitra.departments.sandbox.geography import Record
from mitra.departments.sandbox.timeline import AS_OF
from mitra.departments.sandbox.world import World, world

Sample = dict[str, Any]


def _rupees(paise: int) -> str:
    return f"₹{paise / 100:,.2f}"


def _where(area: Record) -> str:
    place = area.get("village") or area.get("ward") or area["mandal"]
    return f"{place['name']['en']}, {area['district']['name']['en']}"


def _sample(department: str, operation: str, args: dict[str, Any], shows: str) -> Sample:
    return {"department": department, "operation": operation, "args": args, "shows": shows}


def _dues(account: Record) -> str:
    dues = account["dues"]
    if dues["status"] == "none":
        return "nothing due"
    return f"{_rupees(dues['amount'])} {dues['status']} (due {dues['due_date']})"


def _account_samples(w: World) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    routing = default_routing()
    for kind, accounts in w.accounts.items():
        ordered = [accounts[n] for n in sorted(accounts)]
        example = routing.route("accounts", kind).example
        chosen: list[Record] = [accounts[example]] if example in accounts else []
        if kind == "electricity":
            for discom in ("APEPDCL", "APCPDCL", "APSPDCL"):
                chosen.append(
                    next(
                        a
                        for a in ordered
                        if a["details"]["discom"] == discom and a["dues"]["status"] == "due"
                    )
                )
            chosen.append(next(a for a in ordered if a["status"] == "disconnected"))
            chosen.append(next(a for a in ordered if a["category"] == "agriculture"))
        for status in ("overdue", "none", "due"):
            match = next(
                (a for a in ordered if a["dues"]["status"] == status and a not in chosen), None
            )
            if match is not None and len(chosen) < (7 if kind == "electricity" else 3):
                chosen.append(match)
        samples = []
        for account in chosen:
            extra = f"{account['details']['discom']} " if kind == "electricity" else ""
            samples.append(
                _sample(
                    account["department"],
                    "account",
                    {"kind": kind, "number": account["number"]},
                    f"{extra}{account['category']} account, {account['status']}, "
                    f"in {_where(account['address'])}: {_dues(account)}",
                )
            )
        out[f"accounts/{kind}"] = samples
    return out


def _application_samples(w: World) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    routing = default_routing()
    by_kind: dict[str, list[Record]] = {}
    for reference in sorted(w.applications):
        record = w.applications[reference]
        by_kind.setdefault(record["kind"], []).append(record)
    for kind, records in by_kind.items():
        example = routing.route("applications", kind).example
        chosen = [w.applications[example]] if example in w.applications else []
        for status in ("issued", "in_review", "returned", "rejected", "submitted"):
            if len(chosen) >= 3:
                break
            match = next((r for r in records if r["status"] == status and r not in chosen), None)
            if match is not None and match["status"] not in {c["status"] for c in chosen}:
                chosen.append(match)
        out[f"applications/{kind}"] = [
            _sample(
                r["department"],
                "application",
                {"reference": r["reference"]},
                f"{r['service_code']} {r['service']['en']}: {r['status']}, "
                f"{len(r['history'])} steps, "
                f"next step {r['next_step']}"
                + (f", expected by {r['expected_by']}" if r["expected_by"] else ""),
            )
            for r in chosen
        ]
    return out


def _grievance_samples(w: World) -> list[Sample]:
    seen: set[str] = set()
    samples = []
    for reference in sorted(w.grievances):
        g = w.grievances[reference]
        if g["department"] in seen:
            continue
        seen.add(g["department"])
        samples.append(
            _sample(
                g["department"],
                "grievance",
                {"reference": reference},
                f"{g['category_name']['en']} ({g['priority']}): {g['status']} "
                f"at {g['office']['name']['en']}",
            )
        )
    example = default_routing().route("grievances", "grievance").example
    if example in w.grievances and all(s["args"]["reference"] != example for s in samples):
        g = w.grievances[example]
        samples.insert(
            0,
            _sample(
                g["department"],
                "grievance",
                {"reference": example},
                f"{g['category_name']['en']}: {g['status']}",
            ),
        )
    return samples


def _document_samples(w: World) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    parcels = [w.parcels[k] for k in sorted(w.parcels)]
    tenali = next(p for p in parcels if p.village.code == "GNT0201" and p.survey_id == "123-2A")
    wet = next(p for p in parcels if p.classification == "wet" and p is not tenali)
    for kind in ("adangal", "1b", "fmb"):
        out[f"documents/{kind}"] = [
            _sample(
                "REV",
                "document",
                {"kind": kind, "identifier": p.survey_number, "village": p.village.code},
                f"survey {p.survey_number} in {p.village.name['en']} "
                f"({p.village.mandal.name['en']} mandal), "
                f"{p.classification} land, khata {p.khata.number}",
            )
            for p in (tenali, wet)
        ]
    for kind, records in w.documents.items():
        identifiers = sorted(records)
        example = default_routing().route("documents", kind).example
        picked = [example] if example in records else []
        if kind == "parcel":  # one parcel in each state it can be in
            for status in ("booked", "in_transit", "at_destination", "returned_to_sender"):
                picked.append(
                    next(i for i in identifiers if records[i]["data"]["status"] == status)
                )
        picked += [i for i in identifiers[:: max(1, len(identifiers) // 2)] if i not in picked][:2]
        out[f"documents/{kind}"] = [
            _sample(
                records[i]["department"],
                "document",
                {"kind": kind, "identifier": i},
                _document_shows(records[i]),
            )
            for i in picked
        ]
    return out


def _document_shows(document: Record) -> str:
    data = document["data"]
    title = document["title"]["en"]
    if document["kind"] == "parcel":
        return (
            f"{title} {data['origin']['name']['en']} → {data['destination']['name']['en']}, "
            f"{data['weight_grams'] / 1000:g} kg, {_rupees(data['charges'])}: {data['status']}"
        )
    for key in ("amount", "fare"):
        if key in data:
            return f"{title}, {_rupees(data[key])}" + (
                f", {data['status']}" if "status" in data else ""
            )
    if "status" in data:
        return f"{title}, {data['status']}"
    return f"{title}, issued {document['issued_on']}"


def _place_samples(w: World) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    guntur = w.district_index["GNT"]
    vijayawada = w.district_index["NTR"]
    for type_, places in w.places.items():
        first = places[sorted(places)[0]]
        origin = vijayawada if type_ == "temple" else guntur
        out[f"places/{type_}"] = [
            _sample(
                first["department"],
                "nearest",
                {"type": type_, "lat": origin.lat, "lon": origin.lon, "limit": 3},
                f"the three {type_.replace('_', ' ')}s nearest {origin.hq_name['en']} headquarters",
            ),
            _sample(
                first["department"],
                "place",
                {"type": type_, "id": first["id"]},
                f"{first['name']['en']}: contacts and timings",
            ),
        ]
    return out


def _info_samples(w: World) -> dict[str, list[Sample]]:
    service = w.network.services[sorted(w.network.services)[0]]
    day = AS_OF.isoformat()
    topics: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "ENG",
            "planned_outages",
            {"district": "GNT"},
            "planned power cuts in Guntur district over the next week",
        ),
        (
            "ENG",
            "bill_estimate",
            {"category": "domestic", "units": 180},
            "a domestic bill for 180 units, slab by slab",
        ),
        ("ENG", "energy_tips", {}, "energy-saving tips"),
        (
            "END",
            "temple_calendar",
            {"temple": "srisailam"},
            "Srisailam: darshan, sevas, rooms, festivals",
        ),
        ("END", "temple_calendar", {}, "all seven temples"),
        ("ANC", "canteen_menu", {}, "the ₹5 menu for the week and meal timings"),
        (
            "REV",
            "documents_required",
            {"certificate": "REV-01"},
            "documents needed for an income certificate",
        ),
        ("RTC", "bus_towns", {}, "the towns APSRTC services run between"),
        (
            "RTC",
            "bus_search",
            {"from": "VJA", "to": "VSP", "date": day},
            f"Vijayawada → Visakhapatnam services on {day}",
        ),
        (
            "RTC",
            "bus_search",
            {"from": "TPT", "to": "VJA", "date": day},
            f"Tirupati → Vijayawada services on {day}",
        ),
        (
            "RTC",
            "bus_location",
            {"service": service.number},
            f"where service {service.number} "
            f"({service.origin.name['en']} → {service.destination.name['en']}) is now",
        ),
        (
            "GEN",
            "schemes",
            {"age": 64, "income": 9_000_000},
            "schemes for a 64-year-old with ₹90,000 a year",
        ),
        (
            "GEN",
            "schemes",
            {"age": 21, "category": "student,sc"},
            "schemes for a 21-year-old SC student",
        ),
    ]
    out: dict[str, list[Sample]] = {}
    for department, topic, params, shows in topics:
        out.setdefault(f"info/{topic}", []).append(
            _sample(department, "info", {"topic": topic, **params}, shows)
        )
    return out


def _admin_samples(w: World) -> dict[str, list[Sample]]:
    guntur = w.district_index["GNT"]
    araku = next(m for d in w.districts for m in d.mandals if m.name["en"] == "Araku Valley")
    return {
        "admin": [
            _sample("GEN", "districts", {}, "the 26 districts with Telugu names"),
            _sample("GEN", "mandals", {"district": "GNT"}, "Guntur's mandals, villages and wards"),
            _sample(
                "GEN",
                "locate",
                {"lat": guntur.lat, "lon": guntur.lon},
                "Guntur headquarters → Guntur Ward 1",
            ),
            _sample(
                "GEN",
                "locate",
                {"lat": araku.lat + 0.01, "lon": araku.lon},
                "a point near Araku Valley",
            ),
        ]
    }


def _inventory_samples(w: World) -> dict[str, list[Sample]]:
    service = w.network.services[sorted(w.network.services)[0]]
    day = (AS_OF + timedelta(days=4)).isoformat()
    route = f"{service.origin.name['en']} → {service.destination.name['en']}"
    items: list[tuple[str, str, str, str]] = [
        ("RTC", "bus_seat", service.number, f"seats left on service {service.number}"),
        ("RTC", "parcel", f"{service.number}.small", f"space for a 5 kg parcel on {route}"),
        ("RTC", "bus_hire", "DEP-GNT", "buses the Guntur depot can hire out"),
        ("END", "darshan", "srisailam.sarva", "Srisailam sarva darshan tickets left"),
        ("END", "seva", "srisailam.rudrabhishekam", "Srisailam Rudrabhishekam tickets left"),
        ("END", "room", "srisailam.non_ac", "Srisailam non-AC rooms left"),
        ("END", "prasadam", "srisailam.laddu", "Srisailam laddus left"),
        ("MUN", "hall", "GMC.hall1", "a Guntur community hall, free or booked"),
        ("MUN", "tanker", "GMC.tanker", "Guntur water-tanker trips left"),
        ("MUN", "septic", "GMC.septic", "Guntur septic-cleaning slots left"),
        ("ANC", "meal_sponsorship", "ANC-GNT-01", "whether Anna Canteen 1, Guntur has a sponsor"),
    ]
    lists: list[tuple[str, dict[str, Any], str]] = [
        ("bus_seat", {"from_": "VJA", "to": "VSP"}, "buses Vijayawada → Visakhapatnam, fares"),
        ("parcel", {"from_": "VJA", "to": "GNT", "band": "medium"}, "15 kg parcel space to Guntur"),
        ("bus_hire", {"place": "VJA"}, "buses on hire at the Vijayawada depot"),
        ("darshan", {"place": "srisailam"}, "Srisailam's darshan types, prices, tickets left"),
        ("seva", {"place": "KDG"}, "Kanaka Durga temple sevas"),
        ("room", {"place": "srisailam"}, "Srisailam rooms"),
        ("prasadam", {"place": "annavaram"}, "Annavaram prasadam"),
        ("hall", {"place": "GMC"}, "Guntur Municipal Corporation's community halls"),
        ("tanker", {"place": "NTR"}, "water tankers in Vijayawada"),
        ("septic", {"place": "MO-GVMC"}, "septic-tank cleaning in Visakhapatnam"),
        ("meal_sponsorship", {"place": "GNT"}, "Guntur's Anna Canteens open for sponsorship"),
    ]
    return {
        "inventory": [
            _sample(
                department,
                "inventory",
                {"department": department, "kind": kind, "id": id_, "date": day},
                f"{shows} on {day}",
            )
            for department, kind, id_, shows in items
        ],
        "inventory/lists": [
            _sample(
                next(d for d, k, _, _ in items if k == kind),
                "inventory_list",
                {"kind": kind, "date": day, **params},
                f"{shows} on {day}",
            )
            for kind, params, shows in lists
        ],
    }


def samples() -> dict[str, list[Sample]]:
    """Sample identifiers by group; each sample has `department`, `operation`, `args`, `shows`."""
    w = world()
    out: dict[str, list[Sample]] = {}
    out.update(_account_samples(w))
    out.update(_application_samples(w))
    out["grievances"] = _grievance_samples(w)
    out.update(_document_samples(w))
    out.update(_place_samples(w))
    out.update(_info_samples(w))
    out.update(_admin_samples(w))
    out.update(_inventory_samples(w))
    return out


def _arguments(args: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in args.items())


def samples_table(groups: dict[str, list[Sample]] | None = None) -> Table:
    """The samples as a rich Table, for `mitra sandbox samples`."""
    table = Table(
        title=f"Sandbox samples (records as of {AS_OF.isoformat()}; tokens: sandbox-<DEPT>)"
    )
    table.add_column("group", style="bold")
    table.add_column("dept")
    table.add_column("call")
    table.add_column("shows")
    for group, items in (groups or samples()).items():
        for index, item in enumerate(items):
            table.add_row(
                group if index == 0 else "",
                item["department"],
                f"{item['operation']}({_arguments(item['args'])})",
                item["shows"],
            )
    return table
