"""Access logs without secrets: a webhook token sent as `/webhook?token=...` is in the request
line, and access logs are read (and shipped, and kept) by more people than the token should
reach. `serve`'s werkzeug server logs through ScrubbingRequestHandler; gunicorn's access log
through the logger class in gunicorn.conf.py, both with scrub_tokens."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.serving import WSGIRequestHandler

SCRUBBED = "[scrubbed]"
# Any query parameter whose name ends in "token" (token=, access_token=), in a URL or a bare
# query string, up to the next parameter, fragment, space, quote or colour code.
_TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])[\w.-]*token=)[^&#\s\"'\x1b]*", re.IGNORECASE)


def scrub_tokens(text: str) -> str:
    """`text` (a request line, a URL, a query string) with token values replaced."""
    if "token" not in text.lower():  # the common case: nothing to scan
        return text
    return _TOKEN_IN_QUERY.sub(rf"\g<1>{SCRUBBED}", text)


class ScrubbingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, its log lines (access lines, and errors that quote the
    request line) without token values."""

    def log(self, type: str, message: str, *args: Any) -> None:
        scrubbed = tuple(scrub_tokens(arg) if isinstance(arg, str) else arg for arg in args)
        super().log(type, scrub_tokens(message), *scrubbed)
