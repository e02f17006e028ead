"""The adapter contract and the sandbox agree: every route the sandbox serves is in the
OpenAPI document and every operation there is served; every answer the sandbox gives for
its sample identifiers (and every error) validates against the contract's schemas; each
department accepts only its own token; every example in the routing table exists."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mitra.departments.client import DepartmentClient, load_contract, sellers
from mitra.departments.references import check_letter_ok
from mitra.departments.routing import default_routing
from mitra.departments.sandbox import DEFAULT_TOKENS, create_sandbox_app, samples, sandbox_endpoints
from mitra.departments.sandbox.timeline import AS_OF, IST
from mitra.departments.sandbox.world import world
from mitra.departments.sandbox.writes import INVENTORY_KINDS

CONTRACT = load_contract()
CONTRACT_URI = "urn:mitra:department-contract"
NOW = datetime(2026, 11, 16, 12, 0, tzinfo=IST)
FIXTURES = Path(__file__).parent / "fixtures" / "departments"

formats = FormatChecker()


@formats.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or (len(value) == 10 and bool(date.fromisoformat(value)))


@formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


REGISTRY = Registry().with_resource(CONTRACT_URI, Resource.from_contents(CONTRACT, DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def response_schema(template: str, status: int, method: str = "get") -> dict[str, Any]:
    """A `$ref` to the JSON schema of the contract's response for a path, status and method."""
    response = CONTRACT["paths"][template][method]["responses"][str(status)]
    if "$ref" in response:
        return {"$ref": f"{CONTRACT_URI}{response['$ref']}/content/application~1json/schema"}
    where = _pointer("paths", template, method, "responses", str(status), "content")
    return {"$ref": f"{CONTRACT_URI}#/{where}/application~1json/schema"}


def assert_valid(schema: dict[str, Any], body: object, what: str) -> None:
    validator = Draft202012Validator(schema, registry=REGISTRY, format_checker=formats)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        best = max(errors, key=lambda e: len(list(e.absolute_path)))
        raise AssertionError(f"{what}: {best.message} at {list(best.absolute_path)}")


def template_for(path: str) -> str:
    """The contract path a concrete `/v1/...` path was served by."""
    for template in CONTRACT["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and not (
            template.endswith("{id}") and path.endswith("/nearest")
        ):
            return template
    raise AssertionError(f"no contract path for {path}")


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the sandbox and keeps every exchange for inspection."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, httpx.Response, object]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.exchanges.append((request, response, json.loads(body)))
        return httpx.Response(response.status_code, headers=response.headers, content=body)


@pytest.fixture(scope="module")
def app() -> Any:
    return create_sandbox_app(clock=lambda: NOW)


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


def test_the_contract_is_a_valid_openapi_3_1_document() -> None:
    import openapi_spec_validator

    assert CONTRACT["openapi"].startswith("3.1")
    openapi_spec_validator.validate(CONTRACT)


def test_every_sandbox_route_is_in_the_contract_and_every_operation_is_served(app: Any) -> None:
    served = {
        (method, route.path.removeprefix("/{department}"))
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/{department}/")
        for method in route.methods or ()
    }
    documented = {
        (method.upper(), path) for path, item in CONTRACT["paths"].items() for method in item
    }
    assert served == documented


def test_the_routing_table_covers_every_kind_the_contract_enumerates() -> None:
    routing = default_routing()
    schemas = CONTRACT["components"]["schemas"]
    assert set(routing.routes("accounts")) == set(schemas["AccountKind"]["enum"])
    assert set(routing.routes("documents")) == set(schemas["DocumentKind"]["enum"])
    assert set(routing.routes("places")) == set(schemas["PlaceType"]["enum"])
    assert set(routing.routes("info")) == set(schemas["InfoTopic"]["enum"])
    inventory = CONTRACT["x-mitra-routing"]["inventory"]
    assert set(inventory) == set(schemas["InventoryKind"]["enum"]) == set(INVENTORY_KINDS)
    for kind, entry in inventory.items():
        assert entry["departments"] == [INVENTORY_KINDS[kind]], kind
        assert sellers()[kind].pattern.fullmatch(entry["example"]), kind  # type: ignore[union-attr]
        assert set(entry["example_list"]) <= set(entry["list_params"]), kind
    for name in ("holds", "bookings"):
        example = CONTRACT["x-mitra-routing"][name]["example"]
        assert sellers()[f"_{name}"].department_for(example) == "END" and check_letter_ok(example)
    for section in ("applications", "grievances"):
        for route in routing.routes(section).values():
            assert (
                route.example and route.matches(route.example) and check_letter_ok(route.example)
            ), route.name


