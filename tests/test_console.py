"""The officers' console, first part: accounts (Argon2id, lock-out, throttling, TOTP),
sessions in cookies, CSRF on every form, and every page and action scoped by role — a case
outside an officer's jurisdiction is 404 on every screen and action — with the audit trail."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mitra.cases import store
from mitra.catalogue.loader import default_catalogue
from mitra.console import accounts, sessions
from mitra.console.accounts import AuthError
from tests.test_grievances import TENALI_AREA, new_citizen

PASSWORD = "correct horse battery"
EFFECTS = itertools.count(1)
NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def make(db: Any, username: str, role: str, **scope: Any) -> accounts.Officer:
    """An account that has already chosen its own password."""
    with db.transaction():
        officer = accounts.create(db, username, username.title(), role, PASSWORD, **scope)
        db.execute("UPDATE officers SET must_change_password = false WHERE id = %s", (officer.id,))
    return officer


def grievance(db: Any, cipher: Any, office: str) -> str:
    area = {
        **TENALI_AREA,
        "offices": {"MUN": [{**TENALI_AREA["offices"]["MUN"][0], "id": office}]},
    }
    service = default_catalogue().service("MUN-25")
    assert service is not None
    citizen = new_citizen(db, cipher)
    with db.transaction():
        return store.submit(
            db,
            cipher,
            citizen_id=citizen,
            effect_id=f"console-{next(EFFECTS)}",
            service=service,
            language="en",
            answers={"describe": "<script>alert(1)</script> pothole", "photos": 0},
            choices={},
            area=area,
            profile_name="Citizen",
            now=datetime.now(UTC),
        ).reference


def audit_rows(db: Any, action: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT actor, action, target, ip FROM audit_events WHERE action = %s ORDER BY id",
        (action,),
    ).fetchall()
    db.commit()
    return [dict(r) for r in rows]


def test_passwords_are_argon2id_and_wrong_ones_lock_the_account(db: Any, cipher: Any) -> None:
    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    row = db.execute("SELECT password_hash FROM officers WHERE username = 'lakshmi'").fetchone()
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]
    with pytest.raises(AuthError) as short:
        accounts.create(db, "ravi", "Ravi", "officer", "short", department="MUN", office_id="X")
    assert short.value.kind == "invalid"
    with pytest.raises(AuthError):
        accounts.create(db, "ravi", "Ravi", "officer", PASSWORD, department="MUN")  # no office
    db.rollback()

    def attempt(password: str, at: datetime, ip: str = "10.0.0.1", who: str = "Lakshmi") -> Any:
        with db.transaction():
            return accounts.authenticate(db, cipher, who, password, None, ip, at)

    def refused(outcome: Any) -> str:
        assert isinstance(outcome, AuthError), outcome
        return outcome.kind

    assert attempt(PASSWORD, NOW).username == "lakshmi"
    for i in range(accounts.MAX_FAILURES):
        assert refused(attempt("not the password", NOW + timedelta(seconds=i))) == (
            "bad_credentials"
        )
    assert refused(attempt(PASSWORD, NOW + timedelta(minutes=1))) == "locked"
    assert attempt(PASSWORD, NOW + timedelta(minutes=16)).username == "lakshmi"
    # An unknown name gets the same answer as a wrong password.
    assert refused(attempt(PASSWORD, NOW, "10.0.0.2", who="nobody")) == "bad_credentials"
    # Disabled: no sign-in.
    with db.transaction():
        accounts.disable(db, "lakshmi")
    assert refused(attempt(PASSWORD, NOW + timedelta(hours=1))) == "bad_credentials"
    assert {r["actor"] for r in audit_rows(db, "login_failed")} >= {
        "officer:lakshmi",
        "unknown:nobody",
    }


def test_an_address_that_keeps_failing_is_throttled(db: Any, cipher: Any) -> None:
    make(db, "prasad", "head", department="ENG")
    for i in range(accounts.THROTTLE_FAILURES):
        with db.transaction():
            failed = accounts.authenticate(db, cipher, f"guess{i}", "x" * 12, None, "10.9.9.9", NOW)
        assert isinstance(failed, AuthError)
    with db.transaction():
        throttled = accounts.authenticate(db, cipher, "prasad", PASSWORD, None, "10.9.9.9", NOW)
    assert isinstance(throttled, AuthError) and throttled.kind == "throttled"
    with db.transaction():  # from elsewhere, fine
        fine = accounts.authenticate(db, cipher, "prasad", PASSWORD, None, "10.1.1.1", NOW)
    assert isinstance(fine, accounts.Officer)


def test_a_second_factor_when_the_account_has_one(db: Any, cipher: Any) -> None:
    make(db, "admin", "admin")
    with db.transaction():
        uri = accounts.enable_totp(db, cipher, "admin")
    assert uri.startswith("otpauth://totp/")
    secret = accounts.secret_from_uri(uri)
    stored = db.execute("SELECT totp_secret_enc FROM officers WHERE username = 'admin'").fetchone()[
        "totp_secret_enc"
    ]
    assert secret not in bytes(stored)
    for code in (None, "000000"):
        with db.transaction():
            refused = accounts.authenticate(db, cipher, "admin", PASSWORD, code, "10.0.0.3", NOW)
        assert isinstance(refused, AuthError) and refused.kind == "second_factor"
    code = accounts.totp_code(secret, NOW.timestamp())
    with db.transaction():
        signed = accounts.authenticate(db, cipher, "admin", PASSWORD, code, "10.0.0.3", NOW)
    assert isinstance(signed, accounts.Officer)


def test_roles_become_scopes() -> None:
    def officer(role: str, **kw: Any) -> accounts.Officer:
        base = {"department": None, "district": None, "mandal": None, "office_id": None}
        return accounts.Officer(1, "x", "X", role, **{**base, **kw}, has_totp=False)  # type: ignore[arg-type]

    assert accounts.scope_of(officer("admin")) == store.Scope()
    assert accounts.scope_of(officer("auditor")) == store.Scope()
    assert accounts.scope_of(officer("head", department="MUN", district="GNT")) == store.Scope(
        department="MUN"
    )
    assert accounts.scope_of(officer("officer", department="MUN", office_id="VS-1")) == (
        store.Scope(department="MUN", office_id="VS-1")
    )


def test_sessions_end_when_idle_or_old(db: Any) -> None:
    lakshmi = make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    with db.transaction():
        token = sessions.start(db, lakshmi, "10.0.0.1", NOW)
    with db.transaction():
        assert sessions.current(db, token, NOW + timedelta(minutes=29)) is not None
        assert sessions.current(db, token, NOW + timedelta(minutes=58)) is not None  # kept alive
        assert sessions.current(db, token, NOW + timedelta(minutes=89)) is None  # idle 31 min
        assert sessions.current(db, token, NOW) is None  # and gone
    raw = db.execute("SELECT token_hash FROM officer_sessions").fetchall()
    assert all(token.encode() not in bytes(r["token_hash"]) for r in raw)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(http: httpx.AsyncClient, username: str) -> str:
    """Sign in through the form; returns the session's CSRF token for later forms."""
    form = await http.get("/console/login")
    token = CSRF.search(form.text)
    assert token is not None
    done = await http.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf": token.group(1)},
    )
    assert done.status_code == 303, done.text
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    queue = await http.get("/console/")
    assert queue.status_code == 200
    found = CSRF.search(queue.text)
    assert found is not None
    return found.group(1)


