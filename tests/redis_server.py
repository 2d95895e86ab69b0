"""A real redis-server on a free loopback port, in a folder of the test's, stopped on exit."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from ls_backend.settings import BackendSettings
from tests.label_studio_server import free_port


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is missing: run scripts/setup_redis.sh")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                executable,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.folder),
                "--logfile", str(self.folder / "redis.log"),
            ],
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError as error:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    log = self.folder / "redis.log"
                    raise RuntimeError(f"redis-server did not start: {log}") from error
                time.sleep(0.05)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


def web_side_settings(redis_url: str, tmp_path: Path) -> BackendSettings:
    """The backend's settings for a web side on this Redis: no Label Studio, no masks."""
    return BackendSettings(
        access=None,
        basic_auth=None,
        masks_root=None,
        media_cache=tmp_path / "cache",
        redis_url=redis_url,
    )
