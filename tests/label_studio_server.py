"""A real Label Studio 1.23.2 on loopback, and a thin client for the API calls our tests need.

Label Studio runs from `.venv-label-studio` (made by scripts/setup_label_studio.sh) with a fresh
data directory, a legacy API token and local-files serving rooted at a folder the caller owns. It
lets ML backends live on loopback only because `ML_BLOCK_LOCAL_IP` and `SSRF_PROTECTION_ENABLED`
are off (label_studio/ml/serializers.py validate_url, ml/api_connector.py create_session,
core/utils/io.py ssrf_safe_post for webhooks).

    with LabelStudioServer(tmp_path / "ls", document_root=media) as server:
        api = LabelStudioApi(server)
        project = api.create_project("t", config)
        ...
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
LABEL_STUDIO = REPO / ".venv-label-studio" / "bin" / "label-studio"
USERNAME = "tester@example.com"
PASSWORD = "tester-password-1"
TOKEN = "labelme-sam2-test-token"  # LS applies --user-token only when it is longer than 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LabelStudioServer:
    """`label-studio start` on a free loopback port, stopped (whole process group) on exit.

    `host=True` sets LABEL_STUDIO_HOST to the server's own URL: local-files blob URLs in task data
    are then absolute (`http://127.0.0.1:PORT/data/local-files/?d=...`) and /setup's `hostname` is
    right. Without it (Label Studio's default) task URLs are relative (`/data/local-files/?d=...`)
    and /setup says `http://localhost:PORT`.
    """

    def __init__(
        self,
        folder: Path,
        *,
        document_root: Path,
        host: bool = False,
        timeout: float = 180.0,
        executable: Path = LABEL_STUDIO,
    ) -> None:
        self.folder = Path(folder)
        self.document_root = Path(document_root).resolve()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = TOKEN
        self.username = USERNAME
        self.password = PASSWORD
        self.log_path = self.folder / "label-studio.log"
        self._host = host
        self._timeout = timeout
        self._executable = Path(executable)
        self._process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # A stray HOST/PORT/… in our environment would reconfigure Label Studio (it reads
            # both NAME and LABEL_STUDIO_NAME, core/utils/params.py get_env).
            if not key.startswith(("LABEL_STUDIO_", "HEARTEX_"))
            and key not in {"HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DJANGO_DB"}
        }
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.folder / "data"),
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
            LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
            LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(self.document_root),
            ML_BLOCK_LOCAL_IP="false",
            SSRF_PROTECTION_ENABLED="false",
            COLLECT_ANALYTICS="false",
            PYTHONUNBUFFERED="1",
        )
        if self._host:
            env["LABEL_STUDIO_HOST"] = self.url
        return env

    def start(self) -> LabelStudioServer:
        if not self._executable.exists():
            raise RuntimeError(f"{self._executable} is missing: run scripts/setup_label_studio.sh")
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        command = [
            str(self._executable),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.folder / "data"),
            "--username",
            self.username,
            "--password",
            self.password,
            "--user-token",
            self.token,
            "--enable-legacy-api-token",
        ]
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.folder,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"label-studio exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                response = requests.get(
                    f"{self.url}/api/current-user/whoami",
                    headers={"Authorization": f"Token {self.token}"},
                    timeout=5,
                )
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1.0)
        raise TimeoutError(
            f"label-studio did not answer on {self.url} within {self._timeout:.0f} s:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class LabelStudioError(RuntimeError):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.url} -> {response.status_code}: {response.text}"
        )
        self.status_code = response.status_code
        self.text = response.text


class LabelStudioApi:
    """The few Label Studio REST calls the ML backend tests make, authenticated by legacy token."""

    def __init__(self, server: LabelStudioServer, *, timeout: float = 120.0) -> None:
        self.url = server.url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {server.token}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, self.url + path, **kwargs)
        if not response.ok:
            raise LabelStudioError(response)
        return response.json() if response.content else None

    def create_project(self, title: str, label_config: str) -> int:
        project = self.request(
            "POST", "/api/projects", json={"title": title, "label_config": label_config}
        )
        return int(project["id"])

    def add_local_storage(
        self, project: int, path: Path, *, regex: str = ".*", use_blob_urls: bool = True
    ) -> int:
        """Local-files import storage over `path` (inside the document root), synced once.

        With `use_blob_urls` every matching file becomes a task whose only data field is
        `/data/local-files/?d=<path relative to the document root>`; without it every file must
        be a JSON task (or list of tasks) (io_storages/localfiles/models.py get_data).
        """
        storage = self.request(
            "POST",
            "/api/storages/localfiles/",
            json={
                "project": project,
                "path": str(path),
                "regex_filter": regex,
                "use_blob_urls": use_blob_urls,
                "title": Path(path).name,
            },
        )
        storage_id = int(storage["id"])
        self.request("POST", f"/api/storages/localfiles/{storage_id}/sync")
        return storage_id

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        """Each task is `{"data": {...}}` (optionally with "predictions"/"annotations")."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/api/projects/{project}/import",
            params={"commit_to_project": "true"},
            json=tasks,
        )
        return result

    def tasks(self, project: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.request(
                "GET", "/api/tasks", params={"project": project, "page": page, "page_size": 100}
            )
            found.extend(body["tasks"])
            if len(found) >= body["total"] or not body["tasks"]:
                return found
            page += 1

    def connect_ml_backend(
        self,
        project: int,
        url: str,
        title: str = "labelme-sam2",
        *,
        is_interactive: bool = True,
        basic_auth: tuple[str, str] | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> int:
        """Adds the backend; Label Studio calls its /health and /setup before saving it, and
        registers `<url>/webhook` as a project webhook for all actions (ml/models.py)."""
        body: dict[str, Any] = {
            "project": project,
            "url": url,
            "title": title,
            "is_interactive": is_interactive,
        }
        if basic_auth is not None:
            body.update(
                auth_method="BASIC_AUTH",
                basic_auth_user=basic_auth[0],
                basic_auth_pass=basic_auth[1],
            )
        if extra_params is not None:
            body["extra_params"] = extra_params
        backend = self.request("POST", "/api/ml", json=body)
        return int(backend["id"])

    def ml_backend(self, backend_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/api/ml/{backend_id}")
        return result

    def update_ml_backend(self, backend_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH /api/ml/{id}. Label Studio validates a PATCH by calling the backend's /health and
        /setup with the request's fields only (ml/serializers.py validate), so a PATCH without
        `url` and `project` fails with 500 "healthcheck_() missing ... 'url'"; they are sent along.
        """
        current = self.ml_backend(backend_id)
        body = {"url": current["url"], "project": current["project"], **fields}
        result: dict[str, Any] = self.request("PATCH", f"/api/ml/{backend_id}", json=body)
        return result

    def interactive_annotating(
        self, backend_id: int, task_id: int, context: dict[str, Any] | None
    ) -> dict[str, Any]:
        """What the labeling frontend posts for a smart-tool prompt. Label Studio always answers
        200: `{"data": <backend's results[0]>}` or `{"errors": [message]}` (ml/models.py)."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/api/ml/{backend_id}/interactive-annotating",
            json={"task": task_id, "context": context},
        )
        return result

    def retrieve_predictions(self, project: int, task_ids: list[int]) -> dict[str, Any]:
        """Data Manager action "Retrieve Predictions" on the given tasks (backend /predict with
        context null; tasks that already hold the backend's current model_version are skipped)."""
        result: dict[str, Any] = self.request(
            "POST",
            "/api/dm/actions",
            params={"id": "retrieve_tasks_predictions", "project": project},
            json={"selectedItems": {"all": False, "included": task_ids}},
        )
        return result

    def predictions(self, task_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request(
            "GET", "/api/predictions", params={"task": task_id}
        )
        return result

    def create_annotation(self, task_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        created: dict[str, Any] = self.request(
            "POST", f"/api/tasks/{task_id}/annotations", json={"result": result}
        )
        return created