async def test_every_screen_and_action_is_scoped_and_forms_need_their_token(
    mitra_app: Any, db: Any, cipher: Any
) -> None:
    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    make(db, "ravi", "officer", department="MUN", office_id="VS-ELSEWHERE")
    make(db, "engineer", "head", department="ENG")
    make(db, "auditor", "auditor")
    make(db, "admin", "admin")
    mine, theirs = grievance(db, cipher, "VS-GNT0201"), grievance(db, cipher, "VS-ELSEWHERE")
    transport = httpx.ASGITransport(app=mitra_app)

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, base_url="http://mitra.test")

    async with browser() as anonymous:
        assert (await anonymous.get("/console/")).status_code == 303
        assert (await anonymous.get(f"/console/cases/{mine}")).status_code == 303
        bad = await anonymous.post(
            "/console/login", data={"username": "lakshmi", "password": PASSWORD, "csrf": "x"}
        )
        assert bad.status_code == 403  # no sign-in form token: refused, nothing changed
        form = await anonymous.get("/console/login")
        token = CSRF.search(form.text)
        assert token is not None
        wrong = await anonymous.post(
            "/console/login",
            data={"username": "lakshmi", "password": "nope nope nope", "csrf": token.group(1)},
        )
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text

    async with browser() as lakshmi:
        csrf = await sign_in(lakshmi, "lakshmi")
        queue = (await lakshmi.get("/console/")).text
        assert mine in queue and theirs not in queue
        page = await lakshmi.get(f"/console/cases/{mine}")
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
        # Another office's case does not exist for her: page, action, attachment.
        assert (await lakshmi.get(f"/console/cases/{theirs}")).status_code == 404
        act = await lakshmi.post(
            f"/console/cases/{theirs}/act", data={"action": "start", "csrf": csrf}
        )
        assert act.status_code == 404
        assert (await lakshmi.get(f"/console/cases/{theirs}/attachments/1")).status_code == 404
        assert (await lakshmi.get("/console/audit")).status_code == 404
        # A form without its token changes nothing.
        forged = await lakshmi.post(f"/console/cases/{mine}/act", data={"action": "start"})
        assert forged.status_code == 403
        assert store.find(db, mine)["status"] == "registered"  # type: ignore[index]
        db.commit()
        # A resolution without a note is refused with the reason, and changes nothing.
        empty = await lakshmi.post(
            f"/console/cases/{mine}/act", data={"action": "resolve", "csrf": csrf}
        )
        assert empty.status_code == 422 and "a note of what was done" in empty.text
        started = await lakshmi.post(
            f"/console/cases/{mine}/act", data={"action": "start", "csrf": csrf}
        )
        assert started.status_code == 303
        assert store.find(db, mine)["status"] == "in_progress"  # type: ignore[index]
        db.commit()
        [trail] = audit_rows(db, "case_start")
        assert trail["actor"] == "officer:lakshmi" and trail["target"] == mine and trail["ip"]
        history = (await lakshmi.get(f"/console/cases/{mine}")).text
        assert "officer:Lakshmi via console:lakshmi" in history
        out = await lakshmi.post("/console/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert (await lakshmi.get("/console/")).status_code == 303

    async with browser() as engineer:
        await sign_in(engineer, "engineer")  # another department, state-wide
        assert mine not in (await engineer.get("/console/")).text
        assert (await engineer.get(f"/console/cases/{mine}")).status_code == 404

    async with browser() as auditor:
        csrf = await sign_in(auditor, "auditor")
        assert (await auditor.get(f"/console/cases/{theirs}")).status_code == 200
        acted = await auditor.post(
            f"/console/cases/{theirs}/act", data={"action": "start", "csrf": csrf}
        )
        assert acted.status_code == 403
        trail = await auditor.get("/console/audit", params={"action": "case_start"})
        assert trail.status_code == 200 and "officer:lakshmi" in trail.text

    async with browser() as admin:
        await sign_in(admin, "admin")
        queue = (await admin.get("/console/")).text
        assert mine in queue and theirs in queue


async def test_conversations_and_the_dashboard_are_scoped_too(
    mitra_app: Any, db: Any, cipher: Any
) -> None:
    from mitra import handover

    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    make(db, "engineer", "head", department="ENG")
    make(db, "auditor", "auditor")
    mine = grievance(db, cipher, "VS-GNT0201")
    grievance(db, cipher, "VS-ELSEWHERE")
    citizen = new_citizen(db, cipher)
    with db.transaction():
        waiting = handover.open_handover(db, citizen, "MUN")["id"]
    transport = httpx.ASGITransport(app=mitra_app)

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, base_url="http://mitra.test")

    async with browser() as lakshmi:
        csrf = await sign_in(lakshmi, "lakshmi")
        board = await lakshmi.get("/console/dashboard")
        assert board.status_code == 200
        assert board.text.count("<svg") >= 1 and 'id="by-status"' in board.text
        # Her scope: one registered grievance, not the other office's.
        assert "registered: 1" in board.text or ">1</text>" in board.text
        assert "VS-ELSEWHERE" not in board.text
        inbox = await lakshmi.get("/console/conversations")
        assert f"/console/conversations/{waiting}" in inbox.text
        sent = await lakshmi.post(
            f"/console/conversations/{waiting}/reply",
            data={"text": "Namaste, I am looking into it <b>now</b>", "csrf": csrf},
        )
        assert sent.status_code == 303
        talk = await lakshmi.get(f"/console/conversations/{waiting}")
        assert "&lt;b&gt;now&lt;/b&gt;" in talk.text and "<b>now</b>" not in talk.text
        queued = db.execute(
            "SELECT count(*) AS n FROM outbound_messages WHERE citizen_id = %s", (citizen,)
        ).fetchone()["n"]
        db.commit()
        assert queued == 1
        assert audit_rows(db, "handover_reply")[0]["actor"] == "officer:lakshmi"
        assert mine in (await lakshmi.get("/console/")).text

    async with browser() as engineer:
        csrf = await sign_in(engineer, "engineer")
        assert (
            f"/console/conversations/{waiting}"
            not in (await engineer.get("/console/conversations")).text
        )
        assert (await engineer.get(f"/console/conversations/{waiting}")).status_code == 404
        stolen = await engineer.post(f"/console/conversations/{waiting}/close", data={"csrf": csrf})
        assert stolen.status_code == 404

    async with browser() as auditor:
        csrf = await sign_in(auditor, "auditor")
        assert (await auditor.get(f"/console/conversations/{waiting}")).status_code == 200
        refused = await auditor.post(
            f"/console/conversations/{waiting}/reply", data={"text": "hi", "csrf": csrf}
        )
        assert refused.status_code == 403
        board = (await auditor.get("/console/dashboard")).text
        assert 'id="per-hour"' in board  # the state's view has messages per hour

    async with browser() as lakshmi:
        csrf = await sign_in(lakshmi, "lakshmi")
        closed = await lakshmi.post(f"/console/conversations/{waiting}/close", data={"csrf": csrf})
        assert closed.status_code == 303
        status = db.execute("SELECT status FROM handovers WHERE id = %s", (waiting,)).fetchone()
        db.commit()
        assert status["status"] == "closed"


