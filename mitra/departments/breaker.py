"""A circuit breaker per department, so a system that is down costs citizens no waiting.

Closed: calls go through; `failure_threshold` consecutive failed calls open it. Open: calls
fail at once (`retry_after` says for how long) until `reset_after` seconds have passed, then
it is half-open: one trial call goes through while others still fail fast; its success
closes the circuit, its failure opens it for another `reset_after`.

A failure is a call that ended `unavailable` after its retries (timeout, connection error,
5xx, garbage). A 4xx answer is a success here: the system is up and answering.

Written here rather than taken from PyPI: aiobreaker, pybreaker and purgatory all read the
wall clock themselves (no injectable clock, so tests would sleep or monkeypatch), and the
behaviour needed is thirty lines.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.reset_after:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_after(self) -> float:
        """Seconds until a trial call will be let through (0 when calls go through now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_after - self._clock())

    def allow(self) -> bool:
        """Whether a call may go ahead now; in half-open state only one trial at a time."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        if self._trial_in_flight or self.state is CircuitState.HALF_OPEN:
            self._opened_at = self._clock()
            self._trial_in_flight = False
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def release(self) -> None:
        """A call ended without an outcome (cancelled): free the half-open trial slot."""
        self._trial_in_flight = False
