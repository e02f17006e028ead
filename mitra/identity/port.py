"""The e-KYC port: prove a citizen holds an Aadhaar number by an OTP to its linked mobile.

Two calls, both synchronous (the caller is a worker inside a database transaction, so every
implementation must answer or fail within seconds): `start` asks the e-KYC service to send
an OTP and returns a transaction id; `verify` exchanges that id and the OTP the citizen typed
for a `Verified` identity. Every failure is one `EkycError` whose `kind` says what to tell
the citizen.

Neither an Aadhaar number nor an OTP ever appears in an `EkycError`, a repr or a log line:
they are personal data (an Aadhaar number must not be stored; invariant 7) and a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, get_args

from mitra.conversation.validators import verhoeff_valid

ErrorKind = Literal[
    "invalid_aadhaar",  # not 12 digits, starts with 0 or 1, or fails the Verhoeff check
    "wrong_otp",  # `attempts_left` says how many tries the transaction has left
    "expired",  # the transaction (and its OTP) timed out: start again
    "too_many_attempts",  # the transaction is locked, or too many OTPs were asked for
    "unavailable",  # timeout, connection error, 5xx, or an answer we do not understand
    "not_found",  # no such transaction, or the number is not enrolled
]
ERROR_KINDS: Final[frozenset[str]] = frozenset(get_args(ErrorKind))

_AADHAAR = re.compile(r"[2-9]\d{11}")
_SEPARATORS = re.compile(r"[\s\-]")

_DESCRIPTIONS: Final[dict[str, str]] = {
    "invalid_aadhaar": "not a valid Aadhaar number",
    "wrong_otp": "the OTP is wrong",
    "expired": "the OTP has expired",
    "too_many_attempts": "too many attempts",
    "unavailable": "the e-KYC service is unavailable",
    "not_found": "not found",
}


class EkycError(Exception):
    """An e-KYC call failed; branch on `kind`, never on the message.

    `detail` is for operators (e.g. "HTTP 503", "ReadTimeout"); it never holds an Aadhaar
    number or an OTP, and callers must not put one there.
    """

    def __init__(
        self, kind: ErrorKind, *, attempts_left: int | None = None, detail: str | None = None
    ) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown e-KYC error kind {kind!r}")
        self.kind: ErrorKind = kind
        self.attempts_left = attempts_left
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        message = _DESCRIPTIONS[self.kind]
        if self.attempts_left is not None:
            message += f" ({self.attempts_left} attempts left)"
        if self.detail:
            message += f": {self.detail}"
        return message

    def __repr__(self) -> str:
        extra = f", attempts_left={self.attempts_left}" if self.attempts_left is not None else ""
        extra += f", detail={self.detail!r}" if self.detail else ""
        return f"EkycError({self.kind!r}{extra})"


@dataclass(frozen=True)
class OtpSent:
    """The OTP is on its way to the Aadhaar-linked mobile, shown to the citizen masked."""

    txn_id: str
    masked_mobile: str  # "XXXXXX1234"
    expires_in: int  # seconds


@dataclass(frozen=True)
class Verified:
    """The citizen proved the number. `token` is an opaque reference to the verification,
    never the number itself; `last4` is all of the number Mitra may keep."""

    token: str = field(repr=False)
    last4: str
    name: str = field(repr=False)  # as on Aadhaar, for a certificate
    year_of_birth: int | None = field(default=None, repr=False)
    gender: str | None = field(default=None, repr=False)  # "F", "M" or "T", as UIDAI gives it


class EkycProvider(Protocol):
    """What Mitra needs from an e-KYC service (HTTP: `HttpEkycProvider`; in-process:
    `DeskEkycProvider`)."""

    def start(self, aadhaar: str) -> OtpSent:
        """Send an OTP to the mobile linked to `aadhaar`; raises `EkycError`."""
        ...

    def verify(self, txn_id: str, otp: str) -> Verified:
        """Check the OTP the citizen typed; raises `EkycError`."""
        ...


def checked_aadhaar(aadhaar: str) -> str:
    """The 12 digits of `aadhaar` (spaces and hyphens dropped), or `EkycError("invalid_aadhaar")`.

    Every provider calls this before any request: a typo costs the citizen no OTP and the
    service no call.
    """
    digits = _SEPARATORS.sub("", aadhaar) if isinstance(aadhaar, str) else ""
    if not _AADHAAR.fullmatch(digits) or not verhoeff_valid(digits):
        raise EkycError("invalid_aadhaar")
    return digits