async def test_every_sample_answer_validates_against_the_contract(app: Any) -> None:
    recorder = Recorder(httpx.ASGITransport(app=app))
    async with DepartmentClient(sandbox_endpoints("http://sandbox"), transport=recorder) as client:
        for items in samples().values():
            for sample in items:
                await getattr(client, sample["operation"])(**sample["args"])
    assert len(recorder.exchanges) >= 100
    operations = set()
    for request, response, body in recorder.exchanges:
        assert response.status_code == 200, (request.url, body)
        path = request.url.path.split("/", 2)[2]  # drop /{department}
        template = template_for("/" + path)
        operations.add(template)
        assert_valid(response_schema(template, 200), body, str(request.url))
    reads = {template for template, item in CONTRACT["paths"].items() if "get" in item}
    # Holds and bookings exist only once written: test_departments_bookings.py reads them.
    written = {"/v1/holds/{id}", "/v1/bookings/{booking_id}"}
    assert operations == reads - {"/v1/health"} - written


async def test_every_department_answers_health_in_the_contract_shape(
    http: httpx.AsyncClient,
) -> None:
    routing = default_routing()
    for department, token in DEFAULT_TOKENS.items():
        response = await http.get(
            f"/{department}/v1/health", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        body = response.json()
        assert_valid(response_schema("/v1/health", 200), body, department)
        assert body["department"] == department
        serves = routing.served_by(department)
        assert body["operations"]["accounts"] == serves["accounts"]
        assert body["operations"]["info"] == serves["info"]


async def test_each_department_accepts_only_its_own_token(http: httpx.AsyncClient) -> None:
    for department, token in DEFAULT_TOKENS.items():
        other = DEFAULT_TOKENS["ENG" if department != "ENG" else "REV"]
        for headers in (
            {},
            {"Authorization": f"Bearer {other}"},
            {"Authorization": f"Basic {token}"},
        ):
            response = await http.get(f"/{department}/v1/health", headers=headers)
            assert response.status_code == 401, (department, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert_valid(response_schema("/v1/health", 401), response.json(), department)
            assert response.json()["error"]["code"] == "unauthorized"


async def test_custom_tokens_replace_the_defaults() -> None:
    app = create_sandbox_app({"ENG": "s3cret"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as http:
        ok = await http.get("/ENG/v1/health", headers={"Authorization": "Bearer s3cret"})
        default = await http.get("/ENG/v1/health", headers={"Authorization": "Bearer sandbox-ENG"})
        absent = await http.get("/REV/v1/health", headers={"Authorization": "Bearer sandbox-REV"})
    assert (ok.status_code, default.status_code, absent.status_code) == (200, 401, 404)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/ENG/v1/accounts/electricity/2220199999999", 404, "not_found"),
        ("/ENG/v1/accounts/electricity/12345", 400, "invalid"),
        ("/ENG/v1/accounts/property_tax/1014000123", 404, "unsupported"),
        ("/ENG/v1/accounts/gas/12345", 404, "unsupported"),
        ("/REV/v1/applications/REV-2026-999999-V", 404, "not_found"),
        ("/REV/v1/applications/REV-2026-000123-A", 400, "invalid"),
        ("/REV/v1/applications/MUN-2026-000123-K", 404, "unsupported"),
        ("/MUN/v1/grievances/GRV-ENG-2026-000123-K", 404, "not_found"),
        ("/REV/v1/documents/adangal/123-2A", 400, "invalid"),
        ("/REV/v1/documents/adangal/123-2A?village=GNT0299", 404, "not_found"),
        ("/END/v1/documents/donation_receipt/CMR-DR-2026-000123", 404, "not_found"),
        ("/RTC/v1/documents/parcel/P2611999999", 404, "not_found"),
        ("/RTC/v1/documents/parcel/T261100123", 400, "invalid"),
        ("/ENG/v1/documents/parcel/P2611000123", 404, "unsupported"),
        ("/RTC/v1/info/bus_search?from=VJA&to=Hyderabad&date=2026-11-20", 400, "invalid"),
        ("/RTC/v1/info/bus_search?from=VJA&to=VSP", 400, "invalid"),
        ("/ENG/v1/info/bill_estimate?category=domestic&units=lots", 400, "invalid"),
        ("/END/v1/info/temple_calendar?temple=tirumala", 404, "not_found"),
        ("/ANC/v1/places/nearest?lat=100&lon=80&type=anna_canteen", 400, "invalid"),
        ("/ANC/v1/places/anna_canteen/ANC-GNT-99", 404, "not_found"),
        ("/GEN/v1/admin/locate?lat=28.61&lon=77.21", 404, "not_found"),
        ("/GEN/v1/admin/districts/XYZ/mandals", 404, "not_found"),
        ("/ENG/v1/admin/districts", 404, "unsupported"),
        ("/MUN/v1/inventory/hall?date=2026-11-20&place=XYZ", 404, "not_found"),
        ("/MUN/v1/inventory/hall/GMC.hall9?date=2026-11-20", 404, "not_found"),
        ("/RTC/v1/inventory/hall?date=2026-11-20&place=GMC", 404, "unsupported"),
        ("/RTC/v1/inventory/bus_seat?date=2026-11-20&from=VJA", 400, "invalid"),
        ("/RTC/v1/inventory/parcel?date=2026-11-20&from=VJA&to=VSP&band=huge", 400, "invalid"),
        ("/MUN/v1/inventory/hall?place=GMC", 400, "invalid"),
        ("/END/v1/holds/HLD-END-00000001", 404, "not_found"),
        ("/END/v1/bookings/BKG-END-2026-000123-K", 404, "not_found"),
    ],
)
async def test_errors_come_in_the_contract_shape(
    http: httpx.AsyncClient, path: str, status: int, code: str
) -> None:
    department = path.split("/")[1]
    response = await http.get(
        path, headers={"Authorization": f"Bearer {DEFAULT_TOKENS[department]}"}
    )
    assert response.status_code == status, response.json()
    assert_valid({"$ref": f"{CONTRACT_URI}#/components/schemas/Error"}, response.json(), path)
    assert response.json()["error"]["code"] == code


async def test_every_example_in_the_routing_table_exists_in_the_sandbox(app: Any) -> None:
    routing = default_routing()
    calls: list[tuple[str, dict[str, Any]]] = []
    for kind, route in routing.routes("accounts").items():
        calls.append(("account", {"kind": kind, "number": route.example}))
    held_by_mitra = {
        name
        for name, entry in CONTRACT["x-mitra-routing"]["applications"].items()
        if entry.get("held_by") == "mitra"
    }
    for name, route in routing.routes("applications").items():
        if name not in held_by_mitra:  # kinds only Mitra's own cases use
            calls.append(("application", {"reference": route.example}))
    calls.append(("grievance", {"reference": routing.route("grievances", "grievance").example}))
    document_params = {
        name: entry.get("example_params", {})
        for name, entry in CONTRACT["x-mitra-routing"]["documents"].items()
    }
    for kind, route in routing.routes("documents").items():
        calls.append(
            ("document", {"kind": kind, "identifier": route.example, **document_params[kind]})
        )
    day = (AS_OF + timedelta(days=4)).isoformat()
    for kind, entry in CONTRACT["x-mitra-routing"]["inventory"].items():
        department = entry["departments"][0]
        calls.append(
            (
                "inventory",
                {"department": department, "kind": kind, "id": entry["example"], "date": day},
            )
        )
        listed = {("from_" if k == "from" else k): v for k, v in entry["example_list"].items()}
        calls.append(("inventory_list", {"kind": kind, "date": day, **listed}))
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), transport=httpx.ASGITransport(app=app)
    ) as client:
        for operation, args in calls:
            answer = await getattr(client, operation)(**args)
            assert answer, (operation, args)
            if operation == "inventory_list":
                assert answer["items"], args


async def test_every_sandbox_parcel_validates_against_the_contract(http: httpx.AsyncClient) -> None:
    """Parcels have five states and histories of one to four scans: check them all, not
    only the samples."""
    route = default_routing().route("documents", "parcel")
    parcels = world().documents["parcel"]
    assert len(parcels) >= 100
    statuses = set()
    for awb in parcels:
        assert route.matches(awb), awb
        response = await http.get(
            f"/RTC/v1/documents/parcel/{awb}", headers={"Authorization": "Bearer sandbox-RTC"}
        )
        assert response.status_code == 200, awb
        body = response.json()
        assert_valid(response_schema("/v1/documents/{kind}/{identifier}", 200), body, awb)
        assert body["kind"] == "parcel" and body["data"]["awb_number"] == awb
        statuses.add(body["data"]["status"])
    assert statuses == set(CONTRACT["components"]["schemas"]["ParcelStatus"]["enum"])


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_example_payloads_for_department_it_validate(fixture: Path) -> None:
    """`tests/fixtures/departments/*.json` are worked examples for implementers."""
    example = json.loads(fixture.read_text(encoding="utf-8"))
    assert_valid(response_schema(example["path"], example["status"]), example["body"], fixture.name)
