"""A case as the department contract's `Application`, so the chat's status services (and
GEN-03 "my applications") show Mitra's cases exactly like a department system's records."""

from __future__ import annotations

from typing import Any

from mitra.cases.store import IST, ist_day
from mitra.catalogue.schema import Service

NOTE_OF = {
    "submit": "application_received",
    "return": "returned_for_documents",
    "answer": "resubmitted",
    "approve": "approved",
    "reject": None,  # the officer's reason is shown instead
    "issue": "certificate_signed",
    "withdraw": "withdrawn_by_applicant",
    "escalate": "escalated",
}
NEXT_STEP = {
    "submitted": "await_review",
    "in_review": "await_decision",
    "returned": "submit_documents",
    "approved": "await_issue",
    "rejected": "reapply",
    "issued": "download_document",
    "withdrawn": "none",
}


def mask_name(full_name: str) -> str:
    """Every word but the last as its initial and five stars: "Koteswara Rao" → "K***** Rao"."""
    words = full_name.split()
    return " ".join([w[0] + "*****" for w in words[:-1]] + words[-1:])


def application_view(
    case: dict[str, Any],
    events: list[dict[str, Any]],
    service: Service | None,
    applicant_name: str,
) -> dict[str, Any]:
    offices = {o["id"]: o for o in case["offices"]}
    office = offices.get(case["office_id"]) or case["offices"][0]
    masked = mask_name(applicant_name) if applicant_name else ""
    history = []
    for e in events:
        if e["action"] in ("remind",):
            continue
        note = NOTE_OF.get(e["action"])
        entry = {
            "status": e["to_status"] or case["status"],
            "at": e["at"].astimezone(IST).isoformat(),
            "office": office_ref(offices.get(e["office_id"] or "") or office),
            "note": note,
        }
        if e["action"] in ("reject", "return") and e["note"]:
            entry["remark"] = e["note"]
        history.append(entry)
    view: dict[str, Any] = {
        "reference": case["reference"],
        "kind": "mitra_case",
        "department": case["department"],
        "service_code": case["service"],
        "service": (
            {"en": service.title.en, "te": service.title.te}
            if service
            else {"en": case["service"], "te": case["service"]}
        ),
        "applicant": {"en": masked, "te": masked},
        "status": case["status"],
        "submitted_at": case["created_at"].astimezone(IST).isoformat(),
        "updated_at": case["updated_at"].astimezone(IST).isoformat(),
        "expected_by": (
            ist_day(case["due_at"]).isoformat()
            if case["status"] in ("submitted", "in_review", "returned")
            else None
        ),
        "office": office_ref(office),
        "area": {
            "district": {"code": case["district_code"]},
            "mandal": {"code": case["mandal_code"]},
        },
        "history": history,
        "next_step": NEXT_STEP.get(case["status"], "none"),
        "details": {},
        "documents": (
            [{"kind": "certificate", "identifier": case["document_id"]}]
            if case["document_id"]
            else []
        ),
    }
    if case["question"] and case["status"] == "returned":
        view["question"] = case["question"]
    if case["reason"] and case["status"] == "rejected":
        view["reason"] = case["reason"]
    return view


def office_ref(office: dict[str, Any]) -> dict[str, Any]:
    return {"type": office.get("type"), "id": office.get("id"), "name": office.get("name")}
