"""Choosing the payment gateway from the settings."""

from __future__ import annotations

from typing import Any

from mitra.config import Settings

SANDBOX_PREFIX = "/sandbox/pay"
CALLBACK_PATH = "/payments/callbacks/{gateway}"


def callback_url(settings: Settings, gateway: str) -> str:
    return settings.public_url.rstrip("/") + CALLBACK_PATH.format(gateway=gateway)


def gateway_from_settings(settings: Settings) -> Any:
    """The gateway of this deployment, or None when payments are not configured (a pay step
    then says payments are unavailable)."""
    if settings.payment_gateway == "razorpay":
        if not (
            settings.razorpay_key_id
            and settings.razorpay_key_secret
            and settings.payment_webhook_secret
        ):
            return None
        from mitra.payments.razorpay import BASE_URL, RazorpayGateway

        return RazorpayGateway(
            key_id=settings.razorpay_key_id,
            key_secret=settings.razorpay_key_secret,
            webhook_secret=settings.payment_webhook_secret,
            base_url=settings.payment_gateway_url or BASE_URL,
        )
    if not settings.payment_webhook_secret:
        return None
    from mitra.payments.sandbox import SandboxGateway

    return SandboxGateway(
        settings.payment_gateway_url or settings.public_url.rstrip("/") + SANDBOX_PREFIX,
        settings.payment_webhook_secret,
    )
