"""The department client: routes by the contract, retries only what is safe to retry,
gives up quickly on a system that is down (per-department circuit breaker), and turns every
failure into a DepartmentError the conversation can explain."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from mitra.departments.breaker import CircuitBreaker, CircuitState
from mitra.departments.client import (
    ClientPolicy,
    DepartmentClient,
    DepartmentEndpoint,
    DepartmentError,
    endpoints_from_environ,
)
from mitra.departments.sandbox import create_sandbox_app, sandbox_endpoints
from mitra.departments.sandbox.timeline import IST

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=IST)
BILL = "2220112345678"
ACCOUNT_PATH = f"/ENG/v1/accounts/electricity/{BILL}"
ENDPOINTS = [
    DepartmentEndpoint("ENG", "http://eng.test/ENG", "token-eng"),
    DepartmentEndpoint("MUN", "http://mun.test/MUN", "token-mun"),
    DepartmentEndpoint("REV", "http://rev.test/REV", "token-rev"),
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """Records the backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def answers(
    *responses: httpx.Response | Exception,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    """A handler that gives these answers in turn (the last one repeats), and its request log."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def ok(body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.Response(200, json=body or {"kind": "electricity", "number": BILL})


def error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"{code} (test)"}})


def make_client(
    handler: Any,
    policy: ClientPolicy | None = None,
    clock: Clock | None = None,
    sleep: Sleeps | None = None,
) -> DepartmentClient:
    return DepartmentClient(
        ENDPOINTS,
        policy=policy,
        transport=httpx.MockTransport(handler),
        clock=clock or Clock(),
        sleep=sleep or Sleeps(),
        rng=random.Random(7),
    )


async def test_retries_a_5xx_then_returns_the_answer() -> None:
    handler, seen = answers(error(503, "unavailable"), error(502, "internal"), ok())
    sleeps = Sleeps()
    async with make_client(handler, sleep=sleeps) as client:
        account = await client.account("electricity", BILL)
    assert account["number"] == BILL
    assert len(seen) == 3
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.2 and 0 <= sleeps.delays[1] <= 0.4, (
        "full jitter under base·2^n"
    )
    assert all(r.headers["Authorization"] == "Bearer token-eng" for r in seen)
    assert seen[0].url.path == f"/ENG/v1/accounts/electricity/{BILL}"


async def test_gives_up_after_two_retries() -> None:
    handler, seen = answers(error(500, "internal"))
    async with make_client(handler) as client:
        with pytest.raises(DepartmentError) as caught:
            await client.account("electricity", BILL)
    assert len(seen) == 3
    assert (caught.value.kind, caught.value.code, caught.value.department) == (
        "unavailable",
        "internal",
        "ENG",
    )


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "not_found", "not_found"),
        (400, "invalid", "invalid"),
        (401, "unauthorized", "unauthorized"),
        (404, "unsupported", "not_found"),
    ],
)
async def test_a_4xx_is_not_retried(status: int, code: str, kind: str) -> None:
    handler, seen = answers(error(status, code), ok())
    async with make_client(handler) as client:
        with pytest.raises(DepartmentError) as caught:
            await client.account("electricity", BILL)
    assert len(seen) == 1
    assert (caught.value.kind, caught.value.code, caught.value.http_status) == (kind, code, status)


async def test_timeouts_and_refused_connections_are_unavailable_and_retried() -> None:
    handler, seen = answers(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), ok())
    async with make_client(handler) as client:
        assert (await client.account("electricity", BILL))["number"] == BILL
    assert len(seen) == 3
    for failure, code in (
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connection"),
    ):
        handler, seen = answers(failure)
        async with make_client(handler, ClientPolicy(max_retries=0)) as client:
            with pytest.raises(DepartmentError) as caught:
                await client.account("electricity", BILL)
        assert (caught.value.kind, caught.value.code) == ("unavailable", code)


async def test_a_success_without_json_is_a_bad_response_not_retried() -> None:
    handler, seen = answers(httpx.Response(200, text="<html>maintenance</html>"))
    async with make_client(handler) as client:
        with pytest.raises(DepartmentError) as caught:
            await client.account("electricity", BILL)
    assert (caught.value.kind, caught.value.code, len(seen)) == ("unavailable", "bad_response", 1)


async def test_a_slow_department_times_out_as_unavailable() -> None:
    app = create_sandbox_app(clock=lambda: NOW)
    policy = ClientPolicy(connect_timeout=0.05, read_timeout=0.1, max_retries=0)
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), policy=policy, transport=httpx.ASGITransport(app=app)
    ) as client:
        app.state.faults.clear()
        await _post_fault(app, {"department": "ENG", "mode": "slow", "seconds": 2.0, "count": 1})
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DepartmentError) as caught:
            await client.account("electricity", BILL)
        assert loop.time() - started < 1.0
        assert (caught.value.kind, caught.value.code) == ("unavailable", "timeout")
        assert (await client.account("electricity", BILL))["number"] == BILL, (
            "the fault was used up"
        )


async def test_the_circuit_opens_after_five_failures_and_half_opens_after_thirty_seconds() -> None:
    clock = Clock()
    handler, seen = answers(error(503, "unavailable"))
    async with make_client(handler, ClientPolicy(max_retries=0), clock=clock) as client:
        for _ in range(5):
            with pytest.raises(DepartmentError):
                await client.account("electricity", BILL)
        assert len(seen) == 5 and client.circuit_state("ENG") is CircuitState.OPEN
        with pytest.raises(DepartmentError) as caught:
            await client.account("electricity", BILL)
        assert (caught.value.code, len(seen)) == ("circuit_open", 5), (
            "an open circuit fails fast, without HTTP"
        )
        assert caught.value.retry_after == pytest.approx(30.0)
        assert client.availability()["MUN"] == "closed", "each department has its own breaker"

        clock.now += 29.0
        with pytest.raises(DepartmentError, match="circuit"):
            await client.account("electricity", BILL)
        clock.now += 1.0
        assert client.circuit_state("ENG") is CircuitState.HALF_OPEN
        with pytest.raises(DepartmentError) as caught:
            await client.account("electricity", BILL)
        assert (caught.value.code, len(seen)) == ("unavailable", 6), (
            "one trial call went through and failed"
        )
        assert client.circuit_state("ENG") is CircuitState.OPEN

    handler, seen = answers(error(503, "unavailable"), error(503, "unavailable"), ok())
    clock = Clock()
    async with make_client(
        handler, ClientPolicy(max_retries=0, failure_threshold=2, reset_after=10), clock=clock
    ) as client:
        for _ in range(2):
            with pytest.raises(DepartmentError):
                await client.account("electricity", BILL)
        clock.now += 10
        assert (await client.account("electricity", BILL))["number"] == BILL
        assert client.circuit_state("ENG") is CircuitState.CLOSED


async def test_half_open_lets_one_trial_through_at_a_time() -> None:
    clock = Clock()
    release = asyncio.Event()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 1:
            return error(503, "unavailable")
        await release.wait()
        return ok()

    async with make_client(
        handler, ClientPolicy(max_retries=0, failure_threshold=1), clock=clock
    ) as client:
        with pytest.raises(DepartmentError):
            await client.account("electricity", BILL)
        clock.now += 30
        trial = asyncio.create_task(client.account("electricity", BILL))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        with pytest.raises(DepartmentError, match="circuit"):
            await client.account("electricity", BILL)
        release.set()
        assert (await trial)["number"] == BILL
        assert client.circuit_state("ENG") is CircuitState.CLOSED


async def test_answers_that_are_4xx_do_not_open_the_circuit() -> None:
    handler, seen = answers(error(404, "not_found"))
    async with make_client(handler, ClientPolicy(failure_threshold=2)) as client:
        for _ in range(4):
            with pytest.raises(DepartmentError, match="not_found"):
                await client.account("electricity", BILL)
        assert client.circuit_state("ENG") is CircuitState.CLOSED and len(seen) == 4


def test_the_breaker_on_its_own() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5, clock=clock)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED, "failures must be consecutive"
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    clock.now += 5
    assert breaker.allow() and not breaker.allow(), "one trial at a time"
    breaker.release()
    assert breaker.allow()


async def test_malformed_identifiers_are_refused_without_calling_anyone() -> None:
    handler, seen = answers(ok())
    async with make_client(handler) as client:
        for call in (
            client.account("electricity", "12345"),
            client.account("gas", "12345"),
            client.application("REV-2026-000123-A"),
            client.application("hello"),
            client.grievance("GRV-XYZ-2026-000123-K"),
            client.document("adangal", "123/2A"),
        ):
            with pytest.raises(DepartmentError) as caught:
                await call
            assert caught.value.kind == "invalid"
    assert seen == []


async def test_routes_by_reference_and_normalises_what_citizens_type() -> None:
    handler, seen = answers(ok({"ok": True}))
    async with make_client(handler) as client:
        await client.application(" mut-2026-000123-k ")
        await client.grievance("GRV-MUN-2026-000123-K")
        await client.account("electricity", "2220 1123 45678")
        await client.document("adangal", "123/2a", village="GNT0201")
        await client.info("bus_search", department="ENG", from_="VJA", to="VSP", date=NOW.date())
    assert [str(r.url) for r in seen] == [
        "http://rev.test/REV/v1/applications/MUT-2026-000123-K",
        "http://mun.test/MUN/v1/grievances/GRV-MUN-2026-000123-K",
        f"http://eng.test/ENG/v1/accounts/electricity/{BILL}",
        "http://rev.test/REV/v1/documents/adangal/123-2A?village=GNT0201",
        "http://eng.test/ENG/v1/info/bus_search?from=VJA&to=VSP&date=2026-11-16",
    ]


async def test_a_department_without_an_endpoint_is_unavailable() -> None:
    handler, _ = answers(ok())
    async with make_client(handler) as client:
        with pytest.raises(DepartmentError) as caught:
            await client.info("bus_towns")
    assert (caught.value.kind, caught.value.code, caught.value.department) == (
        "unavailable",
        "not_configured",
        "RTC",
    )


def test_tokens_stay_out_of_reprs_and_errors() -> None:
    endpoint = DepartmentEndpoint("ENG", "http://eng.test", "very-secret-token")
    assert "very-secret-token" not in repr(endpoint)
    assert "very-secret-token" not in repr(make_client(answers(ok())[0]))


def test_endpoints_from_the_environment() -> None:
    endpoints = endpoints_from_environ(
        {
            "MITRA_DEPARTMENTS_URL": "http://localhost:8090/",
            "MITRA_DEPARTMENT_ENG_URL": "https://eng.example/api",
            **{
                f"MITRA_DEPARTMENT_{c}_TOKEN": f"t-{c}"
                for c in ("REV", "MUN", "ENG", "RTC", "END", "ANC", "CMR", "GEN")
            },
        }
    )
    urls = {e.code: e.base_url for e in endpoints}
    assert urls["ENG"] == "https://eng.example/api" and urls["REV"] == "http://localhost:8090/REV"
    with pytest.raises(ValueError, match="MITRA_DEPARTMENT_REV_TOKEN"):
        endpoints_from_environ({"MITRA_DEPARTMENT_REV_URL": "http://x"})


# ----- the sandbox's fault switch, end to end -----


async def _post_fault(app: Any, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as http:
        return await http.post("/_sandbox/faults", json=body)


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_sandbox_app(clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as http:
        yield app, http


async def test_faults_make_a_department_down_then_recover(
    sandbox: tuple[Any, httpx.AsyncClient],
) -> None:
    app, http = sandbox
    response = await http.post(
        "/_sandbox/faults", json={"department": "ENG", "mode": "down", "count": 2}
    )
    assert response.status_code == 201 and response.json()["faults"][0]["remaining"] == 2
    policy = ClientPolicy(max_retries=0)
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), policy=policy, transport=httpx.ASGITransport(app=app)
    ) as client:
        for _ in range(2):
            with pytest.raises(DepartmentError) as caught:
                await client.account("electricity", BILL)
            assert (caught.value.kind, caught.value.http_status) == ("unavailable", 503)
        assert (await client.account("property_tax", "1014000123"))["number"] == "1014000123", (
            "MUN is unaffected"
        )
        assert (await client.account("electricity", BILL))["number"] == BILL
    assert (await http.get("/_sandbox/faults")).json() == {"faults": []}


async def test_retries_ride_out_a_short_outage(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = sandbox
    await http.post("/_sandbox/faults", json={"department": "REV", "mode": "error", "count": 2})
    sleeps = Sleeps()
    async with DepartmentClient(
        sandbox_endpoints("http://sandbox"), sleep=sleeps, transport=httpx.ASGITransport(app=app)
    ) as client:
        answer = await client.application("REV-2026-000123-K")
    assert answer["reference"] == "REV-2026-000123-K" and len(sleeps.delays) == 2


async def test_faults_can_be_listed_and_cleared(sandbox: tuple[Any, httpx.AsyncClient]) -> None:
    _, http = sandbox
    await http.post("/_sandbox/faults", json={"department": "ENG", "mode": "slow", "seconds": 0.01})
    await http.post("/_sandbox/faults", json={"mode": "error"})
    assert [f["department"] for f in (await http.get("/_sandbox/faults")).json()["faults"]] == [
        "ENG",
        None,
    ]
    assert (await http.delete("/_sandbox/faults", params={"department": "ENG"})).json()["faults"][
        0
    ]["department"] is None
    assert (await http.delete("/_sandbox/faults")).json() == {"faults": []}
    bad = await http.post("/_sandbox/faults", json={"department": "XYZ", "mode": "down"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    bad = await http.post("/_sandbox/faults", json={"mode": "explode"})
    assert bad.status_code == 400
