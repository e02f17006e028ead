"""Grievances in the database: routed by where the problem is (at jurisdiction boundaries, with
the sandbox's administrative data over the adapter contract), clocks in hours with escalation
up the office ladder, already-reported detection and joining, resolution with a rating or a
reopening, the clock closing what nobody rated, and the offices' rating statistics."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from mitra.cases import actions, grievances, store
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import GRIEVANCE_RULES, GRIEVANCE_STATUSES, CaseError
from mitra.cases.sla import SlaPolicy, run_round
from mitra.cases.store import Actor, Scope
from mitra.catalogue.loader import default_catalogue
from mitra.departments.gazetteer import Gazetteer
from mitra.departments.sandbox_client import sandbox_client

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
OFFICER = Actor("officer", "R. Prasad")
EFFECTS = itertools.count(1)
PHONES = itertools.count(919_811_000_000)
TENALI = (16.243, 80.64)
# Where (16.243, 80.64) is, as the sandbox's `locate` says (MUN's ladder only).
TENALI_AREA: dict[str, Any] = {
    "location": {"lat": 16.243, "lon": 80.64},
    "district": {"code": "GNT", "name": {"en": "Guntur", "te": "గుంటూరు"}},
    "mandal": {"code": "GNT02", "name": {"en": "Tenali", "te": "తెనాలి"}},
    "village": {"code": "GNT0201", "name": {"en": "Tenali", "te": "తెనాలి"}},
    "offices": {
        "MUN": [
            {
                "type": "village_secretariat",
                "id": "VS-GNT0201",
                "name": {"en": "Tenali Village Secretariat", "te": "తెనాలి గ్రామ సచివాలయం"},
                "level": "local",
            },
            {
                "type": "municipal_office",
                "id": "MO-GMC",
                "name": {"en": "Guntur Municipal Corporation", "te": "గుంటూరు నగరపాలక సంస్థ"},
                "level": "district",
            },
        ]
    },
}


@pytest.fixture
def desk(cipher: Any) -> CaseDesk:
    return CaseDesk.create(cipher)


def new_citizen(db: Any, cipher: Any, language: str = "en") -> int:
    phone = str(next(PHONES))
    row = db.execute(
        "INSERT INTO citizens (wa_id_hash, wa_id_enc, language, last_inbound_at)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (
            cipher.lookup_hash(phone, kind="wa_id"),
            cipher.encrypt(phone, context=b"wa_id"),
            language,
            datetime.now(UTC),
        ),
    ).fetchone()
    db.commit()
    return int(row["id"])


async def locate(lat: float, lon: float) -> dict[str, Any]:
    async with sandbox_client() as client:
        return dict(await client.locate(lat, lon))


def register(
    db: Any,
    cipher: Any,
    citizen: int,
    area: dict[str, Any],
    code: str = "MUN-25",
    now: datetime = NOW,
    **extra: Any,
) -> store.Submitted:
    service = default_catalogue().service(code)
    assert service is not None
    with db.transaction():
        return store.submit(
            db,
            cipher,
            citizen_id=citizen,
            effect_id=f"grievance-{next(EFFECTS)}",
            service=service,
            language="en",
            answers={"describe": "Deep pothole near the school", "photos": 0},
            choices={},
            area=area,
            profile_name="Citizen",
            now=now,
            **extra,
        )


def act(db: Any, desk: CaseDesk, reference: str, action: str, note: str | None = None) -> Any:
    with db.transaction():
        return actions.act(db, desk, reference, action, OFFICER, Scope(), note)


def pushes(db: Any, cipher: Any, citizen: int) -> list[str]:
    rows = db.execute(
        "SELECT payload_enc FROM outbound_messages WHERE citizen_id = %s ORDER BY id", (citizen,)
    ).fetchall()
    return [
        orjson.dumps(orjson.loads(cipher.decrypt(bytes(r["payload_enc"]), context=b"outbound")))
        .decode()
        .replace("\\n", " ")
        for r in rows
    ]


async def test_a_grievance_goes_to_the_office_on_each_side_of_a_boundary(
    db: Any, cipher: Any
) -> None:
    """Walk from one village's centre towards its neighbour's: where the sandbox's
    jurisdiction changes, a pin a few metres either side is routed to a different office."""
    async with sandbox_client() as client:
        typed = await Gazetteer(client).search("Tenali")
        mandal = await client.mandals("GNT")
        villages = next(m for m in mandal["mandals"] if m["code"] == "GNT02")["villages"]
        a, b = villages[0]["location"], villages[1]["location"]
        start = await client.locate(a["lat"], a["lon"])

        def at(t: float) -> tuple[float, float]:
            return a["lat"] + (b["lat"] - a["lat"]) * t, a["lon"] + (b["lon"] - a["lon"]) * t

        # Bisect the segment down to ~5 m for where the village changes.
        low, high = 0.0, 1.0
        while _metres(at(low), at(high)) > 5:
            mid = (low + high) / 2
            here = await client.locate(*at(mid))
            if here["village"]["code"] == start["village"]["code"]:
                low = mid
            else:
                high = mid
        near, far = await client.locate(*at(low)), await client.locate(*at(high))
    assert typed["places"][0]["district"]["code"] == "GNT"  # a typed place uses the same data
    assert near["village"]["code"] != far["village"]["code"]
    citizen = new_citizen(db, cipher)
    here_case = register(db, cipher, citizen, near)
    there_case = register(db, cipher, citizen, far)
    assert here_case.office["id"] == near["offices"]["MUN"][0]["id"]
    assert there_case.office["id"] == far["offices"]["MUN"][0]["id"]
    # Pins about 5 m apart, on either side of the line: each went to its own office.
    assert here_case.office["id"] != there_case.office["id"]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Roughly, at Andhra Pradesh's latitudes: good enough to stop bisecting."""
    dy = (a[0] - b[0]) * 111_000
    dx = (a[1] - b[1]) * 111_000 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


