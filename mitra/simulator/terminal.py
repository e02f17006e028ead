"""`mitra chat`: be a citizen on WhatsApp from a terminal, for people who live in a shell.

It is the web simulator's twin and speaks only its HTTP API (`mitra.simulator.web`), never the
database: what the citizen does is a `POST /simulator/api/send` (which the fake Graph API turns
into a signed webhook, as Meta sends it), and what Mitra answers streams back as server-sent
events. So it works against any running Mitra that serves the fake Graph API, local or not, and
shows exactly what a phone would: the same views (`mitra.simulator.views`) the page draws.

The prompt stays at the bottom (prompt_toolkit's `patch_stdout`) and Mitra's replies print
above it as they arrive, as a chat does. Mitra's buttons and list rows are numbered: typing the
number taps it. When stdin is not a terminal, lines are read plainly and each waits for
Mitra's answer, so a script can hold a conversation: `printf 'Hi\\n2\\n' | mitra chat`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import json
import math
import mimetypes
import os
import re
import shlex
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from mitra.simulator import WA_ID as SIMULATED_WA_ID

API = "/simulator/api"
DEFAULT_URL = "http://127.0.0.1:8000"
WA_ID = re.compile(SIMULATED_WA_ID)  # as the simulator's API checks it
# WhatsApp offers at most 10 list rows or 3 buttons, so only a short number can be a tap:
# longer ones (an OTP, an amount, a PIN code) are always sent as text.
CHOICE = re.compile(r"[0-9]{1,2}")
MEDIA_MAX_BYTES = 16_000_000  # what the simulator's API takes (about 16 MB, base64-encoded)
STREAM_SILENCE = 45.0  # the server pings every 15 s: this long without a byte is a dead stream
RETRY_FIRST, RETRY_MAX = 0.5, 10.0  # seconds between reconnections, doubling
TYPING_SECONDS = 25.0  # WhatsApp shows "typing…" this long at most
SEND_TIMEOUT = httpx.Timeout(30.0, connect=5.0)  # a send waits for Mitra's webhook to answer
REPLY_WAIT = 30.0  # piped input: how long to wait for Mitra's first answer to a line
REPLY_QUIET = 2.0  # ... and for the rest of it: this long without a new event
# The file types a phone sends with these extensions, where `mimetypes` says otherwise or
# nothing (WhatsApp's voice notes are Opus in Ogg).
MIME_FIXES = {
    ".opus": "audio/ogg",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".amr": "audio/amr",
    ".aac": "audio/aac",
    ".webp": "image/webp",
}
MEDIA_ICONS = {"image": "🖼", "audio": "🎤", "video": "🎬", "sticker": "🏷", "document": "📄"}
EXAMPLE_PLACE = "16.3067,80.4365"  # Guntur

HELP = f"""\
Type a message and press Enter to send it to Mitra.
  1, 2, …                 tap that button or list row of Mitra's latest choices
  /text WORDS             send WORDS as they are (e.g. /text 2 sends the number 2)
  /loc LAT,LON            share a location, e.g. /loc {EXAMPLE_PLACE}
  /photo PATH [CAPTION]   send a photo
  /voice PATH             send a voice note (an audio file)
  /doc PATH [CAPTION]     send a document
  /reset                  start again: Mitra forgets your language, consent and progress
  /help                   this help
  /quit                   leave (Ctrl+D or Ctrl+C too)
Numbers of three or more digits (OTPs, amounts) are always sent as text."""


# ---- where Mitra is ------------------------------------------------------------------------


def resolve_url(url: str | None) -> str:
    """--url, else MITRA_PUBLIC_URL, else the URL the demo in MITRA_DATA_DIR wrote down, else
    the demo's default address: `mitra chat` beside `mitra demo` needs no flags."""
    if not url:
        url = os.environ.get("MITRA_PUBLIC_URL") or _demo_url() or DEFAULT_URL
    return url.strip().rstrip("/")


