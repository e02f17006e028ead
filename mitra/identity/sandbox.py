"""A stand-in e-KYC service: the HTTP API of `HttpEkycProvider`, in memory, for the demo and
the tests.

Any Verhoeff-valid 12-digit number not starting with 0 or 1 is "enrolled". Its linked mobile,
name, year of birth and gender are derived from a hash of the number, so the same number
always gives the same person. No SMS is sent: like the sandboxes of real e-KYC providers, the
OTP is always the same (`SANDBOX_OTP`, "123456") unless the desk is built with another.

Rules (those of a real service, scaled to a sandbox): an OTP transaction lives
`TXN_TTL` seconds; `MAX_WRONG_OTPS` wrong OTPs lock it; a number may ask for
`MAX_OTP_REQUESTS` OTPs per `OTP_WINDOW` seconds.

What it keeps: while a transaction is pending, a keyed hash of the number (the key is random
per desk) and its last four digits, never the number; once verified, only token → last four
digits. The rate limit keeps the keyed hash and request times for an hour.

    app = create_ekyc_sandbox_app()          # the lead mounts it at /sandbox/ekyc
    provider = DeskEkycProvider(EkycDesk())  # the same rules in-process, for tests and examples
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mitra.identity.port import EkycError, OtpSent, Verified, checked_aadhaar

SANDBOX_OTP: Final = "123456"
TXN_TTL: Final = 600  # seconds an OTP transaction lives
MAX_WRONG_OTPS: Final = 3  # wrong OTPs before a transaction locks
MAX_OTP_REQUESTS: Final = 5  # OTPs one number may ask for per window
OTP_WINDOW: Final = 3600.0  # seconds

# Made-up people: common Andhra Pradesh given names and family names, spelt as on Aadhaar.
_FEMALE_GIVEN: Final = (
    "Lakshmi Devi",
    "Venkata Lakshmi",
    "Padmavathi",
    "Naga Jyothi",
    "Sujatha",
    "Durga Bhavani",
    "Aruna Kumari",
    "Vijaya Lakshmi",
    "Sarada",
    "Swarna Latha",
    "Anitha",
    "Kavitha",
)
_MALE_GIVEN: Final = (
    "Venkata Ramana",
    "Srinivasa Rao",
    "Koteswara Rao",
    "Nageswara Rao",
    "Satyanarayana",
    "Venkateswarlu",
    "Subba Rao",
    "Mallikarjuna",
    "Siva Prasad",
    "Rama Krishna",
    "Narasimha Murthy",
    "Ravi Kumar",
)
_FAMILY: Final = (
    "Kondapalli",
    "Reddy",
    "Yarlagadda",
    "Gollapudi",
    "Chinta",
    "Pothula",
    "Bandaru",
    "Kotha",
    "Nallamothu",
    "Tummala",
    "Vemuri",
    "Peddireddy",
    "Alluri",
    "Kancharla",
)


@dataclass(frozen=True)
class _Person:
    name: str
    year_of_birth: int
    gender: str
    mobile_last4: str


def _person_for(number: str) -> _Person:
    """The enrolled person for `number`: the same every time, in every sandbox."""
    seed = hashlib.sha256(b"mitra-ekyc-sandbox:" + number.encode()).digest()
    female = seed[0] % 2 == 0
    given_names = _FEMALE_GIVEN if female else _MALE_GIVEN
    given = given_names[seed[1] % len(given_names)]
    family = _FAMILY[seed[2] % len(_FAMILY)]
    return _Person(
        name=f"{given} {family}",
        year_of_birth=1950 + seed[3] % 56,  # 1950–2005: adults
        gender="F" if female else "M",
        mobile_last4=f"{int.from_bytes(seed[4:6], 'big') % 10000:04d}",
    )


@dataclass
class _Transaction:
    number_key: str  # keyed hash of the number, never the number
    last4: str
    person: _Person
    expires_at: float
    wrong_otps: int = 0


@dataclass
class EkycDesk:
    """The sandbox's rules and state, shared by its web app and `DeskEkycProvider`.

    Thread-safe: the web app and tests may call it from different threads.
    """

    otp: str = field(default=SANDBOX_OTP, repr=False)
    clock: Callable[[], float] = time.monotonic
    max_otp_requests: int = MAX_OTP_REQUESTS  # per number per hour
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _pending: dict[str, _Transaction] = field(default_factory=dict, repr=False)
    _requests: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)  # token -> last4
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, aadhaar: str) -> OtpSent:
        number = checked_aadhaar(aadhaar)
        number_key = hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()
        person = _person_for(number)
        with self._lock:
            now = self.clock()
            recent = [t for t in self._requests.get(number_key, []) if now - t < OTP_WINDOW]
            if len(recent) >= self.max_otp_requests:
                self._requests[number_key] = recent
                raise EkycError("too_many_attempts", detail="too many OTP requests this hour")
            self._requests[number_key] = [*recent, now]
            self._forget_expired(now)
            txn_id = secrets.token_urlsafe(16)
            self._pending[txn_id] = _Transaction(number_key, number[-4:], person, now + TXN_TTL)
        return OtpSent(txn_id, "XXXXXX" + person.mobile_last4, TXN_TTL)

    def verify(self, txn_id: str, otp: str) -> Verified:
        with self._lock:
            txn = self._pending.get(txn_id)
            if txn is None:
                raise EkycError("not_found", detail="no such transaction")
            if self.clock() >= txn.expires_at:
                del self._pending[txn_id]
                raise EkycError("expired")
            if txn.wrong_otps >= MAX_WRONG_OTPS:
                raise EkycError("too_many_attempts", attempts_left=0)
            if not hmac.compare_digest(otp.encode(), self.otp.encode()):
                txn.wrong_otps += 1
                left = MAX_WRONG_OTPS - txn.wrong_otps
                if left == 0:
                    raise EkycError("too_many_attempts", attempts_left=0)
                raise EkycError("wrong_otp", attempts_left=left)
            del self._pending[txn_id]
            token = secrets.token_urlsafe(24)
            self._tokens[token] = txn.last4
        person = txn.person
        return Verified(token, txn.last4, person.name, person.year_of_birth, person.gender)

    def last4_for(self, token: str) -> str | None:
        """The last four digits a verification token stands for (all the desk keeps)."""
        with self._lock:
            return self._tokens.get(token)

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def _forget_expired(self, now: float) -> None:
        # Kept a while past expiry, so a late OTP is told "expired" rather than "not found".
        stale = [t for t, txn in self._pending.items() if now >= txn.expires_at + TXN_TTL]
        for txn_id in stale:
            del self._pending[txn_id]
        for key in [k for k, times in self._requests.items() if now - times[-1] >= OTP_WINDOW]:
            del self._requests[key]


class DeskEkycProvider:
    """`EkycProvider` over a desk in the same process: no HTTP, the same rules."""

    def __init__(self, desk: EkycDesk | None = None) -> None:
        self.desk = desk if desk is not None else EkycDesk()

    def start(self, aadhaar: str) -> OtpSent:
        return self.desk.start(checked_aadhaar(aadhaar))

    def verify(self, txn_id: str, otp: str) -> Verified:
        return self.desk.verify(txn_id, otp)


# ---- the HTTP API ---------------------------------------------------------------------------

# HTTP status for each error kind; a locked transaction is 409, too many OTP requests 429.
_STATUS: Final[dict[str, int]] = {
    "invalid_aadhaar": 400,
    "wrong_otp": 400,
    "not_found": 404,
    "expired": 410,
    "too_many_attempts": 409,
    "unavailable": 503,
}


def create_ekyc_sandbox_app(
    *,
    otp: str = SANDBOX_OTP,
    clock: Callable[[], float] = time.monotonic,
    token: str | None = None,
    desk: EkycDesk | None = None,
) -> Starlette:
    """The sandbox e-KYC API (`POST /v1/otp`, `POST /v1/verify`); `token`, if given, is the
    bearer token callers must present. `app.state.desk` is its `EkycDesk`."""
    desk = desk if desk is not None else EkycDesk(otp=otp, clock=clock)

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode()
        )

    async def body(request: Request, *keys: str) -> dict[str, str] | JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            payload: Any = json.loads(await request.body())
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in keys):
            return JSONResponse(
                {"error": "bad_request", "expected": {k: "string" for k in keys}}, status_code=400
            )
        return {k: payload[k] for k in keys}

    def refused(error: EkycError, status: int | None = None) -> JSONResponse:
        content: dict[str, Any] = {"error": error.kind}
        if error.attempts_left is not None:
            content["attempts_left"] = error.attempts_left
        return JSONResponse(content, status_code=status or _STATUS[error.kind])

    async def otp_route(request: Request) -> JSONResponse:
        fields = await body(request, "aadhaar")
        if isinstance(fields, JSONResponse):
            return fields
        try:
            sent = desk.start(fields["aadhaar"])
        except EkycError as error:
            return refused(error, 429 if error.kind == "too_many_attempts" else None)
        return JSONResponse(
            {
                "txn_id": sent.txn_id,
                "masked_mobile": sent.masked_mobile,
                "expires_in": sent.expires_in,
            }
        )

    async def verify_route(request: Request) -> JSONResponse:
        fields = await body(request, "txn_id", "otp")
        if isinstance(fields, JSONResponse):
            return fields
        try:
            verified = desk.verify(fields["txn_id"], fields["otp"])
        except EkycError as error:
            return refused(error)
        return JSONResponse(
            {
                "token": verified.token,
                "last4": verified.last4,
                "name": verified.name,
                "year_of_birth": verified.year_of_birth,
                "gender": verified.gender,
            }
        )

    app = Starlette(
        routes=[
            Route("/v1/otp", otp_route, methods=["POST"]),
            Route("/v1/verify", verify_route, methods=["POST"]),
        ]
    )
    app.state.desk = desk
    return app