async def test_numbers_clock_priority_and_where_it_is(db: Any, cipher: Any) -> None:
    area = await locate(*TENALI)
    citizen = new_citizen(db, cipher)
    pothole = register(db, cipher, citizen, area)
    assert pothole.reference == "GRV-MUN-2026-500001-P"
    assert (pothole.status, pothole.priority) == ("registered", "normal")
    case = store.find(db, pothole.reference)
    assert case is not None and case["pattern"] == "grievance"
    assert case["due_at"] == NOW + timedelta(hours=168)
    cell = db.execute(
        "SELECT cell_lat, cell_lon FROM cases WHERE id = %s", (case["id"],)
    ).fetchone()
    assert (cell["cell_lat"], cell["cell_lon"]) == (16243, 80640)  # ~110 m, not the exact pin
    # GEN-01's "something else" goes to the department the citizen chose, with its prefix.
    other = register(db, cipher, citizen, area, code="GEN-01", department="ENG")
    assert other.reference.startswith("GRV-ENG-2026-")
    assert other.office["id"] == area["offices"]["ENG"][0]["id"]
    # Only GEN-01 may be sent elsewhere.
    with pytest.raises(CaseError):
        register(db, cipher, citizen, area, code="MUN-25", department="ENG")


async def test_an_overdue_grievance_climbs_the_ladder_by_the_hour(
    db: Any, cipher: Any, desk: CaseDesk
) -> None:
    area = await locate(*TENALI)
    ladder = [o["id"] for o in area["offices"]["MUN"]]
    assert len(ladder) == 2  # village secretariat → municipal corporation
    citizen = new_citizen(db, cipher)
    made = register(db, cipher, citizen, area)  # 168 hours
    policy = SlaPolicy()

    def clock(hours: float) -> Any:
        return run_round(db, desk.notifier, NOW + timedelta(hours=hours), policy)

    # Reminded when less than min(2 days, half its clock) is left, once.
    assert clock(119).reminded == 0
    assert clock(121).reminded == 1
    assert clock(122).reminded == 0
    round_ = clock(168.5)
    assert round_.escalated == 1
    case = store.find(db, made.reference)
    assert case is not None and case["office_id"] == ladder[1]
    # A third of its clock at the next office (56 h), then a breach at the top.
    assert case["due_at"] == NOW + timedelta(hours=168.5 + 56)
    assert clock(168.5 + 56.5).breached == 1
    events = [e["action"] for e in store.history(db, case["id"])]
    assert events == ["submit", "remind", "escalate", "breach"]
    assert any("raised to" in p for p in pushes(db, cipher, citizen))


