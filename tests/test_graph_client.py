"""The Graph client turns every failure into a GraphError with the right action, and never
lets the access token out; the error taxonomy and the backoff follow shared/WHATSAPP.md."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from mitra.whatsapp.errors import (
    ErrorAction,
    alerts_operator,
    backoff_seconds,
    classify,
    retryable,
)
from mitra.whatsapp.fake_graph import FakeGraph, FakeGraphConfig, create_fake_graph_app
from mitra.whatsapp.graph import GraphClient, GraphError, SendResult, default_http_client

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-secret-token-do-not-leak-42"
BASE_URL = "http://graph.test/v25.0"
RAVI = "919876543210"


def text(to: str, body: str) -> dict[str, object]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


@contextlib.asynccontextmanager
async def client_and_fake(token: str = TOKEN) -> AsyncIterator[tuple[GraphClient, FakeGraph]]:
    fake = create_fake_graph_app(
        FakeGraphConfig(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=TOKEN,
            app_secret="secret",
            webhook_url=None,
        )
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    try:
        yield GraphClient(BASE_URL, token, PHONE_NUMBER_ID, http), fake
    finally:
        await http.aclose()
        await fake.aclose()


@contextlib.asynccontextmanager
async def client_over(
    handler: Callable[[httpx.Request], httpx.Response],
) -> AsyncIterator[GraphClient]:
    """A client whose every request is answered (or refused) by `handler`."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        yield GraphClient(BASE_URL, TOKEN, PHONE_NUMBER_ID, http)


async def test_send_returns_the_wamid_meta_assigned() -> None:
    async with client_and_fake() as (client, fake):
        result = await client.send(text(RAVI, "నమస్తే"))

        assert isinstance(result, SendResult)
        assert result.wamid == fake.sent(RAVI)[0].wamid


@pytest.mark.parametrize(
    ("code", "http_status", "action"),
    [
        (130429, 400, ErrorAction.THROTTLE_NUMBER),
        (131056, 400, ErrorAction.THROTTLE_CITIZEN),
        (4, 400, ErrorAction.THROTTLE_APP),
        (80007, 400, ErrorAction.THROTTLE_APP),
        (131000, 500, ErrorAction.TRANSIENT),
        (131016, 503, ErrorAction.TRANSIENT),
        (131047, 400, ErrorAction.OUTSIDE_WINDOW),
        (131026, 400, ErrorAction.UNDELIVERABLE),
        (131050, 400, ErrorAction.DO_NOT_RETRY),
        (132001, 400, ErrorAction.BAD_REQUEST),
        (10, 403, ErrorAction.AUTH),
    ],
)
async def test_each_graph_error_comes_out_with_its_action(
    code: int, http_status: int, action: ErrorAction
) -> None:
    async with client_and_fake() as (client, fake):
        fake.inject_error(code, http_status)
        with pytest.raises(GraphError) as caught:
            await client.send(text(RAVI, "Hi"))

        error = caught.value
        assert (error.code, error.http_status, error.action) == (code, http_status, action)
        assert error.message and error.details and error.fbtrace_id
        assert fake.sent() == []


async def test_a_message_over_the_limits_is_a_bad_request() -> None:
    async with client_and_fake() as (client, _):
        too_long = {**text(RAVI, "x"), "text": {"body": "x" * 4097}}
        with pytest.raises(GraphError) as caught:
            await client.send(too_long)
        assert (caught.value.code, caught.value.action) == (100, ErrorAction.BAD_REQUEST)


