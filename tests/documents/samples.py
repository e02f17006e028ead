"""Plain factories for documents in tests: an income certificate like the ones REV issues."""

from __future__ import annotations

from datetime import date
from typing import Any

from mitra.documents import (
    Bilingual,
    Department,
    DocumentFacts,
    Fact,
    Office,
    Officer,
    new_document_id,
)

VERIFY_BASE = "https://mitra.ap.gov.in/verify/"


def income_certificate(key_id: str, **changes: Any) -> DocumentFacts:
    document_id = changes.pop("document_id", None) or new_document_id()
    fields: dict[str, Any] = {
        "document_id": document_id,
        "kind": "income_certificate",
        "title": Bilingual(en="Income Certificate", te="ఆదాయ ధృవీకరణ పత్రం"),
        "reference": "REV-2026-500001-K",
        "holder_name": "Sunkara Lakshmi Prasanna",
        "facts": (
            Fact(
                label=Bilingual(en="Father's / Husband's name", te="తండ్రి / భర్త పేరు"),
                value="Sunkara Venkata Ramana",
            ),
            Fact(
                label=Bilingual(en="Address", te="చిరునామా"),
                value=Bilingual(
                    en="D.No. 4-12, Gandhi Road, Ward 1, Tirupati Urban, Tirupati district",
                    te="ఇంటి నం. 4-12, గాంధీ రోడ్, వార్డు 1, తిరుపతి అర్బన్, తిరుపతి జిల్లా",
                ),
            ),
            Fact(
                label=Bilingual(en="Annual family income", te="కుటుంబ వార్షిక ఆదాయం"),
                value=Bilingual(
                    en="₹1,20,000 (Rupees one lakh twenty thousand only)",
                    te="₹1,20,000 (లక్ష ఇరవై వేల రూపాయలు మాత్రమే)",
                ),
            ),
            Fact(
                label=Bilingual(en="Sources of income", te="ఆదాయ వనరులు"),
                value=Bilingual(en="Agriculture, daily wages", te="వ్యవసాయం, రోజువారీ కూలి"),
            ),
            Fact(
                label=Bilingual(en="Purpose", te="ప్రయోజనం"),
                value=Bilingual(en="Scholarship application", te="ఉపకార వేతనం దరఖాస్తు"),
            ),
        ),
        "department": Department(
            code="REV", name=Bilingual(en="Revenue Department", te="రెవెన్యూ శాఖ")
        ),
        "office": Office(
            id="TAH-TPT-U",
            name=Bilingual(en="Tahsildar Office, Tirupati Urban", te="తహసీల్దార్ కార్యాలయం, తిరుపతి అర్బన్"),
        ),
        "officer": Officer(
            name="K. Srinivasa Rao",
            designation=Bilingual(en="Tahsildar", te="తహసీల్దార్"),
        ),
        "issued_on": date(2026, 2, 10),
        "valid_until": date(2027, 2, 10),
        "verify_url": VERIFY_BASE + document_id,
        "key_id": key_id,
    }
    fields.update(changes)
    return DocumentFacts(**fields)
