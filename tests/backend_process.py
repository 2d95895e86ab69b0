"""`labelme-sam2 serve` as a subprocess, beside a real Label Studio (the end-to-end tests and
the documentation's screenshots) or alone (folder jobs: `track --server`)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import requests

from tests.label_studio_server import LabelStudioServer, free_port


class BackendProcess:
    """`labelme-sam2 serve` on a free loopback port, pointed at `server` (None: no Label
    Studio), as a context manager; `environment` adds to or overrides its variables.

    Random weights (`checkpoint="random"`) are allowed here, for tests and screenshots only.
    """

    def __init__(
        self,
        server: LabelStudioServer | None,
        folder: Path,
        *,
        executable: str,
        checkpoint: str = "random",
        image_size: int = 256,
        basic_auth: tuple[str, str] | None = None,
        timeout: float = 300.0,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.masks = folder / "masks"
        self.log_path = folder / "backend.log"
        self.auth = basic_auth
        self._timeout = timeout
        self._env = os.environ | {
            "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS": "1",
            "LABELME_SAM2_MEDIA_CACHE": str(folder / "cache"),
        }
        if server is not None:
            self._env |= {
                "LABEL_STUDIO_URL": server.url,
                "LABEL_STUDIO_API_KEY": server.token,
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(server.document_root),
            }
        self._env |= dict(environment or {})
        if basic_auth is not None:
            self._env |= {"BASIC_AUTH_USER": basic_auth[0], "BASIC_AUTH_PASS": basic_auth[1]}
        self._command = [
            executable,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--masks-dir",
            str(self.masks),
            "--model",
            "sam2.1_hiera_tiny",
            "--checkpoint",
            checkpoint,
            "--image-size",
            str(image_size),
            "--device",
            "cpu",
        ]
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BackendProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_until_up(self._process)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_up(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the backend exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=2, auth=self.auth).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"the backend did not answer in {self._timeout:.0f} s:\n"
            f"{self.log_path.read_text()[-3000:]}"
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
