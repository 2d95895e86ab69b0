"""One media download over http(s) that a hostile or broken host cannot turn against the backend.

- Timeouts: `connect_timeout` to connect (and for the TLS handshake), `read_timeout` for each
  wait on the socket (for the headers, then between bytes), `total_timeout` for the whole
  download (a host dripping a byte every few seconds never trips a read timeout).
- A size cap: a Content-Length over `max_bytes` is refused before the body is read, and reading
  stops as soon as the body passes it. The body streams into a temp file next to its final
  place, renamed there only when whole, removed on any failure.
- Cancellation: a watcher thread polls the caller's `cancel` event (and the total deadline)
  every WATCH_SECONDS and, once it is set, shuts down the download's socket; a read blocked on
  a stalled host returns at once, so a cancelled download ends within about a tenth of a
  second, not a read timeout later. The event is also checked between chunks. Only a connect
  in progress (TCP and the TLS handshake) runs on to its `connect_timeout` before it notices.
- Redirects are followed here, one hop at a time, at most `max_redirects`. Label Studio's own
  answers may redirect to another origin (a presigned cloud URL): that hop is checked like any
  other host, so a cloud store on a private network (MinIO) must be in `allowed_hosts`.
- Addresses (SSRF): every hop to a host other than the trusted origin (Label Studio's) is
  resolved first, and refused when any of its addresses is loopback, private, link-local,
  multicast, reserved, unspecified, shared (100.64/10) or a cloud-metadata address, IPv4
  embedded in IPv6 included; unless the host name or the address is in `allowed_hosts`
  (names or CIDRs). The connection then goes to the address that was checked (pinned: the
  URL's host is kept for the Host header, TLS SNI and the certificate check), so a name that
  resolves differently a moment later (DNS rebinding) is never connected to unchecked.
- Credentials (`auth` headers) go only to the trusted origin, and only while every hop so far
  stayed on it: never across a redirect to another origin, nor back from one.
- Proxies from the environment (HTTP(S)_PROXY) and .netrc are not used: a proxy would resolve
  and connect itself, past the address check.

Errors are DownloadError: `public` is safe to show anyone (it names no other host's URL,
address or status); str() has the details, for the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urljoin

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ls_backend.media_addresses import (
    MAX_ADDRESSES,
    AddressPolicy,
    Origin,
)
from ls_backend.media_errors import (
    DownloadCancelled,
    DownloadError,
    HttpStatusError,
)

log = logging.getLogger(__name__)

MAX_MEDIA_SETTING = "LABELME_SAM2_MAX_MEDIA_MB"
CHUNK_BYTES = 64 * 1024
WATCH_SECONDS = 0.1
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PARTIAL_PREFIX = ".part-"
# requests >= 2.32.3 lets an adapter choose the address it connects to; older ones would
# resolve the name again (the check still runs on every hop, but a rebinding name could win).
PINNING = hasattr(HTTPAdapter, "build_connection_pool_key_attributes")


class CancelSignal(Protocol):
    """What `cancel` may be: a threading.Event, or anything else with is_set() (a job's
    cancel flag). It is polled, so is_set() must be quick and must not raise."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Limits:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float | None = 900.0
    max_bytes: int = 2**30
    max_redirects: int = 5
    verify: bool | str = True  # requests' `verify`: TLS checks on, or a CA bundle


def download_to(
    url: str,
    target: Path,
    *,
    limits: Limits,
    policy: AddressPolicy,
    trusted: Origin | None = None,
    auth: Mapping[str, str] | None = None,
    cancel: CancelSignal | None = None,
) -> int:
    """Download `url` to `target` (renamed there when whole); the number of bytes. `trusted`:
    the origin that gets `auth` and skips the address check (Label Studio's)."""
    watch = _Watch(cancel, limits.total_timeout)
    try:
        descriptor, partial = tempfile.mkstemp(dir=target.parent, prefix=PARTIAL_PREFIX)
    except OSError as error:
        raise _unstorable(error) from error
    try:
        with watch, os.fdopen(descriptor, "wb") as out:
            size = _follow(
                url,
                out,
                limits=limits,
                policy=policy,
                trusted=trusted,
                auth=auth or {},
                watch=watch,
            )
        os.replace(partial, target)
    except OSError as error:  # writing or renaming the file (the download's own are mapped)
        Path(partial).unlink(missing_ok=True)
        if isinstance(error, requests.RequestException):  # an IOError too, never expected here
            raise _failure(error, url=url, limits=limits) from error
        raise _unstorable(error) from error
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return size


