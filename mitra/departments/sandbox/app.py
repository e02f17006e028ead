"""The sandbox department systems over HTTP: one FastAPI app serving every department at
`/{DEPARTMENT}/v1/...` (the adapter contract), each with its own bearer token, plus
`/_sandbox/faults` to simulate trouble. Mount it anywhere, or run `serve_sandbox`."""

from __future__ import annotations

import asyncio
import copy
import hmac
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

from mitra.departments.contract import CONTRACT_VERSION, contract_view
from mitra.departments.errors import DepartmentError
from mitra.departments.references import check_letter_ok
from mitra.departments.routing import Route, Section, default_routing
from mitra.departments.sandbox.datafiles import load
from mitra.departments.sandbox.faults import Fault, FaultMode, Faults
from mitra.departments.sandbox.geography import location, named
from mitra.departments.sandbox.info import TOPICS, InfoError
from mitra.departments.sandbox.places import covering_offices
from mitra.departments.sandbox.timeline import IST
from mitra.departments.sandbox.world import World, world
from mitra.departments.sandbox.writes import HOLD_TTL, INVENTORY_KINDS, Desk, WriteError

DEPARTMENTS = ("REV", "MUN", "ENG", "RTC", "END", "ANC", "CMR", "GEN")
PREFIX = "/{department}/v1"
DEFAULT_TOKENS: dict[str, str] = {code: f"sandbox-{code}" for code in DEPARTMENTS}
"""The tokens the sandbox accepts unless told otherwise: `sandbox-REV`, `sandbox-ENG`, …"""

_STATUS_FOR_CODE = {
    "invalid": 400,
    "unauthorized": 401,
    "not_found": 404,
    "unsupported": 404,
    "conflict": 409,
    "sold_out": 409,
    "expired": 410,
    "unavailable": 503,
    "internal": 500,
}


class SandboxError(Exception):
    """An error answer in the contract's shape."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.headers = headers
        super().__init__(message)


def _error(code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=_STATUS_FOR_CODE.get(code, 400),
        headers=headers,
    )


class FaultRequest(BaseModel):
    department: str | None = Field(default=None, description="A department code; omit for all.")
    mode: FaultMode
    seconds: float = Field(default=1.0, ge=0, le=600)
    count: int | None = Field(
        default=None, ge=1, description="Requests to affect; omit for all until cleared."
    )


MOBILE = r"^(\+91)?[6-9]\d{9}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(_Strict):
    district: str = Field(pattern=r"^[A-Za-z]{3}$")
    mandal: str = Field(min_length=1, max_length=20)
    village: str | None = Field(default=None, min_length=1, max_length=20)
    ward: str | None = Field(default=None, min_length=1, max_length=20)


class ApplicantIn(_Strict):
    name: str = Field(min_length=1, max_length=100)
    mobile: str = Field(pattern=MOBILE)
    address: AddressIn


class OfficeIn(_Strict):
    type: str = Field(min_length=1, max_length=40)
    id: str = Field(min_length=1, max_length=40)


class ApplicationIn(_Strict):
    service_code: str = Field(pattern=r"^[A-Z]{3}-\d{2}$")
    applicant: ApplicantIn
    answers: dict[str, Any] = Field(default_factory=dict)
    office: OfficeIn | None = None


class LocationIn(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class GrievanceIn(_Strict):
    category: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=2000)
    location: LocationIn
    photos: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=5
    )
    mobile: str = Field(pattern=MOBILE)


class ItemIn(_Strict):
    kind: str = Field(min_length=1, max_length=40)
    id: str = Field(min_length=1, max_length=60)
    date: date


class HoldIn(_Strict):
    item: ItemIn
    quantity: int = Field(default=1, ge=1, le=20)


class PaymentIn(_Strict):
    amount_paise: StrictInt = Field(ge=1)
    payment_reference: str = Field(min_length=1, max_length=100)
    paid_at: AwareDatetime


IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=100)]


async def _authorise(department: str, request: Request) -> str:
    """Unknown department → 404; injected faults; then the department's token or 401."""
    tokens: dict[str, str] = request.app.state.tokens
    faults: Faults = request.app.state.faults
    if department not in tokens:
        raise SandboxError("not_found", f"no department {department!r} here")
    fault = faults.take(department)
    if fault is not None:
        if fault.mode == "slow":
            await asyncio.sleep(fault.seconds)
        elif fault.mode == "down":
            raise SandboxError(
                "unavailable", "the system is down (simulated)", {"Retry-After": "30"}
            )
        else:
            raise SandboxError("internal", "the system failed (simulated)")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = tokens[department].encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise SandboxError(
            "unauthorized",
            f"a valid {department} token is required",
            {"WWW-Authenticate": 'Bearer realm="sandbox"'},
        )
    return department