def _demo_url() -> str | None:
    from mitra.runtime import default_data_dir

    with contextlib.suppress(OSError):
        return (default_data_dir() / "demo-public-url").read_text().strip() or None
    return None


def normalise_phone(phone: str) -> str | None:
    """The number as WhatsApp ids it (digits, country code first), or None if it is not one;
    "+91 98765-43210" is forgiven."""
    digits = re.sub(r"[\s+()-]", "", phone)
    return digits if WA_ID.fullmatch(digits) else None


# ---- server-sent events --------------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    data: str


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """The events of a text/event-stream, by the spec's rules (comments and unknown fields
    are skipped; data lines join with newlines; a blank line ends an event). Small enough
    not to need a library."""
    event_id: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SseEvent(event_id, "\n".join(data))
            event_id, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    if data:
        yield SseEvent(event_id, "\n".join(data))


# ---- choices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """A button or list row the citizen can tap by its number."""

    id: str
    title: str
    row: bool  # a list row (True) or a reply button (False): WhatsApp replies differ


def options_of(view: Mapping[str, Any]) -> list[Option] | None:
    """The tappable options of a message in the order they are numbered, or None."""
    if view.get("kind") == "buttons":
        return [Option(str(b["id"]), str(b["title"]), row=False) for b in view["buttons"]]
    if view.get("kind") == "list":
        return [
            Option(str(r["id"]), str(r["title"]), row=True)
            for section in view["sections"]
            for r in section["rows"]
        ]
    return None


# ---- drawing -------------------------------------------------------------------------------

_FORMAT = re.compile(
    r"```(?P<mono>.+?)```"
    r"|(?<![\w*])\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s](?:[^_\n]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\s](?:[^~\n]*[^~\s])?)~(?![\w~])"
    r"|`(?P<code>[^`\n]+)`",
    re.DOTALL,
)
_STYLES = {"mono": "cyan", "bold": "bold", "italic": "italic", "strike": "strike", "code": "cyan"}


def whatsapp_text(text: str, style: str = "") -> Text:
    """WhatsApp's formatting as a terminal shows it: *bold*, _italic_, ~strike~, ```mono```.
    Built as rich Text, never markup, so a message's brackets print as they are."""
    out = Text(style=style)
    end = 0
    for match in _FORMAT.finditer(text):
        out.append(text[end : match.start()])
        group = str(match.lastgroup)
        out.append(match.group(group), style=_STYLES[group])
        end = match.end()
    out.append(text[end:])
    return out


def clock(at: float, now: float | None = None) -> str:
    """14:32 today, 12 Mar 14:32 another day (a replayed chat can be old)."""
    when = datetime.fromtimestamp(at)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    return when.strftime("%H:%M" if when.date() == today else "%d %b %H:%M")


def human_size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


@dataclass(frozen=True)
class Line:
    """One line of a drawn message, `indent` further in than the message and wrapped with
    `hang` more for its continuation lines; `wrap=False` for URLs, which the terminal must
    fold itself (a URL broken by inserted newlines can no longer be opened or copied)."""

    text: Text
    wrap: bool = True
    indent: int = 0
    hang: int = 0


def message_lines(view: Mapping[str, Any], base_url: str) -> list[Line]:
    """A message as the citizen's phone shows it (see the kinds in `views.py`)."""
    kind = str(view.get("kind") or "unknown")
    lines: list[Line] = []
    if view.get("header"):
        lines.append(Line(Text(str(view["header"]), style="bold")))
    if kind in MEDIA_ICONS:
        lines.extend(_media_lines(kind, view.get("media") or {}, base_url))
    elif kind == "location":
        lines.extend(_location_lines(view.get("location") or {}))
    elif view.get("text"):
        lines.append(Line(whatsapp_text(str(view["text"]), "dim" if kind == "unknown" else "")))
    if kind == "buttons":
        lines.append(Line(_numbered([str(b["title"]) for b in view["buttons"]])))
    elif kind == "list":
        lines.extend(_list_lines(view))
    elif kind == "link":
        link = view.get("link") or {}
        url = _absolute(str(link.get("url", "")), base_url)
        lines.append(Line(Text.assemble((f"↗ {link.get('label', '')}: ", "bold"), url), False))
    elif kind == "location_request":
        hint = f"📍 send /loc LAT,LON (e.g. /loc {EXAMPLE_PLACE})"
        lines.append(Line(Text(hint, style="bold")))
    if view.get("footer"):
        lines.append(Line(Text(str(view["footer"]), style="dim")))
    return lines or [Line(Text("(empty message)", style="dim"))]


