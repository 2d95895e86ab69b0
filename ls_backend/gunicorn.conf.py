"""gunicorn settings for the backend (docs/team-server.md):

    gunicorn -c ls_backend/gunicorn.conf.py 'ls_backend.wsgi:create_app_from_env()'

PORT (default 9090); GUNICORN_WORKERS, only with LABELME_SAM2_REDIS_URL.
"""

from __future__ import annotations

import os

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
