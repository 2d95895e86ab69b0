"""Task media through the SDK: a download cut short is never served from the cache."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ls_backend.errors import RequestError
from ls_backend.media import MediaResolver
from tests.conftest import copy_bedroom


def test_a_download_cut_short_is_an_error_and_not_cached(tmp_path: Path) -> None:
    image = (copy_bedroom(tmp_path / "served", frames=1) / "00000.jpg").read_bytes()
    requests_seen: list[int] = []

    class CutFirstDownload(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests_seen.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            # The first answer breaks off half-way, as a dropped connection does.
            self.wfile.write(image if len(requests_seen) > 1 else image[: len(image) // 2])
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), CutFirstDownload) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/00000.jpg"
        resolver = MediaResolver(cache_dir=tmp_path / "cache")
        with pytest.raises(RequestError, match="task 1: cannot read media") as error:
            resolver.local_path(url, task_id=1, access=None)
        assert error.value.status == 422
        assert list((tmp_path / "cache").iterdir()) == []
        path = resolver.local_path(url, task_id=1, access=None)
        assert path.read_bytes() == image
        assert resolver.local_path(url, task_id=1, access=None) == path  # cached: no 3rd GET
        server.shutdown()
    assert len(requests_seen) == 2


def test_unreachable_media_is_a_422_naming_the_task(tmp_path: Path) -> None:
    resolver = MediaResolver(cache_dir=tmp_path / "cache")
    with pytest.raises(RequestError, match="task 7: cannot read media") as error:
        resolver.local_path("http://127.0.0.1:9/none.jpg", task_id=7, access=None)
    assert error.value.status == 422
    assert list((tmp_path / "cache").iterdir()) == []
