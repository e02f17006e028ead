"""`mitra case`, `mitra apikey`, `mitra document revoke` and `mitra keys` as an officer or an
operator runs them: real processes against the test database."""

from __future__ import annotations

import re
from typing import Any

from mitra.cases import store
from mitra.catalogue.loader import default_catalogue
from tests.test_cases import ANSWERS, CHOICES, NOW, TENALI
from tests.test_cli import BASE_ENV, run_mitra


def test_an_officer_decides_from_the_shell(db: Any, cipher: Any, settings: Any) -> None:
    citizen = db.execute(
        "INSERT INTO citizens (wa_id_hash, language) VALUES (%s, 'en') RETURNING id", (b"c",)
    ).fetchone()["id"]
    service = default_catalogue().service("REV-01")
    assert service is not None
    reference = store.submit(
        db,
        cipher,
        citizen_id=citizen,
        effect_id="e-cli",
        service=service,
        language="en",
        answers=ANSWERS,
        choices=CHOICES,
        area=TENALI,
        profile_name=None,
        now=NOW,
    ).reference
    db.commit()
    # The keys of the fixtures' settings (what encrypted the case), not a second import's.
    env = {
        **BASE_ENV,
        "MITRA_DATABASE_URL": settings.database_url,
        "MITRA_ENCRYPTION_KEYS": settings.encryption_keys,
        "MITRA_LOOKUP_KEY": settings.lookup_key,
        "MITRA_DOCUMENT_SIGNING_KEY": settings.document_signing_key,
        "MITRA_PAYMENT_WEBHOOK_SECRET": settings.payment_webhook_secret,
    }

    listed = run_mitra("case", "list", "--department", "REV", env=env)
    assert listed.returncode == 0, listed.stderr
    assert reference in listed.stdout and "submitted" in listed.stdout
    assert reference not in run_mitra("case", "list", "--department", "MUN", env=env).stdout

    early = run_mitra("case", "act", reference, "approve", env=env)
    assert early.returncode == 1 and "illegal" in early.stderr  # not reviewed yet: refused
    assert run_mitra("case", "act", reference, "review", env=env).returncode == 0
    approved = run_mitra("case", "act", reference, "approve", "--officer", "K. Lakshmi", env=env)
    assert approved.returncode == 0, approved.stderr
    document = re.search(r"Document (D[A-Z2-7]{20}) issued", approved.stdout)
    assert document is not None
    shown = run_mitra("case", "show", reference, env=env)
    assert "issued" in shown.stdout and "approve" in shown.stdout

    revoked = run_mitra(
        "document", "revoke", document.group(1), "--reason", "issued in error", env=env
    )
    assert revoked.returncode == 0, revoked.stderr
    row = db.execute("SELECT revoked_reason FROM documents").fetchone()
    assert row["revoked_reason"] == "issued in error"

    key = run_mitra(
        "apikey",
        "create",
        "revenue-system",
        "--department",
        "REV",
        "--scope",
        "cases:read",
        env=env,
    )
    assert key.returncode == 0 and key.stdout.strip().startswith("mk_")
    bad = run_mitra("apikey", "create", "x", "--scope", "everything", env=env)
    assert bad.returncode == 2
    assert "revenue-system" in run_mitra("apikey", "list", env=env).stdout


def test_a_new_signing_key_is_printed_and_its_public_half_named() -> None:
    made = run_mitra("keys", env=BASE_ENV)
    assert made.returncode == 0
    assert len(made.stdout.strip()) == 44 and "key id" in made.stderr
