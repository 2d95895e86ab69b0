"""What a media download can fail with: a reason fit to show anyone, and the details for the
log (media_download.py raises them, media.py turns them into the request's error)."""

from __future__ import annotations


class DownloadError(Exception):
    """`public`: the reason, fit for anyone to read; str(): the details, for the log."""

    def __init__(self, public: str, detail: str) -> None:
        super().__init__(detail)
        self.public = public


class DownloadCancelled(DownloadError):
    pass


class HostNotAllowed(DownloadError):
    pass


class HttpStatusError(DownloadError):
    def __init__(self, public: str, detail: str, *, status: int, trusted: bool) -> None:
        super().__init__(public, detail)
        self.status = status
        self.trusted = trusted  # answered by the trusted origin (Label Studio)
