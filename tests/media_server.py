"""A small threaded HTTP server on 127.0.0.1 that plays a media host, good or hostile: it
serves bytes, stalls, lies about its size, streams without end, breaks off, redirects, and
records every request's headers (to prove where a token went).

    with MediaServer() as server:
        server.serve("/a.jpg", b"...")
        server.stall_after_headers("/stuck.jpg")
        url = server.url("/a.jpg")

A route is matched on the request's path with its query first, then on the path alone. Stalls
end when the server stops, so a test that fails never leaves a thread behind for long.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

Route = Callable[[BaseHTTPRequestHandler], None]
STALL_SECONDS = 30.0  # the longest a stall lasts while the server runs


@dataclass(frozen=True)
class Seen:
    path: str  # with its query
    headers: dict[str, str]  # names lower-cased


class MediaServer:
    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.sent_bytes: dict[str, int] = {}  # bytes of body written, per route
        self.release = threading.Event()  # set on stop: every stall ends
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.seen.append(
                        Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                route = server.routes.get(self.path) or server.routes.get(urlsplit(self.path).path)
                if route is None:
                    self.send_error(404)
                    return
                # The client may hang up early: as it should, on a hostile answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:  # https: the handshake happens in each request's thread
            self._httpd.socket = tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = self._httpd.server_address[1]
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if urlsplit(seen.path).path == path]

    # --- what a route does -----------------------------------------------------------------

    def serve(
        self, path: str, body: bytes, *, content_type: str = "image/jpeg", delay: float = 0.0
    ) -> None:
        def route(handler: BaseHTTPRequestHandler) -> None:
            self.release.wait(delay)
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            self._count(path, len(body))

        self.routes[path] = route

    def status(self, path: str, code: int) -> None:
        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_error(code)

        self.routes[path] = route

    def stall_before_headers(self, path: str) -> None:
        def route(handler: BaseHTTPRequestHandler) -> None:
            self.release.wait(STALL_SECONDS)

        self.routes[path] = route

    def stall_after_headers(self, path: str, *, first: bytes = b"\xff\xd8") -> None:
        """Headers promising 1 MB, a few bytes, then nothing until the server stops."""

        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "image/jpeg")
            handler.send_header("Content-Length", str(2**20))
            handler.end_headers()
            handler.wfile.write(first)
            handler.wfile.flush()
            self.release.wait(STALL_SECONDS)

        self.routes[path] = route

    def huge_length(self, path: str, length: int | str = 10 * 2**30) -> None:
        """A Content-Length far over any cap (or not a number at all), then a trickle of junk."""

        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "video/mp4")
            handler.send_header("Content-Length", str(length))
            handler.end_headers()
            self._stream(handler, path)

        self.routes[path] = route

    def endless(self, path: str) -> None:
        """No Content-Length: junk until the client hangs up (or the server stops)."""

        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "video/mp4")
            handler.end_headers()
            self._stream(handler, path)

        self.routes[path] = route

    def drip(self, path: str, *, every: float = 0.05) -> None:
        """A byte at a time, each well within any read timeout, for as long as it is read."""

        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "video/mp4")
            handler.end_headers()
            while not self.release.wait(every):
                handler.wfile.write(b"\0")
                handler.wfile.flush()
                self._count(path, 1)

        self.routes[path] = route

    def cut_short(self, path: str, body: bytes) -> None:
        """Promises the whole body, sends half, hangs up: a dropped connection."""

        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "image/jpeg")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.close_connection = True

        self.routes[path] = route

    def redirect(self, path: str, location: str, *, code: int = 302) -> None:
        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(code)
            handler.send_header("Location", location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        self.routes[path] = route

    def _stream(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        chunk = b"\0" * 65536
        started = time.monotonic()
        while not self.release.is_set() and time.monotonic() - started < STALL_SECONDS:
            handler.wfile.write(chunk)
            self._count(path, len(chunk))

    def _count(self, path: str, sent: int) -> None:
        with self._lock:
            self.sent_bytes[path] = self.sent_bytes.get(path, 0) + sent

    # --- lifetime --------------------------------------------------------------------------

    def __enter__(self) -> MediaServer:
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