def _numbered(titles: Sequence[str], start: int = 1) -> Text:
    out = Text()
    for number, title in enumerate(titles, start=start):
        if number > start:
            out.append("  ")
        out.append(f"[{number}]", style="bold cyan")
        out.append(f" {title}")
    return out


def _list_lines(view: Mapping[str, Any]) -> list[Line]:
    button = str(view.get("button") or "Options")
    lines = [Line(Text(f"☰ {button}", style="bold"))]
    sections = view.get("sections") or []
    number = 0
    for section in sections:
        title = str(section.get("title") or "")
        if title and (len(sections) > 1 or title != button):
            lines.append(Line(Text(title, style="bold underline"), indent=1))
        for row in section.get("rows") or []:
            number += 1
            line = Text()
            line.append(f"[{number}]", style="bold cyan")
            line.append(f" {row['title']}")
            if row.get("description"):
                line.append(f" — {row['description']}", style="dim")
            lines.append(Line(line, indent=2, hang=len(f"[{number}] ")))
    return lines


def _media_lines(kind: str, media: Mapping[str, Any], base_url: str) -> list[Line]:
    about = [str(media.get("mime_type") or "")]
    if isinstance(media.get("size"), int):
        about.append(human_size(media["size"]))
    described = ", ".join(a for a in about if a)
    head = Text(f"{MEDIA_ICONS[kind]} ")
    head.append(str(media.get("filename") or kind), style="bold")
    if described:
        head.append(f" ({described})", style="dim")
    lines = [Line(head)]
    if media.get("caption"):
        lines.append(Line(whatsapp_text(str(media["caption"]))))
    url = media.get("url")
    if url:
        lines.append(Line(Text(_absolute(str(url), base_url), style="underline"), False))
    else:
        lines.append(Line(Text("(no longer available)", style="dim")))
    verify = media.get("verify_url")
    if verify:  # a Mitra document: where its QR code leads, as a phone's camera would open it
        lines.append(
            Line(Text("QR code → ", style="dim") + Text(str(verify), style="underline"), False)
        )
    return lines


def _location_lines(location: Mapping[str, Any]) -> list[Line]:
    lat, lon = float(location.get("latitude", 0)), float(location.get("longitude", 0))
    named = ", ".join(str(location[k]) for k in ("name", "address") if location.get(k))
    head = Text("📍 ")
    head.append(f"{named} ({lat:.5f}, {lon:.5f})" if named else f"{lat:.5f}, {lon:.5f}")
    osm = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
    return [Line(head), Line(Text(osm, style="underline"), False)]


def _absolute(url: str, base_url: str) -> str:
    return f"{base_url}{url}" if url.startswith("/") else url


# ---- what the citizen typed ----------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """Something to send: the simulator API's fields besides wa_id and name."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """Input that cannot be sent, and why: shown here, nothing goes to Mitra."""

    message: str


class Command(enum.Enum):
    HELP = "help"
    RESET = "reset"
    QUIT = "quit"


Action = Outgoing | Problem | Command | None

_COMMANDS = {"/help": Command.HELP, "/?": Command.HELP, "/reset": Command.RESET}
_QUIT = {"/quit", "/exit", "/q"}


