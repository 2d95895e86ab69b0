"""Media downloads a hostile or broken host cannot turn against the backend (issue 14, items 2-4):
timeouts, a size cap, cancellation, no lock across other URLs' downloads, a bounded LRU cache
keyed by origin, and no fetch of loopback, private or cloud-metadata addresses on any hop.

The hostile hosts are tables: add a line to add a case. Every media host here is a
tests.media_server.MediaServer on 127.0.0.1, allow-listed where a test needs it to answer.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ls_backend.errors import RequestError
from ls_backend.media import LabelStudioAccess, MediaCancelled, MediaResolver
from tests.media_helpers import BODY, _in_background, cached_files, make, refusal, wait_for, within
from tests.media_server import MediaServer

# --- item 3: a host that stalls, lies or floods ------------------------------------------------

HOSTILE_HOSTS: list[tuple[str, Callable[[MediaServer], None], str]] = [
    # (case, what the host at /m.jpg does, what the 422 says)
    ("stalls after headers", lambda s: s.stall_after_headers("/m.jpg"), "did not answer within"),
    ("stalls before headers", lambda s: s.stall_before_headers("/m.jpg"), "did not answer within"),
    ("claims 10 GB", lambda s: s.huge_length("/m.jpg"), "larger than the 1 MB limit"),
    ("streams past the cap", lambda s: s.endless("/m.jpg"), "larger than the 1 MB limit"),
    ("drips forever", lambda s: s.drip("/m.jpg"), "took longer than"),
    ("breaks off half-way", lambda s: s.cut_short("/m.jpg", BODY), "broke off"),
    ("answers 404", lambda s: s.status("/m.jpg", 404), "the host refused it"),
    ("answers 500", lambda s: s.status("/m.jpg", 500), "the host refused it"),
    ("redirects to itself", lambda s: s.redirect("/m.jpg", "/m.jpg"), "too many redirects"),
    ("redirects to a file", lambda s: s.redirect("/m.jpg", "file:///etc/passwd"), "not http"),
    ("redirects to a broken URL", lambda s: s.redirect("/m.jpg", "http://[x"), "not http"),
    ("claims a 5000-digit size", lambda s: s.huge_length("/m.jpg", "7" * 5000), "larger than"),
    ("claims a size in ² digits", lambda s: s.huge_length("/m.jpg", "²"), "larger than"),
]


@pytest.mark.parametrize(
    ("case", "host", "reason"), HOSTILE_HOSTS, ids=[case for case, _, _ in HOSTILE_HOSTS]
)
def test_a_hostile_host_is_a_422_within_the_limits_and_leaves_nothing_cached(
    tmp_path: Path,
    server: MediaServer,
    case: str,
    host: Callable[[MediaServer], None],
    reason: str,
) -> None:
    host(server)
    resolver = make(tmp_path, max_bytes=2**20, total_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(RequestError) as error:
        within(5, lambda: resolver.local_path(server.url("/m.jpg"), task_id=5, access=None))
    assert time.monotonic() - started < 4
    message = refusal(error.value, task=5, tmp_path=tmp_path)
    said = message.removeprefix(f"task 5: cannot read media {server.url('/m.jpg')!r}: ")
    assert reason in said
    assert "404" not in said and "500" not in said  # no status of another host
    assert cached_files(tmp_path) == []  # the partial download is gone
    if case == "streams past the cap":
        assert server.sent_bytes["/m.jpg"] < 64 * 2**20  # reading stopped near the cap


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://h.test:99999/a.jpg",
        "http://h.test:x/",
        "http:///a.jpg",
        "http://a b/",
    ],
)
def test_a_malformed_url_is_a_422(tmp_path: Path, url: str) -> None:
    with pytest.raises(RequestError, match="not a valid") as error:
        make(tmp_path).local_path(url, task_id=4, access=None)
    assert error.value.status == 422 and error.value.message.startswith("task 4: ")
    assert cached_files(tmp_path) == []


STALLS: list[tuple[str, Callable[[MediaServer], None]]] = [
    # (case, what the host at /m.mp4 does while the caller cancels)
    ("stalls after headers", lambda s: s.stall_after_headers("/m.mp4")),
    ("stalls before headers", lambda s: s.stall_before_headers("/m.mp4")),
    ("drips", lambda s: s.drip("/m.mp4")),
]


@pytest.mark.parametrize(("case", "host"), STALLS, ids=[case for case, _ in STALLS])
def test_cancel_stops_a_stalled_download_within_a_second(
    tmp_path: Path, server: MediaServer, case: str, host: Callable[[MediaServer], None]
) -> None:
    host(server)
    resolver = make(tmp_path, read_timeout=30.0, total_timeout=60.0)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(MediaCancelled, match="the download was cancelled") as error:
        within(
            5,
            lambda: resolver.local_path(
                server.url("/m.mp4"), task_id=6, access=None, cancel=cancel
            ),
        )
    assert time.monotonic() - started < 1.5  # not the 30 s read timeout
    refusal(error.value, task=6, tmp_path=tmp_path)
    assert cached_files(tmp_path) == []


def test_a_caller_waiting_on_another_callers_download_can_cancel(
    tmp_path: Path, server: MediaServer
) -> None:
    server.stall_after_headers("/stuck.mp4")
    resolver = make(tmp_path, read_timeout=5.0)
    url = server.url("/stuck.mp4")
    _in_background(lambda: resolver.local_path(url, task_id=1, access=None))
    wait_for(lambda: server.requests_to("/stuck.mp4"))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(MediaCancelled):
        within(2, lambda: resolver.local_path(url, task_id=2, access=None, cancel=cancel))
    assert len(server.requests_to("/stuck.mp4")) == 1  # the second caller waited, not fetched


def _old_lock_stripe(url: str) -> int:
    """The lock stripe the URL had before the fix (sha256 of the URL, 64 stripes)."""
    return int(hashlib.sha256(url.encode()).hexdigest()[:16], 16) % 64


def test_a_stalled_download_holds_up_no_other_url(tmp_path: Path, server: MediaServer) -> None:
    server.stall_after_headers("/stuck.jpg")
    stuck = server.url("/stuck.jpg")
    # A URL that shared the stalled one's lock before the fix: any lock striping collides.
    good = next(
        server.url(f"/good{i}.jpg")
        for i in itertools.count()
        if _old_lock_stripe(server.url(f"/good{i}.jpg")) == _old_lock_stripe(stuck)
    )
    server.serve(good.removeprefix(server.origin), BODY)
    resolver = make(tmp_path, read_timeout=5.0, total_timeout=10.0)
    _in_background(lambda: resolver.local_path(stuck, task_id=1, access=None))
    wait_for(lambda: server.requests_to("/stuck.jpg"))
    path = within(2, lambda: resolver.local_path(good, task_id=2, access=None))
    assert path.read_bytes() == BODY


def test_one_url_asked_for_at_once_is_downloaded_once(tmp_path: Path, server: MediaServer) -> None:
    server.serve("/a.jpg", BODY, delay=0.3)
    resolver = make(tmp_path)
    paths: list[Path] = []
    callers = [
        threading.Thread(
            target=lambda: paths.append(
                resolver.local_path(server.url("/a.jpg"), task_id=1, access=None)
            )
        )
        for _ in range(4)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    assert len(paths) == 4 and len(set(paths)) == 1 and paths[0].read_bytes() == BODY
    assert len(server.requests_to("/a.jpg")) == 1


def test_redirects_are_followed_up_to_five_hops(tmp_path: Path, server: MediaServer) -> None:
    for chain, hops in (("ok", 5), ("long", 6)):
        for i in range(hops):
            server.redirect(f"/{chain}{i}", f"/{chain}{i + 1}")
        server.serve(f"/{chain}{hops}", BODY)
    resolver = make(tmp_path)
    assert resolver.local_path(server.url("/ok0"), task_id=1, access=None).read_bytes() == BODY
    with pytest.raises(RequestError, match="too many redirects"):
        resolver.local_path(server.url("/long0"), task_id=1, access=None)
    assert server.requests_to("/long6") == []


def test_a_file_that_fails_to_decode_can_be_forgotten(
    tmp_path: Path, server: MediaServer, document_root: Path
) -> None:
    server.serve("/junk.jpg", b"not an image")
    resolver = make(tmp_path)
    path = resolver.local_path(server.url("/junk.jpg"), task_id=1, access=None)
    resolver.forget(path)  # what a caller does when the media does not decode
    assert not path.exists() and cached_files(tmp_path) == []
    again = resolver.local_path(server.url("/junk.jpg"), task_id=1, access=None)
    assert again.read_bytes() == b"not an image"
    assert len(server.requests_to("/junk.jpg")) == 2  # fetched anew, not served stale
    # Media read in place (Label Studio's local-files storage) is never deleted.
    in_place = resolver.local_path("/data/local-files/?d=bedroom/00000.jpg", task_id=1, access=None)
    resolver.forget(in_place)
    assert in_place.is_file()


def test_the_cache_keeps_to_its_size_evicting_the_least_recently_used(
    tmp_path: Path, server: MediaServer
) -> None:
    for name in ("a", "b", "c"):
        server.serve(f"/{name}.jpg", BODY)
    resolver = make(tmp_path, cache_bytes=int(len(BODY) * 2.5), cache_grace_seconds=0.0)

    def fetch(name: str) -> Path:
        return resolver.local_path(server.url(f"/{name}.jpg"), task_id=1, access=None)

    a, b = fetch("a"), fetch("b")
    now = time.time()
    os.utime(a, (now - 100, now - 100))  # a is older than b ...
    os.utime(b, (now - 50, now - 50))
    assert fetch("a") == a  # ... until a hit makes it the most recently used
    c = fetch("c")
    assert a.exists() and c.exists() and not b.exists()
    assert len(server.requests_to("/a.jpg")) == 1  # the hit was served from the cache
    assert sum(p.stat().st_size for p in cached_files(tmp_path)) <= len(BODY) * 2.5


def test_media_just_used_is_not_evicted_even_over_the_cap(
    tmp_path: Path, server: MediaServer
) -> None:
    for name in ("a", "b"):
        server.serve(f"/{name}.jpg", BODY)
    resolver = make(tmp_path, cache_bytes=1, cache_grace_seconds=600.0)
    paths = [resolver.local_path(server.url(f"/{n}.jpg"), task_id=1, access=None) for n in "ab"]
    assert all(path.exists() for path in paths)  # a task's frames stay while it runs


# --- item 4: one origin's bytes never answer another origin's URL ------------------------------

SAME_URL_ON_TWO_LABEL_STUDIOS = [
    # (task URL, the route each Label Studio serves it on)
    ("/data/upload/1/x.jpg", "/storage-data/uploaded/"),
    ("/data/local-files/?d=shared/x.jpg", "/data/local-files/"),
    ("s3://bucket/x.jpg", "/tasks/1/presign/"),
]


@pytest.mark.parametrize(("url", "route"), SAME_URL_ON_TWO_LABEL_STUDIOS)
def test_one_label_studio_never_gets_another_label_studios_bytes(
    tmp_path: Path, server: MediaServer, other: MediaServer, url: str, route: str
) -> None:
    server.serve(route, b"A" * 100)
    other.serve(route, b"B" * 100)
    resolver = make(tmp_path, allow_urls=False, allowed_hosts=())
    a = resolver.local_path(url, task_id=1, access=LabelStudioAccess(server.origin, "ka"))
    b = resolver.local_path(url, task_id=1, access=LabelStudioAccess(other.origin, "kb"))
    assert a.read_bytes() == b"A" * 100 and b.read_bytes() == b"B" * 100
    assert resolver.local_path(url, task_id=1, access=LabelStudioAccess(server.origin, "ka")) == a


def test_the_same_path_on_two_hosts_is_two_cache_entries(
    tmp_path: Path, server: MediaServer, other: MediaServer, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["one.test"] = fake_dns["two.test"] = ["127.0.0.1"]
    server.serve("/x.jpg", b"one")
    other.serve("/x.jpg", b"two")
    resolver = make(tmp_path)
    one = resolver.local_path(f"http://one.test:{server.port}/x.jpg", task_id=1, access=None)
    two = resolver.local_path(f"http://two.test:{other.port}/x.jpg", task_id=1, access=None)
    assert (one.read_bytes(), two.read_bytes()) == (b"one", b"two")


# --- Label Studio's own URLs, and where its token goes -----------------------------------------


def _presign(uri: str, task: int = 3) -> str:
    return f"/tasks/{task}/presign/?fileuri={base64.urlsafe_b64encode(uri.encode()).decode()}"


LABEL_STUDIO_URLS = [
    # (task URL, what the backend asks Label Studio for)
    ("/data/upload/3/x.jpg", "/storage-data/uploaded/?filepath=upload/3/x.jpg"),
    ("upload/3/x.jpg", "/storage-data/uploaded/?filepath=upload/3/x.jpg"),
    ("/data/local-files/?d=folder/x.jpg", "/data/local-files/?d=folder/x.jpg"),
    (
        "/storage-data/uploaded/?filepath=upload/3/x.jpg",
        "/storage-data/uploaded/?filepath=upload/3/x.jpg",
    ),
    ("/tasks/3/presign/?fileuri=czM6Ly9iL3guanBn", "/tasks/3/presign/?fileuri=czM6Ly9iL3guanBn"),
    ("s3://bucket/x.jpg", _presign("s3://bucket/x.jpg")),
    ("gs://bucket/x.jpg", _presign("gs://bucket/x.jpg")),
    ("azure-blob://container/x.jpg", _presign("azure-blob://container/x.jpg")),
]


@pytest.mark.parametrize(("url", "asked"), LABEL_STUDIO_URLS)
def test_label_studio_media_is_fetched_from_its_origin_with_its_token(
    tmp_path: Path, server: MediaServer, url: str, asked: str
) -> None:
    server.serve(asked, BODY)
    # Label Studio is on loopback and nothing is allow-listed: its own origin always is.
    resolver = make(tmp_path, allow_urls=False, allowed_hosts=())
    access = LabelStudioAccess(server.origin, "secret")
    assert resolver.local_path(url, task_id=3, access=access).read_bytes() == BODY
    assert [seen.path for seen in server.seen] == [asked]
    assert server.seen[0].headers["authorization"] == "Token secret"


def test_an_upload_falls_back_to_the_legacy_data_path(tmp_path: Path, server: MediaServer) -> None:
    server.status("/storage-data/uploaded/", 404)
    server.serve("/data/upload/3/x.jpg", BODY)
    resolver = make(tmp_path, allow_urls=False, allowed_hosts=())
    access = LabelStudioAccess(server.origin, "secret")
    assert (
        resolver.local_path("/data/upload/3/x.jpg", task_id=3, access=access).read_bytes() == BODY
    )


def test_the_token_goes_to_label_studios_origin_only(
    tmp_path: Path, server: MediaServer, other: MediaServer
) -> None:
    # Label Studio presigns to a cloud bucket (another origin, here on loopback too) ...
    server.redirect("/tasks/3/presign/", other.url("/bucket/x.jpg?X-Amz-Signature=s"))
    other.serve("/bucket/x.jpg", BODY)
    # ... and an allowed host's media redirects back to Label Studio.
    other.redirect("/bounce.jpg", server.url("/data/upload/3/secret.jpg"))
    server.serve("/data/upload/3/secret.jpg", BODY)
    resolver = make(tmp_path)
    access = LabelStudioAccess(server.origin, "secret")
    assert resolver.local_path("s3://b/x.jpg", task_id=3, access=access).read_bytes() == BODY
    resolver.local_path(other.url("/bounce.jpg"), task_id=3, access=access)
    assert server.seen[0].headers.get("authorization") == "Token secret"  # the presign call
    assert all("authorization" not in seen.headers for seen in other.seen)
    assert "authorization" not in server.requests_to("/data/upload/3/secret.jpg")[0].headers


def test_a_job_cancelled_while_its_media_downloads_stops_within_seconds(tmp_path: Path):
    """Predictor -> MediaResolver: the job's cancel flag stops a stalled download (item 3)."""
    import time as clock

    from ls_backend.jobs.model import JobCancelled
    from ls_backend.label_config import parse_label_config
    from ls_backend.prediction import Predictor
    from tests.ls_helpers import FRAMES, click
    from tests.scripted_tracker import ScriptedTracker

    class CancelledSoon:
        job_id = "j"

        def __init__(self) -> None:
            self.cancel_event = threading.Event()
            threading.Timer(0.5, self.cancel_event.set).start()

        def progress(self, done: int, total: int) -> None:
            pass

        def check_cancelled(self) -> None:
            if self.cancel_event.is_set():
                raise JobCancelled("cancelled")

    with MediaServer() as server:
        server.stall_after_headers("/stuck.jpg")
        media = MediaResolver(
            cache_dir=tmp_path / "cache", allow_urls=True, allowed_hosts=("127.0.0.1",)
        )
        predictor = Predictor(tracker=ScriptedTracker(), model_version="v", media=media)
        task = {
            "id": 1,
            "data": {"frames": [server.url("/stuck.jpg")]},
            "annotations": [{"id": 1, "result": [click(1, 1, "car", page=0)]}],
        }
        started = clock.monotonic()
        with pytest.raises(JobCancelled):
            predictor.predict(
                task,
                schema=parse_label_config(FRAMES),
                context=None,
                project="1",
                access=None,
                job=CancelledSoon(),
            )
        assert clock.monotonic() - started < 5
    assert not any((tmp_path / "cache").glob("*.jpg*"))
