"""The few Label Studio API calls a job needs: read a task and its project's label config
(webhooks carry ids we do not trust), and replace the task's prediction of our model version.

Legacy tokens go as `Token <key>`; a personal access token (a JWT refresh token) is traded at
/api/token/refresh for a short-lived access token, as Label Studio's own SDK does.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests

from ls_backend.errors import RequestError
from ls_backend.media import LabelStudioAccess
from ls_backend.prediction import Prediction

TIMEOUT_SECONDS = 30.0
MAX_SETUP_PROJECTS = 1000  # projects remembered from /setup: each holds an address and a token
ACCESS_TOKEN_SECONDS = 240.0  # Label Studio's access tokens live 5 minutes


class LabelStudioApiError(Exception):
    pass


class LabelStudioApi:
    def __init__(self, access: LabelStudioAccess) -> None:
        self.access = access
        self._session = requests.Session()
        self._lock = threading.Lock()
        self._bearer: tuple[str, float] | None = None  # access token, when it was made

    def project_task(self, project: str, task_id: int) -> dict[str, Any] | None:
        """The task with its data and annotations, or None when project `project` has no task
        `task_id` (the list holds that project's tasks only).

        From the project's task list, not `GET /api/tasks/<id>/`: for a task without
        predictions, Label Studio 1.23.2 answers that one by asking the project's ML backend
        (tasks/api.py TaskAPI.get, whenever `show_collab_predictions` is on, its default), so
        reading a webhook's task back made it call our /predict: a second job for one save.
        The list asks the ML backend only for projects with `evaluate_predictions_automatically`
        (data_manager/api.py TaskListAPI.get), which Label Studio's UI never sets."""
        query = {"selectedItems": {"all": False, "included": [task_id]}}
        body = self._call(
            "GET",
            "/api/tasks/",
            params={"project": project, "fields": "all", "query": json.dumps(query)},
        )
        tasks = body.get("tasks") if isinstance(body, dict) else None
        if not isinstance(tasks, list):
            raise LabelStudioApiError(f"task {task_id}: Label Studio answered {body!r:.200}")
        for task in tasks:
            if isinstance(task, dict) and task.get("id") == task_id:
                return task
        return None

    def label_config(self, project: str) -> str:
        body = self._call("GET", f"/api/projects/{project}/")
        config = body.get("label_config") if isinstance(body, dict) else None
        if not isinstance(config, str):
            raise LabelStudioApiError(f"project {project}: Label Studio sent no label_config")
        return config

    def replace_prediction(self, *, task_id: int, prediction: Prediction) -> int:
        """Delete the task's predictions of this model version, then write this one: a job run
        twice (its worker died after writing) still leaves one prediction."""
        listed = self._call("GET", "/api/predictions/", params={"task": task_id})
        for old in listed if isinstance(listed, list) else []:
            same_task = old.get("task") == task_id
            if same_task and old.get("model_version") == prediction["model_version"]:
                self._call("DELETE", f"/api/predictions/{old['id']}/")
        created = self._call(
            "POST",
            "/api/predictions/",
            json={
                "task": task_id,
                "result": prediction["result"],
                "model_version": prediction["model_version"],
                "score": None,
            },
        )
        if not isinstance(created, dict) or not isinstance(created.get("id"), int):
            raise LabelStudioApiError(f"task {task_id}: Label Studio answered {created!r}")
        return int(created["id"])

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.access.url + path
        try:
            # No redirects: the token goes to this Label Studio and nowhere it points to.
            response = self._session.request(
                method,
                url,
                headers=self._auth(),
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as error:
            raise LabelStudioApiError(f"cannot reach Label Studio at {url} ({error})") from error
        if 300 <= response.status_code < 400:
            raise LabelStudioApiError(
                f"Label Studio answered {method} {path} with a redirect ({response.status_code}); "
                "LABEL_STUDIO_URL must be the address it serves its API on"
            )
        if response.status_code >= 400:
            raise LabelStudioApiError(
                f"Label Studio refused {method} {path}: {response.status_code} "
                f"{response.text[:200]}"
            )
        return None if response.status_code == 204 or not response.content else response.json()

    def _auth(self) -> dict[str, str]:
        key = self.access.api_key
        if key.count(".") != 2:  # a legacy token
            return {"Authorization": f"Token {key}"}
        with self._lock:
            if self._bearer is None or time.monotonic() - self._bearer[1] > ACCESS_TOKEN_SECONDS:
                try:
                    response = self._session.post(
                        self.access.url + "/api/token/refresh/",
                        json={"refresh": key},
                        timeout=TIMEOUT_SECONDS,
                        allow_redirects=False,  # the token goes to this Label Studio only
                    )
                    response.raise_for_status()
                    if response.is_redirect:
                        raise requests.HTTPError(f"redirect {response.status_code}")
                    self._bearer = (str(response.json()["access"]), time.monotonic())
                except (requests.RequestException, KeyError, ValueError) as error:
                    raise LabelStudioApiError(
                        f"Label Studio at {self.access.url} refused the personal access token "
                        f"({error})"
                    ) from error
            return {"Authorization": f"Bearer {self._bearer[0]}"}


class AccessBook:
    """How to reach Label Studio for a project: the environment's address and key, else what
    Label Studio sent to /setup for that project (kept in memory only)."""

    def __init__(self, fixed: LabelStudioAccess | None) -> None:
        self.fixed = fixed
        self._from_setup: dict[str, LabelStudioAccess] = {}
        self._clients: dict[LabelStudioAccess, LabelStudioApi] = {}
        self._lock = threading.Lock()

    def remember(self, project: str, access: LabelStudioAccess) -> None:
        with self._lock:
            if project not in self._from_setup and len(self._from_setup) >= MAX_SETUP_PROJECTS:
                raise RequestError(
                    f"/setup: {MAX_SETUP_PROJECTS} projects are set up already; set "
                    "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY instead",
                    status=503,
                )
            self._from_setup[project] = access

    def for_project(self, project: str) -> LabelStudioAccess | None:
        with self._lock:
            return self.fixed or self._from_setup.get(project)

    def api(self, access: LabelStudioAccess | None) -> LabelStudioApi | None:
        """One client per address and key: its session and access token are reused."""
        if access is None:
            return None
        with self._lock:
            if access not in self._clients:
                self._clients[access] = LabelStudioApi(access)
            return self._clients[access]
