"""Serial numbers that look issued by a register: each sequence starts at 123 (so the
contract's examples, all `…000123…`, exist in the sandbox) and climbs by irregular steps."""

from __future__ import annotations

import random
from collections.abc import Hashable


class Sequences:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._last: dict[Hashable, int] = {}

    def take(self, key: Hashable, *, start: int = 123, max_step: int = 37) -> int:
        last = self._last.get(key)
        value = start if last is None else last + self._rng.randint(1, max_step)
        self._last[key] = value
        return value