async def test_an_administrator_switches_a_service_off_and_citizens_are_told(
    mitra_app: Any, db: Any, settings: Any
) -> None:
    from mitra.catalogue import switches
    from tests.harness import body_text, running_mitra

    make(db, "admin", "admin")
    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as lakshmi:
        csrf = await sign_in(lakshmi, "lakshmi")
        page = (await lakshmi.get("/console/catalogue")).text
        assert "MUN-25" in page and "Switch off" not in page  # officers read it
        refused = await lakshmi.post(
            "/console/catalogue/MUN-25/switch", data={"enabled": "off", "csrf": csrf}
        )
        assert refused.status_code == 403
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as admin:
        csrf = await sign_in(admin, "admin")
        assert "Switch off" in (await admin.get("/console/catalogue")).text
        bad = await admin.post(
            "/console/catalogue/XYZ-99/switch", data={"enabled": "off", "csrf": csrf}
        )
        assert bad.status_code == 422
        off = await admin.post(
            "/console/catalogue/MUN-25/switch",
            data={"enabled": "off", "reason": "contractor change", "csrf": csrf},
        )
        assert off.status_code == 303
        assert "switched off" in (await admin.get("/console/catalogue")).text
    assert switches.switched_off(db) == {"MUN-25"}
    db.commit()
    [trail] = audit_rows(db, "service_switch")
    assert trail["actor"] == "officer:admin" and trail["target"] == "MUN-25"

    # A citizen asking for it on WhatsApp is told it is unavailable; another service works.
    async with running_mitra(settings) as chat:
        wa = "919700555777"
        for spec in ({"text": "Hi"}, {"reply_id": "lang:en", "reply_title": "English"}):
            await chat.fake.simulate({"wa_id": wa, **spec})
            await chat.settled(db)
        before = len(chat.received(wa))
        await chat.fake.simulate({"wa_id": wa, "text": "MUN-25"})
        await chat.settled(db)
        said = " ".join(body_text(m) for m in chat.received(wa)[before:])
        assert "is not available right now" in said
        with db.transaction():
            switches.switch(db, "MUN-25", True, "officer:admin", None)
        before = len(chat.received(wa))
        await chat.fake.simulate({"wa_id": wa, "text": "MUN-25"})
        await chat.settled(db)
        said = " ".join(body_text(m) for m in chat.received(wa)[before:])
        assert "Where is the problem" in said


