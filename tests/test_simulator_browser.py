"""The citizen simulator in a real browser (Debian's chromium, driven by Playwright through
`executable_path`; never a downloaded browser), against a real `mitra demo` child process.

A citizen says "Hi", chooses Telugu, finds the temple e-hundi through the menus, gives a
donation, pays on the sandbox gateway's page (which opens from the chat as on a phone), and
opens the signed receipt that arrives in the chat; the ticks of every message come from the
status webhooks. A second citizen talks side by side in English. Screenshots go to
test-artifacts/simulator/ (the README shows one of them)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_pdf
from tests.demo_process import running_demo
from tests.test_console_browser import CHROMIUM, FLAGS, fresh_screenshots

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "simulator"
SITA = "919800000021"
RAVI = "919800000022"


def pothole_png(width: int = 240, height: int = 150) -> bytes:
    """A real PNG (a grey road with a dark pothole), made here so the chat can draw it."""
    rows = b""
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            inside = ((x - 130) / 55) ** 2 + ((y - 80) / 28) ** 2 <= 1
            shade = 45 if inside else 128 + (x + y) % 7
            row += bytes([shade, shade, shade - 6])
        rows += bytes(row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


WAIT = 30_000  # ms: this machine can be slow, and a payment goes through three systems


@pytest.fixture
def artifacts() -> Path:
    return fresh_screenshots(ARTIFACTS)


async def choose_row(phone: Any, row_id: str) -> None:
    """Open the latest list message's sheet, pick a row, send."""
    await phone.locator("li.out[data-kind=list] .row-button").last.click()
    sheet = phone.locator(".list-sheet")
    await sheet.locator(f"label[data-row-id='{row_id}']").click()
    await sheet.locator(".sheet-send").click()


async def attach(phone: Any, kind: str, path: Path) -> None:
    """The paperclip, then Photo or Voice note, then a file from this computer."""
    await phone.locator(".attach").click()
    async with phone.page.expect_file_chooser() as chooser:
        await phone.locator(f".attach-menu button[data-kind={kind}]").click()
    await (await chooser.value).set_files(str(path))


async def say(phone: Any, text: str) -> None:
    await phone.locator(".composer .text").fill(text)
    await phone.locator(".composer .send").click()


