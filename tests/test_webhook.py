"""The webhook: handshake, signature, size and shape checks; acknowledged means stored."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from mitra.whatsapp import envelopes
from mitra.whatsapp.signature import sign
from tests.conftest import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN

PATH = "/webhooks/whatsapp"


@pytest.fixture
async def client(mitra_app: Any) -> Any:
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as c:
        yield c


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign(body, secret), "content-type": "application/json"}


def count_deliveries(db: Any) -> int:
    n = db.execute("SELECT count(*) AS n FROM webhook_deliveries").fetchone()["n"]
    db.commit()
    return int(n)


async def test_handshake_echoes_the_challenge_for_the_right_token(client: Any) -> None:
    r = await client.get(
        PATH,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert r.status_code == 200
    assert r.text == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "x"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "x"},
        {"hub.challenge": "x"},
    ],
)
async def test_handshake_refuses_anything_else(client: Any, params: dict[str, str]) -> None:
    r = await client.get(PATH, params=params)
    assert r.status_code == 403


async def test_a_signed_update_is_stored_encrypted_before_200(client: Any, db: Any) -> None:
    body = orjson.dumps(
        envelopes.text_envelope("919876543210", "నమస్తే", phone_number_id=PHONE_NUMBER_ID)
    )
    r = await client.post(PATH, content=body, headers=signed(body))
    assert r.status_code == 200
    row = db.execute("SELECT body_enc FROM webhook_deliveries").fetchone()
    assert row is not None, "acknowledged but not stored"
    stored = bytes(row["body_enc"])
    assert b"919876543210" not in stored, "phone number stored in the clear"


async def test_missing_signature_is_401_and_stores_nothing(client: Any, db: Any) -> None:
    body = orjson.dumps(
        envelopes.text_envelope("919876543210", "Hi", phone_number_id=PHONE_NUMBER_ID)
    )
    r = await client.post(PATH, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert "X-Hub-Signature-256" in r.json()["error"]
    assert count_deliveries(db) == 0


async def test_forged_signature_is_403_and_stores_nothing(client: Any, db: Any) -> None:
    body = orjson.dumps(
        envelopes.text_envelope("919876543210", "Hi", phone_number_id=PHONE_NUMBER_ID)
    )
    r = await client.post(PATH, content=body, headers=signed(body, "not-the-secret"))
    assert r.status_code == 403
    assert count_deliveries(db) == 0


async def test_signature_is_over_the_raw_bytes_not_reserialised_json(client: Any, db: Any) -> None:
    # Meta escapes non-ASCII as \uXXXX: the signature covers exactly those bytes.
    body = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}],"x":"\\u0c24"}'
    assert (await client.post(PATH, content=body, headers=signed(body))).status_code == 200
    tampered = body.replace(b"\\u0c24", "త".encode())
    r = await client.post(PATH, content=tampered, headers=signed(body))
    assert r.status_code == 403
    assert count_deliveries(db) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object":"page","entry":[]}',
        b'{"object":"whatsapp_business_account"}',
        # a message without an id, and one with a timestamp that is not a number
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"91987","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"91987","id":"wamid.1","timestamp":"soon","type":"text",'
        b'"text":{"body":"x"}}]}}]}]}',
    ],
)
async def test_malformed_bodies_are_400_and_store_nothing(
    client: Any, db: Any, body: bytes
) -> None:
    r = await client.post(PATH, content=body, headers=signed(body))
    assert r.status_code == 400
    assert r.json()["error"]
    assert count_deliveries(db) == 0


async def test_oversized_body_is_413(client: Any, db: Any, settings: Any) -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[],"pad":"'
        + b"x" * settings.webhook_max_bytes
        + b'"}'
    )
    r = await client.post(PATH, content=body, headers=signed(body))
    assert r.status_code == 413
    assert count_deliveries(db) == 0


async def test_healthz_answers_when_the_database_does(client: Any) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


async def test_the_webhook_is_also_routed_inside_the_plain_app(settings: Any, db: Any) -> None:
    from mitra.web.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as c:
            params = {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "42",
            }
            assert (await c.get(PATH, params=params)).text == "42"
            body = orjson.dumps(
                envelopes.text_envelope("919876543210", "Hi", phone_number_id=PHONE_NUMBER_ID)
            )
            assert (await c.post(PATH, content=body, headers=signed(body))).status_code == 200
    assert count_deliveries(db) == 1