def interpret(line: str, options: Sequence[Option] | None) -> Action:
    """What a typed line means: a tap, text, a command or a mistake (None: nothing)."""
    text = line.strip()
    if not text:
        return None
    if CHOICE.fullmatch(text) and options:
        number = int(text)
        if not 1 <= number <= len(options):
            return Problem(
                f"There is no option {number}: choose 1–{len(options)}, "
                f"or send it as text with /text {number}."
            )
        option = options[number - 1]
        return Outgoing(
            {"reply_id": option.id, "reply_title": option.title[:72], "list": option.row}
        )
    if not text.startswith("/"):
        return Outgoing({"text": text})
    name, _, rest = text.partition(" ")
    name, rest = name.lower(), rest.strip()
    if name in _QUIT:
        return Command.QUIT
    if name in _COMMANDS:
        return _COMMANDS[name]
    if name == "/text":
        return Outgoing({"text": rest}) if rest else Problem("Usage: /text WORDS")
    if name in ("/loc", "/location"):
        return _location(rest)
    if name in ("/photo", "/voice", "/doc"):
        return _media(name, rest)
    return Problem(f"Unknown command {name}: /help lists them (/text sends a line as it is).")


def _location(rest: str) -> Outgoing | Problem:
    usage = Problem(
        f"Usage: /loc LAT,LON with a latitude from -90 to 90 and a longitude from -180 to "
        f"180, e.g. /loc {EXAMPLE_PLACE}"
    )
    parts = [p for p in re.split(r"[,\s]+", rest) if p]
    if len(parts) != 2:
        return usage
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return usage
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return usage
    return Outgoing({"location": {"latitude": lat, "longitude": lon}})


def _media(command: str, rest: str) -> Outgoing | Problem:
    kind = {"/photo": "image", "/voice": "audio", "/doc": "document"}[command]
    usage = Problem(f"Usage: {command} PATH" + ("" if kind == "audio" else " [CAPTION]"))
    path, caption = _path_and_caption(rest)
    if path is None:
        return usage
    if not path.is_file():
        return Problem(f"No such file: {path}")
    mime_type = MIME_FIXES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    if kind == "image" and not (mime_type or "").startswith("image/"):
        return Problem(f"{path.name} does not look like a photo; send it with /doc instead.")
    if kind == "audio" and not (mime_type or "").startswith("audio/"):
        return Problem(f"{path.name} does not look like an audio file (.ogg, .opus, .mp3, .m4a).")
    try:
        if path.stat().st_size > MEDIA_MAX_BYTES:
            return Problem(f"{path.name} is too large: the simulator takes files up to 16 MB.")
        data = path.read_bytes()
    except OSError as exc:
        return Problem(f"Cannot read {path}: {exc.strerror or exc}")
    if not data:
        return Problem(f"{path.name} is empty.")
    media: dict[str, Any] = {
        "type": kind,
        "mime_type": mime_type or "application/octet-stream",
        "data_base64": base64.b64encode(data).decode("ascii"),
    }
    if kind == "document":
        media["filename"] = path.name
    if kind == "audio":
        media["voice"] = True
    elif caption:
        media["caption"] = caption
    return Outgoing({"media": media})


def _path_and_caption(rest: str) -> tuple[Path | None, str]:
    """`PATH [CAPTION]`; a path with spaces may be quoted, or given alone unquoted."""
    if not rest:
        return None, ""
    whole = Path(rest).expanduser()
    if whole.is_file():
        return whole, ""
    try:
        words = shlex.split(rest)
    except ValueError:
        return None, ""
    if not words:
        return None, ""
    return Path(words[0]).expanduser(), " ".join(words[1:])


# ---- the chat ------------------------------------------------------------------------------


class Outcome(enum.Enum):
    STAYED = "stayed"  # nothing went to Mitra
    SENT = "sent"
    RESET = "reset"
    QUIT = "quit"


