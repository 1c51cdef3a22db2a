"""The one error shape use cases raise for a request that cannot be done (the API renders it)."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """``status``: the HTTP status that fits; ``field``: the request field at fault, if one is."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        self.extra: dict[str, Any] = {}  # more members of the answer's JSON (a 409's ``window_closed_at``)

    def problems(self) -> list[tuple[str | None, str]]:
        """(field, message) pairs; one unless a subclass collects several."""
        return [(self.field, self.reason)]
