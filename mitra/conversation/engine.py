"""The conversation engine's pure core.

`handle(session, event, now)` returns the new session and the replies; it does no I/O, so it
is tested without a database or HTTP. This first version knows consent and language choice
(DPDP Act 2023: say what we keep and why before anything else), global commands and the main
menu of departments; the catalogue-driven services replace the department placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from mitra.conversation.locale import LANGUAGE_NAMES, LANGUAGES, strings, t
from mitra.whatsapp import messages
from mitra.whatsapp.events import Choice, InboundMessage, Reaction, Text
from mitra.whatsapp.messages import OutboundMessage

DEPARTMENTS = ("REV", "MUN", "ENG", "RTC", "END", "ANC", "CMR", "GEN")

# Typed commands, in both languages, recognised at any point (lower-cased, trimmed).
COMMANDS = {
    "menu": {"menu", "hi", "hello", "hai", "start", "మెనూ", "మెను", "నమస్తే", "నమస్కారం", "హాయ్"},
    "help": {"help", "సహాయం", "సహాయము"},
    "language": {"language", "lang", "భాష"},
    "stop": {"stop", "ఆపు", "ఆపండి"},
}


@dataclass(frozen=True)
class Session:
    language: str | None = None
    consented: bool = False
    state: str = "new"
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "consented": self.consented,
            "state": self.state,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Session:
        if not d:
            return cls()
        return cls(
            d.get("language"), bool(d.get("consented")), d.get("state", "new"), d.get("data") or {}
        )


@dataclass(frozen=True)
class Turn:
    session: Session
    replies: list[OutboundMessage]


def _language_buttons(body: str) -> OutboundMessage:
    return messages.reply_buttons(
        body, [(f"lang:{code}", LANGUAGE_NAMES[code]) for code in LANGUAGES]
    )


def consent_prompt() -> OutboundMessage:
    return _language_buttons(t("te", "consent") + "\n\n" + t("en", "consent"))


def main_menu(language: str) -> OutboundMessage:
    names = strings(language)["departments"]
    rows = [(f"dept:{code}", names[code], None) for code in DEPARTMENTS]
    return messages.list_message(
        t(language, "menu_body"),
        t(language, "menu_button"),
        [(t(language, "menu_section"), rows)],
    )


def command_of(text: str) -> str | None:
    word = text.strip().lower().strip("!.?")
    for command, words in COMMANDS.items():
        if word in words:
            return command
    return None


def handle(session: Session, event: InboundMessage, now: datetime) -> Turn:
    body = event.body
    if isinstance(body, Reaction):
        return Turn(session, [])  # a reaction to one of our messages needs no answer

    chosen = body.id if isinstance(body, Choice) else None
    if chosen and chosen.startswith("lang:") and chosen[5:] in LANGUAGES:
        language = chosen[5:]
        new = replace(session, language=language, consented=True, state="menu")
        return Turn(new, [main_menu(language)])

    if not session.consented or session.language is None:
        return Turn(replace(session, state="consent"), [consent_prompt()])

    language = session.language
    if isinstance(body, Text):
        command = command_of(body.text)
        if command == "menu":
            return Turn(replace(session, state="menu"), [main_menu(language)])
        if command == "help":
            return Turn(session, [messages.text(t(language, "help"))])
        if command == "language":
            return Turn(session, [_language_buttons(t(language, "language_body"))])
        if command == "stop":
            return Turn(Session(language=language), [messages.text(t(language, "stopped"))])
        return Turn(session, [messages.text(t(language, "not_understood"))])

    if chosen and chosen.startswith("dept:") and chosen[5:] in DEPARTMENTS:
        name = strings(language)["departments"][chosen[5:]]
        return Turn(session, [messages.text(t(language, "department_coming", department=name))])
    if chosen:  # a tap on an old or unknown menu: show the current one
        return Turn(replace(session, state="menu"), [main_menu(language)])

    return Turn(session, [messages.text(t(language, "unsupported"))])
