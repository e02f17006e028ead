"""The one client Mitra uses to call department systems (see `contract/openapi.yaml`).

    client = DepartmentClient([DepartmentEndpoint("ENG", "https://eng.example/api", token)])
    bill = await client.account("electricity", "2220112345678")

Every method routes by the contract's `x-mitra-routing` table (a mutation number goes to
Revenue, `GRV-ENG-…` to Energy), refuses malformed identifiers before any HTTP, and returns
the department's JSON as a plain dict. Failures surface as `DepartmentError` (see
`errors.py`). GETs that time out or get a 5xx are retried (at most `max_retries` times, full
jitter backoff); each department has its own circuit breaker.

Writes (`submit_application`, `submit_grievance`, `hold`, `pay_account`) are POSTs, and a
POST is retried the same way **only because it carries an `Idempotency-Key`**: the
department answers a repeated key with the first answer, so a retry after a timeout cannot
file a second application, take a second hold or pay a bill twice. `confirm_hold`,
`release_hold` and `cancel_booking` are idempotent by the contract (confirming twice gives
the same booking; releasing or cancelling twice does it once), so they are retried too. A
4xx is never retried; `409 sold_out` (a hold asked for more than is left) surfaces as
`kind="sold_out"`, `410 expired` (a hold ran out) as `kind="expired"`, and every other 409
(a reused key, a hold in the wrong state, a booking whose date has passed, a payment
reference already credited) as `kind="conflict"`.

Inventory kinds, and hold and booking ids, route by the contract's
`x-mitra-routing.inventory`, `.holds` and `.bookings` (`HLD-END-…` and `BKG-MUN-…` name
their department).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import httpx

from mitra import retry
from mitra.departments.breaker import CircuitBreaker, CircuitState
from mitra.departments.contract import contract_view, load_contract
from mitra.departments.errors import DepartmentError, ErrorKind
from mitra.departments.references import check_letter_ok
from mitra.departments.routing import (
    Routing,
    compile_pattern,
    default_routing,
    normalise_identifier,
    normalise_reference,
)

__all__ = [
    "ClientPolicy",
    "DepartmentClient",
    "DepartmentEndpoint",
    "DepartmentError",
    "endpoints_from_environ",
    "load_contract",
]

log = logging.getLogger(__name__)

DEPARTMENTS = ("REV", "MUN", "ENG", "RTC", "END", "ANC", "CMR", "GEN")
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class DepartmentEndpoint:
    """Where one department's system lives and the token it issued to Mitra."""

    code: str
    base_url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Selling:
    """Who sells an inventory kind (or issues hold or booking ids), from `x-mitra-routing`:
    the pattern of its ids and the filters its listing takes."""

    name: str
    departments: tuple[str, ...]
    pattern: re.Pattern[str] | None
    list_params: tuple[str, ...] = ()

    def department_for(self, identifier: str | None) -> str:
        if identifier is not None and self.pattern is not None:
            match = self.pattern.fullmatch(identifier)
            if match is not None and "department" in match.groupdict():
                return match.group("department")
        return self.departments[0]

    def check(self, identifier: str, what: str) -> None:
        if self.pattern is not None and self.pattern.fullmatch(identifier) is None:
            raise DepartmentError(
                "invalid", f"not a well-formed {what}", code="malformed_identifier"
            )


def _selling(name: str, entry: Mapping[str, Any]) -> Selling:
    pattern = entry.get("pattern")
    return Selling(
        name,
        tuple(entry["departments"]),
        compile_pattern(pattern) if pattern else None,
        tuple(entry.get("list_params", ())),
    )


@functools.cache
def sellers() -> dict[str, Selling]:
    """The contract's inventory kinds, plus `holds` and `bookings`, as `Selling`s."""
    table = contract_view()["x-mitra-routing"]
    out = {name: _selling(name, entry) for name, entry in table.get("inventory", {}).items()}
    for name in ("holds", "bookings"):
        out[f"_{name}"] = _selling(name, table[name])
    return out


@dataclass(frozen=True)
class ClientPolicy:
    """Timeouts (seconds), retries and circuit breaking; the defaults suit production."""

    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_retries: int = 2
    backoff_base: float = 0.2
    backoff_cap: float = 2.0
    failure_threshold: int = 5
    reset_after: float = 30.0

    @property
    def attempt_deadline(self) -> float:
        """The most one attempt may take, however slowly the bytes trickle in."""
        return self.connect_timeout + self.read_timeout