async def test_an_emergency_is_due_in_hours_and_escalates_within_them(
    db: Any, cipher: Any, desk: CaseDesk
) -> None:
    area = await locate(*TENALI)
    citizen = new_citizen(db, cipher)
    wire = register(db, cipher, citizen, area, code="ENG-16")
    service = default_catalogue().service("ENG-16")
    assert service is not None and service.grievance is not None
    hours = service.grievance.sla_hours
    assert service.grievance.priority == "emergency" and hours <= 4
    case = store.find(db, wire.reference)
    assert case is not None and case["due_at"] == NOW + timedelta(hours=hours)
    # Reminded half-way through its clock, not two days before the end.
    assert run_round(db, desk.notifier, NOW + timedelta(minutes=1)).reminded == 0
    assert run_round(db, desk.notifier, NOW + timedelta(hours=hours * 0.8)).reminded == 1
    assert run_round(db, desk.notifier, NOW + timedelta(hours=hours, minutes=1)).escalated == 1
    case = store.find(db, wire.reference)
    assert case is not None and case["level"] == 1
    # An emergency stays an emergency at the next office: its whole clock, not two days.
    assert case["due_at"] == NOW + timedelta(hours=hours * 2, minutes=1)


async def test_the_same_problem_nearby_is_offered_to_join(
    db: Any, cipher: Any, desk: CaseDesk
) -> None:
    area = await locate(*TENALI)
    first, second = new_citizen(db, cipher), new_citizen(db, cipher, "te")
    made = register(db, cipher, first, area)
    lat, lon = TENALI
    found = grievances.similar(db, "MUN-25", lat + 0.0015, lon + 0.001, NOW + timedelta(hours=1))
    assert found["found"] == "yes" and found["reference"] == made.reference
    assert 100 <= found["distance_m"] <= 250 and found["reports"] == 1
    # Another category, far away, or a month old: not the same problem.
    assert grievances.similar(db, "MUN-24", lat, lon, NOW)["found"] == "no"
    assert grievances.similar(db, "MUN-25", lat + 0.01, lon, NOW)["found"] == "no"
    assert grievances.similar(db, "MUN-25", lat, lon, NOW + timedelta(days=31))["found"] == "no"
    with db.transaction():
        joined = grievances.join(db, second, made.reference, NOW)
        again = grievances.join(db, second, made.reference, NOW)
        own = grievances.join(db, first, made.reference, NOW)
    assert joined["reports"] == again["reports"] == own["reports"] == 2
    # Whoever joined hears what happens, in their language; only the owner may rate it.
    act(db, desk, made.reference, "start")
    act(db, desk, made.reference, "resolve", "Filled and relaid the patch")
    owner, follower = pushes(db, cipher, first), pushes(db, cipher, second)
    assert any("Filled and relaid" in p and "svc:GEN-11:" in p for p in owner)
    assert any("Filled and relaid" in p for p in follower)
    assert not any("svc:GEN-11:" in p for p in follower)
    assert any("పరిష్కరించింది" in p for p in follower)
    # A follower sees it in their status look-ups; a stranger does not.
    assert grievances.lookup(db, desk.catalogue, second, made.reference) is not None
    with pytest.raises(CaseError):
        grievances.lookup(db, desk.catalogue, new_citizen(db, cipher), made.reference)
    # Once resolved it is no longer open to join.
    assert grievances.similar(db, "MUN-25", lat, lon, NOW)["found"] == "no"


