"""Label Studio's REST API, the few calls the review loop makes (over httpx: the SDK would pin its own
OpenCV and NumPy into the pipeline's environment). Works with a legacy token (``Authorization: Token``) or a
personal access token (a JWT refresh token, exchanged for an access token first)."""

from __future__ import annotations

from typing import Any

import httpx

from ocrops.errors import ErrorCode, OcropsError


class LabelStudio:
    def __init__(self, url: str, token: str, timeout_s: float = 60) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout_s, follow_redirects=False)
        if token.count(".") == 2:  # a personal access token: a JWT refresh token
            access = self._call("POST", "/api/token/refresh", json={"refresh": token})["access"]
            self.http.headers["Authorization"] = f"Bearer {access}"
        else:
            self.http.headers["Authorization"] = f"Token {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise OcropsError(ErrorCode.UNAVAILABLE, f"Label Studio at {self.url} cannot be reached: {exc}") from exc
        if response.status_code in (401, 403):
            raise OcropsError(ErrorCode.UNAUTHORIZED, f"Label Studio refused the token ({response.status_code}): "
                                                      "use a legacy token or a personal access token of a user "
                                                      "who may open the project")
        if response.status_code >= 400:
            raise OcropsError(ErrorCode.UNAVAILABLE, f"Label Studio answered {response.status_code} to {method} "
                                                     f"{path}: {response.text[:300]}")
        return response.json() if response.content else None

    def project(self, title: str, label_config: str) -> int:
        """The project called ``title`` (its labelling config brought up to date), made if there is none."""
        found = self._call("GET", "/api/projects", params={"title": title, "page_size": 1000})
        projects = found.get("results", found) if isinstance(found, dict) else found
        for project in projects:
            if project.get("title") == title:
                if project.get("label_config") != label_config:
                    self._call("PATCH", f"/api/projects/{project['id']}", json={"label_config": label_config})
                return int(project["id"])
        made = self._call("POST", "/api/projects", json={"title": title, "label_config": label_config,
                                                        "description": "Lines the ocrops model doubted: correct "
                                                                       "the transcription to what is printed"})
        return int(made["id"])

    def tasks(self, project: int) -> list[dict]:
        """Every task of ``project`` with its annotations (Label Studio's JSON export)."""
        exported = self._call("GET", f"/api/projects/{project}/export",
                              params={"exportType": "JSON", "download_all_tasks": "true"})
        return list(exported or [])

    def import_tasks(self, project: int, tasks: list[dict], chunk: int = 200) -> int:
        """Add tasks (with their predictions); returns how many were added."""
        added = 0
        for start in range(0, len(tasks), chunk):
            answer = self._call("POST", f"/api/projects/{project}/import", json=tasks[start : start + chunk])
            added += int(answer.get("task_count", 0))
        return added

    def fetch(self, url: str) -> bytes:
        """A file the server holds (an uploaded image), by its URL or path."""
        path = url[len(self.url):] if url.startswith(self.url) else url
        if not path.startswith("/"):
            raise OSError(f"not a file of this Label Studio server: {url[:80]}")
        response = self.http.get(path)
        if response.status_code != 200:
            raise OSError(f"HTTP {response.status_code}")
        return response.content

    def close(self) -> None:
        self.http.close()
