"""`mitra chat` as a person uses it: a real `mitra demo`, and the chat in a pseudo-terminal,
typed into and read as a screen. What the citizen did is checked on the server too: the
simulated WhatsApp's transcript and what Mitra sent through the fake Graph API.

The pty's whole output is kept in test-artifacts/chat/ (transcript.txt without the terminal's
escape sequences, transcript.ansi.txt with them: `cat` it in a terminal to see the colours).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest

from mitra.simulator.terminal import (
    Command,
    Option,
    Outgoing,
    Problem,
    interpret,
    message_lines,
    sse_events,
    whatsapp_text,
)
from tests.demo_process import free_port, running_demo

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "chat"
PHONE = "919800000001"
# Any escape sequence a terminal program may write between two characters of a phrase.
ESCAPES = r"(?:\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\r)*"
CONTROL = re.compile(
    r"\x1b\[(?P<params>[0-9;?]*)[ -/]*(?P<final>[@-~])"  # CSI: cursor moves, erasing, colours
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, links
    r"|\x1b[=>78]"
    r"|(?P<char>[\r\n\b])"
)


def screen(phrase: str) -> str:
    """A pattern for `phrase` as it appears on the terminal, styled or not."""
    return ESCAPES.join(re.escape(ch) for ch in phrase)


def chat_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITRA_")}
    # pexpect does not answer prompt_toolkit's cursor position requests as a terminal does.
    env.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", PYTHONUNBUFFERED="1")
    env.pop("NO_COLOR", None)
    env.pop("FORCE_COLOR", None)
    return env


def chat_command(url: str, phone: str, name: str) -> list[str]:
    return ["-m", "mitra", "chat", "--url", url, "--phone", phone, "--name", name]


class Terminal:
    """The chat in a pseudo-terminal: type lines, wait for phrases on the screen."""

    def __init__(self, url: str) -> None:
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable,
            chat_command(url, PHONE, "Ravi"),
            cwd=str(ROOT),
            env=chat_env(),
            encoding="utf-8",
            dimensions=(50, 120),
            timeout=30,
        )
        self.child.logfile_read = self.log

    def see(self, *phrases: str) -> None:
        for phrase in phrases:
            self.child.expect(screen(phrase))

    def prompt(self) -> None:
        self.child.expect_exact("›")

    def type(self, line: str) -> None:
        self.child.send(line + "\r")

    def save(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        raw = self.log.getvalue()
        (ARTIFACTS / "transcript.ansi.txt").write_text(raw)
        (ARTIFACTS / "transcript.txt").write_text(screen_log(raw))


def screen_log(raw: str) -> str:
    """What the terminal showed, as text: a small emulator of the cursor moves and erasing
    prompt_toolkit does (the prompt redrawn below each reply), keeping everything that
    scrolled by. Wide characters count as one cell: rough, but only the prompt line moves."""
    lines: list[str] = [""]
    row = col = top = 0

    def put(text: str) -> None:
        nonlocal col
        line = lines[row].ljust(col)
        lines[row] = line[:col] + text + line[col + len(text) :]
        col += len(text)

    end = 0
    for match in CONTROL.finditer(raw):
        put(raw[end : match.start()])
        end = match.end()
        final, char = match.group("final"), match.group("char")
        params = [int(p) for p in (match.group("params") or "").strip("?").split(";") if p]
        count = params[0] if params else 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            lines.extend([""] * (row + 1 - len(lines)))
        elif char == "\b":
            col = max(0, col - 1)
        elif final == "A":
            row = max(top, row - count)
        elif final == "B":
            row += count
            lines.extend([""] * (row + 1 - len(lines)))
        elif final == "C":
            col += count
        elif final == "D":
            col = max(0, col - count)
        elif final == "K":
            lines[row] = lines[row][:col] if count in (0, 1) and not params else ""
        elif final == "J" and not params:
            lines[row] = lines[row][:col]
            del lines[row + 1 :]
        elif final == "J" and params == [2]:  # cleared: a new screen below the old one
            top = row = len(lines)
            lines.append("")
            col = 0
        elif final == "H":
            row, col = top, 0
    put(raw[end:])
    return "\n".join(line.rstrip() for line in lines).strip() + "\n"


def transcript(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/simulator/api/transcript", params={"wa_id": PHONE})
    response.raise_for_status()
    return list(response.json()["events"])


def said(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the citizen sent, as the simulated WhatsApp recorded it: (kind, text)."""
    return [(e["view"]["kind"], e["view"].get("text", "")) for e in events if e["kind"] == "in"]