class DepartmentClient:
    """Calls department systems over the adapter contract; one instance per process."""

    def __init__(
        self,
        endpoints: Iterable[DepartmentEndpoint],
        *,
        policy: ClientPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        routing: Routing | None = None,
    ) -> None:
        self.policy = policy or ClientPolicy()
        self._endpoints = {e.code: e for e in endpoints}
        self._routing = routing or default_routing()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._breakers = {
            code: CircuitBreaker(
                failure_threshold=self.policy.failure_threshold,
                reset_after=self.policy.reset_after,
                clock=clock,
            )
            for code in self._endpoints
        }
        timeout = httpx.Timeout(
            self.policy.read_timeout,
            connect=self.policy.connect_timeout,
            pool=self.policy.connect_timeout,
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": "mitra/department-client", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"DepartmentClient(departments={sorted(self._endpoints)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> DepartmentClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ----- operations (mirroring the contract) -----

    async def account(
        self, kind: str, number: str, *, department: str | None = None
    ) -> dict[str, Any]:
        """An account and its dues: `account("electricity", "2220112345678")`."""
        number = normalise_identifier(number)
        route = self._routing.checked("accounts", kind, number)
        return await self._get(
            department or route.department_for(number),
            f"/v1/accounts/{_segment(kind)}/{_segment(number)}",
            operation="account",
        )

    async def application(self, reference: str, *, department: str | None = None) -> dict[str, Any]:
        """Status and history of an application, by any department's reference."""
        reference = normalise_reference(reference)
        route = self._routing.reference_route("applications", reference)
        return await self._get(
            department or route.department_for(reference),
            f"/v1/applications/{_segment(reference)}",
            operation="application",
        )

    async def grievance(self, reference: str, *, department: str | None = None) -> dict[str, Any]:
        """Status and history of a grievance (`GRV-<DEPT>-YYYY-NNNNNN-C`)."""
        reference = normalise_reference(reference)
        route = self._routing.reference_route("grievances", reference)
        return await self._get(
            department or route.department_for(reference),
            f"/v1/grievances/{_segment(reference)}",
            operation="grievance",
        )

    async def document(
        self, kind: str, identifier: str, *, department: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """A document's data: `document("adangal", "123/2A", village="GNT0203")`."""
        identifier = normalise_identifier(identifier)
        route = self._routing.checked("documents", kind, identifier)
        query = _query(params)
        missing = [p for p in route.params if p not in query]
        if missing:
            raise DepartmentError(
                "invalid", f"{kind} needs {', '.join(missing)}", code="missing_parameter"
            )
        return await self._get(
            department or route.department_for(identifier),
            f"/v1/documents/{_segment(kind)}/{_segment(identifier)}",
            params=query,
            operation="document",
        )

    async def nearest(
        self,
        type: str,
        lat: float,
        lon: float,
        limit: int = 3,
        *,
        department: str | None = None,
    ) -> dict[str, Any]:
        """The `limit` places of `type` nearest to a point, nearest first."""
        route = self._routing.route("places", type)
        return await self._get(
            department or route.department_for(None),
            "/v1/places/nearest",
            params={"lat": lat, "lon": lon, "type": type, "limit": limit},
            operation="nearest",
        )

    async def place(
        self,
        type: str,
        id: str,
        *,
        department: str | None = None,
    ) -> dict[str, Any]:
        """One place with contacts and timings."""
        route = self._routing.route("places", type)
        return await self._get(
            department or route.department_for(None),
            f"/v1/places/{_segment(type)}/{_segment(id)}",
            operation="place",
        )

    async def info(
        self, topic: str, *, department: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """Published information; write `from_=` for the `from` parameter of `bus_search`."""
        route = self._routing.route("info", topic)
        return await self._get(
            department or route.department_for(None),
            f"/v1/info/{_segment(topic)}",
            params=_query(params),
            operation="info",
        )

    async def locate(
        self, lat: float, lon: float, *, department: str | None = None
    ) -> dict[str, Any]:
        """The district, mandal and village or ward a point falls in."""
        return await self._get(
            department or self._admin_department(),
            "/v1/admin/locate",
            params={"lat": lat, "lon": lon},
            operation="locate",
        )

    async def districts(self, *, department: str | None = None) -> dict[str, Any]:
        return await self._get(
            department or self._admin_department(), "/v1/admin/districts", operation="districts"
        )

    async def mandals(self, district: str, *, department: str | None = None) -> dict[str, Any]:
        return await self._get(
            department or self._admin_department(),
            f"/v1/admin/districts/{_segment(district.upper())}/mandals",
            operation="mandals",
        )

    # ----- writes (see the module docstring on why these may be retried) -----

    async def submit_application(
        self, department: str, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """Submit an application (`{service_code, applicant, answers, office?}`); the answer
        is the new Application (status `submitted`). Retried on timeouts and 5xx only because
        the same `idempotency_key` and body always get the same application back; use a new
        key per application, and the same key when repeating one."""
        return await self._call(
            "POST",
            department,
            "/v1/applications",
            operation="submit_application",
            json=_jsonable(body),
            idempotency_key=_idempotency_key(idempotency_key),
        )

    async def submit_grievance(
        self, department: str, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """Register a grievance (`{category, description, location, photos, mobile}`); the
        answer is the new Grievance. Retried only because of the idempotency key, as above."""
        return await self._call(
            "POST",
            department,
            "/v1/grievances",
            operation="submit_grievance",
            json=_jsonable(body),
            idempotency_key=_idempotency_key(idempotency_key),
        )

    async def hold(
        self, department: str, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """Hold inventory (`{item: {kind, id, date}, quantity}`) until `expires_at`; raises
        `DepartmentError(kind="sold_out")` when too little is left. Retried only because of
        the idempotency key: a repeated key never takes a second hold."""
        return await self._call(
            "POST",
            department,
            "/v1/holds",
            operation="hold",
            json=_jsonable(body),
            idempotency_key=_idempotency_key(idempotency_key),
        )

    async def confirm_hold(self, department: str, hold_id: str) -> dict[str, Any]:
        """Turn a hold into a booking (`booking_id`); idempotent, so safe to retry. An expired
        hold raises `kind="expired"`, a released one `kind="conflict"`."""
        return await self._call(
            "POST",
            department,
            f"/v1/holds/{_segment(hold_id)}/confirm",
            operation="confirm_hold",
        )

    async def release_hold(self, department: str, hold_id: str) -> dict[str, Any]:
        """Give a hold's capacity back; idempotent, so safe to retry."""
        return await self._call(
            "DELETE", department, f"/v1/holds/{_segment(hold_id)}", operation="release_hold"
        )

    async def inventory(
        self, department: str, kind: str, id: str, date: date | str
    ) -> dict[str, Any]:
        """An item on a day: its `label`, `unit_price_paise`, capacity and what is still
        available."""
        return await self._get(
            department,
            f"/v1/inventory/{_segment(kind)}/{_segment(id)}",
            params=_query({"date": date}),
            operation="inventory",
        )

    async def inventory_list(
        self,
        kind: str,
        date: date | str,
        *,
        place: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        band: str | None = None,
        department: str | None = None,
    ) -> dict[str, Any]:
        """The items of `kind` on a day, at most 20 (`{kind, date, items, total}`), each with
        its label, price and what is left: the halls of a municipal body
        (`inventory_list("hall", day, place="GMC")`), the darshan types of a temple
        (`place="srisailam"`), the buses between two towns (`from_="VJA", to="VSP"`).
        Routed to the department that sells `kind`; a kind listed by route without `from_`
        and `to` is refused before any HTTP."""
        selling = self._selling(kind)
        given = {"place": place, "from": from_, "to": to, "band": band}
        unexpected = [k for k, v in given.items() if v is not None and k not in selling.list_params]
        if unexpected:
            raise DepartmentError(
                "invalid", f"{kind} is not listed by {', '.join(unexpected)}", code="invalid"
            )
        if "from" in selling.list_params and not (from_ and to):
            raise DepartmentError(
                "invalid", f"listing {kind} needs from_ and to", code="missing_parameter"
            )
        return await self._get(
            department or selling.department_for(None),
            f"/v1/inventory/{_segment(kind)}",
            params=_query({"date": date, **given}),
            operation="inventory_list",
        )

    async def hold_status(self, hold_id: str, *, department: str | None = None) -> dict[str, Any]:
        """A hold as it stands (`held`, `confirmed` with its `booking_id`, `released`,
        `expired`), with `amount_paise`; routed by the department its id names."""
        hold_id = normalise_reference(hold_id)
        selling = sellers()["_holds"]
        selling.check(hold_id, "hold id")
        return await self._get(
            department or selling.department_for(hold_id),
            f"/v1/holds/{_segment(hold_id)}",
            operation="hold_status",
        )

    async def booking(self, booking_id: str, *, department: str | None = None) -> dict[str, Any]:
        """A booking (`confirmed` or `cancelled`), routed by the department its id names."""
        booking_id = self._booking_id(booking_id)
        return await self._get(
            department or sellers()["_bookings"].department_for(booking_id),
            f"/v1/bookings/{_segment(booking_id)}",
            operation="booking",
        )

    async def cancel_booking(
        self, booking_id: str, *, department: str | None = None
    ) -> dict[str, Any]:
        """Cancel a booking and give its capacity back; idempotent (cancelling again answers
        the same), so safe to retry. A booking whose date has passed raises
        `kind="conflict"`."""
        booking_id = self._booking_id(booking_id)
        return await self._call(
            "POST",
            department or sellers()["_bookings"].department_for(booking_id),
            f"/v1/bookings/{_segment(booking_id)}/cancel",
            operation="cancel_booking",
        )

    async def pay_account(
        self,
        kind: str,
        number: str,
        amount_paise: int,
        payment_reference: str,
        paid_at: datetime | str,
        idempotency_key: str,
        *,
        department: str | None = None,
    ) -> dict[str, Any]:
        """Credit a payment Mitra collected to an account's dues; the answer is the receipt
        (`receipt_number`, `dues_after_paise` …). More than the dues raises `kind="invalid"`;
        a `payment_reference` already credited under another key `kind="conflict"`. Retried
        only because of the idempotency key: a repeated key never pays twice."""
        number = normalise_identifier(number)
        route = self._routing.checked("accounts", kind, number)
        if isinstance(amount_paise, bool) or not isinstance(amount_paise, int) or amount_paise < 1:
            raise DepartmentError(
                "invalid", "amount_paise must be a positive whole number of paise", code="amount"
            )
        if isinstance(paid_at, datetime):
            if paid_at.tzinfo is None:
                raise DepartmentError("invalid", "paid_at needs a time zone", code="paid_at")
            paid_at = paid_at.isoformat()
        return await self._call(
            "POST",
            department or route.department_for(number),
            f"/v1/accounts/{_segment(kind)}/{_segment(number)}/payments",
            operation="pay_account",
            json={
                "amount_paise": amount_paise,
                "payment_reference": payment_reference,
                "paid_at": paid_at,
            },
            idempotency_key=_idempotency_key(idempotency_key),
        )

    async def health(self, department: str) -> dict[str, Any]:
        """The department's health answer (also proves our token is accepted)."""
        return await self._get(department, "/v1/health", operation="health")

    # ----- circuit state, for dashboards and for "we'll tell you when it is back" -----

    def circuit_state(self, department: str) -> CircuitState:
        breaker = self._breakers.get(department)
        return breaker.state if breaker else CircuitState.OPEN

    def availability(self) -> dict[str, str]:
        """Each configured department's circuit state (`closed`, `open`, `half_open`)."""
        return {code: breaker.state.value for code, breaker in sorted(self._breakers.items())}

    # ----- the one request path -----

    @staticmethod
    def _selling(kind: str) -> Selling:
        selling = sellers().get(kind) if not kind.startswith("_") else None
        if selling is None:
            raise DepartmentError(
                "invalid", f"no department sells inventory of kind {kind!r}", code="unknown_kind"
            )
        return selling

    @staticmethod
    def _booking_id(booking_id: str) -> str:
        booking_id = normalise_reference(booking_id)
        sellers()["_bookings"].check(booking_id, "booking id")
        if not check_letter_ok(booking_id):
            raise DepartmentError("invalid", "wrong check letter", code="bad_check_letter")
        return booking_id

    def _admin_department(self) -> str:
        route = self._routing.route("admin", "admin")
        for code in route.departments:
            if code in self._endpoints:
                return code
        return route.departments[0]

    async def _get(
        self,
        department: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self._call("GET", department, path, operation=operation, params=params)

    async def _call(
        self,
        method: str,
        department: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One call with retries. Only GETs and idempotent writes come here: a POST that
        creates something must carry `idempotency_key`, which is what makes retrying it safe."""
        endpoint = self._endpoints.get(department)
        breaker = self._breakers.get(department)
        if endpoint is None or breaker is None:
            raise DepartmentError(
                "unavailable",
                f"no endpoint is configured for department {department}",
                department=department,
                code="not_configured",
            )
        if not breaker.allow():
            raise DepartmentError(
                "unavailable",
                "circuit open after repeated failures",
                department=department,
                code="circuit_open",
                retry_after=breaker.retry_after(),
            )
        url = endpoint.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {endpoint.token}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        settled = False
        try:
            attempt = 0
            while True:
                failure = await self._attempt(method, department, url, headers, params, json)
                if isinstance(failure, dict):
                    breaker.record_success()
                    settled = True
                    return failure
                if failure.kind != "unavailable":
                    # The system answered (4xx): it is up, and asking again changes nothing.
                    breaker.record_success()
                    settled = True
                    raise failure
                if failure.code == "bad_response" or attempt >= self.policy.max_retries:
                    breaker.record_failure()
                    settled = True
                    log.warning(
                        "department %s %s failed after %d attempt(s): %s",
                        department,
                        operation,
                        attempt + 1,
                        failure.code,
                    )
                    raise failure
                await self._sleep(self._backoff(attempt))
                attempt += 1
        finally:
            if not settled:
                breaker.release()

    async def _attempt(
        self,
        method: str,
        department: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | DepartmentError:
        """One request: the decoded body, or the error it ended in (returned, not raised)."""
        try:
            async with asyncio.timeout(self.policy.attempt_deadline):
                response = await self._http.request(
                    method, url, headers=headers, params=params, json=json
                )
        except (httpx.TimeoutException, TimeoutError):
            return DepartmentError(
                "unavailable", "timed out", department=department, code="timeout"
            )
        except httpx.TransportError as exc:
            return DepartmentError(
                "unavailable",
                f"connection failed ({type(exc).__name__})",
                department=department,
                code="connection",
            )
        return _decode(department, response)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform between 0 and base·2^attempt, capped (`attempt` from 0)."""
        p = self.policy
        return retry.full_jitter(
            retry.backoff_ceiling(p.backoff_base, 2.0, p.backoff_cap, attempt + 1), self._rng
        )


def _decode(department: str, response: httpx.Response) -> dict[str, Any] | DepartmentError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if isinstance(body, dict):
            return body
        return DepartmentError(
            "unavailable",
            "response is not a JSON object",
            department=department,
            code="bad_response",
            http_status=status,
        )
    code, message = _error_fields(body)
    kind: ErrorKind
    if status in _RETRIED_STATUSES or status >= 500:
        kind, code = "unavailable", code or "server_error"
    elif status == 401 or status == 403:
        kind, code = "unauthorized", code or "unauthorized"
    elif status == 409:
        kind = "sold_out" if code == "sold_out" else "conflict"
        code = code or "conflict"
    elif status == 410 and code == "expired":
        kind = "expired"
    elif status == 404 or status == 410:
        kind, code = "not_found", code or "not_found"
    else:
        kind, code = "invalid", code or "invalid"
    return DepartmentError(
        kind,
        message or f"HTTP {status}",
        department=department,
        code=code,
        http_status=status,
    )


def _error_fields(body: object) -> tuple[str | None, str | None]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code")
        message = error.get("message")
        return (
            code if isinstance(code, str) else None,
            message if isinstance(message, str) else None,
        )
    return None, None


def _idempotency_key(key: str) -> str:
    key = key.strip() if isinstance(key, str) else ""
    if not key or len(key) > 100:
        raise DepartmentError(
            "invalid",
            "a write needs an Idempotency-Key of 1-100 characters",
            code="idempotency_key",
        )
    return key


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, mappings and sequences copied, for a JSON body."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _segment(value: str) -> str:
    return quote(value, safe="")


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    """Keyword arguments as query parameters: `from_` → `from`, None dropped, dates ISO."""
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        key = name[:-1] if name.endswith("_") else name
        if isinstance(value, bool):
            query[key] = "true" if value else "false"
        elif isinstance(value, date):
            query[key] = value.isoformat()
        elif isinstance(value, list | tuple | set | frozenset):
            query[key] = ",".join(str(v) for v in sorted(value, key=str))
        else:
            query[key] = str(value)
    return query


def endpoints_from_environ(environ: Mapping[str, str]) -> list[DepartmentEndpoint]:
    """Endpoints from `MITRA_DEPARTMENT_<CODE>_URL` and `MITRA_DEPARTMENT_<CODE>_TOKEN`.

    `MITRA_DEPARTMENTS_URL` (e.g. a sandbox at `http://localhost:8090`) supplies
    `<url>/<CODE>` for departments without their own URL. A URL without a token is an error.
    """
    shared = environ.get("MITRA_DEPARTMENTS_URL", "").rstrip("/")
    endpoints = []
    for code in DEPARTMENTS:
        url = environ.get(f"MITRA_DEPARTMENT_{code}_URL") or (f"{shared}/{code}" if shared else "")
        if not url:
            continue
        token = environ.get(f"MITRA_DEPARTMENT_{code}_TOKEN")
        if not token:
            raise ValueError(f"MITRA_DEPARTMENT_{code}_TOKEN is required when {code} has a URL")
        endpoints.append(DepartmentEndpoint(code, url, token))
    return endpoints
