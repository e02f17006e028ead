"""Every certificate and application service, on the production path, through to the PDF: the
service's first complete example conversation over signed webhooks, then an officer's review
and approval over the REST API, then the signed document delivered in the chat — downloaded
from the Graph API and verified, with every fact on it filled in, in both languages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mitra.cases import apikeys
from mitra.catalogue.loader import load_catalogue
from mitra.catalogue.schema import Example, Service, SubmitStep
from mitra.documents.signing import PublicKeys
from mitra.documents.verify import verify_pdf
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.harness import GRAPH_BASE, eventually, running_mitra
from tests.test_catalogue_whatsapp import _run as run_example

CATALOGUE = load_catalogue()
REFERENCE = re.compile(r"\b[A-Z]{3}-\d{4}-\d{6}-[A-Z]\b")
SUBMITTING = [
    s
    for s in CATALOGUE.current.values()
    if s.pattern != "grievance" and any(isinstance(x, SubmitStep) for x in s.steps)
]


def complete_example(service: Service) -> Example:
    """The first example that ends with the application received."""
    for example in service.examples:
        if any(
            "REFERENCE NUMBER" in e.upper() or "సూచన సంఖ్య" in e for e in example.turns[-1].expect
        ):
            return example
    raise AssertionError(f"{service.code} has no example that submits an application")


def test_every_certificate_and_application_service_submits() -> None:
    patterns = {s.code for s in CATALOGUE.current.values() if s.pattern == "certificate"}
    assert patterns <= {s.code for s in SUBMITTING}
    for service in SUBMITTING:
        complete_example(service)


@pytest.mark.slow
@pytest.mark.parametrize("department", sorted({s.department for s in SUBMITTING}) or ["none"])
async def test_each_application_reaches_a_verified_document_in_the_chat(
    settings: Any, db: Any, department: str
) -> None:
    services = [s for s in SUBMITTING if s.department == department]
    assert services
    headers = {
        "Authorization": "Bearer "
        + apikeys.create_key(db, "officers", department, ["cases:read", "cases:write"])
    }
    db.commit()
    async with running_mitra(settings) as chat:
        graph = GraphClient(GRAPH_BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [chat.graph_http])
        keys = PublicKeys.from_json((await chat.mitra_http.get("/verify/keys.json")).content)
        for service in services:
            example = complete_example(service)
            await run_example(chat, db, service, example)
            case = db.execute(
                "SELECT reference, citizen_id FROM cases ORDER BY id DESC LIMIT 1"
            ).fetchone()
            db.commit()
            assert case is not None, service.code
            reference = case["reference"]
            sent_before = len(chat.fake.sent())
            assert reference.startswith(f"{service.case_prefix}-"), (service.code, reference)
            for action in ("review", "approve"):
                done = await chat.mitra_http.post(
                    f"/api/v1/cases/{reference}/actions",
                    json={"action": action, "officer": "P. Srinivas"},
                    headers=headers,
                )
                assert done.status_code == 200, (service.code, done.text)
            if service.document is None:
                assert done.json()["status"] == "approved", service.code
                continue
            assert done.json()["status"] == "issued", service.code

            def delivered() -> bool:
                row = db.execute(
                    "SELECT count(*) AS n FROM document_deliveries WHERE status <> 'done'"
                ).fetchone()
                db.commit()
                return int(row["n"]) == 0

            await eventually(delivered, what=f"{service.code}'s document")
            await chat.settled(db)
            documents = [
                m
                for m in chat.fake.sent()[sent_before:]
                if m.body.get("type") == "document"
                and reference in m.body["document"].get("filename", "")
            ]
            assert len(documents) == 1, service.code
            info = await graph.media_info(documents[0].body["document"]["id"])
            pdf = await graph.download(info["url"])
            checked = verify_pdf(pdf, keys)
            assert checked.ok, (service.code, checked.reason)
            facts = checked.facts
            assert facts is not None and facts["reference"] == reference
            assert facts["kind"] == service.document.kind
            assert facts["holder_name"].strip(), service.code
            for row in facts["facts"]:
                for lang in ("en", "te"):
                    value = row["value"][lang] if isinstance(row["value"], dict) else row["value"]
                    assert value.strip(), (service.code, row["label"]["en"], lang)
                    assert "{" not in value, (service.code, value)
