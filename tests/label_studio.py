"""A real Label Studio server for the review tests: its own virtual environment (`make label-studio`, from
requirements-label-studio.lock: Label Studio pins a Django and an OpenCV of its own), its own sqlite under a
temporary folder, on 127.0.0.1, offline: no error reports, analytics or version check leave the machine."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
BINARY = Path(os.environ.get("OCROPS_LABEL_STUDIO", PROJECT / ".venv-label-studio" / "bin" / "label-studio"))
# what would leave the machine, off: Sentry (back end and page), usage analytics, the PyPI version check, the
# export converter's downloads
OFFLINE = {"SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "COLLECT_ANALYTICS": "false", "LATEST_VERSION_CHECK": "false",
           "CONVERTER_DOWNLOAD_RESOURCES": "false", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}


def available() -> str | None:
    """None when Label Studio can be started here, else why not (a skip reason)."""
    if not BINARY.exists() and not shutil.which("label-studio"):
        return f"Label Studio is not installed ({BINARY}); `make label-studio` installs it"
    return None


@dataclass(frozen=True)
class Studio:
    url: str
    token: str  # the reviewer's legacy API token
    user: str


@contextmanager
def label_studio(data_dir: Path) -> Iterator[Studio]:
    from ocrops.harness.server import ServerProcess, free_port

    binary = str(BINARY) if BINARY.exists() else shutil.which("label-studio")
    data_dir.mkdir(parents=True, exist_ok=True)
    port, token, user = free_port(), secrets.token_hex(20), "reviewer@ocrops.test"
    cmd = [binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--username", user, "--password", secrets.token_hex(8),
           "--user-token", token, "--enable-legacy-api-token", "--log-level", "WARNING"]
    env = OFFLINE | {"LABEL_STUDIO_BASE_DATA_DIR": str(data_dir), "HOME": str(data_dir)}
    with ServerProcess(cmd, port, "/health", env, data_dir / "label-studio.log", timeout_s=240) as url:
        yield Studio(url, token, user)


def submit(studio: Studio, project: int, answers: dict[str, str | None]) -> int:
    """As a reviewer submits in Label Studio's page: each task's pre-annotation with its text made
    ``answers[task's ocrops_key]`` (None: the task skipped). Returns how many readings were changed."""
    import httpx

    api = httpx.Client(base_url=studio.url, headers={"Authorization": f"Token {studio.token}"}, timeout=60)
    tasks = api.get(f"/api/projects/{project}/export", params={"exportType": "JSON",
                                                                "download_all_tasks": "true"}).json()
    changed = 0
    for task in tasks:
        shown = answers[task["data"]["ocrops_key"]]
        [prediction] = api.get(f"/api/tasks/{task['id']}").json()["predictions"]  # the export lists ids only
        result = [dict(r) for r in prediction["result"]]
        for region in result:
            if region["type"] == "textarea":
                changed += shown is not None and region["value"]["text"] != [shown]
                region["value"] = region["value"] | {"text": [shown or ""]}
        answer = api.post(f"/api/tasks/{task['id']}/annotations",
                          json={"result": result, "was_cancelled": shown is None, "lead_time": 4.0})
        if answer.status_code != 201:
            raise AssertionError(answer.text)
    return changed
