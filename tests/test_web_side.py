"""The Redis web side starts with no checkpoint anywhere (docker-compose mounts none on it) and
tells Label Studio the workers' model version."""

from __future__ import annotations

from pathlib import Path

from labelme_sam2.api import ModelOptions
from ls_backend.wsgi import build_app
from tests.redis_server import RedisServer, web_side_settings


def test_the_redis_web_side_needs_no_weights_file(tmp_path: Path):
    nowhere = tmp_path / "no-checkpoints"
    with RedisServer(tmp_path / "redis") as redis_server:
        settings = web_side_settings(redis_server.url, tmp_path)
        model = ModelOptions(model="sam2.1_hiera_large", checkpoints_dir=nowhere, image_size=512)
        answer = build_app(settings, model).test_client().get("/health")
    assert answer.status_code == 200
    assert answer.get_json()["model_version"] == "sam2.1_hiera_large@512"
    assert not nowhere.exists()