def rows(body: dict[str, Any]) -> list[str]:
    """The ids of the rows of a list message Mitra sent, [] for anything else."""
    interactive = body.get("interactive") or {}
    if interactive.get("type") != "list":
        return []
    return [r["id"] for s in interactive["action"]["sections"] for r in s["rows"]]


@pytest.mark.slow
def test_a_citizen_chats_with_mitra_from_a_terminal(settings: Any, db: Any, tmp_path: Path) -> None:
    with running_demo(settings.database_url, tmp_path / "demo") as url:
        term = Terminal(url)
        try:
            term.see("Mitra ✓", f"+{PHONE}", "/help")
            term.prompt()

            term.type("Hi")
            term.see("You: Hi", "Choose your language", "[1] తెలుగు", "[2] English")
            term.type("2")  # the reply button "English", by its number
            term.see("You: English", "Choose a department", "☰ Departments", "Revenue")
            term.see("[5] Temples", "[8] General services")
            term.type("5")  # the list row "Temples"
            term.see("You: Temples", "choose a service", "Srisailam darshan")

            term.type("42")  # no such option: said here, nothing sent
            term.see("There is no option 42: choose 1–10")
            term.prompt()
            term.type("/loc abc")
            term.see("Usage: /loc LAT,LON")
            term.prompt()
            term.type("/photo /no/such/file.jpg")
            term.see("No such file: /no/such/file.jpg")
            term.prompt()
            term.type("/help")
            term.see("/voice PATH", "/reset")
            term.prompt()
            term.type("/text 1")  # a number sent as it is, not a tap
            term.see("You: 1", 'service for "1"')

            # On the server: the taps went as interactive replies, the mistakes went nowhere,
            # and Mitra answered each tap with the next list.
            events = transcript(url)
            assert said(events) == [
                ("text", "Hi"),
                ("reply", "English"),
                ("reply", "Temples"),
                ("text", "1"),
            ]
            sent = httpx.get(f"{url}/fake-graph/_fake/messages", params={"to": PHONE}).json()
            lists = [rows(m["body"]) for m in sent if rows(m["body"])]
            assert lists[0][:3] == ["dept:REV", "dept:MUN", "dept:ENG"]
            assert lists[1][0] == "svc:END-01"
            assert sent[0]["body"]["interactive"]["type"] == "button"

            term.type("/reset")
            term.see("Chat reset")
            term.prompt()
            term.type("Hi")  # Mitra meets Ravi afresh: consent and language again
            term.see("You: Hi", "Choose your language", "[2] English")
            assert said(transcript(url)) == [("text", "Hi")]

            term.type("/quit")
            term.child.expect(pexpect.EOF)
        finally:
            term.child.close(force=True)
            term.save()
        assert term.child.exitstatus == 0, term.log.getvalue()[-2000:]

        # Without a terminal (a script): lines are read plainly, each answered in turn.
        piped = chat_piped(url, "919800000002", "Sita", "Hi\n2\n9\n/quit\n", timeout=120)
        assert piped.returncode == 0, piped.stderr
        assert "\x1b[" not in piped.stdout  # no colours or cursor moves into a file
        assert "You: English" in piped.stdout and "[8] General services" in piped.stdout
        assert "There is no option 9: choose 1–8" in piped.stdout


