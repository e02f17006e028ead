"""An application from the chat to the certificate in the chat, on the production path: signed
webhooks in, the worker, the identity step-up over HTTP, the REST API for the officer's
decision, the status pushes and the PDF out through the (fake) Graph API — then the PDF checked
offline and on the public verification page. And afterwards: no Aadhaar number and no OTP
anywhere in the database (decrypted) or the logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from mitra.cases import apikeys
from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_pdf
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.harness import GRAPH_BASE, Chat, body_text, choices, eventually, running_mitra

AADHAAR = "234567890124"
OTP = "123456"
REFERENCE = re.compile(r"REV-\d{4}-\d{6}-[A-Z]")
CONTEXTS = (
    b"case_answers",
    b"case_applicant",
    b"document_facts",
    b"document_pdf",
    b"effect_args",
    b"inbound_event",
    b"outbound",
    b"profile_name",
    b"session",
    b"user_id",
    b"wa_id",
    b"webhook",
)


async def turn(chat: Chat, db: Any, wa_id: str, **spec: Any) -> str:
    before = len(chat.received(wa_id))
    sent = await chat.fake.simulate({"wa_id": wa_id, **spec})
    assert sent.status == 200
    await chat.settled(db)
    return "\n".join(
        body_text(m) + "\n" + "\n".join(t for _, t in choices(m))
        for m in chat.received(wa_id)[before:]
    )


async def apply_for_income_certificate(chat: Chat, db: Any, wa_id: str) -> str:
    await turn(chat, db, wa_id, text="Hi")
    await turn(chat, db, wa_id, reply_id="lang:en", reply_title="English", list=False)
    assert "12-digit Aadhaar number" in await turn(chat, db, wa_id, text="REV-01")
    assert "sent an OTP" in await turn(chat, db, wa_id, text="2345 6789 0124")
    assert "identity is confirmed" in await turn(chat, db, wa_id, text=OTP)
    assert "Tenali" in await turn(
        chat, db, wa_id, location={"latitude": 16.243, "longitude": 80.64}
    )
    await turn(chat, db, wa_id, reply_id="opt:source:wages", reply_title="Daily wages", list=True)
    await turn(chat, db, wa_id, text="72000")
    said = await turn(
        chat, db, wa_id, reply_id="opt:purpose:education", reply_title="Education", list=True
    )
    assert "Income: ₹72,000 a year (Daily wages)" in said
    said = await turn(chat, db, wa_id, reply_id="opt:sure:yes", reply_title="Yes", list=False)
    assert "Application received" in said
    found = REFERENCE.search(said)
    assert found is not None, said
    return found.group(0)


async def deliveries_done(db: Any) -> None:
    def done() -> bool:
        row = db.execute(
            "SELECT count(*) AS n FROM document_deliveries WHERE status <> 'done'"
        ).fetchone()
        db.commit()
        return int(row["n"]) == 0

    await eventually(done, what="documents to be delivered")


def key(db: Any, department: str | None, *scopes: str) -> dict[str, str]:
    made = apikeys.create_key(db, f"{department}-system", department, list(scopes))
    db.commit()
    return {"Authorization": f"Bearer {made}"}


@pytest.mark.slow
async def test_from_application_to_a_verified_certificate_in_the_chat(
    settings: Any, db: Any, cipher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wa_id = "919811100001"
    async with running_mitra(settings) as chat:
        api = chat.mitra_http
        reference = await apply_for_income_certificate(chat, db, wa_id)
        assert reference in await turn(chat, db, wa_id, text="my requests")

        revenue = key(db, "REV", "cases:read", "cases:write", "documents:revoke")
        reader = key(db, "REV", "cases:read")
        municipal = key(db, "MUN", "cases:read", "cases:write")

        # Who may see and do what, over HTTP.
        assert (await api.get(f"/api/v1/cases/{reference}")).status_code == 401
        bad = {"Authorization": "Bearer mk_nope_nope"}
        assert (await api.get(f"/api/v1/cases/{reference}", headers=bad)).status_code == 401
        assert (await api.get(f"/api/v1/cases/{reference}", headers=municipal)).status_code == 404
        refused = await api.post(
            f"/api/v1/cases/{reference}/actions", json={"action": "review"}, headers=reader
        )
        assert refused.status_code == 403
        listed = await api.get("/api/v1/cases?status=submitted", headers=reader)
        assert [c["reference"] for c in listed.json()["cases"]] == [reference]
        case = (await api.get(f"/api/v1/cases/{reference}", headers=reader)).json()
        assert case["applicant"]["aadhaar_last4"] == "0124"
        assert case["answers"]["income"] == "7200000"
        assert case["offices"][0]["level"] == "local"
        assert AADHAAR not in str(case)

        # Illegal and malformed decisions change nothing.
        early = await api.post(
            f"/api/v1/cases/{reference}/actions", json={"action": "approve"}, headers=revenue
        )
        assert early.status_code == 409 and "submitted" in early.json()["detail"]
        wrong = await api.post(
            f"/api/v1/cases/{reference}/actions", json={"action": "explode"}, headers=revenue
        )
        assert wrong.status_code == 422

        before = len(chat.received(wa_id))
        reviewed = await api.post(
            f"/api/v1/cases/{reference}/actions", json={"action": "review"}, headers=revenue
        )
        assert reviewed.status_code == 200 and reviewed.json()["status"] == "in_review"
        unreasoned = await api.post(
            f"/api/v1/cases/{reference}/actions", json={"action": "reject"}, headers=revenue
        )
        assert unreasoned.status_code == 422
        approved = await api.post(
            f"/api/v1/cases/{reference}/actions",
            json={"action": "approve", "officer": "K. Lakshmi"},
            headers=revenue,
        )
        assert approved.status_code == 200, approved.text
        document_id = approved.json()["document_id"]
        assert approved.json()["status"] == "issued" and document_id

        await chat.settled(db)
        await deliveries_done(db)
        await chat.settled(db)
        pushed = chat.received(wa_id)[before:]
        texts = "\n".join(body_text(m) for m in pushed)
        assert f"Your application {reference} (Income certificate) is now being reviewed" in texts
        assert f"Your Income Certificate ({reference}) has been issued" in texts
        [pdf_message] = [m for m in pushed if m.body.get("type") == "document"]
        assert pdf_message.body["document"]["filename"] == f"Income-Certificate-{reference}.pdf"

        # The PDF the citizen received, downloaded as any client would, verifies offline
        # with the keys the deployment publishes.
        graph = GraphClient(GRAPH_BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [chat.graph_http])
        info = await graph.media_info(pdf_message.body["document"]["id"])
        pdf = await graph.download(info["url"])
        keys = PublicKeys.from_json((await api.get("/verify/keys.json")).content)
        checked = verify_pdf(pdf, keys)
        assert checked.ok, checked.reason
        assert checked.facts is not None and checked.facts["reference"] == reference
        assert checked.facts["officer"]["name"] == "K. Lakshmi"
        assert checked.facts["verify_url"] == f"http://mitra.test/verify/{document_id}"
        holder = checked.facts["holder_name"]
        assert holder and holder != "Citizen"  # the name on Aadhaar, from the e-KYC provider

        # GEN-04 ("my documents") sends it again, by the media id already uploaded.
        said = await turn(chat, db, wa_id, text="my documents")
        assert "Income Certificate" in said
        said = await turn(
            chat, db, wa_id, reply_id=f"opt:pick:{document_id}", reply_title="x", list=True
        )
        assert "Sending Income Certificate" in said
        await deliveries_done(db)
        await chat.settled(db)
        again = [m for m in chat.received(wa_id) if m.body.get("type") == "document"]
        assert len(again) == 2 and again[1].body["document"]["id"] == info["id"]

        tampered = bytearray(pdf)
        tampered[len(pdf) // 2] ^= 0x01
        assert verify_pdf(bytes(tampered), keys).reason == "tampered"

        page = await api.get(f"/verify/{document_id}")
        assert page.status_code == 200 and 'data-status="valid"' in page.text
        assert reference in page.text and holder in page.text
        record = (await api.get(f"/verify/{document_id}.json")).json()
        assert record["status"] == "valid" and record["facts"]["reference"] == reference
        unknown = await api.get("/verify/DZZZZZZZZZZZZZZZZZZZZ.json")
        assert unknown.status_code == 404 and unknown.json()["status"] == "not_found"
        forged = await api.get("/verify/DAAAAAAAAAAAAAAAAAAAA")
        assert forged.status_code == 404 and 'data-status="not_found"' in forged.text
        assert (await api.get("/verify/<script>")).status_code == 404

        revoked = await api.post(
            f"/api/v1/documents/{document_id}/revoke",
            json={"reason": "Issued on a forged income proof"},
            headers=revenue,
        )
        assert revoked.status_code == 200
        page = await api.get(f"/verify/{document_id}")
        assert 'data-status="revoked"' in page.text and "forged income proof" in page.text

        # GEN-04 puts a revoked document in the chat no more.
        said = await turn(chat, db, wa_id, text="GEN-04")
        [row] = chat.received(wa_id)[-1].body["interactive"]["action"]["sections"][0]["rows"]
        assert row["title"] == "Income Certificate" and row["description"].endswith("Revoked")
        said = await turn(
            chat, db, wa_id, reply_id=f"opt:pick:{document_id}", reply_title="x", list=True
        )
        assert "was revoked by the office that issued it" in said

    assert_no_aadhaar_or_otp(db, cipher, caplog)


@pytest.mark.slow
async def test_returned_for_information_the_citizen_answers_in_the_chat(
    settings: Any, db: Any
) -> None:
    wa_id = "919811100002"
    async with running_mitra(settings) as chat:
        api = chat.mitra_http
        reference = await apply_for_income_certificate(chat, db, wa_id)
        revenue = key(db, "REV", "cases:read", "cases:write")
        before = len(chat.received(wa_id))
        returned = await api.post(
            f"/api/v1/cases/{reference}/actions",
            json={"action": "return", "note": "Which school does your daughter attend?"},
            headers=revenue,
        )
        assert returned.status_code == 200 and returned.json()["status"] == "returned"
        await chat.settled(db)
        [push] = chat.received(wa_id)[before:]
        assert "Which school does your daughter attend?" in body_text(push)
        [(button, title)] = choices(push)
        assert button == f"svc:GEN-15:{reference}"

        said = await turn(chat, db, wa_id, reply_id=button, reply_title=title, list=False)
        assert "The officer asked: Which school does your daughter attend?" in said
        said = await turn(chat, db, wa_id, text="ZP High School, Tenali")
        assert f"added to application {reference}" in said

        case = (await api.get(f"/api/v1/cases/{reference}", headers=revenue)).json()
        assert case["status"] == "in_review"
        assert case["replies"][0]["text"] == "ZP High School, Tenali"
        assert [e["action"] for e in case["history"]] == ["submit", "return", "answer"]

        # Returned again a day later, outside the 24-hour window: a template, and the
        # citizen answers by sending "answer".
        db.execute("UPDATE citizens SET last_inbound_at = now() - interval '2 days'")
        db.commit()
        before = len(chat.received(wa_id))
        again = await api.post(
            f"/api/v1/cases/{reference}/actions",
            json={"action": "return", "note": "Send the school's name in full"},
            headers=revenue,
        )
        assert again.status_code == 200
        await chat.settled(db)
        [template] = chat.received(wa_id)[before:]
        assert template.body["type"] == "template"
        assert template.body["template"]["name"] == "case_returned_for_information"
        said = await turn(chat, db, wa_id, text="answer")
        assert "Which application do you want to answer?" in said
        said = await turn(
            chat, db, wa_id, reply_id=f"opt:reference:{reference}", reply_title="x", list=True
        )
        assert "The officer asked: Send the school's name in full" in said
        said = await turn(chat, db, wa_id, text="Zilla Parishad High School, Tenali")
        assert f"added to application {reference}" in said

        # Withdrawn by the citizen, it cannot then be approved.
        said = await turn(chat, db, wa_id, text="REV-30")
        assert reference in said
        await turn(
            chat, db, wa_id, reply_id=f"opt:pick:{reference}", reply_title=reference, list=True
        )
        said = await turn(chat, db, wa_id, reply_id="opt:sure:yes", reply_title="Yes", list=False)
        assert "has been withdrawn" in said
        late = await api.post(
            f"/api/v1/cases/{reference}/actions", json={"action": "approve"}, headers=revenue
        )
        assert late.status_code == 409


def assert_no_aadhaar_or_otp(db: Any, cipher: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Every column of every table, decrypted where it is encrypted, and every log record."""
    forbidden = [AADHAAR.encode(), b"2345 6789 0124", OTP.encode()]
    tables = [
        r["tablename"]
        for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    seen = 0
    for table in tables:
        for row in db.execute(f'SELECT * FROM "{table}"').fetchall():
            for value in row.values():
                for plain in _readable(cipher, value):
                    seen += 1
                    for secret in forbidden:
                        assert secret not in plain, f"{secret!r} found in {table}"
    assert seen > 100  # it looked at something
    for record in caplog.records:
        text = record.getMessage() + str(record.args or "")
        assert AADHAAR not in text and "2345 6789 0124" not in text and OTP not in text


def _readable(cipher: Any, value: Any) -> list[bytes]:
    if value is None:
        return []
    if isinstance(value, (bytes, memoryview)):
        blob = bytes(value)
        for context in CONTEXTS:
            try:
                return [cipher.decrypt_bytes(blob, context=context), blob]
            except Exception:  # noqa: S112 - not encrypted under this context; try the next
                continue
        return [blob]
    return [str(value).encode()]