def _follow(
    url: str,
    out: BinaryIO,
    *,
    limits: Limits,
    policy: AddressPolicy,
    trusted: Origin | None,
    auth: Mapping[str, str],
    watch: _Watch,
) -> int:
    current = url
    on_trusted = True  # every hop so far was on the trusted origin
    for hop in range(limits.max_redirects + 1):
        watch.check()
        try:
            current = requests.Request("GET", current).prepare().url or current  # IDNA, quoting
            origin = Origin.of(current)
        except (ValueError, requests.RequestException) as error:
            public = (
                "it redirects to a URL that is not http(s)"
                if hop
                else "it is not a valid http(s) URL"
            )
            raise DownloadError(public, f"not an http(s) URL: {current!r}") from error
        trusted_hop = origin == trusted
        on_trusted = on_trusted and trusted_hop
        addresses: list[str | None] = [None] if trusted_hop else [*policy.addresses(origin)]
        session, response = _connect(
            current, origin, addresses, dict(auth) if on_trusted else {}, limits, watch
        )
        with session, response:
            status = response.status_code
            location = response.headers.get("Location")
            if status in REDIRECT_CODES and location:
                log.info("media %s redirects (%s) to %s", current, status, location)
                try:
                    current = urljoin(current, location)
                except ValueError as error:  # a Location requests let through
                    raise DownloadError(
                        "it redirects to a URL that is not http(s)", f"bad Location {location!r}"
                    ) from error
                continue
            if not 200 <= status < 300:
                public = f"Label Studio answered {status}" if trusted_hop else "the host refused it"
                raise HttpStatusError(
                    public, f"{current} answered {status}", status=status, trusted=trusted_hop
                )
            return _stream(response, out, url=current, limits=limits, watch=watch)
    raise DownloadError(
        f"too many redirects (more than {limits.max_redirects})",
        f"{url}: more than {limits.max_redirects} redirects, the last to {current}",
    )


def _connect(
    url: str,
    origin: Origin,
    addresses: list[str | None],
    headers: dict[str, str],
    limits: Limits,
    watch: _Watch,
) -> tuple[requests.Session, requests.Response]:
    """The response (its headers read), from the first of `addresses` that connects (None: the
    library resolves the name itself; only for the trusted origin)."""
    addresses = addresses[:MAX_ADDRESSES]
    for index, address in enumerate(addresses):
        session = requests.Session()
        session.trust_env = False  # no proxies, no .netrc credentials
        if address is not None and not PINNING:
            log.warning("requests %s cannot pin addresses: upgrade to 2.32.3", requests.__version__)
        adapter = _MediaAdapter(pin=address, server_name=origin.host, watch=watch)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        sent = dict(headers)
        if address is not None:
            sent["Host"] = origin.netloc
        try:
            response = session.get(
                url,
                headers=sent,
                stream=True,
                allow_redirects=False,
                timeout=(limits.connect_timeout, limits.read_timeout),
                verify=limits.verify,
            )
        except requests.RequestException as error:
            session.close()
            watch.check()
            last = index == len(addresses) - 1
            connect_failed = isinstance(error, requests.ConnectionError) and not isinstance(
                error, requests.exceptions.SSLError
            )
            if connect_failed and not last:
                log.info("media %s: %s did not connect (%s); trying the next", url, address, error)
                continue
            raise _failure(error, url=url, limits=limits) from error
        except ValueError as error:  # requests reads a redirect's Location: http://[x
            session.close()
            raise DownloadError(
                "it redirects to a URL that is not http(s)", f"{url}: bad redirect ({error})"
            ) from error
        return session, response
    raise AssertionError("no address to connect to")  # addresses is never empty


def _stream(
    response: requests.Response, out: BinaryIO, *, url: str, limits: Limits, watch: _Watch
) -> int:
    too_large = DownloadError(
        f"it is larger than the {limits.max_bytes / 2**20:g} MB limit ({MAX_MEDIA_SETTING})",
        f"{url} is over {limits.max_bytes} bytes",
    )
    length = response.headers.get("Content-Length", "").strip()
    # ASCII digits only, and no more than a real size has ("²" and 5000 digits make int() fail)
    if re.fullmatch(r"[0-9]{1,20}", length) and int(length) > limits.max_bytes:
        log.info("media %s: Content-Length %s", url, length)
        raise too_large
    written = 0
    chunks = response.raw.stream(CHUNK_BYTES, decode_content=True)
    while True:
        try:
            chunk = next(chunks, None)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            watch.check()
            raise _failure(error, url=url, limits=limits) from error
        watch.check()
        if chunk is None:
            return written
        written += len(chunk)
        if written > limits.max_bytes:
            raise too_large
        try:
            out.write(chunk)
        except OSError as error:  # the disk is full
            raise _unstorable(error) from error


