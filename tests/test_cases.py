"""Cases in the database: numbering, routing, every lifecycle transition (legal and illegal),
scopes, the SLA clock with a controllable time, issuing and revoking documents."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from mitra.cases import actions, store
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import APPLICATION_STATUSES, RULES, CaseError
from mitra.cases.sla import SlaPolicy, run_round
from mitra.cases.store import Actor, Scope
from mitra.catalogue.loader import default_catalogue
from mitra.departments.references import check_letter_ok
from mitra.documents.signing import load_signer
from mitra.documents.verify import verify_pdf
from tests.conftest import SIGNING_KEY

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
OFFICER = Actor("officer", "K. Lakshmi")
EFFECTS = itertools.count(1)
TENALI = {
    "district": {"code": "GNT", "name": {"en": "Guntur", "te": "గుంటూరు"}},
    "mandal": {"code": "TNL", "name": {"en": "Tenali", "te": "తెనాలి"}},
    "ward": {"code": "TNL-W1", "name": {"en": "Tenali Ward 1", "te": "తెనాలి వార్డు 1"}},
    "offices": {
        "REV": [
            {
                "type": "ward_secretariat",
                "id": "WS-TNL-W1",
                "name": {"en": "Ward 1 Secretariat", "te": "వార్డు 1 సచివాలయం"},
                "level": "local",
            },
            {
                "type": "tahsildar_office",
                "id": "TO-TNL",
                "name": {"en": "Tahsildar Office, Tenali", "te": "తహసీల్దార్ కార్యాలయం, తెనాలి"},
                "level": "mandal",
            },
            {
                "type": "collectorate",
                "id": "COL-GNT",
                "name": {"en": "Collectorate, Guntur", "te": "కలెక్టరేట్, గుంటూరు"},
                "level": "district",
            },
        ]
    },
}
ANSWERS = {
    "kyc": {"token": "tok", "last4": "0124", "name": "Lakshmi Devi Kondapalli"},
    "source": "wages",
    "income": "7200000",
    "purpose": "education",
}
CHOICES = {
    "source": {"en": "Daily wages", "te": "రోజువారీ కూలీ"},
    "purpose": {"en": "Education", "te": "చదువు"},
}


@pytest.fixture
def desk(cipher: Any) -> CaseDesk:
    return CaseDesk.create(cipher, signer=load_signer(SIGNING_KEY), public_url="https://mitra.ap")


@pytest.fixture
def citizen(db: Any, cipher: Any) -> int:
    row = db.execute(
        "INSERT INTO citizens (wa_id_hash, wa_id_enc, language, last_inbound_at)"
        " VALUES (%s, %s, 'en', %s) RETURNING id",
        (
            cipher.lookup_hash("919812345678", kind="wa_id"),
            cipher.encrypt("919812345678", context=b"wa_id"),
            datetime.now(UTC),
        ),
    ).fetchone()
    db.commit()
    return int(row["id"])


def submit(db: Any, cipher: Any, citizen: int, now: datetime = NOW) -> str:
    service = default_catalogue().service("REV-01")
    assert service is not None
    with db.transaction():
        made = store.submit(
            db,
            cipher,
            citizen_id=citizen,
            effect_id=f"effect-{next(EFFECTS)}",
            service=service,
            language="en",
            answers=ANSWERS,
            choices=CHOICES,
            area=TENALI,
            profile_name="Lakshmi",
            now=now,
        )
    return made.reference


def act(db: Any, desk: CaseDesk, reference: str, action: str, note: str | None = None) -> Any:
    with db.transaction():
        return actions.act(db, desk, reference, action, OFFICER, Scope(), note)


def test_a_case_is_numbered_routed_and_timed(db: Any, cipher: Any, citizen: int) -> None:
    first, second = submit(db, cipher, citizen), submit(db, cipher, citizen)
    assert first == "REV-2026-500001-P" and second.startswith("REV-2026-500002-")
    assert check_letter_ok(first) and check_letter_ok(second)
    case = store.find(db, first)
    assert case is not None
    assert case["office_id"] == "WS-TNL-W1"  # the secretariat covering the home
    assert (case["district_code"], case["mandal_code"]) == ("GNT", "TNL")
    assert case["due_at"] == NOW + timedelta(days=7)  # REV-01's SLA
    assert [e["action"] for e in store.history(db, case["id"])] == ["submit"]
    # Personal data is encrypted: the name is nowhere in the clear.
    raw = db.execute("SELECT answers_enc, applicant_enc FROM cases").fetchall()
    assert all(b"Kondapalli" not in bytes(r["applicant_enc"]) for r in raw)


def test_submitting_twice_for_one_chat_turn_makes_one_case(
    db: Any, cipher: Any, citizen: int
) -> None:
    service = default_catalogue().service("REV-01")
    assert service is not None
    made = [
        store.submit(
            db,
            cipher,
            citizen_id=citizen,
            effect_id="the-same-effect",
            service=service,
            language="en",
            answers=ANSWERS,
            choices=CHOICES,
            area=TENALI,
            profile_name=None,
            now=NOW,
        ).reference
        for _ in range(2)
    ]
    db.commit()
    assert made[0] == made[1]
    assert db.execute("SELECT count(*) AS n FROM cases").fetchone()["n"] == 1


def test_an_address_no_office_covers_is_refused(db: Any, cipher: Any, citizen: int) -> None:
    service = default_catalogue().service("REV-01")
    assert service is not None
    with pytest.raises(CaseError) as refused:
        store.submit(
            db,
            cipher,
            citizen_id=citizen,
            effect_id="e",
            service=service,
            language="en",
            answers=ANSWERS,
            choices=CHOICES,
            area={"offices": {}},
            profile_name=None,
            now=NOW,
        )
    assert refused.value.kind == "invalid"


# Every (status, action) pair: legal ones move the case where the table says; illegal ones
# are refused and change nothing.
# No case rests in "approved": approving issues the document in the same transaction.
RESTING = [s for s in APPLICATION_STATUSES if s != "approved"]
PAIRS = [(status, action) for status in RESTING for action in RULES if action != "issue"]
PATHS = {
    "submitted": [],
    "in_review": ["review"],
    "returned": ["return"],
    "rejected": ["review", "reject"],
    "issued": ["review", "approve"],
    "withdrawn": ["withdraw"],
}


@pytest.mark.parametrize(("status", "action"), PAIRS)
def test_every_transition_is_allowed_or_refused_as_the_table_says(
    db: Any, cipher: Any, desk: CaseDesk, citizen: int, status: str, action: str
) -> None:
    path = PATHS[status]
    reference = submit(db, cipher, citizen)
    for step in path:
        actor = store.CITIZEN if step == "withdraw" else OFFICER
        note = "a note" if step in ("return", "reject") else None
        with db.transaction():
            store.act(db, reference, step, actor, note=note, after=desk.notifier.after)
    assert store.find(db, reference)["status"] == status  # type: ignore[index]
    rule = RULES[action]
    actor = store.CITIZEN if action in ("withdraw", "answer") else OFFICER
    events_before = len(store.history(db, store.find(db, reference)["id"]))  # type: ignore[index]
    note = "why" if rule.needs_note else None
    if status in rule.sources:
        with db.transaction():
            store.act(db, reference, action, actor, note=note, after=desk.notifier.after)
        after = store.find(db, reference)
        assert after is not None
        expected = "issued" if action == "approve" else rule.target
        assert after["status"] == expected
    else:
        with pytest.raises(CaseError) as refused, db.transaction():
            store.act(db, reference, action, actor, note=note, after=desk.notifier.after)
        assert refused.value.kind == "illegal"
        after = store.find(db, reference)
        assert after is not None and after["status"] == status
        assert len(store.history(db, after["id"])) == events_before


def test_who_may_do_what(db: Any, cipher: Any, desk: CaseDesk, citizen: int) -> None:
    reference = submit(db, cipher, citizen)
    with pytest.raises(CaseError) as citizen_approves, db.transaction():
        store.act(db, reference, "review", store.CITIZEN)
    assert citizen_approves.value.kind == "forbidden"
    with pytest.raises(CaseError) as officer_withdraws, db.transaction():
        store.act(db, reference, "withdraw", OFFICER)
    assert officer_withdraws.value.kind == "forbidden"
    act(db, desk, reference, "review")
    for action in ("reject", "return"):
        with pytest.raises(CaseError) as no_reason, db.transaction():
            store.act(db, reference, action, OFFICER, note="   ")
        assert no_reason.value.kind == "invalid"


def test_a_case_outside_the_scope_does_not_exist(
    db: Any, cipher: Any, desk: CaseDesk, citizen: int
) -> None:
    reference = submit(db, cipher, citizen)
    for scope in (Scope(department="MUN"), Scope(district="KRI"), Scope(office_id="TO-XYZ")):
        with pytest.raises(CaseError) as hidden, db.transaction():
            actions.detail(db, desk, reference, scope)
        assert hidden.value.kind == "not_found"
        with pytest.raises(CaseError) as hidden, db.transaction():
            actions.act(db, desk, reference, "review", OFFICER, scope)
        assert hidden.value.kind == "not_found"
        assert actions.queue(db, desk, scope) == []
    assert [c["reference"] for c in actions.queue(db, desk, Scope(department="REV"))] == [reference]
    assert (
        actions.detail(db, desk, reference, Scope(office_id="WS-TNL-W1"))["status"] == "submitted"
    )


def test_approval_issues_a_signed_certificate_that_verifies(
    db: Any, cipher: Any, desk: CaseDesk, citizen: int
) -> None:
    reference = submit(db, cipher, citizen)
    act(db, desk, reference, "review")
    case = act(db, desk, reference, "approve")
    assert case["status"] == "issued" and case["document_id"]
    row = db.execute("SELECT * FROM documents WHERE id = %s", (case["document_id"],)).fetchone()
    pdf = cipher.decrypt_bytes(bytes(row["pdf_enc"]), context=b"document_pdf")
    checked = verify_pdf(pdf, load_signer(SIGNING_KEY).public_keys())
    assert checked.ok and checked.reason == "genuine"
    facts = checked.facts
    assert facts is not None
    assert facts["holder_name"] == "Lakshmi Devi Kondapalli"
    assert facts["reference"] == reference
    assert facts["officer"]["name"] == "K. Lakshmi"
    assert facts["officer"]["designation"]["en"] == "Ward Administrative Secretary"
    assert facts["verify_url"] == f"https://mitra.ap/verify/{case['document_id']}"
    rows = {f["label"]["en"]: f["value"] for f in facts["facts"]}
    assert rows["Annual family income"] == {"en": "₹72,000", "te": "₹72,000"}
    assert rows["Main source of income"] == {"en": "Daily wages", "te": "రోజువారీ కూలీ"}
    assert rows["Aadhaar (last 4 digits)"]["en"] == "XXXX XXXX 0124"
    assert facts["valid_until"] is not None  # income certificates expire (12 months)
    # The citizen is told, and the PDF is queued for their chat.
    assert db.execute("SELECT count(*) AS n FROM document_deliveries").fetchone()["n"] == 1
    steps = [e["action"] for e in store.history(db, store.find(db, reference)["id"])]  # type: ignore[index]
    assert steps == ["submit", "review", "approve", "issue"]


def test_revoking_is_scoped_and_once(db: Any, cipher: Any, desk: CaseDesk, citizen: int) -> None:
    reference = submit(db, cipher, citizen)
    act(db, desk, reference, "review")
    document_id = act(db, desk, reference, "approve")["document_id"]
    with pytest.raises(CaseError), db.transaction():
        actions.revoke_document(db, document_id, "issued in error", Scope("MUN"), OFFICER)
    with db.transaction():
        actions.revoke_document(db, document_id, "issued in error", Scope("REV"), OFFICER)
    with pytest.raises(CaseError), db.transaction():
        actions.revoke_document(db, document_id, "again", Scope("REV"), OFFICER)
    row = db.execute("SELECT revoked_reason FROM documents").fetchone()
    assert row["revoked_reason"] == "issued in error"


def test_the_sla_clock_reminds_then_escalates_up_the_ladder(
    db: Any, cipher: Any, desk: CaseDesk, citizen: int
) -> None:
    reference = submit(db, cipher, citizen)
    policy = SlaPolicy(remind_before=timedelta(days=2))
    rounds = []
    for day in (1, 5.5, 7.5, 8, 10.5, 11, 20):
        rounds.append(run_round(db, desk.notifier, NOW + timedelta(days=day), policy))
    case = store.find(db, reference)
    assert case is not None
    events = [(e["action"], e["office_id"]) for e in store.history(db, case["id"])]
    assert events == [
        ("submit", "WS-TNL-W1"),
        ("remind", "WS-TNL-W1"),  # day 5.5: two days before the due date
        ("escalate", "TO-TNL"),  # day 7.5: overdue at the secretariat → Tahsildar
        ("remind", "TO-TNL"),  # day 8: the Tahsildar has 2⅓ days, reminded at once
        ("escalate", "COL-GNT"),  # day 10.5: overdue again → Collector
        ("remind", "COL-GNT"),
        ("breach", "COL-GNT"),  # day 20: the top of the ladder, recorded once
    ]
    assert [r.escalated for r in rounds] == [0, 0, 1, 0, 1, 0, 0]
    assert case["status"] == "submitted" and case["office_id"] == "COL-GNT"
    # The citizen was told about each escalation (free-form or template, in their language).
    told = db.execute(
        "SELECT count(*) AS n FROM outbound_messages WHERE citizen_id = %s", (citizen,)
    ).fetchone()
    assert told["n"] == 2


def test_a_decided_case_is_not_escalated(
    db: Any, cipher: Any, desk: CaseDesk, citizen: int
) -> None:
    reference = submit(db, cipher, citizen)
    act(db, desk, reference, "review")
    act(db, desk, reference, "reject", "Income proof does not match the declaration")
    result = run_round(db, desk.notifier, NOW + timedelta(days=30))
    assert (result.reminded, result.escalated, result.breached) == (0, 0, 0)


def test_status_pushes_use_a_template_outside_the_24_hour_window(
    db: Any, cipher: Any, desk: CaseDesk, citizen: int
) -> None:
    from mitra.outbox.queue import decode_payload

    reference = submit(db, cipher, citizen)
    act(db, desk, reference, "review")  # inside the window: free-form
    db.execute(
        "UPDATE citizens SET last_inbound_at = now() - interval '3 days' WHERE id = %s",
        (citizen,),
    )
    act(db, desk, reference, "return", "Upload your ration card")
    rows = db.execute(
        "SELECT kind, payload_enc FROM outbound_messages WHERE citizen_id = %s ORDER BY id",
        (citizen,),
    ).fetchall()
    kinds = [r["kind"] for r in rows]
    assert kinds == ["text", "template"]
    template = decode_payload(cipher, bytes(rows[1]["payload_enc"]))["template"]
    assert template["name"] == "case_returned_for_information"
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert reference in params and "Upload your ration card" in params
    assert orjson.dumps(template)  # a valid payload (the fake Graph API checks it in e2e)
