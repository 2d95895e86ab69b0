"""Request errors: one JSON line for the caller, the server stays up."""

from __future__ import annotations


class RequestError(Exception):
    """A request the backend cannot serve, with the HTTP status and a message that names the
    problem (the task, the region, the media URL)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
