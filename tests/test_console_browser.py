"""The console in a real browser (Debian's chromium, driven by Playwright through
`executable_path`; never a downloaded browser): an officer signs in, finds a grievance a
citizen just reported over WhatsApp, starts it and resolves it from the case page, and the
citizen's WhatsApp (the fake Graph API) receives the resolution. The dashboard's charts
render. Screenshots of each screen go to test-artifacts/console/."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mitra.console import accounts
from mitra.web.app import create_web
from tests.harness import body_text, eventually, running_mitra
from tests.identity.ekyc_helpers import serving
from tests.test_grievances_whatsapp import CITIZEN, GRIEVANCE, send

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "console"
PASSWORD = "correct horse battery"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def console_at(settings: Any) -> AsyncIterator[str]:
    """The web app (its pools opened here) served over real HTTP for the browser."""
    web = create_web(settings)
    async with web.app.router.lifespan_context(web.app):
        with serving(web.asgi) as url:
            yield url


def fresh_screenshots(folder: Path) -> Path:
    """The folder for a browser test's screenshots, emptied of the last run's; and Debian's
    chromium, which every browser test needs, is there."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is installed by `make install`"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def artifacts() -> Path:
    return fresh_screenshots(ARTIFACTS)


@pytest.mark.slow
async def test_an_officer_resolves_a_grievance_in_the_browser(
    settings: Any, db: Any, artifacts: Path
) -> None:
    from playwright.async_api import async_playwright

    with db.transaction():
        accounts.create(
            db,
            "lakshmi",
            "K. Lakshmi",
            "officer",
            PASSWORD,
            department="MUN",
            office_id="VS-GNT0201",
        )
    async with running_mitra(settings) as chat, console_at(settings) as url:
        # A citizen reports a pothole over WhatsApp.
        await send(chat, db, {"text": "Hi"})
        await send(chat, db, {"reply_id": "lang:en", "reply_title": "English", "list": False})
        await send(chat, db, {"text": "MUN-25"})
        await send(chat, db, {"location": {"latitude": 16.243, "longitude": 80.64}})
        await send(chat, db, {"text": "Deep pothole at the school gate"})
        await send(chat, db, {"reply_id": "opt:photos:done", "reply_title": "Skip"})
        said = await send(chat, db, {"reply_id": "opt:confirm:yes", "reply_title": "Yes"})
        found = GRIEVANCE.search(said)
        assert found is not None
        reference = found.group(0)

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"{url}/console/")
            assert page.url.endswith("/console/login")
            await page.screenshot(path=str(ARTIFACTS / "login.png"))
            await page.fill("input[name=username]", "lakshmi")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button:has-text('Sign in')")
            # A temporary password: the console asks for her own first.
            await page.wait_for_url(f"{url}/console/password")
            await page.screenshot(path=str(ARTIFACTS / "password.png"))
            await page.fill("input[name=current]", PASSWORD)
            await page.fill("input[name=new]", "my own long passphrase")
            await page.fill("input[name=again]", "my own long passphrase")
            await page.click("button:has-text('Change password')")
            await page.wait_for_url(f"{url}/console/")
            await page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)
            await page.click(f"a:has-text('{reference}')")
            await page.wait_for_url(f"{url}/console/cases/{reference}")
            assert "Deep pothole" in await page.inner_text("main")
            await page.click("button:has-text('Start')")
            await page.wait_for_selector("text=in progress")
            await page.fill("form:has(input[value=resolve]) input[name=note]", "Pothole filled.")
            await page.click("button:has-text('Resolve')")
            await page.wait_for_selector("text=Resolution: Pothole filled.")
            await page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)
            await page.goto(f"{url}/console/dashboard")
            charts = page.locator("svg.chart")
            assert await charts.count() >= 1
            box = await charts.first.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 10
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            # The citizen asks for an officer; she answers from the conversations inbox.
            await send(chat, db, {"text": "officer"})
            await send(chat, db, {"reply_id": "opt:department:MUN", "reply_title": "Municipal"})
            # (The assistant is quiet now: only the officer answers.)
            question = "When will the road near the school be fixed?"
            await chat.fake.simulate({"wa_id": CITIZEN, "text": question})
            await chat.settled(db)
            await page.goto(f"{url}/console/conversations")
            await page.click("a:has-text('MUN')")
            await page.wait_for_selector("text=When will the road near the school be fixed?")
            await page.fill("textarea[name=text]", "Tomorrow morning; the crew is booked.")
            await page.click("button:has-text('Send on WhatsApp')")
            await page.wait_for_selector("text=K. Lakshmi: Tomorrow morning")
            await page.screenshot(path=str(ARTIFACTS / "conversations.png"), full_page=True)
            # A tablet, in Telugu.
            await page.set_viewport_size({"width": 800, "height": 1100})
            await page.goto(f"{url}/console/language/te")
            await page.wait_for_selector("text=పనుల వరుస")
            await page.screenshot(path=str(ARTIFACTS / "queue-tablet-te.png"), full_page=True)
            await browser.close()

        # The citizen's WhatsApp has the resolution, with the button to rate it.
        def told() -> bool:
            return any("Pothole filled." in body_text(m) for m in chat.received(CITIZEN))

        await eventually(told, what="the resolution on WhatsApp")

        def answered() -> bool:
            return any(
                "K. Lakshmi: Tomorrow morning" in body_text(m) for m in chat.received(CITIZEN)
            )

        await eventually(answered, what="the officer's answer on WhatsApp")
    sizes = screenshot_sizes(artifacts)
    assert set(sizes) == {
        "login",
        "password",
        "queue",
        "case",
        "dashboard",
        "conversations",
        "queue-tablet-te",
    }
    assert min(sizes.values()) > 5_000


def screenshot_sizes(folder: Path) -> dict[str, int]:
    return {p.stem: p.stat().st_size for p in folder.glob("*.png")}