def _unstorable(error: OSError) -> DownloadError:
    return DownloadError("the media cache cannot store it", f"cannot write the download: {error}")


def _failure(error: BaseException, *, url: str, limits: Limits) -> DownloadError:
    detail = f"{url}: {error!r}"
    cause: BaseException | None = error
    while cause is not None:  # requests wraps urllib3's errors, which wrap the socket's
        if isinstance(cause, urllib3.exceptions.NewConnectionError):  # refused, unreachable
            break  # (a subclass of ConnectTimeoutError, for history's sake)
        if isinstance(cause, urllib3.exceptions.ConnectTimeoutError | requests.ConnectTimeout):
            return DownloadError(
                f"its host did not answer within {limits.connect_timeout:g} s", detail
            )
        if isinstance(
            cause,
            urllib3.exceptions.ReadTimeoutError | requests.ReadTimeout | socket.timeout,
        ):
            return DownloadError(
                f"its host did not answer within {limits.read_timeout:g} s", detail
            )
        if isinstance(cause, urllib3.exceptions.SSLError | requests.exceptions.SSLError):
            return DownloadError("the TLS connection to its host failed", detail)
        if isinstance(cause, urllib3.exceptions.DecodeError):
            return DownloadError("its host sent a body that does not decode", detail)
        if isinstance(
            cause,
            urllib3.exceptions.ProtocolError | requests.exceptions.ChunkedEncodingError,
        ):
            return DownloadError("the connection broke off before the end", detail)
        cause = cause.__cause__ or cause.__context__ or _wrapped(cause)
    return DownloadError("its host could not be reached", detail)


def _wrapped(error: BaseException) -> BaseException | None:
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    first = error.args[0] if error.args else None
    return first if isinstance(first, BaseException) else None


class _Watch:
    """Ends a download when `cancel` is set or the total time is up: checked between chunks,
    and by a thread that shuts down the download's sockets (a blocked read returns at once)."""

    def __init__(self, cancel: CancelSignal | None, seconds: float | None) -> None:
        self.cancel = cancel
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.reason: str | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Watch:
        if self.cancel is not None or self.deadline is not None:
            self._thread = threading.Thread(target=self._run, name="media-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.reason is not None:
                _shut(sock)

    def check(self) -> None:
        reason = self.reason or self._due()
        if reason == "cancelled":
            raise DownloadCancelled("the download was cancelled", "cancelled by the caller")
        if reason == "deadline":
            raise DownloadError(
                f"it took longer than {self.seconds:g} s to download",
                f"not done after {self.seconds} s",
            )

    def _due(self) -> str | None:
        if self.cancel is not None and self.cancel.is_set():
            return "cancelled"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "deadline"
        return None

    def _run(self) -> None:
        while not self._done.wait(WATCH_SECONDS):
            reason = self._due()
            if reason is not None:
                with self._lock:
                    self.reason = reason
                    for sock in self._sockets:
                        _shut(sock)
                return


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also under TLS: a blocked read returns. OSError: closed.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _MediaAdapter(HTTPAdapter):
    """Connects to `pin` (a checked address) while the URL's host stays the TLS server name,
    and hands every new socket to the watch."""

    def __init__(self, *, pin: str | None, server_name: str, watch: _Watch) -> None:
        self._pin = pin
        self._server_name = server_name
        self._watch = watch
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        watch = self._watch

        class WatchedHTTPConnection(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                watch.attach(self.sock)

        class WatchedHTTPSConnection(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                watch.attach(self.sock)

        class HTTPPool(HTTPConnectionPool):
            ConnectionCls = WatchedHTTPConnection

        class HTTPSPool(HTTPSConnectionPool):
            ConnectionCls = WatchedHTTPSConnection

        self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if self._pin is not None:
            host_params["host"] = self._pin
            if host_params["scheme"] == "https":
                pool_kwargs["server_hostname"] = self._server_name
        return host_params, pool_kwargs