async def test_resolving_with_an_after_photo_and_the_overdue_filter(
    mitra_app: Any, db: Any, cipher: Any
) -> None:
    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    reference = grievance(db, cipher, "VS-GNT0201")
    late = grievance(db, cipher, "VS-GNT0201")
    db.execute("UPDATE cases SET due_at = now() - interval '1 hour' WHERE reference = %s", (late,))
    db.commit()
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"fixed" * 400
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as lakshmi:
        csrf = await sign_in(lakshmi, "lakshmi")
        overdue = (await lakshmi.get("/console/", params={"sla": "overdue"})).text
        assert late in overdue and reference not in overdue
        on_time = (await lakshmi.get("/console/", params={"sla": "on_time"})).text
        assert reference in on_time and late not in on_time
        db.execute(
            "UPDATE cases SET created_at = now() - interval '10 days' WHERE reference = %s", (late,)
        )
        db.commit()
        recent = (
            await lakshmi.get("/console/", params={"since": datetime.now(UTC).date().isoformat()})
        ).text
        assert reference in recent and late not in recent
        nonsense = await lakshmi.get("/console/", params={"since": "not-a-date"})
        assert nonsense.status_code == 200 and late in nonsense.text
        url = f"/console/cases/{reference}/act"
        wrong = await lakshmi.post(
            url,
            data={"action": "resolve", "note": "Filled", "csrf": csrf},
            files={"photo": ("after.zip", b"PK\x03\x04", "application/zip")},
        )
        assert wrong.status_code == 422 and "JPEG, PNG or WebP" in wrong.text
        done = await lakshmi.post(
            url,
            data={"action": "resolve", "note": "Filled", "csrf": csrf},
            files={"photo": ("after.jpg", jpeg, "image/jpeg")},
        )
        assert done.status_code == 303
        page = (await lakshmi.get(f"/console/cases/{reference}")).text
        assert "Resolution: Filled" in page
    kept = db.execute(
        "SELECT m.origin, m.data_enc FROM media m JOIN cases c ON c.id = m.case_id"
        " WHERE c.reference = %s",
        (reference,),
    ).fetchone()
    queued = db.execute("SELECT count(*) AS n FROM media_deliveries").fetchone()["n"]
    db.commit()
    assert kept["origin"] == "officer" and queued == 1
    assert cipher.decrypt_bytes(bytes(kept["data_enc"]), context=b"media") == jpeg


