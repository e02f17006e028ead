"""The one retry policy: exponential backoff with full jitter (a uniform draw between 0 and
an exponentially growing, capped ceiling), so that many callers failing together do not retry
together. Used for WhatsApp sends (mitra.whatsapp.errors) and department calls
(mitra.departments.client)."""

from __future__ import annotations

import random


def backoff_ceiling(base: float, growth: float, cap: float, attempt: int) -> float:
    """The ceiling for retry number `attempt` (1 for the first): base·growth^(attempt-1),
    at most `cap`."""
    # Past the cap the exponent no longer matters; bounding it keeps the float finite.
    exponent = min(max(attempt, 1) - 1, 64)
    return float(min(cap, base * growth**exponent))


def full_jitter(ceiling: float, rng: random.Random | None = None) -> float:
    return (rng or random).uniform(0.0, ceiling)
