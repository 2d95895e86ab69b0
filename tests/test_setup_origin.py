"""/setup cannot point a project at a host of the caller's choosing: the backend talks only to
the Label Studio it is configured for, or to origins its admin listed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ls_backend.label_studio_api import MAX_SETUP_PROJECTS, AccessBook
from ls_backend.media import LabelStudioAccess
from ls_backend.media_addresses import Origin
from tests.ls_helpers import IMAGE, click, make_backend


class Listener:
    """A host on loopback that counts what reaches it (the attacker's, or an internal one)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.requests.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    host = Listener()
    yield host
    host.close()


def setup_then_click(backend, host_url: str):
    setup = backend.client.post(
        "/setup",
        json={"project": "3", "schema": IMAGE, "hostname": host_url, "access_token": "stolen"},
    )
    task = {"id": 1, "data": {"image": "/data/upload/3/photo.jpg"}}
    answer = backend.predict(IMAGE, task, {"result": [click(50, 50, "car")]})
    return setup, answer


def test_setup_to_an_unlisted_host_is_refused_and_nothing_is_fetched_there(
    tmp_path: Path, listener: Listener
):
    for backend in make_backend(tmp_path):
        setup, answer = setup_then_click(backend, listener.url)
        assert setup.status_code == 403 and "LABELME_SAM2_SETUP_HOSTS" in setup.json["error"]
        assert answer.status_code == 422
    assert listener.requests == []


def test_setup_to_a_listed_host_is_used(tmp_path: Path, listener: Listener):
    for backend in make_backend(tmp_path, setup_hosts=(Origin.of(listener.url),)):
        setup, answer = setup_then_click(backend, listener.url)
        assert setup.status_code == 200
        assert answer.status_code == 422  # the listed host has no such upload
    assert listener.requests and all("upload/3/photo.jpg" in path for path in listener.requests)


def test_with_label_studio_configured_setup_addresses_are_ignored(
    tmp_path: Path, listener: Listener
):
    configured = LabelStudioAccess(url="http://127.0.0.1:9", api_key="key")  # nothing listens
    for backend in make_backend(tmp_path, access=configured):
        setup, answer = setup_then_click(backend, listener.url)
        assert setup.status_code == 200 and answer.status_code == 422
    assert listener.requests == []


def test_setup_remembers_a_bounded_number_of_projects():
    book = AccessBook(None)
    access = LabelStudioAccess(url="http://ls:8080", api_key="k")
    for project in range(MAX_SETUP_PROJECTS):
        book.remember(str(project), access)
    book.remember("0", access)  # a project already known may set up again
    with pytest.raises(Exception, match="projects are set up already"):
        book.remember("new", access)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://LS.example:8080/", "http://ls.example:8080"),
        ("https://ls.example", "https://ls.example:443"),
        ("http://127.0.0.1", "http://127.0.0.1:80"),
    ],
)
def test_origins_compare_scheme_host_and_port(url: str, expected: str):
    assert str(Origin.of(url)) == expected
