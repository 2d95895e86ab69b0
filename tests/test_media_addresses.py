"""allow_urls never reaches loopback, private or cloud-metadata addresses, on any redirect hop,
and the connection goes to the address that was checked (issue 14, item 2). A table: add a
line to add a case."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ls_backend.errors import RequestError
from ls_backend.media import LabelStudioAccess
from tests.media_helpers import BODY, make, refusal, within
from tests.media_server import MediaServer

# --- item 2: allow_urls never reaches loopback, private or metadata addresses -------------------

INTERNAL_URLS = [
    # (task URL, "{port}" is the loopback test server's)
    "http://127.0.0.1:{port}/a.jpg",
    "http://localhost:{port}/a.jpg",
    "http://127.1:{port}/a.jpg",
    "http://2130706433:{port}/a.jpg",
    "http://0x7f000001:{port}/a.jpg",
    "http://0.0.0.0:{port}/a.jpg",
    "http://[::1]:{port}/a.jpg",
    "http://[::ffff:127.0.0.1]:{port}/a.jpg",
    "http://[::]:{port}/a.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://10.1.2.3/a.jpg",
    "http://172.16.0.1/a.jpg",
    "http://192.168.0.1/a.jpg",
    "http://[fe80::1]/a.jpg",
    "http://[fc00::1]/a.jpg",
    "http://224.0.0.1/a.jpg",
    "http://240.0.0.1/a.jpg",
    "http://[2002:7f00:1::]/a.jpg",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 around 169.254.169.254
    "http://metadata.test/latest/meta-data/",  # a name that resolves to the metadata address
    "http://mixed.test:{port}/a.jpg",  # one public and one loopback address
    "https://loopback.test:{port}/a.jpg",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_allow_urls_still_refuses_internal_addresses(
    tmp_path: Path, server: MediaServer, fake_dns: dict[str, list[str]], url: str
) -> None:
    fake_dns["metadata.test"] = ["169.254.169.254"]
    fake_dns["mixed.test"] = ["93.184.216.34", "127.0.0.1"]
    fake_dns["loopback.test"] = ["127.0.0.1"]
    server.serve("/a.jpg", BODY)
    resolver = make(tmp_path, allowed_hosts=())  # allow_urls on, nothing allow-listed
    task_url = url.format(port=server.port)
    with pytest.raises(RequestError) as error:
        within(5, lambda: resolver.local_path(task_url, task_id=8, access=None))
    message = refusal(error.value, task=8, tmp_path=tmp_path)
    said = message.removeprefix(f"task 8: cannot read media {task_url!r}: ")
    assert said.startswith("its host is not allowed") and "MEDIA_ALLOWED_HOSTS" in said
    assert server.seen == []
    assert "169.254" not in said and "127.0.0.1" not in said  # no resolved address named


HOPS = [
    # (where an allowed host's answer redirects; "{other}" is another loopback server's port)
    "http://127.0.0.1:{other}/a.jpg",
    "http://localhost:{other}/a.jpg",
    "http://[::ffff:127.0.0.1]:{other}/a.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://metadata.test/latest/meta-data/",
    "http://10.0.0.1/a.jpg",
]


@pytest.mark.parametrize("start", ["label studio", "allowed host"])
@pytest.mark.parametrize("hop", HOPS)
def test_every_redirect_hop_is_checked(
    tmp_path: Path,
    server: MediaServer,
    other: MediaServer,
    fake_dns: dict[str, list[str]],
    start: str,
    hop: str,
) -> None:
    fake_dns["metadata.test"] = ["169.254.169.254"]
    fake_dns["media.test"] = ["127.0.0.1"]
    location = hop.format(other=other.port)
    server.redirect("/presign/", location)
    other.serve("/a.jpg", BODY)
    if start == "label studio":  # Label Studio's presign answer leads somewhere internal
        resolver = make(tmp_path, allow_urls=False, allowed_hosts=())
        url, access = "/tasks/1/presign/?fileuri=x", LabelStudioAccess(server.origin, "k")
        server.routes["/tasks/1/presign/"] = server.routes["/presign/"]
    else:  # an allow-listed host (by name) redirects to an address that is not
        resolver = make(tmp_path, allowed_hosts=("media.test",))
        url, access = f"http://media.test:{server.port}/presign/", None
    with pytest.raises(RequestError) as error:
        within(5, lambda: resolver.local_path(url, task_id=9, access=access))
    message = refusal(error.value, task=9, tmp_path=tmp_path)
    said = message.removeprefix(f"task 9: cannot read media {url!r}: ")
    assert said.startswith("its host is not allowed")
    assert other.seen == []
    assert location not in said and str(other.port) not in said and "302" not in said


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8", "localhost", "LocalHost."])
def test_allowed_hosts_let_a_named_host_or_network_through(
    tmp_path: Path, server: MediaServer, allowed: str
) -> None:
    server.serve("/a.jpg", BODY)
    resolver = make(tmp_path, allowed_hosts=(allowed,))
    host = "localhost" if "ocal" in allowed else "127.0.0.1"
    url = f"http://{host}:{server.port}/a.jpg"
    assert resolver.local_path(url, task_id=1, access=None).read_bytes() == BODY


def test_the_checked_address_is_the_one_connected_to(
    tmp_path: Path, server: MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers an allowed address to the check, then an internal one.
    The download connects to the address that was checked, not to a second lookup's."""
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            ip = next(answers, "10.255.255.1")  # later lookups: unroutable, a connect hangs
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    server.serve("/a.jpg", BODY)
    resolver = make(tmp_path, allowed_hosts=("127.0.0.1/32",))
    url = f"http://rebind.test:{server.port}/a.jpg"
    assert within(5, lambda: resolver.local_path(url, task_id=1, access=None)).read_bytes() == BODY
    assert server.seen[0].headers["host"] == f"rebind.test:{server.port}"


def test_a_pinned_https_connection_still_checks_the_certificate_for_the_name(
    tmp_path: Path, fake_dns: dict[str, list[str]]
) -> None:
    """Connecting to the checked address keeps TLS honest: the server name (SNI) and the
    certificate check are the URL's host, not the address."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=media.test",
         "-addext", "subjectAltName=DNS:media.test"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    names: list[str | None] = []

    def server_name(_socket: object, name: str | None, _context: object) -> None:
        names.append(name)

    tls.sni_callback = server_name
    fake_dns["media.test"] = fake_dns["impostor.test"] = ["127.0.0.1"]
    with MediaServer(tls=tls) as server:
        server.serve("/a.jpg", BODY)
        resolver = make(tmp_path, verify_tls=str(cert))
        url = f"https://media.test:{server.port}/a.jpg"
        assert resolver.local_path(url, task_id=1, access=None).read_bytes() == BODY
        with pytest.raises(RequestError, match="TLS"):  # same address, a name the cert lacks
            resolver.local_path(
                f"https://impostor.test:{server.port}/a.jpg", task_id=1, access=None
            )
    assert names == ["media.test", "impostor.test"]
    assert server.seen[0].headers["host"] == f"media.test:{server.port}"
