"""Everything acting on cases needs, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mitra.cases.issue import Issuer
from mitra.cases.notify import Notifier
from mitra.catalogue.loader import Catalogue, default_catalogue
from mitra.config import Settings
from mitra.crypto import FieldCipher
from mitra.documents.signing import Signer, load_signer


@dataclass
class CaseDesk:
    """What Mitra's own operations need (cases, documents, payments)."""

    cipher: FieldCipher
    catalogue: Catalogue
    notifier: Notifier
    signer: Signer | None
    issuer: Issuer | None = None  # None without a signing key
    gateway: Any = None  # mitra.payments.port.PaymentGateway
    link_minutes: int = 15
    reopen_within: timedelta = timedelta(days=7)  # a resolved grievance may be reopened

    @classmethod
    def create(
        cls,
        cipher: FieldCipher,
        *,
        catalogue: Catalogue | None = None,
        signer: Signer | None = None,
        public_url: str = "http://localhost:8000",
    ) -> CaseDesk:
        cat = catalogue or default_catalogue()
        issuer = Issuer(cipher, cat, signer, public_url) if signer is not None else None
        return cls(cipher, cat, Notifier(cipher, cat, issuer), signer, issuer)

    @classmethod
    def from_settings(
        cls, settings: Settings, cipher: FieldCipher, catalogue: Catalogue | None = None
    ) -> CaseDesk:
        signer = (
            load_signer(settings.document_signing_key) if settings.document_signing_key else None
        )
        desk = cls.create(
            cipher, catalogue=catalogue, signer=signer, public_url=settings.public_url
        )
        from mitra.payments.gateways import gateway_from_settings

        desk.gateway = gateway_from_settings(settings)
        desk.link_minutes = settings.payment_link_minutes
        desk.reopen_within = timedelta(days=settings.grievance_reopen_days)
        desk.notifier.reopen_days = settings.grievance_reopen_days
        return desk