async def test_a_wrong_token_is_an_auth_error() -> None:
    async with client_and_fake(token="EAAG-stale-token") as (client, _):
        with pytest.raises(GraphError) as caught:
            await client.send(text(RAVI, "Hi"))
        assert (caught.value.code, caught.value.http_status) == (190, 401)
        assert caught.value.action is ErrorAction.AUTH


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("connection refused"),
    ],
)
async def test_timeouts_and_connection_errors_are_transient(failure: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    async with client_over(handler) as client:
        with pytest.raises(GraphError) as caught:
            await client.send(text(RAVI, "Hi"))
    assert (caught.value.code, caught.value.http_status) == (None, None)
    assert caught.value.action is ErrorAction.TRANSIENT


async def test_a_5xx_without_an_error_body_is_transient() -> None:
    bad_gateway = httpx.Response(502, text="<html>Bad gateway</html>")
    async with client_over(lambda request: bad_gateway) as client:
        with pytest.raises(GraphError) as caught:
            await client.send(text(RAVI, "Hi"))
    assert (caught.value.code, caught.value.http_status) == (None, 502)
    assert caught.value.action is ErrorAction.TRANSIENT


async def test_the_token_never_appears_in_an_error() -> None:
    def echoing(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return httpx.Response(
            400,
            json={
                "error": {
                    "message": f"Invalid OAuth access token {TOKEN}",
                    "code": 190,
                    "error_data": {"details": f"token {TOKEN} expired"},
                }
            },
        )

    def refusing(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect with {TOKEN}")

    errors: list[GraphError] = []
    for handler in (echoing, refusing):
        async with client_over(handler) as client:
            with pytest.raises(GraphError) as caught:
                await client.send(text(RAVI, "Hi"))
            errors.append(caught.value)
            assert TOKEN not in repr(client)

    async with client_and_fake() as (client, fake):
        fake.inject_error(131056)
        with pytest.raises(GraphError) as caught:
            await client.send(text(RAVI, "Hi"))
        errors.append(caught.value)

    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert TOKEN not in error.message
        assert TOKEN not in (error.details or "")


async def test_mark_read_reaches_the_graph() -> None:
    async with client_and_fake() as (client, fake):
        await client.mark_read("wamid.FROMRAVI", typing=True)
        assert fake.reads == ["wamid.FROMRAVI"]


async def test_media_round_trip() -> None:
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    async with client_and_fake() as (client, _):
        media_id = await client.upload_media(image, "image/png", "receipt.png")
        info = await client.media_info(media_id)
        assert (info["mime_type"], info["file_size"]) == ("image/png", len(image))
        assert await client.download(info["url"]) == image

        with pytest.raises(GraphError) as caught:
            await client.media_info("424242")
        assert (caught.value.code, caught.value.action) == (100, ErrorAction.BAD_REQUEST)


async def test_the_default_http_client_is_bounded_in_time() -> None:
    http = default_http_client(timeout=7.0)
    try:
        assert http.timeout.read == 7.0
        assert http.timeout.connect == 5.0
    finally:
        await http.aclose()


# ---- the error taxonomy (shared/WHATSAPP.md, "Errors that steer retries") --------------------

CLASSIFICATION = [
    (130429, 400, ErrorAction.THROTTLE_NUMBER),
    (131056, 400, ErrorAction.THROTTLE_CITIZEN),
    (4, 400, ErrorAction.THROTTLE_APP),
    (80007, 400, ErrorAction.THROTTLE_APP),
    (131000, 500, ErrorAction.TRANSIENT),
    (131016, 503, ErrorAction.TRANSIENT),
    (1, 500, ErrorAction.TRANSIENT),
    (2, 503, ErrorAction.TRANSIENT),
    (None, 500, ErrorAction.TRANSIENT),
    (None, 503, ErrorAction.TRANSIENT),
    (None, None, ErrorAction.TRANSIENT),  # timeout or connection error
    (131047, 400, ErrorAction.OUTSIDE_WINDOW),
    (131026, 400, ErrorAction.UNDELIVERABLE),
    (131050, 400, ErrorAction.DO_NOT_RETRY),
    (131049, 400, ErrorAction.DO_NOT_RETRY),
    (100, 400, ErrorAction.BAD_REQUEST),
    (131008, 400, ErrorAction.BAD_REQUEST),
    (131009, 400, ErrorAction.BAD_REQUEST),
    (132000, 400, ErrorAction.BAD_REQUEST),
    (132001, 400, ErrorAction.BAD_REQUEST),
    (132016, 400, ErrorAction.BAD_REQUEST),
    (0, 401, ErrorAction.AUTH),
    (190, 401, ErrorAction.AUTH),
    (10, 403, ErrorAction.AUTH),
    (200, 403, ErrorAction.AUTH),
    (299, 403, ErrorAction.AUTH),
    (424242, 400, ErrorAction.BAD_REQUEST),  # unknown code, 4xx
    (424242, 500, ErrorAction.TRANSIENT),  # unknown code, 5xx
    (None, 404, ErrorAction.BAD_REQUEST),
    (132017, 400, ErrorAction.BAD_REQUEST),
    (300, 502, ErrorAction.TRANSIENT),
]


@pytest.mark.parametrize(("code", "http_status", "action"), CLASSIFICATION)
def test_classify(code: int | None, http_status: int | None, action: ErrorAction) -> None:
    assert classify(code, http_status) is action


def test_a_known_code_decides_whatever_the_http_status() -> None:
    assert classify(131056, 500) is ErrorAction.THROTTLE_CITIZEN
    assert classify(131000, 400) is ErrorAction.TRANSIENT


def test_what_is_retried_and_what_alerts_the_operator() -> None:
    assert {a for a in ErrorAction if retryable(a)} == {
        ErrorAction.THROTTLE_NUMBER,
        ErrorAction.THROTTLE_CITIZEN,
        ErrorAction.THROTTLE_APP,
        ErrorAction.TRANSIENT,
    }
    assert {a for a in ErrorAction if alerts_operator(a)} == {
        ErrorAction.BAD_REQUEST,
        ErrorAction.AUTH,
    }


@pytest.mark.parametrize(
    ("action", "ceilings"),
    [
        (ErrorAction.TRANSIENT, {1: 1, 2: 2, 3: 4, 9: 256, 10: 300, 1000: 300}),
        (ErrorAction.THROTTLE_CITIZEN, {1: 4, 2: 16, 3: 64, 5: 1024, 6: 3600, 1000: 3600}),
        (ErrorAction.THROTTLE_APP, {1: 60, 2: 120, 4: 480, 5: 900, 1000: 900}),
    ],
)
def test_backoff_is_full_jitter_under_an_exponential_ceiling(
    action: ErrorAction, ceilings: dict[int, float]
) -> None:
    rng = random.Random(7)
    for attempt, ceiling in ceilings.items():
        draws = [backoff_seconds(action, attempt, rng) for _ in range(500)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.9 * ceiling  # the whole range is used…
        assert min(draws) < 0.1 * ceiling  # …from near zero


def test_a_throttled_number_waits_one_to_two_seconds() -> None:
    rng = random.Random(7)
    draws = [backoff_seconds(ErrorAction.THROTTLE_NUMBER, attempt, rng) for attempt in range(50)]
    assert all(1.0 <= d <= 2.0 for d in draws)


@pytest.mark.parametrize("action", [a for a in ErrorAction if not retryable(a)])
def test_backoff_refuses_actions_that_are_not_retried(action: ErrorAction) -> None:
    with pytest.raises(ValueError):
        backoff_seconds(action, 1)