async def test_a_temporary_password_opens_only_the_page_that_replaces_it(
    mitra_app: Any, db: Any
) -> None:
    with db.transaction():
        accounts.create(db, "newbie", "New Officer", "head", PASSWORD, department="REV")
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as newbie:
        form = await newbie.get("/console/login")
        token = CSRF.search(form.text)
        assert token is not None
        signed = await newbie.post(
            "/console/login",
            data={"username": "newbie", "password": PASSWORD, "csrf": token.group(1)},
        )
        assert signed.status_code == 303
        for path in ("/console/", "/console/dashboard", "/console/catalogue"):
            held = await newbie.get(path)
            assert held.status_code == 303 and held.headers["location"] == "/console/password"
        page = await newbie.get("/console/password")
        csrf = CSRF.search(page.text)
        assert csrf is not None
        new = "a much longer passphrase"
        for current, first, second in (
            ("wrong password!", new, new),
            (PASSWORD, new, new + "x"),
            (PASSWORD, "short", "short"),
        ):
            refused = await newbie.post(
                "/console/password",
                data={"current": current, "new": first, "again": second, "csrf": csrf.group(1)},
            )
            assert refused.status_code == 422
        done = await newbie.post(
            "/console/password",
            data={"current": PASSWORD, "new": new, "again": new, "csrf": csrf.group(1)},
        )
        assert done.status_code == 303
        assert (await newbie.get("/console/")).status_code == 200
    assert audit_rows(db, "password_change")[0]["actor"] == "officer:newbie"