def chat_piped(
    url: str, phone: str, name: str, typed: str, *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`mitra chat` with `typed` on a pipe, as a script runs it."""
    return subprocess.run(
        [sys.executable, *chat_command(url, phone, name)],
        input=typed,
        capture_output=True,
        text=True,
        env=chat_env(),
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_chat_says_how_to_start_mitra_when_none_runs() -> None:
    result = chat_piped(f"http://127.0.0.1:{free_port()}", PHONE, "Ravi", "", timeout=60)
    assert result.returncode == 1
    assert "Cannot reach Mitra" in result.stderr and "mitra demo" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_number_taps_the_latest_menu_and_only_while_it_is_one() -> None:
    options = [Option("lang:te", "తెలుగు", row=False), Option("lang:en", "English", row=False)]
    assert interpret("2", options) == Outgoing(
        {"reply_id": "lang:en", "reply_title": "English", "list": False}
    )
    assert interpret(" 3 ", options) == Problem(
        "There is no option 3: choose 1–2, or send it as text with /text 3."
    )
    assert interpret("2", None) == Outgoing({"text": "2"})  # no menu: a number is text
    assert interpret("123456", options) == Outgoing({"text": "123456"})  # an OTP, never a tap
    assert interpret("/text 2", options) == Outgoing({"text": "2"})
    assert interpret("/loc 16.3, 80.4", None) == Outgoing(
        {"location": {"latitude": 16.3, "longitude": 80.4}}
    )
    assert isinstance(interpret("/loc 95 80", None), Problem)
    assert isinstance(interpret("/loc nan 80", None), Problem)
    assert isinstance(interpret("/nope", None), Problem)
    assert interpret("/QUIT", None) is Command.QUIT
    assert interpret("   ", options) is None


def test_a_voice_note_and_a_document_are_read_from_files(tmp_path: Path) -> None:
    voice = tmp_path / "note.opus"
    voice.write_bytes(b"OggS voice")
    sent = interpret(f"/voice {voice}", None)
    assert isinstance(sent, Outgoing)
    assert sent.fields["media"]["type"] == "audio" and sent.fields["media"]["voice"] is True
    assert sent.fields["media"]["mime_type"] == "audio/ogg"
    spaced = tmp_path / "my form.pdf"
    spaced.write_bytes(b"%PDF-1.4")
    doc = interpret(f'/doc "{spaced}" signed copy', None)
    assert isinstance(doc, Outgoing)
    assert doc.fields["media"]["filename"] == "my form.pdf"
    assert doc.fields["media"]["caption"] == "signed copy"
    assert isinstance(interpret(f"/photo {spaced}", None), Problem)  # a PDF is no photo


async def test_server_sent_events_are_parsed_as_the_spec_says() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": ping", "id: 7", 'data: {"seq": 7,', 'data: "kind": "out"}', "", "id: 8"]:
            yield line

    events = [e async for e in sse_events(lines())]
    assert [(e.id, e.data) for e in events] == [("7", '{"seq": 7,\n"kind": "out"}')]


def test_whatsapp_formatting_becomes_styles_not_markup() -> None:
    text = whatsapp_text("Pay *₹500* by _Friday_ [see] file_name_here")
    assert text.plain == "Pay ₹500 by Friday [see] file_name_here"
    styled = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styled == {"₹500": "bold", "Friday": "italic"}


def test_a_document_shows_its_file_and_where_its_qr_code_leads() -> None:
    view = {
        "kind": "document",
        "media": {
            "url": "/simulator/media/42",
            "filename": "receipt.pdf",
            "mime_type": "application/pdf",
            "size": 50_000,
            "caption": "Your receipt",
            "verify_url": "http://127.0.0.1:8000/verify/D-1",
        },
    }
    shown = [line.text.plain for line in message_lines(view, "http://127.0.0.1:8000")]
    assert any("receipt.pdf" in line for line in shown)
    assert "http://127.0.0.1:8000/simulator/media/42" in shown
    assert "QR code → http://127.0.0.1:8000/verify/D-1" in shown
