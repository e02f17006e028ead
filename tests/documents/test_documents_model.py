"""The facts of a document and their canonical bytes, exactly as documented."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from mitra.documents import (
    Bilingual,
    Department,
    DocumentFacts,
    Fact,
    Office,
    Officer,
    canonical_bytes,
    facts_from_dict,
    new_document_id,
)
from tests.documents.samples import income_certificate


def small_document(**changes: object) -> DocumentFacts:
    fields: dict[str, object] = {
        "document_id": "DABCDEFGHIJKLMNOPQRST",
        "kind": "caste_certificate",
        "title": Bilingual(en="Caste Certificate", te="కుల ధృవీకరణ పత్రం"),
        "reference": "REV-2026-500002-K",
        "holder_name": "Lakshmi",
        "facts": [Fact(label=Bilingual(en="Caste", te="కులం"), value="BC-B")],
        "department": Department(code="REV", name=Bilingual(en="Revenue", te="రెవెన్యూ")),
        "office": Office(id="TAH-1", name=Bilingual(en="Tahsildar", te="తహసీల్దార్")),
        "officer": Officer(name="K. Rao", designation=Bilingual(en="Tahsildar", te="తహసీల్దార్")),
        "issued_on": date(2026, 2, 10),
        "valid_until": None,
        "verify_url": "https://mitra.example/verify/DABCDEFGHIJKLMNOPQRST",
        "key_id": "0123456789abcdef",
    }
    fields.update(changes)
    return DocumentFacts(**fields)  # type: ignore[arg-type]


def test_canonical_bytes_are_sorted_compact_utf8_json_with_iso_dates() -> None:
    expected = (
        '{"department":{"code":"REV","name":{"en":"Revenue","te":"రెవెన్యూ"}},'
        '"document_id":"DABCDEFGHIJKLMNOPQRST",'
        '"facts":[{"label":{"en":"Caste","te":"కులం"},"value":"BC-B"}],'
        '"holder_name":"Lakshmi",'
        '"issued_on":"2026-02-10",'
        '"key_id":"0123456789abcdef",'
        '"kind":"caste_certificate",'
        '"office":{"id":"TAH-1","name":{"en":"Tahsildar","te":"తహసీల్దార్"}},'
        '"officer":{"designation":{"en":"Tahsildar","te":"తహసీల్దార్"},"name":"K. Rao"},'
        '"reference":"REV-2026-500002-K",'
        '"title":{"en":"Caste Certificate","te":"కుల ధృవీకరణ పత్రం"},'
        '"valid_until":null,'
        '"verify_url":"https://mitra.example/verify/DABCDEFGHIJKLMNOPQRST"}'
    ).encode()

    assert canonical_bytes(small_document()) == expected


def test_a_dated_validity_is_an_iso_date_and_quotes_are_escaped() -> None:
    facts = small_document(valid_until=date(2027, 2, 9), holder_name='Ravi "Babu"\n')
    data = canonical_bytes(facts)
    assert b'"valid_until":"2027-02-09"' in data
    assert b'"holder_name":"Ravi \\"Babu\\"\\n"' in data


def test_facts_round_trip_through_their_dict_and_json() -> None:
    facts = income_certificate("0123456789abcdef")
    again = facts_from_dict(json.loads(canonical_bytes(facts)))
    assert again == facts
    assert canonical_bytes(again) == canonical_bytes(facts)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"document_id": "D1"},
        {**small_document().to_dict(), "extra": "field"},
        {**small_document().to_dict(), "issued_on": "10-02-2026"},
        {**small_document().to_dict(), "title": {"en": "only English"}},
        {**small_document().to_dict(), "facts": [{"label": {"en": "a", "te": "b"}}]},
        {**small_document().to_dict(), "holder_name": 7},
    ],
)
def test_anything_else_is_not_a_documents_facts(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        facts_from_dict(broken)


def test_validity_cannot_end_before_issue() -> None:
    with pytest.raises(ValueError):
        small_document(valid_until=date(2026, 2, 9))


def test_document_ids_are_opaque_and_unguessable() -> None:
    ids = {new_document_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"D[A-Z2-7]{20}", document_id) for document_id in ids)