# Every role against every screen and action: what each must get. A case of another scope
# is 404 (it does not exist for them); an action the role may not take is 403.
ROLES = {
    "admin": ("admin", {}),
    "munhead": ("head", {"department": "MUN"}),
    "enghead": ("head", {"department": "ENG"}),
    "munofficer": ("officer", {"department": "MUN", "office_id": "VS-GNT0201"}),
    "elsewhere": ("officer", {"department": "MUN", "office_id": "VS-ELSEWHERE"}),
    "auditor": ("auditor", {}),
}
SCREENS = {
    "queue": {r: 200 for r in ROLES},
    "dashboard": {r: 200 for r in ROLES},
    "catalogue": {r: 200 for r in ROLES},
    "conversations": {r: 200 for r in ROLES},
    "case": {**{r: 200 for r in ROLES}, "enghead": 404, "elsewhere": 404},
    "attachment": {**{r: 200 for r in ROLES}, "enghead": 404, "elsewhere": 404},
    "conversation": {**{r: 200 for r in ROLES}, "enghead": 404},
    "audit": {r: 404 for r in ROLES} | {"admin": 200, "auditor": 200},
}
CASE_ACTION = {**{r: 303 for r in ROLES}, "enghead": 404, "elsewhere": 404, "auditor": 403}
HANDOVER_ACTION = {**{r: 303 for r in ROLES}, "enghead": 404, "auditor": 403}
ACTIONS = {
    "act": CASE_ACTION,
    "assign": CASE_ACTION,
    "escalate": CASE_ACTION,
    "reply": HANDOVER_ACTION,
    "close": HANDOVER_ACTION,
    "switch": {r: 403 for r in ROLES} | {"admin": 303},
}


async def test_every_role_on_every_screen_and_action(mitra_app: Any, db: Any, cipher: Any) -> None:
    from mitra import handover

    for name, (role, scope) in ROLES.items():
        make(db, name, role, **scope)
    looked_at = grievance(db, cipher, "VS-GNT0201")  # only read: it stays where it is
    cases = {name: grievance(db, cipher, "VS-GNT0201") for name in ROLES}
    db.execute(  # a ladder to escalate up
        "UPDATE cases SET offices = offices || %s::jsonb",
        (
            '[{"type": "municipal_office", "id": "MO-GMC", "name": {"en": "GMC", "te": "GMC"},'
            ' "level": "district"}]',
        ),
    )
    photo = db.execute(
        "INSERT INTO media (citizen_id, media_id, kind, mime_type, size, sha256, data_enc,"
        " case_id) SELECT c.citizen_id, 'm1', 'image', 'image/jpeg', 3, 'x', %s, c.id"
        " FROM cases c WHERE c.reference = %s RETURNING id",
        (cipher.encrypt(b"jpg", context=b"media"), looked_at),
    ).fetchone()["id"]
    db.commit()
    waiting_citizen = new_citizen(db, cipher)
    own_citizens = {name: new_citizen(db, cipher) for name in ROLES}
    with db.transaction():
        talk = handover.open_handover(db, waiting_citizen, "MUN")["id"]
        own_talk = {
            name: handover.open_handover(db, citizen, "MUN")["id"]
            for name, citizen in own_citizens.items()
        }
    transport = httpx.ASGITransport(app=mitra_app)
    seen: dict[tuple[str, str], int] = {}
    for name in ROLES:
        async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as who:
            csrf = await sign_in(who, name)
            case = looked_at
            gets = {
                "queue": "/console/",
                "dashboard": "/console/dashboard",
                "catalogue": "/console/catalogue",
                "conversations": "/console/conversations",
                "case": f"/console/cases/{case}",
                "attachment": f"/console/cases/{case}/attachments/{photo}",
                "conversation": f"/console/conversations/{talk}",
                "audit": "/console/audit",
            }
            for screen, path in gets.items():
                seen[(screen, name)] = (await who.get(path)).status_code
            posts = {  # in this order: assigning needs the case still in the officer's scope
                "act": (f"/console/cases/{cases[name]}/act", {"action": "start"}),
                "assign": (f"/console/cases/{cases[name]}/assign", {"officer": ""}),
                "escalate": (f"/console/cases/{cases[name]}/escalate", {"note": "road crew"}),
                "reply": (f"/console/conversations/{talk}/reply", {"text": "hello"}),
                "close": (f"/console/conversations/{own_talk[name]}/close", {}),
                "switch": ("/console/catalogue/MUN-24/switch", {"enabled": "on"}),
            }
            for action, (path, form) in posts.items():
                seen[(action, name)] = (
                    await who.post(path, data={**form, "csrf": csrf})
                ).status_code
    expected = {
        (what, name): status
        for table in (SCREENS, ACTIONS)
        for what, by_role in table.items()
        for name, status in by_role.items()
    }
    assert seen == expected
    # What was refused changed nothing: the cases they could not act on are as they were.
    for name in ("enghead", "elsewhere", "auditor"):
        case = store.find(db, cases[name])
        assert case is not None and case["status"] == "registered" and case["level"] == 0
    open_talks = db.execute(
        "SELECT id FROM handovers WHERE status <> 'closed' ORDER BY id"
    ).fetchall()
    db.commit()
    assert {r["id"] for r in open_talks} == {talk, own_talk["enghead"], own_talk["auditor"]}