@dataclass
class Chat:
    """One citizen's conversation: what has been seen of it, what can be tapped, and the
    state shown beside the prompt."""

    http: httpx.AsyncClient
    console: Console
    base_url: str
    phone: str
    name: str
    business: str = "Mitra"
    interactive: bool = False
    last_seq: int = 0  # the last event seen: where a dropped stream resumes
    options: list[Option] | None = None  # what a number taps
    spoke_since_options: bool = False
    last_in: str | None = None  # the citizen's latest message (its ticks beside the prompt)
    last_in_state: str = ""
    typing_until: float = 0.0
    connected: bool = False
    was_connected: bool = False
    outs: int = 0  # counters the piped mode waits on
    resets: int = 0
    events: int = 0
    unsent: str = ""  # a line that could not be sent
    invalidate: Callable[[], None] = field(default=lambda: None)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set at each event

    # -- the start ---------------------------------------------------------------------------

    async def reach(self) -> tuple[str, list[dict[str, Any]]] | str:
        """The business's name and the chat so far, or a one-line reason Mitra is not there."""
        hint = "start it with `mitra demo` (or pass --url)"
        try:
            info = await self.http.get(f"{API}/info")
            if info.status_code == 404:
                return f"{self.base_url} answers, but has no citizen simulator: {hint}."
            info.raise_for_status()
            transcript = await self.http.get(f"{API}/transcript", params={"wa_id": self.phone})
            transcript.raise_for_status()
            business = info.json()["business"]["name"]
            return str(business), list(transcript.json()["events"])
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            return f"Mitra at {self.base_url} answered HTTP {code}: {hint}."
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            return f"Cannot reach Mitra at {self.base_url} ({reason}): {hint}."
        except (ValueError, LookupError, TypeError):
            return f"{self.base_url} answers, but not as Mitra's citizen simulator: {hint}."

    def header(self) -> None:
        self.console.print(Rule(Text(f" {self.business} ✓ ", style="bold green")))
        self.console.print(
            Text(f"You are {self.name} (+{self.phone}), on WhatsApp with {self.business} at ")
            + Text(self.base_url, style="underline"),
            soft_wrap=True,
        )
        self.console.print(
            Text(
                "Type a message; a number taps Mitra's button or list row. "
                "/help for commands, /quit to leave.",
                style="dim",
            )
        )

    def replay(self, history: Sequence[Mapping[str, Any]]) -> None:
        if not any(e.get("kind") in ("in", "out") for e in history):
            for event in history:  # statuses and resets only: nothing to show
                self.on_event(event, live=False)
            return
        self.console.print(Rule(Text("earlier in this chat", style="dim"), style="dim"))
        for event in history:
            self.on_event(event, live=False)
        self.console.print(Rule(style="dim"))

    # -- the stream --------------------------------------------------------------------------

    async def follow(self) -> None:
        """Mitra's side, live, for as long as the chat lasts: on a dropped connection it
        reconnects with Last-Event-ID, so nothing is lost or shown twice."""
        delay = RETRY_FIRST
        while True:
            try:
                await self._stream()
            except (httpx.HTTPError, ValueError):
                pass
            delay = RETRY_FIRST if self.connected else min(delay * 2, RETRY_MAX)
            self._set_connected(False)
            await asyncio.sleep(delay)
            with contextlib.suppress(httpx.HTTPError, ValueError):
                await self._notice_restart()

    async def _stream(self) -> None:
        async with self.http.stream(
            "GET",
            f"{API}/events",
            params={"wa_id": self.phone},
            headers={"Accept": "text/event-stream", "Last-Event-ID": str(self.last_seq)},
            timeout=httpx.Timeout(10.0, read=STREAM_SILENCE),
        ) as response:
            response.raise_for_status()
            self._set_connected(True)
            async for sse in sse_events(response.aiter_lines()):
                try:
                    event = json.loads(sse.data)
                except ValueError:
                    event = None
                if isinstance(event, dict):
                    self.on_event(event, live=True)
                elif sse.id and sse.id.isdigit():  # unreadable: skipped, never asked for again
                    self.last_seq = max(self.last_seq, int(sse.id))

    async def _notice_restart(self) -> None:
        """A restarted Mitra's simulated WhatsApp numbers its events from 1 again: resuming
        after our last one would wait for ever. Its transcript has nothing from our last event
        on (a reset adds an event, it never leaves none) exactly when it restarted."""
        if self.last_seq == 0:
            return
        response = await self.http.get(
            f"{API}/transcript", params={"wa_id": self.phone, "after": self.last_seq - 1}
        )
        response.raise_for_status()
        events = response.json().get("events") or []
        if not any(int(e.get("seq", 0)) >= self.last_seq for e in events):
            self.last_seq = 0
            self.options = None
            self.say("Mitra restarted: this chat continues on its new transcript.", "yellow")

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if not connected:
            self.say("Lost the connection to Mitra; reconnecting…", "yellow")
        elif self.was_connected:
            self.say("Reconnected.", "green")
        self.was_connected = True
        self.invalidate()

    # -- events ------------------------------------------------------------------------------

    def on_event(self, event: Mapping[str, Any], *, live: bool) -> None:
        seq = event.get("seq")
        if isinstance(seq, int):
            if seq <= self.last_seq:
                return  # already shown (a resumed stream never repeats, but be sure)
            self.last_seq = seq
        kind = event.get("kind")
        if kind == "out":
            self._mitra_said(event)
        elif kind == "in":
            self._citizen_said(event)
        elif kind == "status":
            self._status(event)
        elif kind == "typing":
            self.typing_until = time.monotonic() + TYPING_SECONDS
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_later(TYPING_SECONDS, self.invalidate)
        elif kind == "reset":
            self._reset(live)
        self.events += 1
        self.changed.set()
        self.invalidate()

    def _mitra_said(self, event: Mapping[str, Any]) -> None:
        view = event.get("view") or {}
        self.outs += 1
        self.typing_until = 0.0
        try:
            options = options_of(view)
            lines = message_lines(view, self.base_url)
        except (KeyError, TypeError, ValueError, AttributeError):
            options, lines = None, [Line(Text("(a message this terminal cannot show)", "dim"))]
        # A number taps the latest menu until Mitra has moved on: once it answers something
        # the citizen said after that menu without a new one, an old menu would take a typed
        # number (a quantity, say) as a tap.
        if options:
            self.options, self.spoke_since_options = options, False
        elif self.spoke_since_options:
            self.options = None
        heading = Text(self.business, style="bold green")
        heading.append(f" {clock(float(event.get('at') or time.time()))}", style="dim")
        self.console.print(heading)
        for line in lines:
            self._print_line(line, indent=2)

    def _citizen_said(self, event: Mapping[str, Any]) -> None:
        view = event.get("view") or {}
        if self.options:
            self.spoke_since_options = True
        self.last_in, self.last_in_state = str(event.get("wamid") or ""), "sent"
        try:
            lines = message_lines(view, self.base_url)
        except (KeyError, TypeError, ValueError, AttributeError):
            lines = [Line(Text("(a message this terminal cannot show)", "dim"))]
        first = Text.assemble(("You: ", "bold blue"), lines[0].text)
        first.append(f"  {clock(float(event.get('at') or time.time()))}", style="dim")
        self._print_line(Line(first, lines[0].wrap), indent=0)
        for line in lines[1:]:
            self._print_line(line, indent=5)

    def _status(self, event: Mapping[str, Any]) -> None:
        if event.get("wamid") != self.last_in or not self.last_in:
            return  # Mitra's own messages' ticks are Mitra's to see, not the citizen's
        state = str(event.get("state") or "")
        self.last_in_state = state
        if state == "failed":
            self.say("✗ Mitra did not get that message (its webhook did not answer).", "red")

    def _reset(self, live: bool) -> None:
        self.options, self.spoke_since_options = None, False
        self.last_in, self.last_in_state = None, ""
        self.resets += 1
        if not live:
            return
        if self.interactive:
            self.console.clear()
            self.header()
        self.say(
            f"Chat reset: Mitra will meet {self.name} as a new citizen. Say Hi to begin.", "green"
        )

    # -- the citizen's side ------------------------------------------------------------------

    async def handle(self, line: str) -> Outcome:
        """Act on one typed line."""
        action = interpret(line, self.options)
        if action is None:
            return Outcome.STAYED
        if isinstance(action, Problem | Command) and action is not Command.QUIT:
            # What was typed stays in view when nothing goes out (a sent line shows as "You").
            self.say(f"› {line.strip()}", "dim")
        if isinstance(action, Problem):
            self.say(action.message, "red")
            return Outcome.STAYED
        if action is Command.HELP:
            self.console.print(Text(HELP))
            return Outcome.STAYED
        if action is Command.QUIT:
            return Outcome.QUIT
        if action is Command.RESET:
            body = {"wa_id": self.phone}
            return Outcome.RESET if await self._post("reset", body) else Outcome.STAYED
        assert isinstance(action, Outgoing)
        body = {"wa_id": self.phone, "name": self.name, **action.fields}
        if await self._post("send", body):
            return Outcome.SENT
        self.unsent = line  # back at the prompt, to fix or send again
        return Outcome.STAYED

    async def _post(self, what: str, body: dict[str, Any]) -> bool:
        """POST to the simulator; the result shows up in the stream, problems show here."""
        try:
            response = await self.http.post(f"{API}/{what}", json=body, timeout=SEND_TIMEOUT)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            self.say(f"Not sent: cannot reach Mitra at {self.base_url} ({reason}).", "red")
            return False
        if response.status_code >= 400:
            self.say(f"Not sent: {_detail(response)}", "red")
            return False
        return True

    # -- output ------------------------------------------------------------------------------

    def say(self, message: str, style: str = "") -> None:
        self.console.print(Text(message, style=style), soft_wrap=True)

    def _print_line(self, line: Line, indent: int) -> None:
        indent += line.indent
        if not line.wrap:
            self.console.print(Text(" " * indent) + line.text, soft_wrap=True)
            return
        width = max(20, self.console.width - indent - line.hang)
        for number, part in enumerate(line.text.wrap(self.console, width)):
            part.rstrip()
            pad = indent + (line.hang if number else 0)
            self.console.print(Text(" " * pad) + part if part.plain else part, soft_wrap=True)

    def rprompt(self) -> list[tuple[str, str]]:
        """Beside the prompt: the connection, Mitra typing, the ticks of what was sent last."""
        if not self.connected:
            return [("fg:ansiyellow", "reconnecting…" if self.was_connected else "connecting…")]
        if time.monotonic() < self.typing_until:
            return [("fg:ansigreen italic", f"{self.business} is typing…")]
        ticks = {
            "sent": ("fg:ansigray", "✓"),
            "delivered": ("fg:ansigray", "✓✓"),
            "read": ("fg:ansiblue bold", "✓✓ read"),
            "failed": ("fg:ansired", "✗ not delivered"),
        }
        tick = ticks.get(self.last_in_state)
        return [tick] if tick else []

    # -- waiting (piped input) ---------------------------------------------------------------

    async def settle(self, answered: Callable[[], bool]) -> None:
        """Wait until `answered()` (or REPLY_WAIT passes), then until the events stop for
        REPLY_QUIET: Mitra's answer may come as several messages."""
        deadline = time.monotonic() + REPLY_WAIT
        while not answered() and time.monotonic() < deadline:
            await self._next_event(deadline - time.monotonic())
        while await self._next_event(REPLY_QUIET):
            pass

    async def _next_event(self, seconds: float) -> bool:
        self.changed.clear()
        try:
            await asyncio.wait_for(self.changed.wait(), max(0.0, seconds))
        except TimeoutError:
            return False
        return True


