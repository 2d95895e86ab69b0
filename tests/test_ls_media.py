"""Task media through the SDK: a download cut short is never served from the cache."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ls_backend.errors import RequestError
from ls_backend.media import LabelStudioAccess, MediaResolver
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
        resolver = MediaResolver(
            cache_dir=tmp_path / "cache", allow_urls=True, allowed_hosts=("127.0.0.1",)
        )  # loopback is refused unless listed
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
    resolver = MediaResolver(
        cache_dir=tmp_path / "cache", allow_urls=True, allowed_hosts=("127.0.0.1",)
    )
    with pytest.raises(RequestError, match="task 7: cannot read media") as error:
        resolver.local_path("http://127.0.0.1:9/none.jpg", task_id=7, access=None)
    assert error.value.status == 422
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.invalid/a.jpg", "host other than Label Studio's"),
        ("file:///etc/passwd", "neither Label Studio storage nor an http"),
        ("/etc/passwd", "neither Label Studio storage nor an http"),
        ("ftp://example.invalid/a.jpg", "neither Label Studio storage nor an http"),
    ],
)
def test_media_from_anywhere_but_label_studio_is_refused(
    tmp_path: Path, url: str, reason: str
) -> None:
    resolver = MediaResolver(cache_dir=tmp_path / "cache")
    with pytest.raises(RequestError, match=reason) as error:
        resolver.local_path(
            url, task_id=7, access=LabelStudioAccess(url="http://ls:8080", api_key="k")
        )
    assert error.value.status == 422 and "task 7" in error.value.message
    assert not (tmp_path / "cache").exists()  # nothing was fetched


def test_local_files_are_read_only_under_the_media_roots(
    tmp_path: Path, document_root: Path
) -> None:
    inside = document_root / "bedroom"
    url = "/data/local-files/?d=bedroom/00000.jpg"
    resolver = MediaResolver(cache_dir=tmp_path / "cache", roots=(inside,))
    assert resolver.local_path(url, task_id=1, access=None) == (inside / "00000.jpg").resolve()
    # A symlink inside the document root that leads out of the media roots.
    (document_root / "elsewhere").mkdir()
    (document_root / "elsewhere" / "link.jpg").symlink_to(inside / "00000.jpg")
    elsewhere = MediaResolver(cache_dir=tmp_path / "cache", roots=(document_root / "elsewhere",))
    with pytest.raises(RequestError, match="outside LABELME_SAM2_MEDIA_ROOTS"):
        elsewhere.local_path("/data/local-files/?d=elsewhere/link.jpg", task_id=1, access=None)
    with pytest.raises(RequestError, match="outside LABELME_SAM2_MEDIA_ROOTS"):
        resolver.local_path("/data/local-files/?d=video/clip.mp4", task_id=1, access=None)