def test_every_console_text_has_its_telugu() -> None:
    from pathlib import Path

    from mitra.cases.lifecycle import GRIEVANCE_RULES, RULES, STATUSES, allowed
    from mitra.console import charts
    from mitra.console.i18n import TE

    templates = Path(charts.__file__).parent / "templates"
    literal = re.compile(r"""_\(\s*["']([^"']+)["']\s*\)""")
    said = {m for f in templates.glob("*.html") for m in literal.findall(f.read_text())}
    # The placeholders chosen per action in case.html.
    said |= {"What information is needed", "Why", "What was done"}
    said |= {s.replace("_", " ") for s in STATUSES}
    for pattern, rules in (("application", RULES), ("grievance", GRIEVANCE_RULES)):
        for status in STATUSES:
            said |= {
                a.capitalize()
                for a in allowed(status, "officer", pattern)
                if a in rules and a != "issue"  # approving issues; never a button
            }
    chart_source = Path(charts.__file__).read_text()
    said |= set(re.findall(r'bars\(\s*"[a-z-]+",\s*"([^"]+)"', chart_source))
    assert len(said) > 60
    missing = sorted(s for s in said if s not in TE)
    assert not missing, f"no Telugu for: {missing}"


async def test_the_console_in_telugu(mitra_app: Any, db: Any) -> None:
    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as lakshmi:
        await sign_in(lakshmi, "lakshmi")
        switched = await lakshmi.get(
            "/console/language/te", headers={"referer": "http://mitra.test/console/dashboard"}
        )
        assert switched.status_code == 303 and switched.headers["location"] == "/console/dashboard"
        board = (await lakshmi.get("/console/dashboard")).text
        assert 'lang="te"' in board and "డాష్‌బోర్డ్" in board and "English" in board
        queue = (await lakshmi.get("/console/")).text
        assert "పనుల వరుస" in queue and "మీ వరుసలో ఏమీ లేదు." in queue
        # Somewhere else entirely: back to the console, never off-site.
        away = await lakshmi.get("/console/language/en", headers={"referer": "https://evil.test/x"})
        assert away.headers["location"] == "/console/"
        assert "Nothing in your queue." in (await lakshmi.get("/console/")).text


