"""The refusal every sandbox write (and inventory look-up) raises: the contract's error shape."""

from __future__ import annotations


class WriteError(Exception):
    """A refusal in the contract's error shape (`code` picks the HTTP status)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
