"""What to do about a failed Graph call: the error codes that steer retries.

The table follows shared/WHATSAPP.md ("Errors that steer retries"). Callers branch on the
`ErrorAction`, never on Meta's error text, and take their retry delays from
`backoff_seconds`, the one retry policy for WhatsApp sends.
"""

from __future__ import annotations

import enum
import random

from mitra import retry


class ErrorAction(enum.Enum):
    THROTTLE_NUMBER = "throttle_number"  # our business number is over its throughput
    THROTTLE_CITIZEN = "throttle_citizen"  # too many messages to this one citizen
    THROTTLE_APP = "throttle_app"  # the app or the account is rate limited
    TRANSIENT = "transient"  # Meta hiccup, HTTP 5xx, timeout, connection error
    OUTSIDE_WINDOW = "outside_window"  # more than 24 h since the citizen wrote: use a template
    UNDELIVERABLE = "undeliverable"  # not on WhatsApp or blocked us: mark unreachable
    DO_NOT_RETRY = "do_not_retry"  # citizen opted out of marketing / ecosystem limit
    BAD_REQUEST = "bad_request"  # our bug or a config error (template, parameters)
    AUTH = "auth"  # token or permission problem


_BY_CODE: dict[int, ErrorAction] = {
    130429: ErrorAction.THROTTLE_NUMBER,
    131056: ErrorAction.THROTTLE_CITIZEN,
    4: ErrorAction.THROTTLE_APP,
    80007: ErrorAction.THROTTLE_APP,
    131000: ErrorAction.TRANSIENT,
    131016: ErrorAction.TRANSIENT,
    1: ErrorAction.TRANSIENT,
    2: ErrorAction.TRANSIENT,
    131047: ErrorAction.OUTSIDE_WINDOW,
    131026: ErrorAction.UNDELIVERABLE,
    131050: ErrorAction.DO_NOT_RETRY,
    131049: ErrorAction.DO_NOT_RETRY,
    100: ErrorAction.BAD_REQUEST,
    131008: ErrorAction.BAD_REQUEST,
    131009: ErrorAction.BAD_REQUEST,
    0: ErrorAction.AUTH,
    190: ErrorAction.AUTH,
    10: ErrorAction.AUTH,
}

_RETRYABLE = frozenset(
    {
        ErrorAction.THROTTLE_NUMBER,
        ErrorAction.THROTTLE_CITIZEN,
        ErrorAction.THROTTLE_APP,
        ErrorAction.TRANSIENT,
    }
)
_ALERTS_OPERATOR = frozenset({ErrorAction.BAD_REQUEST, ErrorAction.AUTH})


def classify(code: int | None, http_status: int | None) -> ErrorAction:
    """The action for a Graph error `code` (None when there was no error body) and HTTP status.

    A known code decides on its own. Otherwise the HTTP status does: 5xx, or no response at
    all (timeout, connection error), is transient; any other status is a bad request, so an
    unknown failure is never retried blindly.
    """
    if code is not None:
        known = _BY_CODE.get(code)
        if known is not None:
            return known
        if 132000 <= code <= 132016:
            return ErrorAction.BAD_REQUEST
        if 200 <= code <= 299:
            return ErrorAction.AUTH
    if http_status is None or http_status >= 500:
        return ErrorAction.TRANSIENT
    return ErrorAction.BAD_REQUEST


def retryable(action: ErrorAction) -> bool:
    """Whether the same message may be sent again later (after `backoff_seconds`)."""
    return action in _RETRYABLE


def alerts_operator(action: ErrorAction) -> bool:
    """Whether a human must look: these failures do not heal by waiting."""
    return action in _ALERTS_OPERATOR


# (base seconds, growth factor, cap seconds) of the exponential ceiling per retryable action.
_BACKOFF: dict[ErrorAction, tuple[float, float, float]] = {
    ErrorAction.TRANSIENT: (1.0, 2.0, 300.0),
    ErrorAction.THROTTLE_CITIZEN: (4.0, 4.0, 3600.0),
    ErrorAction.THROTTLE_APP: (60.0, 2.0, 900.0),
}
_THROTTLE_NUMBER_DELAY = (1.0, 2.0)


def backoff_ceiling(action: ErrorAction, attempt: int) -> float:
    """The largest delay `backoff_seconds` may return for this action and attempt."""
    if action is ErrorAction.THROTTLE_NUMBER:
        return _THROTTLE_NUMBER_DELAY[1]
    if action not in _BACKOFF:
        raise ValueError(f"{action.name} is not retried, so it has no backoff")
    base, growth, cap = _BACKOFF[action]
    return retry.backoff_ceiling(base, growth, cap, attempt)


def backoff_seconds(action: ErrorAction, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    Exponential backoff with full jitter (a uniform draw between 0 and the ceiling), so that
    many senders throttled together do not retry together:

    - TRANSIENT: ceiling 1, 2, 4, … s, capped at 300 s;
    - THROTTLE_CITIZEN: ceiling 4, 16, 64, … s (4**attempt), capped at 3600 s;
    - THROTTLE_APP: ceiling 60, 120, 240, … s, capped at 900 s;
    - THROTTLE_NUMBER: between 1 and 2 s, whatever the attempt — the number's bucket refills
      every second, so waiting longer only wastes throughput.

    Raises ValueError for actions that must not be retried.
    """
    if action is ErrorAction.THROTTLE_NUMBER:
        return (rng or random).uniform(*_THROTTLE_NUMBER_DELAY)
    return retry.full_jitter(backoff_ceiling(action, attempt), rng)
