"""Identity step-up: a citizen proves an Aadhaar number by an OTP (e-KYC), and Mitra keeps
only an opaque token and the last four digits.

    provider = HttpEkycProvider(url, token)      # a real e-KYC service
    provider = DeskEkycProvider()                 # the sandbox rules in-process
    sent = provider.start("2345 6789 0124")       # EkycError("invalid_aadhaar") before any call
    verified = provider.verify(sent.txn_id, "123456")

The sandbox web app (`create_ekyc_sandbox_app`) serves the same HTTP API in memory.
"""

from __future__ import annotations

from mitra.identity.http import HttpEkycProvider
from mitra.identity.port import (
    ERROR_KINDS,
    EkycError,
    EkycProvider,
    ErrorKind,
    OtpSent,
    Verified,
    checked_aadhaar,
)
from mitra.identity.sandbox import (
    SANDBOX_OTP,
    DeskEkycProvider,
    EkycDesk,
    create_ekyc_sandbox_app,
)

__all__ = [
    "ERROR_KINDS",
    "SANDBOX_OTP",
    "DeskEkycProvider",
    "EkycDesk",
    "EkycError",
    "EkycProvider",
    "ErrorKind",
    "HttpEkycProvider",
    "OtpSent",
    "Verified",
    "checked_aadhaar",
    "create_ekyc_sandbox_app",
]
