"""Issuing a case's document on approval: the catalogue's DocumentSpec filled from the case's
answers in both languages, rendered to a signed PDF (mitra.documents) and stored byte for byte
with its seal, in the approving transaction."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import orjson
import psycopg

from mitra.cases import store
from mitra.cases.store import IST, Actor
from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import Service
from mitra.conversation.engine import Flow, fill
from mitra.crypto import FieldCipher
from mitra.documents.container import find_seal
from mitra.documents.model import (
    Bilingual,
    Department,
    DocumentFacts,
    Fact,
    Office,
    Officer,
    new_document_id,
)
from mitra.documents.signing import Signer, render_signed

# The officer who signs, by the kind of office (the state's conventions).
DESIGNATIONS: dict[str, Bilingual] = {
    "village_secretariat": Bilingual("Village Revenue Officer", "గ్రామ రెవెన్యూ అధికారి"),
    "ward_secretariat": Bilingual("Ward Administrative Secretary", "వార్డు పరిపాలనా కార్యదర్శి"),
    "tahsildar_office": Bilingual("Tahsildar", "తహసీల్దార్"),
    "collectorate": Bilingual("District Collector", "జిల్లా కలెక్టర్"),
    "municipal_office": Bilingual("Municipal Commissioner", "మున్సిపల్ కమిషనర్"),
    "discom_office": Bilingual("Assistant Engineer (Operation)", "సహాయ ఇంజనీర్ (ఆపరేషన్)"),
    "bus_station": Bilingual("Depot Manager, APSRTC", "డిపో మేనేజర్, ఏపీఎస్‌ఆర్టీసీ"),
    "rtc_region": Bilingual("Regional Manager, APSRTC", "రీజనల్ మేనేజర్, ఏపీఎస్‌ఆర్టీసీ"),
    "cmrf_cell": Bilingual("Joint Secretary, CMRF", "జాయింట్ సెక్రటరీ, సీఎంఆర్ఎఫ్"),
}
AUTHORISED = Bilingual("Authorised Officer", "అధీకృత అధికారి")


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class Issuer:
    cipher: FieldCipher
    catalogue: Catalogue
    signer: Signer
    public_url: str

    def __call__(
        self, conn: psycopg.Connection[Any], case: dict[str, Any], actor: Actor, now: datetime
    ) -> str | None:
        """The document a case's approval issues (None if its service issues none)."""
        service = store.service_of(self.catalogue, case)
        if service is None or service.document is None:
            return None
        record = store.private(self.cipher, conn, case["id"])
        applicant = record["applicant"]
        offices = {o["id"]: o for o in case["offices"]}
        office = offices.get(case["office_id"]) or case["offices"][0]
        document_id = self.issue(
            conn,
            service=service,
            answers=record.get("answers") or {},
            results={
                "choices": record.get("choices") or {},
                "place": record.get("place") or {},
                "applicant": applicant,
                "case": {"reference": case["reference"]},
            },
            holder_name=str(applicant.get("name") or ""),
            reference=case["reference"],
            office=(office["id"], office["name"]),
            officer=(
                actor.name if actor.kind == "officer" and actor.name else "Digitally signed",
                DESIGNATIONS.get(str(office.get("type")), AUTHORISED),
            ),
            citizen_id=case["citizen_id"],
            case_id=case["id"],
            now=now,
        )
        store.attach_document(conn, case, document_id, now)
        return document_id

    def issue(
        self,
        conn: psycopg.Connection[Any],
        *,
        service: Service,
        answers: dict[str, Any],
        results: dict[str, Any],
        holder_name: str,
        reference: str,
        office: tuple[str, dict[str, str]],
        officer: tuple[str, Bilingual],
        citizen_id: int,
        now: datetime,
        case_id: int | None = None,
        payment_id: int | None = None,
    ) -> str:
        """Render, sign and store the service's document, its facts filled in both languages
        from the conversation (`{answers.…}` and the results: choices, place, payment …)."""
        spec = service.document
        assert spec is not None
        flow = Flow(service.code, service.version, "", answers=answers, results=results)
        department = self.catalogue.department(service.department)
        issued_on = now.astimezone(IST).date()
        document_id = new_document_id()
        facts = DocumentFacts(
            document_id=document_id,
            kind=spec.kind,
            title=Bilingual(spec.title.en, spec.title.te),
            reference=reference,
            holder_name=holder_name,
            facts=[
                Fact(Bilingual(f.label.en, f.label.te), Bilingual(en, te))
                for f in spec.facts
                for en, te in [(fill(f.value.en, flow, "en"), fill(f.value.te, flow, "te"))]
                if en.strip() or te.strip()  # an optional answer not given: no empty row
            ],
            department=Department(
                service.department,
                Bilingual(department.name.en, department.name.te)
                if department
                else Bilingual(service.department, service.department),
            ),
            office=Office(office[0], Bilingual(office[1]["en"], office[1]["te"])),
            officer=Officer(officer[0], officer[1]),
            issued_on=issued_on,
            valid_until=add_months(issued_on, spec.valid_months) if spec.valid_months else None,
            verify_url=f"{self.public_url.rstrip('/')}/verify/{document_id}",
            key_id=self.signer.key_id,
        )
        pdf = render_signed(facts, self.signer)
        seal = find_seal(pdf)
        conn.execute(
            "INSERT INTO documents (id, case_id, payment_id, citizen_id, kind, reference, title,"
            " facts_enc, pdf_enc, pdf_sha256, signature, key_id, issued_at, valid_until)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                document_id,
                case_id,
                payment_id,
                citizen_id,
                spec.kind,
                reference,
                orjson.dumps({"en": spec.title.en, "te": spec.title.te}).decode(),
                self.cipher.encrypt(seal.facts_json, context=b"document_facts"),
                self.cipher.encrypt(pdf, context=b"document_pdf"),
                seal.digest,
                seal.signature,
                facts.key_id,
                now,
                datetime.combine(facts.valid_until, time(23, 59, 59), IST)
                if facts.valid_until
                else None,
            ),
        )
        return document_id
