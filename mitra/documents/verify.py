"""Is this PDF a genuine Mitra document? Checked offline, with the published keys only.

`verify_pdf` reads the seal (`container`), recomputes the file's digest and checks the
Ed25519 signature over the facts and that digest (`signing.signed_message`). Its reasons:

- `genuine`: signed by a published key, and not a byte changed since.
- `tampered`: the file changed after signing (its digest no longer matches), or its seal is
  damaged.
- `unknown_key`: the facts name a key that is not in the published set.
- `bad_signature`: the file is consistent with its digest but the signature does not verify
  (the signature was changed, or someone re-computed the digest after editing), or the file
  was never signed.
- `not_a_mitra_document`: no Mitra seal at all.

`verify_facts` checks the same signature without the PDF, from the published
`{facts, pdf_sha256, signature, kid}` (`signature_of_facts` of a signed PDF).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mitra.documents.container import EMPTY_SIGNATURE, SealError, digest_of, find_seal, has_seal
from mitra.documents.model import canonical_json, facts_from_dict
from mitra.documents.signing import PublicKeys, signed_message, verify_signature

Reason = Literal["genuine", "tampered", "unknown_key", "bad_signature", "not_a_mitra_document"]


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict on one document.

    `facts` are what the document claims, when readable: trust them only if `ok`.
    `pdf_sha256` is the digest recomputed from the file (PDF checks only).
    """

    ok: bool
    reason: Reason
    document_id: str | None = None
    facts: dict[str, Any] | None = None
    key_id: str | None = None
    pdf_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class SignedFacts:
    """What can be published so anyone can check a document's signature without its PDF."""

    facts: dict[str, Any]
    pdf_sha256: str
    signature: str
    kid: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "facts": self.facts,
            "pdf_sha256": self.pdf_sha256,
            "signature": self.signature,
            "kid": self.kid,
        }


def verify_pdf(data: bytes, keys: PublicKeys) -> Verification:
    """Check a PDF file's bytes against the published keys."""
    if not has_seal(data):
        return Verification(ok=False, reason="not_a_mitra_document")
    try:
        seal = find_seal(data)
    except SealError:
        return Verification(ok=False, reason="tampered")
    facts = _read_facts(seal.facts_json)
    if facts is None:
        return Verification(ok=False, reason="tampered")
    document_id, kid = facts["document_id"], facts["key_id"]
    digest = digest_of(data, seal)

    def verdict(reason: Reason) -> Verification:
        return Verification(
            ok=reason == "genuine",
            reason=reason,
            document_id=document_id,
            facts=facts,
            key_id=kid,
            pdf_sha256=digest,
        )

    if seal.signature == EMPTY_SIGNATURE:
        return verdict("bad_signature")  # rendered but never signed
    if digest != seal.digest:
        return verdict("tampered")
    if kid not in keys:
        return verdict("unknown_key")
    message = signed_message(seal.facts_json, digest)
    if not verify_signature(keys, kid, message, bytes.fromhex(seal.signature)):
        return verdict("bad_signature")
    return verdict("genuine")


def signature_of_facts(data: bytes) -> SignedFacts:
    """The publishable signature record of a signed Mitra PDF; ValueError if it has none."""
    seal = find_seal(data)
    facts = _read_facts(seal.facts_json)
    if facts is None:
        raise ValueError("the PDF's facts are unreadable")
    if seal.signature == EMPTY_SIGNATURE:
        raise ValueError("the PDF is not signed yet")
    return SignedFacts(
        facts=facts, pdf_sha256=seal.digest, signature=seal.signature, kid=facts["key_id"]
    )


def verify_facts(
    facts: Mapping[str, Any], signature_hex: str, pdf_sha256: str, keys: PublicKeys
) -> Verification:
    """Check a published `{facts, pdf_sha256, signature}` record against the keys.

    `genuine` means the keys' owner signed these facts for the PDF whose digest is
    `pdf_sha256`; anyone holding that PDF can compare its digest.
    """
    if not isinstance(facts, Mapping) or not isinstance(facts.get("key_id"), str):
        return Verification(ok=False, reason="not_a_mitra_document")
    kid = facts["key_id"]
    document_id = facts.get("document_id") if isinstance(facts.get("document_id"), str) else None

    def verdict(reason: Reason) -> Verification:
        return Verification(
            ok=reason == "genuine",
            reason=reason,
            document_id=document_id,
            facts=dict(facts),
            key_id=kid,
        )

    if kid not in keys:
        return verdict("unknown_key")
    if not (_is_lower_hex(signature_hex, 128) and _is_lower_hex(pdf_sha256, 64)):
        return verdict("bad_signature")
    try:
        canonical = canonical_json(facts)
    except (TypeError, ValueError):
        return verdict("bad_signature")
    message = signed_message(canonical, pdf_sha256)
    if not verify_signature(keys, kid, message, bytes.fromhex(signature_hex)):
        return verdict("bad_signature")
    return verdict("genuine")


def _read_facts(facts_json: bytes) -> dict[str, Any] | None:
    """The embedded facts as a dict, if they are a document's facts at all."""
    try:
        data = json.loads(facts_json.decode("utf-8"))
        facts_from_dict(data)
    except (UnicodeDecodeError, ValueError):
        return None
    return data


def _is_lower_hex(value: object, length: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) == length
        and all(char in "0123456789abcdef" for char in value)
    )
