"""The sandbox's whole Andhra Pradesh, generated from a fixed seed when first asked for.

Everything is derived from `SEED` with separate random streams per part, so the same
identifiers mean the same records on every machine and in every run (no hash ordering, no
wall clock: records are as of `timeline.AS_OF`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from mitra.departments.routing import default_routing
from mitra.departments.sandbox.casework import build_casework
from mitra.departments.sandbox.geo import distance_m
from mitra.departments.sandbox.geography import District, Locality, Record, build_districts
from mitra.departments.sandbox.land import (
    Parcel,
    adangal,
    build_land,
    field_measurement,
    record_of_rights,
    survey_key,
)
from mitra.departments.sandbox.ledgers import build_ledgers
from mitra.departments.sandbox.numbering import Sequences
from mitra.departments.sandbox.places import build_places
from mitra.departments.sandbox.records import (
    build_bus_tickets,
    build_civil_registration,
    build_donations,
    build_parcels,
    build_temple_bookings,
)
from mitra.departments.sandbox.transport import Network, build_network

SEED = 20261116
OUTSIDE_STATE_M = 60_000  # a point farther than this from every settlement is not in the state


@dataclass
class World:
    districts: list[District]
    district_index: dict[str, District]
    localities: list[Locality]
    places: dict[str, dict[str, Record]]
    accounts: dict[str, dict[str, Record]]
    applications: dict[str, Record]
    grievances: dict[str, Record]
    documents: dict[str, dict[str, Record]]  # kind → identifier → document (not land records)
    parcels: dict[str, Parcel]
    network: Network

    def document(self, kind: str, identifier: str, village: str | None) -> Record | None:
        if kind in ("adangal", "1b", "fmb"):
            parcel = self.parcels.get(survey_key(village or "", identifier))
            if parcel is None:
                return None
            if kind == "adangal":
                return adangal(parcel)
            if kind == "1b":
                return record_of_rights(parcel)
            neighbours = sorted(
                (p.survey_number for p in self.parcels.values() if p.village is parcel.village),
            )
            return field_measurement(parcel, neighbours)
        return self.documents.get(kind, {}).get(identifier)

    def locate(self, lat: float, lon: float) -> tuple[Locality, float] | None:
        best = min(self.localities, key=lambda x: distance_m(lat, lon, x.lat, x.lon))
        distance = distance_m(lat, lon, best.lat, best.lon)
        return (best, distance) if distance <= OUTSIDE_STATE_M else None

    def nearest(self, type_: str, lat: float, lon: float, limit: int) -> list[tuple[Record, float]]:
        ranked = sorted(
            (
                (p, distance_m(lat, lon, p["location"]["lat"], p["location"]["lon"]))
                for p in self.places[type_].values()
            ),
            key=lambda pair: (pair[1], pair[0]["id"]),
        )
        return ranked[:limit]

    def nearest_office_ref(self, type_: str, lat: float, lon: float) -> Record | None:
        """The nearest place of `type_` as an office reference (type, id, name)."""
        if not self.places.get(type_):
            return None
        place, _ = self.nearest(type_, lat, lon, 1)[0]
        return {"type": type_, "id": place["id"], "name": place["name"]}

    def counts(self) -> dict[str, int]:
        """How many records of each kind, for `mitra sandbox samples` and the docs."""
        counts = {
            "districts": len(self.districts),
            "mandals": sum(len(d.mandals) for d in self.districts),
            "villages": sum(len(d.villages) for d in self.districts),
            "wards": sum(len(d.wards) for d in self.districts),
            "land_parcels": len(self.parcels),
            "applications": len(self.applications),
            "grievances": len(self.grievances),
            "bus_services": len(self.network.services),
        }
        counts.update({f"places:{k}": len(v) for k, v in self.places.items()})
        counts.update({f"accounts:{k}": len(v) for k, v in self.accounts.items()})
        counts.update({f"documents:{k}": len(v) for k, v in self.documents.items()})
        return counts


def _stream(seed: int, part: str) -> random.Random:
    return random.Random(f"{seed}:{part}")


def build_world(seed: int = SEED) -> World:
    routing = default_routing()
    place_departments = {
        name: route.departments[0] for name, route in routing.routes("places").items()
    }
    seq = Sequences(_stream(seed, "numbering"))
    districts = build_districts(_stream(seed, "geography"))
    places = build_places(_stream(seed, "places"), districts, place_departments)
    ledgers = build_ledgers(_stream(seed, "ledgers"), districts, seq)
    parcels = build_land(_stream(seed, "land"), districts)
    casework = build_casework(_stream(seed, "casework"), seq, districts, parcels, places)
    network = build_network(_stream(seed, "transport"))
    civil = build_civil_registration(_stream(seed, "civil"), seq, districts)
    documents: dict[str, dict[str, Record]] = {
        "electricity_receipt": ledgers.electricity_receipts,
        "property_tax_receipt": ledgers.property_tax_receipts,
        "revenue_certificate": casework.certificates,
        "temple_booking": build_temple_bookings(_stream(seed, "temples"), seq),
        "bus_ticket": build_bus_tickets(_stream(seed, "tickets"), seq, network),
        "donation_receipt": build_donations(_stream(seed, "donations"), seq),
        # Built last: it draws serials from `seq` after every older register.
        "parcel": build_parcels(_stream(seed, "parcels"), seq, network),
        **civil,
    }
    return World(
        districts=districts,
        district_index={d.code: d for d in districts},
        localities=[x for d in districts for x in d.localities],
        places=places,
        accounts=ledgers.accounts,
        applications=casework.applications,
        grievances=casework.grievances,
        documents=documents,
        parcels=parcels,
        network=network,
    )


@functools.cache
def world() -> World:
    """The world every sandbox app serves (built once per process, about a tenth of a second)."""
    return build_world()


def digest(w: World) -> str:
    """A fingerprint of everything the world serves, to check it is the same everywhere."""
    payload: dict[str, Any] = {
        "districts": [d.record() for d in w.districts],
        "localities": [x.record() for x in w.localities],
        "places": w.places,
        "accounts": w.accounts,
        "applications": w.applications,
        "grievances": w.grievances,
        "documents": w.documents,
        "parcels": sorted(w.parcels),
        "services": sorted(
            (s.number, s.origin.code, s.destination.code, s.departs, s.fare)
            for s in w.network.services.values()
        ),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
