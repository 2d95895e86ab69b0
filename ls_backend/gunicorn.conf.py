"""gunicorn settings for the backend (docs/team-server.md):

    gunicorn -c ls_backend/gunicorn.conf.py 'ls_backend.wsgi:create_app_from_env()'

PORT (default 9090); GUNICORN_WORKERS, only with LABELME_SAM2_REDIS_URL.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn.glogging import Logger

from labelme_sam2.api import UserError
from ls_backend.access_log import SCRUBBED, scrub_tokens
from ls_backend.settings import exposed_without_auth, settings_from_env

# The settings are read here, in the master, before any worker starts: a bad or half-set one
# (BASIC_AUTH_PASS without BASIC_AUTH_USER) stops gunicorn with one line, as it stops `serve`,
# instead of each worker failing to boot with a traceback.
try:
    backend_settings = settings_from_env()
except UserError as error:
    print(f"labelme-sam2: error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None

bind = f"0.0.0.0:{os.environ.get('PORT') or 9090}"

# Embedded jobs (no LABELME_SAM2_REDIS_URL): exactly one process. It holds the model and the
# job list in its memory; a second process would load a second model onto the GPU, run its own
# jobs, and /jobs, cancel and retry would answer for whichever process took the request.
# GUNICORN_WORKERS is ignored then: threads serve requests side by side.
# With Redis the web side holds neither (no model, no torch): processes are cheap.
workers: int = 1
if os.environ.get("LABELME_SAM2_REDIS_URL"):
    workers = int(os.environ.get("GUNICORN_WORKERS") or min(2 * (os.cpu_count() or 1) + 1, 8))

# /health, /jobs and clicks answer while a long request runs; the model itself still takes one
# thing at a time (clicks before jobs).
threads = 8
# Embedded: the process loads the model before it first reports alive, and a click can wait
# for that load; gunicorn's 30 s default would kill it on a slow disk.
timeout = 600
graceful_timeout = 60
accesslog = "-"

# Request headers that carry secrets, should a custom access_log_format name them.
SECRET_HEADER_ATOMS = frozenset({"{authorization}i", "{x-labelme-sam2-token}i"})


class ScrubbingLogger(Logger):
    """gunicorn's logger, its access log without webhook tokens: `/webhook?token=...` is in
    the request line (%(r)s), the query (%(q)s) and the raw URI, and access logs reach more
    people than the token should."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {key: _scrubbed_atom(key, value) for key, value in atoms.items()}


def _scrubbed_atom(key: str, value: Any) -> Any:
    if key in SECRET_HEADER_ATOMS:
        return SCRUBBED
    return scrub_tokens(value) if isinstance(value, str) else value


logger_class = ScrubbingLogger


def when_ready(server: Any) -> None:
    """Warn, once the sockets are bound, about each address other machines reach while basic
    auth is off (`serve` listens on 127.0.0.1 then; gunicorn binds where it is told)."""
    for address in server.cfg.address:
        if isinstance(address, tuple):  # (host, port); a str is a unix socket: this machine
            warning = exposed_without_auth(backend_settings, str(address[0]))
            if warning is not None:
                server.log.warning("labelme-sam2: %s", warning)
