"""Ed25519 keys and the signature that makes a Mitra PDF tamper-evident.

What is signed (`signed_message`):

    b"mitra-document-v1\\n" + canonical_bytes(facts) + b"\\n" + digest

where digest is the lowercase hex SHA-256 of the PDF with its digest and signature
placeholders zeroed (`container.digest_of`). The signature therefore covers the facts and
every byte of the file. A key's id is the first 16 hex characters of SHA-256 of its raw
32-byte public key; the facts name the key that signed them (`key_id`).

Keys are published as `{"keys": [{"kid": …, "alg": "Ed25519", "public_key": base64}, …]}`;
several can be listed at once, so a new key can sign while documents signed by the old one
still verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from mitra.documents.container import (
    EMPTY_DIGEST,
    EMPTY_SIGNATURE,
    digest_of,
    find_seal,
    with_seal_values,
)
from mitra.documents.model import DocumentFacts, canonical_bytes

SIGNATURE_CONTEXT = b"mitra-document-v1\n"
ALGORITHM = "Ed25519"


def signed_message(canonical_facts: bytes, pdf_sha256: str) -> bytes:
    """The exact bytes an Ed25519 document signature is made over."""
    return SIGNATURE_CONTEXT + canonical_facts + b"\n" + pdf_sha256.encode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex characters of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_private_key_b64() -> str:
    """A new Ed25519 private key: its raw 32 bytes in standard base64 (keep it secret)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Signer:
    """A private signing key and its key id."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def public_keys(self) -> PublicKeys:
        """The key set that verifies this signer's documents (to publish)."""
        return PublicKeys([self.public_key])

    def __repr__(self) -> str:  # never show the private key
        return f"Signer(key_id={self.key_id!r})"


def load_signer(b64_private_key: str) -> Signer:
    """A signer from `generate_private_key_b64()` output; ValueError if it is not one."""
    try:
        raw = base64.b64decode(b64_private_key.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("the document signing key is not valid base64") from error
    if len(raw) != 32:
        raise ValueError("the document signing key must be 32 bytes (an Ed25519 private key)")
    return Signer(Ed25519PrivateKey.from_private_bytes(raw))


class PublicKeys(Mapping[str, Ed25519PublicKey]):
    """The published verification keys, by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys = {key_id(key): key for key in keys}

    def __getitem__(self, kid: str) -> Ed25519PublicKey:
        return self._keys[kid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"PublicKeys({sorted(self._keys)})"

    def with_key(self, key: Ed25519PublicKey) -> PublicKeys:
        """This set and one more key (e.g. while rotating)."""
        return PublicKeys([*self._keys.values(), key])

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kid": kid,
                    "alg": ALGORITHM,
                    "public_key": base64.b64encode(
                        key.public_bytes(Encoding.Raw, PublicFormat.Raw)
                    ).decode("ascii"),
                }
                for kid, key in self._keys.items()
            ]
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> PublicKeys:
        """Parse a published key set; ValueError if it is malformed or a kid does not match."""
        if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
            raise ValueError('a key set is {"keys": [...]}')
        keys = []
        for entry in data["keys"]:
            if not isinstance(entry, Mapping) or entry.get("alg") != ALGORITHM:
                raise ValueError(f"not an {ALGORITHM} key: {entry!r}")
            try:
                raw = base64.b64decode(str(entry["public_key"]), validate=True)
                key = Ed25519PublicKey.from_public_bytes(raw)
            except (KeyError, binascii.Error, ValueError) as error:
                raise ValueError(f"unreadable public key: {entry!r}") from error
            if entry.get("kid") != key_id(key):
                raise ValueError(f"kid {entry.get('kid')!r} does not match its public key")
            keys.append(key)
        return cls(keys)

    @classmethod
    def from_json(cls, text: str | bytes) -> PublicKeys:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"a key set must be JSON: {error}") from error
        return cls.from_dict(data)


def verify_signature(keys: PublicKeys, kid: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` over `message` is valid for the published key `kid`."""
    key = keys.get(kid)
    if key is None:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def sign_pdf(pdf: bytes, facts: DocumentFacts, signer: Signer) -> bytes:
    """Sign a PDF from `pdf.render_pdf(facts)`: writes its digest and signature in place."""
    if facts.key_id != signer.key_id:
        raise ValueError(f"the facts name key {facts.key_id!r} but the signer is {signer.key_id!r}")
    seal = find_seal(pdf)
    canonical = canonical_bytes(facts)
    if seal.facts_json != canonical:
        raise ValueError("the PDF does not carry these facts")
    if (seal.digest, seal.signature) != (EMPTY_DIGEST, EMPTY_SIGNATURE):
        raise ValueError("the PDF is already signed")
    digest = digest_of(pdf, seal)
    signature = signer.sign(signed_message(canonical, digest))
    return with_seal_values(pdf, seal, digest, signature.hex())


def render_signed(facts: DocumentFacts, signer: Signer) -> bytes:
    """The finished document: rendered, then signed."""
    # Imported here: fpdf2 takes ~0.4 s to import, and verifying never needs it.
    from mitra.documents.pdf import render_pdf

    return sign_pdf(render_pdf(facts), facts, signer)
