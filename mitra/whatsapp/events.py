"""What a webhook tells us, in Mitra's own terms.

`parse.parse_envelope` turns Meta's envelopes into these small frozen values; nothing
Meta-shaped travels further. `event_to_dict`/`event_from_dict` store them as JSON and read them
back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote. `user_id` (business-scoped, durable) is preferred; `wa_id` may be absent."""

    user_id: str | None
    wa_id: str | None
    profile_name: str | None

    @property
    def key(self) -> str:
        """The stable key a citizen is filed under."""
        if self.user_id:
            return f"user:{self.user_id}"
        if self.wa_id:
            return f"wa:{self.wa_id}"
        raise ValueError("sender has neither a user id nor a WhatsApp id")


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Choice:
    """A tap on one of our list rows, reply buttons or template quick-reply buttons."""

    id: str
    title: str
    description: str | None
    source: Literal["list", "button", "template_button"]


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None
    address: str | None


@dataclass(frozen=True, slots=True)
class Media:
    """An image, document, audio (`voice` for a recorded note), video or sticker."""

    media_id: str
    mime_type: str
    sha256: str | None
    caption: str | None
    filename: str | None
    voice: bool
    media_kind: str


@dataclass(frozen=True, slots=True)
class FlowReply:
    """A completed WhatsApp Flow; `response` is the decoded answers (with our flow_token)."""

    name: str | None
    body: str | None
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reaction:
    """An emoji on one of our messages; `emoji` is None when the reaction was removed."""

    emoji: str | None
    to_wamid: str | None


@dataclass(frozen=True, slots=True)
class SharedContacts:
    count: int


@dataclass(frozen=True, slots=True)
class Order:
    """A catalogue cart; `item_count` is the number of distinct products in it."""

    catalog_id: str | None
    item_count: int


@dataclass(frozen=True, slots=True)
class Unsupported:
    """Anything we do not understand: `unsupported`, `system`, or a type new to us."""

    type: str
    errors: list[dict[str, Any]]


Body = (
    Text | Choice | Location | Media | FlowReply | Reaction | SharedContacts | Order | Unsupported
)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a citizen. `kind` is WhatsApp's message type ("text", "interactive",
    "button", "image", …, or a type unknown to us); `body` says what it carries."""

    wamid: str
    sender: Sender
    sent_at: datetime
    kind: str
    body: Body
    context_wamid: str | None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What became of one of our outbound messages (sent, delivered, read, failed, …)."""

    wamid: str
    status: str
    at: datetime
    recipient_id: str | None
    callback_data: str | None
    errors: list[dict[str, Any]]


Update = InboundMessage | StatusUpdate


# --- storage --------------------------------------------------------------------------------

_BODY_TYPES: dict[str, type[Body]] = {
    "text": Text,
    "choice": Choice,
    "location": Location,
    "media": Media,
    "flow_reply": FlowReply,
    "reaction": Reaction,
    "shared_contacts": SharedContacts,
    "order": Order,
    "unsupported": Unsupported,
}
_BODY_TYPE_NAMES: dict[type[Body], str] = {cls: name for name, cls in _BODY_TYPES.items()}


def event_to_dict(ev: Update) -> dict[str, Any]:
    """A JSON-safe dict; `event_from_dict` gives back an equal event."""
    if isinstance(ev, StatusUpdate):
        return {
            "event": "status",
            "wamid": ev.wamid,
            "status": ev.status,
            "at": ev.at.isoformat(),
            "recipient_id": ev.recipient_id,
            "callback_data": ev.callback_data,
            "errors": ev.errors,
        }
    return {
        "event": "message",
        "wamid": ev.wamid,
        "sender": {
            "user_id": ev.sender.user_id,
            "wa_id": ev.sender.wa_id,
            "profile_name": ev.sender.profile_name,
        },
        "sent_at": ev.sent_at.isoformat(),
        "kind": ev.kind,
        "context_wamid": ev.context_wamid,
        "body_type": _BODY_TYPE_NAMES[type(ev.body)],
        "body": dataclasses.asdict(ev.body),
    }


def event_from_dict(d: dict[str, Any]) -> Update:
    """The inverse of `event_to_dict`; raises ValueError on a dict it did not produce."""
    event = d.get("event")
    if event == "status":
        return StatusUpdate(
            wamid=d["wamid"],
            status=d["status"],
            at=_utc(d["at"]),
            recipient_id=d["recipient_id"],
            callback_data=d["callback_data"],
            errors=d["errors"],
        )
    if event != "message":
        raise ValueError(f"not a stored event: event={event!r}")
    body_cls = _BODY_TYPES.get(d.get("body_type", ""))
    if body_cls is None:
        raise ValueError(f"unknown body_type {d.get('body_type')!r}")
    sender = d["sender"]
    return InboundMessage(
        wamid=d["wamid"],
        sender=Sender(
            user_id=sender["user_id"], wa_id=sender["wa_id"], profile_name=sender["profile_name"]
        ),
        sent_at=_utc(d["sent_at"]),
        kind=d["kind"],
        body=body_cls(**d["body"]),
        context_wamid=d["context_wamid"],
    )


def _utc(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {iso!r} has no time zone")
    return moment.astimezone(UTC)