def _detail(response: httpx.Response) -> str:
    """The simulator's reason for a refusal: FastAPI's `detail`, a string or a list of
    validation errors."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        messages = [str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail]
        return "; ".join(m.removeprefix("Value error, ") for m in messages)
    return f"Mitra answered HTTP {response.status_code}."


# ---- running it ----------------------------------------------------------------------------


def run_chat(phone: str, name: str, url: str | None) -> int:
    """`mitra chat`: 0 when the citizen leaves, 1 when Mitra cannot be reached, 2 for a
    number that is not a WhatsApp number."""
    errors = Console(stderr=True, highlight=False)
    wa_id = normalise_phone(phone)
    if wa_id is None:
        errors.print(
            Text(
                f"{phone!r} is not a WhatsApp number: digits with the country code, "
                "e.g. 919876543210.",
                style="red",
            ),
            soft_wrap=True,
        )
        return 2
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        return asyncio.run(_chat(resolve_url(url), wa_id, name.strip() or "Citizen", interactive))
    except KeyboardInterrupt:
        return 0
    except _Unreachable as exc:
        errors.print(Text(str(exc), style="red"), soft_wrap=True)
        return 1


class _Unreachable(Exception):
    pass


async def _chat(base_url: str, phone: str, name: str, interactive: bool) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=SEND_TIMEOUT) as http:
        chat = Chat(http, Console(), base_url, phone, name, interactive=interactive)
        reached = await chat.reach()
        if isinstance(reached, str):
            raise _Unreachable(reached)
        chat.business, history = reached
        with _output(interactive) as console:
            chat.console = console
            chat.header()
            chat.replay(history)
            follower = asyncio.create_task(chat.follow())
            try:
                await (_prompt(chat) if interactive else _piped(chat))
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
    return 0


@contextlib.contextmanager
def _output(interactive: bool) -> Iterator[Console]:
    """A console that prints above the prompt in a terminal: rich writes through
    prompt_toolkit's stdout proxy (raw, so rich's colours pass), which redraws the prompt
    below. Without a terminal, plain stdout."""
    if not interactive:
        yield Console(highlight=False, markup=False, emoji=False)
        return
    from prompt_toolkit.patch_stdout import patch_stdout

    with patch_stdout(raw=True):
        # `file` unset: rich writes to whatever sys.stdout is, the proxy, at each print.
        yield Console(force_terminal=True, highlight=False, markup=False, emoji=False)


async def _prompt(chat: Chat) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.styles import Style

    # The typed line is erased once sent: the stream shows it as "You: …" when Mitra's
    # simulated WhatsApp has it (a tap shows as the title tapped), so it appears once.
    session: PromptSession[str] = PromptSession(
        erase_when_done=True,
        rprompt=chat.rprompt,
        style=Style.from_dict({"prompt": "bold ansiblue"}),
    )
    chat.invalidate = session.app.invalidate
    while True:
        unsent, chat.unsent = chat.unsent, ""
        try:
            line = await session.prompt_async([("class:prompt", "› ")], default=unsent)
        except (EOFError, KeyboardInterrupt):
            return
        if await chat.handle(line) is Outcome.QUIT:
            return


async def _piped(chat: Chat) -> None:
    """Lines from a pipe or file, each answered before the next is read, so a number taps
    the menu Mitra answered the line before with."""
    lines = _stdin_lines()
    while True:
        line = await lines.get()
        if line is None:
            return
        outs, resets = chat.outs, chat.resets
        outcome = await chat.handle(line)
        if outcome is Outcome.QUIT:
            return
        if outcome is Outcome.SENT:
            await chat.settle(lambda: chat.outs > outs)  # noqa: B023 - awaited right here
        elif outcome is Outcome.RESET:
            await chat.settle(lambda: chat.resets > resets)  # noqa: B023


def _stdin_lines() -> asyncio.Queue[str | None]:
    """stdin's lines (None at its end), read by a daemon thread: a blocking read in the
    event loop's executor would keep Ctrl+C from ending the chat until Enter was pressed."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        with contextlib.suppress(RuntimeError):  # the chat ended first: the loop is closed
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="mitra-chat-stdin", daemon=True).start()
    return queue