Department = Annotated[str, Depends(_authorise)]
"""The department a request is for, once its token has been checked."""


def create_sandbox_app(
    tokens: dict[str, str] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    hold_ttl: timedelta = HOLD_TTL,
    capacities: Mapping[tuple[str, str], int] | None = None,
) -> FastAPI:
    """The sandbox app. `tokens` maps department code → bearer token (default
    `DEFAULT_TOKENS`); `clock` gives "now" for live answers (bus positions, outages) and for
    hold expiry; `hold_ttl` is how long a hold lasts; `capacities` overrides the capacity of
    `(kind, id)` items on every date (for tests)."""
    tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
    now = clock or (lambda: datetime.now(IST))
    sandbox = world()
    desk = Desk(sandbox, now, hold_ttl, dict(capacities or {}))
    routing = default_routing()
    faults = Faults()
    names = load("services")["departments"]

    app = FastAPI(
        title="Mitra sandbox department systems",
        version=CONTRACT_VERSION,
        redoc_url=None,
    )
    app.state.faults = faults
    app.state.tokens = tokens
    app.state.desk = desk

    def openapi() -> dict[str, Any]:
        document = copy.deepcopy(contract_view())
        document["servers"] = [
            {"url": f"./{code}", "description": f"{names[code]['en']} (token: the department's)"}
            for code in tokens
        ]
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(SandboxError)
    async def _sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        return _error(exc.code, exc.message, exc.headers)

    @app.exception_handler(WriteError)
    async def _write_error(request: Request, exc: WriteError) -> JSONResponse:
        return _error(exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _error("invalid", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found"}.get(exc.status_code, "invalid")
        response = _error(code, str(exc.detail))
        response.status_code = exc.status_code
        return response

    def served(department: str, section: Section, name: str) -> Route:
        try:
            route = routing.route(section, name)
        except DepartmentError:
            raise SandboxError(
                "unsupported", f"{department} has no {section} of kind {name!r}"
            ) from None
        if department not in route.departments:
            raise SandboxError("unsupported", f"{department} has no {section} of kind {name!r}")
        return route

    def well_formed(route: Route, identifier: str) -> None:
        if not route.matches(identifier) or not check_letter_ok(identifier):
            raise SandboxError("invalid", f"that is not a well-formed {route.name} identifier")

    def found(record: dict[str, Any] | None, what: str) -> JSONResponse:
        if record is None:
            raise SandboxError("not_found", f"no such {what}")
        return JSONResponse(record)

    @app.get(PREFIX + "/health")
    async def health(department: Department) -> JSONResponse:
        serves = routing.served_by(department)
        return JSONResponse(
            {
                "status": "ok",
                "department": department,
                "name": names[department],
                "contract_version": CONTRACT_VERSION,
                "time": now().astimezone(IST).replace(microsecond=0).isoformat(),
                "operations": {
                    "accounts": serves["accounts"],
                    "applications": serves["applications"],
                    "grievances": bool(serves["grievances"]),
                    "documents": serves["documents"],
                    "places": serves["places"],
                    "info": serves["info"],
                    "admin": bool(serves["admin"]),
                    "inventory": [k for k, d in INVENTORY_KINDS.items() if d == department],
                },
            }
        )

    @app.get(PREFIX + "/accounts/{kind}/{number}")
    async def account(department: Department, kind: str, number: str) -> JSONResponse:
        well_formed(served(department, "accounts", kind), number)
        return found(desk.account(kind, number), f"{kind} account")

    @app.get(PREFIX + "/applications/{reference}")
    async def application(department: Department, reference: str) -> JSONResponse:
        routes = [r for r in routing.routes("applications").values() if r.matches(reference)]
        if not routes:
            raise SandboxError("invalid", "that is not a reference any department issues")
        well_formed(served(department, "applications", routes[0].name), reference)
        record = sandbox.applications.get(reference) or desk.applications.get(reference)
        return found(
            record if record and record["department"] == department else None, "application"
        )

    @app.get(PREFIX + "/grievances/{reference}")
    async def grievance(department: Department, reference: str) -> JSONResponse:
        route = served(department, "grievances", "grievance")
        well_formed(route, reference)
        record = sandbox.grievances.get(reference) or desk.grievances.get(reference)
        return found(record if record and record["department"] == department else None, "grievance")

    @app.get(PREFIX + "/documents/{kind}/{identifier}")
    async def document(
        department: Department, kind: str, identifier: str, village: str | None = None
    ) -> JSONResponse:
        route = served(department, "documents", kind)
        well_formed(route, identifier)
        if "village" in route.params and not village:
            raise SandboxError("invalid", f"{kind} needs the village parameter")
        record = sandbox.document(
            kind, identifier, village.upper() if village else None
        ) or desk.document(kind, identifier)
        return found(record if record and record["department"] == department else None, kind)

    @app.get(PREFIX + "/places/nearest")
    async def nearest(
        department: Department,
        lat: Annotated[float, Query(ge=-90, le=90)],
        lon: Annotated[float, Query(ge=-180, le=180)],
        type: str,
        limit: Annotated[int, Query(ge=1, le=10)] = 3,
    ) -> JSONResponse:
        served(department, "places", type)
        ranked = sandbox.nearest(type, lat, lon, limit)
        return JSONResponse(
            {
                "type": type,
                "origin": location(lat, lon),
                "places": [
                    {
                        "type": p["type"],
                        "id": p["id"],
                        "name": p["name"],
                        "location": p["location"],
                        "address": p["address"],
                        "distance_m": round(d),
                    }
                    for p, d in ranked
                ],
            }
        )

    @app.get(PREFIX + "/places/{type}/{id}")
    async def place(department: Department, type: str, id: str) -> JSONResponse:
        served(department, "places", type)
        return found(sandbox.places[type].get(id.upper() if type != "temple" else id.lower()), type)

    @app.get(PREFIX + "/info/{topic}")
    async def info(department: Department, topic: str, request: Request) -> JSONResponse:
        served(department, "info", topic)
        try:
            data = TOPICS[topic](sandbox, request.query_params, now())
        except InfoError as exc:
            raise SandboxError(exc.code, exc.message) from None
        return JSONResponse({"topic": topic, "department": department, "data": data})

    # ----- writes: every check-and-change runs without an await (see writes.py) -----

    def created(answer: dict[str, Any], replayed: bool) -> JSONResponse:
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse(answer, status_code=201, headers=headers)

    def once(
        department: str,
        operation: str,
        key: str,
        body: BaseModel | dict[str, Any],
        make: Any,
    ) -> JSONResponse:
        fresh: list[bool] = []

        def made() -> dict[str, Any]:
            fresh.append(True)
            answer: dict[str, Any] = make()
            return answer

        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        answer = desk.once(department, operation, key, payload, made)
        return created(answer, replayed=not fresh)

    @app.post(PREFIX + "/applications", status_code=201)
    async def submit_application(
        department: Department, body: ApplicationIn, idempotency_key: IdempotencyKey
    ) -> JSONResponse:
        payload = body.model_dump(mode="json")
        return once(
            department,
            "applications",
            idempotency_key,
            body,
            lambda: desk.submit_application(department, payload),
        )

    @app.post(PREFIX + "/grievances", status_code=201)
    async def submit_grievance(
        department: Department, body: GrievanceIn, idempotency_key: IdempotencyKey
    ) -> JSONResponse:
        served(department, "grievances", "grievance")
        payload = body.model_dump(mode="json")
        return once(
            department,
            "grievances",
            idempotency_key,
            body,
            lambda: desk.submit_grievance(department, payload),
        )

    @app.post(PREFIX + "/accounts/{kind}/{number}/payments", status_code=201)
    async def pay_account(
        department: Department,
        kind: str,
        number: str,
        body: PaymentIn,
        idempotency_key: IdempotencyKey,
    ) -> JSONResponse:
        well_formed(served(department, "accounts", kind), number)
        payload = {"kind": kind, "number": number, **body.model_dump(mode="json")}
        fields = {
            "amount_paise": body.amount_paise,
            "payment_reference": body.payment_reference,
            "paid_at": body.paid_at,
        }
        return once(
            department,
            "payments",
            idempotency_key,
            payload,
            lambda: desk.pay(department, kind, number, fields),
        )

    @app.get(PREFIX + "/inventory/{kind}")
    async def list_inventory(
        department: Department,
        kind: str,
        day: Annotated[date, Query(alias="date")],
        place: Annotated[str | None, Query(max_length=40)] = None,
        from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        to: Annotated[str | None, Query(max_length=40)] = None,
        band: Annotated[str | None, Query(max_length=20)] = None,
    ) -> JSONResponse:
        return JSONResponse(
            desk.listing(department, kind, day, place=place, from_=from_, to=to, band=band)
        )

    @app.get(PREFIX + "/inventory/{kind}/{id}")
    async def inventory(
        department: Department, kind: str, id: str, day: Annotated[date, Query(alias="date")]
    ) -> JSONResponse:
        return JSONResponse(desk.inventory(department, kind, id, day))

    @app.post(PREFIX + "/holds", status_code=201)
    async def hold(
        department: Department, body: HoldIn, idempotency_key: IdempotencyKey
    ) -> JSONResponse:
        item = {"kind": body.item.kind, "id": body.item.id, "date": body.item.date}
        return once(
            department,
            "holds",
            idempotency_key,
            body,
            lambda: desk.hold(department, item, body.quantity),
        )

    @app.post(PREFIX + "/holds/{id}/confirm")
    async def confirm_hold(department: Department, id: str) -> JSONResponse:
        return JSONResponse(desk.confirm(department, id))

    @app.get(PREFIX + "/holds/{id}")
    async def hold_status(department: Department, id: str) -> JSONResponse:
        return JSONResponse(desk.hold_status(department, id))

    @app.delete(PREFIX + "/holds/{id}")
    async def release_hold(department: Department, id: str) -> JSONResponse:
        return JSONResponse(desk.release(department, id))

    @app.get(PREFIX + "/bookings/{booking_id}")
    async def booking(department: Department, booking_id: str) -> JSONResponse:
        return JSONResponse(desk.booking(department, booking_id))

    @app.post(PREFIX + "/bookings/{booking_id}/cancel")
    async def cancel_booking(department: Department, booking_id: str) -> JSONResponse:
        return JSONResponse(desk.cancel(department, booking_id))

    def admin(department: str) -> World:
        served(department, "admin", "admin")
        return sandbox

    @app.get(PREFIX + "/admin/districts")
    async def districts(department: Department) -> JSONResponse:
        return JSONResponse({"districts": [d.record() for d in admin(department).districts]})

    @app.get(PREFIX + "/admin/districts/{code}/mandals")
    async def mandals(department: Department, code: str) -> JSONResponse:
        district = admin(department).district_index.get(code.upper())
        if district is None:
            raise SandboxError("not_found", "no such district")
        return JSONResponse(
            {
                "district": district.named(),
                "mandals": [
                    {
                        "code": m.code,
                        "name": m.name,
                        "location": location(m.lat, m.lon),
                        "villages": [v.record() for v in m.villages],
                        "wards": [w.record() for w in m.wards],
                    }
                    for m in district.mandals
                ],
            }
        )

    @app.get(PREFIX + "/admin/locate")
    async def locate(
        department: Department,
        lat: Annotated[float, Query(ge=-90, le=90)],
        lon: Annotated[float, Query(ge=-180, le=180)],
    ) -> JSONResponse:
        hit = admin(department).locate(lat, lon)
        if hit is None:
            raise SandboxError("not_found", "that point is outside the state")
        locality, distance = hit
        answer: dict[str, Any] = {
            "location": location(lat, lon),
            "district": locality.district.named(),
            "mandal": locality.mandal.named(),
            ("ward" if locality.urban else "village"): named(locality.code, locality.name),
            "urban": locality.urban,
            "distance_m": round(distance),
            "offices": covering_offices(
                locality, sandbox.nearest_office_ref("bus_station", locality.lat, locality.lon)
            ),
        }
        return JSONResponse(answer)

    @app.get("/_sandbox/faults", tags=["sandbox"])
    async def list_faults() -> JSONResponse:
        return JSONResponse({"faults": [f.record() for f in faults.active()]})

    @app.post("/_sandbox/faults", tags=["sandbox"], status_code=201)
    async def add_fault(body: FaultRequest) -> JSONResponse:
        department = body.department.upper() if body.department else None
        if department is not None and department not in tokens:
            raise SandboxError("invalid", f"no department {department!r} here")
        faults.add(Fault(department, body.mode, body.seconds, body.count))
        return JSONResponse({"faults": [f.record() for f in faults.active()]}, status_code=201)

    @app.delete("/_sandbox/faults", tags=["sandbox"])
    async def clear_faults(department: str | None = None) -> JSONResponse:
        faults.clear(department.upper() if department else None)
        return JSONResponse({"faults": [f.record() for f in faults.active()]})

    return app


def serve_sandbox(host: str = "127.0.0.1", port: int = 8090) -> None:
    """Run the sandbox on its own; departments answer at `http://host:port/ENG/v1/…`."""
    import uvicorn

    uvicorn.run(create_sandbox_app(), host=host, port=port, log_level="info")
