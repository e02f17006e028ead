"""The e-KYC step-up over real HTTP: `HttpEkycProvider` against the sandbox under uvicorn.

A citizen types their Aadhaar number; an OTP goes to the linked mobile; the citizen types the
OTP; Mitra gets a token and the last four digits, never keeping the number.
"""

from __future__ import annotations

import logging
import re
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from mitra.identity import (
    SANDBOX_OTP,
    EkycDesk,
    EkycError,
    HttpEkycProvider,
    create_ekyc_sandbox_app,
)
from tests.identity.ekyc_helpers import FrozenClock, aadhaar, broken, serving

TOKEN = "sandbox-ekyc-token"
LAKSHMI = aadhaar("23456789012")  # 234567890124
RAVI = aadhaar("98765432109")


@dataclass
class Sandbox:
    url: str
    desk: EkycDesk
    clock: FrozenClock
    provider: HttpEkycProvider


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    clock = FrozenClock()
    app = create_ekyc_sandbox_app(clock=clock, token=TOKEN)
    with serving(app) as url, HttpEkycProvider(url, TOKEN, timeout=5.0) as provider:
        yield Sandbox(url, app.state.desk, clock, provider)


def test_a_number_failing_verhoeff_is_refused_before_any_request() -> None:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    client = httpx.Client(transport=httpx.MockTransport(record))
    provider = HttpEkycProvider("http://ekyc.test", TOKEN, client=client)
    for typed in (broken(LAKSHMI), "1" + LAKSHMI[1:], LAKSHMI[:11], LAKSHMI + "0", "abcd"):
        with pytest.raises(EkycError) as refused:
            provider.start(typed)
        assert refused.value.kind == "invalid_aadhaar"
    assert requests == []


def test_lakshmi_verifies_her_aadhaar_with_the_otp(sandbox: Sandbox) -> None:
    sent = sandbox.provider.start("2345 6789 0124")  # typed with spaces, as on the card
    assert re.fullmatch(r"XXXXXX\d{4}", sent.masked_mobile)
    assert sent.expires_in == 600

    verified = sandbox.provider.verify(sent.txn_id, SANDBOX_OTP)

    assert verified.last4 == "0124"
    assert len(verified.name.split()) >= 2
    assert verified.year_of_birth is not None and 1950 <= verified.year_of_birth <= 2005
    assert verified.gender in ("F", "M")
    assert sandbox.desk.last4_for(verified.token) == "0124"
    assert sandbox.desk.pending_count() == 0

    # The same number is the same person, with the same linked mobile, every time.
    again = sandbox.provider.start(LAKSHMI)
    assert again.masked_mobile == sent.masked_mobile
    second = sandbox.provider.verify(again.txn_id, SANDBOX_OTP)
    assert (second.name, second.year_of_birth, second.gender) == (
        verified.name,
        verified.year_of_birth,
        verified.gender,
    )
    assert second.token != verified.token


def test_a_transaction_is_used_once(sandbox: Sandbox) -> None:
    sent = sandbox.provider.start(LAKSHMI)
    sandbox.provider.verify(sent.txn_id, SANDBOX_OTP)
    with pytest.raises(EkycError) as refused:
        sandbox.provider.verify(sent.txn_id, SANDBOX_OTP)
    assert refused.value.kind == "not_found"


def test_wrong_otps_count_down_and_then_lock_the_transaction(sandbox: Sandbox) -> None:
    sent = sandbox.provider.start(LAKSHMI)
    kinds = []
    for _ in range(3):
        with pytest.raises(EkycError) as refused:
            sandbox.provider.verify(sent.txn_id, "000000")
        kinds.append((refused.value.kind, refused.value.attempts_left))
    assert kinds == [("wrong_otp", 2), ("wrong_otp", 1), ("too_many_attempts", 0)]

    # Locked: even the right OTP is refused now; a new OTP opens a new transaction.
    with pytest.raises(EkycError) as locked:
        sandbox.provider.verify(sent.txn_id, SANDBOX_OTP)
    assert locked.value.kind == "too_many_attempts"
    fresh = sandbox.provider.start(LAKSHMI)
    assert sandbox.provider.verify(fresh.txn_id, SANDBOX_OTP).last4 == LAKSHMI[-4:]


def test_an_otp_expires_after_ten_minutes(sandbox: Sandbox) -> None:
    on_time = sandbox.provider.start(LAKSHMI)
    late = sandbox.provider.start(RAVI)
    sandbox.clock.advance(599)
    assert sandbox.provider.verify(on_time.txn_id, SANDBOX_OTP).last4 == LAKSHMI[-4:]
    sandbox.clock.advance(1)
    with pytest.raises(EkycError) as refused:
        sandbox.provider.verify(late.txn_id, SANDBOX_OTP)
    assert refused.value.kind == "expired"


