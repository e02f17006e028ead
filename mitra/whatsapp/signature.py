"""X-Hub-Signature-256: HMAC-SHA256 of the raw request bytes, keyed with the app secret."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"


def sign(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header_value: str, app_secret: str) -> bool:
    """Constant-time check of a header value against the bytes as received."""
    return hmac.compare_digest(sign(body, app_secret).encode(), header_value.strip().encode())
