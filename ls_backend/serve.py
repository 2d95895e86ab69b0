"""`labelme-sam2 serve`: the Label Studio ML backend on a port, the model loaded once.

Registered with labelme-sam2's command line through the `labelme_sam2.commands` entry point,
so labelme_sam2 itself never imports this package. Flask and torch load only when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from dataclasses import replace
from pathlib import Path

from labelme_sam2.api import UserError
from labelme_sam2.cli.model_flags import add_model_arguments, model_options

NAME = "serve"
DEFAULT_PORT = 9090


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        NAME,
        help="run the Label Studio ML backend (SAM 2 masks for images, frame sequences, videos)",
        description="Serve Label Studio's ML backend protocol. Label Studio is reached with "
        "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (or what it sends to /setup); "
        "BASIC_AUTH_USER/BASIC_AUTH_PASS protect the backend.",
    )
    serve.add_argument(
        "--host",
        default=None,
        help="address to listen on (default: 127.0.0.1 without basic auth, all with it)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: 9090")
    add_model_arguments(serve, environ=os.environ)  # as gunicorn and `worker` read them
    serve.add_argument(
        "--masks-dir",
        type=Path,
        default=None,
        help="where video tasks' masks go, one folder per task "
        "(default: $LABELME_SAM2_MASKS_DIR, else not saved)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from werkzeug.serving import run_simple

        from ls_backend.access_log import ScrubbingRequestHandler
        from ls_backend.settings import exposed_without_auth, settings_from_env
        from ls_backend.wsgi import build_app
    except ImportError as error:
        raise UserError(
            "serve",
            f"needs Flask and label-studio-sdk ({error}): pip install 'labelme-sam2[label-studio]'",
        ) from error

    # All of this before the model takes its seconds to load.
    settings = settings_from_env()
    host = args.host or default_host(settings.basic_auth is not None)
    _check_can_listen(host, args.port)
    warning = exposed_without_auth(settings, host)
    if warning is not None:
        print(f"labelme-sam2: warning: {warning}", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.masks_dir is not None:
        settings = replace(settings, masks_root=args.masks_dir)
    app = build_app(settings, model_options(args))
    print(f"labelme-sam2 backend listening on http://{host}:{args.port}", flush=True)
    # Threaded so /health and /setup answer while a prediction runs; tracking itself is one
    # task at a time (Predictor's lock). The handler keeps webhook tokens out of the log.
    run_simple(host, args.port, app, threaded=True, request_handler=ScrubbingRequestHandler)
    return 0


def default_host(with_auth: bool) -> str:
    """Without basic auth only this machine may connect, unless --host says otherwise: an
    open backend on every address is one a colleague's laptop or a scanner can drive."""
    return "0.0.0.0" if with_auth else "127.0.0.1"


def _check_can_listen(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise UserError(
            f"{host}:{port}", f"cannot listen there ({error.strerror or error})"
        ) from error
