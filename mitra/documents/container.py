"""Where a Mitra PDF carries its facts, digest and signature, and how the digest is taken.

The PDF's document information dictionary (the trailer's /Info) holds three entries:

    /MitraFacts <…>           the canonical facts JSON (model.canonical_bytes), as a PDF hex
                              string of its UTF-8 bytes, lowercase
    /MitraDigest (…)          64 lowercase hex characters: the file's SHA-256, see below
    /MitraSignature (…)       128 lowercase hex characters: the Ed25519 signature

Each name occurs exactly once in the file. The renderer writes the digest and the signature
as ASCII zeros; signing overwrites those characters in place, so the file's length and its
cross-reference offsets do not change (the idea of a PDF signature's byte range).

The digest is SHA-256 over the whole file with the 64 digest characters and the 128
signature characters set back to ASCII "0". Any other byte changed after signing changes it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FACTS_NAME = b"/MitraFacts"
DIGEST_NAME = b"/MitraDigest"
SIGNATURE_NAME = b"/MitraSignature"

DIGEST_LENGTH = 64
SIGNATURE_LENGTH = 128
EMPTY_DIGEST = "0" * DIGEST_LENGTH
EMPTY_SIGNATURE = "0" * SIGNATURE_LENGTH

_FACTS = re.compile(rb"/MitraFacts <([0-9a-f]*)>")
_DIGEST = re.compile(rb"/MitraDigest \(([0-9a-f]{64})\)")
_SIGNATURE = re.compile(rb"/MitraSignature \(([0-9a-f]{128})\)")


class SealError(ValueError):
    """The file names a Mitra seal but it is missing a part, repeated or malformed."""


@dataclass(frozen=True, slots=True)
class Seal:
    """The three entries as found in one file, with where the two hex values sit."""

    facts_json: bytes
    digest: str
    signature: str
    digest_span: tuple[int, int]
    signature_span: tuple[int, int]


def has_seal(data: bytes) -> bool:
    """Whether the file claims to be a Mitra document at all."""
    return SIGNATURE_NAME in data


def find_seal(data: bytes) -> Seal:
    """The seal of a Mitra PDF; SealError if any part is missing, repeated or malformed."""
    facts = _only_match(data, FACTS_NAME, _FACTS)
    digest = _only_match(data, DIGEST_NAME, _DIGEST)
    signature = _only_match(data, SIGNATURE_NAME, _SIGNATURE)
    if len(facts.group(1)) % 2:
        raise SealError("/MitraFacts has an odd number of hex digits")
    return Seal(
        facts_json=bytes.fromhex(facts.group(1).decode("ascii")),
        digest=digest.group(1).decode("ascii"),
        signature=signature.group(1).decode("ascii"),
        digest_span=digest.span(1),
        signature_span=signature.span(1),
    )


def digest_of(data: bytes, seal: Seal) -> str:
    """SHA-256 (hex) of the file with the digest and signature characters zeroed."""
    return hashlib.sha256(with_seal_values(data, seal, EMPTY_DIGEST, EMPTY_SIGNATURE)).hexdigest()


def with_seal_values(data: bytes, seal: Seal, digest: str, signature: str) -> bytes:
    """The file with these digest and signature hex strings written in place."""
    if not (_is_hex(digest, DIGEST_LENGTH) and _is_hex(signature, SIGNATURE_LENGTH)):
        raise ValueError("digest and signature must be lowercase hex of the fixed lengths")
    out = bytearray(data)
    start, end = seal.digest_span
    out[start:end] = digest.encode("ascii")
    start, end = seal.signature_span
    out[start:end] = signature.encode("ascii")
    return bytes(out)


def _only_match(data: bytes, name: bytes, pattern: re.Pattern[bytes]) -> re.Match[bytes]:
    count = data.count(name)
    if count != 1:
        raise SealError(f"{name.decode()} occurs {count} times, expected once")
    match = pattern.search(data)
    if match is None:
        raise SealError(f"{name.decode()} is malformed")
    return match


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in "0123456789abcdef" for c in value)
