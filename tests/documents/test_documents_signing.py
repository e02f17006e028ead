"""Signing keys, their ids, the published key set, and what sign_pdf refuses."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mitra.documents import (
    DocumentFacts,
    PublicKeys,
    Signer,
    generate_private_key_b64,
    load_signer,
    sign_pdf,
)
from mitra.documents.pdf import render_pdf


def test_a_key_id_is_the_start_of_the_sha256_of_the_raw_public_key(signer: Signer) -> None:
    raw = signer.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert signer.key_id == hashlib.sha256(raw).hexdigest()[:16]


def test_a_generated_key_loads_back_as_the_same_signer() -> None:
    private = generate_private_key_b64()
    assert len(base64.b64decode(private)) == 32
    assert load_signer(private).key_id == load_signer(private).key_id
    assert private not in repr(load_signer(private))


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_private_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        load_signer(bad)


def test_the_published_key_set_lists_every_key_and_parses_back(
    signer: Signer, other_signer: Signer
) -> None:
    keys = signer.public_keys().with_key(other_signer.public_key)
    published = json.loads(keys.to_json())

    assert published == {
        "keys": [
            {
                "kid": s.key_id,
                "alg": "Ed25519",
                "public_key": base64.b64encode(
                    s.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
                ).decode(),
            }
            for s in (signer, other_signer)
        ]
    }
    assert set(PublicKeys.from_json(keys.to_json())) == {signer.key_id, other_signer.key_id}


@pytest.mark.parametrize(
    "change",
    [
        {"kid": "0000000000000000"},
        {"alg": "RS256"},
        {"public_key": "AAAA"},
    ],
)
def test_a_key_set_with_a_wrong_entry_is_refused(signer: Signer, change: dict[str, str]) -> None:
    entry = {**signer.public_keys().to_dict()["keys"][0], **change}
    with pytest.raises(ValueError):
        PublicKeys.from_dict({"keys": [entry]})


@pytest.mark.parametrize("text", ["", "[]", '{"keys": {}}'])
def test_what_is_not_a_key_set_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        PublicKeys.from_json(text)


def test_sign_pdf_refuses_facts_naming_another_key(
    certificate_facts: DocumentFacts, other_signer: Signer
) -> None:
    with pytest.raises(ValueError, match="key"):
        sign_pdf(render_pdf(certificate_facts), certificate_facts, other_signer)


def test_sign_pdf_refuses_a_signed_pdf(
    certificate: bytes, certificate_facts: DocumentFacts, signer: Signer
) -> None:
    with pytest.raises(ValueError, match="already signed"):
        sign_pdf(certificate, certificate_facts, signer)


def test_signing_keeps_the_file_length_and_changes_only_the_seal_values(
    certificate: bytes, certificate_facts: DocumentFacts
) -> None:
    unsigned = render_pdf(certificate_facts)
    assert len(unsigned) == len(certificate)
    differing = [i for i, (a, b) in enumerate(zip(unsigned, certificate, strict=True)) if a != b]
    assert len(differing) <= 64 + 128
    assert certificate.count(b"/MitraSignature (") == 1
