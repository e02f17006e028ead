"""A Mitra PDF verifies as genuine, and any change to it, its facts, its signature or its key
is caught with the reason a reader needs."""

from __future__ import annotations

import hashlib
import json

import pytest
from fpdf import FPDF

from mitra.documents import (
    DocumentFacts,
    Fact,
    PublicKeys,
    Signer,
    render_signed,
    signature_of_facts,
    verify_facts,
    verify_pdf,
)
from mitra.documents.container import digest_of, find_seal, with_seal_values
from mitra.documents.model import Bilingual, canonical_bytes
from mitra.documents.pdf import render_pdf
from mitra.documents.signing import signed_message
from tests.documents.samples import income_certificate


def flip_byte(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def test_a_genuine_certificate_verifies(
    certificate: bytes, certificate_facts: DocumentFacts, signer: Signer
) -> None:
    result = verify_pdf(certificate, signer.public_keys())

    assert result.ok
    assert result.reason == "genuine"
    assert result.document_id == certificate_facts.document_id
    assert result.key_id == signer.key_id
    assert result.facts == certificate_facts.to_dict()


def test_one_changed_byte_anywhere_outside_the_signature_is_tampering(
    certificate: bytes, signer: Signer
) -> None:
    seal = find_seal(certificate)
    middle = len(certificate) // 2
    facts_at = certificate.index(b"/MitraFacts <") + 40
    for index in (0, 9, middle, facts_at, len(certificate) - 2):
        for start, end in (seal.digest_span, seal.signature_span):
            assert not start <= index < end
        result = verify_pdf(flip_byte(certificate, index), signer.public_keys())
        assert (result.ok, result.reason) == (False, "tampered"), index


def test_a_changed_page_content_stream_is_tampering(certificate: bytes, signer: Signer) -> None:
    # The first object after the page is its content stream (compressed drawing operators).
    stream_at = certificate.index(b"stream\n") + len(b"stream\n") + 20
    result = verify_pdf(flip_byte(certificate, stream_at), signer.public_keys())
    assert (result.ok, result.reason) == (False, "tampered")


def test_a_changed_signature_is_a_bad_signature(certificate: bytes, signer: Signer) -> None:
    start, _ = find_seal(certificate).signature_span
    changed = certificate[:start] + (b"1" if certificate[start] != ord("1") else b"2")
    changed += certificate[start + 1 :]

    result = verify_pdf(changed, signer.public_keys())

    assert (result.ok, result.reason) == (False, "bad_signature")


def test_a_rendered_but_unsigned_pdf_is_not_valid(
    certificate_facts: DocumentFacts, signer: Signer
) -> None:
    result = verify_pdf(render_pdf(certificate_facts), signer.public_keys())
    assert (result.ok, result.reason) == (False, "bad_signature")


def test_facts_re_signed_with_another_key_name_an_unknown_key(
    signer: Signer, other_signer: Signer
) -> None:
    forged = render_signed(income_certificate(other_signer.key_id), other_signer)

    result = verify_pdf(forged, signer.public_keys())

    assert (result.ok, result.reason) == (False, "unknown_key")
    assert result.key_id == other_signer.key_id


def test_a_forger_who_claims_our_key_id_has_a_bad_signature(
    certificate_facts: DocumentFacts, signer: Signer, other_signer: Signer
) -> None:
    unsigned = render_pdf(certificate_facts)  # names the genuine key id
    seal = find_seal(unsigned)
    digest = digest_of(unsigned, seal)
    signature = other_signer.sign(signed_message(canonical_bytes(certificate_facts), digest))
    forged = with_seal_values(unsigned, seal, digest, signature.hex())

    result = verify_pdf(forged, signer.public_keys())

    assert (result.ok, result.reason) == (False, "bad_signature")


def edit_embedded_facts(pdf: bytes, facts: dict[str, object]) -> bytes:
    old = find_seal(pdf).facts_json
    new = json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return pdf.replace(b"<" + old.hex().encode() + b">", b"<" + new.hex().encode() + b">")


def richer(facts: dict[str, object]) -> dict[str, object]:
    edited = json.loads(json.dumps(facts))
    edited["facts"][2]["value"] = {"en": "₹12,000", "te": "₹12,000"}
    return edited


def test_edited_facts_with_the_old_signature_are_tampering(
    certificate: bytes, signer: Signer
) -> None:
    genuine = verify_pdf(certificate, signer.public_keys())
    assert genuine.facts is not None
    edited = edit_embedded_facts(certificate, richer(genuine.facts))
    assert edited != certificate

    result = verify_pdf(edited, signer.public_keys())

    assert (result.ok, result.reason) == (False, "tampered")


def test_edited_facts_with_a_recomputed_digest_have_a_bad_signature(
    certificate: bytes, signer: Signer
) -> None:
    genuine = verify_pdf(certificate, signer.public_keys())
    assert genuine.facts is not None
    edited = edit_embedded_facts(certificate, richer(genuine.facts))
    seal = find_seal(edited)
    edited = with_seal_values(edited, seal, digest_of(edited, seal), seal.signature)

    result = verify_pdf(edited, signer.public_keys())

    assert (result.ok, result.reason) == (False, "bad_signature")


def test_a_pdf_without_a_mitra_seal_is_not_a_mitra_document(signer: Signer) -> None:
    plain = FPDF()
    plain.add_page()
    plain.set_font("helvetica", size=12)
    plain.cell(text="Income Certificate")

    for data in (bytes(plain.output()), b"", b"not a pdf at all"):
        result = verify_pdf(data, signer.public_keys())
        assert (result.ok, result.reason) == (False, "not_a_mitra_document")


def test_a_second_seal_appended_to_a_genuine_pdf_is_tampering(
    certificate: bytes, signer: Signer
) -> None:
    seal_text = b"/MitraSignature (" + find_seal(certificate).signature.encode() + b")"
    result = verify_pdf(certificate + b"\n%" + seal_text + b"\n", signer.public_keys())
    assert (result.ok, result.reason) == (False, "tampered")


def test_documents_signed_with_a_retired_key_verify_while_it_is_published(
    certificate: bytes, signer: Signer, other_signer: Signer
) -> None:
    new_document = render_signed(income_certificate(other_signer.key_id), other_signer)
    during_rotation = PublicKeys.from_json(
        other_signer.public_keys().with_key(signer.public_key).to_json()
    )
    after_rotation = other_signer.public_keys()

    assert verify_pdf(certificate, during_rotation).ok
    assert verify_pdf(new_document, during_rotation).ok
    assert verify_pdf(certificate, after_rotation).reason == "unknown_key"


def test_the_published_signature_record_verifies_without_the_pdf(
    certificate: bytes, signer: Signer
) -> None:
    record = json.loads(json.dumps(signature_of_facts(certificate).to_dict()))

    result = verify_facts(
        record["facts"], record["signature"], record["pdf_sha256"], signer.public_keys()
    )

    assert (result.ok, result.reason) == (True, "genuine")
    assert record["kid"] == signer.key_id
    assert record["pdf_sha256"] == verify_pdf(certificate, signer.public_keys()).pdf_sha256


def test_the_record_names_the_digest_of_the_pdf_with_its_seal_values_zeroed(
    certificate: bytes,
) -> None:
    record = signature_of_facts(certificate)
    zeroed = certificate.replace(record.pdf_sha256.encode(), b"0" * 64).replace(
        record.signature.encode(), b"0" * 128
    )
    assert hashlib.sha256(zeroed).hexdigest() == record.pdf_sha256


def test_a_published_record_with_edited_facts_or_another_key_fails(
    certificate: bytes, signer: Signer, other_signer: Signer
) -> None:
    record = signature_of_facts(certificate)
    keys = signer.public_keys()

    edited = verify_facts(richer(record.facts), record.signature, record.pdf_sha256, keys)
    other_pdf = verify_facts(record.facts, record.signature, "0" * 64, keys)
    unknown = verify_facts(
        record.facts, record.signature, record.pdf_sha256, other_signer.public_keys()
    )
    garbage = verify_facts({"no": "key id"}, record.signature, record.pdf_sha256, keys)

    assert (edited.ok, edited.reason) == (False, "bad_signature")
    assert (other_pdf.ok, other_pdf.reason) == (False, "bad_signature")
    assert (unknown.ok, unknown.reason) == (False, "unknown_key")
    assert (garbage.ok, garbage.reason) == (False, "not_a_mitra_document")


@pytest.mark.parametrize(
    "value",
    [
        "Lakshmi శ్రీనివాస్ (mixed scripts)",
        Bilingual(en="Valid for the whole of Andhra Pradesh", te="ఆంధ్రప్రదేశ్ అంతటా"),
    ],
)
def test_any_printed_value_round_trips_through_the_signed_pdf(
    signer: Signer, value: Bilingual | str
) -> None:
    facts = income_certificate(
        signer.key_id, facts=(Fact(label=Bilingual(en="Note", te="గమనిక"), value=value),)
    )
    result = verify_pdf(render_signed(facts, signer), signer.public_keys())
    assert result.ok
    assert result.facts == facts.to_dict()
