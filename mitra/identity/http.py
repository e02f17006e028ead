"""`EkycProvider` over the e-KYC service's JSON HTTP API.

    POST {base}/v1/otp     {"aadhaar": "…"}            → {"txn_id", "masked_mobile", "expires_in"}
    POST {base}/v1/verify  {"txn_id": "…", "otp": "…"} → {"token", "last4", "name",
                                                          "year_of_birth", "gender"}

Errors are 400/404/409/410/429 with `{"error": kind, "attempts_left"?: n}`; anything else
(5xx, a timeout, an answer we cannot read) is `unavailable`. Calls are synchronous with a short
timeout and never retried here: the caller is a worker inside a database transaction, and a
second `start` would send the citizen a second OTP.

Request bodies are never logged, and errors carry only the kind, the HTTP status and the
exception's class: an Aadhaar number or an OTP cannot end up in a log, a repr or a traceback
message.
"""

from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import Any, cast

import httpx

from mitra.identity.port import (
    ERROR_KINDS,
    EkycError,
    ErrorKind,
    OtpSent,
    Verified,
    checked_aadhaar,
)

log = logging.getLogger(__name__)

_KIND = re.compile(r"[a-z_]{1,40}")


class HttpEkycProvider:
    """The e-KYC service at `base_url`, authenticated with the bearer `token` it issued.

    Pass `client` to share a connection pool (or, in tests, a mock transport); otherwise the
    provider makes its own and `close()` closes it.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        client: httpx.Client | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"HttpEkycProvider({self._base_url!r})"

    def start(self, aadhaar: str) -> OtpSent:
        number = checked_aadhaar(aadhaar)
        answer = self._post("/v1/otp", {"aadhaar": number})
        try:
            return OtpSent(
                txn_id=_string(answer, "txn_id"),
                masked_mobile=_string(answer, "masked_mobile"),
                expires_in=_integer(answer, "expires_in"),
            )
        except (KeyError, TypeError):
            raise EkycError("unavailable", detail="malformed OTP answer") from None

    def verify(self, txn_id: str, otp: str) -> Verified:
        answer = self._post("/v1/verify", {"txn_id": txn_id, "otp": otp})
        try:
            year = answer.get("year_of_birth")
            gender = answer.get("gender")
            return Verified(
                token=_string(answer, "token"),
                last4=_string(answer, "last4"),
                name=_string(answer, "name"),
                year_of_birth=None if year is None else _integer(answer, "year_of_birth"),
                gender=None if gender is None else _string(answer, "gender"),
            )
        except (KeyError, TypeError):
            raise EkycError("unavailable", detail="malformed verification answer") from None

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpEkycProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _post(self, path: str, payload: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._client.post(
                self._base_url + path,
                json=payload,
                headers={"Authorization": f"Bearer {self._token}"} if self._token else {},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            # `from None`: the httpx exception holds the request, and with it the body.
            raise EkycError("unavailable", detail=type(exc).__name__) from None
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if status == 200:
            if not isinstance(answer, dict):
                raise EkycError("unavailable", detail="HTTP 200 without a JSON object")
            return answer
        if status in (401, 403):
            log.warning("the e-KYC service refused our token (HTTP %s)", status)
            raise EkycError("unavailable", detail=f"HTTP {status}: token refused")
        kind = answer.get("error") if isinstance(answer, dict) else None
        if status < 500 and isinstance(kind, str) and kind in ERROR_KINDS:
            left = answer.get("attempts_left") if isinstance(answer, dict) else None
            attempts_left = left if isinstance(left, int) and not isinstance(left, bool) else None
            raise EkycError(cast(ErrorKind, kind), attempts_left=attempts_left)
        shown = f" {kind}" if isinstance(kind, str) and _KIND.fullmatch(kind) else ""
        raise EkycError("unavailable", detail=f"HTTP {status}{shown}")


def _string(answer: dict[str, Any], key: str) -> str:
    value = answer[key]
    if not isinstance(value, str) or not value:
        raise TypeError(key)
    return value


def _integer(answer: dict[str, Any], key: str) -> int:
    value = answer[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(key)
    return value