def test_a_number_may_ask_for_five_otps_an_hour(sandbox: Sandbox) -> None:
    for _ in range(5):
        sandbox.provider.start(LAKSHMI)
        sandbox.clock.advance(60)
    with pytest.raises(EkycError) as refused:
        sandbox.provider.start(LAKSHMI)
    assert refused.value.kind == "too_many_attempts"
    sandbox.provider.start(RAVI)  # another number is not held up

    sandbox.clock.advance(3600 - 5 * 60 + 1)  # the first request is now an hour old
    sandbox.provider.start(LAKSHMI)


def test_an_unknown_transaction_is_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(EkycError) as refused:
        sandbox.provider.verify("no-such-transaction", SANDBOX_OTP)
    assert refused.value.kind == "not_found"


def test_a_refused_token_is_unavailable_and_logged_without_the_token(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with HttpEkycProvider(sandbox.url, "wrong-token") as provider, pytest.raises(EkycError) as e:
        provider.start(LAKSHMI)
    assert e.value.kind == "unavailable"
    assert "token refused" in str(e.value)
    assert any("refused our token" in r.getMessage() for r in caplog.records)
    assert "wrong-token" not in caplog.text


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (httpx.Response(503, json={"error": "unavailable"}), "HTTP 503"),
        (httpx.Response(500, text="<html>oops</html>"), "HTTP 500"),
        (httpx.Response(200, json={"txn_id": "t1"}), "malformed"),
        (httpx.Response(200, text="not json"), "HTTP 200"),
        (httpx.Response(418, json={"error": "teapot"}), "HTTP 418 teapot"),
    ],
)
def test_answers_we_cannot_use_are_unavailable(answer: httpx.Response, detail: str) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    provider = HttpEkycProvider("http://ekyc.test", TOKEN, client=client)
    with pytest.raises(EkycError) as refused:
        provider.start(LAKSHMI)
    assert refused.value.kind == "unavailable"
    assert detail in str(refused.value)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.ConnectError])
def test_timeouts_and_connection_errors_are_unavailable(failure: type[httpx.HTTPError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure("boom", request=request)  # type: ignore[call-arg]

    provider = HttpEkycProvider(
        "http://ekyc.test", TOKEN, client=httpx.Client(transport=httpx.MockTransport(fail))
    )
    with pytest.raises(EkycError) as refused:
        provider.start(LAKSHMI)
    assert refused.value.kind == "unavailable"
    assert refused.value.detail == failure.__name__


def test_a_request_that_times_out_for_real_is_unavailable_within_the_timeout() -> None:
    # A server that accepts the connection and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with HttpEkycProvider(url, TOKEN, timeout=0.3) as provider, pytest.raises(EkycError) as e:
            provider.start(LAKSHMI)
        assert e.value.kind == "unavailable"
        assert time.monotonic() - started < 3


OTP = "482916"  # not the default, so no other string in the logs can match it by chance
WRONG_OTP = "731058"


def test_neither_the_number_nor_the_otp_reaches_a_log_or_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error"):
        caplog.set_level(logging.DEBUG, logger=name)
    clock = FrozenClock()
    app = create_ekyc_sandbox_app(otp=OTP, clock=clock, token=TOKEN)
    shown: list[str] = []
    errors: list[EkycError] = []
    with serving(app) as url, HttpEkycProvider(url, TOKEN) as provider:
        shown.append(repr(provider))
        sent = provider.start(LAKSHMI)
        shown += [repr(sent), str(sent)]
        with pytest.raises(EkycError) as wrong:
            provider.verify(sent.txn_id, WRONG_OTP)
        errors.append(wrong.value)
        verified = provider.verify(sent.txn_id, OTP)
        shown += [repr(verified), str(verified)]
        with pytest.raises(EkycError) as invalid:
            provider.start(broken(LAKSHMI))
        errors.append(invalid.value)
        clock.advance(601)
        late = provider.start(LAKSHMI)
        clock.advance(601)
        with pytest.raises(EkycError) as expired:
            provider.verify(late.txn_id, OTP)
        errors.append(expired.value)
        kept = {k: v for k, v in vars(app.state.desk).items() if k != "otp"}
        shown.append(repr(kept))  # what the sandbox keeps, bar its own fixed OTP
    with HttpEkycProvider("http://127.0.0.1:9", TOKEN, timeout=0.5) as nowhere:
        with pytest.raises(EkycError) as unreachable:
            nowhere.verify("txn", OTP)
        errors.append(unreachable.value)
        with pytest.raises(EkycError) as unreachable_start:
            nowhere.start(LAKSHMI)
        errors.append(unreachable_start.value)

    for error in errors:
        shown += [repr(error), str(error), "".join(traceback.format_exception(error))]
    assert any(r.name.startswith("httpx") for r in caplog.records)  # the loggers were on
    logged = [r.getMessage() + repr(r.args) for r in caplog.records]
    for secret in (LAKSHMI, broken(LAKSHMI), "2345 6789 0124", OTP, WRONG_OTP):
        assert not [line for line in logged + shown if secret in line], secret
