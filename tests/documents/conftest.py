"""Keys and one genuine income certificate, shared by the document tests (no database)."""

from __future__ import annotations

import pytest

from mitra.documents import (
    DocumentFacts,
    Signer,
    generate_private_key_b64,
    load_signer,
    render_signed,
)
from tests.documents.samples import income_certificate


@pytest.fixture(scope="session")
def signer() -> Signer:
    return load_signer(generate_private_key_b64())


@pytest.fixture(scope="session")
def other_signer() -> Signer:
    return load_signer(generate_private_key_b64())


@pytest.fixture(scope="session")
def certificate_facts(signer: Signer) -> DocumentFacts:
    return income_certificate(signer.key_id)


@pytest.fixture(scope="session")
def certificate(certificate_facts: DocumentFacts, signer: Signer) -> bytes:
    """A genuine signed income certificate, rendered once for the session."""
    return render_signed(certificate_facts, signer)
