"""Personal data at rest: field-wise AES-GCM with rotatable keys, and keyed look-up hashes.

A ciphertext is `version (1) | key id (4) | nonce (12) | AES-GCM(ciphertext + tag)`. The key
id is the first four bytes of SHA-256 of the key, so keys need no names: the first key in
`MITRA_ENCRYPTION_KEYS` encrypts, every listed key decrypts, and rotation is "put the new key
first, re-encrypt at leisure, drop the old one".

Look-ups (find the citizen with this phone number) use HMAC-SHA256 under `MITRA_LOOKUP_KEY`,
which is never rotated without re-hashing: see docs/decisions/0003-personal-data-at-rest.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class DecryptionError(Exception):
    """The ciphertext was made with a key we no longer have, or was tampered with."""


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:4]


class FieldCipher:
    def __init__(self, keys: list[bytes], lookup_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._encrypting_id = _key_id(keys[0])
        self._ciphers = {_key_id(k): AESGCM(k) for k in keys}
        self._lookup_key = lookup_key

    def encrypt(self, plaintext: str | bytes, *, context: bytes = b"") -> bytes:
        """Encrypt a field; `context` (e.g. the column name) is bound as associated data, so a
        value copied into another column does not decrypt there."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(12)
        sealed = self._ciphers[self._encrypting_id].encrypt(nonce, data, context)
        return _VERSION + self._encrypting_id + nonce + sealed

    def decrypt(self, blob: bytes, *, context: bytes = b"") -> str:
        return self.decrypt_bytes(blob, context=context).decode()

    def decrypt_bytes(self, blob: bytes, *, context: bytes = b"") -> bytes:
        if len(blob) < 1 + 4 + 12 + 16 or blob[:1] != _VERSION:
            raise DecryptionError("not a Mitra ciphertext")
        cipher = self._ciphers.get(bytes(blob[1:5]))
        if cipher is None:
            raise DecryptionError("encrypted with a key that is not configured")
        try:
            return cipher.decrypt(bytes(blob[5:17]), bytes(blob[17:]), context)
        except Exception as exc:  # InvalidTag: wrong key or tampered data
            raise DecryptionError("ciphertext does not verify") from exc

    def lookup_hash(self, value: str, *, kind: str) -> bytes:
        """A keyed hash to find a record by an encrypted value; `kind` separates domains."""
        return hmac.new(self._lookup_key, f"{kind}:{value}".encode(), hashlib.sha256).digest()


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
