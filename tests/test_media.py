"""Media a citizen sends, fetched from the (fake) Graph API over HTTP: checked for type, size
and SHA-256 before it is kept, encrypted; an expired download URL is asked for again once."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mitra.media import MediaError, fetch, store
from mitra.whatsapp.fake_graph import FakeGraph, FakeGraphConfig, create_fake_graph_app
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID

BASE = "http://fake-graph.test"
JPEG = b"\xff\xd8\xff\xe0" + b"pothole on the main road" * 40


@contextlib.asynccontextmanager
async def graph(**options: Any) -> AsyncIterator[tuple[FakeGraph, GraphClient]]:
    fake = create_fake_graph_app(
        FakeGraphConfig(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=ACCESS_TOKEN,
            app_secret=APP_SECRET,
            webhook_url=None,
            **options,
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url=BASE) as h:
        yield fake, GraphClient(BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [h])


async def test_a_photo_is_fetched_checked_and_kept_encrypted_once(db: Any, cipher: Any) -> None:
    citizen = db.execute(
        "INSERT INTO citizens (wa_id_hash) VALUES (%s) RETURNING id", (b"x",)
    ).fetchone()["id"]
    async with graph() as (fake, client):
        media_id = fake.add_media(JPEG, "image/jpeg")
        fetched = await fetch(client, media_id, expected_sha256=hashlib.sha256(JPEG).hexdigest())
    assert (fetched.kind, fetched.mime_type, fetched.data) == ("image", "image/jpeg", JPEG)
    first = store(db, cipher, citizen, fetched)
    again = store(db, cipher, citizen, fetched)
    assert first["stored"] == again["stored"] and first["size"] == len(JPEG)
    row = db.execute("SELECT data_enc, sha256 FROM media").fetchone()
    assert JPEG not in bytes(row["data_enc"])
    assert cipher.decrypt_bytes(bytes(row["data_enc"]), context=b"media") == JPEG
    assert row["sha256"] == hashlib.sha256(JPEG).hexdigest()


@pytest.mark.parametrize(
    ("data", "mime", "kwargs", "kind"),
    [
        (b"PK\x03\x04 a zip", "application/zip", {}, "wrong_type"),
        (b"MZ an exe", "application/x-msdownload", {}, "wrong_type"),
        (
            JPEG,
            "image/jpeg",
            {"max_bytes": {"image": 100, "audio": 100, "document": 100}},
            "too_large",
        ),
        (JPEG, "image/jpeg", {"expected_sha256": "0" * 64}, "corrupt"),
    ],
)
async def test_media_that_is_not_what_we_take_is_refused(
    data: bytes, mime: str, kwargs: dict[str, Any], kind: str
) -> None:
    async with graph() as (fake, client):
        media_id = fake.add_media(data, mime)
        with pytest.raises(MediaError) as refused:
            await fetch(client, media_id, **kwargs)
    assert refused.value.kind == kind


async def test_an_expired_url_is_asked_for_again_then_given_up() -> None:
    # Every URL the fake gives expires at once: the retry gets a fresh one, which expires too.
    async with graph(media_url_ttl=0.0) as (fake, client):
        media_id = fake.add_media(JPEG, "image/jpeg")
        with pytest.raises(MediaError) as gone:
            await fetch(client, media_id)
    assert gone.value.kind == "expired"


async def test_a_media_id_whatsapp_no_longer_has_is_expired() -> None:
    async with graph() as (_, client):
        with pytest.raises(MediaError) as gone:
            await fetch(client, "1234567890123456")
    assert gone.value.kind == "expired"