async def test_resolved_then_rated_or_reopened_and_the_office_statistics(
    db: Any, cipher: Any, desk: CaseDesk
) -> None:
    area = await locate(*TENALI)
    citizen = new_citizen(db, cipher)
    one = register(db, cipher, citizen, area).reference
    two = register(db, cipher, citizen, area, code="MUN-24").reference
    with pytest.raises(CaseError) as no_note:
        act(db, desk, one, "resolve")
    assert no_note.value.kind == "invalid"
    with pytest.raises(CaseError) as illegal:
        act(db, desk, one, "approve")
    assert illegal.value.kind == "invalid"  # not a grievance action
    for reference in (one, two):
        act(db, desk, reference, "start")
        act(db, desk, reference, "resolve", "Done")
    within = timedelta(days=7)
    with db.transaction():
        rated = grievances.rate(
            db,
            cipher,
            desk.catalogue,
            desk.notifier,
            citizen,
            {"reference": one, "fixed": "yes", "rating": "4", "comment": "Quick work, thanks"},
            within,
        )
    assert (rated["status"], rated["rating"]) == ("closed", 4)
    detail = actions.detail(db, desk, one, Scope(department="MUN"))
    assert detail["feedback"] == "Quick work, thanks" and detail["rating"] == 4
    with pytest.raises(CaseError), db.transaction():
        grievances.rate(
            db, cipher, desk.catalogue, desk.notifier, citizen,
            {"reference": two, "fixed": "yes", "rating": "9"}, within,
        )  # fmt: skip
    # Not fixed: reopened at the office with a fresh clock, and told so.
    moment = datetime.now(UTC)
    with db.transaction():
        reopened = grievances.rate(
            db, cipher, desk.catalogue, desk.notifier, citizen,
            {"reference": two, "fixed": "no", "comment": "Still dark at night"}, within, moment,
        )  # fmt: skip
    assert reopened["status"] == "reopened"
    assert datetime.fromisoformat(reopened["due_at"]) > moment + timedelta(hours=70)
    assert any("reopened" in p for p in pushes(db, cipher, citizen))
    # Resolved again and left unrated past the reopen period: the clock closes it quietly.
    act(db, desk, two, "resolve", "New lamp fitted")
    with pytest.raises(CaseError) as late, db.transaction():
        grievances.rate(
            db, cipher, desk.catalogue, desk.notifier, citizen,
            {"reference": two, "fixed": "no"}, within, moment + timedelta(days=8),
        )  # fmt: skip
    assert late.value.kind == "illegal"
    before = len(pushes(db, cipher, citizen))
    closed = run_round(
        db, desk.notifier, moment + timedelta(days=8), SlaPolicy(reopen_within=within)
    )
    assert closed.closed == 1
    assert store.find(db, two)["status"] == "closed"  # type: ignore[index]
    assert len(pushes(db, cipher, citizen)) == before
    stats = grievances.office_ratings(db, Scope(department="MUN"))
    office = area["offices"]["MUN"][0]["id"]
    [row] = [s for s in stats if s["office_id"] == office]
    assert (row["resolved"], row["rated"], row["average"], row["reopened"]) == (2, 1, 4.0, 1)
    assert row["stars"]["4"] == 1 and row["resolved_in_time"] == 2
    assert grievances.office_ratings(db, Scope(department="ENG")) == []


GRIEVANCE_PATHS = {
    "registered": [],
    "in_progress": ["start"],
    "resolved": ["start", "resolve"],
    "reopened": ["start", "resolve", "reopen"],
    "closed": ["start", "resolve", "close"],
    "rejected": ["reject"],
    "withdrawn": ["withdraw"],
}
CITIZEN_ACTIONS = {"reopen", "close", "withdraw"}


@pytest.mark.parametrize(
    ("status", "action"),
    [(s, a) for s in GRIEVANCE_STATUSES for a in GRIEVANCE_RULES],
)
async def test_every_grievance_transition_is_allowed_or_refused_as_the_table_says(
    db: Any, cipher: Any, desk: CaseDesk, status: str, action: str
) -> None:
    citizen = new_citizen(db, cipher)
    reference = register(db, cipher, citizen, TENALI_AREA).reference

    def do(step: str) -> None:
        actor = store.CITIZEN if step in CITIZEN_ACTIONS else OFFICER
        note = "a note" if GRIEVANCE_RULES[step].needs_note else None
        with db.transaction():
            store.act(db, reference, step, actor, note=note, after=desk.notifier.after, now=NOW)

    for step in GRIEVANCE_PATHS[status]:
        do(step)
    case = store.find(db, reference)
    assert case is not None and case["status"] == status
    events_before = len(store.history(db, case["id"]))
    rule = GRIEVANCE_RULES[action]
    if status in rule.sources:
        do(action)
        assert store.find(db, reference)["status"] == rule.target  # type: ignore[index]
    else:
        with pytest.raises(CaseError) as refused:
            do(action)
        assert refused.value.kind == "illegal"
        after = store.find(db, reference)
        assert after is not None and after["status"] == status
        assert len(store.history(db, after["id"])) == events_before
