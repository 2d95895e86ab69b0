"""Checkpoint registry, resolution and download (from a loopback server)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from labelme_sam2.errors import CheckpointError, UserError
from labelme_sam2.models.download import download
from labelme_sam2.models.registry import MODELS, choose_model

PAYLOAD = b"not really a checkpoint, " * 40_000


def test_registry_covers_sam2_and_sam2_1():
    assert {s.name for s in MODELS.values()} >= {
        f"{v}_hiera_{n}"
        for v in ("sam2", "sam2.1")
        for n in ("tiny", "small", "base_plus", "large")
    }
    for spec in MODELS.values():
        assert spec.url.endswith("/" + spec.filename) and len(spec.sha256) == 64
        assert spec.config.startswith("configs/") and spec.size > 100_000_000


def test_missing_checkpoint_says_how_to_get_it(tmp_path: Path):
    with pytest.raises(CheckpointError) as caught:
        choose_model(model="sam2.1_hiera_tiny", checkpoint=None, checkpoints_dir=tmp_path)
    assert caught.value.where == str(tmp_path / "sam2.1_hiera_tiny.pt")
    assert "labelme-sam2 download sam2.1_hiera_tiny" in caught.value.problem


def test_truncated_checkpoint_is_refused(tmp_path: Path):
    (tmp_path / "sam2.1_hiera_small.pt").write_bytes(b"x" * 1000)
    with pytest.raises(CheckpointError, match="1000 bytes, expected 184416285"):
        choose_model(
            model="sam2.1_hiera_tiny",
            checkpoint=str(tmp_path / "sam2.1_hiera_small.pt"),
            checkpoints_dir=tmp_path,
        )


def test_random_weights_only_when_the_environment_allows(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LABELME_SAM2_ALLOW_RANDOM_WEIGHTS", raising=False)
    with pytest.raises(UserError, match="LABELME_SAM2_ALLOW_RANDOM_WEIGHTS=1"):
        choose_model(model="sam2.1_hiera_tiny", checkpoint="random", checkpoints_dir=tmp_path)
    monkeypatch.setenv("LABELME_SAM2_ALLOW_RANDOM_WEIGHTS", "1")
    choice = choose_model(model="sam2.1_hiera_tiny", checkpoint="random", checkpoints_dir=tmp_path)
    assert choice.random_weights and choice.config == "configs/sam2.1/sam2.1_hiera_t.yaml"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "good.pt").write_bytes(PAYLOAD)
    (tmp_path / "served" / "short.pt").write_bytes(PAYLOAD[:-10])
    served = str(tmp_path / "served")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=served, **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def spec_for(url: str, data: bytes = PAYLOAD):
    return replace(
        MODELS["sam2.1_hiera_tiny"],
        url=url,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def test_download_verifies_and_saves(server: str, tmp_path: Path):
    path = download(spec_for(f"{server}/good.pt"), tmp_path / "ckpt")
    assert path.read_bytes() == PAYLOAD and path.name == "sam2.1_hiera_tiny.pt"


@pytest.mark.parametrize(
    ("name", "spec_data", "problem"),
    [
        ("short.pt", PAYLOAD, "expected"),
        ("good.pt", PAYLOAD[::-1], "sha256"),
        ("missing.pt", PAYLOAD, "download failed"),
    ],
)
def test_bad_download_saves_nothing(server: str, tmp_path: Path, name, spec_data, problem):
    with pytest.raises(CheckpointError, match=problem):
        download(spec_for(f"{server}/{name}", spec_data), tmp_path / "ckpt")
    assert list((tmp_path / "ckpt").iterdir()) == []