@pytest.mark.slow
async def test_a_citizen_donates_and_opens_the_receipt(
    settings: Any, db: Any, tmp_path: Path, artifacts: Path
) -> None:
    from playwright.async_api import async_playwright

    files = tmp_path / "files"
    files.mkdir()
    (files / "pothole.png").write_bytes(pothole_png())
    (files / "note.ogg").write_bytes(b"OggS\x00\x02" + bytes(range(256)) * 16)
    with running_demo(settings.database_url, tmp_path / "demo") as url:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(WAIT)
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{url}/simulator?citizens={SITA}:Sita")
            sita = page.locator(f".phone[data-wa-id='{SITA}']")
            assert await sita.locator(".business .name").inner_text() == "Mitra"
            assert await sita.locator(".business .verified").count() == 1

            await say(sita, "Hi")
            await sita.locator("button[data-reply-id='lang:te']").wait_for()
            # The citizen's own message: ✓✓ once Mitra's webhook took it.
            hi = sita.locator("li.in").first
            await hi.locator(".ticks[data-status='delivered']").wait_for()
            await sita.locator("button[data-reply-id='lang:te']").click()
            await sita.locator("li.out", has_text="మీకు ఏ సేవ కావాలి").wait_for()
            await page.screenshot(path=str(artifacts / "1-telugu-menu.png"))

            await choose_row(sita, "dept:END")
            await sita.locator("li.out", has_text="దేవాలయాలు").last.wait_for()
            # "More…" twice: the e-hundi is on the third page of temple services.
            await choose_row(sita, "page:END:1")
            await sita.locator("li.out[data-kind=list]").nth(2).wait_for()
            await choose_row(sita, "page:END:2")
            await sita.locator("li.out[data-kind=list]").nth(3).wait_for()
            await choose_row(sita, "svc:END-22")
            await sita.locator("li.out", has_text="ఏ ఆలయ హుండీకి").wait_for()
            await choose_row(sita, "opt:temple:srisailam")
            await sita.locator("li.out", has_text="ఎంత కానుక").wait_for()
            await say(sita, "a lot")  # not an amount: re-asked politely, in Telugu
            await sita.locator("li.out", has_text="రూపాయల్లో మొత్తం పంపండి").wait_for()
            await say(sita, "116")
            await sita.locator("button[data-reply-id='opt:exemption:none']").click()
            await sita.locator("button[data-reply-id='opt:sure:yes']").last.click()
            pay_link = sita.locator("li.out[data-kind=link] a.row-button").last
            await pay_link.wait_for()
            assert "ఇప్పుడే చెల్లించండి" in await pay_link.inner_text()
            await page.screenshot(path=str(artifacts / "2-pay-button.png"))

            # The gateway's page opens from the chat, as a phone opens its browser.
            async with context.expect_page() as opened:
                await pay_link.click()
            gateway = await opened.value
            await gateway.wait_for_load_state()
            assert "/sandbox/pay/" in gateway.url
            await gateway.screenshot(path=str(artifacts / "3-gateway.png"))
            await gateway.click("button.pay")
            await gateway.wait_for_load_state()
            await gateway.close()

            # The receipt arrives in the chat as a signed PDF; the citizen opens it.
            receipt = sita.locator("li.out[data-kind=document] a.doc").last
            await receipt.wait_for()
            assert "PDF" in await receipt.inner_text()
            href = await receipt.get_attribute("href")
            assert href is not None and href.startswith(f"{url}/simulator/media/")
            async with context.expect_page() as opened:
                await receipt.click()
            viewer = await opened.value
            await viewer.wait_for_load_state()
            assert viewer.url == href
            await viewer.close()
            # Its QR code leads to the verification page, which opens as a phone's camera would.
            async with context.expect_page() as opened:
                await sita.locator("li.out[data-kind=document] a.qr").last.click()
            verification = await opened.value
            await verification.wait_for_load_state()
            assert "/verify/" in verification.url
            assert "Genuine and valid" in await verification.inner_text("body")
            await verification.screenshot(path=str(artifacts / "4-verify.png"), full_page=True)
            await verification.close()
            async with httpx.AsyncClient(base_url=url) as http:
                pdf = (await http.get(href)).content
                keys = PublicKeys.from_json((await http.get("/verify/keys.json")).text)
            checked = verify_pdf(pdf, keys)
            assert checked.ok, checked.reason
            assert "₹116" in str(checked.facts), checked.facts

            # Every message of Mitra's shows the statuses its webhook received, read last.
            replies = sita.locator("li.out .ticks")
            await page.wait_for_function(
                "(wa) => [...document.querySelectorAll(`.phone[data-wa-id='${wa}'] li.out .ticks`)]"
                ".every((t) => t.dataset.status === 'read')",
                arg=SITA,
            )
            assert await replies.count() >= 10
            await sita.locator(".chat").evaluate("(c) => { c.scrollTop = c.scrollHeight; }")
            await page.screenshot(path=str(artifacts / "5-receipt.png"))

            # A second citizen, side by side, in English; the first chat is untouched.
            await page.fill("#add-citizen input[name=wa_id]", "12")
            await page.fill("#add-citizen input[name=name]", "Ravi")
            await page.click("#add-citizen button[type=submit]")
            assert "country code" in await page.inner_text("#add-error")
            await page.fill("#add-citizen input[name=wa_id]", RAVI)
            await page.click("#add-citizen button[type=submit]")
            ravi = page.locator(f".phone[data-wa-id='{RAVI}']")
            await say(ravi, "Hi")
            await ravi.locator("button[data-reply-id='lang:en']").click()
            await ravi.locator("li.out", has_text="Choose a department").wait_for()
            # He reports a pothole: Mitra asks where, with WhatsApp's "Send location" button.
            await say(ravi, "MUN-25")
            await ravi.locator("li.out[data-kind=location_request] .row-button").last.click()
            sheet = ravi.locator(".location-sheet")
            await sheet.locator("svg.map circle").first.wait_for(state="attached")
            box = await sheet.locator("svg.map").bounding_box()
            assert box is not None
            await page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
            assert await sheet.locator(".lat").input_value() != ""
            assert "Near " in await sheet.locator(".place").inner_text()
            await sheet.locator(".lat").fill("north")
            await sheet.locator(".sheet-send").click()
            assert "Latitude" in await sheet.locator(".coords-error").inner_text()
            await sheet.locator(".lat").fill("16.243")
            await sheet.locator(".lon").fill("80.64")
            await sheet.locator(".sheet-send").click()
            await ravi.locator("li.in[data-kind=location]").wait_for()
            await ravi.locator("li.out", has_text="Describe").last.wait_for()
            assert await sita.locator("li.in[data-kind=location]").count() == 0
            # A voice note and a photo from files, fetched by Mitra through the Graph API.
            await attach(ravi, "voice", files / "note.ogg")
            await ravi.locator("li.in[data-kind=audio]").wait_for()
            await ravi.locator("li.out", has_text="Send a photo").last.wait_for()
            await attach(ravi, "image", files / "pothole.png")
            await ravi.locator("li.in[data-kind=image] img").wait_for()
            await ravi.locator("li.out", has_text="Photo 1 of 3 kept").wait_for()
            await ravi.locator("button[data-reply-id='opt:photos:done']").last.click()
            await ravi.locator("button[data-reply-id='opt:confirm:yes']").last.click()
            await ravi.locator("li.out", has_text="GRV-MUN-").wait_for()
            shown = await ravi.locator("li.in[data-kind=image] img").evaluate(
                "(img) => img.complete && img.naturalWidth > 0"
            )
            assert shown, "the photo is drawn in the chat"
            await ravi.locator(".chat").evaluate("(c) => { c.scrollTop = c.scrollHeight; }")
            await page.screenshot(path=str(artifacts / "6-side-by-side.png"))

            # He switches language from the chat's menu: Mitra offers the two.
            await ravi.locator(".menu-button").click()
            await ravi.locator(".menu button[data-action=language]").click()
            await ravi.locator("li.in", has_text="language").wait_for()
            await ravi.locator("button[data-reply-id='lang:te']").last.click()
            await ravi.locator("li.out", has_text="మీకు ఏ సేవ కావాలి").wait_for()

            # Reset: Ravi's chat empties and Mitra greets him afresh.
            await ravi.locator(".menu-button").click()
            await ravi.locator(".menu button[data-action=reset]").click()
            await ravi.locator("li.system", has_text="Chat reset").wait_for()
            await say(ravi, "Hi")
            await ravi.locator("button[data-reply-id='lang:te']").wait_for()
            assert await ravi.locator("li.out").count() == 1
            assert problems == [], problems
            await browser.close()
