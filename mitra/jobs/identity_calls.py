"""Making the identity step-up's calls while the citizen's message is being processed.

The engine asks for them as `Turn.transient` effects: unlike department calls they are never
written to the effects table, because their arguments are an Aadhaar number or an OTP, which
must not reach the database (issue 4; DESIGN invariant 7). The processor makes the call at once
(a few seconds at most), hands the result straight back to the engine, and replaces its stored
copy of the citizen's message (`Turn.redact_input`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from mitra.config import Settings
from mitra.conversation.engine import Effect, EffectResult
from mitra.identity import EkycError, EkycProvider

log = logging.getLogger(__name__)


def run_transient(provider: EkycProvider | None, call: Effect) -> EffectResult:
    if provider is None:
        return EffectResult(call.id, ok=False, error="unavailable")
    try:
        if call.operation == "ekyc_start":
            sent = provider.start(call.args["aadhaar"])
            return EffectResult(
                call.id,
                ok=True,
                data={"txn_id": sent.txn_id, "masked_mobile": sent.masked_mobile},
            )
        if call.operation == "ekyc_verify":
            verified = provider.verify(call.args["txn_id"], call.args["otp"])
            return EffectResult(call.id, ok=True, data=dataclasses.asdict(verified))
    except EkycError as exc:
        data = {"attempts_left": exc.attempts_left} if exc.attempts_left is not None else None
        return EffectResult(call.id, ok=False, data=data, error=exc.kind)
    except Exception:  # a bug in a provider must not reach the citizen as a trace
        log.exception("e-KYC %s failed", call.operation)
        return EffectResult(call.id, ok=False, error="unavailable")
    return EffectResult(call.id, ok=False, error="invalid")


def provider_from_settings(settings: Settings) -> Any:
    """The e-KYC provider of this deployment: MITRA_EKYC_URL, or the sandbox's under
    MITRA_PUBLIC_URL/sandbox/ekyc with MITRA_DEPARTMENTS=sandbox; None when there is none
    (services that need identity then say it is unavailable)."""
    from mitra.identity import HttpEkycProvider

    if settings.ekyc_url:
        return HttpEkycProvider(settings.ekyc_url, settings.ekyc_token or "")
    if settings.departments == "sandbox":
        return HttpEkycProvider(settings.public_url + "/sandbox/ekyc", settings.ekyc_token or "")
    return None