async def test_assigning_and_escalating_from_the_console_and_the_api(
    mitra_app: Any, db: Any, cipher: Any
) -> None:
    from mitra.cases import apikeys

    make(db, "lakshmi", "officer", department="MUN", office_id="VS-GNT0201")
    make(db, "ravi", "officer", department="MUN", office_id="VS-GNT0201")
    make(db, "engineer", "head", department="ENG")
    # A two-office ladder: the village secretariat, then the municipal corporation.
    one = grievance(db, cipher, "VS-GNT0201")
    db.execute(
        "UPDATE cases SET offices = offices || %s::jsonb",
        (
            '[{"type": "municipal_office", "id": "MO-GMC", "name": {"en": "GMC", "te": "GMC"},'
            ' "level": "district"}]',
        ),
    )
    db.commit()
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as lakshmi:
        csrf = await sign_in(lakshmi, "lakshmi")
        page = (await lakshmi.get(f"/console/cases/{one}")).text
        assert "Escalate" in page and 'value="ravi"' in page and 'value="engineer"' not in page
        wrong = await lakshmi.post(
            f"/console/cases/{one}/assign", data={"officer": "engineer", "csrf": csrf}
        )
        assert wrong.status_code == 422  # not an officer of MUN
        given = await lakshmi.post(
            f"/console/cases/{one}/assign", data={"officer": "ravi", "csrf": csrf}
        )
        assert given.status_code == 303
        assert "ravi" in (await lakshmi.get("/console/")).text
        no_reason = await lakshmi.post(
            f"/console/cases/{one}/escalate", data={"note": "", "csrf": csrf}
        )
        assert no_reason.status_code == 422
        raised = await lakshmi.post(
            f"/console/cases/{one}/escalate",
            data={"note": "Needs the corporation's road crew", "csrf": csrf},
        )
        assert raised.status_code == 303
        # Now with the office above: gone from her queue and her reach.
        assert one not in (await lakshmi.get("/console/")).text
        assert (await lakshmi.get(f"/console/cases/{one}")).status_code == 404
    case = store.find(db, one)
    db.commit()
    assert case is not None and case["office_id"] == "MO-GMC" and case["assignee"] == "ravi"
    assert [r["action"] for r in audit_rows(db, "case_escalate")] == ["case_escalate"]
    # The same actions over the REST API (one implementation).
    key = apikeys.create_key(db, "mun", "MUN", ["cases:read", "cases:write"])
    db.commit()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as api:
        top = await api.post(
            f"/api/v1/cases/{one}/escalate", json={"note": "again please"}, headers=headers
        )
        assert top.status_code == 409  # already at the top of its ladder
        back = await api.post(f"/api/v1/cases/{one}/assign", json={"officer": ""}, headers=headers)
        assert back.status_code == 200 and back.json()["assignee"] is None
    # Department systems' actions are in the audit trail too, with their key's name.
    assert audit_rows(db, "case_assign")[-1]["actor"] == "api:mun"
    assert [r["actor"] for r in audit_rows(db, "case_escalate")] == ["officer:lakshmi"]


async def test_the_issued_pdf_the_newest_first_sort_and_breaches(
    mitra_app: Any, db: Any, cipher: Any
) -> None:
    from tests.test_cases import ANSWERS, CHOICES, TENALI

    make(db, "revenue", "head", department="REV")
    make(db, "engineer", "head", department="ENG")
    service = default_catalogue().service("REV-01")
    assert service is not None
    citizen = new_citizen(db, cipher)
    with db.transaction():
        made = store.submit(
            db,
            cipher,
            citizen_id=citizen,
            effect_id="console-pdf",
            service=service,
            language="en",
            answers=ANSWERS,
            choices=CHOICES,
            area=TENALI,
            profile_name="Lakshmi",
            now=datetime.now(UTC),
        )
        db.execute(
            "INSERT INTO case_events (case_id, action, actor, office_id)"
            " SELECT id, 'breach', 'system:sla', office_id FROM cases WHERE reference = %s",
            (made.reference,),
        )
    transport = httpx.ASGITransport(app=mitra_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as revenue:
        csrf = await sign_in(revenue, "revenue")
        for action in ("review", "approve"):
            done = await revenue.post(
                f"/console/cases/{made.reference}/act", data={"action": action, "csrf": csrf}
            )
            assert done.status_code == 303, done.text
        page = (await revenue.get(f"/console/cases/{made.reference}")).text
        assert "document.pdf" in page
        pdf = await revenue.get(f"/console/cases/{made.reference}/document.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        newest = await revenue.get("/console/", params={"sort": "newest"})
        assert newest.status_code == 200 and made.reference in newest.text
        board = (await revenue.get("/console/dashboard")).text
        assert 'id="breaches"' in board and "WS-TNL-W1" in board
    async with httpx.AsyncClient(transport=transport, base_url="http://mitra.test") as engineer:
        await sign_in(engineer, "engineer")
        refused = await engineer.get(f"/console/cases/{made.reference}/document.pdf")
        assert refused.status_code == 404
