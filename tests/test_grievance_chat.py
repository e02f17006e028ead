"""The grievance conversation in the engine alone (no database): photos sent several at once
are all fetched before the chat moves on, whatever order the answers come back in; a photo
that cannot be kept among them is reported and the others are kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mitra.catalogue.examples import offered, reply_text
from mitra.catalogue.loader import default_catalogue
from mitra.conversation.engine import Effect, EffectResult, Session, handle
from mitra.whatsapp.events import Choice, InboundMessage, Location, Media, Sender, Text
from mitra.whatsapp.messages import validate

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ME = Sender(user_id=None, wa_id="919876500001", profile_name="Ravi")
AREA = {
    "location": {"lat": 16.243, "lon": 80.64},
    "village": {"code": "GNT0201", "name": {"en": "Tenali", "te": "తెనాలి"}},
    "offices": {"MUN": [{"type": "vs", "id": "VS-1", "name": {"en": "Tenali VS", "te": "తెనాలి"}}]},
}


class Chat:
    def __init__(self) -> None:
        self.session = Session(language="en", consented=True, state="menu")
        self.pending: list[Effect] = []
        self.said: list[str] = []

    def _handle(self, event: Any) -> None:
        turn = handle(self.session, event, NOW, catalogue=default_catalogue())
        self.session = turn.session
        for m in turn.replies:
            validate(m.payload)
            self.said.append(reply_text(m))
            self.offers = offered(m)
        self.pending += turn.effects

    def send(self, body: Any, kind: str = "text") -> None:
        self._handle(InboundMessage("wamid.x", ME, NOW, kind, body, None))

    def answer(self, effect: Effect, ok: bool = True, data: Any = None, error: str = "") -> None:
        self.pending.remove(effect)
        self._handle(EffectResult(effect.id, ok, data, error or None))

    def answer_lookups(self) -> None:
        while self.pending and self.pending[0].operation != "fetch_media":
            effect = self.pending[0]
            data = AREA if effect.operation == "locate" else {"found": "no"}
            self.answer(effect, data=data)


def photo(n: int) -> Media:
    return Media(f"media-{n}", "image/jpeg", None, None, None, False, "image")


def to_photos() -> Chat:
    chat = Chat()
    chat.send(Text("MUN-25"))
    chat.send(Location(16.243, 80.64, None, None), "location")
    chat.answer_lookups()
    chat.send(Text("A deep pothole at the school gate"))
    assert "Send a photo" in chat.said[-1]
    return chat


def test_three_photos_sent_at_once_are_all_kept_whatever_order_they_come_back_in() -> None:
    chat = to_photos()
    for n in (1, 2, 3):
        chat.send(photo(n), "image")
    fetches = [e for e in chat.pending if e.operation == "fetch_media"]
    assert [e.args["media_id"] for e in fetches] == ["media-1", "media-2", "media-3"]
    said = len(chat.said)
    chat.answer(fetches[2], data={"stored": 13, "kind": "image"})
    chat.answer(fetches[0], data={"stored": 11, "kind": "image"})
    assert len(chat.said) == said  # quiet until the last one is in
    chat.answer(fetches[1], data={"stored": 12, "kind": "image"})
    assert "Please check" in chat.said[-1] and "Photos: 3" in chat.said[-1]
    chat.send(Choice("opt:confirm:yes", "Yes", None, "button"), "interactive")
    [submit] = [e for e in chat.pending if e.operation == "submit_case"]
    assert sorted(int(x) for x in submit.args["attachments"].strip("[]").split(",")) == [
        11,
        12,
        13,
    ]


def test_a_bad_photo_among_good_ones_is_reported_and_the_rest_kept() -> None:
    chat = to_photos()
    chat.send(photo(1), "image")
    chat.send(photo(2), "image")
    first, second = [e for e in chat.pending if e.operation == "fetch_media"]
    chat.answer(first, ok=False, error="too_large")
    assert "too large" in chat.said[-1]
    chat.answer(second, data={"stored": 7, "kind": "image"})
    assert "Photo 1 of 3 kept" in chat.said[-1]
    chat.send(Choice("opt:photos:done", "Done", None, "button"), "interactive")
    assert "Photos: 1" in chat.said[-1]


def test_done_while_photos_are_still_being_fetched_waits_for_them() -> None:
    chat = to_photos()
    chat.send(photo(1), "image")
    chat.send(Text("done"))
    assert "Still receiving" in chat.said[-1]
    [fetch] = [e for e in chat.pending if e.operation == "fetch_media"]
    chat.answer(fetch, data={"stored": 5, "kind": "image"})
    assert "Photo 1 of 3 kept" in chat.said[-1]
