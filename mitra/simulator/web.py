"""The simulator's HTTP side, mounted at /simulator wherever the fake Graph API is served.

    GET  /simulator                    the page (static/simulator.js draws the chats)
    GET  /simulator/api/events         server-sent events: the citizens' transcripts, live
                                       (?wa_id= one citizen; Last-Event-ID or ?after= resumes)
    POST /simulator/api/send           a citizen sends text, taps a row or button, shares a
                                       location, or sends a photo, voice note or document
    POST /simulator/api/reset          a citizen starts again (see `citizens.reset`)
    GET  /simulator/api/info           the business as citizens see it
    GET  /simulator/api/places         villages, wards and mandals with their centres (the map)
    GET  /simulator/media/{id}         a photo, voice note or document in a chat

Everything a simulated citizen does goes through `FakeGraph.simulate`: a signed webhook POST
to Mitra over HTTP, as Meta sends it. Replies come back the way they reach a phone: Mitra
calls the fake Graph API, and the fake's transcript streams them to the page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field, model_validator
from sse_starlette import EventSourceResponse
from starlette.staticfiles import StaticFiles

from mitra.crypto import FieldCipher
from mitra.simulator import WA_ID, citizens
from mitra.simulator.views import event_json
from mitra.whatsapp.fake_graph import FakeGraph

log = logging.getLogger(__name__)

PREFIX = "/simulator"
HERE = Path(__file__).resolve().parent
PAGES = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)
# Shown in the page (a phone opens these itself); anything else is only downloaded, so a file
# a simulated citizen uploads can never run as a page of this origin.
INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "video/mp4",
        "application/pdf",
    }
)
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
MEDIA_BASE64_MAX = 22_000_000  # about 16 MB decoded: WhatsApp's largest audio or video


class Location(BaseModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)


class Media(BaseModel):
    type: Literal["image", "audio", "video", "document"]
    mime_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    data_base64: str = Field(min_length=1, max_length=MEDIA_BASE64_MAX)
    filename: str | None = Field(default=None, max_length=240)
    caption: str | None = Field(default=None, max_length=1024)
    voice: bool = False  # a voice note recorded in the chat, not a music file


class Send(BaseModel):
    """What a simulated citizen does: exactly one of text, reply_id, location or media."""

    wa_id: str = Field(pattern=WA_ID, description="the citizen's number, e.g. 919876543210")
    name: str = Field(default="Citizen", min_length=1, max_length=60)
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    reply_id: str | None = Field(default=None, min_length=1, max_length=256)
    reply_title: str | None = Field(default=None, max_length=72)
    list: bool = True  # a list row (True) or a reply button (False)
    location: Location | None = None
    media: Media | None = None

    @model_validator(mode="after")
    def one_thing(self) -> Send:
        given = [
            k for k in ("text", "reply_id", "location", "media") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError("send exactly one of text, reply_id, location or media")
        if self.text is not None and not self.text.strip():
            raise ValueError("text is empty")
        if self.media is not None:
            try:
                base64.b64decode(self.media.data_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("media.data_base64 is not base64") from None
        return self


class Reset(BaseModel):
    wa_id: str = Field(pattern=WA_ID)


def simulator_routes(
    fake: FakeGraph,
    pool: Callable[[], Any],
    cipher: FieldCipher,
    places: Callable[[], Any] | None = None,
) -> APIRouter:
    """`pool`: the web app's sync connection pool (for `reset`); `places`: an async callable
    returning the map's places, or None where there are no department systems to ask."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def media_url(media_id: str) -> str:
        return f"{PREFIX}/media/{media_id}"

    def as_json(event: Any) -> dict[str, Any]:
        return event_json(event, media_url, fake.media)

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        html = PAGES.get_template("simulator.html").render(
            business=fake.config.verified_name, number=fake.config.display_phone_number
        )
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": PAGE_POLICY,
                "X-Frame-Options": "DENY",
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    @router.get("/api/info")
    async def info() -> dict[str, Any]:
        return {
            "business": {
                "name": fake.config.verified_name,
                "display_phone_number": fake.config.display_phone_number,
                "verified": True,
            }
        }

    @router.get("/api/places")
    async def map_places() -> dict[str, Any]:
        if places is None:
            return {"places": []}
        try:
            return {"places": await places()}
        except Exception as exc:  # the map is a convenience; coordinates still work
            log.warning("simulator: places unavailable: %s", exc)
            return {"places": []}

    @router.get("/api/events")
    async def events(request: Request, wa_id: str | None = None, after: int = 0) -> Any:
        if wa_id is not None and not _is_wa_id(wa_id):
            raise HTTPException(422, "wa_id must be the citizen's number in digits")
        # Event ids are "<run>.<seq>": a browser reconnecting to a restarted demo (whose
        # numbers start again at 1) is told so and given the new transcript from the start.
        resume = request.headers.get("last-event-id", "")
        run, _, number = resume.rpartition(".")
        restarted = bool(resume) and not (number.isdigit() and run in ("", fake.run))
        start = int(number) if resume and not restarted else max(0, after)

        async def stream() -> AsyncIterator[dict[str, Any]]:
            seen = start
            if restarted:
                restart = {"seq": 0, "kind": "restart", "wa_id": wa_id or "", "at": time.time()}
                yield {"id": f"{fake.run}.0", "data": json.dumps(restart)}
            while True:
                # Read up to `top` at once: events added while these are sent come next time.
                top = fake.last_event
                for event in fake.events(seen, wa_id):
                    yield {"id": f"{fake.run}.{event.seq}", "data": json.dumps(as_json(event))}
                seen = max(seen, top)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(15):
                        await fake.wait_for_events(seen)

        # A ping every 15 s keeps proxies from closing a quiet stream; the browser's
        # EventSource reconnects by itself with Last-Event-ID, so nothing is lost.
        return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

    @router.get("/api/transcript")
    async def transcript(wa_id: str, after: int = 0) -> dict[str, Any]:
        """The same events as a plain list (for scripts that do not speak SSE)."""
        if not _is_wa_id(wa_id):
            raise HTTPException(422, "wa_id must be the citizen's number in digits")
        return {"events": [as_json(e) for e in fake.events(after, wa_id)]}

    @router.post("/api/send")
    async def send(body: Send) -> dict[str, Any]:
        spec = body.model_dump(exclude_none=True)
        try:
            result = await fake.simulate(spec)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        except RuntimeError as exc:
            raise HTTPException(409, str(exc)) from None
        delivered = result.status is not None and 200 <= result.status < 300
        return {"wamid": result.wamid, "delivered": delivered, "webhook_status": result.status}

    @router.post("/api/reset")
    async def reset(body: Reset) -> dict[str, Any]:
        known = await asyncio.to_thread(_reset_in_database, body.wa_id)
        forgotten = fake.forget(body.wa_id)
        return {"wa_id": body.wa_id, "known": known, "messages_forgotten": forgotten}

    def _reset_in_database(wa_id: str) -> bool:
        with pool().connection() as conn, conn.transaction():
            return citizens.reset(conn, cipher, wa_id)

    @router.get("/media/{media_id}")
    async def media(media_id: str, download: bool = False) -> Response:
        item = fake.media(media_id)
        if item is None:
            raise HTTPException(404, "no such media (WhatsApp keeps media for a while only)")
        inline = item.mime_type in INLINE_TYPES and not download
        filename = _safe_filename(item.filename or f"{media_id}.{_extension(item.mime_type)}")
        return Response(
            item.data,
            media_type=item.mime_type if inline else "application/octet-stream",
            headers={
                "Content-Disposition": f"{'inline' if inline else 'attachment'}; "
                f'filename="{filename}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=3600",
            },
        )

    return router


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def _is_wa_id(value: str) -> bool:
    return re.fullmatch(WA_ID, value) is not None


def _safe_filename(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "._- " else "_" for c in name).strip()
    return kept[:120] or "file"


def _extension(mime_type: str) -> str:
    return mime_type.split("/")[-1].split("+")[0] or "bin"
